"""Who may use the bot: the gate that fails closed, the claim code, /allow and /deny, edits, logs.

The bot runs for real (build_application) against tests/fake_telegram.py, with a keyword
classifier that counts its calls and a writer with a fixed answer. Leaving `bot_running`
waits until every update has been handled (Application.stop joins the update queue), so
"nothing happened" is checked after the fact, never after a sleep.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import ALLOWED_UPDATES, FLOOD_RETRIES, build_application, webhook_options
from bot.handlers.admin import _user_id_arg
from bot.logs import MASK_SECRET, RedactSecrets
from bot.runtime import REFUSAL_INTERVAL_S, Runtime
from bot.settings import AccessConfig, Settings, StorageConfig
from bot.store import LATEST_VERSION, Store
from nlp.config import NLPConfig
from nlp.types import Draft, Sentiment
from tests.bot_harness import KeywordClassifier, Models, bot_running, make_settings, running
from tests.fake_telegram import FakeTelegram

ADMIN = 9009
FRIEND = 1001  # on the configured allowlist
OUTSIDER = 6006
MARKER = "MARKER-7f3a 质量很差"  # customer text that must not reach the logs


class CountingClassifier(KeywordClassifier):
    """Known labels; remembers every text it was asked to classify."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        self.texts.extend(texts)
        return super().classify(texts)


class FixedWriter:
    def generate(
        self, req: Any, on_text: Callable[[str], None] | None = None, cancel: Any = None
    ) -> list[Draft]:
        return [Draft("reply", "感谢您的反馈。", params={"tone": "warm"})] * getattr(req, "n", 1)


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when it builds a RetryAfter otherwise
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def classifier() -> CountingClassifier:
    return CountingClassifier()


@pytest.fixture
def models(classifier: CountingClassifier) -> Models:
    return Models(classifier, FixedWriter())


def settings_for(tg: FakeTelegram, tmp_path: Path, access: AccessConfig) -> Settings:
    return make_settings(tg, tmp_path, NLPConfig(cache_dir=tmp_path / "cache"), access=access)


@pytest.fixture
def settings(tg: FakeTelegram, tmp_path: Path) -> Settings:
    return settings_for(tg, tmp_path, AccessConfig(allowed_user_ids=[FRIEND], admin_user_ids=[ADMIN]))


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.storage.path) as db:
        return db.execute(sql).fetchall()


def edit(tg: FakeTelegram, user_id: int, text: str, message_id: int = 1) -> None:
    """An edited_message update: the user changed an earlier message of theirs."""
    user = tg.user(user_id)
    chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
    message = {
        "message_id": message_id, "date": int(time.time()) - 5, "edit_date": int(time.time()),
        "chat": chat, "from": user, "text": text,
    }  # fmt: skip
    tg.enqueue({"edited_message": message})


# -- the gate fails closed -------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "429"])
async def test_gate_stops_every_update_type_when_the_refusal_cannot_be_sent(
    tg: FakeTelegram,
    settings: Settings,
    models: Models,
    classifier: CountingClassifier,
    caplog: pytest.LogCaptureFixture,
    fault: Any,
) -> None:
    """Telegram fails the refusal (5xx, or 429 past the rate limiter's retries): still nobody passes."""
    text, command, document, button, edited = (OUTSIDER + i for i in range(5))
    for user in (text, command, document, button, edited):
        tg.fail_next("sendMessage", fault, count=10, chat_id=user, retry_after=0.2)
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(text, "质量很差，物流太慢")
        tg.user_message(command, "/history")
        tg.user_document(document, "reviews.csv", "评价\n质量很差\n".encode(), "text/csv")
        tg.press_button(button, 1, "v1:rv:regen:1", forge=True)
        edit(tg, edited, "质量很差，再也不买了")
        tries = 1 if fault == "500" else 1 + FLOOD_RETRIES  # the rate limiter retries 429s
        await tg.wait_for(
            lambda: all(
                len(tg.calls("sendMessage", chat_id=u)) == tries
                for u in (text, command, document, button, edited)
            )
        )
    # leaving bot_running waited for the handling of every update to finish
    for u in (text, command, document, button, edited):
        assert any(f"could not answer user {u} at the gate" in r.getMessage() for r in caplog.records)
    assert tg.calls("getFile") == []  # the upload was not downloaded
    assert classifier.texts == []  # nothing classified
    assert rows(settings, "SELECT count(*) FROM reviews") == [(0,)]
    assert rows(settings, "SELECT id FROM merchants") == []  # no record for outsiders
    sent = [c for c in tg.calls("sendMessage") if c.params["chat_id"] >= OUTSIDER]
    assert sent and all(c.fault == fault for c in sent)  # only the refusals, all failed
    # the stale-button handler would answer with a text; the gate answers without one
    assert [c.params.get("text") for c in tg.calls("answerCallbackQuery")] == [None]


