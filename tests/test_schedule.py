"""Tests of recurring_payments_core.schedule: periods, stubs, trials, pauses, proration."""

import calendar
import pickle
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from recurring_payments_core.money import allocate, prorate, round_money
from recurring_payments_core.schedule import (
    BillingEvent,
    BillingMode,
    BillingTerms,
    Pause,
    Period,
    PeriodUnit,
    Recurrence,
    ScheduleError,
    ScheduleErrorCode,
    cancellation_credit,
    change_adjustment,
    day_fraction,
    due_billing_events,
    iter_billing_events,
    next_billing_event,
    to_local_date,
)

D = Decimal
F = Fraction
DAY, WEEK, MONTH, YEAR = PeriodUnit.DAY, PeriodUnit.WEEK, PeriodUnit.MONTH, PeriodUnit.YEAR
ADVANCE, ARREARS = BillingMode.ADVANCE, BillingMode.ARREARS
ONE_DAY = timedelta(days=1)
UTC = ZoneInfo("UTC")


def d(text):
    return date.fromisoformat(text)


def first_events(terms, count=None):
    return list(islice(iter_billing_events(terms), count))


def spans(events):
    return [(str(event.period.start), str(event.period.end)) for event in events]


def monthly(start, **kwargs):
    return BillingTerms(Recurrence(MONTH), d(start), **kwargs)


# === Recurrence.shift === #


@pytest.mark.parametrize(
    ("unit", "interval", "origin", "count", "anchor", "expected"),
    [
        (DAY, 1, "2025-01-30", 1, None, "2025-01-31"),
        (DAY, 1, "2024-02-28", 1, None, "2024-02-29"),
        (DAY, 3, "2025-01-30", 2, None, "2025-02-05"),
        (DAY, 1, "2025-03-01", -1, None, "2025-02-28"),
        (DAY, 1, "2025-01-15", 1, 31, "2025-01-16"),  # anchor ignored
        (WEEK, 1, "2025-01-01", 1, None, "2025-01-08"),
        (WEEK, 2, "2025-12-24", 1, None, "2026-01-07"),
        (WEEK, 1, "2025-01-01", -2, None, "2024-12-18"),
        (WEEK, 1, "2025-01-01", 1, 31, "2025-01-08"),  # anchor ignored
        (MONTH, 1, "2024-01-31", 1, None, "2024-02-29"),
        (MONTH, 1, "2024-01-31", 2, None, "2024-03-31"),
        (MONTH, 1, "2024-01-31", 3, None, "2024-04-30"),
        (MONTH, 1, "2025-01-31", 1, None, "2025-02-28"),
        (MONTH, 1, "2025-03-31", -1, None, "2025-02-28"),
        (MONTH, 1, "2025-01-15", -13, None, "2023-12-15"),
        (MONTH, 2, "2025-12-15", 1, None, "2026-02-15"),
        (MONTH, 3, "2024-11-30", 1, None, "2025-02-28"),
        (MONTH, 3, "2024-11-30", 2, None, "2025-05-30"),
        (MONTH, 1, "2025-02-28", 1, 31, "2025-03-31"),
        (MONTH, 1, "2025-02-28", 2, 31, "2025-04-30"),
        (MONTH, 1, "2025-02-28", 1, 30, "2025-03-30"),
        (MONTH, 1, "2025-01-29", 1, 29, "2025-02-28"),
        (MONTH, 1, "2025-01-29", 2, 29, "2025-03-29"),
        (MONTH, 1, "2025-01-15", 0, 31, "2025-01-31"),  # count 0 aligns on the anchor
        (YEAR, 1, "2024-02-29", 1, None, "2025-02-28"),
        (YEAR, 1, "2024-02-29", 2, None, "2026-02-28"),
        (YEAR, 1, "2024-02-29", 4, None, "2028-02-29"),
        (YEAR, 1, "2024-02-29", -1, None, "2023-02-28"),
        (YEAR, 2, "2024-02-29", 2, None, "2028-02-29"),
        (YEAR, 1, "2025-02-28", 3, 31, "2028-02-29"),
    ],
)
def test_recurrence_shift(unit, interval, origin, count, anchor, expected):
    """B-1: shifted dates are computed from the origin, capped to the month end."""
    assert Recurrence(unit, interval).shift(d(origin), count, anchor) == d(expected)


def test_recurrence_accepts_unit_values():
    recurrence = Recurrence("month", 3)
    assert recurrence.unit is MONTH
    assert recurrence == Recurrence(MONTH, 3)


def test_recurrence_shift_never_drifts():
    """B-1: 12 monthly shifts from 31 Jan land on every month end, not on the 28th."""
    recurrence = Recurrence(MONTH)
    ends = [recurrence.shift(d("2024-01-31"), k) for k in range(12)]
    assert ends == [
        date(2024, month, calendar.monthrange(2024, month)[1]) for month in range(1, 13)
    ]


# === Grids of every unit and interval === #


