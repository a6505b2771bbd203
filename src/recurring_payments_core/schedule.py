"""Billing periods of a subscription: recurrences, stubs, trials, pauses and proration.

Everything here is a pure function of its arguments: no clock, no environment, no
randomness. The caller passes ``today`` explicitly and turns the error codes of
:class:`ScheduleError` into messages.

Periods are laid on a *grid*: the ``k``-th period of a grid segment starts at
``recurrence.shift(origin, k, anchor_day)`` and ends the day before
``recurrence.shift(origin, k + 1, anchor_day)``. Dates are always computed from the
segment origin, never from the previous period, so month ends do not drift (a monthly
grid anchored on the 31st runs 31 Jan, 28/29 Feb, 31 Mar, 30 Apr, 31 May...), and
consecutive periods are contiguous by construction.

A pause starting inside a period lengthens that period by the paused days (the
customer gets the same number of service days) and starts a new grid segment the day
after; a pause starting before the first billing day pushes it back by its length.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from .errors import CoreError
from .money import AmountLike, prorate, round_money, to_fraction

__all__ = [
    "BillingEvent",
    "BillingMode",
    "BillingTerms",
    "Pause",
    "Period",
    "PeriodUnit",
    "Recurrence",
    "ScheduleError",
    "ScheduleErrorCode",
    "cancellation_credit",
    "change_adjustment",
    "day_fraction",
    "due_billing_events",
    "iter_billing_events",
    "next_billing_event",
    "to_local_date",
]

_ONE_DAY = timedelta(days=1)


class PeriodUnit(str, Enum):
    """Unit of a recurrence."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class BillingMode(str, Enum):
    """When a period is invoiced: on its first day, or on the day after its last day."""

    ADVANCE = "advance"
    ARREARS = "arrears"


class ScheduleErrorCode(str, Enum):
    """Reasons why schedule input is refused; the caller maps them to messages."""

    INTERVAL_NOT_POSITIVE = "interval_not_positive"
    ANCHOR_DAY_OUT_OF_RANGE = "anchor_day_out_of_range"
    END_BEFORE_START = "end_before_start"
    #: a pause resumes on or before its first day, starts before the service start,
    #: or pauses are unsorted or overlap.
    PAUSE_INVALID = "pause_invalid"
    DATE_OUTSIDE_PERIOD = "date_outside_period"
    NAIVE_DATETIME = "naive_datetime"


class ScheduleError(CoreError):
    """Invalid schedule input.

    :ivar code: the :class:`ScheduleErrorCode` saying what is wrong.
    :ivar params: the offending values, by name, for the caller's message.
    """

    codes = ScheduleErrorCode


# === HELPERS === #


