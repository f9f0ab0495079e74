"""Telegram faults through tests/fake_telegram.py, and the store's faults as the merchant sees them.

Dropped connections and 5xx bursts during getUpdates, sustained 429s, dropped file downloads:
every update is handled exactly once (counted per update_id by a handler ahead of all others),
a review pasted once is stored once, and the bot keeps serving. A store that is busy, full or
read-only is answered with what to do, not a traceback.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import TypeHandler

from bot.app import FLOOD_RETRIES, XiaoerApp
from bot.settings import AccessConfig, Settings, StorageConfig
from nlp.config import NLPConfig
from nlp.types import Draft
from tests.bot_harness import KeywordClassifier, Models, bot_running, make_settings
from tests.fake_telegram import FakeTelegram

ZH = 1001


class FixedWriter:
    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: Any = None
    ) -> list[Draft]:
        kind = type(req).__name__.removesuffix("Request").lower()
        return [Draft(kind, "感谢您的反馈。", params={"tone": "warm"})] * getattr(req, "n", 1)  # type: ignore[arg-type]


MODELS = Models(KeywordClassifier(), FixedWriter())


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when it builds a RetryAfter otherwise
    async with FakeTelegram() as server:
        server.user(ZH, language_code="zh-hans")
        yield server


@pytest.fixture
def settings(tg: FakeTelegram, tmp_path: Path) -> Settings:
    return make_settings(
        tg, tmp_path, NLPConfig(cache_dir=tmp_path / "cache"), access=AccessConfig(allowed_user_ids=[ZH])
    )


def count_updates(app: XiaoerApp) -> Counter[int]:
    """update_id -> how often the bot processed it (a handler in a group before every other)."""
    seen: Counter[int] = Counter()

    async def record(update: Update, context: Any) -> None:
        seen[update.update_id] += 1

    app.add_handler(TypeHandler(Update, record), group=-100)
    return seen


def reviews_with(settings: Settings, text: str) -> int:
    with sqlite3.connect(settings.storage.path) as conn:
        return int(conn.execute("SELECT count(*) FROM reviews WHERE text = ?", (text,)).fetchone()[0])


def cards(tg: FakeTelegram, text: str) -> list[str]:
    return [t for t in tg.sent_texts(ZH) if text in t and "💬 建议回复" in t]


async def test_dropped_and_failing_get_updates_lose_nothing_and_repeat_nothing(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with bot_running(tg, settings, MODELS.engine_factory()) as app:
        seen = count_updates(app)
        first = tg.user_message(ZH, "物流太慢了")
        await tg.wait_for(lambda: cards(tg, "物流太慢了"))
        # The polls after the one in flight fail: a 502, then a connection dropped while updates
        # were pending (as when Telegram's reply is lost on the way).
        tg.fail_next("getUpdates", "502")
        tg.fail_next("getUpdates", "disconnect")
        second = tg.user_message(ZH, "包装破了")  # ends the poll in flight; the next one gets the 502
        await tg.wait_for(lambda: [c for c in tg.calls("getUpdates") if c.fault == "502"])
        later = [second, tg.user_message(ZH, "质量很好"), tg.user_message(ZH, "颜色一般")]
        await tg.wait_for(lambda: all(cards(tg, t) for t in ("包装破了", "质量很好", "颜色一般")), timeout=15)
        await tg.wait_for(lambda: not tg.pending_updates)
    faults = [c.fault for c in tg.calls("getUpdates") if c.fault]
    assert faults == ["502", "disconnect"]
    ids = [u["update_id"] for u in (first, *later)]
    assert {i: seen[i] for i in ids} == dict.fromkeys(ids, 1)
    disconnected = [c for c in tg.calls("getUpdates") if c.fault == "disconnect"]
    assert disconnected and disconnected[0].time < tg.calls("getUpdates")[-1].time
    for text in ("物流太慢了", "包装破了", "质量很好", "颜色一般"):
        assert reviews_with(settings, text) == 1, text
        assert len(cards(tg, text)) == 1, text


async def test_sustained_429s_are_waited_out_or_given_up_without_a_crash(
    tg: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(tg, settings, MODELS.engine_factory()) as app:
        seen = count_updates(app)
        # As many 429s in a row as the rate limiter retries: the answer still arrives, once.
        tg.fail_next("sendMessage", "429", count=FLOOD_RETRIES, chat_id=ZH, retry_after=0.1)
        absorbed = tg.user_message(ZH, "/help")
        await tg.wait_for_message(ZH, "使用方法")
        # One more than that: the bot gives up on this answer, logs a warning, and goes on.
        tg.fail_next("sendMessage", "429", count=FLOOD_RETRIES + 1, chat_id=ZH, retry_after=0.1)
        lost = tg.user_message(ZH, "/help")
        await tg.wait_for(
            lambda: len([c for c in tg.calls("sendMessage") if c.fault]) == 2 * FLOOD_RETRIES + 1
        )
        await tg.wait_for(lambda: any("refused for now" in r.getMessage() for r in caplog.records))
        tg.user_message(ZH, "/help")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(ZH) if "使用方法" in t]) == 2)
    assert seen[absorbed["update_id"]] == seen[lost["update_id"]] == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # PTB's rate limiter logs its give-up at ERROR itself; nothing of ours (no traceback) does
    assert [r.name for r in errors] == ["telegram.ext.AIORateLimiter"]


async def test_dropped_file_downloads_are_handled_once_and_a_resend_is_stored_once(
    tg: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    data = "评价内容\n物流太慢了\n很好\n".encode()
    async with bot_running(tg, settings, MODELS.engine_factory()) as app:
        seen = count_updates(app)
        tg.fail_next("file", "disconnect")  # the file GET dropped mid-way
        dropped = tg.user_document(ZH, "评价.csv", data, "text/csv")
        await tg.wait_for(lambda: any("重新发送" in m for m in tg.sent_texts(ZH)))
        tg.fail_next("getFile", "502")
        failed = tg.user_document(ZH, "评价.csv", data, "text/csv")
        await tg.wait_for(lambda: sum("重新发送" in m for m in tg.sent_texts(ZH)) >= 2)
        resent = tg.user_document(ZH, "评价.csv", data, "text/csv")
        await tg.wait_for_calls("sendDocument", chat_id=ZH, timeout=20)
    assert [c.fault for c in tg.calls("file")] == ["disconnect", None]
    assert [seen[u["update_id"]] for u in (dropped, failed, resent)] == [1, 1, 1]
    assert reviews_with(settings, "物流太慢了") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("method", "fault"), [("file", "disconnect"), ("getFile", "502")])
async def test_a_dropped_file_download_tells_the_merchant_to_send_it_again(
    tg: FakeTelegram, settings: Settings, method: str, fault: str
) -> None:
    async with bot_running(tg, settings, MODELS.engine_factory()):
        tg.fail_next(method, fault)
        tg.user_document(ZH, "评价.csv", "评价内容\n物流太慢了\n".encode(), "text/csv")
        status = await tg.wait_for_message(ZH, "重新发送")
        assert "没有下载成功" in (status.text or "")
        # nothing was stored, and the same file sent again is read in full
        tg.user_document(ZH, "评价.csv", "评价内容\n物流太慢了\n".encode(), "text/csv")
        await tg.wait_for_calls("sendDocument", chat_id=ZH)


# -- the store's faults, as the merchant sees them -------------------------------------------------


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [
        (None, "数据库忙，请稍后再试"),  # another process holds the write lock
        ("PRAGMA query_only = ON", "数据库文件只读"),
        ("full", "磁盘已满"),
    ],
)
async def test_store_faults_are_answered_with_what_to_do(
    tg: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, pragma: str | None, expected: str
) -> None:
    settings = make_settings(
        tg, tmp_path, NLPConfig(cache_dir=tmp_path / "cache"), access=AccessConfig(allowed_user_ids=[ZH])
    )
    settings.storage = StorageConfig(path=settings.storage.path, busy_timeout_ms=20)
    async with bot_running(tg, settings, MODELS.engine_factory()) as app:
        tg.user_message(ZH, "/help")  # the merchant exists
        await tg.wait_for_message(ZH, "使用方法")
        runtime = app.bot_data.runtime
        assert runtime is not None
        db = runtime.services.store._require_open()
        holder = sqlite3.connect(settings.storage.path, isolation_level=None, check_same_thread=False)
        try:
            if pragma == "full":  # the file may not grow: what SQLite reports on a full disk
                async with db.execute("PRAGMA page_count") as cur:
                    row = await cur.fetchone()
                assert row is not None
                await db.execute(f"PRAGMA max_page_count = {int(row[0])}")
            elif pragma is None:
                holder.execute("BEGIN IMMEDIATE")
            else:
                await db.execute(pragma)
            tg.user_message(ZH, "物流太慢了" * 400)
            await tg.wait_for(lambda: any(expected in t for t in tg.sent_texts(ZH)), timeout=15)
        finally:
            holder.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with sqlite3.connect(settings.storage.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