@pytest.mark.parametrize(
    ("unit", "interval", "start", "anchor", "expected"),
    [
        (
            DAY,
            1,
            "2024-02-28",
            None,
            [
                ("2024-02-28", "2024-02-28"),
                ("2024-02-29", "2024-02-29"),
                ("2024-03-01", "2024-03-01"),
            ],
        ),
        (DAY, 3, "2025-01-30", None, [("2025-01-30", "2025-02-01"), ("2025-02-02", "2025-02-04")]),
        (WEEK, 1, "2025-12-29", None, [("2025-12-29", "2026-01-04"), ("2026-01-05", "2026-01-11")]),
        (WEEK, 2, "2025-01-06", None, [("2025-01-06", "2025-01-19"), ("2025-01-20", "2025-02-02")]),
        (WEEK, 1, "2025-01-15", 1, [("2025-01-15", "2025-01-21"), ("2025-01-22", "2025-01-28")]),
        (
            MONTH,
            1,
            "2025-01-31",
            31,
            [
                ("2025-01-31", "2025-02-27"),
                ("2025-02-28", "2025-03-30"),
                ("2025-03-31", "2025-04-29"),
                ("2025-04-30", "2025-05-30"),
                ("2025-05-31", "2025-06-29"),
            ],
        ),
        (
            MONTH,
            1,
            "2025-01-31",
            None,
            [
                ("2025-01-31", "2025-02-27"),
                ("2025-02-28", "2025-03-30"),
                ("2025-03-31", "2025-04-29"),
                ("2025-04-30", "2025-05-30"),
                ("2025-05-31", "2025-06-29"),
            ],
        ),
        (
            MONTH,
            1,
            "2024-01-31",
            31,
            [
                ("2024-01-31", "2024-02-28"),
                ("2024-02-29", "2024-03-30"),
                ("2024-03-31", "2024-04-29"),
            ],
        ),
        (
            MONTH,
            1,
            "2025-02-28",
            31,  # 28 Feb is on a grid anchored on the 31st
            [
                ("2025-02-28", "2025-03-30"),
                ("2025-03-31", "2025-04-29"),
                ("2025-04-30", "2025-05-30"),
            ],
        ),
        (
            MONTH,
            1,
            "2025-01-30",
            30,
            [
                ("2025-01-30", "2025-02-27"),
                ("2025-02-28", "2025-03-29"),
                ("2025-03-30", "2025-04-29"),
                ("2025-04-30", "2025-05-29"),
            ],
        ),
        (
            MONTH,
            1,
            "2025-01-29",
            29,
            [
                ("2025-01-29", "2025-02-27"),
                ("2025-02-28", "2025-03-28"),
                ("2025-03-29", "2025-04-28"),
            ],
        ),
        (
            MONTH,
            1,
            "2024-01-29",
            29,
            [
                ("2024-01-29", "2024-02-28"),
                ("2024-02-29", "2024-03-28"),
                ("2024-03-29", "2024-04-28"),
            ],
        ),
        (
            MONTH,
            2,
            "2025-12-31",
            None,
            [
                ("2025-12-31", "2026-02-27"),
                ("2026-02-28", "2026-04-29"),
                ("2026-04-30", "2026-06-29"),
            ],
        ),
        (
            MONTH,
            3,
            "2025-01-01",
            None,
            [
                ("2025-01-01", "2025-03-31"),
                ("2025-04-01", "2025-06-30"),
                ("2025-07-01", "2025-09-30"),
                ("2025-10-01", "2025-12-31"),
            ],
        ),
        (
            MONTH,
            3,
            "2024-11-30",
            None,
            [
                ("2024-11-30", "2025-02-27"),
                ("2025-02-28", "2025-05-29"),
                ("2025-05-30", "2025-08-29"),
            ],
        ),
        (
            YEAR,
            1,
            "2024-02-29",
            None,
            [
                ("2024-02-29", "2025-02-27"),
                ("2025-02-28", "2026-02-27"),
                ("2026-02-28", "2027-02-27"),
                ("2027-02-28", "2028-02-28"),
                ("2028-02-29", "2029-02-27"),
            ],
        ),
        (YEAR, 2, "2023-06-15", None, [("2023-06-15", "2025-06-14"), ("2025-06-15", "2027-06-14")]),
    ],
)
def test_grid_periods(unit, interval, start, anchor, expected):
    """B-1: periods of every unit and interval, across month ends and leap years."""
    terms = BillingTerms(Recurrence(unit, interval), d(start), anchor_day=anchor)
    events = first_events(terms, len(expected))
    assert spans(events) == expected
    assert [event.index for event in events] == list(range(len(expected)))
    assert all(event.fraction == 1 and event.full_period == event.period for event in events)


def test_yearly_leap_day_returns_to_29_february():
    """B-1: a yearly subscription from 29 Feb 2024 bills on 28 Feb, then 29 Feb in 2028."""
    terms = BillingTerms(Recurrence(YEAR), d("2024-02-29"))
    starts = [event.period.start for event in first_events(terms, 6)]
    assert starts == [
        d("2024-02-29"),
        d("2025-02-28"),
        d("2026-02-28"),
        d("2027-02-28"),
        d("2028-02-29"),
        d("2029-02-28"),
    ]


# === Invoice dates === #


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (ADVANCE, ["2025-01-15", "2025-02-15", "2025-03-15"]),
        (ARREARS, ["2025-02-15", "2025-03-15", "2025-04-15"]),
        ("arrears", ["2025-02-15", "2025-03-15", "2025-04-15"]),
    ],
)
def test_invoice_dates_by_mode(mode, expected):
    events = first_events(monthly("2025-01-15", mode=mode), 3)
    assert [str(event.invoice_date) for event in events] == expected


# === Trials === #


def test_trial_of_14_days():
    terms = monthly("2025-01-01", trial=Recurrence(DAY, 14))
    assert terms.billing_start == d("2025-01-15")
    assert spans(first_events(terms, 2)) == [
        ("2025-01-15", "2025-02-14"),
        ("2025-02-15", "2025-03-14"),
    ]


def test_trial_of_one_month_from_month_end():
    terms = monthly("2025-01-31", trial=Recurrence(MONTH))
    assert terms.billing_start == d("2025-02-28")
    assert spans(first_events(terms, 2)) == [
        ("2025-02-28", "2025-03-27"),
        ("2025-03-28", "2025-04-27"),
    ]
    anchored = monthly("2025-01-31", trial=Recurrence(MONTH), anchor_day=31)
    events = first_events(anchored, 2)
    assert spans(events) == [("2025-02-28", "2025-03-30"), ("2025-03-31", "2025-04-29")]
    assert events[0].fraction == 1


