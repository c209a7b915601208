"""The ``clauses`` command as a facilitator types it: French output, ``--json`` that parses, and
exit codes 0 (done), 1 (refused, nothing changed) and 2 (the command itself is misused).

Each test gets its own SQLite file through ``CLAUSES_DATABASE_URL`` and runs ``clauses init``
first, exactly as a newcomer would.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from tests.text import squash
from workflow.adapters.templates import of_name, to_name
from workflow.domain.stages import HISTORY_LABELS, ClauseEvent, history_label
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import hours_text, plural

Run = Callable[..., Result]


def make_runner(folder: Path) -> Run:
    env = {
        "CLAUSES_DATABASE_URL": f"sqlite:///{folder / 'clauses.db'}",
        "CLAUSES_MAIL_DIR": str(folder / "mail"),
        "CLAUSES_CONFIG": "",
        "CLAUSES_FACILITATOR_NAME": "Camille Martin",
        "COLUMNS": "200",  # rich tables unwrapped, so a phrase stays on one line
    }
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        # From the test's folder: no .env nor config/clauses.toml of the checkout leaks in.
        with contextlib.chdir(folder):
            return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def run(tmp_path: Path) -> Run:
    invoke = make_runner(tmp_path)
    first = invoke("init")
    assert first.exit_code == 0, first.output
    return invoke


@pytest.fixture(scope="session")
def territory_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The catalogue built once through the CLI; each test starts from a copy of the file."""
    folder = tmp_path_factory.mktemp("territory")
    invoke = make_runner(folder)
    ok(invoke("init"))
    return folder / "clauses.db", build_territory(invoke)


@pytest.fixture
def territory(
    run: Run, tmp_path: Path, territory_template: tuple[Path, dict[str, int]]
) -> dict[str, int]:
    template, ids = territory_template
    for leftover in tmp_path.glob("clauses.db*"):
        leftover.unlink()
    shutil.copy(template, tmp_path / "clauses.db")
    return ids


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Refusé : "), result.stderr
    return squash(result.stderr)


def unknown(what: str, text: str, listing: str) -> tuple[str, ...]:
    """What a refusal of a designation nobody answers to says: the kind of record, the text
    typed, and the command that lists them (a N° is looked up as a name when no record has it)."""
    return (f"{what} «", text, "» introuvable", f"clauses {listing}")


def assert_says(message: str, words: str | tuple[str, ...]) -> None:
    for word in (words,) if isinstance(words, str) else words:
        assert word in message, (word, message)


def usage(result: Result) -> str:
    assert result.exit_code == 2, result.output
    return result.stderr


# --- init and hours ---------------------------------------------------------------------------


def test_it_initialises_the_database_twice_without_harm(run: Run) -> None:
    assert "Base de données prête (schéma " in ok(run("init"))


def test_it_prints_833_hours_and_the_calculation_note(run: Run) -> None:
    out = ok(
        run(
            "hours",
            "--amount",
            "1000000",
            "--labour-share",
            "0.5",
            "--rate",
            "0.05",
            "--hourly-cost",
            "30",
        )
    )
    assert out.startswith("833 heures d'insertion")
    assert "Note de calcul des heures d'insertion" in out
    assert "= 1 000 000 € × 50 % × 5 % ÷ 30 €/h" in out
    assert "= 833,33… h (valeur exacte)" in out
    assert "(arrondi à l'heure inférieure) : 833 h" in out
    assert "Attention" not in out


@pytest.mark.parametrize(
    ("amount", "share", "rate"),
    [
        ("1000000", "0.5", "0.05"),
        ("1 000 000", "0,5", "0,05"),
        ("1 000 000", "50%", "5%"),
        ("1000000,00", "50 %", "5 %"),
    ],
)
def test_it_accepts_the_figures_however_they_are_typed(
    run: Run, amount: str, share: str, rate: str
) -> None:
    result = run(
        "hours",
        "--amount",
        amount,
        "--labour-share",
        share,
        "--rate",
        rate,
        "--hourly-cost",
        "30",
        "--json",
    )
    note = data(result)
    assert note["heures"] == 833
    assert note["formule"] == "1 000 000 € × 50 % × 5 % ÷ 30 €/h"
    assert note["avertissement"] is None


