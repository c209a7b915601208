"""What the database holds on one participant (GDPR art. 15), for the dashboard's page
« Données détenues (RGPD) » (/corrections/participants/{N}/donnees).

The page knows a participant by their N° (the address of their correction page), the command
line by their reference: the N° is turned into the reference here, then the export is the one
``clauses privacy export`` reads (``app.privacy.participant_data``), nothing queried again.

Like the command, reading the export writes no history row: the service keeps no journal of
reads, and none is invented here.
"""

from __future__ import annotations

from workflow.adapters.orm import Participant
from workflow.app.privacy import ParticipantExport, participant_data
from workflow.app.unit import reading
from workflow.app.web_corrections import _get
from workflow.bootstrap import App
from workflow.errors import NotFound

__all__ = ["ParticipantExport", "participant_export"]


def participant_export(app: App, participant_id: int) -> ParticipantExport:
    """Everything held on the participant N° ``participant_id``, as ``clauses privacy export
    --participant`` gives it; ``NotFound`` when no participant has this N°."""
    with reading(app) as session:
        participant = _get(session, Participant, participant_id)
        if participant is None:
            raise NotFound(
                f"Aucun participant n° {participant_id} : la recherche retrouve un participant "
                "par sa référence."
            )
        # The reference, not the N°: ``participant_data`` tries a reference first, and another
        # participant's reference may be this N° written out (« 12 »).
        reference = participant.reference
    return participant_data(app, reference)
