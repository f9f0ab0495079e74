"""Exceptions (every one the store raises on purpose is a `StoreError`)::

    StoreError              base; also wraps unexpected SQLite errors (the cause is chained)
    ├── NotFound            the merchant, review or generation does not exist for this merchant
    ├── InvalidValue        a value was refused (names the field); CHECK violations land here too
    │   └── DraftHasErrors  accepting a draft the checks found errors in (the merchant edits it first)
    ├── SchemaTooNew        the database was written by a newer xiaoer (user_version > ours)
    ├── StoreBusy           another process held the write lock through every retry (try again)
    ├── StoreFull           the disk (or the file's size limit) is full: nothing was written
    └── StoreReadOnly       the file or its directory cannot be written: nothing was written

The SQLite store for xiaoer: merchants and their shop profiles, classified reviews, generated
drafts, the merchant's feedback on them, per-day usage counters, the users admins let in
with /allow, the admin who claimed the bot and the files already stored (`uploads`, so that a
re-sent file is stored once) — one file, one connection.

* Asynchronous throughout via aiosqlite (the blocking sqlite3 calls run on its worker thread).
* One connection per `Store`; an `asyncio.Lock` serialises every operation so coroutines never
  interleave inside a transaction. Every write runs in `BEGIN IMMEDIATE … COMMIT` and rolls
  back on any error (cancellation included). WAL mode plus `busy_timeout` lets a second
  process (e.g. `xiaoer console` next to the bot) share the file; a BEGIN that still finds the
  file locked is retried `BUSY_RETRIES` times with backoff, then raises `StoreBusy`.
* Durability: `synchronous = FULL`, so a commit (e.g. feedback the bot then confirms to the
  merchant) is on disk before the call returns, power loss included (README: Durability).
* Private files: the database is created 0600 (SQLite gives its -wal/-shm the same mode) in a
  directory created 0700; an existing database that others could read is tightened to 0600.
* Versioned migrations: `MIGRATIONS` is an ordered list of (version, SQL); each is applied in
  its own transaction and recorded in `PRAGMA user_version`. Never edit a released migration,
  append a new one.
* Ownership is enforced in SQL: every query that reads or refers to a review or generation is
  filtered by `merchant_id`, and feedback carries a composite foreign key to
  `generations(id, merchant_id)`.
* Timestamps are stored as UTC ISO-8601 strings (`2026-05-09T07:35:25.123456+00:00`), which sort
  as text; the records returned carry aware `datetime`s.

Usage::

    async with Store(settings.storage) as store:
        merchant = await store.get_or_create_merchant(user_id)
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, cast, get_args

import aiosqlite

from bot.settings import StorageConfig
from nlp.checks import check_reply
from nlp.policy import InvalidPolicyJSON, ParsedPolicy, parse_policy
from nlp.types import (
    LABELS,
    TONES,
    Draft,
    DraftKind,
    Finding,
    Label,
    Language,
    Sentiment,
    Severity,
    ShopProfile,
    Tone,
)

__all__ = [
    "DRAFT_KINDS",
    "FEEDBACK_ACTIONS",
    "LATEST_VERSION",
    "MIGRATIONS",
    "PROFILE_FIELDS",
    "REPLY_LANGUAGES",
    "SOURCES",
    "UI_LANGUAGES",
    "DraftHasErrors",
    "Feedback",
    "FeedbackAction",
    "Generation",
    "InvalidValue",
    "Merchant",
    "NotFound",
    "SchemaTooNew",
    "Source",
    "Store",
    "StoreBusy",
    "StoreError",
    "StoreFull",
    "StoreReadOnly",
    "StoredReview",
    "Upload",
]


# ---------------------------------------------------------------------------------------------
# Exceptions


class StoreError(Exception):
    """Base of everything the store raises; unexpected SQLite errors are wrapped in it."""


class NotFound(StoreError):
    """The merchant, review or generation does not exist, or belongs to another merchant."""


class InvalidValue(StoreError):
    """A value was refused. `field` names the offending field when it is known."""

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class DraftHasErrors(InvalidValue):
    """Feedback 'accepted' on a draft with error findings: it must be edited (or rejected) instead."""

    def __init__(self, generation_id: int, findings: Sequence[Finding]) -> None:
        self.generation_id = generation_id
        self.findings = tuple(findings)
        codes = ", ".join(f.code for f in self.findings)
        message = f"generation {generation_id} has errors ({codes}); edit it before accepting"
        super().__init__("action", message)


class SchemaTooNew(StoreError):
    """The database file has a schema version newer than this code understands."""

    def __init__(self, found: int, supported: int, path: str) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"{path} has schema version {found}, but this xiaoer supports up to {supported}; "
            "upgrade xiaoer (or point XIAOER_STORAGE__PATH at another file)"
        )


class StoreBusy(StoreError):
    """Another connection held the write lock through `busy_timeout` and every retry."""


class StoreFull(StoreError):
    """SQLite could not grow the file (disk full or size limit); the transaction was rolled back."""


class StoreReadOnly(StoreError):
    """The database file or its directory is read-only; the transaction was rolled back."""


# ---------------------------------------------------------------------------------------------
# Vocabularies

Source = Literal["chat", "file", "console"]
SOURCES: Final[tuple[Source, ...]] = get_args(Source)

FeedbackAction = Literal["accepted", "edited", "rejected", "regenerated"]
FEEDBACK_ACTIONS: Final[tuple[FeedbackAction, ...]] = get_args(FeedbackAction)

UI_LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
REPLY_LANGUAGES: Final[tuple[str, ...]] = (*UI_LANGUAGES, "auto")
DRAFT_KINDS: Final[tuple[DraftKind, ...]] = get_args(DraftKind)
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)

# Profile text fields: ShopProfile field -> (column, max chars, may span lines, may be empty).
_TEXT_FIELDS: Final[dict[str, tuple[str, int, bool, bool]]] = {
    "name": ("shop_name", 60, False, False),
    "category": ("category", 60, False, True),
    "signature": ("signature", 100, True, True),
    "policy": ("policy", 1000, True, True),
}
# Column names are accepted as aliases of the ShopProfile field names.
_PROFILE_ALIASES: Final[dict[str, str]] = {"shop_name": "name", "reply_language": "language"}
PROFILE_FIELDS: Final[tuple[str, ...]] = (*_TEXT_FIELDS, "tone", "language")

MAX_COUNTER_NAME: Final = 64


# ---------------------------------------------------------------------------------------------
# Schema. Each entry is applied once, in order, inside one transaction; then user_version = N.
# Statements are separated by ';' (so no ';' inside a statement: no triggers, no ';' literals).
# The CHECK lists are frozen copies of the nlp.types vocabularies at the time of the migration.

MIGRATIONS: Final[list[tuple[int, str]]] = [
    (
        1,
        """
        CREATE TABLE merchants (
            id              INTEGER PRIMARY KEY,  -- Telegram user id, or a console id
            created_at      TEXT NOT NULL,
            language        TEXT NOT NULL CHECK (language IN ('zh', 'en')),  -- UI language
            shop_name       TEXT NOT NULL CHECK (length(shop_name) BETWEEN 1 AND 60),
            category        TEXT NOT NULL,
            tone            TEXT NOT NULL
                            CHECK (tone IN ('warm', 'professional', 'concise', 'apologetic')),
            signature       TEXT NOT NULL,
            policy          TEXT NOT NULL,
            reply_language  TEXT NOT NULL CHECK (reply_language IN ('zh', 'en', 'auto'))
        );

        CREATE TABLE reviews (
            id          INTEGER PRIMARY KEY,
            merchant_id INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
            text        TEXT NOT NULL CHECK (length(text) > 0),
            label       TEXT NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
            p_negative  REAL NOT NULL CHECK (p_negative BETWEEN 0 AND 1),
            p_neutral   REAL NOT NULL CHECK (p_neutral BETWEEN 0 AND 1),
            p_positive  REAL NOT NULL CHECK (p_positive BETWEEN 0 AND 1),
            aspects     TEXT NOT NULL DEFAULT '[]'
                        CHECK (json_valid(aspects) AND json_type(aspects) = 'array'),
            source      TEXT NOT NULL CHECK (source IN ('chat', 'file', 'console')),
            created_at  TEXT NOT NULL,
            UNIQUE (id, merchant_id)
        );
        CREATE INDEX reviews_merchant_recent ON reviews (merchant_id, created_at DESC, id DESC);

        CREATE TABLE generations (
            id            INTEGER PRIMARY KEY,
            merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
            kind          TEXT NOT NULL CHECK (kind IN ('reply', 'copy', 'strategy')),
            review_id     INTEGER,
            input_text    TEXT NOT NULL,
            output_text   TEXT NOT NULL,
            model_id      TEXT NOT NULL DEFAULT '',
            adapter_id    TEXT NOT NULL DEFAULT '',
            params        TEXT NOT NULL DEFAULT '{}'
                          CHECK (json_valid(params) AND json_type(params) = 'object'),
            findings      TEXT NOT NULL DEFAULT '[]'
                          CHECK (json_valid(findings) AND json_type(findings) = 'array'),
            prompt_tokens INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
            new_tokens    INTEGER NOT NULL DEFAULT 0 CHECK (new_tokens >= 0),
            seconds       REAL NOT NULL DEFAULT 0 CHECK (seconds >= 0),
            created_at    TEXT NOT NULL,
            UNIQUE (id, merchant_id),
            -- a generation may only refer to a review of the same merchant
            FOREIGN KEY (review_id, merchant_id) REFERENCES reviews (id, merchant_id)
        );
        CREATE INDEX generations_merchant_recent
            ON generations (merchant_id, created_at DESC, id DESC);
        CREATE INDEX generations_review ON generations (review_id) WHERE review_id IS NOT NULL;

        CREATE TABLE feedback (
            id            INTEGER PRIMARY KEY,
            generation_id INTEGER NOT NULL,
            merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
            action        TEXT NOT NULL
                          CHECK (action IN ('accepted', 'edited', 'rejected', 'regenerated')),
            edited_text   TEXT,
            created_at    TEXT NOT NULL,
            CHECK ((action = 'edited') = (edited_text IS NOT NULL)),
            -- feedback may only be given by the merchant the generation belongs to
            FOREIGN KEY (generation_id, merchant_id)
                REFERENCES generations (id, merchant_id) ON DELETE CASCADE
        );
        CREATE INDEX feedback_generation ON feedback (generation_id, id);
        CREATE INDEX feedback_merchant_recent ON feedback (merchant_id, created_at DESC, id DESC)
        """,
    ),
    (
        2,
        """
        ALTER TABLE reviews ADD COLUMN corrected_label TEXT
            CHECK (corrected_label IS NULL OR corrected_label IN ('negative', 'neutral', 'positive'));
        CREATE INDEX reviews_corrected ON reviews (merchant_id, id) WHERE corrected_label IS NOT NULL;

        CREATE TABLE usage (
            merchant_id INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
            day         TEXT NOT NULL
                        CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
            count       INTEGER NOT NULL CHECK (count >= 0),
            PRIMARY KEY (merchant_id, day, name)
        ) WITHOUT ROWID;
        CREATE INDEX usage_day ON usage (day, name)
        """,
    ),
    (
        3,
        """
        CREATE TABLE allowed_users (
            user_id     INTEGER PRIMARY KEY,  -- Telegram user id let in by an admin's /allow
            added_by    INTEGER NOT NULL,
            created_at  TEXT NOT NULL
        )
        """,
    ),
    (
        4,
        """
        CREATE TABLE admins (
            user_id     INTEGER PRIMARY KEY,  -- Telegram user id that sent the start-up claim code
            created_at  TEXT NOT NULL
        )
        """,
    ),
    (
        5,
        # The policy as parsed when the merchant set it (nlp.policy.ParsedPolicy.to_json): what
        # /settings showed for confirmation. NULL: set before this version, parsed on read.
        """
        ALTER TABLE merchants ADD COLUMN policy_parsed TEXT
            CHECK (policy_parsed IS NULL
                   OR (json_valid(policy_parsed) AND json_type(policy_parsed) = 'object'))
        """,
    ),
    (
        6,
        """
        CREATE TABLE uploads (
            merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
            file_key      TEXT NOT NULL CHECK (length(file_key) BETWEEN 1 AND 128),  -- file_unique_id
            name          TEXT NOT NULL,
            row_count     INTEGER NOT NULL CHECK (row_count >= 0),
            review_count  INTEGER NOT NULL CHECK (review_count >= 0),
            created_at    TEXT NOT NULL,
            PRIMARY KEY (merchant_id, file_key)
        ) WITHOUT ROWID
        """,
    ),
    (
        7,
        # Each aspect's own polarity ([["logistics", 1], ["quality", -1]]): what the review's
        # clauses say of it (nlp.types.Sentiment.aspect_polarity). '[]' for reviews stored before.
        """
        ALTER TABLE reviews ADD COLUMN aspect_polarity TEXT NOT NULL DEFAULT '[]'
            CHECK (json_valid(aspect_polarity) AND json_type(aspect_polarity) = 'array')
        """,
    ),
]
LATEST_VERSION: Final[int] = MIGRATIONS[-1][0]


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (see the rule above MIGRATIONS)."""
    out = []
    for chunk in sql.split(";"):
        code = "\n".join(
            line for line in chunk.splitlines() if line.strip() and not line.strip().startswith("--")
        )
        if code.strip():
            out.append(chunk.strip())
    return out


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Merchant:
    id: int
    language: Language  # UI language of the bot for this merchant
    created_at: datetime
    profile: ShopProfile


