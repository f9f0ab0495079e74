"""The one error handler: log first, then tell the user something they can act on.

Expected errors (the project's own: bad input, a busy or stopping engine, a rate limit) are
logged in one line and answered with their text; Telegram's transient faults are logged as
warnings; anything else is logged with its traceback and answered with a generic apology.
Nothing here sends `str(exception)` of an unexpected error to a user.

A card (review reply, copy variant) that failed shows its own short reason (`card_reason`) and a
retry button; the unexpected error behind it is then raised as `UserInformed(error)`, so that
it is logged here with its traceback but not answered a second time.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.i18n import HTML, esc, t
from bot.messages import not_modified, send
from bot.parsing import ParseError
from bot.runtime import BotError, Context, RateLimited, ShuttingDown
from bot.store import InvalidValue, NotFound, StoreBusy, StoreError, StoreFull, StoreReadOnly
from nlp.errors import (
    EngineBusy,
    EngineClosed,
    EngineTimeout,
    InputError,
    ModelLoadError,
    ModelUnavailable,
    NLPError,
    WorkerCrashed,
)
from nlp.types import Language

log = logging.getLogger(__name__)

WRITER_REASONS = {  # ModelUnavailable.reason -> message ("down" and "open" read the same)
    "timeout": "err.writer_timeout",
    "auth": "err.writer_setup",
    "model": "err.writer_setup",
    "refused": "err.writer_refused",
}


class UserInformed(Exception):
    """An unexpected error the user was already told about (on a card): log it, send nothing."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def raise_if_unexpected(error: Exception) -> None:
    """After a card or status message showed the user why (`card_reason`): an expected error
    (busy, timed out, rate-limited, restarting ...) ends there; any other is raised as
    `UserInformed`, for the error handler's log but not for the user a second time."""
    if not isinstance(error, NLPError | BotError):
        raise UserInformed(error) from error


def user_message(lang: Language, error: BaseException) -> HTML | None:
    """The text for an expected error, or None if the error is unexpected."""
    if isinstance(error, InputError | ParseError):
        return HTML(f"⚠️ {esc(error)}")  # written for the merchant, in both languages
    if isinstance(error, InvalidValue):
        return t(lang, "invalid_value", detail=str(error))
    if isinstance(error, RateLimited):
        return t(lang, "rate_limited", seconds=error.retry_in)
    if isinstance(error, ShuttingDown | EngineClosed):
        return t(lang, "err.restarting")
    if isinstance(error, EngineBusy):
        return t(lang, "err.busy")
    if isinstance(error, EngineTimeout):
        return t(lang, "err.timeout")
    if isinstance(error, ModelUnavailable):
        return t(lang, WRITER_REASONS.get(error.reason, "err.writer_down"))
    if isinstance(error, WorkerCrashed):
        return t(lang, "err.crashed")
    if isinstance(error, NotFound):
        return t(lang, "err.not_found")
    # resilience: the store could not write now; say why and what to do (no traceback)
    if isinstance(error, StoreBusy | StoreFull | StoreReadOnly):
        key = {StoreBusy: "err.db_busy", StoreFull: "err.db_full", StoreReadOnly: "err.db_read_only"}
        return t(lang, key[type(error)])
    return None


def card_reason(lang: Language, error: Exception) -> HTML:
    """The short reason shown on a card that could not be written (expected or not)."""
    text = user_message(lang, error)
    if text is not None:
        return text
    if isinstance(error, ModelLoadError):
        return t(lang, "err.card_model")
    if isinstance(error, StoreError):
        return t(lang, "err.card_db")
    return t(lang, "err.card")


async def on_error(update: object, context: Context) -> None:
    """Log the error (traceback for unexpected ones) and tell the user what to do."""
    error = context.error
    informed = isinstance(error, UserInformed)
    if isinstance(error, UserInformed):
        error = error.error
    if error is None:
        return
    where = f"update {update.update_id}" if isinstance(update, Update) else "a job"
    if not_modified(error):
        log.debug("%s: message not modified", where)
        return
    if isinstance(error, Forbidden):
        log.warning("%s: the user blocked the bot or left the chat (%s)", where, error)
        return
    if isinstance(error, RetryAfter | NetworkError) and not isinstance(error, BadRequest):
        log.warning("%s: Telegram did not answer in time or refused for now: %s", where, error)
        return
    lang = context.lang
    text = user_message(lang, error)
    if text is not None:  # what a user typed stays out of the log: a refused value names its field
        detail = f"field {error.field}" if isinstance(error, InvalidValue) else error
        log.info("%s: %s: %s", where, type(error).__name__, detail)
    else:
        log.error("%s caused an error", where, exc_info=error)
        if isinstance(error, ModelLoadError):
            text = t(lang, "err.model")
        elif isinstance(error, StoreError):
            text = t(lang, "err.db")
        else:
            text = t(lang, "err.generic")
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None or informed:
        return
    try:
        await send(context.bot, chat.id, text)
    except TelegramError as exc:
        log.warning("%s: could not tell the user about the error: %s", where, exc)
