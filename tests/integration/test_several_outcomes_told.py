"""What the buyer and the funders are told of several outcomes of one person on one lot:

- the clause's results (the end-of-execution notice and the final report, « bilan de
  l'opération »): each participant once, by their latest outcome on the lot
  (``outcome_counts.latest_up_to``), so « Sorties des participants (N connues) » counts people,
  the groups and the types adding up to it;
- the annual report's note on outcomes says the rule.

On SQLite and PostgreSQL; the second outcome of a pair goes straight into the table (the
recording side is another change).
"""

from __future__ import annotations

from datetime import date

from tests.integration.test_declarations import ids
from tests.integration.test_several_outcomes import add_outcome, annual, careers, sample
from workflow.adapters.annual_report_files import footnotes, render_annual_report
from workflow.adapters.orm import Clause
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.emails.notices import results_context
from workflow.services.notices import clause_results

__all__ = ["sample"]  # the fixture, used by name


def test_the_buyer_reads_each_person_once_by_their_latest_outcome(sample: App) -> None:
    add_outcome(sample, "P-0007", OutcomeType.SHORT_TRAINING, date(2027, 3, 15))
    add_outcome(sample, "P-0007", OutcomeType.CDI, date(2027, 9, 20))
    add_outcome(sample, "P-0012", OutcomeType.QUALIFYING_TRAINING, date(2026, 11, 16))
    clause_id = ids(sample)[0]

    with sample.transaction() as session:
        clause = session.get_one(Clause, clause_id)
        results = clause_results(session, clause, sample.settings.outcome_groups)
        context = results_context(results, clause.hours_target)

    # Two people: P-0007 a CDI (not a CDI and a short training), P-0012 a qualifying training.
    assert [(c.label, c.value) for c in results.outcome_types] == [
        ("CDI", 1),
        ("Formation qualifiante", 1),
    ]
    groups = {c.label: c.value for c in results.outcomes}
    assert groups == {
        "Emploi durable": 1,
        "Emploi de transition": 0,
        "Sortie positive": 1,
        "Autre": 0,
    }
    assert context["outcomes_total"] == 2 == sum(c.value for c in results.outcome_types)


def test_the_annual_report_says_each_person_counts_once_by_their_latest_outcome(
    sample: App,
) -> None:
    careers(sample)

    report = annual(sample, 2027)
    text = render_annual_report(report, "text").decode()

    [note] = [n for n in footnotes(report) if n.startswith("Sorties : ")]
    assert note.startswith(
        "Sorties : sorties datées de 2027, chaque participant comptant une fois par clause, par "
        "sa dernière sortie de 2027 (une formation courte en mars puis un CDI en septembre : un "
        "CDI) ; classées par groupe"
    )
    assert " ".join(note.split()[:6]) in " ".join(text.split())
    assert "1 CDI, 1 CDD de moins de 6 mois" in text
