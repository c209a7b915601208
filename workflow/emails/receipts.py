"""The receipt a company gets for each declaration it makes: what was recorded, its cumul on the
lot, the months it still owes and the next one to open.

For the company only: its own participants' references are shown to it, nobody else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from workflow.domain.calendar import due_date, opens_on
from workflow.domain.declaration_links import expiry
from workflow.domain.events import Replaced
from workflow.domain.vocabulary import CONTRACT_LABELS, DELIVERY_MODE_LABELS
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.links import DeclarationLink, sample_links
from workflow.emails.lots import Lot, lot_context
from workflow.emails.phrases import label_of
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "declaration_receipt"
KINDS = (KIND,)


@dataclass(frozen=True)
class DeclaredLine:
    reference: str
    hours: Decimal
    delivery_mode: str
    contract_type: str


@dataclass(frozen=True)
class Declared:
    """One declaration as recorded: a company's month on a lot."""

    id: int
    month: date
    total_hours: Decimal
    recorded_at: datetime
    lines: tuple[DeclaredLine, ...]
    #: Recorded by the facilitator on the company's word (a month without hours said on the
    #: phone): the receipt says she recorded it, not that she received it.
    entered_for_company: bool = False


def receipt_context(
    lot: Lot,
    company: str,
    declaration: Declared,
    *,
    cumulated: Decimal,
    hours_share: int | None,
    due_day: int,
    zone: ZoneInfo,
    missing: Sequence[date] = (),
    next_month: date | None = None,
    due_dates: Mapping[date, date | None] | None = None,
    correction: DeclarationLink | None = None,
    owed_links: Mapping[date, DeclarationLink] | None = None,
    replaces: Replaced | None = None,
    written_on: date | None = None,
    correspondent: str | None = None,
    receipt_left: bool = True,
    company_last: bool = False,
) -> dict[str, Any]:
    """``missing``: the months this company still owes on the lot at the receipt's moment;
    ``next_month``: the next one to open; ``due_dates``: the date each month's call gave, when
    not the scheduled one (a catch-up call; pushed later by the days the lot spent suspended
    after the call, ``notices.owed_due_dates``); ``correction``: the month's page, where the company
    corrects what it declared (by form or file) until the facilitator validates it;
    ``owed_links``: the page of each month it still owes, so that a late company can catch up
    from the receipt (its older calls' links may have expired); ``replaces``: the month as it
    stood before, when this recording corrects it (its earlier receipt no longer holds);
    ``written_on``: the day the receipt is written, when not the day it was received (one
    written again while it waited): a month due before then is late, never « à envoyer au plus
    tard le » a date already past; ``correspondent``: the name the receipt greets, as the
    company's other emails do (« Bonjour Paul Lambert, »; none: « Bonjour Madame, Monsieur, »);
    ``receipt_left``: a receipt of the month as it stood before left (or may have): only then
    does this one say it cancels « le reçu précédent »; ``company_last``: the declared month is
    the company's last on the lot (it left the site), not the lot's: the receipt thanks it for
    its part, never « le dernier mois prévu de l'exécution » of works that go on. A month of
    ``due_dates`` dated None waits for the lot to resume (« vous sera demandée à la reprise »):
    it has no date, so it is neither late nor « à envoyer au plus tard le » a date."""
    owed_links = owed_links or {}
    due_dates = due_dates or {}

    def due(month: date) -> date | None:
        if month in due_dates and due_dates[month] is None:
            return None  # asked after the resumption: no date yet
        return due_dates.get(month) or due_date(month, due_day)

    def late(month: date) -> bool:
        due_on = due(month)
        return due_on is not None and due_on < written

    received_on = declaration.recorded_at.astimezone(zone).date()
    written_on = written = max(written_on or received_on, received_on)
    lines = [
        {
            "reference": line.reference,
            "hours": line.hours,
            "mode": label_of(DELIVERY_MODE_LABELS, line.delivery_mode),
            "contract": label_of(CONTRACT_LABELS, line.contract_type),
        }
        for line in declaration.lines
    ]
    return {
        "clause": lot_context(lot),
        "company": {"name": company},
        "correspondent": {"name": correspondent} if correspondent else None,
        "declaration": {
            "id": declaration.id,
            "month": declaration.month,
            "total_hours": declaration.total_hours,
            "lines_count": len(lines),
            "received_on": received_on,
            "entered_for_company": declaration.entered_for_company,
            "lines": lines,
        },
        "replaces": None
        if replaces is None
        else {
            "received_on": replaces.recorded_at.astimezone(zone).date(),
            "total_hours": replaces.total_hours,
            "receipt_left": receipt_left,
        },
        "cumulated": cumulated,
        "hours_share": hours_share,
        "missing": [
            {
                "month": month,
                "due_on": due(month),
                "late": late(month),
                "at_resumption": due(month) is None,
                "url": owed_links[month].url if month in owed_links else None,
            }
            for month in sorted(missing)
        ],
        "correction": None
        if correction is None
        else {"url": correction.url, "expires_on": correction.expires_on},
        "company_last": company_last,
        "next": None
        if next_month is None
        else {
            "month": next_month,
            "opens_on": opens_on(next_month),
            "due_on": due(next_month),
            "at_resumption": due(next_month) is None,
        },
    }


#: October 2026 declared by the holder, three people.
SAMPLE_DECLARATION = Declared(
    id=7,
    month=date(2026, 10, 1),
    total_hours=Decimal("312.5"),
    recorded_at=datetime(2026, 11, 6, 10, 12, tzinfo=UTC),
    lines=(
        DeclaredLine("P-2026-031", Decimal("151.67"), "direct_hiring", "cdd"),
        DeclaredLine("P-2026-044", Decimal("98.5"), "provision_etti", "temp_work"),
        DeclaredLine("P-2026-052", Decimal("62.33"), "direct_hiring", "apprenticeship"),
    ),
)


def sample(kind: str, settings: Settings) -> Sample:
    context = receipt_context(
        LOT,
        HOLDER.company,
        SAMPLE_DECLARATION,
        cumulated=Decimal("2450"),
        hours_share=HOLDER.hours_share,
        due_day=settings.declaration_due_day,
        zone=settings.zone,
        # A company that skipped two months: the receipt lists them (late) before the next.
        missing=[date(2026, 8, 1), date(2026, 9, 1)],
        owed_links={
            link.month: link
            for link in sample_links(
                settings.base_url,
                [date(2026, 8, 1), date(2026, 9, 1)],
                expiry(
                    SAMPLE_DECLARATION.recorded_at.astimezone(settings.zone).date(),
                    settings.link_days,
                ),
            )
        },
        next_month=date(2026, 11, 1),
        correction=sample_links(
            settings.base_url,
            [SAMPLE_DECLARATION.month],
            expiry(
                SAMPLE_DECLARATION.recorded_at.astimezone(settings.zone).date(),
                settings.link_days,
                due_date(SAMPLE_DECLARATION.month, settings.declaration_due_day),
            ),
        )[0],
        correspondent=HOLDER_CORRESPONDENT.name,
    )
    return Sample((HOLDER_CORRESPONDENT,), context)


FAMILY = EmailFamily("receipts", KINDS, sample)