def test_subscription_ended_during_trial_bills_nothing():
    terms = monthly("2025-01-01", trial=Recurrence(DAY, 14), end_date=d("2025-01-10"))
    assert first_events(terms) == []
    assert next_billing_event(terms, billed_until=None) is None
    assert due_billing_events(terms, billed_until=None, today=d("2026-01-01")) == []


# === End date === #


@pytest.mark.parametrize(
    ("end", "mode", "expected_spans", "last_fraction", "last_invoice", "last_full"),
    [
        (
            "2025-03-10",
            ADVANCE,
            [
                ("2025-01-01", "2025-01-31"),
                ("2025-02-01", "2025-02-28"),
                ("2025-03-01", "2025-03-10"),
            ],
            F(10, 31),
            "2025-03-01",
            ("2025-03-01", "2025-03-31"),
        ),
        (
            "2025-03-10",
            ARREARS,
            [
                ("2025-01-01", "2025-01-31"),
                ("2025-02-01", "2025-02-28"),
                ("2025-03-01", "2025-03-10"),
            ],
            F(10, 31),
            "2025-03-11",
            ("2025-03-01", "2025-03-31"),
        ),
        (
            "2025-02-28",
            ARREARS,
            [("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28")],
            F(1),
            "2025-03-01",
            ("2025-02-01", "2025-02-28"),
        ),
        (
            "2025-01-01",
            ADVANCE,
            [("2025-01-01", "2025-01-01")],
            F(1, 31),
            "2025-01-01",
            ("2025-01-01", "2025-01-31"),
        ),
    ],
)
def test_end_date_cuts_the_last_period(
    end, mode, expected_spans, last_fraction, last_invoice, last_full
):
    """B-7: the period holding the end date is cut there and billed for its used days."""
    events = first_events(monthly("2025-01-01", end_date=d(end), mode=mode))
    assert spans(events) == expected_spans
    last = events[-1]
    assert last.fraction == last_fraction
    assert str(last.invoice_date) == last_invoice
    assert (str(last.full_period.start), str(last.full_period.end)) == last_full
    assert all(event.fraction == 1 for event in events[:-1])


# === Stubs (anchor day) === #


@pytest.mark.parametrize(
    ("unit", "interval", "start", "anchor", "stub", "full", "fraction", "following"),
    [
        (
            MONTH,
            1,
            "2025-01-15",
            1,
            ("2025-01-15", "2025-01-31"),
            ("2025-01-01", "2025-01-31"),
            F(17, 31),
            [("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-31")],
        ),
        (
            MONTH,
            1,
            "2025-02-10",
            31,
            ("2025-02-10", "2025-02-27"),
            ("2025-01-31", "2025-02-27"),
            F(18, 28),
            [("2025-02-28", "2025-03-30"), ("2025-03-31", "2025-04-29")],
        ),
        (
            MONTH,
            3,
            "2025-01-15",
            1,
            ("2025-01-15", "2025-03-31"),
            ("2025-01-01", "2025-03-31"),
            F(76, 90),
            [("2025-04-01", "2025-06-30")],
        ),
        (
            YEAR,
            1,
            "2025-03-15",
            1,
            ("2025-03-15", "2026-02-28"),
            ("2025-03-01", "2026-02-28"),
            F(351, 365),
            [("2026-03-01", "2027-02-28")],
        ),
        (
            YEAR,
            1,
            "2025-01-15",
            20,
            ("2025-01-15", "2025-01-19"),
            ("2024-01-20", "2025-01-19"),
            F(5, 366),
            [("2025-01-20", "2026-01-19")],
        ),
    ],
)
def test_stub_start(unit, interval, start, anchor, stub, full, fraction, following):
    """B-7: a start off the anchor day bills the used fraction of its grid period first."""
    terms = BillingTerms(Recurrence(unit, interval), d(start), anchor_day=anchor)
    events = first_events(terms, 1 + len(following))
    first = events[0]
    assert (str(first.period.start), str(first.period.end)) == stub
    assert (str(first.full_period.start), str(first.full_period.end)) == full
    assert first.fraction == fraction
    assert first.invoice_date == d(start)
    assert spans(events[1:]) == following
    assert all(event.fraction == 1 for event in events[1:])


def test_stub_in_arrears_and_cut_by_end_date():
    arrears = first_events(monthly("2025-01-15", anchor_day=1, mode=ARREARS), 2)
    assert [event.invoice_date for event in arrears] == [d("2025-02-01"), d("2025-03-01")]
    events = first_events(monthly("2025-01-15", anchor_day=1, end_date=d("2025-01-20")))
    assert spans(events) == [("2025-01-15", "2025-01-20")]
    assert events[0].full_period == Period(d("2025-01-01"), d("2025-01-31"))
    assert events[0].fraction == F(6, 31)


def test_start_on_the_anchor_day_has_no_stub():
    events = first_events(monthly("2025-01-15", anchor_day=15), 2)
    assert spans(events) == [("2025-01-15", "2025-02-14"), ("2025-02-15", "2025-03-14")]
    assert events[0].fraction == 1


# === Pauses === #


@pytest.mark.parametrize(
    ("mode", "invoice_dates"),
    [
        (ADVANCE, ["2025-01-01", "2025-02-11", "2025-03-11"]),
        (ARREARS, ["2025-02-11", "2025-03-11", "2025-04-11"]),
    ],
)
def test_pause_lengthens_its_period_and_shifts_the_next(mode, invoice_dates):
    """B-1: a 10-day pause in January moves every following period by 10 days, no gap."""
    terms = monthly("2025-01-01", mode=mode, pauses=(Pause(d("2025-01-10"), d("2025-01-20")),))
    events = first_events(terms, 3)
    assert spans(events) == [
        ("2025-01-01", "2025-02-10"),
        ("2025-02-11", "2025-03-10"),
        ("2025-03-11", "2025-04-10"),
    ]
    assert events[0].full_period == events[0].period
    assert [event.fraction for event in events] == [1, 1, 1]
    assert [str(event.invoice_date) for event in events] == invoice_dates


