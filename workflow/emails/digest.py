"""The facilitator's task digest (« récapitulatif des tâches »): its sections in order of urgency,
each task with what to do and where.

``services.digest`` finds the tasks in the database and decides when the email leaves; the
action texts are here, so the sample and the real digest say the same commands.

Each task has two ways to be done: the command line (``DigestItem.action``) and the browser
(``WebAction``: its words, ``todo``, and the page where it is done, ``path``). The email names the
commands only where no site is reachable: with ``CLAUSES_BASE_URL`` set, each entry gives the web
words and the absolute address of that page (``web_base``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from workflow.emails.envelope import OutboxState, Recipient
from workflow.emails.family import EmailFamily, Sample

if TYPE_CHECKING:
    from workflow.settings import Settings

KIND = "facilitator_digest"
KINDS = (KIND,)


class Category(StrEnum):
    """Digest sections, in order of urgency."""

    EMAIL = "email"
    #: A buyer with lots in progress and no contact with an address: its notices and summaries
    #: are not even queued (``notices._buyer_notice``, ``summaries._queue_month``).
    NO_CONTACT = "no_contact"
    DECLARATION = "declaration"
    #: A company corrected a month it had declared, from its signed link, since the previous
    #: digest: the facilitator learns which month and what it said before and after
    #: (``services.digest._online_corrections``), once.
    ONLINE_CORRECTION = "online_correction"
    PACE = "pace"
    #: A lot in execution past its planned end, its end not recorded: its companies are not
    #: called for the months after the planned end (``services.digest._planned_end_passed``).
    PLANNED_END = "planned_end"
    #: A lot suspended past its planned end, its end not recorded: when it resumes, its
    #: companies are not called for the months after the planned end until it is moved; an
    #: « ordre de service d'arrêt » usually extends the works by the stop's length, so the
    #: facilitator asks the buyer for the new planned end
    #: (``services.digest._suspended_past_planned_end``).
    PLANNED_END_SUSPENDED = "planned_end_suspended"
    #: A lot awarded whose planned start has passed, its start not recorded: no month is asked
    #: of its companies until it is (``services.digest._start_passed``).
    START_PASSED = "start_passed"
    AWARD = "award"
    FINAL_REPORT = "final_report"
    #: A lot in follow-up whose final report the buyer was told, its figures changed since:
    #: it cannot be closed until the report is recorded again
    #: (``services.outdated_reports``).
    FINAL_REPORT_OUTDATED = "final_report_outdated"
    ELIGIBILITY = "eligibility"
    WAITING = "waiting"


CATEGORY_TITLES: dict[Category, str] = {
    Category.EMAIL: "Courriels non distribués",
    Category.NO_CONTACT: "Donneurs d'ordre sans contact",
    Category.DECLARATION: "Déclarations d'heures en retard",
    Category.ONLINE_CORRECTION: "Déclarations corrigées en ligne par les entreprises",
    Category.PACE: "Marchés bientôt terminés, heures en retard",
    Category.PLANNED_END: "Fins prévues dépassées, exécution toujours en cours",
    Category.PLANNED_END_SUSPENDED: "Lots suspendus, fin prévue dépassée",
    Category.START_PASSED: "Démarrages prévus passés, non enregistrés",
    Category.AWARD: "Attributions incomplètes",
    Category.FINAL_REPORT: "Bilans à envoyer",
    Category.FINAL_REPORT_OUTDATED: "Bilans à mettre à jour",
    Category.ELIGIBILITY: "Éligibilités à vérifier",
    Category.WAITING: "Clauses en attente depuis trop longtemps",
}
RANK = {category: index for index, category in enumerate(Category)}


class WebActionKind(StrEnum):
    """What the dashboard offers for a task, where the email names a command."""

    RESEND = "resend"  # a button: POST /courriels/{message_id}/renvoyer
    OUTBOX = "outbox"  # a link to the email log (an outage, failures with one cause)
    #: A button that records a month without hours (after a confirmation page), a link to the
    #: clause, and the company's contact to write to.
    DECLARATION = "declaration"
    OPEN_CLAUSE = "open_clause"  # a link to the clause's page (at ``anchor``)
    FINAL_REPORT = "final_report"  # a link to the clause page's report form
    ELIGIBILITY = "eligibility"  # a form: the participant, the proof seen, POST
    BUYER = "buyer"  # a link to the buyer's correction page, its « Ajouter un contact » form


DASHBOARD_PATH = "/tableau-de-bord"
#: Where each kind of task is done, as the digest email names the page of its link.
PLACES: dict[WebActionKind, str] = {
    WebActionKind.RESEND: "le courriel",
    WebActionKind.OUTBOX: "le journal des courriels",
    WebActionKind.DECLARATION: "le tableau de bord",
    WebActionKind.OPEN_CLAUSE: "la page de la clause",
    WebActionKind.FINAL_REPORT: "le formulaire du bilan",
    WebActionKind.ELIGIBILITY: "le tableau de bord",
    WebActionKind.BUYER: "les contacts du donneur d'ordre",
}


@dataclass(frozen=True)
class WebAction:
    """The task's action as the dashboard does it from the browser."""

    kind: WebActionKind
    label: str  # the button's or the link's words
    #: What to do, in the browser's words (no command line): the email with a site, the API.
    todo: str = ""
    clause_id: int | None = None
    message_id: int | None = None
    company_id: int | None = None
    company: str | None = None
    month: date | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    #: What to do before the button, when it matters (an email that may have arrived).
    hint: str | None = None
    #: Participants whose eligibility is to check, for the form's choice.
    references: tuple[str, ...] = ()
    buyer_id: int | None = None
    #: Where on the clause's page (``#bilan-form``, ``#attribution``…), for ``OPEN_CLAUSE``.
    anchor: str = ""
    #: The email log's state filter (``failed``, ``dead``, ``pending``), for ``OUTBOX``.
    state: str = ""

    @property
    def path(self) -> str:
        """The page where the task is done, below the site's address: the dashboard itself for
        what its buttons do (a month without hours, an eligibility)."""
        kind = self.kind
        if kind == WebActionKind.RESEND:
            return f"/courriels/{self.message_id}"
        if kind == WebActionKind.OUTBOX:
            return f"/courriels?etat={self.state}" if self.state else "/courriels"
        if kind == WebActionKind.OPEN_CLAUSE:
            return f"/clauses/{self.clause_id}{self.anchor}"
        if kind == WebActionKind.FINAL_REPORT:
            return f"/clauses/{self.clause_id}#bilan-form"
        if kind == WebActionKind.BUYER:
            return f"/corrections/donneurs-d-ordre/{self.buyer_id}#ajout-contact"
        if kind == WebActionKind.DECLARATION:
            return f"{DASHBOARD_PATH}#rubrique-{Category.DECLARATION.value}"
        return f"{DASHBOARD_PATH}#rubrique-{Category.ELIGIBILITY.value}"

    @property
    def place(self) -> str:
        return PLACES[self.kind]


