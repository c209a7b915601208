"""The territory's reference data: buyers and their contacts, operations, markets, lots, companies
and their correspondents.

Each function runs in the caller's transaction, checks its input first and refuses with a French
message naming the object and what is accepted, so a refusal writes nothing. Lots are clauses:
they are created through ``services.clauses.create_clause`` so the history row and the
``ClauseIdentified`` event are never forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflow.adapters.orm import (
    Buyer,
    BuyerContact,
    Clause,
    Company,
    Correspondent,
    Market,
    Operation,
)
from workflow.domain.events import CorrespondentAdded, require_aware
from workflow.domain.vocabulary import NoticePreference, normalise
from workflow.errors import SEARCH_HER, SEARCH_HIM, InputRefused, NotFound, list_hint
from workflow.services.clauses import ClauseParameters, Publish, create_clause
from workflow.services.lot_calendars import (
    SOURCE_LABELS,
    ExplainedCalendar,
    Overrides,
    explain_calendar,
)
from workflow.settings import Settings, parse_offsets

NOTICE_PREFERENCE_LABELS: dict[NoticePreference, str] = {
    NoticePreference.EACH_MILESTONE: "un avis à chaque étape",
    NoticePreference.MONTHLY_ONLY: "la synthèse mensuelle seulement",
}

_NOTICE_ALIASES: dict[str, NoticePreference] = {
    "each_milestone": NoticePreference.EACH_MILESTONE,
    "each-milestone": NoticePreference.EACH_MILESTONE,
    "chaque etape": NoticePreference.EACH_MILESTONE,
    "chaque-etape": NoticePreference.EACH_MILESTONE,
    "etape": NoticePreference.EACH_MILESTONE,
    "monthly_only": NoticePreference.MONTHLY_ONLY,
    "monthly-only": NoticePreference.MONTHLY_ONLY,
    "mensuel": NoticePreference.MONTHLY_ONLY,
    "mensuelle": NoticePreference.MONTHLY_ONLY,
}

_EMAIL = re.compile(r'^(?=[!-~]+$)[^@<>,;:"()\[\]\\]+@[^@<>,;:"()\[\]\\]+\.[^@<>,;:"()\[\]\\]+$')


# --- checking input -------------------------------------------------------------------------


def clean_text(value: str | None, field: str, *, max_length: int, required: bool = True) -> str:
    """Strip and bound a free text; the database would otherwise refuse it (PostgreSQL) or not
    (SQLite), and the two backends must behave alike.

    A control character (escape, NUL, backspace…) or a lone surrogate is refused with the field's
    name, before line breaks and tabs are folded: ``str.split`` would take some of them (U+001C
    to U+001F, U+0085) for spaces and keep the text as if it had been typed."""
    from workflow.domain.characters import forbidden_character, shown

    problem = forbidden_character(value or "")
    if problem:
        raise InputRefused(f"{field} : «\u00a0{shown(value or '')}\u00a0» : {problem}.")
    text = " ".join((value or "").split())
    if required and not text:
        raise InputRefused(f"{field} : une valeur est nécessaire.")
    if len(text) > max_length:
        raise InputRefused(f"{field} : {len(text)} caractères, c'est trop ({max_length} au plus).")
    return text


def check_email(value: str, field: str = "Adresse e-mail") -> str:
    email = value.strip()
    if not email:
        # As an empty name is told: the address was left out, not mistyped.
        raise InputRefused(f"{field} : une valeur est nécessaire (exemple : nom@example.org).")
    if not _EMAIL.match(email) or len(email) > 254:
        raise InputRefused(
            f"{field} : « {value} » n'est pas une adresse e-mail (exemple : nom@example.org)."
        )
    return email


#: A telephone number as people write it: figures, spaces, dots, dashes, brackets, a leading
#: « + », and an extension (« poste 12 ») at the end.
_PHONE = re.compile(r"\+?[0-9 .\-()/]+(?:\s*(?:poste|p\.|ext\.?)\s*[0-9]{1,6})?", re.IGNORECASE)
_EXTENSION = re.compile(r"(?:poste|p\.|ext\.?)\s*[0-9]{1,6}$", re.IGNORECASE)


def check_phone(value: str | None, field: str) -> str:
    """A telephone number, or "" when none is given: it is what the facilitator or the digest
    reads to call someone, so a word or an address typed there is refused with the field named."""
    text = clean_text(value, field, max_length=40, required=False)
    if not text:
        return text
    digits = sum(c.isdigit() for c in _EXTENSION.sub("", text))
    if not _PHONE.fullmatch(text) or not 6 <= digits <= 15:
        raise InputRefused(
            f"{field} : « {text} » n'est pas un numéro de téléphone "
            "(exemple : 05 62 00 00 00 ou +33 5 62 00 00 00)."
        )
    return text


def parse_notice_preference(text: str | NoticePreference) -> NoticePreference:
    if isinstance(text, NoticePreference):
        return text
    found = _NOTICE_ALIASES.get(normalise(text))
    if found is None:
        raise InputRefused(
            f"Préférence d'avis « {text} » inconnue. Valeurs possibles : chaque-etape "
            "(un avis à chaque étape) ou mensuel (la synthèse mensuelle seulement)."
        )
    return found


def parse_siret(text: str) -> str:
    """Fourteen digits (spaces allowed when typed) whose Luhn key is right.

    La Poste's establishments share SIREN 356 000 000 and cannot all pass Luhn: INSEE checks
    them with "sum of the digits is a multiple of 5" instead.
    """
    digits = re.sub(r"[\s\u00a0\u202f.]", "", text)
    if not digits.isdigit() or len(digits) != 14:
        raise InputRefused(
            f"SIRET « {text} » : 14 chiffres attendus (espaces permis), par exemple "
            "732 829 320 00074."
        )
    if luhn_valid(digits):
        return digits
    if digits.startswith("356000000") and sum(int(d) for d in digits) % 5 == 0:
        return digits
    raise InputRefused(
        f"SIRET « {text} » : la clé de contrôle ne correspond pas ; vérifiez qu'aucun chiffre "
        "n'a été mal recopié."
    )


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def check_due_day(day: int) -> int:
    if not 1 <= day <= 28:
        raise InputRefused(f"Jour d'échéance des déclarations : {day} doit être entre 1 et 28.")
    return day


def check_offsets(text: str) -> str:
    """``"3, 7"`` -> ``"3,7"``: working days after the due date, rising, 60 at most."""
    try:
        parsed = parse_offsets(text)
    except ValueError:
        raise InputRefused(
            f"Jours de rappel « {text} » : jours ouvrés croissants et positifs après l'échéance "
            "attendus, par exemple 3,7."
        ) from None
    if parsed[-1] > 60:
        raise InputRefused(f"Jours de rappel « {text} » : 60 jours ouvrés au plus.")
    return ",".join(str(o) for o in parsed)


def check_escalation(offset: int) -> int:
    if not 1 <= offset <= 60:
        raise InputRefused(
            f"Délai de signalement au donneur d'ordre : {offset} doit être entre 1 et 60 jours "
            "ouvrés."
        )
    return offset


def offsets_text(offsets: Sequence[int]) -> str:
    return ", ".join(f"J+{o}" for o in offsets)


def refuse_dropped_reminders(calendar: ExplainedCalendar, who: str, hint: str = "") -> None:
    """A reminder on or after the escalation day would never go out: say so instead."""
    dropped = calendar.dropped_reminders
    if not dropped:
        return
    rules = calendar.rules
    plural = len(dropped) > 1
    reminders = (
        f"{'les rappels' if plural else 'le rappel'} à {offsets_text(dropped)} "
        f"({SOURCE_LABELS[calendar.reminders_from]})"
    )
    raise InputRefused(
        f"{who} : {reminders} ne {'viendraient' if plural else 'viendrait'} pas avant le "
        f"signalement au donneur d'ordre à J+{rules.escalation_offset} "
        f"({SOURCE_LABELS[calendar.escalation_from]}), {'ils ne partiraient' if plural else 'il ne partirait'} "
        "jamais. Choisissez un signalement plus tardif (--escalation-offset) ou des rappels plus "
        f"tôt (--reminder-offsets){hint}."
    )


class Reset(Enum):
    """Clear an override: the level above (buyer, then settings) applies again."""

    DEFAULT = "défaut"


DEFAULT = Reset.DEFAULT
_DEFAULT_WORDS = frozenset({"defaut", "default", "par defaut", "par-defaut"})


def is_default_word(text: str) -> bool:
    """``défaut``, ``defaut``, ``default`` or ``par défaut``: how a person asks for the default."""
    return normalise(text) in _DEFAULT_WORDS


@dataclass(frozen=True)
class CalendarChange:
    """What to set in the calendar of one buyer or lot, at creation (``add_buyer``,
    ``add_lot``) or later (``calendar_changes``): None keeps a rule as it is (unset at
    creation), ``DEFAULT`` clears its override."""

    due_day: int | Reset | None = None
    reminder_offsets: str | Reset | None = None
    escalation_offset: int | Reset | None = None

    @classmethod
    def reset(cls) -> CalendarChange:
        return cls(DEFAULT, DEFAULT, DEFAULT)

    @property
    def empty(self) -> bool:
        return self == CalendarChange()

    def applied(self, current: Overrides) -> Overrides:
        """The override columns after the change, each new value checked."""
        day, offsets, escalation = current
        if isinstance(self.due_day, int):
            day = check_due_day(self.due_day)
        elif self.due_day is DEFAULT:
            day = None
        if isinstance(self.reminder_offsets, str):
            offsets = check_offsets(self.reminder_offsets)
        elif self.reminder_offsets is DEFAULT:
            offsets = None
        if isinstance(self.escalation_offset, int):
            escalation = check_escalation(self.escalation_offset)
        elif self.escalation_offset is DEFAULT:
            escalation = None
        return Overrides(day, offsets, escalation)


# --- buyers -----------------------------------------------------------------------------------


def get_buyer(session: Session, buyer_id: int) -> Buyer:
    buyer = session.get(Buyer, buyer_id)
    if buyer is None:
        raise NotFound(
            f"Aucun donneur d'ordre n° {buyer_id}.", hint=list_hint("buyer list", SEARCH_HIM)
        )
    return buyer


def add_buyer(
    session: Session,
    *,
    name: str,
    kind: str = "",
    notice_preference: str | NoticePreference = NoticePreference.EACH_MILESTONE,
    calendar: CalendarChange | None = None,
    now: datetime,
    settings: Settings,
) -> Buyer:
    """A new buyer; a calendar whose reminders would never go out (the escalation comes first
    once the settings fill the gaps) is refused."""
    require_aware(now)
    name = clean_text(name, "Nom du donneur d'ordre", max_length=200)
    kind = clean_text(kind, "Type de donneur d'ordre", max_length=60, required=False)
    preference = parse_notice_preference(notice_preference)
    rules = (calendar or CalendarChange()).applied(Overrides())
    refuse_dropped_reminders(
        explain_calendar(settings, buyer=rules), f"Le donneur d'ordre « {name} »"
    )
    existing = session.scalar(select(Buyer).where(Buyer.name == name))
    if existing is not None:
        raise InputRefused(f"Le donneur d'ordre « {name} » existe déjà (n° {existing.id}).")
    buyer = Buyer(name=name, kind=kind, notice_preference=preference.value, created_at=now)
    rules.write_to(buyer)
    session.add(buyer)
    session.flush()
    return buyer


def list_buyers(session: Session) -> Sequence[Buyer]:
    return session.scalars(
        select(Buyer).options(selectinload(Buyer.contacts)).order_by(Buyer.name, Buyer.id)
    ).all()


def add_buyer_contact(
    session: Session,
    buyer_id: int,
    *,
    name: str,
    email: str,
    phone: str = "",
    role: str = "",
) -> BuyerContact:
    buyer = get_buyer(session, buyer_id)
    contact = BuyerContact(
        buyer=buyer,
        name=clean_text(name, "Nom du contact", max_length=200),
        email=check_email(email, "E-mail du contact"),
        phone=check_phone(phone, "Téléphone du contact"),
        role=clean_text(role, "Fonction du contact", max_length=100, required=False),
    )
    session.add(contact)
    session.flush()
    return contact


# --- operations and markets -------------------------------------------------------------------


def get_operation(session: Session, operation_id: int) -> Operation:
    operation = session.get(Operation, operation_id)
    if operation is None:
        raise NotFound(
            f"Aucune opération n° {operation_id}.", hint=list_hint("operation list", SEARCH_HER)
        )
    return operation


def add_operation(
    session: Session, buyer_id: int, *, name: str, place: str = "", now: datetime
) -> Operation:
    require_aware(now)
    buyer = get_buyer(session, buyer_id)
    name = clean_text(name, "Nom de l'opération", max_length=200)
    place = clean_text(place, "Lieu de l'opération", max_length=200, required=False)
    existing = session.scalar(
        select(Operation).where(Operation.buyer_id == buyer.id, Operation.name == name)
    )
    if existing is not None:
        raise InputRefused(
            f"L'opération « {name} » existe déjà chez {buyer.name} (n° {existing.id})."
        )
    operation = Operation(buyer=buyer, name=name, place=place, created_at=now)
    session.add(operation)
    session.flush()
    return operation


def list_operations(session: Session, buyer_id: int | None = None) -> Sequence[Operation]:
    statement = (
        select(Operation)
        .options(selectinload(Operation.buyer), selectinload(Operation.markets))
        .order_by(Operation.id)
    )
    if buyer_id is not None:
        get_buyer(session, buyer_id)
        statement = statement.where(Operation.buyer_id == buyer_id)
    return session.scalars(statement).all()


def get_market(session: Session, market_id: int) -> Market:
    market = session.get(Market, market_id)
    if market is None:
        raise NotFound(f"Aucun marché n° {market_id}.", hint=list_hint("market list", SEARCH_HIM))
    return market


def add_market(session: Session, operation_id: int, *, reference: str, title: str = "") -> Market:
    operation = get_operation(session, operation_id)
    reference = clean_text(reference, "Référence du marché", max_length=60)
    title = clean_text(title, "Intitulé du marché", max_length=200, required=False)
    existing = session.scalar(
        select(Market).where(Market.operation_id == operation.id, Market.reference == reference)
    )
    if existing is not None:
        raise InputRefused(
            f"Le marché « {reference} » existe déjà dans l'opération « {operation.name} » "
            f"(n° {existing.id})."
        )
    market = Market(operation=operation, reference=reference, title=title)
    session.add(market)
    session.flush()
    return market


def list_markets(session: Session, operation_id: int | None = None) -> Sequence[Market]:
    statement = (
        select(Market)
        .options(
            selectinload(Market.operation).selectinload(Operation.buyer),
            selectinload(Market.clauses),
        )
        .order_by(Market.id)
    )
    if operation_id is not None:
        get_operation(session, operation_id)
        statement = statement.where(Market.operation_id == operation_id)
    return session.scalars(statement).all()


def add_lot(
    session: Session,
    market_id: int,
    *,
    lot_number: str,
    lot_title: str,
    params: ClauseParameters,
    actor: str,
    now: datetime,
    publish: Publish,
    trade: str = "",
    planned_notification: date | None = None,
    calendar: CalendarChange | None = None,
    settings: Settings,
) -> Clause:
    """A lot of a market with its clause, at the identification stage; a calendar whose
    reminders would never go out (with the buyer's rules) is refused."""
    market = get_market(session, market_id)
    lot_number = clean_text(lot_number, "Numéro de lot", max_length=20, required=False)
    lot_title = clean_text(lot_title, "Intitulé du lot", max_length=200)
    trade = clean_text(trade, "Corps d'état", max_length=100, required=False)
    rules = (calendar or CalendarChange()).applied(Overrides())
    refuse_dropped_reminders(
        explain_calendar(settings, buyer=Overrides.of(market.operation.buyer), lot=rules),
        f"Le lot « {lot_title} »",
    )
    existing = session.scalar(
        select(Clause).where(Clause.market_id == market.id, Clause.lot_number == lot_number)
    )
    if existing is not None:
        which = f"Le lot {lot_number}" if lot_number else "Le lot unique"
        raise InputRefused(
            f"{which} du marché « {market.reference} » existe déjà (clause n° {existing.id})."
        )
    clause = create_clause(
        session,
        market,
        lot_number=lot_number,
        lot_title=lot_title,
        params=params,
        actor=actor,
        now=now,
        publish=publish,
        planned_notification=planned_notification,
        trade=trade,
    )
    rules.write_to(clause)
    session.flush()
    return clause


# --- companies --------------------------------------------------------------------------------


def get_company(session: Session, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound(
            f"Aucune entreprise n° {company_id}.", hint=list_hint("company list", SEARCH_HER)
        )
    return company


def add_company(
    session: Session, *, name: str, siret: str | None = None, city: str = "", now: datetime
) -> Company:
    require_aware(now)
    name = clean_text(name, "Nom de l'entreprise", max_length=200)
    city = clean_text(city, "Ville de l'entreprise", max_length=100, required=False)
    number = parse_siret(siret) if siret and siret.strip() else None
    if number is not None:
        existing = session.scalar(select(Company).where(Company.siret == number))
        if existing is not None:
            raise InputRefused(
                f"Le SIRET {number} est déjà celui de l'entreprise « {existing.name} » "
                f"(n° {existing.id})."
            )
    company = Company(name=name, siret=number, city=city, created_at=now)
    session.add(company)
    session.flush()
    return company


def list_companies(session: Session) -> Sequence[Company]:
    return session.scalars(
        select(Company)
        .options(selectinload(Company.correspondents))
        .order_by(Company.name, Company.id)
    ).all()


def add_correspondent(
    session: Session,
    company_id: int,
    *,
    name: str,
    email: str,
    phone: str = "",
    now: datetime,
    actor: str,
    publish: Publish,
) -> Correspondent:
    """A correspondent for the company; published (``CorrespondentAdded``) so that its parties
    waiting for someone to write to are armed in this transaction."""
    company = get_company(session, company_id)
    correspondent = Correspondent(
        company=company,
        name=clean_text(name, "Nom du correspondant", max_length=200),
        email=check_email(email, "E-mail du correspondant"),
        phone=check_phone(phone, "Téléphone du correspondant"),
    )
    session.add(correspondent)
    session.flush()
    publish(
        session,
        CorrespondentAdded(
            company_id=company.id, correspondent_id=correspondent.id, at=now, actor=actor
        ),
    )
    return correspondent
