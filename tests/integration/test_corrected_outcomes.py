"""A correction of a declaration says which outcomes it takes out of the figures or puts back,
as a cancellation does: an outcome counts while its participant has hours on its lot, and a month
recorded again without the person can take their last hours there.

On the sample territory (lot 01 of the middle school), on SQLite and PostgreSQL: October 2026
declared on 5 November with P-0007 and P-0012, P-0007's CDI recorded on the 10th. October
corrected through ``clauses declaration import --replace`` without P-0007: the command (text and
JSON) and the history row name the CDI, the annual report leaves it out and its total stays the
sum of its parts; corrected again with P-0007, the CDI counts again and the command says so. A
correction to zero (``clauses declaration zero --replace``) says it too; a correction that leaves
the person hours in another month says nothing.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock
from tests.integration.test_cancelled_outcomes import annual, by_group, by_type
from tests.integration.test_declaration_howto import lot_01
from tests.integration.test_declarations import ids
from tests.integration.test_online_declaration import (
    CALLED,
    TWO_PEOPLE,
    call_link,
    called_territory,
    form,
)
from tests.integration.test_outcomes_audit_and_cancel import (
    DECEMBER_1,
    DECEMBER_3,
    DECEMBER_4,
    NOVEMBER_5,
    NOVEMBER_10,
    cancel,
    declaration_file,
    declare,
    listed,
    october_summary_counting_the_cdi,
    outcomes_recompiled,
    record,
    remarks_on,
    run_cli,
    sample,  # noqa: F401 (fixture)
)
from workflow.adapters.orm import ClauseHistory
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.outcomes import OutcomeType
from workflow.entrypoints.web.site import create_site
from workflow.services.outcomes import record_outcome
from workflow.settings import Settings

CDI = OutcomeType.CDI.value
GONE = (
    "1 sortie (P-0007, CDI) n'est plus comptée tant que ses heures ne sont pas déclarées à nouveau."
)
BACK = "1 sortie (P-0007, CDI) est de nouveau comptée."
SHORT = "non comptée : aucune heure déclarée sur ce lot"
OCTOBER_OF = "déclaration d'octobre 2026 de Bâtiments Gascons SARL : "
#: How the history row keeps the reason the corrections below are imported with.
MOTIF = "motif : Erreur de saisie"


def last_declaration_history(app: App) -> str:
    with app.transaction() as session:
        reason = session.scalar(
            select(ClauseHistory.reason)
            .where(ClauseHistory.event == "declaration")
            .order_by(ClauseHistory.id.desc())
            .limit(1)
        )
    assert reason is not None
    return reason.replace("\u00a0", " ")


def declare_json(
    settings: Settings, clock: Clock, tmp_path: Path, month: str, **hours: str
) -> dict[str, Any]:
    path = declaration_file(tmp_path, month, {k.replace("_", "-"): v for k, v in hours.items()})
    text = run_cli(
        settings,
        clock,
        "declaration",
        "import",
        str(path),
        "--replace",
        "--reason",
        "Erreur de saisie",
        "--json",
    )
    [declared] = json.loads(text)["declarations"]
    assert isinstance(declared, dict)
    return declared


def outcome_figures(app: App) -> tuple[int, dict[str, int], int, int]:
    """The annual report's outcome total, its types with a count, and the sums of its types and
    of its groups (each equal to the total for the recipient)."""
    report = annual(app)
    types, groups = by_type(report), by_group(report)
    return report.outcomes, types, sum(types.values()), sum(groups.values())


def october_with_the_cdi(app: App, settings: Settings, clock: Clock, tmp_path: Path) -> None:
    declare(settings, clock, tmp_path, NOVEMBER_5, "10/2026", P_0007="151,67", P_0012="98,5")
    record(app, "P-0007", OutcomeType.CDI, date(2026, 10, 30), NOVEMBER_10)
    total, types, *sums = outcome_figures(app)
    assert (total, types, sums) == (1, {CDI: 1}, [1, 1])


def test_a_correction_without_the_person_says_their_outcome_no_longer_counts_then_again(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)

    said = declare(settings, clock, tmp_path, DECEMBER_3, "10/2026", P_0012="98,5")

    assert "Déclaration d'octobre 2026 remplacée" in said
    assert said.endswith(GONE)
    assert (
        last_declaration_history(sample)
        == f"{OCTOBER_OF}98,50 h (remplace 250,17 h, {MOTIF}) – {GONE}"
    )
    assert listed(sample) == {"P-0007": (False, SHORT)}
    total, types, *sums = outcome_figures(sample)
    assert (total, types, sums) == (0, {}, [0, 0])

    clock.set(DECEMBER_4)
    again = declare_json(settings, clock, tmp_path, "10/2026", P_0007="151,67", P_0012="98,5")

    assert again["sorties_non_comptees"] == []
    assert again["sorties_de_nouveau_comptees"] == [
        {"participant": "P-0007", "type_libelle": "CDI"}
    ]
    assert again["sorties_message"] == BACK
    assert (
        last_declaration_history(sample)
        == f"{OCTOBER_OF}250,17 h (remplace 98,50 h, {MOTIF}) – {BACK}"
    )
    assert listed(sample) == {"P-0007": (True, None)}
    total, types, *sums = outcome_figures(sample)
    assert (total, types, sums) == (1, {CDI: 1}, [1, 1])
    # The audit still reads the history rows that say so: no problem filed.
    assert verify_database(sample).findings == ()


def test_the_json_of_a_correction_names_the_outcome_it_takes_out(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)

    declared = declare_json(settings, clock, tmp_path, "10/2026", P_0012="98,5")

    assert declared["remplacee"] is True
    assert declared["sorties_non_comptees"] == [{"participant": "P-0007", "type_libelle": "CDI"}]
    assert declared["sorties_de_nouveau_comptees"] == []
    assert declared["sorties_message"] == GONE


def test_a_correction_to_zero_says_which_outcomes_stop_counting(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    october_with_the_cdi(sample, settings, clock, tmp_path)
    clock.set(DECEMBER_3)
    clause_id, company_id = ids(sample)
    zero = (
        "declaration", "zero", "--clause", str(clause_id), "--company", str(company_id),
        "--month", "10/2026", "--replace", "--reason", "Erreur de saisie",
    )  # fmt: skip

    said = run_cli(settings, clock, *zero)

    assert said.startswith("Déclaration d'octobre 2026 à zéro heure enregistrée")
    assert said.endswith(GONE)
    assert last_declaration_history(sample) == (
        f"{OCTOBER_OF}0 h (remplace 250,17 h, motif : Erreur de saisie) – {GONE}"
    )
    total, types, *sums = outcome_figures(sample)
    assert (total, types, sums) == (0, {}, [0, 0])


def test_a_correction_that_leaves_the_person_other_hours_says_nothing(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """P-0007 worked in November too: October corrected without them keeps the CDI counted."""
    october_with_the_cdi(sample, settings, clock, tmp_path)
    declare(settings, clock, tmp_path, DECEMBER_1, "11/2026", P_0007="35")

    said = declare(settings, clock, tmp_path, DECEMBER_3, "10/2026", P_0012="98,5")

    assert "sortie" not in said
    assert " – " not in last_declaration_history(sample)
    total, types, *sums = outcome_figures(sample)
    assert (total, types, sums) == (1, {CDI: 1}, [1, 1])


def test_a_correction_that_uncounts_nothing_still_explains_a_summary_sent_before(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """Why the audit lets any correction explain the outcome tables, not only one that says it
    took an outcome out: a summary recompiled for its moment reads the declarations known then
    (recorded by then), and a corrected one carries its correction's instant. P-0012's hours
    corrected, P-0007's kept: the CDI still counts now, yet not in October as known on 23
    November."""
    key = october_summary_counting_the_cdi(sample, settings, clock, tmp_path)

    said = declare(settings, clock, tmp_path, DECEMBER_3, "10/2026", P_0007="151,67", P_0012="90")

    assert "sortie" not in said
    assert listed(sample) == {"P-0007": (True, None)}
    assert outcomes_recompiled(sample) == {}
    [remark] = remarks_on(sample, key)
    assert "corrigée le 03/12/2026 à 10:00" in remark


def history_id_of_last(app: App, event: str) -> int:
    with app.transaction() as session:
        found = session.scalar(
            select(ClauseHistory.id)
            .where(ClauseHistory.event == event)
            .order_by(ClauseHistory.id.desc())
            .limit(1)
        )
    assert found is not None
    return found


def test_the_audit_remark_says_what_a_correction_did_to_the_outcomes(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    key = october_summary_counting_the_cdi(sample, settings, clock, tmp_path)

    declare(settings, clock, tmp_path, DECEMBER_3, "10/2026", P_0012="98,5")

    row = history_id_of_last(sample, "declaration")
    [remark] = remarks_on(sample, key)
    assert remark.endswith(
        f"corrigée le 03/12/2026 à 10:00 (ligne d'historique n° {row} ; motif : Erreur de "
        f"saisie) – {GONE.rstrip('.')}"
    )


def test_the_audit_remark_says_what_a_cancellation_did_to_the_outcomes(
    sample: App,  # noqa: F811
    settings: Settings,
    clock: Clock,
    tmp_path: Path,
) -> None:
    key = october_summary_counting_the_cdi(sample, settings, clock, tmp_path)

    cancel(settings, clock, sample, DECEMBER_3, "10/2026")

    row = history_id_of_last(sample, "declaration_cancelled")
    [remark] = remarks_on(sample, key)
    assert remark.endswith(
        f"annulée le 03/12/2026 à 10:00 (ligne d'historique n° {row}) – {GONE.rstrip('.')}"
    )


def test_a_correction_from_the_companys_link_leaves_it_in_the_history(
    app: App, clock: Clock
) -> None:
    """The company corrects April on its page without P-WEB-2, whose temp work the facilitator
    recorded: the page is the company's, the history row (the facilitator's) names it."""
    called_territory(app, clock)
    clause_id, holder_id, _ = lot_01(app)
    path = call_link(app, clause_id, holder_id)
    client = TestClient(create_site(app))
    client.post(path, data=form(TWO_PEOPLE, "confirmer"))
    clock.set(CALLED + timedelta(hours=1))
    with app.transaction() as session:
        record_outcome(
            session, reference="P-WEB-2", clause_id=clause_id,
            outcome_type=OutcomeType.SHORT_TEMP_WORK, on=date(2026, 4, 30),
            actor="Camille Martin", now=clock(), zone=app.settings.zone,
        )  # fmt: skip
    clock.set(CALLED + timedelta(hours=2))

    client.post(path, data=form({**TWO_PEOPLE, "hours": ["140", ""]}, "confirmer"))

    assert last_declaration_history(app).endswith(
        " – 1 sortie (P-WEB-2, Intérim de moins de 6 mois) n'est plus comptée tant que ses "
        "heures ne sont pas déclarées à nouveau."
    )
