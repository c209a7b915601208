"""``clauses clause ...`` and ``clauses hours``: compute, show, list, award and move clauses.

Each command parses what was typed, calls one function of ``workflow.app.clauses`` (which owns
the transaction, the clock, the actor and the events) and prints the view it returns. A clause
is designated by its N° or by its market's reference and lot (« 2026-014/01 »).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.markup import escape

from workflow.adapters.csv_files import parse_month
from workflow.adapters.templates import french_date, french_month, french_percent
from workflow.app import clauses as clause_app
from workflow.app import declarations as declaration_app
from workflow.app.clause_views import ClauseDetail, ClauseSummary
from workflow.app.clauses import Figures, PartyChoice, outstanding_data
from workflow.app.command_words import released_words
from workflow.app.end_facts import released_data
from workflow.app.months_asked_texts import asked_data, asked_sentences
from workflow.app.terminated_lots import terminated_lots
from workflow.app.terminations import termination_shown
from workflow.domain.calls_to_come import usual_call_at
from workflow.domain.characters import shown
from workflow.domain.hours import HoursCalculation, parse_positive, parse_ratio
from workflow.domain.stages import (
    EVENT_LABELS,
    LABELS,
    ClauseEvent,
    Stage,
    history_label,
    parse_event,
    parse_stage,
)
from workflow.domain.terminations import Termination
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.emails.company_pauses import past_planned_end_sentence
from workflow.emails.notices import Outstanding, months_named
from workflow.entrypoints.cli.common import (
    actor_option,
    get_app,
    handle_errors,
    hours_text,
    json_option,
    number,
    parse_date_fr,
    print_json,
    print_table,
    say,
)
from workflow.entrypoints.cli.params import LARGEST, Text
from workflow.errors import InputRefused
from workflow.services.calendar_changes import calendar_lines
from workflow.services.clauses import AwardResult
from workflow.services.lot_calendars import SOURCE_LABELS, ExplainedCalendar, RuleSource
from workflow.services.lot_ends import ReleasedMonths, released_sentence

F = TypeVar("F", bound=Callable[..., Any])


#: « Entreprise … » agrees with its noun: « titulaire », « cotraitante », « sous-traitante ».
COMPANY_ROLE_WORDS: dict[str, str] = {
    PartyRole.HOLDER: "titulaire",
    PartyRole.CO_CONTRACTOR: "cotraitante",
    PartyRole.SUBCONTRACTOR: "sous-traitante",
}


# --- designations -----------------------------------------------------------------------------


class Designation(Text):
    """A record named by its N° or by what people know of it (name, reference, « 2026-014/01 »).

    Any text is looked up by the application layer; only a number past what an N° can be is a
    usage error here, as it was when these parameters took numbers alone."""

    name = "texte"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = super().convert(value, param, ctx)
        digits = str(text).strip()
        if digits.isascii() and digits.isdigit() and int(digits) > LARGEST:
            largest = f"{LARGEST:,}".replace(",", "\u202f")
            self.fail(
                f"«\u00a0{shown(digits)}\u00a0» : nombre trop grand (au plus {largest}).",
                param,
                ctx,
            )
        return text


DESIGNATION = Designation()

#: Help texts of the options and arguments naming a record.
BUYER_HELP = "N° ou nom du donneur d'ordre."
COMPANY_HELP = "N°, nom ou SIRET de l'entreprise."
OPERATION_HELP = "N° ou nom de l'opération."
MARKET_HELP = "N° ou référence du marché."


def clause_argument(func: F) -> F:
    """The ``CLAUSE`` argument: a N° or « RÉFÉRENCE/LOT »."""
    return click.argument("clause", type=DESIGNATION, metavar="CLAUSE")(func)


# --- the calculation note ---------------------------------------------------------------------

AMOUNT = "--amount (montant HT)"
SHARE = "--labour-share (part de main-d'œuvre)"
RATE = "--rate (taux d'insertion)"
COST = "--hourly-cost (coût horaire chargé)"


def figure_options(func: F) -> F:
    """The four figures of the calculation note, as a person types them."""
    func = click.option(
        "--hourly-cost", default=None, help="Coût horaire chargé en euros, ex. 30 ou 28,50."
    )(func)
    func = click.option("--rate", default=None, help="Taux d'insertion : 0.05, 0,05, 5% ou 5 %.")(
        func
    )
    func = click.option(
        "--labour-share", default=None, help="Part de main-d'œuvre : 0.5, 0,5, 50% ou 50 %."
    )(func)
    func = click.option(
        "--amount", default=None, help="Montant HT en euros, ex. 1000000 ou « 1 000 000 »."
    )(func)
    return func


def parse_figures(
    amount: str | None, labour_share: str | None, rate: str | None, hourly_cost: str | None
) -> Figures:
    """Read each figure given; the message names the option of any bad one."""
    return Figures(
        amount=parse_positive(amount, AMOUNT) if amount is not None else None,
        labour_share=parse_ratio(labour_share, SHARE) if labour_share is not None else None,
        rate=parse_ratio(rate, RATE) if rate is not None else None,
        hourly_cost=parse_positive(hourly_cost, COST) if hourly_cost is not None else None,
    )


def calculation_data(calculation: HoursCalculation) -> dict[str, Any]:
    return {
        "heures": calculation.hours,
        "valeur_exacte": str(calculation.exact.quantize(Decimal("0.000001"))),
        "montant_ht": calculation.amount_excl_tax,
        "part_main_d_oeuvre": calculation.labour_share,
        "taux_insertion": calculation.insertion_rate,
        "cout_horaire": calculation.hourly_cost,
        "formule": calculation.formula(),
        "avertissement": calculation.warning(),
        "note": calculation.note(),
    }


def print_calculation(calculation: HoursCalculation) -> None:
    for line in calculation.note():
        style = "bold yellow" if line.startswith("Attention") else None
        say(line, style=style)


@click.command("hours")
@click.option("--amount", required=True, help="Montant HT en euros, ex. 1000000 ou « 1 000 000 ».")
@click.option("--labour-share", required=True, help="Part de main-d'œuvre : 0.5, 0,5 ou 50 %.")
@click.option("--rate", required=True, help="Taux d'insertion : 0.05, 0,05 ou 5 %.")
@click.option("--hourly-cost", required=True, help="Coût horaire chargé en euros, ex. 30.")
@json_option
@handle_errors
def hours_command(
    amount: str, labour_share: str, rate: str, hourly_cost: str, as_json: bool
) -> None:
    """Calcule les heures d'insertion et affiche la note de calcul (sans rien enregistrer)."""
    figures = parse_figures(amount, labour_share, rate, hourly_cost)
    assert figures.amount and figures.labour_share and figures.rate and figures.hourly_cost
    calculation = clause_app.calculate_hours(
        figures.amount, figures.labour_share, figures.rate, figures.hourly_cost
    )
    if as_json:
        print_json(calculation_data(calculation))
        return
    say(f"[bold]{number(calculation.hours)}[/] heures d'insertion", markup=True)
    print_calculation(calculation)


