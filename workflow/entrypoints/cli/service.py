"""``clauses serve | tick | simulate | demo``: the service clock, one pass, a simulated calendar."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from workflow.adapters.templates import french_date, french_month, french_time
from workflow.app import service
from workflow.app.admin import init_database, require_schema
from workflow.app.service import PassDone, Simulated
from workflow.entrypoints.cli.common import (
    console,
    error_console,
    get_app,
    handle_errors,
    json_option,
    number,
    parse_date_fr,
    plural,
    print_json,
    print_table,
    within_calendar,
)
from workflow.entrypoints.cli.mail_words import kind_label, send_data
from workflow.errors import InputRefused
from workflow.runtime import running_from
from workflow.services.dispatch import EXIT_DELIVERY_FAILED

if TYPE_CHECKING:
    from workflow.bootstrap import App
    from workflow.settings import Settings

R = TypeVar("R")

#: ``tick --json``'s keys, French like the other commands' (the log keeps the English names).
PASS_KEYS = {
    "now": "instant",
    "armed": "entreprises_armees",
    "opened": "mois_ouverts",
    "closed_declared": "mois_clos_deja_declares",
    "months_skipped_suspended": "mois_suspendus_non_appeles",
    "calls": "appels",
    "reminders": "rappels",
    "escalations": "alertes",
    "steps_deferred": "etapes_gardees_pour_l_heure_d_appel",
    "no_recipient": "sans_destinataire",
    "failed": "en_echec",
    "digests": "recapitulatifs",
    "summaries": "syntheses",
    "held_notices": "avis_en_attente_envoyes",
    "dispatch": "envoi",
    "interrupted": "interrompu",
}


def pass_data(report: PassDone) -> dict[str, Any]:
    data = {PASS_KEYS[key]: value for key, value in report.as_dict().items()}
    data["envoi"] = send_data(report.dispatch) if report.dispatch else None
    return data


def parse_instant(text: str, zone: Any) -> datetime:
    """ISO 8601; without an offset the time is read in the service's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputRefused(
            f"--now : « {text} » n'est pas un instant ISO 8601 ; exemples : 2026-06-01T09:00 "
            "(heure locale) ou 2026-06-01T07:00+00:00."
        ) from None
    within_calendar(moment.year, text, "--now", moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def describe_pass(report: PassDone) -> str:
    ladders = report.ladders
    parts = [
        plural(ladders.calls, "appel à déclarer", "appels à déclarer"),
        plural(ladders.reminders, "rappel", "rappels"),
        plural(ladders.escalations, "alerte au donneur d'ordre", "alertes aux donneurs d'ordre"),
        plural(report.digests, "récapitulatif", "récapitulatifs"),
        plural(report.summaries, "synthèse", "synthèses"),
    ]
    if report.held_notices:
        # Rare (a buyer just got its first contact): said only when it happens.
        parts.append(
            plural(
                report.held_notices,
                "avis d'étape en attente envoyé",
                "avis d'étape en attente envoyés",
            )
        )
    text = ", ".join(parts)
    if report.dispatch is not None:
        text += f" ; {plural(report.dispatch.sent, 'courriel envoyé', 'courriels envoyés')}"
        if report.dispatch.retried or report.dispatch.failed or report.dispatch.dead:
            text += (
                f" ({number(report.dispatch.retried)} à retenter, "
                f"{number(report.dispatch.failed)} en échec, "
                f"{number(report.dispatch.dead)} abandonnés)"
            )
    if ladders.steps_deferred:
        text += (
            f" ; {plural(ladders.steps_deferred, 'étape due', 'étapes dues')} gardée"
            f"{'s' if ladders.steps_deferred > 1 else ''} pour l'heure d'appel"
        )
    return text


@click.command("tick")
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO",
    help="Instant du passage (ISO 8601, heure locale si sans fuseau). Par défaut : maintenant.",
)
@click.option(
    "--log", "with_log", is_flag=True, help="Journal JSON, une ligne par action, sur stderr."
)
@json_option
@handle_errors
def tick(now_text: str | None, with_log: bool, as_json: bool) -> None:
    """Fait un passage : appels, rappels, alertes, récapitulatif, synthèses dus, puis envois.

    Pour un lancement périodique (cron, minuteur systemd) à la place de « clauses serve ».
    """
    from workflow.entrypoints.scheduler import configure_logging

    app = get_app()
    if with_log:
        configure_logging()
    report = service.run_tick(app, parse_instant(now_text, app.settings.zone) if now_text else None)
    if as_json:
        print_json(pass_data(report))
    else:
        local = report.now.astimezone(app.settings.zone)
        console.print(
            f"Passage du {french_date(local)} à {french_time(local)} ({app.settings.timezone}) : "
            f"{describe_pass(report)}."
        )
    if report.delivery_trouble is not None:
        # Exit code 3: cron and monitors see the outage (README, « Codes de sortie »),
        # even in a pass that tried nothing, every message waiting for its retry slot.
        error_console.print(report.delivery_trouble, soft_wrap=True, markup=False)
        raise SystemExit(EXIT_DELIVERY_FAILED)


