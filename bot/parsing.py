"""Turning what a merchant pastes or uploads into review texts.

- `split_reviews`: one message -> reviews (one per line, numbering such as "1." "2、" "③" removed);
- `read_table`: a CSV / TSV / XLSX / TXT export -> rows plus the column that holds the review,
  found by its name (text, review, 评论, 评价内容, ...). Encodings: UTF-8 (with or without BOM),
  else GB18030 (a superset of GBK, what Chinese Excel writes).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T", bound=str)
D = TypeVar("D")

# "." and ":" count as numbering only when no digit follows ("3.5元" "10:30" are text), and "-" only
# when it is not a minus sign ("-5度").
_NUMBERING = re.compile(r"^\s*(?:[(（]?\d{1,3}(?:[)）、]|[.:：](?!\d))|[①-⑳]|-(?!\d)|[*•·])\s*")
TEXT_COLUMNS = (
    "text",
    "review",
    "reviews",
    "content",
    "comment",
    "comments",
    "评论",
    "评价",
    "评价内容",
    "评论内容",
    "内容",
    "买家评价",
    "用户评价",
    "评语",
    "追评",
    "文本",
)


class ParseError(ValueError):
    """The input cannot be read as reviews; the message says what to fix."""


def split_reviews(message: str) -> list[str]:
    reviews = []
    for line in message.splitlines():
        text = _NUMBERING.sub("", line, count=1).strip()
        if text:
            reviews.append(text)
    return reviews


def pick(value: object, options: tuple[T, ...], default: D) -> T | D:
    """`value` if it is one of `options` (e.g. a tone read back from JSON), else `default`."""
    for option in options:
        if option == value:
            return option
    return default


def split_items(text: str) -> list[str]:
    """ "防水；轻便, 大容量" -> ["防水", "轻便", "大容量"] (what /copy asks for as a list)."""
    unified = text.replace("；", ";").replace("，", ",").replace("、", ",").replace(",", ";")
    return [p.strip() for p in unified.split(";") if p.strip()]


def spec_pair(item: str) -> tuple[str, str]:
    """ "容量=500ml" / "容量：500ml" -> ("容量", "500ml"); a bare value is a "规格"."""
    for sep in ("=", "：", ":"):
        if sep in item:
            k, _, v = item.partition(sep)
            return k.strip(), v.strip()
    return "规格", item


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]  # each padded to len(columns)
    text_column: int
    encoding: str

    def texts(self) -> list[str]:
        return [row[self.text_column].strip() for row in self.rows]


def decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ParseError("UTF-16 文件已损坏 / damaged UTF-16 file") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ParseError("文件编码无法识别：请另存为 UTF-8 或 GBK 编码 / cannot decode: save as UTF-8 or GBK")


def read_table(path: Path, max_bytes: int, max_rows: int) -> Table:
    size = path.stat().st_size
    if size > max_bytes:
        raise ParseError(f"文件太大（{size // 1024} KB，上限 {max_bytes // 1024} KB）/ file too large")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        columns, rows = _read_xlsx(path, max_rows)
        encoding = "xlsx"
    else:
        text, encoding = decode(path.read_bytes())
        if "\x00" in text:
            raise ParseError("这不是文本文件（含二进制内容）/ not a text file")
        if suffix == ".txt":
            columns, rows = ["text"], [[line] for line in text.splitlines() if line.strip()]
        else:
            columns, rows = _read_csv(text)
    if len(rows) > max_rows:
        raise ParseError(f"行数太多（{len(rows)} 行，上限 {max_rows} 行）/ too many rows")
    if not rows:
        raise ParseError("文件里没有评价 / the file has no rows")
    width = len(columns)
    rows = [(r + [""] * width)[:width] for r in rows]
    return Table(columns, rows, find_text_column(columns), encoding)


def find_text_column(columns: list[str]) -> int:
    names = [c.strip().lower() for c in columns]
    for wanted in TEXT_COLUMNS:
        if wanted in names:
            return names.index(wanted)
    if len(columns) == 1:
        return 0
    raise ParseError(
        "找不到评价所在的列，请把该列命名为 text 或 评价内容 / no review column; name it 'text'. "
        f"Columns: {', '.join(columns)}"
    )


def _read_csv(text: str) -> tuple[list[str], list[list[str]]]:
    # Sniff on the header line: review texts often hold commas (a TSV) or tabs (a quoted CSV).
    header_line = text.split("\n", 1)[0]
    delimiter = "\t" if header_line.count("\t") > header_line.count(",") else ","
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = next(reader, None)
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ParseError(f"CSV 格式有误：{exc} / malformed CSV") from exc
    if not header:
        raise ParseError("文件是空的 / the file is empty")
    return [h.strip() for h in header], rows


def _read_xlsx(path: Path, max_rows: int) -> tuple[list[str], list[list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ParseError(f"无法读取 Excel 文件：{exc} / unreadable XLSX") from exc
    try:
        sheet = book.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        header = next(it, None)
        if header is None:
            raise ParseError("文件是空的 / the file is empty")
        rows: list[list[str]] = []
        for values in it:
            row = ["" if v is None else str(v) for v in values]
            if any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) > max_rows:
                break
        return ["" if h is None else str(h).strip() for h in header], rows
    except ParseError:
        raise
    except Exception as exc:  # a damaged sheet shows only while reading (XML, zip, zlib errors)
        raise ParseError(f"无法读取 Excel 文件：{exc} / unreadable XLSX") from exc
    finally:
        book.close()
