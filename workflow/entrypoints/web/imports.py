"""Importing a spreadsheet from the dashboard: « Importer un tableau » (/imports).

The three imports of the command line, one form each: lots (``clauses import lots``), monthly
declarations (``clauses declaration import``) and outcomes (``clauses import outcomes``), the
last two with the command's ``--clause`` and ``--replace`` as the « Clause » field and the
« Remplacer » box, and for declarations the command's ``--reason`` as the « Motif de la
correction » field (needed when the file corrects a month recorded before, kept in its history
row). The page never shows a command: the facilitator reads it in her own words.
A file goes in two steps, without JavaScript:

1. sent (multipart) to ``/imports/{kind}``: the import is done in full and rolled back
   (``dry_run``); the page shows what it would create or change (a month it would replace, with
   the figures recorded now), or the refusal naming the file, its lines and columns (422),
   nothing changed;
2. confirmed from that page (``/imports/{kind}/confirmation``): its form carries the file back
   (URL-safe base64 in a hidden field, with its SHA-256) and the application function the command line
   calls imports it for real, the signed-in user as the actor, all of it or nothing.

A body is read with a bound: a file over ``UPLOAD_LIMIT`` is refused politely (413) before any
of it is parsed or kept. Every POST carries the session's CSRF token (``Guard``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message

from workflow.adapters.csv_files import Column, format_size
from workflow.adapters.declaration_columns import DECLARATION_COLUMNS
from workflow.adapters.templates import french_date, french_hours
from workflow.app import imports as commands
from workflow.app.web_accounts import SignedIn
from workflow.bootstrap import App
from workflow.domain.vocabulary import (
    CRITERION_LABELS,
    DELIVERY_MODE_LABELS,
    Criterion,
    DeliveryMode,
)
from workflow.entrypoints.web.additions import french_spaces
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ClausesError, FileRefused, InputRefused
from workflow.services.declaration_imports import DeclarationSummary
from workflow.services.imports import LOT_COLUMNS, ImportedLot
from workflow.services.outcome_imports import OUTCOME_COLUMNS
from workflow.services.outcomes import Change

#: The largest file a page takes (the command line takes up to 20 Mo): a lots or declaration
#: file of ten thousand lines is well under it, and the confirmation page carries it back.
UPLOAD_LIMIT = 2_000_000
#: The confirmation's field holding the file back, in URL-safe base64 (four characters for three
#: bytes) with room for its padding.
CONFIRMATION_FIELD_LIMIT = UPLOAD_LIMIT * 4 // 3 + 1024
#: What a form adds around the file (boundaries, headers, the token, the options).
FORM_OVERHEAD = 64_000
#: A body past this is not even read to its end before the refusal is given.
DRAIN_LIMIT = 50_000_000

CHANGE_WORDS = {
    Change.CREATED: "à enregistrer",
    Change.UNCHANGED: "déjà enregistrée",
    Change.REPLACED: "à corriger",
}
DONE_WORDS = {
    Change.CREATED: "enregistrée",
    Change.UNCHANGED: "déjà enregistrée",
    Change.REPLACED: "corrigée",
}
CREATED_WORDS = {
    "buyers": ("donneur d'ordre", "donneurs d'ordre"),
    "contacts": ("contact", "contacts"),
    "companies": ("entreprise", "entreprises"),
    "correspondents": ("correspondant", "correspondants"),
    "operations": ("opération", "opérations"),
    "markets": ("marché", "marchés"),
    "clauses": ("clause", "clauses"),
    "participants": ("participant", "participants"),
}


@dataclass(frozen=True)
class Kind:
    """One import the page offers, as the command line offers it."""

    slug: str
    title: str
    lead: str
    columns: tuple[Column, ...]
    #: Whether the command takes --clause and --replace.
    options: bool
    replace_label: str = ""
    #: Whether it takes --reason, the motif of a correction (the « Motif de la correction »).
    reason: bool = False


KINDS = {
    kind.slug: kind
    for kind in (
        Kind(
            "lots",
            "Lots et paramètres de calcul",
            "Crée les donneurs d'ordre, opérations, marchés et clauses qui manquent, heures "
            "calculées ; un lot déjà enregistré n'est jamais modifié.",
            LOT_COLUMNS,
            options=False,
        ),
        Kind(
            "declarations",
            "Déclarations mensuelles d'heures",
            "Enregistre les heures d'insertion d'une ou plusieurs entreprises, par lot et par "
            "mois ; chaque entreprise reçoit son accusé de réception.",
            DECLARATION_COLUMNS,
            options=True,
            replace_label="Remplacer une déclaration déjà enregistrée pour le même mois",
            reason=True,
        ),
        Kind(
            "sorties",
            "Sorties de participants",
            "Enregistre ce que sont devenus les participants après leur parcours.",
            OUTCOME_COLUMNS,
            options=True,
            replace_label="Remplacer la sortie déjà enregistrée (quand le participant n'en a "
            "qu'une sur la clause)",
        ),
    )
}

#: The command line's options, as the page names them.
OPTION_WORDS = (
    ("(ou indiquez la clause avec --clause)", "(ou indiquez la clause dans le champ « Clause »)"),
    ("(option --clause)", "(champ « Clause »)"),
    ("indiquez --clause", "indiquez la clause dans le champ « Clause »"),
    (
        "recommencez avec --replace et, si vous la modifiez, --reason « motif »",
        "recommencez en cochant « Remplacer » et, si vous la modifiez, en indiquant le « Motif "
        "de la correction »",
    ),
    ("recommencez avec --replace", "recommencez en cochant « Remplacer »"),
    ("recommencez avec\n--replace", "recommencez en cochant « Remplacer »"),
)


#: ``clauses participant outcome-fix|outcome-remove`` in an outcome's refusal: the lot's page
#: corrects or withdraws one outcome on the site.
OUTCOME_COMMANDS = re.compile(r"«\s*clauses participant outcome-(?:fix|remove)[^»]*»")
OUTCOME_PAGE = (
    "le formulaire « Corriger ou retirer une sortie » de la page « Participants et sorties » du lot"
)


def page_words(text: str) -> str:
    """A refusal in the words of the page: its « Clause » field and « Remplacer » box rather
    than the command's --clause and --replace; NBSP inside « » and before « : »."""
    for said, shown in OPTION_WORDS:
        text = text.replace(said, shown)
    text = text.replace("--replace ne sait pas", "la case « Remplacer » ne sait pas")
    return nbsp(OUTCOME_COMMANDS.sub(OUTCOME_PAGE, text))


