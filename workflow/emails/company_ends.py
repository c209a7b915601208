"""The companies' notices of a lot's end that changes the months asked of them: a month they
were called for and no longer declare (the end recorded, or corrected, before it), or a month
released that is asked again (the end corrected later).

``services.company_end_notices`` reads the facts (the months released whose call left, the
months owed again and the dates ``lot_ends.owe_again`` gives them); this module says which
kinds there are and what their templates read. The buyer's own notices of the same events are
``notice_execution_ended`` and ``notice_end_corrected``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.links import DeclarationLink, links_context, sample_links
from workflow.emails.lots import Lot, lot_context
from workflow.emails.notices import months_named
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

RELEASED = "company_months_released"
OWED_AGAIN = "company_months_owed_again"
#: The contract terminated during the works (« résilier »): each company of the lot.
TERMINATED = "company_lot_terminated"
#: A lot abandoned after its companies were welcomed (before its start): each one welcomed.
ABANDONED = "company_lot_abandoned"
KINDS = (RELEASED, OWED_AGAIN, TERMINATED, ABANDONED)


@dataclass(frozen=True)
class StillOwed:
    """A month up to the termination that the company still has to declare: the date it is
    due by, as its call gave it (pushed later by the days the lot spent suspended after the
    call, as the reminders count it) or as the call to come will (None when unknown)."""

    month: date
    due_on: date | None


@dataclass(frozen=True)
class AskedAgain:
    """A month asked again of a company whose call had reached it: the date it is due by (the
    one its call gave, ``owe_again``'s) and the day the next reminder leaves if it is not
    declared by then; ``by_hand``: the reminders cannot take it up again (a step withdrawn at
    the finish), the facilitator reminds the company himself, no date is given."""

    month: date
    due_on: date | None
    reminder_on: date | None
    by_hand: bool = False


def released_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    end_date: date,
    months: Sequence[date],
    may_arrive: Sequence[date],
    closed_on: date | None = None,
    not_due: Mapping[date, date] | None = None,
    pushed: Collection[date] = (),
) -> dict[str, Any]:
    """``months``: the months no longer asked whose call left; ``may_arrive``: those of them
    an email already leaving (or not withdrawn) may still ask for; ``closed_on``: the clause
    was closed that day with these months not declared (they are not after the end);
    ``not_due``: those of them whose due date (the value) had not passed that day, not late:
    the email does not say they « ne m'est pas parvenue »; ``pushed``: those of them whose date
    a suspension moved from the one their call gave (the one the resumption's email gave)."""
    ordered = sorted(set(months))
    arriving = sorted(set(may_arrive) & set(ordered))
    waited = {m: d for m, d in (not_due or {}).items() if m in ordered}
    late = [m for m in ordered if m not in waited]
    not_yet = sorted(waited)
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "end_date": end_date,
        "months": ordered,
        "months_count": len(ordered),
        "months_named": months_named(ordered),
        "months_of": months_named(ordered, of=True),
        "may_arrive": arriving,
        "may_arrive_count": len(arriving),
        "may_arrive_named": months_named(arriving),
        "closed_on": closed_on,
        "late_count": len(late),
        "late_of": months_named(late, of=True),
        "not_due_count": len(not_yet),
        "not_due_of": months_named(not_yet, of=True),
        # The due date of the months not due yet, when they share one.
        "not_due_on": waited[not_yet[0]] if len(set(waited.values())) == 1 else None,
        # That date was moved by a suspension for each of them (not their call's): said, or the
        # company, holding the call's earlier date, would read a date it was never given.
        "not_due_pushed": bool(not_yet) and set(not_yet) <= set(pushed),
    }


def owed_again_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    end_date: date,
    before: date,
    months: Sequence[AskedAgain],
    today: date,
    links: Sequence[DeclarationLink] = (),
) -> dict[str, Any]:
    """``months``: the months asked again whose call had reached the company; ``today``: the
    local day of the correction (a due date before it is already past); ``links``: the
    company's signed web links to declare them (``services.declaration_links.month_links``),
    one per month the reminders take up again."""
    ordered = sorted(months, key=lambda m: m.month)
    named = [m.month for m in ordered]
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "end_date": end_date,
        "before": before,
        "months": [
            {
                "month": m.month,
                "due_on": m.due_on,
                "late": m.due_on is not None and m.due_on < today,
                "reminder_on": m.reminder_on,
                "by_hand": m.by_hand,
            }
            for m in ordered
        ],
        "months_count": len(ordered),
        "months_named": months_named(named),
        "months_of": months_named(named, of=True),
        "declaration_links": links_context(links),
    }


