"""The email log of the dashboard: ``/courriels``, with « Renvoyer » for what did not leave."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import mail
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import InputRefused
from workflow.services.outbox import STATE_LABELS

#: The states of an email the facilitator may send again from the log.
RETRYABLE = frozenset({"failed", "dead", "uncertain"})


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login, signed_post = (
        guard.call,
        guard.user_of,
        guard.to_login,
        guard.signed_post,
    )

    # --- the email log ------------------------------------------------------------------------

    @routes.get("/courriels", response_class=HTMLResponse)
    async def email_log(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login()
        outbox = await call(mail.outbox_messages, limit=200)
        return pages.render(
            request, "mail.html", user=user, outbox=outbox, retryable=RETRYABLE,
            labels=STATE_LABELS, done=request.query_params.get("fait"),
        )  # fmt: skip

    @routes.post("/courriels/{message_id}/renvoyer")
    async def retry(request: Request, message_id: int) -> Response:
        checked = await signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        try:
            await call(mail.retry_message, message_id)
        except InputRefused as error:
            return pages.render(
                request, "error.html", status_code=422, title="Renvoi refusé", message=error.message
            )
        return RedirectResponse(f"/courriels?fait={message_id}", status_code=303)

    return routes
