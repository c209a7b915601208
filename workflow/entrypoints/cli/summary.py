"""``clauses summary`` (the monthly figures on demand) and ``clauses digest`` (today's tasks)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import click

from workflow.adapters.reports import FORMATS, Format, of_month, print_summary, render_summary
from workflow.adapters.templates import french_date, french_hours, french_month
from workflow.app.reports import daily_digest, summary_as_known
from workflow.emails.digest import CATEGORY_TITLES
from workflow.emails.month_lists import months_list
from workflow.entrypoints.cli.common import (
    console,
    get_app,
    handle_errors,
    json_option,
    print_json,
    report_options,
    say,
    within_calendar,
    write_report,
)
from workflow.errors import InputRefused
from workflow.services.audit.dates_then import DATE_WORDS, DatesThen
from workflow.services.summary_replays import ChangedSince, Replay


def parse_month(text: str) -> date:
    """``2026-03`` (or ``2026-3``, ``03/2026``) -> 2026-03-01."""
    cleaned = text.strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", cleaned) or re.fullmatch(
        r"(\d{1,2})/(\d{4})", cleaned
    )
    if match:
        first, second = match.groups()
        year, month = (int(first), int(second)) if len(first) == 4 else (int(second), int(first))
        if 1 <= month <= 12:
            within_calendar(year, text, "--month", None)  # date() takes no year 0
            return date(year, month, 1)
    raise InputRefused(
        f"--month : « {text} » n'est pas un mois ; attendu AAAA-MM, par exemple 2026-03."
    )


def parse_now(text: str, zone_name: str) -> datetime:
    """An ISO date-time; without an offset it is read as local time in the configured zone."""
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputRefused(
            f"--now : « {text} » n'est pas une date-heure ISO ; attendu par exemple "
            "2026-03-16T08:00 ou 2026-03-16T08:00+01:00."
        ) from None
    within_calendar(moment.year, text, "--now", moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone_name))
    return moment


@click.command("summary")
@click.option(
    "--month",
    "month_text",
    help="Mois résumé, AAAA-MM (par défaut : le dernier mois dont la synthèse est partie).",
)
@report_options(FORMATS, "avec graphique")
@click.option(
    "--now",
    "now_text",
    help="Chiffres tels que connus à cette date-heure ISO, par exemple celle d'une synthèse "
    "envoyée\u00a0: 2027-01-20T11:00 est l'heure locale du service (réglage timezone, "
    "Europe/Paris par défaut), 2027-01-20T10:00+00:00 l'heure UTC (par défaut\u00a0: "
    "maintenant).",
)
@handle_errors
def summary_command(
    month_text: str | None,
    buyer: str | None,
    fmt: str,
    output: Path | None,
    now_text: str | None,
) -> None:
    """Synthèse mensuelle : heures, participants, contrats, sorties et étapes d'un mois."""
    app = get_app()
    replay = summary_as_known(
        app,
        parse_month(month_text) if month_text else None,
        buyer=buyer,
        now=parse_now(now_text, app.settings.timezone) if now_text else None,
    )
    summary = replay.summary
    month = summary.month
    chosen = cast(Format, fmt)
    written = write_report(
        chosen,
        output,
        f"synthese-{month:%Y-%m}"
        + (f"-donneur-{summary.buyer_id}" if summary.buyer_id is not None else ""),
        show=lambda: print_summary(console, summary),
        render=lambda: render_summary(summary, chosen),
        what="la synthèse",
    )
    if written is not None:
        say(f"Synthèse {of_month(month)} écrite dans {written}")
    for line in [
        *changed_since_lines(replay.changed, app.settings.zone),
        *dates_lines(replay),
        *terminated_since_lines(replay),
        *targets_lines(replay),
        *departures_lines(replay),
    ]:
        if fmt == "csv" and output is None:
            click.echo(line, err=True)  # stdout carries the CSV's bytes, nothing else
        else:
            say(line)


def changed_since_lines(changed: tuple[ChangedSince, ...], zone: ZoneInfo) -> list[str]:
    """What a replayed summary counts as it stood then, named: the reader of an old email
    finds its figures, and knows why the tables by participant may be shorter."""
    if not changed:
        return []
    count = len(changed)
    head = (
        f"{count} déclaration comptée dans cette synthèse a été corrigée ou annulée depuis"
        if count == 1
        else f"{count} déclarations comptées dans cette synthèse ont été corrigées ou annulées "
        "depuis"
    )
    lines = [
        f"{head} : ses heures sont celles d'alors, comme dans le courriel ; ses lignes "
        "d'alors n'étant plus connues, les nombres de participants et les tableaux par participant, "
        "par modalité et par contrat ne la comptent pas."
        if count == 1
        else f"{head} : leurs heures sont celles d'alors, comme dans le courriel ; leurs lignes "
        "d'alors n'étant plus connues, les nombres de participants et les tableaux par participant, "
        "par modalité et par contrat ne les comptent pas."
    ]
    for c in changed:
        what = "annulée" if c.cancelled else "corrigée"
        lines.append(
            f"- {c.company}, {french_month(c.month)}, clause n° {c.clause_id} : "
            f"{french_hours(c.hours_then)} alors, {what} le "
            f"{french_date(c.changed_at.astimezone(zone))}"
        )
    return lines