# --- showing and listing ----------------------------------------------------------------------


@click.group("clause")
def clause_group() -> None:
    """Clauses : afficher, lister, calculer, attribuer, faire avancer.

    Une clause se désigne par son N° ou par la référence du marché et le lot, ex. 2026-014/01
    (la référence seule si le marché n'a qu'un lot)."""


def summary_data(clause: ClauseSummary) -> dict[str, Any]:
    return {
        "id": clause.id,
        "donneur_d_ordre": clause.buyer,
        "operation": clause.operation,
        "marche": clause.market,
        "lot": clause.lot_number,
        "intitule": clause.lot_title,
        "etape": clause.stage.value,
        "etape_libelle": LABELS[clause.stage],
        "heures_calculees": clause.hours_computed,
        "heures_imposees": clause.hours_override,
        "heures_prevues": clause.hours_target,
        "version": clause.version,
    }


def _termination_data(detail: ClauseDetail) -> dict[str, Any] | None:
    return _termination_json(
        termination_shown(detail.summary.stage, detail.history, detail.end_date)
    )


def detail_data(detail: ClauseDetail) -> dict[str, Any]:
    """``clause show --json``: the keys of a list's row, then the rest of the clause."""
    return {
        **summary_data(detail.summary),
        "montant_ht": detail.amount_excl_tax,
        "part_main_d_oeuvre": detail.labour_share,
        "taux_insertion": detail.insertion_rate,
        "cout_horaire": detail.hourly_cost,
        "raison_heures_imposees": detail.override_reason,
        "demarrage": detail.start_date,
        "fin_prevue": detail.planned_end_date,
        "fin": detail.end_date,
        # A contract terminated during the works: its date (the end's) and reason, else None.
        "resiliation": _termination_data(detail),
        # When the final report was recorded (its text: « texte_bilan »).
        "bilan": detail.final_report_at,
        "texte_bilan": detail.final_report,
        "heures_realisees": detail.hours_done,
        # Hours done over the target (1 is the target reached), None without a target.
        "taux_realisation": detail.completion,
        "entreprises": [
            {
                "entreprise_id": party.company_id,
                "entreprise": party.company,
                "role": PARTY_ROLE_LABELS[party.role],
                "correspondant": party.correspondent,
                "email": party.email,
                "heures": party.hours_share,
                "heures_realisees": party.hours_done,
                # Its departure recorded: its last month on the lot (AAAA-MM), else null.
                "dernier_mois": f"{party.last_month:%Y-%m}" if party.last_month else None,
            }
            for party in detail.parties
        ],
        "evenements_permis": [EVENT_LABELS[e] for e in detail.allowed_events],
        "historique": [
            {
                "date": row.at,
                "acteur": row.actor,
                "evenement": row.event,
                "de": row.from_stage.value if row.from_stage else None,
                "vers": row.to_stage.value,
                "motif": row.reason,
            }
            for row in detail.history
        ],
        "calendrier": calendar_data(detail.calendar),
    }


