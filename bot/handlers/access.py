"""The access gate: runs first for every update (group -1) and stops what may not pass.

Private chats only; users not on the allowlist get one polite line with their user id (to
send to the admin). For those who pass, the merchant record exists afterwards and the UI
language is cached in `context.ud.lang`.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.i18n import language_of, t
from bot.messages import answer, send
from bot.runtime import Context

log = logging.getLogger(__name__)


async def gate(update: Update, context: Context) -> None:
    """Let allowed users of private chats through, creating their merchant record once."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or (chat is not None and chat.type != ChatType.PRIVATE):
        raise ApplicationHandlerStop  # groups, channels, inline queries: not for this bot
    runtime = context.runtime
    if not runtime.is_allowed(user.id):
        log.info("refused user %s: not on the allowlist", user.id)
        if update.callback_query is not None:
            await answer(update.callback_query)
        if chat is not None:
            await send(
                context.bot, chat.id, t(language_of(user.language_code), "not_allowed", user_id=user.id)
            )
        raise ApplicationHandlerStop
    data = context.ud
    if data.lang is None:
        merchant = await runtime.services.store.get_or_create_merchant(
            user.id, language_of(user.language_code)
        )
        data.lang = merchant.language
