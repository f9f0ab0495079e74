"""/settings: view and change the shop profile, the reply language and the UI language."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

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
from bot.handlers.start import cancel
from bot.i18n import t
from bot.messages import answer, edit
from bot.parsing import pick
from bot.runtime import Context
from bot.store import UI_LANGUAGES, InvalidValue
from nlp.types import Language

CHOOSING, TYPING = range(2)  # conversation states: buttons shown / waiting for a text value


async def show(update: Update, context: Context) -> int:
    """Show the profile with a button per field."""
    await _show(update, context)
    return CHOOSING


async def chose_field(update: Update, context: Context) -> int | None:
    """Ask for a text value, or offer the choices of a tone or language field."""
    query, lang = query_of(update), context.lang
    choice = await parse_or_refuse(query, lang)
    if choice is None:
        return None  # forged or stale: refused, the menu stays open
    field = choice.need_arg()
    await answer(query)
    choices: dict[str, InlineKeyboardMarkup] = {
        "tone": keyboards.tones(lang, cb.ST_TONE),
        "language": keyboards.reply_languages(lang, cb.ST_REPLY_LANGUAGE),
        "ui": keyboards.ui_languages(lang),
    }
    if field in choices:
        await reply(update, context, t(lang, "set.choose", field=t(lang, f"field.{field}")), choices[field])
        return CHOOSING
    profile = await context.services.store.get_profile(user_id(update))
    context.ud.settings_field = field
    current = render.short(str(getattr(profile, field)), 200) or t(lang, "none")
    await reply(update, context, t(lang, "set.ask_value", field=t(lang, f"field.{field}"), current=current))
    return TYPING


async def chose_value(update: Update, context: Context) -> int | None:
    """Store a tone, reply language or UI language chosen with a button."""
    query = query_of(update)
    choice = await parse_or_refuse(query, context.lang)
    if choice is None:
        return None
    value, uid = choice.need_arg(), user_id(update)
    if choice.action == cb.ST_UI_LANGUAGE:
        language: Language = pick(value, UI_LANGUAGES, "en")
        await context.services.store.set_language(uid, language)
        context.ud.lang = language
    else:
        field = "tone" if choice.action == cb.ST_TONE else "language"
        await context.services.store.update_profile(uid, **{field: value})
    await answer(query, t(context.lang, "cb.saved"))
    await _show(update, context)
    return CHOOSING


async def got_value(update: Update, context: Context) -> int:
    """Store the text value of the field being changed."""
    field = context.ud.settings_field
    if field is None:
        return END
    try:
        await context.services.store.update_profile(user_id(update), **{field: text_of(update)})
    except InvalidValue as exc:
        await reply(update, context, t(context.lang, "invalid_value", detail=str(exc)))
        return TYPING
    context.ud.settings_field = None
    await reply(update, context, t(context.lang, "set.saved"))
    if field == "policy":  # let the merchant confirm what the checks will hold replies to
        parsed = await context.services.store.parsed_policy(user_id(update))
        await reply(update, context, render.policy(context.lang, parsed))
    await _show(update, context)
    return CHOOSING


async def done(update: Update, context: Context) -> int | None:
    """Close the settings menu."""
    query = query_of(update)
    if await parse_or_refuse(query, context.lang) is None:
        return None
    await answer(query)
    message_id = message_id_of(query)
    if message_id is not None:
        await edit(context.bot, chat_id(update), message_id, t(context.lang, "set.closed"))
    return END


async def _show(update: Update, context: Context) -> None:
    lang = context.lang
    profile = await context.services.store.get_profile(user_id(update))
    text = t(lang, "set.show", profile=render.profile(lang, profile), ui=t(lang, f"ui.{lang}"))
    await reply(update, context, text, keyboards.settings(lang))


def settings_conversation() -> ConversationHandler[Context]:
    values = cb.pattern(cb.ST_TONE, cb.ST_REPLY_LANGUAGE, cb.ST_UI_LANGUAGE)
    choosing: list[BaseHandler[Update, Context, Any]] = [
        CallbackQueryHandler(chose_field, pattern=cb.pattern(cb.ST_FIELD)),
        CallbackQueryHandler(chose_value, pattern=values),
        CallbackQueryHandler(done, pattern=cb.pattern(cb.ST_DONE)),
    ]
    return conversation(
        entry_points=[CommandHandler("settings", show)],
        states={
            CHOOSING: choosing,
            TYPING: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_value), *choosing],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        allow_reentry=True,
    )