@dataclass(frozen=True)
class DigestItem:
    category: Category
    weight: int  # within a category, the higher the more urgent (days late, days waiting...)
    title: str  # what is wrong
    detail: str  # the figures behind it
    action: str  # what to do and where
    clause_id: int | None = None
    days: int | None = None
    #: The same action on the dashboard; the email keeps ``action``'s sentence.
    web: WebAction | None = None
    #: What one task gathers under its heading (a lot's corrections made online, one each):
    #: the email lists them one a line instead of ``detail``, which says the same in one
    #: paragraph for the dashboard and ``clauses digest``.
    lines: tuple[str, ...] = ()

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        return (RANK[self.category], -self.weight, self.clause_id or 0, self.title)


@dataclass(frozen=True)
class Digest:
    day: date  # the local date it is for
    working_day: bool
    items: tuple[DigestItem, ...]

    def sections(self) -> list[tuple[Category, list[DigestItem]]]:
        grouped: dict[Category, list[DigestItem]] = {}
        for item in self.items:
            grouped.setdefault(item.category, []).append(item)
        return list(grouped.items())

    def first(self, limit: int) -> DayTasks:
        """The ``limit`` most urgent tasks of each section and each section's count: what
        ``services.digest.compile_tasks`` gives without writing every task."""
        return DayTasks(
            day=self.day,
            working_day=self.working_day,
            sections=tuple(
                Section(category, tuple(items[:limit]), len(items))
                for category, items in self.sections()
            ),
        )