#: A date the lot did not have, in the words of its kind (« démarrage » is masculine).
_NONE = {"start": "non renseigné", "planned_end": "non renseignée", "end": "non enregistrée"}


def _day(field: str, value: date | None) -> str:
    return f"le {value:%d/%m/%Y}" if value is not None else _NONE[field]


def dates_lines(replay: Replay) -> list[str]:
    """The lots whose dates changed since the moment (an end recorded or corrected, a planned
    end moved): their time elapsed is the one of their dates then, as in the email, and each
    change is named. The lots whose dates of then the history does not give are named too:
    counted with today's dates, their time elapsed may differ from the email's."""
    lines: list[str] = []
    moved = [d for d in replay.dates if not d.untold]
    if moved:
        one = len(moved) == 1
        lines.append(
            f"{len(moved)} clause{'' if one else 's'} de cette synthèse "
            f"{'a' if one else 'ont'} changé de dates depuis : "
            f"{'son' if one else 'leur'} temps écoulé est compté avec "
            f"{'ses' if one else 'leurs'} dates d'alors, comme dans le courriel."
        )
        lines += [f"- clause n° {d.clause_id} : {_moves(d)}" for d in moved]
    for d in replay.untold:
        fields = ", ".join(DATE_WORDS[f] for f in d.untold)
        lines.append(
            f"Clause n° {d.clause_id} : l'historique ne dit pas sa date ({fields}) à cet "
            "instant (un changement enregistré sans sa ligne d'historique) ; son temps écoulé "
            "est compté avec sa date d'aujourd'hui et peut différer de celui du courriel."
        )
    return lines


def terminated_since_lines(replay: Replay) -> list[str]:
    """The lots whose termination, recorded after the moment, took effect in the month or
    before: the summaries' rule says « marché résilié » where the email could not."""
    zone = replay.summary.zone
    return [
        f"Clause n° {t.clause_id} : sa résiliation, enregistrée le "
        f"{t.at.astimezone(zone):%d/%m/%Y} après cet instant, prend effet le {t.on:%d/%m/%Y} : "
        "cette synthèse dit « marché résilié », le courriel ne le pouvait pas ; son temps écoulé "
        "est compté avec ses dates d'alors jusqu'à ce jour."
        for t in replay.terminated
    ]


def _target(hours: int | None) -> str:
    return french_hours(hours) if hours is not None else "non fixé"


def targets_lines(replay: Replay) -> list[str]:
    """The lots whose hours target was imposed since the moment: counted with the target of
    then, as in the email, and each change named. Those whose target of then the history does
    not say are named too: counted with today's, their hours against the target may differ
    from the email's."""
    zone = replay.summary.zone
    lines: list[str] = []
    told = [t for t in replay.targets if t.told]
    if told:
        one = len(told) == 1
        lines.append(
            f"{len(told)} clause{'' if one else 's'} de cette synthèse "
            f"{'a' if one else 'ont'} changé d'objectif d'heures depuis : "
            f"{'ses' if one else 'leurs'} heures face à l'objectif sont comptées avec "
            f"{'son' if one else 'leur'} objectif d'alors, comme dans le courriel."
        )
        lines += [
            f"- clause n° {t.clause_id} : objectif alors {_target(t.before)}, aujourd'hui "
            f"{_target(t.after)} (changé le {t.at.astimezone(zone):%d/%m/%Y})"
            for t in told
        ]
    for t in replay.targets:
        if t.told:
            continue
        lines.append(
            f"Clause n° {t.clause_id} : objectif d'heures changé le "
            f"{t.at.astimezone(zone):%d/%m/%Y}, après cet instant ; l'historique ne dit pas "
            f"celui d'alors : cette synthèse compte celui d'aujourd'hui ({_target(t.after)}), "
            "ses heures face à l'objectif peuvent différer de celles du courriel."
        )
    return lines


