"""The store under contention and faults: a held write lock, many writers, a full disk, a
read-only file, and the file modes of the database.

Each fault ends in a `StoreError` subclass that names it (the bot turns those into a message that
says what to do), the database passes `PRAGMA integrity_check` afterwards, and what was committed
before the fault is still there.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.settings import StorageConfig
from bot.store import BUSY_BACKOFF_S, BUSY_RETRIES, Store, StoreBusy, StoreFull, StoreReadOnly
from nlp.types import Draft, Sentiment

A, B = 1001, 2002
POSITIVE = Sentiment("positive", {"negative": 0.1, "neutral": 0.1, "positive": 0.8})


@pytest.fixture
def cfg(tmp_path: Path) -> StorageConfig:
    return StorageConfig(path=tmp_path / "data" / "xiaoer.sqlite3", busy_timeout_ms=50)


@pytest.fixture
async def store(cfg: StorageConfig) -> AsyncIterator[Store]:
    async with Store(cfg) as s:
        await s.get_or_create_merchant(A)
        yield s


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@contextmanager
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's view: a plain sqlite3 connection holding BEGIN IMMEDIATE until released."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.rollback()
        conn.close()


# -- a held write lock ------------------------------------------------------------------------


async def test_lock_held_past_busy_timeout_is_retried_until_it_is_released(
    store: Store, cfg: StorageConfig
) -> None:
    with write_lock(cfg.path) as holder:
        # Held 5 busy_timeouts: the first BEGIN gives up, a retry gets the lock once it is released.
        asyncio.get_running_loop().call_later(5 * cfg.busy_timeout_ms / 1000, holder.rollback)
        began = time.monotonic()
        ids = await store.add_reviews(A, [("物流很快", POSITIVE)], "chat")
        assert time.monotonic() - began >= 5 * cfg.busy_timeout_ms / 1000
    assert len(ids) == 1
    assert count(cfg.path, "reviews") == 1


async def test_lock_held_for_good_raises_store_busy_within_the_bound(
    store: Store, cfg: StorageConfig
) -> None:
    bound = (BUSY_RETRIES + 1) * cfg.busy_timeout_ms / 1000 + 1.5 * BUSY_BACKOFF_S * 2**BUSY_RETRIES
    with write_lock(cfg.path):
        began = time.monotonic()
        with pytest.raises(StoreBusy, match="locked"):
            await store.add_reviews(A, [("物流很快", POSITIVE)], "chat")
        took = time.monotonic() - began
        assert (BUSY_RETRIES + 1) * cfg.busy_timeout_ms / 1000 <= took < bound + 1.0
        assert await store.get_merchant(A) is not None  # WAL: reads go on while the lock is held
    # Nothing half-written, and the store works again once the lock is gone.
    assert integrity(cfg.path) == "ok"
    assert count(cfg.path, "reviews") == 0
    assert len(await store.add_reviews(A, [("质量很好", POSITIVE)], "chat")) == 1


async def test_many_tasks_two_stores_and_another_connection_lose_no_write(tmp_path: Path) -> None:
    cfg = StorageConfig(path=tmp_path / "x.sqlite3", busy_timeout_ms=2000)
    stop = threading.Event()
    outside: list[int] = []

    def other_process() -> None:  # short write transactions from a third connection, meanwhile
        conn = sqlite3.connect(cfg.path, isolation_level=None, timeout=2)
        try:
            while not stop.is_set():
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE merchants SET category = category WHERE id = ?", (A,))
                conn.execute("COMMIT")
                outside.append(1)
        finally:
            conn.close()

    async with Store(cfg) as s1, Store(cfg) as s2:
        await s1.get_or_create_merchant(A)
        await s2.get_or_create_merchant(B)
        thread = threading.Thread(target=other_process)
        thread.start()
        try:

            async def writer(s: Store, merchant: int, i: int) -> None:
                [rid] = await s.add_reviews(merchant, [(f"评价{i}", POSITIVE)], "chat")
                gid = await s.add_generation(merchant, Draft("reply", f"回复{i}"), f"评价{i}", rid)
                await s.add_feedback(merchant, gid, "accepted")
                await s.count_usage(merchant, "replies")

            async def reader(s: Store, merchant: int) -> None:
                for _ in range(5):
                    for g in await s.history(merchant, 100):
                        assert g.output_text.startswith("回复")
                    await s.stats()

            jobs = [writer(s1 if i % 2 else s2, A if i % 3 else B, i) for i in range(60)]
            jobs += [reader(s1, A), reader(s2, B), reader(s2, A)]
            await asyncio.gather(*jobs)
        finally:
            stop.set()
            await asyncio.to_thread(thread.join)
        assert await s1.stats() == {"merchants": 2, "reviews": 60, "generations": 60, "feedback": 60}
        assert await s2.usage_summary() == {"replies": 60}
    assert outside  # the third connection did write in between
    assert integrity(cfg.path) == "ok"


# -- a full disk and a read-only database ------------------------------------------------------


async def test_full_disk_raises_store_full_and_keeps_what_was_there(store: Store, cfg: StorageConfig) -> None:
    await store.add_reviews(A, [("包装很好", POSITIVE)], "chat")
    db = store._require_open()
    # The connection may not grow the file any more: what SQLite reports on a full disk.
    async with db.execute("PRAGMA page_count") as cur:
        row = await cur.fetchone()
    assert row is not None
    await db.execute(f"PRAGMA max_page_count = {int(row[0])}")
    with pytest.raises(StoreFull, match="full"):
        await store.add_reviews(A, [("很长的评价" * 4000, POSITIVE)], "chat")
    assert [r.text for r in await store.recent_reviews(A)] == ["包装很好"]
    await db.execute("PRAGMA max_page_count = 1073741823")
    assert len(await store.add_reviews(A, [("又来了", POSITIVE)], "chat")) == 1
    assert integrity(cfg.path) == "ok"
    assert count(cfg.path, "reviews") == 2


async def test_read_only_database_raises_store_read_only(store: Store, cfg: StorageConfig) -> None:
    db = store._require_open()
    await db.execute("PRAGMA query_only = ON")  # SQLITE_READONLY, as from a read-only file
    with pytest.raises(StoreReadOnly, match="read-only"):
        await store.add_reviews(A, [("包装很好", POSITIVE)], "chat")
    assert await store.get_merchant(A) is not None
    assert integrity(cfg.path) == "ok"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
async def test_read_only_file_and_directory_raise_store_read_only(cfg: StorageConfig) -> None:
    async with Store(cfg) as s:
        await s.get_or_create_merchant(A)
    cfg.path.chmod(0o400)
    cfg.path.parent.chmod(0o500)
    try:
        async with Store(cfg) as s:
            with pytest.raises(StoreReadOnly):
                await s.add_reviews(A, [("包装很好", POSITIVE)], "chat")
    except StoreReadOnly:
        pass  # or already at open (WAL needs a writable -shm)
    finally:
        cfg.path.parent.chmod(0o700)
        cfg.path.chmod(0o600)
    assert integrity(cfg.path) == "ok"


# -- file modes -----------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_database_files_are_private(tmp_path: Path) -> None:
    cfg = StorageConfig(path=tmp_path / "new" / "deeper" / "xiaoer.sqlite3")
    old = os.umask(0o022)  # the usual umask: files 0644, directories 0755 unless we say otherwise
    try:
        async with Store(cfg) as s:
            await s.get_or_create_merchant(A)
            assert mode(cfg.path) == 0o600
            for suffix in ("-wal", "-shm"):
                assert mode(cfg.path.with_name(cfg.path.name + suffix)) == 0o600, suffix
            assert mode(cfg.path.parent) == mode(cfg.path.parent.parent) == 0o700
    finally:
        os.umask(old)


async def test_an_existing_readable_database_is_tightened(tmp_path: Path) -> None:
    cfg = StorageConfig(path=tmp_path / "xiaoer.sqlite3")
    before = mode(tmp_path)
    async with Store(cfg) as s:
        await s.get_or_create_merchant(A)
    cfg.path.chmod(0o644)
    async with Store(cfg) as s:
        assert await s.get_merchant(A) is not None
    assert mode(cfg.path) == 0o600
    assert mode(tmp_path) == before  # a directory we did not create keeps its mode