@dataclass(frozen=True)
class Section:
    category: Category
    items: tuple[DigestItem, ...]  # the most urgent first, at most the number asked
    count: int  # every task of the section

    @property
    def title(self) -> str:
        return CATEGORY_TITLES[self.category]

    @property
    def hidden(self) -> int:
        return self.count - len(self.items)


@dataclass(frozen=True)
class DayTasks:
    """The day's tasks as a page shows them: the first few of each non-empty section, and how
    many there are in all."""

    day: date
    working_day: bool
    sections: tuple[Section, ...]


def declaration_action(clause_id: int, company_id: int, month: date, contact: str) -> str:
    return (
        f"Joindre l'entreprise ({contact}) ; enregistrer la déclaration reçue "
        f"(clauses declaration import FICHIER.csv --clause {clause_id}) ou un mois sans heure "
        f"(clauses declaration zero --clause {clause_id} --company {company_id} "
        f"--month {month:%m/%Y})."
    )


def declaration_todo(contact: str) -> str:
    return (
        f"Joindre l'entreprise ({contact}) ; enregistrer la déclaration reçue (page « Importer "
        "un tableau ») ou, si elle n'a fait aucune heure, un mois sans heure (bouton "
        "« Enregistrer un mois sans heure » du tableau de bord)."
    )