def test_it_warns_under_150_hours(run: Run) -> None:
    out = ok(
        run(
            "hours",
            "--amount",
            "90000",
            "--labour-share",
            "30 %",
            "--rate",
            "5 %",
            "--hourly-cost",
            "30",
        )
    )
    assert "Attention : 45 h, c'est moins de 150 heures" in squash(out)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--amount", "beaucoup", "--amount (montant HT) : « beaucoup » n'est pas un nombre."),
        ("--amount", "-5", "--amount (montant HT) : « -5 » doit être strictement positif."),
        (
            "--labour-share",
            "50",
            "--labour-share (part de main-d'œuvre) : « 50 » doit être compris",
        ),
        ("--rate", "120 %", "--rate (taux d'insertion) : « 120 % » doit être compris"),
        ("--hourly-cost", "0", "--hourly-cost (coût horaire chargé) : « 0 » doit être"),
    ],
)
def test_it_refuses_a_bad_figure_and_names_the_option(
    run: Run, option: str, value: str, words: str
) -> None:
    figures = {
        "--amount": "1000000",
        "--labour-share": "0.5",
        "--rate": "0.05",
        "--hourly-cost": "30",
    }
    figures[option] = value
    args = [part for pair in figures.items() for part in pair]
    assert words in refused(run("hours", *args))


def test_it_treats_a_missing_figure_as_a_usage_error(run: Run) -> None:
    assert "--labour-share" in usage(run("hours", "--amount", "1000000"))


# --- the catalogue ----------------------------------------------------------------------------


def build_territory(run: Run) -> dict[str, int]:
    buyer = data(run("buyer", "add", "Département de l'Exemple", "--kind", "département", "--json"))
    data(
        run(
            "buyer", "contact-add", str(buyer["id"]), "--name", "Anne Achat",
            "--email", "anne.achat@example.org", "--role", "acheteuse", "--json",
        )
    )  # fmt: skip
    operation = data(
        run(
            "operation",
            "add",
            "Collège de l'Exemple",
            "--buyer",
            str(buyer["id"]),
            "--place",
            "Auch",
            "--json",
        )
    )
    market = data(
        run(
            "market",
            "add",
            "M-2026-01",
            "--operation",
            str(operation["id"]),
            "--title",
            "Construction",
            "--json",
        )
    )
    lot = data(
        run(
            "lot", "add", "--market", str(market["id"]), "--number", "1", "--title", "Gros œuvre",
            "--amount", "3 780 000", "--labour-share", "50 %", "--rate", "7,5 %",
            "--hourly-cost", "30", "--json",
        )
    )  # fmt: skip
    company = data(
        run(
            "company",
            "add",
            "BTP Exemple",
            "--siret",
            "732 829 320 00074",
            "--city",
            "Auch",
            "--json",
        )
    )
    person = data(
        run(
            "company", "correspondent-add", str(company["id"]), "--name", "Paul Chantier",
            "--email", "paul.chantier@example.org", "--json",
        )
    )  # fmt: skip
    partner = data(run("company", "add", "Insertion 32", "--json"))
    return {
        "buyer": buyer["id"],
        "operation": operation["id"],
        "market": market["id"],
        "clause": lot["id"],
        "company": company["id"],
        "correspondent": person["id"],
        "partner": partner["id"],
    }


def test_it_adds_and_lists_the_whole_catalogue(run: Run, territory: dict[str, int]) -> None:
    ids = territory

    buyers = data(run("buyer", "list", "--json"))
    assert [(b["nom"], b["avis"]) for b in buyers] == [("Département de l'Exemple", "chaque-etape")]
    assert buyers[0]["contacts"][0]["email"] == "anne.achat@example.org"

    companies = {c["nom"]: c for c in data(run("company", "list", "--json"))}
    assert companies["BTP Exemple"]["siret"] == "73282932000074"
    assert companies["BTP Exemple"]["correspondants"][0]["id"] == ids["correspondent"]
    assert companies["Insertion 32"]["siret"] is None

    operations = data(run("operation", "list", "--buyer", str(ids["buyer"]), "--json"))
    assert [(o["nom"], o["lieu"], o["marches"]) for o in operations] == [
        ("Collège de l'Exemple", "Auch", 1)
    ]
    markets = data(run("market", "list", "--json"))
    assert [(m["reference"], m["lots"]) for m in markets] == [("M-2026-01", 1)]

    lots = data(run("lot", "list", "--market", str(ids["market"]), "--json"))
    assert [(lot["lot"], lot["heures_calculees"], lot["etape"]) for lot in lots] == [
        ("1", 4725, "identification")
    ]
    assert data(run("clause", "list", "--json")) == lots


