"""TARGET2 business days and the earliest allowed collection date (S-7).

TARGET2 is closed on Saturdays, Sundays, 1 January, Good Friday, Easter Monday,
1 May, 25 and 26 December. SEPA collections are due on TARGET2 business days, and a
CORE or B2B file must reach the bank at least one business day before the due date
(D-1, since November 2016; banks may ask more, hence ``lead_days``). Bank cut-off
times are the caller's business: pass the first day the bank will process the file
as ``submitted_on``.
"""

from __future__ import annotations

from datetime import date, timedelta

from .errors import SepaError, SepaErrorCode

__all__ = [
    "add_business_days",
    "check_collection_date",
    "collection_date",
    "earliest_collection_date",
    "easter_sunday",
    "is_target2_business_day",
    "next_business_day",
    "prenotification_date",
]

_ONE_DAY = timedelta(days=1)

#: Default notice period of a pre-notification, in calendar days.
DEFAULT_NOTICE_DAYS = 14
#: Default lead time of the scheme, in TARGET2 business days (D-1).
DEFAULT_LEAD_DAYS = 1


def easter_sunday(year: int) -> date:
    """Easter Sunday of ``year`` in the Gregorian calendar (Anonymous Gregorian
    algorithm, also known as Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def is_target2_business_day(day: date) -> bool:
    """Whether TARGET2 settles on ``day``."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in {(1, 1), (5, 1), (12, 25), (12, 26)}:
        return False
    easter = easter_sunday(day.year)
    return day not in (easter - 2 * _ONE_DAY, easter + _ONE_DAY)


def next_business_day(day: date) -> date:
    """``day`` itself when it is a TARGET2 business day, else the next one."""
    while not is_target2_business_day(day):
        day += _ONE_DAY
    return day


def add_business_days(day: date, count: int) -> date:
    """The ``count``-th TARGET2 business day after ``day`` (``day`` itself not counted,
    whether or not it is a business day); ``day`` itself when ``count`` is 0.

    :raises SepaError: ``NEGATIVE_DAYS`` when ``count`` is negative.
    """
    if count < 0:
        raise SepaError(SepaErrorCode.NEGATIVE_DAYS, count=count)
    while count:
        day += _ONE_DAY
        if is_target2_business_day(day):
            count -= 1
    return day


def earliest_collection_date(
    prenotified_on: date,
    *,
    submitted_on: date,
    notice_days: int = DEFAULT_NOTICE_DAYS,
    lead_days: int = DEFAULT_LEAD_DAYS,
) -> date:
    """The earliest TARGET2 business day a collection may be requested for (S-7).

    It is never before ``prenotified_on + notice_days`` calendar days, and at least
    ``lead_days`` TARGET2 business days after ``submitted_on``.

    :param prenotified_on: the day the debtor was sent the pre-notification.
    :param submitted_on: the day the file is (to be) handed to the bank.
    :param notice_days: the notice period of the mandate: 14 calendar days unless
        the contract agrees a shorter one.
    :param lead_days: the scheme's (or bank's) lead time, in business days.
    :raises SepaError: ``NEGATIVE_DAYS``.
    """
    if notice_days < 0:
        raise SepaError(SepaErrorCode.NEGATIVE_DAYS, count=notice_days)
    after_notice = prenotified_on + timedelta(days=notice_days)
    after_lead = add_business_days(submitted_on, lead_days)
    return next_business_day(max(after_notice, after_lead))


def collection_date(
    requested: date,
    *,
    prenotified_on: date,
    notice_days: int = DEFAULT_NOTICE_DAYS,
    lead_days: int = DEFAULT_LEAD_DAYS,
    after: date | None = None,
) -> date:
    """The day to collect a debit the customer expects on ``requested`` (S-7).

    The requested day, but never before the earliest allowed after a pre-notification
    sent (and a file submitted) on ``prenotified_on``, always a TARGET2 business day,
    and strictly after ``after`` when given (the collection date of the mandate's first
    collection still to be presented: the bank must see it before the recurring ones).

    :raises SepaError: ``NEGATIVE_DAYS``.
    """
    earliest = earliest_collection_date(
        prenotified_on,
        submitted_on=prenotified_on,
        notice_days=notice_days,
        lead_days=lead_days,
    )
    day = next_business_day(max(requested, earliest))
    if after is not None and day <= after:
        day = next_business_day(after + _ONE_DAY)
    return day


def prenotification_date(
    collection: date,
    *,
    notice_days: int = DEFAULT_NOTICE_DAYS,
    lead_days: int = DEFAULT_LEAD_DAYS,
) -> date:
    """The day to pre-notify (and queue) a debit so that it can be collected on
    ``collection``: ``lead_days`` TARGET2 business days before it (the bank's lead time),
    then ``notice_days`` calendar days before that. A pre-notification on that day allows
    a collection on ``collection`` or the next business day (:func:`collection_date`),
    with a day of the lead time to spare for the file.

    :raises SepaError: ``NEGATIVE_DAYS``.
    """
    if notice_days < 0 or lead_days < 0:
        raise SepaError(SepaErrorCode.NEGATIVE_DAYS, count=min(notice_days, lead_days))
    day = collection
    count = lead_days
    while count:
        day -= _ONE_DAY
        if is_target2_business_day(day):
            count -= 1
    return day - timedelta(days=notice_days)


def check_collection_date(
    requested: date,
    prenotified_on: date,
    *,
    submitted_on: date,
    notice_days: int = DEFAULT_NOTICE_DAYS,
    lead_days: int = DEFAULT_LEAD_DAYS,
) -> date:
    """Return ``requested`` when it is an allowed collection date (S-7).

    :raises SepaError: ``COLLECTION_DATE_NOT_BUSINESS_DAY``, or
        ``COLLECTION_DATE_TOO_EARLY`` with the ``earliest`` allowed date.
    """
    if not is_target2_business_day(requested):
        raise SepaError(SepaErrorCode.COLLECTION_DATE_NOT_BUSINESS_DAY, requested=requested)
    earliest = earliest_collection_date(
        prenotified_on, submitted_on=submitted_on, notice_days=notice_days, lead_days=lead_days
    )
    if requested < earliest:
        raise SepaError(
            SepaErrorCode.COLLECTION_DATE_TOO_EARLY, requested=requested, earliest=earliest
        )
    return requested
