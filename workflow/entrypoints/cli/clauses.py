"""``clauses clause ...`` and ``clauses hours``: compute, show, list, award and move clauses.

Every command that changes a clause reads the clock once, runs one transaction and hands the
domain events to ``app.publish`` inside it, so the notices they cause are saved with the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.orm import AwardParty, Clause, Market, Operation
from workflow.domain.hours import HoursCalculation, compute_hours, parse_positive, parse_ratio
from workflow.domain.stages import (
    EVENT_LABELS,
    LABELS,
    ClauseEvent,
    Stage,
    allowed_events,
    parse_event,
    parse_stage,
)
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
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
from workflow.errors import InputRefused
from workflow.services import catalog
from workflow.services import clauses as clause_service
from workflow.services.calendar_changes import calendar_lines
from workflow.services.clauses import PartyInput
from workflow.services.lot_calendars import (
    SOURCE_LABELS,
    ExplainedCalendar,
    RuleSource,
    clause_calendar,
)

F = TypeVar("F", bound=Callable[..., Any])


#: What each history row records, in French: a history tells what happened, so the stage changes
#: read as nouns (« rédaction », « attribution »), not as the verbs the CLI takes.
HISTORY_LABELS: dict[str, str] = {
    "identify": "repérage",
    ClauseEvent.DRAFT.value: "rédaction",
    ClauseEvent.AWARD.value: "attribution",
    "award_recorded": "attribution enregistrée",
    ClauseEvent.START.value: "démarrage",
    ClauseEvent.FINISH.value: "fin d'exécution",
    ClauseEvent.CLOSE.value: "clôture",
    ClauseEvent.ABANDON.value: "abandon",
    ClauseEvent.SUSPEND.value: "suspension",
    ClauseEvent.RESUME.value: "reprise",
    "final_report": "bilan enregistré",
    "hours_override": "heures imposées",
    "parameters": "paramètres du calcul",
    "calendar": "calendrier des déclarations",
    "declaration": "déclaration mensuelle",
    "outcome": "sortie d'un participant",
}


def history_label(event: str) -> str:
    """The French label of a history row; a code added later without its label still reads as
    words (``some_event`` → « some event »), never as an identifier."""
    return HISTORY_LABELS.get(event) or event.replace("_", " ")


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


@dataclass(frozen=True)
class Figures:
    amount: Decimal | None
    labour_share: Decimal | None
    rate: Decimal | None
    hourly_cost: Decimal | None


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
    calculation = compute_hours(
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
    """Clauses : afficher, lister, calculer, attribuer, faire avancer."""


def clause_summary(clause: Clause) -> dict[str, Any]:
    operation = clause.market.operation
    return {
        "id": clause.id,
        "donneur_d_ordre": operation.buyer.name,
        "operation": operation.name,
        "marche": clause.market.reference,
        "lot": clause.lot_number,
        "intitule": clause.lot_title,
        "etape": clause.stage,
        "etape_libelle": LABELS[Stage(clause.stage)],
        "heures_calculees": clause.hours_computed,
        "heures_imposees": clause.hours_override,
        "heures_prevues": clause.hours_target,
        "version": clause.version,
    }


def clause_detail(clause: Clause) -> dict[str, Any]:
    data = clause_summary(clause)
    data.update(
        montant_ht=clause.amount_excl_tax,
        part_main_d_oeuvre=clause.labour_share,
        taux_insertion=clause.insertion_rate,
        cout_horaire=clause.hourly_cost,
        raison_heures_imposees=clause.override_reason,
        demarrage=clause.start_date,
        fin_prevue=clause.planned_end_date,
        fin=clause.end_date,
        bilan=clause.final_report_at,
        entreprises=[
            {
                "entreprise_id": party.company_id,
                "entreprise": party.company.name,
                "role": PARTY_ROLE_LABELS[PartyRole(party.role)],
                "correspondant": party.correspondent.name if party.correspondent else None,
                "email": party.correspondent.email if party.correspondent else None,
                "heures": party.hours_share,
            }
            for party in clause.parties
        ],
        evenements_permis=[EVENT_LABELS[e] for e in allowed_events(Stage(clause.stage))],
        historique=[
            {
                "date": row.at,
                "acteur": row.actor,
                "evenement": row.event,
                "de": row.from_stage,
                "vers": row.to_stage,
                "motif": row.reason,
            }
            for row in clause.history
        ],
    )
    return data


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


def load_clause(session: Session, clause_id: int) -> Clause:
    clause_service.get_clause(session, clause_id)
    return session.scalars(
        select(Clause)
        .where(Clause.id == clause_id)
        .options(
            selectinload(Clause.history),
            selectinload(Clause.parties).selectinload(AwardParty.company),
            selectinload(Clause.parties).selectinload(AwardParty.correspondent),
        )
    ).one()


def print_clause(data: dict[str, Any], calendar: ExplainedCalendar, zone: ZoneInfo) -> None:
    lot = f" lot {data['lot']}" if data["lot"] else ""
    title = escape(f"{data['intitule']} (marché {data['marche']}{lot})")
    say(f"[bold]Clause n° {data['id']}[/] – {title}", markup=True)
    say(f"Donneur d'ordre : {data['donneur_d_ordre']} · Opération : {data['operation']}")
    say(f"Étape : [bold]{data['etape_libelle']}[/] (version {data['version']})", markup=True)
    hours = data["heures_prevues"]
    say(f"Heures d'insertion prévues : {hours_text(hours, 'à calculer')}")
    if data["heures_imposees"] is not None:
        computed = data["heures_calculees"]
        say(
            f"  imposées ({data['raison_heures_imposees']}) ; calculées : "
            f"{hours_text(computed, 'non calculées')}"
        )
    for party in data["entreprises"]:
        share = f" – {hours_text(party['heures'])}" if party["heures"] is not None else ""
        say(
            f"Entreprise {party['role']} : {party['entreprise']}{share}"
            f" – correspondant : {party['correspondant'] or 'à désigner'} {party['email'] or ''}"
        )
    if data["demarrage"]:
        say(
            f"Démarrage : {data['demarrage']:%d/%m/%Y} · fin prévue : "
            f"{data['fin_prevue']:%d/%m/%Y}"
            + (f" · fin : {data['fin']:%d/%m/%Y}" if data["fin"] else "")
        )
    print_calendar(calendar)
    allowed = ", ".join(data["evenements_permis"]) or "aucun"
    say(f"Événements permis : {allowed}")
    print_table(
        "Historique",
        ["Date", "Acteur", "Événement", "De", "Vers", "Motif"],
        [
            [
                f"{h['date'].astimezone(zone):%d/%m/%Y %H:%M}",
                h["acteur"],
                history_label(h["evenement"]),
                LABELS[Stage(h["de"])] if h["de"] else "",
                LABELS[Stage(h["vers"])],
                h["motif"] or "",
            ]
            for h in data["historique"]
        ],
    )


def show_clause(clause_id: int, as_json: bool) -> None:
    """Print a clause after a change, in the same shape as ``clause show``."""
    app = get_app()
    with app.transaction() as session:
        clause = load_clause(session, clause_id)
        data = clause_detail(clause)
        calendar = clause_calendar(clause, app.settings)
    data["calendrier"] = calendar_data(calendar)
    if as_json:
        print_json(data)
    else:
        print_clause(data, calendar, app.settings.zone)


@clause_group.command("show")
@click.argument("clause_id", type=int, metavar="CLAUSE")
@json_option
@handle_errors
def show(clause_id: int, as_json: bool) -> None:
    """Affiche une clause, son calendrier des déclarations (et d'où vient chaque règle : lot,
    donneur d'ordre ou réglage général) et son historique."""
    show_clause(clause_id, as_json)


@clause_group.command("list")
@click.option("--stage", "stage_text", help="N'afficher qu'une étape (ex. execution).")
@click.option("--market", "market_id", type=int, default=None, help="Un seul marché.")
@click.option("--buyer", "buyer_id", type=int, default=None, help="Un seul donneur d'ordre.")
@json_option
@handle_errors
def list_clauses(
    stage_text: str | None, market_id: int | None, buyer_id: int | None, as_json: bool
) -> None:
    """Liste les clauses (une par lot), par étape."""
    app = get_app()
    statement = (
        select(Clause)
        .join(Clause.market)
        .join(Market.operation)
        .options(
            selectinload(Clause.market).selectinload(Market.operation).selectinload(Operation.buyer)
        )
        .order_by(Clause.stage, Clause.id)
    )
    if stage_text:
        statement = statement.where(Clause.stage == parse_stage(stage_text).value)
    if market_id is not None:
        statement = statement.where(Clause.market_id == market_id)
    if buyer_id is not None:
        statement = statement.where(Operation.buyer_id == buyer_id)
    with app.transaction() as session:
        rows = [clause_summary(c) for c in session.scalars(statement)]
    if as_json:
        print_json(rows)
        return
    print_table(
        "Clauses",
        ["N°", "Étape", "Donneur d'ordre", "Marché", "Lot", "Intitulé", "Heures"],
        [
            [
                r["id"],
                r["etape_libelle"],
                r["donneur_d_ordre"],
                r["marche"],
                r["lot"],
                r["intitule"],
                hours_text(r["heures_prevues"]),
            ]
            for r in rows
        ],
    )


# --- changing a clause ------------------------------------------------------------------------


@clause_group.command("advance")
@click.argument("clause_id", type=int, metavar="CLAUSE")
@click.argument("event_name", metavar="EVENEMENT")
@click.option("--reason", default=None, help="Motif inscrit à l'historique.")
@click.option(
    "--end-date", default=None, help="Date de fin d'exécution (jj/mm/aaaa), pour « achever »."
)
@actor_option
@json_option
@handle_errors
def advance(
    clause_id: int,
    event_name: str,
    reason: str | None,
    end_date: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Fait avancer une clause : rédiger, attribuer, démarrer, achever, clôturer, abandonner,
    suspendre, reprendre (accents facultatifs ; les codes anglais draft, award… aussi)."""
    app = get_app()
    event = parse_event(event_name)
    finish = parse_date_fr(end_date, "--end-date") if end_date else None
    now = app.clock()
    with app.transaction() as session:
        advanced = clause_service.advance_clause(
            session,
            clause_id,
            event,
            actor=actor or app.settings.facilitator_name,
            reason=reason,
            now=now,
            publish=app.publish,
            end_date=finish,
        )
    if as_json:
        print_json(
            {"clause": clause_id, "de": advanced.from_stage, "vers": advanced.to_stage, "date": now}
        )
    else:
        say(
            f"Clause n° {clause_id} : {LABELS[advanced.from_stage]} → "
            f"[bold]{LABELS[advanced.to_stage]}[/]",
            markup=True,
        )


def parse_party(spec: str, role: PartyRole, option: str) -> PartyInput:
    """``COMPANY[:CORRESPONDENT[:HOURS]]``, e.g. ``12``, ``12:4``, ``12:4:300`` or ``12::300``."""
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) > 3 or not parts[0].isdigit():
        raise InputRefused(
            f"{option} « {spec} » : ENTREPRISE[:CORRESPONDANT[:HEURES]] attendu, avec des "
            "numéros, par exemple 12, 12:4 ou 12:4:300."
        )
    numbers: list[int | None] = []
    for part in parts[1:]:
        if part and not part.isdigit():
            raise InputRefused(
                f"{option} « {spec} » : « {part} » n'est pas un nombre entier positif."
            )
        numbers.append(int(part) if part else None)
    numbers += [None] * (2 - len(numbers))
    return PartyInput(
        company_id=int(parts[0]),
        role=role,
        correspondent_id=numbers[0],
        hours_share=numbers[1],
    )


def default_correspondent(session: Session, party: PartyInput) -> PartyInput:
    """A company with exactly one correspondent needs no ``--correspondent``."""
    if party.correspondent_id is not None:
        return party
    company = catalog.get_company(session, party.company_id)
    if len(company.correspondents) != 1:
        return party
    return PartyInput(
        company_id=party.company_id,
        role=party.role,
        correspondent_id=company.correspondents[0].id,
        hours_share=party.hours_share,
    )


@clause_group.command("award")
@click.argument("clause_id", type=int, metavar="CLAUSE")
@click.option(
    "--company", "company_id", type=int, required=True, help="N° de l'entreprise titulaire."
)
@click.option(
    "--correspondent",
    "correspondent_id",
    type=int,
    default=None,
    help="N° de son correspondant (par défaut : son seul correspondant s'il n'y en a qu'un).",
)
@click.option(
    "--hours", "holder_hours", type=int, default=None, help="Heures confiées au titulaire."
)
@click.option("--start", "start_text", required=True, help="Date de démarrage (jj/mm/aaaa).")
@click.option("--end", "end_text", required=True, help="Date de fin prévue (jj/mm/aaaa).")
@click.option(
    "--co-contractor",
    "co_contractors",
    multiple=True,
    metavar="ENTREPRISE[:CORRESPONDANT[:HEURES]]",
    help="Un cotraitant (option répétable).",
)
@click.option(
    "--subcontractor",
    "subcontractors",
    multiple=True,
    metavar="ENTREPRISE[:CORRESPONDANT[:HEURES]]",
    help="Un sous-traitant (option répétable).",
)
@actor_option
@json_option
@handle_errors
def award(
    clause_id: int,
    company_id: int,
    correspondent_id: int | None,
    holder_hours: int | None,
    start_text: str,
    end_text: str,
    co_contractors: tuple[str, ...],
    subcontractors: tuple[str, ...],
    actor: str | None,
    as_json: bool,
) -> None:
    """Enregistre l'attribution d'une clause (à l'étape « attribution ») : titulaire,
    cotraitants, sous-traitants, dates."""
    app = get_app()
    start = parse_date_fr(start_text, "--start")
    end = parse_date_fr(end_text, "--end")
    parties = [PartyInput(company_id, PartyRole.HOLDER, correspondent_id, holder_hours)]
    parties += [parse_party(s, PartyRole.CO_CONTRACTOR, "--co-contractor") for s in co_contractors]
    parties += [parse_party(s, PartyRole.SUBCONTRACTOR, "--subcontractor") for s in subcontractors]
    now = app.clock()
    with app.transaction() as session:
        clause_service.record_award(
            session,
            clause_id,
            parties=[default_correspondent(session, p) for p in parties],
            start_date=start,
            planned_end_date=end,
            actor=actor or app.settings.facilitator_name,
            now=now,
            publish=app.publish,
        )
    if not as_json:
        say(f"Attribution de la clause n° {clause_id} enregistrée.")
    show_clause(clause_id, as_json)


@clause_group.command("report")
@click.argument("clause_id", type=int, metavar="CLAUSE")
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
    clause_id: int, text: str | None, path: Path | None, actor: str | None, as_json: bool
) -> None:
    """Enregistre le bilan de l'opération (à l'étape « suivi et bilan »)."""
    if (text is None) == (path is None):
        raise click.UsageError("Donnez le bilan avec --text ou avec --file (l'un des deux).")
    if path is not None:
        text = read_text_file(path)
    assert text is not None
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        clause_service.record_final_report(
            session,
            clause_id,
            text=text,
            actor=actor or app.settings.facilitator_name,
            now=now,
            publish=app.publish,
        )
    if as_json:
        print_json({"clause": clause_id, "bilan": now})
    else:
        say(f"Bilan de la clause n° {clause_id} enregistré.")


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
@click.argument("clause_id", type=int, metavar="CLAUSE")
@click.argument("hours", type=int, metavar="HEURES")
@click.option(
    "--reason", required=True, help="Raison (avenant, arbitrage…), gardée à l'historique."
)
@actor_option
@json_option
@handle_errors
def impose_hours(clause_id: int, hours: int, reason: str, actor: str | None, as_json: bool) -> None:
    """Impose un nombre d'heures d'insertion ; le nombre calculé reste à côté."""
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        clause = clause_service.set_hours_override(
            session,
            clause_id,
            hours,
            reason=reason,
            actor=actor or app.settings.facilitator_name,
            now=now,
        )
        data = clause_summary(clause)
    if as_json:
        print_json(data)
        return
    computed = data["heures_calculees"]
    say(
        f"Clause n° {clause_id} : {number(hours)} heures imposées"
        + (f" (calculées : {number(computed)})." if computed is not None else ".")
    )


@clause_group.command("figures")
@click.argument("clause_id", type=int, metavar="CLAUSE")
@figure_options
@actor_option
@json_option
@handle_errors
def figures_command(
    clause_id: int,
    amount: str | None,
    labour_share: str | None,
    rate: str | None,
    hourly_cost: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Change les paramètres du calcul (en repérage ou en rédaction) et recalcule les heures ;
    les paramètres non donnés restent inchangés."""
    figures = parse_figures(amount, labour_share, rate, hourly_cost)
    if figures == Figures(None, None, None, None):
        raise click.UsageError(
            "Donnez au moins un paramètre : --amount, --labour-share, --rate ou --hourly-cost."
        )
    app = get_app()
    now = app.clock()
    with app.transaction() as session:
        clause, calculation = clause_service.set_parameters(
            session,
            clause_id,
            amount_excl_tax=figures.amount,
            labour_share=figures.labour_share,
            insertion_rate=figures.rate,
            hourly_cost=figures.hourly_cost,
            actor=actor or app.settings.facilitator_name,
            now=now,
        )
        data = clause_summary(clause)
    data["calcul"] = calculation_data(calculation) if calculation else None
    if as_json:
        print_json(data)
        return
    if calculation is None:
        say(
            f"Clause n° {clause_id} : paramètres enregistrés ; calcul incomplet (il faut le "
            "montant, la part de main-d'œuvre, le taux et le coût horaire)."
        )
        return
    say(f"Clause n° {clause_id} : {number(calculation.hours)} heures calculées.")
    print_calculation(calculation)


COMMANDS: list[click.Command] = [clause_group, hours_command]
