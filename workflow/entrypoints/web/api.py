"""The JSON API, ``/api/v1/``: clauses, declarations, the day's tasks and the outbox.

A sub-application of its own, so that it has its own OpenAPI schema (``/api/v1/openapi.json``)
and its own errors: every refusal is JSON ``{"erreur": "…"}`` in French with a 4xx, never a 500.
Callers authenticate with a bearer token (``clauses token create``); a read-only token reads and
never writes (403). What a token writes has its name as the actor. Field names are French, as
in the command line's ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema
from starlette.exceptions import HTTPException

from workflow.app import (
    api_tokens,
    clause_corrections,
    clauses,
    company_departures,
    dashboard,
    declarations,
    mail,
)
from workflow.app.clause_views import ClauseDetail, ClauseSummary
from workflow.app.end_facts import owed_data, released_data
from workflow.app.months_asked_texts import asked_data
from workflow.bootstrap import App
from workflow.domain.stages import EVENT_LABELS, ClauseEvent, Stage, parse_event
from workflow.domain.stages import LABELS as STAGE_LABELS
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.errors import ClausesError, InputRefused, NotFound
from workflow.services.online_declarations import FormProblem, FormRefused, LineForm

T = TypeVar("T")

API_SOURCE = "API"
#: Clauses per page of ``GET /clauses``, by default and at most: a territory holds thousands.
PAGE = 100
MAX_PAGE = 500
#: The day's tasks: the most urgent of each section, as the dashboard shows them; asking for all
#: of a large territory's thousands would write every one of them.
TASKS_PER_SECTION = 30
TASKS_PER_SECTION_MAX = 1000


def _task_action(item: dashboard.DigestItem) -> dict[str, Any]:
    """A task's action as the site does it: its words without any command line, and what a
    program needs to do it or to link to it."""
    web = item.web
    if web is None:
        return {"action": item.action, "type_action": None, "lien": None,
                "clause": item.clause_id, "entreprise": None, "mois": None, "courriel": None}  # fmt: skip
    return {
        "action": web.todo or item.action,
        "type_action": web.kind.value,
        "lien": web.path,
        "clause": item.clause_id if item.clause_id is not None else web.clause_id,
        "entreprise": web.company_id,
        "mois": None if web.month is None else f"{web.month:%Y-%m}",
        "courriel": web.message_id,
    }


def _comma(value: Any) -> Any:
    """``"30,5"`` as ``"30.5"``: hours are written with a comma everywhere else."""
    return value.replace(",", ".") if isinstance(value, str) else value


class ApiError(BaseModel):
    erreur: str = Field(description="Ce qui est refusé, en français.")


class ClauseOut(BaseModel):
    numero: int
    donneur_ordre: str
    operation: str
    marche: str
    lot: str
    intitule: str
    etape: Stage
    etape_libelle: str
    heures_objectif: int | None


class PartyOut(BaseModel):
    entreprise_numero: int
    entreprise: str
    role: str
    correspondant: str | None
    heures_confiees: int | None
    heures_declarees: Decimal


class ClauseDetailOut(ClauseOut):
    debut: date | None
    fin_prevue: date | None
    fin: date | None
    heures_declarees: Decimal
    entreprises: list[PartyOut]
    evenements_possibles: list[ClauseEvent]
    evenements_possibles_libelles: list[str] = Field(
        description="Les mêmes, par leur libellé français (ce que « evenement » prend aussi)."
    )


def _event(value: Any) -> Any:
    """An event by its French label (``achever``, ``démarrer`` or ``demarrer``) or its code."""
    if isinstance(value, str):
        try:
            return parse_event(value)
        except InputRefused:
            return value  # refused by the enum, naming the field
    return value


#: What ``evenement`` takes: each event's French label or its code.
EVENT_WORDS = [EVENT_LABELS[e] for e in ClauseEvent] + [e.value for e in ClauseEvent]


class AdvanceIn(BaseModel):
    evenement: Annotated[
        ClauseEvent,
        BeforeValidator(_event),
        WithJsonSchema(
            {
                "type": "string",
                "enum": EVENT_WORDS,
                "description": (
                    "L'événement, par son libellé français (rédiger, attribuer, démarrer, "
                    "achever, clôturer, abandonner, suspendre, reprendre, résilier ; accents "
                    "facultatifs) ou par son code (draft, award, start, finish, close, abandon, "
                    "suspend, resume, terminate). « résilier » (marché résilié pendant les "
                    "travaux) demande date_fin (la date de résiliation) et motif."
                ),
            }
        ),
    ]
    motif: str | None = Field(default=None, max_length=2000)
    date_fin: date | None = None


class PlannedEndIn(BaseModel):
    fin_prevue: date = Field(description="La nouvelle fin prévue du lot (AAAA-MM-JJ).")
    motif: str = Field(
        max_length=2000, description="La raison (avenant n° …), gardée à l'historique."
    )


class DepartureIn(BaseModel):
    entreprise: int = Field(
        ge=1, le=2_000_000_000, description="Le N° de l'entreprise partie (une du lot)."
    )
    dernier_mois: str = Field(
        pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$",
        description="Son dernier mois à déclarer (AAAA-MM) : le mois où elle a quitté le chantier.",
    )
    motif: str = Field(
        max_length=2000,
        description="Pourquoi elle part (fin de sa part des travaux…), gardé à l'historique.",
    )


class StepToCancelOut(BaseModel):
    etape: str
    courriel: int


class DepartureOut(BaseModel):
    """As ``clauses clause company-left --json``, with what the command says."""

    clause: int
    entreprise_id: int
    entreprise: str
    dernier_mois_avant: date | None
    dernier_mois: date
    modifie: bool = Field(description="Faux si ce dernier mois était déjà enregistré.")
    mois_plus_demandes: list[date] = Field(
        description="Les mois que cet enregistrement ne demande plus (un dernier mois avancé : "
        "ceux d'après le premier départ l'étaient déjà)."
    )
    mois_plus_demandes_en_tout: list[date] = Field(
        default_factory=list, description="Tous les mois après le dernier mois."
    )
    courriels_retires: list[str]
    courriels_ecrits_a_nouveau: list[str]
    courriels_a_annuler: list[StepToCancelOut]
    entreprise_informee: list[str] = Field(
        description="Les adresses où l'entreprise en est informée ; vide : personne n'y a "
        "d'adresse, ou rien n'a changé."
    )
    donneur_ordre_informe_pour: list[date] = Field(
        description="Les mois qu'une alerte au donneur d'ordre avait signalés manquants et qui "
        "ne sont plus attendus : il en est informé par courriel."
    )
    message: str = Field(description="Ce que la commande en dit.")


class AskedOut(BaseModel):
    """Months of one company that a change made owed (a planned end moved later, an end of the
    work recorded after the planned one) and the call that asks for them, as ``lot set-end
    --json`` and ``clause advance … achever --json`` give them (``mois_a_demander``)."""

    entreprise_id: int
    entreprise: str
    mois: list[str] = Field(description="Les mois désormais dus, pas encore demandés (AAAA-MM).")
    appel_prevu: datetime = Field(
        description="Quand le prochain passage les demande (un seul appel pour ces mois)."
    )
    echeance: date = Field(description="La date limite que cet appel leur donnera.")


class PlannedEndOut(BaseModel):
    numero: int
    fin_prevue_avant: date
    fin_prevue: date
    modifiee: bool = Field(description="Faux si la fin prévue était déjà celle-là.")
    le: datetime
    mois_a_demander: list[AskedOut] = Field(
        default=[],
        description="Une fin reportée après des mois déjà passés : ceux qu'elle rend dus, par "
        "entreprise, quand ils seront demandés et pour quand.",
    )


class StillAskingOut(BaseModel):
    etape: str = Field(description="L'étape du courriel : « rappel n° 1 »…")
    courriel: int = Field(description="Le N° du courriel, à annuler s'il ne doit pas partir.")
    lien: str = Field(description="Sa page sur le site, où l'annuler : « /courriels/532 ».")


class ReleasedOut(BaseModel):
    """The months after the end of the work one company is no longer asked for (« achever »),
    as ``clause advance --json`` gives them."""

    entreprise_id: int
    entreprise: str
    mois: list[str] = Field(description="Les mois qui ne sont plus demandés (AAAA-MM).")
    courriels_retires: list[str] = Field(description="Les courriels en attente retirés.")
    courriels_ecrits_a_nouveau: list[str] = Field(
        description="Ceux qui nommaient aussi un mois encore dû, écrits à nouveau sans les mois "
        "« sans »."
    )
    sans: list[str]
    courriels_demandant_encore: list[StillAskingOut] = Field(
        description="Ceux qui n'ont pas pu être écrits à nouveau et demandent encore un de ces "
        "mois : à annuler s'ils ne doivent pas partir."
    )


class OutstandingOut(BaseModel):
    entreprise: str
    mois: list[str] = Field(description="Les mois jamais reçus, « AAAA-MM ».")


class AdvancedOut(BaseModel):
    numero: int
    etape_avant: Stage
    etape: Stage
    le: datetime
    #: With a finish: what the end released, by company (empty otherwise).
    mois_plus_demandes: list[ReleasedOut] = []
    #: With a suspension: what it withdrew of the lot's emails still waiting, by company.
    courriels_retires: list[str] = []
    declarations_non_recues: list[OutstandingOut] = Field(
        default=[],
        description="Avec une clôture : les déclarations jamais reçues, par entreprise, qui ne "
        "sont plus demandées (leurs heures ne sont comptées nulle part ; chaque entreprise "
        "appelée pour l'une d'elles en est prévenue).",
    )
    fin_prevue_depassee: date | None = Field(
        default=None,
        description="Avec une reprise après la fin prévue (fin d'exécution non enregistrée) : "
        "cette fin prévue ; les mois suivants ne sont pas demandés aux entreprises tant qu'elle "
        "n'est pas reportée ou la fin d'exécution enregistrée.",
    )
    mois_a_demander: list[AskedOut] = Field(
        default=[],
        description="Avec un achèvement après la fin prévue : les mois qu'il rend dus, par "
        "entreprise, quand ils seront demandés et pour quand.",
    )


class EndDateIn(BaseModel):
    date_fin: date = Field(description="La date de fin d'exécution exacte du lot (AAAA-MM-JJ).")
    motif: str = Field(
        max_length=2000,
        description="Pourquoi la corriger (erreur de saisie…), gardé à l'historique.",
    )


#: ``date`` as a type where a field is called ``date`` (the command line's key).
Day = date


class OwedMonthOut(BaseModel):
    mois: str = Field(description="Le mois désormais demandé (AAAA-MM).")
    etapes_envoyees: list[str] = Field(description="Les étapes déjà parties pour lui (« call »…).")
    etape: str | None = Field(description="L'étape qui partira ; null : toutes sont déjà parties.")
    date: datetime | None = Field(description="Quand elle partira.")
    echeance: Day | None = Field(description="La date limite donnée à l'entreprise.")
    courriel_retire: int | None = Field(
        description="Le N° du courriel de cette étape annulé à la main avant de partir : les "
        "relances s'arrêtent là pour ce mois, relancez vous-même l'entreprise (un courriel que "
        "le service avait retiré repart, lui, sous une nouvelle clé)."
    )


class OwedOut(BaseModel):
    """The months one company is asked for again (an end corrected to a later day)."""

    entreprise_id: int
    entreprise: str
    mois: list[OwedMonthOut]


class EndDateOut(BaseModel):
    numero: int
    fin_avant: date
    fin: date
    modifiee: bool = Field(description="Faux si la date de fin d'exécution était déjà celle-là.")
    le: datetime
    #: An earlier end: what it released, by company; a later one: what it asks again.
    mois_plus_demandes: list[ReleasedOut] = []
    mois_de_nouveau_demandes: list[OwedOut] = []


class LineIn(BaseModel):
    reference: str = Field(min_length=1, max_length=40)
    heures: Annotated[Decimal, BeforeValidator(_comma)] = Field(
        ge=0, le=250, max_digits=5, decimal_places=2
    )
    # Read as the web form reads them (``online_declarations.parse_form``), not by the schema:
    # a value refused is said in the words of the form and of a file's import, with the
    # value meant (« CDDI » is a contract, not a delivery mode), and a French label is taken
    # as well as the code.
    contrat: str = Field(
        max_length=100,
        json_schema_extra={"enum": [member.value for member in ContractType]},
        description="Le code (ou le libellé français) du type de contrat.",
    )
    modalite: str = Field(
        max_length=100,
        json_schema_extra={"enum": [member.value for member in DeliveryMode]},
        description="Le code (ou le libellé français) de la modalité de réalisation.",
    )
    critere: str | None = Field(
        default=None,
        max_length=100,
        json_schema_extra={"enum": [member.value for member in Criterion]},
        description="Obligatoire pour une personne que le service ne connaît pas.",
    )


#: The form's field names as the JSON body names them: a refusal points at what the client sent.
JSON_FIELDS = {
    "référence": "reference",
    "heures": "heures",
    "type de contrat": "contrat",
    "modalité": "modalite",
    "critère d'éligibilité": "critere",
    "sexe": "sexe",
    "année de naissance": "annee_naissance",
}
#: The web form's words for a declaration without lines, said as the API takes it.
NO_LINE = "«\u00a0lignes\u00a0» est vide : donnez au moins une ligne, ou «\u00a0aucune_heure\u00a0» : true."


def api_problem(problem: FormProblem) -> str:
    """``« lignes.0.heures » : …`` rather than the web page's ``ligne 1, heures : …``."""
    if problem.line is None:
        return NO_LINE if "aucune heure ce mois-ci" in problem.message else problem.message
    where = f"lignes.{problem.line - 1}"
    if problem.field:
        where += "." + JSON_FIELDS.get(problem.field, problem.field)
    return f"«\u00a0{where}\u00a0» : {problem.message}"


