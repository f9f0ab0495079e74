"""/history (the last drafts and what the merchant did with them) and /export (JSONL)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import CommandHandler

from bot import render
from bot.handlers.common import chat_id, reply, user_id
from bot.i18n import t
from bot.runtime import Context

HISTORY_ITEMS = 10


async def history(update: Update, context: Context) -> None:
    """Show the merchant's latest drafts with the latest feedback on each."""
    store, uid = context.services.store, user_id(update)
    generations = await store.history(uid, limit=HISTORY_ITEMS)
    items = []
    for g in generations:
        feedback = await store.feedback_for(uid, g.id)
        items.append((g, feedback[-1] if feedback else None))
    await reply(update, context, render.history(context.lang, items))


async def export(update: Update, context: Context) -> None:
    """Send the merchant's accepted/edited replies and corrected labels as a JSONL file."""
    lang = context.lang
    rows = await context.services.store.export_feedback(user_id(update))
    if not rows:
        await reply(update, context, t(lang, "export.empty"))
        return
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    name = f"xiaoer-feedback-{datetime.now(UTC):%Y%m%d-%H%M}.jsonl"
    await context.bot.send_document(
        chat_id(update), io.BytesIO(data), filename=name, caption=t(lang, "export.caption", n=len(rows))
    )


def handlers() -> list[CommandHandler[Context, None]]:
    return [CommandHandler("history", history), CommandHandler("export", export)]