async def test_refusals_are_answered_once_a_minute_and_always_stopped(
    tg: FakeTelegram, settings: Settings, models: Models, classifier: CountingClassifier
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        for i in range(4):
            tg.user_message(OUTSIDER, f"质量很差 {i}")
        await tg.wait_for(lambda: not tg.pending_updates)
    [refusal] = tg.sent_texts(OUTSIDER)
    assert "受邀" in refusal and str(OUTSIDER) in refusal
    assert classifier.texts == []


def test_refusal_due_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime(Settings(_env_file=None), services=None)  # type: ignore[arg-type,call-arg]
    now = [1000.0]
    monkeypatch.setattr("bot.runtime.time.monotonic", lambda: now[0])
    assert runtime.refusal_due(OUTSIDER)
    assert runtime.refusal_due(OUTSIDER + 1)  # per user
    now[0] += REFUSAL_INTERVAL_S - 1
    assert not runtime.refusal_due(OUTSIDER)
    now[0] += 1
    assert runtime.refusal_due(OUTSIDER)


# -- secure by default: the claim code -------------------------------------------------------------


async def test_without_admin_only_the_claim_code_gets_in_once(
    tg: FakeTelegram,
    tmp_path: Path,
    models: Models,
    classifier: CountingClassifier,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner, guesser, late = 3001, 3002, 3003
    settings = settings_for(tg, tmp_path, AccessConfig())
    app = build_application(settings, models.engine_factory())
    async with running(app):
        runtime = app.bot_data.runtime
        assert runtime is not None and runtime.claim_code is not None
        code = runtime.claim_code
        assert f"send /claim {code} to the bot" in capsys.readouterr().err
        assert not any(code in r.getMessage() for r in caplog.records)  # stderr only, never a log
        assert any("claim code is printed on stderr" in r.getMessage() for r in caplog.records)
        tg.user_message(owner, "质量很差")  # nobody is allowed yet
        await tg.wait_for_message(owner, "受邀")
        tg.user_message(guesser, "/claim wrong-code", language_code="en")
        await tg.wait_for_message(guesser, "wrong or already used")
        tg.user_message(guesser, f"/claim {code}", language_code="en")  # within the minute: not tried
        tg.user_message(owner, f"/claim {code}")
        await tg.wait_for_message(owner, "你现在是这个机器人的管理员")
        tg.user_message(late, f"/claim {code}")  # single use
        await tg.wait_for_message(late, "受邀")
        tg.user_message(owner, "/stats")
        await tg.wait_for_message(owner, "运行状态")
        await tg.wait_for(lambda: not tg.pending_updates)
        assert runtime.claim_code is None and runtime.admins == {owner}
    assert not any("管理员" in t or "admin of" in t for t in tg.sent_texts(guesser))
    assert not any("运行状态" in t for t in tg.sent_texts(late)) and classifier.texts == []
    assert rows(settings, "SELECT user_id FROM admins") == [(owner,)]
    app = build_application(settings, models.engine_factory())
    async with running(app):  # the stored admin stays; no code is printed any more
        assert app.bot_data.runtime is not None and app.bot_data.runtime.claim_code is None
        tg.user_message(owner, "/stats")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(owner) if "运行状态" in t]) == 2)
    assert "/claim" not in capsys.readouterr().err


def test_claim_is_single_use_and_limits_wrong_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime(Settings(_env_file=None), services=None)  # type: ignore[arg-type,call-arg]
    now = [50.0]
    monkeypatch.setattr("bot.runtime.time.monotonic", lambda: now[0])
    assert runtime.claim(1, "x") == "none"
    runtime.claim_code = "right-code"
    assert runtime.claim(1, "wrong") == "bad"
    assert runtime.claim(1, "right-code") == "limited"  # a wrong try costs a minute
    now[0] += REFUSAL_INTERVAL_S
    assert runtime.claim(1, "right-code") == "ok" and runtime.is_admin(1) and runtime.has_admin
    assert runtime.claim(2, "right-code") == "none" and not runtime.is_allowed(2)


