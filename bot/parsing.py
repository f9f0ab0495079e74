"""Turning what a merchant pastes or uploads into review texts.

- `split_reviews`: one message -> reviews (one per line, numbering such as "1." "2、" "③" removed);
- `split_items` / `spec_pair`: what /copy asks for as lists and specs.

Uploaded files are read by bot/tables.py; `ParseError` and `Table` are re-exported here for the
modules that import them from this one.
"""

from __future__ import annotations

import re
from typing import TypeVar

from bot.tables import ParseError as ParseError
from bot.tables import Table as Table

T = TypeVar("T", bound=str)
D = TypeVar("D")

# "." and ":" count as numbering only when no digit follows ("3.5元" "10:30" are text), and "-" only
# when it is not a minus sign ("-5度").
_NUMBERING = re.compile(r"^\s*(?:[(（]?\d{1,3}(?:[)）、]|[.:：](?!\d))|[①-⑳]|-(?!\d)|[*•·])\s*")


def split_reviews(message: str) -> list[str]:
    reviews = []
    for line in message.splitlines():
        text = _NUMBERING.sub("", line, count=1).strip()
        if text:
            reviews.append(text)
    return reviews


def pick(value: object, options: tuple[T, ...], default: D) -> T | D:
    """`value` if it is one of `options` (e.g. a tone read back from JSON), else `default`."""
    for option in options:
        if option == value:
            return option
    return default


def split_items(text: str) -> list[str]:
    """ "防水；轻便, 大容量" -> ["防水", "轻便", "大容量"] (what /copy asks for as a list)."""
    unified = text.replace("；", ";").replace("，", ",").replace("、", ",").replace(",", ";")
    return [p.strip() for p in unified.split(";") if p.strip()]


def spec_pair(item: str) -> tuple[str, str]:
    """ "容量=500ml" / "容量：500ml" -> ("容量", "500ml"); a bare value is a "规格"."""
    for sep in ("=", "：", ":"):
        if sep in item:
            k, _, v = item.partition(sep)
            return k.strip(), v.strip()
    return "规格", item
