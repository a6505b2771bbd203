"""Tests of recurring_payments_core.money: conversion, rounding, proration, allocation."""

from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recurring_payments_core.money import (
    allocate,
    prorate,
    round_money,
    to_decimal,
    to_fraction,
)

D = Decimal

amounts = st.decimals(
    min_value=D("-1000000"), max_value=D("1000000"), places=2, allow_nan=False, allow_infinity=False
)
decimal_places = st.integers(min_value=0, max_value=4)


# === to_decimal === #


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, D("0.1")),
        (2.675, D("2.675")),
        (-1.5, D("-1.5")),
        (1e-7, D("1E-7")),
        (10, D("10")),
        (-3, D("-3")),
        ("12.345", D("12.345")),
        (" 7.10 ", D("7.10")),
        (D("0.30"), D("0.30")),
    ],
)
def test_to_decimal_converts(value, expected):
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected
    assert str(result) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        "NaN",
        "sNaN",
        "Infinity",
        "-inf",
        D("NaN"),
        D("Infinity"),
        "abc",
        "",
        "1,5",
    ],
)
def test_to_decimal_rejects_non_finite_and_garbage(value):
    with pytest.raises(ValueError, match=r"finite|not a number"):
        to_decimal(value)


@pytest.mark.parametrize("value", [True, None, [1], Fraction(1, 3)])
def test_to_decimal_rejects_other_types(value):
    with pytest.raises(TypeError):
        to_decimal(value)


def test_to_fraction_is_exact():
    assert to_fraction(0.1) == Fraction(1, 10)
    assert to_fraction("-2.675") == Fraction(-2675, 1000)
    assert to_fraction(Fraction(1, 3)) == Fraction(1, 3)
    assert to_fraction(D("1E+3")) == 1000


# === round_money === #


@pytest.mark.parametrize(
    ("amount", "decimals", "expected"),
    [
        (2.675, 2, "2.68"),  # float 2.675 is read as written, then rounded half up
        (-2.675, 2, "-2.68"),
        ("0.125", 2, "0.13"),
        ("0.124999", 2, "0.12"),
        ("-0.005", 2, "-0.01"),
        ("-0.004", 2, "0.00"),
        (2.5, 0, "3"),
        (-2.5, 0, "-3"),
        ("1.0005", 3, "1.001"),
        (7, 2, "7.00"),
        ("1234567890123456789012345678.905", 2, "1234567890123456789012345678.91"),
        (Fraction(1, 3), 2, "0.33"),
        (Fraction(-2, 3), 2, "-0.67"),
    ],
)
def test_round_money_half_up(amount, decimals, expected):
    result = round_money(amount, decimals)
    assert str(result) == expected


def test_round_money_ignores_decimal_context():
    with localcontext() as context:
        context.prec = 3
        assert str(round_money(D("123456.785"))) == "123456.79"


def test_round_money_rejects_negative_decimals():
    with pytest.raises(ValueError, match="decimals"):
        round_money(D("1"), -1)


@settings(max_examples=200, deadline=None)
@given(amount=st.decimals(min_value=-(10**9), max_value=10**9, places=6), decimals=decimal_places)
def test_round_money_is_within_half_a_unit_and_idempotent(amount, decimals):
    result = round_money(amount, decimals)
    unit = D(1).scaleb(-decimals)
    assert abs(result - amount) <= unit / 2
    assert result.as_tuple().exponent == -decimals
    assert round_money(result, decimals) == result
    assert round_money(-amount, decimals) == -result


# === prorate === #


@pytest.mark.parametrize(
    ("amount", "fraction", "decimals", "expected"),
    [
        ("100", Fraction(1, 3), 2, "33.33"),
        ("100", Fraction(2, 3), 2, "66.67"),
        ("10", Fraction(1, 8), 2, "1.25"),
        ("0.05", Fraction(1, 2), 2, "0.03"),
        ("-0.05", Fraction(1, 2), 2, "-0.03"),
        ("30.00", Fraction(15, 30), 2, "15.00"),
        ("29.99", Fraction(17, 31), 2, "16.45"),  # 16.4461...
        ("1000", Fraction(1, 3), 0, "333"),
        ("45", Fraction(1), 2, "45.00"),
        ("45", 0, 2, "0.00"),
        (Fraction(1, 3), Fraction(3), 2, "1.00"),  # exact, not 0.33 * 3
    ],
)
def test_prorate_table(amount, fraction, decimals, expected):
    assert str(prorate(amount, fraction, decimals)) == expected


