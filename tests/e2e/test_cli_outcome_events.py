"""Outcomes are dated events: ``clauses participant outcome`` adds another one (a short training
in March, a CDI in September), ``outcome-fix`` and ``outcome-remove`` correct or withdraw one by
its N° with a reason the clause's history keeps, and a closed clause still takes them."""

from __future__ import annotations

import json

from click.testing import Result

from tests.e2e.conftest import Invoke
from tests.e2e.test_cli_participants import declared, outcome

__all__ = ["declared"]  # the fixture, imported to be used here

NBSP = "\u00a0"


def listed(run: Invoke, reference: str = "P-0007") -> list[dict[str, object]]:
    data = json.loads(run("participant", "list", "--json").stdout)
    [person] = [p for p in data if p["reference"] == reference]
    return person["sorties"]  # type: ignore[no-any-return]


def history(run: Invoke) -> list[tuple[str, str]]:
    shown = json.loads(run("clause", "show", "1", "--json").stdout)["historique"]
    return [(h["acteur"], h["motif"]) for h in shown if h["evenement"] == "outcome"]


def plain(result: Result) -> str:
    return (result.stdout + result.stderr).replace(NBSP, " ")


def test_a_short_training_then_a_cdi_are_both_recorded_and_listed(declared: Invoke) -> None:
    training = outcome(declared, "P-0007", "--clause", "1", "--type", "formation courte",
                       "--date", "02/11/2026")  # fmt: skip
    cdi = outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "05/11/2026")

    assert training.exit_code == 0, training.output
    assert cdi.exit_code == 0, cdi.output
    assert cdi.stdout.strip() == (
        "Sortie n° 2 enregistrée : P-0007, clause n° 1, CDI (emploi durable) le 05/11/2026."
    )
    assert [(o["sortie"], o["type_libelle"], o["date"]) for o in listed(declared)] == [
        (1, "Formation courte (non qualifiante)", "2026-11-02"),
        (2, "CDI", "2026-11-05"),
    ]
    table = declared("participant", "list", "--clause", "1").stdout
    assert "n° 1 : Formation courte" in table and "n° 2 : CDI (emploi durable)" in table
    assert "4 participants, 2 sorties enregistrées." in table
    assert [reason for _, reason in history(declared)] == [
        "sortie de P-0007 : Formation courte (non qualifiante) (autre) le 02/11/2026",
        "sortie de P-0007 : CDI (emploi durable) le 05/11/2026",
    ]


def test_the_same_command_twice_changes_nothing(declared: Invoke) -> None:
    args = ("P-0007", "--clause", "1", "--type", "CDI", "--date", "05/11/2026")
    outcome(declared, *args)
    rows = history(declared)

    again = outcome(declared, *args)

    assert again.exit_code == 0
    assert again.stdout.startswith(
        "Rien de nouveau : la sortie de P-0007 de la clause n° 1 est déjà enregistrée (n° 1)"
    )
    assert len(listed(declared)) == 1 and history(declared) == rows


def test_two_situations_the_same_day_are_refused_naming_the_first(declared: Invoke) -> None:
    outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "05/11/2026")

    refused = outcome(declared, "P-0007", "--clause", "1", "--type", "perdu de vue",
                      "--date", "05/11/2026")  # fmt: skip

    assert refused.exit_code == 1
    assert (
        "P-0007 a déjà une sortie le 05/11/2026 sur la clause n° 1 (n° 1 : CDI le 05/11/2026) : "
        "une seule situation par jour. Si elle est fausse, corrigez-la : « clauses participant "
        "outcome-fix 1 --type … --date … --reason … »."
    ) in plain(refused)
    assert len(listed(declared)) == 1


def test_replace_corrects_an_only_outcome_and_with_two_names_outcome_fix(
    declared: Invoke,
) -> None:
    outcome(declared, "P-0007", "--clause", "1", "--type", "formation courte", "--date",
            "02/11/2026")  # fmt: skip
    replaced = outcome(declared, "P-0007", "--clause", "1", "--type", "formation qualifiante",
                       "--date", "02/11/2026", "--replace")  # fmt: skip
    outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "05/11/2026")
    refused = outcome(declared, "P-0007", "--clause", "1", "--type", "CDD 3 mois",
                      "--date", "06/11/2026", "--replace")  # fmt: skip

    assert replaced.stdout.startswith("Sortie n° 1 corrigée : P-0007, clause n° 1, Formation "
                                      "qualifiante")  # fmt: skip
    assert refused.exit_code == 1
    assert (
        "P-0007 a 2 sorties sur la clause n° 1 (n° 1 : Formation qualifiante le 02/11/2026 ; "
        "n° 2 : CDI le 05/11/2026) : --replace ne sait pas laquelle corriger. Corrigez celle qui "
        "est fausse par son N° : « clauses participant outcome-fix N° --type … --date … "
        "--reason … »."
    ) in plain(refused)
    assert [o["type"] for o in listed(declared)] == ["qualifying_training", "cdi"]


