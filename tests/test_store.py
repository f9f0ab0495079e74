"""Tests for bot.store: migrations, pragmas, transactions, ownership, concurrency, export."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot import store as store_mod
from bot.settings import StorageConfig
from bot.store import (
    LATEST_VERSION,
    MIGRATIONS,
    InvalidValue,
    NotFound,
    SchemaTooNew,
    Store,
    StoreError,
)
from nlp.types import Draft, Finding, Label, Sentiment, ShopProfile

A, B = 1001, 2002


class Clock:
    """A controllable UTC clock for the store."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 9, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def sent(label: Label = "positive", p_negative: float = 0.1, aspects: tuple[str, ...] = ()) -> Sentiment:
    rest = (1 - p_negative) / 2
    return Sentiment(label, {"negative": p_negative, "neutral": rest, "positive": rest}, aspects)


def draft(text: str = "亲，感谢您的支持！", kind: str = "reply", **params: object) -> Draft:
    return Draft(
        kind=kind,  # type: ignore[arg-type]
        text=text,
        findings=(Finding("invented_number", "warning", "包含未提供的数字", "100%"),),
        model_id="gemma-3-270m",
        adapter_id="reply-v1",
        params={"temperature": 0.7, **params},
        prompt_tokens=12,
        new_tokens=34,
        seconds=0.5,
    )


