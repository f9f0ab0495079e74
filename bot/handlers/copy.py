"""/copy: product facts asked one by one, then copy variants with the checker's findings.

Questions: name, selling points, specs, price, audience (text; /skip for the optional ones),
then platform and length (buttons). Each variant arrives as its own message with buttons to
regenerate, shorten, change tone or accept it. When writing fails, the message that said
"writing…" says why and keeps a way to try again (the length buttons, or the variant's own
buttons); unexpected errors then reach the error handler's log as `UserInformed`.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot import callbacks as cb
from bot import keyboards, render
from bot.handlers.common import (
    END,
    chat_id,
    conversation,
    message_id_of,
    parse_or_refuse,
    query_of,
    reply,
    text_of,
    user_id,
)
from bot.handlers.errors import card_reason, raise_if_unexpected
from bot.handlers.start import cancel
from bot.i18n import HTML, t
from bot.messages import Streamer, answer, edit, settle
from bot.parsing import pick, spec_pair, split_items
from bot.runtime import Context
from bot.store import Generation
from nlp.types import LENGTHS, PLATFORMS, TONES, Draft, Length, Platform, ProductFacts, Tone

VARIANTS = 2  # per /copy; each costs one generation
SHORTER: dict[str, Length] = {"long": "medium", "medium": "short", "short": "short"}

# Conversation states: the text questions in order, then the two button questions.
ASK_NAME, ASK_POINTS, ASK_SPECS, ASK_PRICE, ASK_AUDIENCE, ASK_PLATFORM, ASK_LENGTH = range(7)
TEXT_STEPS = (
    (ASK_NAME, "name"),
    (ASK_POINTS, "points"),
    (ASK_SPECS, "specs"),
    (ASK_PRICE, "price"),
    (ASK_AUDIENCE, "audience"),
)


async def start_copy(update: Update, context: Context) -> int:
    """Begin the product questions with the product's name."""
    context.ud.copy.clear()
    context.ud.copy_step = 0
    await reply(update, context, t(context.lang, "cp.ask_name"))
    return ASK_NAME


async def got_fact(update: Update, context: Context) -> int:
    """Keep the answer to the current question and ask the next one."""
    data, lang = context.ud, context.lang
    text = text_of(update).strip()
    limit = context.runtime.settings.limits.max_review_chars
    if len(text) > limit:
        await reply(update, context, t(lang, "too_long", limit=limit))
        return TEXT_STEPS[data.copy_step][0]
    data.copy[TEXT_STEPS[data.copy_step][1]] = text
    return await _next(update, context)


async def skip_fact(update: Update, context: Context) -> int:
    """Leave an optional fact out (the name is required)."""
    if context.ud.copy_step == 0:
        await reply(update, context, t(context.lang, "cp.ask_name"))
        return ASK_NAME
    return await _next(update, context)


async def _next(update: Update, context: Context) -> int:
    data, lang = context.ud, context.lang
    data.copy_step += 1
    if data.copy_step < len(TEXT_STEPS):
        state, field = TEXT_STEPS[data.copy_step]
        await reply(update, context, t(lang, f"cp.ask_{field}"))
        return state
    await reply(update, context, t(lang, "cp.ask_platform"), keyboards.platforms(lang))
    return ASK_PLATFORM


async def got_platform(update: Update, context: Context) -> int | None:
    """Keep the platform chosen with a button; ask for the length."""
    query, lang = query_of(update), context.lang
    choice = await parse_or_refuse(query, lang)
    if choice is None:
        return None  # forged or stale: refused, the question stays open
    platform = choice.need_arg()
    await answer(query)
    context.ud.copy["platform"] = platform
    await _show_choice(update, context, t(lang, "cp.ask_platform"), t(lang, f"platform.{platform}"))
    await reply(update, context, t(lang, "cp.ask_length"), keyboards.lengths(lang))
    return ASK_LENGTH


async def got_length(update: Update, context: Context) -> int | None:
    """Write the variants from the collected facts; send each with its findings and buttons."""
    query, lang, uid = query_of(update), context.lang, user_id(update)
    choice = await parse_or_refuse(query, lang)
    if choice is None:
        return None
    length: Length = pick(choice.need_arg(), LENGTHS, "medium")
    await answer(query)
    await _show_choice(update, context, t(lang, "cp.ask_length"), t(lang, f"length.{length}"))
    facts = facts_from(context.ud.copy)
    platform: Platform = pick(context.ud.copy.get("platform"), PLATFORMS, "generic")
    profile = await context.services.store.get_profile(uid)
    tone: Tone = profile.tone if profile.tone != "apologetic" else "warm"  # no apologies in ads
    writing = await reply(update, context, t(lang, "cp.writing", n=VARIANTS))
    try:
        async with Streamer(context.bot, chat_id(update), None, None):  # typing while it writes
            variants = await context.runtime.model(
                uid, lambda: context.services.write_copy(uid, facts, platform, length, tone, n=VARIANTS)
            )
    except Exception as exc:  # "writing…" becomes the reason, with the lengths to try again
        text = t(lang, "cp.failed_all", reason=card_reason(lang, exc))
        await settle(context.bot, chat_id(update), writing.message_id, text, keyboards.lengths(lang))
        raise_if_unexpected(exc)  # the state stays ASK_LENGTH either way
        return ASK_LENGTH
    for stored in variants:
        text = render.copy_variant(lang, _number(stored.draft), stored.draft)
        await reply(update, context, text, keyboards.copy_variant(lang, stored.generation_id))
    context.ud.copy.clear()
    return END


