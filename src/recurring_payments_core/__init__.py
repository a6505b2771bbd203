"""Plain-Python rules of the recurring payments addons for Odoo.

Nothing in this package imports Odoo, reads a clock, the environment or a random
source: the addons turn records into plain values, call these functions with an
explicit ``today``, and apply the decisions they return. Errors carry codes (enums),
never user-facing text.

Modules:

- :mod:`recurring_payments_core.errors`: the base of the errors, a code and values.
- :mod:`recurring_payments_core.money`: exact amounts, half-up rounding, proration
  and allocation.
- :mod:`recurring_payments_core.schedule`: billing periods, stubs, trials, pauses and
  mid-period adjustments.
- :mod:`recurring_payments_core.billing`: line amounts, mid-period changes, MRR factors.
- :mod:`recurring_payments_core.retry`: classification of payment failures and the
  retry decisions (schedules, card network caps, technical backoff, idempotency keys).
- :mod:`recurring_payments_core.sepa`: SEPA Direct Debit: creditor identifiers, mandate
  references, IBANs, the SEPA character set, TARGET2 dates, sequence types, pain.008
  writers (.08 and .02, streamed) and pain.002 / camt.054 readers.
- :mod:`recurring_payments_core.stripe_adapter`: what Odoo's ``payment_stripe`` does not
  do: card and decline details, off-session charges, webhook verification.
"""
