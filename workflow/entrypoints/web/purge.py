"""« Données personnelles : anonymisation » (/donnees-personnelles): ``clauses privacy purge`` from
the dashboard.

The page is the command's dry run: it calls the application function the command calls
(``app.privacy.purge_participants`` with ``dry_run``) and shows the command's own lines
(``app.privacy_texts.purge_lines``): the retention, the day before which the last activity must
be, each participant that would go, what would be rewritten and who is kept. The retention may be
typed as ``--older-than`` is (same parsing, same French refusal, naming the page's field). The form
below carries the retention simulated and the session's CSRF token; confirming runs the purge with
the signed-in user as the actor (the command's history row) and shows the command's report. Run
twice, the second finds nothing and says so. A refusal changes nothing; a POST without the token
does nothing (403). Both answers are ``no-store``: the dry run names participants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow.adapters.templates import non_breaking as nbsp
from workflow.app.privacy import PurgeReport, purge_participants

# The command's own lines, so that the page says what ``clauses privacy purge`` prints.
from workflow.app.privacy_texts import parse_older_than, purge_lines
from workflow.bootstrap import App
from workflow.domain.privacy import RETENTION_EXAMPLES, Retention
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.privacy import NO_STORE
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused

ADDRESS = "/donnees-personnelles"
#: The page's field for ``--older-than``, named in its refusal as the option is in the command's.
FIELD = "Durée de conservation"
#: What the dry run's last line tells her to do, where the command says « relancez avec --yes ».
TO_CONFIRM = "confirmez avec le bouton « Anonymiser » ci-dessous"


@dataclass(frozen=True)
class Block:
    """A paragraph of the command's output, or its « - » lines as one list."""

    items: tuple[str, ...]
    listed: bool


def blocks(lines: list[str]) -> tuple[Block, ...]:
    """The command's lines as a page lays them out: each « - » run a list, the others paragraphs."""
    found: list[Block] = []
    for line in lines:
        if line.startswith("- "):
            if found and found[-1].listed:
                found[-1] = Block((*found[-1].items, nbsp(line[2:])), True)
            else:
                found.append(Block((nbsp(line[2:]),), True))
        else:
            found.append(Block((nbsp(line),), False))
    return tuple(found)


def typed(form_or_query: Any) -> str:
    return str(form_or_query.get("duree") or "").strip()[:100]


def retention_of(text: str) -> Retention | None:
    """The retention typed, None (the setting's) when the field is empty; refused as the command
    refuses ``--older-than``, naming the page's field."""
    return parse_older_than(text or None, FIELD)


def shown_of(report: PurgeReport | None) -> str:
    """The participants a simulation listed, as the confirmation form carries them back."""
    if report is None:
        return ""
    return ",".join(sorted(c.reference for c in report.candidates))


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login
    setting = app.settings.retention

    def page(
        request: Request,
        user: Any,
        duration: str,
        *,
        report: PurgeReport | None = None,
        done: PurgeReport | None = None,
        error: str | None = None,
        changed: bool = False,
    ) -> Response:
        if done is not None:
            said = blocks(purge_lines(done, asked_yes=True))
        elif report is not None:
            said = blocks(purge_lines(report, asked_yes=False, to_confirm=TO_CONFIRM))
        else:
            said = ()
        answer = pages.render(
            request, "privacy_purge.html", status_code=422 if error else 200, user=user,
            duration=duration, report=report, done=done, said=said, error=error,
            changed=changed, shown=shown_of(report), setting=setting.label, examples=nbsp(RETENTION_EXAMPLES), field=FIELD,
        )  # fmt: skip
        answer.headers.update(NO_STORE)
        return answer

    @routes.get(ADDRESS, response_class=HTMLResponse)
    async def show(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        duration = typed(request.query_params)
        try:
            retention = retention_of(duration)
        except InputRefused as refused:
            return page(request, user, duration, error=nbsp(refused.message))
        report = await call(purge_participants, retention, dry_run=True, actor=user.name)
        return page(request, user, duration, report=report)

    @routes.post(ADDRESS, response_class=HTMLResponse)
    async def purge(request: Request) -> Response:
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        duration = typed(form)
        try:
            retention = retention_of(duration)
        except InputRefused as refused:
            return page(request, user, duration, error=nbsp(refused.message))
        # What she saw is what goes: a day passed, a clause closed or reopened since her
        # simulation changes the list, and an anonymisation cannot be undone.
        now_shown = await call(purge_participants, retention, dry_run=True, actor=user.name)
        if shown_of(now_shown) != str(form.get("attendus") or ""):
            return page(request, user, duration, report=now_shown, changed=True)
        try:
            done = await call(purge_participants, retention, dry_run=False, actor=user.name)
        except (ConcurrentChange, DatabaseTrouble) as error:
            # Rolled back: nothing was anonymised, she may try again.
            return guard.refused(request, "Rien n'a été anonymisé", error.message, status=503)
        return page(request, user, duration, done=done)

    return routes