def test_outcome_fix_and_remove_keep_the_reason_in_the_history_and_change_the_list(
    declared: Invoke,
) -> None:
    outcome(declared, "P-0007", "--clause", "1", "--type", "formation courte", "--date",
            "02/11/2026")  # fmt: skip
    outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "05/11/2026")

    fixed = declared("participant", "outcome-fix", "2", "--type", "CDD 8 mois", "--date",
                     "04/11/2026", "--reason", "contrat relu : CDD de 8 mois", "--actor",
                     "Lou Dupré")  # fmt: skip
    same = declared("participant", "outcome-fix", "2", "--type", "CDD 8 mois", "--reason", "x")
    removed = declared("participant", "outcome-remove", "1", "--reason", "saisie en double",
                       "--json")  # fmt: skip

    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout.strip() == (
        "Sortie n° 2 corrigée : P-0007, clause n° 1, CDD de 6 mois ou plus (emploi durable) le "
        "04/11/2026 (remplace CDI (emploi durable) le 05/11/2026) ; motif : contrat relu : CDD "
        "de 8 mois."
    )
    assert same.stdout.startswith("Rien de nouveau : la sortie n° 2 de P-0007 (clause n° 1)")
    assert removed.exit_code == 0, removed.output
    data = json.loads(removed.stdout)
    assert (data["sortie"], data["retiree"], data["motif"]) == (1, True, "saisie en double")
    assert data["message"].startswith(
        "Sortie n° 1 retirée : P-0007, clause n° 1, Formation courte (non qualifiante) (autre) "
        "le 02/11/2026 ; motif : saisie en double. Elle ne compte plus"
    )
    assert [(o["sortie"], o["type"], o["date"]) for o in listed(declared)] == [
        (2, "cdd_6_months_or_more", "2026-11-04")
    ]
    assert history(declared)[-2:] == [
        ("Lou Dupré", "sortie n° 2 de P-0007 corrigée : CDD de 6 mois ou plus (emploi durable) "
         "le 04/11/2026 (remplace CDI (emploi durable) le 05/11/2026) ; motif : contrat relu : "
         "CDD de 8 mois"),
        ("Camille Martin", "sortie n° 1 de P-0007 retirée : Formation courte (non qualifiante) "
         "(autre) le 02/11/2026 ; motif : saisie en double"),
    ]  # fmt: skip
    assert "1 sortie enregistrée" in declared("participant", "list").stdout


def test_outcome_fix_and_remove_refuse_bad_input_and_change_nothing(declared: Invoke) -> None:
    outcome(declared, "P-0007", "--clause", "1", "--type", "formation courte", "--date",
            "02/11/2026")  # fmt: skip
    outcome(declared, "P-0007", "--clause", "1", "--type", "CDI", "--date", "05/11/2026")
    rows = history(declared)

    cases = (
        (("outcome-fix", "2", "--date", "04/11/2026"), "Motif manquant"),
        (("outcome-fix", "2", "--date", "02/11/2026", "--reason", "x"),
         "P-0007 a déjà une sortie le 02/11/2026 sur la clause n° 1 (n° 1 : Formation courte"),
        (("outcome-fix", "2", "--date", "01/12/2026", "--reason", "x"),
         "Date de sortie 01/12/2026 dans le futur"),
        (("outcome-fix", "2", "--date", "30/09/2026", "--reason", "x"), "antérieure à octobre"),
        (("outcome-fix", "2", "--type", "CDD", "--reason", "x"), "--type « CDD » : précisez"),
        (("outcome-fix", "99", "--type", "CDI", "--reason", "x"), "Aucune sortie n° 99"),
        (("outcome-remove", "2", "--reason", "  "), "Motif manquant"),
        (("outcome-remove", "99", "--reason", "doublon"), "Aucune sortie n° 99"),
    )  # fmt: skip
    for args, message in cases:
        refused = declared("participant", *args)
        assert refused.exit_code == 1, (args, refused.output)
        assert message in plain(refused), (args, plain(refused))
    nothing = declared("participant", "outcome-fix", "2", "--reason", "x")
    assert nothing.exit_code == 2
    assert "Rien à corriger : indiquez --type, --date ou les deux." in nothing.output
    assert history(declared) == rows and len(listed(declared)) == 2


def test_outcome_remove_twice_answers_with_the_first_withdrawal(declared: Invoke) -> None:
    outcome(declared, "P-0007", "--clause", "1", "--type", "formation courte", "--date",
            "02/11/2026")  # fmt: skip
    first = declared("participant", "outcome-remove", "1", "--reason", "saisie en double")
    rows = history(declared)

    again = declared("participant", "outcome-remove", "1", "--reason", "saisie en double")
    as_json = declared("participant", "outcome-remove", "1", "--reason", "doublon", "--json")

    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    withdrawn = json.loads(declared("clause", "show", "1", "--json").stdout)["historique"][-1]
    day = withdrawn["date"][:10].split("-")
    assert again.stdout.strip() == (
        f"Rien de nouveau : la sortie n° 1 a déjà été retirée le {day[2]}/{day[1]}/{day[0]} "
        "(motif : saisie en double)."
    )
    data = json.loads(as_json.stdout)
    assert (data["sortie"], data["modifie"], data["motif"]) == (1, False, "saisie en double")
    assert data["deja_retiree_le"] == "-".join(day)
    assert history(declared) == rows and listed(declared) == []
