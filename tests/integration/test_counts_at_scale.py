"""Lists and counts that stay fast at 10^5 lots and still say only what is true (issue 12).

On a generated territory (``bench/generate.py``: every state of an email, every stage of a lot),
on SQLite and PostgreSQL, over the real ASGI application:

- the email log counts the facilitator's states (waiting, refused, given up, uncertain…) exactly,
  and the sent and cancelled ones up to a bound: a figure shown bare is the number of rows, one
  shown « plus de N » has more than N rows behind it, and « Tous » adds up the same way;
- the API's pages of clauses, read stage after stage, are the slices of the one list sorted by
  the pipeline's order then N° (the command line's), for every size and start: every clause
  once, none twice, a page shorter than asked only at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Clock, make_settings
from tests.integration.test_dashboard import PASSWORD, sign_in
from tests.integration.test_generate import AS_OF, generate
from tests.text import visible
from workflow.adapters.orm import Clause
from workflow.app import api_tokens, clauses, mail, web_accounts
from workflow.bootstrap import App, bootstrap
from workflow.domain.stages import PIPELINE, PIPELINE_RANK, Stage
from workflow.entrypoints.web.site import create_site
from workflow.services import outbox
from workflow.services.outbox import STATE_LABELS, OutboxState

LOTS = 200
#: What the facilitator acts on: never a bound, whatever the bound.
WORKING = {s.value for s in OutboxState} - set(outbox.SETTLED_STATES)


@pytest.fixture
def territory(database_url: str, tmp_path: Path) -> Iterator[App]:
    generate(database_url, tmp_path, lots=LOTS, seed=5)
    app = bootstrap(make_settings(tmp_path, database_url), clock=Clock(AS_OF))
    yield app
    app.close()


def shown_counts(page: str) -> dict[str, str]:
    """The email log's counts as she reads them: « Tous » and each state's label → « 12 » or
    « plus de 10 000 »."""
    nav = re.search(r'<nav aria-label="Courriels par état">(.*?)</nav>', page, re.S)
    assert nav is not None
    pairs = re.findall(r"([^·()]+?) \(([^)]*)\)", visible(nav.group(1)))
    return {label.strip(): figure for label, figure in pairs}


def figure(text: str) -> tuple[int, bool]:
    """« 3 845 » → (3845, False); « plus de 10 000 » → (10000, True): more than that."""
    beyond = text.startswith("plus de ")
    return int(re.sub(r"\D", "", text)), beyond


@pytest.mark.slow
def test_the_email_log_says_exact_figures_and_bounds_only_what_it_says_it_bounds(
    territory: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = territory
    with app.transaction() as session:
        exact = outbox.count_by_state(session)
    sent, cancelled = exact[OutboxState.SENT], exact[OutboxState.CANCELLED]
    assert sent > 100 and 2 < cancelled < sent and all(exact[s] for s in WORKING - {"sending"})
    total = sum(exact.values())
    web_accounts.add_user(app, login="camille", name="Camille Martin", password=PASSWORD)
    site = TestClient(create_site(app))
    sign_in(site)

    for bound in (0, 2, cancelled, sent - 1, sent, sent + 1, mail.COUNT_BOUND):
        monkeypatch.setattr(mail, "COUNT_BOUND", bound)
        shown = shown_counts(site.get("/courriels").text)
        for state, rows in exact.items():
            label = STATE_LABELS[state]
            if not rows:
                assert label not in shown  # a state without any email is not listed
                continue
            count, beyond = figure(shown[label])
            if beyond:  # « plus de N »: true, and only where a bound applies
                assert state not in WORKING and count == bound < rows, (state, bound, shown)
            else:
                assert count == rows, (state, bound, shown)
            # The bound is reached only when the rows go past it.
            assert beyond == (state in outbox.SETTLED_STATES and rows > bound)
        count, beyond = figure(shown["Tous"])
        assert (count == total) if not beyond else (count < total), (bound, shown)
        assert beyond == (bound < sent)

    # The page filtered on a state says the same figure for it.
    monkeypatch.setattr(mail, "COUNT_BOUND", sent - 1)
    failed = shown_counts(site.get("/courriels?etat=failed").text)
    assert figure(failed[STATE_LABELS["failed"]]) == (exact[OutboxState.FAILED], False)
    assert figure(failed[STATE_LABELS["sent"]]) == (sent - 1, True)

    # Below the page, at every small bound and around each settled state's count.
    with app.transaction() as session:
        for bound in [*range(0, 12), cancelled, sent - 1, sent, 10**6]:
            counted = outbox.count_by_state_up_to(session, bound)
            assert list(counted.counts) == list(STATE_LABELS)
            for state, rows in exact.items():
                over = state in outbox.SETTLED_STATES and rows > bound
                assert (state in counted.beyond) == over
                assert counted.counts[state] == (bound if over else rows)


@pytest.mark.slow
def test_the_apis_pages_of_clauses_are_the_slices_of_the_one_sorted_list(territory: App) -> None:
    app = territory
    every = [c.id for c in clauses.list_clauses(app)]  # the command line's: one sort
    with app.transaction() as session:
        stages = dict(session.execute(select(Clause.id, Clause.stage)).all())
        assert session.scalar(select(func.count()).select_from(Clause)) == len(every) == LOTS
    assert every == sorted(stages, key=lambda n: (PIPELINE_RANK[stages[n]], n))
    assert {stages[n] for n in every} == {s.value for s in PIPELINE}  # every stage crossed

    # Every start (small pages, each stage's edges among them), and large pages here and
    # there: the application's pages are the list's slices.
    for start in range(0, LOTS + 2):
        page = [c.id for c in clauses.list_clauses(app, offset=start, limit=7)]
        assert page == every[start : start + 7], start
    for start in (0, 1, 15, 16, 17, 99, 150, LOTS - 1, LOTS):
        page = [c.id for c in clauses.list_clauses(app, offset=start, limit=100)]
        assert page == every[start : start + 100], start
    for stage in Stage:
        of_stage = [n for n in every if stages[n] == stage.value]
        for start in range(0, len(of_stage) + 2):
            page = clauses.list_clauses(app, stage=stage, offset=start, limit=3)
            assert [c.id for c in page] == of_stage[start : start + 3], (stage, start)

    # Through the API: paging to the end gives every clause once, in the list's order.
    token, _ = api_tokens.create_token(app, name="Tableur", read_only=True)
    client = TestClient(create_site(app))
    headers = {"Authorization": f"Bearer {token}"}
    for size in (9, 100):
        read: list[int] = []
        while True:
            page = client.get(f"/api/v1/clauses?nombre={size}&debut={len(read)}", headers=headers)
            assert page.status_code == 200
            numbers = [c["numero"] for c in page.json()]
            read += numbers
            if len(numbers) < size:
                break
        assert read == every
    by_stage = client.get("/api/v1/clauses?etape=execution&debut=2&nombre=5", headers=headers)
    assert [c["numero"] for c in by_stage.json()] == [n for n in every if stages[n] == "execution"][
        2:7
    ]
    assert client.get("/api/v1/clauses?debut=10000000", headers=headers).json() == []
