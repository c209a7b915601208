"""The sample territory: fictional buyers, companies, lots and participants of a Gers-like department.

Everything here is invented; email addresses are under example.org and the SIRET numbers pass the
Luhn check without belonging to anybody. The lots are those of ``lots-excel-fr.csv`` (so that
importing that file after the sample creates nothing new) plus two more lots of the middle school.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from workflow.domain.vocabulary import Criterion, PartyRole, Sex


@dataclass(frozen=True)
class SampleContact:
    name: str
    email: str
    phone: str = ""
    role: str = ""


@dataclass(frozen=True)
class SampleBuyer:
    name: str
    kind: str
    contacts: tuple[SampleContact, ...]


@dataclass(frozen=True)
class SampleCompany:
    name: str
    siret: str
    city: str
    correspondents: tuple[SampleContact, ...]


@dataclass(frozen=True)
class SampleLot:
    buyer: str
    operation: str
    place: str
    market: str
    lot_number: str
    title: str
    amount_excl_tax: Decimal
    labour_share: Decimal
    insertion_rate: Decimal | None
    hourly_cost: Decimal
    planned_notification: date
    imposed_hours: int | None = None


@dataclass(frozen=True)
class SampleParticipant:
    reference: str
    criterion: Criterion
    sex: Sex
    birth_year: int
    proof: str
    validated_on: date


@dataclass(frozen=True)
class SampleParty:
    """A co-contractor or subcontractor next to the holder."""

    siret: str
    role: PartyRole
    correspondent_email: str | None = None
    hours_share: int | None = None


@dataclass(frozen=True)
class SampleAward:
    """Who wins a lot of the sample: what ``services.clauses.record_award`` needs, by natural keys."""

    market: str
    lot_number: str
    holder_siret: str
    correspondent_email: str
    start_date: date
    planned_end_date: date
    holder_hours_share: int | None = None
    others: tuple[SampleParty, ...] = ()


DEPARTEMENT = "Département de l'Exemple"
AGGLOMERATION = "Communauté d'agglomération du Val d'Arrats"
COMMUNE = "Commune de Lasbordes-sur-Gimone"
COLLEGE = "Construction du collège de Saint-Arrats"

BUYERS: tuple[SampleBuyer, ...] = (
    SampleBuyer(
        DEPARTEMENT,
        "Département",
        (
            SampleContact(
                "Hélène Duprat",
                "helene.duprat@example.org",
                "05 62 00 10 01",
                "Direction des bâtiments départementaux",
            ),
        ),
    ),
    SampleBuyer(
        AGGLOMERATION,
        "Communauté d'agglomération",
        (
            SampleContact(
                "Julien Sarrade",
                "julien.sarrade@example.org",
                "05 62 00 20 02",
                "Service de la commande publique",
            ),
        ),
    ),
    SampleBuyer(
        COMMUNE,
        "Commune",
        (
            SampleContact(
                "Marie Castex", "marie.castex@example.org", "05 62 00 30 03", "Secrétaire de mairie"
            ),
        ),
    ),
)

BATIMENTS_GASCONS = "41234567800012"
CHARPENTES_ARRATS = "44113478900011"
GIMONE_SECOND_OEUVRE = "52098761300012"
PROPRETE_VAL = "38765432100018"
TP_SAVES = "79123456700018"
GASCOGNE_INSERTION = "83345678900019"

COMPANIES: tuple[SampleCompany, ...] = (
    SampleCompany(
        "Bâtiments Gascons SARL",
        BATIMENTS_GASCONS,
        "Auch",
        (SampleContact("Sophie Lacoste", "sophie.lacoste@example.org", "05 62 01 11 11"),),
    ),
    SampleCompany(
        "Charpentes de l'Arrats",
        CHARPENTES_ARRATS,
        "Mauvezin",
        (SampleContact("Thomas Dubarry", "thomas.dubarry@example.org", "05 62 02 22 22"),),
    ),
    SampleCompany(
        "Gimone Second Œuvre SAS",
        GIMONE_SECOND_OEUVRE,
        "Gimont",
        (SampleContact("Nadia Benali", "nadia.benali@example.org", "05 62 03 33 33"),),
    ),
    SampleCompany(
        "Propreté du Val d'Arrats",
        PROPRETE_VAL,
        "L'Isle-Jourdain",
        (SampleContact("Claire Fourcade", "claire.fourcade@example.org", "05 62 04 44 44"),),
    ),
    SampleCompany(
        "Travaux Publics du Savès",
        TP_SAVES,
        "Samatan",
        (SampleContact("Marc Soulé", "marc.soule@example.org", "05 62 05 55 55"),),
    ),
    SampleCompany(
        "Gascogne Insertion Bâtiment (EI)",
        GASCOGNE_INSERTION,
        "Auch",
        (SampleContact("Karim Haddad", "karim.haddad@example.org", "05 62 06 66 66"),),
    ),
)


def _lot(
    number: str, title: str, amount: str, share: str, rate: str, cost: str = "30"
) -> SampleLot:
    return SampleLot(
        buyer=DEPARTEMENT,
        operation=COLLEGE,
        place="Saint-Arrats",
        market="2026-014",
        lot_number=number,
        title=title,
        amount_excl_tax=Decimal(amount),
        labour_share=Decimal(share),
        insertion_rate=Decimal(rate),
        hourly_cost=Decimal(cost),
        planned_notification=date(2026, 3, 15),
    )


LOTS: tuple[SampleLot, ...] = (
    _lot("01", "Gros œuvre – maçonnerie", "3780000", "0.5", "0.075"),  # 4 725 h
    _lot("02", "Charpente – couverture", "640000", "0.4", "0.05"),  # 426 h
    _lot("03", "Menuiseries extérieures", "520000", "0.35", "0.05"),  # 303 h
    _lot("05", "Peinture intérieure", "310000", "0.7", "0.1", "28.5"),  # 761 h
    _lot("07", "Électricité courants forts", "455000", "0.45", "0.05"),  # 341 h
    _lot("09", "VRD – aménagements extérieurs", "410000", "0.4", "0.07"),  # 382 h
    SampleLot(
        buyer=AGGLOMERATION,
        operation="Entretien des locaux communautaires",
        place="Val d'Arrats",
        market="2026-AC-03",
        lot_number="",
        title="Nettoyage des bâtiments",
        amount_excl_tax=Decimal("180000"),
        labour_share=Decimal("0.8"),
        insertion_rate=None,
        hourly_cost=Decimal("20"),
        planned_notification=date(2026, 2, 1),
        imposed_hours=1200,
    ),
    SampleLot(
        buyer=COMMUNE,
        operation="Voirie communale 2026",
        place="Lasbordes-sur-Gimone",
        market="2026-V1",
        lot_number="",
        title="Réfection de voirie",
        amount_excl_tax=Decimal("95000"),
        labour_share=Decimal("0.3"),
        insertion_rate=Decimal("0.05"),
        hourly_cost=Decimal("30"),
        planned_notification=date(2026, 4, 10),
    ),  # 47 h: below the usual threshold, kept to show the warning
)

PARTICIPANTS: tuple[SampleParticipant, ...] = (
    SampleParticipant(
        "P-0007",
        Criterion.LONG_TERM_JOBSEEKER,
        Sex.MALE,
        1979,
        "attestation France Travail",
        date(2026, 3, 20),
    ),
    SampleParticipant(
        "P-0012", Criterion.MINIMUM_INCOME, Sex.FEMALE, 1988, "attestation CAF", date(2026, 4, 2)
    ),
    SampleParticipant(
        "P-0031",
        Criterion.YOUNG_LOW_QUALIFIED,
        Sex.MALE,
        2005,
        "fiche de liaison Mission locale",
        date(2026, 4, 9),
    ),
    SampleParticipant(
        "P-0040",
        Criterion.DISABLED_WORKER,
        Sex.FEMALE,
        1972,
        "notification RQTH (MDPH)",
        date(2026, 4, 15),
    ),
    SampleParticipant(
        "P-0052",
        Criterion.QPV_RESIDENT,
        Sex.FEMALE,
        1996,
        "justificatif de domicile en QPV",
        date(2026, 5, 6),
    ),
    SampleParticipant(
        "P-0063",
        Criterion.JOBSEEKER_OVER_50,
        Sex.MALE,
        1967,
        "attestation France Travail",
        date(2026, 5, 12),
    ),
)

#: Who wins which lot. The sample leaves every clause in identification: the demo advances
#: them, records these awards with ``record_award`` and starts them.
SAMPLE_AWARDS: tuple[SampleAward, ...] = (
    SampleAward(
        market="2026-014",
        lot_number="01",
        holder_siret=BATIMENTS_GASCONS,
        correspondent_email="sophie.lacoste@example.org",
        start_date=date(2026, 4, 6),
        planned_end_date=date(2027, 8, 31),
        holder_hours_share=3925,
        others=(
            SampleParty(
                GASCOGNE_INSERTION,
                PartyRole.SUBCONTRACTOR,
                correspondent_email="karim.haddad@example.org",
                hours_share=800,
            ),
        ),
    ),
    SampleAward(
        market="2026-014",
        lot_number="02",
        holder_siret=CHARPENTES_ARRATS,
        correspondent_email="thomas.dubarry@example.org",
        start_date=date(2026, 6, 1),
        planned_end_date=date(2027, 3, 31),
    ),
    SampleAward(
        market="2026-014",
        lot_number="05",
        holder_siret=GIMONE_SECOND_OEUVRE,
        correspondent_email="nadia.benali@example.org",
        start_date=date(2026, 9, 1),
        planned_end_date=date(2027, 6, 30),
    ),
    SampleAward(
        market="2026-014",
        lot_number="07",
        holder_siret=GIMONE_SECOND_OEUVRE,
        correspondent_email="nadia.benali@example.org",
        start_date=date(2026, 9, 1),
        planned_end_date=date(2027, 5, 31),
    ),
    SampleAward(
        market="2026-AC-03",
        lot_number="",
        holder_siret=PROPRETE_VAL,
        correspondent_email="claire.fourcade@example.org",
        start_date=date(2026, 3, 2),
        planned_end_date=date(2027, 2, 26),
    ),
    SampleAward(
        market="2026-V1",
        lot_number="",
        holder_siret=TP_SAVES,
        correspondent_email="marc.soule@example.org",
        start_date=date(2026, 5, 4),
        planned_end_date=date(2026, 7, 31),
    ),
)
