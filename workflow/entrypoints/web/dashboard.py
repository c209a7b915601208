"""The facilitator's pages, behind a login: ``/connexion`` and ``/tableau-de-bord``.

The session is an HttpOnly, SameSite=Lax cookie (Secure when ``CLAUSES_BASE_URL`` is https)
whose token the database keeps only hashed; every form carries the session's CSRF token and a
POST without it is refused (403) before anything is read. The login form has its own token, in a
cookie of its own, since no session exists yet. Failed logins are limited per login
(``services.web_accounts``). Every action runs with the signed-in user's name as its actor.

Each task of the day carries its action as the browser does it (``WebAction``): a button that
does it (send an email again, validate a participant's eligibility, record a month without hours
after a confirmation page) or a link to where it is done (the clause, its report form, the email
log, the buyer's contacts, the company's correspondent).

After an action the page says what was done (``?fait=…``) from the ids in its address, read again
in the database (``app.dashboard.done``): the address names no company, lot or month in words.
"""

from __future__ import annotations

import re
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
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import SESSION_COOKIE, Guard, local_address
from workflow.errors import InputRefused

LOGIN_COOKIE = "clauses_connexion"
#: Tasks shown per section, most urgent first: a large territory has thousands.
TASKS_SHOWN = 30


#: The command's words in a refusal of « Enregistrer un mois sans heure », and the page's: it has
#: no « --replace » (user trial, 7 December 2026: « recommencez avec --replace et … --reason »
#: on the dashboard).
_ZERO_SAID = (
    "Pour la corriger, recommencez avec --replace et, si vous la modifiez, --reason « motif » : "
    "ses lignes seront remplacées, le motif gardé à l'historique."
)
_ZERO_SHOWN = (
    "Pour la corriger, passez par la page « Corrections » : ses lignes y sont remplacées, le "
    "motif gardé à l'historique."
)


def zero_refusal(message: str) -> str:
    """A refusal of the month without hours in the page's words, saying that nothing was
    written."""
    message = message.replace(_ZERO_SAID, _ZERO_SHOWN)
    if "rien n'a été enregistré" not in message.lower():
        message = f"{message.rstrip()} Rien n'a été enregistré."
    return message


def _number(value: Any) -> int | None:
    """A record's N° from a form field; None when it is none (empty, not digits, too large)."""
    text = str(value or "").strip()
    # ASCII digits only, ten at most: « ² » is a digit to ``str.isdigit`` but not to ``int``.
    if not re.fullmatch(r"[0-9]{1,10}", text):
        return None
    return int(text) if 0 < int(text) <= 2_000_000_000 else None


def _month(value: Any) -> date | None:
    """A month from a form or an address, ``2026-04`` or ``2026-04-01``; its first day."""
    text = str(value or "").strip()
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}(-[0-9]{2})?", text):
        return None
    try:
        return date.fromisoformat(text if len(text) == 10 else f"{text}-01").replace(day=1)
    except ValueError:
        return None


def _done_address(kind: dashboard_view.DoneKind, anchor: str, **ids: object) -> str:
    """The dashboard saying what was just done, by ids alone."""
    return f"/tableau-de-bord?{urlencode({'fait': kind.value, **ids})}#{anchor}"


