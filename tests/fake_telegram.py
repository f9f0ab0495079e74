"""A Telegram Bot API server written for the tests: the real python-telegram-bot runs against it.

`FakeTelegram` listens on 127.0.0.1 (a free port) inside the test's event loop and speaks the parts
of the Bot API the bot uses, the way PTB 22 calls them: ``POST {base_url}{token}/{method}`` with
form-urlencoded or multipart bodies whose JSON-typed fields are JSON strings. Files are served under
``/file/bot{token}/{file_path}``. Everything the bot does is recorded; updates are scripted.

    from tests.fake_telegram import FakeTelegram, polling_app

    async def test_review_card() -> None:
        async with FakeTelegram() as tg:
            app = tg.builder().build()                 # token, base_url and base_file_url set
            add_handlers(app)                          # or build the real bot with tg.base_url
            async with polling_app(app):               # initialize, start, poll; stop on exit
                tg.user_message(42, "/help")           # private chat 42, language zh-hans
                [call] = await tg.wait_for_calls("sendMessage", chat_id=42)
                assert call.params["parse_mode"] == "HTML"
                tg.user_message(42, "质量很差，再也不买了")
                card = await tg.wait_for_message(42, "差评")   # current text, HTML parsed
                tg.press_button(42, card, card.button_data("接受"))
                await tg.wait_for_calls("answerCallbackQuery")

What it checks the way Telegram does (so the bot's bugs show up here and not in production):
HTML parse mode is parsed into plain text and entities (UTF-16 offsets), and a stray ``<`` or an
unknown tag is a 400 "can't parse entities"; texts over 4096 and captions over 1024 UTF-16 units,
empty texts, callback data over 64 bytes, edits that change nothing ("message is not modified"),
edits of unknown messages, a second answer to one callback query and sends to unknown chats are
400s; wrong tokens are 401; unknown methods are 404 "Not Found: method not found"; a second
concurrent ``getUpdates`` terminates the first with 409, and so does polling while a webhook is
set. Other parse modes are stored as sent, without entities.

Recording: `calls` (every request as a `Call`, including failed ones), `messages` / `last_message`
/ `sent_texts` (per chat, current text after edits, HTML already parsed into what the user sees),
`my_commands`, `webhook_deliveries`. Waiting: `wait_for`, `wait_for_calls`, `wait_for_message`;
they raise `TimeoutError` listing the last calls, so a test never sleeps.

Scripting: `user`, `user_message`, `user_document`, `press_button`, `enqueue` (raw or forged
updates), `register_file`, `block` / `unblock`. `getUpdates` follows Telegram's offset rules:
updates stay pending until a later call's offset confirms them, so a poll the client gave up on
loses nothing. With a webhook set (``setWebhook`` to a loopback http URL) updates are POSTed to
it instead, one at a time, with the secret-token header.

Faults: `fail_next(method, kind, count, chat_id=...)` with kind "429" (RetryAfter; PTB 22 warns
when it builds one unless ``PTB_TIMEDELTA=true`` is set, so tests using it set that variable),
"500"/"502" (NetworkError), "timeout" (held until the client gives up, then dropped: TimedOut),
"disconnect" (closed without a reply: NetworkError), "not_modified" (BadRequest) and "blocked"
(Forbidden). Faulted calls are recorded with `Call.fault` set and do nothing else. File downloads
(the GET under ``/file/bot{token}/``) are recorded as calls of method ``"file"`` (params:
``file_path``; result: the bytes sent), so ``fail_next("file", "disconnect")`` drops a download.
A faulted ``getUpdates`` confirms nothing: its updates stay pending for the next poll, as with a
reply Telegram sent but the connection lost.

Bugs in this module are not swallowed: they answer 500 and `FakeTelegram.__aexit__` raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import itertools
import json
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from telegram.ext import Application, ApplicationBuilder

JSONDict = dict[str, Any]
Files = dict[str, "UploadedFile"]  # multipart part name -> file
FaultKind = Literal["429", "500", "502", "timeout", "disconnect", "not_modified", "blocked"]
_T = TypeVar("_T")

DEFAULT_TOKEN = "123456:TEST-TOKEN-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
MAX_TEXT_LENGTH = 4096  # telegram.constants.MessageLimit.MAX_TEXT_LENGTH
MAX_CAPTION_LENGTH = 1024  # MessageLimit.CAPTION_LENGTH
MAX_CALLBACK_DATA = 64  # bytes, InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # the cloud Bot API refuses getFile above 20 MB
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)
_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 64 * 1024 * 1024

# Form fields that are plain strings even when they look like JSON ("123" stays "123").
_STRING_FIELDS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "file_id", "url", "secret_token",
        "language_code", "action", "inline_message_id", "description", "short_description", "name",
        "ip_address", "business_connection_id", "message_effect_id", "emoji", "title",
    }
)  # fmt: skip


# --------------------------------------------------------------------------- value objects


@dataclass
class UploadedFile:
    """A file part of a multipart request (or a file registered by the test)."""

    filename: str
    data: bytes
    mime_type: str


@dataclass
class Call:
    """One request the bot made; `params` are decoded (JSON fields parsed, ``chat_id`` an int)."""

    method: str
    params: JSONDict
    files: dict[str, UploadedFile]
    time: float  # time.monotonic() when the request arrived
    fault: str | None = None  # the injected fault kind, if one answered this call
    error: str | None = None  # the error description returned (faults and validation errors)
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.fault is None and self.error is None


@dataclass
class InlineButton:
    text: str
    callback_data: str | None
    url: str | None


@dataclass
class StoredMessage:
    """A message in a chat as Telegram holds it: current content after edits."""

    chat_id: int
    message_id: int
    sender: JSONDict  # the Bot API User who sent it
    date: int
    text: str | None = None  # plain text as shown (HTML parsed)
    entities: list[JSONDict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSONDict] = field(default_factory=list)
    source: str | None = None  # text or caption exactly as sent (e.g. with HTML tags)
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None  # inline keyboard, echoed back like Telegram does
    reply_keyboard: JSONDict | None = None  # reply keyboard / remove / force reply (never echoed)
    document: JSONDict | None = None
    photo: list[JSONDict] | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    history: list[str | None] = field(default_factory=list)  # earlier texts/captions, oldest first
    deleted: bool = False

    @property
    def from_bot(self) -> bool:
        return bool(self.sender.get("is_bot"))

    @property
    def shown(self) -> str | None:
        """The text, or the caption of a document or photo."""
        return self.text if self.text is not None else self.caption

    def buttons(self) -> list[InlineButton]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [
            InlineButton(b.get("text", ""), b.get("callback_data"), b.get("url")) for row in rows for b in row
        ]

    def button_data(self, label: str) -> str:
        """Callback data of the button whose label is `label`, or the only one containing it."""
        buttons = [b for b in self.buttons() if b.callback_data is not None]
        exact = [b for b in buttons if b.text == label]
        found = exact or [b for b in buttons if label in b.text]
        if len(found) != 1:
            labels = [b.text for b in buttons]
            raise LookupError(f"{len(found)} buttons match {label!r} on message {self.message_id}: {labels}")
        data = found[0].callback_data
        assert data is not None  # filtered above
        return data


@dataclass
class WebhookDelivery:
    update_id: int
    status: int | None  # HTTP status, None when the connection failed
    error: str | None
    time: float


@dataclass
class _Fault:
    method: str
    kind: FaultKind
    remaining: int
    chat_id: int | None
    retry_after: float
    hold: float
    after: int = 0  # matching calls still let through before the first fault


@dataclass
class _StoredFile:
    file_id: str
    unique_id: str
    path: str
    upload: UploadedFile


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad_request(what: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {what}")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- HTML parse mode

_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    r"(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)\s*(/?)>"
)
_ATTR_RE = re.compile(r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "code": "code", "pre": "pre", "blockquote": "blockquote",
}  # fmt: skip
_HTML_TAGS = {*_SIMPLE_TAGS, "span", "a", "tg-emoji"}


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Telegram's HTML parse mode: the plain text and its entities, or a 400 like Telegram's."""

    def fail(what: str) -> _ApiError:
        return _bad_request(f"can't parse entities: {what}")

    plain: list[str] = []
    plain_len = 0  # UTF-16 units so far
    stack: list[tuple[str, dict[str, str], int]] = []  # (tag, attrs, start offset)
    entities: list[JSONDict] = []
    pos = 0
    while pos < len(source):
        lt = source.find("<", pos)
        segment = html.unescape(source[pos : lt if lt >= 0 else len(source)])
        plain.append(segment)
        plain_len += utf16_len(segment)
        if lt < 0:
            break
        offset = len(source[:lt].encode())
        match = _TAG_RE.match(source, lt)
        if match is None:
            word = re.match(r"/?[^\s<>/]*", source[lt + 1 :])
            raise fail(f'Unsupported start tag "{word.group(0) if word else ""}" at byte offset {offset}')
        closing, tag, raw_attrs, self_closing = match.groups()
        tag = tag.lower()
        pos = match.end()
        if closing:
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {offset}")
            open_tag, attrs, start = stack.pop()
            if open_tag != tag:
                raise fail(
                    f'Unmatched end tag at byte offset {offset}, expected "</{open_tag}>", found "</{tag}>"'
                )
            entity = _entity_for(open_tag, attrs, start, plain_len - start)
            if entity is not None and open_tag == "code" and stack and stack[-1][0] == "pre":
                stack[-1][1].setdefault("language", attrs.get("class", "").removeprefix("language-"))
            elif entity is not None and entity["length"] > 0:
                entities.append(entity)
            continue
        if tag not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{tag}" at byte offset {offset}')
        attrs = {m.group(1).lower(): _attr_value(m) for m in _ATTR_RE.finditer(raw_attrs)}
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise fail(f'Unsupported start tag "span" at byte offset {offset}')
        if not self_closing:
            stack.append((tag, {k: html.unescape(v) for k, v in attrs.items()}, plain_len))
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _attr_value(match: re.Match[str]) -> str:
    return next((g for g in match.groups()[1:] if g is not None), "")


