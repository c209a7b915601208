"""The records the facilitator creates from the correction pages, as the CLI does: a buyer's
contact, a company's correspondent (on their owner's page), a buyer, a company, an operation, a
market (/corrections/nouveau).

Each form calls ``app.web_additions``, that is the function the command line calls, with the
signed-in user as the actor, so it leaves the same « création » history row. Done, it leads
(303) to the page where the record is corrected, ``?ajout=`` naming that row: the page says
what was added. A refusal shows the form again with what was typed and the service's French
message naming the field (422), nothing written; a POST without its CSRF token does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import web_additions, web_corrections
from workflow.app.web_additions import Added
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused, NotFound
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


def typed(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def done_address(added: Added) -> str:
    """The page of the record, its confirmation in view."""
    return f"{PAGES[added.kind](added)}?ajout={added.history_id}#ajout"


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

    return routes
