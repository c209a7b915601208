"""The board of clauses by stage, with filters and search, and a clause's own page (/clauses, /clauses/{id}).

The board is a GET form (``etape``, ``donneur``, ``recherche``, ``page``): a filtered board is
an address the facilitator can keep or send. A clause's page offers « Avancer à l'étape
suivante » (``clauses clause advance`` with the next event) and, in its « Actions » section,
what else its stage allows: the award (``clause award``), the final report (``clause report``),
the hours imposed (``clause hours``), the figures of the calculation (``clause figures``), the
planned end during execution (``lot set-end``), the end of the work once finished (``clause
end-date``, in follow-up) and the other events of the stage (``clause advance`` with suspend or
abandon). Each calls the
application function the CLI command calls, with the signed-in user as its actor; a refusal is
shown on the page, in French, with what was typed, and nothing changes. A finish (« achever »)
tells on the page it leads to what it released, as ``clause advance`` prints it
(``released_query``), each email still asking a released month linked to its page in the email
log, where it is cancelled; a correction of the end tells the same, and the months it asks
again as its history row keeps them (``end_corrected_from``). A finish after the planned end,
or a planned end moved later, names the months it makes owed and when the next pass asks for
them, as ``clause advance`` and ``lot set-end`` print it (``asked_query``). A suspension tells, by company,
the waiting emails it withdrew and that they are sent again after the resumption, as ``clause
advance`` prints it: read from the email log (``suspension_emails``), not from the address. A
closure tells, by company, the declarations never received that it no longer asks, as ``clause
advance`` prints them (``unreceived_query``); before it, and above the final report's form, the
page warns of the months still owed, as ``clause report`` does once the report is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.adapters.csv_files import parse_month
from workflow.adapters.templates import french_month, french_percent
from workflow.adapters.templates import non_breaking as nbsp
from workflow.app import clause_board as board_view
from workflow.app import clause_corrections, released_emails, suspension_emails, terminations
from workflow.app import clauses as clause_app
from workflow.app.clause_views import ClauseDetail
from workflow.app.clauses import Figures
from workflow.app.command_words import released_words
from workflow.app.months_asked_texts import asked_sentences
from workflow.app.web_accounts import SignedIn
from workflow.bootstrap import App
from workflow.domain.calendar import LadderStep, reminder_number, reminder_step
from workflow.domain.french_numbers import french_number
from workflow.domain.hours import format_decimal, parse_positive, parse_ratio
from workflow.domain.stages import (
    EVENT_LABELS,
    LABELS,
    ClauseEvent,
    Stage,
    history_label,
    parse_stage,
)
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.emails.ladder import step_label
from workflow.emails.notices import Outstanding, months_named
from workflow.entrypoints.web.pages import Pages
from workflow.entrypoints.web.signed_in import Guard
from workflow.errors import ConcurrentChange, DatabaseTrouble, InputRefused, NotFound
from workflow.services.clauses import WORKS_STAGES, AwardResult
from workflow.services.declaration_views import (
    STATE_LABELS,
    DeclarationState,
    ExpectedDeclaration,
)
from workflow.services.end_date_corrections import END_DATE_CORRECTED
from workflow.services.ladder_keys import LadderKey
from workflow.services.lot_ends import ReleasedMonths, released_sentence
from workflow.services.months_asked import Asked

#: The clause's calendar as its page words it: as the command line (a month owed but not due
#: yet is « à déclarer »).
CALENDAR_LABELS = STATE_LABELS


def percent(ratio: Decimal) -> str:
    """« 50,7 % »: cut, never rounded up, so 99,96 % does not read as the target reached."""
    return french_percent(ratio.quantize(Decimal("0.001"), rounding=ROUND_DOWN), 1)


def parse_end_date(text: str) -> date | None:
    """The end of the work as a date field sends it (2027-02-28) or as a person types it
    (28/02/2027); empty is none."""
    return parse_date(text, "Date de fin d'exécution")


#: The years a date field takes, as ``parse_date_fr`` of the CLI: beyond, a typing slip.
YEARS = range(1900, 3000)
#: The most hours a field takes (the database keeps 32-bit integers).
MOST_HOURS = 1_000_000_000
#: Lines for co-contractors and subcontractors beyond those recorded: enough for a lot's
#: usual group, and the form stays short; more come back blank after each refusal or record.
BLANK_LINES = 2
#: Lines the award form may send at most (anything past it is not read).
MOST_LINES = 30

#: The award form's lines, as its fields name them.
ROLE_CODES: dict[str, PartyRole] = {
    "cotraitant": PartyRole.CO_CONTRACTOR,
    "sous-traitant": PartyRole.SUBCONTRACTOR,
}
ROLE_FIELDS: dict[PartyRole, str] = {role: code for code, role in ROLE_CODES.items()}


def parse_date(text: str, field: str) -> date | None:
    """A date as a date field sends it (2027-02-28) or as a person types it (28/02/2027);
    empty is none; else a refusal naming ``field``."""
    text = text.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            found = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if found.year in YEARS:
            return found
    raise InputRefused(f"{field}\u00a0: «\u00a0{text}\u00a0» n'est pas une date (jj/mm/aaaa).")


def required_date(text: str, field: str) -> date:
    found = parse_date(text, field)
    if found is None:
        raise InputRefused(f"{field}\u00a0: indiquez-la (jj/mm/aaaa).")
    return found


def parse_whole(text: str, field: str, *, what: str = "un nombre entier d'heures") -> int | None:
    """« 1 200 » or « 1200 »: a whole number, spaces between thousands allowed; empty is none."""
    text = text.strip()
    digits = re.sub(r"[\s\u00a0\u202f]", "", text)
    if not text:
        return None
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MOST_HOURS:
        raise InputRefused(f"{field}\u00a0: «\u00a0{text}\u00a0» n'est pas {what}.")
    return int(digits)


def figure_field(value: Decimal | None) -> str:
    """A figure of the calculation as its form shows it again: « 3 780 000 », « 28,5 »."""
    return "" if value is None else format_decimal(value, 2)


def ratio_field(value: Decimal | None) -> str:
    """A share or a rate as its form shows it again: « 7,5 % » (read back exactly)."""
    return "" if value is None else f"{format_decimal(value * 100, 4)} %"


# --- what a finish released, told on the page it leads to --------------------------------------
#
# After a form the page says what was done from its address (``?fait=``), as every page of the
# site does. A finish also tells what it released (``lot_ends``), as ``clause advance`` prints it:
# the months no longer asked of each company, the waiting emails withdrawn or written again
# without them, and those still asking such a month that could not be written again. The address
# carries them in numbers and codes only (a company's N°, months « 2026-11 », steps
# « reminder_1 », emails' N°), one ``liberes`` per company; the page names them again (the lot's
# companies) and keeps only what agrees with the lot (one of its companies, months after its end):
# an address kept or typed shows nothing of another lot, and an email is cancelled from its own
# page, which shows it as it is.
#
# What agrees with the lot is not yet what the finish did: an address can name any step and any
# email N°. So a company's release is told only when the history row of the finish (or of the
# correction) says it word for word (``told_in_history``): the row is written in the transaction
# that released, and its sentence names the company, the end, the months, each step withdrawn or
# written again and each email still asking with its N°, so all of them are checked at once,
# without a query. The emails still asking are then read again (one query,
# ``waiting_ladder_emails``): one sent or cancelled since is no longer told to cancel.

#: The address's field, one per company released.
RELEASED_FIELD = "liberes"
#: The fields of one company: N°, months, withdrawn, written again, without, still asking, months
#: still asked.
RELEASED_PARTS = 7


def released_query(released: Sequence[ReleasedMonths]) -> list[tuple[str, str]]:
    """``liberes=12:2026-11,2026-12:reminder_1:reminder_2:2026-11:reminder_1.532:2026-11``: each
    part a list separated by commas, an email still asking as its step and its N°."""
    return [
        (
            RELEASED_FIELD,
            ":".join(
                [
                    str(r.company_id),
                    _month_codes(r.months),
                    ",".join(_step_code(step) for step in r.withdrawn),
                    ",".join(_step_code(step) for step in r.rewritten),
                    _month_codes(r.rewritten_without),
                    ",".join(f"{_step_code(step)}.{n}" for step, n in r.still_asking),
                    _month_codes(r.still_asking_months),
                ]
            ),
        )
        for r in released
    ]


def _month_codes(months: Sequence[date]) -> str:
    return ",".join(f"{m:%Y-%m}" for m in months)


def _step_code(label: str) -> str:
    """« rappel n° 2 » → ``reminder_2``: the step whose label it is (checked by labelling it
    again), empty when none is."""
    number = re.search(r"\d{1,3}$", label)
    candidates = [LadderStep.CALL.value, LadderStep.ESCALATION.value]
    if number:
        candidates.append(reminder_step(int(number.group())))
    return next((code for code in candidates if step_label(code) == label), "")


def _step_of(code: str) -> str | None:
    """A step's label from its code in the address; None when it is not a step."""
    if code in (LadderStep.CALL, LadderStep.ESCALATION) or (
        len(code) < 20 and reminder_number(code) is not None
    ):
        return step_label(code)
    return None


