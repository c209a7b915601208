"""The buyer's notices of the end count only the months really owed, as ``declaration list``
does (SQLite and PostgreSQL).

Found by a user trial: a lot run from 1 April to 31 December 2026, suspended on 16 June and
resumed on 1 September, ended on 31 October, April, May, June, September and October declared
at zero. ``clauses declaration list --clause N`` said « 5 déclarations attendues … 0
manquante »; the buyer's notice of the end said « 0 h d'insertion déclarées à ce jour »,
« Mois déclarés : 5 sur 7 (2 restent à déclarer) » and « 2 mois restent à déclarer … le total
ne sera connu qu'une fois ces mois déclarés »: July and August, suspended whole, were never
asked. Likewise a subcontractor that left the site after April was counted as owing every month
after (« 7 sur 14 (7 mois × 2 entreprises), 7 encore attendues »), in the notice of the end and
in the notice of an end corrected. The templates counted « mois du lot × entreprises »; the
counts now come from ``services.end_declarations``, with ``declaration list``'s rule.

Each case runs on the real commands (``clauses …``), and the notices are read as the buyer
reads them: the ``.eml`` the dispatcher writes, its plain and its HTML parts. The figures are
compared with those of ``declaration list --clause N --json`` at the same moment: received (X),
expected (Y), still owed (Z), X + Z = Y. The facilitator writes in the first person singular.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import date, datetime, time
from email.message import EmailMessage
from typing import Any

import pytest

from tests.integration._ladders import Lot, make_lot
from tests.integration.test_company_left_site import _cli
from tests.text import squash, visible
from workflow.adapters.mail.files import FileTransport
from workflow.app.audit import verify_database
from workflow.bootstrap import App
from workflow.domain.calendar import at_local
from workflow.services.dispatch import dispatch_due
from workflow.settings import Settings

pytestmark = pytest.mark.scenario

APRIL, END = date(2026, 4, 1), date(2026, 12, 31)
HOLDER, GONE = "Charpentes de l'Arrats", "Couvertures Gimone SAS"
#: ``make_lot``'s hours.
TARGET = "500\u00a0h"


def local(app: App, day: date, hour: int, minute: int = 0) -> datetime:
    return at_local(day, time(hour, minute), app.settings.zone)


def run(app: App, at: datetime, *args: object) -> str:
    return _cli(app, at, *[str(a) for a in args])


def listed(app: App, lot: Lot, at: datetime) -> dict[str, int]:
    """``declaration list --clause N --json``'s totals: expected, received, still owed."""
    total: dict[str, Any] = json.loads(
        run(app, at, "declaration", "list", "--clause", lot.clause_id, "--json")
    )["total"]
    return {
        "expected": total["attendues"],
        "received": total["declarees"] + total["zero_heure"],
        "owed": total["manquantes"] + total["en_retard"] + total["appels_a_venir"],
    }


def delivered(app: App, settings: Settings, kind: str, at: datetime) -> list[EmailMessage]:
    """The emails of ``kind`` the dispatcher wrote to the mail folder, as a mail client reads
    them."""
    dispatch_due(app, at, transport=FileTransport(settings.mail_dir))
    return [
        email.message_from_bytes(
            path.read_bytes(), _class=EmailMessage, policy=email.policy.default
        )
        for path in sorted((settings.mail_dir / kind).glob("*.eml"))
    ]


def subject(message: EmailMessage) -> str:
    """The subject as a mail client shows it (its header folds the no-break spaces)."""
    return squash(str(message["Subject"]).replace("\u00a0", " "))


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain part and the HTML part's visible text, spaces squashed."""
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return squash(plain.get_content()), squash(visible(html.get_content()))


#: « Mois déclarés : X sur Y (Z restent à déclarer) », « Déclarations mensuelles reçues : X sur
#: Y (n mois × m entreprises), Z encore attendues », in the plain part.
FIGURES = re.compile(
    r"(?:Mois déclarés|Déclarations mensuelles reçues) : (?P<x>\d+) sur (?P<y>\d+)"
    r"(?: \(\d+ mois × \d+ entreprises\))?"
    r"(?: \((?P<z1>\d+) restent? à déclarer\)|, (?P<z2>\d+) encore attendues?)?"
)


def figures(plain: str) -> dict[str, int]:
    """The X, Y and Z the buyer reads."""
    found = FIGURES.search(plain)
    assert found is not None, plain
    return {
        "received": int(found["x"]),
        "expected": int(found["y"]),
        "owed": int(found["z1"] or found["z2"] or 0),
    }


