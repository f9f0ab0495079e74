"""/strategy: counts, top complaint aspects with quotes, and suggested actions (streamed)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot import render
from bot.handlers.common import chat_id, reply, user_id
from bot.i18n import t
from bot.messages import Streamer, edit
from bot.runtime import Context
from nlp.digest import digest
from nlp.types import Sentiment

RECENT = 500  # reviews the suggestions are drawn from


async def strategy(update: Update, context: Context) -> None:
    """Summarise the merchant's recent reviews and stream suggestions written from them."""
    lang, uid, services = context.lang, user_id(update), context.services
    recent = await services.store.recent_reviews(uid, limit=RECENT)
    if not recent:
        await reply(update, context, t(lang, "st.none"))
        return
    preview = digest([(r.text, Sentiment(r.label, r.sentiment.probs, r.sentiment.aspects)) for r in recent])
    message = await reply(update, context, t(lang, "st.working"))
    async with Streamer(
        context.bot,
        chat_id(update),
        message.message_id,
        lambda text: render.strategy(lang, preview, None, text),
    ) as s:
        summary, stored = await context.runtime.model(
            uid, lambda: services.strategy(uid, limit=RECENT, on_text=s.feed)
        )
    await edit(context.bot, chat_id(update), message.message_id, render.strategy(lang, summary, stored.draft))


def handler() -> CommandHandler[Context, None]:
    return CommandHandler("strategy", strategy)