def test_pause_before_billing_start_pushes_it_back():
    terms = monthly(
        "2025-01-01", trial=Recurrence(DAY, 14), pauses=[Pause(d("2025-01-05"), d("2025-01-08"))]
    )
    assert terms.pauses == (Pause(d("2025-01-05"), d("2025-01-08")),)
    assert spans(first_events(terms, 2)) == [
        ("2025-01-18", "2025-02-17"),
        ("2025-02-18", "2025-03-17"),
    ]


def test_pause_across_billing_start_pushes_it_by_its_full_length():
    terms = monthly(
        "2025-01-01", trial=Recurrence(DAY, 14), pauses=(Pause(d("2025-01-10"), d("2025-01-25")),)
    )
    assert spans(first_events(terms, 2)) == [
        ("2025-01-30", "2025-02-27"),
        ("2025-02-28", "2025-03-29"),
    ]


def test_several_pauses():
    """B-1: two pauses in one period add up; a later pause starts a new segment again."""
    terms = monthly(
        "2025-01-01",
        pauses=(
            Pause(d("2025-01-05"), d("2025-01-08")),
            Pause(d("2025-01-20"), d("2025-01-25")),
            Pause(d("2025-03-01"), d("2025-03-03")),
        ),
    )
    events = first_events(terms, 3)
    assert spans(events) == [
        ("2025-01-01", "2025-02-08"),
        ("2025-02-09", "2025-03-10"),
        ("2025-03-11", "2025-04-10"),
    ]
    assert [event.fraction for event in events] == [1, 1, 1]


def test_pause_starting_in_the_lengthened_part_counts_for_the_same_period():
    terms = monthly(
        "2025-01-01",
        pauses=(
            Pause(d("2025-01-25"), d("2025-02-01")),
            Pause(d("2025-02-05"), d("2025-02-06")),
        ),
    )
    assert spans(first_events(terms, 2)) == [
        ("2025-01-01", "2025-02-08"),
        ("2025-02-09", "2025-03-08"),
    ]


def test_adjacent_pauses_act_as_one():
    split = monthly(
        "2025-01-01",
        pauses=(Pause(d("2025-01-10"), d("2025-01-15")), Pause(d("2025-01-15"), d("2025-01-20"))),
    )
    single = monthly("2025-01-01", pauses=(Pause(d("2025-01-10"), d("2025-01-20")),))
    assert first_events(split, 4) == first_events(single, 4)


def test_pause_realigns_an_anchored_grid_on_the_resume_side():
    terms = monthly("2025-01-01", anchor_day=1, pauses=(Pause(d("2025-01-10"), d("2025-01-15")),))
    assert spans(first_events(terms, 3)) == [
        ("2025-01-01", "2025-02-05"),
        ("2025-02-06", "2025-03-05"),
        ("2025-03-06", "2025-04-05"),
    ]


def test_pause_in_a_stub_keeps_the_stub_fraction():
    terms = monthly("2025-01-15", anchor_day=1, pauses=(Pause(d("2025-01-20"), d("2025-01-22")),))
    events = first_events(terms, 2)
    assert spans(events) == [("2025-01-15", "2025-02-02"), ("2025-02-03", "2025-03-02")]
    assert events[0].full_period == Period(d("2025-01-01"), d("2025-02-02"))
    assert events[0].fraction == F(17, 31)


def test_pause_in_daily_and_weekly_subscriptions():
    daily = BillingTerms(
        Recurrence(DAY), d("2025-01-01"), pauses=(Pause(d("2025-01-02"), d("2025-01-04")),)
    )
    assert spans(first_events(daily, 3)) == [
        ("2025-01-01", "2025-01-01"),
        ("2025-01-02", "2025-01-04"),
        ("2025-01-05", "2025-01-05"),
    ]
    weekly = BillingTerms(
        Recurrence(WEEK),
        d("2025-01-06"),
        mode=ARREARS,
        pauses=(Pause(d("2025-01-08"), d("2025-01-11")),),
    )
    events = first_events(weekly, 2)
    assert spans(events) == [("2025-01-06", "2025-01-15"), ("2025-01-16", "2025-01-22")]
    assert [event.invoice_date for event in events] == [d("2025-01-16"), d("2025-01-23")]


@pytest.mark.parametrize(
    ("pause", "end", "expected_full_end", "fraction"),
    [
        (("2025-01-10", "2025-01-15"), "2025-01-20", "2025-02-05", F(15, 31)),
        (("2025-01-15", "2025-02-15"), "2025-01-20", "2025-03-03", F(14, 31)),
    ],
)
def test_end_date_in_a_paused_period_counts_service_days_only(
    pause, end, expected_full_end, fraction
):
    """B-7: the end cut of a paused period bills service days over the period's service days."""
    terms = monthly("2025-01-01", end_date=d(end), pauses=(Pause(d(pause[0]), d(pause[1])),))
    events = first_events(terms)
    assert spans(events) == [("2025-01-01", end)]
    assert events[0].full_period == Period(d("2025-01-01"), d(expected_full_end))
    assert events[0].fraction == fraction


def test_pause_after_end_date_is_ignored():
    terms = monthly(
        "2025-01-01", end_date=d("2025-02-10"), pauses=(Pause(d("2025-02-15"), d("2025-03-01")),)
    )
    events = first_events(terms)
    assert spans(events) == [("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-10")]
    assert events[1].full_period == Period(d("2025-02-01"), d("2025-02-28"))
    assert events[1].fraction == F(10, 28)


