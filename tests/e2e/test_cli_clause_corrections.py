"""The corrections as a facilitator types them: ``clauses declaration cancel``, ``clauses clause
reopen``, and ``clauses clause award`` run again, with the same data or other data.

The territory is built through the CLI on a SQLite file (``run`` of ``tests/e2e/conftest.py``,
on the test's clock).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Clock
from tests.e2e.conftest import Invoke
from tests.text import squash

NBSP = "\u00a0"


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Refusé : "), result.stderr
    return squash(result.stderr)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def lot(run: Invoke, clock: Clock) -> dict[str, int]:
    """A lot of market M-2026-01 at the award stage, a holder with its correspondent, a
    partner with one, a buyer whose contact hears of each milestone."""
    clock.set(utc(2026, 1, 5, 9))
    ok(run("init"))
    buyer = data(run("buyer", "add", "Gers Habitat", "--json"))
    data(
        run(
            "buyer", "contact-add", str(buyer["id"]), "--name", "Anne Achat",
            "--email", "anne.achat@example.org", "--json",
        )
    )  # fmt: skip
    operation = data(
        run("operation", "add", "Résidence des Tilleuls", "--buyer", str(buyer["id"]), "--json")
    )
    market = data(run("market", "add", "M-2026-01", "--operation", str(operation["id"]), "--json"))
    clause = data(
        run(
            "lot", "add", "--market", str(market["id"]), "--number", "1", "--title",
            "Gros œuvre", "--hours", "700", "--hours-reason", "note de calcul", "--json",
        )
    )  # fmt: skip
    holder = data(run("company", "add", "BTP Exemple", "--siret", "732 829 320 00074", "--json"))
    data(
        run(
            "company", "correspondent-add", str(holder["id"]), "--name", "Paul Chantier",
            "--email", "paul.chantier@example.org", "--json",
        )
    )  # fmt: skip
    partner = data(run("company", "add", "Insertion 32", "--json"))
    data(
        run(
            "company", "correspondent-add", str(partner["id"]), "--name", "Inès Moreau",
            "--email", "ines@example.org", "--json",
        )
    )  # fmt: skip
    for event in ("rédiger", "attribuer"):
        ok(run("clause", "advance", str(clause["id"]), event))
    return {"clause": clause["id"], "holder": holder["id"], "partner": partner["id"]}


def award(run: Invoke, *extra: str) -> Result:
    return run(
        "clause", "award", "M-2026-01/1", "--company", "BTP Exemple", "--hours", "500",
        "--start", "02/03/2026", "--end", "31/12/2026", *extra,
    )  # fmt: skip


def emails(run: Invoke) -> list[tuple[str, str]]:
    """(type, key) of every email queued, oldest first."""
    found = data(run("mail", "list", "--json"))["courriels"]
    return [(m["type"], m["cle"]) for m in reversed(found)]


def history(run: Invoke, clause: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = data(run("clause", "show", str(clause), "--json"))["historique"]
    return rows


# --- clauses declaration cancel -----------------------------------------------------------------


@pytest.fixture
def started(run: Invoke, clock: Clock, lot: dict[str, int]) -> dict[str, int]:
    ok(award(run))
    clock.set(utc(2026, 3, 2, 9))
    ok(run("clause", "advance", "M-2026-01/1", "démarrer"))
    return lot


def test_it_cancels_a_declaration_and_says_where_the_reminders_stand(
    run: Invoke, clock: Clock, started: dict[str, int]
) -> None:
    ok(run("tick", "--now", "2026-04-01T09:00:00+02:00"))  # March's call
    clock.set(utc(2026, 4, 9, 10))
    ok(run("declaration", "zero", "--clause", "M-2026-01/1", "--company", "BTP Exemple",
           "--month", "03/2026"))  # fmt: skip
    receipts = [e for e in emails(run) if e[0] == "declaration_receipt"]
    assert len(receipts) == 1

    clock.set(utc(2026, 4, 22, 10))  # noon in Paris, after the call hour
    out = ok(
        run(
            "declaration", "cancel", "--clause", "M-2026-01/1", "--company",
            "732 829 320 00074", "--month", "03/2026", "--reason", "Saisie en double",
        )
    )  # fmt: skip

    assert squash(out) == squash(
        f"Déclaration de mars 2026 de BTP Exemple annulée (clause n° {started['clause']}) : "
        f"0{NBSP}h retirées, 0 ligne.\n"
        "Le mois est de nouveau attendu ; ses relances reprennent où elles en étaient : "
        "rappel n° 1, le lundi 27 avril 2026 à 9\u00a0h.\n"
        f"L'entreprise en est informée par courriel (paul.chantier@example.org) : le motif, "
        "et la date à laquelle déclarer de nouveau ce mois."
    )
    [told] = [e for e in emails(run) if e[0] == "declaration_cancelled"]
    assert told[1].startswith(f"cancellation:{started['clause']}:{started['holder']}:")
    [row] = [
        h for h in history(run, started["clause"]) if h["evenement"] == "declaration_cancelled"
    ]
    assert row["motif"].endswith("annulée (0\u00a0h retirées) : Saisie en double")
    assert row["acteur"] == "Camille Martin"
    assert [e for e in emails(run) if e[0] == "declaration_receipt"] == receipts

    again = run(
        "declaration", "cancel", "--clause", "M-2026-01/1", "--company", "BTP Exemple",
        "--month", "03/2026", "--reason", "Saisie en double",
    )  # fmt: skip
    assert refused(again) == squash(
        "Refusé : Aucune déclaration de mars 2026 de BTP Exemple pour la clause n° "
        f"{started['clause']} (marché M-2026-01 lot 1 – Gros œuvre) : rien à annuler. "
        "Mois déclarés : aucun."
    )
    audit = data(run("audit", "verify", "--json"))
    assert (audit["conforme"], audit["problemes"]) == (True, [])


def test_it_cancels_in_json_and_refuses_a_month_it_cannot_read(
    run: Invoke, clock: Clock, started: dict[str, int]
) -> None:
    clock.set(utc(2026, 4, 1, 12))
    ok(run("declaration", "zero", "--clause", str(started["clause"]), "--company", "BTP Exemple",
           "--month", "03/2026"))  # fmt: skip

    out = data(
        run(
            "declaration", "cancel", "--clause", str(started["clause"]), "--company",
            "BTP Exemple", "--month", "03/2026", "--reason", "Erreur de mois", "--actor", "Léa",
            "--json",
        )
    )  # fmt: skip

    assert {k: out[k] for k in ("clause", "entreprise", "mois", "heures", "lignes", "motif")} == {
        "clause": started["clause"],
        "entreprise": "BTP Exemple",
        "mois": "2026-03-01",
        "heures": 0,
        "lignes": 0,
        "motif": "Erreur de mois",
    }
    assert out["relances"] is None  # no pass ran: March's call is still to come
    assert out["entreprise_informee"] == ["paul.chantier@example.org"]
    assert history(run, started["clause"])[-1]["acteur"] == "Léa"
    bad = run(
        "declaration", "cancel", "--clause", "1", "--company", "BTP Exemple",
        "--month", "treize", "--reason", "x",
    )  # fmt: skip
    assert "--month : «\u00a0treize\u00a0» n'est pas un mois (mm/aaaa" in refused(bad)
    missing = run("declaration", "cancel", "--clause", "1", "--company", "BTP Exemple",
                  "--month", "03/2026")  # fmt: skip
    assert missing.exit_code == 2 and "--reason" in missing.stderr


# --- clauses clause reopen ----------------------------------------------------------------------


def test_it_reopens_an_abandoned_clause_at_the_stage_it_left(
    run: Invoke, clock: Clock, lot: dict[str, int]
) -> None:
    ok(run("clause", "advance", "M-2026-01/1", "abandonner", "--reason", "Recours"))
    ok(run("mail", "send"))  # the buyer was told of the abandon
    clock.set(utc(2026, 2, 2, 9))

    out = ok(run("clause", "reopen", "M-2026-01/1", "--reason", "Recours rejeté"))

    assert out.strip() == (
        f"Clause n° {lot['clause']} rouverte : abandonnée → attribution (abandon annulé)."
    )
    shown = data(run("clause", "show", "M-2026-01/1", "--json"))
    assert shown["etape"] == "award"
    row = shown["historique"][-1]
    assert (row["evenement"], row["de"], row["vers"], row["motif"]) == (
        "reopen",
        "abandoned",
        "award",
        "Recours rejeté",
    )
    kinds = [kind for kind, _ in emails(run)]
    assert kinds.count("notice_abandoned") == 1 and kinds.count("notice_reopened") == 1
    # Back at the award, it takes up its life: the award is recorded, it starts.
    ok(award(run))
    clock.set(utc(2026, 3, 2, 9))
    ok(run("clause", "advance", "M-2026-01/1", "démarrer"))


def test_it_refuses_to_reopen_a_clause_that_is_not_abandoned(
    run: Invoke, lot: dict[str, int]
) -> None:
    result = run("clause", "reopen", str(lot["clause"]), "--reason", "erreur", "--json")
    assert refused(result) == squash(
        f"Refusé : Clause n° {lot['clause']} (marché M-2026-01 lot 1 – Gros œuvre) est à "
        "l'étape «\u00a0attribution\u00a0» : seule une clause abandonnée se rouvre. Pour la "
        "faire avancer : «\u00a0clauses clause advance\u00a0»."
    )
    no_reason = run("clause", "reopen", str(lot["clause"]))
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr


def test_it_reopens_in_json(run: Invoke, clock: Clock, lot: dict[str, int]) -> None:
    ok(run("clause", "advance", str(lot["clause"]), "abandon"))
    out = data(run("clause", "reopen", str(lot["clause"]), "--reason", "Relance", "--json"))
    assert {k: out[k] for k in ("clause", "de", "vers", "motif")} == {
        "clause": lot["clause"],
        "de": "abandoned",
        "vers": "award",
        "motif": "Relance",
    }


# --- clauses clause award, again ----------------------------------------------------------------


def test_the_same_award_twice_sends_nothing_more(
    run: Invoke, clock: Clock, lot: dict[str, int]
) -> None:
    ok(award(run, "--co-contractor", "Insertion 32::200"))
    sent = emails(run)
    assert [kind for kind, _ in sent if kind != "notice_drafted"][-3:] == [
        "notice_awarded",
        "company_welcome",
        "company_welcome",
    ]
    rows = history(run, lot["clause"])

    clock.set(utc(2026, 1, 6, 9))
    said = squash(ok(award(run, "--co-contractor", "Insertion 32::200")))

    assert f"Attribution de la clause n° {lot['clause']} déjà enregistrée telle quelle" in said
    assert emails(run) == sent
    assert history(run, lot["clause"]) == rows


def test_another_award_sends_one_corrected_notice_and_welcomes_the_newcomer_only(
    run: Invoke, clock: Clock, lot: dict[str, int], tmp_path: Path
) -> None:
    ok(award(run))
    ok(run("mail", "send"))  # the award notice left: the buyer reads a correction
    sent = emails(run)

    clock.set(utc(2026, 1, 6, 9))
    said = squash(ok(award(run, "--co-contractor", "Insertion 32::200")))

    assert f"Attribution de la clause n° {lot['clause']} corrigée (donneur d'ordre prévenu)" in said
    # The company's role agrees with « Entreprise »: « cotraitante », not « cotraitant ».
    assert "Entreprise cotraitante : Insertion 32" in squash(said)
    assert "- Insertion 32 : non attributaire → cotraitant, 200\u00a0h d'insertion" in said
    new = emails(run)[len(sent) :]
    assert [kind for kind, _ in new] == ["notice_award_corrected", "company_welcome"]
    assert new[1][1] == f"welcome:{lot['clause']}:{lot['partner']}:2026-01-06T09:00:00+00:00"
    row = history(run, lot["clause"])[-1]
    assert (row["evenement"], row["motif"]) == (
        "award_corrected",
        "attribution corrigée : Insertion 32 : non attributaire → cotraitant, 200\u00a0h "
        "d'insertion, correspondant : Inès Moreau",
    )
    out = str(tmp_path / "preview")
    preview = ok(
        run(
            "mail", "preview", "notice_award_corrected", "--clause", str(lot["clause"]),
            "--out", out,
        )
    )  # fmt: skip
    assert "- Insertion 32 : non attributaire → cotraitant, 200\u00a0h d'insertion" in preview
    sample = ok(run("mail", "preview", "notice_award_corrected", "--out", out))
    assert "Attribution corrigée – " in sample
    assert "- Démarrage : 16 février 2026 → 2 mars 2026" in sample


def test_a_correction_that_leaves_out_the_hours_keeps_those_recorded(
    run: Invoke, clock: Clock, lot: dict[str, int]
) -> None:
    """User trial: moving only the planned end and a partner's hours, without repeating the
    holder's ``--hours``, told the company and the buyer « 500 h → non précisées » and wiped
    the figure. What the command leaves out keeps what is recorded; what it gives changes."""
    ok(award(run, "--co-contractor", "Insertion 32::200"))

    clock.set(utc(2026, 1, 6, 9))
    said = squash(
        ok(
            run(
                "clause", "award", "M-2026-01/1", "--company", "BTP Exemple",
                "--start", "02/03/2026", "--end", "31/01/2027",
                "--co-contractor", "Insertion 32::250",
            )
        )
    )  # fmt: skip

    assert "non précisées" not in said
    assert "Heures confiées à Insertion 32 : 200\u00a0h → 250\u00a0h" in said
    assert "Heures confiées à BTP Exemple" not in said
    shown = data(run("clause", "show", str(lot["clause"]), "--json"))
    hours = {p["entreprise"]: p["heures"] for p in shown["entreprises"]}
    assert hours == {"BTP Exemple": 500, "Insertion 32": 250}
    row = history(run, lot["clause"])[-1]
    assert row["motif"] == (
        "attribution corrigée : Heures confiées à Insertion 32 : 200\u00a0h → 250\u00a0h ; "
        "Fin prévue : 31 décembre 2026 → 31 janvier 2027"
    )
