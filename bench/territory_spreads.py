"""The spreads of a synthetic territory (``bench.territory``): how its lots, people and emails are
distributed, and the names they are given. Tune the realism here; the rules that keep a territory
consistent with the service stay in ``bench.territory``.
"""

from __future__ import annotations

from datetime import timedelta

from workflow.domain.calendar import LadderStep
from workflow.domain.outcomes import OutcomeType
from workflow.domain.stages import Stage
from workflow.domain.vocabulary import ContractType, Criterion, DeliveryMode
from workflow.emails.ladder import step_kind

#: The stage each lot is in at ``as_of`` (shares of the lots).
STAGES: tuple[tuple[Stage, float], ...] = (
    (Stage.IDENTIFICATION, 0.06),
    (Stage.DRAFTING, 0.08),
    (Stage.AWARD, 0.07),
    (Stage.EXECUTION, 0.46),
    (Stage.SUSPENDED, 0.02),
    (Stage.FOLLOW_UP, 0.14),
    (Stage.CLOSED, 0.14),
    (Stage.ABANDONED, 0.03),
)
#: Trades and their labour share (DOMAIN.md: painting 70 %, masonry 50 %, steel framing 20 %).
TRADES: tuple[tuple[str, int], ...] = (
    ("Gros œuvre", 500_000),
    ("Peinture intérieure", 700_000),
    ("Charpente métallique", 200_000),
    ("Espaces verts", 600_000),
    ("Nettoyage des locaux", 800_000),
    ("Voirie et réseaux divers", 400_000),
    ("Plâtrerie, isolation", 600_000),
    ("Menuiseries intérieures", 450_000),
    ("Électricité", 450_000),
    ("Plomberie, chauffage", 450_000),
    ("Restauration collective", 550_000),
    ("Collecte des déchets", 650_000),
)
#: Loaded hourly costs, in cents (usually 25 to 30 €/h).
HOURLY_COSTS = (2500, 2600, 2700, 2750, 2800, 2850, 2900, 3000)
#: A lot of under 150 hours is rarely worth a clause (DOMAIN.md): such lots get 150 imposed.
MIN_HOURS, MAX_HOURS = 150, 5000
#: A participant's hours in one month, in hundredths (151,67 h: a full-time month).
MIN_MONTHLY_HOURS, MAX_MONTHLY_HOURS = 400, 15167
FLOOR_REASON = "Minimum de 150 heures retenu avec le donneur d'ordre"
BUYER_KINDS = (
    ("Département", "département"),
    ("Commune", "commune"),
    ("Communauté d'agglomération", "intercommunalité"),
    ("Office public de l'habitat", "bailleur social"),
    ("Centre hospitalier", "établissement public"),
    ("Région", "région"),
    ("Syndicat mixte", "syndicat"),
)
PLACES = (
    "Auch",
    "Condom",
    "Lectoure",
    "Mirande",
    "Eauze",
    "Fleurance",
    "Nogaro",
    "Samatan",
    "Vic-Fezensac",
    "Gimont",
    "Lombez",
    "Masseube",
    "Plaisance",
    "Riscle",
    "Marciac",
    "Mauvezin",
)
FIRST_NAMES = (
    "Camille",
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Manon",
    "Nathan",
    "Inès",
    "Jules",
    "Sarah",
    "Louis",
    "Emma",
    "Théo",
    "Zoé",
    "Mathis",
    "Jade",
    "Raphaël",
    "Louise",
    "Gabriel",
    "Anaïs",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
)
COMPANY_WORDS = (
    "Bâtiments",
    "Travaux",
    "Constructions",
    "Entreprise",
    "Ateliers",
    "Services",
    "Paysages",
    "Réseaux",
)
#: (mode, contract, weight): a third of hours by direct hiring, a third through an ETTI.
PATHS: tuple[tuple[DeliveryMode, ContractType, int], ...] = (
    (DeliveryMode.DIRECT_HIRING, ContractType.CDD, 12),
    (DeliveryMode.DIRECT_HIRING, ContractType.CDI, 5),
    (DeliveryMode.DIRECT_HIRING, ContractType.SITE_CONTRACT, 7),
    (DeliveryMode.DIRECT_HIRING, ContractType.APPRENTICESHIP, 5),
    (DeliveryMode.DIRECT_HIRING, ContractType.PROFESSIONALISATION, 4),
    (DeliveryMode.PROVISION_ETTI, ContractType.TEMP_WORK, 33),
    (DeliveryMode.PROVISION_AI, ContractType.PROVISION, 8),
    (DeliveryMode.PROVISION_GEIQ, ContractType.PROVISION, 6),
    (DeliveryMode.SUBCONTRACTING, ContractType.CDDI, 12),
    (DeliveryMode.TRAINING, ContractType.TRAINING, 8),
)
DONE = LadderStep.DONE
STEP_KINDS = {
    name: step_kind(name)
    for name in ("call", "reminder_1", "reminder_2", "reminder_3", "reminder_4", "escalation")
}
CRITERIA = tuple(Criterion)
CRITERION_WEIGHTS = (30, 25, 8, 15, 7, 8, 5, 2)
OUTCOMES = tuple(OutcomeType)
OUTCOME_WEIGHTS = (6, 2, 2, 8, 6, 1, 1, 10, 9, 3, 5, 4, 8, 14, 3, 6)
#: Share of outbox rows in each state other than ``sent`` (``pending``: only recent rows).
FAILED, DEAD, UNCERTAIN, RECENT_PENDING = 0.004, 0.002, 0.001, 0.05
#: Share cancelled by the facilitator before they left (``clauses mail cancel``).
CANCELLED = 0.001

KIND_SUBJECTS = {
    "declaration_call": "Déclaration des heures d'insertion",
    "declaration_reminder": "Rappel : déclaration des heures d'insertion",
    "declaration_escalation": "Alerte : déclaration des heures d'insertion manquante",
    "declaration_receipt": "Déclaration des heures reçue",
    "company_welcome": "Clause d'insertion : ce que vous aurez à déclarer",
    "facilitator_digest": "Récapitulatif des tâches",
}
NOTICE_SUBJECT = "Clause d'insertion : étape franchie"
FOOTER_TEXT = (
    "Ce message a été écrit par le service de suivi des clauses d'insertion. Pour toute "
    "question, répondez à ce courriel.\n"
)
FOOTER_HTML = "<p>Service de suivi des clauses d'insertion</p>"
#: A row is pending (waiting for a retry) only if it was written this recently.
RECENT = timedelta(days=2)
ONE_SECOND = timedelta(seconds=1)
SEND_DELAYS = tuple(timedelta(seconds=n) for n in range(1, 121))
