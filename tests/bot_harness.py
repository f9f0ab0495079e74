"""Running the real bot Application against tests/fake_telegram.py with tiny or scripted models.

`bot_running(tg, tmp_path, models, ...)` builds the Application with `build_application`, runs it
the way `Application.run_polling` does (initialize, post_init, polling, start ... stop,
shutdown, post_shutdown) and yields it. Models: the tiny random ones (tests/tiny.py) for the
real loading and generation path, or scripted ones where a test needs known labels or timing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import XiaoerApp, build_application
from bot.settings import AccessConfig, LimitsConfig, Settings, StorageConfig, TelegramConfig
from nlp.aspects import detect_aspects
from nlp.config import ClassifierConfig, EngineConfig, NLPConfig, WriterConfig
from nlp.engine import Engine, SupportsClassify, SupportsGenerate
from nlp.errors import Cancelled
from nlp.types import Draft, Sentiment
from tests.fake_telegram import FakeTelegram

NEGATIVE_WORDS = ("差", "慢", "破", "坏", "退", "bad", "broken", "slow")
NEUTRAL_WORDS = ("一般", "还行", "okay")


def tiny_nlp(gemma: Path, encoder: Path, cache: Path) -> NLPConfig:
    return NLPConfig(
        cache_dir=cache,
        writer=WriterConfig(model=str(gemma), max_new_tokens=8, dtype="float32", device_map="cpu"),
        classifier=ClassifierConfig(model=str(encoder), dtype="float32", device_map="cpu"),
        engine=EngineConfig(request_timeout_s=60),
    )


class KeywordClassifier:
    """Known labels for known words (the tiny model's labels are random); real aspect detection."""

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        out = []
        for text in texts:
            if any(w in text for w in NEGATIVE_WORDS):
                out.append(Sentiment("negative", {"negative": 0.9, "neutral": 0.05, "positive": 0.05}))
            elif any(w in text for w in NEUTRAL_WORDS):
                out.append(Sentiment("neutral", {"negative": 0.2, "neutral": 0.6, "positive": 0.2}))
            else:
                out.append(Sentiment("positive", {"negative": 0.05, "neutral": 0.15, "positive": 0.8}))
        return [
            Sentiment(s.label, s.probs, tuple(detect_aspects(t))) for s, t in zip(out, texts, strict=True)
        ]


class SlowWriter:
    """Wraps a writer: streams its text piece by piece, `step_s` apart, and stops when cancelled."""

    def __init__(self, inner: SupportsGenerate, step_s: float = 0.05, pieces: int = 10) -> None:
        self.inner = inner
        self.step_s = step_s
        self.pieces = pieces
        self.started = threading.Event()
        self.cancelled = threading.Event()

    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        self.started.set()
        for i in range(self.pieces):
            if cancel is not None and cancel.is_set():
                self.cancelled.set()
                raise Cancelled()
            time.sleep(self.step_s)
            if on_text is not None:
                on_text(f"{i}…")
        drafts = self.inner.generate(req, None, cancel)
        return drafts


class FailingWriter:
    """A scripted writer that fails on demand: a fixed reply, or the next queued error.

    `fail_next(error, count)` makes the next `count` generations raise `error` (a RuntimeError
    such as "CUDA out of memory", a BaseException that kills the worker, ...); `fail_on` makes
    every request whose review or product name contains that word raise `error_on`.
    """

    def __init__(self, text: str = "亲，感谢您的反馈，我们马上处理。") -> None:
        self.text = text
        self.errors: list[BaseException] = []
        self.fail_on: str | None = None
        self.error_on: BaseException = RuntimeError("CUDA out of memory")
        self.calls = 0

    def fail_next(self, error: BaseException, count: int = 1) -> None:
        self.errors.extend([error] * count)

    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        self.calls += 1
        subject = str(getattr(req, "review", "") or getattr(getattr(req, "facts", None), "name", ""))
        if self.errors:
            raise self.errors.pop(0)
        if self.fail_on is not None and self.fail_on in subject:
            raise self.error_on
        kind = type(req).__name__.removesuffix("Request").lower()
        params: dict[str, Any] = {"tone": getattr(req, "tone", None) or "warm"}
        if kind == "copy":
            params |= {"platform": req.platform, "length": req.length}
        if on_text is not None:
            on_text(self.text)
        return [Draft(kind, self.text, params=params) for _ in range(getattr(req, "n", 1))]  # type: ignore[arg-type]


@dataclass
class Models:
    classifier: SupportsClassify
    writer: SupportsGenerate

    def engine_factory(
        self, classifier: SupportsClassify | None = None, writer: SupportsGenerate | None = None
    ) -> Callable[[NLPConfig], Engine]:
        c, w = classifier or self.classifier, writer or self.writer
        return lambda nlp: Engine(nlp.engine, classifier=lambda: c, writer=lambda: w)


def make_settings(
    tg: FakeTelegram,
    tmp_path: Path,
    nlp: NLPConfig,
    *,
    limits: LimitsConfig | None = None,
    access: AccessConfig | None = None,
    timeout_s: float = 5.0,
) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram=TelegramConfig(
            token=tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url, timeout_s=timeout_s
        ),  # type: ignore[arg-type]
        nlp=nlp,
        storage=StorageConfig(path=tmp_path / "xiaoer.sqlite3"),
        limits=limits or LimitsConfig(),
        # The product default lets nobody in; tests that are not about access use open mode.
        access=access or AccessConfig(open=True),
    )


@asynccontextmanager
async def running(app: XiaoerApp, webhook: dict[str, Any] | None = None) -> AsyncIterator[XiaoerApp]:
    """Run the app as `run_polling` (or, given its options, `run_webhook`) does, minus signals."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        assert app.updater is not None
        if webhook is None:
            await app.updater.start_polling(poll_interval=0.0, timeout=dt.timedelta(seconds=10))
        else:
            await app.updater.start_webhook(**webhook)
        await app.start()
        try:
            yield app
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


@asynccontextmanager
async def bot_running(
    tg: FakeTelegram,
    settings: Settings,
    engine_factory: Callable[[NLPConfig], Engine],
) -> AsyncIterator[XiaoerApp]:
    app = build_application(settings, engine_factory)
    async with running(app):
        yield app
