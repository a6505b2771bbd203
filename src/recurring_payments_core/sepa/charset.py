"""The SEPA Latin character set, and transliteration of any text into it (S-9).

Every text of a SEPA message is limited to ``a-z A-Z 0-9 / - ? : ( ) . , ' +`` and
space. :func:`to_sepa_latin` makes any Unicode text fit, choosing readability over
faithfulness. The choices:

- Accented letters lose their accents (``Zoë`` → ``Zoe``, ``Ünal`` → ``Unal``,
  ``Büro`` → ``Buro``). German ``ä/ö/ü → ae/oe/ue`` is not used: the language of a
  name is unknown, and a Turkish ``Ünal`` is not ``Uenal``.
- Letters that do not decompose are spelled out: ``ß`` → ``ss``, ``æ`` → ``ae``,
  ``œ`` → ``oe``, ``ø`` → ``o``, ``ł`` → ``l``, ``đ``/``ð`` → ``d``, ``þ`` → ``th``.
- ``&`` becomes ``+`` (one character, the same in every language, so lengths hold).
- Every dash becomes ``-``; every quotation mark (straight, curly, guillemets) becomes
  ``'``; ``@`` becomes ``(at)``; ``€`` becomes ``EUR``; ``_`` becomes ``-``; ``;`` becomes ``,``;
  ``!`` becomes ``.``; brackets and braces become parentheses.
- Anything else (other symbols, control characters, scripts that cannot be
  transliterated) becomes a space; runs of spaces collapse to one and the text is
  stripped.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["SEPA_LATIN", "is_sepa_latin", "to_sepa_latin"]

#: The characters every SEPA text may hold.
SEPA_LATIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")

_SPECIAL = {
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "ı": "i",
    "ħ": "h",
    "Ħ": "H",
    "ŧ": "t",
    "Ŧ": "T",
    "&": "+",
    "@": "(at)",
    "\u20ac": "EUR",  # euro sign
    "_": "-",
    ";": ",",
    "!": ".",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    '"': "'",
    "`": "'",
    "\u00b4": "'",  # acute accent
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": "'",
    "\u201d": "'",
    "\u201e": "'",
    "\u201f": "'",
    "\u00ab": "'",  # «
    "\u00bb": "'",  # »
    "\u2039": "'",
    "\u203a": "'",
}

_SPACES = re.compile(" {2,}")
#: A whole text of the Latin set (``fullmatch``; ``$`` would let a trailing newline pass).
_LATIN_TEXT = re.compile("[" + "".join(re.escape(char) for char in sorted(SEPA_LATIN)) + "]*")
#: Code points in :data:`_TABLE` at most: texts of every Unicode character must not
#: make it grow to a million entries (beyond, texts with others are done char by char).
_TABLE_MAX_SIZE = 8192


def is_sepa_latin(text: str) -> bool:
    """Whether every character of ``text`` is in :data:`SEPA_LATIN`."""
    return _LATIN_TEXT.fullmatch(text) is not None


def _transliterate_char(char: str) -> str:
    if char in SEPA_LATIN:
        return char
    if char in _SPECIAL:
        return _SPECIAL[char]
    # Compatibility decomposition splits accents off (é → e + ◌́) and folds
    # ligatures and width variants (ﬁ → fi, Ａ → A); keep what is in the set.
    decomposed = unicodedata.normalize("NFKD", char)
    kept = "".join(
        _SPECIAL.get(part, part) for part in decomposed if not unicodedata.combining(part)
    )
    if kept and all(part in SEPA_LATIN for part in kept):
        return kept
    return " "


#: ``str.translate`` table: code point → :func:`_transliterate_char` of it. Each
#: character is transliterated on its own, so translating gives exactly what a loop over
#: the characters would. Filled for ASCII, Latin-1 and Latin Extended-A/B at import,
#: then with the characters met (a plain dict: ``translate`` is faster with one).
_TABLE: dict[int, str] = {code: _transliterate_char(chr(code)) for code in range(0x250)}


def _transliterate(text: str) -> str:
    result = text.translate(_TABLE)
    # Every value of the table is ASCII, and every ASCII character has one: a character
    # left as it was is one not in the table yet (and isascii() needs no scan).
    if not result.isascii():
        missing = {ord(char) for char in text}.difference(_TABLE)
        if len(_TABLE) + len(missing) > _TABLE_MAX_SIZE:
            return "".join(map(_transliterate_char, text))
        _TABLE.update((code, _transliterate_char(chr(code))) for code in missing)
        result = text.translate(_TABLE)
    return result


def to_sepa_latin(text: str, max_length: int | None = None) -> str:
    """Return ``text`` transliterated to the SEPA Latin set (see the module's choices).

    :param text: any Unicode text.
    :param max_length: when given, the result is cut to at most this many characters
        (after transliteration, then stripped of a trailing space).
    :return: a text of :data:`SEPA_LATIN` characters, without leading, trailing or
        double spaces; empty when nothing of ``text`` could be kept.
    """
    if not text.isascii() or _LATIN_TEXT.fullmatch(text) is None:
        text = _transliterate(text)
    if "  " in text:
        text = _SPACES.sub(" ", text)
    text = text.strip()
    if max_length is not None:
        text = text[: max(max_length, 0)].rstrip()
    return text
