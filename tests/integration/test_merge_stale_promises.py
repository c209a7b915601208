"""A company merged while an email to it waits with a date it promises: that email, delivered
after the date, is written again for the company that stays, not withdrawn (SQLite and
PostgreSQL).

The facilitator cancels a declaration of « Bâtiments Test » while the service is stopped: the
email says « le prochain partira le 27 avril 2026 » and waits. On 30 April she merges the company
into « Bâtiments Test Gascogne », the record that stays. The service restarts on 7 May: the email
leaves written again as it stands that day, for the company that stays (its name, its ladder),
and the first one is « Remplacé », never « Retiré ».
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from tests.conftest import Clock
from tests.integration.test_stale_promises import (
    NBSP,
    PROMISED,
    french_day,
    march_ladder,
    plain,
    received,
    rows,
    stopped_after_cancel,
    utc,
)
from workflow.adapters.templates import french_date
from workflow.app import catalog, corrections
from workflow.bootstrap import App
from workflow.domain.calendar import local_date
from workflow.services.ticks import run_pass
from workflow.settings import Settings

KEPT = "Bâtiments Test Gascogne"


def test_a_stale_cancellation_of_a_merged_company_is_written_again_for_the_one_that_stays(
    app: App, clock: Clock, settings: Settings
) -> None:
    lot = stopped_after_cancel(app, clock, settings)
    [first] = rows(app)
    merged_id = json.loads(first.promise_facts or "{}")["company_id"]

    clock.set(utc(2026, 4, 30, 10))
    kept = catalog.add_company(app, KEPT, city="Auch")
    done = corrections.merge_companies(app, merged_id, into=kept.id, reason="doublon")
    assert first.id in dict((m.what, m.ids) for m in done.moved)["emails"]
    [waiting] = rows(app)
    assert waiting.state == "pending"
    assert json.loads(waiting.promise_facts or "{}")["company_id"] == kept.id

    restart = utc(2026, 5, 7, 7)
    clock.set(restart)
    run_pass(app, restart)
    run_pass(app, restart + timedelta(minutes=1))

    old, new = rows(app)
    assert old.state == "cancelled"
    assert old.last_error == (
        f"Remplacé{NBSP}: il annonçait le 27 avril 2026, date passée avant son départ{NBSP}; "
        "le même courriel, écrit à nouveau le 7 mai 2026 d'après ce qui est prévu ce jour-là, "
        "part à sa place."
    )
    assert new.state == "sent" and new.key == f"{old.key}~2"
    assert json.loads(new.promise_facts or "{}")["company_id"] == kept.id

    # The company that stays reads it, as its ladder stands on the day it leaves.
    ladder = march_ladder(app, lot)
    assert ladder.company_id == kept.id and ladder.next_step == "reminder_2"
    assert ladder.next_step_at is not None
    next_on = local_date(ladder.next_step_at, settings.zone)
    [message] = received(settings)
    text = plain(message)
    assert f"ces heures ne comptent plus dans le cumul de {KEPT} sur ce lot" in text
    assert f"Ce lien est réservé à {KEPT}, pour ce lot" in text
    assert re.search(r"Bâtiments Test(?! Gascogne)", text) is None  # the merged name, gone
    assert "27 avril" not in text
    assert (
        "Sans nouvelle déclaration, les rappels reprendront où ils en étaient : le prochain "
        f"partira le {french_date(next_on)}."
    ) in text
    promised = [french_day(day) for day in PROMISED.findall(text)]
    assert promised and all(day >= date(2026, 5, 7) for day in promised)

    run_pass(app, restart + timedelta(days=1))
    assert len(received(settings)) == 1
