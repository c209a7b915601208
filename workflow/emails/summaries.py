"""The monthly summaries: the facilitator's (the whole territory) and each buyer's (its clauses).

``services.summaries`` compiles a ``MonthlySummary`` in SQL and decides when the emails leave;
this module says what their templates read and attaches the tables they shorten.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from workflow.adapters.mail.message import Attachment
from workflow.adapters.reports import EmailFiles, email_files, email_tables, figure_lines
from workflow.adapters.templates import french_date, french_hours
from workflow.domain.calendar import add_months
from workflow.domain.monthly_summary import (
    CHART_MONTHS,
    BuyerFigures,
    ClauseLine,
    Count,
    DeclarationChange,
    Declarations,
    Figures,
    MissingDeclaration,
    MonthHours,
    MonthlySummary,
    ParticipantCount,
    StageCount,
    outcome_tables,
)
from workflow.domain.summary import PACE_TOLERANCE, clause_progress, combine_progress
from workflow.domain.vocabulary import CRITERION_LABELS
from workflow.emails.envelope import Recipient
from workflow.emails.family import EmailFamily, Sample
from workflow.emails.phrases import month_phrase
from workflow.emails.samples import BUYER_CONTACT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND_FACILITATOR = "monthly_summary"
KIND_BUYER = "monthly_summary_buyer"
KINDS = (KIND_FACILITATOR, KIND_BUYER)


def summary_context(summary: MonthlySummary, files: EmailFiles | None = None) -> dict[str, Any]:
    """What the two summary templates read: the figures and ready-formatted tables; ``files``
    are the complete long tables attached to the email (``summary_email``)."""
    return {
        "month": summary.month,
        "buyer_name": summary.buyer_name,
        "figures": [{"label": label, "value": value} for label, value in figure_lines(summary)],
        "behind": summary.overall.progress.behind,
        "tolerance_points": int(PACE_TOLERANCE * 100),
        "tables": [
            {**table, "html": table_html(table)}
            for table in email_tables(summary, files.where if files else None)
        ],
        "files": files.names if files else [],
        "late": late_notice(summary),
        "changes": changes_notice(summary),
        "command": f"clauses summary --month {summary.month:%Y-%m}"
        + (f" --buyer {summary.buyer_id}" if summary.buyer_id else "")
        + " --format xlsx",
    }


NBSP = "\u00a0"


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    """``8 h``, ``10 h 15``: the local time of day as French writes it."""
    local = moment.astimezone(zone)
    minutes = f"{NBSP}{local.minute:02d}" if local.minute else ""
    return f"{local.hour}{NBSP}h{minutes}"


def _day(moment: datetime, zone: ZoneInfo) -> str:
    return french_date(moment.astimezone(zone).date())


def late_notice(summary: MonthlySummary) -> str | None:
    """« Cette synthèse aurait dû vous parvenir le 1er décembre 2026 ; le service était
    interrompu. Les chiffres sont ceux du 4 décembre 2026 à 10 h 15, moment où je l'ai
    établie. » for a summary built late after a stop of the service
    (``MonthlySummary.delayed_from``). Its figures are those of the moment it was built
    (``compiled_at``, the declarations received meanwhile counted), not of the planned one:
    said as it is."""
    planned, built = summary.delayed_from, summary.compiled_at
    if planned is None or built is None:
        return None
    zone = summary.zone
    return (
        f"Cette synthèse aurait dû vous parvenir le {_day(planned, zone)}{NBSP}; le service "
        f"était interrompu. Les chiffres sont ceux du {_day(built, zone)} à "
        f"{_clock(built, zone)}, moment où je l'ai établie."
    )


def _change_phrase(change: DeclarationChange, zone: ZoneInfo, with_buyer: bool) -> str:
    """« la déclaration d'octobre 2026 de Bâtiments Gascons SARL (clause n° 1) a été corrigée
    le 7 décembre 2026 : 370,17 h → 334,17 h »."""
    where = f"clause n° {change.clause_id}"
    if with_buyer and change.buyer:
        where += f", {change.buyer}"
    what = f"la déclaration {month_phrase(change.month)} de {change.company} ({where})"
    on = _day(change.changed_at, zone)
    before = french_hours(change.before)
    if change.after is None:
        return f"{what} a été annulée le {on}{NBSP}: ses {before} ne sont plus comptées"
    after = french_hours(change.after)
    if change.cancelled:
        return f"{what} a été annulée puis déclarée de nouveau le {on}{NBSP}: {before} → {after}"
    return f"{what} a été corrigée le {on}{NBSP}: {before} → {after}"


def changes_notice(summary: MonthlySummary) -> dict[str, Any] | None:
    """What changed since the recipient's previous summary in the declarations it counted
    (``MonthlySummary.changes``): one sentence for one change, else an opening sentence and a
    line per change (« – », never « - »: a hyphen line with « : » reads as a figure line)."""
    changes = summary.changes
    if not changes:
        return None
    zone, with_buyer = summary.zone, not summary.for_buyer
    phrases = [_change_phrase(c, zone, with_buyer) for c in changes]
    if len(phrases) == 1:
        return {
            "intro": f"Depuis ma synthèse précédente, {phrases[0]}{NBSP}; le cumul en tient compte.",
            "items": [],
        }
    items = [f"{p[:1].upper()}{p[1:]}{NBSP};" for p in phrases[:-1]]
    items.append(f"{phrases[-1][:1].upper()}{phrases[-1][1:]}.")
    return {
        "intro": (
            f"Depuis ma synthèse précédente, {len(phrases)} déclarations qu'elle comptait ont "
            f"changé{NBSP}; le cumul en tient compte{NBSP}:"
        ),
        "items": items,
    }


def table_html(table: dict[str, Any]) -> Markup:
    """One table of ``email_tables`` as HTML, the very bytes the loop of cells in
    ``monthly_summary/_tables.html`` wrote before (trimmed blocks: the tags' lines leave
    nothing), escaped as its autoescape did.

    Built here rather than by Jinja: for the thousand emails of a 10^5-lot territory (fifty
    lines of four cells each) the template's per-cell loop and branch cost three times what
    these string joins cost (BENCHMARKS.md, summaries). ``test_summary_email_bytes`` renders
    a territory's emails both ways and compares them byte for byte."""
    openings = ['<td class="num">' if n else _LABEL_CELL for n in table["numeric"]]
    parts = [
        f'<h2>{_escape(table["title"])}</h2>\n<table class="figures">\n  <tr>',
        *(f"<th>{_escape(column)}</th>" for column in table["columns"]),
        "</tr>\n",
    ]
    for row in table["rows"]:
        cells = "".join(
            f"{opening}{_escape(cell)}</td>" for opening, cell in zip(openings, row, strict=True)
        )
        parts.append(f"  <tr>{cells}</tr>\n")
    parts.append("</table>\n")
    if table["note"]:
        parts.append(f'<p class="muted">{_escape(table["note"])}</p>\n')
    return Markup("".join(parts))


