"""Pasted reviews become cards; the buttons on a card; editing a suggested reply.

A message of plain text is one or several reviews. Each gets a card (sentiment badge,
confidence, aspects, the review); negatives come first, after a short summary when there are
several. The first `AUTO_REPLIES` cards get a reply streamed into them right away, the others a
button to ask for one. Card buttons: regenerate, tone, edit, accept, reject.

Every card ends in a final state, whatever fails: the reply with its buttons, or the reason it
failed with a retry button (sent as a new message when the card cannot be edited). A card that
cannot be sent at all does not stop the others; a last message names its reviews. Unexpected
errors still reach the error handler, after the cards are settled, as `UserInformed`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import BadRequest, NetworkError
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
from bot.i18n import t
from bot.messages import Streamer, answer, edit, send, settle
from bot.parsing import pick
from bot.runtime import Context
from bot.services import AnalysedReview, StoredDraft
from bot.store import DraftHasErrors, FeedbackAction, Generation
from nlp.types import TONES, Draft, Tone

log = logging.getLogger(__name__)

AUTO_REPLIES = 5  # replies written at once per pasted batch; the rest on request
EDIT_TIMEOUT_S = 15 * 60  # an edit left open longer is dropped (the next paste is reviews again)
EDIT_TEXT = 0  # conversation state: waiting for the edited reply

Work = Callable[[Callable[[str], None]], Awaitable[StoredDraft]]


async def on_reviews(update: Update, context: Context) -> None:
    """Classify pasted reviews and send a card for each (negatives first), with replies."""
    lang, uid, services = context.lang, user_id(update), context.services
    text = text_of(update)
    services.validate_reviews(text)  # friendly refusal before the rate limit counts it
    reviews = await context.runtime.model(uid, lambda: services.analyse(uid, text))
    ordered = sorted(reviews, key=lambda r: r.sentiment.label != "negative")
    if len(reviews) > 1:
        await reply(update, context, render.summary(lang, reviews, AUTO_REPLIES))
    waiting: list[tuple[AnalysedReview, int]] = []
    unsent: list[AnalysedReview] = []
    for i, review in enumerate(ordered):
        auto = i < AUTO_REPLIES
        status = t(lang, "card.writing" if auto else "card.no_reply")
        markup = None if auto else keyboards.write_reply(lang, review.review_id)
        try:
            card = await reply(update, context, render.review_card(lang, review, status=status), markup)
        except NetworkError as exc:  # (BadRequest included) the other cards still go out
            log.warning("card for review %s could not be sent: %s", review.review_id, exc)
            unsent.append(review)
            continue
        if auto:
            waiting.append((review, card.message_id))
    failed: Exception | None = None
    for review, message_id in waiting:  # one request: the rate limit counted it already

        async def work(on_text: Callable[[str], None], review: AnalysedReview = review) -> StoredDraft:
            return (await services.suggest_reply(uid, review, on_text=on_text))[0]

        try:
            await stream_reply(update, context, message_id, review, work, count=False)
        except Exception as exc:  # the next cards still get their replies; the log gets this one
            failed = failed or exc
    if unsent:  # the reviews are stored; say which ones have no card, so none goes unanswered
        quoted = "\n".join(f"• {render.short(r.text, 60)}" for r in unsent)
        await reply(update, context, t(lang, "card.not_sent", n=len(unsent), reviews=quoted))
    if failed is not None:
        raise failed


async def stream_reply(
    update: Update, context: Context, message_id: int, review: AnalysedReview, work: Work, count: bool = True
) -> None:
    """Run `work` with its text streamed into the card, then show the reply or why it failed."""
    lang, chat, bot = context.lang, chat_id(update), context.bot
    try:
        async with Streamer(
            bot, chat, message_id, lambda text: render.review_card(lang, review, live=text)
        ) as s:
            stored = await context.runtime.model(user_id(update), lambda: work(s.feed), count=count)
    except Exception as exc:  # whatever failed, the card must not stay on "writing…"
        status = t(lang, "card.failed", reason=card_reason(lang, exc))
        card = render.review_card(lang, review, status=status)
        await settle(bot, chat, message_id, card, keyboards.retry_reply(lang, review.review_id))
        raise_if_unexpected(exc)  # expected ones end here: the card says it all
        return
    card = render.review_card(lang, review, stored.draft)
    await settle(bot, chat, message_id, card, keyboards.review_card(lang, stored.generation_id))


async def on_card_button(update: Update, context: Context) -> None:
    """Regenerate, re-tone, accept, reject, or write the first reply (or retry it) of a card."""
    query, lang, uid = query_of(update), context.lang, user_id(update)
    choice = await parse_or_refuse(query, lang)
    if choice is None:
        return
    if choice.action in (cb.RV_REPLY, cb.RV_RETRY):
        review = await context.services.store.get_review(uid, choice.need_id())
        if review is None:
            await answer(query, t(lang, "cb.not_yours"))
            return
        await answer(query)
        analysed = await context.services.stored_review(uid, review.id)

        async def first(on_text: Callable[[str], None]) -> StoredDraft:
            return (await context.services.suggest_reply(uid, analysed, on_text=on_text))[0]

        await _restream(update, context, analysed, first)
        return
    generation = await _own_reply(context, uid, choice.need_id())
    if generation is None or generation.review_id is None:
        await answer(query, t(lang, "cb.not_yours"))
        return
    review_ = await context.services.stored_review(uid, generation.review_id)
    if choice.action in (cb.RV_ACCEPT, cb.RV_REJECT):
        await _feedback(update, context, review_, generation, accepted=choice.action == cb.RV_ACCEPT)
        return
    await answer(query)
    tone: Tone | None = pick(choice.arg, TONES, None)

    async def again(on_text: Callable[[str], None]) -> StoredDraft:
        return (await context.services.regenerate_reply(uid, generation.id, tone, on_text))[1]

    await _restream(update, context, review_, again)


async def _restream(update: Update, context: Context, review: AnalysedReview, work: Work) -> None:
    """Put the card back into "writing" and stream a new reply into it."""
    lang, chat = context.lang, chat_id(update)
    card = render.review_card(lang, review, status=t(lang, "card.writing"))
    message_id = message_id_of(query_of(update))
    if message_id is None:  # the card is too old for Telegram to show us: send a new one
        message_id = (await send(context.bot, chat, card)).message_id
    else:
        try:
            await edit(context.bot, chat, message_id, card)
        except (BadRequest, NetworkError) as exc:  # the final edit (or a new card) settles it
            log.info("could not mark card %s as writing: %s", message_id, exc)
    await stream_reply(update, context, message_id, review, work)


async def _feedback(
    update: Update, context: Context, review: AnalysedReview, generation: Generation, accepted: bool
) -> None:
    """Store accept/reject and show it on the card; a draft with errors is refused, card left as it is."""
    query, lang = query_of(update), context.lang
    action: FeedbackAction = "accepted" if accepted else "rejected"
    try:
        await context.services.feedback(user_id(update), generation.id, action)
    except DraftHasErrors as exc:
        await answer(query, render.accept_refusal(lang, "card.accept_has_errors", exc.findings))
        return
    await answer(query, t(lang, "cb.saved"))
    message_id = message_id_of(query)
    if message_id is None:
        return
    status = t(lang, "card.accepted" if accepted else "card.rejected")
    card = render.review_card(lang, review, _draft(generation), status=status)
    await edit(
        context.bot, chat_id(update), message_id, card, keyboards.review_card(lang, generation.id, accepted)
    )


async def start_edit(update: Update, context: Context) -> int:
    """Ask for the edited text of a reply; the merchant's next message is taken as it."""
    query, lang = query_of(update), context.lang
    choice = await parse_or_refuse(query, lang)
    if choice is None:
        return END
    generation = await _own_reply(context, user_id(update), choice.need_id())
    if generation is None:
        await answer(query, t(lang, "cb.not_yours"))
        return END
    await answer(query)
    context.ud.edit_generation = generation.id
    await reply(update, context, t(lang, "edit.prompt", current=generation.output_text))
    return EDIT_TEXT


