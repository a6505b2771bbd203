"""Selection values and mappings of the recurring_payments addon (no logic)."""

PERIOD_UNITS = [
    ("day", "Days"),
    ("week", "Weeks"),
    ("month", "Months"),
    ("year", "Years"),
]

BILLING_MODES = [
    ("advance", "In advance"),
    ("arrears", "In arrears"),
]

SUBSCRIPTION_STATES = [
    ("draft", "Draft"),
    ("trial", "Trial"),
    ("active", "Active"),
    ("paused", "Paused"),
    ("past_due", "Past Due"),
    ("suspended", "Suspended"),
    ("cancelled", "Cancelled"),
    ("closed", "Closed"),
]

#: States in which a subscription is billed by the invoicing cron.
BILLABLE_STATES = ("trial", "active", "past_due")

#: States a subscription may be paused, suspended or cancelled from.
RUNNING_STATES = ("trial", "active", "past_due")

PAYMENT_MODES = [
    ("manual", "Manual payment (transfer)"),
    ("token", "Saved payment method"),
]

REASON_TYPES = [
    ("pause", "Pause"),
    ("suspend", "Suspension"),
    ("cancel", "Cancellation"),
]

TRANSITIONS = [
    ("pause", "Pause"),
    ("resume", "Resume"),
    ("suspend", "Suspend"),
    ("reinstate", "Reinstate"),
    ("cancel", "Cancel"),
]

#: Number of subscriptions invoiced per committed batch by the invoicing cron.
INVOICING_BATCH_SIZE = 100

#: Seconds one cron call keeps taking batches before it hands back to the scheduler
#: (Odoo's default worker limit is 120 s per call; the scheduler calls again while work remains).
INVOICING_TIME_BUDGET = 60

ATTEMPT_STATES = [
    ("sending", "Sending"),
    ("pending", "Pending"),
    ("done", "Paid"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]

#: Values of ``recurring_payments_core.retry.FailureCategory``.
FAILURE_CATEGORIES = [
    ("hard", "Hard decline"),
    ("new_payment_method", "Needs a new payment method"),
    ("insufficient_funds", "Insufficient funds"),
    ("authentication_required", "Authentication required"),
    ("soft", "Soft decline"),
    ("technical", "Technical failure"),
]

#: Values of ``recurring_payments_core.retry.RetryAction``.
RETRY_ACTIONS = [
    ("retry", "Retry"),
    ("wait_customer", "Wait for the customer"),
    ("stop", "Stopped"),
    ("exhausted", "Retries exhausted"),
]

#: Where an invoice of an automatically paid subscription stands in the charging pipeline.
CHARGE_STATES = [
    ("to_charge", "To Charge"),
    ("pending", "Pending"),
    ("retry", "To Retry"),
    ("waiting_customer", "Waiting for the Customer"),
    ("stopped", "Stopped"),
    ("exhausted", "Retries Exhausted"),
    ("paid", "Paid"),
]

#: Number of invoices charged per committed batch by the charging cron.
CHARGING_BATCH_SIZE = 50

#: Minutes after which an attempt still "sending" (a crash between the provider call
#: and the commit) is repaired from the provider.
SENDING_REPAIR_MINUTES = 10

# === SEPA DIRECT DEBIT === #

#: Code of the SEPA Direct Debit payment provider (the company's own creditor identifier).
SEPA_PROVIDER_CODE = "recurring_sepa"

#: Values of ``recurring_payments_core.sepa.pain008.Pain008Version``.
SEPA_PAIN_VERSIONS = [
    ("pain.008.001.08", "pain.008.001.08 (2019, structured addresses)"),
    ("pain.008.001.02", "pain.008.001.02 (2009)"),
]

#: Values of ``recurring_payments_core.sepa.pain008.Scheme``.
SEPA_SCHEMES = [
    ("CORE", "Core (consumers and companies)"),
    ("B2B", "Business to business"),
]

SEPA_MANDATE_TYPES = [
    ("recurrent", "Recurrent"),
    ("oneoff", "One-off"),
]

SEPA_MANDATE_STATES = [
    ("draft", "Draft"),
    ("valid", "Valid"),
    ("revoked", "Revoked"),
    ("expired", "Expired"),
    ("cancelled", "Cancelled"),
]

#: Values of ``recurring_payments_core.sepa.sequence.SequenceType``.
SEPA_SEQUENCE_TYPES = [
    ("FRST", "First"),
    ("RCUR", "Recurring"),
    ("FNAL", "Final"),
    ("OOFF", "One-off"),
]

SEPA_BATCH_STATES = [
    ("draft", "Draft"),
    ("generated", "File Generated"),
    ("sent", "Sent to the Bank"),
    ("settled", "Settled"),
    ("cancelled", "Cancelled"),
]

SEPA_RETURN_STATES = [
    ("draft", "Draft"),
    ("done", "Imported"),
]

#: Values of ``recurring_payments_core.sepa.returns.LineStatus``.
SEPA_RETURN_LINE_STATUSES = [
    ("rejected", "Rejected before settlement"),
    ("returned", "Returned after settlement"),
    ("accepted", "Accepted"),
    ("pending", "Pending"),
]

#: Values of ``recurring_payments_core.sepa.returns.ReasonAction``.
SEPA_REASON_ACTIONS = [
    ("retry", "Retry"),
    ("retry_once", "Retry once"),
    ("new_mandate", "Ask for a new mandate"),
    ("stop", "Stop"),
    ("no_auto_redebit", "No automatic re-debit"),
    ("fix_mandate", "Fix the mandate, then retry"),
    ("investigate", "Investigate"),
    ("stop_run", "Stop the run (creditor configuration)"),
    ("none", "Nothing to do"),
]

#: Days before a mandate lapses (36 months unused) on which its customer is told.
SEPA_MANDATE_EXPIRY_NOTICE_DAYS = 30
