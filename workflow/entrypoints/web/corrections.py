"""The corrections of the application layer as forms: edit, merge, cancel (/corrections).

Each form calls the function the command line calls (``app.corrections``,
``app.clause_corrections``) with the signed-in user's name as the actor, so it leaves the same
history rows. A form shows the record's values; a field left as it is, or emptied, is not sent
(« Effacer » clears an optional one, as ``--city ""`` does). A refusal shows the form again with
what was typed and the service's French message (422), nothing changed; a record no longer there
is a French 404 page saying where it went when it was merged or deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import field as default_of
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.adapters.csv_files import parse_month
from workflow.app import (
    calendars,
    clause_corrections,
    corrections,
    web_corrections,
    web_people_corrections,
)
from workflow.app.clause_corrections import (
    informed_sentence,
    ladder_sentence,
    uncounted_sentence,
)
from workflow.app.corrections import Correction, Deletion
from workflow.bootstrap import App
from workflow.domain.stages import LABELS
from workflow.entrypoints.web.additions import french_spaces
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused, NotFound
from workflow.services.calendar_changes import (
    DEFAULT,
    CalendarChange,
    CalendarChanged,
    Reset,
    is_default_word,
)
from workflow.services.corrections import NOUNS, Action, RecordKind, changes_text
from workflow.services.record_history import HistoryEntry, moved_text

#: The form's words for the command's options the service's messages name.
OPTION_WORDS = (
    ("(--reason)", "(champ «\u00a0Motif\u00a0»)"),
    (
        "(--escalation-offset)",
        "(champ «\u00a0Délai de signalement au donneur d'ordre\u00a0»)",
    ),
    ("(--reminder-offsets)", "(champ «\u00a0Jours de rappel\u00a0»)"),
)


#: The commands a service's message suggests, and the form of these pages that does the same.
COMMAND_WORDS = (
    (
        re.compile(r"avec «\s*clauses participant validate [^»]*»"),
        "avec le formulaire «\u00a0Valider l'éligibilité\u00a0» ci-dessous",
    ),
    (
        re.compile(r"\(clauses lot set (\d+) …\)"),
        r"sur sa page, /corrections/lots/\1",
    ),
)


def web_words(message: str) -> str:
    """A service message as the form reads it: its fields, not the command's options; the
    form that does what a suggested command would."""
    for option, words in OPTION_WORDS:
        message = message.replace(option, words)
    for command, form_words in COMMAND_WORDS:
        message = command.sub(form_words, message)
    return message


@dataclass(frozen=True)
class Field:
    """One field of an edit form: the keyword of the application function it fills."""

    name: str
    label: str
    current: str
    #: What « Effacer » says (« Effacer la ville »): an optional value the form may clear, as
    #: the CLI's ``""`` does; empty when the field is required.
    clear: str = ""
    hint: str = ""

    @property
    def clearable(self) -> bool:
        return bool(self.clear)


@dataclass(frozen=True)
class Editable:
    """A kind of record the pages edit: its address, its form and its application functions."""

    slug: str
    kind: RecordKind
    #: The record as the form shows it, by its N° (NotFound: a 404 page).
    sheet: Callable[[App, int], Any]
    edit: Callable[..., Correction]
    heading: Callable[[Any], str]
    fields: Callable[[Any], tuple[Field, ...]]
    #: The template of what the page shows below the form.
    details: str
    #: The application function deleting the record, when the CLI deletes one of its kind.
    delete: Callable[..., Deletion] | None = None
    #: Where the record belongs (its buyer's or company's page): (address, label).
    owner: Callable[[Any], tuple[str, str]] | None = None
    #: The box confirming a deletion the page warns against (a buyer's last contact): its
    #: field, sent to ``delete`` as ``last_confirmed``; a ``LastContact`` refusal shows it.
    confirm: str = ""
    #: The record's declaration calendar as its form shows it (a lot, a buyer), by its N°.
    calendar: Callable[[App, int], web_corrections.CalendarSheet] | None = None


EDITABLE = (
    Editable(
        "entreprises",
        RecordKind.COMPANY,
        web_corrections.company_sheet,
        corrections.edit_company,
        lambda card: f"Entreprise n° {card.id} – {card.name}",
        lambda card: (
            Field("name", "Nom", card.name),
            Field(
                "siret",
                "SIRET",
                card.siret or "",
                "Effacer le SIRET",
                "14 chiffres, espaces permis.",
            ),
            Field("city", "Ville", card.city, "Effacer la ville"),
        ),
        "corrections_company.html",
    ),
    Editable(
        "donneurs-d-ordre",
        RecordKind.BUYER,
        web_corrections.buyer_sheet,
        corrections.edit_buyer,
        lambda card: f"Donneur d'ordre n° {card.id} – {card.name}",
        lambda card: (
            Field("name", "Nom", card.name),
            Field("kind", "Type", card.kind, "Effacer le type", "Département, commune, bailleur…"),
        ),
        "corrections_buyer.html",
        calendar=web_corrections.buyer_calendar,
    ),
    Editable(
        "marches",
        RecordKind.MARKET,
        web_corrections.market_sheet,
        corrections.edit_market,
        lambda sheet: f"Marché n° {sheet.id} – {sheet.reference}",
        lambda sheet: (
            Field("reference", "Référence", sheet.reference),
            Field("title", "Intitulé", sheet.title, "Effacer l'intitulé"),
        ),
        "corrections_market.html",
    ),
    Editable(
        "lots",
        RecordKind.LOT,
        web_corrections.lot_sheet,
        corrections.edit_lot,
        lambda sheet: f"Lot {sheet.reference} – {sheet.title}",
        lambda sheet: (
            Field("title", "Intitulé du lot", sheet.title),
            Field(
                "lot_number", "Numéro de lot", sheet.lot_number, "Effacer le numéro (lot unique)"
            ),
            Field("trade", "Corps d'état", sheet.trade, "Effacer le corps d'état"),
        ),
        "corrections_lot.html",
        calendar=web_corrections.lot_calendar,
    ),
    Editable(
        "contacts",
        RecordKind.CONTACT,
        web_people_corrections.contact_sheet,
        corrections.edit_contact,
        lambda sheet: f"Contact n° {sheet.id} – {sheet.name}",
        lambda sheet: (
            Field("name", "Nom", sheet.name),
            Field(
                "email",
                "Adresse e-mail",
                sheet.email,
                "",
                "Les avis et bilans à venir, et ceux pas encore partis, iront à la nouvelle.",
            ),
            Field("phone", "Téléphone", sheet.phone, "Effacer le téléphone"),
            Field("role", "Fonction", sheet.role, "Effacer la fonction"),
        ),
        "corrections_contact.html",
        web_people_corrections.delete_contact,
        lambda sheet: (
            f"/corrections/donneurs-d-ordre/{sheet.buyer_id}",
            f"Donneur d'ordre n° {sheet.buyer_id} – {sheet.buyer}",
        ),
        confirm="dernier",
    ),
    Editable(
        "correspondants",
        RecordKind.CORRESPONDENT,
        web_people_corrections.correspondent_sheet,
        corrections.edit_correspondent,
        lambda sheet: f"Correspondant n° {sheet.id} – {sheet.name}",
        lambda sheet: (
            Field("name", "Nom", sheet.name),
            Field(
                "email",
                "Adresse e-mail",
                sheet.email,
                "",
                "Appels, rappels et accusés à venir, et ceux pas encore partis, iront à la "
                "nouvelle, à toute étape des clauses.",
            ),
            Field("phone", "Téléphone", sheet.phone, "Effacer le téléphone"),
        ),
        "corrections_correspondent.html",
        corrections.delete_correspondent,
        lambda sheet: (
            f"/corrections/entreprises/{sheet.company_id}",
            f"Entreprise n° {sheet.company_id} – {sheet.company}",
        ),
    ),
    Editable(
        "operations",
        RecordKind.OPERATION,
        web_people_corrections.operation_sheet,
        corrections.edit_operation,
        lambda sheet: f"Opération n° {sheet.id} – {sheet.name}",
        lambda sheet: (
            Field("name", "Nom", sheet.name),
            Field("place", "Lieu", sheet.place, "Effacer le lieu"),
        ),
        "corrections_operation.html",
        corrections.delete_operation,
        lambda sheet: (
            f"/corrections/donneurs-d-ordre/{sheet.buyer_id}",
            f"Donneur d'ordre n° {sheet.buyer_id} – {sheet.buyer}",
        ),
    ),
)

#: Where each kind of record the search finds is corrected.
SLUGS = {
    "company": "entreprises",
    "buyer": "donneurs-d-ordre",
    "market": "marches",
    "clause": "lots",
    "contact": "contacts",
    "correspondent": "correspondants",
    "operation": "operations",
    "participant": "participants",
}

MERGEABLE = {"entreprises": RecordKind.COMPANY, "donneurs-d-ordre": RecordKind.BUYER}


def typed(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def reason_of(form: Any) -> str | None:
    return typed(form, "reason") or None


def wanted(form: Any, fields: tuple[Field, ...]) -> dict[str, str | None]:
    """What the form asks to change: only the fields typed and different from the record's
    value; an empty field stays as it is, « Effacer » clears it."""
    asked: dict[str, str | None] = {}
    for field in fields:
        value = typed(form, field.name)
        if field.clearable and form.get(f"clear_{field.name}"):
            asked[field.name] = "" if field.current else None
        elif value and value != field.current:
            asked[field.name] = value
        else:
            asked[field.name] = None
    return asked


def done_message(entry: HistoryEntry) -> str:
    """« Entreprise corrigée : ville « Auch » → « Condom ». », from the row the change left."""
    noun = NOUNS[entry.kind]
    label = noun.label[0].upper() + noun.label[1:]
    if entry.action is Action.ABSORB:
        return f"Fusion faite : {entry.text}."
    return f"{label} corrigé{noun.e} : {entry.text}."


# --- a lot's or a buyer's declaration calendar ---------------------------------------------------

#: The calendar form's fields, the keywords of ``CalendarChange``.
CALENDAR_FIELDS = ("due_day", "reminder_offsets", "escalation_offset")

#: The fields that take a whole number of days, and their labels (``CalendarRule.label``).
DAY_FIELDS = {
    "due_day": "Jour d'échéance des déclarations",
    "escalation_offset": "Délai de signalement au donneur d'ordre",
}

#: How a service's refusal starts, and the field of the form it is about.
REFUSED_FIELDS = (
    ("Jour d'échéance", "due_day"),
    ("Jours de rappel", "reminder_offsets"),
    ("Délai de signalement", "escalation_offset"),
    ("Préférence d'avis", "notices"),
    ("La case", "reset_calendar"),
)


@dataclass(frozen=True)
class CalendarForm:
    """The calendar form's state besides the record's values: what was typed (shown again with
    a refusal), the refusal and the field it names, the confirmation of a change."""

    values: dict[str, str] = default_of(default_factory=dict)
    cleared: frozenset[str] = frozenset()
    reset: bool = False
    notices: str = ""
    reason: str = ""
    error: str | None = None
    #: The field the refusal is about (``aria-invalid``), "" when it names none.
    wrong: str = ""
    done: str | None = None


def refused_field(message: str) -> str:
    for start, name in REFUSED_FIELDS:
        if message.startswith(start):
            return name
    # « le rappel à J+7 ne viendrait pas avant le signalement… »: the rules clash.
    return "escalation_offset" if "(--escalation-offset)" in message else ""


def _asked(form: Any, name: str, own: str) -> str | Reset | None:
    """One rule as the form asks it: None (left as the record has it, or emptied), DEFAULT
    (« Revenir… » ticked, or the word « défaut »), else what was typed."""
    value = typed(form, name)
    if form.get(f"clear_{name}") or is_default_word(value):
        return DEFAULT
    return value if value and value != own else None


def _days(value: str | Reset | None, name: str) -> int | Reset | None:
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        raise InputRefused(
            f"{DAY_FIELDS[name]} : «\u00a0{value}\u00a0» : un nombre entier de jours ou "
            "«\u00a0défaut\u00a0» attendu."
        ) from None


def calendar_change_of(form: Any, sheet: web_corrections.CalendarSheet) -> CalendarChange:
    """What the form asks, as ``--due-day``, ``--reminder-offsets``, ``--escalation-offset``
    and ``--reset-calendar`` would: a field left as the record has it (or emptied) keeps its
    rule, « Revenir… » or the word « défaut » drops the record's own value."""
    own = {rule.name: rule.own for rule in sheet.rules}
    due_day, offsets, escalation = (_asked(form, name, own[name]) for name in CALENDAR_FIELDS)
    change = CalendarChange(
        _days(due_day, "due_day"), offsets, _days(escalation, "escalation_offset")
    )
    if not form.get("reset_calendar"):
        return change
    if any(isinstance(value, str) for value in (due_day, offsets, escalation)):
        back = "au calendrier du donneur d'ordre" if sheet.level == "lot" else "au réglage général"
        raise InputRefused(
            f"La case «\u00a0Revenir {back} pour les trois règles\u00a0» les remet toutes par "
            "défaut : décochez-la, ou laissez les champs tels qu'ils étaient."
        )
    return CalendarChange.reset()


