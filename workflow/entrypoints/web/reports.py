"""Monthly summaries and the annual report on the dashboard, with their CSV/xlsx downloads (/bilans).

``/bilans`` shows a month's summary (by default the last one that left) for the territory or one
buyer, ``/bilans/AAAA-MM.csv`` and ``.xlsx`` give it as the files ``clauses summary`` writes;
``/bilans/annuel`` and ``/bilans/annuel/AAAA.csv|xlsx`` do the same for the funders' report.
Each is read from its snapshot (``workflow.app.report_snapshots``): the page says when its
figures were computed and whether something was recorded since; its « Recalculer maintenant »
(POST ``/bilans/recalculer``, ``/bilans/annuel/recalculer``, with the CSRF token) computes
them again and comes back to it. The downloads are the files of the page's snapshot.
Everything is behind the login; a month, a year, a buyer or a format that does not read is
refused with a French page naming the field (422), never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from workflow.app import report_files, report_snapshots
from workflow.app.lookup import AmbiguousDesignation
from workflow.app.web_accounts import SignedIn
from workflow.bootstrap import App
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ClausesError, InputRefused, NotFound

T = TypeVar("T")

#: The years the service's calendars cover (as the command line accepts them).
YEARS = range(1900, 3000)
MONTH_EXAMPLE = "attendu AAAA-MM, par exemple 2026-03"
YEAR_EXAMPLE = "attendu AAAA, par exemple 2025"


class FieldRefused(InputRefused):
    """A parameter of the address that does not read; the message names the field."""


def parse_month(text: str) -> date:
    """``2026-03`` (or ``2026-3``, ``03/2026``, as ``clauses summary --month`` reads them) ->
    2026-03-01; anything else refused, naming the field « Mois »."""
    cleaned = text.strip()
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", cleaned)
    if found is not None:
        year, month = int(found.group(1)), int(found.group(2))
    elif (found := re.fullmatch(r"(\d{1,2})/(\d{4})", cleaned)) is not None:
        year, month = int(found.group(2)), int(found.group(1))
    if found is None or not 1 <= month <= 12:
        raise FieldRefused(
            f"Mois\u00a0: «\u00a0{text}\u00a0» n'est pas un mois\u00a0; {MONTH_EXAMPLE}."
        )
    if year not in YEARS:
        raise FieldRefused(
            f"Mois\u00a0: «\u00a0{text}\u00a0»\u00a0: année entre 1900 et 2999 attendue."
        )
    return date(year, month, 1)


def parse_year(text: str) -> int:
    found = re.fullmatch(r"\d{4}", text.strip())
    if found is None:
        raise FieldRefused(
            f"Année\u00a0: «\u00a0{text}\u00a0» n'est pas une année\u00a0; {YEAR_EXAMPLE}."
        )
    if int(text) not in YEARS:
        raise FieldRefused(
            f"Année\u00a0: «\u00a0{text}\u00a0»\u00a0: année entre 1900 et 2999 attendue."
        )
    return int(text)


def parse_buyer(text: str | None) -> int | None:
    """The buyer of the list (its N°); nothing chosen is every buyer."""
    if text is None or not text.strip():
        return None
    if re.fullmatch(r"\d{1,9}", text.strip()) is None:
        raise FieldRefused(
            f"Donneur d'ordre\u00a0: «\u00a0{text}\u00a0» n'est pas un donneur d'ordre de la "
            "liste\u00a0; choisissez-en un dans la liste."
        )
    return int(text)


def parse_file(name: str, what: str, read: Callable[[str], T]) -> tuple[T, report_files.FileFormat]:
    """``2026-03.csv`` -> (what ``read`` makes of ``2026-03``, "csv")."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix not in report_files.FILE_FORMATS:
        raise FieldRefused(
            f"Format\u00a0: «\u00a0{name}\u00a0» n'est pas un fichier proposé\u00a0; {what} se "
            "télécharge en .csv ou en .xlsx."
        )
    return read(stem), "csv" if suffix == "csv" else "xlsx"


def buyer_message(text: str, error: InputRefused) -> str:
    """The refusal of a buyer, in the words of the page rather than the command line's."""
    if isinstance(error, AmbiguousDesignation):
        return (
            f"Donneur d'ordre\u00a0: «\u00a0{text}\u00a0» désigne plusieurs donneurs d'ordre\u00a0; "
            "choisissez-en un dans la liste."
        )
    return (
        f"Donneur d'ordre\u00a0: aucun donneur d'ordre n'a le n°\u00a0{text}\u00a0; "
        "choisissez-en un dans la liste."
    )


def attachment(file: report_files.ReportFile) -> Response:
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.name}"',
            # Figures as of now: a browser must not show yesterday's file again.
            "Cache-Control": "no-store",
        },
    )


def summary_address(month: date, buyer: int | None) -> str:
    return f"/bilans?mois={month:%Y-%m}" + (f"&acheteur={buyer}" if buyer is not None else "")


