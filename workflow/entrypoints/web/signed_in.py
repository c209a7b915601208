"""What every page behind the login shares: who is signed in, the CSRF check of a POST, the
answers when either is missing, and running an application function off the event loop.

The session is an HttpOnly, SameSite=Lax cookie (Secure when ``CLAUSES_BASE_URL`` is https)
whose token the database keeps only hashed; every form carries the session's CSRF token and a
POST without it is refused (403) before anything is read.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import web_accounts
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages

T = TypeVar("T")

SESSION_COOKIE = "clauses_session"


def local_address(text: str) -> str | None:
    """``text`` when it is a page of this site (« /clauses/7 »), else None: the login never
    sends anyone to another site (« //ailleurs.fr », « https://… », « /\\ailleurs »)."""
    if (
        not text.startswith("/")
        or text.startswith(("//", "/\\"))
        or any(ord(character) < 32 for character in text)
    ):
        return None
    return text


class Guard:
    """The signed-in user of a request, and the refusals every dashboard page gives alike."""

    def __init__(self, app: App, pages: Pages) -> None:
        self.app = app
        self.pages = pages

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(app, *args, **kwargs)`` in a worker thread: the database is not async."""
        return await run_in_threadpool(function, self.app, *args, **kwargs)

    async def user_of(self, request: Request) -> web_accounts.SignedIn | None:
        user = await self.call(web_accounts.signed_in, request.cookies.get(SESSION_COOKIE))
        # Kept on the request: a refusal rendered later in the same request (``refused``,
        # ``forbidden``) shows the signed-in navigation without reading the session again.
        request.state.signed_in = user
        return user

    @staticmethod
    def to_login(request: Request | None = None) -> RedirectResponse:
        """The login page; from a page asked for (a GET: a link in the digest, a bookmark) it
        comes back there once signed in (``suite``)."""
        if request is None or request.method != "GET":
            return RedirectResponse("/connexion", status_code=303)
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/connexion?{urlencode({'suite': wanted})}", status_code=303)

    def forbidden(self, request: Request) -> HTMLResponse:
        return self.pages.render(
            request,
            "error.html",
            status_code=403,
            title="Formulaire périmé",
            message="Le jeton de sécurité du formulaire manque ou a expiré : rien n'a été fait. "
            "Rechargez la page et recommencez.",
        )

    def refused(self, request: Request, title: str, message: str, status: int = 422) -> Response:
        return self.pages.render(
            request, "error.html", status_code=status, title=title, message=message
        )

    @staticmethod
    def csrf_ok(form: Any, expected: str) -> bool:
        sent = str(form.get("csrf") or "")
        return bool(sent) and hmac.compare_digest(sent, expected)

    async def signed_post(
        self, request: Request, *, max_part_size: int = 1024 * 1024
    ) -> tuple[web_accounts.SignedIn, Any] | Response:
        """The user and the form of a POST carrying its session's CSRF token; else the answer
        (the login page, or 403) and nothing done. A field longer than ``max_part_size`` (1 MB,
        Starlette's own bound) makes the form unreadable (400)."""
        user = await self.user_of(request)
        form = await request.form(max_part_size=max_part_size)
        if user is None:
            return self.to_login(request)
        if not self.csrf_ok(form, user.csrf):
            return self.forbidden(request)
        return user, form