def _missing(what: tuple[tuple[str, object], ...]) -> str:
    return ", ".join(name for name, value in what if value is None)


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
        request: Request,
        message: str | None = None,
        status: int = 200,
        login: str = "",
        then: str | None = None,
    ) -> Response:
        token = secrets.token_urlsafe(32)
        response = pages.render(
            request,
            "login.html",
            status_code=status,
            csrf=token,
            message=message,
            login=login,
            then=then,
        )
        set_cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    @routes.get("/connexion", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        then = local_address(request.query_params.get("suite", ""))
        if await user_of(request) is not None:
            return RedirectResponse(then or "/tableau-de-bord", status_code=303)
        return login_page(request, then=then)

    @routes.post("/connexion", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(form, request.cookies.get(LOGIN_COOKIE, "")):
            return forbidden(request)
        then = local_address(str(form.get("suite") or ""))
        try:
            opened = await call(
                web_accounts.log_in,
                login=str(form.get("identifiant") or ""),
                password=str(form.get("mot_de_passe") or ""),
            )
        except web_accounts.LoginRefused as refused:
            return login_page(
                request,
                refused.message,
                status=401,
                login=str(form.get("identifiant") or ""),
                then=then,
            )
        response = RedirectResponse(then or "/tableau-de-bord", status_code=303)
        set_cookie(response, SESSION_COOKIE, opened.token, None)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @routes.post("/deconnexion")
    async def logout(request: Request) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        await call(web_accounts.log_out, request.cookies.get(SESSION_COOKIE))
        response = to_login(request)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- the dashboard ------------------------------------------------------------------------

    @routes.get("/tableau-de-bord", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        board = await call(dashboard_view.dashboard, per_section=TASKS_SHOWN)
        query = request.query_params
        done = None
        if query.get("fait"):
            done = await call(
                dashboard_view.done,
                query["fait"],
                clause=_number(query.get("clause")),
                company=_number(query.get("entreprise")),
                month=_month(query.get("mois")),
                reference=query.get("participant", "")[:40],
            )
        return pages.render(
            request,
            "dashboard.html",
            user=user,
            board=board,
            kinds=dashboard_view.WebActionKind,
            done=done,
            done_kinds=dashboard_view.DoneKind,
        )

    @routes.post("/declarations/valider")
    async def validate(request: Request) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        clause, company = _number(form.get("clause_id")), _number(form.get("company_id"))
        month = _month(form.get("month"))
        if clause is None or company is None or month is None:
            said = _missing((("la clause", clause), ("l'entreprise", company), ("le mois", month)))
            return guard.refused(
                request,
                "Validation refusée",
                f"Formulaire incomplet ou illisible : {said} ; rien n'a été validé.",
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
        return RedirectResponse(
            _done_address(
                dashboard_view.DoneKind.VALIDATED,
                "a-valider",
                clause=clause,
                entreprise=company,
                mois=f"{month:%Y-%m}",
            ),
            status_code=303,
        )

    # --- a month without hours: a confirmation page, then the POST -----------------------------

    async def zero_page(
        request: Request, user: web_accounts.SignedIn, clause: Any, company: Any, month: Any
    ) -> Response:
        ids = (_number(clause), _number(company), _month(month))
        if ids[0] is None or ids[1] is None or ids[2] is None:
            said = _missing((("la clause", ids[0]), ("l'entreprise", ids[1]), ("le mois", ids[2])))
            return guard.refused(
                request,
                "Mois sans heure refusé",
                f"Adresse incomplète ou illisible : {said} ; rien n'a été enregistré.",
            )
        zero = await call(dashboard_view.zero_month, clause=ids[0], company=ids[1], month=ids[2])
        if zero is None:
            return guard.refused(
                request,
                "Mois sans heure refusé",
                f"Aucune clause n°\u00a0{ids[0]} ou aucune entreprise n°\u00a0{ids[1]} ; "
                "rien n'a été enregistré.",
                status=404,
            )
        return pages.render(request, "dashboard_zero.html", user=user, zero=zero)

    @routes.get("/declarations/mois-sans-heure", response_class=HTMLResponse)
    async def zero_confirmation(request: Request) -> Response:
        """What « Enregistrer un mois sans heure » asks before anything is written."""
        user = await user_of(request)
        if user is None:
            return to_login(request)
        query = request.query_params
        return await zero_page(
            request, user, query.get("clause"), query.get("entreprise"), query.get("mois")
        )

    @routes.post("/declarations/mois-sans-heure")
    async def declare_zero(request: Request) -> Response:
        """The month recorded without hours, as ``clauses declaration zero`` records it, signed
        by the user; only from the confirmation page (its ``confirmation`` field): a form
        without it shows that page again and writes nothing."""
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        clause, company = form.get("clause_id"), form.get("company_id")
        if form.get("confirmation") != "oui":
            return await zero_page(request, user, clause, company, form.get("month"))
        ids = (_number(clause), _number(company), _month(form.get("month")))
        if ids[0] is None or ids[1] is None or ids[2] is None:
            said = _missing((("la clause", ids[0]), ("l'entreprise", ids[1]), ("le mois", ids[2])))
            return guard.refused(
                request,
                "Mois sans heure refusé",
                f"Formulaire incomplet ou illisible : {said} ; rien n'a été enregistré.",
            )
        try:
            declared = await call(
                declaration_commands.declare_zero,
                clause=ids[0],
                company=ids[1],
                month=ids[2],
                actor=user.name,
                source=declaration_commands.DASHBOARD_ZERO_SOURCE,
            )
        except InputRefused as error:
            return guard.refused(request, "Mois sans heure refusé", zero_refusal(error.message))
        return RedirectResponse(
            _done_address(
                dashboard_view.DoneKind.ZERO,
                "message",
                clause=declared.clause_id,
                entreprise=declared.company_id,
                mois=f"{declared.month:%Y-%m}",
            ),
            status_code=303,
        )

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
        return RedirectResponse(
            _done_address(dashboard_view.DoneKind.ELIGIBILITY, "message", participant=reference),
            status_code=303,
        )

    return routes
