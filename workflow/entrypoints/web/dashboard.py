"""The facilitator's pages, behind a login: ``/connexion`` and ``/tableau-de-bord``.

The session is an HttpOnly, SameSite=Lax cookie (Secure when ``CLAUSES_BASE_URL`` is https)
whose token the database keeps only hashed; every form carries the session's CSRF token and a
POST without it is refused (403) before anything is read. The login form has its own token, in a
cookie of its own, since no session exists yet. Failed logins are limited per login
(``services.web_accounts``). Every action runs with the signed-in user's name as its actor.

Each task of the day carries its action as the browser does it (``WebAction``): a button that
does it (send an email again, validate a participant's eligibility) or a link to where it is
done (the clause, the email log, the company's correspondent).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import dashboard as dashboard_view
from workflow.app import declarations as declaration_commands
from workflow.app import participants as participant_commands
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.emails.phrases import month_phrase
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import SESSION_COOKIE, Guard
from workflow.errors import InputRefused

LOGIN_COOKIE = "clauses_connexion"
#: Tasks shown per section, most urgent first: a large territory has thousands.
TASKS_SHOWN = 30


def _number(value: Any) -> int | None:
    """A record's N° from a form field; None when it is none (empty, not digits, too large)."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= 2_000_000_000 else None


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    secure = app.settings.base_url.startswith("https://")

    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login
    forbidden, csrf_ok, signed_post = guard.forbidden, guard.csrf_ok, guard.signed_post

    def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, secure=secure, samesite="lax", path="/"
        )

    # --- signing in and out -------------------------------------------------------------------

    def login_page(
        request: Request, message: str | None = None, status: int = 200, login: str = ""
    ) -> Response:
        token = secrets.token_urlsafe(32)
        response = pages.render(
            request, "login.html", status_code=status, csrf=token, message=message, login=login
        )
        set_cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    @routes.get("/connexion", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        if await user_of(request) is not None:
            return RedirectResponse("/tableau-de-bord", status_code=303)
        return login_page(request)

    @routes.post("/connexion", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(form, request.cookies.get(LOGIN_COOKIE, "")):
            return forbidden(request)
        try:
            opened = await call(
                web_accounts.log_in,
                login=str(form.get("identifiant") or ""),
                password=str(form.get("mot_de_passe") or ""),
            )
        except web_accounts.LoginRefused as refused:
            return login_page(
                request, refused.message, status=401, login=str(form.get("identifiant") or "")
            )
        response = RedirectResponse("/tableau-de-bord", status_code=303)
        set_cookie(response, SESSION_COOKIE, opened.token, None)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @routes.post("/deconnexion")
    async def logout(request: Request) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        await call(web_accounts.log_out, request.cookies.get(SESSION_COOKIE))
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- the dashboard ------------------------------------------------------------------------

    @routes.get("/tableau-de-bord", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login()
        board = await call(dashboard_view.dashboard, per_section=TASKS_SHOWN)
        return pages.render(
            request,
            "dashboard.html",
            user=user,
            board=board,
            kinds=dashboard_view.WebActionKind,
            done=request.query_params.get("fait"),
            # What was just done, named in the confirmation (a pseudonym, a N° and a month:
            # no personal data in the address); cut short, escaped by the template.
            done_what=request.query_params.get("quoi", "")[:60],
        )

    @routes.post("/declarations/valider")
    async def validate(request: Request) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        clause, company = _number(form.get("clause_id")), _number(form.get("company_id"))
        try:
            month = date.fromisoformat(str(form.get("month") or ""))
        except ValueError:
            month = None
        if clause is None or company is None or month is None:
            said = [
                what
                for what, value in (
                    ("la clause", clause),
                    ("l'entreprise", company),
                    ("le mois", month),
                )
                if value is None
            ]
            return guard.refused(
                request,
                "Validation refusée",
                f"Formulaire incomplet ou illisible : {', '.join(said)} ; rien n'a été validé.",
            )
        try:
            await call(
                declaration_commands.validate_declaration,
                clause=clause,
                company=company,
                month=month,
                actor=user.name,
            )
        except InputRefused as error:
            return guard.refused(request, "Validation refusée", error.message)
        what = urlencode({"quoi": f"{month_phrase(month)} de la clause n°\u00a0{clause}"})
        return RedirectResponse(f"/tableau-de-bord?fait=validee&{what}#a-valider", status_code=303)

    @routes.post("/participants/eligibilite")
    async def validate_eligibility(request: Request) -> Response:
        """The proof of a participant's eligibility seen: what ``clauses participant validate``
        records, signed by the user."""
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        reference = str(form.get("reference") or "").strip()
        if not reference:
            return guard.refused(
                request, "Validation refusée", "Formulaire incomplet : le participant manque."
            )
        try:
            await call(
                participant_commands.validate_eligibility,
                reference,
                proof=str(form.get("proof") or ""),
                actor=user.name,
            )
        except InputRefused as error:
            return guard.refused(request, "Validation refusée", error.message)
        what = urlencode({"quoi": reference})
        return RedirectResponse(f"/tableau-de-bord?fait=eligibilite&{what}", status_code=303)

    return routes
