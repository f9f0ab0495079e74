"""What the handlers share while the bot runs, and the typed `context` they reach it through.

`Runtime` is created in `post_init` (bot/app.py) and holds the settings, the services, the
allowlist and admins, the one-time claim code, the per-user rate limits (model calls and
refusals) and the model work in flight (cancelled on shutdown).
Handlers take `context: Context` and use `context.runtime`, `context.services`,
`context.lang` and `context.ud` (the per-user conversation scratch space).

Errors raised here are the bot's own and carry text for the user (see handlers/errors.py)::

    BotError
    ├── RateLimited     too many model calls in the last minute; says when to try again
    └── ShuttingDown    the bot is stopping; model work was refused or cancelled
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from telegram.ext import CallbackContext, ExtBot

from bot.services import Services
from bot.settings import Settings
from nlp.types import Language

T = TypeVar("T")
ClaimResult = Literal["ok", "bad", "limited", "none"]  # "none": no claim code is pending
RATE_WINDOW_S = 60.0  # limits.requests_per_minute counts calls in this sliding window
REFUSAL_INTERVAL_S = 60.0  # a refused user gets at most one answer (and one claim try) per minute


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
    admins: set[int] = field(default_factory=set)  # claimed the bot (persisted in the store)
    claim_code: str | None = None  # one-time code printed at start-up while there is no admin
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    closing: bool = False
    _started: float = field(default_factory=time.monotonic)
    _calls: dict[int, deque[float]] = field(default_factory=dict)
    _inflight: set[asyncio.Future[Any]] = field(default_factory=set)
    _refused: dict[int, float] = field(default_factory=dict)  # user -> last refusal answered
    _bad_claims: dict[int, float] = field(default_factory=dict)  # user -> last wrong claim code

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started

    # -- access: who may use the bot ------------------------------------------------------------

    @property
    def allowlist_active(self) -> bool:
        """Always, unless XIAOER_ACCESS__OPEN=true lets every Telegram user in."""
        return not self.settings.access.open

    @property
    def has_admin(self) -> bool:
        return bool(self.settings.access.admin_user_ids or self.admins)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.access.admin_user_ids or user_id in self.admins

    def is_allowed(self, user_id: int) -> bool:
        if not self.allowlist_active or self.is_admin(user_id):
            return True
        return user_id in self.settings.access.allowed_user_ids or user_id in self.allowed

    def allowed_count(self) -> int:
        """Users on the allowlist who are not admins (configured and let in by /allow)."""
        everyone = set(self.settings.access.allowed_user_ids) | self.allowed
        return len(everyone - set(self.settings.access.admin_user_ids) - self.admins)

    def refusal_due(self, user_id: int) -> bool:
        """Whether a refused user may get an answer now (one a minute; the call counts as one)."""
        now = time.monotonic()
        if len(self._refused) > 10_000:  # outsiders' ids: keep only the last minute's
            self._refused = {u: t for u, t in self._refused.items() if now - t < REFUSAL_INTERVAL_S}
        last = self._refused.get(user_id)
        if last is not None and now - last < REFUSAL_INTERVAL_S:
            return False
        self._refused[user_id] = now
        return True

    def claim(self, user_id: int, code: str) -> ClaimResult:
        """Try the start-up claim code: one try per user per minute, compared in constant time."""
        now = time.monotonic()
        if self.claim_code is None:
            return "none"
        if len(self._bad_claims) > 10_000:
            self._bad_claims = {u: t for u, t in self._bad_claims.items() if now - t < REFUSAL_INTERVAL_S}
        last = self._bad_claims.get(user_id)
        if last is not None and now - last < REFUSAL_INTERVAL_S:
            return "limited"  # not even compared: a wrong code costs a minute (no brute force)
        if not secrets.compare_digest(code.encode(), self.claim_code.encode()):
            self._bad_claims[user_id] = now
            return "bad"
        self.claim_code = None  # single use: gone before anything is awaited
        self.admins.add(user_id)
        return "ok"

    def check_rate(self, user_id: int, n: int = 1) -> None:
        """Count `n` model calls for the user (an upload counts its rows, see handlers/files.py);
        `RateLimited`, counting nothing, if they do not fit in the minute's quota."""
        now = time.monotonic()
        calls = self._calls.setdefault(user_id, deque())
        while calls and now - calls[0] >= RATE_WINDOW_S:
            calls.popleft()
        n = max(1, min(n, self.settings.limits.requests_per_minute))  # a whole quota always fits
        over = len(calls) + n - self.settings.limits.requests_per_minute
        if over > 0:  # wait until the `over` oldest calls leave the window
            raise RateLimited(RATE_WINDOW_S - (now - calls[over - 1]))
        calls.extend([now] * n)

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
        self.edit_hint_shown = False  # told once that edited messages are not analysed again


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