def _months_of(text: str, after: date) -> tuple[date, ...] | None:
    """The months of the address (« 2026-11,2026-12 »), each after ``after``; None if one is
    not."""
    months = []
    for part in filter(None, text.split(",")):
        found = re.fullmatch(r"(\d{4})-(\d{2})", part)
        if found is None or int(found.group(1)) not in YEARS or not 1 <= int(found.group(2)) <= 12:
            return None
        month = date(int(found.group(1)), int(found.group(2)), 1)
        if month <= after:
            return None
        months.append(month)
    return tuple(months)


def _steps_of(text: str) -> tuple[str, ...] | None:
    labels = tuple(_step_of(code) for code in filter(None, text.split(",")))
    return None if None in labels else tuple(label for label in labels if label)


def _still_of(text: str) -> tuple[tuple[str, int], ...] | None:
    """``reminder_1.532,reminder_2.533``: each email's step label (empty when unknown) and N°."""
    found = []
    for part in filter(None, text.split(",")):
        code, _, number = part.rpartition(".")
        if not number.isdigit() or len(number) > 10:
            return None
        found.append((_step_of(code) or "", int(number)))
    return tuple(found)


def released_from(values: Sequence[str], detail: ClauseDetail) -> tuple[ReleasedMonths, ...]:
    """What a finish released, read back from the address (``released_query``): only a company
    of the lot, only months after its end; a part that does not read is left out."""
    end = detail.end_date
    if end is None:
        return ()
    names = {party.company_id: party.company for party in detail.parties}
    found: dict[int, ReleasedMonths] = {}  # each company of the lot told once at most
    for value in values:
        if len(found) == len(names):
            break
        parts = value.split(":")
        if len(parts) != RELEASED_PARTS or not parts[0].isdigit() or len(parts[0]) > 9:
            continue
        company_id = int(parts[0])
        months, without, still_months = (_months_of(parts[i], end) for i in (1, 4, 6))
        withdrawn, rewritten = _steps_of(parts[2]), _steps_of(parts[3])
        still = _still_of(parts[5])
        if (
            company_id not in names
            or company_id in found
            or not months
            or without is None
            or still_months is None
            or withdrawn is None
            or rewritten is None
            or still is None
        ):
            continue
        found[company_id] = ReleasedMonths(
            company_id=company_id,
            company=names[company_id],
            end_date=end,
            months=months,
            withdrawn=withdrawn,
            rewritten=rewritten,
            rewritten_without=without,
            still_asking=still,
            still_asking_months=still_months,
        )
    return tuple(found.values())


