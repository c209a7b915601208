"""« Contrôle de cohérence » (/controle-coherence): ``clauses audit verify`` from the dashboard.

The checks read every clause's history, the outbox and every stored summary: on a big database
they take a while, so the page runs them only when asked (its button, a GET form: reading
changes nothing, and the answer can be reloaded), never on a visit. It calls the application
function the command calls (``app.audit.verify_database``) and shows what the command prints:
each problem with what it concerns, the remarks, then the command's verdict (« Aucun problème
(… vérifiés). »). Answered ``no-store``: a finding may name a participant or an address.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow.adapters.templates import non_breaking as nbsp
from workflow.app.audit import verify_database

# The command's own verdict, so that the page says what ``clauses audit verify`` prints.
from workflow.app.audit_texts import verdict
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.privacy import NO_STORE
from workflow.entrypoints.web.signed_in import Guard

ADDRESS = "/controle-coherence"


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login

    @routes.get(ADDRESS, response_class=HTMLResponse)
    async def show(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        report = None
        if request.query_params.get("lancer"):
            report = await call(verify_database)
        answer = pages.render(
            request, "audit.html", user=user, report=report,
            verdict=nbsp(verdict(report)) if report is not None else None,
            findings=[(nbsp(f.subject), nbsp(f.problem)) for f in report.findings] if report else [],
            remarks=[(nbsp(f.subject), nbsp(f.problem)) for f in report.remarks] if report else [],
        )  # fmt: skip
        answer.headers.update(NO_STORE)
        return answer

    return routes
