"""/start (onboarding: the shop profile in six questions), /help, /cancel, unknown commands."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot import callbacks as cb
from bot import keyboards, render
from bot.handlers.common import (
    END,
    chat_id,
    conversation,
    parse_or_refuse,
    query_of,
    reply,
    text_of,
    user_id,
)
from bot.i18n import HTML, t
from bot.messages import answer, edit
from bot.runtime import Context
from bot.store import InvalidValue
from nlp.types import ShopProfile

# Conversation states, one per question, in the order they are asked.
ASK_NAME, ASK_CATEGORY, ASK_TONE, ASK_SIGNATURE, ASK_POLICY, ASK_LANGUAGE = range(6)
STEPS = (
    (ASK_NAME, "name"),
    (ASK_CATEGORY, "category"),
    (ASK_TONE, "tone"),
    (ASK_SIGNATURE, "signature"),
    (ASK_POLICY, "policy"),
    (ASK_LANGUAGE, "language"),
)


async def start(update: Update, context: Context) -> int:
    """Explain the bot in three lines, then ask for the shop's name."""
    await reply(update, context, t(context.lang, "intro"))
    return await _ask(update, context, 0)


async def got_text(update: Update, context: Context) -> int:
    """Store the answer to the current text question and ask the next one."""
    step = context.ud.onboarding
    try:
        await context.services.store.update_profile(user_id(update), **{STEPS[step][1]: text_of(update)})
    except InvalidValue as exc:
        await reply(update, context, t(context.lang, "invalid_value", detail=str(exc)))
        return STEPS[step][0]
    if STEPS[step][1] == "policy":  # let the merchant confirm what the checks will hold replies to
        parsed = await context.services.store.parsed_policy(user_id(update))
        await reply(update, context, render.policy(context.lang, parsed))
    return await _ask(update, context, step + 1)


async def got_choice(update: Update, context: Context) -> int | None:
    """Store a tone or reply language chosen with a button and ask the next question."""
    query = query_of(update)
    choice = await parse_or_refuse(query, context.lang)
    if choice is None:
        return None  # forged or stale: refused, the question stays open
    await answer(query)
    field = "tone" if choice.action == cb.OB_TONE else "language"
    await context.services.store.update_profile(user_id(update), **{field: choice.need_arg()})
    prefix = "tone" if field == "tone" else "rlang"
    if query.message is not None:  # show the choice in place of the buttons
        question = t(context.lang, "ob.ask_tone" if field == "tone" else "ob.ask_language")
        chosen = HTML(f"{question}\n→ <b>{t(context.lang, f'{prefix}.{choice.need_arg()}')}</b>")
        await edit(context.bot, chat_id(update), query.message.message_id, chosen)
    return await _ask(update, context, [f for _, f in STEPS].index(field) + 1)


async def skip(update: Update, context: Context) -> int:
    """Keep the current value and ask the next question."""
    return await _ask(update, context, context.ud.onboarding + 1)


async def _ask(update: Update, context: Context, step: int) -> int:
    """Ask question `step` (showing the current value), or finish after the last one."""
    lang = context.lang
    profile = await context.services.store.get_profile(user_id(update))
    if step >= len(STEPS):
        await reply(update, context, t(lang, "ob.done", profile=render.profile(lang, profile)))
        return END
    context.ud.onboarding = step
    state, field = STEPS[step]
    markup: InlineKeyboardMarkup | None = None
    if field == "tone":
        text, markup = t(lang, "ob.ask_tone"), keyboards.tones(lang, cb.OB_TONE)
    elif field == "language":
        text, markup = t(lang, "ob.ask_language"), keyboards.reply_languages(lang, cb.OB_LANGUAGE)
    else:
        current = _current(profile, field) or t(lang, "none")
        text = HTML(f"{t(lang, f'ob.ask_{field}', current=current)}\n{t(lang, 'skip_hint')}")
    await reply(update, context, text, markup)
    return state


def _current(profile: ShopProfile, field: str) -> str:
    value = getattr(profile, field)
    return render.short(value, 200) if isinstance(value, str) else ""


async def help_command(update: Update, context: Context) -> None:
    """List what the bot does and its commands."""
    await reply(update, context, t(context.lang, "help"))


async def cancel(update: Update, context: Context) -> int:
    """Leave the conversation in progress (every conversation's fallback)."""
    data = context.ud
    data.copy.clear()
    data.edit_generation = None
    data.settings_field = None
    await reply(update, context, t(context.lang, "cancelled"))
    return END


async def nothing_to_cancel(update: Update, context: Context) -> None:
    """/cancel outside any conversation."""
    await reply(update, context, t(context.lang, "nothing_to_cancel"))


async def stale_button(update: Update, context: Context) -> None:
    """Refuse a button no handler took: from an ended conversation, an old version, or forged."""
    await answer(query_of(update), t(context.lang, "cb.invalid"))


async def unknown_command(update: Update, context: Context) -> None:
    """Point to /help for commands the bot does not know."""
    await reply(update, context, t(context.lang, "unknown_command"))


def onboarding() -> ConversationHandler[Context]:
    text = filters.TEXT & ~filters.COMMAND
    skip_handler = CommandHandler("skip", skip)
    buttons = CallbackQueryHandler(got_choice, pattern=cb.pattern(cb.OB_TONE, cb.OB_LANGUAGE))
    return conversation(
        entry_points=[CommandHandler("start", start)],
        states={
            ASK_NAME: [MessageHandler(text, got_text), skip_handler],
            ASK_CATEGORY: [MessageHandler(text, got_text), skip_handler],
            ASK_TONE: [buttons, skip_handler],
            ASK_SIGNATURE: [MessageHandler(text, got_text), skip_handler],
            ASK_POLICY: [MessageHandler(text, got_text), skip_handler],
            ASK_LANGUAGE: [buttons, skip_handler],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        allow_reentry=True,
    )
