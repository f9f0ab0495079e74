"""Uploaded review exports (CSV / TSV / TXT / XLSX) become a triage report.

The file is checked against limits.max_file_bytes before it is downloaded, read on a thread
in bounded memory (bot/tables.py: UTF-8, GBK/GB18030 or UTF-16; caps on rows, columns, cells
and unpacked XLSX size, each refusal naming its limit), counted against the rate limit by its
rows (`rate_units`), classified in chunks so that other chats are served in between, and
answered with: counts per label, the top complaint aspects with quotes, the most negative
reviews, a chart (sendPhoto) and the labelled table (sendDocument, cells that a spreadsheet
would run as formulas neutralised). The same file sent again (Telegram's file_unique_id) gets
its report again, but its reviews are not stored a second time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from telegram import Document, Update
from telegram.error import BadRequest, NetworkError
from telegram.ext import MessageHandler, filters

from bot import render
from bot.handlers.common import chat_id, reply, user_id
from bot.handlers.errors import card_reason, raise_if_unexpected
from bot.i18n import HTML, t
from bot.messages import EDIT_INTERVAL_S, edit, settle
from bot.report import chart_png, labelled_csv
from bot.runtime import Context
from bot.services import FileUpload
from bot.settings import LimitsConfig
from bot.tables import ParseError, Table, read_table

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # what api.telegram.org lets bots download
ROWS_PER_RATE_UNIT = 200  # rows of an upload that count as one model call for the rate limit


async def on_document(update: Update, context: Context) -> None:
    """Classify an uploaded export; send the report, a chart and the labelled table."""
    lang, uid, chat = context.lang, user_id(update), chat_id(update)
    message = update.effective_message
    doc = message.document if message is not None else None
    if doc is None:
        return
    name = doc.file_name or "reviews.csv"
    if refusal := _refusal(doc, name, context):
        await reply(update, context, refusal)
        return
    status = await reply(update, context, t(lang, "file.reading", name=name))
    try:
        data = await (await context.bot.get_file(doc.file_id)).download_as_bytearray()
        table = await asyncio.to_thread(
            _read, bytes(data), Path(name).suffix.lower(), context.runtime.settings.limits
        )
    except (ParseError, BadRequest) as exc:  # unreadable, or too big for this Bot API server
        reason = t(lang, f"upload.{exc.code}", **exc.params) if isinstance(exc, ParseError) else str(exc)
        await edit(context.bot, chat, status.message_id, t(lang, "file.unreadable", reason=reason))
        return
    except NetworkError:  # (after BadRequest, its subclass) dropped or timed out: nothing was read
        await edit(context.bot, chat, status.message_id, t(lang, "file.download_failed", name=name))
        return
    texts = table.texts()
    last = time.monotonic()

    async def progress(done: int, total: int) -> None:
        nonlocal last
        if time.monotonic() - last >= EDIT_INTERVAL_S:
            last = time.monotonic()
            await edit(context.bot, chat, status.message_id, t(lang, "file.progress", done=done, total=total))

    upload = FileUpload(doc.file_unique_id, name)
    try:  # whatever fails, the status message must not stay on "reading" or a progress count
        context.runtime.check_rate(uid, n=rate_units(len(texts)))
        triage = await context.runtime.model(
            uid, lambda: context.services.classify_file(uid, texts, upload, on_progress=progress), count=False
        )
    except Exception as exc:
        failed = t(lang, "file.failed", name=name, reason=card_reason(lang, exc))
        await settle(context.bot, chat, status.message_id, failed)
        raise_if_unexpected(exc)  # expected ones end here: the message says it all
        return
    results, before = triage.results, triage.stored_before
    summary = render.upload_digest(texts, results)
    body = render.upload_report(lang, name, texts, results, summary)
    if before is not None:  # a retry: say so, the reviews were not stored again
        body = HTML(f"{t(lang, 'upload.repeat', when=f'{before:%Y-%m-%d %H:%M} UTC')}\n{body}")
    await edit(context.bot, chat, status.message_id, body)
    chart = await asyncio.to_thread(chart_png, summary, lang)
    await context.bot.send_photo(chat, chart, caption=t(lang, "file.chart"))
    await context.bot.send_document(
        chat,
        labelled_csv(table, results),
        filename=f"{Path(name).stem}-labelled.csv",
        caption=t(lang, "file.csv"),
    )


def rate_units(rows: int) -> int:
    """What an upload counts against limits.requests_per_minute: one unit per ROWS_PER_RATE_UNIT
    rows started (a 50-row file is one message's worth, 100,000 rows take the whole minute's
    quota; Runtime.check_rate caps it there so that the largest allowed file still fits)."""
    return max(1, -(-rows // ROWS_PER_RATE_UNIT))


def _refusal(doc: Document, name: str, context: Context) -> HTML | None:
    """Why this upload is refused before downloading it, or None."""
    lang, settings = context.lang, context.runtime.settings
    if Path(name).suffix.lower() not in SUFFIXES:
        return t(lang, "file.bad_type")
    size, limit = doc.file_size or 0, settings.limits.max_file_bytes
    cloud = "api.telegram.org" in settings.telegram.base_url
    if size > limit or (cloud and size > CLOUD_DOWNLOAD_LIMIT):
        text = t(
            lang,
            "file.too_big",
            size=_mb(size),
            limit=_mb(min(limit, CLOUD_DOWNLOAD_LIMIT) if cloud else limit),
        )
        return (
            HTML(f"{text}\n{t(lang, 'file.cloud_limit')}") if cloud and size > CLOUD_DOWNLOAD_LIMIT else text
        )
    return None


def _read(data: bytes, suffix: str, limits: LimitsConfig) -> Table:
    """Parse the downloaded bytes (blocking: runs on a thread)."""
    with tempfile.TemporaryDirectory(prefix="xiaoer-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        return read_table(path, limits.max_file_bytes, limits.max_file_rows)


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def handler() -> MessageHandler[Context, None]:
    return MessageHandler(filters.Document.ALL, on_document)