def calendar_data(calendar: ExplainedCalendar) -> dict[str, Any]:
    """The declaration calendar and where each rule comes from: lot, buyer or settings."""

    def origin(source: RuleSource) -> dict[str, str]:
        return {"origine": source.value, "origine_libelle": SOURCE_LABELS[source]}

    rules = calendar.rules
    return {
        "echeance": {"jour": rules.due_day, **origin(calendar.due_day_from)},
        "rappels": {"jours": list(rules.reminder_offsets), **origin(calendar.reminders_from)},
        "signalement": {"jours": rules.escalation_offset, **origin(calendar.escalation_from)},
        "rappels_jamais_envoyes": list(calendar.dropped_reminders),
    }


def print_calendar(calendar: ExplainedCalendar, title: str = "Calendrier des déclarations") -> None:
    say(f"{title} :")
    for line in calendar_lines(calendar):
        say(f"  {line}")


#: Stages at which the hours declared are worth a line even when none are.
DECLARED_STAGES = frozenset({Stage.EXECUTION, Stage.SUSPENDED, Stage.FOLLOW_UP, Stage.CLOSED})


def completion_text(detail: ClauseDetail) -> str:
    """« 2 362,50 h sur 4 725 h prévues (50,0 %), reste 2 362,50 h »: the percentage is cut,
    never rounded up, so 99,96 % does not read as the target reached."""
    done = hours_text(detail.hours_done)
    target = detail.summary.hours_target
    ratio = detail.completion
    if target is None or ratio is None:
        return f"{done} (pas d'heures prévues à comparer)"
    percent = french_percent(ratio.quantize(Decimal("0.001"), rounding=ROUND_DOWN), 1)
    text = f"{done} sur {hours_text(target)} prévues ({percent})"
    left = Decimal(target) - detail.hours_done
    return text + (f", reste {hours_text(left)}" if left > 0 else "")


