"""Benchmark (not a test): /bilans read from its snapshots, on a territory (issue 10).

    cp /tmp/web10k.db /tmp/snap.db
    .venv/bin/python bench/bench_report_snapshots.py --database-url sqlite:////tmp/snap.db
        [--requests 31]

For each report page (the month's summary of the territory, of one buyer, the annual report):
the first view (no snapshot yet: it compiles and keeps one), then the median of ``--requests``
views read from the snapshot, its CSV and XLSX downloads (the snapshot's bytes), and one
« Recalculer maintenant » (compile, keep, redirect). The schema is upgraded first and the
snapshots of the database given are removed: use a copy, never a real one.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from bench.generate import DEFAULT_AS_OF, parse_as_of
from workflow.adapters.db import upgrade
from workflow.adapters.orm import Buyer, ReportSnapshot
from workflow.app import web_accounts
from workflow.bootstrap import bootstrap
from workflow.entrypoints.web.server import settled_site
from workflow.settings import load_settings

PASSWORD = "banc d'essai des bilans"


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    assert response.status_code < 400, (response.status_code, response.text[:300])
    return elapsed * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Temps de /bilans lu depuis ses instantanés.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=31)
    parser.add_argument("--as-of", default=DEFAULT_AS_OF)
    args = parser.parse_args(argv)

    settings = load_settings(database_url=args.database_url)
    now = parse_as_of(args.as_of, settings.zone)
    app = bootstrap(settings, clock=lambda: now)
    upgrade(app.engine)
    with app.transaction() as session:
        session.execute(delete(ReportSnapshot))
        buyer = session.scalar(select(func.min(Buyer.id)))
    login = f"banc{int(time.time())}"
    web_accounts.add_user(app, login=login, name="Banc d'essai", password=PASSWORD)
    client = TestClient(settled_site(app))
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/connexion").text)
    assert csrf is not None
    client.post(
        "/connexion",
        data={"csrf": csrf.group(1), "identifiant": login, "mot_de_passe": PASSWORD},
        follow_redirects=False,
    )
    page = client.get("/bilans").text  # compiles the territory's summary: timed below again
    month = re.search(r'name="mois" value="([^"]+)"', page)
    assert month is not None
    client.post("/bilans/recalculer", data={"csrf": "x"})  # warms the POST route (403)
    with app.transaction() as session:
        session.execute(delete(ReportSnapshot))
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    year = now.astimezone(settings.zone).year - 1
    reports = {
        "synthèse du mois (territoire)": (
            "/bilans",
            f"/bilans/{month.group(1)}",
            "",
            ("/bilans/recalculer", {"mois": month.group(1)}),
        ),
        "synthèse d'un donneur d'ordre": (
            f"/bilans?acheteur={buyer}",
            f"/bilans/{month.group(1)}",
            f"?acheteur={buyer}",
            ("/bilans/recalculer", {"mois": month.group(1), "acheteur": str(buyer)}),
        ),
        "bilan annuel (territoire)": (
            "/bilans/annuel",
            f"/bilans/annuel/{year}",
            "",
            ("/bilans/annuel/recalculer", {"annee": str(year)}),
        ),
    }
    print(
        f"{'page':<32} {'1re vue':>9} {'médiane':>9} {'p90':>8} {'CSV':>8} {'XLSX':>8} "
        f"{'recalcul':>9}  cible 100 ms"
    )
    failed = False
    for name, (address, stem, query, (action, form)) in reports.items():

        def get(url: str) -> Callable[[], Any]:
            return lambda: client.get(url)

        first = timed(get(address))
        views = [timed(get(address)) for _ in range(args.requests)]
        csv = statistics.median(timed(get(f"{stem}.csv{query}")) for _ in range(5))
        xlsx = statistics.median(timed(get(f"{stem}.xlsx{query}")) for _ in range(5))

        def recompute(action: str = action, form: dict[str, str] = form) -> Any:
            return client.post(
                action, data={"csrf": token.group(1), **form}, follow_redirects=False
            )

        again = timed(recompute)
        median = statistics.median(views)
        p90 = statistics.quantiles(views, n=10)[-1]
        failed |= median >= 100
        print(
            f"{name:<32} {first:>6.0f} ms {median:>6.1f} ms {p90:>5.1f} ms {csv:>5.1f} ms "
            f"{xlsx:>5.1f} ms {again:>6.0f} ms  {'tenue' if median < 100 else 'MANQUÉE'}"
        )
    with app.transaction() as session:
        sizes = session.execute(
            select(
                ReportSnapshot.kind,
                ReportSnapshot.scope,
                func.length(ReportSnapshot.view),
                func.length(ReportSnapshot.csv),
                func.length(ReportSnapshot.xlsx),
            )
        ).all()
    for kind, scope, view, csv_size, xlsx_size in sizes:
        print(f"  instantané {kind} {scope}: vue {view} o, CSV {csv_size} o, XLSX {xlsx_size} o")
    app.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
