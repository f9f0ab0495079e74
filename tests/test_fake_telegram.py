"""The test Bot API server, driven by the real python-telegram-bot: polling, buttons, files, faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake_telegram import FakeTelegram, FaultKind, parse_html, polling_app

USER = 4242
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    # PTB 22 warns (PTBDeprecationWarning, an error here) when it builds a RetryAfter unless
    # time periods are opted in to datetime.timedelta; the bot is written for that behaviour.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegram() as server:
        server.user(USER, first_name="小王")
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
        yield b


# --------------------------------------------------------------------------- handlers of a tiny bot


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo the text back."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show two buttons."""
    assert update.message is not None
    keyboard = [
        [
            InlineKeyboardButton("接受", callback_data="v1:ok:7"),
            InlineKeyboardButton("拒绝", callback_data="v1:no:7"),
        ]
    ]
    await update.message.reply_text(
        "<b>请选择</b>", parse_mode="HTML", reply_markup=InlineKeyboardMarkup(keyboard)
    )


async def choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the query, then replace the card by the choice."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(f"已选择 {query.data}")


async def checksum(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the document and reply with its size and SHA-256."""
    assert update.message is not None and update.message.document is not None
    data = await (await context.bot.get_file(update.message.document)).download_as_bytearray()
    await update.message.reply_text(f"{len(data)} {hashlib.sha256(data).hexdigest()}")


def tiny_app(tg: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    app = tg.builder().build()
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(choice, pattern=r"^v1:"))
    app.add_handler(MessageHandler(filters.Document.ALL, checksum))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


# --------------------------------------------------------------------------- the real Application


async def test_message_is_echoed(tg: FakeTelegram) -> None:
    async with polling_app(tiny_app(tg)):
        update = tg.user_message(USER, "这件衣服质量很好 👍")
        [call] = await tg.wait_for_calls("sendMessage", chat_id=USER)
        assert call.ok and call.params["text"] == "这件衣服质量很好 👍"
        assert tg.sent_texts(USER) == ["这件衣服质量很好 👍"]
        reply = tg.last_message(USER)
        assert reply.from_bot and reply.message_id == update["message"]["message_id"] + 1
    assert [c.method for c in tg.calls()][:2] == ["getMe", "deleteWebhook"]
    assert tg.pending_updates == []  # confirmed by the offset of the last getUpdates


async def test_button_press_answers_and_edits(tg: FakeTelegram) -> None:
    async with polling_app(tiny_app(tg)):
        command = tg.user_message(USER, "/menu")
        assert command["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
        card = await tg.wait_for_message(USER, "请选择")
        assert card.text == "请选择" and card.entities == [{"offset": 0, "length": 3, "type": "bold"}]
        assert [b.text for b in card.buttons()] == ["接受", "拒绝"]

        tg.press_button(USER, card, card.button_data("接受"))
        await tg.wait_for_calls("answerCallbackQuery")
        [edit] = await tg.wait_for_calls("editMessageText", chat_id=USER, message_id=card.message_id)
        assert edit.ok and card.text == "已选择 v1:ok:7"
        assert card.reply_markup is None and card.history == ["请选择"]  # an edit without markup drops it

        with pytest.raises(ValueError, match="cannot press"):  # the keyboard is gone
            tg.press_button(USER, card, "v1:no:7")


async def test_bot_downloads_a_document_the_user_sent(tg: FakeTelegram) -> None:
    data = "评价,星级\n很好,5\n".encode() * 1000
    async with polling_app(tiny_app(tg)):
        tg.user_document(USER, "评价.csv", data, "text/csv")
        [call] = await tg.wait_for_calls("sendMessage", chat_id=USER)
    assert call.params["text"] == f"{len(data)} {hashlib.sha256(data).hexdigest()}"
    assert [c.method for c in tg.calls("getFile")] == ["getFile"]


async def test_shutdown_is_quick_while_a_long_poll_waits(tg: FakeTelegram) -> None:
    app = tiny_app(tg)
    async with polling_app(app, poll_timeout=30):
        await tg.wait_for_calls("getUpdates")
        started = time.monotonic()
    assert time.monotonic() - started < 2
    assert tg.calls("getUpdates")[-1].params["timeout"] == 0  # PTB's cleanup call confirms the offset


async def test_server_stop_wakes_a_pending_get_updates() -> None:
    server = FakeTelegram()
    await server.start()
    async with httpx.AsyncClient() as client:
        poll = asyncio.create_task(
            client.post(f"{server.base_url}{server.token}/getUpdates", data={"timeout": "30"})
        )
        await server.wait_for_calls("getUpdates")
        started = time.monotonic()
        await server.stop()
        response = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 2
    assert response.json() == {"ok": True, "result": []}


async def test_webhook_mode_delivers_with_the_secret(tg: FakeTelegram) -> None:
    with socket.socket() as sock:  # a free port for PTB's webhook server
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = tiny_app(tg)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=f"http://127.0.0.1:{port}/hook",
            secret_token="s3cret-token",
        )
        try:
            tg.user_message(USER, "webhook 你好")
            await tg.wait_for_calls("sendMessage", chat_id=USER, text="webhook 你好")
            with pytest.raises(Conflict, match=r"(?i)webhook is active"):
                await app.bot.get_updates()
        finally:
            await app.updater.stop()
            await app.stop()
    assert tg.webhook_secret == "s3cret-token"
    assert [d.status for d in tg.webhook_deliveries] == [200]


# --------------------------------------------------------------------------- direct Bot calls


async def test_uploads_are_recorded_with_their_bytes(tg: FakeTelegram, bot: Bot) -> None:
    export = '{"review": "很好", "reply": "谢谢"}\n'.encode()
    doc = await bot.send_document(
        USER, export, filename='导出 "v1".jsonl', caption="<i>导出</i>", parse_mode="HTML"
    )
    photo = await bot.send_photo(USER, PNG_1PX, caption="图表")
    [doc_call] = tg.calls("sendDocument")
    [photo_call] = tg.calls("sendPhoto")
    assert doc_call.files["document"].filename == '导出 "v1".jsonl'
    assert doc_call.files["document"].data == export and doc_call.params["caption"] == "<i>导出</i>"
    assert photo_call.files["photo"].data == PNG_1PX and photo_call.params["caption"] == "图表"
    assert doc.document is not None and doc.document.file_name == '导出 "v1".jsonl' and doc.caption == "导出"
    assert photo.photo and photo.caption == "图表"
    assert tg.file_bytes(doc.document.file_id) == export
    downloaded = await (await bot.get_file(doc.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == export


async def test_commands_are_recorded(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("help", "帮助")])
    await bot.set_my_commands([("start", "Start"), ("help", "Help")], language_code="en")
    assert tg.my_commands() == [("start", "开始"), ("help", "帮助")]
    assert tg.my_commands("en") == [("start", "Start"), ("help", "Help")]
    assert [c.command for c in await bot.get_my_commands(language_code="en")] == ["start", "help"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start!", "x")])


async def test_html_is_checked_like_telegram(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, '😀 <a href="https://x.cn">店</a> &lt;ok&gt;', parse_mode="HTML")
    assert sent.text == "😀 店 <ok>"
    assert sent.entities[0].type == "text_link" and (sent.entities[0].offset, sent.entities[0].length) == (
        3,
        1,
    )
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "价格<100元", parse_mode="HTML")  # an unescaped "<"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "<b>粗体</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "评" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="数" * 22)]])  # 66 bytes
        await bot.send_message(USER, "x", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "nobody wrote from here")


def test_parse_html_entities() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><tg-spoiler>秘</tg-spoiler>'
    )
    assert text == "x = 1秘"
    assert entities == [
        {"offset": 0, "length": 5, "type": "pre", "language": "python"},
        {"offset": 5, "length": 1, "type": "spoiler"},
    ]


async def test_edits_follow_telegram_rules(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "生成中…")
    await bot.edit_message_text("生成中…第一句", USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("生成中…第一句", USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 9999)
    assert tg.last_message(USER).history == ["生成中…"]
    assert await bot.delete_message(USER, sent.message_id)
    assert tg.sent_texts(USER) == []


async def test_429_surfaces_as_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", "429", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert caught.value.retry_after == dt.timedelta(seconds=3)
    await bot.send_message(USER, "hi")  # the fault was used up
    assert [c.fault for c in tg.calls("sendMessage")] == ["429", None]


async def test_rate_limiter_retries_after_429(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", "429", retry_after=1)
    app = tg.builder().rate_limiter(AIORateLimiter(max_retries=1)).build()
    async with app:
        message = await app.bot.send_message(USER, "重试")
    assert message.text == "重试"
    assert [c.fault for c in tg.calls("sendMessage")] == ["429", None]
    first, second = tg.calls("sendMessage")
    assert second.time - first.time >= 1.0


@pytest.mark.parametrize("kind", ["500", "502", "disconnect"])
async def test_server_errors_are_network_errors(tg: FakeTelegram, bot: Bot, kind: FaultKind) -> None:
    tg.fail_next("sendMessage", kind)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "hi")


@pytest.mark.parametrize("kind", ["502", "disconnect"])
async def test_file_downloads_are_recorded_and_can_be_faulted(
    tg: FakeTelegram, bot: Bot, kind: FaultKind
) -> None:
    file_id = tg.register_file(b"a,b\n1,2\n", "r.csv", "text/csv")
    tg.fail_next("file", kind)
    file = await bot.get_file(file_id)
    with pytest.raises(NetworkError):
        await file.download_as_bytearray()
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"  # the next GET is served
    assert [(c.fault, c.result) for c in tg.calls("file")] == [(kind, None), (None, 8)]
    assert str(file.file_path).endswith("/" + tg.calls("file")[0].params["file_path"])


async def test_timeout_blocked_and_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", "timeout")
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "hi", read_timeout=0.2)
    assert time.monotonic() - started < 1

    tg.fail_next("sendChatAction", "blocked", chat_id=USER)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_chat_action(USER, "typing")
    tg.block(USER)
    with pytest.raises(Forbidden):
        await bot.send_message(USER, "hi")
    tg.unblock(USER)

    sent = await bot.send_message(USER, "a")
    tg.fail_next("editMessageText", "not_modified")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("b", USER, sent.message_id)
    assert tg.last_message(USER).text == "a"  # a faulted call does nothing


async def test_fifty_concurrent_sends_all_arrive(tg: FakeTelegram, bot: Bot) -> None:
    for user in range(1, 51):
        tg.user(user)
    await asyncio.gather(*(bot.send_message(user, f"第{user}条") for user in range(1, 51)))
    assert all(tg.sent_texts(user) == [f"第{user}条"] for user in range(1, 51))


# --------------------------------------------------------------------------- the wire protocol


async def test_get_updates_offset_and_long_poll(tg: FakeTelegram) -> None:
    url = f"{tg.base_url}{tg.token}/getUpdates"
    first = tg.user_message(USER, "一")["update_id"]
    tg.user_message(USER, "二")
    tg.user_message(USER, "三")
    async with httpx.AsyncClient() as client:
        got = (await client.post(url, data={"limit": "2"})).json()["result"]
        assert [u["update_id"] for u in got] == [first, first + 1]
        got = (await client.post(url, data={"offset": str(first + 2)})).json()["result"]
        assert [u["message"]["text"] for u in got] == ["三"]  # the first two are confirmed now
        assert (await client.post(url, data={"offset": str(first + 3)})).json()["result"] == []

        poll = asyncio.create_task(client.post(url, data={"offset": str(first + 3), "timeout": "5"}))
        await tg.wait_for_calls("getUpdates", 4)
        started = time.monotonic()
        tg.user_message(USER, "四")
        assert [u["message"]["text"] for u in (await poll).json()["result"]] == ["四"]
        assert time.monotonic() - started < 1

        older = asyncio.create_task(client.post(url, data={"offset": str(first + 4), "timeout": "5"}))
        await tg.wait_for_calls("getUpdates", 5)
        newer = asyncio.create_task(client.post(url, data={"offset": str(first + 4), "timeout": "0"}))
        assert (await older).status_code == 409 and (await newer).json() == {"ok": True, "result": []}


async def test_unknown_method_bad_token_and_chunked_body(tg: FakeTelegram, bot: Bot) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{tg.base_url}{tg.token}/fooBar")
        assert response.status_code == 404
        assert response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        assert (await client.post(f"{tg.base_url}123:wrong/getMe")).status_code == 401

        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"chat_id=4242&te", "xt=分块".encode()):
                yield part

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        sent = await client.post(f"{tg.base_url}{tg.token}/sendMessage", content=chunks(), headers=headers)
        assert sent.json()["result"]["text"] == "分块"
        as_json = await client.post(
            f"{tg.base_url}{tg.token}/sendmessage", json={"chat_id": USER, "text": "123"}
        )
        assert as_json.json()["result"]["text"] == "123" and tg.calls()[-1].params["text"] == "123"
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar")
    with pytest.raises(InvalidToken):
        async with Bot("123:wrong", base_url=tg.base_url):
            pass


async def test_forged_and_raw_updates_reach_the_bot(tg: FakeTelegram) -> None:
    seen: list[str | None] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Keep the callback data and answer."""
        assert update.callback_query is not None
        seen.append(update.callback_query.data)
        await update.callback_query.answer("无效", show_alert=True)

    app = tg.builder().build()
    app.add_handler(CallbackQueryHandler(record))
    async with polling_app(app):
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            card = await bot.send_message(USER, "卡片")
        tg.press_button(USER, card.message_id, "v1:ok:someone-else", forge=True)
        raw = {"callback_query": {"id": "77", "from": {"id": 9, "is_bot": False, "first_name": "x"},
                                  "chat_instance": "1", "data": "v0:legacy"}}  # fmt: skip
        tg.enqueue(raw)
        await tg.wait_for_calls("answerCallbackQuery", 2)
    assert seen == ["v1:ok:someone-else", "v0:legacy"]
    assert all(c.ok for c in tg.calls("answerCallbackQuery"))
    assert tg.calls("answerCallbackQuery")[0].params["show_alert"] is True


async def test_wait_for_times_out_with_the_last_calls(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "只有这一条")
    with pytest.raises(TimeoutError, match="sendMessage"):
        await tg.wait_for_calls("sendMessage", 2, timeout=0.1)