class MonthlyProgress:
    """Rich progress over the simulated instants, and one line per month of emails queued."""

    def __init__(self, progress: Progress, total: int, zone: ZoneInfo) -> None:
        self.progress = progress
        self.zone = zone
        self.task = progress.add_task("", total=total)
        self.month: date | None = None
        self.counts: Counter[str] = Counter()

    def __call__(self, report: PassDone) -> None:
        local = report.now.astimezone(self.zone)
        month = local.date().replace(day=1)
        if self.month is not None and month != self.month:
            self.flush()
        self.month = month
        ladders = report.ladders
        self.counts.update(
            calls=ladders.calls,
            reminders=ladders.reminders,
            escalations=ladders.escalations,
            digests=report.digests,
            summaries=report.summaries,
            sent=report.sent,
        )
        self.progress.update(self.task, advance=1, description=french_date(local).rjust(18))

    def flush(self) -> None:
        if self.month is None:
            return
        c = self.counts
        self.progress.console.print(
            f"[bold]{french_month(self.month).capitalize():<15}[/] "
            f"{plural(c['calls'], 'appel', 'appels')}, {plural(c['reminders'], 'rappel', 'rappels')}, "
            f"{plural(c['escalations'], 'alerte', 'alertes')}, "
            f"{plural(c['digests'], 'récapitulatif', 'récapitulatifs')}, "
            f"{plural(c['summaries'], 'synthèse', 'synthèses')} · "
            f"{plural(c['sent'], 'courriel envoyé', 'courriels envoyés')}"
        )
        self.counts.clear()


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("passages"),
        console=console,
        transient=True,
    )


def print_simulation(report: Simulated, zone: ZoneInfo, *, by_kind: bool = True) -> None:
    console.print(
        f"\nSimulation du {french_date(report.start.astimezone(zone))} au "
        f"{french_date(report.end.astimezone(zone))} : {plural(report.passes, 'passage', 'passages')}, "
        f"{plural(report.actions, 'action simulée', 'actions simulées')}, "
        f"{plural(report.queued, 'courriel préparé', 'courriels préparés')}, "
        f"{plural(report.sent, 'envoyé', 'envoyés')}"
        + (
            # The dispatcher also sends what was queued before the first simulated day.
            f" (dont {plural(report.sent - report.queued, 'préparé', 'préparés')} avant son début)."
            if report.sent > report.queued
            else "."
        )
    )
    if by_kind:
        print_table(
            "Courriels préparés pendant la simulation, par type",
            ["Type", "Nombre"],
            [[kind_label(kind), number(count)] for kind, count in report.by_kind],
        )


def tracked_simulation(
    app: App, start: date, end: date, run: Callable[[Callable[[PassDone], None]], R]
) -> R:
    """Run ``run(on_pass)`` under a progress bar, printing one line per simulated month."""
    total = service.simulation_passes(app, start, end)
    with progress_bar() as progress:
        tracker = MonthlyProgress(progress, total, app.settings.zone)
        result = run(tracker)
        tracker.flush()
    return result


