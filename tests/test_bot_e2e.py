"""The Telegram bot end to end: the real Application against the test Bot API server.

Every test builds the bot with `build_application`, runs it by long polling (or a webhook)
against tests/fake_telegram.py on 127.0.0.1 and talks to it as a merchant would: messages,
button presses, uploads. Models are the tiny random ones (the real loading and generation
code) or, where a test needs known labels or timing, a keyword classifier and a slowed writer.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import logging
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import build_application, default_engine, webhook_options
from bot.settings import AccessConfig, LimitsConfig, Settings
from nlp.config import NLPConfig
from nlp.models import load_classifier, load_writer
from nlp.types import Draft
from tests.bot_harness import (
    KeywordClassifier,
    Models,
    SlowWriter,
    bot_running,
    make_settings,
    running,
    tiny_nlp,
)
from tests.fake_telegram import FakeTelegram, StoredMessage

ROOT = Path(__file__).resolve().parents[1]
ZH = 1001  # a merchant whose Telegram speaks Chinese
EN = 2002  # one whose Telegram speaks English
ADMIN = 9009


@pytest.fixture(scope="session")
def models(tiny_gemma_dir: Path, tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Models:
    nlp = tiny_nlp(tiny_gemma_dir, tiny_encoder_dir, tmp_path_factory.mktemp("cache"))
    return Models(load_classifier(nlp), load_writer(nlp))


@pytest.fixture
def nlp(tiny_gemma_dir: Path, tiny_encoder_dir: Path, tmp_path: Path) -> NLPConfig:
    return tiny_nlp(tiny_gemma_dir, tiny_encoder_dir, tmp_path / "cache")


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when it builds a RetryAfter otherwise
    async with FakeTelegram() as server:
        server.user(ZH, language_code="zh-hans")
        server.user(EN, language_code="en-US")
        yield server


@pytest.fixture
def settings(tg: FakeTelegram, tmp_path: Path, nlp: NLPConfig) -> Settings:
    # open: these tests are not about access (tests/test_access.py is), and use many user ids
    return make_settings(tg, tmp_path, nlp, access=AccessConfig(admin_user_ids=[ADMIN], open=True))


def db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.storage.path)


def texts(tg: FakeTelegram, chat: int) -> str:
    return "\n---\n".join(tg.sent_texts(chat))


def gid(data: str) -> int:
    """The id in callback data such as v1:rv:regen:42."""
    return int(data.split(":")[3])


async def answered(tg: FakeTelegram, since: int) -> list[str]:
    """Texts of callback answers since a checkpoint (empty string: answered without text)."""
    calls = await tg.wait_for_calls("answerCallbackQuery", since=since)
    return [str(c.params.get("text", "")) for c in calls]


class ScriptedWriter:
    """Returns a fixed text (streamed in pieces): for tests that need to see the output."""

    def __init__(self, text: str, pieces: int = 1, kinds: set[str] | None = None) -> None:
        self.text = text
        self.pieces = pieces
        self.kinds = kinds  # the request kinds that get `text` (others get a short fixed one)

    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: Any = None
    ) -> list[Draft]:
        kind = type(req).__name__.removesuffix("Request").lower()
        n = getattr(req, "n", 1)
        text = self.text if self.kinds is None or kind in self.kinds else "感谢您的反馈。"
        if on_text is not None:
            step = max(1, len(text) // self.pieces)
            for i in range(0, len(text), step):
                on_text(text[i : i + step])
        params = {"tone": getattr(req, "tone", None) or "warm"}
        if kind == "copy":
            params |= {"platform": req.platform, "length": req.length, "tone": req.tone}
        return [Draft(kind, text, params=params)] * n  # type: ignore[arg-type]


# -- start, help, settings ---------------------------------------------------------------------


async def test_help_in_both_languages_and_command_menus(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "/help", language_code="zh-hans")
        await tg.wait_for_message(ZH, "使用方法")
        tg.user_message(EN, "/help", language_code="en-US")
        await tg.wait_for_message(EN, "How to use")
        tg.user_message(EN, "/nonsense", language_code="en-US")
        await tg.wait_for_message(EN, "Unknown command")
        tg.user_message(ZH, "/cancel")
        await tg.wait_for_message(ZH, "没有进行中的操作")
    assert ("copy", "写商品文案") in tg.my_commands("zh")
    assert ("copy", "write product copy") in tg.my_commands("")
    assert all(c.params.get("parse_mode") == "HTML" for c in tg.calls("sendMessage"))


async def test_onboarding_asks_for_the_profile_and_stores_it(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "/start")
        await tg.wait_for_message(ZH, "店铺名称是")
        assert "直接粘贴顾客评价" in texts(tg, ZH)  # the three-line explanation came first
        tg.user_message(ZH, "小美<家居>")  # markup characters are text, not HTML
        await tg.wait_for_message(ZH, "主营类目")
        tg.user_message(ZH, "家居")
        tone = await tg.wait_for_message(ZH, "什么语气")
        tg.press_button(ZH, tone, tone.button_data("专业"))
        await tg.wait_for_message(ZH, "落款")
        assert "→ 专业" in texts(tg, ZH)
        tg.user_message(ZH, "—— 小美客服")
        await tg.wait_for_message(ZH, "售后政策是")
        tg.user_message(ZH, "7天无理由退货，退货运费买家承担")
        parsed = await tg.wait_for_message(ZH, "我理解的售后政策")  # the merchant confirms what was read
        assert "运费买家承担" in (parsed.text or "")
        language = await tg.wait_for_message(ZH, "用什么语言")
        tg.press_button(ZH, language, language.button_data("跟随评价的语言"))
        done = await tg.wait_for_message(ZH, "设置完成")
        assert "店铺：小美<家居>" in (done.text or "")
        tg.user_message(EN, "/start", language_code="en-US")
        await tg.wait_for_message(EN, "What is the shop's name")
        tg.user_message(EN, "x" * 61, language_code="en-US")
        await tg.wait_for_message(EN, "refused")
        tg.user_message(EN, "/cancel", language_code="en-US")
        await tg.wait_for_message(EN, "Cancelled")
    row = (
        db(settings)
        .execute(
            "SELECT shop_name, category, tone, signature, reply_language FROM merchants WHERE id = ?", (ZH,)
        )
        .fetchone()
    )
    assert row == ("小美<家居>", "家居", "professional", "—— 小美客服", "auto")


async def test_settings_change_fields_and_ui_language(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "/settings")
        menu = await tg.wait_for_message(ZH, "店铺资料")
        tg.press_button(ZH, menu, menu.button_data("店铺名称"))
        await tg.wait_for_message(ZH, "请发送新的店铺名称")
        tg.user_message(ZH, "新名字")
        await tg.wait_for_message(ZH, "店铺：新名字")
        menu = tg.last_message(ZH)
        tg.press_button(ZH, menu, menu.button_data("语气"))
        choose = await tg.wait_for_message(ZH, "请选择语气")
        tg.press_button(ZH, choose, choose.button_data("致歉"))
        await tg.wait_for_message(ZH, "语气：致歉")
        menu = tg.last_message(ZH)
        tg.press_button(ZH, menu, menu.button_data("界面语言"))
        choose = await tg.wait_for_message(ZH, "请选择界面语言")
        tg.press_button(ZH, choose, choose.button_data("English"))
        menu = await tg.wait_for_message(ZH, "Shop profile")
        assert "UI language: English" in (menu.text or "")
        done = menu.button_data("Done")
        tg.press_button(ZH, menu, done)
        await tg.wait_for_message(ZH, "Settings closed")
        tg.user_message(ZH, "/help")  # Telegram still says zh-hans; the choice wins
        await tg.wait_for_message(ZH, "How to use")
        since = tg.checkpoint()
        tg.press_button(ZH, menu, done, forge=True)  # the menu was closed
        assert await answered(tg, since) == ["This button is invalid or has expired."]
    row = (
        db(settings).execute("SELECT shop_name, tone, language FROM merchants WHERE id = ?", (ZH,)).fetchone()
    )
    assert row == ("新名字", "apologetic", "en")


# -- reviews -----------------------------------------------------------------------------------


async def test_pasted_review_gets_a_card_with_a_reply(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "物流太慢了，包装也破了")
        card = await tg.wait_for_message(ZH, "💬 建议回复")
        assert "方面：物流👎、包装👎" in (card.text or "")
        assert "置信度" in (card.text or "")
        assert card.button_data("重新生成").startswith("v1:rv:regen:")
        assert {b.text for b in card.buttons()} >= {
            "✏️ 修改",
            "✅ 采用",
            "🚫 不用",
            "亲切",
            "专业",
            "简洁",
            "致歉",
        }
        tg.user_message(EN, "The box arrived broken", language_code="en-US")
        card = await tg.wait_for_message(EN, "Suggested reply")
        assert "Aspects: packaging" in (card.text or "")
    assert db(settings).execute("SELECT count(*) FROM generations WHERE kind = 'reply'").fetchone() == (2,)


async def test_several_reviews_summary_negatives_first_and_reply_on_request(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    pasted = "\n".join(
        [
            "1. 质量很好，颜色好看",
            "2. 物流太慢了",
            "3. 一般般吧",
            "4. 包装破了",
            "5. 很满意",
            "6. 好",
            "7. 不错",
        ]
    )
    async with bot_running(tg, settings, models.engine_factory(classifier=KeywordClassifier())):
        tg.user_message(ZH, pasted)
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(ZH) if "💬 建议回复" in t]) == 5, timeout=20)
        sent = tg.sent_texts(ZH)
        assert sent[0].startswith("🔎 共 7 条评价：👍 4 · 😐 1 · 👎 2")
        assert "吐槽集中在：物流 ×1、包装 ×1" in sent[0]
        cards = sent[1:]
        assert [c.split(" · ")[0] for c in cards[:2]] == ["👎 差评", "👎 差评"]  # negatives first
        assert "物流太慢了" in cards[0] and "包装破了" in cards[1]
        waiting = [m for m in tg.messages(ZH) if m.from_bot and "点 ✍️ 生成回复" in (m.text or "")]
        assert len(waiting) == 2
        tg.press_button(ZH, waiting[0], waiting[0].button_data("生成回复"))
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(ZH) if "💬 建议回复" in t]) == 6, timeout=10)


async def test_card_buttons_regenerate_tone_accept_reject_edit(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "质量太差了，用了一天就坏了")
        card = await tg.wait_for_message(ZH, "💬 建议回复")
        first = gid(card.button_data("重新生成"))
        tg.press_button(ZH, card, card.button_data("重新生成"))
        card = await tg.wait_for(lambda: _card_with_new_id(tg, ZH, first))
        second = gid(card.button_data("重新生成"))
        tg.press_button(ZH, card, card.button_data("致歉"))
        card = await tg.wait_for(lambda: _card_with_new_id(tg, ZH, second))
        assert "建议回复（致歉）" in (card.text or "")
        third = gid(card.button_data("重新生成"))
        since = tg.checkpoint()
        tg.press_button(ZH, card, card.button_data("不用"))
        assert await answered(tg, since) == ["已记录"]
        card = await tg.wait_for_message(ZH, "已标记为不用")
        tg.press_button(ZH, card, card.button_data("采用"))
        card = await tg.wait_for_message(ZH, "已采用")
        assert [b.text for b in card.buttons()] == ["✏️ 修改"]
        tg.press_button(ZH, card, card.button_data("修改"))
        await tg.wait_for_message(ZH, "请发送修改后的回复全文")
        tg.user_message(ZH, "非常抱歉给您带来不便，我们马上为您换货。")
        await tg.wait_for_message(ZH, "已保存修改后的回复")
        tg.user_message(ZH, "物流很快")  # after the edit, text is reviews again
        await tg.wait_for(
            lambda: len([t for t in tg.sent_texts(ZH) if "物流很快" in t and "💬 建议回复" in t]) == 1
        )
    rows = (
        db(settings).execute("SELECT generation_id, action, edited_text FROM feedback ORDER BY id").fetchall()
    )
    assert rows == [
        (first, "regenerated", None),
        (second, "regenerated", None),
        (third, "rejected", None),
        (third, "accepted", None),
        (third, "edited", "非常抱歉给您带来不便，我们马上为您换货。"),
    ]
    tone = db(settings).execute("SELECT params FROM generations WHERE id = ?", (third,)).fetchone()[0]
    assert json.loads(tone)["tone"] == "apologetic"


def _card_with_new_id(tg: FakeTelegram, chat: int, old: int) -> StoredMessage | None:
    for m in tg.messages(chat):
        buttons = [b.callback_data for b in m.buttons() if b.callback_data]
        regen = [d for d in buttons if d.startswith("v1:rv:regen:")]
        if m.from_bot and regen and gid(regen[0]) > old:
            return m
    return None


async def test_forged_and_foreign_callback_data_is_refused(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "物流太慢了")
        card = await tg.wait_for_message(ZH, "💬 建议回复")
        theirs = gid(card.button_data("采用"))
        tg.user_message(EN, "/help", language_code="en-US")
        await tg.wait_for_message(EN, "How to use")
        forged = [
            f"v1:rv:ok:{theirs}",  # another merchant's reply
            f"v1:rv:edit:{theirs}",
            f"v1:cp:regen:{theirs}",  # a reply id used as copy
            "v1:rv:regen:abc",
            "v1:rv:tone:1:shouty",
            "v1:rv:ok:1:extra",
            "v0:rv:ok:1",
            "garbage",
            f"v1:rv:reply:{10**30}",
        ]
        since = tg.checkpoint()
        for data in forged:
            tg.press_button(EN, card.message_id, data, forge=True)
        calls = await tg.wait_for_calls("answerCallbackQuery", len(forged), since=since)
        got = sorted(str(c.params.get("text")) for c in calls)
    assert got == sorted(["That record was not found."] * 3 + ["This button is invalid or has expired."] * 6)
    assert db(settings).execute("SELECT count(*) FROM feedback").fetchone() == (0,)
    assert all(c.params["chat_id"] != EN for c in tg.calls("editMessageText"))


async def test_limits_and_rate_limit_answer_friendly(
    tg: FakeTelegram, tmp_path: Path, nlp: NLPConfig, models: Models
) -> None:
    limits = LimitsConfig(max_review_chars=20, max_reviews_per_message=3, requests_per_minute=2)
    settings = make_settings(tg, tmp_path, nlp, limits=limits)
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "差" * 30)
        await tg.wait_for_message(ZH, "超过 20 字")
        tg.user_message(ZH, "好\n好\n好\n好")
        await tg.wait_for_message(ZH, "一次最多 3 条评价")
        for text in ("物流慢", "包装破"):
            tg.user_message(ZH, text)
            await tg.wait_for(lambda t=text: any(t in m and "💬 建议回复" in m for m in tg.sent_texts(ZH)))
        tg.user_message(ZH, "质量差")
        await tg.wait_for_message(ZH, "请求太频繁了")
        tg.user_message(EN, "slow", language_code="en-US")  # the limit is per user
        await tg.wait_for_message(EN, "Suggested reply")


# -- copy, strategy, history, export -------------------------------------------------------------


async def test_copy_conversation_variants_and_their_buttons(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "/copy")
        await tg.wait_for_message(ZH, "商品名称是")
        for text, question in (
            ("保温杯", "卖点"),
            ("不锈钢内胆；保温12小时", "规格"),
            ("容量=500ml", "价格"),
            ("/skip", "目标人群"),
            ("上班族", "哪个平台"),
        ):
            tg.user_message(ZH, text)
            await tg.wait_for_message(ZH, question)
        platform = tg.last_message(ZH)
        tg.press_button(ZH, platform, platform.button_data("淘宝"))
        length = await tg.wait_for_message(ZH, "文案多长")
        tg.press_button(ZH, length, length.button_data("长"))
        await tg.wait_for(
            lambda: len([t for t in tg.sent_texts(ZH) if t.startswith("方案")]) == 2, timeout=20
        )
        variants = [m for m in tg.messages(ZH) if m.from_bot and (m.text or "").startswith("方案")]
        assert "方案 1（淘宝 · 长 · 亲切）" in (variants[0].text or "")
        assert all(
            ("✅" in (v.text or "")) or ("⚠️" in (v.text or "")) or ("❌" in (v.text or "")) for v in variants
        )
        old = gid(variants[0].button_data("缩短"))
        tg.press_button(ZH, variants[0], variants[0].button_data("缩短"))
        shorter = await tg.wait_for_message(ZH, "方案 1（淘宝 · 中等 · 亲切）")
        tg.press_button(ZH, shorter, shorter.button_data("专业"))
        await tg.wait_for_message(ZH, "方案 1（淘宝 · 中等 · 专业）")
        second = variants[1]
        tg.press_button(ZH, second, second.button_data("重新生成"))
        await tg.wait_for(lambda: second.buttons() and gid(second.button_data("采用")) > old + 2)
        last = second
        tg.press_button(ZH, last, last.button_data("采用"))
        await tg.wait_for_message(ZH, "已采用这个方案")
    rows = db(settings).execute("SELECT kind, params FROM generations ORDER BY id").fetchall()
    assert [k for k, _ in rows] == ["copy"] * 5
    facts = json.loads(rows[-1][1])["facts"]
    assert facts["specs"] == {"容量": "500ml"} and facts["price"] == ""
    actions = [a for (a,) in db(settings).execute("SELECT action FROM feedback ORDER BY id")]
    assert actions == ["regenerated", "regenerated", "regenerated", "accepted"]


async def test_strategy_history_and_export(tg: FakeTelegram, settings: Settings, models: Models) -> None:
    long_text = "建议：" + "加快发货，改进包装。" * 600  # over 4096: the answer is split
    writer = ScriptedWriter(long_text, pieces=5, kinds={"strategy"})
    factory = models.engine_factory(classifier=KeywordClassifier(), writer=writer)
    async with bot_running(tg, settings, factory):
        tg.user_message(EN, "/strategy", language_code="en-US")
        await tg.wait_for_message(EN, "No analysed reviews yet")
        tg.user_message(ZH, "物流太慢了\n包装破了\n物流慢，包装也破\n质量很好")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(ZH) if "💬 建议回复" in t]) == 4, timeout=20)
        cards = [m for m in tg.messages(ZH) if m.from_bot and "💬 建议回复" in (m.text or "")]
        tg.press_button(ZH, cards[0], cards[0].button_data("采用"))
        await tg.wait_for_message(ZH, "已采用")
        tg.user_message(ZH, "/strategy")
        report = await tg.wait_for_message(ZH, "最近 4 条评价", timeout=10)
        await tg.wait_for(lambda: "加快发货" in (tg.last_message(ZH).text or ""))
        text = report.text or ""
        assert "👎 3" in text and "物流：2 条吐槽" in text and "包装：2 条吐槽" in text
        assert "“物流太慢了”" in text
        assert all(len(t) <= 4096 for t in tg.sent_texts(ZH))
        tg.user_message(ZH, "/history")
        history = await tg.wait_for_message(ZH, "最近的记录")
        assert "建议" in (history.text or "") and "已采用" in (history.text or "")
        tg.user_message(ZH, "/export")
        [doc] = await tg.wait_for_calls("sendDocument", chat_id=ZH)
        tg.user_message(EN, "/export", language_code="en-US")
        await tg.wait_for_message(EN, "Nothing to export yet")
    [upload] = doc.files.values()
    assert upload.filename.endswith(".jsonl")
    [row] = [json.loads(line) for line in upload.data.decode().splitlines()]
    assert row["task"] == "reply" and row["action"] == "accepted" and row["label"] == "negative"
    assert "条训练样本" in str(doc.params.get("caption"))


# -- files -------------------------------------------------------------------------------------


async def test_gbk_csv_upload_gets_report_chart_and_labelled_table(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    rows = [
        ["订单号", "评价内容"],
        ["A1", "物流太慢了"],
        ["A2", ""],
        ["A3", "包装破了，质量差"],
        ["A4", "很好"],
    ]
    data = "\n".join(",".join(r) for r in rows).encode("gbk")  # as Chinese Excel saves it
    async with bot_running(tg, settings, models.engine_factory(classifier=KeywordClassifier())):
        tg.user_document(ZH, "评价导出.csv", data, "text/csv")
        [photo] = await tg.wait_for_calls("sendPhoto", chat_id=ZH, timeout=20)
        [table] = await tg.wait_for_calls("sendDocument", chat_id=ZH)
        report = await tg.wait_for_message(ZH, "评价导出.csv")
        tg.user_document(EN, "reviews.pdf", b"%PDF-1.4", "application/pdf", language_code="en-US")
        await tg.wait_for_message(EN, "Only CSV, TSV, TXT and Excel")
    text = report.text or ""
    assert "3 条评价" in text and "1 行为空" in text and "👎 差评 2" in text
    assert "物流：1 条吐槽" in text and "包装破了，质量差" in text
    assert tg.calls("getFile", chat_id=None) or tg.calls("getFile")
    [png] = photo.files.values()
    assert png.data.startswith(b"\x89PNG")
    [csv_file] = table.files.values()
    assert csv_file.filename == "评价导出-labelled.csv"
    got = list(csv.DictReader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    assert [r["订单号"] for r in got] == ["A1", "A2", "A3", "A4"]
    assert [r["label"] for r in got] == ["negative", "", "negative", "positive"]
    assert got[2]["aspects"] == "packaging;quality"
    stored = db(settings).execute("SELECT count(*) FROM reviews WHERE source = 'file'").fetchone()
    assert stored == (3,)


async def test_file_limits_are_checked_before_download(
    tg: FakeTelegram, tmp_path: Path, nlp: NLPConfig, models: Models
) -> None:
    settings = make_settings(tg, tmp_path, nlp, limits=LimitsConfig(max_file_bytes=1024, max_file_rows=2))
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_document(ZH, "big.csv", b"text\n" + "好评\n".encode() * 400, "text/csv")
        await tg.wait_for_message(ZH, "文件太大")
        assert tg.calls("getFile") == []
        tg.user_document(ZH, "rows.txt", "好\n差\n一般\n".encode(), "text/plain")
        await tg.wait_for_message(ZH, "行数太多")


# -- access --------------------------------------------------------------------------------------


async def test_allowlist_admin_stats_and_allow_persist(
    tg: FakeTelegram, tmp_path: Path, nlp: NLPConfig, models: Models
) -> None:
    access = AccessConfig(allowed_user_ids=[ZH], admin_user_ids=[ADMIN])
    settings = make_settings(tg, tmp_path, nlp, access=access)
    tg.user(ADMIN, language_code="en")
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(EN, "质量很好", language_code="en-US")
        refused = await tg.wait_for_message(EN, "invite-only")
        assert str(EN) in (refused.text or "")
        tg.user_message(ZH, "/stats")
        await tg.wait_for_message(ZH, "只有管理员")
        tg.user_message(ADMIN, "/allow nobody", language_code="en")
        await tg.wait_for_message(ADMIN, "Usage: /allow USER_ID")
        tg.user_message(ADMIN, f"/allow {EN}", language_code="en")
        await tg.wait_for_message(ADMIN, f"User {EN} may now use the bot")
        tg.user_message(EN, "/help", language_code="en-US")
        await tg.wait_for_message(EN, "How to use")
        tg.user_message(ADMIN, "/stats", language_code="en")
        stats = await tg.wait_for_message(ADMIN, "Status")
    text = stats.text or ""
    assert "Model requests waiting: 0" in text and "Uptime: 0d" in text
    assert str(settings.nlp.writer.model) in text and "Allowlist: 2 users" in text
    async with bot_running(tg, settings, models.engine_factory()):  # a restart keeps /allow
        tg.user_message(EN, "/help", language_code="en-US")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(EN) if "How to use" in t]) == 2)


async def test_groups_are_ignored(tg: FakeTelegram, settings: Settings, models: Models) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        user = tg.user(ZH)
        group = {"id": -100123, "type": "supergroup", "title": "shop"}
        tg.enqueue({"message": {"message_id": 1, "date": 0, "chat": group, "from": user, "text": "/help"}})
        tg.user_message(ZH, "/help")
        await tg.wait_for_message(ZH, "使用方法")
    assert tg.calls("sendMessage", chat_id=-100123) == []


# -- faults --------------------------------------------------------------------------------------


async def test_flood_control_server_errors_and_not_modified_are_survived(
    tg: FakeTelegram, settings: Settings, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.fail_next("sendMessage", "429", chat_id=ZH, retry_after=0.2)
        tg.user_message(ZH, "/help")
        await tg.wait_for_message(ZH, "使用方法")  # AIORateLimiter waited and retried
        tg.fail_next("editMessageText", "502", chat_id=ZH)
        tg.user_message(ZH, "物流太慢了")
        card = await tg.wait_for_message(ZH, "💬 建议回复")  # the final edit was retried once
        tg.fail_next("editMessageText", "not_modified", count=5, chat_id=ZH)
        tg.press_button(ZH, card, card.button_data("不用"))
        await tg.wait_for(lambda: [c for c in tg.calls("editMessageText") if c.fault == "not_modified"])
        tg.user_message(ZH, "/help")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(ZH) if "使用方法" in t]) == 2)
    assert [c.fault for c in tg.calls("sendMessage") if c.fault] == ["429"]
    assert not any("出了点问题" in t for t in tg.sent_texts(ZH))  # nothing reached the user as an error
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_timeouts_and_a_blocked_user_never_crash_the_bot(
    tg: FakeTelegram, tmp_path: Path, nlp: NLPConfig, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tg, tmp_path, nlp, timeout_s=0.5)
    async with bot_running(tg, settings, models.engine_factory()):
        tg.fail_next("sendMessage", "timeout", chat_id=ZH, hold=2)
        tg.user_message(ZH, "/help")
        await tg.wait_for(lambda: [c for c in tg.calls("sendMessage") if c.fault == "timeout"])
        await tg.wait_for(lambda: any("did not answer in time" in r.getMessage() for r in caplog.records))
        tg.block(EN)
        tg.user_message(EN, "The box arrived broken", language_code="en-US")
        await tg.wait_for(lambda: any("blocked the bot" in r.getMessage() for r in caplog.records))
        tg.user_message(ZH, "/help")  # still serving
        await tg.wait_for_message(ZH, "使用方法")
        tg.fail_next("sendMessage", "disconnect", chat_id=ZH)
        tg.user_message(ZH, "/help")
        await tg.wait_for(lambda: [c for c in tg.calls("sendMessage") if c.fault == "disconnect"])
        tg.user_message(ZH, "/help")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(ZH) if "使用方法" in t]) == 2)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_token_never_reaches_the_logs(
    tg: FakeTelegram, settings: Settings, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ZH, "物流太慢了")
        await tg.wait_for_message(ZH, "💬 建议回复")
        tg.user_document(ZH, "r.txt", "物流慢\n很好\n".encode(), "text/plain")
        await tg.wait_for_calls("sendDocument", chat_id=ZH, timeout=20)
        tg.fail_next("sendMessage", "502", chat_id=ZH)
        tg.user_message(ZH, "/help")
        await tg.wait_for(lambda: [c for c in tg.calls("sendMessage") if c.fault == "502"])
    secret = tg.token.split(":", 1)[1]
    assert caplog.records  # DEBUG logging was on
    assert secret not in caplog.text
    leaked = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if secret in r.getMessage()]
    assert not leaked


# -- webhook, shutdown, concurrency --------------------------------------------------------------


async def test_webhook_mode_checks_the_secret(tg: FakeTelegram, settings: Settings, models: Models) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.telegram.webhook_url = f"http://127.0.0.1:{port}/telegram-hook"
    settings.telegram.port = port
    app = build_application(settings, models.engine_factory())
    async with running(app, webhook=webhook_options(settings)):
        assert tg.webhook_url == settings.telegram.webhook_url and tg.webhook_secret
        tg.user_message(ZH, "/help")  # delivered by the server with the secret header
        await tg.wait_for_message(ZH, "使用方法")
        chat = {"id": ZH, "type": "private"}
        message = {"message_id": 1, "date": 0, "chat": chat, "from": tg.user(ZH), "text": "/help"}
        update = {"update_id": 1, "message": message}
        async with httpx.AsyncClient() as client:
            forged = await client.post(settings.telegram.webhook_url, json=update)
            wrong = await client.post(
                settings.telegram.webhook_url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
            )
        assert forged.status_code == wrong.status_code == 403
    assert len([t for t in tg.sent_texts(ZH) if "使用方法" in t]) == 1


async def test_shutdown_cancels_generation_in_flight_and_closes_the_store(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    slow = SlowWriter(models.writer, step_s=0.2, pieces=200)  # 40 s unless cancelled

    app = build_application(settings, models.engine_factory(writer=slow))
    async with running(app):
        tg.user_message(ZH, "物流太慢了")
        await tg.wait_for_message(ZH, "正在写回复")
        await asyncio.to_thread(slow.started.wait, 10)
        runtime = app.bot_data.runtime
        assert runtime is not None
        store = runtime.services.store
        began = time.monotonic()
    stopped_in = time.monotonic() - began
    assert stopped_in < 5, stopped_in
    assert slow.cancelled.is_set()
    assert not store.is_open and app.bot_data.runtime is None
    card = tg.last_message(ZH)
    assert "机器人正在重启" in (card.text or "")


async def test_fifty_chats_at_once_and_help_stays_fast(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    """50 merchants paste a review at once; others ask /help meanwhile. Nothing is lost."""
    slow = SlowWriter(models.writer, step_s=0.01, pieces=5)
    chats = [10_000 + i for i in range(50)]
    helpers = [20_000 + i for i in range(10)]
    for chat in chats + helpers:
        tg.user(chat, language_code="zh-hans")
    async with bot_running(tg, settings, models.engine_factory(writer=slow)):
        began = time.monotonic()
        for chat in chats:
            tg.user_message(chat, f"物流太慢了，第{chat}号订单")
        latencies = []
        for round_ in range(5):  # /help from ten other chats, five times while generations run
            sent = time.monotonic()
            for chat in helpers:
                tg.user_message(chat, "/help")
            for chat in helpers:
                await tg.wait_for(
                    lambda c=chat, r=round_: len([t for t in tg.sent_texts(c) if "使用方法" in t]) > r,
                    timeout=30,
                )
                answer = [c for c in tg.calls("sendMessage", chat_id=chat) if "使用方法" in c.params["text"]][
                    round_
                ]
                latencies.append(answer.time - sent)
            await asyncio.sleep(0.4)
        await tg.wait_for(
            lambda: all(any("💬 建议回复" in t for t in tg.sent_texts(c)) for c in chats), timeout=90
        )
        total = time.monotonic() - began
    answered_chats = sum(any("💬 建议回复" in t for t in tg.sent_texts(c)) for c in chats)
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(
        f"\nconcurrency: {answered_chats}/50 chats got their card with a reply in {total:.1f} s; "
        f"/help during generation: n={len(latencies)} p50={p50 * 1000:.0f} ms p99={p99 * 1000:.0f} ms"
    )
    assert answered_chats == 50
    assert p99 < 5.0


async def test_long_generation_streams_by_throttled_edits_with_typing(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    slow = SlowWriter(models.writer, step_s=0.1, pieces=35)  # 3.5 s of streamed text
    async with bot_running(tg, settings, models.engine_factory(writer=slow)):
        since = tg.checkpoint()
        tg.user_message(ZH, "物流太慢了")
        card = await tg.wait_for_message(ZH, "💬 建议回复", timeout=15)
    edits = tg.calls("editMessageText", since=since, message_id=card.message_id)
    streamed = [c for c in edits if "▌" in c.params["text"]]
    assert 1 <= len(streamed) <= 3  # at most one edit per 1.5 s over 3.5 s
    gaps = [b.time - a.time for a, b in itertools.pairwise(streamed)]
    assert all(gap >= 1.4 for gap in gaps), gaps
    assert tg.calls("sendChatAction", since=since, chat_id=ZH, action="typing")
    assert "▌" not in (card.text or "")  # the final edit replaced the preview


async def test_xiaoer_run_serves_and_stops_gracefully_on_sigterm(
    tg: FakeTelegram, tmp_path: Path, tiny_gemma_dir: Path, tiny_encoder_dir: Path
) -> None:
    """The real `xiaoer run` process: polls the test server, answers, exits 0 on SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOER_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "XIAOER_LOG_LEVEL": "DEBUG",  # even at DEBUG the token stays out of the log
        "XIAOER_TELEGRAM__TOKEN": tg.token,
        "XIAOER_TELEGRAM__BASE_URL": tg.base_url,
        "XIAOER_TELEGRAM__BASE_FILE_URL": tg.base_file_url,
        "XIAOER_NLP__WRITER__MODEL": str(tiny_gemma_dir),
        "XIAOER_NLP__WRITER__MAX_NEW_TOKENS": "8",
        "XIAOER_NLP__CLASSIFIER__MODEL": str(tiny_encoder_dir),
        "XIAOER_NLP__CACHE_DIR": str(tmp_path / "cache"),
        "XIAOER_STORAGE__PATH": str(tmp_path / "db.sqlite3"),
        "XIAOER_ACCESS__ALLOWED_USER_IDS": f"[{ZH}]",  # no admin: start-up prints a claim code
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--env-file", str(tmp_path / "none.env"), "run",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await tg.wait_for(lambda: tg.my_commands("zh"), timeout=60)  # post_init ran: models loaded
        tg.user_message(ZH, "物流太慢了")
        await tg.wait_for_message(ZH, "💬 建议回复", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    log = err.decode()
    assert proc.returncode == 0, log[-3000:]
    assert "engine and store closed" in log
    assert tg.token.split(":")[1] not in log + out.decode()
    assert "<token>" in log  # PTB's DEBUG lines name the API URL, masked
    assert "send /claim " in log and "物流太慢了" not in log  # no message texts at DEBUG


def test_xiaoer_run_and_webhook_explain_missing_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOER_")} | {"PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 2 and "XIAOER_TELEGRAM__TOKEN" in run.stderr
    env["XIAOER_TELEGRAM__TOKEN"] = "123456:" + "a" * 30
    hook = subprocess.run(
        [sys.executable, "-m", "bot.cli", "webhook"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert hook.returncode == 2 and "XIAOER_TELEGRAM__WEBHOOK_URL" in hook.stderr


async def test_english_merchant_card_edit_and_copy(
    tg: FakeTelegram, settings: Settings, models: Models
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(EN, "Delivery was slow and the box was crushed", language_code="en-US")
        card = await tg.wait_for_message(EN, "Suggested reply")
        assert "Aspects: packaging, delivery" in (card.text or "") or "Aspects: delivery" in (card.text or "")
        tg.press_button(EN, card, card.button_data("Accept"))
        card = await tg.wait_for_message(EN, "Accepted and kept for training")
        tg.press_button(EN, card, card.button_data("Edit"))
        await tg.wait_for_message(EN, "Send the edited reply")
        tg.user_message(EN, "Sorry! A replacement is on its way.", language_code="en-US")
        await tg.wait_for_message(EN, "Edited reply saved")
        tg.user_message(EN, "/copy", language_code="en-US")
        await tg.wait_for_message(EN, "What is the product")
        for answer in ("Thermos", "keeps tea hot", "/skip", "/skip", "/skip"):
            tg.user_message(EN, answer, language_code="en-US")
        platform = await tg.wait_for_message(EN, "Which platform")
        tg.press_button(EN, platform, platform.button_data("JD"))
        length = await tg.wait_for_message(EN, "How long")
        tg.press_button(EN, length, length.button_data("short"))
        await tg.wait_for(
            lambda: len([t for t in tg.sent_texts(EN) if t.startswith("Variant")]) == 2, timeout=20
        )
        variant = await tg.wait_for_message(EN, "Variant 1 (JD · short · warm)")
        assert {b.text for b in variant.buttons()} >= {"🔄 Regenerate", "✂️ Shorter", "✅ Accept"}
        tg.user_message(EN, "/history", language_code="en-US")
        history = await tg.wait_for_message(EN, "Recent items")
        assert "copy" in (history.text or "") and "edited" in (history.text or "")


@pytest.mark.slow
async def test_bundled_models_answer_a_review(tg: FakeTelegram, tmp_path: Path) -> None:
    """One run on the real bundled models (XIAOER_TEST_CACHE reuses a built cache)."""
    cache = os.environ.get("XIAOER_TEST_CACHE") or str(tmp_path / "bundled-cache")
    settings = make_settings(tg, tmp_path, NLPConfig(cache_dir=cache))  # type: ignore[arg-type]
    async with bot_running(tg, settings, default_engine):
        tg.user_message(ZH, "物流太慢了，包装也破了，很失望")
        card = await tg.wait_for_message(ZH, "💬 建议回复", timeout=600)
    text = card.text or ""
    assert "方面：物流👎、包装👎" in text
    reply = text.split("💬 建议回复", 1)[1]
    assert len(reply.strip()) > 10, text  # the bundled writer wrote something
