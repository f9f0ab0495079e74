"""Bad input, fuzzed with hypothesis, through the real Application against tests/fake_telegram.py.

Texts, captions, callback data, command arguments, file names and CSV / XLSX / any-bytes files
go in as Telegram updates; each must be answered (a message, an edit, a document, or the
callback's answer) and nothing may reach the error handler as an unexpected error (it logs those
at ERROR with the traceback).

One bot runs for the whole module on its own event loop in a background thread (`LiveBot`); the
hypothesis tests are plain synchronous tests that hand each example to that loop and wait for the
answer, so examples reuse one Application instead of starting one each. Models are scripted
(keyword classifier, fixed writer): the models are not what is fuzzed here.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import threading
import zipfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import XiaoerApp
from bot.settings import AccessConfig
from nlp.config import NLPConfig
from nlp.types import Draft
from tests.bot_harness import KeywordClassifier, Models, bot_running, make_settings
from tests.fake_telegram import FakeTelegram, JSONDict

T = TypeVar("T")
ADMIN = 9009
ANSWER_TIMEOUT_S = 5.0  # scripted models answer in milliseconds; a missing answer fails fast
ANSWERS = ("sendMessage", "editMessageText", "sendDocument", "sendPhoto", "editMessageCaption")


class FixedWriter:
    """Every request gets the same short draft (n of them), streamed in one piece."""

    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: Any = None
    ) -> list[Draft]:
        kind = type(req).__name__.removesuffix("Request").lower()
        params: dict[str, Any] = {"tone": getattr(req, "tone", None) or "warm"}
        if kind == "copy":
            params |= {"platform": req.platform, "length": req.length}
        if on_text is not None:
            on_text("感谢您的反馈，我们会改进。")
        return [Draft(kind, "感谢您的反馈，我们会改进。", params=params)] * getattr(req, "n", 1)  # type: ignore[arg-type]


class ErrorLog(logging.Handler):
    """Collects ERROR records (the error handler logs unexpected errors at ERROR, with traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        out = [f"{r.name}: {r.getMessage()}\n{self.format(r)}" for r in self.records]
        self.records.clear()
        return out


class LiveBot:
    """The bot and the fake server on an event loop in a thread; `call` runs a coroutine there."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-bot", daemon=True)
        self.tmp_path = tmp_path
        self.users = itertools.count(50_001)
        self.tg: FakeTelegram | None = None
        self.app: XiaoerApp | None = None
        self._running: Any = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.call(self._up())

    def stop(self) -> None:
        try:
            self.call(self._down())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    async def _up(self) -> None:
        self.tg = FakeTelegram()
        await self.tg.start()
        models = Models(KeywordClassifier(), FixedWriter())
        nlp = NLPConfig(cache_dir=self.tmp_path / "cache")
        settings = make_settings(
            self.tg, self.tmp_path, nlp, access=AccessConfig(admin_user_ids=[ADMIN], open=True)
        )
        self._running = bot_running(self.tg, settings, models.engine_factory())
        self.app = await self._running.__aenter__()

    async def _down(self) -> None:
        assert self.tg is not None
        try:
            await self._running.__aexit__(None, None, None)
        finally:
            await self.tg.__aexit__(None, None, None)

    async def send(self, make: Callable[[FakeTelegram, int], JSONDict], user: int) -> None:
        """Enqueue one update from `user`; wait until it was processed and answered."""
        tg, app = self.tg, self.app
        assert tg is not None and app is not None
        since = tg.checkpoint()
        update = make(tg, user)
        query = update.get("callback_query")

        def answered() -> bool:
            if query is not None:
                return bool(tg.calls("answerCallbackQuery", since=since, callback_query_id=query["id"]))
            return any(tg.calls(m, since=since, chat_id=user) for m in ANSWERS)

        await tg.wait_for(answered, timeout=ANSWER_TIMEOUT_S, what=f"an answer to {update}")
        # Then until PTB has finished with it (handlers may go on after their first answer). Nothing
        # notifies the end of a handler, so this polls (hence the noqa).
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            while not (app.update_queue.empty() and app.update_processor.current_concurrent_updates == 0):  # noqa: ASYNC110
                await asyncio.sleep(0.005)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBot]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PTB_TIMEDELTA", "true")
        bot = LiveBot(tmp_path_factory.mktemp("fuzz"))
        bot.start()
        try:
            yield bot
        finally:
            bot.stop()


@pytest.fixture(scope="module")
def errors(live: LiveBot) -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def run_example(
    live: LiveBot, errors: ErrorLog, steps: list[Callable[[FakeTelegram, int], JSONDict]]
) -> None:
    user = next(live.users)  # a fresh merchant per example: no conversation left over
    for step in steps:
        live.call(live.send(step, user))
    assert errors.take() == []


# -- strategies -----------------------------------------------------------------------------------

visible = st.text(min_size=1, max_size=400).filter(lambda s: s.strip() != "")
COMMANDS = ("start", "help", "copy", "strategy", "history", "export", "settings", "cancel", "skip")
ADMIN_COMMANDS = ("allow", "deny", "stats")
PREFIXES = (
    "rv:regen", "rv:tone", "rv:edit", "rv:ok", "rv:no", "rv:reply", "rv:retry", "cp:regen", "cp:short",
    "cp:tone", "cp:ok", "cp:plat", "cp:len", "ob:tone", "ob:lang", "st:field", "st:tone", "st:rlang",
    "st:ui", "st:done",
)  # fmt: skip


def text_message(text: str) -> Callable[[FakeTelegram, int], JSONDict]:
    return lambda tg, user: tg.user_message(user, text)


def command(name: str, args: str) -> Callable[[FakeTelegram, int], JSONDict]:
    return text_message(f"/{name} {args}".rstrip())


def button(data: str) -> Callable[[FakeTelegram, int], JSONDict]:
    return lambda tg, user: tg.press_button(user, 1, data, forge=True)  # a modified client


def document(name: str, data: bytes, caption: str | None) -> Callable[[FakeTelegram, int], JSONDict]:
    return lambda tg, user: tg.user_document(user, name, data, caption=caption)


def xlsx_like(cells: list[str]) -> bytes:
    """A zip named like a workbook whose sheet XML is built from fuzzed (often broken) cells."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        rows = "".join(f'<row><c t="inlineStr"><is><t>{c}</t></is></c></row>' for c in cells)
        z.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{rows}</sheetData></worksheet>")
    return buf.getvalue()


callback_data = st.one_of(
    st.text(max_size=64),
    st.builds(
        lambda p, rest: f"v1:{p}:{rest}",
        st.sampled_from(PREFIXES),
        st.one_of(st.integers(-(2**63), 2**63).map(str), st.text(max_size=30)),
    ),
).filter(lambda d: 0 < len(d.encode()) <= 64)

csv_bytes = st.builds(
    lambda rows, enc: "\n".join(",".join(r) for r in rows).encode(enc, errors="replace"),
    st.lists(st.lists(st.text(max_size=30), min_size=1, max_size=4), max_size=20),
    st.sampled_from(["utf-8", "gbk", "utf-16"]),
)
file_name = st.builds(
    lambda stem, suffix: stem + suffix,
    st.text(max_size=40),
    st.sampled_from([".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".pdf", "", ".CSV"]),
)
file_content = st.one_of(
    csv_bytes, st.binary(max_size=3000), st.lists(st.text(max_size=40), max_size=10).map(xlsx_like)
)

step = st.one_of(
    visible.map(text_message),
    st.builds(command, st.sampled_from(COMMANDS), st.text(max_size=80)),
    callback_data.map(button),
    st.builds(document, file_name, file_content, st.none() | st.text(max_size=1024)),
)


# -- the tests ------------------------------------------------------------------------------------


@given(st.lists(step, min_size=1, max_size=3))
def test_any_update_is_answered_without_unexpected_errors(
    live: LiveBot, errors: ErrorLog, steps: list[Callable[[FakeTelegram, int], JSONDict]]
) -> None:
    run_example(live, errors, steps)


@given(st.sampled_from(ADMIN_COMMANDS), st.text(max_size=80))
def test_admin_commands_with_any_arguments(live: LiveBot, errors: ErrorLog, name: str, args: str) -> None:
    def as_admin(tg: FakeTelegram, user: int) -> JSONDict:
        return tg.user_message(ADMIN, f"/{name} {args}".rstrip())

    live.call(live.send(as_admin, ADMIN))
    assert errors.take() == []