@pytest.fixture
def cfg(tmp_path: Path) -> StorageConfig:
    return StorageConfig(path=tmp_path / "nested" / "dir" / "xiaoer.sqlite3", busy_timeout_ms=3000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(cfg: StorageConfig, clock: Clock) -> AsyncIterator[Store]:
    async with Store(cfg, clock=clock) as s:
        yield s


async def raw_fetchall(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Query the file through an independent connection (what is really on disk)."""
    async with aiosqlite.connect(path) as db, db.execute(sql, params) as cur:
        return [tuple(r) for r in await cur.fetchall()]


async def table_names(path: Path) -> set[str]:
    rows = await raw_fetchall(path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


# -- migrations and lifecycle -------------------------------------------------------------------


async def test_fresh_file_gets_latest_schema(cfg: StorageConfig) -> None:
    assert not cfg.path.parent.exists()
    async with Store(cfg) as s:
        assert s.is_open
        assert await s.schema_version() == LATEST_VERSION
    assert LATEST_VERSION == MIGRATIONS[-1][0] >= 2
    assert [v for v, _ in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    assert (await raw_fetchall(cfg.path, "PRAGMA user_version"))[0][0] == LATEST_VERSION
    assert {"merchants", "reviews", "generations", "feedback", "usage"} <= await table_names(cfg.path)
    indexes = {
        r[0] for r in await raw_fetchall(cfg.path, "SELECT name FROM sqlite_master WHERE type='index'")
    }
    assert {"reviews_merchant_recent", "generations_merchant_recent"} <= indexes


async def test_reopen_is_idempotent(cfg: StorageConfig) -> None:
    async with Store(cfg) as s:
        await s.get_or_create_merchant(A)
    schema1 = await raw_fetchall(cfg.path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    for _ in range(2):
        async with Store(cfg) as s:
            assert await s.schema_version() == LATEST_VERSION
            assert (await s.stats())["merchants"] == 1
    schema2 = await raw_fetchall(cfg.path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    assert schema1 == schema2


async def test_version_1_database_is_upgraded(cfg: StorageConfig) -> None:
    # A database as xiaoer's first release left it: only migration 1, with data in it.
    cfg.path.parent.mkdir(parents=True)
    async with aiosqlite.connect(cfg.path) as db:
        await db.executescript(MIGRATIONS[0][1])
        await db.execute("PRAGMA user_version = 1")
        await db.execute(
            "INSERT INTO merchants VALUES (?, '2025-01-01T00:00:00.000000+00:00', 'en',"
            " '老店', '茶叶', 'professional', '—老店', '七天无理由', 'zh')",
            (A,),
        )
        await db.execute(
            "INSERT INTO reviews (merchant_id, text, label, p_negative, p_neutral, p_positive,"
            " aspects, source, created_at) VALUES (?, '茶叶很香', 'positive', 0.05, 0.05, 0.9,"
            " '[\"taste\"]', 'chat', '2025-01-01T00:00:01.000000+00:00')",
            (A,),
        )
        await db.commit()
    assert "usage" not in await table_names(cfg.path)

    async with Store(cfg) as s:
        assert await s.schema_version() == LATEST_VERSION
        merchant = await s.get_or_create_merchant(A, language="zh")
        assert merchant.language == "en"  # existing row kept, not recreated
        assert merchant.profile == ShopProfile("老店", "茶叶", "professional", "—老店", "七天无理由", "zh")
        [old] = await s.recent_reviews(A)
        assert old.text == "茶叶很香" and old.sentiment.aspects == ("taste",) and old.corrected_label is None
        assert old.sentiment.aspect_polarity == ()  # column added by migration 7, empty for old rows
        await s.correct_label(A, old.id, "neutral")  # column added by migration 2
        assert await s.count_usage(A, "reviews") == 1  # table added by migration 2

    async with Store(cfg) as s:  # and the upgrade is not applied twice
        [old] = await s.recent_reviews(A)
        assert old.label == "neutral"


async def test_too_new_database_is_refused(cfg: StorageConfig) -> None:
    cfg.path.parent.mkdir(parents=True)
    async with aiosqlite.connect(cfg.path) as db:
        await db.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    s = Store(cfg)
    try:
        with pytest.raises(SchemaTooNew) as info:
            await s.open()
    finally:
        await s.close()
    assert isinstance(info.value, StoreError)
    assert info.value.found == LATEST_VERSION + 1 and info.value.supported == LATEST_VERSION
    assert str(LATEST_VERSION + 1) in str(info.value)
    assert not s.is_open
    assert (await raw_fetchall(cfg.path, "PRAGMA user_version"))[0][0] == LATEST_VERSION + 1
    assert await table_names(cfg.path) == set()  # nothing was created in it


async def test_failing_migration_rolls_back(cfg: StorageConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Store(cfg) as s:
        await s.get_or_create_merchant(A)
    bad = "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1)"
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*MIGRATIONS, (LATEST_VERSION + 1, bad)])
    monkeypatch.setattr(store_mod, "LATEST_VERSION", LATEST_VERSION + 1)
    s = Store(cfg)
    with pytest.raises(StoreError, match="no_such_table"):
        await s.open()
    assert not s.is_open
    assert (await raw_fetchall(cfg.path, "PRAGMA user_version"))[0][0] == LATEST_VERSION
    assert "half_done" not in await table_names(cfg.path)


async def test_pragmas_are_really_set(store: Store, cfg: StorageConfig) -> None:
    db = store._require_open()

    async def pragma(name: str) -> object:
        async with db.execute(f"PRAGMA {name}") as cur:
            row = await cur.fetchone()
        assert row is not None
        return row[0]

    assert await pragma("journal_mode") == "wal"
    assert await pragma("foreign_keys") == 1
    assert await pragma("busy_timeout") == 3000
    assert await pragma("synchronous") == 2  # FULL: commits survive power loss (README: Durability)
    # WAL is persistent: an independent connection sees it too.
    assert (await raw_fetchall(cfg.path, "PRAGMA journal_mode"))[0][0] == "wal"
    # Foreign keys are enforced, not just declared.
    with pytest.raises(aiosqlite.IntegrityError, match="FOREIGN KEY"):
        await db.execute(
            "INSERT INTO reviews (merchant_id, text, label, p_negative, p_neutral, p_positive, source,"
            " created_at, aspects) VALUES (424242, 'x', 'positive', 0, 0, 1, 'chat', 'now', '[]')"
        )


async def test_lifecycle_errors(cfg: StorageConfig) -> None:
    s = Store(cfg)
    with pytest.raises(StoreError, match="not open"):
        await s.stats()
    await s.open()
    with pytest.raises(StoreError, match="already open"):
        await s.open()
    await s.close()
    await s.close()  # twice is fine
    with pytest.raises(StoreError, match="not open"):
        await s.get_or_create_merchant(A)


# -- transactions -------------------------------------------------------------------------------


async def test_failing_row_rolls_back_the_whole_batch(store: Store) -> None:
    await store.get_or_create_merchant(A)
    batch = [("很好", sent()), ("坏的概率", sent("negative", p_negative=1.5)), ("也很好", sent())]
    with pytest.raises(InvalidValue) as info:  # the CHECK on p_negative fires on the 2nd row
        await store.add_reviews(A, batch, "chat")
    assert info.value.field == "p_negative"
    assert (await store.stats())["reviews"] == 0  # the 1st row was inserted, then rolled back

    with pytest.raises(InvalidValue, match="text"):  # CHECK (length(text) > 0), last row
        await store.add_reviews(A, [("好", sent()), ("", sent())], "file")
    assert await store.recent_reviews(A) == []

    # The connection is not left inside a transaction: the next batch commits.
    ids = await store.add_reviews(A, [("好", sent()), ("差", sent("negative", 0.9))], "file")
    assert len(ids) == 2 and ids[0] < ids[1]
    assert [r.text for r in await store.recent_reviews(A)] == ["差", "好"]


async def test_tx_rolls_back_on_any_exception(store: Store) -> None:
    await store.get_or_create_merchant(A)
    with pytest.raises(RuntimeError, match="boom"):
        async with store._tx() as db:
            await db.execute("UPDATE merchants SET shop_name = 'changed' WHERE id = ?", (A,))
            raise RuntimeError("boom")
    assert (await store.get_profile(A)).name == ShopProfile().name


async def test_cancelled_write_is_atomic_and_leaves_store_usable(store: Store) -> None:
    await store.get_or_create_merchant(A)
    batch = [(f"评价{i}", sent()) for i in range(200)]
    task = asyncio.create_task(store.add_reviews(A, batch, "file"))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await store.stats())["reviews"] in (0, 200)  # all or nothing
    assert len(await store.add_reviews(A, [("之后", sent())], "chat")) == 1  # no transaction left open


async def test_invalid_source_and_unknown_merchant(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.add_reviews(A, [("好", sent())], "chat")
    await store.get_or_create_merchant(A)
    with pytest.raises(InvalidValue, match="source"):
        await store.add_reviews(A, [("好", sent())], "email")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await store.get_profile(B)
    with pytest.raises(NotFound):
        await store.count_usage(B, "x")


# -- ownership ----------------------------------------------------------------------------------


async def test_merchant_cannot_touch_another_merchants_data(store: Store) -> None:
    await store.get_or_create_merchant(A)
    await store.get_or_create_merchant(B)
    [review_a] = await store.add_reviews(A, [("质量差", sent("negative", 0.9))], "chat")
    gen_a = await store.add_generation(A, draft(), "质量差", review_id=review_a)

    assert await store.get_generation(B, gen_a) is None
    assert (await store.get_generation(A, gen_a)) is not None
    assert await store.history(B, 10) == []
    assert await store.get_review(B, review_a) is None
    with pytest.raises(NotFound):
        await store.add_feedback(B, gen_a, "accepted")
    with pytest.raises(NotFound):
        await store.correct_label(B, review_a, "positive")
    with pytest.raises(NotFound):
        await store.add_generation(B, draft(), "x", review_id=review_a)
    assert await store.feedback_for(B, gen_a) == []
    assert (await store.stats())["feedback"] == 0
    assert await store.export_feedback(B) == []

    # The schema refuses it too, even bypassing the API (composite foreign keys).
    db = store._require_open()
    with pytest.raises(aiosqlite.IntegrityError):
        await db.execute(
            "INSERT INTO feedback (generation_id, merchant_id, action, created_at)"
            " VALUES (?, ?, 'accepted', 'now')",
            (gen_a, B),
        )
    with pytest.raises(aiosqlite.IntegrityError):
        await db.execute(
            "INSERT INTO generations (merchant_id, kind, review_id, input_text, output_text, created_at)"
            " VALUES (?, 'reply', ?, 'x', 'y', 'now')",
            (B, review_a),
        )

    fb = await store.add_feedback(A, gen_a, "accepted")
    [feedback] = await store.feedback_for(A, gen_a)
    assert feedback.id == fb and feedback.action == "accepted" and feedback.merchant_id == A


# -- concurrency --------------------------------------------------------------------------------


async def test_50_concurrent_coroutines_all_land(store: Store) -> None:
    merchants = [10 + i for i in range(5)]

    async def worker(i: int) -> None:
        m = merchants[i % len(merchants)]
        await store.get_or_create_merchant(m)
        ids = await store.add_reviews(
            m, [(f"评价{i}a", sent()), (f"评价{i}b", sent("negative", 0.8))], "chat"
        )
        await asyncio.sleep(0)
        gen = await store.add_generation(m, draft(f"回复{i}"), f"评价{i}a", review_id=ids[0])
        if i % 2:
            await store.add_feedback(m, gen, "edited", f"改{i}")
        else:
            await store.add_feedback(m, gen, "accepted")
        await store.count_usage(m, "replies")

    await asyncio.gather(*(worker(i) for i in range(50)))

    assert await store.stats() == {"merchants": 5, "reviews": 100, "generations": 50, "feedback": 50}
    assert await store.usage_summary() == {"replies": 50}
    for m in merchants:
        assert len(await store.history(m, 100)) == 10
        assert len(await store.recent_reviews(m, 100)) == 20
        assert await store.usage_summary(merchant_id=m) == {"replies": 10}
        assert len(await store.export_feedback(m)) == 10


async def test_two_stores_on_one_file_share_it(cfg: StorageConfig) -> None:
    # e.g. the bot and `xiaoer console` at once: WAL + busy_timeout + BEGIN IMMEDIATE.
    async with Store(cfg) as s1, Store(cfg) as s2:
        await s1.get_or_create_merchant(A)

        async def write(s: Store, i: int) -> None:
            await s.add_reviews(A, [(f"r{i}", sent())], "console")
            await s.count_usage(A, "reviews")

        await asyncio.gather(*(write(s1 if i % 2 else s2, i) for i in range(40)))
        assert (await s1.stats())["reviews"] == 40
        assert await s2.usage_summary() == {"reviews": 40}


# -- profiles -----------------------------------------------------------------------------------


async def test_profile_defaults_update_and_validation(store: Store) -> None:
    merchant = await store.get_or_create_merchant(A, language="en")
    assert merchant.language == "en" and merchant.profile == ShopProfile()
    assert merchant.created_at.tzinfo is not None

    new = await store.update_profile(A, name="  小二茶铺 ", tone="concise", language="en", policy="包邮")
    assert new == replace(ShopProfile(), name="小二茶铺", tone="concise", language="en", policy="包邮")
    assert await store.get_profile(A) == new
    aliased = await store.update_profile(A, shop_name="新店名", reply_language="auto")
    assert (aliased.name, aliased.language) == ("新店名", "auto")

    bad_cases: list[tuple[dict[str, object], str]] = [
        ({"policy": "退" * 1001}, "policy"),
        ({"tone": "rude"}, "tone"),
        ({"language": "fr"}, "language"),
        ({"reply_language": "de"}, "reply_language"),
        ({"name": "   "}, "name"),
        ({"name": "两\n行"}, "name"),
        ({"category": 5}, "category"),
        ({"signature": "签" * 101}, "signature"),
        ({"colour": "red"}, "colour"),
    ]
    for fields, name in bad_cases:
        with pytest.raises(InvalidValue) as info:
            await store.update_profile(A, **fields)
        assert info.value.field == name, fields
        assert str(info.value).startswith(f"{name}:"), str(info.value)
    # A rejected update changes nothing, even its valid fields.
    with pytest.raises(InvalidValue, match="policy"):
        await store.update_profile(A, tone="apologetic", policy="x" * 1001)
    assert await store.get_profile(A) == aliased
    assert (await store.update_profile(A, policy="y" * 1000)).policy == "y" * 1000

    with pytest.raises(NotFound):
        await store.update_profile(B, tone="warm")


async def test_set_language(store: Store) -> None:
    await store.get_or_create_merchant(A)
    await store.set_language(A, "en")
    assert (await store.get_or_create_merchant(A)).language == "en"
    with pytest.raises(InvalidValue, match="language"):
        await store.set_language(A, "fr")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await store.set_language(B, "zh")
    with pytest.raises(InvalidValue, match="language"):
        await store.get_or_create_merchant(B, language="jp")  # type: ignore[arg-type]


# -- reviews, generations, feedback -------------------------------------------------------------


async def test_recent_reviews_order_limit_since(store: Store, clock: Clock) -> None:
    await store.get_or_create_merchant(A)
    await store.add_reviews(A, [("一", sent())], "chat")
    clock.advance(hours=1)
    cut = clock.now
    await store.add_reviews(
        A, [("二", sent()), ("三", sent("negative", 0.7, ("logistics", "price")))], "file"
    )
    clock.advance(hours=1)
    await store.add_reviews(A, [("四", sent())], "console")

    assert [r.text for r in await store.recent_reviews(A)] == ["四", "三", "二", "一"]
    assert [r.text for r in await store.recent_reviews(A, limit=2)] == ["四", "三"]
    assert [r.text for r in await store.recent_reviews(A, since=cut)] == ["四", "三", "二"]
    three = (await store.recent_reviews(A, since=cut))[1]
    assert three.sentiment == sent("negative", 0.7, ("logistics", "price"))
    assert three.source == "file" and three.created_at == cut


async def test_generation_round_trip_and_history(store: Store, clock: Clock) -> None:
    await store.get_or_create_merchant(A)
    d = draft("文案", kind="copy", platform="taobao")
    g1 = await store.add_generation(A, d, "产品资料")
    clock.advance(seconds=1)
    g2 = await store.add_generation(A, draft("回复"), "评价")
    gen = await store.get_generation(A, g1)
    assert gen is not None
    assert (gen.kind, gen.input_text, gen.output_text, gen.review_id) == ("copy", "产品资料", "文案", None)
    assert gen.findings == d.findings and gen.params == d.params
    assert (gen.model_id, gen.adapter_id, gen.prompt_tokens, gen.new_tokens) == (
        "gemma-3-270m",
        "reply-v1",
        12,
        34,
    )
    assert [g.id for g in await store.history(A, 10)] == [g2, g1]
    assert [g.id for g in await store.history(A, 10, kind="copy")] == [g1]
    assert [g.id for g in await store.history(A, 1)] == [g2]
    with pytest.raises(InvalidValue, match="params"):
        await store.add_generation(A, replace(d, params={"x": object()}), "x")


async def test_feedback_validation(store: Store) -> None:
    await store.get_or_create_merchant(A)
    gen = await store.add_generation(A, draft(), "评价")
    with pytest.raises(InvalidValue, match="edited_text"):
        await store.add_feedback(A, gen, "edited")
    with pytest.raises(InvalidValue, match="edited_text"):
        await store.add_feedback(A, gen, "accepted", "text")
    with pytest.raises(InvalidValue, match="action"):
        await store.add_feedback(A, gen, "liked")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await store.add_feedback(A, gen + 99, "accepted")
    assert await store.feedback_for(A, gen) == []


async def test_export_feedback(store: Store) -> None:
    await store.get_or_create_merchant(A)
    profile = await store.update_profile(A, name="小二茶铺", tone="professional")
    r1, r2, r3 = await store.add_reviews(
        A, [("物流太慢", sent("negative", 0.8)), ("还行", sent("neutral", 0.2)), ("很好", sent())], "chat"
    )
    await store.correct_label(A, r2, "negative")

    accepted = await store.add_generation(A, draft("抱歉让您久等了", tone="apologetic"), "物流太慢", r1)
    await store.add_feedback(A, accepted, "accepted")
    edited = await store.add_generation(A, draft("谢谢反馈"), "还行", r2)
    await store.add_feedback(A, edited, "edited", "感谢反馈，我们会改进")
    rejected = await store.add_generation(A, draft("不好的回复"), "很好", r3)
    await store.add_feedback(A, rejected, "rejected")
    changed_mind = await store.add_generation(A, draft("先接受后拒绝"), "很好", r3)
    await store.add_feedback(A, changed_mind, "accepted")
    await store.add_feedback(A, changed_mind, "rejected")
    copy = await store.add_generation(A, draft("文案", kind="copy"), "产品")
    await store.add_feedback(A, copy, "accepted")
    no_review = await store.add_generation(A, draft("好的"), "直接粘贴的评价")
    await store.add_feedback(A, no_review, "accepted")

    rows = await store.export_feedback(A)
    for row in rows:
        json.dumps(row, ensure_ascii=False)  # ready for JSONL
    replies = [r for r in rows if r["task"] == "reply"]
    labels = [r for r in rows if r["task"] == "label"]
    assert [r["generation_id"] for r in replies] == [accepted, edited, no_review]

    assert replies[0]["review"] == "物流太慢" and replies[0]["response"] == "抱歉让您久等了"
    assert replies[0]["label"] == "negative" and replies[0]["tone"] == "apologetic"
    assert replies[0]["profile"]["name"] == "小二茶铺" and replies[0]["profile"] == profile.__dict__

    assert replies[1]["response"] == "感谢反馈，我们会改进"  # the edited text, not the draft
    assert replies[1]["label"] == "negative"  # the merchant's correction
    assert replies[1]["tone"] == "professional"  # from the profile when params have none
    assert replies[1]["action"] == "edited"

    assert replies[2]["review"] == "直接粘贴的评价" and replies[2]["label"] is None

    assert labels == [
        {"task": "label", "text": "还行", "label": "negative", "predicted": "neutral", "review_id": r2}
    ]


# -- usage, stats, persistence ------------------------------------------------------------------


async def test_usage_counters_upsert(store: Store, clock: Clock, cfg: StorageConfig) -> None:
    await store.get_or_create_merchant(A)
    await store.get_or_create_merchant(B)
    assert await store.count_usage(A, "replies") == 1
    assert await store.count_usage(A, "replies") == 2
    assert await store.count_usage(A, "replies", n=3) == 5
    assert await store.count_usage(B, "replies") == 1
    assert await store.count_usage(A, "reviews", n=10) == 10
    today = clock.now.date()
    clock.advance(days=1)
    assert await store.count_usage(A, "replies") == 1  # a new day, a new row

    rows = await raw_fetchall(cfg.path, "SELECT merchant_id, day, name, count FROM usage ORDER BY 1, 2, 3")
    assert rows == [
        (A, "2026-05-09", "replies", 5),
        (A, "2026-05-09", "reviews", 10),
        (A, "2026-05-10", "replies", 1),
        (B, "2026-05-09", "replies", 1),
    ]
    assert await store.usage_summary(today) == {"replies": 6, "reviews": 10}
    assert await store.usage_summary("2026-05-09", merchant_id=B) == {"replies": 1}
    assert await store.usage_summary() == {"replies": 1}
    assert await store.usage_summary("2020-01-01") == {}
    with pytest.raises(InvalidValue, match="day"):
        await store.usage_summary("yesterday")
    with pytest.raises(InvalidValue, match="name"):
        await store.count_usage(A, "")
    with pytest.raises(InvalidValue, match="n:"):
        await store.count_usage(A, "x", n=-1)


async def test_everything_survives_close_and_reopen(cfg: StorageConfig, clock: Clock) -> None:
    async with Store(cfg, clock=clock) as s:
        merchant = await s.get_or_create_merchant(A, language="en")
        profile = await s.update_profile(A, name="持久店", signature="—持久店", policy="十五天退换")
        mixed = replace(
            sent("negative", 0.9, ("logistics", "quality")),
            aspect_polarity=(("logistics", 1), ("quality", -1)),
        )
        ids = await s.add_reviews(A, [("好评", sent(aspects=("quality",))), ("物流快质量差", mixed)], "file")
        assert await s.add_upload_reviews(A, "f1", "r.csv", 1, 0, [("又一条", mixed)]) == 1
        await s.correct_label(A, ids[1], "neutral")
        gen_id = await s.add_generation(A, draft("回复"), "差评", ids[1])
        await s.add_feedback(A, gen_id, "edited", "新回复")
        await s.count_usage(A, "replies", n=2)
        before = (
            await s.recent_reviews(A),
            await s.history(A, 10),
            await s.feedback_for(A, gen_id),
            await s.export_feedback(A),
            await s.stats(),
        )

    async with Store(cfg, clock=clock) as s:
        assert await s.get_or_create_merchant(A) == replace(merchant, profile=profile)
        after = (
            await s.recent_reviews(A),
            await s.history(A, 10),
            await s.feedback_for(A, gen_id),
            await s.export_feedback(A),
            await s.stats(),
        )
        assert after == before
        assert after[4] == {"merchants": 1, "reviews": 3, "generations": 1, "feedback": 1}
        stored = {r.text: r.sentiment for r in after[0]}
        assert stored["物流快质量差"].aspect_polarity == (("logistics", 1), ("quality", -1))
        assert stored["又一条"] == mixed and stored["好评"].aspect_polarity == ()
        assert await s.usage_summary() == {"replies": 2}
