"""Adapters between records of the recurring_payments addon and the plain-Python core."""

import time
from decimal import Decimal

from markupsafe import Markup

from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, float_repr

from recurring_payments_core.schedule import (
    BillingMode,
    BillingTerms,
    Pause,
    PeriodUnit,
    Recurrence,
    ScheduleError,
    ScheduleErrorCode,
)
from recurring_payments_core.sepa.errors import SepaErrorCode

#: Times in a row a cron batch lost to another worker is started again before giving up.
MAX_CONCURRENCY_RETRIES = 5


def to_decimal(amount, currency):
    """Return ``amount`` (a float of a Monetary field) as a Decimal at ``currency``'s precision."""
    return Decimal(float_repr(amount or 0.0, currency.decimal_places))


def plan_recurrence(plan):
    """Return the core :class:`Recurrence` of a ``recurring.plan`` record."""
    return Recurrence(PeriodUnit(plan.period_unit), plan.period_interval)


def plan_trial(plan):
    """Return the trial of a plan as a core :class:`Recurrence`, or ``None``."""
    if not plan.trial_interval:
        return None
    return Recurrence(PeriodUnit(plan.trial_unit), plan.trial_interval)


def subscription_terms(subscription, end_date=None):
    """Return the core :class:`BillingTerms` of a ``recurring.subscription`` record.

    The schedule runs from the start of the current plan (``date_schedule_start``, the
    subscription's start unless the plan was changed); the trial applies only to a
    schedule that starts with the subscription.

    :param date end_date: cut the schedule earlier than the subscription's end date.
    """
    plan = subscription.plan_id
    start = subscription.date_schedule_start or subscription.date_start
    pauses = tuple(
        Pause(pause.date_start, pause.date_end)
        for pause in subscription.pause_ids.sorted("date_start")
        if pause.date_end and pause.date_start >= start
    )
    ends = [day for day in (subscription.date_end, end_date) if day]
    return BillingTerms(
        recurrence=plan_recurrence(plan),
        start_date=start,
        mode=BillingMode(plan.billing_mode),
        trial=plan_trial(plan) if start == subscription.date_start else None,
        end_date=min(ends) if ends else None,
        anchor_day=plan.billing_day or None,
        pauses=pauses,
    )


def send_customer_mail(record, template):
    """Queue ``template`` for the customer of ``record`` and note it in its chatter.

    The email is queued rather than posted as a notification: a notification prepares
    the customer's portal sign-up, a write on the partner that two workers charging the
    same customer at once would collide on.

    :return: the queued ``mail.mail``
    """
    mail = record.env["mail.mail"].sudo().browse(template.send_mail(record.id, force_send=False))
    record._message_log(
        body=Markup(record.env._("Email sent to the customer: <b>%(subject)s</b>"))
        % {"subject": mail.subject}
    )
    return mail


def schedule_error_message(env, error):
    """Return a translated, user-facing message for a core :class:`ScheduleError`."""
    _ = env._
    code = error.code
    params = error.params
    messages = {
        ScheduleErrorCode.INTERVAL_NOT_POSITIVE: _("The interval of a period must be at least 1."),
        ScheduleErrorCode.ANCHOR_DAY_OUT_OF_RANGE: _("The billing day must be between 1 and 31."),
        ScheduleErrorCode.END_BEFORE_START: _("The end date cannot be before the start date."),
        ScheduleErrorCode.PAUSE_INVALID: _(
            "A pause must start on or after the start of the subscription, end after it "
            "starts and not overlap another pause."
        ),
        ScheduleErrorCode.DATE_OUTSIDE_PERIOD: _(
            "The date %(date)s is outside the billed period %(start)s – %(end)s.",
            date=params.get("date"),
            start=params.get("start"),
            end=params.get("end"),
        ),
        ScheduleErrorCode.NAIVE_DATETIME: _("A date and time without a time zone was given."),
    }
    return messages.get(code, str(error))


