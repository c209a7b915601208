"""A departure recorded again with an earlier last month: what becomes of the emails of the first,
said on the site's confirmation page before anything is written.

Recording it (``company_departures.record_departure``) writes the company's email again, and the
buyer's when an alert named a month it releases, under the new last month
(``departure_notices.replace_earlier``): an email of the earlier last month still waiting
(waiting, refused, given up) is withdrawn, so that the two never both go and contradict each
other, and the new one replaces it; one that left, or may have, stays, and the new one opens
with « Ce message remplace mon courriel du … : le dernier mois de … sur ce lot est avancé à … ».
The confirmation page (``preview_departure``, rolled back) did not say so: the facilitator who
corrected a last month could not tell whether the company would get one email or two.

Read in its own short transaction, as the preview is: the page is only a preview, confirmed the
departure runs again and finds what is there then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from workflow.adapters.templates import french_date, french_month
from workflow.app.company_departures import DeparturePreview
from workflow.app.lookup import find_clause, find_company
from workflow.app.unit import reading
from workflow.runtime import App
from workflow.services import departure_notices
from workflow.services.departure_notices import Earlier

Designation = str | int
NBSP = "\u00a0"


@dataclass(frozen=True)
class Replacements:
    """The emails of the departure's earlier last months, the company's and the buyer's."""

    company: Earlier
    buyer: Earlier


def replaced_emails(
    app: App, clause: Designation, company: Designation, last_month: date
) -> Replacements:
    """What recording the departure of ``company`` with ``last_month`` would do to the emails of
    an earlier last month (nothing written)."""
    with reading(app) as session:
        clause_id = find_clause(session, clause).id
        company_id = find_company(session, company).id
        found, buyer = departure_notices.earlier_emails(
            session, clause_id, company_id, last_month, app.settings.zone
        )
        return Replacements(found, buyer)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def _waiting(earlier: Earlier, about: str) -> str:
    """« Le courriel qui annonçait … (dernier mois octobre 2026) n'est pas encore parti : il
    sera retiré »."""
    months = _and([french_month(m) for m in earlier.withdrawn])
    if len(earlier.withdrawn) == 1:
        return (
            f"Le courriel qui {about} (dernier mois {months}) n'est pas encore parti{NBSP}: il "
            "sera retiré"
        )
    return (
        f"Les courriels qui {about} (derniers mois {months}) ne sont pas encore partis{NBSP}: "
        "ils seront retirés"
    )


def _left(earlier: Earlier, about: str) -> str:
    """« Le courriel du 2 avril 2027 qui annonçait … (dernier mois octobre 2026) est déjà
    parti »."""
    assert earlier.left_on is not None and earlier.told_up_to is not None
    gone = (
        "est déjà parti"
        if earlier.left_surely
        else "est peut-être déjà parti (son envoi est en cours ou incertain)"
    )
    return (
        f"Le courriel du {french_date(earlier.left_on)} qui {about} (dernier mois "
        f"{french_month(earlier.told_up_to)}) {gone}"
    )


def replacement_sentences(preview: DeparturePreview, replaced: Replacements) -> list[str]:
    """The confirmation page's sentences on the emails of an earlier last month, in the future
    (none when there is none: a first departure, or the same month again)."""
    done = preview.done
    if not done.changed:
        return []
    last = french_month(done.last_month)
    said = []
    company, buyer = replaced.company, replaced.buyer
    about = f"annonçait à {done.company} son départ"
    plural = len(company.withdrawn) > 1
    if company.withdrawn and done.informed:
        said.append(
            _waiting(company, about)
            + (" et remplacés" if plural else " et remplacé")
            + f" par le nouveau, qui nommera {last} comme dernier mois{NBSP}: elle ne recevra "
            "que le nouveau."
        )
    elif company.withdrawn:
        said.append(_waiting(company, about) + ", sans nouveau courriel à sa place.")
    if company.left_on is not None and done.informed:
        said.append(
            _left(company, about) + f"{NBSP}: un nouveau courriel lui dira qu'il le remplace "
            f"et que son dernier mois est avancé à {last}."
        )
    about = f"annonçait au donneur d'ordre le départ de {done.company}"
    plural = len(buyer.withdrawn) > 1
    if buyer.withdrawn and done.buyer_told:
        said.append(
            _waiting(buyer, about) + (" et remplacés" if plural else " et remplacé") + " par le "
            f"nouveau, qui nommera {last} comme dernier mois."
        )
    elif buyer.withdrawn:
        said.append(_waiting(buyer, about) + " sans être remplacé" + ("s." if plural else "."))
    if buyer.left_on is not None:
        if done.buyer_told:
            said.append(
                _left(buyer, about) + f"{NBSP}: un nouveau courriel lui dira qu'il le remplace "
                f"et que le dernier mois de {done.company} est avancé à {last}."
            )
        else:
            said.append(
                _left(buyer, about) + f"{NBSP}: il ne recevra pas de nouveau courriel, aucune "
                "alerte ne lui ayant signalé un mois que ce changement libère et que ce "
                "courriel n'a pas déjà corrigé."
            )
    return said