def print_clause(detail: ClauseDetail, zone: ZoneInfo) -> None:
    clause = detail.summary
    lot = f" lot {clause.lot_number}" if clause.lot_number else ""
    title = escape(f"{clause.lot_title} (marché {clause.market}{lot})")
    say(f"[bold]Clause n° {clause.id}[/] – {title}", markup=True)
    say(f"Donneur d'ordre : {clause.buyer} · Opération : {clause.operation}")
    say(f"Étape : [bold]{LABELS[clause.stage]}[/] (version {clause.version})", markup=True)
    say(f"Heures d'insertion prévues : {hours_text(clause.hours_target, 'à calculer')}")
    if clause.hours_override is not None:
        say(
            f"  imposées ({detail.override_reason}) ; calculées : "
            f"{hours_text(clause.hours_computed, 'non calculées')}"
        )
    if detail.hours_done or clause.stage in DECLARED_STAGES:
        say(f"Heures réalisées (déclarées) : {completion_text(detail)}")
    for party in detail.parties:
        share = f" – {hours_text(party.hours_share)}" if party.hours_share is not None else ""
        done = f" (déclarées : {hours_text(party.hours_done)})" if party.hours_done else ""
        left = (
            f" – partie du chantier, dernier mois : {french_month(party.last_month)}"
            if party.last_month
            else ""
        )
        say(
            f"Entreprise {COMPANY_ROLE_WORDS[party.role]} : {party.company}{share}{done}{left}"
            f" – correspondant : {party.correspondent or 'à désigner'} {party.email or ''}"
        )
    if detail.start_date:
        planned = detail.planned_end_date
        say(
            f"Démarrage : {detail.start_date:%d/%m/%Y} · fin prévue : "
            + (f"{planned:%d/%m/%Y}" if planned else "–")
            + (f" · fin : {detail.end_date:%d/%m/%Y}" if detail.end_date else "")
        )
    terminated = termination_shown(clause.stage, detail.history, detail.end_date)
    if terminated is not None:
        say(f"Marché {terminated.said}")
    if detail.final_report is not None:
        when = (
            f" (enregistré le {detail.final_report_at.astimezone(zone):%d/%m/%Y})"
            if detail.final_report_at
            else ""
        )
        say(f"Bilan de l'opération{when} :")
        for line in detail.final_report.splitlines() or [""]:
            say(f"  {line}")
    print_calendar(detail.calendar)
    allowed = ", ".join(EVENT_LABELS[e] for e in detail.allowed_events) or "aucun"
    say(f"Événements permis : {allowed}")
    print_table(
        "Historique",
        ["Date", "Acteur", "Événement", "De", "Vers", "Motif"],
        [
            [
                f"{row.at.astimezone(zone):%d/%m/%Y %H:%M}",
                row.actor,
                history_label(row.event),
                LABELS[row.from_stage] if row.from_stage else "",
                LABELS[row.to_stage],
                row.reason or "",
            ]
            for row in detail.history
        ],
    )


def show_detail(detail: ClauseDetail, as_json: bool) -> None:
    """Print a clause, in the shape of ``clause show``."""
    if as_json:
        print_json(detail_data(detail))
    else:
        print_clause(detail, get_app().settings.zone)