def declaration_web(
    clause_id: int,
    company_id: int,
    month: date,
    contact: str,
    *,
    company: str,
    who: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> WebAction:
    """The dashboard's month without hours for the oldest month late, and whom to write to."""
    return WebAction(
        WebActionKind.DECLARATION,
        "Voir la clause",
        todo=declaration_todo(contact),
        clause_id=clause_id,
        company_id=company_id,
        company=company,
        month=month,
        contact_name=who or company,
        contact_email=email or None,
        contact_phone=phone or None,
    )


def email_action(message_id: int, state: str) -> str:
    if state == OutboxState.DEAD:
        # Given up after temporary failures: the address may well be right.
        return (
            "Vérifier la cause ci-dessus (serveur du destinataire, boîte pleine…), puis remettre "
            f"le message en file (clauses mail retry {message_id})."
        )
    return (
        "Corriger l'adresse ou prévenir le destinataire, puis remettre le message en file "
        f"(clauses mail retry {message_id})."
    )


def email_todo(state: str) -> str:
    if state == OutboxState.DEAD:
        return (
            "Vérifier la cause ci-dessus (serveur du destinataire, boîte pleine…), puis renvoyer "
            "le message (bouton « Renvoyer »)."
        )
    if state == OutboxState.UNCERTAIN:
        return "Demander au destinataire s'il l'a reçu ; sinon le renvoyer (bouton « Renvoyer »)."
    return (
        "Corriger l'adresse ou prévenir le destinataire, puis renvoyer le message "
        "(bouton « Renvoyer »)."
    )


def email_web(message_id: int, state: str, clause_id: int | None = None) -> WebAction:
    return WebAction(
        WebActionKind.RESEND,
        "Renvoyer",
        todo=email_todo(state),
        clause_id=clause_id,
        message_id=message_id,
        hint=(
            "Demandez d'abord au destinataire s'il l'a reçu."
            if state == OutboxState.UNCERTAIN
            else None
        ),
    )


def online_correction_action(clause_id: int, company_id: int, month: date) -> str:
    return (
        "Vérifier la déclaration corrigée, puis la valider (clauses declaration validate "
        f"--clause {clause_id} --company {company_id} --month {month:%m/%Y})."
    )


ONLINE_CORRECTION_TODO = (
    "Vérifier la déclaration corrigée sur la page de la clause, puis la valider (bouton "
    "« Valider » de la rubrique « Déclarations à valider » du tableau de bord)."
)


def online_correction_web(clause_id: int) -> WebAction:
    return WebAction(
        WebActionKind.OPEN_CLAUSE,
        "Ouvrir la clause",
        todo=ONLINE_CORRECTION_TODO,
        clause_id=clause_id,
        anchor="#declarations-attendues",
    )


FINAL_REPORT_TODO = (
    "Rassembler les sorties des participants, enregistrer le bilan (formulaire « Enregistrer le "
    "bilan de l'opération » de la page de la clause) puis clôturer la clause."
)


def final_report_web(clause_id: int) -> WebAction:
    return WebAction(
        WebActionKind.FINAL_REPORT,
        "Enregistrer le bilan",
        todo=FINAL_REPORT_TODO,
        clause_id=clause_id,
    )


def final_report_action(clause_id: int) -> str:
    return (
        "Rassembler les sorties des participants, enregistrer le bilan "
        f"(clauses clause report {clause_id} --file bilan.txt) puis clôturer "
        f"(clauses clause advance {clause_id} cloturer)."
    )


def _replaces(reported: str | None) -> str:
    """What the buyer gets: the updated report, « qui remplace celui du … » when they received
    the earlier one (``reported``: its day, « 12 mars 2026 »), without when its sending failed."""
    if reported is None:
        return "le donneur d'ordre recevra le bilan à jour"
    return f"le donneur d'ordre recevra le bilan mis à jour, qui remplace celui du {reported}"


def report_update_todo(reported: str | None) -> str:
    """``reported``: the day of the report the buyer read (« 12 mars 2026 »), None when its
    sending failed."""
    return (
        "Réécrire le bilan avec les chiffres à jour (formulaire « Réécrire le bilan de "
        f"l'opération » de la page de la clause) : {_replaces(reported)} ; puis clôturer la "
        "clause."
    )


def report_update_web(clause_id: int, reported: str | None) -> WebAction:
    return WebAction(
        WebActionKind.FINAL_REPORT,
        "Réécrire le bilan",
        todo=report_update_todo(reported),
        clause_id=clause_id,
    )


def report_update_action(clause_id: int, reported: str | None) -> str:
    return (
        "Enregistrer de nouveau le bilan avec les chiffres à jour "
        f"(clauses clause report {clause_id} --file bilan.txt) : {_replaces(reported)} ; puis "
        f"clôturer (clauses clause advance {clause_id} cloturer)."
    )


def web_base(settings: Settings) -> str | None:
    """The site's address when ``CLAUSES_BASE_URL`` is set (environment, .env, config file):
    without it the default ``http://localhost:8000`` reaches nobody but the machine itself, and
    the digest keeps its commands for whoever works with the command line."""
    if "base_url" not in settings.model_fields_set or not settings.base_url.strip():
        return None
    return settings.base_url.strip().rstrip("/")


#: The entries of a section the email lists, and the lines of an entry (``DigestItem.lines``):
#: a section grows with the territory (thousands of late months at 10^4 lots), the email does
#: not; it says how many more there are and where the whole list is (``_more``).
EMAIL_ROWS = 20


def _more(hidden: int, base: str | None) -> str:
    """« … et 7 autres : la liste entière s'affiche avec : clauses digest »."""
    others = f"… et {hidden} {'autre' if hidden == 1 else 'autres'}"
    # No-break spaces before « : » and « ; », as the email's own sentences have them.
    if base is None:
        return f"{others}\u00a0: la liste entière s'affiche avec\u00a0: clauses digest"
    return (
        f"{others}\u00a0: voir le tableau de bord ({base}{DASHBOARD_PATH})\u00a0; la liste "
        "entière s'affiche avec\u00a0: clauses digest"
    )


def _entry(item: DigestItem, base: str | None) -> dict[str, Any]:
    lines = list(item.lines[:EMAIL_ROWS])
    if len(item.lines) > EMAIL_ROWS:
        lines.append(_more(len(item.lines) - EMAIL_ROWS, base))
    entry: dict[str, Any] = {
        "title": item.title,
        "detail": item.detail,
        "lines": lines,
        "action": item.action,
        "link": None,
        "link_label": None,
    }
    web = item.web
    if base is not None and web is not None and web.todo:
        entry["action"] = web.todo
        entry["link"] = base + web.path
        entry["link_label"] = f"Ouvrir {web.place}"
    return entry


def digest_context(digest: Digest, base: str | None = None) -> dict[str, Any]:
    """The email's context: with the site's address ``base``, each entry's action in the
    browser's words and the absolute link to where it is done; without it, the commands."""
    return {
        "day": digest.day,
        "count": len(digest.items),
        "dashboard": None if base is None else base + DASHBOARD_PATH,
        "sections": [
            {
                "title": CATEGORY_TITLES[category],
                "count": len(items),
                "entries": [_entry(item, base) for item in items[:EMAIL_ROWS]],
                "more": _more(len(items) - EMAIL_ROWS, base) if len(items) > EMAIL_ROWS else None,
            }
            for category, items in digest.sections()
        ],
    }


SAMPLE_CONTACT = "Jean Dupont, jean.dupont@example.org, 05 62 00 00 01"


def sample_digest() -> Digest:
    day = date(2026, 3, 16)
    return Digest(
        day=day,
        working_day=True,
        items=(
            DigestItem(
                Category.EMAIL,
                2,
                "Courriel refusé définitivement : « Déclaration des heures de février 2026 » "
                "à Jean Dupont <jean.dupont@example.org>",
                "Erreur : Refus définitif : 550 boîte inconnue ; adresses refusées : "
                "jean.dupont@example.org",
                email_action(41, OutboxState.FAILED),
                web=email_web(41, OutboxState.FAILED),
            ),
            DigestItem(
                Category.DECLARATION,
                4,
                "Bâtiments du Sud : heures de février 2026 non déclarées – clause n° 12 "
                "(marché 2026-014 lot 3 – Gros œuvre, Département de l'Exemple)",
                "1 mois en retard, le plus ancien dû le 10 mars 2026 (4 jours ouvrés de retard) ; "
                "appel à déclaration envoyé le 2 mars 2026 ; rappel n° 1 prévu le 13 mars 2026.",
                declaration_action(12, 5, date(2026, 2, 1), SAMPLE_CONTACT),
                12,
                4,
                web=declaration_web(
                    12,
                    5,
                    date(2026, 2, 1),
                    SAMPLE_CONTACT,
                    company="Bâtiments du Sud",
                    who="Jean Dupont",
                    email="jean.dupont@example.org",
                    phone="05 62 00 00 01",
                ),
            ),
            DigestItem(
                Category.FINAL_REPORT,
                20,
                "Bilan à envoyer au donneur d'ordre : clause n° 7 (marché 2025-031 – Voirie, "
                "Ville de l'Exemple)",
                "Achevée depuis 20 jours, bilan pas encore enregistré.",
                final_report_action(7),
                7,
                20,
                web=final_report_web(7),
            ),
            DigestItem(
                Category.FINAL_REPORT_OUTDATED,
                9,
                "Bilan à mettre à jour : clause n° 4 (marché 2025-022 lot 2 – Charpente, "
                "Département de l'Exemple)",
                "Les chiffres du lot ont changé depuis le bilan du 6 mars 2026 adressé au donneur "
                "d'ordre (déclaration mensuelle, sortie d'un participant) : la clause ne se "
                "clôture qu'avec un bilan à jour.",
                report_update_action(4, "6 mars 2026"),
                4,
                9,
                web=report_update_web(4, "6 mars 2026"),
            ),
        ),
    )


def sample(kind: str, settings: Settings) -> Sample:
    facilitator = Recipient(settings.facilitator_name, settings.facilitator_email)
    return Sample((facilitator,), digest_context(sample_digest(), web_base(settings)))


FAMILY = EmailFamily("digest", KINDS, sample)
