"""What ``clauses privacy export`` and ``clauses privacy purge`` print, in the words a page of the
dashboard shows too: the export as text and as JSON, the purge's report, the retention typed.

The command line and the web pages both write these (the web's files are the command's output
word for word), so they live below both entry points; nothing here reads the database.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from workflow.adapters.templates import french_hours, french_month
from workflow.app.command_words import kind_label, plural, to_jsonable
from workflow.app.privacy import HeldCorrection, ParticipantExport, PurgeReport
from workflow.domain.calendar import local_date
from workflow.domain.privacy import Retention, parse_retention
from workflow.errors import InputRefused
from workflow.services.outbox import STATE_LABELS

SEX_WORDS = {"F": "femme", "M": "homme"}

#: How the command line offers the retention; a page names its own field instead.
OLDER_THAN = "--older-than"
#: What ``purge_lines`` tells a person to do after a dry run, on the command line.
CONFIRM_ON_THE_COMMAND_LINE = "relancez avec --yes pour anonymiser"


# --- export ---------------------------------------------------------------------------------------


def export_data(held: ParticipantExport) -> dict[str, Any]:
    """The export as ``clauses privacy export --json`` prints it (French keys)."""
    return {
        "reference": held.reference,
        "critere": held.criterion,
        "critere_libelle": held.criterion_label,
        "sexe": held.sex,
        "annee_naissance": held.birth_year,
        "justificatif": held.proof or None,
        "date_validation": held.validated_on,
        "enregistre_le": held.created_at,
        "heures": held.hours,
        "declarations": [
            {
                "mois": f"{line.month:%Y-%m}",
                "heures": line.hours,
                "modalite": line.delivery_mode,
                "modalite_libelle": line.delivery_mode_label,
                "contrat": line.contract_type,
                "contrat_libelle": line.contract_label,
                "clause": line.clause_id,
                "marche": line.market,
                "lot": line.lot_number,
                "intitule_lot": line.lot_title,
                "entreprise": line.company,
                "siret": line.siret,
                "enregistree_le": line.recorded_at,
                "source": line.source,
            }
            for line in held.lines
        ],
        "sorties": [
            {
                "clause": o.clause_id,
                "marche": o.market,
                "lot": o.lot_number,
                "type": o.type,
                "type_libelle": o.type_label,
                "groupe": o.group,
                "groupe_libelle": o.group_label,
                "date": o.on,
            }
            for o in held.outcomes
        ],
        "historique": [
            {"clause": h.clause_id, "date": h.at, "auteur": h.actor, "evenement": h.event}
            | {"motif": h.reason}
            for h in held.history
        ],
        "corrections": [
            {
                "date": c.at,
                "auteur": c.actor,
                "changements": [
                    {"champ": label, "avant": before, "apres": after}
                    for label, before, after in c.changes
                ],
                "motif": c.reason or None,
            }
            for c in held.corrections
        ],
        "textes": [
            {"clause": t.clause_id, "champ": t.field, "libelle": t.label, "texte": t.text}
            for t in held.texts
        ],
        "courriels": [
            {
                "courriel": m.outbox_id,
                "type": m.kind,
                "type_libelle": kind_label(m.kind),
                "etat": m.state,
                "cree_le": m.created_at,
                "envoye_le": m.sent_at,
                "destinataires": list(m.recipients),
                "objet": m.subject,
                "mentions": list(m.places),
            }
            for m in held.mails
        ],
        "conservation": {
            "duree": held.retention,
            "derniere_activite": held.last_activity,
            "clauses_en_cours": list(held.running_clauses),
            "purgeable_le": held.purge_from,
            "anonymise_le": held.purged_at,
        },
    }


def export_text(held: ParticipantExport, zone: ZoneInfo) -> str:
    """The export as a person reads it, section by section."""
    lines = [
        f"Données détenues sur le participant {held.reference}",
        "",
        "Identité (pseudonyme : aucun nom, aucune adresse ni date de naissance n'est enregistré)",
        f"- Référence : {held.reference}",
        f"- Critère d'éligibilité : {held.criterion_label}",
        f"- Sexe : {SEX_WORDS.get(held.sex or '', 'non renseigné')}",
        f"- Année de naissance : {_birth_year(held)}",
        f"- Justificatif d'éligibilité : {_proof(held)}",
        f"- Enregistré le : {_day(held.created_at, zone)}",
    ]
    lines += ["", _heading("Heures déclarées", len(held.lines), held)]
    lines += [
        f"- {french_month(line.month)} : {french_hours(line.hours)}, {line.delivery_mode_label}, "
        f"{line.contract_label} ; clause n° {line.clause_id} (marché {line.market}"
        f"{' lot ' + line.lot_number if line.lot_number else ''} – {line.lot_title}), "
        f"déclarées par {line.company}"
        for line in held.lines
    ]
    lines += ["", _section("Sorties", len(held.outcomes), "aucune")]
    lines += [
        f"- {o.type_label} ({o.group_label.lower()}) le {o.on:%d/%m/%Y}"
        + (f", clause n° {o.clause_id}" if o.clause_id else "")
        for o in held.outcomes
    ]
    lines += [
        "",
        _section("Historique des clauses qui le nomme", len(held.history), "aucune ligne"),
    ]
    lines += [
        f"- {_day(h.at, zone)}, clause n° {h.clause_id}, par {h.actor} : {h.reason}"
        for h in held.history
    ]
    lines += ["", _section("Corrections de sa fiche", len(held.corrections), "aucune")]
    lines += [_correction_line(c, zone) for c in held.corrections]
    lines += ["", _section("Textes des clauses qui le nomment", len(held.texts), "aucun")]
    lines += [f"- Clause n° {t.clause_id}, {t.label} : {t.text}" for t in held.texts]
    lines += ["", _section("Courriels qui le nomment", len(held.mails), "aucun")]
    lines += [_mail_line(m, zone) for m in held.mails]
    lines += ["", "Conservation", f"- {_retention(held, zone)}"]
    return "\n".join(lines) + "\n"


def _correction_line(correction: HeldCorrection, zone: ZoneInfo) -> str:
    changes = " ; ".join(
        f"{label} : {before or 'non renseigné'} → {after or 'retiré'}"
        for label, before, after in correction.changes
    )
    why = f" (motif : {correction.reason})" if correction.reason else ""
    return f"- {_day(correction.at, zone)}, par {correction.actor} : {changes}{why}"


def _heading(title: str, count: int, held: ParticipantExport) -> str:
    if not count:
        return f"{title} : aucune"
    months = len({line.month for line in held.lines})
    return f"{title} : {french_hours(held.hours)} sur {plural(months, 'mois', 'mois')}"


def _section(title: str, count: int, none: str) -> str:
    return f"{title} : {none}" if not count else f"{title} ({count})"


def _proof(held: ParticipantExport) -> str:
    if held.purged_at is not None:
        validated = f"validée en {held.validated_on:%Y}" if held.validated_on else "non validée"
        return f"effacé par la purge (éligibilité {validated})"
    if held.validated_on is None:
        return held.proof or "aucun (éligibilité non validée)"
    return f"{held.proof or 'sans justificatif'}, validé le {held.validated_on:%d/%m/%Y}"


def _birth_year(held: ParticipantExport) -> str:
    if held.birth_year is None:
        return "non renseignée"
    if held.purged_at is not None:
        return f"{held.birth_year} (ramenée par la purge à ses tranches d'âge)"
    return str(held.birth_year)


def _day(instant: Any, zone: ZoneInfo) -> str:
    return f"{local_date(instant, zone):%d/%m/%Y}"


def _mail_line(mail: Any, zone: ZoneInfo) -> str:
    when = (
        f"envoyé le {_day(mail.sent_at, zone)}"
        if mail.sent_at
        else STATE_LABELS.get(mail.state, mail.state)
    )
    return (
        f"- Courriel n° {mail.outbox_id}, {kind_label(mail.kind)} ({when}) à "
        f"{', '.join(mail.recipients)} : « {mail.subject} » ; le nomme dans : "
        f"{', '.join(mail.places)}"
    )


def _retention(held: ParticipantExport, zone: ZoneInfo) -> str:
    if held.purged_at is not None:
        return (
            f"Anonymisé le {_day(held.purged_at, zone)} par une purge : la référence d'origine, "
            "le justificatif et l'année de naissance exacte ne sont plus détenus."
        )
    rule = f"Données gardées {held.retention} après la fin de sa dernière clause"
    if held.running_clauses:
        running = ", ".join(f"n° {c}" for c in held.running_clauses)
        if len(held.running_clauses) == 1:
            return f"{rule} ; la clause {running} est en cours : gardées tant qu'elle court."
        return f"{rule} ; les clauses {running} sont en cours : gardées tant qu'elles courent."
    assert held.purge_from is not None
    return (
        f"{rule} : dernière activité le {held.last_activity:%d/%m/%Y}, anonymisées par la purge "
        f"à partir du {held.purge_from:%d/%m/%Y} (« clauses privacy purge »)."
    )


def export_json(held: ParticipantExport) -> str:
    """``clauses privacy export --json``'s output, the web's JSON file."""
    return json.dumps(to_jsonable(export_data(held)), ensure_ascii=False, indent=2) + "\n"


# --- purge ----------------------------------------------------------------------------------------


def parse_older_than(text: str | None, field: str = OLDER_THAN) -> Retention | None:
    """The retention typed (``5a``, ``18m``…), None for the setting's; refused in French naming
    ``field`` (the command's option, or the page's field)."""
    if text is None:
        return None
    try:
        return parse_retention(text)
    except ValueError as exc:
        raise InputRefused(f"{field} : {exc}.") from None


def purge_data(report: PurgeReport) -> dict[str, Any]:
    """The report as ``clauses privacy purge --json`` prints it."""
    data: dict[str, Any] = {
        "simulation": report.dry_run,
        "purge": report.purge_id,
        "duree_conservation": report.retention.label,
        "activite_avant_le": report.cutoff,
        "participants": report.participants,
        "lignes_historique": report.history_rows,
        "textes_clauses": report.clause_texts,
        "courriels": report.messages,
        "pieces_jointes": report.attachments,
        "deja_anonymises": report.already_purged,
        "gardes_clause_en_cours": report.running,
    }
    if report.dry_run:
        # Before the purge only: afterwards the references are gone, and must stay so.
        data["a_anonymiser"] = [
            {
                "reference": c.reference,
                "derniere_activite": c.last_activity,
                "clauses": list(c.clause_ids),
            }
            for c in report.candidates
        ]
    return data


def purge_lines(
    report: PurgeReport, *, asked_yes: bool, to_confirm: str = CONFIRM_ON_THE_COMMAND_LINE
) -> list[str]:
    """The report as ``clauses privacy purge`` prints it, a line each (« - » before each
    participant); ``to_confirm`` says how to anonymise after a dry run (a page has a button)."""
    before = f"dernière activité avant le {report.cutoff:%d/%m/%Y}"
    kept = _kept(report)
    if not report.candidates:
        return [
            "Rien à purger : aucun participant n'a toutes ses clauses closes et sa "
            f"{before} ({report.retention.label} de conservation).{kept}"
        ]
    if report.purge_id is not None:
        return [
            f"Purge n° {report.purge_id} ({report.retention.label} de conservation, {before}) : "
            f"{report.summary}",
            "Les chiffres des synthèses et des bilans ne changent pas." + kept,
        ]
    people = plural(report.participants, "participant", "participants")
    lines = [f"À anonymiser ({report.retention.label} de conservation, {before}) : {people}"]
    lines += [
        f"- {c.reference} : dernière activité le {c.last_activity:%d/%m/%Y}"
        + (
            f", {'clauses' if len(c.clause_ids) > 1 else 'clause'} "
            f"{', '.join(f'n° {i}' for i in c.clause_ids)}"
            if c.clause_ids
            else ""
        )
        for c in report.candidates
    ]
    history = plural(report.history_rows, "ligne d'historique", "lignes d'historique")
    texts = plural(report.clause_texts, "texte de clause", "textes de clause")
    mails = plural(report.messages, "courriel", "courriels")
    files = plural(report.attachments, "pièce jointe supprimée", "pièces jointes supprimées")
    lines.append(f"Seraient aussi réécrits : {history}, {texts}, {mails} ; {files}.")
    if report.dry_run and not asked_yes:
        lines.append(f"Rien n'a été modifié : {to_confirm}.")
    else:
        lines.append("Simulation (--dry-run) : rien n'a été modifié.")
    return lines


def _kept(report: PurgeReport) -> str:
    """The participants a purge leaves alone, and why."""
    text = ""
    if report.already_purged:
        text += f" Déjà anonymisés par une purge précédente : {_people(report.already_purged)}."
    if report.running:
        text += f" Gardés, une de leurs clauses étant en cours : {_people(report.running)}."
    return text


def _people(count: int) -> str:
    return plural(count, "participant", "participants")
