"""Crash safety: SIGKILL the real `xiaoer run` in the middle of a file triage and in the middle of
feedback writes; the database then passes `PRAGMA integrity_check`, opens (migrations and all),
and every feedback the bot confirmed to the merchant ("已记录") is in it.

The bot is the real process (`python -m bot.cli run`) polling a FakeTelegram in this test, on the
tiny random models; the test reads the database through its own sqlite3 connection.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.settings import StorageConfig
from bot.store import LATEST_VERSION, Store
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
ZH = 1001
CHUNK = 256  # Services.classify_file stores a file's reviews in transactions of this many


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegram() as server:
        server.user(ZH, language_code="zh-hans")
        yield server


class BotProcess:
    """`xiaoer run` as a child process, its log in a file (a pipe nobody reads would block it)."""

    def __init__(self, tg: FakeTelegram, tmp_path: Path, gemma: Path, encoder: Path) -> None:
        self.tg = tg
        self.db = tmp_path / "db" / "xiaoer.sqlite3"
        self.log = tmp_path / "bot.log"
        self.cwd = tmp_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOER_")}
        self.env = env | {
            "PYTHONPATH": str(ROOT),
            "XIAOER_TELEGRAM__TOKEN": tg.token,
            "XIAOER_TELEGRAM__BASE_URL": tg.base_url,
            "XIAOER_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
            "XIAOER_NLP__WRITER__MODEL": str(gemma),
            "XIAOER_NLP__WRITER__MAX_NEW_TOKENS": "8",
            "XIAOER_NLP__CLASSIFIER__MODEL": str(encoder),
            "XIAOER_NLP__CACHE_DIR": str(tmp_path / "cache"),
            "XIAOER_STORAGE__PATH": str(self.db),
            "XIAOER_ACCESS__ALLOWED_USER_IDS": f"[{ZH}]",
        }
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        before = len(self.tg.calls("setMyCommands"))
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "--env-file", str(self.cwd / "none.env"), "run",
                cwd=self.cwd, env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
        proc = self.proc
        # post_init ran (store open, models loaded) once the command menu is published again
        ready = asyncio.ensure_future(
            self.tg.wait_for(lambda: len(self.tg.calls("setMyCommands")) > before, timeout=90)
        )
        exited = asyncio.ensure_future(proc.wait())
        await asyncio.wait([ready, exited], return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            ready.cancel()
            raise RuntimeError(f"xiaoer run exited {proc.returncode}:\n{self.log.read_text()[-3000:]}")
        exited.cancel()
        await ready

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(self.proc.wait(), timeout=30) == -signal.SIGKILL
        self.proc = None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def test_sigkill_mid_triage_and_mid_feedback_loses_nothing_confirmed(
    tg: FakeTelegram, tmp_path: Path, tiny_gemma_dir: Path, tiny_encoder_dir: Path
) -> None:
    bot = BotProcess(tg, tmp_path, tiny_gemma_dir, tiny_encoder_dir)
    try:
        # 1. A big export: killed while its chunks are being classified and stored.
        await bot.start()
        rows = 40 * CHUNK
        data = ("评价内容\n" + "".join(f"第{i}条，物流有点慢\n" for i in range(rows))).encode()
        tg.user_document(ZH, "评价导出.csv", data, "text/csv")
        await tg.wait_for(lambda: query(bot.db, "SELECT count(*) FROM reviews")[0][0] >= CHUNK, timeout=60)
        await bot.kill()
        assert query(bot.db, "PRAGMA integrity_check") == [("ok",)]
        [(stored,)] = query(bot.db, "SELECT count(*) FROM reviews WHERE source = 'file'")
        assert isinstance(stored, int)
        assert 0 < stored < rows, "the kill did not land mid-triage"
        assert stored % CHUNK == 0  # each chunk is one transaction: all of it or none

        # 2. Restart on that file; cards, then accept them all and kill while the writes go on.
        await bot.start()
        for i in range(6):
            tg.user_message(ZH, f"质量太差了，第{i}次买")
        await tg.wait_for(
            lambda: len([m for m in tg.messages(ZH) if m.from_bot and "💬 建议回复" in (m.text or "")]) >= 6,
            timeout=60,
        )
        cards = [m for m in tg.messages(ZH) if m.from_bot and "💬 建议回复" in (m.text or "")]
        since = tg.checkpoint()
        pressed = {}
        for card in cards:
            data_ = card.button_data("采用")
            update = tg.press_button(ZH, card, data_)
            pressed[update["callback_query"]["id"]] = int(data_.split(":")[3])
        await tg.wait_for(
            lambda: [
                c for c in tg.calls("answerCallbackQuery", since=since) if c.params.get("text") == "已记录"
            ],
            timeout=30,
        )
        await bot.kill()
    finally:
        await bot.stop()

    confirmed = {
        pressed[str(c.params["callback_query_id"])]
        for c in tg.calls("answerCallbackQuery", since=since)
        if c.ok and c.params.get("text") == "已记录"
    }
    assert confirmed
    assert query(bot.db, "PRAGMA integrity_check") == [("ok",)]
    accepted = {
        int(str(g)) for (g,) in query(bot.db, "SELECT generation_id FROM feedback WHERE action = 'accepted'")
    }
    assert confirmed <= accepted, "a feedback the merchant was told is saved is missing"
    # What a restart does first: open the store (pragmas, migrations) on the killed file.
    async with Store(StorageConfig(path=bot.db)) as store:
        assert await store.schema_version() == LATEST_VERSION
        assert (await store.stats())["feedback"] == len(accepted)
