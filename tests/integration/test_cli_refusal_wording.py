"""What the command line says when it refuses, or records a month nobody asked, in the words a
facilitator acts on (user trial on the demo database):

- a departure refused for a month declared after it said « ne peut pas avoir quitté le chantier
  après janvier 2027 », the opposite of what it meant: now the last month refused, and the last
  month possible;
- « clause advance … demarrer » refused listed « démarrer » among the events « permis
  maintenant », and joined what was missing with « ; »: now a French enumeration, the command
  that gives each, then the event refused, and only the other events as permitted;
- the digest's « --correspondent CORRESPONDANT », typed with a name, was refused « n'est pas un
  entier valide »: every command the digest prints, its placeholders filled as they read, is
  accepted by the command line;
- a zero declaration recorded after the company's last month on the lot said nothing: now it
  warns, as the import does for a month before its first (still recorded);
- a company named without its accent and with a word left out was « introuvable » with no more:
  now the closest names are offered.

Over the real services and the real command line, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import date, datetime, time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.integration._ladders import Lot, declare, make_lot
from tests.integration.test_digest import NOW as DIGEST_NOW
from tests.integration.test_digest import build
from tests.text import squash as _squash
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.domain.stages import ClauseEvent, ClauseFacts, Stage, next_stage
from workflow.entrypoints.cli import cli
from workflow.entrypoints.cli.common import CliState
from workflow.errors import TransitionRefused
from workflow.services.digest import compile_digest

HOLDER, GONE = "Bâtiments Garonne", "Gascogne Insertion Bâtiment (EI)"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


def squash(text: str) -> str:
    """The text as read: spaces, non-breaking or not, and line breaks alike."""
    return _squash(text.replace("\u00a0", " "))


def _local(app: App, day: date, hour: int) -> datetime:
    return at_local(day, time(hour), app.settings.zone)


def _cli(app: App, at: datetime, *args: str, code: int = 0) -> str:
    """A ``clauses`` command at ``at``: its output (and its refusal)."""
    state = CliState()
    state.factory = lambda: app
    real_clock = app.clock
    app.clock = lambda: at
    try:
        result = CliRunner().invoke(cli, list(args), obj=state)
    finally:
        app.clock = real_clock
    assert result.exit_code == code, result.output
    return result.output


def _lot_with_october_declared(app: App) -> Lot:
    """A lot started in September 2026, ``GONE`` its co-contractor, which declared October."""
    lot = make_lot(
        app,
        start=SEP,
        end=date(2027, 12, 31),
        companies=(HOLDER, GONE),
        at=_local(app, date(2026, 9, 1), 9),
    )
    declare(app, lot, OCT, _local(app, date(2026, 11, 3), 11), company=1)
    return lot


def test_a_departure_before_a_declared_month_names_the_last_month_possible(app: App) -> None:
    lot = _lot_with_october_declared(app)
    out = _cli(
        app,
        _local(app, date(2026, 11, 10), 16),
        *("clause", "company-left", str(lot.clause_id), "--company", GONE),
        *("--last-month", "09/2026", "--reason", "part finie"),
        code=1,
    )
    said = squash(out)
    assert "ne peut pas avoir quitté le chantier après" not in said
    assert (
        squash(
            f"--last-month : {GONE} ne peut pas avoir septembre 2026 pour dernier mois sur le "
            "chantier : elle a déjà déclaré octobre 2026 (dernier mois possible : octobre 2026 "
            "ou après)."
        )
        in said
    ), said


def test_a_refused_start_says_what_to_do_and_never_permits_itself() -> None:
    label = "Clause n° 3 (marché 2026-014 lot 03 – Menuiseries extérieures)"
    with pytest.raises(TransitionRefused) as refused:
        next_stage(
            label,
            Stage.AWARD,
            ClauseEvent.START,
            ClauseFacts(800, None, None, None, False),
            clause_id=3,
        )
    typed = squash(refused.value.command_line_message)
    web = squash(refused.value.message)
    assert (
        "il manque : une entreprise attributaire avec l'adresse e-mail de son correspondant et "
        "la date de démarrage." in typed
    ), typed
    assert (
        "À faire : clauses clause award 3 --company ENTREPRISE --correspondent N°_CORRESPONDANT "
        "--start jj/mm/aaaa --end jj/mm/aaaa, en redonnant chaque --co-contractor et "
        "--subcontractor déjà attribué (une entreprise omise est retirée) ; N° du "
        "correspondant : « clauses company show ENTREPRISE », ou « clauses company "
        "correspondent-add ENTREPRISE --name … --email … » s'il n'y en a pas ; puis clauses "
        "clause advance 3 démarrer. Permis aussi maintenant : abandonner (abandon)." in typed
    ), typed
    assert "Permis maintenant" not in typed and "démarrer (start)" not in typed
    assert "complétez l'attribution sur la page de la clause" in web, web
    assert ", puis « démarrer ». Permis aussi maintenant : abandonner." in web, web
    assert "clauses " not in web


# --- every command the digest prints runs as written, its placeholders filled as they read ----

COMMAND = re.compile(r"clauses ([^;)]+)")

#: What a person types for each placeholder of the digest: what the placeholder says. A name
#: for « CORRESPONDANT » (the user trial typed « Karim Haddad »), a N° for a N°.
FILLED = {
    "ENTREPRISE": GONE,
    "CORRESPONDANT": "Karim Haddad",
    "N°_CORRESPONDANT": "6",
    "N°": "12",
    "jj/mm/aaaa": "30/06/2027",
    "HEURES": "120",
    "…": "1",
}


def _resolve(tokens: list[str]) -> tuple[list[str], click.Command, list[str]]:
    command: click.Command = cli
    path: list[str] = []
    rest = list(tokens)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return path, command, rest


def test_every_command_the_digest_prints_is_accepted_as_written(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(app)
    monkeypatch.chdir(tmp_path)  # the files the commands name, as the facilitator has them
    (tmp_path / "bilan.txt").write_text("Bilan.\n", encoding="utf-8")
    (tmp_path / "FICHIER.csv").write_text("", encoding="utf-8")
    with app.transaction() as session:
        actions = [item.action for item in compile_digest(session, DIGEST_NOW, app.settings).items]
    checked = []
    for action in actions:
        for found in COMMAND.finditer(action):
            tokens = [FILLED.get(token, token) for token in shlex.split(found.group(1))]
            path, command, rest = _resolve(tokens)
            assert not isinstance(command, click.Group), found.group(0)
            try:
                command.make_context(f"clauses {' '.join(path)}", rest)
            except click.UsageError as refused:  # a value the option does not take
                pytest.fail(f"« {found.group(0).strip()} » : {refused.format_message()}")
            checked.append(" ".join(path))
    assert "clause award" in checked and "company show" in checked, checked


# --- a month recorded outside the company's months ---------------------------------------------


def test_a_zero_month_after_the_last_one_is_recorded_with_a_warning(app: App) -> None:
    lot = _lot_with_october_declared(app)
    clause, gone = str(lot.clause_id), str(lot.company_ids[1])
    at = _local(app, date(2027, 1, 8), 10)
    _cli(app, at, "clause", "company-left", clause, "--company", gone, "--last-month", "10/2026",
         "--reason", "part finie")  # fmt: skip
    zero = ("declaration", "zero", "--clause", clause, "--company", gone)
    out = squash(_cli(app, at, *zero, "--month", "11/2026"))
    assert "Déclaration de novembre 2026 à zéro heure enregistrée" in out, out
    assert "Attention :" in out
    assert (
        f"novembre 2026 suit le dernier mois de {GONE} sur le lot" in out
        and "elle a quitté le chantier, son dernier mois est octobre 2026. La déclaration est "
        "enregistrée et ses heures comptent ; ce mois ne lui avait pas été demandé."
        in out
    ), out
    # A month asked of it says nothing more; nor does the JSON of a month asked.
    out = squash(_cli(app, at, *zero, "--month", "09/2026"))
    assert "Attention" not in out, out
    answer = json.loads(_cli(app, at, *zero, "--month", "12/2026", "--json"))
    [warning] = answer["avertissements"]
    assert warning.startswith(f"décembre 2026 suit le dernier mois de {GONE} sur le lot"), warning


# --- a company named nearly right ---------------------------------------------------------------


def test_a_company_named_without_its_accent_is_offered_by_its_name(app: App) -> None:
    lot = _lot_with_october_declared(app)
    at = _local(app, date(2026, 11, 10), 16)
    zero = ("declaration", "zero", "--clause", str(lot.clause_id), "--month", "09/2026")
    out = squash(_cli(app, at, *zero, "--company", "Gascogne Batiment", code=1))
    assert (
        f"Entreprise « Gascogne Batiment » introuvable : vouliez-vous dire « {GONE} » "
        f"(n° {lot.company_ids[1]}) ? La liste : « clauses company list »." in out
    ), out
    assert HOLDER not in out
    out = squash(_cli(app, at, *zero, "--company", "Zéphyr Plomberie", code=1))
    assert "Entreprise « Zéphyr Plomberie » introuvable. La liste" in out, out