@dataclass(frozen=True)
class Upload:
    file_key: str  # Telegram's file_unique_id
    name: str
    row_count: int
    review_count: int  # reviews stored from it so far
    created_at: datetime


ReviewRow = tuple[int, str, str, float, float, float, str, str]


def _review_row(merchant_id: int, text: str, sentiment: Sentiment) -> ReviewRow:
    """A classified review as `reviews` columns (merchant_id, text, label, p_negative,
    p_neutral, p_positive, aspects, aspect_polarity), its probabilities checked."""
    probs = sentiment.probs
    if not all(isinstance(probs.get(label), int | float) for label in LABELS):
        raise InvalidValue("probs", f"need a probability for each of {', '.join(LABELS)}")
    if not all(math.isfinite(probs[label]) for label in LABELS):
        raise InvalidValue("probs", "probabilities must be finite")
    p = (float(probs["negative"]), float(probs["neutral"]), float(probs["positive"]))
    polarity = [[str(a), int(v)] for a, v in sentiment.aspect_polarity]
    return (
        merchant_id,
        text,
        sentiment.label,
        *p,
        _json(list(sentiment.aspects), "aspects"),
        _json(polarity, "aspect_polarity"),
    )


def _upload_review_rows(merchant_id: int, items: Sequence[tuple[str, Sentiment]]) -> list[ReviewRow]:
    """The reviews of an upload as `reviews` columns, checked as `add_reviews` checks them."""
    return [_review_row(merchant_id, text, sentiment) for text, sentiment in items]