def test_it_prints_readable_french_lists(run: Run, territory: dict[str, int]) -> None:
    assert "Donneurs d'ordre" in ok(run("buyer", "list"))
    assert "un avis à chaque étape" in ok(run("buyer", "list"))
    assert "Entreprises" in ok(run("company", "list"))
    assert "Gros œuvre" in ok(run("lot", "list"))


def test_the_tables_print_square_brackets_as_typed(run: Run) -> None:
    """A cell is data: « [bold] » in a name, or a correction's reason kept with square brackets
    (« heures oubliées [relevé corrigé] »), is printed as typed, not read as a style by rich
    (user trial: « motif : heures oubliées ) »)."""
    ok(run("company", "add", "Menuiserie [bold]Test [relevé corrigé]"))
    listed = " ".join(ok(run("company", "list")).split())
    assert "Menuiserie [bold]Test [relevé corrigé]" in listed


def test_it_says_what_was_created_in_french(run: Run) -> None:
    out = ok(run("buyer", "add", "Ville de l'Exemple", "--kind", "commune", "--notices", "mensuel"))
    assert out.strip() == (
        "Donneur d'ordre n° 1 ajouté : Ville de l'Exemple (commune), "
        "la synthèse mensuelle seulement."
    )


def test_it_adds_a_lot_with_imposed_hours_and_shows_both_figures(
    run: Run, territory: dict[str, int]
) -> None:
    ids = territory
    out = ok(
        run(
            "lot", "add", "--market", str(ids["market"]), "--number", "4", "--title", "Serrurerie",
            "--amount", "100 000", "--labour-share", "20 %", "--rate", "5 %", "--hourly-cost", "30",
            "--hours", "200", "--hours-reason", "arbitrage du donneur d'ordre",
        )
    )  # fmt: skip
    assert "Clause n° 2 créée à l'étape « repérage »" in out
    assert "Attention : 33 h" in out
    assert "Heures imposées : 200\u00a0h (arbitrage du donneur d'ordre)." in out
    shown = data(run("clause", "show", "2", "--json"))
    assert (shown["heures_calculees"], shown["heures_imposees"], shown["heures_prevues"]) == (
        33,
        200,
        200,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("buyer", "add", "Département de l'Exemple"), "Le donneur d'ordre « Département de l'Exemple » existe déjà (n° 1)."),
        (("buyer", "add", "Autre", "--notices", "parfois"), "Préférence d'avis « parfois » inconnue."),
        (("buyer", "add", "Autre", "--reminder-offsets", "7,3"), "Jours de rappel « 7,3 »"),
        (("buyer", "add", "Autre", "--due-day", "31"), "doit être entre 1 et 28"),
        (("buyer", "contact-add", "9", "--name", "X", "--email", "x@example.org"), unknown("Donneur d'ordre", "9", "buyer list")),
        (("buyer", "contact-add", "1", "--name", "X", "--email", "pas-une-adresse"), "« pas-une-adresse » n'est pas une adresse e-mail"),
        (("buyer", "contact-add", "1", "--name", "X", "--email", "x@example.org", "--phone", "x@example.org"), "Téléphone du contact : « x@example.org » n'est pas un numéro de téléphone (exemple : 05 62 00 00 00"),
        (("company", "correspondent-add", "1", "--name", "X", "--email", "x@example.org", "--phone", "12"), "Téléphone du correspondant : « 12 » n'est pas un numéro de téléphone"),
        (("company", "add", "Autre", "--siret", "732 829 320 00075"), "la clé de contrôle ne correspond pas"),
        (("company", "add", "Autre", "--siret", "1234"), "14 chiffres attendus (espaces permis)"),
        (("company", "add", "Autre", "--siret", "73282932000074"), "déjà celui de l'entreprise « BTP Exemple »"),
        (("company", "correspondent-add", "99", "--name", "X", "--email", "x@example.org"), unknown("Entreprise", "99", "company list")),
        (("operation", "add", "X", "--buyer", "42"), unknown("Donneur d'ordre", "42", "buyer list")),
        (("market", "add", "X", "--operation", "42"), unknown("Opération", "42", "operation list")),
        (("lot", "add", "--market", "42", "--title", "X"), unknown("Marché", "42", "market list")),
        (("lot", "add", "--market", "1", "--number", "1", "--title", "X"), "Le lot 1 du marché « M-2026-01 » existe déjà (clause n° 1)."),
        (("lot", "add", "--market", "1", "--title", "X", "--rate", "5"), "--rate (taux d'insertion) : « 5 »"),
        (("lot", "add", "--market", "1", "--title", "X", "--hours", "300"), "indiquez la raison"),
    ],
)  # fmt: skip
def test_it_refuses_bad_catalogue_input_and_changes_nothing(
    run: Run, territory: dict[str, int], args: tuple[str, ...], words: str | tuple[str, ...]
) -> None:
    before = [
        data(run(what, "list", "--json"))
        for what in ("buyer", "company", "operation", "market", "lot")
    ]
    assert_says(refused(run(*args)), words)
    after = [
        data(run(what, "list", "--json"))
        for what in ("buyer", "company", "operation", "market", "lot")
    ]
    assert after == before


