"""The pure rules of personal data: retention periods, the birth year a purge keeps, mentions of
a reference in free text, addresses kept out of the logs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.domain.privacy import (
    MentionRewriter,
    Retention,
    generalised_birth_year,
    mask_addresses,
    parse_retention,
)
from workflow.domain.summary import age_band
from workflow.errors import SettingsInvalid
from workflow.settings import load_settings


@pytest.mark.parametrize(
    ("text", "months", "label"),
    [
        ("5y", 60, "5 ans"),
        ("5a", 60, "5 ans"),
        ("5 ans", 60, "5 ans"),
        ("1 an", 12, "1 an"),
        ("5", 60, "5 ans"),
        ("18m", 18, "18 mois"),
        ("18mois", 18, "18 mois"),
        ("18 MOIS", 18, "18 mois"),
        ("24m", 24, "2 ans"),
        ("3 années", 36, "3 ans"),
    ],
)
def test_it_reads_a_retention_as_people_write_it(text: str, months: int, label: str) -> None:
    retention = parse_retention(text)

    assert retention == Retention(months)
    assert retention.label == label


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("5x", "« 5x » n'est pas une durée : un nombre d'années ou de mois, par exemple 5a"),
        ("cinq ans", "« cinq ans » n'est pas une durée"),
        ("5.5a", "« 5.5a » n'est pas une durée"),
        ("", "«  » n'est pas une durée"),
        ("0m", "« 0m » : une durée d'au moins 1 mois est attendue"),
        ("101a", "« 101a » : 100 ans au plus"),
    ],
)
def test_it_refuses_what_is_not_a_duration_in_french(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_retention(text)


def test_the_cutoff_is_the_same_day_so_many_months_before() -> None:
    assert Retention(60).cutoff(date(2024, 6, 3)) == date(2019, 6, 3)
    assert Retention(18).cutoff(date(2024, 6, 3)) == date(2022, 12, 3)
    # No 29 February in 2023: the last day of that month.
    assert Retention(12).cutoff(date(2024, 2, 29)) == date(2023, 2, 28)
    assert Retention(1).cutoff(date(2024, 3, 31)) == date(2024, 2, 29)


@given(
    st.integers(min_value=1, max_value=120),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2050, 12, 31)),
)
def test_the_first_purge_day_is_the_first_day_past_retention(months: int, last: date) -> None:
    retention = Retention(months)
    first = retention.first_purge_day(last)

    assert retention.is_past(last, first)
    assert not retention.is_past(last, first - timedelta(days=1))
    assert retention.is_past(last, first + timedelta(days=40))


@given(
    st.integers(min_value=1900, max_value=2030),
    st.integers(min_value=1990, max_value=2040),
    st.integers(min_value=0, max_value=30),
)
def test_the_birth_year_kept_gives_the_same_band_every_year(
    born: int, first: int, span: int
) -> None:
    last = first + span
    kept = generalised_birth_year(born, first, last)

    assert kept is not None
    assert [age_band(kept, y) for y in range(first, last + 1)] == [
        age_band(born, y) for y in range(first, last + 1)
    ]


def test_the_birth_year_kept_depends_on_the_bands_only() -> None:
    """Everyone in the 26 to 49 band from 2018 to 2024 gets the same year: 35 in 2018."""
    kept = {generalised_birth_year(born, 2018, 2024) for born in range(1975, 1993)}

    assert kept == {1983}
    assert generalised_birth_year(None, 2018, 2024) is None
    # A band left within the years pins the year down: the reports already tell it.
    assert generalised_birth_year(1993, 2018, 2024) == 1993


def test_a_reference_is_found_as_a_whole_word_in_any_case() -> None:
    rewriter = MentionRewriter({"P-1": "anonyme-a", "P-12": "anonyme-b"})

    assert rewriter.found("P-12 et p-1, puis XP-1 et P-123") == {"p-12", "p-1"}
    assert rewriter.rewrite("P-12 et p-1 ; P-123") == ("anonyme-b et anonyme-a ; P-123", 2)
    assert rewriter.rewrite(None) == (None, 0)


def test_a_reference_is_found_escaped_in_html() -> None:
    rewriter = MentionRewriter({"A&B-1": "anonyme-c"})

    assert rewriter.rewrite_html("<td>A&amp;B-1</td>") == ("<td>anonyme-c</td>", 1)


def test_addresses_keep_their_domain_only() -> None:
    text = "destinataires refusés : sophie.lacoste@example.org : 550 5.1.1 <marc+x@orange.fr>"

    assert mask_addresses(text) == (
        "destinataires refusés : …@example.org : 550 5.1.1 <…@orange.fr>"
    )
    assert mask_addresses(None) is None


# --- settings -------------------------------------------------------------------------------------


def test_the_retention_setting_is_read_like_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUSES_PRIVACY_RETENTION", raising=False)
    assert load_settings().retention == Retention(60)
    assert load_settings(privacy_retention="18mois").retention == Retention(18)
    assert load_settings(privacy_retention=3).retention == Retention(36)  # TOML: years
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(privacy_retention="5 jours")
    assert refused.value.message == (
        "Réglage invalide CLAUSES_PRIVACY_RETENTION = '5 jours' : « 5 jours » n'est pas une "
        "durée : un nombre d'années ou de mois, par exemple 5a (5 ans), 5y, 18m ou 18mois "
        "(18 mois)"
    )


def test_a_refused_setting_never_shows_a_password() -> None:
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(database_url="mysql://clauses:S3cret-db@db.example.org/clauses")
    assert "S3cret-db" not in refused.value.message
    assert "'mysql://clauses:***@db.example.org/clauses'" in refused.value.message
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(smtp_password=["S3cret-smtp"])
    assert "S3cret-smtp" not in refused.value.message
    assert "CLAUSES_SMTP_PASSWORD = '********'" in refused.value.message