@clause_group.command("show")
@clause_argument
@json_option
@handle_errors
def show(clause: str, as_json: bool) -> None:
    """Affiche une clause : ses heures prévues et réalisées (déclarées), ses entreprises, son
    bilan, son calendrier des déclarations (et d'où vient chaque règle : lot, donneur d'ordre ou
    réglage général) et son historique.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    show_detail(clause_app.clause_detail(get_app(), clause), as_json)


@clause_group.command("list")
@click.option("--stage", "stage_text", help="N'afficher qu'une étape (ex. execution).")
@click.option(
    "--market",
    type=DESIGNATION,
    default=None,
    metavar="MARCHE",
    help=f"Un seul marché : {MARKET_HELP}",
)
@click.option(
    "--buyer",
    type=DESIGNATION,
    default=None,
    metavar="DONNEUR_D_ORDRE",
    help=f"Un seul donneur d'ordre : {BUYER_HELP}",
)
@json_option
@handle_errors
def list_clauses(
    stage_text: str | None, market: str | None, buyer: str | None, as_json: bool
) -> None:
    """Liste les clauses (une par lot), par étape."""
    stage = parse_stage(stage_text) if stage_text else None
    app = get_app()
    rows = clause_app.list_clauses(app, stage=stage, market=market, buyer=buyer)
    # A lot ended by a termination says so beside its stage: never read as a normal end.
    terminated = terminated_lots(app, [r.id for r in rows])
    if as_json:
        print_json(
            [
                {**summary_data(r), "resiliation": _termination_json(terminated.get(r.id))}
                for r in rows
            ]
        )
        return
    print_table(
        "Clauses",
        ["N°", "Étape", "Donneur d'ordre", "Marché", "Lot", "Intitulé", "Heures"],
        [
            [
                r.id,
                stage_cell(r.stage, terminated.get(r.id)),
                r.buyer,
                r.market,
                r.lot_number,
                r.lot_title,
                hours_text(r.hours_target),
            ]
            for r in rows
        ],
    )


def stage_cell(stage: Stage, terminated: Termination | None) -> str:
    """« suivi et bilan », or « suivi et bilan (résilié le 15/11/2026) » for a lot ended by a
    termination."""
    if terminated is None:
        return LABELS[stage]
    return f"{LABELS[stage]} (résilié le {terminated.on:%d/%m/%Y})"


def _termination_json(found: Termination | None) -> dict[str, Any] | None:
    return None if found is None else {"date": found.on, "motif": found.reason}


# --- changing a clause ------------------------------------------------------------------------


@clause_group.command("advance")
@clause_argument
@click.argument("event_name", metavar="EVENEMENT")
@click.option(
    "--reason",
    default=None,
    help="Motif inscrit à l'historique ; pour une suspension ou un abandon, il est aussi écrit "
    "tel quel au donneur d'ordre (« Motif indiqué : … »), et, pour une suspension, aux "
    "entreprises du lot.",
)
@click.option(
    "--end-date",
    default=None,
    help="Date de fin d'exécution (jj/mm/aaaa), pour « achever » ; date de résiliation du "
    "marché, pour « résilier » (obligatoire, avec --reason).",
)
@actor_option
@json_option
@handle_errors
def advance(
    clause: str,
    event_name: str,
    reason: str | None,
    end_date: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Fait avancer une clause : rédiger, attribuer, démarrer, achever, clôturer, abandonner,
    suspendre, reprendre, résilier (accents facultatifs ; les codes anglais draft, award… aussi).

    « résilier » (marché résilié pendant les travaux, depuis la mise en œuvre ou la
    suspension) demande --end-date (la date de résiliation, qui devient la date de fin du lot) et
    --reason.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    event = parse_event(event_name)
    finish = parse_date_fr(end_date, "--end-date") if end_date else None
    advanced = clause_app.advance_clause(
        get_app(),
        clause,
        event,
        reason=reason,
        end_date=finish,
        actor=actor,
        end_field="--end-date",
    )
    if as_json:
        print_json(
            {
                "clause": advanced.clause_id,
                "de": advanced.from_stage,
                "vers": advanced.to_stage,
                "date": advanced.at,
                # The months after the end of the work no longer asked for, by company.
                "mois_plus_demandes": released_data(advanced.released),
                # What a suspension withdrew of the lot's emails still waiting, by company.
                "courriels_retires": list(advanced.withdrawn),
                # A closure: the declarations still owed, no longer asked, by company.
                "declarations_non_recues": outstanding_data(advanced.outstanding),
                # The months the finish makes owed, called at the next pass, by company.
                **(
                    {"mois_a_demander": asked_data(advanced.asked)}
                    if event is ClauseEvent.FINISH
                    else {}
                ),
                # A resumption after the planned end: that date, no month after it asked yet.
                **(
                    {"fin_prevue_depassee": advanced.past_planned_end}
                    if event is ClauseEvent.RESUME
                    else {}
                ),
            }
        )
    else:
        say(
            f"Clause n° {advanced.clause_id} : {LABELS[advanced.from_stage]} → "
            f"[bold]{LABELS[advanced.to_stage]}[/]",
            markup=True,
        )
        for released in advanced.released:
            # A termination's months are told as its history row tells them: terminated.
            if event is ClauseEvent.TERMINATE:
                released = dataclasses.replace(released, terminated=True)
            for line in released_lines(released):
                say(line)
        for line in advanced.withdrawn:
            say(line)
        for line in asked_sentences(advanced.asked, get_app().settings.zone):
            say(line)
        if advanced.past_planned_end is not None:
            say(past_planned_end_sentence(advanced.clause_id, advanced.past_planned_end))
        if advanced.outstanding:
            closure_warning(advanced.clause_id, advanced.outstanding)


def last_month_sentence(end: date, clause_id: int) -> str:
    """The last month the lot's companies are asked for after its planned end moved: called
    already, or when its call leaves (« juin 2027 sera le dernier mois demandé, appel prévu le
    1er juillet 2027 »): never « appelé » before it is."""
    settings = get_app().settings
    month = date(end.year, end.month, 1)
    listed = declaration_app.declaration_list(get_app(), clause=clause_id, month=month)
    lines = [line for line in listed.lines if line.month == month]
    if lines and all(line.called for line in lines):
        return f"le dernier mois appelé est {french_month(month)}."
    planned = [line.call_at for line in lines if line.call_at is not None]
    call_at = min(planned) if planned else usual_call_at(month, settings.call_time, settings.zone)
    return (
        f"{french_month(month)} sera le dernier mois demandé, appel prévu le "
        f"{french_date(call_at.astimezone(settings.zone))}."
    )


def _count(outstanding: tuple[Outstanding, ...]) -> int:
    return sum(len(o.months) for o in outstanding)


def _declarations_phrase(count: int, received: str) -> str:
    """« 1 déclaration mensuelle n'a pas été reçue », « 6 … n'ont pas été reçues »."""
    if count == 1:
        return f"1 déclaration mensuelle n'a pas été {received}"
    return f"{count} déclarations mensuelles n'ont pas été {received}s"


def _by_company(outstanding: tuple[Outstanding, ...]) -> list[str]:
    return [f"  - {o.company} : {months_named(o.months)}" for o in outstanding if o.months]


def report_warning(outstanding: tuple[Outstanding, ...]) -> None:
    """The final report recorded while declarations are missing: its total leaves them out."""
    count = _count(outstanding)
    one = count == 1
    its, them, record = ("ses", "la", "l'") if one else ("leurs", "les", "les ")
    say(
        f"Attention : {_declarations_phrase(count, 'reçue')} ; le bilan et le courriel envoyé "
        f"au donneur d'ordre donnent un total sans {its} heures, et nomment "
        f"{'ce mois' if one else 'ces mois'} :",
        style="bold yellow",
    )
    for line in _by_company(outstanding):
        say(line, style="yellow")
    say(
        f"Clôturer la clause arrêtera de {them} demander (rappels annulés, chaque entreprise "
        f"prévenue) : {its} heures ne seront alors comptées nulle part. Tant qu'elle n'est "
        f"pas clôturée, vous pouvez encore {record}enregistrer (clauses "
        "declaration import ou clauses declaration zero), puis enregistrer à nouveau le bilan.",
        style="yellow",
    )


def closure_warning(clause_id: int, outstanding: tuple[Outstanding, ...]) -> None:
    """The clause closed while declarations were still owed: they are no longer asked."""
    count = _count(outstanding)
    say(
        f"Attention : la clause n° {clause_id} est clôturée alors que "
        f"{_declarations_phrase(count, 'reçue')} :",
        style="bold yellow",
    )
    for line in _by_company(outstanding):
        say(line, style="yellow")
    say(released_words(count), style="yellow")


def released_lines(released: ReleasedMonths) -> list[str]:
    """What a finish (or an end corrected earlier) released for one company, then the command
    that cancels each waiting email still asking a released month: the sentence is the one the
    history and the lot's web page show, the command is this interface's way to act on it."""
    return [released_sentence(released)] + [
        f"Pour l'annuler : clauses mail cancel {number} --reason « … »"
        for _, number in released.still_asking
    ]


PARTY_SPEC = "ENTREPRISE[:CORRESPONDANT[:HEURES]]"


def parse_party(spec: str, role: PartyRole, option: str) -> PartyChoice:
    """``COMPANY[:CORRESPONDENT[:HOURS]]``, the company by its N°, name or SIRET, e.g. ``12``,
    ``12:4``, ``12:4:300``, ``Bâti Sud::300`` or ``732 829 320 00074:4``."""
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) > 3 or not parts[0]:
        raise InputRefused(
            f"{option} « {spec} » : {PARTY_SPEC} attendu, l'entreprise par son numéro, son nom "
            "ou son SIRET, le correspondant par son numéro, par exemple 12, 12:4, 12:4:300 ou "
            "« Bâti Sud::300 »."
        )
    numbers: list[int | None] = []
    for part in parts[1:]:
        if part and not (part.isascii() and part.isdigit() and int(part) <= LARGEST):
            raise InputRefused(
                f"{option} « {spec} » : « {part} » n'est pas un nombre entier positif."
            )
        numbers.append(int(part) if part else None)
    numbers += [None] * (2 - len(numbers))
    return PartyChoice(
        company=parts[0],
        role=role,
        correspondent_id=numbers[0],
        hours_share=numbers[1],
        keep_recorded=True,
    )


@clause_group.command("award")
@clause_argument
@click.option(
    "--company",
    required=True,
    metavar="ENTREPRISE",
    help=f"L'entreprise titulaire : {COMPANY_HELP}",
)
@click.option(
    "--correspondent",
    "correspondent_id",
    type=int,
    default=None,
    help="N° de son correspondant (par défaut : son seul correspondant s'il n'y en a qu'un).",
)
@click.option(
    "--hours",
    "holder_hours",
    type=int,
    default=None,
    help="Heures confiées au titulaire (une correction qui l'omet garde celles enregistrées).",
)
@click.option("--start", "start_text", required=True, help="Date de démarrage (jj/mm/aaaa).")
@click.option("--end", "end_text", required=True, help="Date de fin prévue (jj/mm/aaaa).")
@click.option(
    "--co-contractor",
    "co_contractors",
    multiple=True,
    metavar=PARTY_SPEC,
    help="Un cotraitant (option répétable) : l'entreprise par son N°, son nom ou son SIRET.",
)
@click.option(
    "--subcontractor",
    "subcontractors",
    multiple=True,
    metavar=PARTY_SPEC,
    help="Un sous-traitant (option répétable) : l'entreprise par son N°, son nom ou son SIRET.",
)
@click.option(
    "--from",
    "joining_text",
    default=None,
    metavar="MM/AAAA",
    help=(
        "Pendant les travaux : premier mois que déclarent les entreprises ajoutées par cette "
        "correction (par défaut : le mois en cours)."
    ),
)
@click.option(
    "--reason",
    default=None,
    help=(
        "Pourquoi corriger l'attribution (avenant, erreur de saisie…), gardé à l'historique "
        "avec ce qui a changé ; jamais écrit au donneur d'ordre."
    ),
)
@actor_option
@json_option
@handle_errors
def award(
    clause: str,
    company: str,
    correspondent_id: int | None,
    holder_hours: int | None,
    start_text: str,
    end_text: str,
    co_contractors: tuple[str, ...],
    subcontractors: tuple[str, ...],
    joining_text: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Enregistre l'attribution d'une clause (à l'étape « attribution ») ou la corrige, jusqu'à
    la fin des travaux : titulaire, cotraitants, sous-traitants, dates. Une entreprise ajoutée
    pendant les travaux déclare à partir du mois en cours, ou de --from. Une correction redonne
    toutes les entreprises (celle omise est retirée) ; le correspondant ou les heures d'une
    entreprise omis gardent ceux enregistrés. L'historique garde chaque changement (avant →
    après) et le motif donné par --reason.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    start = parse_date_fr(start_text, "--start")
    end = parse_date_fr(end_text, "--end")
    joining_from = None
    if joining_text is not None:
        joining_from = parse_month(joining_text)
        if joining_from is None:
            raise InputRefused(
                f"--from : « {joining_text} » n'est pas un mois (mm/aaaa, par exemple 11/2026)."
            )
    # What a correction leaves out keeps what is recorded (``PartyChoice.keep_recorded``).
    parties = [
        PartyChoice(company, PartyRole.HOLDER, correspondent_id, holder_hours, keep_recorded=True)
    ]
    parties += [parse_party(s, PartyRole.CO_CONTRACTOR, "--co-contractor") for s in co_contractors]
    parties += [parse_party(s, PartyRole.SUBCONTRACTOR, "--subcontractor") for s in subcontractors]
    recorded = clause_app.award_clause(
        get_app(),
        clause,
        parties=tuple(parties),
        start_date=start,
        planned_end_date=end,
        actor=actor,
        joining_from=joining_from,
        reason=reason,
        reason_field="--reason",
    )
    detail = recorded.detail
    motive = " ".join((reason or "").split())
    if not as_json:
        if recorded.result is AwardResult.UNCHANGED:
            # As ``clause company-left`` says it: a reason given for nothing is not kept.
            unkept = f" (motif « {motive} » non enregistré)" if motive else ""
            say(
                f"Attribution de la clause n° {detail.id} déjà enregistrée telle quelle : "
                f"rien n'a été modifié, aucun courriel envoyé{unkept}."
            )
        elif recorded.result is AwardResult.CORRECTED:
            say(f"Attribution de la clause n° {detail.id} corrigée (donneur d'ordre prévenu) :")
            for change in recorded.changes:
                say(f"  - {change.what} : {change.before} → {change.after}")
            if motive:
                say(f"Motif : {motive}")
        else:
            say(f"Attribution de la clause n° {detail.id} enregistrée.")
            if motive:
                say(f"Motif : {motive}")
    show_detail(detail, as_json)


@clause_group.command("report")
@clause_argument
@click.option("--text", default=None, help="Le bilan de l'opération.")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Un fichier texte (UTF-8) contenant le bilan.",
)
@actor_option
@json_option
@handle_errors
def report(
    clause: str, text: str | None, path: Path | None, actor: str | None, as_json: bool
) -> None:
    """Enregistre le bilan de l'opération (à l'étape « suivi et bilan »).

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    if (text is None) == (path is None):
        raise click.UsageError("Donnez le bilan avec --text ou avec --file (l'un des deux).")
    if path is not None:
        text = read_text_file(path)
    assert text is not None
    recorded = clause_app.record_final_report(get_app(), clause, text, actor=actor)
    if as_json:
        print_json(
            {
                "clause": recorded.clause_id,
                "bilan": recorded.at,
                # The declarations not received, whose hours the report leaves out.
                "declarations_non_recues": outstanding_data(recorded.outstanding),
            }
        )
    else:
        say(f"Bilan de la clause n° {recorded.clause_id} enregistré.")
        if recorded.outstanding:
            report_warning(recorded.outstanding)


