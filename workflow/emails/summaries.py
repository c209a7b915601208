"""The monthly summaries: the facilitator's (the whole territory) and each buyer's (its clauses).

``services.summaries`` compiles a ``MonthlySummary`` in SQL and decides when the emails leave;
this module says what their templates read and attaches the tables they shorten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from workflow.adapters.mail.message import Attachment
from workflow.adapters.reports import (
    EmailFiles,
    email_files,
    email_tables,
    figure_lines,
    judged,
    judged_lots,
)
from workflow.adapters.templates import french_date, french_hours, french_month, plain_table
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
from workflow.emails.phrases import month_phrase, months_phrase
from workflow.emails.samples import BUYER_CONTACT

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND_FACILITATOR = "monthly_summary"
KIND_BUYER = "monthly_summary_buyer"
KINDS = (KIND_FACILITATOR, KIND_BUYER)


def summary_context(
    summary: MonthlySummary, files: EmailFiles | None = None, since: SinceLast | None = None
) -> dict[str, Any]:
    """What the two summary templates read: the figures and ready-formatted tables; ``files``
    are the complete long tables attached to the email (``summary_email``); ``since``: what
    changed since the recipient's previous summary (``services.summaries.since_last``)."""
    # The lots whose pace is judged, and the overall progress so judged, worked out once for
    # the headline, the alert and the tables.
    paced = judged_lots(summary)
    progress = judged(summary.overall, paced)
    return {
        "month": summary.month,
        "buyer_name": summary.buyer_name,
        "figures": [
            {"label": label, "value": value}
            for label, value in figure_lines(summary, progress=progress)
        ],
        # As the « Rythme » line says it: no alert while declarations it waits for are not in.
        "behind": progress.behind,
        "tolerance_points": int(PACE_TOLERANCE * 100),
        "tables": [
            {**table, "html": table_html(table)}
            for table in email_tables(summary, files.where if files else None, paced=paced)
        ],
        "files": files.names if files else [],
        "late": late_notice(summary),
        "unsent": unsent_notice(summary, since),
        "changes": changes_notice(summary, since),
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


@dataclass(frozen=True)
class LateArrival:
    """A declaration of a month the recipient's previous summary covered (or of a month since
    whose summary the recipient did not get), not counted by that summary and counted by this
    one: it arrived after it. Its hours are in this summary's cumulated figure, the previous
    one's did not have them: said, so that « previous cumul + this month + what changed » is
    this cumul (user trial: March's summary carried 114,50 h of a January declaration
    unexplained)."""

    clause_id: int
    buyer_id: int
    buyer: str
    company: str
    month: date
    hours: Decimal
    #: Its first recording after the previous summary's moment.
    arrived_at: datetime
    #: How the summary's tables name its lot (``DeclarationChange.lot``); "" when unknown.
    lot: str = ""
    #: Corrected after it arrived and before this summary: the hours it arrived with and when
    #: it was last corrected (« arrivée le 22 mars (50,25 h), corrigée le 2 avril : 55,25 h »);
    #: None when it still has the hours it arrived with (``hours``).
    arrived_hours: Decimal | None = None
    corrected_at: datetime | None = None
    #: Arrived after the due date its company was held to (``services.summaries.CalledMonth``):
    #: only then « en retard ». False for one that came by the date its call gave, or before
    #: its call left (a late start's catch-up call gives the earlier months a later date): it
    #: arrived « sans retard », and « en retard » would blame a company that kept its date.
    #: None when nothing says (no call ever made for its month, and the previous summary did
    #: not call it « manquante »): no adverb on its line, counted neither late nor on time. A
    #: month with no call that the previous summary called « manquante » (no call planned:
    #: lots loaded by hand, months from before the service) is True: « sans retard » would
    #: contradict what its reader read.
    late: bool | None = True


@dataclass(frozen=True)
class UnsentMonth:
    """A month after the recipient's previous summary and before this one's with no summary
    to it: ``skipped`` when the service claimed it as not sent (``monthly_summary_skipped``:
    it was interrupted), else one the recipient was not written for (nothing of its lots was
    followed then, or the email never left). ``hours``: its hours in this summary."""

    month: date
    hours: Decimal
    skipped: bool


@dataclass(frozen=True)
class SinceLast:
    """What changed between the recipient's previous summary and this one beyond this month's
    hours (``services.summaries.since_last``): previous cumul + this month's hours + the hours
    of ``unsent`` + ``arrivals`` + the differences of ``changes`` = this cumul."""

    #: The previous summary's month and when it left (None: none yet to this recipient).
    month: date | None = None
    left_at: datetime | None = None
    #: False: written and not yet sent (« établie le », not « envoyée le »).
    sent: bool = True
    changes: tuple[DeclarationChange, ...] = ()
    arrivals: tuple[LateArrival, ...] = ()
    unsent: tuple[UnsentMonth, ...] = ()

    @property
    def listed_hours(self) -> Decimal:
        """The hours this notice accounts for: arrivals, corrections, cancellations and the
        months without a summary."""
        moved = sum(((c.after or Decimal(0)) - c.before for c in self.changes), Decimal(0))
        arrived = sum((a.hours for a in self.arrivals), Decimal(0))
        return moved + arrived + sum((u.hours for u in self.unsent), Decimal(0))

    def __bool__(self) -> bool:
        return bool(self.changes or self.arrivals or self.unsent)


#: The declarations named one by one in a notice; the others are counted with their hours.
LISTED = 8


def _where(clause_id: int, buyer: str, with_buyer: bool, lot: str) -> str:
    """The lot as the summary's tables name it: « 2026-014 lot 05 – Peinture intérieure » for a
    buyer (« clause n° 4 » beside « lot 05 » read as two lots), the clause number first for the
    facilitator, who works by it, with the buyer."""
    if not with_buyer:
        return lot or f"clause n°{NBSP}{clause_id}"
    where = f"clause n°{NBSP}{clause_id}" + (f" – {lot}" if lot else "")
    return f"{where}, {buyer}" if buyer else where


def _change_phrase(change: DeclarationChange, zone: ZoneInfo, with_buyer: bool) -> str:
    """« la déclaration d'octobre 2026 de Bâtiments Gascons SARL (clause n° 1) a été corrigée
    le 7 décembre 2026 : 370,17 h → 334,17 h »."""
    where = _where(change.clause_id, change.buyer, with_buyer, change.lot)
    what = f"la déclaration {month_phrase(change.month)} de {change.company} ({where})"
    on = _day(change.changed_at, zone)
    before = french_hours(change.before)
    if change.after is None:
        return f"{what} a été annulée le {on}{NBSP}: ses {before} ne sont plus comptées"
    after = french_hours(change.after)
    if change.cancelled:
        return f"{what} a été annulée puis déclarée de nouveau le {on}{NBSP}: {before} → {after}"
    return f"{what} a été corrigée le {on}{NBSP}: {before} → {after}"


def _arrival_phrase(
    arrival: LateArrival,
    zone: ZoneInfo,
    with_buyer: bool,
    left_at: datetime | None = None,
    *,
    late_said: bool = False,
    on_time_said: bool = True,
) -> str:
    """« la déclaration de janvier 2027 de Charpentes de l'Arrats (clause n° 2) est arrivée le
    5 mars 2027 : 114,50 h »; « le 22 mars 2027 à 11 h 15 » when it arrived on the day the
    previous summary left (``left_at``): the day alone would read as if it had been in it.
    Corrected since it arrived: « est arrivée le 22 mars 2027 (50,25 h), corrigée le 2 avril
    2027 : 55,25 h ». One of 0 h says so (« : 0 h »): it adds nothing to the cumul, but the
    reader counted its month among the missing ones.

    One that arrived before the date its company was held to says so, « est arrivée sans retard
    le 5 mars 2027 » (``LateArrival.late``), but in a list whose opening says it of them all
    (``on_time_said`` False); a late one says « en retard » in a list where some arrived late
    and others not (``late_said``), the opening saying how many. One nothing says of
    (``late`` None) says neither."""
    where = _where(arrival.clause_id, arrival.buyer, with_buyer, arrival.lot)
    when = _day(arrival.arrived_at, zone)
    if arrival.late is False and on_time_said:
        when = f"sans retard le {when}"
    elif arrival.late is True and late_said:
        when = f"en retard le {when}"
    else:
        when = f"le {when}"
    if _same_day(arrival.arrived_at, left_at, zone):
        when += f" à {_clock(arrival.arrived_at, zone)}"
    if arrival.arrived_hours is not None and arrival.corrected_at is not None:
        when += (
            f" ({french_hours(arrival.arrived_hours)}), corrigée le "
            f"{_day(arrival.corrected_at, zone)}"
        )
    return (
        f"la déclaration {month_phrase(arrival.month)} de {arrival.company} ({where}) est "
        f"arrivée {when}{NBSP}: {french_hours(arrival.hours)}"
    )


def _late(arrivals: list[LateArrival]) -> int:
    """How many arrived late (``LateArrival.late`` True; None is neither late nor on time)."""
    return sum(1 for a in arrivals if a.late is True)


def _lateness(arrivals: list[LateArrival]) -> str:
    """How the arrivals came, said of them all: « en retard » when each did, « sans retard »
    when each came on time (``late`` False, never None: nothing says it of that one); ""
    otherwise (each one then says what is known of it)."""
    if _late(arrivals) == len(arrivals):
        return " en retard"
    return " sans retard" if all(a.late is False for a in arrivals) else ""


def _signed(hours: Decimal) -> str:
    """« +12 h », « −30 h » (a true minus sign)."""
    return ("−" if hours < 0 else "+") + french_hours(abs(hours))


def _others(changes: list[DeclarationChange], arrivals: list[LateArrival]) -> list[str]:
    """The declarations past ``LISTED``, counted with their hours: « 12 autres déclarations
    arrivées en retard (318 h) » (« sans retard » when each came on time), « 12 autres
    déclarations arrivées depuis (318 h), dont 9 en retard » when some were (the hours those of
    the twelve, not of the nine), « 3 autres déclarations corrigées ou annulées (−30 h) »."""
    said = []
    if arrivals:
        hours = f" ({french_hours(sum((a.hours for a in arrivals), Decimal(0)))})"
        one = len(arrivals) == 1
        how = _lateness(arrivals)
        if how:
            how += hours
        else:
            late = _late(arrivals)
            how = f" depuis{hours}" + (f", dont {late} en retard" if late else "")
        said.append(
            f"{len(arrivals)} {'autre déclaration arrivée' if one else 'autres déclarations arrivées'}"
            f"{how}"
        )
    if changes:
        moved = sum(((c.after or Decimal(0)) - c.before for c in changes), Decimal(0))
        one = len(changes) == 1
        said.append(
            f"{len(changes)} {'autre déclaration corrigée' if one else 'autres déclarations corrigées'} "
            f"ou {'annulée' if one else 'annulées'} ({_signed(moved)})"
        )
    return said


def _months_and(months: list[str]) -> str:
    return months[0] if len(months) == 1 else ", ".join(months[:-1]) + " et " + months[-1]


def unsent_notice(summary: MonthlySummary, since: SinceLast | None) -> str | None:
    """The months since the recipient's previous summary that had none: « Depuis ma synthèse
    de septembre 2026 (envoyée le 22 octobre 2026), les synthèses d'octobre et de novembre
    2026 ne sont pas parties : le service était interrompu. Leurs heures (octobre 2026 : 120 h ;
    novembre 2026 : 80 h) sont comprises dans le cumul ; je vous les envoie sur simple
    demande. » (the facilitator reads the commands that produce them), and the hours of a month
    the recipient was not written for (« vous n'avez pas reçu de synthèse d'octobre 2026 »)."""
    if since is None or not since.unsent:
        return None
    said = []
    skipped = [u for u in since.unsent if u.skipped]
    if skipped:
        one = len(skipped) == 1
        hours = f"{NBSP}; ".join(
            f"{french_month(u.month)}{NBSP}: {french_hours(u.hours)}" for u in skipped
        )
        if summary.for_buyer:
            where = "dans le cumul"
            ask = f"je vous {'l' + chr(39) if one else 'les '}envoie sur simple demande"
        else:
            where = f"dans le cumul et dans le tableau «{NBSP}Heures par mois{NBSP}» du tableur"
            commands = ", ".join(f"clauses summary --month {u.month:%Y-%m}" for u in skipped)
            each = "elle se produit" if one else "chacune se produit"
            ask = f"{each} sur demande{NBSP}: {commands}"
        said.append(
            f"{'la synthèse' if one else 'les synthèses'} "
            f"{months_phrase([u.month for u in skipped])} "
            f"{'n' + chr(39) + 'est pas partie' if one else 'ne sont pas parties'}{NBSP}: le "
            f"service était interrompu. {'Ses' if one else 'Leurs'} heures ({hours}) sont "
            f"comprises {where}{NBSP}; {ask}."
        )
    others = [u for u in since.unsent if not u.skipped]
    if others:
        one = len(others) == 1
        hours = f"{NBSP}; ".join(
            f"{french_month(u.month)}{NBSP}: {french_hours(u.hours)}" for u in others
        )
        said.append(
            f"vous n'avez pas reçu de synthèse {months_phrase([u.month for u in others])}"
            f"{NBSP}; {'ses' if one else 'leurs'} heures ({hours}) sont comprises dans le cumul."
        )
    first = said[0]
    if since.month is not None:
        said[0] = f"{_previous_phrase(since, summary.zone)}, {first}"
    else:
        said[0] = f"{first[:1].upper()}{first[1:]}"
    return " ".join(f"{p[:1].upper()}{p[1:]}" for p in said)


def _previous_phrase(since: SinceLast, zone: ZoneInfo) -> str:
    """« Depuis ma synthèse de février 2027 (envoyée le 22 mars 2027) », « (envoyée le 22 mars
    2027 à 7 h) » when a declaration listed arrived later that day (``_arrival_phrase``)."""
    if since.month is None:
        return "Depuis ma synthèse précédente"
    phrase = f"Depuis ma synthèse {month_phrase(since.month)}"
    left = since.left_at
    if left is not None:
        verb = "envoyée" if since.sent else "établie"
        when = _day(left, zone)
        if any(_same_day(a.arrived_at, left, zone) for a in since.arrivals):
            when += f" à {_clock(left, zone)}"
        phrase += f" ({verb} le {when})"
    return phrase


def _same_day(one: datetime, other: datetime | None, zone: ZoneInfo) -> bool:
    return other is not None and one.astimezone(zone).date() == other.astimezone(zone).date()


def changes_notice(
    summary: MonthlySummary, since: SinceLast | None = None
) -> dict[str, Any] | None:
    """What changed since the recipient's previous summary in the declarations of the months
    it covered: corrected or cancelled (``SinceLast.changes``, else ``MonthlySummary.changes``)
    and arrived since (``SinceLast.arrivals``). One sentence for one declaration, else an
    opening sentence and a line each, the first ``LISTED`` named and the others counted with
    their hours (« – », never « - »: a hyphen line with « : » reads as a figure line)."""
    if since is None:
        since = SinceLast(changes=summary.changes)
    changes, arrivals = list(since.changes), list(since.arrivals)
    if not changes and not arrivals:
        return None
    zone, with_buyer = summary.zone, not summary.for_buyer
    # Corrections and cancellations first: they explain a cumul gone down.
    named_changes = changes[:LISTED]
    named_arrivals = arrivals[: max(LISTED - len(named_changes), 0)]
    # How they arrived, said once by the opening when the same for all; some late and others
    # not, each named one says which (the opening says how many). Alone, one on time says so.
    how = _lateness(arrivals) if arrivals else " en retard"
    single = len(changes) + len(arrivals) == 1
    phrases = [_change_phrase(c, zone, with_buyer) for c in named_changes]
    phrases += [
        _arrival_phrase(
            a, zone, with_buyer, since.left_at, late_said=not how, on_time_said=single or not how
        )
        for a in named_arrivals
    ]
    rest = _others(changes[len(named_changes) :], arrivals[len(named_arrivals) :])
    # Said once: after the months without a summary, « cette synthèse » is the one they named.
    opening = (
        "Depuis cette synthèse"
        if since.unsent and since.month
        else _previous_phrase(since, summary.zone)
    )
    if single:
        if not arrivals:
            counted = f"{NBSP}; le cumul en tient compte"
        else:
            # 0 h: nothing to count in the cumul, the month is no longer missing.
            counted = ", comptées dans le cumul" if arrivals[0].hours else ""
        return {"intro": f"{opening}, {phrases[0]}{counted}.", "items": []}
    count = len(changes) + len(arrivals)
    # Those of 0 h counted apart: the reader finds them among the months missing before. Said
    # « en retard » only of those that came after the date their company was held to: all of
    # them, all on time (« sans retard »), or how many (« dont 2 en retard »); those nothing
    # says of (``late`` None) are neither.
    zero = sum(1 for a in arrivals if not a.hours)
    among = [f"{zero} à 0{NBSP}h"] if zero else []
    late = _late(arrivals)
    if arrivals and not how and late:
        arrived = "" if not changes else (" arrivée" if late == 1 else " arrivées")
        among.insert(0, f"{late}{arrived} en retard")
    of_them = f" (dont {' et '.join(among)})" if among else ""
    if not arrivals:
        what = f"{count} déclarations qu'elle avait comptées ont été corrigées ou annulées"
    elif not changes:
        what = f"{count} déclarations des mois qu'elle couvrait sont arrivées{how}{of_them}"
    else:
        what = (
            f"{count} déclarations des mois qu'elle couvrait ont été corrigées, annulées ou "
            f"sont arrivées{how}{of_them}"
        )
    lines = phrases + [f"et {r}" for r in rest]
    items = [f"{p[:1].upper()}{p[1:]}{NBSP};" for p in lines[:-1]]
    items.append(f"{lines[-1][:1].upper()}{lines[-1][1:]}.")
    return {
        "intro": f"{opening}, {what}{NBSP}; le cumul en tient compte{NBSP}:",
        "items": items,
    }


def table_html(table: dict[str, Any]) -> Markup:
    """One table of ``email_tables`` as HTML, the very bytes the loop of cells in
    ``monthly_summary/_tables.html`` wrote before (trimmed blocks: the tags' lines leave
    nothing), escaped as its autoescape did.

    Built here rather than by Jinja: for the thousand emails of a 10^5-lot territory (fifty
    lines of four cells each) the template's per-cell loop and branch cost three times what
    these string joins cost (BENCHMARKS.md, summaries). The cells of the table are escaped
    together and each line written by one format. ``test_summary_email_bytes`` renders a
    territory's emails both ways and compares them byte for byte.

    The ``<table>`` element is noted as a plain table (``templates.plain_table``): the renderer
    inlines its CSS without handing its cells to the inliner, for the same bytes
    (``test_inline_tables``)."""
    width = len(table["columns"])
    line = (
        "<tr>"
        + "".join(
            (_NUM_CELL if numeric else _LABEL_CELL) + "{}</td>" for numeric in table["numeric"]
        )
        + "</tr>\n  "
    )
    cells = _escape_all([cell for row in table["rows"] for cell in row])
    head = "".join(["<tr>", *(f"<th>{_escape(c)}</th>" for c in table["columns"]), "</tr>\n"])
    for row in table["rows"]:
        if len(row) != width:
            raise ValueError(f"a line of {len(row)} cells in a table of {width} columns")
    # Each line ends as the next begins (« \n  <tr> »), the last one with « \n ».
    body = "".join([line.format(*cells[i : i + width]) for i in range(0, len(cells), width)])
    parts = [(head, ("<th>",) * bool(width))]
    if body:
        parts = [
            (head + "  ", parts[0][1]),
            (
                body[:-2],
                tuple(dict.fromkeys(_NUM_CELL if n else _LABEL_CELL for n in table["numeric"])),
            ),
        ]
    element = plain_table(_FIGURES, "\n  ", "<tr>", *parts)
    note = f'<p class="muted">{_escape(table["note"])}</p>\n' if table["note"] else ""
    return Markup(f"<h2>{_escape(table['title'])}</h2>\n{element}\n{note}")


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


#: Between the cells escaped together: no text of a summary holds it (a cell that did would be
#: escaped on its own).
_APART = "\x00"


def _escape_all(values: list[Any]) -> list[str]:
    """``_escape`` of each value, the values escaped as one text (five replacements for a
    table, not for each of its cells): each replaced character is one of a single value."""
    escaped = _escape(_APART.join(map(str, values))).split(_APART)
    if len(escaped) != len(values):  # a value held the separator
        return [_escape(v) for v in values]
    return escaped


#: A label cell of an email table: long names wrap anywhere rather than widen the message.
_LABEL_CELL = '<td style="overflow-wrap:anywhere;vertical-align:top">'
_NUM_CELL = '<td class="num">'
_FIGURES = '<table class="figures">'


def summary_email(
    summary: MonthlySummary, since: SinceLast | None = None
) -> tuple[dict[str, Any], tuple[Attachment, ...]]:
    """A summary email's context and attachments: the tables it shortens, complete, in CSV."""
    files = email_files(summary)
    return summary_context(summary, files, since), files.attachments


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
