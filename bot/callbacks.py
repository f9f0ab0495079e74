"""Callback data of every inline button: versioned prefixes, built and parsed in one place.

The format is ``v1:<area>:<verb>[:<id>][:<arg>]``, e.g. ``v1:rv:regen:42`` (regenerate the reply
stored as generation 42) or ``v1:rv:tone:42:warm``. Telegram returns the data untouched, but
anyone can send any data, so `parse` checks the version, the action, the id's shape and the
argument's vocabulary; ownership of the id is then checked against the store by the handler
(the store filters every lookup by merchant id). Bump `VERSION` when a format changes so that
buttons of old messages are refused instead of misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from telegram.constants import InlineKeyboardButtonLimit

from nlp.types import LENGTHS, PLATFORMS, TONES

VERSION: Final = "v1"

# Review cards (id: generation id, or review id for RV_REPLY)
RV_REGEN: Final = "rv:regen"
RV_TONE: Final = "rv:tone"  # arg: tone
RV_EDIT: Final = "rv:edit"
RV_ACCEPT: Final = "rv:ok"
RV_REJECT: Final = "rv:no"
RV_REPLY: Final = "rv:reply"  # id: review id; a card that got no reply yet
RV_RETRY: Final = "rv:retry"  # id: review id; a card whose reply failed
# Copy variants (id: generation id) and the /copy questions
CP_REGEN: Final = "cp:regen"
CP_SHORTEN: Final = "cp:short"
CP_TONE: Final = "cp:tone"  # arg: tone
CP_ACCEPT: Final = "cp:ok"
CP_PLATFORM: Final = "cp:plat"  # arg: platform
CP_LENGTH: Final = "cp:len"  # arg: length
# Onboarding (/start)
OB_TONE: Final = "ob:tone"  # arg: tone
OB_LANGUAGE: Final = "ob:lang"  # arg: reply language
# /settings
ST_FIELD: Final = "st:field"  # arg: profile field
ST_TONE: Final = "st:tone"  # arg: tone
ST_REPLY_LANGUAGE: Final = "st:rlang"  # arg: reply language
ST_UI_LANGUAGE: Final = "st:ui"  # arg: UI language
ST_DONE: Final = "st:done"

REPLY_LANGUAGES: Final = ("zh", "en", "auto")
UI_LANGUAGES: Final = ("zh", "en")
TEXT_FIELDS: Final = ("name", "category", "signature", "policy")
SETTINGS_FIELDS: Final = (*TEXT_FIELDS, "tone", "language", "ui")

# action -> (takes an id, allowed arguments or None for no argument)
_SPEC: Final[dict[str, tuple[bool, tuple[str, ...] | None]]] = {
    RV_REGEN: (True, None),
    RV_TONE: (True, TONES),
    RV_EDIT: (True, None),
    RV_ACCEPT: (True, None),
    RV_REJECT: (True, None),
    RV_REPLY: (True, None),
    RV_RETRY: (True, None),
    CP_REGEN: (True, None),
    CP_SHORTEN: (True, None),
    CP_TONE: (True, TONES),
    CP_ACCEPT: (True, None),
    CP_PLATFORM: (False, PLATFORMS),
    CP_LENGTH: (False, LENGTHS),
    OB_TONE: (False, TONES),
    OB_LANGUAGE: (False, REPLY_LANGUAGES),
    ST_FIELD: (False, SETTINGS_FIELDS),
    ST_TONE: (False, TONES),
    ST_REPLY_LANGUAGE: (False, REPLY_LANGUAGES),
    ST_UI_LANGUAGE: (False, UI_LANGUAGES),
    ST_DONE: (False, None),
}
ACTIONS: Final = tuple(_SPEC)
MAX_ID: Final = 2**63 - 1  # SQLite INTEGER
_ID = re.compile(r"[1-9][0-9]{0,18}")


class BadCallback(ValueError):
    """Callback data that this version of the bot did not make (old, malformed or forged)."""


@dataclass(frozen=True)
class Callback:
    action: str
    id: int | None = None
    arg: str | None = None

    def need_id(self) -> int:
        if self.id is None:  # parse() guarantees an id for actions that take one
            raise BadCallback(f"{self.action} carries no id")
        return self.id

    def need_arg(self) -> str:
        if self.arg is None:
            raise BadCallback(f"{self.action} carries no argument")
        return self.arg


def build(action: str, id: int | None = None, arg: str | None = None) -> str:
    """Callback data for a button; raises ValueError for data `parse` would refuse."""
    parts = [VERSION, action]
    if id is not None:
        parts.append(str(id))
    if arg is not None:
        parts.append(arg)
    data = ":".join(parts)
    if parse(data) != Callback(action, id, arg):
        raise ValueError(f"bad callback data {data!r}")
    return data


def parse(data: object) -> Callback:
    """Checked callback data; `BadCallback` for anything this bot would not have built."""
    if not isinstance(data, str) or len(data.encode()) > InlineKeyboardButtonLimit.MAX_CALLBACK_DATA:
        raise BadCallback("not callback data of this bot")
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != VERSION:
        raise BadCallback(f"unknown version or format: {data[:20]!r}")
    action = f"{parts[1]}:{parts[2]}"
    spec = _SPEC.get(action)
    if spec is None:
        raise BadCallback(f"unknown action {action[:20]!r}")
    takes_id, choices = spec
    rest = parts[3:]
    id_: int | None = None
    if takes_id:
        if not rest or not _ID.fullmatch(rest[0]) or int(rest[0]) > MAX_ID:
            raise BadCallback(f"{action}: bad id")
        id_ = int(rest.pop(0))
    arg: str | None = None
    if choices is not None:
        if len(rest) != 1 or rest[0] not in choices:
            raise BadCallback(f"{action}: bad argument")
        arg = rest.pop()
    if rest:
        raise BadCallback(f"{action}: unexpected data")
    return Callback(action, id_, arg)


def pattern(*actions: str) -> re.Pattern[str]:
    """A CallbackQueryHandler pattern for these actions (the handler still calls `parse`)."""
    alternatives = "|".join(re.escape(a) for a in actions)
    return re.compile(rf"^{VERSION}:(?:{alternatives})(?::|$)")
