"""One import lists every problem it finds in one go (README: « toutes sont listées »).

A user trial found a declaration line with hours « 35 hrs » and no criterion for a new participant
that was refused for its hours only; the missing criterion came once the hours were fixed. Each
import now checks every line and every column, the participants of a line whose other cells are
wrong included, and lists it all, by line then by column, still refusing the whole file.
Through the command line, on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.integration.test_declarations import DECLARATION, NOVEMBER, start_sample
from tests.integration.test_imports import LOTS
from tests.integration.test_outcomes import OUTCOMES
from workflow.adapters.orm import Buyer, Clause, Declaration, Outcome, Participant
from workflow.bootstrap import App, bootstrap
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.settings import Settings

HOLDER = "41234567800012;Bâtiments Gascons SARL;2026-014;01"
HEADER = (
    "SIRET;Entreprise;N° marché;Lot;Mois;Référence participant;Critère d'éligibilité;"
    "Type de contrat;Modalité de réalisation;Heures"
)


class Cli:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    def __call__(self, *args: str) -> Result:
        state = CliState()
        state.factory = lambda: bootstrap(self.settings, clock=self.clock)
        return CliRunner().invoke(
            cli, list(args), obj=state, catch_exceptions=False, env={"COLUMNS": "200"}
        )

    def counts(self) -> dict[str, int]:
        app = bootstrap(self.settings, clock=self.clock, handlers={})
        try:
            with app.transaction() as session:
                return {
                    model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                    for model in (Buyer, Clause, Declaration, Outcome, Participant)
                }
        finally:
            app.close()


@pytest.fixture
def run(settings: Settings, clock: Clock) -> Cli:
    return Cli(settings, clock)


@pytest.fixture
def started(settings: Settings, clock: Clock) -> Cli:
    """The sample territory, its lots in execution since March 2026; 5 November 2026."""
    app: App = bootstrap(settings, clock=clock, handlers={})
    try:
        start_sample(app)
    finally:
        app.close()
    clock.set(NOVEMBER)
    return Cli(settings, clock)


def write(path: Path, *lines: str) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def refusal(result: Result) -> list[str]:
    assert result.exit_code == 1, result.output
    return result.stderr.splitlines()


def said(text: str) -> str:
    """A message as the command line prints it: no-break spaces inside « »."""
    return text.replace("« ", "«\u00a0").replace(" »", "\u00a0»")


def test_a_declaration_line_says_its_participant_with_its_other_errors(
    started: Cli, tmp_path: Path
) -> None:
    before = started.counts()
    path = write(
        tmp_path / "octobre.csv",
        HEADER,
        "41234567800013;Bâtiments Gascons SARL;2026-014;01;10/2026;P-0007;"
        "Demandeur d'emploi de longue durée;CDD;Embauche directe;151,67",
        f"{HOLDER};10/2026;P-0100;;CDD;Embauche directe;35 hrs",
        f"{HOLDER};13/2026;P-0031;Bénéficiaire du RSA;CDI;Embauche directe;120",
        f"{HOLDER};10/2026;P-0040;Travailleur handicapé (RQTH);CDI;Embauche directe;0",
        f"{HOLDER};10/2026;P-0101;;CDI;Télétravail;12",
    )

    lines = refusal(started("declaration", "import", str(path)))

    unknown = "inconnu : son critère d'éligibilité est nécessaire pour le créer."
    modes = (
        "« Embauche directe » ; « Mise à disposition (ETTI) » ; « Mise à disposition (AI) » ; "
        "« Mise à disposition (GEIQ) » ; « Sous-traitance à une structure d'insertion ou EA » ; "
        "« Co-traitance avec une structure d'insertion ou EA » ; « Formation »"
    )
    assert lines == [
        said(line)
        for line in (
            "Refusé : octobre.csv : 6 erreurs, rien n'a été importé.",
            "  - ligne 2, colonne « SIRET » : « 41234567800013 » n'est pas un SIRET valide "
            "(14 chiffres, clé Luhn).",
            f"  - ligne 3, colonne « Critère d'éligibilité » : participant « P-0100 » {unknown}",
            "  - ligne 3, colonne « Heures » : « 35 hrs » n'est pas un nombre d'heures "
            "(exemple : 151,67).",
            "  - ligne 4, colonne « Mois » : « 13/2026 » n'est pas un mois (mm/aaaa, par exemple "
            "10/2026).",
            f"  - ligne 6, colonne « Critère d'éligibilité » : participant « P-0101 » {unknown}",
            "  - ligne 6, colonne « Modalité de réalisation » : « Télétravail » n'est pas "
            f"reconnu. Valeurs acceptées : {modes}.",
        )
    ]
    assert started.counts() == before


def test_a_correction_without_reason_is_said_with_the_errors_of_other_months(
    started: Cli, tmp_path: Path
) -> None:
    assert started("declaration", "import", str(DECLARATION)).exit_code == 0
    before = started.counts()
    text = DECLARATION.read_bytes().decode("cp1252").replace(";151,67", ";140", 1)
    path = tmp_path / "corrections.csv"
    path.write_bytes(
        (
            text + f"{HOLDER};09/2026;P-0007;Demandeur d'emploi de longue durée;CDD;"
            "Embauche directe;35 hrs\r\n"
        ).encode("cp1252")
    )

    lines = refusal(started("declaration", "import", "--replace", str(path)))

    assert lines == [
        "Refusé : corrections.csv : 2 erreurs, rien n'a été importé.",
        "  - ligne 2 : la déclaration d'octobre 2026 de Bâtiments Gascons SARL pour la clause "
        "n° 1 (marché 2026-014 lot 01 – Gros œuvre – maçonnerie), enregistrée le 5 novembre 2026 "
        "(370,17\u00a0h, 4 participants), serait corrigée par le fichier sans motif : "
        "recommencez avec --reason « motif de la correction » (gardé à l'historique de chaque "
        "déclaration remplacée).",
        said(
            "  - ligne 6, colonne « Heures » : « 35 hrs » n'est pas un nombre d'heures "
            "(exemple : 151,67)."
        ),
    ]
    assert started.counts() == before


def test_a_declaration_file_without_its_market_column_is_still_read_line_by_line(
    started: Cli, tmp_path: Path
) -> None:
    before = started.counts()
    path = write(
        tmp_path / "sans-marche.csv",
        "SIRET;Mois;Référence participant;Critère d'éligibilité;Type de contrat;"
        "Modalité de réalisation;Heures",
        "41234567800012;10/2026;P-0100;;CDD;Embauche directe;35 hrs",
    )

    lines = refusal(started("declaration", "import", str(path)))

    assert lines == [
        said(line)
        for line in (
            "Refusé : sans-marche.csv : 3 erreurs, rien n'a été importé.",
            "  - ligne 1, colonne « N° marché » : colonne manquante (ou indiquez la clause avec "
            "--clause).",
            "  - ligne 2, colonne « Critère d'éligibilité » : participant « P-0100 » inconnu : "
            "son critère d'éligibilité est nécessaire pour le créer.",
            "  - ligne 2, colonne « Heures » : « 35 hrs » n'est pas un nombre d'heures "
            "(exemple : 151,67).",
        )
    ]
    assert started.counts() == before


def test_a_lots_line_is_checked_for_a_repeated_lot_whatever_its_figures(
    run: Cli, tmp_path: Path
) -> None:
    header, first, *_ = LOTS.read_bytes().decode("cp1252").splitlines()
    broken = first.replace("3 780 000,00", "beaucoup").replace("15/03/2026", "31/02/2026")
    path = write(
        tmp_path / "lots.csv", header.replace("Taux d'insertion", "Taux bidon"), first, broken
    )

    lines = refusal(run("import", "lots", str(path)))

    titles = ", ".join(f"« {title} »" for title in header.split(";")).replace(
        "Taux d'insertion", "Taux bidon"
    )
    assert lines == [
        said(line)
        for line in (
            "Refusé : lots.csv : 4 erreurs, rien n'a été importé.",
            "  - ligne 1, colonne « Taux d'insertion » : colonne manquante. Colonnes trouvées : "
            f"{titles}.",
            "  - ligne 3, colonne « Lot » : ce lot figure déjà ligne 2.",
            "  - ligne 3, colonne « Montant HT (€) » : « beaucoup » n'est pas un nombre "
            "(exemple : 3 780 000,00).",
            "  - ligne 3, colonne « Notification prévue » : « 31/02/2026 » n'est pas une date "
            "(jj/mm/aaaa).",
        )
    ]
    assert run.counts() == {
        "Buyer": 0,
        "Clause": 0,
        "Declaration": 0,
        "Outcome": 0,
        "Participant": 0,
    }


def test_an_outcomes_line_is_checked_for_each_error_and_a_second_situation_the_same_day(
    started: Cli, tmp_path: Path
) -> None:
    assert started("declaration", "import", str(DECLARATION)).exit_code == 0
    before = started.counts()
    header, first, *_ = OUTCOMES.read_bytes().decode("cp1252").splitlines()
    path = write(
        tmp_path / "sorties.csv",
        header,
        first,
        first.replace("30/10/2026", "31/11/2026"),
        "P-0099;2026-014;01;Grossesse;02/11/2026",
        first.replace(";CDI;", ";Perdu de vue;"),
    )
    no_market = write(
        tmp_path / "sans-marche.csv",
        "Référence participant;Type de sortie;Date",
        "P-0099;CDI;30/10/2026",
    )

    lines = refusal(started("import", "outcomes", str(path)))
    without = refusal(started("import", "outcomes", str(no_market)))

    types = (
        "« CDI » ; « Contrat d'apprentissage » ; « Contrat de professionnalisation » ; "
        "« CDD de 6 mois ou plus » ; « Intérim de 6 mois ou plus » ; "
        "« Emploi dans la fonction publique » ; « Création ou reprise d'entreprise » ; "
        "« CDD de moins de 6 mois » ; « Intérim de moins de 6 mois » ; « Contrat aidé » ; "
        "« Formation qualifiante » ; « Entrée dans une autre structure d'insertion (SIAE) » ; "
        "« Formation courte (non qualifiante) » ; « Demandeur d'emploi » ; « Inactivité » ; "
        "« Perdu de vue »"
    )
    unknown = "participant « P-0099 » inconnu : il est créé par sa première déclaration d'heures."
    assert lines == [
        said(line)
        for line in (
            "Refusé : sorties.csv : 4 erreurs, rien n'a été importé.",
            "  - ligne 3, colonne « Date » : « 31/11/2026 » n'est pas une date (jj/mm/aaaa).",
            f"  - ligne 4, colonne « Référence participant » : {unknown}",
            "  - ligne 4, colonne « Type de sortie » : « Grossesse » n'est pas un type de sortie "
            f"reconnu. Types acceptés : {types}.",
            # Several outcomes of one person on a lot are dated events, one a day.
            "  - ligne 5, colonne « Type de sortie » : participant « P-0007 » : une autre sortie "
            "de la même clause le 30/10/2026 est déjà indiquée ligne 2 (CDI) : une seule "
            "situation par jour.",
        )
    ]
    assert without == [
        said(line)
        for line in (
            "Refusé : sans-marche.csv : 2 erreurs, rien n'a été importé.",
            "  - ligne 1, colonne « N° marché » : colonne manquante (ou indiquez la clause avec "
            "--clause).",
            f"  - ligne 2, colonne « Référence participant » : {unknown}",
        )
    ]
    assert started.counts() == before
