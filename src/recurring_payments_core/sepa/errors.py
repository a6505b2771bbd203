"""The error of the SEPA rules: one class, one enum of codes for the caller to translate."""

from __future__ import annotations

from enum import Enum

from ..errors import CoreError

__all__ = ["SepaError", "SepaErrorCode"]


class SepaErrorCode(str, Enum):
    """Reasons why SEPA input is refused; the caller maps them to messages."""

    # --- identifiers ---
    CREDITOR_ID_FORMAT = "creditor_id_format"
    CREDITOR_ID_CHECKSUM = "creditor_id_checksum"
    MANDATE_REFERENCE_EMPTY = "mandate_reference_empty"
    MANDATE_REFERENCE_TOO_LONG = "mandate_reference_too_long"
    MANDATE_REFERENCE_CHARSET = "mandate_reference_charset"
    #: starts or ends with ``/``, or contains ``//``.
    MANDATE_REFERENCE_SLASH = "mandate_reference_slash"
    IBAN_INVALID = "iban_invalid"
    IBAN_OUTSIDE_SEPA = "iban_outside_sepa"
    BIC_INVALID = "bic_invalid"
    # --- calendar and mandates ---
    COLLECTION_DATE_TOO_EARLY = "collection_date_too_early"
    COLLECTION_DATE_NOT_BUSINESS_DAY = "collection_date_not_business_day"
    NEGATIVE_DAYS = "negative_days"
    MANDATE_ALREADY_USED = "mandate_already_used"
    MANDATE_EXPIRED = "mandate_expired"
    # --- pain.008 ---
    #: an identifier (message, end-to-end) is empty, too long, outside the Latin set,
    #: or has a leading ``/`` or a ``//``.
    IDENTIFIER_INVALID = "identifier_invalid"
    TEXT_EMPTY = "text_empty"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    AMOUNT_PRECISION = "amount_precision"
    AMOUNT_TOO_LARGE = "amount_too_large"
    CURRENCY_NOT_EUR = "currency_not_eur"
    B2B_DEBTOR_NOT_COMPANY = "b2b_debtor_not_company"
    DEBTOR_ADDRESS_REQUIRED = "debtor_address_required"
    #: a postal address without town or country.
    ADDRESS_INCOMPLETE = "address_incomplete"
    NO_TRANSACTIONS = "no_transactions"
    #: the debits were given as a one-shot iterator; the writer reads them twice.
    DEBITS_NOT_REITERABLE = "debits_not_reiterable"
    #: the debits changed between the writer's two passes.
    DEBITS_CHANGED = "debits_changed"
    # --- return files ---
    RETURN_FILE_MALFORMED = "return_file_malformed"
    RETURN_FILE_UNSUPPORTED = "return_file_unsupported"
    RETURN_FILE_INCOMPLETE = "return_file_incomplete"


class SepaError(CoreError):
    """Refused SEPA input; :attr:`code` is a :class:`SepaErrorCode`."""

    codes = SepaErrorCode
