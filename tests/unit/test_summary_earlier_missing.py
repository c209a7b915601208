"""The declarations of earlier months still missing, as a summary writes them: the months
named, the headline capped, the email's table cut with the rest attached."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from workflow.adapters.reports import (
    EARLIER_TITLE,
    EMAIL_NAMES,
    EMAIL_ROWS,
    LongTable,
    build_tables,
    earlier_phrase,
    email_files,
    email_tables,
    figure_lines,
    months_listed,
)
from workflow.domain.monthly_summary import (
    Declarations,
    EarlierMissing,
    Figures,
    MonthlySummary,
    ParticipantCount,
)
from workflow.domain.summary import combine_progress

APR, MAY, JUN = (date(2026, m, 1) for m in (4, 5, 6))


def line(n: int, months: tuple[date, ...] = (APR, MAY)) -> EarlierMissing:
    return EarlierMissing(n, 1, "Ville", 100 + n, f"Entreprise {n:03}", "M-1", "1", "Gros œuvre",
                          months)  # fmt: skip


def summary(*earlier: EarlierMissing) -> MonthlySummary:
    figures = Figures(
        progress=combine_progress(()),
        followed=0,
        declarations=Declarations(1, (), (), tuple(earlier)),
        participants=ParticipantCount("all", "Ensemble", 0, 0, 0),
        by_criterion=(),
        by_sex=(),
        by_age_band=(),
        hours_by_mode=(),
        contracts_by_type=(),
        outcomes_by_type=(),
        outcomes_by_group=(),
        clauses_by_stage=(),
    )
    return MonthlySummary(JUN, 1, "Ville", None, figures, (), (), ())


def test_months_are_named_as_french_says_them() -> None:
    assert months_listed([APR]) == "avril 2026"
    assert months_listed([MAY, APR]) == "avril et mai 2026"
    assert months_listed([APR, MAY, JUN]) == "avril, mai et juin 2026"
    assert months_listed([APR, MAY, JUN, date(2026, 7, 1)]) == "d'avril à juillet 2026"
    assert months_listed([date(2026, 12, 1), date(2027, 1, 1)]) == "décembre 2026 et janvier 2027"
    assert months_listed([APR, JUN]) == "avril et juin 2026"  # May received: never said missing


def test_the_headline_counts_months_and_names_the_first_companies() -> None:
    one = summary(line(1))
    figures = dict(figure_lines(one))
    assert (
        figures[EARLIER_TITLE] == "2 ; Entreprise 001 (M-1 lot 1 – Gros œuvre) : avril et mai 2026"
    )
    # The month's own figure is unchanged: one expected, one received.
    assert figures["Déclarations de juin 2026"] == "toutes reçues (1 sur 1)"
    many = summary(*(line(n) for n in range(EMAIL_NAMES + 3)))
    said = earlier_phrase(many.overall.declarations, with_buyer=False)
    assert said.startswith(f"{2 * (EMAIL_NAMES + 3)} ; ")
    assert said.endswith("et 3 autres entreprises ou lots, dans le tableau des mois précédents")
    assert said.count("Entreprise ") == EMAIL_NAMES
    # Nothing earlier missing: no line at all.
    none = replace(one, overall=replace(one.overall, declarations=Declarations(1, ())))
    assert EARLIER_TITLE not in dict(figure_lines(none))


def test_the_email_cuts_the_table_and_attaches_all_of_it() -> None:
    big = summary(*(line(n) for n in range(EMAIL_ROWS + 5)))
    files = email_files(big)
    (table,) = [t for t in email_tables(big, files.where) if t["title"] == EARLIER_TITLE]
    assert "… et 5 autres" in table["text"]
    assert "synthese-2026-06-declarations-mois-precedents.csv" in (table["note"] or "")
    (attached,) = [a for a in files.attachments if LongTable.EARLIER.value in a.filename]
    rows = attached.content.decode("utf-8-sig").splitlines()
    assert len(rows) == 1 + EMAIL_ROWS + 5
    assert rows[1].endswith(";avril et mai 2026;2")
    sheets = {t.sheet: t for t in build_tables(big)}
    assert len(sheets["Mois précédents manquants"].rows) == EMAIL_ROWS + 5
    # Without any, the spreadsheet keeps its sheets.
    assert "Mois précédents manquants" not in {t.sheet for t in build_tables(summary())}