def departures_lines(replay: Replay) -> list[str]:
    """The companies that left since the moment, their last month today before the summary's:
    counted with their months of then, as in the email (their declaration of the month
    expected when the email asked it, received when it was declared by then, else missing or
    not due yet as the email listed it; not asked; their earlier months still owed then), and
    each named."""
    if not replay.departures:
        return []
    zone = replay.summary.zone
    month = of_month(replay.summary.month)  # « d'octobre 2026 »
    one = len(replay.departures) == 1
    lines = [
        f"{len(replay.departures)} entreprise{'' if one else 's'} de cette synthèse "
        f"{'a' if one else 'ont'} quitté le chantier depuis : "
        f"{'ses' if one else 'leurs'} mois à déclarer sont comptés comme alors, comme dans le "
        "courriel."
    ]
    for d in replay.departures:
        # No departure recorded then: its months ran to the lot's end.
        then = french_month(d.last_then) if d.last_then is not None else "celui de la fin du lot"
        said = [
            f"- clause n° {d.clause_id} : {d.company}, départ enregistré le "
            f"{d.at.astimezone(zone):%d/%m/%Y} ; dernier mois à déclarer alors {then}, "
            f"aujourd'hui {french_month(d.last_month)}"
        ]
        # The summary's month is after its last month today (``Replay.departures``): counted
        # as it was then, no longer asked now; the sentence says both, in their tenses.
        if d.expected and d.declared:
            said.append(f"sa déclaration {month}, reçue alors, est comptée")
        elif d.expected and d.late:
            said.append(
                f"sa déclaration {month}, non reçue, était attendue alors : ces chiffres la "
                "comptent manquante, comme le courriel (elle n'est plus demandée aujourd'hui)"
            )
        elif d.expected:
            # Among the email's « pas encore dues »: not late then (review 7).
            said.append(
                f"sa déclaration {month}, non reçue, n'était pas encore due alors : ces chiffres "
                "la comptent parmi les pas encore dues, comme le courriel (elle n'est plus "
                "demandée aujourd'hui)"
            )
        else:
            said.append(f"sa déclaration {month} n'était pas demandée alors")
        if d.earlier:
            dropped = [m for m in d.earlier if m > d.last_month]
            words = f"encore dus alors : {months_list(d.earlier)}"
            if dropped:
                asked_no_more = f"plus demandé{'s' if len(dropped) > 1 else ''} aujourd'hui"
                some = len(dropped) < len(d.earlier)
                words += (
                    f" ({months_list(dropped)} {asked_no_more})" if some else f", {asked_no_more}"
                )
            said.append(words)
        lines.append(" ; ".join(said))
    return lines


def _moves(dated: DatesThen) -> str:
    said = []
    for field in ("start", "planned_end", "end"):
        then, now = dated.then.of(field), dated.now.of(field)
        if then != now:
            said.append(
                f"{DATE_WORDS[field]} alors {_day(field, then)}, aujourd'hui {_day(field, now)}"
            )
    return " ; ".join(said)


@click.command("digest")
@click.option(
    "--now",
    "now_text",
    help="Date-heure ISO à simuler, heure locale du service sans décalage (par défaut\u00a0: "
    "maintenant).",
)
@json_option
@handle_errors
def digest_command(now_text: str | None, as_json: bool) -> None:
    """Récapitulatif des tâches du jour, affiché sans rien envoyer."""
    app = get_app()
    digest = daily_digest(app, parse_now(now_text, app.settings.timezone) if now_text else None)
    if as_json:
        print_json(
            {
                "jour": digest.day,
                "jour_ouvre": digest.working_day,
                "elements": [
                    {
                        "categorie": item.category.value,
                        "rubrique": CATEGORY_TITLES[item.category],
                        "titre": item.title,
                        "detail": item.detail,
                        "a_faire": item.action,
                        "clause": item.clause_id,
                        "jours": item.days,
                    }
                    for item in digest.items
                ],
            }
        )
        return
    console.print(f"[bold]Récapitulatif des tâches du {digest.day:%d/%m/%Y}[/]")
    if not digest.working_day:
        console.print("(jour non ouvré : aucun récapitulatif n'est envoyé ce jour-là)")
    if not digest.items:
        console.print("Rien à faire : aucun récapitulatif ne serait envoyé.")
        return
    for category, items in digest.sections():
        console.print(f"\n[bold]{CATEGORY_TITLES[category]}[/] ({len(items)})")
        for item in items:
            console.print(f"• {item.title}", soft_wrap=True, markup=False)
            console.print(f"  {item.detail}", soft_wrap=True, markup=False)
            console.print(f"  À faire : {item.action}", soft_wrap=True, markup=False)


COMMANDS: list[click.Command] = [summary_command, digest_command]
