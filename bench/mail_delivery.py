"""Benchmark (not a test): render, enqueue and deliver reminders to an SMTP sink, against a bare loop.

    .venv/bin/python bench/mail_delivery.py [--count 10000] [--database-url URL] [--json]

An aiosmtpd sink runs in its own process on loopback. Two more processes take turns against it:

- ``bare``: one aiosmtplib connection sending ``count`` prebuilt messages in a loop, nothing else;
- ``service``: the real path: ``app.renderer`` renders a reminder, ``queue_email`` writes the outbox
  row (SQLite file by default, or ``--database-url``), then ``dispatch_due`` claims, builds, sends
  and marks every row.

Each process reports its wall time and its peak resident memory (``ru_maxrss``, which counts the
interpreter and every library, not only Python objects). The sink's CPU time is read for each side
(it should be the same per message: same messages, same work), and so is the CPU time the rest of
the machine used during the run, so that a run disturbed by other work can be recognised. A last,
short measure compares ways of building the wire message (``email`` package with the default
policy, compat32 ``email.mime``, the service's own writer). Figures go to BENCHMARKS.md.

The target is on the whole service, render + enqueue + deliver, against the bare loop.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_TEMPLATES = HERE / "templates"
TARGET_RATIO = 0.60
TARGET_MEMORY_MB = 200


# --- the sink ---------------------------------------------------------------------------------


class CountingHandler:
    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def run_sink(port_queue: Any, counter: Any) -> None:
    """aiosmtpd on a free loopback port, counting messages, until the parent terminates it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(CountingHandler(counter), hostname="127.0.0.1", port=port)
    controller.start()
    port_queue.put(port)
    while True:
        time.sleep(3600)