def told_in_history(
    released: Sequence[ReleasedMonths], detail: ClauseDetail, event: str
) -> tuple[ReleasedMonths, ...]:
    """Only the releases the lot's last history row of ``event`` (the finish, a correction of
    the end) tells word for word, as ``history_reason`` and ``correction_reason`` wrote them."""
    rows = [row for row in detail.history if row.event == event]
    text = (rows[-1].reason or "") if rows else ""
    return tuple(r for r in released if released_sentence(r) in text)


def still_waiting(
    released: Sequence[ReleasedMonths], waiting: Mapping[int, LadderKey]
) -> tuple[ReleasedMonths, ...]:
    """Each release with only its emails still waiting (``waiting``, this lot's): the company's,
    of the step named, covering a month still asked; the months still asked, those they cover."""
    kept = []
    for r in released:
        asked = set(r.still_asking_months)
        still: list[tuple[str, int]] = []
        months: set[date] = set()
        for step, number in r.still_asking:
            key = waiting.get(number)
            covered = asked.intersection(key.months) if key is not None else set()
            if key is None or key.company_id != r.company_id or step_label(key.step) != step:
                continue
            if covered:
                still.append((step, number))
                months |= covered
        kept.append(
            replace(r, still_asking=tuple(still), still_asking_months=tuple(sorted(months)))
        )
    return tuple(kept)


@dataclass(frozen=True)
class ReleasedView:
    """One company's release as the page tells it: the sentence ``clause advance`` prints, up
    to the emails still asking a released month, which the page links to their own page."""

    said: str
    still: tuple[tuple[str, int], ...]
    #: The released months they still ask: « novembre 2026 et décembre 2026 ».
    still_months: str


def released_views(released: Sequence[ReleasedMonths]) -> tuple[ReleasedView, ...]:
    def months(found: Sequence[date]) -> str:
        named = [french_month(m) for m in found]
        return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " et " + named[-1]

    return tuple(
        ReleasedView(
            said=released_sentence(
                replace(r, still_asking=(), still_asking_months=())
            ).removesuffix("."),
            still=r.still_asking,
            still_months=months(r.still_asking_months) if r.still_asking_months else "",
        )
        for r in released
    )


# --- what a closure no longer asks, told on the page it leads to -------------------------------
#
# A closure names the declarations still owed that it no longer asks, as ``clause advance``
# prints them (``closure_warning``). The address carries them in numbers only, one ``nonrecues``
# per company (« 12:2026-04,2026-05 »); the page keeps only the months its own calendar shows no
# longer asked for that company (never received on a closed lot, ``DeclarationState.RELEASED``):
# an address kept or typed cannot make it name a month still asked, declared, or of another lot.

#: The address's field, one per company whose declarations the closure no longer asks.
UNRECEIVED_FIELD = "nonrecues"


def unreceived_query(outstanding: Sequence[Outstanding]) -> list[tuple[str, str]]:
    """``nonrecues=12:2026-04,2026-05``: a company's N° and the months it no longer owes."""
    return [
        (UNRECEIVED_FIELD, f"{o.company_id}:{_month_codes(o.months)}")
        for o in outstanding
        if o.company_id is not None and o.months
    ]


@dataclass(frozen=True)
class OwedView:
    """One company's months owed (before the final report or the closure) or no longer asked
    (after the closure), as ``clause advance`` and ``clause report`` name them: « avril et mai
    2026 »."""

    company: str
    months: str
    count: int


def owed_views(owed: Sequence[Outstanding]) -> tuple[OwedView, ...]:
    return tuple(
        OwedView(o.company, months_named(o.months), len(o.months)) for o in owed if o.months
    )


def unreceived_from(
    values: Sequence[str], lines: Sequence[ExpectedDeclaration]
) -> tuple[OwedView, ...]:
    """What a closure no longer asks, read back from the address (``unreceived_query``): only
    the months the lot's calendar shows no longer asked of that company; a part that does not
    read is left out, each company told once."""
    released = {
        (line.company_id, line.month): line.company
        for line in lines
        if line.state is DeclarationState.RELEASED
    }
    companies = {company_id for company_id, _ in released}
    found: dict[int, Outstanding] = {}
    for value in values:
        if len(found) == len(companies):
            break
        number, _, codes = value.partition(":")
        if not number.isdigit() or len(number) > 9 or int(number) in found:
            continue
        company_id = int(number)
        months = _months_of(codes, date.min)
        kept = tuple(sorted({m for m in months or () if (company_id, m) in released}))
        if kept:
            found[company_id] = Outstanding(released[(company_id, kept[0])], kept, company_id)
    return owed_views(list(found.values()))


