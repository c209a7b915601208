"""The emails in trouble of the day's tasks, read from their covering index (issue 12).

At 10^5 lots the dashboard and the API grouped 13,082 refused, given-up and uncertain messages
found through ``ix_outbox_due``, each on a table page of its own among 2.5 million messages:
about 12,900 pages a request, 35 ms warm and 110-220 ms when they had left the cache. Migration
0022's partial index ``ix_outbox_troubled`` holds those messages alone with what the queries
read of them (state, number, lot, answer, recipients).

On PostgreSQL, with rows and statistics of its own (20,000 messages sent and a few dozen in
trouble, analysed here, so that no other test's rows decide the plans): every statement of the
dashboard that reads the messages in trouble reads the outbox through
``ix_outbox_troubled``, and the dashboard says what those messages are.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, event

from tests.conftest import _empty_postgres, make_settings
from tests.integration.test_query_plans import nodes
from workflow.adapters.db import normalise_url
from workflow.app import dashboard as dashboard_view
from workflow.bootstrap import bootstrap
from workflow.emails.digest import Category

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=ZoneInfo("Europe/Paris"))
REFUSED = "Refus définitif : 550 5.1.1 Boîte aux lettres inconnue"
GIVEN_UP = "Échec temporaire : 451 4.3.0 Erreur temporaire du serveur"

#: 20,000 messages sent, then 40 refused for an unknown mailbox, 5 given up with the same
#: temporary answer to 5 domains, 3 uncertain; each a number of its own, every tenth sent one
#: of a lot-less kind.
ROWS = """
INSERT INTO outbox (key, kind, recipients, subject, body_text, body_html, state, attempts,
                    next_attempt_at, last_error, created_at)
SELECT 'm' || n, 'ladder_call', 'Correspondant ' || n || ' <c' || n || '@d' || mod(n, 5) || '.fr>',
       'Déclaration ' || n, 'texte', '<p>texte</p>',
       CASE WHEN n <= 20000 THEN 'sent'
            WHEN n <= 20040 THEN 'failed'
            WHEN n <= 20045 THEN 'dead'
            ELSE 'uncertain' END,
       1, NULL,
       CASE WHEN n <= 20000 THEN NULL
            WHEN n <= 20040 THEN %(refused)s
            WHEN n <= 20045 THEN %(given_up)s END,
       TIMESTAMP '2026-11-02 08:00:00' + n * INTERVAL '1 second'
FROM generate_series(1, 20048) AS n
"""


@pytest.mark.postgres
@pytest.mark.slow
def test_the_emails_in_trouble_are_read_from_their_covering_index(
    postgres_url: str, tmp_path: Path
) -> None:
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: NOW)
    app.init_database()
    # VACUUM runs outside a transaction: it marks the pages visible, which an index-only scan
    # needs (autovacuum does it in service), and ANALYZE gives the planner these rows' figures.
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    sent: dict[str, Any] = {}

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        sent.setdefault(statement, parameters)

    plans: dict[str, list[str]] = {}
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(ROWS, {"refused": REFUSED, "given_up": GIVEN_UP})
            connection.exec_driver_sql("VACUUM ANALYZE outbox")
        event.listen(app.engine, "before_cursor_execute", record)
        board = dashboard_view.dashboard(app, per_section=30)
        event.remove(app.engine, "before_cursor_execute", record)
        # The statements that read the messages in trouble: every one that names their states.
        # (The final reports' notices in those states are read from their own partial index,
        # ``ix_outbox_report_notices``, for « Bilans à mettre à jour »: not the mail in trouble.)
        troubled = [
            statement
            for statement, parameters in sent.items()
            if "FROM outbox" in statement
            and "notice_final_report" not in statement
            and isinstance(parameters, dict)
            and {"failed", "dead", "uncertain"} & {str(value) for value in parameters.values()}
        ]
        with admin.connect() as connection:
            for statement in troubled:
                explained = connection.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + statement, sent[statement]
                ).scalar()
                document = explained if isinstance(explained, list) else json.loads(str(explained))
                plans[" ".join(statement.split())[:300]] = [
                    f"{node['Node Type']} {node.get('Index Name', '')}".strip()
                    for node in nodes(document[0]["Plan"])
                    if node.get("Relation Name") == "outbox"
                ]
    finally:
        admin.dispose()
        app.close()

    # What the facilitator reads: one line for the 40 refused, one for the 5 given up (their
    # domains counted from the index), a line for each uncertain message; 48 in the corner.
    emails = next(s for s in board.tasks.sections if s.category == Category.EMAIL)
    titles = [item.title for item in emails.items]
    assert emails.count == 5
    assert titles[:2] == [
        "5 courriels abandonnés après plusieurs tentatives, tous pour la même raison",
        "40 courriels refusés définitivement, tous pour la même raison",
    ]
    assert "adressés à 5 domaines différents" in emails.items[0].action
    assert [t.split(" : ")[0] for t in titles[2:]] == [
        "Courriel incertain (peut-être déjà arrivé)"
    ] * 3
    assert board.mail_to_look_at == 48

    # The grouping, the domains and the dashboard's count: each from the partial index (the
    # answer and the recipients read from the table: not in the index, whose rows are bounded).
    assert len(plans) >= 3, plans
    assert all(
        len(kinds) == 1 and kinds[0].endswith("Scan ix_outbox_troubled") for kinds in plans.values()
    ), plans


@pytest.mark.postgres
def test_a_long_answer_to_many_recipients_is_recorded_in_trouble(
    postgres_url: str, tmp_path: Path
) -> None:
    """A message given up with a long SMTP answer, to a buyer with many contacts, is recorded
    « dead » like any other: the partial index holds neither the answer nor the recipients (an
    index row of PostgreSQL holds about 2,700 bytes; random text does not compress), so the
    dispatcher's write of the state cannot fail on it (review of this session)."""
    _empty_postgres(postgres_url)
    app = bootstrap(make_settings(tmp_path, postgres_url), clock=lambda: NOW)
    app.init_database()
    try:
        with app.engine.begin() as connection:
            connection.exec_driver_sql(
                """
                INSERT INTO outbox (key, kind, recipients, subject, body_text, body_html, state,
                                    attempts, next_attempt_at, last_error, created_at)
                VALUES ('long', 'notice_awarded',
                        (SELECT string_agg(md5(n::text) || ' <' || md5((n * 7)::text)
                                           || '@example.org>', chr(10))
                         FROM generate_series(1, 60) AS n),
                        'Avis', 'texte', '<p>texte</p>', 'sending', 1, NULL, NULL, now())
                """
            )
            connection.exec_driver_sql(
                """
                UPDATE outbox SET state = 'dead',
                       last_error = (SELECT left(string_agg(md5(n::text), ''), 2000)
                                     FROM generate_series(1, 80) AS n)
                WHERE key = 'long'
                """
            )
            state = connection.exec_driver_sql(
                "SELECT state, length(last_error), length(recipients) FROM outbox"
            ).one()
        assert state[0] == "dead" and state[1] == 2000 and state[2] > 3000
    finally:
        app.close()
