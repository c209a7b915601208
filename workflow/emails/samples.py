"""The sample territory every preview is written for: a middle school's structural work lot,
4 725 h, two companies; fictional, every address at example.org."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from workflow.emails.envelope import Recipient
from workflow.emails.lots import Lot, Party

LOT = Lot(
    id=42,
    buyer="Département de l'Exemple",
    operation="Construction du collège des Tilleuls",
    place="Val-d'Exemple",
    market="2025-014",
    market_title="Travaux du collège",
    lot_number="3",
    lot_title="Gros œuvre",
    trade="Maçonnerie",
    stage="execution",
    amount_excl_tax=Decimal("3780000"),
    labour_share=Decimal("0.5"),
    insertion_rate=Decimal("0.075"),
    hourly_cost=Decimal("30"),
    hours_computed=4725,
    planned_notification=date(2026, 2, 1),
    start_date=date(2026, 3, 2),
    planned_end_date=date(2027, 6, 30),
    end_date=date(2027, 6, 25),
    final_report=(
        "Chantier exemplaire : l'entreprise titulaire a recruté localement dès le "
        "démarrage, avec l'appui de la Mission locale et d'une ETTI du territoire."
    ),
)
HOLDER = Party(
    company_id=1,
    company="Bâtiments du Sud-Ouest",
    city="Val-d'Exemple",
    siret=None,
    role="holder",
    hours_share=3500,
    correspondent="Paul Lambert",
)
PARTNER = Party(
    company_id=2,
    company="Menuiseries de l'Exemple",
    city="Pont-d'Exemple",
    siret=None,
    role="co_contractor",
    hours_share=1225,
    correspondent="Inès Moreau",
)
PARTIES = (HOLDER, PARTNER)
#: The holder's correspondent, who gets the company's emails.
HOLDER_CORRESPONDENT = Recipient("Paul Lambert", "paul.lambert@example.org")
#: The buyer's contact, who gets its notices and its alerts.
BUYER_CONTACT = Recipient("Claire Dupont", "claire.dupont@example.org")
#: For the emails of the facilitator's own (digest, summaries) and anyone else.
ANYONE = Recipient("Destinataire d'exemple", "destinataire@example.org")