async def test_configured_admin_means_no_claim_code(
    tg: FakeTelegram, settings: Settings, models: Models, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build_application(settings, models.engine_factory())
    async with running(app):
        assert app.bot_data.runtime is not None and app.bot_data.runtime.claim_code is None
        tg.user_message(FRIEND, "/claim anything")
        await tg.wait_for_message(FRIEND, "已经有管理员")
    assert "/claim" not in capsys.readouterr().err


async def test_open_mode_lets_everyone_in_and_warns(
    tg: FakeTelegram, tmp_path: Path, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tg, tmp_path, AccessConfig(admin_user_ids=[ADMIN], open=True))
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(OUTSIDER, "/help")
        await tg.wait_for_message(OUTSIDER, "使用方法")
        tg.user_message(ADMIN, "/allow 5005", language_code="en")
        await tg.wait_for_message(ADMIN, "XIAOER_ACCESS__OPEN=true, so everyone may use the bot")
    assert any(
        "EVERY Telegram user" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    )


# -- /allow and /deny --------------------------------------------------------------------------------


async def test_allow_deny_and_their_limits(
    tg: FakeTelegram, settings: Settings, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    guest = 5005
    tg.user(ADMIN, language_code="en")
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(ADMIN, f"/allow {guest}", language_code="en")
        await tg.wait_for_message(ADMIN, f"User {guest} may now use the bot")
        tg.user_message(guest, "/help")
        await tg.wait_for_message(guest, "使用方法")
        tg.user_message(FRIEND, f"/deny {guest}")  # not an admin
        await tg.wait_for_message(FRIEND, "只有管理员")
        tg.user_message(ADMIN, f"/deny {guest}", language_code="en")
        await tg.wait_for_message(ADMIN, f"User {guest} was removed")
        tg.user_message(guest, "/help")
        await tg.wait_for_message(guest, "受邀")
        tg.user_message(ADMIN, f"/deny {FRIEND}", language_code="en")
        await tg.wait_for_message(ADMIN, "remove them there and restart")
        tg.user_message(ADMIN, f"/deny {ADMIN}", language_code="en")
        await tg.wait_for_message(ADMIN, "You can't remove yourself")
        tg.user_message(ADMIN, f"/deny {guest}", language_code="en")
        await tg.wait_for_message(ADMIN, "was not on the allowlist")
        for bad in ("/allow ²", "/allow abc", "/allow 99999999999999999999999", "/allow -5", "/allow"):
            before = len(tg.sent_texts(ADMIN))
            tg.user_message(ADMIN, bad, language_code="en")
            await tg.wait_for(lambda n=before: len(tg.sent_texts(ADMIN)) > n)
            assert "Usage: /allow USER_ID" in tg.sent_texts(ADMIN)[-1], bad
        tg.user_message(ADMIN, "/deny ¹²", language_code="en")
        await tg.wait_for_message(ADMIN, "Usage: /deny USER_ID")
    assert not any("Something went wrong" in t for t in tg.sent_texts(ADMIN))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with bot_running(tg, settings, models.engine_factory()):  # /deny is kept over a restart
        tg.user_message(guest, "/help")
        await tg.wait_for(lambda: len([t for t in tg.sent_texts(guest) if "受邀" in t]) == 2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["123"], 123),
        (["9223372036854775807"], 2**63 - 1),
        (["9223372036854775808"], None),
        (["0"], None),
        (["-5"], None),
        (["²"], None),
        (["１２３"], None),  # full-width digits
        (["12", "3"], None),
        ([], None),
        (None, None),
    ],
)
def test_user_id_argument(args: list[str] | None, expected: int | None) -> None:
    assert _user_id_arg(args) == expected


async def test_store_admins_and_deny(tmp_path: Path) -> None:
    async with Store(StorageConfig(path=tmp_path / "s.sqlite3")) as store:
        assert await store.schema_version() == LATEST_VERSION >= 4
        assert await store.add_admin(7) and not await store.add_admin(7)
        assert await store.allow_user(8, added_by=7)
        assert await store.admins() == {7} and await store.allowed_users() == {8}
        assert await store.deny_user(8) and await store.deny_user(7)
        assert not await store.deny_user(8)
        assert await store.admins() == set() and await store.allowed_users() == set()


# -- edited messages ---------------------------------------------------------------------------------


