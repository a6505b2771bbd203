"""SEPA Direct Debit rules: identifiers, character set, TARGET2 calendar, sequence types,
pain.008 writers and bank return readers. Import from the submodules."""

from .errors import SepaError, SepaErrorCode

__all__ = ["SepaError", "SepaErrorCode"]
