"""One folding of text for every rule that matches words: checks, promises, the policy, the judge.

`folded(text)` maps each character to the form the rules are written in, and remembers where
it came from so a finding can quote the original:

- NFKC and lower case (full-width ｒｅｆｕｎｄ and ５ are refund and 5), except "，", which stays
  full-width so that "3，000" is never read as a thousands separator;
- traditional characters to simplified, one character at a time (OpenCC's table): 給您發個紅包
  is 给您发个红包 to a rule;
- format characters and blank-looking letters dropped (zero-width space and joiner, soft hyphen,
  bidi marks, Hangul fillers), and spaces and dashes, dots or underscores between two CJK
  characters: 补\u200b偿, 红 包 and 差—评 are 补偿, 红包 and 差评. Chinese is written without
  spaces, so a mark inside a word only hides it; newlines stay (they end sentences).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

_KEEP_AS_IS = frozenset("，")
_SPACE = frozenset(" \t\u00a0\u3000")  # \u3000 folds to " " too
# Marks that only split a Chinese word when they stand between two CJK characters (红-包, 差—评)
_SPLITTERS = frozenset("-_.·・•‐‑‒–—―~～/\\|*")
_SKIP = _SPACE | _SPLITTERS  # dropped between two CJK characters
# Letters that show as blank space (Hangul fillers): dropped everywhere
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0")


@dataclass(frozen=True)
class Folded:
    """Folded text that remembers where each character came from."""

    original: str
    norm: str
    origin: tuple[int, ...]  # origin[i]: index in `original` of norm[i]

    def source(self, start: int, end: int) -> str:
        """The original text behind norm[start:end]."""
        if start >= end:
            return ""
        return self.original[self.origin[start] : self.origin[end - 1] + 1]


def folded(text: str) -> Folded:
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            chars.append(c)
            origin.append(i)
    keep = [not (c in _SKIP and _between_cjk(chars, n)) for n, c in enumerate(chars)]
    return Folded(
        text,
        "".join(c for c, k in zip(chars, keep, strict=True) if k),
        tuple(o for o, k in zip(origin, keep, strict=True) if k),
    )


def fold(text: str) -> str:
    return folded(text).norm


@lru_cache(maxsize=65_536)
def _fold_char(ch: str) -> str:
    if ch in _KEEP_AS_IS:
        return ch
    if unicodedata.category(ch) == "Cf" or ch in _BLANKS:
        return ""
    if is_cjk(ch):
        ch = _t2s().convert(ch) or ch
    return unicodedata.normalize("NFKC", ch).lower()


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F


def _between_cjk(chars: list[str], n: int) -> bool:
    before = n - 1
    while before >= 0 and chars[before] in _SKIP:
        before -= 1
    after = n + 1
    while after < len(chars) and chars[after] in _SKIP:
        after += 1
    return before >= 0 and after < len(chars) and is_cjk(chars[before]) and is_cjk(chars[after])