def test_period_without_any_service_day_is_not_billed():
    terms = monthly(
        "2025-01-01", end_date=d("2025-02-10"), pauses=(Pause(d("2025-02-01"), d("2025-02-20")),)
    )
    assert spans(first_events(terms)) == [("2025-01-01", "2025-01-31")]


# === Due events and next event === #


@pytest.mark.parametrize(
    ("mode", "billed_until", "today", "limit", "expected_starts"),
    [
        (
            ADVANCE,
            None,
            "2025-04-15",
            None,
            ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"],
        ),
        (ARREARS, None, "2025-04-15", None, ["2025-01-01", "2025-02-01", "2025-03-01"]),
        (ADVANCE, "2025-01-31", "2025-04-15", None, ["2025-02-01", "2025-03-01", "2025-04-01"]),
        (ADVANCE, "2025-01-31", "2025-04-15", 2, ["2025-02-01", "2025-03-01"]),
        (ADVANCE, "2025-02-15", "2025-04-15", None, ["2025-03-01", "2025-04-01"]),
        (ADVANCE, None, "2025-04-15", 0, []),
        (ADVANCE, None, "2024-12-31", None, []),
        (ADVANCE, "2025-04-30", "2025-04-15", None, []),
        (ADVANCE, "2025-03-31", "2025-04-01", None, ["2025-04-01"]),  # invoice date is today
        (ARREARS, "2025-02-28", "2025-03-31", None, []),
        (ARREARS, "2025-02-28", "2025-04-01", None, ["2025-03-01"]),
    ],
)
def test_due_billing_events(mode, billed_until, today, limit, expected_starts):
    """B-3: k missed periods give k events, in order, from the first unbilled one."""
    terms = monthly("2025-01-01", mode=mode)
    events = due_billing_events(
        terms, billed_until=billed_until and d(billed_until), today=d(today), limit=limit
    )
    assert [str(event.period.start) for event in events] == expected_starts
    assert [event.index for event in events] == sorted(event.index for event in events)


def test_due_billing_events_of_an_ended_subscription():
    terms = monthly("2025-01-01", mode=ARREARS, end_date=d("2025-02-10"))
    events = due_billing_events(terms, billed_until=None, today=d("2026-01-01"))
    assert spans(events) == [("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-10")]
    assert events[-1].invoice_date == d("2025-02-11")
    assert due_billing_events(terms, billed_until=d("2025-02-10"), today=d("2026-01-01")) == []
    assert due_billing_events(terms, billed_until=d("2025-01-31"), today=d("2025-02-10")) == []


def test_due_billing_events_rejects_a_negative_limit():
    with pytest.raises(ValueError, match="limit"):
        due_billing_events(
            monthly("2025-01-01"), billed_until=None, today=d("2025-05-01"), limit=-1
        )


@pytest.mark.parametrize(
    ("terms", "billed_until", "expected"),
    [
        (monthly("2025-01-01"), None, ("2025-01-01", "2025-01-31", 0)),
        (monthly("2025-01-01"), "2025-02-28", ("2025-03-01", "2025-03-31", 2)),
        (monthly("2025-01-01"), "2025-02-15", ("2025-03-01", "2025-03-31", 2)),
        (monthly("2025-01-01"), "2030-01-31", ("2030-02-01", "2030-02-28", 61)),
        (
            monthly("2025-01-01", end_date=d("2025-02-10")),
            "2025-01-31",
            ("2025-02-01", "2025-02-10", 1),
        ),
        (monthly("2025-01-01", end_date=d("2025-02-10")), "2025-02-10", None),
        (monthly("2025-01-01", end_date=d("2025-02-10")), "2025-03-31", None),
    ],
)
def test_next_billing_event(terms, billed_until, expected):
    event = next_billing_event(terms, billed_until=billed_until and d(billed_until))
    if expected is None:
        assert event is None
    else:
        assert (str(event.period.start), str(event.period.end), event.index) == expected


# === Proration helpers === #


def test_day_fraction():
    january = Period(d("2025-01-01"), d("2025-01-31"))
    assert day_fraction(Period(d("2025-01-15"), d("2025-01-31")), january) == F(17, 31)
    assert day_fraction(january, january) == 1
    assert day_fraction(Period(d("2025-01-31"), d("2025-01-31")), january) == F(1, 31)
    with pytest.raises(ScheduleError) as error:
        day_fraction(Period(d("2025-01-15"), d("2025-02-01")), january)
    assert error.value.code is ScheduleErrorCode.DATE_OUTSIDE_PERIOD


APRIL = Period(date(2025, 4, 1), date(2025, 4, 30))
JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31))


@pytest.mark.parametrize(
    ("period", "change", "old", "new", "decimals", "expected"),
    [
        (APRIL, "2025-04-16", D("30.00"), D("45.00"), 2, "7.50"),  # upgrade on day 16 of 30
        (APRIL, "2025-04-16", D("45.00"), D("30.00"), 2, "-7.50"),  # downgrade: credit
        (APRIL, "2025-04-21", 3 * D("10.00"), 5 * D("10.00"), 2, "6.67"),  # quantity 3 -> 5
        (APRIL, "2025-04-01", "30", "45", 2, "15.00"),
        (APRIL, "2025-04-30", 30, 45, 2, "0.50"),
        (JANUARY, "2025-01-17", 10.0, 20.0, 2, "4.84"),  # 10 * 15/31 = 4.8387
        (Period(date(2025, 1, 1), date(2025, 1, 2)), "2025-01-02", "0", "0.01", 2, "0.01"),
        (Period(date(2025, 1, 1), date(2025, 1, 2)), "2025-01-02", "0.01", "0", 2, "-0.01"),
        (APRIL, "2025-04-16", D("3000"), D("4500"), 0, "750"),
        (APRIL, "2025-04-10", D("19.99"), D("19.99"), 2, "0.00"),
    ],
)
def test_change_adjustment(period, change, old, new, decimals, expected):
    """B-7: a mid-period plan or quantity change bills (or credits) the rest of the period to the cent."""  # noqa: E501
    assert str(change_adjustment(period, d(change), old, new, decimals=decimals)) == expected