# --- shared helpers ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes have used since boot (Linux ``/proc/stat``), None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux ``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process and its finished children: the bench's own CPU time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Timings:
    """Cumulative wall seconds, CPU seconds of the calling thread, and calls, per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def measure(self, label: str) -> Iterator[None]:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[label] += time.perf_counter() - start
            self.cpu[label] += time.thread_time() - cpu
            self.calls[label] += 1

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.measure(label):
                return func(*args, **kwargs)

        return timed

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            label: {
                "seconds": round(self.seconds[label], 3),
                "cpu_seconds": round(self.cpu[label], 3),
                "calls": self.calls[label],
            }
            for label in self.seconds
        }


def bench_settings(url: str, port: int, mail_dir: Path) -> Any:
    from workflow.settings import Settings

    return Settings(
        database_url=url,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        mail_dir=mail_dir,
    )


def reminder_source(settings: Any) -> tuple[Any, str, Callable[[int], dict[str, Any]]]:
    """The renderer, kind and context maker: the real ``declaration_reminder`` when its sample
    context is available, else the bench-only ``bench_reminder`` under ``bench/templates``."""
    from workflow.adapters.templates import TemplateRenderer, templates_root

    kind = "declaration_reminder"
    try:
        from workflow.emails import registry

        renderer = TemplateRenderer(signature=settings.signature)
        sample = dict(registry.sample(kind, settings).context)
        renderer.render(kind, sample)

        def real(n: int) -> dict[str, Any]:
            # Each message its own company and correspondent, as a real pass would have.
            context = dict(sample)
            for field, value in (
                ("company", f"Entreprise n° {n} SARL"),
                ("correspondent", f"Correspondant·e {n}"),
            ):
                if isinstance(context.get(field), dict):
                    context[field] = {**context[field], "name": value}
            return context

        return renderer, kind, real
    except Exception as exc:  # the reminder slice is not there: fall back to the bench kind
        print(f"(declaration_reminder indisponible, gabarit de banc : {exc})", file=sys.stderr)
    root = Path(tempfile.mkdtemp(prefix="bench-templates-"))
    atexit.register(shutil.rmtree, root, True)
    shutil.copytree(templates_root() / "emails" / "_base", root / "emails" / "_base")
    shutil.copytree(
        BENCH_TEMPLATES / "emails" / "bench_reminder", root / "emails" / "bench_reminder"
    )

    def bench(n: int) -> dict[str, Any]:
        return {
            "correspondent": f"Correspondant·e {n}",
            "company": f"Entreprise n° {n} SARL",
            "lot": f"lot {n % 12 + 1} – Gros œuvre",
            "month": date(2026, 2, 1),
            "due_on": date(2026, 3, 10),
            "hours_target": 833 + n % 100,
            "hours_done": 120 + n % 50,
        }

    return TemplateRenderer(root=root, signature=settings.signature), "bench_reminder", bench


def recipient_of(n: int) -> Any:
    from workflow.services.outbox import Recipient

    return Recipient(f"Correspondant·e {n}", f"correspondant{n}@entreprise{n % 97}.example.fr")


# --- the bare loop ----------------------------------------------------------------------------


def prebuilt_messages(port: int, first: int, count: int) -> tuple[str, list[tuple[str, bytes]]]:
    """The sender and ``count`` wire messages (address, bytes) numbered from ``first``, built by
    the dispatcher's own factory: the same headers and size as the service's messages."""
    from workflow.services.dispatch import Claimed, MessageFactory

    with tempfile.TemporaryDirectory() as folder:
        settings = bench_settings("sqlite://", port, Path(folder))
        renderer, kind, context_of = reminder_source(settings)
        rendered = renderer.render(kind, context_of(0))
    factory = MessageFactory(settings)
    messages = []
    for n in range(first, first + count):
        recipient = recipient_of(n)
        row = Claimed(
            id=n,
            key=f"bare:{n}",
            kind=kind,
            recipients=recipient.formatted(),
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            attempts=0,
            created_at=datetime.now(UTC),
        )
        messages.append((recipient.email, factory.build(row).data))
    return settings.mail_from, messages


def run_bare(port: int, count: int, results: Any) -> None:
    """Prebuilt messages sent over one aiosmtplib connection: the ceiling the service aims at."""
    import aiosmtplib

    sender, messages = prebuilt_messages(port, 0, count)

    async def loop() -> float:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        start = time.perf_counter()
        for address, data in messages:
            await client.sendmail(sender, [address], data)
        elapsed = time.perf_counter() - start
        await client.quit()
        return elapsed

    cpu = time.process_time()
    elapsed = asyncio.run(loop())
    cpu = time.process_time() - cpu
    results.put(
        {
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "rate": count / elapsed,
            "message_bytes": sum(len(d) for _a, d in messages) // count,
            "peak_rss_mb": peak_rss_mb(),
        }
    )


# --- the service ------------------------------------------------------------------------------


def run_service(
    port: int, count: int, url: str, batch_size: int, group_size: int, results: Any
) -> None:
    timings = Timings()
    folder = Path(tempfile.mkdtemp(prefix="bench-service-"))
    with fresh_database(url, folder) as database_url:
        run_service_on(database_url, port, count, batch_size, group_size, folder, timings, results)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(url: str, folder: Path) -> Iterator[str]:
    """A new SQLite file, or a new database on the PostgreSQL server of ``url``, dropped after."""
    if not url:
        yield f"sqlite:///{folder / 'clauses.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from workflow.adapters.db import normalise_url

    base = normalise_url(url)
    name = f"clauses_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_service_on(
    database_url: str,
    port: int,
    count: int,
    batch_size: int,
    group_size: int,
    folder: Path,
    timings: Timings,
    results: Any,
) -> None:
    from workflow.bootstrap import bootstrap
    from workflow.services import dispatch
    from workflow.services.outbox import queue_email

    settings = bench_settings(database_url, port, folder / "mail")
    app = bootstrap(settings, handlers={})
    app.init_database()
    renderer, kind, context_of = reminder_source(settings)

    class TimedRenderer:
        def render(self, kind: str, context: Any) -> Any:
            with timings.measure("render"):
                return renderer.render(kind, context)

    now = datetime.now(UTC)
    start = time.perf_counter()
    for first in range(0, count, 500):
        with app.transaction() as session:
            for n in range(first, min(first + 500, count)):
                queue_email(
                    session,
                    TimedRenderer(),  # type: ignore[arg-type]
                    key=f"reminder:{n}:{n % 97}:2026-02:reminder_1",
                    kind=kind,
                    recipients=[recipient_of(n)],
                    context=context_of(n),
                    now=now,
                )
    enqueued = time.perf_counter()

    # Time the dispatcher's stages from outside, without touching its code.
    dispatch.claim_due = timings.wrap("deliver: claim (thread)", dispatch.claim_due)  # type: ignore[assignment]
    dispatch.record_outcomes = timings.wrap(  # type: ignore[assignment]
        "deliver: record outcomes (commits)", dispatch.record_outcomes
    )
    dispatch.Pass.fence = timings.wrap(  # type: ignore[method-assign]
        "deliver: fence (thread, commits)", dispatch.Pass.fence
    )
    build = timings.wrap("deliver: build (in the send before)", dispatch.MessageFactory.build)
    sizes = []

    def measured_build(self: Any, row: Any, date: Any = None) -> Any:
        message = build(self, row, date)
        sizes.append(len(message.data))
        return message

    dispatch.MessageFactory.build = measured_build  # type: ignore[method-assign]
    from workflow.adapters.mail import smtp

    send = smtp.SmtpConnection.send

    async def timed_send(self: Any, message: Any) -> Any:
        with timings.measure("deliver: SMTP send (await, build in it)"):
            return await send(self, message)

    smtp.SmtpConnection.send = timed_send  # type: ignore[method-assign]
    cpu = time.process_time()
    group = group_size or dispatch.GROUP_SIZE
    report = dispatch.dispatch_due(app, now, batch_size=batch_size, group_size=group)
    delivered = time.perf_counter()
    cpu = time.process_time() - cpu
    app.close()
    backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    render_seconds = timings.seconds["render"]
    results.put(
        {
            "backend": backend,
            "batch_size": batch_size,
            "group_size": group,
            "kind": kind,
            "render_seconds": render_seconds,
            "enqueue_seconds": enqueued - start - render_seconds,
            "deliver_seconds": delivered - enqueued,
            "total_seconds": delivered - start,
            "deliver_rate": count / (delivered - enqueued),
            "message_bytes": sum(sizes) // max(len(sizes), 1),
            "deliver_cpu_seconds": cpu,
            "total_rate": count / (delivered - start),
            "report": report.as_dict(),
            "breakdown": timings.as_dict(),
            "peak_rss_mb": peak_rss_mb(),
        }
    )


# --- building messages ------------------------------------------------------------------------


def measure_builders(count: int) -> dict[str, float]:
    """Microseconds per message for three ways of building the same multipart message."""
    import email.policy
    from email.message import EmailMessage
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import format_datetime, formataddr, make_msgid

    from workflow.adapters.mail.message import Mailbox, MessageParts, build_message

    with tempfile.TemporaryDirectory() as folder:
        settings = bench_settings("sqlite://", 25, Path(folder))
        renderer, kind, context_of = reminder_source(settings)
        rendered = renderer.render(kind, context_of(1))
    when = datetime.now(UTC)

    def default_policy(n: int) -> bytes:
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = formataddr(("Camille Martin", "clauses@example.org"))
        message["To"] = formataddr((f"Correspondant·e {n}", f"c{n}@example.fr"))
        message["Reply-To"] = formataddr(("Camille Martin", "camille@example.org"))
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(when)
        message["Message-ID"] = make_msgid(domain="example.org")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message.as_bytes()

    def compat32(n: int) -> bytes:
        message = MIMEMultipart("alternative")
        message["From"] = formataddr(("Camille Martin", "clauses@example.org"))
        message["To"] = formataddr((f"Correspondant·e {n}", f"c{n}@example.fr"))
        message["Reply-To"] = formataddr(("Camille Martin", "camille@example.org"))
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(when)
        message["Message-ID"] = make_msgid(domain="example.org")
        message["Auto-Submitted"] = "auto-generated"
        message.attach(MIMEText(rendered.text, "plain", "utf-8"))
        message.attach(MIMEText(rendered.html, "html", "utf-8"))
        return message.as_bytes()

    def hand_written(n: int) -> bytes:
        return build_message(
            MessageParts(
                key=f"k{n}",
                sender=Mailbox("Camille Martin", "clauses@example.org"),
                reply_to=Mailbox("Camille Martin", "camille@example.org"),
                recipients=[Mailbox(f"Correspondant·e {n}", f"c{n}@example.fr")],
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                date=when,
            )
        )

    figures = {}
    for name, builder in (
        ("email, default policy", default_policy),
        ("email.mime, compat32", compat32),
        ("message.py writer", hand_written),
    ):
        start = time.perf_counter()
        for n in range(count):
            builder(n)
        figures[name] = (time.perf_counter() - start) / count * 1e6
    start = time.perf_counter()
    for n in range(count):
        renderer.render(kind, context_of(n))
    figures["(for scale) rendering the templates"] = (time.perf_counter() - start) / count * 1e6
    return figures


# --- orchestration ----------------------------------------------------------------------------


def settle() -> None:
    """Let the disk catch up before the next measured process: the writes of the one before
    (a 100 MB database, then its removal) would otherwise be flushed during it."""
    os.sync()
    time.sleep(1)


def in_process(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    settle()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=target, args=(*args, results))
    process.start()
    result: dict[str, Any] = results.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server (the bench creates and drops its own database there); "
        "default: a fresh SQLite file",
    )
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument(
        "--group-size", type=int, default=0, help="outcomes per commit (default: the dispatcher's)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()

    busy_before, own_before = machine_busy_seconds(), own_cpu_seconds()
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    ports = context.Queue()
    sink = context.Process(target=run_sink, args=(ports, counter), daemon=True)
    sink.start()
    port = ports.get(timeout=30)
    assert sink.pid is not None
    sink_cpu = [process_cpu_seconds(sink.pid)]
    try:
        # Bare loop before and after the service, so that a change of load on the machine
        # during the run shows instead of skewing the ratio.
        bare_runs = [in_process(run_bare, port, args.count)]
        after_bare = counter.value
        sink_cpu.append(process_cpu_seconds(sink.pid))
        service = in_process(
            run_service, port, args.count, args.database_url, args.batch_size, args.group_size
        )
        after_service = counter.value - after_bare
        sink_cpu.append(process_cpu_seconds(sink.pid))
        bare_runs.append(in_process(run_bare, port, args.count))
        sink_cpu.append(process_cpu_seconds(sink.pid))
    finally:
        sink.terminate()
        sink.join()
    busy_after, own_after = machine_busy_seconds(), own_cpu_seconds()
    other_cpu = (
        None
        if busy_before is None or busy_after is None
        else busy_after - busy_before - (own_after - own_before)
    )
    builders = measure_builders(min(args.count, 2000))
    bare = {
        "seconds": sum(b["seconds"] for b in bare_runs) / 2,
        "cpu_seconds": sum(b["cpu_seconds"] for b in bare_runs) / 2,
        "rates": [b["rate"] for b in bare_runs],
        "message_bytes": bare_runs[0]["message_bytes"],
        "peak_rss_mb": max(b["peak_rss_mb"] for b in bare_runs),
    }
    bare["rate"] = args.count / bare["seconds"]
    figures = {
        "count": args.count,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "bare": bare,
        "service": service,
        "sink_received": {"bare": after_bare, "service": after_service},
        "sink_cpu_seconds": sink_seconds(sink_cpu),
        "other_processes_cpu_seconds": other_cpu,
        "builders_us_per_message": builders,
        "ratio_deliver": service["deliver_rate"] / bare["rate"],
        "ratio_total": service["total_rate"] / bare["rate"],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print_report(figures)


def sink_seconds(readings: list[float | None]) -> dict[str, float] | None:
    """The sink's CPU time during each side: bare (the mean of its two runs) and service."""
    if any(r is None for r in readings):
        return None
    start, bare_1, service, bare_2 = (r or 0.0 for r in readings)
    return {"bare": ((bare_1 - start) + (bare_2 - service)) / 2, "service": service - bare_1}


