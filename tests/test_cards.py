"""Cards always end in a final state; forged buttons inside conversations are refused.

The real Application runs against tests/fake_telegram.py with a keyword classifier and a writer
that fails on demand (tests/bot_harness.py). Each test names the failure it scripts (a writer
raising RuntimeError, a store error, 5xx on the final edit, over-long astral text, forged
callback data) and asserts what the merchant ends up seeing: every card's final text and
buttons, or the refusal of a button.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.render import clip, split_html, utf16_len
from bot.settings import Settings
from bot.store import Store, StoreError
from nlp.config import NLPConfig
from nlp.engine import Engine
from nlp.types import LENGTHS
from tests.bot_harness import FailingWriter, KeywordClassifier, bot_running, make_settings
from tests.fake_telegram import FakeTelegram, StoredMessage

ZH = 1001
WRITING = "正在写回复"
INVALID = "这个按钮无效或已过期。"
OOM = RuntimeError("CUDA out of memory")


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegram() as server:
        server.user(ZH, language_code="zh-hans")
        yield server


@pytest.fixture
def settings(tg: FakeTelegram, tmp_path: Path) -> Settings:
    return make_settings(tg, tmp_path, NLPConfig(cache_dir=tmp_path / "cache"))


@pytest.fixture
def writer() -> FailingWriter:
    return FailingWriter()


def engine_of(writer: FailingWriter) -> Callable[[NLPConfig], Engine]:
    classifier = KeywordClassifier()
    return lambda nlp: Engine(nlp.engine, classifier=lambda: classifier, writer=lambda: writer)


def cards(tg: FakeTelegram) -> list[StoredMessage]:
    return [m for m in tg.messages(ZH) if m.from_bot and "置信度" in (m.text or "")]


async def settled_cards(tg: FakeTelegram, n: int) -> list[StoredMessage]:
    """The chat's review cards once there are `n` and none still says "writing"."""

    def done() -> list[StoredMessage]:
        found = cards(tg)
        return found if len(found) == n and not any(WRITING in (m.text or "") for m in found) else []

    return await tg.wait_for(done, what=f"{n} settled cards")


def labels(message: StoredMessage) -> list[str]:
    return [b.text for b in message.buttons()]


