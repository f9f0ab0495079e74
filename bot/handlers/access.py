"""The access gate: runs first for every update (group -1) and stops what may not pass.

Private chats only. Who may pass is `Runtime.is_allowed` (the configured ids, the admins, the
users let in by /allow; everyone with XIAOER_ACCESS__OPEN=true). Anyone else gets one polite
line with their user id (to send to the admin), at most once a minute; whatever happens while
refusing (Telegram down, flood control), the update stops here and no other handler sees it.
`/claim CODE` is answered here too, since the one who claims is not allowed yet.

For those who pass, the merchant record exists afterwards and the UI language is cached in
`context.ud.lang`. Edited messages are not analysed again: `edits()` answers them with one hint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from telegram import Update, User
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, MessageHandler, filters

from bot.i18n import language_of, t
from bot.messages import answer, send
from bot.runtime import Context

log = logging.getLogger(__name__)

CLAIM = "/claim"


async def gate(update: Update, context: Context) -> None:
    """Let allowed users of private chats through, creating their merchant record once."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or (chat is not None and chat.type != ChatType.PRIVATE):
        raise ApplicationHandlerStop  # groups, channels, inline queries: not for this bot
    runtime = context.runtime
    code = _claim_code(update)
    if code is not None:
        await _stop_after(_claim(update, context, user, code), user)
    if not runtime.is_allowed(user.id):
        await _stop_after(_refuse(update, context, user), user)
    data = context.ud
    if data.lang is None:
        merchant = await runtime.services.store.get_or_create_merchant(
            user.id, language_of(user.language_code)
        )
        data.lang = merchant.language


async def _stop_after(work: Awaitable[None], user: User) -> None:
    """Await `work`, then stop the update whatever it raised (logged here, not re-raised)."""
    try:
        await work
    except TelegramError as exc:  # a 5xx, flood control past the retries, a blocked chat
        log.warning("could not answer user %s at the gate: %s", user.id, exc)
    except Exception:
        log.exception("answering user %s at the gate failed", user.id)
    raise ApplicationHandlerStop  # nothing after the gate sees this update, even on failure


async def _refuse(update: Update, context: Context, user: User) -> None:
    if not context.runtime.refusal_due(user.id):
        log.debug("refused user %s again (not answered: one answer a minute)", user.id)
        return
    log.info("refused user %s: not on the allowlist", user.id)
    if update.callback_query is not None:
        await answer(update.callback_query)
    if update.effective_chat is not None:
        text = t(language_of(user.language_code), "not_allowed", user_id=user.id)
        await send(context.bot, update.effective_chat.id, text)


def _claim_code(update: Update) -> str | None:
    """The code of a new `/claim CODE` message ("" without one); None for anything else."""
    text = update.message.text if update.message is not None else None
    if not text:
        return None
    command, _, rest = text.partition(" ")
    if command.partition("@")[0].lower() != CLAIM:
        return None
    return rest.strip()


async def _claim(update: Update, context: Context, user: User, code: str) -> None:
    """Make the sender admin if `code` is the start-up claim code (single use)."""
    runtime, lang = context.runtime, language_of(user.language_code)
    result = runtime.claim(user.id, code)
    if result == "ok":
        log.warning("user %s claimed the bot with the start-up code and is now admin", user.id)
        await runtime.services.store.add_admin(user.id)
        await send(context.bot, user.id, t(lang, "claim.ok"))
        return
    log.info("user %s sent /claim: %s", user.id, result)
    if result == "none" and runtime.is_allowed(user.id):
        await send(context.bot, user.id, t(lang, "claim.none"))
    elif result == "bad" and runtime.refusal_due(user.id):
        await send(context.bot, user.id, t(lang, "claim.bad"))
    elif result == "none":  # no code pending and not allowed: an ordinary refusal
        await _refuse(update, context, user)
    # "limited" (a wrong code less than a minute ago): not compared, not answered


async def edited_message(update: Update, context: Context) -> None:
    """Edits are not analysed again; say so once, so that the merchant sends the text anew."""
    data = context.ud
    if data.edit_hint_shown or update.effective_chat is None:
        return
    data.edit_hint_shown = True
    await send(context.bot, update.effective_chat.id, t(context.lang, "edit.ignored"))


def edits() -> MessageHandler[Context, None]:
    """Takes every edited message before the conversations and the review handler see it."""
    return MessageHandler(filters.UpdateType.EDITED, edited_message)
