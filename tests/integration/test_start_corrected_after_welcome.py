"""A start corrected later after the welcome left: the company reads which months it is asked no
more, and their links say so in its words (user trial, 7 December 2026: corrected from 5 January
to 1 March, the short email listed « Démarrage : 5 janvier 2027 → 1er mars 2027 » then « Le reste
de mon message d'accueil reste valable » while January and February, given with dates and links
in the welcome, were no longer asked; January's link showed « À déclarer au plus tard le mercredi
10 février 2027 » above « Le mois de janvier 2027 précède le démarrage de la clause n° 3
(01/03/2027) »). March's link, once the start is recorded, gives the form.

Through the real services and the real ASGI application, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Clock, make_settings
from tests.integration._ladders import Lot, make_lot
from tests.integration.test_award_during_works_g import parties_of
from tests.integration.test_clause_corrections import all_left
from tests.integration.test_declaration_link_validity_closed_lots import page_text
from tests.integration.test_online_declaration_catch_up import attached_csv, filled, hidden_lines
from tests.integration.test_welcome_promise import paris
from tests.text import squash
from workflow.adapters.orm import Declaration, OutboxAttachment, OutboxMessage
from workflow.app.clauses import advance_clause
from workflow.bootstrap import App
from workflow.domain.stages import ClauseEvent
from workflow.entrypoints.web.site import create_site
from workflow.errors import InputRefused
from workflow.services.clauses import apply_award
from workflow.settings import Settings

FORM = "Vérifier la déclaration"
END = date(2027, 9, 30)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def correct_start(app: App, lot: Lot, start: date, at: datetime) -> None:
    parties = parties_of(app, lot)
    with app.transaction() as session:
        apply_award(
            session,
            lot.clause_id,
            parties=parties,
            start_date=start,
            planned_end_date=END,
            actor="Camille",
            now=at,
            publish=app.publish,
            zone=app.settings.zone,
        )


def bodies(app: App, kind: str) -> list[str]:
    with app.transaction() as session:
        return list(
            session.scalars(
                select(OutboxMessage.body_text)
                .where(OutboxMessage.kind == kind)
                .order_by(OutboxMessage.id)
            )
        )


def link_paths(body: str) -> dict[str, str]:
    """The links of an email, by the month they are written beside (« - janvier 2027 : URL »)."""
    found = re.findall(r"- ([a-zéû]+ 20\d\d) : (https?://\S+/declarer/\S+)", body)
    return {month: urlparse(url).path for month, url in found}


def test_a_start_moved_later_says_which_months_are_asked_no_more_and_their_links_agree(
    app: App, clock: Clock, settings: Settings
) -> None:
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 1, 5), end=END, at=awarded, started=False)
    all_left(app)
    (welcome,) = bodies(app, "company_welcome")
    links = link_paths(welcome)
    assert sorted(links) == ["février 2027", "janvier 2027", "mars 2027"], welcome
    # One call asks the three months, with one due date: their links last alike (January's and
    # February's expired on 31 May, March's on 11 June, counted from the schedule's dates).
    assert len({path.split(".")[3] for path in links.values()}) == 1, links

    corrected_at = paris(date(2027, 4, 1), 10)
    clock.set(corrected_at)
    correct_start(app, lot, date(2027, 3, 1), corrected_at)
    (corrected,) = bodies(app, "company_award_corrected")
    text = squash(corrected)
    assert "- Démarrage : 5 janvier 2027 → 1er mars 2027" in corrected, corrected
    assert (
        "Janvier et février 2027, que mon message d'accueil vous demandait, ne vous sont plus "
        "demandés : ils précèdent le démarrage de l'exécution, désormais fixé au 1er mars 2027. "
        "Vous n'avez rien à déclarer pour ces mois, et les liens de déclaration que vous avez pu "
        "recevoir pour ces mois ne servent plus."
    ) in text, text
    # The start of 1 March is past too and not recorded: the welcome's question on the start
    # of 5 January is asked again of the new date, not left « valable ».
    assert (
        "Les travaux devaient démarrer le 1er mars 2027 : s'ils ont commencé, répondez à ce "
        "message pour me le confirmer, avec leur date de démarrage si elle diffère."
    ) in text, text
    assert "5 janvier 2027 : s'ils ont commencé" not in text, text
    # The buyer is asked again for the start, at its new date, past too.
    (notice,) = [squash(b) for b in bodies(app, "notice_award_corrected")]
    assert (
        "Le démarrage, désormais prévu le 1er mars 2027, est passé sans avoir été enregistré : si "
        "l'exécution a commencé, indiquez-moi sa date de démarrage."
    ) in notice, notice
    # Its own dates and links are March's and after, never January's or February's.
    assert sorted(link_paths(corrected)) == ["mars 2027"], corrected
    assert not re.search(r"^\s+(janvier|février) 2027 ", corrected, re.M), corrected

    client = TestClient(create_site(app))
    contact = f"écrivez à {settings.facilitator_name} ({settings.facilitator_email}"
    for month in ("janvier 2027", "février 2027"):
        page = page_text(client.get(links[month]))
        assert (
            f"{month.capitalize()} ne vous est plus demandé : le démarrage de l'exécution du lot "
            "1 « Gros œuvre » (marché "
        ) in page and (
            "est fixé au 1er mars 2027, et le premier mois à déclarer est mars 2027. Vous n'avez "
            f"rien à déclarer pour {month}. Si votre entreprise a travaillé sur ce lot en "
            f"{month}, {contact}"
        ) in page, page
        assert "au plus tard le" not in page and "précède" not in page, page
        assert FORM not in page and "pas encore enregistré" not in page, page

    # The start recorded: March's link (the welcome's, as the correction's) gives the form;
    # January's still says it is asked no more.
    advance_clause(app, lot.clause_id, ClauseEvent.START, reason=None)
    march = page_text(client.get(links["mars 2027"]))
    assert FORM in march and "À déclarer au plus tard le" in march, march
    january = page_text(client.get(links["janvier 2027"]))
    assert "Janvier 2027 ne vous est plus demandé" in january and FORM not in january, january
    # The company follows the correction: it fills the template attached to it (the welcome's
    # covered January and February too, and a file naming them was refused whole) and sends it
    # from March's link: March is recorded.
    with app.transaction() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_award_corrected")
        ).one()
        session.expunge(message)
    name, rows, encoding = attached_csv(app, message)
    assert name.endswith("-2027-03.csv"), name
    assert (
        f"au choix « {name} » (CSV pour Excel) ou « {name.removesuffix('.csv')}.xlsx » (classeur "
        "Excel), couvre mars 2027 : il remplace celui que je vous avais envoyé, à ne plus utiliser."
    ) in text, text
    data = filled(rows, encoding, {"03/2027": [("P-0042", "80")]})
    shown = client.post(
        f"{links['mars 2027']}/fichier", files={"fichier": (name, data, "text/csv")}
    )
    assert shown.status_code == 200, page_text(shown)
    done = client.post(links["mars 2027"], data={**hidden_lines(shown.text), "action": "confirmer"})
    assert done.status_code == 200, page_text(done)
    with app.transaction() as session:
        assert session.execute(select(Declaration.month, Declaration.total_hours)).all() == [
            (date(2027, 3, 1), Decimal("80"))
        ]

    # Hours declared for March: the start may not move after it, and the refusal says why
    # (it advised recording the months before at zero hours, « si personne n'a travaillé »).
    with pytest.raises(InputRefused) as moved:
        correct_start(app, lot, date(2027, 4, 1), paris(date(2027, 4, 6), 10))
    assert moved.value.message == (
        "Démarrage : le 01/04/2027 est après mars 2027, mois pour lequel Bâtiments Test a "
        "déclaré 80\u00a0h d'insertion sur le lot : les travaux avaient donc commencé. Gardez un "
        "démarrage en mars 2027 au plus tard."
    ), moved.value.message

    # Expired (60 days after its due date), January's link still says it is asked no more,
    # never « répondez au courriel reçu avec votre tableau » for a month no one asks.
    clock.set(paris(date(2027, 7, 1), 10))
    expired = page_text(client.get(links["janvier 2027"]))
    assert "Lien expiré" in expired, expired
    assert (
        "Janvier 2027 ne vous est plus demandé : le démarrage de l'exécution du lot 1 « Gros "
        "œuvre » (marché "
    ) in expired and (
        "est fixé au 1er mars 2027, et le premier mois à déclarer est mars 2027. Vous n'avez "
        "rien à déclarer pour janvier 2027, et aucun nouveau lien ne vous sera envoyé pour ce "
        "mois."
    ) in expired, expired
    assert "votre tableau" not in expired, expired


def test_a_start_moved_earlier_asks_no_month_no_more(
    app: App, clock: Clock, settings: Settings
) -> None:
    awarded = paris(date(2027, 1, 20), 10)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 3, 1), end=END, at=awarded, started=False)
    all_left(app)
    corrected_at = paris(date(2027, 1, 25), 10)
    clock.set(corrected_at)
    correct_start(app, lot, date(2027, 2, 1), corrected_at)
    (corrected,) = bodies(app, "company_award_corrected")
    assert "- Démarrage : 1er mars 2027 → 1er février 2027" in corrected, corrected
    assert "plus demandé" not in corrected and "ne servent plus" not in corrected, corrected
    # The month the earlier start brings in is named, and listed with its date.
    assert (
        "Février 2027 vous est désormais demandé : le démarrage de l'exécution est fixé au "
        "1er février 2027. Il figure ci-dessous parmi vos déclarations."
    ) in squash(corrected), corrected
    assert re.search(r"^\s+février 2027 +à envoyer au plus tard le ", corrected, re.M), corrected
    # The buyer's notice speaks of companies newly bound only when there is one.
    (notice,) = bodies(app, "notice_award_corrected")
    assert "- Démarrage : 1er mars 2027 → 1er février 2027" in notice, notice
    assert "nouvellement attributaire" not in notice, notice
    # Moved to 1 February, still ahead on 25 January: no question on a past start.
    assert "est passé sans avoir été enregistré" not in notice, notice


def test_a_start_moved_later_then_back_says_the_months_are_asked_again(
    app: App, clock: Clock, settings: Settings
) -> None:
    """The start moved from 5 January to 1 March told the company January and February were no
    longer asked; moved back to 5 January, the next email says they are asked again, and lists
    them with their dates (it showed them in the schedule without a word, under an
    email that had said they were asked no more)."""
    awarded = paris(date(2027, 1, 4), 10)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 1, 5), end=END, at=awarded, started=False)
    all_left(app)
    later = paris(date(2027, 1, 6), 10)
    clock.set(later)
    correct_start(app, lot, date(2027, 3, 1), later)
    all_left(app)
    back = paris(date(2027, 1, 7), 10)
    clock.set(back)
    correct_start(app, lot, date(2027, 1, 5), back)
    first, second = bodies(app, "company_award_corrected")
    assert "ne vous sont plus demandés" in squash(first), first
    text = squash(second)
    assert "depuis mon dernier message sur l'attribution" in text, text
    assert "- Démarrage : 1er mars 2027 → 5 janvier 2027" in second, second
    assert (
        "Janvier et février 2027 vous sont désormais demandés : le démarrage de l'exécution est "
        "fixé au 5 janvier 2027. Ils figurent ci-dessous parmi vos déclarations."
    ) in text, text
    assert "plus demandé" not in text, text
    assert "parmi vos déclarations.\n\nBâtiments Test est titulaire" in second, second
    # Before the start, the link given is the first month's, as in a welcome.
    assert sorted(link_paths(second)) == ["janvier 2027"], second
    for month in ("janvier", "février"):
        assert re.search(rf"^\s+{month} 2027 +à envoyer au plus tard le ", second, re.M), second


def test_a_start_already_past_at_the_award_is_asked_about_not_planned(
    app: App, clock: Clock, settings: Settings
) -> None:
    """The welcome and the buyer's award notice of a lot whose planned start is behind the day
    of the award, its start not recorded, ask whether the works began; they no longer propose
    a start meeting nor announce « le début de l'exécution » as to come (user trial). A start
    still ahead keeps the meeting."""
    awarded = paris(date(2027, 3, 31), 20)
    clock.set(awarded)
    late = make_lot(app, start=date(2027, 1, 5), end=END, at=awarded, started=False)
    (welcome,) = [squash(b) for b in bodies(app, "company_welcome")]
    assert (
        "Les travaux devaient démarrer le 5 janvier 2027 : s'ils ont commencé, répondez à ce "
        "message pour me le confirmer, avec leur date de démarrage si elle diffère. "
        "J'enregistrerai le démarrage, et mon appel à déclarer suivra."
    ) in welcome, welcome
    assert "réunion de démarrage" not in welcome, welcome
    # Written on 31 March at 20:00: March is not over yet (it said « Les mois de janvier, de
    # février et de mars 2027 sont déjà terminés »).
    assert (
        "Les mois de janvier et de février 2027 sont déjà terminés, et celui de mars 2027 "
        "s'achève le 31 mars 2027 : je vous les demanderai dans un seul appel à déclarer"
    ) in welcome, welcome
    # Written on 31 March, the last day a start recorded still gives the call of 1 April: the
    # promise says « aujourd'hui même » (« au plus tard le 31 mars 2027 », sent at 20:05, was
    # one of four hours); the months already opened are declarable once the start is recorded
    # (« à déclarer à partir du 29 janvier 2027 », a past date, while its page refuses it).
    assert (
        "Si j'enregistre le démarrage aujourd'hui même, le 31 mars 2027, cet appel partira le "
        "1er avril 2027, à m'envoyer au plus tard le 12 avril 2027."
    ) in welcome, welcome
    assert (
        "Les dates limites de ce message valent pour un démarrage enregistré aujourd'hui même, le "
        "31 mars 2027."
    ) in welcome, welcome
    assert "démarrage au plus tard le 31 mars" not in welcome, welcome
    for month in ("janvier", "février", "mars"):
        assert (
            f"- {month} 2027 : à déclarer une fois le démarrage enregistré, au plus tard le 12 "
            "avril 2027"
        ) in welcome, welcome
    assert "à déclarer à partir du" not in welcome, welcome
    (notice,) = [squash(b) for b in bodies(app, "notice_awarded")]
    assert (
        "Le démarrage prévu le 5 janvier 2027 est passé sans avoir été enregistré : si "
        "l'exécution a commencé, indiquez-moi sa date de démarrage. Je l'enregistrerai, les "
        "entreprises seront alors appelées à déclarer leurs heures depuis ce démarrage, et je "
        "vous en informerai."
    ) in notice, notice
    assert "réunion de démarrage" not in notice and "dont je vous informerai" not in notice

    ahead = paris(date(2027, 3, 31), 21)
    clock.set(ahead)
    make_lot(app, start=date(2027, 4, 1), end=END, at=ahead, started=False)
    welcomes = [squash(b) for b in bodies(app, "company_welcome")]
    notices = [squash(b) for b in bodies(app, "notice_awarded")]
    assert "Je vous propose de fixer ensemble la réunion de démarrage" in welcomes[-1]
    assert "devaient démarrer" not in welcomes[-1]
    assert "Prochaine étape : la réunion de démarrage" in notices[-1], notices[-1]

    # Its start recorded the next morning: the buyer reads that the three months are asked
    # together, due the same day (it named January alone).
    clock.set(paris(date(2027, 4, 1), 10))
    advance_clause(app, late.clause_id, ClauseEvent.START, reason=None)
    (started,) = [squash(b) for b in bodies(app, "notice_execution_started")]
    assert (
        "Les premières déclarations, pour janvier, février et mars 2027, sont demandées ensemble "
        "et attendues le 13 avril 2027."
    ) in started, started


def test_a_start_moved_within_its_month_keeps_the_template_and_asks_every_month(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Moved from 1 to 20 February after the welcome left: the months and the template the
    company holds still serve; no template is sent again, none is said « à ne plus utiliser »
    (review)."""
    awarded = paris(date(2027, 1, 20), 10)
    clock.set(awarded)
    lot = make_lot(app, start=date(2027, 2, 1), end=END, at=awarded, started=False)
    all_left(app)
    corrected_at = paris(date(2027, 1, 25), 10)
    clock.set(corrected_at)
    correct_start(app, lot, date(2027, 2, 20), corrected_at)
    with app.transaction() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "company_award_corrected")
        ).one()
        session.expunge(message)
    assert "- Démarrage : 1er février 2027 → 20 février 2027" in message.body_text
    assert "à ne plus utiliser" not in message.body_text and "plus demandé" not in message.body_text
    with app.transaction() as session:
        assert (
            session.scalars(
                select(OutboxAttachment.id).where(OutboxAttachment.outbox_id == message.id)
            ).all()
            == []
        )


def test_a_start_passed_this_month_is_said_in_the_past_by_the_welcome(
    app: App, clock: Clock, settings: Settings
) -> None:
    """Awarded on 10 March, the start planned on 5 March: the welcome no longer says « Si
    l'exécution démarre comme prévu le 5 mars » beside « Les travaux devaient démarrer le 5 mars »,
    and the buyer is not told of « mois écoulés » when none is over (review)."""
    awarded = paris(date(2027, 3, 10), 10)
    clock.set(awarded)
    make_lot(app, start=date(2027, 3, 5), end=END, at=awarded, started=False)
    (welcome,) = [squash(b) for b in bodies(app, "company_welcome")]
    assert "Si l'exécution a démarré comme prévu le 5 mars 2027, je vous demanderai" in welcome
    assert "démarre comme prévu" not in welcome, welcome
    (notice,) = [squash(b) for b in bodies(app, "notice_awarded")]
    assert "appelées à déclarer leurs heures depuis ce démarrage" in notice, notice
    assert "mois écoulés" not in notice, notice