@dataclass(frozen=True)
class StoredReview:
    id: int
    merchant_id: int
    text: str
    sentiment: Sentiment  # as the classifier saw it
    source: Source
    created_at: datetime
    corrected_label: Label | None = None  # set by the merchant

    @property
    def label(self) -> Label:
        """The merchant's correction when there is one, else the classifier's label."""
        return self.corrected_label or self.sentiment.label


@dataclass(frozen=True)
class Generation:
    id: int
    merchant_id: int
    kind: DraftKind
    review_id: int | None
    input_text: str
    output_text: str
    model_id: str
    adapter_id: str
    params: dict[str, Any]
    findings: tuple[Finding, ...]
    created_at: datetime
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Feedback:
    id: int
    generation_id: int
    merchant_id: int
    action: FeedbackAction
    edited_text: str | None
    created_at: datetime


# ---------------------------------------------------------------------------------------------
# Helpers


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    """UTC ISO string with fixed precision, so stored timestamps sort correctly as text."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)  # naive datetimes are taken to be UTC
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _day(day: date | str | None, now: datetime) -> str:
    if day is None:
        return now.astimezone(UTC).date().isoformat()
    if isinstance(day, datetime):
        return day.astimezone(UTC).date().isoformat() if day.tzinfo else day.date().isoformat()
    if isinstance(day, date):
        return day.isoformat()
    try:
        return date.fromisoformat(day).isoformat()
    except ValueError:
        raise InvalidValue("day", f"expected YYYY-MM-DD, got {day!r}") from None


def _json(value: object, field: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(field, f"not JSON-serialisable: {exc}") from None


def _check_choice(field: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidValue(field, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def _check_id(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"must be an integer (got {value!r})")
    return value


def _profile(row: aiosqlite.Row) -> ShopProfile:
    return ShopProfile(
        name=row["shop_name"],
        category=row["category"],
        tone=cast(Tone, row["tone"]),
        signature=row["signature"],
        policy=row["policy"],
        language=cast("Language | Literal['auto']", row["reply_language"]),
    )


def _merchant(row: aiosqlite.Row) -> Merchant:
    return Merchant(
        id=int(row["id"]),
        language=cast(Language, row["language"]),
        created_at=_parse_ts(row["created_at"]),
        profile=_profile(row),
    )


def _review(row: aiosqlite.Row) -> StoredReview:
    return StoredReview(
        id=int(row["id"]),
        merchant_id=int(row["merchant_id"]),
        text=row["text"],
        sentiment=Sentiment(
            label=cast(Label, row["label"]),
            probs={
                "negative": float(row["p_negative"]),
                "neutral": float(row["p_neutral"]),
                "positive": float(row["p_positive"]),
            },
            aspects=tuple(json.loads(row["aspects"])),
            aspect_polarity=tuple((str(a), int(v)) for a, v in json.loads(row["aspect_polarity"])),
        ),
        source=cast(Source, row["source"]),
        created_at=_parse_ts(row["created_at"]),
        corrected_label=cast("Label | None", row["corrected_label"]),
    )


def _finding(obj: Mapping[str, Any]) -> Finding:
    return Finding(
        code=str(obj["code"]),
        severity=cast(Severity, obj["severity"]),
        message=str(obj["message"]),
        span=str(obj.get("span", "")),
    )


def _has_errors(response: str, review: str, profile: ShopProfile, stored_findings: str) -> bool:
    """Whether a reply carries an error finding, stored with it or found by today's checks."""
    stored = (_finding(f) for f in json.loads(stored_findings))
    return any(f.severity == "error" for f in (*stored, *check_reply(response, review, profile)))