async def on_variant_button(update: Update, context: Context) -> None:
    """Regenerate, shorten, re-tone or accept a copy variant."""
    query, lang, uid = query_of(update), context.lang, user_id(update)
    choice = await parse_or_refuse(query, lang)
    if choice is None:
        return
    old = await context.services.store.get_generation(uid, choice.need_id())
    if old is None or old.kind != "copy":
        await answer(query, t(lang, "cb.not_yours"))
        return
    message_id = message_id_of(query)
    if choice.action == cb.CP_ACCEPT:
        await context.services.feedback(uid, old.id, "accepted")
        await answer(query, t(lang, "cb.saved"))
        if message_id is not None:
            text = render.copy_variant(lang, _number(_draft(old)), _draft(old), t(lang, "cp.accepted"))
            await edit(context.bot, chat_id(update), message_id, text)
        return
    await answer(query)
    length = SHORTER[str(old.params.get("length", "medium"))] if choice.action == cb.CP_SHORTEN else None
    tone: Tone | None = pick(choice.arg, TONES, None)
    await _rewrite(update, context, old, message_id, length, tone)


async def _rewrite(
    update: Update,
    context: Context,
    old: Generation,
    message_id: int | None,
    length: Length | None,
    tone: Tone | None,
) -> None:
    """Replace a variant by a new one (in the same message when Telegram still shows it)."""
    lang, uid, chat = context.lang, user_id(update), chat_id(update)
    if message_id is None:
        message_id = (await reply(update, context, t(lang, "cp.writing", n=1))).message_id
    else:
        await edit(context.bot, chat, message_id, t(lang, "cp.writing", n=1))
    try:
        async with Streamer(context.bot, chat, None, None):
            stored = await context.runtime.model(
                uid, lambda: context.services.rewrite_copy(uid, old.id, length, tone)
            )
    except Exception as exc:  # the old variant comes back with the reason; its buttons retry
        status = t(lang, "cp.failed", reason=card_reason(lang, exc))
        text = render.copy_variant(lang, _number(_draft(old)), _draft(old), status)
        await settle(context.bot, chat, message_id, text, keyboards.copy_variant(lang, old.id))
        raise_if_unexpected(exc)
        return
    text = render.copy_variant(lang, _number(stored.draft), stored.draft)
    await settle(context.bot, chat, message_id, text, keyboards.copy_variant(lang, stored.generation_id))


async def _show_choice(update: Update, context: Context, question: str, chosen: str) -> None:
    """Replace a question's buttons by the answer given."""
    message_id = message_id_of(query_of(update))
    if message_id is not None:
        await edit(context.bot, chat_id(update), message_id, HTML(f"{question}\n→ <b>{chosen}</b>"))


def facts_from(answers: dict[str, str]) -> ProductFacts:
    """The /copy answers as `ProductFacts` ("容量=500ml；材质=不锈钢" becomes a specs dict)."""
    return ProductFacts(
        name=answers.get("name", ""),
        selling_points=tuple(split_items(answers.get("points", ""))),
        specs=dict(spec_pair(s) for s in split_items(answers.get("specs", ""))),
        price=answers.get("price", ""),
        audience=answers.get("audience", ""),
    )


def _number(draft: Draft) -> int:
    variant = draft.params.get("variant")
    return variant if isinstance(variant, int) else 1


def _draft(g: Generation) -> Draft:
    return Draft(g.kind, g.output_text, g.findings, g.model_id, g.adapter_id, g.params)


def copy_conversation() -> ConversationHandler[Context]:
    text = MessageHandler(filters.TEXT & ~filters.COMMAND, got_fact)
    skip = CommandHandler("skip", skip_fact)
    return conversation(
        entry_points=[CommandHandler("copy", start_copy)],
        states={
            **{state: [text, skip] for state, _ in TEXT_STEPS},
            ASK_PLATFORM: [CallbackQueryHandler(got_platform, pattern=cb.pattern(cb.CP_PLATFORM))],
            ASK_LENGTH: [CallbackQueryHandler(got_length, pattern=cb.pattern(cb.CP_LENGTH))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        allow_reentry=True,
    )


def variant_buttons() -> CallbackQueryHandler[Context, None]:
    actions = (cb.CP_REGEN, cb.CP_SHORTEN, cb.CP_TONE, cb.CP_ACCEPT)
    return CallbackQueryHandler(on_variant_button, pattern=cb.pattern(*actions))
