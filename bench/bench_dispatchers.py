"""Benchmark (not a test): several instances delivering one outbox on PostgreSQL, against bare loops.

    .venv/bin/python bench/bench_dispatchers.py --database-url postgresql://postgres@127.0.0.1:5432/test \
        [--count 100000] [--instances 1,2,4] [--sink aiosmtpd|smtp-sink] [--json]

Issue 12: « delivery of 10^5 messages with 1, 2 and 4 dispatchers on PostgreSQL against one sink in
another process: throughput grows until the sink is the limit ». What the README's « Plusieurs
instances » quotes.

For each number of instances N, in this order, with one SMTP sink running in its own process the
whole time (aiosmtpd counting what it receives, or Postfix's ``smtp-sink`` when asked and
installed):

- **bare**: N processes, each one aiosmtplib connection sending its share of ``count`` prebuilt
  messages (built by the dispatcher's own ``MessageFactory``, same headers and size as the
  service's): the most that N senders get through this sink on this machine, nothing else;
- **service**: a fresh database on the server of ``--database-url`` holding ``count`` due rows
  (one real ``declaration_reminder`` queued by ``queue_email``, copied ``count - 1`` times by an
  ``INSERT … SELECT``: the render and enqueue are not what this bench times), then N processes,
  each a ``bootstrap()``-ed App running ``dispatch_due`` until it finds nothing left, all started
  at once. Each claims with ``FOR UPDATE SKIP LOCKED``, holds its rows by a lease, fences each send.

Checked before any figure is printed: every row ``sent`` once, and (aiosmtpd) the sink received
exactly ``count`` messages from the service side — no row sent by two instances. The wall time
runs from the start signal to the last process's end. Peak RSS is each process's ``ru_maxrss``.
The machine's CPUs are shared by the sink, PostgreSQL and the senders: on 2 cores, 4 senders
cannot run at once, which the figures show.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: the checkout's root holds ``bench``
    sys.path.insert(0, str(HERE.parent))

from bench.mail_delivery import (  # noqa: E402
    bench_settings,
    fresh_database,
    peak_rss_mb,
    prebuilt_messages,
    recipient_of,
    reminder_source,
    run_sink,
)

# --- the sink ---------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    """One SMTP sink in its own process: aiosmtpd counting messages, or Postfix's smtp-sink."""

    def __init__(self, kind: str, context: Any) -> None:
        self.kind = kind
        self.counter = context.Value("q", 0)
        if kind == "smtp-sink":
            binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
            if not Path(binary).exists():
                raise SystemExit("smtp-sink introuvable (paquet Debian postfix).")
            self.port = free_port()
            # -u nobody: it refuses to run as root otherwise; 256: the listen backlog.
            self.process: Any = subprocess.Popen(
                [binary, "-u", "nobody", f"127.0.0.1:{self.port}", "256"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        else:
            ports = context.Queue()
            self.process = context.Process(target=run_sink, args=(ports, self.counter), daemon=True)
            self.process.start()
            self.port = ports.get(timeout=30)

    def received(self) -> int | None:
        return None if self.kind == "smtp-sink" else int(self.counter.value)

    def stop(self) -> None:
        self.process.terminate()
        if self.kind == "smtp-sink":
            self.process.wait(timeout=30)
        else:
            self.process.join()


# --- the bare senders -------------------------------------------------------------------------


def bare_sender(port: int, first: int, count: int, start: Any, results: Any) -> None:
    """``count`` prebuilt messages over one connection, from the start signal."""
    import asyncio

    import aiosmtplib

    sender, messages = prebuilt_messages(port, first, count)

    async def loop() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for address, data in messages:
            await client.sendmail(sender, [address], data)
        await client.quit()

    start.wait()
    cpu = time.process_time()
    asyncio.run(loop())
    results.put(
        {
            "sent": count,
            "ended": time.time(),
            "cpu_seconds": time.process_time() - cpu,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


# --- the service ------------------------------------------------------------------------------


def fill_outbox(database_url: str, port: int, count: int, folder: Path) -> None:
    """``count`` due reminders: one queued by the service, the rest copied by the database."""
    from sqlalchemy import text

    from workflow.adapters.orm import OutboxMessage
    from workflow.bootstrap import bootstrap
    from workflow.services.outbox import queue_email

    settings = bench_settings(database_url, port, folder / "mail")
    app = bootstrap(settings, handlers={})
    app.init_database()
    renderer, kind, context_of = reminder_source(settings)
    now = datetime.now(UTC)
    with app.transaction() as session:
        queue_email(
            session,
            renderer,
            key="reminder:0:0:2026-02:reminder_1",
            kind=kind,
            recipients=[recipient_of(0)],
            context=context_of(0),
            now=now,
        )
    copied = [c.name for c in OutboxMessage.__table__.columns if c.name not in ("id", "key")]
    columns = ", ".join(copied)
    with app.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO outbox (key, {columns}) "
                f"SELECT 'reminder:' || g || ':0:2026-02:reminder_1', {columns} "
                "FROM outbox, generate_series(1, :more) AS g"
            ),
            {"more": count - 1},
        )
        connection.execute(text("ANALYZE outbox"))
    app.close()


def dispatcher(database_url: str, port: int, folder: str, start: Any, results: Any) -> None:
    """One instance: ``dispatch_due`` until nothing is left for it, from the start signal."""
    from sqlalchemy import text

    from workflow.bootstrap import bootstrap
    from workflow.services.dispatch import dispatch_due

    settings = bench_settings(database_url, port, Path(folder) / "mail")
    app = bootstrap(settings, handlers={})
    with app.transaction() as session:  # connected before the start: not part of the race
        session.execute(text("SELECT 1"))
    sent = passes = 0
    start.wait()
    cpu = time.process_time()
    while True:
        report = dispatch_due(app, datetime.now(UTC))
        sent += report.sent
        passes += 1
        if report.claimed == 0:
            break
    cpu = time.process_time() - cpu
    app.close()
    results.put(
        {
            "sent": sent,
            "passes": passes,
            "ended": time.time(),
            "cpu_seconds": cpu,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def race(
    context: Any, target: Any, args_of: Any, instances: int
) -> tuple[float, list[dict[str, Any]]]:
    """``instances`` processes of ``target``, released at once; the wall time to the last end."""
    start = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args_of(i), start, results)) for i in range(instances)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # every process imported and connected (spawn): the race starts level
    began = time.time()
    start.set()
    reports = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
    return max(r["ended"] for r in reports) - began, reports


def sent_rows(database_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT state, count(*) FROM outbox GROUP BY state")).all()
    engine.dispose()
    return {state: int(n) for state, n in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--instances", default="1,2,4")
    parser.add_argument("--sink", choices=("aiosmtpd", "smtp-sink"), default="aiosmtpd")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("Plusieurs instances : PostgreSQL seulement (SQLite n'en permet qu'une).")
    counts = [int(n) for n in args.instances.split(",")]
    context = multiprocessing.get_context("spawn")
    sink = Sink(args.sink, context)
    figures: list[dict[str, Any]] = []
    try:
        for instances in counts:
            share = args.count // instances
            before = sink.received()
            bare_seconds, bare = race(
                context,
                bare_sender,
                lambda i, share=share: (sink.port, i * share, share),
                instances,
            )
            bare_received = None if before is None else (sink.received() or 0) - before
            folder = Path(tempfile.mkdtemp(prefix="bench-dispatchers-"))
            with fresh_database(args.database_url, folder) as url:
                fill_outbox(url, sink.port, args.count, folder)
                before = sink.received()
                seconds, reports = race(
                    context,
                    dispatcher,
                    lambda i, url=url, folder=folder: (url, sink.port, str(folder)),
                    instances,
                )
                received = None if before is None else (sink.received() or 0) - before
                states = sent_rows(url)
            shutil.rmtree(folder, ignore_errors=True)
            sent = sum(r["sent"] for r in reports)
            if states != {"sent": args.count} or sent != args.count:
                raise SystemExit(f"{instances} instances : états {states}, envoyés {sent}")
            if received is not None and received != args.count:
                raise SystemExit(f"{instances} instances : le serveur a reçu {received} messages")
            figures.append(
                {
                    "instances": instances,
                    "count": args.count,
                    "sink": args.sink,
                    "bare_rate": instances * share / bare_seconds,
                    "bare_received": bare_received,
                    "service_seconds": seconds,
                    "service_rate": args.count / seconds,
                    "ratio": (args.count / seconds) / (instances * share / bare_seconds),
                    "sent_per_instance": [r["sent"] for r in reports],
                    "passes_per_instance": [r["passes"] for r in reports],
                    # CPU time of the senders per message (every thread of each process): on a
                    # machine shared with other work, steadier than the rates.
                    "service_cpu_us": 1e6 * sum(r["cpu_seconds"] for r in reports) / args.count,
                    "bare_cpu_us": 1e6 * sum(r["cpu_seconds"] for r in bare) / (instances * share),
                    "load_average": os.getloadavg()[0],
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
                    "bare_peak_rss_mb": max(r["peak_rss_mb"] for r in bare),
                    "cpus": os.cpu_count(),
                }
            )
            if not args.json:
                f = figures[-1]
                print(
                    f"{instances} instance(s) : service {f['service_rate']:,.0f} msg/s "
                    f"({seconds:.1f} s), {instances} boucle(s) nue(s) {f['bare_rate']:,.0f} msg/s, "
                    f"rapport {f['ratio']:.0%} ; CPU par message : service "
                    f"{f['service_cpu_us']:,.0f} µs, boucle nue {f['bare_cpu_us']:,.0f} µs ; "
                    f"envoyés par instance {f['sent_per_instance']} ; "
                    f"mémoire max {f['peak_rss_mb']:.0f} Mo ; charge {f['load_average']:.1f}",
                    flush=True,
                )
    finally:
        sink.stop()
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