@pytest.mark.parametrize("change", ["2025-03-31", "2025-05-01"])
def test_change_adjustment_outside_the_period(change):
    with pytest.raises(ScheduleError) as error:
        change_adjustment(APRIL, d(change), D("30"), D("45"))
    assert error.value.code is ScheduleErrorCode.DATE_OUTSIDE_PERIOD
    assert error.value.params["date"] == d(change)


@pytest.mark.parametrize(
    ("period", "cancel", "amount", "decimals", "expected"),
    [
        (APRIL, "2025-04-21", D("30.00"), 2, "10.00"),
        (APRIL, "2025-04-01", D("30.00"), 2, "30.00"),
        (APRIL, "2025-04-30", D("30.00"), 2, "1.00"),
        (APRIL, "2025-05-01", D("30.00"), 2, "0.00"),
        (JANUARY, "2025-01-30", D("100.00"), 2, "6.45"),
        (JANUARY, "2025-02-01", D("100"), 0, "0"),
        (JANUARY, "2025-01-30", "3100", 0, "200"),
    ],
)
def test_cancellation_credit(period, cancel, amount, decimals, expected):
    """B-7: cancelling credits exactly the unused days of the period."""
    assert str(cancellation_credit(period, d(cancel), amount, decimals=decimals)) == expected


@pytest.mark.parametrize("cancel", ["2025-03-31", "2025-05-02"])
def test_cancellation_credit_outside_the_period(cancel):
    with pytest.raises(ScheduleError) as error:
        cancellation_credit(APRIL, d(cancel), D("30"))
    assert error.value.code is ScheduleErrorCode.DATE_OUTSIDE_PERIOD


# === Time zones === #


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (datetime(2025, 3, 31, 23, 30, tzinfo=UTC), "Europe/Paris", "2025-04-01"),
        (datetime(2025, 3, 31, 21, 59, tzinfo=UTC), "Europe/Paris", "2025-03-31"),
        (datetime(2025, 3, 30, 0, 30, tzinfo=UTC), "Europe/Paris", "2025-03-30"),
        (datetime(2025, 1, 1, 3, 0, tzinfo=UTC), "America/New_York", "2024-12-31"),
        (datetime(2025, 4, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris")), "UTC", "2025-03-31"),
    ],
)
def test_to_local_date(moment, zone, expected):
    assert to_local_date(moment, ZoneInfo(zone)) == d(expected)


# === Errors === #

_ERROR_TRIGGERS = {
    ScheduleErrorCode.INTERVAL_NOT_POSITIVE: lambda: Recurrence(MONTH, 0),
    ScheduleErrorCode.ANCHOR_DAY_OUT_OF_RANGE: lambda: monthly("2025-01-01", anchor_day=32),
    ScheduleErrorCode.END_BEFORE_START: lambda: Period(d("2025-01-02"), d("2025-01-01")),
    ScheduleErrorCode.PAUSE_INVALID: lambda: Pause(d("2025-01-02"), d("2025-01-02")),
    ScheduleErrorCode.DATE_OUTSIDE_PERIOD: lambda: cancellation_credit(APRIL, d("2025-05-02"), 1),
    ScheduleErrorCode.NAIVE_DATETIME: lambda: to_local_date(datetime(2025, 1, 1), ZoneInfo("UTC")),
}


def test_every_error_code_has_a_trigger():
    assert set(_ERROR_TRIGGERS) == set(ScheduleErrorCode)


@pytest.mark.parametrize("code", list(ScheduleErrorCode))
def test_every_error_code_is_raised(code):
    with pytest.raises(ScheduleError) as error:
        _ERROR_TRIGGERS[code]()
    assert error.value.code is code
    assert isinstance(error.value, ValueError)
    assert error.value.params


@pytest.mark.parametrize(
    ("trigger", "code", "params"),
    [
        (lambda: Recurrence(DAY, -1), ScheduleErrorCode.INTERVAL_NOT_POSITIVE, {"interval": -1}),
        (
            lambda: monthly("2025-01-01", anchor_day=0),
            ScheduleErrorCode.ANCHOR_DAY_OUT_OF_RANGE,
            {"anchor_day": 0},
        ),
        (
            lambda: Recurrence(MONTH).shift(d("2025-01-01"), 1, 32),
            ScheduleErrorCode.ANCHOR_DAY_OUT_OF_RANGE,
            {"anchor_day": 32},
        ),
        (
            lambda: monthly("2025-01-10", end_date=d("2025-01-09")),
            ScheduleErrorCode.END_BEFORE_START,
            {"start": d("2025-01-10"), "end": d("2025-01-09")},
        ),
        (
            lambda: Pause(d("2025-01-10"), d("2025-01-09")),
            ScheduleErrorCode.PAUSE_INVALID,
            {"start": d("2025-01-10"), "end": d("2025-01-09")},
        ),
        (
            lambda: monthly(
                "2025-01-01",
                pauses=(
                    Pause(d("2025-01-10"), d("2025-01-20")),
                    Pause(d("2025-01-19"), d("2025-01-25")),
                ),
            ),
            ScheduleErrorCode.PAUSE_INVALID,
            {
                "start": d("2025-01-19"),
                "end": d("2025-01-25"),
                "previous_start": d("2025-01-10"),
                "previous_end": d("2025-01-20"),
            },
        ),
        (
            lambda: monthly(
                "2025-01-01",
                pauses=(
                    Pause(d("2025-02-10"), d("2025-02-20")),
                    Pause(d("2025-01-10"), d("2025-01-15")),
                ),
            ),
            ScheduleErrorCode.PAUSE_INVALID,
            {
                "start": d("2025-01-10"),
                "end": d("2025-01-15"),
                "previous_start": d("2025-02-10"),
                "previous_end": d("2025-02-20"),
            },
        ),
        (
            lambda: monthly("2025-01-10", pauses=(Pause(d("2025-01-05"), d("2025-01-15")),)),
            ScheduleErrorCode.PAUSE_INVALID,
            {"start": d("2025-01-05"), "end": d("2025-01-15"), "start_date": d("2025-01-10")},
        ),
        (
            lambda: change_adjustment(APRIL, d("2025-05-01"), 1, 2),
            ScheduleErrorCode.DATE_OUTSIDE_PERIOD,
            {"date": d("2025-05-01"), "start": d("2025-04-01"), "end": d("2025-04-30")},
        ),
        (
            lambda: to_local_date(datetime(2025, 1, 1, 12), UTC),
            ScheduleErrorCode.NAIVE_DATETIME,
            {"moment": datetime(2025, 1, 1, 12)},
        ),
    ],
)
def test_error_codes_and_params(trigger, code, params):
    with pytest.raises(ScheduleError) as error:
        trigger()
    assert error.value.code is code
    assert error.value.params == params