def _escape(value: object) -> str:
    """What Jinja's autoescape writes for a value (``markupsafe.escape``: the same five
    characters, the same entities), without making a ``Markup`` of every cell."""
    return (
        str(value)
        .replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


#: A label cell of an email table: long names wrap anywhere rather than widen the message.
_LABEL_CELL = '<td style="overflow-wrap:anywhere;vertical-align:top">'


def summary_email(summary: MonthlySummary) -> tuple[dict[str, Any], tuple[Attachment, ...]]:
    """A summary email's context and attachments: the tables it shortens, complete, in CSV."""
    files = email_files(summary)
    return summary_context(summary, files), files.attachments


def sample_summary(buyer: bool = False) -> MonthlySummary:
    """A made-up summary for template previews: no database needed."""
    month = date(2026, 3, 1)
    progress = clause_progress(4725, Decimal("312.5"), Decimal("2140"), Decimal("0.5"))
    earlier = clause_progress(1200, Decimal(0), Decimal("1236.5"), Decimal(1))

    def people(code: str, label: str, new: int, active: int, cumulated: int) -> ParticipantCount:
        return ParticipantCount(code, label, new, active, cumulated)

    missing = MissingDeclaration(
        12, 1, "Département de l'Exemple", 7, "Gascogne Insertion Bâtiment", "2026-014", "3",
        "Gros œuvre",
    )  # fmt: skip
    by_type, by_group = outcome_tables({"cdi": (1, 1), "apprenticeship_contract": (0, 1)}, None)
    figures = Figures(
        progress=combine_progress([progress, earlier]),
        followed=1,
        declarations=Declarations(3, (missing,)),
        participants=people("all", "Ensemble", 2, 6, 9),
        by_criterion=(
            people("long_term_jobseeker", CRITERION_LABELS[next(iter(CRITERION_LABELS))], 1, 3, 4),
            people("minimum_income", "Bénéficiaire du RSA", 1, 3, 5),
        ),
        by_sex=(people("F", "Femmes", 1, 2, 3), people("M", "Hommes", 1, 4, 6)),
        by_age_band=(
            people("under_26", "Moins de 26 ans", 1, 2, 3),
            people("26_49", "26 à 49 ans", 1, 4, 6),
        ),
        hours_by_mode=(
            Count("direct_hiring", "Embauche directe", Decimal("312.5"), Decimal("3376.5")),
        ),
        contracts_by_type=(Count("cdd", "CDD", Decimal(3), Decimal(5)),),
        outcomes_by_type=by_type,
        outcomes_by_group=by_group,
        clauses_by_stage=(
            StageCount("execution", "mise en œuvre", 1),
            StageCount("closed", "clôturée", 1),
        ),
    )
    line = ClauseLine(
        12,
        1,
        "Département de l'Exemple",
        "2026-014",
        "3",
        "Gros œuvre",
        "execution",
        date(2025, 10, 1),
        date(2027, 3, 31),
        progress,
    )
    closed = ClauseLine(
        9, 1, "Département de l'Exemple", "2025-031", "", "Voirie", "closed",
        date(2025, 4, 1), date(2025, 12, 19), earlier, followed=False,
    )  # fmt: skip
    hours = tuple(
        MonthHours(add_months(month, i - CHART_MONTHS + 1), Decimal(40 * i))
        for i in range(CHART_MONTHS)
    )
    return MonthlySummary(
        month=month,
        buyer_id=1 if buyer else None,
        buyer_name="Département de l'Exemple" if buyer else None,
        compiled_at=datetime(2026, 4, 23, 5, 0, tzinfo=UTC),
        overall=figures,
        buyers=(BuyerFigures(1, "Département de l'Exemple", figures),),
        clauses=(line, closed),
        hours_by_month=hours,
        zone=ZoneInfo("Europe/Paris"),
    )


def sample(kind: str, settings: Settings) -> Sample:
    if kind == KIND_BUYER:
        return Sample((BUYER_CONTACT,), summary_context(sample_summary(buyer=True)))
    facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
    return Sample((facilitator,), summary_context(sample_summary()))


FAMILY = EmailFamily("summaries", KINDS, sample)