def _generation(row: aiosqlite.Row) -> Generation:
    return Generation(
        id=int(row["id"]),
        merchant_id=int(row["merchant_id"]),
        kind=cast(DraftKind, row["kind"]),
        review_id=None if row["review_id"] is None else int(row["review_id"]),
        input_text=row["input_text"],
        output_text=row["output_text"],
        model_id=row["model_id"],
        adapter_id=row["adapter_id"],
        params=json.loads(row["params"]),
        findings=tuple(_finding(f) for f in json.loads(row["findings"])),
        created_at=_parse_ts(row["created_at"]),
        prompt_tokens=int(row["prompt_tokens"]),
        new_tokens=int(row["new_tokens"]),
        seconds=float(row["seconds"]),
    )


def _feedback(row: aiosqlite.Row) -> Feedback:
    return Feedback(
        id=int(row["id"]),
        generation_id=int(row["generation_id"]),
        merchant_id=int(row["merchant_id"]),
        action=cast(FeedbackAction, row["action"]),
        edited_text=row["edited_text"],
        created_at=_parse_ts(row["created_at"]),
    )


# SQLite primary result codes (the low byte of an extended code) that mean "not now" or "not here".
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_FULL = 5, 6, 8, 14, 13
BUSY_RETRIES: Final = 4  # BEGINs retried after busy_timeout ran out, backoff doubling from BUSY_BACKOFF_S
BUSY_BACKOFF_S: Final = 0.05


def _sqlite_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _translate(exc: BaseException) -> BaseException:
    """Map SQLite errors to the store's exceptions; leave everything else alone."""
    if isinstance(exc, StoreError) or not isinstance(exc, aiosqlite.Error):
        return exc
    code = _sqlite_code(exc)
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreBusy(f"database is locked by another connection ({exc})")
    if code == _SQLITE_FULL:
        return StoreFull(f"database or disk is full ({exc})")
    if code == _SQLITE_READONLY:
        return StoreReadOnly(f"database is read-only ({exc})")
    if isinstance(exc, aiosqlite.IntegrityError):
        # "CHECK constraint failed: p_negative BETWEEN 0 AND 1", "NOT NULL constraint failed: reviews.text"
        match = re.search(r"constraint failed: (?:\w+\.)?(\w+)", str(exc))
        return InvalidValue(match.group(1) if match else None, f"rejected by the database ({exc})")
    return StoreError(f"database error: {exc}")


async def _user_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row is not None else 0


@asynccontextmanager
async def _transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """BEGIN IMMEDIATE … COMMIT; ROLLBACK on any error (cancellation too). No locking here.

    aiosqlite runs statements in FIFO order on its worker thread, so the ROLLBACK always lands
    after whatever statement was in flight, even if that statement's await was cancelled.
    """
    begun = False
    try:
        begun = True
        await _begin_immediate(db)
        yield
        await db.execute("COMMIT")
    except BaseException as exc:
        if begun:
            # "no transaction is active" when SQLite already rolled back, or BEGIN failed
            with suppress(aiosqlite.Error):
                await db.execute("ROLLBACK")
        translated = _translate(exc)
        if translated is exc:
            raise
        raise translated from exc


async def _begin_immediate(db: aiosqlite.Connection) -> None:
    """BEGIN IMMEDIATE; while another connection holds the write lock past busy_timeout, retry.

    Only the BEGIN is retried: nothing has happened yet, so trying again is always safe. The
    bound is busy_timeout × (BUSY_RETRIES + 1) plus about BUSY_BACKOFF_S × 2^BUSY_RETRIES.
    """
    for attempt in range(BUSY_RETRIES + 1):
        try:
            await db.execute("BEGIN IMMEDIATE")
            return
        except aiosqlite.OperationalError as exc:
            if _sqlite_code(exc) not in (_SQLITE_BUSY, _SQLITE_LOCKED) or attempt == BUSY_RETRIES:
                raise
            await asyncio.sleep(BUSY_BACKOFF_S * 2**attempt * (0.5 + random.random()))


def _private_file(path: Path) -> None:
    """Create the database file 0600 (or tighten it); SQLite gives -wal/-shm the file's mode.

    Created before SQLite opens it, so the file never exists with a wider mode. Blocking: run
    in a thread.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # read-only file or directory: SQLite's own open reports it (StoreError)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with suppress(OSError):
            if side.stat().st_mode & 0o077:
                side.chmod(0o600)


def _private_dir(path: Path) -> None:
    """Create the database's directory (and missing parents) 0700; existing ones stay as they are."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        with suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask


# Columns selected for each record.
_MERCHANT_COLS = "id, created_at, language, shop_name, category, tone, signature, policy, reply_language"
_REVIEW_COLS = (
    "id, merchant_id, text, label, p_negative, p_neutral, p_positive, aspects, aspect_polarity, "
    "source, created_at, corrected_label"
)
_GENERATION_COLS = (
    "id, merchant_id, kind, review_id, input_text, output_text, model_id, adapter_id, params, "
    "findings, prompt_tokens, new_tokens, seconds, created_at"
)
_FEEDBACK_COLS = "id, generation_id, merchant_id, action, edited_text, created_at"


# ---------------------------------------------------------------------------------------------
# The store