# --- a clause's life --------------------------------------------------------------------------


def test_it_walks_a_clause_through_every_stage(
    run: Run, tmp_path: Path, territory: dict[str, int]
) -> None:
    ids = territory
    clause = str(ids["clause"])

    assert "repérage → calibrage et rédaction" in ok(run("clause", "advance", clause, "rédiger"))
    moved = data(run("clause", "advance", clause, "attribuer", "--json"))
    assert (moved["de"], moved["vers"]) == ("drafting", "award")

    awarded = data(
        run(
            "clause", "award", clause, "--company", str(ids["company"]),
            "--start", "01/04/2026", "--end", "30/06/2027",
            "--subcontractor", f"{ids['partner']}::725", "--hours", "4000", "--json",
        )
    )  # fmt: skip
    holder, partner = awarded["entreprises"]
    assert (holder["entreprise"], holder["role"], holder["email"], holder["heures"]) == (
        "BTP Exemple",
        "titulaire",
        "paul.chantier@example.org",  # the company's only correspondent, chosen without asking
        4000,
    )
    assert (partner["role"], partner["heures"], partner["correspondant"]) == (
        "sous-traitant",
        725,
        None,
    )

    ok(run("clause", "advance", clause, "demarrer"))
    imposed = ok(run("clause", "hours", clause, "5000", "--reason", "avenant n° 1"))
    # Thousands apart by Babel's narrow no-break space, as in the emails.
    assert "5\u202f000 heures imposées (calculées : 4\u202f725)." in imposed
    ok(run("clause", "advance", clause, "achever", "--end-date", "30/11/2026"))

    bilan = tmp_path / "bilan.txt"
    bilan.write_bytes("Bilan de l'opération : 4 900 heures réalisées.".encode("cp1252"))
    assert "Bilan de la clause n° 1 enregistré." in ok(
        run("clause", "report", clause, "--file", str(bilan))
    )
    assert "suivi et bilan → clôturée" in ok(run("clause", "advance", clause, "clôturer"))

    shown = data(run("clause", "show", clause, "--json"))
    assert shown["etape"] == "closed"
    assert shown["version"] == 6
    assert shown["evenements_permis"] == []
    assert [row["evenement"] for row in shown["historique"]] == [
        "identify", "draft", "award", "award_recorded", "start", "hours_override",
        "finish", "final_report", "close",
    ]  # fmt: skip
    text = ok(run("clause", "show", clause))
    assert "Étape : clôturée (version 6)" in text
    assert "Heures d'insertion prévues : 5\u202f000\u00a0h" in text
    assert "imposées (avenant n° 1) ; calculées : 4\u202f725\u00a0h" in text
    assert "Historique" in text
    history = text.split("Historique", 1)[1]
    # Every row in French words, none as a code; the time in the service's zone, never UTC.
    for label in (
        "repérage", "rédaction", "attribution", "attribution enregistrée", "démarrage",
        "heures imposées", "fin d'exécution", "bilan enregistré", "clôture",
    ):  # fmt: skip
        assert f"│ {label} " in history, label
    for code in ("draft", "award_recorded", "hours_override", "final_report", "close"):
        assert code not in history
    for row in shown["historique"]:
        moment = datetime.fromisoformat(row["date"])
        assert f"{moment.astimezone(ZoneInfo('Europe/Paris')):%d/%m/%Y %H:%M}" in history
        assert f"{moment.astimezone(UTC):%d/%m/%Y %H:%M}" not in history


