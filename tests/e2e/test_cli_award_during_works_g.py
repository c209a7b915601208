"""``clauses clause award`` run again on a lot in execution, as the facilitator types it: a
subcontractor joining during the works is added, declares from the current month or from
``--from MM/AAAA``, and its hours are accepted at import (user trial: « Refusé : … est à l'étape
« mise en œuvre » », then « n'est pas attributaire de la clause n° 1 »)."""

from __future__ import annotations

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_clause_corrections import award, emails, history, lot, ok, refused, utc
from tests.text import squash

__all__ = ["lot"]  # the fixture, shared


def test_a_subcontractor_joins_a_lot_in_execution_from_this_month_or_another(
    run: Invoke, clock: Clock, lot: dict[str, int]
) -> None:
    ok(award(run))
    clock.set(utc(2026, 3, 2, 9))
    ok(run("clause", "advance", "M-2026-01/1", "démarrer"))
    clock.set(utc(2026, 5, 18, 9))
    ok(run("mail", "send"))  # the buyer read the award notice long ago
    sent = emails(run)

    said = squash(ok(award(run, "--subcontractor", f"{lot['partner']}::200")))

    assert f"Attribution de la clause n° {lot['clause']} corrigée (donneur d'ordre prévenu)" in said
    assert (
        "- Insertion 32 : non attributaire → sous-traitant, 200\u00a0h d'insertion, "
        "correspondant : Inès Moreau, déclare à partir de mai 2026"
    ) in said
    new = emails(run)[len(sent) :]
    assert [kind for kind, _ in new] == ["notice_award_corrected", "company_welcome"]
    assert history(run, lot["clause"])[-1]["evenement"] == "award_corrected"

    # Given again with the month it really joined: nothing added, nothing to date.
    assert refused(
        award(run, "--subcontractor", f"{lot['partner']}::200", "--from", "04/2026")
    ) == (
        "Refusé : Premier mois des entreprises ajoutées : aucune entreprise n'est ajoutée, "
        "l'attribution est déjà enregistrée telle quelle."
    )
    assert "--from : «\u00a0avril\u00a0» n'est pas un mois" in refused(
        award(run, "--subcontractor", f"{lot['partner']}::200", "--from", "avril")
    )


def test_the_first_month_is_given_with_from(run: Invoke, clock: Clock, lot: dict[str, int]) -> None:
    ok(award(run))
    clock.set(utc(2026, 3, 2, 9))
    ok(run("clause", "advance", "M-2026-01/1", "démarrer"))
    clock.set(utc(2026, 5, 18, 9))

    ok(run("company", "add", "Peintures Ouest"))

    assert refused(award(run, "--subcontractor", "Peintures Ouest", "--from", "02/2026")) == (
        "Refusé : Premier mois des entreprises ajoutées : février 2026 est avant le démarrage "
        "du lot (mars 2026)."
    )
    said = squash(ok(award(run, "--subcontractor", f"{lot['partner']}::200", "--from", "04/2026")))
    assert "déclare à partir d'avril 2026" in said
