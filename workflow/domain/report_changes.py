"""What changed a lot's figures since its final report: the one rule the closure guard
(``services.clauses``), the report recorded again (« Ce bilan remplace celui du … »,
``services.notices.report_replaced``) and the day's tasks (« Bilans à mettre à jour »,
``services.digest``) all read, so that none of them tells a change the others ignore."""

from __future__ import annotations

from collections.abc import Iterable

from workflow.domain.stages import history_label

#: The history events that change what a final report says (hours, people, outcomes, target,
#: end): one after the report makes it outdated.
FIGURE_EVENTS = (
    "declaration",
    "declaration_cancelled",
    "outcome",
    "hours_override",
    "parameters",
    "end_date_corrected",
)

#: The history event of a final report recorded.
FINAL_REPORT_EVENT = "final_report"


def figure_changes(events: Iterable[str]) -> tuple[str, ...]:
    """The French labels (« déclaration mensuelle », « sortie d'un participant »…) of the
    figure-changing events among ``events`` (history events in their order, those after a
    report), each once, in the order of its first occurrence; the other events are left out."""
    changes: list[str] = []
    for event in events:
        if event in FIGURE_EVENTS:
            label = history_label(event)
            if label not in changes:
                changes.append(label)
    return tuple(changes)