@click.command("simulate")
@click.option("--from", "start_text", required=True, help="Premier jour simulé (jj/mm/aaaa).")
@click.option("--to", "end_text", required=True, help="Dernier jour simulé, inclus (jj/mm/aaaa).")
@click.option(
    "--no-dispatch", is_flag=True, help="Préparer les courriels sans les envoyer (file d'envoi)."
)
@json_option
@handle_errors
def simulate_command(start_text: str, end_text: str, no_dispatch: bool, as_json: bool) -> None:
    """Rejoue les vrais passages jour après jour sur un calendrier simulé (rien n'attend).

    Elle écrit dans la base configurée : à lancer sur une base d'essai ou une copie.
    """
    start = parse_date_fr(start_text, "--from")
    end = parse_date_fr(end_text, "--to")
    if end < start:
        raise InputRefused(
            f"--to {end:%d/%m/%Y} précède --from {start:%d/%m/%Y} : la fin vient après le début."
        )
    app = get_app()
    dispatch = not no_dispatch
    # Refused before anything is written: mail over SMTP, or a start in the database's past.
    target = service.simulation_target(app, dispatch=dispatch, start=start)
    if as_json:
        report = service.simulate_days(app, start, end, dispatch=dispatch)
        print_json(
            {
                "debut": report.start,
                "fin": report.end,
                "passages": report.passes,
                "envoyes": report.sent,
                "par_type": dict(report.by_kind),
            }
        )
        return
    console.print(f"Simulation sur {target.database} ; courriels : {target.transport}.")
    report = tracked_simulation(
        app,
        start,
        end,
        lambda on_pass: service.simulate_days(app, start, end, dispatch=dispatch, on_pass=on_pass),
    )
    print_simulation(report, app.settings.zone)


@click.command("serve")
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    envvar="CLAUSES_PASS_INTERVAL",
    help="Secondes entre deux passages (ou CLAUSES_PASS_INTERVAL).",
)
@click.option(
    "--migrate",
    is_flag=True,
    help="Crée ou met à jour la base avant de démarrer (comme « clauses init »).",
)
@click.option(
    "--no-web",
    "no_web",
    is_flag=True,
    help="Sans les pages web (sinon servies sur CLAUSES_WEB_HOST:CLAUSES_WEB_PORT).",
)
@handle_errors
def serve(interval: float, migrate: bool, no_web: bool) -> None:
    """Lance le service : appels, rappels, alertes, récapitulatifs, synthèses et envois, en continu,
    et les pages web (déclaration en ligne des entreprises) dans le même processus.

    S'arrête proprement sur SIGTERM ou Ctrl-C. Journal : une ligne JSON par action (stderr).
    """
    from workflow.entrypoints.scheduler import configure_logging
    from workflow.entrypoints.scheduler import serve as run_service

    app = get_app()
    configure_logging()
    if migrate:
        # The container's default command: a fresh /data volume needs no separate init step.
        init_database(app)
    run_service(app, interval, web=not no_web)


def explore_commands(settings: Settings) -> list[tuple[str, str]]:
    """What to type to look at what the demo made: its clauses, and its mail folder."""
    program = ".venv/bin/clauses" if Path(".venv/bin/clauses").exists() else "clauses"
    return [
        (
            "Les clauses de la démonstration (toute commande clauses, préfixée de même) :",
            f"CLAUSES_DATABASE_URL={settings.database_url} {program} clause list",
        ),
        (
            "Les courriels, un dossier par type (fichiers .eml, lisibles par tout logiciel de "
            "messagerie) :",
            f"ls {settings.mail_dir}/*",
        ),
        (
            "Le site (tableau de bord, pages des entreprises) au dernier jour simulé, après un "
            "compte « clauses user add » dans cette base :",
            f"CLAUSES_DATABASE_URL={settings.database_url} {program} web --now "
            f"{service.DEMO_LAST_DAY.isoformat()}T18:00",
        ),
    ]


