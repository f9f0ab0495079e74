"""The one error handler: log first, then tell the user something they can act on.

Expected errors (the project's own: bad input, a busy or stopping engine, a rate limit) are
logged in one line and answered with their text; Telegram's transient faults are logged as
warnings; anything else is logged with its traceback and answered with a generic apology.
Nothing here sends `str(exception)` of an unexpected error to a user.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.i18n import HTML, esc, t
from bot.messages import not_modified, send
from bot.parsing import ParseError
from bot.runtime import Context, RateLimited, ShuttingDown
from bot.store import InvalidValue, NotFound, StoreError
from nlp.errors import EngineBusy, EngineClosed, EngineTimeout, InputError, ModelLoadError
from nlp.types import Language

log = logging.getLogger(__name__)


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
    if isinstance(error, NotFound):
        return t(lang, "err.not_found")
    return None


async def on_error(update: object, context: Context) -> None:
    """Log the error (traceback for unexpected ones) and tell the user what to do."""
    error = context.error
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
    if text is not None:
        log.info("%s: %s: %s", where, type(error).__name__, error)
    else:
        log.error("%s caused an error", where, exc_info=error)
        if isinstance(error, ModelLoadError):
            text = t(lang, "err.model")
        elif isinstance(error, StoreError):
            text = t(lang, "err.db")
        else:
            text = t(lang, "err.generic")
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is None:
        return
    try:
        await send(context.bot, chat.id, text)
    except TelegramError as exc:
        log.warning("%s: could not tell the user about the error: %s", where, exc)