def print_report(f: dict[str, Any]) -> None:
    bare, service, count = f["bare"], f["service"], f["count"]
    print(
        f"{count} messages, {service['backend']}, kind {service['kind']}, batch "
        f"{service['batch_size']}, {service['group_size']} outcome(s) per commit, "
        f"{bare['message_bytes']} bytes each (service: {service['message_bytes']}), "
        f"Python {f['python']}, {f['cpus']} CPU"
    )
    print(
        f"sink received: bare {f['sink_received']['bare']}, "
        f"service {f['sink_received']['service']} (report: {service['report']})"
    )
    print()
    print(
        f"bare aiosmtplib loop      {bare['rate']:8.0f} msg/s  ({bare['seconds']:.2f} s; "
        f"runs before/after: {bare['rates'][0]:.0f} / {bare['rates'][1]:.0f} msg/s)"
    )
    print(
        f"service, deliver only     {service['deliver_rate']:8.0f} msg/s  "
        f"({service['deliver_seconds']:.2f} s)  ratio {f['ratio_deliver']:.0%}"
    )
    print(
        f"service, render+enqueue+deliver {service['total_rate']:8.0f} msg/s  "
        f"({service['total_seconds']:.2f} s)  ratio {f['ratio_total']:.0%}"
    )
    print(
        f"client CPU per message: bare {bare['cpu_seconds'] / count * 1e6:.0f} µs, "
        f"service delivery {service['deliver_cpu_seconds'] / count * 1e6:.0f} µs"
    )
    sink = f["sink_cpu_seconds"]
    if sink is not None:
        print(
            f"sink CPU per message: bare {sink['bare'] / count * 1e6:.0f} µs, "
            f"service {sink['service'] / count * 1e6:.0f} µs"
        )
    if f["other_processes_cpu_seconds"] is not None:
        print(
            f"CPU used by other processes during the run: "
            f"{max(f['other_processes_cpu_seconds'], 0.0):.1f} s"
            + (" (the PostgreSQL server's included)" if service["backend"] == "PostgreSQL" else "")
        )
    print(f"peak RSS: service {service['peak_rss_mb']:.0f} MB, bare {bare['peak_rss_mb']:.0f} MB")
    print()
    print("where the service's time goes (wall s, CPU s of its thread, calls):")
    print(f"  {'render (app.renderer)':<40} {service['render_seconds']:7.2f}")
    print(f"  {'enqueue (queue_email: rows, commits)':<40} {service['enqueue_seconds']:7.2f}")
    for label, value in service["breakdown"].items():
        if label != "render":
            print(
                f"  {label:<40} {value['seconds']:7.2f} {value['cpu_seconds']:7.2f}"
                f"  {value['calls']:>6}"
            )
    print()
    print("building one wire message (µs):")
    for label, value in f["builders_us_per_message"].items():
        print(f"  {label:<40} {value:8.0f}")
    ok_ratio = f["ratio_total"] >= TARGET_RATIO
    ok_memory = service["peak_rss_mb"] < TARGET_MEMORY_MB
    print()
    print(
        f"target ratio >= {TARGET_RATIO:.0%} (render + enqueue + deliver): "
        f"{'met' if ok_ratio else 'NOT met'}; "
        f"peak memory < {TARGET_MEMORY_MB} MB: {'met' if ok_memory else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
