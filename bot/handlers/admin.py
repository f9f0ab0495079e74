"""Admin commands: /stats (usage, models, queue, uptime) and /allow USER_ID."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CommandHandler

from bot.handlers.common import reply, user_id
from bot.i18n import HTML, t
from bot.runtime import Context

log = logging.getLogger(__name__)


async def stats(update: Update, context: Context) -> None:
    """Usage today, store counts, models, engine queue and uptime (admins only)."""
    runtime, lang = context.runtime, context.lang
    if not runtime.is_admin(user_id(update)):
        await reply(update, context, t(lang, "admin.only"))
        return
    store, engine, nlp = runtime.services.store, runtime.services.engine, runtime.settings.nlp
    counts = await store.stats()
    usage = await store.usage_summary()
    e = engine.stats
    allowlist = (
        t(lang, "admin.allowlist_on", n=len(set(runtime.settings.access.allowed_user_ids) | runtime.allowed))
        if runtime.allowlist_active
        else t(lang, "admin.allowlist_off")
    )
    text = t(
        lang,
        "admin.stats",
        uptime=_duration(runtime.uptime_s),
        queue=engine.queue_depth,
        writer=nlp.writer.model,
        classifier=nlp.classifier.model,
        engine=f"{e.generations} generations, {e.classified} classified in {e.batches} batches, "
        f"{e.timeouts} timeouts",
        store=", ".join(f"{k} {v}" for k, v in counts.items()),
        usage=", ".join(f"{k} {v}" for k, v in usage.items()) or "—",
        allowlist=allowlist,
    )
    await reply(update, context, text)


async def allow(update: Update, context: Context) -> None:
    """Let a user id in (persisted in the store; admins only)."""
    runtime, lang, admin = context.runtime, context.lang, user_id(update)
    if not runtime.is_admin(admin):
        await reply(update, context, t(lang, "admin.only"))
        return
    args = context.args or []
    if len(args) != 1 or not args[0].isdigit() or not 0 < int(args[0]) < 2**63:
        await reply(update, context, t(lang, "admin.allow_usage"))
        return
    new = int(args[0])
    added = await runtime.services.store.allow_user(new, added_by=admin)
    runtime.allowed.add(new)
    log.info("admin %s allowed user %s", admin, new)
    text = t(lang, "admin.allowed" if added else "admin.already", user_id=new)
    if not runtime.allowlist_active:
        text = HTML(f"{text}\n{t(lang, 'admin.open_note')}")
    await reply(update, context, text)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400}d {s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def handlers() -> list[CommandHandler[Context, None]]:
    return [CommandHandler("stats", stats), CommandHandler("allow", allow)]