def test_it_explains_a_refused_transition_and_changes_nothing(
    run: Run, territory: dict[str, int]
) -> None:
    ids = territory
    clause = str(ids["clause"])
    before = data(run("clause", "show", clause, "--json"))
    message = refused(run("clause", "advance", clause, "démarrer"))
    assert message == (
        "Refusé : Clause n° 1 (marché M-2026-01 lot 1 – Gros œuvre) est à l'étape « repérage » : "
        "l'événement « démarrer » n'y est pas permis. Permis maintenant : rédiger (draft), "
        "abandonner (abandon)."
    )
    assert data(run("clause", "show", clause, "--json")) == before


def test_it_says_what_is_missing_before_starting(run: Run, territory: dict[str, int]) -> None:
    ids = territory
    clause = str(ids["clause"])
    ok(run("clause", "advance", clause, "draft"))
    ok(run("clause", "advance", clause, "award"))
    message = refused(run("clause", "advance", clause, "start"))
    assert (
        "il manque : une entreprise attributaire avec l'adresse e-mail de son correspondant "
        "et la date de démarrage." in message
    )
    assert f"clauses clause advance {clause} démarrer." in message
    assert "Permis maintenant" not in message


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("clause", "advance", "1", "valider"), "Événement inconnu « valider »."),
        (("clause", "advance", "99", "draft"), unknown("Clause", "99", "clause list")),
        (("clause", "show", "99"), unknown("Clause", "99", "clause list")),
        (("clause", "advance", "un", "draft"), unknown("Clause", "un", "clause list")),
        (("clause", "list", "--stage", "finie"), "Étape inconnue « finie »."),
        (("clause", "advance", "1", "achever", "--end-date", "31/02/2027"), "--end-date : « 31/02/2027 » n'est pas une date"),
        (("clause", "award", "1", "--company", "1", "--start", "01/04/2026", "--end", "30/06/2027"), "l'attribution s'enregistre à l'étape « attribution »"),
        (("clause", "award", "1", "--company", "1", "--start", "1er avril", "--end", "30/06/2027"), "--start : « 1er avril » n'est pas une date"),
        (("clause", "award", "1", "--company", "1", "--start", "01/04/2026", "--end", "30/06/2027", "--co-contractor", "a:b"), "--co-contractor « a:b »"),
        (("clause", "report", "1", "--text", "bilan"), "le bilan s'enregistre à l'étape « suivi et bilan »"),
        (("clause", "hours", "1", "0", "--reason", "x"), "doit être un nombre entier positif"),
        (("clause", "figures", "1", "--labour-share", "2"), "--labour-share (part de main-d'œuvre) : « 2 »"),
    ],
)  # fmt: skip
def test_it_refuses_bad_clause_commands_with_exit_code_1(
    run: Run, territory: dict[str, int], args: tuple[str, ...], words: str | tuple[str, ...]
) -> None:
    before = data(run("clause", "show", "1", "--json"))
    assert_says(refused(run(*args)), words)
    assert data(run("clause", "show", "1", "--json")) == before