def replanned_sentence(result: CalendarChanged) -> str:
    moved = result.replanned
    if not moved.ladders:
        return (
            "Aucune relance en cours n'a changé de date ; les mois à venir seront appelés avec "
            "ce calendrier."
        )
    text = (
        f"{plural(moved.ladders, 'relance en cours suit', 'relances en cours suivent')} le "
        "nouveau calendrier"
    )
    if moved.due_now:
        text += (
            f" ; {plural(moved.due_now, 'étape déjà échue partira', 'étapes déjà échues partiront')}"
            " au prochain passage du service"
        )
    return text + "."


def calendar_done(kind: RecordKind, result: CalendarChanged) -> str:
    """What the change did, as the command prints it, in one paragraph."""
    if not result.changes:
        what = (
            "ce lot a déjà ce calendrier"
            if kind is RecordKind.LOT
            else ("ce donneur d'ordre a déjà ces réglages")
        )
        return f"Rien à changer : {what}."
    changes = " ; ".join(result.changes)
    if kind is RecordKind.LOT:
        return f"Calendrier des déclarations changé : {changes}. {replanned_sentence(result)}"
    text = f"Donneur d'ordre modifié : {changes}."
    if result.lots:
        numbers = ", ".join(str(n) for n in result.lots)
        text += (
            f" Lots dont le calendrier change : {plural(len(result.lots), 'clause', 'clauses')} "
            f"(n° {numbers}). {replanned_sentence(result)}"
        )
    elif any(not change.startswith("avis ") for change in result.changes):
        text += " Aucun lot en cours ne suit ces règles : chacun a les siennes, ou il est clos."
    return text