@click.command("web")
@click.option(
    "--now",
    "now_text",
    help="Pages telles qu'à cette date-heure ISO, l'horloge partant de là et avançant avec "
    "l'heure réelle (pour parcourir la démonstration, qui va jusqu'au 31 mars 2027) ; jamais "
    "avant la dernière action enregistrée dans la base ; par défaut : l'heure réelle.",
)
@handle_errors
def web(now_text: str | None) -> None:
    """Sert les pages web seules (sans l'horloge) sur CLAUSES_WEB_HOST:CLAUSES_WEB_PORT.

    Les entreprises y déclarent leurs heures depuis le lien de leurs courriels. Derrière un
    mandataire inverse, CLAUSES_BASE_URL est l'adresse publique (voir le README).
    """
    from dataclasses import replace

    from workflow.entrypoints.scheduler import configure_logging
    from workflow.entrypoints.web.server import run_web

    app = get_app()
    require_schema(app)
    if now_text:
        moment = parse_instant(now_text, app.settings.zone)
        refusal = service.site_moment_refusal(app, moment)
        if refusal is not None:
            raise InputRefused(refusal)
        app = replace(app, clock=running_from(moment))
    configure_logging()
    run_web(app)


@click.command("demo")
@handle_errors
def demo() -> None:
    """Démonstration : territoire d'exemple et 14 mois simulés, dans var/demo/ seulement
    (base var/demo/clauses.db, courriels var/demo/mail/)."""
    from workflow.adapters.reports import print_summary
    from workflow.bootstrap import bootstrap

    settings = service.fresh_demonstration_settings()
    console.print(
        f"Démonstration dans [bold]{service.DEMO_DIR}/[/], refait à neuf : base "
        f"[bold]{service.DEMO_DATABASE}[/], "
        f"courriels en fichiers .eml dans [bold]{settings.mail_dir}/[/] (aucun n'est envoyé). "
        "La base et le dossier de courriels réglés (CLAUSES_DATABASE_URL, CLAUSES_MAIL_DIR, "
        "par défaut var/clauses.db et var/mail/) ne sont pas touchés.",
        soft_wrap=True,
    )
    app = bootstrap(settings)
    try:
        console.print(
            f"Territoire d'exemple chargé, puis 14 mois simulés du "
            f"{french_date(service.DEMO_FIRST_DAY)} au {french_date(service.DEMO_LAST_DAY)}, "
            "par les vrais passages du service :"
        )
        for line in service.DEMO_CAST:
            console.print(f"  • {line}")
        shown = tracked_simulation(
            app,
            service.DEMO_FIRST_DAY,
            service.DEMO_LAST_DAY,
            lambda on_pass: service.play_demonstration(app, on_pass=on_pass),
        )
        print_simulation(shown.simulation, settings.zone, by_kind=False)
        print_mail_folders(settings.mail_dir)
        sent_at = shown.summary_sent_at.astimezone(settings.zone)
        console.print(
            f"\nDernière synthèse mensuelle envoyée, {french_month(shown.last_summary_month)}, "
            f"telle que reçue le {french_date(sent_at)} à {french_time(sent_at)} :\n"
        )
        print_summary(console, shown.summary)
    finally:
        app.close()
    console.print("\n[bold]Pour explorer la démonstration[/]")
    for what, command in explore_commands(settings):
        console.print(f"  {what}")
        # Printed as is (no markup, no wrapping): the line is meant to be copied into a shell.
        console.print(f"    {command}", soft_wrap=True, markup=False, highlight=False)


def print_mail_folders(mail_dir: Path) -> None:
    folders = sorted(p for p in mail_dir.iterdir() if p.is_dir()) if mail_dir.is_dir() else []
    rows = [(folder, len(list(folder.glob("*.eml")))) for folder in folders]
    total = sum(count for _, count in rows)
    console.print(
        f"\nLes courriels sont dans [bold]{mail_dir}/[/], un dossier par type "
        f"({plural(total, 'fichier .eml', 'fichiers .eml')}) :"
    )
    print_table(
        "Courriels écrits",
        ["Dossier", "Type", "Fichiers"],
        [[f"{folder}/", kind_label(folder.name), number(count)] for folder, count in rows],
    )


COMMANDS: list[click.Command] = [serve, web, tick, simulate_command, demo]
