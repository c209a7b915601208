"""The hours calculation: the worked example, the sample territory's lots, rounding down, and every
way a person may type the figures (or get them wrong)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from workflow.domain.hours import (
    LOW_HOURS_WARNING,
    check_money,
    check_ratio_precision,
    compute_hours,
    format_decimal,
    format_euros,
    format_percent,
    parse_decimal,
    parse_positive,
    parse_ratio,
)
from workflow.errors import InputRefused


def hours(amount: str, share: str, rate: str, cost: str) -> int:
    return compute_hours(
        parse_positive(amount, "montant"),
        parse_ratio(share, "part"),
        parse_ratio(rate, "taux"),
        parse_positive(cost, "coût"),
    ).hours


def test_it_gives_833_hours_for_the_worked_example() -> None:
    assert hours("1000000", "0.5", "0.05", "30") == 833


@pytest.mark.parametrize(
    ("amount", "share", "rate", "cost", "expected"),
    [
        ("3 780 000", "50 %", "7,5 %", "30", 4725),  # the middle school's main lot
        ("640000", "40%", "5%", "30", 426),
        ("310000", "70%", "10%", "28,50", 761),
        ("455000", "45%", "5%", "30", 341),
    ],
)
def test_it_computes_the_sample_territory_lots(
    amount: str, share: str, rate: str, cost: str, expected: int
) -> None:
    assert hours(amount, share, rate, cost) == expected


def test_it_rounds_down_even_just_below_the_next_hour() -> None:
    # 29 999,99 x 100 % x 100 % / 30 = 999.99966...: never rounded up to 1000.
    assert hours("29999.99", "1", "1", "30") == 999
    assert hours("30000", "1", "1", "30") == 1000


def test_it_keeps_an_exact_whole_result_whole() -> None:
    # 4725 exactly: a float would give 4724.999... on some inputs; the fraction never does.
    calculation = compute_hours(Decimal("3780000"), Decimal("0.5"), Decimal("0.075"), Decimal(30))
    assert calculation.is_whole
    assert calculation.hours == 4725
    assert calculation.exact == Decimal(4725)


def test_it_writes_the_calculation_note_in_french() -> None:
    calculation = compute_hours(Decimal(1_000_000), Decimal("0.5"), Decimal("0.05"), Decimal(30))
    note = "\n".join(calculation.note())
    assert "Note de calcul des heures d'insertion" in note
    assert "montant HT × part de main-d'œuvre × taux d'insertion ÷ coût horaire" in note
    assert "= 1 000 000 € × 50 % × 5 % ÷ 30 €/h" in note
    assert "= 833,33… h (valeur exacte)" in note
    assert "(arrondi à l'heure inférieure) : 833 h" in note
    assert "Attention" not in note
    assert calculation.warning() is None


def test_it_writes_an_exact_result_without_ellipsis() -> None:
    calculation = compute_hours(Decimal(455_000), Decimal("0.45"), Decimal("0.05"), Decimal(30))
    assert calculation.exact_text() == "341,25 h"
    assert (
        "28,50 €/h"
        in compute_hours(
            Decimal(310_000), Decimal("0.7"), Decimal("0.1"), Decimal("28.5")
        ).formula()
    )


def test_it_warns_under_150_hours_without_refusing() -> None:
    calculation = compute_hours(Decimal(90_000), Decimal("0.3"), Decimal("0.05"), Decimal(30))
    assert calculation.hours == 45
    assert calculation.is_low
    warning = calculation.warning()
    assert warning is not None
    assert "45 h, c'est moins de 150 heures" in warning
    assert calculation.note()[-1] == warning


def test_it_does_not_warn_at_exactly_150_hours() -> None:
    calculation = compute_hours(Decimal(9_000), Decimal(1), Decimal("0.5"), Decimal(30))
    assert calculation.hours == LOW_HOURS_WARNING
    assert not calculation.is_low


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000000", Decimal(1_000_000)),
        ("1 000 000", Decimal(1_000_000)),
        ("1\u00a0000\u00a0000", Decimal(1_000_000)),
        ("1\u202f000\u202f000,00", Decimal(1_000_000)),
        ("1.000.000", Decimal(1_000_000)),
        ("1.234,56", Decimal("1234.56")),
        ("28,50", Decimal("28.5")),
        ("28.5", Decimal("28.5")),
        ("3 780 000 €", Decimal(3_780_000)),
        (30, Decimal(30)),
        (Decimal("2.5"), Decimal("2.5")),
    ],
)
def test_it_reads_numbers_as_french_spreadsheets_write_them(
    text: str | int | Decimal, expected: Decimal
) -> None:
    assert parse_decimal(text, "Montant") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5", Decimal("0.5")),
        ("0,5", Decimal("0.5")),
        ("50%", Decimal("0.5")),
        ("50 %", Decimal("0.5")),
        ("7,5 %", Decimal("0.075")),
        ("100 %", Decimal(1)),
        ("1", Decimal(1)),
    ],
)
def test_it_reads_shares_and_rates_as_decimals_or_percentages(text: str, expected: Decimal) -> None:
    assert parse_ratio(text, "Taux") == expected


@pytest.mark.parametrize("text", ["abc", "", "1,2,3", "5 0 %x", "NaN", "Infinity"])
def test_it_refuses_what_is_not_a_number_and_names_the_field(text: str) -> None:
    with pytest.raises(InputRefused) as refused:
        parse_positive(text, "--amount (montant HT)")
    assert refused.value.message.startswith("--amount (montant HT) : ")
    assert f"« {text} »" in refused.value.message


@pytest.mark.parametrize("text", ["0", "-5", "-1 000"])
def test_it_refuses_an_amount_or_cost_that_is_not_positive(text: str) -> None:
    with pytest.raises(InputRefused) as refused:
        parse_positive(text, "--hourly-cost (coût horaire chargé)")
    assert "doit être strictement positif" in refused.value.message
    assert "--hourly-cost" in refused.value.message


@pytest.mark.parametrize("text", ["0", "0 %", "-0,1", "1,5", "150 %"])
def test_it_refuses_a_ratio_outside_zero_to_one(text: str) -> None:
    with pytest.raises(InputRefused) as refused:
        parse_ratio(text, "--rate (taux d'insertion)")
    message = refused.value.message
    assert message.startswith("--rate (taux d'insertion) : ")
    assert "doit être compris entre 0 (exclu) et 1, par exemple 0,5 ou 50 %" in message


def test_it_suggests_a_percentage_when_the_sign_was_forgotten() -> None:
    with pytest.raises(InputRefused) as refused:
        parse_ratio("50", "--labour-share (part de main-d'œuvre)")
    assert "vouliez-vous dire 50 % ?" in refused.value.message


@pytest.mark.parametrize(
    ("amount", "share", "rate", "cost", "words"),
    [
        (Decimal(0), Decimal("0.5"), Decimal("0.05"), Decimal(30), "Montant HT"),
        (Decimal(100), Decimal("0.5"), Decimal("0.05"), Decimal(0), "Coût horaire chargé"),
        (Decimal(100), Decimal("1.5"), Decimal("0.05"), Decimal(30), "Part main-d'œuvre"),
        (Decimal(100), Decimal("0.5"), Decimal(0), Decimal(30), "Taux d'insertion"),
    ],
)
def test_it_refuses_bad_figures_given_directly(
    amount: Decimal, share: Decimal, rate: Decimal, cost: Decimal, words: str
) -> None:
    with pytest.raises(InputRefused) as refused:
        compute_hours(amount, share, rate, cost)
    assert words in refused.value.message


def test_it_refuses_more_precision_than_the_database_keeps() -> None:
    assert check_money(Decimal("28.50"), "Coût") == Decimal("28.5")
    with pytest.raises(InputRefused, match="plus de deux décimales"):
        check_money(Decimal("28.505"), "Coût horaire chargé")
    assert check_ratio_precision(Decimal("0.075"), "Taux") == Decimal("0.075")
    with pytest.raises(InputRefused, match="trop précis"):
        check_ratio_precision(Decimal("0.3333333"), "Taux d'insertion")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal(0), "0"),
        (Decimal(999), "999"),
        (Decimal(1000), "1 000"),
        (Decimal("1234567.891"), "1 234 567,89"),
        (Decimal("-4725"), "-4 725"),
    ],
)
def test_it_writes_numbers_the_french_way(value: Decimal, text: str) -> None:
    assert format_decimal(value) == text


def test_it_writes_euros_and_percentages_the_french_way() -> None:
    assert format_euros(Decimal(1_000_000)) == "1 000 000 €"
    assert format_euros(Decimal("28.5")) == "28,50 €"
    assert format_percent(Decimal("0.075")) == "7,5 %"
    assert format_percent(Decimal("0.5")) == "50 %"


def test_an_amount_beyond_any_contract_is_a_typing_slip() -> None:
    with pytest.raises(InputRefused, match="Montant HT : plus de 1 000 milliards d'euros"):
        compute_hours(Decimal("1e400"), Decimal("0.5"), Decimal("0.05"), Decimal(30))
    with pytest.raises(InputRefused, match="Coût horaire chargé : plus de 1 000 milliards"):
        check_money(Decimal("1e13"), "Coût horaire chargé")