def read_text_file(path: Path) -> str:
    """UTF-8 first, then Windows-1252 as Word and Excel save it in France."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputRefused(f"{path} : le fichier n'est ni en UTF-8 ni en Windows-1252.")


@clause_group.command("hours")
@clause_argument
@click.argument("hours", type=int, metavar="HEURES")
@click.option(
    "--reason", required=True, help="Raison (avenant, arbitrage…), gardée à l'historique."
)
@actor_option
@json_option
@handle_errors
def impose_hours(clause: str, hours: int, reason: str, actor: str | None, as_json: bool) -> None:
    """Impose un nombre d'heures d'insertion ; le nombre calculé reste à côté.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    changed = clause_app.impose_hours(get_app(), clause, hours, reason=reason, actor=actor)
    if as_json:
        print_json(summary_data(changed))
        return
    computed = changed.hours_computed
    say(
        f"Clause n° {changed.id} : {number(hours)} heures imposées"
        + (f" (calculées : {number(computed)})." if computed is not None else ".")
    )


@clause_group.command("figures")
@clause_argument
@figure_options
@actor_option
@json_option
@handle_errors
def figures_command(
    clause: str,
    amount: str | None,
    labour_share: str | None,
    rate: str | None,
    hourly_cost: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Change les paramètres du calcul (en repérage ou en rédaction) et recalcule les heures ;
    les paramètres non donnés restent inchangés.

    CLAUSE : N° de la clause ou référence du marché et lot, ex. 2026-014/01."""
    figures = parse_figures(amount, labour_share, rate, hourly_cost)
    if figures.empty:
        raise click.UsageError(
            "Donnez au moins un paramètre : --amount, --labour-share, --rate ou --hourly-cost."
        )
    changed = clause_app.change_figures(get_app(), clause, figures, actor=actor)
    calculation = changed.calculation
    if as_json:
        data = summary_data(changed.clause)
        data["calcul"] = calculation_data(calculation) if calculation else None
        print_json(data)
        return
    clause_id = changed.clause.id
    if calculation is None:
        say(
            f"Clause n° {clause_id} : paramètres enregistrés ; calcul incomplet (il faut le "
            "montant, la part de main-d'œuvre, le taux et le coût horaire)."
        )
        return
    say(f"Clause n° {clause_id} : {number(calculation.hours)} heures calculées.")
    print_calculation(calculation)


COMMANDS: list[click.Command] = [clause_group, hours_command]