@pytest.mark.parametrize(
    "args",
    [
        ("clause", "frobnicate"),
        ("clause", "advance", "99999999999", "draft"),  # no N° is that large
        ("clause", "report", "1"),
        ("clause", "report", "1", "--text", "x", "--file", "bilan.txt"),
        ("clause", "figures", "1"),
        ("lot", "add", "--title", "sans marché"),
        ("hours", "--amount"),
    ],
)
def test_it_exits_with_2_when_the_command_is_misused(
    run: Run, args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the file named on the command line, not in the checkout
    Path("bilan.txt").write_text("bilan", encoding="utf-8")
    assert usage(run(*args))


def test_it_abandons_a_clause_and_then_allows_nothing(run: Run, territory: dict[str, int]) -> None:
    ids = territory
    clause = str(ids["clause"])
    out = ok(run("clause", "advance", clause, "abandonner", "--reason", "marché infructueux"))
    assert "repérage → abandonnée" in out
    message = refused(run("clause", "advance", clause, "rediger"))
    assert "Permis maintenant : aucun (étape finale)." in message
    listed = data(run("clause", "list", "--stage", "abandonnée", "--json"))
    assert [c["id"] for c in listed] == [ids["clause"]]


def test_it_recomputes_hours_when_the_figures_change(run: Run, territory: dict[str, int]) -> None:
    ids = territory
    result = data(run("clause", "figures", str(ids["clause"]), "--amount", "1 000 000", "--json"))
    assert result["heures_calculees"] == 1250
    assert result["calcul"]["formule"] == "1 000 000 € × 50 % × 7,5 % ÷ 30 €/h"


def test_it_prints_names_with_brackets_as_typed(run: Run) -> None:
    """Rich would read ``[/x]`` as a closing tag and stop, or swallow ``[lot a]``."""
    company = run("company", "add", "Bâtiment [lot a] [/x]")

    assert company.exit_code == 0, company.output
    assert company.stdout == "Entreprise n° 1 ajoutée : Bâtiment [lot a] [/x].\n"


# --- French typography ------------------------------------------------------------------------


def test_it_puts_the_article_and_the_elision_where_french_needs_them(run: Run) -> None:
    department = data(run("buyer", "add", "Département du Gers", "--kind", "departement", "--json"))
    added = ok(
        run(
            "buyer", "contact-add", str(department["id"]), "--name", "Anne Achat",
            "--email", "anne.achat@example.org",
        )
    )  # fmt: skip
    assert "Contact n° 1 ajouté au Département du Gers : Anne Achat" in added
    company = data(run("company", "add", "Isol'Sud", "--json"))
    added = ok(
        run(
            "company", "correspondent-add", str(company["id"]), "--name", "Inès Moreau",
            "--email", "ines.moreau@example.org",
        )
    )  # fmt: skip
    assert "Correspondant n° 1 ajouté à Isol'Sud : Inès Moreau" in added


@pytest.mark.parametrize(
    ("name", "of", "to"),
    [
        ("Département de l'Exemple", "du Département de l'Exemple", "au Département de l'Exemple"),
        ("Commune de Lasbordes", "de la Commune de Lasbordes", "à la Commune de Lasbordes"),
        ("Agglomération du Grand Auch", "de l'Agglomération du Grand Auch", "à l'Agglomération du Grand Auch"),
        ("État", "de l'État", "à l'État"),
        ("Isol'Sud", "d'Isol'Sud", "à Isol'Sud"),
        ("Inès Moreau", "d'Inès Moreau", "à Inès Moreau"),
        ("Bâtiments Gascons", "de Bâtiments Gascons", "à Bâtiments Gascons"),
    ],
)  # fmt: skip
def test_names_take_de_and_a_as_french_writes_them(name: str, of: str, to: str) -> None:
    assert (of_name(name), to_name(name)) == (of, to)


def test_every_history_row_has_a_french_label() -> None:
    for event in ClauseEvent:  # « abandon » is French as it is; the others are not
        assert event.value in HISTORY_LABELS
    assert history_label("draft") == "rédaction" and history_label("finish") == "fin d'exécution"
    assert history_label("some_new_event") == "some new event"


def test_counts_are_printed_with_thousands_apart() -> None:
    assert plural(12345, "courriel envoyé", "courriels envoyés") == "12\u202f345 courriels envoyés"
    assert plural(0, "clause", "clauses") == "0 clause"
    assert hours_text(Decimal("4725")) == "4\u202f725\u00a0h"
    assert hours_text(Decimal("1151.5")) == "1\u202f151,50\u00a0h"
    assert hours_text(None, "à calculer") == "à calculer"