def nbsp(text: str) -> str:
    return (
        text.replace("« ", "«\u00a0")
        .replace(" »", "\u00a0»")
        .replace(" :", "\u00a0:")
        .replace(" ;", "\u00a0;")
    )


def plural(count: int, one: str, many: str) -> str:
    return f"{count}\u00a0{one if count <= 1 else many}"


def created_text(created: dict[str, int]) -> str:
    parts = [plural(n, *CREATED_WORDS[key]) for key, n in created.items() if n]
    return ", ".join(parts)


@dataclass(frozen=True)
class Refusal:
    """What the page says of a refused file: a heading naming it, its errors one a line."""

    title: str
    errors: tuple[str, ...]


def refusal_of(error: ClausesError, name: str) -> Refusal:
    if isinstance(error, FileRefused):
        count = len(error.errors)
        return Refusal(
            f"{error.source}\u00a0: {plural(count, 'erreur', 'erreurs')}, rien n'a été importé.",
            tuple(page_words(str(e)) for e in error.errors),
        )
    return Refusal(
        f"{name}\u00a0: rien n'a été importé.", tuple(page_words(error.message).split("\n"))
    )


@dataclass(frozen=True)
class Sent:
    """A file and the options it was sent with."""

    name: str
    content: bytes
    clause: str
    replace: bool
    #: The « Motif de la correction » (declarations only), as typed; "" when none.
    reason: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def encoded(self) -> str:
        return base64.urlsafe_b64encode(self.content).decode("ascii")


class TooLarge(Exception):
    """A body or a file over the page's limit, of ``size`` bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class Unreadable(Exception):
    """A form that does not hold what the page sends (a field the message names)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def bounded(request: Request, limit: int) -> Request:
    """The request with its body read (at most ``limit`` bytes kept); ``TooLarge`` past it, the
    rest of the body read but not kept (up to ``DRAIN_LIMIT``) so the browser gets the page."""
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else 0
    kept: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total <= limit and size <= limit:
            kept.append(chunk)
        elif total > DRAIN_LIMIT:
            break
    if total > limit or size > limit:
        raise TooLarge(max(total, size))
    body = b"".join(kept)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def options_of(kind: Kind, form: Any) -> tuple[str, bool, str]:
    """The « Clause », « Remplacer » and « Motif de la correction » the form was sent with."""
    if not kind.options:
        return "", False, ""
    clause = str(form.get("clause") or "").strip()
    reason = " ".join(str(form.get("motif") or "").split()) if kind.reason else ""
    return clause, bool(form.get("remplacer")), reason


