"""The sentences a monthly summary adds above its figures: declarations changed since the
recipient's previous summary, and a summary late after a stop of the service."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from workflow.domain.monthly_summary import DeclarationChange, summary_late
from workflow.emails.summaries import changes_notice, late_notice, sample_summary

PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"


def plain(text: str) -> str:
    return text.replace(NBSP, " ")


def change(company: str, before: str, after: str | None, **more: object) -> DeclarationChange:
    values: dict[str, object] = {
        "clause_id": 1, "buyer_id": 1, "buyer": "Ville d'Auch", "company": company,
        "month": date(2026, 10, 1), "before": Decimal(before),
        "after": None if after is None else Decimal(after),
        "changed_at": datetime(2026, 12, 7, 14, 0, tzinfo=UTC),
    }  # fmt: skip
    values.update(more)
    return DeclarationChange(**values)  # type: ignore[arg-type]


def test_several_changes_are_one_sentence_and_a_line_each() -> None:
    summary = replace(
        sample_summary(buyer=True),
        changes=(
            change("Bâtiments Gascons SARL", "370.17", "334.17"),
            change("Voirie du Gers", "120", None),
            change("Charpentes d'Oc", "80", "95", cancelled=True, clause_id=3),
        ),
    )
    notice = changes_notice(summary)
    assert notice is not None
    assert plain(notice["intro"]) == (
        "Depuis ma synthèse précédente, 3 déclarations qu'elle avait comptées ont été corrigées "
        "ou annulées ; le cumul en tient compte :"
    )
    assert [plain(i) for i in notice["items"]] == [
        "La déclaration d'octobre 2026 de Bâtiments Gascons SARL (clause n° 1) a été corrigée "
        "le 7 décembre 2026 : 370,17 h → 334,17 h ;",
        "La déclaration d'octobre 2026 de Voirie du Gers (clause n° 1) a été annulée le 7 "
        "décembre 2026 : ses 120 h ne sont plus comptées ;",
        "La déclaration d'octobre 2026 de Charpentes d'Oc (clause n° 3) a été annulée puis "
        "déclarée de nouveau le 7 décembre 2026 : 80 h → 95 h.",
    ]
    # The facilitator reads the buyer too.
    facilitator = replace(sample_summary(), changes=summary.changes[:1])
    notice = changes_notice(facilitator)
    assert notice is not None and notice["items"] == []
    assert "(clause n° 1, Ville d'Auch) a été corrigée" in plain(notice["intro"])


def test_late_means_more_than_one_working_day_after_the_planned_moment() -> None:
    planned = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # Tuesday 1 December, 08:00 in Paris
    assert not summary_late(planned, datetime(2026, 12, 2, 7, 0, tzinfo=UTC), PARIS)
    assert summary_late(planned, datetime(2026, 12, 2, 7, 1, tzinfo=UTC), PARIS)
    friday = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    # Friday's summary read on Monday at the same hour: one working day, not late.
    assert not summary_late(friday, datetime(2026, 12, 7, 7, 0, tzinfo=UTC), PARIS)
    summary = replace(
        sample_summary(buyer=True),
        compiled_at=datetime(2026, 12, 4, 9, 15, tzinfo=UTC),
        delayed_from=planned,
        zone=PARIS,
    )
    assert plain(late_notice(summary) or "") == (
        "Cette synthèse aurait dû vous parvenir le 1er décembre 2026 ; le service était "
        "interrompu. Les chiffres sont ceux du 4 décembre 2026 à 10 h 15, moment où je l'ai "
        "établie."
    )
    assert late_notice(replace(summary, delayed_from=None)) is None
