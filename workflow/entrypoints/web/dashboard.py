"""The facilitator's pages, behind a login: ``/connexion`` and ``/tableau-de-bord``.

The session is an HttpOnly, SameSite=Lax cookie (Secure when ``CLAUSES_BASE_URL`` is https)
whose token the database keeps only hashed; every form carries the session's CSRF token and a
POST without it is refused (403) before anything is read. The login form has its own token, in a
cookie of its own, since no session exists yet. Failed logins are limited per login
(``services.web_accounts``). Every action runs with the signed-in user's name as its actor.
"""

from __future__ import annotations

import secrets
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import dashboard as dashboard_view
from workflow.app import declarations as declaration_commands
from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.emails.digest import CATEGORY_TITLES
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import SESSION_COOKIE, Guard
from workflow.errors import InputRefused

LOGIN_COOKIE = "clauses_connexion"
#: Tasks shown per section, most urgent first: a large territory has thousands.
TASKS_SHOWN = 30


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
        board = await call(dashboard_view.dashboard)
        return pages.render(
            request,
            "dashboard.html",
            user=user,
            board=board,
            titles=CATEGORY_TITLES,
            shown=TASKS_SHOWN,
            done=request.query_params.get("fait"),
        )

    @routes.post("/declarations/valider")
    async def validate(request: Request) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        try:
            month = date.fromisoformat(str(form.get("month") or ""))
            await call(
                declaration_commands.validate_declaration,
                clause=int(str(form.get("clause_id"))),
                company=int(str(form.get("company_id"))),
                month=month,
                actor=user.name,
            )
        except (ValueError, InputRefused) as error:
            message = (
                error.message
                if isinstance(error, InputRefused)
                else "Formulaire incomplet : la clause, l'entreprise ou le mois manque."
            )
            return pages.render(
                request, "error.html", status_code=422, title="Validation refusée", message=message
            )
        return RedirectResponse("/tableau-de-bord?fait=validee#a-valider", status_code=303)

    return routes