def test_schedule_error_is_a_value_error_with_a_code():
    error = ScheduleError(ScheduleErrorCode.PAUSE_INVALID, start=d("2025-01-02"))
    assert isinstance(error, ValueError)
    assert error.code == "pause_invalid"
    assert str(error) == "pause_invalid(start=datetime.date(2025, 1, 2))"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.params) == (error.code, error.params)


def test_dates_only():
    with pytest.raises(TypeError):
        Period(datetime(2025, 1, 1), d("2025-01-02"))
    with pytest.raises(TypeError):
        datetime(2025, 1, 1) in APRIL  # noqa: B015
    assert d("2025-04-30") in APRIL
    assert d("2025-05-01") not in APRIL


# === Properties === #

units = st.sampled_from(list(PeriodUnit))
start_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
pause_specs = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=60)),
    max_size=3,
)


@st.composite
def billing_terms(draw):
    unit = draw(units)
    start = draw(start_dates)
    trial = draw(st.none() | st.builds(Recurrence, units, st.integers(min_value=1, max_value=3)))
    pauses = []
    cursor = start
    for gap, length in draw(pause_specs):
        pause_start = cursor + timedelta(days=gap)
        pauses.append(Pause(pause_start, pause_start + timedelta(days=length)))
        cursor = pauses[-1].end
    end_offset = draw(st.none() | st.integers(min_value=0, max_value=2000))
    return BillingTerms(
        recurrence=Recurrence(unit, draw(st.integers(min_value=1, max_value=12))),
        start_date=start,
        mode=draw(st.sampled_from(list(BillingMode))),
        trial=trial,
        end_date=None if end_offset is None else start + timedelta(days=end_offset),
        anchor_day=draw(st.none() | st.integers(min_value=1, max_value=31)),
        pauses=tuple(pauses),
    )


def _effective_pauses(terms):
    return [
        pause for pause in terms.pauses if terms.end_date is None or pause.start <= terms.end_date
    ]


def _paused_days(terms):
    """Days paused after billing began (pauses before it only push the first day back)."""
    first_day = _expected_first_day(terms)
    days = set()
    for pause in _effective_pauses(terms):
        if pause.start < first_day:
            continue
        days.update(pause.start + timedelta(days=i) for i in range(pause.days))
    return days


def _service_days(period, paused):
    return period.days - sum(1 for day in paused if day in period)


def _expected_first_day(terms):
    first = terms.billing_start
    for pause in _effective_pauses(terms):
        if pause.start < first:
            first += timedelta(days=pause.days)
    return first


def _month_length(day):
    return calendar.monthrange(day.year, day.month)[1]


EVENTS_CHECKED = 24


@settings(max_examples=250, deadline=None)
@given(terms=billing_terms())
def test_property_periods_are_contiguous(terms):
    """B-1: for any unit, interval, start, anchor, trial, pauses and end date, billed periods
    follow each other with no gap and no overlap, from the first billed day to the end date."""
    events = first_events(terms, EVENTS_CHECKED)
    first_day = _expected_first_day(terms)
    if terms.end_date is not None and first_day > terms.end_date:
        assert events == []
        return
    if events:
        assert events[0].period.start == first_day
    else:
        assert terms.end_date is not None, "an open-ended subscription always bills"
    for index, event in enumerate(events):
        assert event.index == index
        if index:
            assert event.period.start == events[index - 1].period.end + ONE_DAY
        if terms.end_date is not None:
            assert event.period.end <= terms.end_date
    if terms.end_date is not None and len(events) < EVENTS_CHECKED:
        # the whole service was billed: what is left after the last period is paused time only
        paused = _paused_days(terms)
        tail = events[-1].period.end + ONE_DAY if events else first_day
        while tail <= terms.end_date:
            assert tail in paused
            tail += ONE_DAY


