"""One month owed is said in the singular (user trial, 7 December 2026): the final report's and
the closure's warnings said « 1 déclaration … nomment ces mois », « Ces mois ne sont plus
demandés : leurs rappels », and the annual report « clôturé sans ces déclarations »."""

from __future__ import annotations

from datetime import date

import pytest

from tests.text import squash
from workflow.app.command_words import released_words
from workflow.emails.notices import Outstanding
from workflow.entrypoints.cli.clauses import closure_warning, report_warning
from workflow.services.annual_report import _state

ONE = (Outstanding("Bâtiments Test", (date(2026, 11, 1),)),)
TWO = (Outstanding("Bâtiments Test", (date(2026, 10, 1), date(2026, 11, 1))),)


def test_the_final_report_s_warning_of_one_month(capsys: pytest.CaptureFixture[str]) -> None:
    report_warning(ONE)
    said = squash(capsys.readouterr().out)
    assert said == (
        "Attention : 1 déclaration mensuelle n'a pas été reçue ; le bilan et le courriel envoyé "
        "au donneur d'ordre donnent un total sans ses heures, et nomment ce mois : "
        "- Bâtiments Test : novembre 2026 "
        "Clôturer la clause arrêtera de la demander (rappels annulés, chaque entreprise "
        "prévenue) : ses heures ne seront alors comptées nulle part. Tant qu'elle n'est pas "
        "clôturée, vous pouvez encore l'enregistrer (clauses declaration import ou clauses "
        "declaration zero), puis enregistrer à nouveau le bilan."
    ), said
    report_warning(TWO)
    assert "sans leurs heures, et nomment ces mois" in squash(capsys.readouterr().out)


def test_the_closure_s_warning_of_one_month(capsys: pytest.CaptureFixture[str]) -> None:
    closure_warning(7, ONE)
    said = squash(capsys.readouterr().out)
    assert said.endswith(
        "Ce mois n'est plus demandé : ses rappels et alertes sont arrêtés, les courriels qui le "
        "demandaient encore sont retirés, et l'entreprise appelée pour lui en est prévenue par "
        "courriel. Ses heures ne sont comptées ni dans le bilan ni dans aucun total."
    ), said
    assert released_words(2).startswith("Ces mois ne sont plus demandés : leurs rappels")


def test_the_annual_report_s_closed_lot_of_one_month() -> None:
    assert _state("closed", None, 1) == "clôturé sans cette déclaration"
    assert _state("closed", date(2026, 11, 15), 2) == (
        "marché résilié le 15/11/2026, clôturé sans ces déclarations"
    )