async def got_edit(update: Update, context: Context) -> int:
    """Store the edited reply as feedback 'edited' (used for training)."""
    lang, text = context.lang, text_of(update).strip()
    limit = context.runtime.settings.limits.max_review_chars
    generation_id = context.ud.edit_generation
    if len(text) > limit:
        await reply(update, context, t(lang, "edit.too_long", limit=limit))
        return EDIT_TEXT
    if generation_id is not None:
        await context.services.feedback(user_id(update), generation_id, "edited", text)
        context.ud.edit_generation = None
        await reply(update, context, t(lang, "edit.saved"))
    return END


async def _own_reply(context: Context, merchant_id: int, generation_id: int) -> Generation | None:
    """The merchant's own reply generation, or None (unknown, another merchant's, not a reply)."""
    generation = await context.services.store.get_generation(merchant_id, generation_id)
    return generation if generation is not None and generation.kind == "reply" else None


def _draft(g: Generation) -> Draft:
    return Draft(g.kind, g.output_text, g.findings, g.model_id, g.adapter_id, g.params)


def edit_conversation() -> ConversationHandler[Context]:
    return conversation(
        entry_points=[CallbackQueryHandler(start_edit, pattern=cb.pattern(cb.RV_EDIT))],
        states={EDIT_TEXT: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_edit)]},
        fallbacks=[CommandHandler("cancel", cancel)],
        conversation_timeout=EDIT_TIMEOUT_S,
        allow_reentry=True,
    )


def card_buttons() -> CallbackQueryHandler[Context, None]:
    actions = (cb.RV_REGEN, cb.RV_TONE, cb.RV_ACCEPT, cb.RV_REJECT, cb.RV_REPLY, cb.RV_RETRY)
    return CallbackQueryHandler(on_card_button, pattern=cb.pattern(*actions))


def pasted_reviews() -> MessageHandler[Context, None]:
    return MessageHandler(filters.TEXT & ~filters.COMMAND, on_reviews)