def sepa_error_message(env, error):
    """Return a translated, user-facing message for a core :class:`SepaError`."""
    _ = env._
    code = error.code
    params = error.params
    messages = {
        SepaErrorCode.CREDITOR_ID_FORMAT: lambda: _(
            "%(value)s is not a SEPA creditor identifier: it is the country code, two check "
            "digits, a three-character business code and the national identifier, for "
            "example FR72ZZZ123456.",
            value=params.get("creditor_id"),
        ),
        SepaErrorCode.CREDITOR_ID_CHECKSUM: lambda: _(
            "The check digits of the creditor identifier %(value)s are wrong.",
            value=params.get("creditor_id"),
        ),
        SepaErrorCode.MANDATE_REFERENCE_EMPTY: lambda: _("A mandate reference cannot be empty."),
        SepaErrorCode.MANDATE_REFERENCE_TOO_LONG: lambda: _(
            "The mandate reference %(value)s is longer than 35 characters.",
            value=params.get("reference"),
        ),
        SepaErrorCode.MANDATE_REFERENCE_CHARSET: lambda: _(
            "The mandate reference %(value)s may only hold letters without accents, digits, "
            "spaces and / - ? : ( ) . , ' +",
            value=params.get("reference"),
        ),
        SepaErrorCode.MANDATE_REFERENCE_SLASH: lambda: _(
            "The mandate reference %(value)s cannot start or end with / nor contain //.",
            value=params.get("reference"),
        ),
        SepaErrorCode.IBAN_INVALID: lambda: _(
            "%(value)s is not a valid IBAN.", value=params.get("iban")
        ),
        SepaErrorCode.IBAN_OUTSIDE_SEPA: lambda: _(
            "The IBAN %(value)s is not from a country of the SEPA area.",
            value=params.get("iban"),
        ),
        SepaErrorCode.BIC_INVALID: lambda: _(
            "%(value)s is not a valid BIC.", value=params.get("bic") or ""
        ),
        SepaErrorCode.COLLECTION_DATE_TOO_EARLY: lambda: _(
            "The collection date %(requested)s is too early: the earliest allowed after the "
            "pre-notification and the bank's lead time is %(earliest)s.",
            requested=params.get("requested"),
            earliest=params.get("earliest"),
        ),
        SepaErrorCode.COLLECTION_DATE_NOT_BUSINESS_DAY: lambda: _(
            "The collection date %(requested)s is not a TARGET2 business day.",
            requested=params.get("requested"),
        ),
        SepaErrorCode.NEGATIVE_DAYS: lambda: _("A number of days cannot be negative."),
        SepaErrorCode.MANDATE_ALREADY_USED: lambda: _(
            "This one-off mandate was already collected: it cannot be used again."
        ),
        SepaErrorCode.MANDATE_EXPIRED: lambda: _(
            "This mandate was not used for 36 months: it has lapsed and cannot be collected."
        ),
        SepaErrorCode.IDENTIFIER_INVALID: lambda: _(
            "The identifier %(value)s (%(field)s) must be 1 to 35 characters of the SEPA "
            "character set, without a leading / nor //.",
            value=params.get("value"),
            field=params.get("field"),
        ),
        SepaErrorCode.TEXT_EMPTY: lambda: _(
            "The %(field)s is empty once written in the SEPA character set.",
            field=params.get("field"),
        ),
        SepaErrorCode.AMOUNT_NOT_POSITIVE: lambda: _(
            "A direct debit amount must be positive (got %(amount)s).", amount=params.get("amount")
        ),
        SepaErrorCode.AMOUNT_PRECISION: lambda: _(
            "A direct debit amount has at most two decimals (got %(amount)s).",
            amount=params.get("amount"),
        ),
        SepaErrorCode.AMOUNT_TOO_LARGE: lambda: _(
            "The direct debit amount %(amount)s is larger than SEPA allows.",
            amount=params.get("amount"),
        ),
        SepaErrorCode.CURRENCY_NOT_EUR: lambda: _(
            "SEPA direct debits are in euros only (got %(currency)s).",
            currency=params.get("currency"),
        ),
        SepaErrorCode.B2B_DEBTOR_NOT_COMPANY: lambda: _(
            "A B2B direct debit needs a company as debtor (%(value)s).",
            value=params.get("end_to_end_id"),
        ),
        SepaErrorCode.DEBTOR_ADDRESS_REQUIRED: lambda: _(
            "The debtor of %(value)s banks outside the EEA: their postal address (town and "
            "country at least) and BIC are required.",
            value=params.get("end_to_end_id"),
        ),
        SepaErrorCode.ADDRESS_INCOMPLETE: lambda: _(
            "A postal address in a SEPA file needs at least a town and a country (%(field)s).",
            field=params.get("field"),
        ),
        SepaErrorCode.NO_TRANSACTIONS: lambda: _("There is no direct debit to write."),
        SepaErrorCode.DEBITS_NOT_REITERABLE: lambda: _(
            "The direct debits changed while the file was written: try again."
        ),
        SepaErrorCode.DEBITS_CHANGED: lambda: _(
            "The direct debits changed while the file was written: try again."
        ),
        SepaErrorCode.RETURN_FILE_MALFORMED: lambda: _(
            "This file is not a readable bank return: %(detail)s",
            detail=", ".join(f"{key}={value}" for key, value in sorted(params.items()))
            or _("it is not well-formed XML."),
        ),
        SepaErrorCode.RETURN_FILE_UNSUPPORTED: lambda: _(
            "This file is not a pain.002 status report nor a camt.054 notification "
            "(namespace %(namespace)s).",
            namespace=params.get("namespace") or "-",
        ),
        SepaErrorCode.RETURN_FILE_INCOMPLETE: lambda: _(
            "Line %(line)s of the bank return has no %(field)s.",
            line=params.get("line"),
            field=params.get("field"),
        ),
    }
    message = messages.get(code)
    return message() if message else str(error)