def seal(secret: str, message: str) -> str:
    """The confirmation's seal: only the session that made the change shows it (an address
    typed with another text says nothing)."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login, signed_post = (
        guard.call,
        guard.user_of,
        guard.to_login,
        guard.signed_post,
    )

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return pages.render(request, name, status_code=status, **context)

    def missing(request: Request, error: NotFound) -> Response:
        return guard.refused(request, "Fiche introuvable", error.message, status=404)

    def trouble(request: Request, error: ConcurrentChange | DatabaseTrouble) -> Response:
        """Nothing was recorded (the transaction was rolled back): she may try again."""
        return guard.refused(request, "Correction non enregistrée", error.message, status=503)

    # --- finding the record ---------------------------------------------------------------------

    @routes.get("/corrections", response_class=HTMLResponse)
    async def find(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        text = request.query_params.get("q", "").strip()
        found, error = None, None
        if text:
            try:
                found = await call(web_corrections.correction_search, text)
            except InputRefused as refused:
                error = refused.message
        return render(
            request, "corrections.html", status=422 if error else 200, user=user, text=text,
            found=found, error=error, slugs=SLUGS,
        )  # fmt: skip

    def calendar_routes(
        spec: Editable,
        calendar_sheet: Callable[[App, int], web_corrections.CalendarSheet],
        page: Callable[..., HTMLResponse],
    ) -> None:
        """``clauses lot set`` / ``clauses buyer set`` as the calendar form of the page."""
        lot = spec.kind is RecordKind.LOT

        @routes.post(
            f"/corrections/{spec.slug}/{{record_id:int}}/calendrier",
            response_class=HTMLResponse,
            name=f"calendar-{spec.slug}",
        )
        async def set_calendar(request: Request, record_id: int) -> Response:
            checked = await signed_post(request)
            if isinstance(checked, Response):
                return checked  # not signed in, or no valid CSRF token: nothing done
            user, form = checked
            try:
                sheet = await call(spec.sheet, record_id)
                calendar = await call(calendar_sheet, record_id)
            except NotFound as error:
                return missing(request, error)
            notices = "" if lot else typed(form, "notices")
            sent = CalendarForm(
                values={name: typed(form, name) for name in CALENDAR_FIELDS},
                cleared=frozenset(n for n in CALENDAR_FIELDS if form.get(f"clear_{n}")),
                reset=bool(form.get("reset_calendar")),
                notices=notices,
                reason=typed(form, "reason"),
            )
            try:
                change = calendar_change_of(form, calendar)
                if lot:
                    changed = await call(
                        calendars.set_lot_calendar, record_id, change, reason=reason_of(form),
                        actor=user.name,
                    )  # fmt: skip
                    result = changed.result
                else:
                    # The choice left as the buyer has it is no change (as --notices not given).
                    preference = notices if notices and notices != calendar.notices else None
                    changed_buyer = await call(
                        calendars.set_buyer, record_id, notice_preference=preference,
                        calendar=change, reason=reason_of(form), actor=user.name,
                    )  # fmt: skip
                    result = changed_buyer.result
            except (ConcurrentChange, DatabaseTrouble) as error:
                return trouble(request, error)
            except InputRefused as error:
                refused = replace(
                    sent,
                    error=french_spaces(web_words(error.message)),
                    wrong=refused_field(error.message),
                )
                return page(
                    request, user, sheet, status=422, calendar=calendar, calendar_form=refused
                )
            told = french_spaces(calendar_done(spec.kind, result))
            query = urlencode({"calendrier": told, "sceau": seal(user.csrf, told)})
            return RedirectResponse(f"/corrections/{spec.slug}/{record_id}?{query}#calendrier", 303)

    # --- editing a record -----------------------------------------------------------------------

    def edit_routes(spec: Editable) -> None:
        path = f"/corrections/{spec.slug}/{{record_id:int}}"

        def page(
            request: Request,
            user: Any,
            sheet: Any,
            *,
            status: int = 200,
            values: dict[str, str] | None = None,
            cleared: frozenset[str] = frozenset(),
            reason: str = "",
            error: str | None = None,
            done: str | None = None,
            done_reason: str | None = None,
            delete_error: str | None = None,
            delete_reason: str = "",
            calendar: web_corrections.CalendarSheet | None = None,
            calendar_form: CalendarForm | None = None,
        ) -> HTMLResponse:
            fields = spec.fields(sheet)
            sent = calendar_form or CalendarForm()
            # The form shows the record's own values, or what was typed when it was refused.
            own = {rule.name: rule.own for rule in calendar.rules} if calendar else {}
            notices = calendar.notices if calendar else ""
            return render(
                request, "corrections_edit.html", status=status, user=user, spec=spec,
                sheet=sheet, heading=spec.heading(sheet), fields=fields,
                values=values if values is not None else {f.name: f.current for f in fields},
                cleared=cleared, reason=reason, error=error, done=done, done_reason=done_reason,
                action=f"/corrections/{spec.slug}/{sheet.id}",
                owner=spec.owner(sheet) if spec.owner else None, noun=NOUNS[spec.kind],
                delete_error=delete_error, delete_reason=delete_reason, calendar=calendar,
                calendar_form=sent, calendar_values=sent.values if sent.error else own,
                calendar_notices=sent.notices if sent.error else notices,
            )  # fmt: skip

        async def calendar_of(record_id: int) -> web_corrections.CalendarSheet | None:
            return None if spec.calendar is None else await call(spec.calendar, record_id)

        @routes.get(path, response_class=HTMLResponse, name=f"edit-{spec.slug}")
        async def show(request: Request, record_id: int) -> Response:
            user = await user_of(request)
            if user is None:
                return to_login(request)
            try:
                sheet = await call(spec.sheet, record_id)
            except NotFound as error:
                return missing(request, error)
            done = done_reason = None
            said = request.query_params.get("fait", "")
            if said == "rien":
                noun = NOUNS[spec.kind]
                number = (
                    f" ({noun.number_of} n° {record_id})" if noun.number_of else f" n° {record_id}"
                )
                done = f"Rien à changer : {noun.the}{number} a déjà ces valeurs."
            elif said.isascii() and said.isdigit():
                entry = await call(web_corrections.history_line, int(said))
                # Only a row about this very record is told here (the address may be reused).
                if entry is not None and entry.kind is spec.kind and entry.entity_id == record_id:
                    done, done_reason = done_message(entry), entry.reason
            told = request.query_params.get("calendrier", "")
            sealed = request.query_params.get("sceau", "")
            calendar_form = CalendarForm(
                done=told if told and hmac.compare_digest(sealed, seal(user.csrf, told)) else None
            )
            return page(
                request, user, sheet, done=done, done_reason=done_reason,
                calendar=await calendar_of(record_id), calendar_form=calendar_form,
            )  # fmt: skip

        @routes.post(path, response_class=HTMLResponse, name=f"save-{spec.slug}")
        async def save(request: Request, record_id: int) -> Response:
            checked = await signed_post(request)
            if isinstance(checked, Response):
                return checked  # not signed in, or no valid CSRF token: nothing done
            user, form = checked
            try:
                sheet = await call(spec.sheet, record_id)
            except NotFound as error:
                return missing(request, error)
            fields = spec.fields(sheet)
            try:
                done = await call(
                    spec.edit, record_id, **wanted(form, fields), reason=reason_of(form),
                    actor=user.name,
                )  # fmt: skip
            except (ConcurrentChange, DatabaseTrouble) as error:
                return trouble(request, error)
            except InputRefused as error:
                return page(
                    request, user, sheet, status=422,
                    values={f.name: typed(form, f.name) for f in fields},
                    cleared=frozenset(f.name for f in fields if form.get(f"clear_{f.name}")),
                    reason=typed(form, "reason"), error=web_words(error.message),
                    calendar=await calendar_of(record_id),
                )  # fmt: skip
            said = "rien" if done.history_id is None else str(done.history_id)
            return RedirectResponse(f"/corrections/{spec.slug}/{record_id}?fait={said}", 303)

        if spec.calendar is not None:
            calendar_routes(spec, spec.calendar, page)

        if spec.delete is None:
            return
        delete = spec.delete

        @routes.post(f"{path}/suppression", response_class=HTMLResponse, name=f"delete-{spec.slug}")
        async def remove(request: Request, record_id: int) -> Response:
            checked = await signed_post(request)
            if isinstance(checked, Response):
                return checked
            user, form = checked
            try:
                sheet = await call(spec.sheet, record_id)
            except NotFound as error:
                return missing(request, error)
            confirmed = {"last_confirmed": bool(form.get(spec.confirm))} if spec.confirm else {}
            try:
                gone = await call(
                    delete, record_id, reason=reason_of(form), actor=user.name, **confirmed
                )
            except (ConcurrentChange, DatabaseTrouble) as error:
                return trouble(request, error)
            except web_people_corrections.LastContact as error:
                # Asked again on a page of its own, with the box that confirms it.
                return render(
                    request, "corrections_contact_last.html", status=422, user=user,
                    sheet=sheet, heading=spec.heading(sheet), noun=NOUNS[spec.kind],
                    owner=spec.owner(sheet) if spec.owner else None, error=error.message,
                    asked=bool(form.get("confirmation")), reason=typed(form, "reason"),
                    action=f"/corrections/{spec.slug}/{sheet.id}", confirm=spec.confirm,
                    box=web_people_corrections.LAST_CONTACT_BOX,
                )  # fmt: skip
            except InputRefused as error:
                return page(
                    request, user, sheet, status=422, delete_reason=typed(form, "reason"),
                    delete_error=web_words(error.message), calendar=await calendar_of(record_id),
                )  # fmt: skip
            return render(
                request, "corrections_deleted.html", user=user, gone=gone, noun=gone.noun,
                owner=spec.owner(sheet) if spec.owner else None, heading=spec.heading(sheet),
            )  # fmt: skip

    for spec in EDITABLE:
        edit_routes(spec)

    # --- a participant: completed, corrected, validated ----------------------------------------

    participant_path = "/corrections/participants/{participant_id:int}"

    def participant_page(
        request: Request,
        user: Any,
        sheet: web_people_corrections.ParticipantSheet,
        *,
        status: int = 200,
        values: dict[str, str] | None = None,
        reason: str = "",
        error: str | None = None,
        proof: str | None = None,
        on: str = "",
        validation_reason: str = "",
        validation_error: str | None = None,
        done: str | None = None,
        done_reason: str | None = None,
    ) -> HTMLResponse:
        current = {"sex": sheet.sex, "birth_year": sheet.birth_year, "criterion": sheet.criterion}
        return render(
            request, "corrections_participant.html", status=status, user=user, sheet=sheet,
            values=values if values is not None else current, reason=reason, error=error,
            proof=sheet.proof if proof is None else proof, on=on,
            validation_reason=validation_reason, validation_error=validation_error,
            done=done, done_reason=done_reason, criteria=web_people_corrections.CRITERIA,
        )  # fmt: skip

    async def participant_or_404(
        request: Request, participant_id: int
    ) -> web_people_corrections.ParticipantSheet | Response:
        try:
            sheet: web_people_corrections.ParticipantSheet = await call(
                web_people_corrections.participant_sheet, participant_id
            )
        except NotFound as error:
            return missing(request, error)
        return sheet

    @routes.get(participant_path, response_class=HTMLResponse)
    async def participant_show(request: Request, participant_id: int) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        sheet = await participant_or_404(request, participant_id)
        if isinstance(sheet, Response):
            return sheet
        return participant_page(request, user, sheet)

    @routes.post(participant_path, response_class=HTMLResponse)
    async def participant_save(request: Request, participant_id: int) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        sheet = await participant_or_404(request, participant_id)
        if isinstance(sheet, Response):
            return sheet
        current = {"sex": sheet.sex, "birth_year": sheet.birth_year, "criterion": sheet.criterion}
        asked = {
            name: value if (value := typed(form, name)) and value != was else None
            for name, was in current.items()
        }
        if all(value is None for value in asked.values()):
            return participant_page(
                request, user, sheet,
                done=f"Rien à changer : le participant {sheet.reference} a déjà ces valeurs.",
            )  # fmt: skip
        try:
            change = await call(
                web_people_corrections.edit_participant, participant_id, **asked,
                reason=reason_of(form), actor=user.name,
            )  # fmt: skip
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            return participant_page(
                request, user, sheet, status=422,
                values={name: typed(form, name) for name in current},
                reason=typed(form, "reason"), error=web_words(error.message),
            )  # fmt: skip
        sheet = await participant_or_404(request, participant_id)
        if isinstance(sheet, Response):
            return sheet
        return participant_page(
            request, user, sheet, done=web_words(change.message),
            done_reason=reason_of(form) if change.changed else None,
        )  # fmt: skip

    @routes.post(f"{participant_path}/validation", response_class=HTMLResponse)
    async def participant_validate(request: Request, participant_id: int) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        sheet = await participant_or_404(request, participant_id)
        if isinstance(sheet, Response):
            return sheet
        try:
            change = await call(
                web_people_corrections.validate_participant, participant_id,
                proof=typed(form, "proof"), on=typed(form, "on") or None,
                reason=reason_of(form), actor=user.name,
            )  # fmt: skip
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            return participant_page(
                request, user, sheet, status=422, proof=typed(form, "proof"),
                on=typed(form, "on"), validation_reason=typed(form, "reason"),
                validation_error=web_words(error.message),
            )  # fmt: skip
        sheet = await participant_or_404(request, participant_id)
        if isinstance(sheet, Response):
            return sheet
        return participant_page(
            request, user, sheet, done=web_words(change.message),
            done_reason=reason_of(form) if change.changed else None,
        )  # fmt: skip

    # --- merging a duplicate into the record kept -----------------------------------------------

    def merge_routes(slug: str, kind: RecordKind) -> None:
        path = f"/corrections/{slug}/{{record_id:int}}/fusion"
        spec = next(s for s in EDITABLE if s.slug == slug)
        merge = (
            corrections.merge_companies if kind is RecordKind.COMPANY else corrections.merge_buyers
        )
        noun = NOUNS[kind]

        async def ask(
            request: Request,
            user: Any,
            record_id: int,
            duplicate: str,
            *,
            reason: str = "",
            error: str | None = None,
        ) -> Response:
            """The form asking for the duplicate, or the page confirming the merge."""
            try:
                kept = await call(spec.sheet, record_id)
            except NotFound as missing_record:
                return missing(request, missing_record)
            preview = None
            if duplicate and error is None:
                try:
                    preview = await call(
                        web_corrections.merge_preview, kind, duplicate, into=record_id,
                        actor=user.name,
                    )  # fmt: skip
                except (ConcurrentChange, DatabaseTrouble) as failed:
                    return trouble(request, failed)
                except InputRefused as refused:
                    error = web_words(refused.message)
            return render(
                request, "corrections_merge.html", status=422 if error else 200, user=user,
                slug=slug, noun=noun, kept=kept, duplicate=duplicate, preview=preview,
                reason=reason, error=error, kind=kind.value,
                action=f"/corrections/{slug}/{record_id}/fusion",
                moved=moved_text({m.what: m.ids for m in preview.merge.moved}) if preview else "",
                filled=changes_text(preview.merge.filled) if preview else "",
            )  # fmt: skip

        @routes.get(path, response_class=HTMLResponse, name=f"merge-{slug}")
        async def confirm(request: Request, record_id: int) -> Response:
            user = await user_of(request)
            if user is None:
                return to_login(request)
            return await ask(request, user, record_id, request.query_params.get("doublon", ""))

        @routes.post(path, response_class=HTMLResponse, name=f"merged-{slug}")
        async def merged(request: Request, record_id: int) -> Response:
            checked = await signed_post(request)
            if isinstance(checked, Response):
                return checked
            user, form = checked
            duplicate = typed(form, "doublon")
            try:
                done = await call(
                    merge, duplicate, into=record_id, reason=reason_of(form), actor=user.name
                )
            except (ConcurrentChange, DatabaseTrouble) as error:
                return trouble(request, error)
            except InputRefused as error:
                return await ask(
                    request, user, record_id, duplicate, reason=typed(form, "reason"),
                    error=web_words(error.message),
                )  # fmt: skip
            return RedirectResponse(
                f"/corrections/{slug}/{done.target_id}?fait={done.history_ids[1]}", 303
            )

    for slug, kind in MERGEABLE.items():
        merge_routes(slug, kind)

    # --- a month's declaration cancelled, a clause reopened ---------------------------------------

    async def lot_or_404(request: Request, clause_id: int) -> web_corrections.LotSheet | Response:
        try:
            return await call(web_corrections.lot_sheet, clause_id)
        except NotFound as error:
            return missing(request, error)

    def cancel_page(
        request: Request, user: Any, lot: web_corrections.LotSheet, *, company: str, month: str,
        reason: str = "", error: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        return render(
            request, "corrections_cancel.html", status=422 if error else 200, user=user, lot=lot,
            company=company, month=month, reason=reason, error=error,
        )  # fmt: skip

    @routes.get("/corrections/lots/{clause_id:int}/annulation", response_class=HTMLResponse)
    async def cancel_form(request: Request, clause_id: int) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        lot = await lot_or_404(request, clause_id)
        if isinstance(lot, Response):
            return lot
        query = request.query_params
        return cancel_page(
            request, user, lot, company=query.get("entreprise", ""), month=query.get("mois", "")
        )

    @routes.post("/corrections/lots/{clause_id:int}/annulation", response_class=HTMLResponse)
    async def cancel(request: Request, clause_id: int) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        lot = await lot_or_404(request, clause_id)
        if isinstance(lot, Response):
            return lot
        company, month_text = typed(form, "entreprise"), typed(form, "mois")
        again = {"company": company, "month": month_text, "reason": typed(form, "reason")}
        month = parse_month(month_text)
        if not company:
            return cancel_page(request, user, lot, **again, error="Entreprise : choisissez-la.")
        if month is None:
            what = (
                f"«\u00a0{month_text}\u00a0» n'est pas un mois"
                if month_text
                else "indiquez le mois de la déclaration à annuler"
            )
            return cancel_page(
                request, user, lot, **again,
                error=f"Mois : {what} (par exemple 2026-04 ou 04/2026).",
            )  # fmt: skip
        try:
            done = await call(
                clause_corrections.cancel_declaration, clause=clause_id, company=company,
                month=month, reason=typed(form, "reason"), actor=user.name,
            )  # fmt: skip
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            return cancel_page(request, user, lot, **again, error=web_words(error.message))
        # The outcomes the cancellation leaves out of the figures, as the command says them.
        uncounted = uncounted_sentence(done.uncounted)
        return render(
            request, "corrections_done.html", user=user, lot=lot, cancelled=done, reopened=None,
            next_step=ladder_sentence(done.ladder, app.settings.zone),
            informed=informed_sentence(done), labels=LABELS,
            uncounted=french_spaces(uncounted) if uncounted else None,
        )  # fmt: skip

    @routes.get("/corrections/lots/{clause_id:int}/reouverture", response_class=HTMLResponse)
    async def reopen_form(request: Request, clause_id: int) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        lot = await lot_or_404(request, clause_id)
        if isinstance(lot, Response):
            return lot
        return render(request, "corrections_reopen.html", user=user, lot=lot, reason="", error=None)

    @routes.post("/corrections/lots/{clause_id:int}/reouverture", response_class=HTMLResponse)
    async def reopen(request: Request, clause_id: int) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        lot = await lot_or_404(request, clause_id)
        if isinstance(lot, Response):
            return lot
        try:
            done = await call(
                clause_corrections.reopen_clause, clause_id, reason=typed(form, "reason"),
                actor=user.name,
            )  # fmt: skip
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            return render(
                request, "corrections_reopen.html", status=422, user=user, lot=lot,
                reason=typed(form, "reason"), error=web_words(error.message),
            )  # fmt: skip
        return render(
            request, "corrections_done.html", user=user, lot=lot, cancelled=None, reopened=done,
            next_step=None, informed=None, labels=LABELS,
        )  # fmt: skip

    return routes
