"""``clauses privacy export`` and ``clauses privacy purge`` on the 2018 territory of
``privacy_scenario``, as a facilitator runs them in June 2024."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Clock, make_settings
from tests.e2e.conftest import Invoke
from tests.integration import privacy_scenario as scenario
from tests.integration.privacy_scenario import local
from tests.text import squash
from workflow.bootstrap import bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings

PURGE_DAY = local(date(2024, 6, 3), 9)


@pytest.fixture
def territory(run: Invoke, sqlite_settings: Settings, clock: Clock) -> Invoke:
    app = bootstrap(sqlite_settings, clock=clock)
    scenario.build(app, clock)
    app.close()
    clock.set(PURGE_DAY)
    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return squash(result.stdout)


# --- export ---------------------------------------------------------------------------------------


def test_the_export_reads_as_what_is_held_on_the_person(territory: Invoke) -> None:
    text = ok(territory("privacy", "export", "--participant", "PRV-1"))

    for said in (
        "Données détenues sur le participant PRV-1",
        "Identité (pseudonyme : aucun nom, aucune adresse ni date de naissance n'est enregistré)",
        "- Critère d'éligibilité : Bénéficiaire du RSA, de l'ASS, de l'AAH ou d'une pension "
        "d'invalidité",
        "- Sexe : femme - Année de naissance : 1990",
        "- Justificatif d'éligibilité : attestation CAF, validé le 15/01/2018",
        "Heures déclarées : 600\u00a0h sur 6 mois",
        "- janvier 2018 : 100\u00a0h, Embauche directe, CDD ; clause n° 1 "
        "(marché 2018-PRV lot 01 – Gros œuvre), déclarées par Bâtiments Test",
        "Sorties (1) - CDI (emploi durable) le 15/07/2018, clause n° 1",
        "par Camille Martin : sortie de PRV-1 : CDI (emploi durable) le 15/07/2018",
        f"- Clause n° 1, bilan : {scenario.FINAL_REPORT}",
        f"à Correspondant Bâtiments Test <{scenario.COMPANY_A_CONTACT}>",
        "; le nomme dans : pièce jointe",
        "Données gardées 5 ans après la fin de sa dernière clause : dernière activité le "
        "03/09/2018, anonymisées par la purge à partir du 04/09/2023 (« clauses privacy purge »).",
    ):
        assert said in text
    assert "Courriels qui le nomment (" in text
    assert scenario.BUYER_CONTACT not in text


def test_the_json_export_holds_the_same(territory: Invoke) -> None:
    data = json.loads(territory("privacy", "export", "--participant", "PRV-2", "--json").stdout)

    assert (data["reference"], data["sexe"], data["annee_naissance"]) == ("PRV-2", "M", 1965)
    assert data["heures"] == 6 * 50 + 3 * 20
    assert [(d["mois"], d["heures"], d["clause"]) for d in data["declarations"][:2]] == [
        ("2018-01", 50, 1),
        ("2018-01", 20, 2),
    ]
    assert [(s["type_libelle"], s["date"]) for s in data["sorties"]] == [
        ("Formation qualifiante", "2018-07-10")
    ]
    recipients = {r for mail in data["courriels"] for r in mail["destinataires"]}
    assert recipients == {
        f"Correspondant Bâtiments Test <{scenario.COMPANY_A_CONTACT}>",
        f"Correspondant Peintures Test <{scenario.COMPANY_B_CONTACT}>",
    }
    assert data["conservation"] == {
        "duree": "5 ans",
        "derniere_activite": "2018-09-03",
        "clauses_en_cours": [2],
        "purgeable_le": None,
        "anonymise_le": None,
    }


def test_the_export_goes_to_a_file_only_its_owner_reads(territory: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "exports" / "PRV-1.txt"

    said = ok(territory("privacy", "export", "--participant", "PRV-1", "--output", str(target)))

    assert said == (
        f"Export des données de PRV-1 écrit dans {target} (données personnelles : à remettre à "
        "la personne seule, puis à supprimer)."
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    shown = territory("privacy", "export", "--participant", "PRV-1").stdout
    assert squash(target.read_text(encoding="utf-8")) == squash(shown)


def test_an_unknown_participant_is_refused_in_french(territory: Invoke) -> None:
    result = territory("privacy", "export", "--participant", "PRV-9")

    assert result.exit_code == 1
    assert squash(result.stderr) == (
        "Refusé : Aucun participant « PRV-9 ». La liste : « clauses participant list »."
    )


# --- purge ----------------------------------------------------------------------------------------


def test_without_yes_the_purge_only_says_what_would_go(territory: Invoke) -> None:
    result = territory("privacy", "purge")

    text = ok(result)
    assert text == (
        "À anonymiser (5 ans de conservation, dernière activité avant le 03/06/2019) : "
        "3 participants "
        "- PRV-1 : dernière activité le 03/09/2018, clause n° 1 "
        "- PRV-12 : dernière activité le 03/09/2018, clause n° 1 "
        "- PRV-IDLE : dernière activité le 20/01/2018 "
        f"Seraient aussi réécrits : 1 ligne d'historique, 1 texte de clause, {messages(text)} "
        f"courriels ; {attachments(text)} pièces jointes supprimées. "
        "Rien n'a été modifié : relancez avec --yes pour anonymiser."
    )
    assert ok(territory("privacy", "export", "--participant", "PRV-1")).startswith(
        "Données détenues sur le participant PRV-1"
    )


def messages(text: str) -> str:
    return text.split("1 texte de clause, ")[1].split(" courriels")[0]


def attachments(text: str) -> str:
    return text.split("courriels ; ")[1].split(" pièces jointes")[0]


def test_a_dry_run_says_so(territory: Invoke) -> None:
    text = ok(territory("privacy", "purge", "--dry-run", "--yes"))

    assert text.endswith("Simulation (--dry-run) : rien n'a été modifié.")
    assert ok(territory("privacy", "export", "--participant", "PRV-12"))


def test_the_purge_anonymises_once_then_finds_nothing(territory: Invoke) -> None:
    first = ok(territory("privacy", "purge", "--yes", "--actor", "Camille Martin"))
    second = ok(territory("privacy", "purge", "--yes"))

    assert first.startswith(
        "Purge n° 1 (5 ans de conservation, dernière activité avant le 03/06/2019) : "
        "3 participants anonymisés (référence remplacée, justificatif effacé, année de naissance "
        "ramenée à leurs tranches d'âge) ; réécrits : 1 ligne d'historique, 1 texte de clause, "
    )
    assert first.endswith(
        "Les chiffres des synthèses et des bilans ne changent pas. "
        "Gardés, une de leurs clauses étant en cours : 2 participants."
    )
    # Once purged, the references are gone, from the output too.
    assert "PRV-1" not in first and "PRV-IDLE" not in first
    assert second == (
        "Rien à purger : aucun participant n'a toutes ses clauses closes et sa dernière activité "
        "avant le 03/06/2019 (5 ans de conservation). "
        "Déjà anonymisés par une purge précédente : 3 participants. "
        "Gardés, une de leurs clauses étant en cours : 2 participants."
    )
    gone = territory("privacy", "export", "--participant", "PRV-1")
    assert gone.exit_code == 1
    assert "n'a plus sa référence" in squash(gone.stderr)


def test_the_json_purge_names_people_before_never_after(territory: Invoke) -> None:
    before = json.loads(territory("privacy", "purge", "--dry-run", "--json").stdout)
    done = json.loads(territory("privacy", "purge", "--yes", "--json").stdout)

    assert [p["reference"] for p in before["a_anonymiser"]] == ["PRV-1", "PRV-12", "PRV-IDLE"]
    assert (before["simulation"], before["purge"], before["participants"]) == (True, None, 3)
    assert (done["simulation"], done["purge"], done["participants"]) == (False, 1, 3)
    assert "a_anonymiser" not in done
    assert done["courriels"] == before["courriels"] > 0


def test_older_than_takes_years_and_months(territory: Invoke) -> None:
    """Lot A closed on 3 September 2018: 69 months later it is not yet past, 68 it is."""
    months = ok(territory("privacy", "purge", "--older-than", "69mois"))
    fewer = ok(territory("privacy", "purge", "--older-than", "68m"))
    years = ok(territory("privacy", "purge", "--older-than", "7a"))

    assert months.startswith(
        "À anonymiser (69 mois de conservation, dernière activité avant le 03/09/2018) : "
        "1 participant - PRV-IDLE : dernière activité le 20/01/2018 "
    )
    assert fewer.startswith(
        "À anonymiser (68 mois de conservation, dernière activité avant le 03/10/2018) : "
        "3 participants"
    )
    assert years.startswith(
        "Rien à purger : aucun participant n'a toutes ses clauses closes et sa dernière activité "
        "avant le 03/06/2017 (7 ans de conservation)."
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("5x", "« 5x » n'est pas une durée : un nombre d'années ou de mois, par exemple 5a"),
        ("0a", "« 0a » : une durée d'au moins 1 mois est attendue."),
    ],
)
def test_a_bad_duration_is_refused_naming_the_option(
    territory: Invoke, value: str, said: str
) -> None:
    result = territory("privacy", "purge", "--older-than", value, "--yes")

    assert result.exit_code == 1
    assert squash(result.stderr).startswith(f"Refusé : --older-than : {said}")


def test_the_retention_setting_is_the_default(
    territory: Invoke, tmp_path: Path, sqlite_url: str, clock: Clock
) -> None:
    settings = make_settings(tmp_path, sqlite_url, privacy_retention="18m")
    state = CliState()
    state.factory = lambda: bootstrap(settings, clock=clock)

    result = CliRunner().invoke(
        cli, ["privacy", "purge"], obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
    )

    assert ok(result).startswith(
        "À anonymiser (18 mois de conservation, dernière activité avant le 03/12/2022) : "
        "3 participants"
    )


def test_the_help_is_french(territory: Invoke) -> None:
    group = ok(territory("privacy", "--help"))
    purge = ok(territory("privacy", "purge", "--help"))

    assert "Données personnelles (RGPD)" in group
    assert "export " in group and "purge " in group
    assert "Durée de conservation : 5a ou 5y (5 ans), 18m ou 18mois (18 mois)." in purge
    assert "Anonymise pour de bon ; sans cette option, rien n'est modifié." in purge


def test_an_anonymised_participant_exports_what_is_left(territory: Invoke) -> None:
    ok(territory("privacy", "purge", "--yes"))
    people = json.loads(territory("participant", "list", "--json").stdout)
    token = next(p["reference"] for p in people if p["critere"] == "minimum_income")

    text = ok(territory("privacy", "export", "--participant", token))

    assert token.startswith("anonyme-")
    for said in (
        f"Données détenues sur le participant {token}",
        "- Sexe : femme - Année de naissance : 1983 (ramenée par la purge à ses tranches d'âge)",
        "- Justificatif d'éligibilité : effacé par la purge (éligibilité validée en 2018)",
        "Heures déclarées : 600\u00a0h sur 6 mois",
        f"sortie de {token} : CDI (emploi durable) le 15/07/2018",
        "- Anonymisé le 03/06/2024 par une purge : la référence d'origine, le justificatif et "
        "l'année de naissance exacte ne sont plus détenus.",
    ):
        assert said in text
    assert "PRV-1" not in text
