"""The bot's side of the shop policy: /settings shows how a new policy was read, and the card's
accept button refuses a draft with errors (the merchant edits it first). Real Application
against tests/fake_telegram.py (tests/bot_harness.py)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from nlp.checks import check_reply
from nlp.config import NLPConfig
from nlp.types import Draft
from tests.bot_harness import KeywordClassifier, Models, bot_running, make_settings, tiny_nlp
from tests.fake_telegram import FakeTelegram

ZH = 1001
EN = 2002
BAD_REPLY = "亲，给您转100元作为心意，请删除差评。"


class CheckedWriter:
    """Always writes `text`, with the findings the real checks give it (as nlp.writer does)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        if on_text is not None:
            on_text(self.text)
        findings = tuple(check_reply(self.text, req.review, req.profile))
        params = {"tone": getattr(req, "tone", None) or "warm"}
        return [Draft("reply", self.text, findings=findings, params=params)] * getattr(req, "n", 1)


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when it builds a RetryAfter otherwise
    async with FakeTelegram() as server:
        server.user(ZH, language_code="zh-hans")
        server.user(EN, language_code="en-US")
        yield server


@pytest.fixture
def settings(tg: FakeTelegram, tmp_path: Path) -> Settings:
    # the models are scripted (below): the configured paths are never loaded
    nlp: NLPConfig = tiny_nlp(tmp_path / "no-gemma", tmp_path / "no-encoder", tmp_path / "cache")
    return make_settings(tg, tmp_path, nlp)


def models(text: str = BAD_REPLY) -> Models:
    return Models(KeywordClassifier(), CheckedWriter(text))


async def test_settings_show_the_parsed_policy_in_both_languages(
    tg: FakeTelegram, settings: Settings
) -> None:
    async with bot_running(tg, settings, models().engine_factory()):
        tg.user_message(ZH, "/settings")
        menu = await tg.wait_for_message(ZH, "店铺资料")
        tg.press_button(ZH, menu, menu.button_data("售后政策"))
        await tg.wait_for_message(ZH, "请发送新的售后政策")
        tg.user_message(ZH, "7天无理由退货，退货运费买家承担，质量问题包邮换货，定制商品不退换")
        parsed = await tg.wait_for_message(ZH, "我理解的售后政策")
        assert (parsed.text or "").splitlines()[1:5] == [
            "✅ 7天无理由退货退款（运费买家承担）",
            "✅ 质量问题换货（运费店铺承担）",
            "✅ 质量问题运费由店铺承担",
            "❌ 定制商品不退换",
        ]
        await tg.wait_for_message(ZH, "店铺资料")  # the menu comes back after it

        tg.user_message(EN, "/settings", language_code="en-US")
        menu = await tg.wait_for_message(EN, "Shop profile")
        tg.press_button(EN, menu, menu.button_data("after-sales policy"))
        await tg.wait_for_message(EN, "Send the new after-sales policy")
        tg.user_message(EN, "30-day returns, buyer pays return shipping", language_code="en-US")
        parsed = await tg.wait_for_message(EN, "How I read your after-sales policy")
        assert "✅ return for a refund within 30 days (customer pays shipping)" in (parsed.text or "")


async def test_card_accept_refuses_a_draft_with_errors(tg: FakeTelegram, settings: Settings) -> None:
    async with bot_running(tg, settings, models().engine_factory()):
        tg.user_message(ZH, "质量太差了，用了一天就坏了")
        card = await tg.wait_for_message(ZH, "💬 建议回复")
        assert "删除差评" in (card.text or "")
        since = tg.checkpoint()
        tg.press_button(ZH, card, card.button_data("采用"))
        calls = await tg.wait_for_calls("answerCallbackQuery", since=since)
        answer = str(calls[0].params.get("text", ""))
        assert "不能直接采用" in answer and "“删除差评”" in answer and "修改" in answer
        # the card is left as it was: same buttons, no "accepted" status
        same = next(m for m in tg.messages(ZH) if m.message_id == card.message_id)
        assert "已采用" not in (same.text or "")
        assert [b.text for b in same.buttons()] == [b.text for b in card.buttons()]
        # the merchant edits it instead
        tg.press_button(ZH, same, same.button_data("修改"))
        await tg.wait_for_message(ZH, "请发送修改后的回复全文")
        tg.user_message(ZH, "非常抱歉，质量问题可以申请7天无理由退货。")
        await tg.wait_for_message(ZH, "已保存修改后的回复")
    rows = sqlite3.connect(settings.storage.path).execute("SELECT action FROM feedback").fetchall()
    assert rows == [("edited",)]


async def test_card_accept_of_a_clean_draft_still_works(tg: FakeTelegram, settings: Settings) -> None:
    clean = "亲，非常抱歉，质量问题可以包邮退换，请联系客服。"
    async with bot_running(tg, settings, models(clean).engine_factory()):
        tg.user_message(ZH, "质量太差了，用了一天就坏了")
        card = await tg.wait_for_message(ZH, "💬 建议回复")
        tg.press_button(ZH, card, card.button_data("采用"))
        await tg.wait_for_message(ZH, "已采用")
    rows = sqlite3.connect(settings.storage.path).execute("SELECT action FROM feedback").fetchall()
    assert rows == [("accepted",)]
