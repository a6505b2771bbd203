"""The base of the core's errors: a code for the caller to translate, and the values."""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar


def _restore_error(cls: type[CoreError], code: Enum, params: dict[str, Any]) -> CoreError:
    return cls(code, **params)


class CoreError(ValueError):
    """Refused input: never a user-facing text, a code the caller maps to a message.

    Subclasses name their enum of codes in :attr:`codes`.

    :ivar code: a member of :attr:`codes` saying what is wrong.
    :ivar params: the offending values, by name, for the caller's message.
    """

    codes: ClassVar[type[Enum]]

    def __init__(self, code: Enum | str, **params: Any) -> None:
        self.code = self.codes(code)
        self.params = dict(params)
        super().__init__(self.code.value, self.params)

    def __str__(self) -> str:
        details = ", ".join(f"{key}={value!r}" for key, value in sorted(self.params.items()))
        return f"{self.code.value}({details})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_error, (type(self), self.code, self.params))
