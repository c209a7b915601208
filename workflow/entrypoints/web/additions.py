"""The records the facilitator creates from the correction pages, as the CLI does: a buyer's
contact, a company's correspondent (on their owner's page), a buyer, a company, an operation, a
market (/corrections/nouveau), a lot and its clause (on its market's page,
/corrections/marches/N°/lot, which /corrections/nouveau leads to).

Each form calls ``app.web_additions``, that is the function the command line calls, with the
signed-in user as the actor, so it leaves the same « création » history row. Done, it leads
(303) to the page where the record is corrected, ``?ajout=`` naming that row: the page says
what was added. A refusal shows the form again with what was typed and the service's French
message naming the field (422), nothing written; a POST without its CSRF token does nothing.

A lot (``clauses lot add``) is read as the command reads its options: the four figures by
``domain.hours``, so the same French numbers (« 1 000 000 », « 50 % », « 0,05 »); then
``app.catalog.add_lot``. Its creation is its clause's « repérage » row (no record history row,
as from the command); done, its form says what was created (``?ajout=`` naming the clause),
links to the clause's page and is ready for the market's next lot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import web_additions, web_corrections
from workflow.app.clauses import Figures
from workflow.app.web_additions import Added
from workflow.bootstrap import App
from workflow.domain.hours import parse_positive, parse_ratio
from workflow.entrypoints.web.board import parse_date, parse_whole
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused, NotFound
from workflow.services.catalog import CalendarChange
from workflow.services.corrections import RecordKind

#: Where each record created is corrected, and its confirmation read: a market's own page
#: shows no history, its buyer's does (and links to it).
PAGES: dict[RecordKind, Callable[[Added], str]] = {
    RecordKind.BUYER: lambda added: f"/corrections/donneurs-d-ordre/{added.id}",
    RecordKind.CONTACT: lambda added: f"/corrections/donneurs-d-ordre/{added.owner_id}",
    RecordKind.COMPANY: lambda added: f"/corrections/entreprises/{added.id}",
    RecordKind.CORRESPONDENT: lambda added: f"/corrections/entreprises/{added.owner_id}",
    RecordKind.OPERATION: lambda added: f"/corrections/operations/{added.id}",
    RecordKind.MARKET: lambda added: f"/corrections/donneurs-d-ordre/{added.owner_id}",
}

#: The fields of each form of /corrections/nouveau, as the application function names them.
NEW_FORMS: dict[str, tuple[str, ...]] = {
    "donneur-d-ordre": ("name", "kind", "notices"),
    "entreprise": ("name", "siret", "city"),
    "operation": ("name", "buyer", "place"),
    "marche": ("reference", "operation", "title"),
}

NEW_FUNCTIONS: dict[str, Callable[..., Added]] = {
    "donneur-d-ordre": web_additions.add_buyer,
    "entreprise": web_additions.add_company,
    "operation": web_additions.add_operation,
    "marche": web_additions.add_market,
}

CONTACT_FIELDS = ("name", "email", "phone", "role")
CORRESPONDENT_FIELDS = ("name", "email", "phone")


#: The fields of « Ajouter un lot »: one per option of ``clauses lot add``.
LOT_FIELDS = (
    "title",
    "lot_number",
    "trade",
    "amount",
    "labour_share",
    "rate",
    "hourly_cost",
    "hours",
    "hours_reason",
    "planned_notification",
    "due_day",
    "reminder_offsets",
    "escalation_offset",
)

#: The command's options the service's messages name, and the form's fields that take them.
LOT_OPTION_WORDS = (
    ("(--reason)", "(champ « Raison des heures imposées »)"),
    ("(--escalation-offset)", "(champ « Délai de signalement au donneur d'ordre »)"),
    ("(--reminder-offsets)", "(champ « Jours de rappel »)"),
)

#: A space before « : ; ? ! » or inside « », which a page keeps on one line.
_SPACES = re.compile(r" (?=[:;?!»])|(?<=«) ")


def french_spaces(text: str) -> str:
    """The service's message as a page prints it: a non-breaking space where French wants one."""
    return _SPACES.sub("\u00a0", text)


