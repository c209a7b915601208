"""The ``company_planned_end`` email as the company reads it, in the cases the integration tests
do not reach: a lot suspended (the months said, no date: no call leaves before the resumption)
and a company that joined after the new end's month (nothing left to declare on the lot)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from tests.text import squash, visible
from workflow.adapters.templates import TemplateRenderer
from workflow.emails.notices import EndMove
from workflow.emails.planned_ends import KIND, company_planned_end_context
from workflow.emails.samples import HOLDER, HOLDER_CORRESPONDENT, LOT

SIGNATURE = {
    "name": "Camille Martin",
    "title": "Facilitatrice des clauses sociales",
    "organisation": "Maison de l'emploi de l'Exemple",
    "email": "camille.martin@example.org",
    "phone": "05 62 00 00 00",
    "extra": "",
}


def _read(lot_stage: str, move: EndMove, **kwargs: object) -> tuple[str, str, str]:
    lot = replace(LOT, stage=lot_stage, end_date=None, planned_end_date=move.after)
    context = company_planned_end_context(
        lot,
        HOLDER.company,
        HOLDER_CORRESPONDENT,
        move=move,
        due_day=10,
        at=date(2027, 5, 12),
        reason="avenant n° 2",
        **kwargs,  # type: ignore[arg-type]
    )
    email = TemplateRenderer(signature=SIGNATURE).render(KIND, context)
    return email.subject, squash(email.text), visible(email.html)


def test_a_suspended_lot_names_the_months_added_and_no_date() -> None:
    subject, text, html = _read("suspended", EndMove(date(2027, 6, 30), date(2027, 8, 31)))
    assert subject.startswith("Fin prévue reportée au 31 août 2027 : mois de juillet et d'août")
    said = (
        "Les mois de juillet et d'août 2027 vous seront demandés en plus, chacun par un appel à "
        "déclarer au début du mois suivant, une fois la clause reprise : elle est suspendue"
    )
    assert said in text
    assert said.replace(" :", "\u00a0:") in html
    assert "au plus tard" not in text and "au plus tard" not in html


def test_a_company_joined_after_the_new_end_is_told_it_has_nothing_to_declare() -> None:
    _, text, html = _read(
        "execution",
        EndMove(date(2027, 6, 30), date(2027, 4, 30)),
        first_month=date(2027, 6, 1),
    )
    assert "Le mois de juin 2027, après la nouvelle fin prévue, ne vous sera pas demandé" in text
    assert "Vous n'aurez donc aucune déclaration à faire sur ce lot." in text
    assert "dernière déclaration" not in text and "dernière déclaration" not in html