def _check_date(value: object, name: str) -> None:
    """Refuse anything but a plain date (a datetime would compare wrongly with dates)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date, got {type(value).__name__}")


def _check_anchor_day(anchor_day: int | None) -> None:
    if anchor_day is None:
        return
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int):
        raise TypeError("anchor_day must be an int or None")
    if not 1 <= anchor_day <= 31:
        raise ScheduleError(ScheduleErrorCode.ANCHOR_DAY_OUT_OF_RANGE, anchor_day=anchor_day)


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _add_months(origin: date, months: int, day: int) -> date:
    """Return the date ``months`` months after ``origin`` on ``day`` (capped to the month end)."""
    year, month_index = divmod(origin.year * 12 + origin.month - 1 + months, 12)
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError("date value out of range")
    month = month_index + 1
    return date(year, month, min(day, _days_in_month(year, month)))


# === VALUE OBJECTS === #


@dataclass(frozen=True)
class Recurrence:
    """A repetition: every ``interval`` ``unit`` (every 3 months, every 2 weeks...).

    :param unit: the period unit (a :class:`PeriodUnit` or its value).
    :param interval: number of units per period, ``>= 1``.
    :raises ScheduleError: ``INTERVAL_NOT_POSITIVE`` when ``interval < 1``.
    """

    unit: PeriodUnit
    interval: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", PeriodUnit(self.unit))
        if isinstance(self.interval, bool) or not isinstance(self.interval, int):
            raise TypeError("interval must be an int")
        if self.interval < 1:
            raise ScheduleError(ScheduleErrorCode.INTERVAL_NOT_POSITIVE, interval=self.interval)

    def shift(self, origin: date, count: int, anchor_day: int | None = None) -> date:
        """Return ``origin`` moved by ``count * interval`` units (``count`` may be negative).

        For months and years the day of the result is ``min(anchor_day or origin.day,
        length of the target month)``. It is computed from ``origin`` directly, never
        step by step, so from 31 Jan 2024 one month is 29 Feb and two months are 31 Mar.
        ``anchor_day`` is ignored for days and weeks.

        :raises ScheduleError: ``ANCHOR_DAY_OUT_OF_RANGE`` when ``anchor_day`` is not 1..31.
        :raises OverflowError: when the result is outside the range of :class:`date`.
        """
        _check_date(origin, "origin")
        _check_anchor_day(anchor_day)
        steps = count * self.interval
        if self.unit is PeriodUnit.DAY:
            return origin + timedelta(days=steps)
        if self.unit is PeriodUnit.WEEK:
            return origin + timedelta(weeks=steps)
        months = steps if self.unit is PeriodUnit.MONTH else 12 * steps
        return _add_months(origin, months, anchor_day or origin.day)


@dataclass(frozen=True)
class Period:
    """A span of days, both ends included.

    :raises ScheduleError: ``END_BEFORE_START`` when ``end < start``.
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        _check_date(self.start, "start")
        _check_date(self.end, "end")
        if self.end < self.start:
            raise ScheduleError(ScheduleErrorCode.END_BEFORE_START, start=self.start, end=self.end)

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included (at least 1)."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"day must be a datetime.date, got {type(day).__name__}")
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Pause:
    """An interruption of service.

    :param start: first day without service.
    :param end: resume date, the first day of service again (excluded from the pause).
    :raises ScheduleError: ``PAUSE_INVALID`` when ``end <= start``.
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        _check_date(self.start, "start")
        _check_date(self.end, "end")
        if self.end <= self.start:
            raise ScheduleError(ScheduleErrorCode.PAUSE_INVALID, start=self.start, end=self.end)

    @property
    def days(self) -> int:
        """Number of days without service."""
        return (self.end - self.start).days


@dataclass(frozen=True)
class BillingTerms:
    """Everything that decides the billing periods of a subscription.

    :param recurrence: the billing recurrence.
    :param start_date: first day of service, trial included.
    :param mode: invoice in advance (first day of the period) or in arrears (the day
        after its last day).
    :param trial: free trial length counted from ``start_date``, not billed.
    :param end_date: last day of service, included; ``None`` for an open-ended
        subscription.
    :param anchor_day: for monthly and yearly recurrences, the day of the month (1..31)
        the periods are aligned on (capped to the month end; yearly periods start in the
        month of the billing start). A billing start off that day gets a prorated stub
        first: the part of the grid period holding it. ``None`` aligns on the billing
        start. Ignored for daily and weekly recurrences.
    :param pauses: interruptions of service, sorted and non-overlapping, none starting
        before ``start_date``; pauses starting after ``end_date`` are ignored.
    :raises ScheduleError: ``ANCHOR_DAY_OUT_OF_RANGE``, ``END_BEFORE_START`` (end date
        before the start date), ``PAUSE_INVALID`` (unsorted or overlapping pauses, or
        a pause starting before the start date).
    """

    recurrence: Recurrence
    start_date: date
    mode: BillingMode = BillingMode.ADVANCE
    trial: Recurrence | None = None
    end_date: date | None = None
    anchor_day: int | None = None
    pauses: tuple[Pause, ...] = ()

    def __post_init__(self) -> None:
        _check_date(self.start_date, "start_date")
        object.__setattr__(self, "mode", BillingMode(self.mode))
        object.__setattr__(self, "pauses", tuple(self.pauses))
        _check_anchor_day(self.anchor_day)
        if self.end_date is not None:
            _check_date(self.end_date, "end_date")
            if self.end_date < self.start_date:
                raise ScheduleError(
                    ScheduleErrorCode.END_BEFORE_START, start=self.start_date, end=self.end_date
                )
        previous: Pause | None = None
        for pause in self.pauses:
            if not isinstance(pause, Pause):
                raise TypeError("pauses must be Pause instances")
            if pause.start < self.start_date:
                raise ScheduleError(
                    ScheduleErrorCode.PAUSE_INVALID,
                    start=pause.start,
                    end=pause.end,
                    start_date=self.start_date,
                )
            if previous is not None and pause.start < previous.end:
                raise ScheduleError(
                    ScheduleErrorCode.PAUSE_INVALID,
                    start=pause.start,
                    end=pause.end,
                    previous_start=previous.start,
                    previous_end=previous.end,
                )
            previous = pause

    @property
    def billing_start(self) -> date:
        """First billed day before pauses: ``start_date``, or the day the trial ends.

        A pause starting before this day pushes the first period back by its length.
        """
        if self.trial is None:
            return self.start_date
        return self.trial.shift(self.start_date, 1)


@dataclass(frozen=True)
class BillingEvent:
    """One billed period.

    :param index: 0-based sequence number of the billed period.
    :param period: the service period billed; shorter than ``full_period`` for a stub
        at the start or a cut at the end date.
    :param full_period: the grid period it belongs to, lengthened by pauses starting in it.
    :param invoice_date: ``period.start`` in advance, ``period.end + 1 day`` in arrears.
    :param fraction: the share of the recurring price to bill: service days of
        ``period`` over service days of ``full_period`` (paused days excluded); 1 for a
        full period.
    """

    index: int
    period: Period
    full_period: Period
    invoice_date: date
    fraction: Fraction


# === SCHEDULE === #


def _grid_start(unit: PeriodUnit, day: date, anchor_day: int) -> date:
    """Return the latest anchored date on or before ``day``.

    Monthly grids look in ``day``'s month, then the month before; yearly grids look in
    ``day``'s month of the same year, then of the year before.
    """
    candidate = date(day.year, day.month, min(anchor_day, _days_in_month(day.year, day.month)))
    if candidate > day:
        candidate = Recurrence(unit).shift(candidate, -1, anchor_day)
    return candidate


def _paused_days_within(pauses: list[Pause], period: Period) -> int:
    total = 0
    for pause in pauses:
        first = max(pause.start, period.start)
        last = min(pause.end - _ONE_DAY, period.end)
        if last >= first:
            total += (last - first).days + 1
    return total


def iter_billing_events(terms: BillingTerms) -> Iterator[BillingEvent]:
    """Yield every billed period of ``terms`` in order.

    The iterator is endless when ``terms.end_date`` is ``None`` (it only stops at the
    end of the :class:`date` range). A period holding no service day at all (the end
    date falls in a pause that began on the period's first day) is not yielded.
    """
    recurrence = terms.recurrence
    unit = recurrence.unit
    end_date = terms.end_date
    pauses = [pause for pause in terms.pauses if end_date is None or pause.start <= end_date]
    position = 0
    try:
        cursor = terms.billing_start
        while position < len(pauses) and pauses[position].start < cursor:
            cursor += timedelta(days=pauses[position].days)
            position += 1
        if end_date is not None and cursor > end_date:
            return
        anchor_day = terms.anchor_day if unit in (PeriodUnit.MONTH, PeriodUnit.YEAR) else None
        origin = cursor if anchor_day is None else _grid_start(unit, cursor, anchor_day)
        step = 0
        index = 0
        while True:
            nominal_start = recurrence.shift(origin, step, anchor_day)
            extended_end = recurrence.shift(origin, step + 1, anchor_day) - _ONE_DAY
            period_pauses: list[Pause] = []
            while position < len(pauses) and pauses[position].start <= extended_end:
                extended_end += timedelta(days=pauses[position].days)
                period_pauses.append(pauses[position])
                position += 1
            full_period = Period(nominal_start, extended_end)
            is_last = end_date is not None and end_date <= extended_end
            period = Period(cursor, end_date if is_last else extended_end)
            paused_days = sum(pause.days for pause in period_pauses)
            service_days = period.days - _paused_days_within(period_pauses, period)
            if service_days > 0:
                yield BillingEvent(
                    index=index,
                    period=period,
                    full_period=full_period,
                    invoice_date=(
                        period.start if terms.mode is BillingMode.ADVANCE else period.end + _ONE_DAY
                    ),
                    fraction=Fraction(service_days, full_period.days - paused_days),
                )
                index += 1
            if is_last:
                return
            cursor = extended_end + _ONE_DAY
            if period_pauses:
                origin, step = cursor, 0
                if anchor_day is not None:
                    anchor_day = cursor.day
            else:
                step += 1
    except OverflowError:
        return


def due_billing_events(
    terms: BillingTerms,
    *,
    billed_until: date | None,
    today: date,
    limit: int | None = None,
) -> list[BillingEvent]:
    """Return the events to invoice by ``today``, in order.

    :param billed_until: last day already billed; events whose period starts on or
        before it are skipped. ``None`` when nothing was billed yet.
    :param today: the caller's current date (events with ``invoice_date <= today``).
    :param limit: at most this many events (``None``: no limit).
    """
    _check_date(today, "today")
    if billed_until is not None:
        _check_date(billed_until, "billed_until")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    events: list[BillingEvent] = []
    if limit == 0:
        return events
    for event in iter_billing_events(terms):
        if event.invoice_date > today:
            break
        if billed_until is not None and event.period.start <= billed_until:
            continue
        events.append(event)
        if limit is not None and len(events) >= limit:
            break
    return events


def next_billing_event(terms: BillingTerms, *, billed_until: date | None) -> BillingEvent | None:
    """Return the first event whose period starts after ``billed_until``.

    :param billed_until: last day already billed, ``None`` when nothing was billed yet.
    :return: the event, or ``None`` when the subscription has nothing left to bill.
    """
    if billed_until is not None:
        _check_date(billed_until, "billed_until")
    for event in iter_billing_events(terms):
        if billed_until is None or event.period.start > billed_until:
            return event
    return None


# === PRORATION === #


def _require_inside(day: date, period: Period) -> None:
    if day not in period:
        raise ScheduleError(
            ScheduleErrorCode.DATE_OUTSIDE_PERIOD, date=day, start=period.start, end=period.end
        )


def day_fraction(part: Period, whole: Period) -> Fraction:
    """Return ``part.days / whole.days``.

    :raises ScheduleError: ``DATE_OUTSIDE_PERIOD`` when ``part`` is not inside ``whole``.
    """
    _require_inside(part.start, whole)
    _require_inside(part.end, whole)
    return Fraction(part.days, whole.days)


def change_adjustment(
    period: Period,
    change_date: date,
    old_amount: AmountLike,
    new_amount: AmountLike,
    *,
    decimals: int = 2,
) -> Decimal:
    """Return what to bill (positive) or credit (negative) for a mid-period change.

    The period was billed at ``old_amount``; from ``change_date`` (included) to its end
    the price is ``new_amount``. The result is ``(new - old) * remaining days / period
    days``, computed exactly and rounded once, half up, so that
    ``old_amount + result`` is the exact price of the used service rounded to the cent.

    :raises ScheduleError: ``DATE_OUTSIDE_PERIOD`` when ``change_date`` is not in ``period``.
    """
    _require_inside(change_date, period)
    remaining = day_fraction(Period(change_date, period.end), period)
    return prorate(to_fraction(new_amount) - to_fraction(old_amount), remaining, decimals)


def cancellation_credit(
    period: Period, cancel_date: date, amount: AmountLike, *, decimals: int = 2
) -> Decimal:
    """Return the credit for the unused days of a period billed at ``amount``.

    :param cancel_date: first day without service: a day of ``period`` or the day after
        its end (then nothing is credited).
    :return: ``amount * unused days / period days``, rounded half up (positive for a
        positive amount).
    :raises ScheduleError: ``DATE_OUTSIDE_PERIOD`` for any other ``cancel_date``.
    """
    _check_date(cancel_date, "cancel_date")
    if cancel_date == period.end + _ONE_DAY:
        return round_money(0, decimals)
    _require_inside(cancel_date, period)
    return prorate(amount, day_fraction(Period(cancel_date, period.end), period), decimals)


def to_local_date(moment: datetime, tz: tzinfo) -> date:
    """Return the calendar date of an aware ``moment`` in the time zone ``tz``.

    :raises ScheduleError: ``NAIVE_DATETIME`` when ``moment`` has no UTC offset.
    """
    if not isinstance(moment, datetime):
        raise TypeError("moment must be a datetime.datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ScheduleError(ScheduleErrorCode.NAIVE_DATETIME, moment=moment)
    return moment.astimezone(tz).date()
