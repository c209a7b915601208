"""A company that left the site during the works: its last month on the lot recorded
(``services.company_departures``), from the command line, the site and the API, with the
emails that tell the company and, when it matters, the buyer (``services.departure_notices``).

A clause is designated by its N° or « RÉFÉRENCE/LOT » (``2026-014/01``), a company by its N°,
SIRET or name (``lookup``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select

from workflow.adapters.orm import AwardParty, Clause, Company
from workflow.adapters.templates import french_month
from workflow.app.lookup import find_clause, find_company
from workflow.app.unit import Unit, reading, unit_of_work
from workflow.domain.vocabulary import PARTY_ROLE_LABELS, PartyRole
from workflow.emails.company_departures import OwedMonth
from workflow.emails.phrases import joined, months_said
from workflow.runtime import App
from workflow.services import company_departures, departure_notices, receipt_withdrawals
from workflow.services.company_departures import (
    Departure,
    departure_sentence,
    told_sentence,
    unchanged_sentence,
)
from workflow.services.reminder_emails import LadderRewrite

__all__ = [
    "Departure",
    "DeparturePreview",
    "LotCompany",
    "departure_data",
    "departure_sentence",
    "lot_companies",
    "preview_departure",
    "preview_sentences",
    "record_departure",
    "told_sentence",
    "unchanged_sentence",
]

Designation = str | int
NBSP = "\u00a0"


@dataclass(frozen=True)
class DeparturePreview:
    """What recording the departure would do (``preview_departure``), nothing written: the
    departure as the service would record it, and the months up to its last it would still owe."""

    done: Departure
    owed: tuple[OwedMonth, ...]


class _DryRun(Exception):
    """Leaves the unit of work with what it did, so that everything it wrote is rolled back."""

    def __init__(self, preview: DeparturePreview) -> None:
        super().__init__("dry run")
        self.preview = preview


def _record(
    unit: Unit,
    clause: Designation,
    company: Designation,
    last_month: date,
    *,
    reason: str,
    field: str,
    reason_field: str,
) -> Departure:
    clause_id = find_clause(unit.session, clause).id
    company_id = find_company(unit.session, company).id
    done = company_departures.record_departure(
        unit.session,
        clause_id,
        company_id,
        last_month,
        reason=reason,
        actor=unit.actor,
        now=unit.now,
        rewriter=LadderRewrite(unit.app),
        field=field,
        reason_field=reason_field,
    )
    if not done.changed:
        return done  # told when it was recorded
    session, at, last = unit.session, unit.now, done.last_month
    # Every month it releases: the emails of an earlier last month still waiting are withdrawn
    # and their months told in the new ones (``departure_notices.replace_earlier``).
    released = done.released
    # Its receipts still waiting may announce a month after its last (« Le mois suivant »)
    # or count months it no longer owes: written again as of the departure.
    receipt_withdrawals.rewrite_for_departure(unit.app, session, clause_id, company_id, last, at)
    return replace(
        done,
        informed=departure_notices.tell_company(
            unit.app, session, clause_id, company_id, last, released, at
        ),
        buyer_told=departure_notices.tell_buyer(
            unit.app, session, clause_id, company_id, last, released, at
        ),
    )


def record_departure(
    app: App,
    clause: Designation,
    company: Designation,
    last_month: date,
    *,
    reason: str,
    actor: str | None = None,
    field: str = "Dernier mois",
    reason_field: str = "Motif",
) -> Departure:
    """Record that ``company`` left the works of ``clause`` after ``last_month``: no month after
    it is asked of it any more, its emails still waiting for those months withdrawn (or written
    again for the months it still owes); the company told by email, and the buyer when an
    alert had named a month it releases (``departure_notices``), in the same transaction.
    ``field`` and ``reason_field`` name the month and the reason as the interface does."""
    with unit_of_work(app, actor) as unit:
        return _record(
            unit, clause, company, last_month, reason=reason, field=field,
            reason_field=reason_field,
        )  # fmt: skip


def departure_data(done: Departure) -> dict[str, Any]:
    """What a departure recorded did, as ``clause company-left --json`` and the API give it."""
    return {
        "clause": done.clause_id,
        "entreprise_id": done.company_id,
        "entreprise": done.company,
        "dernier_mois_avant": done.before,
        "dernier_mois": done.last_month,
        "modifie": done.changed,
        # Those this call released (a last month moved earlier: the months after the first one
        # were released then), as the message says them; all of them under their own key.
        "mois_plus_demandes": list(done.newly_released),
        "mois_plus_demandes_en_tout": list(done.released),
        "courriels_retires": list(done.withdrawn),
        "courriels_ecrits_a_nouveau": list(done.rewritten),
        "courriels_a_annuler": [
            {"etape": step, "courriel": number} for step, number in done.still_asking
        ],
        "entreprise_informee": list(done.informed),
        "donneur_ordre_informe_pour": list(done.buyer_told),
    }


def preview_departure(
    app: App,
    clause: Designation,
    company: Designation,
    last_month: date,
    *,
    reason: str,
    actor: str | None = None,
    field: str = "Dernier mois",
    reason_field: str = "Motif",
) -> DeparturePreview:
    """What ``record_departure`` would do, for the site's confirmation page: run as it would be
    (same checks, same refusals), then rolled back, nothing written. The page is only a
    preview: confirmed, the departure runs again and may find more (a call left since)."""
    try:
        with unit_of_work(app, actor) as unit:
            done = _record(
                unit, clause, company, last_month, reason=reason, field=field,
                reason_field=reason_field,
            )  # fmt: skip
            found = unit.session.get_one(Clause, done.clause_id)
            owed = departure_notices.owed_up_to(
                unit.app, unit.session, found, done.company_id, done.last_month, unit.now
            )
            raise _DryRun(DeparturePreview(done, owed))
    except _DryRun as dry:
        return dry.preview


def preview_sentences(preview: DeparturePreview) -> list[str]:
    """The confirmation page's sentences, in the future: what confirming will do."""
    done = preview.done
    if not done.changed:
        return [unchanged_sentence(done)]
    said = [
        f"{done.company} quittera le chantier{NBSP}: son dernier mois à déclarer sera "
        f"{french_month(done.last_month)}, aucun mois suivant ne lui sera demandé (ni appel, ni "
        "relance, ni alerte au donneur d'ordre)."
    ]
    released = done.newly_released
    if released:
        months = months_said(released)
        said.append(
            f"{months}, déjà demandé, ne le sera plus{NBSP}: ses relances s'arrêteront."
            if len(released) == 1
            else f"{months}, déjà demandés, ne le seront plus{NBSP}: leurs relances s'arrêteront."
        )
    if done.withdrawn:
        count = len(done.withdrawn)
        said.append(
            ("1 courriel en attente sera retiré" if count == 1 else f"{count} courriels en "
             "attente seront retirés") + f" ({', '.join(done.withdrawn)})."
        )  # fmt: skip
    if done.rewritten:
        count = len(done.rewritten)
        emails = (
            "1 courriel en attente sera écrit à nouveau"
            if count == 1
            else f"{count} courriels en attente seront écrits à nouveau"
        )
        said.append(f"{emails} pour les mois qu'elle doit encore ({', '.join(done.rewritten)}).")
    if preview.owed:
        listed = joined(
            [
                f"{french_month(o.month)} (au plus tard le {o.due_on:%d/%m/%Y})"
                if o.due_on is not None
                else f"{french_month(o.month)} (demandé à la reprise du chantier)"
                for o in preview.owed
            ]
        )
        said.append(f"Elle devra encore{NBSP}: {listed}.")
    else:
        said.append(
            f"Toutes les déclarations demandées jusqu'à {french_month(done.last_month)} sont "
            f"reçues{NBSP}: elle n'aura plus rien à déclarer pour ce lot."
        )
    if done.informed:
        said.append(
            f"Elle en sera informée par courriel ({', '.join(done.informed)}), avec les mois "
            "qu'elle doit encore."
        )
    else:
        said.append(
            "Elle n'a pas de correspondant avec une adresse e-mail : elle ne sera pas "
            "informée par courriel, prévenez-la vous-même."
        )
    if done.buyer_told:
        months = months_said(done.buyer_told)
        said.append(
            f"Le donneur d'ordre, alerté pour {months}, sera informé que "
            + (
                "cette déclaration n'est plus attendue."
                if len(done.buyer_told) == 1
                else "ces déclarations ne sont plus attendues."
            )
        )
    return said


@dataclass(frozen=True)
class LotCompany:
    """A company of the lot's award, as the departure form offers it."""

    id: int
    name: str
    role: str
    #: Its last month, when its departure is already recorded.
    last_month: date | None


def lot_companies(app: App, clause_id: int) -> tuple[LotCompany, ...]:
    """The companies of the award of lot ``clause_id``, in the award's order."""
    with reading(app) as session:
        rows = session.execute(
            select(AwardParty.company_id, Company.name, AwardParty.role, AwardParty.last_month)
            .join(Company, Company.id == AwardParty.company_id)
            .where(AwardParty.clause_id == clause_id)
            .order_by(AwardParty.id)
        ).all()
        return tuple(
            LotCompany(company_id, name, PARTY_ROLE_LABELS[PartyRole(role)], last)
            for company_id, name, role, last in rows
        )