async def test_edited_messages_are_not_analysed_again(
    tg: FakeTelegram, settings: Settings, models: Models, classifier: CountingClassifier
) -> None:
    async with bot_running(tg, settings, models.engine_factory()):
        tg.user_message(FRIEND, "质量很差，物流太慢")
        await tg.wait_for_message(FRIEND, "建议回复")
        edit(tg, FRIEND, "质量很差，物流太慢了", message_id=1)
        await tg.wait_for_message(FRIEND, "修改过的消息不会重新分析")
        edit(tg, FRIEND, "质量很差，物流太慢了!!", message_id=1)
        edit(tg, OUTSIDER, "质量很差")  # an outsider's edit stops at the gate
        await tg.wait_for(lambda: not tg.pending_updates)
    assert classifier.texts == ["质量很差，物流太慢"]
    assert len([t for t in tg.sent_texts(FRIEND) if "修改过的消息" in t]) == 1  # one hint only
    assert rows(settings, "SELECT count(*) FROM reviews") == [(1,)]
    assert ALLOWED_UPDATES == ["message", "edited_message", "callback_query"]


# -- logs: no secrets, no customer text --------------------------------------------------------------


@pytest.mark.parametrize(("configured_secret", "keep"), [(True, True), (False, True), (False, False)])
async def test_webhook_secret_never_reaches_the_logs(
    tg: FakeTelegram,
    settings: Settings,
    models: Models,
    caplog: pytest.LogCaptureFixture,
    unused_tcp_port: int,
    configured_secret: bool,
    keep: bool,
) -> None:
    """Masked even when request bodies are logged (XIAOER_LOG_CONTENTS=true); texts only then."""
    caplog.set_level(logging.DEBUG)
    settings.log_contents = keep
    settings.telegram.webhook_url = f"http://127.0.0.1:{unused_tcp_port}/hook"
    settings.telegram.port = unused_tcp_port
    if configured_secret:
        settings.telegram.webhook_secret = SecretStr("configured-webhook-secret-0123456789")
    app = build_application(settings, models.engine_factory())
    options = webhook_options(settings)  # a random secret when none is configured
    async with running(app, webhook=options):
        tg.user_message(FRIEND, MARKER)
        await tg.wait_for_message(FRIEND, "建议回复")
    secret = options["secret_token"]
    assert tg.webhook_secret == secret and len(secret) >= 32
    [hook] = tg.calls("setWebhook")
    assert hook.params["allowed_updates"] == ALLOWED_UPDATES
    assert any("setWebhook" in r.getMessage() for r in caplog.records)  # DEBUG was on
    assert secret not in caplog.text
    assert (MASK_SECRET in caplog.text) is keep  # setWebhook's parameters are logged only then
    assert ("MARKER-7f3a" in caplog.text) is keep


async def test_message_texts_are_logged_only_when_asked(
    tg: FakeTelegram, tmp_path: Path, models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for keep in (False, True):
        settings = settings_for(tg, tmp_path / str(keep), AccessConfig(allowed_user_ids=[FRIEND]))
        settings.log_contents = keep
        caplog.clear()
        async with bot_running(tg, settings, models.engine_factory()):
            tg.user_message(FRIEND, MARKER)
            await tg.wait_for(
                lambda n=int(keep): len([t for t in tg.sent_texts(FRIEND) if "建议回复" in t]) > n
            )
        assert ("MARKER-7f3a" in caplog.text) is keep
        assert tg.token.split(":", 1)[1] not in caplog.text


def test_body_redaction_keeps_method_names_and_ids_only() -> None:
    def logged(name: str, msg: str, *args: object, keep: bool = False) -> str:
        redact = RedactSecrets()
        redact.contents = keep
        record = logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)
        assert redact.filter(record)
        return record.getMessage()

    call = "Calling Bot API endpoint `%s` with parameters `%s`"
    params = {"chat_id": FRIEND, "text": "MARKER-7f3a"}
    text = logged("telegram.ext.ExtBot", call, "sendMessage", params)
    assert "sendMessage" in text and "MARKER" not in text
    assert "MARKER-7f3a" in logged("telegram.ext.ExtBot", call, "sendMessage", params, keep=True)
    assert logged("telegram.Bot", "Getting updates: %s", [5, 6]) == "Getting updates: [5, 6]"
    assert "MARKER" not in logged("telegram.ext.Updater", "data: %s", {"text": "MARKER-7f3a"})  # one dict
    assert "MARKER" not in logged("telegram.ext.Updater", "Webhook received data: %s", '{"text": "MARKER"}')
    assert "质量" not in logged("aiosqlite", "executing %s", ("INSERT ...", (1, "质量很差")))
    assert logged("bot.handlers.reviews", "%s", "MARKER-7f3a") == "MARKER-7f3a"  # our loggers: as written
