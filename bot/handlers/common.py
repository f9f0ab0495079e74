"""Small pieces every handler module uses: ids of the update, replies, conversations."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.ext import BaseHandler, ConversationHandler
from telegram.warnings import PTBUserWarning

from bot import callbacks as cb
from bot.i18n import t
from bot.messages import answer, send
from bot.runtime import Context
from nlp.types import Language

END = ConversationHandler.END


def user_id(update: Update) -> int:
    """The merchant id: the Telegram user id (the access gate stops updates without a user)."""
    if update.effective_user is None:
        raise RuntimeError("update without a user passed the access gate")
    return update.effective_user.id


def chat_id(update: Update) -> int:
    if update.effective_chat is None:
        raise RuntimeError("update without a chat")
    return update.effective_chat.id


def text_of(update: Update) -> str:
    message = update.effective_message
    return message.text or "" if message is not None else ""


def query_of(update: Update) -> CallbackQuery:
    if update.callback_query is None:
        raise RuntimeError("not a callback query")
    return update.callback_query


async def parse_or_refuse(query: CallbackQuery, lang: Language) -> cb.Callback | None:
    """The button's callback data, or None after telling the user it is invalid (forged, stale)."""
    try:
        return cb.parse(query.data)
    except cb.BadCallback:
        await answer(query, t(lang, "cb.invalid"))
        return None


def message_id_of(query: CallbackQuery) -> int | None:
    """The id of the message a button sits on (None if Telegram no longer shows it to us)."""
    message = query.message
    return message.message_id if message is not None else None


async def reply(
    update: Update, context: Context, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """Send HTML to the update's chat, split at Telegram's message limit."""
    return await send(context.bot, chat_id(update), text, markup)


def conversation(
    entry_points: list[BaseHandler[Update, Context, Any]],
    states: dict[object, list[BaseHandler[Update, Context, Any]]],
    fallbacks: list[BaseHandler[Update, Context, Any]],
    **kwargs: Any,
) -> ConversationHandler[Context]:
    """A ConversationHandler keyed by chat and user (one open flow of a kind per merchant).

    PTB warns that button presses in such a conversation are tracked per chat rather than per
    message; that is what we want, so that one warning is silenced here and nowhere else.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
        return ConversationHandler(entry_points, states, fallbacks, **kwargs)
