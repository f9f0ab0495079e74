"""Admin commands: /stats (usage, models, queue, uptime), /allow USER_ID and /deny USER_ID."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CommandHandler

from bot.handlers.common import reply, user_id
from bot.i18n import HTML, t
from bot.runtime import Context

log = logging.getLogger(__name__)
MAX_ID_DIGITS = 19  # 2**63 - 1 has 19 digits; longer input is refused before int() parses it


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
    admins = len(set(runtime.settings.access.admin_user_ids) | runtime.admins)
    allowlist = (
        t(lang, "admin.allowlist_on", n=runtime.allowed_count(), admins=admins)
        if runtime.allowlist_active
        else t(lang, "admin.allowlist_off")
    )
    text = t(
        lang,
        "admin.stats",
        uptime=_duration(runtime.uptime_s),
        queue=engine.queue_depth,
        writer=nlp.writer.model + (f" @ {nlp.writer.base_url}" if nlp.writer.backend == "openai" else ""),
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
    new = _user_id_arg(context.args)
    if new is None:
        await reply(update, context, t(lang, "admin.allow_usage"))
        return
    added = await runtime.services.store.allow_user(new, added_by=admin)
    runtime.allowed.add(new)
    log.info("admin %s allowed user %s", admin, new)
    text = t(lang, "admin.allowed" if added else "admin.already", user_id=new)
    if not runtime.allowlist_active:
        text = HTML(f"{text}\n{t(lang, 'admin.open_note')}")
    await reply(update, context, text)


async def deny(update: Update, context: Context) -> None:
    """Take a user id off the allowlist (and the stored admins; admins only, not themselves)."""
    runtime, lang, admin = context.runtime, context.lang, user_id(update)
    if not runtime.is_admin(admin):
        await reply(update, context, t(lang, "admin.only"))
        return
    gone = _user_id_arg(context.args)
    access = runtime.settings.access
    if gone is None:
        text = t(lang, "admin.deny_usage")
    elif gone == admin:
        text = t(lang, "admin.deny_self")
    elif gone in access.allowed_user_ids or gone in access.admin_user_ids:
        text = t(lang, "admin.deny_configured", user_id=gone)
    else:
        removed = await runtime.services.store.deny_user(gone)
        runtime.allowed.discard(gone)
        runtime.admins.discard(gone)
        log.info("admin %s denied user %s", admin, gone)
        text = t(lang, "admin.denied" if removed else "admin.not_listed", user_id=gone)
    await reply(update, context, text)


def _user_id_arg(args: list[str] | None) -> int | None:
    """The one USER_ID argument: ASCII digits, a positive id that fits SQLite; None otherwise."""
    if args is None or len(args) != 1:
        return None
    arg = args[0]
    if not (arg.isascii() and arg.isdigit()) or len(arg) > MAX_ID_DIGITS:
        return None  # "²".isdigit() is True, but int("²") fails
    value = int(arg)
    return value if 0 < value < 2**63 else None


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 86400}d {s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def handlers() -> list[CommandHandler[Context, None]]:
    return [CommandHandler("stats", stats), CommandHandler("allow", allow), CommandHandler("deny", deny)]