def claim_records(model, domain, limit, order="id"):
    """Lock and return up to ``limit`` records of ``model`` matching ``domain``, skipping
    the rows another worker holds (``FOR NO KEY UPDATE SKIP LOCKED``): the claim of a
    cron batch whose processing takes the records out of ``domain``."""
    model.env.flush_all()
    query = model._search(domain, limit=limit, order=order)
    model.env.cr.execute(
        SQL(
            "%s FOR NO KEY UPDATE OF %s SKIP LOCKED",
            query.select(),
            SQL.identifier(model._table),
        ),
        log_exceptions=False,
    )
    records = model.browse([row[0] for row in model.env.cr.fetchall()])
    records.invalidate_recordset()
    return records


def run_cron_batches(env, claim, process, count_remaining, *, can_commit, time_budget, after=None):
    """Run a cron's work in committed batches, the way every cron of the addon does.

    Each round claims a batch (``claim()``, which locks its rows with ``FOR NO KEY UPDATE
    SKIP LOCKED`` and returns an empty recordset when nothing is left), processes it
    (``process(records)``) and commits; when another worker changed what the batch
    touched, the round is rolled back and started again, at most
    :data:`MAX_CONCURRENCY_RETRIES` times in a row. ``after(result)`` (optional) runs on
    what ``process`` returned once that is committed, outside the retry (the charging
    cron calls the providers there). Progress goes to ``ir.cron._notify_progress`` with
    ``count_remaining()``; after ``time_budget`` seconds the call returns and the
    scheduler calls again while work remains.

    :param bool can_commit: whether to commit (never inside a test's transaction); when
        ``False`` a concurrency error is raised, not retried.
    :return: the number of records processed.
    """
    deadline = time.monotonic() + time_budget
    done = 0
    retries = 0
    while True:
        try:
            records = claim()
            if not records:
                break
            result = process(records)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # Another worker changed what this batch touched: start the batch again in
            # a new transaction (nothing of it was kept).
            if not can_commit or retries >= MAX_CONCURRENCY_RETRIES:
                raise
            retries += 1
            env.cr.rollback()
            continue
        retries = 0
        if after is not None:
            if can_commit:
                env.cr.commit()  # pylint: disable=invalid-commit
            after(result)
        done += len(records)
        remaining = count_remaining()
        env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if can_commit:
            env.cr.commit()  # pylint: disable=invalid-commit
        if not remaining or time.monotonic() > deadline:
            break
    if not done:
        env["ir.cron"]._notify_progress(done=0, remaining=0)
    return done


__all__ = [
    "ScheduleError",
    "plan_recurrence",
    "plan_trial",
    "claim_records",
    "run_cron_batches",
    "schedule_error_message",
    "sepa_error_message",
    "subscription_terms",
    "to_decimal",
]
