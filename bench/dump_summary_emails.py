"""Tool (not a test): writes every monthly summary email of a database to files, to compare the
bytes two versions of the code write.

    .venv/bin/python bench/dump_summary_emails.py --database-url URL --out DIR
    .venv/bin/python bench/dump_summary_emails.py --database-url URL --out DIR --queue \\
        [--month 2026-10] [--now 2026-12-01T09:05]

Without ``--queue`` it dumps the summaries already in the outbox (the demonstration's
``var/demo/clauses.db`` after ``clauses demo``). With ``--queue`` it runs the 08:00 pass of
``--month`` at ``--now`` (``services.summaries._queue_month``, what ``bench_summaries.py --part
emails`` times) in a transaction rolled back at the end, and dumps what it wrote: the territory
stays as it was. Each email gives ``<key>.subject``, ``.txt``, ``.html``, ``.recipients`` and
one file per attachment (``<key>.<position>.<filename>``); ``diff -r`` two such folders.

Run it from the tree to compare (``python <tree>/bench/dump_summary_emails.py``): the tree's own
``workflow`` package and templates are used.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the checkout's root holds ``workflow``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.adapters.orm import OutboxAttachment, OutboxMessage

DEFAULT_NOW = "2026-12-01T09:05"


class _Undo(Exception):
    """Rolls the pass's transaction back."""


def dump(session: Session, out: Path, key_like: str) -> int:
    """Every outbox row whose key is like ``key_like``, and its attachments, as files."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like(key_like)).order_by(OutboxMessage.key)
    )
    for message in messages:
        name = message.key.replace(":", "_")
        (out / f"{name}.subject").write_text(message.subject, encoding="utf-8")
        (out / f"{name}.txt").write_text(message.body_text, encoding="utf-8")
        (out / f"{name}.html").write_text(message.body_html, encoding="utf-8")
        (out / f"{name}.recipients").write_text(message.recipients, encoding="utf-8")
        attachments = session.scalars(
            select(OutboxAttachment)
            .where(OutboxAttachment.outbox_id == message.id)
            .order_by(OutboxAttachment.position)
        )
        for a in attachments:
            (out / f"{name}.{a.position}.{a.filename}").write_bytes(a.content)
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Synthèses mensuelles écrites en fichiers.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--queue", action="store_true", help="lance le passage de 8 h, annulé")
    parser.add_argument("--month", help="AAAA-MM (défaut : le dernier dû à --now)")
    parser.add_argument("--now", default=DEFAULT_NOW)
    args = parser.parse_args(argv)

    from workflow.bootstrap import bootstrap
    from workflow.domain.calendar import month_start
    from workflow.domain.summary import latest_due_month
    from workflow.services import summaries
    from workflow.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="dump-summaries-") as mail_dir:
        settings = load_settings(
            database_url=args.database_url, mail_transport="file", mail_dir=Path(mail_dir)
        )
        app = bootstrap(settings)
        try:
            if not args.queue:
                with app.transaction() as session:
                    count = dump(session, args.out, "summary:%")
            else:
                now = datetime.fromisoformat(args.now)
                if now.tzinfo is None:
                    now = now.replace(tzinfo=settings.zone)
                if args.month:
                    month = datetime.strptime(args.month, "%Y-%m").date()
                else:
                    month = latest_due_month(now, summaries.summary_timing(settings))
                month = month_start(month)
                try:
                    with app.transaction() as session:
                        summaries._queue_month(app, session, month, now)
                        count = dump(session, args.out, f"summary:{month:%Y-%m}:%")
                        raise _Undo
                except _Undo:
                    pass
        finally:
            app.close()
    print(f"{count} courriels écrits dans {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