def _entity_for(tag: str, attrs: dict[str, str], offset: int, length: int) -> JSONDict | None:
    entity: JSONDict = {"offset": offset, "length": length}
    if tag == "a":
        if not attrs.get("href"):
            return None
        entity.update(type="text_link", url=attrs["href"])
    elif tag == "span":
        entity["type"] = "spoiler"
    elif tag == "tg-emoji":
        entity.update(type="custom_emoji", custom_emoji_id=attrs.get("emoji-id", ""))
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    else:
        entity["type"] = _SIMPLE_TAGS[tag]
        if tag == "pre" and attrs.get("language"):
            entity["language"] = attrs["language"]
    return entity


# --------------------------------------------------------------------------- HTTP/1.1 layer


@dataclass
class _HttpRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class _HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _parse_http_request(buf: bytearray) -> tuple[_HttpRequest, int] | None:
    """One complete request from the front of `buf` and the bytes it used, or None if incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEADER_BYTES:
            raise _HttpError(431)
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _HttpError(400)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _HttpError(400)
        headers[name.strip().lower()] = value.strip()
    if parts[2] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    pos = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            try:
                size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
            except ValueError:
                raise _HttpError(400) from None
            pos = line_end + 2
            if size == 0:
                trailer_end = pos + 2 if buf[pos : pos + 2] == b"\r\n" else buf.find(b"\r\n\r\n", pos) + 4
                if trailer_end < 4 or len(buf) < trailer_end:
                    return None
                return _HttpRequest(parts[0], parts[1], headers, bytes(body)), trailer_end
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            pos += size + 2
            if len(body) > _MAX_BODY_BYTES:
                raise _HttpError(413)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _HttpError(400) from None
    if length > _MAX_BODY_BYTES:
        raise _HttpError(413)
    if len(buf) < pos + length:
        return None
    return _HttpRequest(parts[0], parts[1], headers, bytes(buf[pos : pos + length])), pos + length


def _http_response(status: int, body: bytes, content_type: str, keep_alive: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + body


_FORM_ESCAPES = re.compile(r"%(22|0[0-9A-F]|1[0-9ACDEF])")  # httpx's HTML5 escapes in part headers


def _part_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for m in re.finditer(r";\s*([\w*-]+)=(?:\"((?:[^\"\\]|\\.)*)\"|([^;\s]*))", header):
        name, quoted, bare = m.group(1).lower(), m.group(2), m.group(3)
        if quoted is not None:
            value = _FORM_ESCAPES.sub(lambda e: chr(int(e.group(1), 16)), quoted).replace("\\\\", "\\")
        else:
            value = bare
        if name.endswith("*"):  # RFC 5987: filename*=UTF-8''%E8%AF%84...
            name, value = name[:-1], urllib.parse.unquote(value.split("'", 2)[-1])
        params[name] = value
    return params


def _parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        head, sep, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise _bad_request("can't parse multipart part")
        content = content.removesuffix(b"\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in head.decode("utf-8", "replace").split("\r\n"))
        }
        params = _part_params(headers.get("content-disposition", ""))
        name = params.get("name", "")
        if "filename" in params:
            mime = headers.get("content-type", "application/octet-stream")
            files[name] = UploadedFile(params["filename"], content, mime)
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


def _decode_field(name: str, value: str) -> Any:
    if name in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class _Connection(asyncio.Protocol):
    """One client connection: requests are served one after another (keep-alive, no pipelining)."""

    def __init__(self, server: FakeTelegram) -> None:
        self._server = server
        self._buf = bytearray()
        self._data = asyncio.Event()
        self.lost = False
        self.busy = False  # between reading a request and writing its answer
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._server._connections.add(self)
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._data.set()

    def eof_received(self) -> bool | None:
        self.lost = True  # the client closed its side; it will not read an answer either
        self._data.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._data.set()
        self._server._connections.discard(self)
        self._server._notify()

    def close(self) -> None:
        self.lost = True
        self._data.set()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def _serve(self) -> None:
        assert self.transport is not None
        while not self.lost:
            try:
                parsed = _parse_http_request(self._buf)
            except _HttpError as exc:
                self.transport.write(_http_response(exc.status, b"", "text/plain", keep_alive=False))
                break
            if parsed is None:
                await self._data.wait()
                self._data.clear()
                continue
            request, used = parsed
            del self._buf[:used]
            self.busy = True
            if request.headers.get("expect", "").lower() == "100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            answer = await self._server._answer(request, self)
            if answer is None or self.lost:  # dropped on purpose, or nobody is listening any more
                break
            status, body, content_type = answer
            self.transport.write(_http_response(status, body, content_type, request.keep_alive))
            self.busy = False
            self._server._notify()
            if not request.keep_alive:
                break
        self.close()


# --------------------------------------------------------------------------- the server


class FakeTelegram:
    """The Bot API server; use as ``async with FakeTelegram() as tg:`` (see the module docstring)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_name: str = "店小二测试",
        bot_username: str = "xiaoer_test_bot",
        max_download_size: int | None = MAX_DOWNLOAD_SIZE,  # None: like a self-hosted server
        timeout_hold: float = 30.0,  # the longest a "timeout" fault holds a request
    ) -> None:
        self.token = token
        self.bot_user: JSONDict = {
            "id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": bot_name,
            "username": bot_username,
        }  # fmt: skip
        self.max_download_size = max_download_size
        self.timeout_hold = timeout_hold
        self.port = 0
        self.internal_errors: list[str] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self._calls: list[Call] = []
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[int, dict[int, StoredMessage]] = {}  # chat id -> message id -> message
        self._next_message_id: dict[int, int] = {}
        self._pending: list[JSONDict] = []  # updates not yet confirmed by an offset
        self._next_update_id = 100_001
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(7_331_000_000_000_001)
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._blocked: set[int] = set()
        self._faults: list[_Fault] = []
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}  # (field, language) -> description / name
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._stopping = False
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._webhook_task: asyncio.Task[None] | None = None
        self._methods: dict[str, Callable[[JSONDict, Files, _Connection], Awaitable[Any]]]
        self._methods = {
            name.removeprefix("_m_"): getattr(self, name) for name in dir(self) if name.startswith("_m_")
        }
        self._method_names = {name.lower(): name for name in self._methods}

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Wake every waiting request, let it answer, close every connection; takes at most ~3 s."""
        self._stopping = True
        self._notify()
        await self._stop_webhook()
        if self._server is not None:
            self._server.close()
        # Long polls answer [] and held requests drop once they see _stopping; give them a moment.
        deadline = asyncio.get_running_loop().time() + 1.0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while any(c.busy and not c.lost for c in self._connections):
                    await self._changed.wait()
        for conn in list(self._connections):
            conn.close()
        tasks = [c.task for c in list(self._connections) if c.task is not None and not c.task.done()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        if self.internal_errors and exc is None:
            raise RuntimeError("FakeTelegram failed internally:\n" + "\n".join(self.internal_errors))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def builder(self) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
        """An ApplicationBuilder with this server's token and URLs set."""
        return (
            ApplicationBuilder().token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)
        )

    # ----------------------------------------------------------------- scripting updates

    def user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        username: str | None = None,
    ) -> JSONDict:
        """The user (created or updated); their private chat (id = user id) becomes known."""
        user = self._users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": "zh-hans"},
        )
        if first_name is not None:
            user["first_name"] = first_name
        if language_code is not None:
            user["language_code"] = language_code
        if username is not None:
            user["username"] = username
        chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        if "username" in user:
            chat["username"] = user["username"]
        self._chats[user_id] = chat
        return user

    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str = "zh-hans",
        first_name: str | None = None,
        reply_to: StoredMessage | None = None,
    ) -> JSONDict:
        """Enqueue a text message from `user_id` in their private chat; returns the update."""
        self.user(user_id, first_name=first_name, language_code=language_code)
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])})
        msg = self._store(user_id, self._users[user_id], text=text, entities=entities)
        if reply_to is not None:
            msg.reply_to = reply_to.message_id
        return self.enqueue({"message": self._message_json(msg)})

    def user_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        language_code: str | None = None,
    ) -> JSONDict:
        """Register `data` as a file and enqueue a message from `user_id` carrying it as a document."""
        self.user(user_id, language_code=language_code)
        stored = self._register(UploadedFile(file_name, data, mime_type), "documents")
        msg = self._store(
            user_id, self._users[user_id], caption=caption, document=self._document_json(stored)
        )
        return self.enqueue({"message": self._message_json(msg)})

    def press_button(
        self, user_id: int, message: StoredMessage | int, callback_data: str, *, forge: bool = False
    ) -> JSONDict:
        """Enqueue a callback query: `user_id` presses the button carrying `callback_data`.

        The message must be the bot's, shown in the user's chat, with such a button, as for a real
        user; ``forge=True`` skips these checks (a modified client sending arbitrary data)."""
        user = self.user(user_id)
        if isinstance(message, int):
            message = self._messages.get(user_id, {}).get(message) or StoredMessage(
                user_id, message, self.bot_user, int(time.time())
            )
        if not forge:
            data = [b.callback_data for b in message.buttons()]
            if message.chat_id != user_id or message.deleted or callback_data not in data:
                raise ValueError(
                    f"user {user_id} cannot press {callback_data!r} on message {message.message_id} "
                    f"(chat {message.chat_id}, deleted={message.deleted}, buttons={data}); use forge=True"
                )
        query_id = str(next(self._callback_ids))
        self._callback_queries[query_id] = False
        query = {
            "id": query_id, "from": user, "message": self._message_json(message),
            "chat_instance": f"-{message.chat_id}00", "data": callback_data,
        }  # fmt: skip
        return self.enqueue({"callback_query": query})

    def enqueue(self, update: JSONDict) -> JSONDict:
        """Queue a raw update (``update_id`` is set when missing); returns it."""
        update = dict(update)
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        if isinstance(query := update.get("callback_query"), dict) and "id" in query:
            self._callback_queries.setdefault(str(query["id"]), False)
        for part in update.values():  # a chat that wrote to the bot is one the bot can answer
            if isinstance(part, dict):
                for chat in (part.get("chat"), (part.get("message") or {}).get("chat")):
                    if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                        self._chats.setdefault(chat["id"], chat)
        self._pending.append(update)
        self._notify()
        return update

    def register_file(
        self, data: bytes, file_name: str = "file.bin", mime_type: str = "application/octet-stream"
    ) -> str:
        """Make bytes available through getFile and the file URL; returns the file_id."""
        return self._register(UploadedFile(file_name, data, mime_type), "documents").file_id

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id].upload.data

    def block(self, user_id: int) -> None:
        """From now on the user has blocked the bot: sends to their chat answer 403."""
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    def fail_next(
        self,
        method: str,
        kind: FaultKind,
        count: int = 1,
        *,
        chat_id: int | None = None,
        retry_after: float = 1,
        hold: float | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next `count` calls of `method` (to `chat_id`, if given) with a fault, once
        `after` such calls have gone through.

        "timeout" holds the request until the client gives up, so give the client a short read
        timeout (``read_timeout=0.2`` on the call, or ``ApplicationBuilder().read_timeout(...)``);
        it is dropped after `hold` seconds (default `timeout_hold`) or when the server stops."""
        self._faults.append(
            _Fault(method, kind, count, chat_id, retry_after, hold or self.timeout_hold, after)
        )

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset (or webhook delivery)."""
        return list(self._pending)

    # ----------------------------------------------------------------- recording and waiting

    def calls(self, method: str | None = None, *, since: int = 0, **where: Any) -> list[Call]:
        """Recorded calls, optionally of one method, from index `since`, with params equal to `where`."""
        return [
            c
            for c in self._calls[since:]
            if (method is None or c.method == method) and all(c.params.get(k) == v for k, v in where.items())
        ]

    def checkpoint(self) -> int:
        """The number of calls so far, for ``calls(..., since=...)`` and ``wait_for_calls(since=...)``."""
        return len(self._calls)

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """All messages of a chat (the user's and the bot's), oldest first."""
        chat = self._messages.get(chat_id, {})
        return [m for m in chat.values() if include_deleted or not m.deleted]

    def last_message(self, chat_id: int) -> StoredMessage:
        """The bot's latest message in the chat that is still there."""
        sent = [m for m in self.messages(chat_id) if m.from_bot]
        if not sent:
            raise LookupError(f"the bot has sent nothing to chat {chat_id}")
        return sent[-1]

    def sent_texts(self, chat_id: int) -> list[str]:
        """Current texts of the bot's text messages in the chat, oldest first (HTML parsed)."""
        return [m.text for m in self.messages(chat_id) if m.from_bot and m.text is not None]

    def my_commands(self, language_code: str = "", scope: JSONDict | None = None) -> list[tuple[str, str]]:
        """The command menu set through setMyCommands, as (command, description) pairs."""
        commands = self._commands.get((_scope_key(scope), language_code), [])
        return [(c["command"], c["description"]) for c in commands]

    async def wait_for(
        self,
        predicate: Callable[[], _T],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is what this helper is for
        what: str = "",
    ) -> _T:
        """Wait until ``predicate()`` is truthy and return its value; re-checked after every event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            result = predicate()
            if result:
                return result
            if self.internal_errors:
                raise RuntimeError("FakeTelegram failed internally:\n" + "\n".join(self.internal_errors))
            if loop.time() >= deadline:
                recent = "\n".join(
                    f"  {c.method} {c.params}" + (f" -> {c.error}" if c.error else "")
                    for c in self._calls[-10:]
                )
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what or predicate}; last calls:\n{recent}"
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await changed.wait()

    async def wait_for_calls(
        self,
        method: str,
        n: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int = 0,
        **where: Any,
    ) -> list[Call]:
        """Wait until at least `n` matching calls were made (see `calls`); returns all of them."""

        def enough() -> list[Call]:
            found = self.calls(method, since=since, **where)
            return found if len(found) >= n else []

        return await self.wait_for(enough, timeout, what=f"{n} x {method} {where}")

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str = "",
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> StoredMessage:
        """Wait for a bot message in the chat whose current text or caption contains `contains`."""

        def found() -> StoredMessage | None:
            hits = [m for m in self.messages(chat_id) if m.from_bot and contains in (m.shown or "")]
            return hits[-1] if hits else None

        found_message = await self.wait_for(found, timeout, what=f"a message in {chat_id} with {contains!r}")
        assert found_message is not None
        return found_message

    # ----------------------------------------------------------------- internals

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _register(self, upload: UploadedFile, folder: str) -> _StoredFile:
        n = next(self._file_ids)
        suffix = re.sub(r"[^A-Za-z0-9.]", "", upload.filename.rpartition(".")[2])[:8]
        path = f"{folder}/file_{n}" + (f".{suffix}" if "." in upload.filename and suffix else "")
        stored = _StoredFile(f"BQACAgUAAxkBAAI{n:08d}FakeFileId", f"AgAD{n:06d}", path, upload)
        self._files[stored.file_id] = stored
        self._paths[path] = stored
        return stored

    def _document_json(self, stored: _StoredFile) -> JSONDict:
        up = stored.upload
        return {
            "file_id": stored.file_id, "file_unique_id": stored.unique_id, "file_name": up.filename,
            "mime_type": up.mime_type, "file_size": len(up.data),
        }  # fmt: skip

    def _store(self, chat_id: int, sender: JSONDict, **content: Any) -> StoredMessage:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        msg = StoredMessage(chat_id, message_id, sender, int(time.time()), **content)
        self._messages.setdefault(chat_id, {})[message_id] = msg
        self._notify()
        return msg

    def _message_json(self, msg: StoredMessage, with_reply: bool = True) -> JSONDict:
        chat = self._chats.get(msg.chat_id, {"id": msg.chat_id, "type": "private", "first_name": "?"})
        out: JSONDict = {"message_id": msg.message_id, "from": msg.sender, "chat": chat, "date": msg.date}
        if msg.edit_date is not None:
            out["edit_date"] = msg.edit_date
        optional = {
            "text": msg.text, "entities": msg.entities, "caption": msg.caption,
            "caption_entities": msg.caption_entities, "document": msg.document, "photo": msg.photo,
            "reply_markup": msg.reply_markup,
        }  # fmt: skip
        out.update({k: v for k, v in optional.items() if v})
        if msg.text == "":
            out["text"] = ""
        if (
            with_reply
            and msg.reply_to is not None
            and (replied := self._messages[msg.chat_id].get(msg.reply_to))
        ):
            out["reply_to_message"] = self._message_json(replied, with_reply=False)
        return out

    async def _answer(self, request: _HttpRequest, conn: _Connection) -> tuple[int, bytes, str] | None:
        """Route one HTTP request; None means: close the connection without answering."""
        target = urllib.parse.urlsplit(request.target)
        path = urllib.parse.unquote(target.path)
        file_prefix = f"/file/bot{self.token}/"
        if path.startswith(file_prefix) and request.method == "GET":
            return await self._download(path.removeprefix(file_prefix), conn)
        bot_path = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", path)
        if bot_path is None:
            return _json_error(404, "Not Found")
        if bot_path.group(1) != self.token:
            return _json_error(401, "Unauthorized")
        try:
            params, files = self._request_params(request, target.query)
        except _ApiError as exc:
            return _json_error(exc.code, exc.description)
        method = self._method_names.get(bot_path.group(2).lower(), bot_path.group(2))
        call = Call(method, params, files, time.monotonic())
        self._calls.append(call)
        self._notify()
        try:
            fault = self._take_fault(method, params)
            if fault is not None:
                call.fault = fault.kind
                return await self._apply_fault(fault, call, conn)
            handler = self._methods.get(method)
            if handler is None:
                raise _ApiError(404, "Not Found: method not found")
            call.result = await handler(params, files, conn)
            if call.result is None:  # the client went away while this call waited
                return None
            return 200, json.dumps({"ok": True, "result": call.result}, ensure_ascii=False).encode(), _JSON
        except _ApiError as exc:
            call.error = exc.description
            return _json_error(exc.code, exc.description, exc.parameters)
        except Exception as exc:  # a bug here: answer 500 and make the test fail at __aexit__
            self.internal_errors.append(f"{method}: {exc!r}")
            call.error = repr(exc)
            return _json_error(500, f"FakeTelegram internal error: {exc!r}")
        finally:
            self._notify()

    async def _download(self, file_path: str, conn: _Connection) -> tuple[int, bytes, str] | None:
        """A file GET, recorded as a call of method "file" (so `fail_next("file", ...)` faults it)."""
        call = Call("file", {"file_path": file_path}, {}, time.monotonic())
        self._calls.append(call)
        self._notify()
        try:
            fault = self._take_fault("file", call.params)
            if fault is not None:
                call.fault = fault.kind
                return await self._apply_fault(fault, call, conn)
            stored = self._paths.get(file_path)
            if stored is None:
                call.error = "Not Found"
                return _json_error(404, "Not Found")
            call.result = len(stored.upload.data)
            return 200, stored.upload.data, stored.upload.mime_type
        finally:
            self._notify()

    def _request_params(self, request: _HttpRequest, query: str) -> tuple[JSONDict, dict[str, UploadedFile]]:
        fields = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        files: dict[str, UploadedFile] = {}
        content_type = request.headers.get("content-type", "")
        params: JSONDict = {}
        if content_type.startswith("application/json") and request.body:
            try:
                params = json.loads(request.body)
            except ValueError:
                raise _bad_request("can't parse JSON body") from None
        elif content_type.startswith("multipart/form-data"):
            boundary = _part_params(content_type).get("boundary")
            if not boundary:
                raise _bad_request("multipart body without boundary")
            more, files = _parse_multipart(request.body, boundary)
            fields.update(more)
        elif request.body:
            fields.update(urllib.parse.parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        params.update({k: _decode_field(k, v) for k, v in fields.items()})
        return params, files

    def _take_fault(self, method: str, params: JSONDict) -> _Fault | None:
        for fault in self._faults:
            if (
                fault.method == method
                and fault.remaining > 0
                and fault.chat_id in (None, params.get("chat_id"))
            ):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.remaining -= 1
                return fault
        return None

    async def _apply_fault(
        self, fault: _Fault, call: Call, conn: _Connection
    ) -> tuple[int, bytes, str] | None:
        if fault.kind == "timeout":  # hold until the client gives up (or the hold ends), then drop
            await self._wait_until(lambda: conn.lost, fault.hold)
            call.error = "timeout (dropped)"
            return None
        if fault.kind == "disconnect":
            call.error = "disconnected"
            return None
        errors: dict[str, tuple[int, str]] = {
            "429": (429, f"Too Many Requests: retry after {fault.retry_after:g}"),
            "500": (500, "Internal Server Error"),
            "502": (502, "Bad Gateway"),
            "not_modified": (400, f"Bad Request: {_NOT_MODIFIED}"),
            "blocked": (403, "Forbidden: bot was blocked by the user"),
        }  # fmt: skip
        code, description = errors[fault.kind]
        call.error = description
        parameters = {"retry_after": fault.retry_after} if fault.kind == "429" else None
        return _json_error(code, description, parameters)

    async def _wait_until(self, done: Callable[[], bool], seconds: float) -> None:
        """Sleep until `done()`, stop, or `seconds` pass; re-checked on every event."""
        deadline = asyncio.get_running_loop().time() + seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while not (done() or self._stopping):
                    await self._changed.wait()

    def _chat(self, params: JSONDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise _bad_request("chat not found")
        if chat_id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _bot_message(self, params: JSONDict) -> StoredMessage:
        if "inline_message_id" in params:
            raise _bad_request("inline messages are not supported by FakeTelegram")
        chat_id = self._chat(params)
        msg = self._messages.get(chat_id, {}).get(params.get("message_id", 0))
        if msg is None or msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return msg

    def _formatted(self, params: JSONDict, key: str, limit: int) -> tuple[str, list[JSONDict]]:
        source = params.get(key)
        source = "" if source is None else str(source)
        entities_key = "entities" if key == "text" else "caption_entities"
        if params.get("parse_mode", "").upper() == "HTML" and entities_key not in params:
            plain, entities = parse_html(source)
        else:
            plain, entities = source, list(params.get(entities_key) or [])
        if key == "text" and not plain.strip():
            raise _bad_request("message text is empty")
        if utf16_len(plain) > limit:
            raise _bad_request("message is too long" if key == "text" else "message caption is too long")
        return plain, entities

    def _markup(self, params: JSONDict) -> tuple[JSONDict | None, JSONDict | None]:
        """(inline keyboard, other keyboard) from reply_markup, validated like Telegram."""
        markup = params.get("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None, markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for button in (b for row in rows for b in row):
            if not button.get("text"):
                raise _bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise _bad_request("BUTTON_DATA_INVALID")
        return markup, None

    def _send(self, params: JSONDict, **content: Any) -> JSONDict:
        chat_id = self._chat(params)
        inline, other = self._markup(params)
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        msg = self._store(
            chat_id,
            self.bot_user,
            reply_markup=inline,
            reply_keyboard=other,
            parse_mode=params.get("parse_mode"),
            reply_to=reply_to or params.get("reply_to_message_id"),
            **content,
        )
        return self._message_json(msg)

    async def _stop_webhook(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _deliver_webhook(self, url: str, secret: str | None) -> None:
        """POST pending updates to the webhook one at a time; retry failures a bounded number of times."""
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        async with httpx.AsyncClient(timeout=5.0) as client:
            failures = 0
            while not self._stopping:
                if not self._pending:
                    await self._wait_until(lambda: bool(self._pending), 3600)
                    continue
                update = self._pending[0]
                status: int | None = None
                error: str | None = None
                try:
                    response = await client.post(url, content=json.dumps(update).encode(), headers=headers)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    error = repr(exc)
                self.webhook_deliveries.append(
                    WebhookDelivery(update["update_id"], status, error, time.monotonic())
                )
                if (status is not None and 200 <= status < 300) or failures >= 9:
                    failures = 0
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                else:
                    failures += 1
                    await self._wait_until(lambda: False, 0.05 * failures)
                self._notify()

    # ----------------------------------------------------------------- Bot API methods (_m_<name>)

    async def _m_getMe(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return {
            **self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False,
        }  # fmt: skip

    async def _m_logOut(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return True

    async def _m_close(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return True

    async def _m_deleteWebhook(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        await self._stop_webhook()
        self.webhook_url, self.webhook_secret = "", None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _m_setWebhook(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._m_deleteWebhook(params, files, conn)
        host = urllib.parse.urlsplit(url).hostname
        if not url.startswith("http://") or host not in ("127.0.0.1", "localhost"):
            raise _bad_request("bad webhook: FakeTelegram only delivers to http://127.0.0.1")
        await self._stop_webhook()
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook_url, self.webhook_secret = url, params.get("secret_token")
        self._webhook_task = asyncio.get_running_loop().create_task(
            self._deliver_webhook(url, self.webhook_secret)
        )
        return True

    async def _m_getWebhookInfo(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _m_getUpdates(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        if self.webhook_url:
            raise _ApiError(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first"
            )  # fmt: skip
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        timeout = min(float(params.get("timeout") or 0), 60.0)
        await self._wait_until(
            lambda: bool(self._pending) or conn.lost or generation != self._poll_generation, timeout
        )
        if conn.lost:
            return None
        if generation != self._poll_generation:
            raise _ApiError(
                409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
                "is running"
            )  # fmt: skip
        return self._pending[:limit]

    async def _m_setMyCommands(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))) or not c.get("description"):
                raise _bad_request("BOT_COMMAND_INVALID")
        self._commands[(_scope_key(params.get("scope")), str(params.get("language_code") or ""))] = commands
        return True

    async def _m_getMyCommands(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return self._commands.get(
            (_scope_key(params.get("scope")), str(params.get("language_code") or "")), []
        )

    async def _m_deleteMyCommands(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._commands.pop((_scope_key(params.get("scope")), str(params.get("language_code") or "")), None)
        return True

    def _bot_text(self, params: JSONDict, key: str, value: str | None = None) -> str:
        slot = (key, str(params.get("language_code") or ""))
        if value is not None:
            self._bot_texts[slot] = value
        return self._bot_texts.get(slot, "")

    async def _m_setMyDescription(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._bot_text(params, "description", str(params.get("description") or ""))
        return True

    async def _m_getMyDescription(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return {"description": self._bot_text(params, "description")}

    async def _m_setMyShortDescription(
        self, params: JSONDict, files: dict[str, UploadedFile], conn: _Connection
    ) -> Any:
        self._bot_text(params, "short_description", str(params.get("short_description") or ""))
        return True

    async def _m_getMyShortDescription(
        self, params: JSONDict, files: dict[str, UploadedFile], conn: _Connection
    ) -> Any:
        return {"short_description": self._bot_text(params, "short_description")}

    async def _m_setMyName(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._bot_text(params, "name", str(params.get("name") or ""))
        return True

    async def _m_getMyName(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        return {"name": self._bot_text(params, "name") or self.bot_user["first_name"]}

    async def _m_sendMessage(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._chat(params)
        text, entities = self._formatted(params, "text", MAX_TEXT_LENGTH)
        return self._send(params, text=text, entities=entities, source=params.get("text"))

    async def _m_sendDocument(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._chat(params)
        caption, entities = self._formatted(params, "caption", MAX_CAPTION_LENGTH)
        stored = self._upload(params, files, "document", "documents")
        return self._send(
            params, document=self._document_json(stored), caption=caption or None, caption_entities=entities,
            source=params.get("caption"),
        )  # fmt: skip

    async def _m_sendPhoto(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._chat(params)
        caption, entities = self._formatted(params, "caption", MAX_CAPTION_LENGTH)
        stored = self._upload(params, files, "photo", "photos")
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.upload.data),
        }
        photo = [{**size, "width": 90, "height": 90}, {**size, "width": 320, "height": 320}]
        return self._send(
            params,
            photo=photo,
            caption=caption or None,
            caption_entities=entities,
            source=params.get("caption"),
        )

    def _upload(self, params: JSONDict, files: dict[str, UploadedFile], key: str, folder: str) -> _StoredFile:
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"))
        elif key in files:
            value = files[key]
        if isinstance(value, UploadedFile):
            return self._register(value, folder)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        raise _bad_request(f"wrong file identifier/HTTP URL specified ({key})")

    async def _m_editMessageText(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        msg = self._bot_message(params)
        if msg.text is None:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", MAX_TEXT_LENGTH)
        inline, _ = self._markup(params)
        return self._edit(msg, text=text, entities=entities, reply_markup=inline, source=params.get("text"))

    async def _m_editMessageCaption(
        self, params: JSONDict, files: dict[str, UploadedFile], conn: _Connection
    ) -> Any:
        msg = self._bot_message(params)
        if msg.text is not None:
            raise _bad_request("there is no caption in the message to edit")
        caption, entities = self._formatted(params, "caption", MAX_CAPTION_LENGTH)
        inline, _ = self._markup(params)
        return self._edit(
            msg,
            caption=caption or None,
            caption_entities=entities,
            reply_markup=inline,
            source=params.get("caption"),
        )

    async def _m_editMessageReplyMarkup(
        self, params: JSONDict, files: dict[str, UploadedFile], conn: _Connection
    ) -> Any:
        msg = self._bot_message(params)
        inline, _ = self._markup(params)
        return self._edit(msg, reply_markup=inline)

    def _edit(self, msg: StoredMessage, **changes: Any) -> JSONDict:
        source = changes.pop("source", msg.source)
        if all(getattr(msg, k) == v for k, v in changes.items()):
            raise _bad_request(_NOT_MODIFIED)
        before = msg.shown
        for key, value in changes.items():
            setattr(msg, key, value)
        if msg.shown != before:
            msg.history.append(before)
        msg.source, msg.edit_date = source, int(time.time())
        self._notify()
        return self._message_json(msg)

    async def _m_deleteMessage(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        chat_id = self._chat(params)
        msg = self._messages.get(chat_id, {}).get(params.get("message_id", 0))
        if msg is None or msg.deleted:
            raise _bad_request("message to delete not found")
        msg.deleted = True
        return True

    async def _m_answerCallbackQuery(
        self, params: JSONDict, files: dict[str, UploadedFile], conn: _Connection
    ) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        if self._callback_queries.get(query_id, True):  # unknown or already answered
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        self._callback_queries[query_id] = True
        if len(str(params.get("text") or "")) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    async def _m_sendChatAction(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        self._chat(params)
        if not params.get("action"):
            raise _bad_request("wrong parameter action in request")
        return True

    async def _m_getFile(self, params: JSONDict, files: Files, conn: _Connection) -> Any:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _bad_request("invalid file_id")
        size = len(stored.upload.data)
        if self.max_download_size is not None and size > self.max_download_size:
            raise _bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": size,
            "file_path": stored.path,
        }


_JSON = "application/json"


def _json_error(code: int, description: str, parameters: JSONDict | None = None) -> tuple[int, bytes, str]:
    body: JSONDict = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, json.dumps(body, ensure_ascii=False).encode(), _JSON


def _scope_key(scope: Any) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


@contextlib.asynccontextmanager
async def polling_app(
    app: Application[Any, Any, Any, Any, Any, Any], *, poll_timeout: float = 10.0
) -> AsyncIterator[None]:
    """Run `app` by long polling for the block: initialize, start, start_polling; then stop it all.

    Stopping cancels the pending getUpdates (the server notices the closed connection at once), so
    leaving the block takes milliseconds rather than `poll_timeout`."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=dt.timedelta(seconds=poll_timeout))
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()


__all__: Sequence[str] = [
    "DEFAULT_TOKEN", "Call", "FakeTelegram", "FaultKind", "InlineButton", "StoredMessage", "UploadedFile",
    "WebhookDelivery", "parse_html", "polling_app", "utf16_len",
]  # fmt: skip
