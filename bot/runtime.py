"""What the handlers share while the bot runs, and the typed `context` they reach it through.

`Runtime` is created in `post_init` (bot/app.py) and holds the settings, the services, the
allowlist, the per-user rate limits and the model work in flight (cancelled on shutdown).
Handlers take `context: Context` and use `context.runtime`, `context.services`,
`context.lang` and `context.ud` (the per-user conversation scratch space).

Errors raised here are the bot's own and carry text for the user (see handlers/errors.py)::

    BotError
    ├── RateLimited     too many model calls in the last minute; says when to try again
    └── ShuttingDown    the bot is stopping; model work was refused or cancelled
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services
from bot.settings import Settings
from nlp.types import Language

T = TypeVar("T")
RATE_WINDOW_S = 60.0  # limits.requests_per_minute counts calls in this sliding window


class BotError(Exception):
    """Base of the bot's own errors; each is answered with a friendly text, no traceback."""


class RateLimited(BotError):
    def __init__(self, retry_in: float) -> None:
        self.retry_in = max(1, round(retry_in))
        super().__init__(f"rate limited, retry in {self.retry_in} s")


class ShuttingDown(BotError):
    def __init__(self) -> None:
        super().__init__("the bot is shutting down")


@dataclass
class Runtime:
    settings: Settings
    services: Services
    allowed: set[int] = field(default_factory=set)  # let in by /allow (persisted in the store)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    closing: bool = False
    _started: float = field(default_factory=time.monotonic)
    _calls: dict[int, deque[float]] = field(default_factory=dict)
    _inflight: set[asyncio.Future[Any]] = field(default_factory=set)

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started

    @property
    def allowlist_active(self) -> bool:
        """The bot is open to everyone unless XIAOER_ACCESS__ALLOWED_USER_IDS names someone."""
        return bool(self.settings.access.allowed_user_ids)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.access.admin_user_ids

    def is_allowed(self, user_id: int) -> bool:
        if not self.allowlist_active or self.is_admin(user_id):
            return True
        return user_id in self.settings.access.allowed_user_ids or user_id in self.allowed

    def check_rate(self, user_id: int) -> None:
        """Count one model call for the user; `RateLimited` if the minute's quota is used up."""
        now = time.monotonic()
        calls = self._calls.setdefault(user_id, deque())
        while calls and now - calls[0] >= RATE_WINDOW_S:
            calls.popleft()
        if len(calls) >= self.settings.limits.requests_per_minute:
            raise RateLimited(RATE_WINDOW_S - (now - calls[0]))
        calls.append(now)

    async def model(self, user_id: int, work: Callable[[], Awaitable[T]], *, count: bool = True) -> T:
        """Run model work for a user: rate-limited, tracked, cancelled by `begin_shutdown`."""
        if self.closing:
            raise ShuttingDown()
        if count:
            self.check_rate(user_id)
        task = asyncio.ensure_future(work())
        self._inflight.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and self.closing and not (current and current.cancelling()):
                raise ShuttingDown() from None  # our shutdown cancelled it, not our caller
            raise
        finally:
            self._inflight.discard(task)

    def begin_shutdown(self) -> int:
        """Refuse new model work and cancel what runs (the engine stops at the next token)."""
        self.closing = True
        for task in self._inflight:
            task.cancel()
        return len(self._inflight)


class BotData:
    """`context.bot_data`: the runtime, once post_init has built it."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None


class UserData:
    """`context.user_data`: the UI language and the state of the user's open conversations."""

    def __init__(self) -> None:
        self.lang: Language | None = None  # cached from the store by the access gate
        self.onboarding = 0  # /start: index of the question being asked
        self.copy: dict[str, str] = {}  # /copy: product facts collected so far
        self.copy_step = 0  # /copy: index of the question being asked
        self.edit_generation: int | None = None  # reply being edited
        self.settings_field: str | None = None  # /settings: field waiting for a value


class Context(CallbackContext[ExtBot[int], UserData, dict[Any, Any], BotData]):
    """The `context` of every handler: typed access to the runtime and the user's data."""

    @property
    def runtime(self) -> Runtime:
        runtime = self.bot_data.runtime
        if runtime is None:
            raise RuntimeError("the bot is not initialised (post_init has not run)")
        return runtime

    @property
    def services(self) -> Services:
        return self.runtime.services

    @property
    def ud(self) -> UserData:
        if self.user_data is None:  # updates without a user (channel posts) never reach handlers
            raise RuntimeError("this update has no user")
        return self.user_data

    @property
    def lang(self) -> Language:
        data = self.user_data
        return data.lang if data is not None and data.lang is not None else "en"
