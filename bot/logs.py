"""Keeping the bot token out of the logs.

python-telegram-bot logs its API URLs at DEBUG ("Set Bot API URL: .../bot<token>") and httpx
logs every request URL at INFO; both contain the token. `protect(token)` turns httpx down to
WARNING and adds a filter that replaces the secret with "<token>" in every record of the
telegram, httpx, httpcore, apscheduler and xiaoer loggers, tracebacks included.
"""

from __future__ import annotations

import logging
from typing import Final

PREFIXES: Final = ("telegram", "httpx", "httpcore", "apscheduler", "bot", "nlp", "xiaoer")
MASK: Final = "<token>"


class RedactSecrets(logging.Filter):
    """Replaces each secret in a record's message and traceback text; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
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
            text = text.replace(secret, MASK)
        return text


_filter = RedactSecrets()  # one filter for the process: logging itself is process-wide


def protect(secret: str) -> None:
    """Redact `secret` from the loggers that could print it (see the module docstring)."""
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The part after "123456:" is the secret; URLs may carry it with the colon quoted ("%3A").
    for part in (secret, secret.partition(":")[2]):
        if len(part) >= 8:  # shorter is no token, and masking it would garble unrelated text
            _filter.secrets.add(part)
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in PREFIXES]
    for logger in [logging.getLogger(n) for n in names] + [logging.root]:
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    for handler in logging.root.handlers:  # records of other loggers pass through these
        if _filter not in handler.filters:
            handler.addFilter(_filter)