def lot_words(message: str) -> str:
    """A refusal of ``lot add`` as the form reads it: its fields, not the command's options."""
    for option, words in LOT_OPTION_WORDS:
        message = message.replace(option, words)
    return french_spaces(message)


def typed(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def done_address(added: Added) -> str:
    """The page of the record, its confirmation in view."""
    return f"{PAGES[added.kind](added)}?ajout={added.history_id}#ajout"


def _figure(
    values: dict[str, str], name: str, field: str, parse: Callable[[str, str], Decimal]
) -> Decimal | None:
    text = values[name]
    return parse(text, field) if text else None


def lot_arguments(values: dict[str, str]) -> dict[str, Any]:
    """What the form typed as ``app.catalog.add_lot`` takes it, read as ``clauses lot add``
    reads its options (an empty field is an option not given); a refusal names the field."""
    figures = Figures(
        amount=_figure(values, "amount", "Montant HT", parse_positive),
        labour_share=_figure(values, "labour_share", "Part de main-d'œuvre", parse_ratio),
        rate=_figure(values, "rate", "Taux d'insertion", parse_ratio),
        hourly_cost=_figure(values, "hourly_cost", "Coût horaire chargé", parse_positive),
    )
    hours = parse_whole(values["hours"], "Heures imposées")
    reason = values["hours_reason"] or None
    if reason is not None and hours is None:
        # ``--hours-reason va avec --hours``: a reason alone would be dropped without a word.
        raise InputRefused(
            "Raison des heures imposées : elle accompagne des heures imposées ; indiquez les "
            "heures (champ « Heures imposées ») ou videz la raison."
        )
    days = "un nombre entier de jours"
    return {
        "title": values["title"],
        "lot_number": values["lot_number"],
        "trade": values["trade"],
        "figures": figures,
        "hours_override": hours,
        "hours_reason": reason,
        "planned_notification": parse_date(
            values["planned_notification"], "Notification prévue du marché"
        ),
        "calendar": CalendarChange(
            parse_whole(values["due_day"], "Jour d'échéance des déclarations", what=days),
            values["reminder_offsets"] or None,
            parse_whole(
                values["escalation_offset"], "Délai de signalement au donneur d'ordre", what=days
            ),
        ),
    }


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)

    def missing(request: Request, error: NotFound) -> Response:
        return guard.refused(request, "Fiche introuvable", error.message, status=404)

    def trouble(request: Request, error: ConcurrentChange | DatabaseTrouble) -> Response:
        """Nothing was recorded (the transaction was rolled back): she may try again."""
        return guard.refused(request, "Ajout non enregistré", error.message, status=503)

    # --- a contact, a correspondent, from their owner's page -------------------------------------

    def person_routes(
        slug: str,
        sheet: Callable[[App, int], Any],
        add: Callable[..., Added],
        fields: tuple[str, ...],
        template: str,
    ) -> None:
        @routes.post(f"/corrections/{slug}/{{record_id:int}}/ajout", response_class=HTMLResponse)
        async def add_person(request: Request, record_id: int) -> Response:
            checked = await signed_post(request)
            if isinstance(checked, Response):
                return checked  # not signed in, or no valid CSRF token: nothing done
            user, form = checked
            values = {name: typed(form, name) for name in fields}
            try:
                added = await guard.call(add, record_id, **values, actor=user.name)
            except NotFound as error:
                return missing(request, error)
            except (ConcurrentChange, DatabaseTrouble) as error:
                return trouble(request, error)
            except InputRefused as error:
                try:
                    owner = await guard.call(sheet, record_id)
                except NotFound as gone:
                    return missing(request, gone)
                return pages.render(
                    request, template, status_code=422, user=user, sheet=owner, values=values,
                    error=error.message,
                )  # fmt: skip
            return RedirectResponse(done_address(added), 303)

    signed_post = guard.signed_post
    person_routes(
        "donneurs-d-ordre",
        web_corrections.buyer_sheet,
        web_additions.add_contact,
        CONTACT_FIELDS,
        "additions_contact.html",
    )
    person_routes(
        "entreprises",
        web_corrections.company_sheet,
        web_additions.add_correspondent,
        CORRESPONDENT_FIELDS,
        "additions_correspondent.html",
    )

    # --- a new buyer, company, operation, market ---------------------------------------------------

    def new_page(
        request: Request,
        user: Any,
        *,
        status: int = 200,
        which: str = "",
        values: dict[str, str] | None = None,
        error: str | None = None,
    ) -> HTMLResponse:
        return pages.render(
            request, "additions.html", status_code=status, user=user, which=which,
            values=values or {}, error=error,
        )  # fmt: skip

    @routes.get("/corrections/nouveau", response_class=HTMLResponse)
    async def new_forms(request: Request) -> Response:
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        return new_page(request, user)

    @routes.post("/corrections/nouveau/{which}", response_class=HTMLResponse)
    async def new_record(request: Request, which: str) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        if which not in NEW_FORMS:
            return guard.refused(
                request, "Page introuvable", "Cette adresse ne mène à aucune page du service.", 404
            )
        values = {name: typed(form, name) for name in NEW_FORMS[which]}
        try:
            added = await guard.call(NEW_FUNCTIONS[which], **values, actor=user.name)
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            # A buyer or operation not found is what was typed in its field: said by the form.
            return new_page(
                request, user, status=422, which=which, values=values, error=error.message
            )
        return RedirectResponse(done_address(added), 303)

    # --- a lot and its clause, on its market's page ----------------------------------------------

    @routes.get("/corrections/nouveau/lot", response_class=HTMLResponse)
    async def lot_market(request: Request) -> Response:
        """« Nouveau lot » of /corrections/nouveau: the market named leads to its lot form."""
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        market = request.query_params.get("marche", "").strip()
        try:
            if not market:
                raise InputRefused("Marché : indiquez son N° ou sa référence (ex. 2026-014).")
            market_id = await guard.call(web_additions.market_of, market)
        except InputRefused as error:
            return new_page(
                request, user, status=422, which="lot", values={"marche": market},
                error=french_spaces(error.message),
            )  # fmt: skip
        return RedirectResponse(f"/corrections/marches/{market_id}/lot", 303)

    def lot_page(
        request: Request,
        user: Any,
        sheet: Any,
        *,
        status: int = 200,
        values: dict[str, str] | None = None,
        error: str | None = None,
        created: web_additions.LotCreated | None = None,
    ) -> HTMLResponse:
        return pages.render(
            request, "additions_lot.html", status_code=status, user=user, sheet=sheet,
            values=values or {}, error=error, created=created,
        )  # fmt: skip

    lot_path = "/corrections/marches/{market_id:int}/lot"

    @routes.get(lot_path, response_class=HTMLResponse)
    async def lot_form(request: Request, market_id: int) -> Response:
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        try:
            sheet = await guard.call(web_corrections.market_sheet, market_id)
        except NotFound as error:
            return missing(request, error)
        said = request.query_params.get("ajout", "")
        created = None
        if said.isascii() and said.isdigit() and len(said) <= 9:
            created = await guard.call(web_additions.lot_created, market_id, int(said))
        return lot_page(request, user, sheet, created=created)

    @routes.post(lot_path, response_class=HTMLResponse)
    async def add_lot(request: Request, market_id: int) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        try:
            # Its N° checked first: a market merged away since the form was shown is said so,
            # never taken for another whose reference would read the same.
            sheet = await guard.call(web_corrections.market_sheet, market_id)
        except NotFound as error:
            return missing(request, error)
        values = {name: typed(form, name) for name in LOT_FIELDS}
        try:
            clause_id = await guard.call(
                web_additions.add_lot, market_id, **lot_arguments(values), actor=user.name
            )
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except InputRefused as error:
            return lot_page(
                request, user, sheet, status=422, values=values, error=lot_words(error.message)
            )
        return RedirectResponse(
            f"/corrections/marches/{market_id}/lot?ajout={clause_id}#ajout", 303
        )

    return routes