def _sentence(text: str | None) -> str | None:
    """A reason as typed, read as a sentence: its final stop added when it has none."""
    given = " ".join((text or "").split())
    if not given:
        return None
    return given if given.endswith((".", "!", "?", "…")) else given + "."


def terminated_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    terminated_on: date,
    reason: str,
    owed: Sequence[StillOwed],
    released: Sequence[date],
    today: date,
    links: Sequence[DeclarationLink] = (),
) -> dict[str, Any]:
    """``owed``: the months up to the termination the company has not declared (each with its
    due date); ``released``: the months after it whose call had reached the company, no longer
    asked; ``today``: the local day of the termination (a due date before it is past);
    ``links``: the company's signed web links to declare the months owed."""
    ordered = sorted(owed, key=lambda m: m.month)
    gone = sorted(set(released))
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "terminated_on": terminated_on,
        "reason": _sentence(reason),
        "owed": [
            {
                "month": m.month,
                "due_on": m.due_on,
                "late": m.due_on is not None and m.due_on < today,
            }
            for m in ordered
        ],
        "owed_count": len(ordered),
        "released_count": len(gone),
        "released_of": months_named(gone, of=True),
        "declaration_links": links_context(links),
    }


def abandoned_context(
    lot: Lot,
    company: str,
    correspondent: Recipient | None,
    *,
    abandoned_on: date,
    reason: str | None,
    welcomed_on: date | None,
) -> dict[str, Any]:
    """A lot abandoned (« infructueux », « sans suite ») after the company was welcomed on it:
    the day, the reason as recorded, the day of the welcome it cancels."""
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": None if correspondent is None else {"name": correspondent.name},
        "abandoned_on": abandoned_on,
        "reason": _sentence(reason),
        "welcomed_on": welcomed_on,
    }


# --- the sample -------------------------------------------------------------------------------


def sample(kind: str, settings: Settings) -> Sample:
    """The sample lot whose work ended on 15 October 2026, recorded on 3 December after
    November was called on 1 December: November is no longer asked. Corrected to 30 November
    the next day, November is asked again: due on 8 December as its call said, its first
    reminder on 15 December."""
    lot = LOT
    if kind == TERMINATED:
        # Terminated on 15 October 2026 for the holder's default, recorded on 20 October:
        # September called on 1 October, due on 12 October, not declared; October to be
        # called on 2 November, due on 10 November; nothing was called after it.
        context = terminated_context(
            lot,
            HOLDER.company,
            HOLDER_CORRESPONDENT,
            terminated_on=date(2026, 10, 15),
            reason="défaillance du titulaire (liquidation judiciaire)",
            owed=[
                StillOwed(date(2026, 9, 1), date(2026, 10, 12)),
                StillOwed(date(2026, 10, 1), date(2026, 11, 10)),
            ],
            released=[],
            today=date(2026, 10, 20),
            links=sample_links(settings.base_url, [date(2026, 9, 1)], date(2026, 12, 19)),
        )
        return Sample((HOLDER_CORRESPONDENT,), context)
    if kind == ABANDONED:
        context = abandoned_context(
            lot,
            HOLDER.company,
            HOLDER_CORRESPONDENT,
            abandoned_on=date(2026, 2, 20),
            reason="Marché déclaré sans suite : financement retiré",
            welcomed_on=date(2026, 2, 9),
        )
        return Sample((HOLDER_CORRESPONDENT,), context)
    if kind == RELEASED:
        context = released_context(
            lot,
            HOLDER.company,
            HOLDER_CORRESPONDENT,
            end_date=date(2026, 10, 15),
            months=[date(2026, 11, 1)],
            may_arrive=[],
        )
    else:
        context = owed_again_context(
            lot,
            HOLDER.company,
            HOLDER_CORRESPONDENT,
            end_date=date(2026, 11, 30),
            before=date(2026, 10, 15),
            months=[AskedAgain(date(2026, 11, 1), date(2026, 12, 8), date(2026, 12, 15))],
            today=date(2026, 12, 4),
            links=sample_links(settings.base_url, [date(2026, 11, 1)], date(2027, 1, 3)),
        )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("company_ends", KINDS, sample)