def annual_address(year: int, buyer: int | None) -> str:
    return f"/bilans/annuel?annee={year}" + (f"&acheteur={buyer}" if buyer is not None else "")


def recomputed_phrase(code: str | None) -> str | None:
    """The confirmation of « Recalculer maintenant » the address names (a fixed sentence: the
    address chooses which, never its words)."""
    return report_snapshots.RECOMPUTED_PHRASES.get(code or "")


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login

    async def answered(
        request: Request, work: Callable[[SignedIn], Awaitable[Response]]
    ) -> Response:
        """``work(user)``'s page or file; a refusal as a French page naming the field."""
        user = await user_of(request)
        if user is None:
            return to_login(request)
        return await refusing(request, work(user), request.query_params.get("acheteur", ""))

    async def refusing(request: Request, work: Awaitable[Response], buyer_text: str) -> Response:
        try:
            return await work
        except FieldRefused as error:
            return guard.refused(request, "Bilan non disponible", error.message)
        except (NotFound, AmbiguousDesignation) as error:
            return guard.refused(request, "Bilan non disponible", buyer_message(buyer_text, error))
        except InputRefused as error:
            return guard.refused(request, "Bilan non disponible", error.message)
        except ClausesError as error:
            # The database does not answer: said in French, nothing else to do but wait.
            return guard.refused(request, "Bilan non disponible", error.message, status=503)

    async def recomputed(
        request: Request, work: Callable[[SignedIn, Any], Awaitable[str]]
    ) -> Response:
        """A « Recalculer maintenant » form: checked (login, CSRF), then ``work(user, form)``
        compiles and keeps the report, and the browser goes back to it (303)."""
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked
        user, form = checked

        async def then() -> Response:
            return RedirectResponse(await work(user, form), status_code=303)

        return await refusing(request, then(), str(form.get("acheteur") or ""))

    # The annual report first: « annuel » is no month.

    @routes.post("/bilans/annuel/recalculer")
    async def annual_recompute(request: Request) -> Response:
        async def work(user: SignedIn, form: Any) -> str:
            year = parse_year(str(form.get("annee") or ""))
            buyer = parse_buyer(form.get("acheteur"))
            done = await call(report_snapshots.recompute_annual, year, buyer=buyer, actor=user.name)
            return f"{annual_address(year, buyer)}&recalcul={done.code}"

        return await recomputed(request, work)

    @routes.get("/bilans/annuel", response_class=HTMLResponse)
    async def annual_page(request: Request) -> Response:
        async def work(user: SignedIn) -> Response:
            query = request.query_params
            year_text = query.get("annee", "")
            year = parse_year(year_text) if year_text.strip() else None
            buyer = parse_buyer(query.get("acheteur"))
            page = await call(report_snapshots.annual_page, year, buyer=buyer, actor=user.name)
            return pages.render(
                request,
                "annual_report.html",
                user=user,
                page=page,
                view=page.view,
                recomputed=recomputed_phrase(query.get("recalcul")),
            )

        return await answered(request, work)

    @routes.get("/bilans/annuel/{name}")
    async def annual_download(request: Request, name: str) -> Response:
        async def work(user: SignedIn) -> Response:
            year, fmt = parse_file(name, "le bilan", parse_year)
            buyer = parse_buyer(request.query_params.get("acheteur"))
            file = await call(report_snapshots.annual_file, year, fmt, buyer=buyer, actor=user.name)
            return attachment(file)

        return await answered(request, work)

    @routes.post("/bilans/recalculer")
    async def summary_recompute(request: Request) -> Response:
        async def work(user: SignedIn, form: Any) -> str:
            month = parse_month(str(form.get("mois") or ""))
            buyer = parse_buyer(form.get("acheteur"))
            done = await call(
                report_snapshots.recompute_summary, month, buyer=buyer, actor=user.name
            )
            return f"{summary_address(month, buyer)}&recalcul={done.code}"

        return await recomputed(request, work)

    @routes.get("/bilans", response_class=HTMLResponse)
    async def summary_page(request: Request) -> Response:
        async def work(user: SignedIn) -> Response:
            query = request.query_params
            month_text = query.get("mois", "")
            month = parse_month(month_text) if month_text.strip() else None
            buyer = parse_buyer(query.get("acheteur"))
            page = await call(report_snapshots.summary_page, month, buyer=buyer, actor=user.name)
            view = page.view
            return pages.render(
                request,
                "reports.html",
                user=user,
                page=page,
                view=view,
                chart=Markup(view.chart_svg),
                recomputed=recomputed_phrase(query.get("recalcul")),
            )

        return await answered(request, work)

    @routes.get("/bilans/{name}")
    async def summary_download(request: Request, name: str) -> Response:
        async def work(user: SignedIn) -> Response:
            month, fmt = parse_file(name, "la synthèse", parse_month)
            buyer = parse_buyer(request.query_params.get("acheteur"))
            file = await call(
                report_snapshots.summary_file, month, fmt, buyer=buyer, actor=user.name
            )
            return attachment(file)

        return await answered(request, work)

    return routes
