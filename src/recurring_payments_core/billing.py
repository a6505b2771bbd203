"""Billing decisions that combine the schedule and money rules.

Everything here is a pure function of its arguments: the addons turn records into plain
values, call these functions with an explicit date and write the result back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from .money import prorate, round_money, to_decimal
from .schedule import BillingMode, Period, PeriodUnit, ScheduleError, ScheduleErrorCode

#: Average number of days and weeks in a month, over the 400-year Gregorian cycle.
DAYS_PER_MONTH = Fraction(146097, 4800)
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7


def monthly_factor(unit: PeriodUnit, interval: int) -> Fraction:
    """Return the factor turning the price of one period into a monthly amount (MRR).

    A quarterly price (3 months) is divided by 3, a yearly one by 12, a weekly one is
    multiplied by the average number of weeks in a month.
    """
    if interval < 1:
        raise ScheduleError(ScheduleErrorCode.INTERVAL_NOT_POSITIVE, interval=interval)
    unit = PeriodUnit(unit)
    per_period_months = {
        PeriodUnit.DAY: Fraction(1) / DAYS_PER_MONTH,
        PeriodUnit.WEEK: Fraction(1) / WEEKS_PER_MONTH,
        PeriodUnit.MONTH: Fraction(1),
        PeriodUnit.YEAR: Fraction(12),
    }[unit]
    return 1 / (per_period_months * interval)


@dataclass(frozen=True)
class LineAmount:
    """One recurring line as the core sees it: quantity × unit price less a discount (%)."""

    quantity: Decimal
    price_unit: Decimal
    discount: Decimal = Decimal(0)

    def subtotal(self, decimals: int = 2) -> Decimal:
        """Untaxed amount of the line for a full period, rounded to the currency."""
        gross = to_decimal(self.quantity) * to_decimal(self.price_unit)
        return round_money(gross * (1 - to_decimal(self.discount) / 100), decimals)

    def prorated(self, fraction: Fraction, decimals: int = 2) -> Decimal:
        """Untaxed amount of the line for ``fraction`` of a period, rounded once."""
        gross = to_decimal(self.quantity) * to_decimal(self.price_unit)
        return prorate(gross * (1 - to_decimal(self.discount) / 100), fraction, decimals)


def mid_period_change(
    period: Period,
    change_date: date,
    old_amount: Decimal,
    new_amount: Decimal,
    mode: BillingMode,
    *,
    decimals: int = 2,
) -> Decimal:
    """Return the adjustment due when a recurring amount changes inside a period.

    ``change_date`` is the first day at the new amount. In advance, the period was billed
    at ``old_amount``: the difference is due for the days left, ``change_date`` included.
    In arrears, the period will be billed at ``new_amount`` as a whole: the difference is
    returned for the days already used at the old amount. A positive result is to be
    invoiced, a negative one credited. Either way the customer pays exactly the days used
    at each amount, to the cent.
    """
    if change_date not in period:
        raise ScheduleError(
            ScheduleErrorCode.DATE_OUTSIDE_PERIOD,
            date=change_date,
            start=period.start,
            end=period.end,
        )
    old_amount, new_amount = to_decimal(old_amount), to_decimal(new_amount)
    if BillingMode(mode) == BillingMode.ADVANCE:
        days_left = (period.end - change_date).days + 1
        return prorate(new_amount - old_amount, Fraction(days_left, period.days), decimals)
    days_used = (change_date - period.start).days
    return prorate(old_amount - new_amount, Fraction(days_used, period.days), decimals)
