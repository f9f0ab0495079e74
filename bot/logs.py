"""Keeping secrets and customer text out of the logs.

python-telegram-bot logs its API URLs at DEBUG ("Set Bot API URL: .../bot<token>") and httpx
logs every request URL at INFO; both contain the token. PTB also logs every request's
parameters and every answer at DEBUG: setWebhook's `secret_token` (whoever holds it can post
updates as any user), and the texts of messages, updates and file names (customer data);
aiosqlite logs every statement with its parameters (reviews, replies) at DEBUG.

`protect(secret, mask)` turns httpx down to WARNING and adds one filter to the telegram,
httpx, httpcore, apscheduler, aiosqlite and xiaoer loggers (and the root handlers) that
replaces each secret with its mask in every record, tracebacks included. `log_contents(False)`
(the default, XIAOER_LOG_CONTENTS) makes the same filter replace the arguments of telegram,
httpx and aiosqlite records that carry bodies or SQL parameters with "<redacted …>"; ids,
method names and numbers stay.
"""

from __future__ import annotations

import logging
import re
from typing import Final

PREFIXES: Final = ("telegram", "httpx", "httpcore", "apscheduler", "aiosqlite", "bot", "nlp", "xiaoer")
CONTENT_PREFIXES: Final = ("telegram", "httpx", "httpcore", "aiosqlite")  # these print bodies, SQL params
MASK: Final = "<token>"
MASK_SECRET: Final = "<secret>"
_PLAIN = re.compile(r"[\w.:/@-]{0,200}", re.ASCII)  # method names, URLs without a query, ids: no text
_CONTAINERS = (dict, list, tuple, set, frozenset, bytes, bytearray)


class RedactSecrets(logging.Filter):
    """Replaces each secret (and, unless asked otherwise, message bodies); never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.masks: dict[str, str] = {}  # secret -> its mask, when not MASK
        self.contents = False  # True: keep request and update bodies (XIAOER_LOG_CONTENTS)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.contents and record.name.split(".")[0] in CONTENT_PREFIXES:
            _redact_bodies(record)
        if not self.secrets:
            return True
        # Format now: PTB logs dicts that it changes afterwards (getFile's file_path becomes the
        # download URL, token included), so formatting later, e.g. via a QueueHandler, would leak.
        record.msg, record.args = self._redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True

    def _redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, self.masks.get(secret, MASK))
        return text


def _redact_bodies(record: logging.LogRecord) -> None:
    """Replace the arguments that may hold customer text ("with parameters `{...}`", updates)."""
    if isinstance(record.args, dict):  # one dict argument: logging unpacked it into `args`
        if "%(" in str(record.msg):
            record.args = {k: _plain_or_redacted(v) for k, v in record.args.items()}
        else:
            record.args = (_plain_or_redacted(record.args),)
    elif isinstance(record.args, tuple):
        record.args = tuple(_plain_or_redacted(a) for a in record.args)
    if not isinstance(record.msg, str):  # an object logged as the message itself
        record.msg = _plain_or_redacted(record.msg)


def _plain_or_redacted(value: object) -> object:
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        return value  # update ids
    if not isinstance(value, _CONTAINERS) and _PLAIN.fullmatch(str(value)):
        return value  # "sendMessage", an httpx.URL (the token is masked afterwards)
    return f"<redacted {type(value).__name__}>"


_filter = RedactSecrets()  # one filter for the process: logging itself is process-wide


def log_contents(keep: bool) -> None:
    """Whether DEBUG logs of Telegram requests keep message texts and updates (default: no)."""
    _filter.contents = keep


def protect(secret: str, mask: str = MASK) -> None:
    """Redact `secret` from the loggers that could print it (see the module docstring)."""
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The part after "123456:" of a token is the secret; URLs may carry it with the colon quoted.
    for part in (secret, secret.partition(":")[2]):
        if len(part) >= 8:  # shorter is no secret, and masking it would garble unrelated text
            _filter.secrets.add(part)
            _filter.masks[part] = mask
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in PREFIXES]
    for logger in [logging.getLogger(n) for n in names] + [logging.root]:
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    for handler in logging.root.handlers:  # records of other loggers pass through these
        if _filter not in handler.filters:
            handler.addFilter(_filter)
