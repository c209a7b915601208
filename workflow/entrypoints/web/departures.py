"""A company that left the site, recorded from the lot's corrections
(/corrections/lots/N/depart), as ``clauses clause company-left`` records it.

Three steps, as the site's other corrections of a lot: the form (a company of the award, its
last month, the reason); its confirmation page, saying what recording it will do (the service
run and rolled back: the same checks, the same refusals, nothing written), and, for a last month
moved earlier, what becomes of the emails of the earlier one (``departure_replacements``: one
not yet sent is withdrawn and replaced, one already sent is followed by a new one that says it
replaces it); the confirmed POST,
which calls the same application function as the command line with the signed-in user as the
actor and shows what it did in the command's words. A refusal shows the form again with what
was typed and the service's French message naming the field (422), nothing changed. The same
last month sent again changes nothing and says so.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow.adapters.csv_files import parse_month
from workflow.app import company_departures as departures
from workflow.app import departure_replacements, web_corrections
from workflow.bootstrap import App
from workflow.entrypoints.web.additions import french_spaces
from workflow.entrypoints.web.corrections import typed
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused, NotFound

#: The form's fields, as the refusals name them (``record_departure``'s ``field``…).
COMPANY_FIELD = "Entreprise"
MONTH_FIELD = "Dernier mois"
REASON_FIELD = "Motif"


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login, signed_post = (
        guard.call,
        guard.user_of,
        guard.to_login,
        guard.signed_post,
    )

    async def lot_or_404(request: Request, clause_id: int) -> web_corrections.LotSheet | Response:
        try:
            return await call(web_corrections.lot_sheet, clause_id)
        except NotFound as error:
            return guard.refused(request, "Fiche introuvable", error.message, status=404)

    async def form_page(
        request: Request, user: Any, lot: web_corrections.LotSheet, *, company: str = "",
        month: str = "", reason: str = "", error: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        companies = await call(departures.lot_companies, lot.id)
        return pages.render(
            request, "departure_form.html", status_code=422 if error else 200, user=user,
            lot=lot, companies=companies, company=company, month=month, reason=reason,
            error=error,
        )  # fmt: skip

    def trouble(request: Request, error: ConcurrentChange | DatabaseTrouble) -> Response:
        """Nothing was recorded (the transaction was rolled back): she may try again."""
        return guard.refused(request, "Départ non enregistré", error.message, status=503)

    @routes.get("/corrections/lots/{clause_id:int}/depart", response_class=HTMLResponse)
    async def departure_form(request: Request, clause_id: int) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        lot = await lot_or_404(request, clause_id)
        if isinstance(lot, Response):
            return lot
        return await form_page(
            request, user, lot, company=request.query_params.get("entreprise", "")
        )

    @routes.post("/corrections/lots/{clause_id:int}/depart", response_class=HTMLResponse)
    async def departure(request: Request, clause_id: int) -> Response:
        """Without ``confirmation=oui``: the confirmation page; with it: recorded."""
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        lot = await lot_or_404(request, clause_id)
        if isinstance(lot, Response):
            return lot
        company, month_text, reason = (
            typed(form, "entreprise"),
            typed(form, "mois"),
            typed(form, "reason"),
        )
        again = {"company": company, "month": month_text, "reason": reason}
        if not company:
            return await form_page(
                request, user, lot, **again,
                error=f"{COMPANY_FIELD}\u00a0: choisissez l'entreprise qui a quitté le chantier.",
            )  # fmt: skip
        month = parse_month(month_text)
        if month is None:
            # An empty field is not « «  » n'est pas un mois » (user trial, 7 December 2026).
            what = (
                f"«\u00a0{month_text}\u00a0» n'est pas un mois"
                if month_text
                else "indiquez le dernier mois que l'entreprise doit déclarer"
            )
            return await form_page(
                request, user, lot, **again,
                error=f"{MONTH_FIELD}\u00a0: {what} (par exemple 2027-03 ou 03/2027).",
            )  # fmt: skip
        # The company by its N° only: the form offers the lot's companies.
        designated: str | int = int(company) if company.isdigit() else company
        arguments = {
            "reason": reason, "actor": user.name, "field": MONTH_FIELD,
            "reason_field": REASON_FIELD,
        }  # fmt: skip
        try:
            if form.get("confirmation") != "oui":
                preview = await call(
                    departures.preview_departure, clause_id, designated, month, **arguments
                )
                sentences = departures.preview_sentences(preview)
                done = preview.done
                if done.changed and done.before is not None:
                    # Moved earlier: the emails of the earlier last month, waiting or gone.
                    replaced = await call(
                        departure_replacements.replaced_emails, clause_id, designated, month
                    )
                    sentences += departure_replacements.replacement_sentences(preview, replaced)
                return pages.render(
                    request, "departure_confirm.html", user=user, lot=lot,
                    sentences=[french_spaces(s) for s in sentences],
                    changed=preview.done.changed, company=company, month=f"{month:%Y-%m}",
                    reason=reason, company_name=preview.done.company,
                )  # fmt: skip
            done = await call(
                departures.record_departure, clause_id, designated, month, **arguments
            )
        except (ConcurrentChange, DatabaseTrouble) as error:
            return trouble(request, error)
        except NotFound as error:
            # The lot was found above: the company is not.
            refusal = french_spaces(f"{COMPANY_FIELD} : {error.message}")
            return await form_page(request, user, lot, **again, error=refusal)
        except InputRefused as error:
            # The service's message as the site's other corrections print it.
            return await form_page(request, user, lot, **again, error=french_spaces(error.message))
        if done.changed:
            said = [
                f"Clause n°\u00a0{done.clause_id}\u00a0: {departures.departure_sentence(done)}",
                departures.told_sentence(done),
            ]
        else:
            said = [departures.unchanged_sentence(done)]
        return pages.render(
            request, "departure_done.html", user=user, lot=lot, done=done,
            said=[french_spaces(s) for s in said], reason=reason,
        )  # fmt: skip

    return routes