@settings(max_examples=300, deadline=None)
@given(terms=billing_terms())
def test_property_events_are_well_formed(terms):
    """B-1: fractions lie in (0, 1], each full period contains its period, invoice dates follow
    the mode, and each full period holds the service days of one recurrence step."""
    events = first_events(terms, EVENTS_CHECKED)
    paused = _paused_days(terms)
    unit, interval = terms.recurrence.unit, terms.recurrence.interval
    for position, event in enumerate(events):
        assert 0 < event.fraction <= 1
        assert event.period.start in event.full_period
        assert event.period.end in event.full_period
        if terms.mode is BillingMode.ADVANCE:
            assert event.invoice_date == event.period.start
        else:
            assert event.invoice_date == event.period.end + ONE_DAY
        nominal = _service_days(event.full_period, paused)
        if unit is DAY:
            assert nominal == interval
        elif unit is WEEK:
            assert nominal == 7 * interval
        elif unit is MONTH:
            assert 28 * interval <= nominal <= 31 * interval
        else:
            assert 365 * interval <= nominal <= 366 * interval
        is_last = (
            position == len(events) - 1
            and terms.end_date is not None
            and (event.period.end == terms.end_date)
        )
        if position > 0 and not is_last:
            assert event.fraction == 1
            assert event.period == event.full_period


@settings(max_examples=300, deadline=None)
@given(terms=billing_terms(), price=st.decimals(min_value=0, max_value=100_000, places=2))
def test_property_fraction_is_service_days_over_period_days(terms, price):
    """B-7: every billed amount (stub, full or cut period, with pauses) is the price times its
    service days over the service days of its full period, computed day by day, to the cent."""
    paused = _paused_days(terms)
    for event in first_events(terms, EVENTS_CHECKED):
        expected = F(_service_days(event.period, paused), _service_days(event.full_period, paused))
        assert event.fraction == expected
        assert prorate(price, event.fraction) == prorate(price, expected)


@settings(max_examples=300, deadline=None)
@given(
    unit=st.sampled_from([MONTH, YEAR]),
    interval=st.integers(min_value=1, max_value=12),
    start=start_dates,
    anchor=st.integers(min_value=1, max_value=31),
    trial=st.none() | st.builds(Recurrence, units, st.integers(min_value=1, max_value=3)),
)
def test_property_anchor_day_is_kept(unit, interval, start, anchor, trial):
    """B-1: with anchor day a, every full period of a monthly or yearly grid starts on day
    min(a, month length): a 31st anchor bills on shorter month ends and returns to the 31st."""
    terms = BillingTerms(Recurrence(unit, interval), start, trial=trial, anchor_day=anchor)
    events = first_events(terms, EVENTS_CHECKED)
    first_day = terms.billing_start
    grid_start = events[0].full_period.start
    # the stub's grid period starts on the latest anchored day on or before the first day
    probe = first_day
    while not (
        probe.day == min(anchor, _month_length(probe))
        and (unit is MONTH or probe.month == first_day.month)
    ):
        probe -= ONE_DAY
    assert grid_start == probe
    assert events[0].fraction == F(events[0].period.days, events[0].full_period.days)
    months = interval if unit is MONTH else 12 * interval
    for index, event in enumerate(events):
        start_of_full = event.full_period.start
        assert start_of_full.day == min(anchor, _month_length(start_of_full))
        month_number = start_of_full.year * 12 + start_of_full.month
        assert month_number == grid_start.year * 12 + grid_start.month + index * months


@settings(max_examples=300, deadline=None)
@given(
    start=start_dates,
    length=st.integers(min_value=1, max_value=400),
    cuts=st.lists(st.integers(min_value=1, max_value=399), max_size=5, unique=True),
    price=st.decimals(min_value=0, max_value=100_000, places=2),
)
def test_property_split_period_prorates_to_the_total(start, length, cuts, price):
    """B-7: the day fractions of the pieces of a cut period add up to the fraction of the
    total days; allocating the prorated total by days sums to it exactly, each piece within
    one cent of its own proration."""
    whole = Period(start, start + timedelta(days=length - 1))
    bounds = [0, *sorted(cut for cut in cuts if cut < length), length]
    pieces = [
        Period(start + timedelta(days=a), start + timedelta(days=b - 1))
        for a, b in pairwise(bounds)
    ]
    assert sum(day_fraction(piece, whole) for piece in pieces) == 1
    total = prorate(price, day_fraction(whole, whole))
    assert total == round_money(price)
    parts = allocate(total, [piece.days for piece in pieces])
    assert sum(parts) == total
    for part, piece in zip(parts, pieces, strict=True):
        assert abs(part - prorate(price, day_fraction(piece, whole))) <= D("0.01")


@settings(max_examples=300, deadline=None)
@given(
    start=start_dates,
    length=st.integers(min_value=1, max_value=400),
    offset=st.integers(min_value=0, max_value=399),
    old=st.decimals(min_value=0, max_value=100_000, places=2),
    new=st.decimals(min_value=0, max_value=100_000, places=2),
)
def test_property_change_bills_the_exact_used_value(start, length, offset, old, new):
    """B-7: after a plan or quantity change, old price + adjustment is within half a cent of
    the exact price of the service used at each rate (exactly that price rounded half up for
    an upgrade; a downgrade's half cent goes to the customer); a cancellation keeps what was
    used within half a cent."""
    assume(offset < length)
    period = Period(start, start + timedelta(days=length - 1))
    change_date = start + timedelta(days=offset)
    remaining = F(length - offset, length)
    exact = F(old) * (1 - remaining) + F(new) * remaining
    billed = old + change_adjustment(period, change_date, old, new)
    assert abs(F(billed) - exact) <= F(1, 200)
    expected = round_money(exact)
    is_tie = (exact * 200).denominator == 1 and (exact * 200).numerator % 2 == 1
    if is_tie and new < old:
        expected -= D("0.01")
    assert billed == expected
    credit = cancellation_credit(period, change_date, old)
    assert 0 <= credit <= old
    assert abs(F(old - credit) - F(old) * (1 - remaining)) <= F(1, 200)


def test_billing_event_is_hashable_and_frozen():
    event = first_events(monthly("2025-01-01"), 1)[0]
    assert isinstance(event, BillingEvent)
    assert hash(event) == hash(first_events(monthly("2025-01-01"), 1)[0])
    with pytest.raises(AttributeError):
        event.index = 3