def test_prorate_rounds_once():
    """B-7: 0.10 * 1/3 * 3 computed exactly is 0.10, rounding twice would give 0.09."""
    assert prorate(D("0.10"), Fraction(1, 3) * 3) == D("0.10")
    assert prorate(prorate(D("0.10"), Fraction(1, 3)), 3) == D("0.09")


def test_prorate_rejects_float_fraction():
    with pytest.raises(TypeError):
        prorate(D("10"), 0.5)


@settings(max_examples=300, deadline=None)
@given(
    amount=amounts,
    numerator=st.integers(min_value=0, max_value=400),
    denominator=st.integers(min_value=1, max_value=400),
    decimals=decimal_places,
)
def test_prorate_within_half_unit_of_exact_value(amount, numerator, denominator, decimals):
    """B-7: a proration is the exact product rounded once, within half a cent of it."""
    fraction = Fraction(numerator, denominator)
    result = prorate(amount, fraction, decimals)
    exact = Fraction(amount) * fraction
    assert abs(Fraction(result) - exact) <= Fraction(1, 2 * 10**decimals)
    assert result.as_tuple().exponent == -decimals
    assert prorate(-amount, fraction, decimals) == -result


# === allocate === #


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        ("100", [1, 1, 1], ["33.34", "33.33", "33.33"]),
        ("-100", [1, 1, 1], ["-33.34", "-33.33", "-33.33"]),
        ("10", [0, 1], ["0.00", "10.00"]),
        ("-10", [0, 1], ["0.00", "-10.00"]),
        ("0.005", [1, 1], ["0.01", "0.00"]),  # total rounded first, tie to the first part
        ("1", [D("0.2"), D("0.3"), D("0.5")], ["0.20", "0.30", "0.50"]),
        ("100", [Fraction(1, 3), Fraction(2, 3)], ["33.33", "66.67"]),
        ("0.05", [1, 1, 1, 1, 1, 1], ["0.01", "0.01", "0.01", "0.01", "0.01", "0.00"]),
        ("31", [17, 14], ["17.00", "14.00"]),
        ("29.99", [17, 14], ["16.45", "13.54"]),
        ("0", [3, 4], ["0.00", "0.00"]),
    ],
)
def test_allocate_table(total, weights, expected):
    assert [str(part) for part in allocate(total, weights)] == expected


def test_allocate_largest_remainder_wins():
    # exact shares 1.666..., 3.333... -> floors 1 and 3 -> one cent to the larger remainder
    assert allocate(D("0.05"), [1, 2]) == [D("0.02"), D("0.03")]
    # JPY: no decimals
    assert allocate(100, [1, 1, 1], decimals=0) == [D("34"), D("33"), D("33")]


@pytest.mark.parametrize("weights", [[], [0], [0, 0, 0], [D("0"), Fraction(0)]])
def test_allocate_rejects_all_zero_weights(weights):
    with pytest.raises(ValueError, match="positive"):
        allocate(D("10"), weights)


def test_allocate_rejects_negative_weight():
    with pytest.raises(ValueError, match="negative"):
        allocate(D("10"), [2, -1])


@settings(max_examples=300, deadline=None)
@given(
    total=amounts,
    weights=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12).filter(
        any
    ),
    decimals=decimal_places,
)
def test_allocate_sums_exactly(total, weights, decimals):
    """B-7: allocated parts add up exactly to the rounded total, each within one unit of its share."""  # noqa: E501
    parts = allocate(total, weights, decimals)
    rounded = round_money(total, decimals)
    assert len(parts) == len(weights)
    assert sum(parts, D(0)) == rounded
    unit = Fraction(1, 10**decimals)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(rounded) * weight / sum(weights)
        assert abs(Fraction(part) - exact) < unit
        assert part.as_tuple().exponent == -decimals
        if weight == 0:
            assert part == 0
    assert allocate(-total, weights, decimals) == [-part for part in parts]