class Store:
    """The SQLite store. `await open()` / `await close()`, or `async with Store(cfg) as store`."""

    def __init__(self, cfg: StorageConfig, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._cfg = cfg
        self._clock = clock  # injectable for tests; must return aware UTC datetimes
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return str(self._cfg.path)

    @property
    def is_open(self) -> bool:
        return self._db is not None

    async def open(self) -> None:
        """Create the directory, connect, set the pragmas, apply pending migrations."""
        async with self._lock:
            if self._db is not None:
                raise StoreError("store is already open")
            path = self._cfg.path
            if str(path) != ":memory:":
                try:
                    await asyncio.to_thread(_private_dir, path.parent)
                    await asyncio.to_thread(_private_file, path)
                except OSError as exc:
                    raise StoreError(f"cannot create {path}: {exc}") from exc
            # isolation_level=None: sqlite3 issues no implicit BEGIN/COMMIT; _transaction() does.
            try:
                db = await aiosqlite.connect(
                    path, isolation_level=None, timeout=self._cfg.busy_timeout_ms / 1000
                )
            except aiosqlite.Error as exc:
                raise StoreError(f"cannot open {path}: {exc}") from exc
            try:
                db.row_factory = aiosqlite.Row
                await db.execute(f"PRAGMA busy_timeout = {int(self._cfg.busy_timeout_ms)}")
                await db.execute("PRAGMA journal_mode = WAL")
                await db.execute("PRAGMA foreign_keys = ON")
                # FULL: a commit is on disk before it returns (NORMAL in WAL mode may lose the last
                # commits on power loss); costs one fsync per write, see README: Durability.
                await db.execute("PRAGMA synchronous = FULL")
                await self._migrate(db)
            except BaseException as exc:
                await db.close()
                translated = _translate(exc)
                if translated is exc:
                    raise
                raise translated from exc
            self._db = db

    async def close(self) -> None:
        """Close the connection (after the operation in progress). Safe to call twice."""
        async with self._lock:
            db, self._db = self._db, None
            if db is not None:
                await db.close()

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """The database's `PRAGMA user_version` (LATEST_VERSION once open)."""
        async with self._read() as db:
            return await _user_version(db)

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        found = await _user_version(db)
        if found > LATEST_VERSION:
            raise SchemaTooNew(found, LATEST_VERSION, self.path)
        for version, sql in MIGRATIONS:
            if version <= found:
                continue
            async with _transaction(db):
                # Re-read under the write lock: another process may have migrated meanwhile.
                current = await _user_version(db)
                if current > LATEST_VERSION:
                    raise SchemaTooNew(current, LATEST_VERSION, self.path)
                if current >= version:
                    continue
                for statement in _statements(sql):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {int(version)}")

    # -- transactions ------------------------------------------------------------------------

    def _require_open(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("store is not open (call `await store.open()` first)")
        return self._db

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the store's connection, serialised with every other use.

        Not re-entrant: never call a public method (or `_tx`/`_read`) inside the block.
        """
        async with self._lock:
            db = self._require_open()
            async with _transaction(db):
                yield db

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Serialised read access (waits for any transaction of this store to finish)."""
        async with self._lock:
            db = self._require_open()
            try:
                yield db
            except aiosqlite.Error as exc:
                raise _translate(exc) from exc

    async def _require_merchant(self, db: aiosqlite.Connection, merchant_id: int) -> None:
        async with db.execute("SELECT 1 FROM merchants WHERE id = ?", (merchant_id,)) as cur:
            if await cur.fetchone() is None:
                raise NotFound(f"merchant {merchant_id} does not exist")

    # -- merchants and profiles --------------------------------------------------------------

    async def get_or_create_merchant(self, merchant_id: int, language: Language = "zh") -> Merchant:
        """The merchant, created with default profile and `language` if new."""
        merchant_id = _check_id("merchant_id", merchant_id)
        language = cast(Language, _check_choice("language", language, UI_LANGUAGES))
        p = ShopProfile()
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO merchants (id, created_at, language, shop_name, category, tone,"
                " signature, policy, reply_language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (
                    merchant_id,
                    _iso(self._clock()),
                    language,
                    p.name,
                    p.category,
                    p.tone,
                    p.signature,
                    p.policy,
                    p.language,
                ),
            )
            async with db.execute(
                f"SELECT {_MERCHANT_COLS} FROM merchants WHERE id = ?", (merchant_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _merchant(row)

    async def get_merchant(self, merchant_id: int) -> Merchant | None:
        async with (
            self._read() as db,
            db.execute(f"SELECT {_MERCHANT_COLS} FROM merchants WHERE id = ?", (merchant_id,)) as cur,
        ):
            row = await cur.fetchone()
        return None if row is None else _merchant(row)

    async def get_profile(self, merchant_id: int) -> ShopProfile:
        """The merchant's shop profile; `NotFound` if the merchant does not exist."""
        merchant = await self.get_merchant(merchant_id)
        if merchant is None:
            raise NotFound(f"merchant {merchant_id} does not exist")
        return merchant.profile

    @staticmethod
    def _validate_profile(fields: Mapping[str, object]) -> dict[str, object]:
        """ShopProfile field names (or column aliases) -> validated {column: value}."""
        out: dict[str, object] = {}
        for given, value in fields.items():
            name = _PROFILE_ALIASES.get(given, given)
            if name == "tone":
                out["tone"] = _check_choice(given, value, TONES)
            elif name == "language":
                out["reply_language"] = _check_choice(given, value, REPLY_LANGUAGES)
            elif name in _TEXT_FIELDS:
                column, limit, multiline, may_be_empty = _TEXT_FIELDS[name]
                if not isinstance(value, str):
                    raise InvalidValue(given, f"must be text (got {type(value).__name__})")
                text = value.strip()
                if not text and not may_be_empty:
                    raise InvalidValue(given, "must not be empty")
                if len(text) > limit:
                    raise InvalidValue(given, f"at most {limit} characters (got {len(text)})")
                if not multiline and ("\n" in text or "\r" in text):
                    raise InvalidValue(given, "must be a single line")
                if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
                    raise InvalidValue(given, "contains control characters")
                out[column] = text
            else:
                raise InvalidValue(
                    given, f"unknown profile field (expected one of {', '.join(PROFILE_FIELDS)})"
                )
        return out

    async def update_profile(self, merchant_id: int, **fields: object) -> ShopProfile:
        """Change some profile fields; returns the new profile.

        Field names are those of `ShopProfile` (name, category, tone, signature, policy,
        language = reply language zh/en/auto); the column names `shop_name` and
        `reply_language` are accepted too. Text is stripped. Raises `InvalidValue` naming the
        field, or `NotFound`.
        """
        values = self._validate_profile(fields)
        if "policy" in values:
            values["policy_parsed"] = _json(parse_policy(str(values["policy"])).to_json(), "policy")
        async with self._tx() as db:
            await self._require_merchant(db, merchant_id)
            if values:
                assignments = ", ".join(f"{column} = ?" for column in values)
                await db.execute(
                    f"UPDATE merchants SET {assignments} WHERE id = ?", (*values.values(), merchant_id)
                )
            async with db.execute(
                f"SELECT {_MERCHANT_COLS} FROM merchants WHERE id = ?", (merchant_id,)
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _profile(row)

    async def parsed_policy(self, merchant_id: int) -> ParsedPolicy:
        """The merchant's policy as parsed when it was set (parsed now if it never was)."""
        async with (
            self._read() as db,
            db.execute("SELECT policy, policy_parsed FROM merchants WHERE id = ?", (merchant_id,)) as cur,
        ):
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"merchant {merchant_id} does not exist")
        if row["policy_parsed"] is not None:
            with suppress(InvalidPolicyJSON):
                stored = ParsedPolicy.from_json(json.loads(row["policy_parsed"]))
                if stored.text == row["policy"]:
                    return stored
        return parse_policy(row["policy"])

    async def set_language(self, merchant_id: int, language: Language) -> None:
        """Set the merchant's UI language (zh/en)."""
        _check_choice("language", language, UI_LANGUAGES)
        async with self._tx() as db:
            async with db.execute(
                "UPDATE merchants SET language = ? WHERE id = ?", (language, merchant_id)
            ) as cur:
                changed = cur.rowcount
            if changed == 0:
                raise NotFound(f"merchant {merchant_id} does not exist")

    # -- reviews -----------------------------------------------------------------------------

    async def add_reviews(
        self, merchant_id: int, items: Iterable[tuple[str, Sentiment]], source: Source
    ) -> list[int]:
        """Store classified reviews in one transaction; their ids, in order. All or nothing."""
        _check_choice("source", source, SOURCES)
        rows = [(*_review_row(merchant_id, text, sentiment), source) for text, sentiment in items]
        ids: list[int] = []
        async with self._tx() as db:
            await self._require_merchant(db, merchant_id)
            now = _iso(self._clock())
            for row in rows:
                async with db.execute(
                    "INSERT INTO reviews (merchant_id, text, label, p_negative, p_neutral, p_positive,"
                    " aspects, aspect_polarity, source, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (*row, now),
                ) as cur:
                    inserted = await cur.fetchone()
                assert inserted is not None
                ids.append(int(inserted[0]))
        return ids

    async def correct_label(self, merchant_id: int, review_id: int, label: Label) -> None:
        """Record the merchant's own label for one of their reviews."""
        _check_choice("label", label, LABELS)
        async with self._tx() as db:
            async with db.execute(
                "UPDATE reviews SET corrected_label = ? WHERE id = ? AND merchant_id = ?",
                (label, review_id, merchant_id),
            ) as cur:
                changed = cur.rowcount
            if changed == 0:
                raise NotFound(f"review {review_id} not found")

    async def get_review(self, merchant_id: int, review_id: int) -> StoredReview | None:
        async with (
            self._read() as db,
            db.execute(
                f"SELECT {_REVIEW_COLS} FROM reviews WHERE id = ? AND merchant_id = ?",
                (review_id, merchant_id),
            ) as cur,
        ):
            row = await cur.fetchone()
        return None if row is None else _review(row)

    async def recent_reviews(
        self, merchant_id: int, limit: int = 50, since: datetime | None = None
    ) -> list[StoredReview]:
        """The merchant's reviews, newest first; only those stored at or after `since`."""
        if limit < 0:
            raise InvalidValue("limit", "must not be negative")
        since_text = _iso(since) if since is not None else ""
        async with (
            self._read() as db,
            db.execute(
                f"SELECT {_REVIEW_COLS} FROM reviews WHERE merchant_id = ? AND created_at >= ?"
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (merchant_id, since_text, limit),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_review(r) for r in rows]

    # -- uploads: a file's reviews are stored once, however often it is sent ----------------

    async def add_upload_reviews(
        self,
        merchant_id: int,
        file_key: str,
        name: str,
        row_count: int,
        offset: int,
        items: Sequence[tuple[str, Sentiment]],
    ) -> int:
        """Store reviews `offset`.. of an uploaded file, unless they were stored before; how many
        were stored now. One transaction per call, with the file's progress in `uploads`.

        `file_key` is Telegram's `file_unique_id` (the same for the same file sent again), so a
        retry stores only what an interrupted first try did not: nothing twice, nothing lost.
        """
        if not 1 <= len(file_key) <= 128:
            raise InvalidValue("file_key", "must be 1-128 characters")
        if offset < 0:
            raise InvalidValue("offset", "must not be negative")
        rows = _upload_review_rows(merchant_id, items)
        async with self._tx() as db:
            await self._require_merchant(db, merchant_id)
            now = _iso(self._clock())
            await db.execute(
                "INSERT INTO uploads (merchant_id, file_key, name, row_count, review_count, created_at)"
                " VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING",
                (merchant_id, file_key, name, row_count, now),
            )
            async with db.execute(
                "SELECT review_count FROM uploads WHERE merchant_id = ? AND file_key = ?",
                (merchant_id, file_key),
            ) as cur:
                found = await cur.fetchone()
            assert found is not None
            todo = rows[max(0, int(found[0]) - offset) :]
            if not todo:
                return 0
            await db.executemany(
                "INSERT INTO reviews (merchant_id, text, label, p_negative, p_neutral, p_positive,"
                " aspects, aspect_polarity, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'file', ?)",
                [(*row, now) for row in todo],
            )
            await db.execute(
                "UPDATE uploads SET review_count = max(review_count, ?)"
                " WHERE merchant_id = ? AND file_key = ?",
                (offset + len(rows), merchant_id, file_key),
            )
        return len(todo)

    async def get_upload(self, merchant_id: int, file_key: str) -> Upload | None:
        async with (
            self._read() as db,
            db.execute(
                "SELECT file_key, name, row_count, review_count, created_at FROM uploads"
                " WHERE merchant_id = ? AND file_key = ?",
                (merchant_id, file_key),
            ) as cur,
        ):
            row = await cur.fetchone()
        if row is None:
            return None
        return Upload(str(row[0]), str(row[1]), int(row[2]), int(row[3]), _parse_ts(str(row[4])))

    # -- generations and feedback ------------------------------------------------------------

    async def add_generation(
        self, merchant_id: int, draft: Draft, input_text: str, review_id: int | None = None
    ) -> int:
        """Store a generated draft; `review_id`, if given, must be one of this merchant's."""
        _check_choice("kind", draft.kind, DRAFT_KINDS)
        params = _json(draft.params, "params")
        findings = _json([asdict(f) for f in draft.findings], "findings")
        async with self._tx() as db:
            await self._require_merchant(db, merchant_id)
            if review_id is not None:
                async with db.execute(
                    "SELECT 1 FROM reviews WHERE id = ? AND merchant_id = ?", (review_id, merchant_id)
                ) as cur:
                    if await cur.fetchone() is None:
                        raise NotFound(f"review {review_id} not found")
            async with db.execute(
                "INSERT INTO generations (merchant_id, kind, review_id, input_text, output_text,"
                " model_id, adapter_id, params, findings, prompt_tokens, new_tokens, seconds,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    merchant_id,
                    draft.kind,
                    review_id,
                    input_text,
                    draft.text,
                    draft.model_id,
                    draft.adapter_id,
                    params,
                    findings,
                    draft.prompt_tokens,
                    draft.new_tokens,
                    draft.seconds,
                    _iso(self._clock()),
                ),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def get_generation(self, merchant_id: int, generation_id: int) -> Generation | None:
        """The generation, or None if it does not exist or belongs to another merchant."""
        async with (
            self._read() as db,
            db.execute(
                f"SELECT {_GENERATION_COLS} FROM generations WHERE id = ? AND merchant_id = ?",
                (generation_id, merchant_id),
            ) as cur,
        ):
            row = await cur.fetchone()
        return None if row is None else _generation(row)

    async def history(
        self, merchant_id: int, limit: int = 20, kind: DraftKind | None = None
    ) -> list[Generation]:
        """The merchant's generations, newest first (optionally of one kind)."""
        if limit < 0:
            raise InvalidValue("limit", "must not be negative")
        if kind is not None:
            _check_choice("kind", kind, DRAFT_KINDS)
        async with (
            self._read() as db,
            db.execute(
                f"SELECT {_GENERATION_COLS} FROM generations"
                " WHERE merchant_id = ? AND (? IS NULL OR kind = ?)"
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (merchant_id, kind, kind, limit),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_generation(r) for r in rows]

    async def add_feedback(
        self,
        merchant_id: int,
        generation_id: int,
        action: FeedbackAction,
        edited_text: str | None = None,
    ) -> int:
        """Record what the merchant did with a draft. `edited_text` is required for (only) edits.

        Raises `NotFound` if the generation is not this merchant's, `DraftHasErrors` when
        accepting a draft whose checks found an error (it has to be edited or rejected).
        """
        _check_choice("action", action, FEEDBACK_ACTIONS)
        if action == "edited":
            if edited_text is None or not edited_text.strip():
                raise InvalidValue("edited_text", "required (and not empty) when action is 'edited'")
        elif edited_text is not None:
            raise InvalidValue("edited_text", f"only allowed when action is 'edited' (not {action!r})")
        async with self._tx() as db:
            if action == "accepted":
                await self._refuse_errors(db, merchant_id, generation_id)
            # The SELECT enforces ownership: no row unless the generation is this merchant's.
            async with db.execute(
                "INSERT INTO feedback (generation_id, merchant_id, action, edited_text, created_at)"
                " SELECT id, merchant_id, ?, ?, ? FROM generations WHERE id = ? AND merchant_id = ?"
                " RETURNING id",
                (action, edited_text, _iso(self._clock()), generation_id, merchant_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFound(f"generation {generation_id} not found")
        return int(row[0])

    @staticmethod
    async def _refuse_errors(db: aiosqlite.Connection, merchant_id: int, generation_id: int) -> None:
        async with db.execute(
            "SELECT findings FROM generations WHERE id = ? AND merchant_id = ?", (generation_id, merchant_id)
        ) as cur:
            row = await cur.fetchone()
        findings = [_finding(f) for f in json.loads(row["findings"])] if row is not None else []
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise DraftHasErrors(generation_id, errors)

    async def feedback_for(self, merchant_id: int, generation_id: int) -> list[Feedback]:
        """Feedback on one of the merchant's generations, oldest first."""
        async with (
            self._read() as db,
            db.execute(
                f"SELECT {_FEEDBACK_COLS} FROM feedback WHERE generation_id = ? AND merchant_id = ?"
                " ORDER BY id",
                (generation_id, merchant_id),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [_feedback(r) for r in rows]

    async def export_feedback(self, merchant_id: int) -> list[dict[str, Any]]:
        """Training examples from this merchant's feedback, ready to write as JSONL.

        Replies whose latest feedback is 'accepted' or 'edited' become
        {"task": "reply", "review", "input", "label", "tone", "profile", "response",
        "action", "generation_id"}; "response" is the edited text for edits, "label" the
        merchant's correction if any, "profile" the current shop profile. Corrected labels
        become {"task": "label", "text", "label", "predicted", "review_id"}.
        Replies come first (oldest first), then labels. A reply whose response the checks find
        an error in today (a stored error finding, a promise the current policy does not license,
        a request to delete a review ...) is left out: training must not learn it.
        """
        async with self._read() as db:
            async with db.execute(
                f"SELECT {_MERCHANT_COLS} FROM merchants WHERE id = ?", (merchant_id,)
            ) as cur:
                merchant_row = await cur.fetchone()
            if merchant_row is None:
                raise NotFound(f"merchant {merchant_id} does not exist")
            async with db.execute(
                "SELECT g.id AS generation_id, g.input_text, g.output_text, g.params, g.findings,"
                " f.action, f.edited_text,"
                " r.text AS review_text, coalesce(r.corrected_label, r.label) AS review_label"
                " FROM generations AS g"
                " JOIN feedback AS f ON f.id = (SELECT max(id) FROM feedback"
                "     WHERE generation_id = g.id AND merchant_id = g.merchant_id)"
                " LEFT JOIN reviews AS r ON r.id = g.review_id AND r.merchant_id = g.merchant_id"
                " WHERE g.merchant_id = ? AND g.kind = 'reply' AND f.action IN ('accepted', 'edited')"
                " ORDER BY g.id",
                (merchant_id,),
            ) as cur:
                replies = await cur.fetchall()
            async with db.execute(
                "SELECT id, text, label, corrected_label FROM reviews"
                " WHERE merchant_id = ? AND corrected_label IS NOT NULL ORDER BY id",
                (merchant_id,),
            ) as cur:
                labels = await cur.fetchall()
        profile = _profile(merchant_row)
        out: list[dict[str, Any]] = []
        for r in replies:
            response = r["edited_text"] if r["action"] == "edited" else r["output_text"]
            review = r["review_text"] if r["review_text"] is not None else r["input_text"]
            if _has_errors(response, review, profile, r["findings"] if r["action"] == "accepted" else "[]"):
                continue
            params = json.loads(r["params"])
            label = r["review_label"] if r["review_label"] is not None else params.get("label")
            tone = params.get("tone") if params.get("tone") in TONES else profile.tone
            out.append(
                {
                    "task": "reply",
                    "review": review,
                    "input": r["input_text"],
                    "label": label,
                    "tone": tone,
                    "profile": asdict(profile),
                    "response": response,
                    "action": r["action"],
                    "generation_id": int(r["generation_id"]),
                }
            )
        for r in labels:
            out.append(
                {
                    "task": "label",
                    "text": r["text"],
                    "label": r["corrected_label"],
                    "predicted": r["label"],
                    "review_id": int(r["id"]),
                }
            )
        return out

    # -- usage and statistics ----------------------------------------------------------------

    async def count_usage(self, merchant_id: int, name: str, n: int = 1) -> int:
        """Add `n` to today's (UTC) counter `name` for the merchant; returns the new count."""
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_COUNTER_NAME:
            raise InvalidValue("name", f"must be 1..{MAX_COUNTER_NAME} characters")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidValue("n", f"must be a non-negative integer (got {n!r})")
        day = _day(None, self._clock())
        async with self._tx() as db:
            await self._require_merchant(db, merchant_id)
            async with db.execute(
                "INSERT INTO usage (merchant_id, day, name, count) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (merchant_id, day, name) DO UPDATE SET count = count + excluded.count"
                " RETURNING count",
                (merchant_id, day, name, n),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def usage_summary(
        self, day: date | str | None = None, merchant_id: int | None = None
    ) -> dict[str, int]:
        """Counter totals for one UTC day (default today), over all merchants or just one."""
        day_text = _day(day, self._clock())
        async with (
            self._read() as db,
            db.execute(
                "SELECT name, sum(count) AS total FROM usage"
                " WHERE day = ? AND (? IS NULL OR merchant_id = ?) GROUP BY name ORDER BY name",
                (day_text, merchant_id, merchant_id),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return {str(r["name"]): int(r["total"]) for r in rows}

    # -- access ------------------------------------------------------------------------------

    async def allow_user(self, user_id: int, added_by: int) -> bool:
        """Add a user to the allowlist; False if they were on it already."""
        user_id = _check_id("user_id", user_id)
        added_by = _check_id("added_by", added_by)
        async with (
            self._tx() as db,
            db.execute(
                "INSERT INTO allowed_users (user_id, added_by, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO NOTHING",
                (user_id, added_by, _iso(self._clock())),
            ) as cur,
        ):
            return cur.rowcount > 0

    async def allowed_users(self) -> set[int]:
        """The user ids admins have let in (the settings' allowlist is not stored here)."""
        async with self._read() as db, db.execute("SELECT user_id FROM allowed_users") as cur:
            rows = await cur.fetchall()
        return {int(r[0]) for r in rows}

    async def deny_user(self, user_id: int) -> bool:
        """Take a user off the stored allowlist and the stored admins; False if on neither."""
        user_id = _check_id("user_id", user_id)
        async with self._tx() as db:
            async with db.execute("DELETE FROM allowed_users WHERE user_id = ?", (user_id,)) as cur:
                removed = cur.rowcount
            async with db.execute("DELETE FROM admins WHERE user_id = ?", (user_id,)) as cur:
                removed += cur.rowcount
        return removed > 0

    async def add_admin(self, user_id: int) -> bool:
        """Make a user admin (the one who sent the claim code); False if they were already."""
        user_id = _check_id("user_id", user_id)
        async with (
            self._tx() as db,
            db.execute(
                "INSERT INTO admins (user_id, created_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
                (user_id, _iso(self._clock())),
            ) as cur,
        ):
            return cur.rowcount > 0

    async def admins(self) -> set[int]:
        """The stored admins (the settings' admin_user_ids are not stored here)."""
        async with self._read() as db, db.execute("SELECT user_id FROM admins") as cur:
            rows = await cur.fetchall()
        return {int(r[0]) for r in rows}

    async def stats(self) -> dict[str, int]:
        """Row counts: merchants, reviews, generations, feedback."""
        async with (
            self._read() as db,
            db.execute(
                "SELECT (SELECT count(*) FROM merchants) AS merchants,"
                " (SELECT count(*) FROM reviews) AS reviews,"
                " (SELECT count(*) FROM generations) AS generations,"
                " (SELECT count(*) FROM feedback) AS feedback"
            ) as cur,
        ):
            row = await cur.fetchone()
        assert row is not None
        return {key: int(row[key]) for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
