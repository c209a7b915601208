"""« Données détenues (RGPD) » (/corrections/participants/{N}/donnees): everything the database
holds on one participant, for the right of access (GDPR art. 15), as ``clauses privacy export
--participant`` gives it, with its two files to hand over.

The page and both files come from one call of the application function the command calls
(``app.web_privacy.participant_export``, which finds the participant by the N° of their correction
page) and are written by the command's own words: the text file is the command's text output
(what ``--output`` writes), the JSON file its ``--json``; the page shows the same text, section by
section. Everything is behind the login and answered ``Cache-Control: no-store``: personal data
must stay in no cache. Like the command, an export writes no history row (the service keeps no
journal of reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from workflow.adapters.templates import non_breaking as nbsp
from workflow.app import web_privacy

# The command's own text and JSON, so that the files handed over are the command's, word for word.
from workflow.app.privacy_texts import export_json, export_text
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import NotFound

#: A participant's N° in an address: beyond any real one, the French « Fiche introuvable » (404),
#: never a database error on a number it cannot hold.
ParticipantNumber = Annotated[int, Path(ge=1, le=2_000_000_000)]

#: The headings of ``export_text``, in its order: a heading is only taken as one at its place, so
#: a line of a final report or a reason that happens to start with « Sorties » stays in its item.
HEADINGS = (
    "Identité",
    "Heures déclarées",
    "Sorties",
    "Historique des clauses",
    "Corrections de sa fiche",
    "Textes des clauses",
    "Courriels qui le nomment",
    "Conservation",
)

NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[str, ...]


def sections(text: str) -> tuple[str, tuple[Section, ...]]:
    """The title and sections of the command's text: a heading, then its « - » items; a line of
    neither (a final report written on several lines) goes on with the item above it."""
    title, *lines = text.rstrip("\n").split("\n")
    expected = list(HEADINGS)
    found: list[tuple[str, list[str]]] = []
    previous = ""
    for line in lines:
        if expected and not previous.strip() and line.startswith(expected[0]):
            expected.pop(0)
            found.append((line, []))
        elif found and line.startswith("- "):
            found[-1][1].append(line[2:])
        elif found and found[-1][1]:
            found[-1][1][-1] += "\n" + line
        elif found and line.strip():
            found[-1][1].append(line)
        previous = line
    return nbsp(title), tuple(
        Section(nbsp(heading), tuple(nbsp(item.rstrip("\n")) for item in items))
        for heading, items in found
    )


def attachment(content: str, media_type: str, name: str) -> Response:
    return Response(
        content.encode("utf-8"),
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login
    address = "/corrections/participants/{participant_id:int}/donnees"

    async def held_or_answer(
        request: Request, participant_id: int
    ) -> web_privacy.ParticipantExport | Response:
        """The export, or the answer instead: the login page, or the French 404."""
        if await user_of(request) is None:
            return to_login(request)
        try:
            return await call(web_privacy.participant_export, participant_id)
        except NotFound as error:
            return guard.refused(request, "Fiche introuvable", error.message, status=404)

    @routes.get(address, response_class=HTMLResponse)
    async def show(request: Request, participant_id: ParticipantNumber) -> Response:
        held = await held_or_answer(request, participant_id)
        if isinstance(held, Response):
            return held
        title, parts = sections(export_text(held, app.settings.zone))
        page = pages.render(
            request, "privacy_participant.html", participant_id=participant_id,
            reference=held.reference, title=title, sections=parts,
        )  # fmt: skip
        page.headers.update(NO_STORE)
        return page

    @routes.get(address + ".json")
    async def as_json(request: Request, participant_id: ParticipantNumber) -> Response:
        held = await held_or_answer(request, participant_id)
        if isinstance(held, Response):
            return held
        # As ``clauses privacy export --json`` prints it.
        return attachment(
            export_json(held), "application/json", f"donnees-participant-{participant_id}.json"
        )

    @routes.get(address + ".txt")
    async def as_text(request: Request, participant_id: ParticipantNumber) -> Response:
        held = await held_or_answer(request, participant_id)
        if isinstance(held, Response):
            return held
        text = export_text(held, app.settings.zone)
        return attachment(text, "text/plain", f"donnees-participant-{participant_id}.txt")

    return routes