def assert_told_as_listed(plain: str, expected: dict[str, int]) -> None:
    told = figures(plain)
    assert told == expected, (told, expected, plain)
    assert told["received"] + told["owed"] == told["expected"], told


def test_the_months_a_suspension_covered_whole_are_not_counted_owed(
    app: App, settings: Settings
) -> None:
    lot = make_lot(app, start=APRIL, end=END, companies=(HOLDER,), at=local(app, APRIL, 8))
    clause, holder = lot.clause_id, lot.company_ids[0]
    run(app, local(app, date(2026, 6, 16), 8), "clause", "advance", clause, "suspendre",
        "--reason", "Intempéries")  # fmt: skip
    run(app, local(app, date(2026, 9, 1), 8), "clause", "advance", clause, "reprendre",
        "--reason", "Reprise")  # fmt: skip
    for n, month in enumerate(("04", "05", "06", "09", "10")):
        run(app, local(app, date(2026, 11, 25), 9, n), "declaration", "zero",
            "--clause", clause, "--company", holder, "--month", f"{month}/2026")  # fmt: skip
    ended = local(app, date(2026, 11, 25), 10)
    run(app, ended, "clause", "advance", clause, "achever", "--end-date", "31/10/2026")
    now = listed(app, lot, ended)
    assert now == {"expected": 5, "received": 5, "owed": 0}

    (notice,) = delivered(app, settings, "notice_execution_ended", ended)
    plain, html = parts(notice)
    # July and August, suspended whole, are asked of nobody: all is received.
    assert subject(notice).startswith("Fin d'exécution : 0 h d'insertion réalisées sur 500 h – "), (
        subject(notice)
    )
    assert_told_as_listed(plain, now)
    assert "- Heures réalisées : 0\u00a0h sur 500\u00a0h prévues (0\u00a0%)" in plain, plain
    assert "- Personnes en insertion : 0 - Mois déclarés : 5 sur 5 Il manque" in plain, plain
    assert "Mois déclarés 5 sur 5" in html, html
    assert (
        f"Il manque {TARGET} pour atteindre l'objectif. Toutes les déclarations attendues sont "
        "reçues : je fais le point avec l'entreprise sur les raisons de l'écart, avant de "
        "vous proposer le bilan."  # the lot's one company (« les entreprises » before)
    ) in plain, plain
    assert (
        "Prochaine étape : le bilan de l'opération (heures, parcours et sorties des "
        "participants, contrats signés), que je vous adresserai."
    ) in plain, plain
    for said in (plain, html, subject(notice)):
        assert "à déclarer" not in said and "déclarées à ce jour" not in said, said
        assert "Nous faisons" not in said and "nous vous adresserons" not in said, said


def _left_lot(app: App) -> Lot:
    """Two companies from April 2026; the subcontractor declared April and left the site
    (last month April); the holder declared April to September at zero, not October; the works
    ended on 31 October 2026, recorded on 25 November."""
    lot = make_lot(app, start=APRIL, end=END, companies=(HOLDER, GONE), at=local(app, APRIL, 8))
    clause, holder, gone = lot.clause_id, *lot.company_ids
    run(app, local(app, date(2026, 5, 4), 9), "declaration", "zero", "--clause", clause,
        "--company", gone, "--month", "04/2026")  # fmt: skip
    run(app, local(app, date(2026, 5, 5), 9), "clause", "company-left", clause,
        "--company", gone, "--last-month", "04/2026", "--reason", "Lot de couverture terminé")  # fmt: skip
    for n, month in enumerate(("04", "05", "06", "07", "08", "09")):
        run(app, local(app, date(2026, 11, 25), 9, n), "declaration", "zero",
            "--clause", clause, "--company", holder, "--month", f"{month}/2026")  # fmt: skip
    run(app, local(app, date(2026, 11, 25), 10), "clause", "advance", clause, "achever",
        "--end-date", "31/10/2026")  # fmt: skip
    return lot