def upload_of(kind: Kind, form: Any) -> Sent:
    """The file of the first step's form; ``TooLarge`` or ``Unreadable`` if it cannot be."""
    upload = form.get("fichier")
    if not isinstance(upload, UploadFile) or not (upload.filename or "").strip():
        raise Unreadable("Fichier\u00a0: choisissez le fichier à importer.")
    content = upload.file.read(UPLOAD_LIMIT + 1)
    if len(content) > UPLOAD_LIMIT:
        raise TooLarge(upload.size or len(content))
    clause, replace, reason = options_of(kind, form)
    return Sent(commands.file_name(upload.filename), content, clause, replace, reason)


def confirmed_of(kind: Kind, form: Any) -> Sent:
    """The file the preview page carries back, checked against its digest."""
    try:
        content = base64.b64decode(str(form.get("contenu") or ""), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        content = b""
    name = commands.file_name(str(form.get("nom") or ""))
    if not content or hashlib.sha256(content).hexdigest() != str(form.get("empreinte") or ""):
        raise Unreadable(
            f"Fichier\u00a0: «\u00a0{name}\u00a0» n'est pas arrivé en entier\u00a0; "
            "envoyez-le de nouveau."
        )
    if len(content) > UPLOAD_LIMIT:
        raise TooLarge(len(content))
    clause, replace, reason = options_of(kind, form)
    return Sent(name, content, clause, replace, reason)


def run_import(app: App, kind: Kind, sent: Sent, *, actor: str, dry_run: bool) -> Any:
    """The application function the command line calls, on the file as it was sent."""
    clause = sent.clause or None
    with commands.uploaded_file(sent.name, sent.content) as path:
        if kind.slug == "lots":
            return commands.import_lots(app, path, actor=actor, dry_run=dry_run)
        if kind.slug == "declarations":
            return commands.import_declarations(
                app,
                path,
                clause=clause,
                replace=sent.replace,
                actor=actor,
                dry_run=dry_run,
                reason=sent.reason or None,
            )
        return commands.import_outcomes(
            app, path, clause=clause, replace=sent.replace, actor=actor, dry_run=dry_run
        )


def criteria_text(criteria: dict[str, int]) -> str:
    """``Bénéficiaire du RSA : 1 ; …``: participants by eligibility criterion."""
    return "\u00a0; ".join(
        f"{CRITERION_LABELS[Criterion(c)]}\u00a0: {n}" for c, n in criteria.items()
    )


def modes_text(modes: dict[str, Decimal]) -> str:
    """``Embauche directe : 151,67 h ; …``: hours by delivery mode."""
    return "\u00a0; ".join(
        f"{DELIVERY_MODE_LABELS[DeliveryMode(m)]}\u00a0: {french_hours(h)}"
        for m, h in modes.items()
    )


def moment(value: datetime) -> str:
    """``5 novembre 2026 à 10\u00a0h\u00a005``: a moment already in the territory's time zone."""
    return f"{french_date(value)} à {value:%H}\u00a0h\u00a0{value:%M}"


def replacing_text(recorded: commands.RecordedDeclaration) -> str:
    """What a month to replace holds now, as the refusal without « Remplacer » said it."""
    count = plural(recorded.lines, "participant", "participants")
    text = (
        f"Déjà enregistrée\u00a0: {french_hours(recorded.total_hours)} au total, {count}, "
        f"le {moment(recorded.recorded_at)} par {recorded.recorded_by}"
    )
    if recorded.validated_at is not None:
        text += (
            f"\u00a0; validée le {moment(recorded.validated_at)} par {recorded.validated_by}, "
            "validation qui sera levée"
        )
    return text + "."


def replaced_text(summary: DeclarationSummary, zone: ZoneInfo) -> str:
    """What an imported month replaced, as the command line says it: « Remplace la déclaration
    du 5 novembre 2026 : 370,17 h, 4 participants. Motif : … »; "" for a month new to the
    service."""
    if summary.replaced_hours is None or summary.replaced_recorded_at is None:
        return ""
    count = plural(summary.replaced_lines or 0, "participant", "participants")
    text = (
        f"Remplace la déclaration du {french_date(summary.replaced_recorded_at.astimezone(zone))}"
        f"\u00a0: {french_hours(summary.replaced_hours)}, {count}."
    )
    return text + (f" Motif\u00a0: {summary.reason}" if summary.reason else "")


def lot_hours(lot: ImportedLot) -> str:
    if lot.hours_override is not None:
        return f"{french_hours(lot.hours_override)} imposées"
    if lot.hours_computed is not None:
        return french_hours(lot.hours_computed)
    return "à calculer"


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)

    def page(
        request: Request,
        user: SignedIn,
        *,
        status: int = 200,
        kind: Kind | None = None,
        refusal: Refusal | None = None,
        sent: Sent | None = None,
    ) -> HTMLResponse:
        return pages.render(
            request,
            "imports.html",
            status_code=status,
            user=user,
            kinds=list(KINDS.values()),
            failed=kind,
            refusal=refusal,
            sent=sent,
            limit=format_size(UPLOAD_LIMIT),
        )

    def result_page(
        request: Request, user: SignedIn, kind: Kind, sent: Sent, result: Any, *, dry_run: bool
    ) -> HTMLResponse:
        return pages.render(
            request,
            "imports_result.html",
            user=user,
            kind=kind,
            sent=sent,
            result=result,
            dry_run=dry_run,
            created=created_text(dict(getattr(result, "created", {}))),
            change_words=CHANGE_WORDS if dry_run else DONE_WORDS,
            Change=Change,
            criteria_text=criteria_text,
            french_spaces=french_spaces,
            modes_text=modes_text,
            lot_hours=lot_hours,
            replacing=getattr(result, "replacing", {}),
            replacing_text=replacing_text,
            replaced_text=lambda summary: replaced_text(summary, app.settings.zone),
            warnings=[page_words(w) for w in result.warnings],
        )

    def too_large(request: Request, user: SignedIn, kind: Kind, size: int) -> HTMLResponse:
        return page(
            request,
            user,
            status=413,
            kind=kind,
            refusal=Refusal(
                "Fichier trop volumineux\u00a0: rien n'a été importé.",
                (
                    f"Le fichier envoyé fait {format_size(size)}, au-delà de la limite de "
                    f"{format_size(UPLOAD_LIMIT)} d'un import par cette page\u00a0: découpez-le "
                    "en plusieurs fichiers, puis envoyez-les l'un après l'autre.",
                ),
            ),
        )

    async def step(
        request: Request, slug: str, limit: int, read: Callable[[Kind, Any], Sent], dry_run: bool
    ) -> Response:
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        kind = KINDS.get(slug)
        if kind is None:
            return guard.refused(
                request,
                "Page introuvable",
                "Cette adresse ne mène à aucune page du service.",
                status=404,
            )
        try:
            whole = await bounded(request, limit)
        except TooLarge as large:
            return too_large(request, user, kind, large.size)
        try:
            return await checked_step(request, user, kind, whole, read, dry_run)
        finally:
            await whole.close()  # the uploaded file's temporary copy goes

    async def checked_step(
        request: Request,
        user: SignedIn,
        kind: Kind,
        whole: Request,
        read: Callable[[Kind, Any], Sent],
        dry_run: bool,
    ) -> Response:
        try:
            # The confirmation carries the whole file back in one field (base64: a third
            # more): up to the upload limit, not Starlette's 1 MB per field.
            checked = await guard.signed_post(whole, max_part_size=CONFIRMATION_FIELD_LIMIT)
        except HTTPException:  # a body that is no form (a multipart cut short…): 400
            return page(
                request,
                user,
                status=422,
                kind=kind,
                refusal=Refusal(
                    "Envoi illisible\u00a0: rien n'a été importé.",
                    (
                        "Le formulaire n'est pas arrivé en entier\u00a0; envoyez le fichier de nouveau.",
                    ),
                ),
            )
        if isinstance(checked, Response):
            return checked
        user, form = checked
        try:
            sent = read(kind, form)
        except TooLarge as large:
            return too_large(request, user, kind, large.size)
        except Unreadable as unreadable:
            return page(
                request,
                user,
                status=422,
                kind=kind,
                refusal=Refusal("Rien n'a été importé.", (unreadable.message,)),
            )
        try:
            result = await guard.call(run_import, kind, sent, actor=user.name, dry_run=dry_run)
        except InputRefused as error:
            return page(
                request,
                user,
                status=422,
                kind=kind,
                refusal=refusal_of(error, sent.name),
                sent=sent,
            )
        except ClausesError as trouble:
            # The database does not answer, or another change came first: nothing was kept.
            return guard.refused(request, "Import non enregistré", trouble.message, status=503)
        return result_page(request, user, kind, sent, result, dry_run=dry_run)

    @routes.get("/imports", response_class=HTMLResponse)
    async def imports_page(request: Request) -> Response:
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        return page(request, user)

    @routes.post("/imports/{slug}", response_class=HTMLResponse)
    async def preview(request: Request, slug: str) -> Response:
        return await step(request, slug, UPLOAD_LIMIT + FORM_OVERHEAD, upload_of, True)

    @routes.post("/imports/{slug}/confirmation", response_class=HTMLResponse)
    async def confirm(request: Request, slug: str) -> Response:
        # The file comes back in URL-safe base64: four characters for three bytes.
        limit = UPLOAD_LIMIT * 4 // 3 + FORM_OVERHEAD
        return await step(request, slug, limit, confirmed_of, False)

    return routes
