"""A company's page: ``/declarer/<token>``, the link of its welcome, calls and reminders.

GET shows the month, the people declared on the lot (in any month) and the form; POST « vérifier »
reads the form back for confirmation (nothing written); POST « confirmer » records it and redirects
to the page, which then shows what was recorded (so a reload never records twice). « Ajouter une
ligne » gives one more blank line, the values typed kept. Async routes run the application layer in
a thread: its transactions must not hold the event loop the clock shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from workflow.app import online_declarations as online
from workflow.app.command_words import number
from workflow.bootstrap import App
from workflow.domain.declaration_links import LinkProblem, LinkRefused
from workflow.emails.month_lists import months_list, months_of
from workflow.entrypoints.web.additions import french_spaces
from workflow.entrypoints.web.pages import Pages, hours_field
from workflow.errors import FileRefused, InputRefused

T = TypeVar("T")

#: Blank lines the form offers for people declared for the first time.
BLANK_LINES = 2
#: The largest file read (the importer's own limit).
MAX_UPLOAD = 20_000_000
#: The most lines one form may carry (a month of one company on one lot is far below).
MAX_LINES = 200
#: The most problems of a refused file the page lists: a file of 49,000 wrong lines made a
#: page of 7 MB (user trial); the first ones say what to correct.
SHOWN_PROBLEMS = 100


def _more_problems(count: int) -> str:
    """The problems of a refused file the page does not list, counted."""
    others = f"{number(count)} autre{'s' if count > 1 else ''} erreur{'s' if count > 1 else ''}"
    return (
        f"… et {others} dans ce fichier, non listée{'s' if count > 1 else ''} ici : corrigez "
        "d'abord celles-ci (elles se répètent souvent), puis envoyez-le de nouveau."
    )


#: The fields of one line, as the form and the confirmation page post them (one value per line
#: for each; the last four are hidden, carried from a filled template: its month among them, for a
#: template of a call that asked several months).
LINE_FIELDS = (
    "reference",
    "hours",
    "contract",
    "mode",
    "criterion",
    "sex",
    "birth_year",
    "origin",
    "month",
)


def _lines(form: Any) -> list[online.LineForm]:
    columns = [form.getlist(name) for name in LINE_FIELDS]
    count = min(max(len(column) for column in columns), MAX_LINES)
    padded = [[str(v) for v in column] + [""] * (count - len(column)) for column in columns]
    return [
        online.LineForm(**{name: padded[f][i] for f, name in enumerate(LINE_FIELDS)})
        for i in range(count)
    ]


def _as_typed(lines: list[online.LineForm], zero_months: Sequence[str]) -> list[online.LineForm]:
    """The rows the form shows of ``lines`` and of a file's months at zero hours (each as its
    row of « 0 » naming nobody, ``zero_line``), to be corrected."""
    return [*(online.zero_line(month) for month in zero_months), *lines]


def _row(
    reference: str, hours: str, contract: str, mode: str, known: bool, last: Any
) -> dict[str, Any]:
    return {
        "reference": reference,
        "hours": hours,
        "contract": contract,
        "mode": mode,
        "criterion": "",
        "sex": "",
        "birth_year": "",
        "origin": "",
        "month": "",
        "known": known,
        "last": last,
    }


def _form_rows(
    page: online.DeclarationPage, typed: list[online.LineForm] | None, blank: int
) -> list[dict[str, Any]]:
    """The lines the form shows: the month as recorded (to correct it), each person declared
    before (last month's contract and mode chosen), then blank lines for new people; with
    ``typed``, what was typed, as it was (the known people first, as the form posts them)."""
    known = _known_rows(page)
    if typed is not None and _other_months(page, typed):
        # Lines of a template covering several months cannot be corrected in this month's form:
        # the form is shown as first, the problems named by the file's rows above it.
        typed = None
    if typed is not None:
        rows = [
            {
                **_row(line.reference, line.hours, line.contract, line.mode, False, None),
                "criterion": line.criterion,
                "sex": line.sex,
                "birth_year": line.birth_year,
                "origin": line.origin,
                "month": line.month,
            }
            for line in typed
        ]
        for row, known_row in zip(rows, known, strict=False):
            if row["reference"] == known_row["reference"]:
                row.update(known=True, last=known_row["last"])
        return rows
    return [*known, *(_row("", "", "", "", False, None) for _ in range(blank))]


def _other_months(page: online.DeclarationPage, lines: list[online.LineForm]) -> bool:
    """Whether ``lines`` declare another month than the page's (a template covering several)."""
    return any(line.month.strip() not in ("", page.month.isoformat()) for line in lines)


def _saved_months(query: str | None) -> list[date]:
    """The months the confirmation just recorded (``?enregistre=1&mois=2027-02,2027-03``), or
    of them those it corrected (``&corrige=``) or found unchanged (``&inchange=``), as the page
    thanks for them; what is not a month is left out (the address is only a thank-you)."""
    months = []
    for part in (query or "").split(","):
        try:
            months.append(date.fromisoformat(f"{part.strip()}-01"))
        except ValueError:
            continue
    return sorted(set(months))


def _months_query(name: str, months: tuple[date, ...]) -> str:
    """``&corrige=2027-03,2027-04``: months a confirmation recorded, for the page to say."""
    return f"&{name}={','.join(m.isoformat()[:7] for m in months)}" if months else ""


def _said_months(months: list[date]) -> dict[str, Any]:
    """How a group of months is named on the page: their list, and whether they are several."""
    return {"list": months_list(months), "many": len(months) > 1} if months else {}


def _known_rows(page: online.DeclarationPage) -> list[dict[str, Any]]:
    recorded = page.recorded or ()
    rows = [
        _row(
            line.reference, hours_field(line.hours), line.contract_code, line.mode_code, True, None
        )
        for line in recorded
    ]
    named = {line.reference for line in recorded}
    rows += [
        _row(person.reference, "", person.contract, person.mode, True, person)
        for person in page.known
        if person.reference not in named
    ]
    return rows


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()

    async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(function, app, *args, **kwargs)

    def refused(request: Request, error: InputRefused) -> HTMLResponse:
        status = (
            410 if isinstance(error, LinkRefused) and error.problem is LinkProblem.EXPIRED else 403
        )
        return pages.render(
            request,
            "link_refused.html",
            status_code=status,
            message=error.message,
            expired=status == 410,
            # What follows for the month of an expired link: a closed lot's sends no new one.
            follows=error.expired if isinstance(error, online.LinkExpired) else None,
        )

    def form_page(
        request: Request,
        page: online.DeclarationPage,
        token: str,
        *,
        typed: list[online.LineForm] | None = None,
        zero: bool = False,
        problems: list[str] | None = None,
        blank: int = BLANK_LINES,
        status_code: int = 200,
        saved: bool = False,
        saved_months: list[date] | None = None,
        corrected: list[date] | None = None,
        unchanged: list[date] | None = None,
    ) -> HTMLResponse:
        saved_months = saved_months or [page.month]
        # What the confirmation did to each month: recorded for the first time, corrected (the
        # declaration sent before replaced) or found as recorded (nothing written, no receipt).
        changed = set(corrected or ()) | set(unchanged or ())
        first = [month for month in saved_months if month not in changed]
        return pages.render(
            request,
            "declaration.html",
            status_code=status_code,
            page=page,
            token=token,
            rows=_form_rows(page, typed, blank if typed is None else 0),
            zero=zero,
            problems=problems or [],
            saved=saved,
            saved_months=saved_months,
            saved_of=months_of(saved_months),
            saved_first=_said_months(first),
            saved_corrected=_said_months(sorted(corrected or ())),
            saved_unchanged=_said_months(sorted(unchanged or ())),
            owed_list=months_list(page.owed_months),
            criteria=online.CRITERIA,
            contracts=online.CONTRACTS,
            modes=online.MODES,
        )

    async def page_or_refused(request: Request, token: str) -> online.DeclarationPage | Response:
        try:
            return await call(online.declaration_page, token)
        except InputRefused as error:
            return refused(request, error)

    async def form_again(
        request: Request,
        token: str,
        lines: list[online.LineForm] | None,
        zero: bool,
        problems: list[str],
    ) -> Response:
        """The form as it was typed (``lines``; None: as first shown), each problem named above
        it; nothing written. The page is read here only: a form that passes never needs it."""
        page = await page_or_refused(request, token)
        if isinstance(page, Response):
            return page
        return form_page(
            request, page, token, typed=lines, zero=zero, problems=problems, status_code=422
        )

    async def for_confirmation(
        request: Request,
        token: str,
        lines: list[online.LineForm],
        zero: bool,
        blank_months: Sequence[str] = (),
        zero_months: Sequence[str] = (),
    ) -> Response:
        """What would be recorded, to confirm (typed or read from a file); nothing written.
        ``zero_months``: the months a file declares at zero hours, carried by the page."""
        try:
            checked = await call(
                online.check_declaration, token, lines, zero=zero, zero_months=zero_months
            )
        except online.FormRefused as error:
            typed = _as_typed(lines, zero_months)
            return await form_again(request, token, typed, zero, [str(p) for p in error.problems])
        except InputRefused as error:
            return refused(request, error)
        return pages.render(
            request,
            "declaration_check.html",
            checked=checked,
            token=token,
            lines=lines,
            zero=zero,
            zero_months=zero_months,
            months_said=months_list(month.month for month in checked.months),
            months_of=months_of(month.month for month in checked.months),
            said_first=_said_months(list(checked.first_months)),
            said_corrected=_said_months(list(checked.corrected_months)),
            said_unchanged=_said_months(list(checked.unchanged_months)),
            # The months of the file left blank: not declared, still owed (« octobre 2026 :
            # aucune ligne, pas déclaré ; toujours attendu (…) »).
            blank_months=[french_spaces(said) for said in blank_months],
        )

    @routes.get("/declarer/{token}", response_class=HTMLResponse)
    async def show(request: Request, token: str) -> HTMLResponse:
        try:
            page = await call(online.declaration_page, token)
        except InputRefused as error:
            return refused(request, error)
        saved = request.query_params.get("enregistre") == "1"
        months = _saved_months(request.query_params.get("mois"))
        return form_page(
            request,
            page,
            token,
            saved=saved,
            saved_months=months,
            corrected=_saved_months(request.query_params.get("corrige")),
            unchanged=_saved_months(request.query_params.get("inchange")),
        )

    @routes.post("/declarer/{token}", response_class=HTMLResponse)
    async def submit(request: Request, token: str) -> Response:
        async with request.form() as form:  # a multipart post's spooled parts closed once read
            lines = _lines(form)
            zero = form.get("zero") == "1"
            # A file's months declared at zero hours, as its confirmation page carries them.
            zero_months = [str(month) for month in form.getlist("zero_month")][:MAX_LINES]
            action = str(form.get("action") or "verifier")
        if action in ("ajouter", "corriger"):
            page = await page_or_refused(request, token)
            if isinstance(page, Response):
                return page
            blank = [online.LineForm("", "", "", "", "")] if action == "ajouter" else []
            typed = [*_as_typed(lines, zero_months), *blank]
            return form_page(request, page, token, typed=typed, zero=zero)
        if action != "confirmer":
            return await for_confirmation(request, token, lines, zero, (), zero_months)
        try:
            declared = await call(
                online.declare_online, token, lines, zero=zero, zero_months=zero_months
            )
        except online.FormRefused as error:
            typed = _as_typed(lines, zero_months)
            return await form_again(request, token, typed, zero, [str(p) for p in error.problems])
        except InputRefused as error:
            return refused(request, error)
        named = [*(line.month for line in lines), *zero_months]
        months = sorted({month.strip()[:7] for month in named if month.strip()})
        # The months a template recorded (several, or another than the link's): the page thanks
        # for each of them.
        said = f"&mois={','.join(months)}" if months and not zero else ""
        # The months it corrected or found unchanged: the page says so, not only « enregistré ».
        said += _months_query("corrige", declared.corrected)
        said += _months_query("inchange", declared.unchanged)
        return RedirectResponse(f"/declarer/{token}?enregistre=1{said}", status_code=303)

    @routes.get("/declarer/{token}/fichier")
    async def upload_page(token: str) -> Response:
        """The upload is a form of the month's page: an address typed or reloaded goes there."""
        return RedirectResponse(f"/declarer/{token}", status_code=303)

    @routes.post("/declarer/{token}/fichier", response_class=HTMLResponse)
    async def upload(request: Request, token: str) -> Response:
        """The filled template, read by the importer, shown for confirmation like a typed form."""
        async with request.form() as form:  # closes the spooled upload once read
            sent = form.get("fichier")
            filename = sent.filename if isinstance(sent, UploadFile) else None
            data = await sent.read(MAX_UPLOAD + 1) if isinstance(sent, UploadFile) else b""
        if not filename:
            return await form_again(
                request, token, None, False, ["Choisissez d'abord le fichier à envoyer."]
            )
        try:
            if len(data) > MAX_UPLOAD:
                # Its whole size, as the form's parser counted it: the page read no more.
                size = sent.size if isinstance(sent, UploadFile) and sent.size else len(data)
                online.refuse_file_size(filename, size)
            read = await call(online.lines_of_file, token, filename, data)
        except FileRefused as error:
            problems = [f"{error.source}, {problem}" for problem in error.errors[:SHOWN_PROBLEMS]]
            if len(error.errors) > SHOWN_PROBLEMS:
                problems.append(_more_problems(len(error.errors) - SHOWN_PROBLEMS))
            return await form_again(request, token, None, False, problems)
        except InputRefused as error:
            return refused(request, error)
        return await for_confirmation(
            request,
            token,
            read.lines,
            False,
            read.blank_months,
            [month.isoformat() for month in read.zero_months],
        )

    return routes