# --- what a change made owed, told on the page it leads to -------------------------------------
#
# A finish after the planned end, or a planned end moved later, makes owed the months past the
# old end, called at the next pass: the page names them, the call and the due date it gives, as
# ``clause advance`` and ``lot set-end`` print them. The address carries the companies' N° and
# the months only (« 12:2027-04,2027-05 », one ``ademander`` per company); the page tells only
# those of the lot whose call is still to come, with that call read now
# (``clauses.months_still_to_call``): an address kept or typed cannot make it announce a call
# the pass will not send, nor a month of another lot.

#: The address's field, one per company the change made months owed.
ASKED_FIELD = "ademander"
#: Companies read from the address at most: more than a lot's group is a forged address.
MOST_ASKED = 50


def asked_query(asked: Sequence[Asked]) -> list[tuple[str, str]]:
    """``ademander=12:2027-04,2027-05``: a company's N° and the months the change made owed."""
    by_company: dict[int, list[date]] = {}
    for a in asked:
        by_company.setdefault(a.company_id, []).extend(a.months)
    return [
        (ASKED_FIELD, f"{company_id}:{_month_codes(sorted(months))}")
        for company_id, months in by_company.items()
    ]


def asked_claimed(values: Sequence[str]) -> dict[int, tuple[date, ...]]:
    """The months the address says a change made owed, by company (``asked_query``); a part
    that does not read is left out, each company read once."""
    found: dict[int, tuple[date, ...]] = {}
    for value in values[:MOST_ASKED]:
        number, _, codes = value.partition(":")
        if not number.isdigit() or len(number) > 9 or int(number) in found:
            continue
        months = _months_of(codes, date.min)
        if months:
            found[int(number)] = months
    return found


# --- an end of the work corrected, told on the page it leads to ---------------------------------
#
# What a correction released comes back in the address as a finish's does (``liberes``). What it
# asks again (the step each month's reminders wait on, when, the date the company is held to)
# is read from the lot's own history instead, the row the correction wrote: an address typed
# cannot make the page announce a reminder or a due date that the pass will not use.

#: The ``fait`` codes of a correction of the end: changed, or the same date sent again.
END_CORRECTED = "fin-execution"
END_UNCHANGED = "fin-execution-inchangee"
#: The form's fields as the refusals name them (``correct_end_date``'s ``field``, ``reason_field``).
END_FIELD = "Date de fin d'exécution"
END_REASON_FIELD = "Motif"
NBSP = "\u00a0"
_CORRECTED_ROW = re.compile(
    rf"fin d'exécution{NBSP}: (\d{{2}}/\d{{2}}/\d{{4}}) → (\d{{2}}/\d{{2}}/\d{{4}}){NBSP}; "
)


@dataclass(frozen=True)
class EndCorrectedView:
    """The last correction of the lot's end as its history row keeps it: the two dates and, by
    company, the sentence of the months asked again (``owed_sentence``)."""

    before: str
    after: str
    owed: tuple[str, ...]

    @property
    def later(self) -> bool:
        return _day(self.after) > _day(self.before)