class DeclarationIn(BaseModel):
    clause: int = Field(ge=1, le=2_000_000_000)
    entreprise: int = Field(ge=1, le=2_000_000_000)
    mois: str = Field(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$", description="AAAA-MM")
    lignes: list[LineIn] = Field(default_factory=list, max_length=500)
    aucune_heure: bool = Field(
        default=False,
        description="Un mois sans heure d'insertion, sans «\u00a0lignes\u00a0». Sur un mois déjà "
        "enregistré avec des heures, c'est une correction à zéro heure : donnez son «\u00a0motif\u00a0».",
    )
    motif: str | None = Field(
        default=None,
        max_length=2000,
        description="Le motif d'une correction à zéro heure, gardé à l'historique "
        "(«\u00a0remplace 120 h, motif : …\u00a0») : obligatoire avec «\u00a0aucune_heure\u00a0» : "
        "true quand le mois enregistré compte des heures, comme --reason de «\u00a0clauses "
        "declaration zero --replace\u00a0». Sans effet sur un mois sans heure ou pas encore "
        "déclaré ; refusé avec des «\u00a0lignes\u00a0».",
    )


class NamedOutcomeOut(BaseModel):
    participant: str
    type_libelle: str


class DeclarationOut(BaseModel):
    declaration: int
    sorties_non_comptees: list[NamedOutcomeOut] = Field(
        description="Les sorties qu'une correction ne compte plus : la personne n'a plus "
        "d'heures déclarées sur le lot."
    )
    sorties_de_nouveau_comptees: list[NamedOutcomeOut] = Field(
        description="Les sorties de nouveau comptées : des heures de la personne sont de "
        "nouveau déclarées sur le lot."
    )
    sorties_message: str | None = Field(
        description="Ce que la déclaration a changé aux sorties comptées, en une phrase, ou null."
    )


class ExpectedOut(BaseModel):
    clause: int
    entreprise_numero: int
    entreprise: str
    mois: str = Field(description="AAAA-MM, comme à l'envoi d'une déclaration")
    etat: str
    etat_libelle: str
    heures: Decimal | None
    echeance: date | None = Field(
        description="La date limite donnée (ou que donnera l'appel à venir) ; null quand le lot "
        "suspendu la donnera à la reprise (« a_la_reprise »)."
    )
    a_la_reprise: bool = Field(
        description="Le lot est suspendu : ce mois n'a pas encore été demandé, ou il l'a été et "
        "n'est pas en retard, la suspension repoussant sa date limite ; la date (de l'appel, ou "
        "la nouvelle date limite) sera donnée à la reprise du chantier."
    )


class TaskOut(BaseModel):
    rubrique: str
    rubrique_total: int = Field(
        description="Toutes les tâches de la rubrique, dont celles que la limite laisse de côté."
    )
    titre: str
    detail: str
    action: str = Field(description="Ce qu'il faut faire, avec les mots du site (aucune commande).")
    type_action: str | None = Field(
        description=(
            "Ce que le tableau de bord propose : resend (renvoyer le courriel « courriel »), "
            "outbox (journal des courriels), declaration (mois en retard), open_clause (page de "
            "la clause), final_report (formulaire du bilan), eligibility (éligibilités), buyer "
            "(contacts du donneur d'ordre)."
        )
    )
    lien: str | None = Field(
        description=(
            "Où la tâche se fait sur le site, chemin à ajouter à CLAUSES_BASE_URL "
            "(« /clauses/7#bilan-form »)."
        )
    )
    clause: int | None
    entreprise: int | None = Field(
        description=(
            "Pour une déclaration en retard : l'entreprise ; avec « clause » et « mois », "
            "POST /api/v1/declarations {clause, entreprise, mois, aucune_heure: true} enregistre "
            "un mois sans heure."
        )
    )
    mois: str | None = Field(description="AAAA-MM, le plus ancien mois en retard de l'entreprise.")
    courriel: int | None = Field(description="Le courriel à renvoyer (type_action resend).")


class MessageOut(BaseModel):
    numero: int
    type: str
    etat: str
    etat_libelle: str
    destinataires: str
    objet: str
    tentatives: int
    derniere_erreur: str | None
    ecrit_le: datetime
    envoye_le: datetime | None


def _clause(summary: ClauseSummary) -> dict[str, Any]:
    return {
        "numero": summary.id,
        "donneur_ordre": summary.buyer,
        "operation": summary.operation,
        "marche": summary.market,
        "lot": summary.lot_number,
        "intitule": summary.lot_title,
        "etape": summary.stage,
        "etape_libelle": STAGE_LABELS[summary.stage],
        "heures_objectif": summary.hours_target,
    }


def _detail(detail: ClauseDetail) -> dict[str, Any]:
    return {
        **_clause(detail.summary),
        "debut": detail.start_date,
        "fin_prevue": detail.planned_end_date,
        "fin": detail.end_date,
        "heures_declarees": detail.hours_done,
        "entreprises": [
            {
                "entreprise_numero": party.company_id,
                "entreprise": party.company,
                "role": party.role.value,
                "correspondant": party.correspondent,
                "heures_confiees": party.hours_share,
                "heures_declarees": party.hours_done,
            }
            for party in detail.parties
        ],
        "evenements_possibles": list(detail.allowed_events),
        "evenements_possibles_libelles": [EVENT_LABELS[e] for e in detail.allowed_events],
    }


_FRENCH_TYPES = {
    "missing": "obligatoire",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "decimal_parsing": "nombre attendu",
    "decimal_type": "nombre attendu",
    "string_type": "texte attendu",
    "bool_type": "true ou false attendu",
    "bool_parsing": "true ou false attendu",
    "date_parsing": "date AAAA-MM-JJ attendue",
    "date_from_datetime_parsing": "date AAAA-MM-JJ attendue",
    "enum": "valeur hors de la liste",
    "string_pattern_mismatch": "forme refusée",
    "greater_than_equal": "trop petit",
    "less_than_equal": "trop grand",
    "string_too_short": "trop court",
    "string_too_long": "trop long",
    "too_long": "trop d'éléments",
    "list_type": "liste attendue",
    "model_attributes_type": "objet JSON attendu",
    "dict_type": "objet JSON attendu",
    "json_invalid": "JSON invalide",
    "decimal_max_digits": "trop de chiffres",
    "decimal_max_places": "deux décimales au plus",
    "finite_number": "nombre fini attendu",
}


#: Starlette's own refusals, in English in ``detail``: said in French instead.
_HTTP_WORDS = {
    404: "Adresse inconnue de l'API.",
    405: "Méthode non permise à cette adresse (voir /api/v1/openapi.json).",
}


#: Where a field was read (body, query…): the field's own name is what a caller reads.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


#: The forms a field's pattern asks for, as a caller reads them (a regular expression is not).
_FORMS = {"mois": "AAAA-MM attendu, par exemple 2026-10"}


def _limit(kind: str, where: str, problem: Any) -> str:
    """What the refused value should have been, from the rule it broke: « trop grand (250 au
    plus) », « valeur hors de la liste (attendu : 'cdi', 'cdd' ou 'cddi') »."""
    ctx = problem.get("ctx") or {}
    if kind in ("less_than_equal", "less_than") and ("le" in ctx or "lt" in ctx):
        return f" ({ctx.get('le', ctx.get('lt'))} au plus)"
    if kind in ("greater_than_equal", "greater_than") and ("ge" in ctx or "gt" in ctx):
        return f" (au moins {ctx.get('ge', ctx.get('gt'))})"
    if kind in ("string_too_long", "too_long") and "max_length" in ctx:
        return f" ({ctx['max_length']} au plus)"
    if kind in ("string_too_short", "too_short") and "min_length" in ctx:
        return f" (au moins {ctx['min_length']})"
    if where.rsplit(".", 1)[-1] == "evenement":  # the labels first: what a person types
        return f" (attendu : {', '.join(EVENT_WORDS[: len(ClauseEvent)])} ou le code anglais)"
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return f" (attendu : {str(ctx['expected']).replace(' or ', ' ou ')})"
    if kind == "string_pattern_mismatch":
        form = _FORMS.get(where.rsplit(".", 1)[-1])
        return f" ({form})" if form else ""
    return ""


def french_validation(error: RequestValidationError) -> str:
    parts = []
    for problem in error.errors()[:10]:
        kind = str(problem.get("type"))
        what = _FRENCH_TYPES.get(kind, "valeur refusée")
        if kind == "json_invalid":  # its place is a character's position, not a field
            parts.append(f"corps de la requête : {what}")
            continue
        where = ".".join(str(p) for p in problem.get("loc", ()) if p not in _SOURCES)
        parts.append(f"« {where or 'requête'} » : {what}{_limit(kind, where, problem)}")
    return "Requête refusée : " + " ; ".join(parts) + "."


_bearer = HTTPBearer(auto_error=False)


async def _client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> api_tokens.ApiClient:
    app: App = request.app.state.clauses
    token = credentials.credentials if credentials else None
    found = await run_in_threadpool(api_tokens.client_of, app, token)
    if found is None:
        raise HTTPException(401, "Jeton absent, inconnu ou révoqué (« clauses token create »).")
    return found


async def _writer(
    caller: Annotated[api_tokens.ApiClient, Depends(_client)],
) -> api_tokens.ApiClient:
    if caller.read_only:
        raise HTTPException(403, f"Le jeton « {caller.name} » est en lecture seule.")
    return caller


#: Any valid token; a token that may write.
Reader = Annotated[api_tokens.ApiClient, Depends(_client)]
Writer = Annotated[api_tokens.ApiClient, Depends(_writer)]
#: A clause's N° in a path: a positive integer an INTEGER column holds.
ClauseNumber = Annotated[int, Path(ge=1, le=2_000_000_000)]


def create_api(app: App) -> FastAPI:
    api = FastAPI(
        title="Clauses sociales d'insertion – API",
        version="1",
        description="Clauses, déclarations, tâches du jour et courriels. Jeton : « clauses token create ».",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        responses={401: {"model": ApiError}, 403: {"model": ApiError}, 422: {"model": ApiError}},
    )
    api.state.clauses = app

    async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(function, app, *args, **kwargs)

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = _HTTP_WORDS.get(exc.status_code) or (
            exc.detail if isinstance(exc.detail, str) else "Demande refusée."
        )
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"erreur": message}, status_code=exc.status_code, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"erreur": french_validation(exc)}, status_code=422)

    @api.exception_handler(ClausesError)
    async def refused(request: Request, exc: ClausesError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 422 if isinstance(exc, InputRefused) else 409
        return JSONResponse({"erreur": exc.message}, status_code=status)

    @api.get(
        "/clauses",
        response_model=list[ClauseOut],
        summary="Les clauses, par étape dans l'ordre de leur vie (repérage d'abord) puis N°, "
        "une page à la fois",
    )
    async def list_clauses(
        _: Reader,
        etape: Stage | None = None,
        debut: Annotated[int, Query(ge=0, le=10_000_000, description="rang de la première")] = 0,
        nombre: Annotated[int, Query(ge=1, le=MAX_PAGE, description="combien au plus")] = PAGE,
    ) -> list[dict[str, Any]]:
        listed = await call(clauses.list_clauses, stage=etape, offset=debut, limit=nombre)
        return [_clause(s) for s in listed]

    @api.get("/clauses/{numero}", response_model=ClauseDetailOut, summary="Une clause")
    async def show_clause(_: Reader, numero: ClauseNumber) -> dict[str, Any]:
        return _detail(await call(clauses.clause_detail, numero))

    @api.post("/clauses/{numero}/avancer", response_model=AdvancedOut, summary="Changer d'étape")
    async def advance(caller: Writer, numero: ClauseNumber, body: AdvanceIn) -> dict[str, Any]:
        moved = await call(
            clauses.advance_clause, numero, body.evenement, reason=body.motif,
            end_date=body.date_fin, actor=caller.name, end_field="«\u00a0date_fin\u00a0»",
        )  # fmt: skip
        return {
            "numero": moved.clause_id,
            "etape_avant": moved.from_stage,
            "etape": moved.to_stage,
            "le": moved.at,
            # The same facts as the command line's ``--json``; an email still asking a released
            # month with its page on the site, where it is cancelled.
            "mois_plus_demandes": released_data(moved.released, links=True),
            "courriels_retires": list(moved.withdrawn),
            "declarations_non_recues": clauses.outstanding_data(moved.outstanding),
            "fin_prevue_depassee": moved.past_planned_end,
            "mois_a_demander": asked_data(moved.asked),
        }

    @api.post(
        "/clauses/{numero}/fin-execution",
        response_model=EndDateOut,
        summary="Corriger la date de fin d'exécution d'un lot achevé (suivi et bilan)",
    )
    async def end_date(caller: Writer, numero: ClauseNumber, body: EndDateIn) -> dict[str, Any]:
        done = await call(
            clause_corrections.correct_end_date, numero, body.date_fin, reason=body.motif,
            actor=caller.name, field="«\u00a0date_fin\u00a0»", reason_field="«\u00a0motif\u00a0»",
        )  # fmt: skip
        # The same facts as ``clause end-date --json``.
        return {
            "numero": done.clause_id,
            "fin_avant": done.before,
            "fin": done.after,
            "modifiee": done.changed,
            "le": done.at,
            "mois_plus_demandes": released_data(done.released, links=True),
            "mois_de_nouveau_demandes": owed_data(done.owed),
        }

    @api.post(
        "/clauses/{numero}/fin-prevue",
        response_model=PlannedEndOut,
        summary="Changer la fin prévue d'un lot en exécution ou suspendu (avenant)",
    )
    async def planned_end(
        caller: Writer, numero: ClauseNumber, body: PlannedEndIn
    ) -> dict[str, Any]:
        done = await call(
            clauses.set_planned_end, numero, body.fin_prevue, reason=body.motif,
            actor=caller.name, field="«\u00a0fin_prevue\u00a0»", reason_field="«\u00a0motif\u00a0»",
        )  # fmt: skip
        return {
            "numero": done.clause_id,
            "fin_prevue_avant": done.before,
            "fin_prevue": done.after,
            "modifiee": done.changed,
            "le": done.at,
            # The same facts as ``lot set-end --json``.
            "mois_a_demander": asked_data(done.asked),
        }

    @api.post(
        "/clauses/{numero}/depart-entreprise",
        response_model=DepartureOut,
        summary="Enregistrer le départ du chantier d'une entreprise du lot (son dernier mois)",
    )
    async def company_left(
        caller: Writer, numero: ClauseNumber, body: DepartureIn
    ) -> dict[str, Any]:
        year, month = (int(part) for part in body.dernier_mois.split("-"))
        done = await call(
            company_departures.record_departure, numero, body.entreprise, date(year, month, 1),
            reason=body.motif, actor=caller.name, field="«\u00a0dernier_mois\u00a0»",
            reason_field="«\u00a0motif\u00a0»",
        )  # fmt: skip
        said = (
            f"Clause n° {done.clause_id} : {company_departures.departure_sentence(done)} "
            f"{company_departures.told_sentence(done)}"
            if done.changed
            else company_departures.unchanged_sentence(done)
        )
        # The same facts as ``clause company-left --json``.
        return {**company_departures.departure_data(done), "message": said}

    @api.get("/declarations", response_model=list[ExpectedOut], summary="Déclarations attendues")
    async def list_declarations(
        _: Reader,
        clause: Annotated[int | None, Query(ge=1, le=2_000_000_000)] = None,
        entreprise: Annotated[int | None, Query(ge=1, le=2_000_000_000)] = None,
        manquantes: bool = False,
    ) -> list[dict[str, Any]]:
        listed = await call(
            declarations.declaration_list,
            clause=clause,
            company=entreprise,
            missing_only=manquantes,
        )
        return [
            {
                "clause": line.clause_id,
                "entreprise_numero": line.company_id,
                "entreprise": line.company,
                "mois": f"{line.month:%Y-%m}",
                "etat": line.state.value,
                "etat_libelle": declarations.STATE_LABELS[line.state],
                "heures": line.hours,
                # A month its suspended lot will call at the resumption has no date yet, as in
                # ``clauses declaration list --json``.
                "echeance": None if line.due_at_resumption else line.due_on,
                "a_la_reprise": line.due_at_resumption,
            }
            for line in listed.lines
        ]

    @api.post(
        "/declarations", response_model=DeclarationOut, status_code=201, summary="Déclarer un mois"
    )
    async def declare(caller: Writer, body: DeclarationIn) -> dict[str, Any]:
        if body.aucune_heure and body.lignes:
            # The web form lets the box win over lines kept from before; a client sends what it
            # means, and both at once means a mistake somewhere: nothing silently dropped.
            raise InputRefused(
                "Déclaration refusée : «\u00a0aucune_heure\u00a0» : true et des «\u00a0lignes\u00a0» "
                "ensemble ; envoyez l'un ou l'autre."
            )
        if (body.motif or "").strip() and not body.aucune_heure:
            # Lines replace a month as the company's page does, without a motif: one sent would
            # be kept nowhere.
            raise InputRefused(
                "Déclaration refusée : «\u00a0motif\u00a0» ne va qu'avec «\u00a0aucune_heure\u00a0» : "
                "true (une correction à zéro heure) ; des «\u00a0lignes\u00a0» remplacent le mois "
                "sans motif."
            )
        year, month = (int(part) for part in body.mois.split("-"))
        if body.aucune_heure:
            return await declare_zero(caller, body, date(year, month, 1))
        lines = [
            LineForm(
                reference=line.reference,
                hours=f"{line.heures:f}",
                contract=line.contrat,
                mode=line.modalite,
                criterion=line.critere or "",
            )
            for line in body.lignes
        ]
        try:
            declared = await call(
                declarations.declare_lines, clause=body.clause, company=body.entreprise,
                month=date(year, month, 1), lines=lines, zero=body.aucune_heure,
                actor=caller.name, source=API_SOURCE,
            )  # fmt: skip
        except FormRefused as problems:
            raise InputRefused(
                "Déclaration refusée : " + " ; ".join(api_problem(p) for p in problems.problems)
            ) from None
        return {"declaration": declared.declaration_id, **declarations.counts_data(declared.counts)}

    async def declare_zero(
        caller: api_tokens.ApiClient, body: DeclarationIn, month: date
    ) -> dict[str, Any]:
        """A month without hours, as ``clauses declaration zero --replace`` records it: over a
        month with hours, a correction that takes its ``motif`` (refused without it, nothing
        written) and keeps it in the history row. A month the facilitator validated is refused,
        as for lines, inside the write's transaction."""
        declared = await call(
            declarations.declare_zero, clause=body.clause, company=body.entreprise, month=month,
            replace=True, actor=caller.name, source=API_SOURCE, reason=body.motif,
            reason_field="«\u00a0motif\u00a0»", refuse_validated=True,
        )  # fmt: skip
        return {"declaration": declared.declaration_id, **declarations.counts_data(declared.counts)}

    @api.get("/taches", response_model=list[TaskOut], summary="Les tâches du jour")
    async def tasks(
        _: Reader,
        par_rubrique: Annotated[
            int,
            Query(
                ge=1,
                le=TASKS_PER_SECTION_MAX,
                description="Les plus urgentes de chaque rubrique, dans l'ordre du récapitulatif.",
            ),
        ] = TASKS_PER_SECTION,
    ) -> list[dict[str, Any]]:
        day = await call(dashboard.day_tasks, per_section=par_rubrique)
        return [
            {
                "rubrique": section.title,
                "rubrique_total": section.count,
                "titre": item.title,
                "detail": item.detail,
                **_task_action(item),
            }
            for section in day.sections
            for item in section.items
        ]

    @api.get("/courriels", response_model=list[MessageOut], summary="La boîte d'envoi")
    async def outbox(
        _: Reader, etat: Annotated[list[str] | None, Query(max_length=7)] = None
    ) -> list[dict[str, Any]]:
        # Its counts are not returned, so none is made.
        listed = await call(mail.outbox_messages, states=etat or (), limit=200, with_counts=False)
        return [
            {
                "numero": m.id,
                "type": m.kind,
                "etat": m.state,
                "etat_libelle": m.state_label,
                "destinataires": m.recipients,
                "objet": m.subject,
                "tentatives": m.attempts,
                "derniere_erreur": m.last_error,
                "ecrit_le": m.created_at,
                "envoye_le": m.sent_at,
            }
            for m in listed.messages
        ]

    return api
