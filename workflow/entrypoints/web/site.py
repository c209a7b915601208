"""The ASGI application: its pages, its assets (served by itself, no CDN) and its error pages."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from workflow.bootstrap import App
from workflow.entrypoints.web import (
    additions,
    audit,
    board,
    corrections,
    dashboard,
    declarations,
    departures,
    imports,
    mail_log,
    participants,
    privacy,
    purge,
    reports,
)
from workflow.entrypoints.web.api import create_api
from workflow.entrypoints.web.pages import SITE_NAME, Pages, web_folder
from workflow.entrypoints.web.signed_in import SESSION_COOKIE, Guard
from workflow.errors import DatabaseTrouble

log = logging.getLogger(__name__)


def create_site(app: App) -> FastAPI:
    """The web application of ``app``: ``clauses web`` serves it alone, ``clauses serve`` beside
    the clock."""
    site = FastAPI(title=SITE_NAME, docs_url=None, redoc_url=None, openapi_url=None)
    pages = Pages(app)
    guard = Guard(app, pages)
    site.mount("/static", StaticFiles(directory=web_folder() / "static"), name="static")
    site.mount("/api/v1", create_api(app))
    site.include_router(declarations.router(app, pages))
    site.include_router(dashboard.router(app, pages))
    site.include_router(mail_log.router(app, pages))
    site.include_router(board.router(app, pages))
    site.include_router(reports.router(app, pages))
    site.include_router(departures.router(app, pages))
    site.include_router(corrections.router(app, pages))
    site.include_router(additions.router(app, pages))
    site.include_router(imports.router(app, pages))
    site.include_router(participants.router(app, pages))
    site.include_router(privacy.router(app, pages))
    site.include_router(purge.router(app, pages))
    site.include_router(audit.router(app, pages))

    async def signed_in_or_not(request: Request) -> None:
        """A wrong address typed while signed in keeps the navigation back to the dashboard;
        without a session cookie nothing is read."""
        if SESSION_COOKIE in request.cookies and not hasattr(request.state, "signed_in"):
            await guard.user_of(request)

    @site.exception_handler(HTTPException)
    async def not_found(request: Request, exc: HTTPException) -> HTMLResponse:
        await signed_in_or_not(request)
        return pages.render(
            request,
            "error.html",
            status_code=exc.status_code,
            title="Page introuvable" if exc.status_code == 404 else "Demande refusée",
            message="Cette adresse ne mène à aucune page du service."
            if exc.status_code == 404
            else "Cette demande n'a pas pu être traitée.",
        )

    @site.exception_handler(RequestValidationError)
    async def unreadable(request: Request, exc: RequestValidationError) -> HTMLResponse:
        # « /courriels/abc »: an address no page has, said in French (not FastAPI's JSON).
        in_path = any(error.get("loc", ("",))[0] == "path" for error in exc.errors())
        await signed_in_or_not(request)
        return pages.render(
            request,
            "error.html",
            status_code=404 if in_path else 422,
            title="Page introuvable" if in_path else "Demande illisible",
            message="Cette adresse ne mène à aucune page du service."
            if in_path
            else "Un des paramètres de l'adresse ne se lit pas : revenez à la page précédente.",
        )

    @site.exception_handler(DatabaseTrouble)
    async def database_trouble(request: Request, exc: DatabaseTrouble) -> HTMLResponse:
        # A database fault on any page (not migrated, disk full, server down) was a bare
        # English « Internal Server Error »: a company declaring online must read that nothing
        # was kept and what to do. The detail (the base's address) is for the logs, not for it;
        # the session is not read again (the database is what failed).
        log.error(
            "database trouble on a page",
            extra={"action": "web.database_trouble", "path": request.url.path, "error": str(exc)},
        )
        contact = pages.app.settings
        reach = " ou ".join(
            part for part in (contact.facilitator_email, contact.facilitator_phone) if part
        )
        return pages.render(
            request,
            "error.html",
            status_code=503,
            title="Service momentanément indisponible",
            message="La base de données du service n'a pas pu traiter votre demande\u00a0: rien n'a "
            "été enregistré. Réessayez dans quelques minutes\u00a0; si le problème persiste, "
            f"contactez {contact.facilitator_name}"
            + (f" ({reach})" if reach else "")
            + ", en précisant la page et l'heure.",
        )

    @site.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return pages.render(request, "home.html")

    return site
