"""Exact money arithmetic: conversion, half-up rounding, proration and allocation.

Amounts are :class:`~decimal.Decimal` values. Every computation that may produce
more digits than the currency allows (a proration, a split) is carried out exactly
with :class:`~fractions.Fraction` and rounded once, at the end, half away from zero
(``ROUND_HALF_UP``), which is what Odoo's ``float_round`` does for monetary values.
Results never depend on the active :mod:`decimal` context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TypeAlias

__all__ = [
    "AmountLike",
    "WeightLike",
    "allocate",
    "prorate",
    "round_money",
    "to_decimal",
    "to_fraction",
]

#: A value accepted wherever an amount is expected.
AmountLike: TypeAlias = "Decimal | int | str | float"
#: A value accepted as an allocation weight.
WeightLike: TypeAlias = "Decimal | int | Fraction"


def to_decimal(value: AmountLike) -> Decimal:
    """Return ``value`` as a finite :class:`~decimal.Decimal`.

    A float goes through its shortest ``repr``, so ``0.1`` becomes ``Decimal('0.1')``
    and not the binary expansion of the float. Strings are parsed with
    :class:`~decimal.Decimal` (surrounding whitespace allowed).

    :param value: a Decimal, an int, a numeric string or a float.
    :raises ValueError: when the value is NaN, infinite or not a number.
    :raises TypeError: when the value is of another type (``bool`` included).
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise TypeError(f"unsupported amount type: {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return result


def to_fraction(value: AmountLike | Fraction) -> Fraction:
    """Return the exact rational value of an amount.

    :param value: a Fraction (returned as is) or anything :func:`to_decimal` accepts.
    :raises ValueError: as :func:`to_decimal`.
    """
    if isinstance(value, Fraction):
        return value
    return Fraction(to_decimal(value))


def _check_decimals(decimals: int) -> None:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError("decimals must be an int")
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")


def _from_units(units: int, decimals: int) -> Decimal:
    """Build ``units * 10**-decimals`` exactly (no context rounding, no negative zero)."""
    sign = 1 if units < 0 else 0
    digits = tuple(int(digit) for digit in str(abs(units)))
    return Decimal((sign, digits, -decimals))


def _round_half_up_units(value: Fraction) -> int:
    """Round a rational number to the nearest integer, halves away from zero."""
    numerator = abs(value.numerator)
    denominator = value.denominator
    units = (2 * numerator + denominator) // (2 * denominator)
    return -units if value < 0 else units


def _round_fraction(value: Fraction, decimals: int) -> Decimal:
    _check_decimals(decimals)
    return _from_units(_round_half_up_units(value * 10**decimals), decimals)


def round_money(amount: AmountLike | Fraction, decimals: int = 2) -> Decimal:
    """Round an amount to ``decimals`` places, halves away from zero.

    ``round_money(2.675)`` is ``Decimal('2.68')`` (the float is read as ``2.675``),
    ``round_money('-0.125')`` is ``Decimal('-0.13')``.

    :param amount: the amount (a Fraction is accepted and rounded exactly).
    :param decimals: number of decimal places of the currency, ``>= 0``.
    :return: a Decimal with exactly ``decimals`` places.
    """
    return _round_fraction(to_fraction(amount), decimals)


def prorate(amount: AmountLike | Fraction, fraction: Fraction | int, decimals: int = 2) -> Decimal:
    """Return ``amount * fraction`` computed exactly and rounded once, half up.

    ``prorate(Decimal('100'), Fraction(1, 3))`` is ``Decimal('33.33')``;
    ``prorate('0.05', Fraction(1, 2))`` is ``Decimal('0.03')``.

    :param amount: the full amount (a Fraction is accepted for exact differences).
    :param fraction: the share to bill, any rational number.
    :param decimals: number of decimal places of the currency.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (Fraction, int)):
        raise TypeError("fraction must be a fractions.Fraction or an int")
    return _round_fraction(to_fraction(amount) * Fraction(fraction), decimals)


def _to_weight(weight: WeightLike) -> Fraction:
    if isinstance(weight, bool):
        raise TypeError("a boolean is not a weight")
    if isinstance(weight, (Fraction, int)):
        result = Fraction(weight)
    elif isinstance(weight, (Decimal, float)):
        result = to_fraction(weight)
    else:
        raise TypeError(f"unsupported weight type: {type(weight).__name__}")
    if result < 0:
        raise ValueError(f"weights must not be negative, got {weight!r}")
    return result


def allocate(
    total: AmountLike | Fraction, weights: Sequence[WeightLike], decimals: int = 2
) -> list[Decimal]:
    """Split ``total`` proportionally to ``weights`` so that the parts add up exactly.

    The total is first rounded with :func:`round_money`; each part receives the floor
    of its exact share (in units of ``10**-decimals``), and the units left over go one
    each to the parts with the largest remainders (the earliest part wins a tie).
    A negative total is split like its absolute value, then negated.

    ``allocate(Decimal('100'), [1, 1, 1])`` is ``[33.34, 33.33, 33.33]``.

    :param total: the amount to split.
    :param weights: non-negative weights, at least one of them positive.
    :param decimals: number of decimal places of the currency.
    :return: one Decimal per weight, in order, summing to ``round_money(total)``.
    :raises ValueError: when there are no weights, a weight is negative or all are zero.
    """
    _check_decimals(decimals)
    shares = [_to_weight(weight) for weight in weights]
    weight_sum = sum(shares, Fraction(0))
    if weight_sum == 0:
        raise ValueError("at least one weight must be positive")
    total_units = _round_half_up_units(to_fraction(total) * 10**decimals)
    sign = -1 if total_units < 0 else 1
    units = abs(total_units)
    quotas = [units * share / weight_sum for share in shares]
    parts = [math.floor(quota) for quota in quotas]
    left = units - sum(parts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return [_from_units(sign * part, decimals) for part in parts]
