"""Sending, editing and streaming messages the way every handler needs it.

* `send` / `edit` take HTML, split it at `MessageLimit.MAX_TEXT_LENGTH` UTF-16 units (the keyboard
  goes on the last part) and ignore "message is not modified".
* `settle` puts a card into its final state: it edits the message and, when the edit keeps
  failing, sends the card as a new message (and deletes the old one if it can), so that no card
  is left showing "writing…" without buttons.
* Idempotent calls (edits, chat actions, callback answers) are retried once after a timeout or
  a network error; new messages are not, since a timed-out send may well have arrived.
  Flood control (RetryAfter) is retried by the `AIORateLimiter` before it gets here.
* `Streamer` shows text that the engine is still generating by editing a message at most once
  per `EDIT_INTERVAL_S`, with a "typing…" action while the user waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message
from telegram.constants import CallbackQueryLimit, ChatAction
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.render import clip, split_html

log = logging.getLogger(__name__)

T = TypeVar("T")
EDIT_INTERVAL_S = 1.5  # Telegram tolerates about one edit per second per chat; stay under it
TYPING_EVERY_S = 4.5  # a chat action shows for about five seconds
TICK_S = 0.1


def not_modified(exc: BaseException) -> bool:
    return isinstance(exc, BadRequest) and "not modified" in exc.message.lower()


async def retry_once(call: Callable[[], Awaitable[T]]) -> T:
    """Run an idempotent Bot API call; once more after a timeout or network error."""
    try:
        return await call()
    except BadRequest:
        raise
    except NetworkError as exc:  # TimedOut, connection errors, 5xx
        log.warning("Bot API call failed (%s); retrying once", exc)
        await asyncio.sleep(0.5)
        return await call()


async def send(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    """Send HTML text, split into as many messages as needed; returns the last one."""
    parts = split_html(text)
    message: Message | None = None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        message = await bot.send_message(chat_id, part, reply_markup=markup if last else None)
    if message is None:
        raise ValueError("nothing to send")
    return message


async def edit(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace a message's text; what does not fit goes into new messages after it."""
    parts = split_html(text)
    first_markup = markup if len(parts) == 1 else None
    try:
        await retry_once(
            lambda: bot.edit_message_text(
                parts[0], chat_id=chat_id, message_id=message_id, reply_markup=first_markup
            )
        )
    except BadRequest as exc:
        if not not_modified(exc):
            raise
    if len(parts) > 1:
        await send(bot, chat_id, "\n".join(parts[1:]), markup)


async def settle(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """The final edit of a card; a new message with the same text and buttons if editing fails."""
    try:
        await edit(bot, chat_id, message_id, text, markup)
        return
    except (BadRequest, NetworkError) as exc:  # 5xx twice, timeouts, "message to edit not found"
        log.warning("final edit of message %s failed (%s); sending the card anew", message_id, exc)
    await send(bot, chat_id, text, markup)
    try:  # the stale "writing…" card would only confuse; it may already be gone
        await bot.delete_message(chat_id, message_id)
    except TelegramError as exc:
        log.info("could not delete the card that failed to update: %s", exc)


async def answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a callback query (stops the button's spinner); a stale query is only logged."""
    if text is not None:  # a longer answer is refused outright; the start says enough
        text = clip(text, CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH)
    try:
        await retry_once(lambda: query.answer(text))
    except BadRequest as exc:  # "query is too old", e.g. after a restart
        log.info("could not answer callback query: %s", exc)


async def typing(bot: Bot, chat_id: int) -> None:
    try:
        await retry_once(lambda: bot.send_chat_action(chat_id, ChatAction.TYPING))
    except TelegramError as exc:
        log.info("chat action failed: %s", exc)


class Streamer:
    """Edits `render(text so far)` into a message while a generation runs; typing meanwhile.

    Use as `async with Streamer(...) as s:` and pass `s.feed` as the engine's `on_text`. Edits
    go out at most once per `interval`; the caller does the final edit after the block.
    `render=None` keeps only the typing action (for work that does not stream).
    """

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        message_id: int | None,
        render: Callable[[str], str] | None,
        interval: float = EDIT_INTERVAL_S,
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self.render = render
        self.interval = interval
        self.text = ""
        self.edits = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def feed(self, piece: str) -> None:
        self.text += piece

    async def __aenter__(self) -> Streamer:
        self._task = asyncio.create_task(self._run(), name=f"xiaoer-stream-{self.chat_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._task is not None:
            try:  # let an edit in flight finish so that it cannot land after the final one
                await asyncio.wait_for(self._task, timeout=self.interval + 5)
            except TimeoutError:
                log.warning("streaming edits did not stop in time")

    async def _run(self) -> None:
        last_edit = time.monotonic()  # the message was just sent: no edit right away
        last_typing = -TYPING_EVERY_S
        shown = ""
        while not self._stop.is_set():
            now = time.monotonic()
            if now - last_typing >= TYPING_EVERY_S:
                await typing(self.bot, self.chat_id)
                last_typing = now
            if self.render and self.message_id and self.text != shown and now - last_edit >= self.interval:
                shown = self.text
                try:
                    preview = split_html(self.render(shown))[0]  # a live preview never spills over
                    await edit(self.bot, self.chat_id, self.message_id, preview)
                    self.edits += 1
                except TelegramError as exc:  # the final edit will try again
                    log.info("streaming edit failed: %s", exc)
                last_edit = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK_S)