def test_a_company_gone_from_the_site_owes_no_month_after_its_last(
    app: App, settings: Settings
) -> None:
    lot = _left_lot(app)
    ended = local(app, date(2026, 11, 25), 10)
    now = listed(app, lot, ended)
    # The holder's April to October, the subcontractor's April: October still owed.
    assert now == {"expected": 8, "received": 7, "owed": 1}

    (notice,) = delivered(app, settings, "notice_execution_ended", ended)
    plain, html = parts(notice)
    assert subject(notice).startswith(
        "Fin d'exécution : 0 h d'insertion déclarées à ce jour sur 500 h – "
    ), subject(notice)
    assert_told_as_listed(plain, now)
    # Not « 7 sur 14 (7 mois × 2 entreprises), 7 encore attendues »: the two companies were
    # not asked the same months, so no « × » either.
    assert "- Déclarations mensuelles reçues : 7 sur 8, 1 encore attendue " in plain, plain
    assert "Déclarations mensuelles reçues 7 sur 8, 1 encore attendue" in html, html
    # Which one, of whom (user trial: « 1 encore attendue » said neither), as the list says.
    assert f"Déclarations encore attendues : - {HOLDER} : octobre 2026 " in plain, plain
    assert f"Déclarations encore attendues : {HOLDER} : octobre 2026" in html.replace(
        "\u00a0", " "
    ), html
    assert "- Heures déclarées à ce jour : 0\u00a0h sur 500\u00a0h" in plain, plain
    assert (
        f"Une déclaration mensuelle est encore attendue : à ce jour, il manque {TARGET} pour "
        "atteindre l'objectif, et le total ne sera connu qu'une fois celle-ci reçue. Je fais le "
        "point avec les entreprises sur les déclarations restantes et les raisons de l'écart, "
        "avant de vous proposer le bilan."
    ) in plain, plain
    assert "mois ×" not in plain and "mois\u00a0×" not in html
    findings = verify_database(app).findings
    assert findings == (), [f.check + " | " + f.problem[:150] for f in findings]


def test_an_end_corrected_counts_the_months_owed_as_the_list_does(
    app: App, settings: Settings
) -> None:
    lot = _left_lot(app)
    delivered(app, settings, "notice_execution_ended", local(app, date(2026, 11, 25), 11))
    corrected = local(app, date(2026, 11, 26), 10)
    run(app, corrected, "clause", "end-date", lot.clause_id, "--end-date", "30/09/2026",
        "--reason", "Erreur de saisie : réception le 30 septembre")  # fmt: skip
    now = listed(app, lot, corrected)
    # October is no longer asked: everything owed is in.
    assert now == {"expected": 7, "received": 7, "owed": 0}

    (notice,) = delivered(app, settings, "notice_end_corrected", corrected)
    plain, html = parts(notice)
    assert_told_as_listed(plain, now)
    # Was « 7 sur 12 (6 mois × 2 entreprises), 5 encore attendues ».
    assert "- Déclarations mensuelles reçues : 7 sur 7 " in plain, plain
    assert "Déclarations mensuelles reçues 7 sur 7" in html, html
    assert "- Heures réalisées : 0\u00a0h sur 500\u00a0h" in plain, plain
    assert (
        "s'est achevée le 30 septembre 2026, et non le 31 octobre 2026 comme je vous l'avais "
        "indiqué. La déclaration d'octobre 2026 n'est plus demandée aux entreprises : la "
        "dernière est celle de septembre 2026."
    ) in plain, plain
    assert "Ce message remplace mon avis précédent sur la fin d'exécution ;" in plain, plain
    assert "que je vous adresserai." in plain, plain


def test_a_lot_every_company_owes_every_month_reads_as_before(app: App, settings: Settings) -> None:
    """The ordinary case (no suspension, nobody left), as the demo's lots: « n mois × m
    entreprises » and the months still owed, as before."""
    lot = make_lot(app, start=APRIL, end=END, companies=(HOLDER, GONE), at=local(app, APRIL, 8))
    clause, holder, other = lot.clause_id, *lot.company_ids
    for n, (company, month) in enumerate(
        [(holder, m) for m in ("04", "05", "06")] + [(other, m) for m in ("04", "05")]
    ):
        run(app, local(app, date(2026, 7, 15), 9, n), "declaration", "zero",
            "--clause", clause, "--company", company, "--month", f"{month}/2026")  # fmt: skip
    ended = local(app, date(2026, 7, 15), 10)
    run(app, ended, "clause", "advance", clause, "achever", "--end-date", "30/06/2026")
    now = listed(app, lot, ended)
    assert now == {"expected": 6, "received": 5, "owed": 1}

    (notice,) = delivered(app, settings, "notice_execution_ended", ended)
    plain, html = parts(notice)
    assert_told_as_listed(plain, now)
    assert (
        "- Déclarations mensuelles reçues : 5 sur 6 (3 mois × 2 entreprises), 1 encore attendue"
    ) in plain, plain
    assert "5 sur 6 (3\u00a0mois × 2\u00a0entreprises), 1 encore attendue" in html, html
    assert "déclarées à ce jour" in subject(notice), subject(notice)
