"""Benchmark (not a test): the web pages and the API on a territory, against a static file.

    .venv/bin/python bench/generate.py --lots 10000 --database-url sqlite:////tmp/web.db
    .venv/bin/python bench/bench_web_pages.py --database-url sqlite:////tmp/web.db [--requests 31]
        [--only clauses]

Target (issue 10): every page under 100 ms at the median with 10,000 clauses in the database,
the board of clauses (``/clauses``: counts by stage, fifty cards a stage, a search) and a
clause's page (its figures, calendar, history and chart) included.

The pages run in this process through the real ASGI application (``create_site``) and the real
``App``, driven by Starlette's test client: routing, the application layer's transactions, the
queries and the rendering are all counted, the network is not (loopback adds well under a
millisecond). The baseline, timed in the same run and alternately with each page, is the style
sheet (``/static/clauses.css``): the same stack with no database and no template. The clock is
the territory's instant (``--as-of``), so the links it signs are valid there.

A dashboard account and an API token are made first (written to the database given: use a
copy of a generated territory, never a real one).
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

if __package__ in (None, ""):  # run as a script: the checkout's root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.generate import DEFAULT_AS_OF, parse_as_of
from workflow.adapters.orm import Buyer, Company, DeclarationLadder, OutboxMessage
from workflow.app import api_tokens, web_accounts
from workflow.bootstrap import bootstrap
from workflow.domain.calendar import local_date
from workflow.domain.declaration_links import LinkScope, expiry, sign
from workflow.entrypoints.web.server import settled_site
from workflow.services.declaration_links import link_key
from workflow.settings import load_settings

TARGET_MS = 100.0
WARMUP = 3
PASSWORD = "banc d'essai des pages web"


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    assert response.status_code < 400, (response.status_code, response.text[:300])
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Temps des pages web sur un territoire généré.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=31, help="requêtes mesurées par page")
    parser.add_argument("--as-of", default=DEFAULT_AS_OF)
    parser.add_argument(
        "--only", default="", help="seulement les pages dont le nom contient ce texte"
    )
    args = parser.parse_args(argv)

    settings = load_settings(database_url=args.database_url)
    now = parse_as_of(args.as_of, settings.zone)
    app = bootstrap(settings, clock=lambda: now)
    login = f"banc{int(time.time())}"
    web_accounts.add_user(app, login=login, name="Banc d'essai", password=PASSWORD)
    token, _ = api_tokens.create_token(app, name=login, read_only=True)
    with app.transaction() as session:
        ladder = session.scalars(
            select(DeclarationLadder).order_by(DeclarationLadder.month.desc()).limit(1)
        ).one()
        key = link_key(session, settings, now)
        scope = LinkScope(
            ladder.clause_id,
            ladder.company_id,
            ladder.month,
            expiry(local_date(now, settings.zone), settings.link_days),
        )
        company = session.get(Company, ladder.company_id)
        assert company is not None and company.siret
        siret = f"{company.siret[:9]} {company.siret[9:]}"  # as read aloud: spaces allowed
        company_word = company.name.split()[0]
        message = session.scalar(select(func.max(OutboxMessage.id)))
        buyer = session.scalar(select(func.min(Buyer.id)))
    company_page = f"/declarer/{sign(scope, key)}"
    clause = ladder.clause_id

    client = TestClient(settled_site(app))  # as the server builds it (gc.freeze)
    form = client.get("/connexion").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    client.post(
        "/connexion",
        data={"csrf": csrf.group(1), "identifiant": login, "mot_de_passe": PASSWORD},
    )
    bearer = {"Authorization": f"Bearer {token}"}
    pages: dict[str, Callable[[], Any]] = {
        "entreprise : page du mois": lambda: client.get(company_page),
        "tableau de bord (tâches du jour)": lambda: client.get("/tableau-de-bord"),
        "courriels (100 derniers)": lambda: client.get("/courriels"),
        "courriels : un courriel": lambda: client.get(f"/courriels/{message}"),
        "bilans : synthèse du mois": lambda: client.get("/bilans"),
        "bilans : synthèse d'un donneur d'ordre": lambda: client.get(f"/bilans?acheteur={buyer}"),
        "bilans : bilan annuel": lambda: client.get("/bilans/annuel"),
        "corrections : recherche": lambda: client.get(f"/corrections?q={company_word}"),
        "corrections : fiche d'une entreprise": lambda: client.get(
            f"/corrections/entreprises/{company.id}"
        ),
        "clauses : tableau par étape": lambda: client.get("/clauses"),
        "clauses : une étape, page 3": lambda: client.get("/clauses?etape=execution&page=3"),
        "clauses : recherche (SIRET)": lambda: client.get(f"/clauses?recherche={siret}"),
        "clauses : recherche (nom)": lambda: client.get(f"/clauses?recherche={company_word}"),
        "clauses : page d'une clause": lambda: client.get(f"/clauses/{clause}"),
        "API : une clause": lambda: client.get(f"/api/v1/clauses/{clause}", headers=bearer),
        "API : déclarations d'une clause": lambda: client.get(
            f"/api/v1/declarations?clause={clause}", headers=bearer
        ),
        "API : tâches du jour": lambda: client.get("/api/v1/taches", headers=bearer),
        "API : une page de clauses (100)": lambda: client.get("/api/v1/clauses", headers=bearer),
    }
    baseline: Callable[[], Any] = lambda: client.get("/static/clauses.css")  # noqa: E731

    print(f"{'page':<36} {'médiane':>9} {'p90':>9} {'référence':>10} {'rapport':>8}  cible")
    failed = False
    for name, call in pages.items():
        if args.only not in name:
            continue
        for _ in range(WARMUP):
            timed(call)
            timed(baseline)
        page_times, base_times = [], []
        for _ in range(args.requests):
            page_times.append(timed(call))
            base_times.append(timed(baseline))
        median = statistics.median(page_times) * 1000
        p90 = statistics.quantiles(page_times, n=10)[-1] * 1000
        base = statistics.median(base_times) * 1000
        ok = median < TARGET_MS
        failed |= not ok
        print(
            f"{name:<36} {median:>7.1f} ms {p90:>6.1f} ms {base:>7.2f} ms {median / base:>7.1f}×"
            f"  {'tenue' if ok else 'MANQUÉE'}"
        )
    app.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