def logged_tracebacks(caplog: pytest.LogCaptureFixture, error: type[BaseException]) -> list[str]:
    """Messages the error handler logged with a traceback of `error` (the engine logs its own)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.handlers.errors"
        and r.levelno >= logging.ERROR
        and r.exc_info
        and isinstance(r.exc_info[1], error)
    ]


# -- 1. every card ends in a final state ----------------------------------------------------------


async def test_writer_runtime_error_leaves_every_card_with_a_reason_and_retry(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    writer.fail_next(OOM, count=3)
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "物流太慢了\n质量很差\n包装破了")
        failed = await settled_cards(tg, 3)
        for card in failed:
            assert "⚠️ 回复没写成：出了点问题，已记录下来，请重试。" in (card.text or "")
            assert labels(card) == ["🔁 重试"]
            assert card.button_data("重试").startswith("v1:rv:retry:")
        tg.press_button(ZH, failed[1], failed[1].button_data("重试"))
        await tg.wait_for(lambda: "采用" in " ".join(labels(cards(tg)[1])), what="the retried reply")
        retried = cards(tg)[1]
    assert "亲，感谢您的反馈" in (retried.text or "")
    assert labels(retried)[:4] == ["🔄 重新生成", "✏️ 修改", "✅ 采用", "🚫 不用"]
    assert len(logged_tracebacks(caplog, RuntimeError)) == 1  # once for the batch
    assert not any("出了点问题，已记录下来。请再试一次" in t for t in tg.sent_texts(ZH))  # no second "😵"


async def test_one_failing_review_does_not_stop_the_others(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter
) -> None:
    writer.fail_on = "破"
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "包装破了\n物流太慢了\n质量很差")
        final = await settled_cards(tg, 3)
    by_review = {next(w for w in ("破", "慢", "差") if w in (m.text or "")): m for m in final}
    assert labels(by_review["破"]) == ["🔁 重试"]
    for word in ("慢", "差"):
        assert "💬 建议回复" in (by_review[word].text or "")
        assert "✅ 采用" in labels(by_review[word])


async def test_store_error_while_saving_the_reply_shows_a_retry(
    tg: FakeTelegram,
    settings: Settings,
    writer: FailingWriter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: Store, *args: object, **kwargs: object) -> int:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(Store, "add_generation", broken)
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "物流太慢了")
        [card] = await settled_cards(tg, 1)
    assert "保存时数据库出错，请重试。" in (card.text or "")
    assert labels(card) == ["🔁 重试"]
    assert len(logged_tracebacks(caplog, StoreError)) == 1


async def test_final_edit_failing_twice_sends_the_card_anew_with_its_buttons(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter
) -> None:
    async with bot_running(tg, settings, engine_of(writer)):
        tg.fail_next("editMessageText", "500", count=2, chat_id=ZH)
        tg.user_message(ZH, "物流太慢了")
        [card] = await settled_cards(tg, 1)
    assert [c.fault for c in tg.calls("editMessageText")] == ["500", "500"]
    assert "亲，感谢您的反馈" in (card.text or "")
    assert "✅ 采用" in labels(card)
    assert card.history == []  # a new message, not the edited "writing" one (that one is deleted)
    with sqlite3.connect(settings.storage.path) as db:
        assert db.execute("SELECT count(*) FROM generations").fetchone() == (1,)


async def test_regenerate_failing_leaves_a_retry_and_a_failed_edit_is_resent(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter
) -> None:
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "物流太慢了")
        [card] = await settled_cards(tg, 1)
        writer.fail_next(OOM)
        tg.fail_next("editMessageText", "502", count=4, chat_id=ZH)  # "writing" and the final edit
        tg.press_button(ZH, card, card.button_data("重新生成"))
        await tg.wait_for(lambda: any(labels(m) == ["🔁 重试"] for m in cards(tg)), what="retry card")
    [final] = cards(tg)  # the old card was deleted, its successor says why and offers a retry
    assert "⚠️ 回复没写成" in (final.text or "")
    assert final.message_id != card.message_id
    assert [c.fault for c in tg.calls("editMessageText")][-4:] == ["502"] * 4


# -- copy variants --------------------------------------------------------------------------------


async def _copy_until_length(tg: FakeTelegram) -> StoredMessage:
    tg.user_message(ZH, "/copy")
    await tg.wait_for_message(ZH, "商品名称是")
    tg.user_message(ZH, "保温杯")
    await tg.wait_for_message(ZH, "卖点有哪些")
    for question in ("规格参数", "价格", "目标人群", "发布在哪个平台"):
        tg.user_message(ZH, "/skip")
        await tg.wait_for_message(ZH, question)
    platform = await tg.wait_for_message(ZH, "发布在哪个平台")
    tg.press_button(ZH, platform, platform.buttons()[0].callback_data or "")
    return await tg.wait_for_message(ZH, "文案多长")


async def test_copy_failures_end_with_a_way_to_try_again(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(tg, settings, engine_of(writer)):
        lengths = await _copy_until_length(tg)
        writer.fail_next(OOM)
        tg.press_button(ZH, lengths, lengths.buttons()[0].callback_data or "")
        failed = await tg.wait_for_message(ZH, "文案没写成")
        assert "选一个长度再试一次" in (failed.text or "")
        assert [b.callback_data for b in failed.buttons()] == [f"v1:cp:len:{n}" for n in LENGTHS]
        tg.press_button(ZH, failed, failed.buttons()[1].callback_data or "")  # retry, another length
        variant = await tg.wait_for_message(ZH, "方案 1")
        writer.fail_next(OOM)
        tg.press_button(ZH, variant, variant.button_data("重新生成"))
        await tg.wait_for(
            lambda: "文案没写成" in (variant_now(tg, variant).text or ""), what="failed variant"
        )
    again = variant_now(tg, variant)
    assert "亲，感谢您的反馈" in (again.text or "")  # the old variant is back, with the reason
    assert "🔄 重新生成" in labels(again)
    assert len(logged_tracebacks(caplog, RuntimeError)) == 2
    assert not any("😵" in t for t in tg.sent_texts(ZH))


def variant_now(tg: FakeTelegram, message: StoredMessage) -> StoredMessage:
    return next(m for m in tg.messages(ZH) if m.message_id == message.message_id)


# -- 2. forged buttons inside conversations -------------------------------------------------------


async def _refuses(tg: FakeTelegram, on: StoredMessage, forged: list[str]) -> None:
    since = tg.checkpoint()
    for data in forged:
        tg.press_button(ZH, on, data, forge=True)
    calls = await tg.wait_for_calls("answerCallbackQuery", len(forged), since=since)
    assert [c.params.get("text") for c in calls] == [INVALID] * len(forged)


def no_errors(tg: FakeTelegram, caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not any("😵" in t for t in tg.sent_texts(ZH))


OVERLONG = "v1:ob:tone:" + "w" * 60  # over Telegram's 64 bytes of callback data


async def test_forged_buttons_in_onboarding_are_refused(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "/start")
        await tg.wait_for_message(ZH, "店铺名称是")
        tg.user_message(ZH, "小美家居")
        await tg.wait_for_message(ZH, "主营类目")
        tg.user_message(ZH, "家居")
        tones = await tg.wait_for_message(ZH, "用什么语气")
        forged = [
            "v1:ob:tone:shouty",
            "v1:ob:tone",
            "v1:ob:tone:warm:x",
            "v1:ob:tone:1:warm",
            "v1:ob:lang:xx",
        ]
        await _refuses(tg, tones, [*forged, OVERLONG, "v2:ob:tone:warm", "v1:ob:tonex"])
        tg.press_button(ZH, tones, tones.buttons()[0].callback_data or "")  # the flow goes on
        await tg.wait_for_message(ZH, "回复的落款是")
    no_errors(tg, caplog)


async def test_forged_buttons_in_settings_are_refused(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "/settings")
        menu = await tg.wait_for_message(ZH, "店铺资料")
        forged = [
            "v1:st:field:password",
            "v1:st:field",
            "v1:st:field:1:name",
            "v1:st:tone:shouty",
            "v1:st:rlang:fr",
            "v1:st:ui",
            "v1:st:done:now",
            "v1:st:done:" + "x" * 60,
        ]
        await _refuses(tg, menu, forged)
        tg.press_button(ZH, menu, menu.button_data("完成"))
        await tg.wait_for_message(ZH, "设置已关闭")
    no_errors(tg, caplog)


async def test_forged_buttons_in_copy_are_refused(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(tg, settings, engine_of(writer)):
        lengths = await _copy_until_length(tg)
        forged = [
            "v1:cp:len:huge",
            "v1:cp:len",
            "v1:cp:len:short:1",
            "v1:cp:plat:amazon",
            "v1:cp:len:" + "x" * 60,
        ]
        await _refuses(tg, lengths, forged)
        tg.press_button(ZH, lengths, lengths.buttons()[0].callback_data or "")
        await tg.wait_for_message(ZH, "方案 2")
    no_errors(tg, caplog)


async def test_forged_retry_and_edit_buttons_are_refused(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter, caplog: pytest.LogCaptureFixture
) -> None:
    other = 2002
    writer.fail_next(OOM)
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "物流太慢了")
        [card] = await settled_cards(tg, 1)
        theirs = card.button_data("重试")  # ZH's review: a valid button, but not `other`'s
        tg.user(other, language_code="zh-hans")
        tg.user_message(other, "/help")
        await tg.wait_for_message(other, "使用方法")
        since = tg.checkpoint()
        forged = [theirs, "v1:rv:retry:abc", "v1:rv:retry", "v1:rv:retry:1:x", "v1:rv:retry:" + "9" * 60]
        forged += ["v1:rv:edit:abc", "v1:rv:edit", "v1:rv:edit:" + "9" * 60]
        for data in forged:
            tg.press_button(other, card.message_id, data, forge=True)
        calls = await tg.wait_for_calls("answerCallbackQuery", len(forged), since=since)
    assert sorted(str(c.params.get("text")) for c in calls) == sorted(["找不到这条记录。"] + [INVALID] * 7)
    assert not [c for c in tg.calls("editMessageText", since=since) if c.params["chat_id"] == other]
    assert labels(cards(tg)[0]) == ["🔁 重试"]  # ZH's card untouched
    errors = [r for r in caplog.records if r.name == "bot.handlers.errors" and r.levelno >= logging.ERROR]
    assert len(errors) == 1  # the scripted OOM of the batch; no forged data reached the error handler


# -- 3. lengths in UTF-16 units -------------------------------------------------------------------


def test_split_html_counts_astral_characters_twice() -> None:
    text = "<b>" + "😀" * 3000 + "</b>\n" + "𠀀" * 1500  # 6000 + 3000 units in 4500 characters
    parts = split_html(text)
    assert len(parts) >= 3
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts).count("😀") == 3000 and "".join(parts).count("𠀀") == 1500
    assert all(p.count("<b>") == p.count("</b>") for p in parts)
    assert split_html("😀" * 2048) == ["😀" * 2048]  # exactly 4096 units: one message


def test_clip_counts_utf16_units() -> None:
    assert clip("好" * 200, 200) == "好" * 200
    clipped = clip("😀" * 150, 200)  # 300 units
    assert clipped == "😀" * 99 + "…" and utf16_len(clipped) == 199


async def test_a_reply_of_emoji_near_the_limit_is_split_not_refused(
    tg: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    writer = FailingWriter("👍" * 2100)  # 2100 characters, 4200 UTF-16 units
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "物流太慢了")
        tail = await tg.wait_for(
            lambda: [m for m in tg.messages(ZH) if m.from_bot and "✅ 采用" in labels(m)], what="buttons"
        )
    shown = "".join(m.text or "" for m in tg.messages(ZH) if m.from_bot)
    assert shown.count("👍") == 2100
    assert all(utf16_len(m.text or "") <= 4096 for m in tg.messages(ZH))
    assert not [c for c in tg.calls() if c.error and "too long" in c.error]
    assert len(tail) == 1
    no_errors(tg, caplog)


async def test_a_card_that_cannot_be_sent_does_not_leave_the_others_writing(
    tg: FakeTelegram, settings: Settings, writer: FailingWriter
) -> None:
    # the summary and the first card go out, then the second card's sendMessage fails
    tg.fail_next("sendMessage", "500", chat_id=ZH, after=2)
    async with bot_running(tg, settings, engine_of(writer)):
        tg.user_message(ZH, "物流太慢了\n质量很差\n包装破了")
        final = await settled_cards(tg, 2)
        note = await tg.wait_for(
            lambda: [m for m in tg.messages(ZH) if m.from_bot and "没能发出" in (m.text or "")],
            what="the note naming the unsent review",
        )
    for card in final:
        assert "✅ 采用" in labels(card)
    sent = " ".join(m.text or "" for m in final)
    [missing] = [w for w in ("物流太慢了", "质量很差", "包装破了") if w not in sent]
    assert "有 1 条评价的卡片没能发出" in (note[0].text or "") and missing in (note[0].text or "")
    with sqlite3.connect(settings.storage.path) as db:
        assert db.execute("SELECT count(*) FROM reviews").fetchone() == (3,)
