"""Personal data (GDPR): what is held on one participant, and the purge past retention.

The work is ``services.privacy``'s (one transaction each, with its history row for a purge);
here a participant is found by what people know of them (``lookup.find_participant``: the
reference the companies write, else the N°), the clock is read once and the actor named.
"""

from __future__ import annotations

from workflow.app.faults import translated_faults
from workflow.app.lookup import find_participant
from workflow.app.unit import actor_of, reading
from workflow.bootstrap import App
from workflow.domain.privacy import Retention
from workflow.errors import NotFound
from workflow.services import privacy
from workflow.services.privacy import HeldCorrection, ParticipantExport, PurgeReport

__all__ = [
    "HeldCorrection",
    "ParticipantExport",
    "PurgeReport",
    "participant_data",
    "purge_participants",
]


def participant_data(app: App, participant: str) -> ParticipantExport:
    """Everything the database holds on ``participant`` (their reference or N°), for the right
    of access (GDPR art. 15)."""
    with reading(app) as session:
        try:
            reference = find_participant(session, participant).reference
        except NotFound:
            # The export says what is missing itself, and why a purged reference is not found.
            reference = participant
    with translated_faults(app):
        return privacy.export_participant(app, reference)


def purge_participants(
    app: App,
    older_than: Retention | None = None,
    *,
    dry_run: bool = False,
    actor: str | None = None,
) -> PurgeReport:
    """Anonymise every participant past retention (``older_than``, else the setting), with its
    history row; with ``dry_run``, only say what would go."""
    now = app.clock()
    with translated_faults(app):
        return privacy.purge(app, older_than, now, actor_of(app, actor), dry_run=dry_run)