def _day(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%Y").date()


def end_corrected_from(detail: ClauseDetail) -> EndCorrectedView | None:
    """The lot's last correction of its end, if it gave the end the lot has now: its dates and
    the months it asked again, found in its history row after the reason typed (each company's
    sentence starts with the months and names the company and the new end)."""
    rows = [row for row in detail.history if row.event == END_DATE_CORRECTED]
    if not rows or detail.end_date is None:
        return None
    text = rows[-1].reason or ""
    found = _CORRECTED_ROW.match(text)
    if found is None or found.group(2) != f"{detail.end_date:%d/%m/%Y}":
        return None
    starts = []
    for name in {party.company for party in detail.parties}:
        asked = re.compile(
            r"\w+ \d{4}(?:(?:, | et )\w+ \d{4})* (?:est désormais demandé|sont désormais "
            rf"demandés) à {re.escape(name)}{NBSP}: l'exécution s'est achevée le "
            rf"{re.escape(found.group(2))}{NBSP}; "
        )
        # The last one: the reason typed comes before what the correction did.
        matches = list(asked.finditer(text, found.end()))
        if matches:
            starts.append(matches[-1].start())
    starts.sort()
    ends = [*starts[1:], len(text)] if starts else []
    owed = tuple(text[start:end].strip() for start, end in zip(starts, ends, strict=True))
    return EndCorrectedView(found.group(1), found.group(2), owed)


def end_refused_field(refusal: str | None) -> str | None:
    """The field of the end's form a refusal names (it is shown next to it), None: the form's."""
    for name, field in (("fin_execution", END_FIELD), ("motif_fin_execution", END_REASON_FIELD)):
        if refusal is not None and refusal.startswith(f"{field}{NBSP}:"):
            return name
    return None


def router(app: App, pages: Pages) -> APIRouter:
    routes = APIRouter()
    guard = Guard(app, pages)
    call, user_of, to_login = guard.call, guard.user_of, guard.to_login
    zone = app.settings.zone

    def common() -> dict[str, Any]:
        return {
            "labels": LABELS,
            "number": french_number,
            "percent": percent,
        }

    # --- the board ----------------------------------------------------------------------------

    @routes.get("/clauses", response_class=HTMLResponse)
    async def clause_board(request: Request) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        query = request.query_params
        typed = {
            "etape": query.get("etape", "").strip(),
            "donneur": query.get("donneur", "").strip(),
            "recherche": query.get("recherche", "").strip(),
        }
        error = None
        try:
            stage = parse_stage(typed["etape"]) if typed["etape"] else None
            buyer_id = None
            if typed["donneur"]:
                if not typed["donneur"].isdigit() or len(typed["donneur"]) > 9:
                    raise InputRefused(
                        f"Donneur d'ordre\u00a0: «\u00a0{typed['donneur']}\u00a0» n'est pas un N°."
                    )
                buyer_id = int(typed["donneur"])
            page_text = query.get("page", "1").strip() or "1"
            if not page_text.isdigit() or not 1 <= int(page_text) <= 1_000_000:
                raise InputRefused(
                    f"Page\u00a0: «\u00a0{page_text}\u00a0» n'est pas un numéro de page."
                )
            board = await call(
                board_view.clause_board,
                stage=stage,
                buyer_id=buyer_id,
                text=typed["recherche"],
                page=int(page_text),
            )
        except InputRefused as refused:
            error = refused.message
            board = await call(board_view.clause_board)

        def link(stage: Stage, page: int) -> str:
            """The board of one stage at ``page``, with the other filters kept."""
            kept = {"etape": stage.value, "page": str(page)}
            if board.buyer_id is not None:
                kept["donneur"] = str(board.buyer_id)
            if board.text:
                kept["recherche"] = board.text
            return "/clauses?" + urlencode(kept)

        return pages.render(
            request,
            "board.html",
            status_code=422 if error else 200,
            user=user,
            board=board,
            typed=typed,
            error=error,
            stages=list(board_view.BOARD_STAGES) + list(board_view.OTHER_STAGES),
            page_size=board_view.PAGE_SIZE,
            link=link,
            **common(),
        )

    # --- a clause's page ----------------------------------------------------------------------

    async def clause_response(
        request: Request,
        user: SignedIn,
        clause_id: str,
        *,
        refusal: str | None = None,
        typed: dict[str, str] | None = None,
        refused_form: str = "avancer",
    ) -> Response:
        if not clause_id.isdigit() or len(clause_id) > 9:
            return not_found(request, clause_id)
        try:
            page = await call(board_view.clause_page, int(clause_id))
        except NotFound:
            return not_found(request, clause_id)
        typed = typed or {}
        shown = typed if refusal else {}
        done = next((s for s in Stage if s.value == request.query_params.get("fait")), None)
        done_action = request.query_params.get("fait", "")
        corrected = (
            end_corrected_from(page.detail)
            if done_action == END_CORRECTED and not refusal
            else None
        )
        released = (
            released_from(request.query_params.getlist(RELEASED_FIELD), page.detail)
            # A correction releases only when it moved the end earlier.
            if not refusal and (done is not None or (corrected is not None and not corrected.later))
            else ()
        )
        if released:
            released = told_in_history(
                released,
                page.detail,
                ClauseEvent.FINISH.value if done is not None else END_DATE_CORRECTED,
            )
            asked = {number for r in released for _, number in r.still_asking}
            waiting = (
                await call(released_emails.waiting_ladder_emails, int(clause_id), asked)
                if asked
                else {}
            )
            released = still_waiting(released, waiting)
        # What a closure no longer asks, from the address, as the lot's calendar shows it.
        no_longer_asked = (
            unreceived_from(request.query_params.getlist(UNRECEIVED_FIELD), page.declarations)
            if done is Stage.CLOSED and not refusal
            else ()
        )
        # What a finish or a later planned end made owed, from the address, as the lot's calls
        # to come stand now.
        claimed = (
            asked_claimed(request.query_params.getlist(ASKED_FIELD))
            if not refusal and (done is Stage.FOLLOW_UP or done_action == "fin-prevue")
            else {}
        )
        to_call = (
            await call(clause_app.months_still_to_call, int(clause_id), claimed) if claimed else ()
        )
        # What a suspension withdrew of the lot's waiting emails, read from the email log (the
        # address says only that a suspension was done): nothing once the lot is resumed.
        withdrawn = (
            await call(suspension_emails.withdrawn_by_last_suspension, int(clause_id))
            if done is Stage.SUSPENDED and not refusal
            else ()
        )
        return pages.render(
            request,
            "clause.html",
            status_code=422 if refusal else 200,
            user=user,
            page=page,
            detail=page.detail,
            clause=page.detail.summary,
            refusal=refusal,
            refused_form=refused_form if refusal else None,
            typed=typed,
            done=done,
            released=released_views(released),
            asked=asked_sentences(to_call, zone),
            withdrawn=withdrawn,
            no_longer_asked=no_longer_asked,
            released_said=nbsp(released_words(sum(o.count for o in no_longer_asked))),
            # The months still owed, that the final report leaves out and the closure no longer
            # asks: the page warns of them before either, as the command line does after.
            owed=owed_views(clause_app.owed_by_company(page.declarations)),
            close=ClauseEvent.CLOSE,
            done_action=done_action,
            corrected=corrected,
            correct_end=page.detail.summary.stage is Stage.FOLLOW_UP
            and page.detail.end_date is not None,
            end_refused=end_refused_field(refusal) if refused_form == "fin-execution" else None,
            end_field=END_FIELD,
            end_reason_field=END_REASON_FIELD,
            award=award_form(page, shown if refused_form == "attribution" else {}),
            figures_form={
                "montant": figure_field(page.detail.amount_excl_tax),
                "main_oeuvre": ratio_field(page.detail.labour_share),
                "taux": ratio_field(page.detail.insertion_rate),
                "cout_horaire": figure_field(page.detail.hourly_cost),
            },
            history=tuple(reversed(page.detail.history)),
            history_word=history_label,
            event_labels=EVENT_LABELS,
            finish=ClauseEvent.FINISH,
            # A contract terminated: its own form (date and reason), never a side event; the
            # lot terminated says so (« Marché résilié le … (motif) »).
            terminate=ClauseEvent.TERMINATE,
            can_terminate=page.detail.summary.stage in terminations.FROM_STAGES,
            termination=terminations.termination_shown(
                page.detail.summary.stage, page.detail.history, page.detail.end_date
            ),
            role_labels=PARTY_ROLE_LABELS,
            role_fields=ROLE_FIELDS,
            state_labels=CALENDAR_LABELS,
            local=lambda moment: moment.astimezone(zone),
            **common(),
        )

    def not_found(request: Request, clause_id: str) -> Response:
        return guard.refused(
            request,
            "Clause introuvable",
            f"Aucune clause n'a le N°\u00a0{clause_id[:20]}. La liste des clauses\u00a0: "
            "page «\u00a0Clauses\u00a0».",
            status=404,
        )

    @routes.get("/clauses/{clause_id}", response_class=HTMLResponse)
    async def clause(request: Request, clause_id: str) -> Response:
        user = await user_of(request)
        if user is None:
            return to_login(request)
        return await clause_response(request, user, clause_id)

    @routes.post("/clauses/{clause_id}/avancer")
    async def advance(request: Request, clause_id: str) -> Response:
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        typed = {
            "fin": str(form.get("fin") or ""),
            "motif": str(form.get("motif") or ""),
        }
        if not clause_id.isdigit() or len(clause_id) > 9:
            return not_found(request, clause_id)
        try:
            advanced = await call(
                board_view.advance_to_next,
                int(clause_id),
                seen_stage=str(form.get("etape") or ""),
                end_date=parse_end_date(typed["fin"]),
                reason=typed["motif"],
                actor=user.name,
            )
        except NotFound:
            return not_found(request, clause_id)
        except InputRefused as refused:
            return await clause_response(
                request, user, clause_id, refusal=refused.message, typed=typed
            )
        # A finish that released months tells it at the top of the page (``released_query``), and
        # the months it made owed (``asked_query``); a closure, the declarations it no longer
        # asks (``unreceived_query``).
        address = urlencode(
            [
                ("fait", advanced.to_stage.value),
                *released_query(advanced.released),
                *asked_query(advanced.asked),
                *unreceived_query(advanced.outstanding),
            ]
        )
        told = advanced.released or advanced.asked or advanced.outstanding
        anchor = "#message" if told else "#etape"
        return RedirectResponse(f"/clauses/{advanced.clause_id}?{address}{anchor}", status_code=303)

    # --- the actions of a clause's stage ------------------------------------------------------

    #: An action returns the ``fait`` code, or the whole query of the page (``fait`` first).
    Action = Callable[[SignedIn, dict[str, str], int], Awaitable[str | list[tuple[str, str]]]]

    async def act(request: Request, clause_id: str, form_name: str, action: Action) -> Response:
        """Check the session and its CSRF token, run ``action`` (it returns the ``fait`` code of
        the message the clause's page then shows) and redirect to the page; a refusal shows the
        page again, with the message in the form's section and what was typed."""
        checked = await guard.signed_post(request)
        if isinstance(checked, Response):
            return checked  # not signed in, or no valid CSRF token: nothing done
        user, form = checked
        typed = {
            key: str(value)[:10_000]
            for key, value in form.items()
            if key != "csrf" and isinstance(value, str)
        }
        if not clause_id.isdigit() or len(clause_id) > 9:
            return not_found(request, clause_id)
        try:
            done = await action(user, typed, int(clause_id))
        except (InputRefused, ConcurrentChange, DatabaseTrouble) as refused:
            # NotFound is an InputRefused: the page itself answers 404 when the clause is the
            # one missing, and names the company (or else) when it is another record.
            return await clause_response(
                request,
                user,
                clause_id,
                refusal=refused.message,
                typed=typed,
                refused_form=form_name,
            )
        query = urlencode([("fait", done)] if isinstance(done, str) else done)
        return RedirectResponse(f"/clauses/{clause_id}?{query}#message", status_code=303)

    @routes.post("/clauses/{clause_id}/attribution")
    async def award(request: Request, clause_id: str) -> Response:
        async def action(user: SignedIn, typed: dict[str, str], clause: int) -> str:
            parties = typed_parties(typed)
            start = required_date(typed.get("demarrage", ""), "Date de démarrage")
            end = required_date(typed.get("fin_prevue", ""), "Date de fin prévue")
            if end < start:
                raise InputRefused(
                    f"Date de fin prévue\u00a0: le {end:%d/%m/%Y} est avant le démarrage "
                    f"({start:%d/%m/%Y})."
                )
            joining_text = typed.get("premier_mois", "").strip()
            joining_from = parse_month(joining_text) if joining_text else None
            if joining_text and joining_from is None:
                raise InputRefused(
                    f"Premier mois des entreprises ajoutées\u00a0: «\u00a0{joining_text}\u00a0» "
                    "n'est pas un mois (mm/aaaa)."
                )
            choices = await call(board_view.resolve_parties, parties)
            recorded = await call(
                clause_app.award_clause,
                clause,
                parties=choices,
                start_date=start,
                planned_end_date=end,
                actor=user.name,
                joining_from=joining_from,
                reason=typed.get("motif_attribution", ""),
                reason_field="Motif de la correction",
            )
            return AWARD_DONE[recorded.result]

        return await act(request, clause_id, "attribution", action)

    @routes.post("/clauses/{clause_id}/bilan")
    async def final_report(request: Request, clause_id: str) -> Response:
        async def action(user: SignedIn, typed: dict[str, str], clause: int) -> str:
            text = typed.get("bilan", "")
            if not text.strip():
                raise InputRefused("Bilan de l'opération\u00a0: il est vide, écrivez-le.")
            await call(clause_app.record_final_report, clause, text, actor=user.name)
            return "bilan"

        return await act(request, clause_id, "bilan", action)

    @routes.post("/clauses/{clause_id}/heures")
    async def impose_hours(request: Request, clause_id: str) -> Response:
        async def action(user: SignedIn, typed: dict[str, str], clause: int) -> str:
            hours = parse_whole(typed.get("heures_imposees", ""), "Heures imposées")
            if hours is None:
                raise InputRefused("Heures imposées\u00a0: indiquez le nombre d'heures.")
            reason = typed.get("raison_heures", "").strip()
            if not reason:
                raise InputRefused(
                    "Raison des heures imposées\u00a0: indiquez-la (avenant, arbitrage…), "
                    "elle est gardée à l'historique."
                )
            await call(clause_app.impose_hours, clause, hours, reason=reason, actor=user.name)
            return "heures"

        return await act(request, clause_id, "heures", action)

    @routes.post("/clauses/{clause_id}/parametres")
    async def change_figures(request: Request, clause_id: str) -> Response:
        async def action(user: SignedIn, typed: dict[str, str], clause: int) -> str:
            def read(name: str, field: str, parse: Callable[[str, str], Decimal]) -> Decimal | None:
                text = typed.get(name, "").strip()
                return parse(text, field) if text else None

            figures = Figures(
                amount=read("montant", "Montant HT", parse_positive),
                labour_share=read("main_oeuvre", "Part de main-d'œuvre", parse_ratio),
                rate=read("taux", "Taux d'insertion", parse_ratio),
                hourly_cost=read("cout_horaire", "Coût horaire chargé", parse_positive),
            )
            if figures.empty:
                raise InputRefused(
                    "Paramètres du calcul\u00a0: donnez au moins le montant HT, la part de "
                    "main-d'œuvre, le taux d'insertion ou le coût horaire."
                )
            await call(clause_app.change_figures, clause, figures, actor=user.name)
            return "parametres"

        return await act(request, clause_id, "parametres", action)

    @routes.post("/clauses/{clause_id}/fin-prevue")
    async def planned_end(request: Request, clause_id: str) -> Response:
        async def action(
            user: SignedIn, typed: dict[str, str], clause: int
        ) -> list[tuple[str, str]]:
            end = required_date(typed.get("nouvelle_fin", ""), "Nouvelle fin prévue")
            done = await call(
                clause_app.set_planned_end,
                clause,
                end,
                reason=typed.get("raison_fin", ""),
                actor=user.name,
                field="Nouvelle fin prévue",
                reason_field="Raison du changement",
            )
            if not done.changed:
                return [("fait", "fin-prevue-inchangee")]
            # The months a later end made owed are named on the page (``asked_query``).
            return [("fait", "fin-prevue"), *asked_query(done.asked)]

        return await act(request, clause_id, "fin-prevue", action)

    @routes.post("/clauses/{clause_id}/fin-execution")
    async def end_date(request: Request, clause_id: str) -> Response:
        async def action(
            user: SignedIn, typed: dict[str, str], clause: int
        ) -> list[tuple[str, str]]:
            end = required_date(typed.get("fin_execution", ""), END_FIELD)
            done = await call(
                clause_corrections.correct_end_date,
                clause,
                end,
                reason=typed.get("motif_fin_execution", ""),
                actor=user.name,
                field=END_FIELD,
                reason_field=END_REASON_FIELD,
            )
            if not done.changed:
                return [("fait", END_UNCHANGED)]
            # The months asked again are read back from the history row (``end_corrected_from``).
            return [("fait", END_CORRECTED), *released_query(done.released)]

        return await act(request, clause_id, "fin-execution", action)

    @routes.post("/clauses/{clause_id}/resilier")
    async def terminate(request: Request, clause_id: str) -> Response:
        """« Résilier le marché » of the « Étape suivante » section: its date and reason
        required, the stage the page showed checked (``terminations.terminate_from_page``)."""

        async def action(user: SignedIn, typed: dict[str, str], clause: int) -> str:
            text = typed.get("date_resiliation", "").strip()
            if not text:
                raise InputRefused(
                    f"{TERMINATION_DATE}\u00a0: indiquez le jour où le marché a été résilié "
                    "(une date passée ou du jour)."
                )
            end = parse_date(text, TERMINATION_DATE)
            reason = typed.get("motif_resiliation", "").strip()
            if not reason:
                raise InputRefused(
                    "Motif de la résiliation\u00a0: indiquez-le, le donneur d'ordre et les "
                    "entreprises le liront."
                )
            await call(
                terminations.terminate_from_page,
                clause,
                seen_stage=typed.get("etape", ""),
                end_date=end,
                reason=reason,
                actor=user.name,
            )
            return TERMINATED

        return await act(request, clause_id, "resilier", action)

    @routes.post("/clauses/{clause_id}/evenement")
    async def side_event(request: Request, clause_id: str) -> Response:
        async def action(user: SignedIn, typed: dict[str, str], clause: int) -> str:
            code = typed.get("evenement", "")
            event = next((e for e in ClauseEvent if e.value == code), None)
            if event is None:
                raise InputRefused("Événement\u00a0: choisissez-en un dans la liste.")
            reason = typed.get("motif_evenement", "").strip()
            if not reason:
                raise InputRefused(
                    f"Motif\u00a0: indiquez pourquoi {EVENT_LABELS[event]} la clause, il est "
                    "gardé à l'historique."
                )
            moved = await call(
                clause_app.advance_clause, clause, event, reason=reason, actor=user.name
            )
            return moved.to_stage.value

        return await act(request, clause_id, "evenement", action)

    return routes


#: The ``fait`` code of a termination done, and the date field as its refusals name it.
TERMINATED = "resilie"
TERMINATION_DATE = terminations.DATE_FIELD


#: The ``fait`` code of each outcome of an award.
AWARD_DONE: dict[AwardResult, str] = {
    AwardResult.RECORDED: "attribution-enregistree",
    AwardResult.CORRECTED: "attribution-corrigee",
    AwardResult.UNCHANGED: "attribution-inchangee",
}


def typed_parties(typed: dict[str, str]) -> list[board_view.TypedParty]:
    """The holder, then each line with a company, as the CLI's ``--company``, ``--correspondent``,
    ``--hours``, ``--co-contractor`` and ``--subcontractor`` take them; a refusal names the field."""
    holder = typed.get("titulaire", "").strip()
    if not holder:
        raise InputRefused(
            "Entreprise titulaire\u00a0: indiquez son N°, son nom ou son SIRET "
            "(l'attribution compte exactement une entreprise titulaire)."
        )
    parties = [
        board_view.TypedParty(
            "Entreprise titulaire",
            holder,
            PartyRole.HOLDER,
            parse_whole(
                typed.get("titulaire_correspondant", ""),
                "Correspondant du titulaire",
                what="un N° de correspondant",
            ),
            parse_whole(typed.get("titulaire_heures", ""), "Heures confiées au titulaire"),
        )
    ]
    for line in range(1, MOST_LINES + 1):
        company = typed.get(f"entreprise_{line}", "").strip()
        if not company:
            continue
        role = ROLE_CODES.get(typed.get(f"role_{line}", ""))
        if role is None:
            raise InputRefused(
                f"Rôle de l'entreprise de la ligne {line}\u00a0: cotraitant ou sous-traitant."
            )
        field = f"Entreprise de la ligne {line}"
        parties.append(
            board_view.TypedParty(
                field,
                company,
                role,
                parse_whole(
                    typed.get(f"correspondant_{line}", ""),
                    f"Correspondant de la ligne {line}",
                    what="un N° de correspondant",
                ),
                parse_whole(typed.get(f"heures_{line}", ""), f"Heures confiées, ligne {line}"),
            )
        )
    return parties


def award_form(page: board_view.ClausePage, typed: dict[str, str]) -> dict[str, Any]:
    """The award form's values: what was typed when it was refused, else the award recorded
    (each company by its N°), and blank lines for more companies."""
    detail = page.detail
    lines: list[dict[str, Any]]
    holder: dict[str, Any]
    if typed:
        lines = [
            {
                "role": typed.get(f"role_{n}", "cotraitant"),
                "entreprise": typed.get(f"entreprise_{n}", ""),
                "correspondant": typed.get(f"correspondant_{n}", ""),
                "heures": typed.get(f"heures_{n}", ""),
                "actuelle": None,
            }
            for n in range(1, MOST_LINES + 1)
            if typed.get(f"entreprise_{n}", "").strip()
        ]
        holder = {
            "entreprise": typed.get("titulaire", ""),
            "correspondant": typed.get("titulaire_correspondant", ""),
            "heures": typed.get("titulaire_heures", ""),
            "actuelle": None,
        }
        start, end = typed.get("demarrage", ""), typed.get("fin_prevue", "")
    else:
        recorded = [line for line in page.award_lines if line.role is not PartyRole.HOLDER]
        lines = [
            {
                "role": ROLE_FIELDS[line.role],
                "entreprise": str(line.company_id),
                "correspondant": str(line.correspondent_id or ""),
                "heures": "" if line.hours_share is None else str(line.hours_share),
                "actuelle": line,
            }
            for line in recorded
        ]
        current = next((ln for ln in page.award_lines if ln.role is PartyRole.HOLDER), None)
        holder = {
            "entreprise": str(current.company_id) if current else "",
            "correspondant": str(current.correspondent_id or "") if current else "",
            "heures": ""
            if current is None or current.hours_share is None
            else str(current.hours_share),
            "actuelle": current,
        }
        start = detail.start_date.isoformat() if detail.start_date else ""
        end = detail.planned_end_date.isoformat() if detail.planned_end_date else ""
    blank = {"role": "cotraitant", "entreprise": "", "correspondant": "", "heures": ""}
    lines += [{**blank, "actuelle": None} for _ in range(BLANK_LINES)]
    return {
        "holder": holder,
        "lines": lines,
        "start": start,
        "end": end,
        "recorded": bool(page.award_lines),
        # During the works, the first month the companies added declare (empty: this month).
        "in_works": detail.summary.stage in WORKS_STAGES,
        "joining": typed.get("premier_mois", ""),
        # Why the award is corrected, kept in its history row (never told to the buyer).
        "reason": typed.get("motif_attribution", ""),
    }
