"""The email log of the dashboard: ``/courriels`` (by state, page by page, with the count of each
state: the sent ones up to ``mail.COUNT_BOUND``), each email's own page
(``/courriels/{n}``: what its recipients read), « Renvoyer » for what did not leave and
« Annuler » for what should never leave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.app import mail
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import InputRefused, NotFound
from workflow.services import outbox_corrections
from workflow.services.outbox import STATE_LABELS

#: The states of an email the facilitator may send again from the log.
RETRYABLE = frozenset({"failed", "dead", "uncertain"})
#: The states of an email she may take back: it has not left (the service's own rule).
CANCELLABLE = frozenset(state.value for state in outbox_corrections.CANCELLABLE)
#: An email's N° in an address: beyond, no row has it (and the database would refuse the number).
MessageNumber = Annotated[int, Path(ge=1, le=2_000_000_000)]
#: Emails per page of the log: a territory writes thousands a month.
PAGE_SIZE = 100


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)

    @routes.get("/courriels", response_class=HTMLResponse)
    async def email_log(request: Request) -> Response:
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        state = request.query_params.get("etat") or ""
        if state and state not in STATE_LABELS:
            return guard.refused(
                request, "Filtre inconnu", f"État de courriel « {state} » inconnu.", status=422
            )
        before = _int(request.query_params.get("avant"))
        outbox = await guard.call(
            mail.outbox_messages,
            states=[state] if state else [],
            limit=PAGE_SIZE + 1,  # one more tells whether an older page exists
            before=before,
            # The facilitator's states exactly; the sent up to a bound (« plus de 10 000 »):
            # counting them all read the whole outbox at each view.
            count_up_to=mail.COUNT_BOUND,
        )
        shown = outbox.messages[:PAGE_SIZE]
        older = shown[-1].id if len(outbox.messages) > PAGE_SIZE else None
        return pages.render(
            request, "mail.html", user=user, outbox=outbox, messages=shown, state=state,
            before=before, older=older, retryable=RETRYABLE, labels=STATE_LABELS,
            done=_int(request.query_params.get("fait")),
            replaced=_int(request.query_params.get("remplace")),
        )  # fmt: skip

    @routes.get("/courriels/{message_id}", response_class=HTMLResponse)
    async def message_page(request: Request, message_id: MessageNumber) -> Response:
        user = await guard.user_of(request)
        if user is None:
            return guard.to_login(request)
        try:
            detail = await guard.call(mail.message_detail, message_id)
        except NotFound as error:
            return guard.refused(request, "Courriel introuvable", error.message, status=404)
        return pages.render(
            request, "mail_message.html", user=user, detail=detail, retryable=RETRYABLE,
            cancellable=CANCELLABLE,
            done=request.query_params.get("fait"),
        )  # fmt: skip

    @routes.post("/courriels/{message_id}/renvoyer")
    async def retry(request: Request, message_id: MessageNumber) -> Response:
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        try:
            (retried,) = await guard.call(mail.retry_message, message_id)
        except InputRefused as error:
            return guard.refused(request, "Renvoi refusé", error.message)
        if retried.leaving is None:
            # Withdrawn instead (its company no longer on the lot): its page says why.
            return RedirectResponse(f"/courriels/{message_id}?fait=retire", status_code=303)
        if retried.written_again_as:
            return RedirectResponse(
                f"/courriels?fait={retried.leaving}&remplace={message_id}", status_code=303
            )
        return RedirectResponse(f"/courriels?fait={message_id}", status_code=303)

    @routes.post("/courriels/{message_id}/annuler")
    async def cancel(request: Request, message_id: MessageNumber) -> Response:
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked
        reason = " ".join(str(form.get("motif") or "").split())
        if not reason:
            return guard.refused(
                request,
                "Annulation refusée",
                "Motif : indiquez pourquoi ce courriel ne doit pas partir ; rien n'a été fait.",
            )
        try:
            await guard.call(mail.cancel_message, message_id, reason=reason, actor=user.name)
        except InputRefused as error:
            return guard.refused(request, "Annulation refusée", error.message)
        return RedirectResponse(f"/courriels/{message_id}?fait=annule", status_code=303)

    return routes
