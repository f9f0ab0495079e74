"""Inline keyboards; every button's data comes from bot/callbacks.py."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks as cb
from bot.i18n import t
from bot.render import choice_names
from nlp.types import LENGTHS, PLATFORMS, TONES, Language

Row = list[InlineKeyboardButton]


def _button(text: str, action: str, id: int | None = None, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=cb.build(action, id, arg))


def _tone_row(lang: Language, action: str, id: int | None = None) -> Row:
    return [_button(name, action, id, tone) for tone, name in choice_names(lang, "tone", TONES)]


def _choices(
    lang: Language, action: str, prefix: str, options: Sequence[str], per_row: int = 3
) -> InlineKeyboardMarkup:
    buttons = [_button(name, action, None, o) for o, name in choice_names(lang, prefix, options)]
    return InlineKeyboardMarkup([buttons[i : i + per_row] for i in range(0, len(buttons), per_row)])


def review_card(lang: Language, generation_id: int, accepted: bool = False) -> InlineKeyboardMarkup:
    """Regenerate / edit / accept / reject, and one button per tone."""
    if accepted:
        return InlineKeyboardMarkup([[_button(t(lang, "btn.edit"), cb.RV_EDIT, generation_id)]])
    return InlineKeyboardMarkup(
        [
            [
                _button(t(lang, "btn.regen"), cb.RV_REGEN, generation_id),
                _button(t(lang, "btn.edit"), cb.RV_EDIT, generation_id),
            ],
            [
                _button(t(lang, "btn.accept"), cb.RV_ACCEPT, generation_id),
                _button(t(lang, "btn.reject"), cb.RV_REJECT, generation_id),
            ],
            _tone_row(lang, cb.RV_TONE, generation_id),
        ]
    )


def write_reply(lang: Language, review_id: int) -> InlineKeyboardMarkup:
    """For a card that has no reply yet."""
    return InlineKeyboardMarkup([[_button(t(lang, "btn.reply"), cb.RV_REPLY, review_id)]])


def retry_reply(lang: Language, review_id: int) -> InlineKeyboardMarkup:
    """For a card whose reply could not be written: write one again."""
    return InlineKeyboardMarkup([[_button(t(lang, "btn.retry"), cb.RV_RETRY, review_id)]])


def copy_variant(lang: Language, generation_id: int, accepted: bool = False) -> InlineKeyboardMarkup | None:
    if accepted:
        return None
    return InlineKeyboardMarkup(
        [
            [
                _button(t(lang, "btn.regen"), cb.CP_REGEN, generation_id),
                _button(t(lang, "btn.shorten"), cb.CP_SHORTEN, generation_id),
                _button(t(lang, "btn.accept"), cb.CP_ACCEPT, generation_id),
            ],
            _tone_row(lang, cb.CP_TONE, generation_id),
        ]
    )


def platforms(lang: Language) -> InlineKeyboardMarkup:
    return _choices(lang, cb.CP_PLATFORM, "platform", PLATFORMS)


def lengths(lang: Language) -> InlineKeyboardMarkup:
    return _choices(lang, cb.CP_LENGTH, "length", LENGTHS)


def tones(lang: Language, action: str) -> InlineKeyboardMarkup:
    return _choices(lang, action, "tone", TONES, per_row=2)


def reply_languages(lang: Language, action: str) -> InlineKeyboardMarkup:
    return _choices(lang, action, "rlang", cb.REPLY_LANGUAGES)


def ui_languages(lang: Language) -> InlineKeyboardMarkup:
    return _choices(lang, cb.ST_UI_LANGUAGE, "ui", cb.UI_LANGUAGES, per_row=2)


def settings(lang: Language) -> InlineKeyboardMarkup:
    """One button per profile field, the UI language, and done."""
    buttons = [_button(t(lang, f"field.{f}"), cb.ST_FIELD, None, f) for f in cb.SETTINGS_FIELDS]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([_button(t(lang, "btn.done"), cb.ST_DONE)])
    return InlineKeyboardMarkup(rows)
