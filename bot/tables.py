"""Reading an uploaded review export (CSV / TSV / TXT / XLSX) in bounded memory.

`read_table(path, max_bytes, max_rows)` -> `Table`: the rows plus the column that holds the
review, found by its name (text, review, 评论, 评价内容, ...). Whatever the file claims, the
memory it can cost is bounded before any large structure is built:

- every file: at most `max_bytes` on disk, `max_rows` rows (empty rows count: they cost memory
  too), `MAX_COLUMNS` columns, `MAX_CELL_CHARS` characters in a cell (longer cells are refused,
  not cut: a cut review would be labelled on half its text) and `MAX_CELLS` rows × columns;
- XLSX (a zip of XML): before the reader opens it, at most `MAX_ZIP_MEMBERS` members,
  `MAX_UNCOMPRESSED` bytes unpacked, `MAX_RATIO` unpacked/packed for members over 1 MiB (the
  declared sizes can be trusted: zipfile and calamine's zip reader both stop a part that
  unpacks past its declared size); the shared strings and the first sheet's XML are streamed
  once (expat, no DOCTYPE) for the cells the sheet really holds (the `<dimension>` it declares
  is ignored: python-calamine builds a dense rows × columns grid) and for the shared-string
  text those cells copy (calamine copies a string into each cell that names it: at most
  `MAX_TEXT_CHARS`, and no cell over `MAX_CELL_CHARS`). Then calamine reads it and rows are
  converted one at a time.
- text: UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode text"), GBK/GB18030
  (what Chinese Excel writes). Big5 and Shift-JIS also decode as GB18030, into gibberish: they
  are recognised (their GB18030 reading is mostly characters outside GB2312) and refused.

Every refusal is a `ParseError` with a code and the numbers it needs; bot/i18n.py renders it
("文件有 25000 列，最多支持 200 列") for the bot, the CLI and the logs.
"""

from __future__ import annotations

import csv
import html
import re
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from xml.parsers import expat

from bot.i18n import t

MAX_COLUMNS = 200  # review exports have a handful; a wide sheet is a mistake or an attack
MAX_CELL_CHARS = 10_000  # 5x the default review limit; refused beyond, never cut silently
# rows x columns: calamine's dense grid (~32 B a cell) and the rows as Python strings (~60 B a
# cell) are held at once: 4 M cells peaked at 401 MiB, 2 M stay near 200 MiB
MAX_CELLS = 2_000_000
MAX_ZIP_MEMBERS = 1_000  # a real XLSX has 10-50 parts
MAX_UNCOMPRESSED = 256 * 2**20  # all parts unpacked; a 100k-row export is ~60-120 MiB
MAX_RATIO = 200  # unpacked / packed for a part over 1 MiB; sheet XML is ~5-30x
RATIO_FLOOR = 2**20  # small parts (headers, styles) may compress better than that
MAX_TEXT_CHARS = 32_000_000  # shared-string characters the cells of a sheet copy (~320 a row)
_CHUNK = 2**20
_XML_PART = 4 * 2**20  # workbook.xml and its relationships

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
    """The upload cannot be read as reviews. `code` names the problem (an "upload.<code>" text
    in bot/i18n.py), `params` the numbers it shows; str() gives both languages for logs/CLI."""

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(code)

    def __str__(self) -> str:
        key = f"upload.{self.code}"
        return html.unescape(f"{t('zh', key, **self.params)} / {t('en', key, **self.params)}")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]  # each padded to len(columns); rows with no text at all are left out
    text_column: int
    encoding: str

    def texts(self) -> list[str]:
        return [row[self.text_column].strip() for row in self.rows]


@dataclass(frozen=True)
class _Limits:
    max_rows: int
    max_columns: int
    max_cell_chars: int
    max_cells: int


def read_table(
    path: Path,
    max_bytes: int,
    max_rows: int,
    *,
    max_columns: int = MAX_COLUMNS,
    max_cell_chars: int = MAX_CELL_CHARS,
    max_cells: int = MAX_CELLS,
) -> Table:
    size = path.stat().st_size
    if size > max_bytes:
        raise ParseError("too_big", size=_kb(size), limit=_kb(max_bytes))
    limits = _Limits(max_rows, max_columns, max_cell_chars, max_cells)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        header, rows = _read_xlsx(path, limits)
        encoding = "xlsx"
    else:
        text, encoding = decode(path.read_bytes())
        if "\x00" in text:
            raise ParseError("binary")
        if suffix == ".txt":
            lines = (line.rstrip("\r\n") for line in _lines(text))
            header, rows = ["text"], _collect(([line] for line in lines), 1, limits)
        else:
            header, rows = _read_csv(text, limits)
    if not rows:
        raise ParseError("no_rows")
    return Table(header, rows, find_text_column(header), encoding)


def find_text_column(columns: list[str]) -> int:
    names = [c.strip().lower() for c in columns]
    for wanted in TEXT_COLUMNS:
        if wanted in names:
            return names.index(wanted)
    if len(columns) == 1:
        return 0
    raise ParseError("no_text_column", columns=_column_list(columns))


def _column_list(columns: list[str], shown: int = 10, width: int = 20) -> str:
    """The first `shown` column names, each cut at `width` characters: a refusal fits a message."""
    names = [c if len(c) <= width else c[: width - 1] + "…" for c in columns[:shown]]
    more = f" … (+{len(columns) - shown})" if len(columns) > shown else ""
    return ", ".join(names) + more


# ---------------------------------------------------------------------------------- encodings


def decode(data: bytes) -> tuple[str, str]:
    """The text of an export and the encoding it was read with; Big5 / Shift-JIS refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ParseError("bad_utf16") from None
    try:
        return data.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise ParseError("encoding") from None
    if (other := _foreign_encoding(data, text)) is not None:
        raise ParseError("foreign_encoding", encoding=other)
    return text, "gb18030"


# CJK, kana, full-width forms, and the private-use area that GBK maps some byte pairs to
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\ue000-\ufaff\uff00-\uffef]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_SAMPLE = 64 * 1024  # characters of the GB18030 reading that are checked


def _foreign_encoding(data: bytes, text: str) -> str | None:
    """ "Big5" / "Shift-JIS" when GB18030 reads `data` as gibberish that encoding reads well.

    Chinese typed in GBK is almost all GB2312 (the 6,763 common simplified characters and
    the full-width punctuation); Big5 and Shift-JIS byte pairs mostly land in GBK's extension
    area instead (their second byte is below 0x7F, or their first is below 0xA1).
    """
    cjk = _CJK.findall(text[:_SAMPLE])
    if not cjk:
        return None
    common = sum(1 for ch in cjk if _in_gb2312(ch))
    if common >= 0.8 * len(cjk):
        return None
    head = data[: _SAMPLE * 2]
    for name, codec in (("Shift-JIS", "cp932"), ("Big5", "big5")):
        other = head.decode(codec, errors="replace")
        if other.count("\ufffd") <= 2 and (codec != "cp932" or len(_KANA.findall(other)) >= 2):
            return name
    return "Big5 / Shift-JIS"  # neither reads cleanly, but it is not Chinese in GBK either


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------- CSV / TXT


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` with their endings (\r\n, \r or \n), one at a time: io.StringIO
    would first copy the whole text into a buffer of 4 bytes a character."""
    for match in _LINE.finditer(text):
        if match.end() > match.start():
            yield match.group()


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


def _read_csv(text: str, limits: _Limits) -> tuple[list[str], list[list[str]]]:
    # Sniff on the header line: review texts often hold commas (a TSV) or tabs (a quoted CSV).
    end = text.find("\n") % (len(text) + 1)  # -1 (one line) reads as the whole text
    delimiter = "\t" if text.count("\t", 0, end) > text.count(",", 0, end) else ","
    # A line of millions of delimiters would become a list of millions of cells before any
    # check could count them; more than the widest legal line (every column, and a full cell
    # of nothing but delimiters inside quotes) is refused as it is read.
    widest = limits.max_columns + limits.max_cell_chars

    def lines() -> Iterator[str]:
        for line in _lines(text):
            if (n := line.count(delimiter)) > widest:
                raise ParseError("too_many_columns", n=n + 1, limit=limits.max_columns)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header:
            raise ParseError("empty")
        if len(header) > limits.max_columns:
            raise ParseError("too_many_columns", n=len(header), limit=limits.max_columns)
        _check_header(header, limits)
        return [h.strip() for h in header], _collect(reader, len(header), limits)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # csv's own cap (128 KiB) on one cell
            raise ParseError("cell_too_long", row=reader.line_num, limit=limits.max_cell_chars) from None
        raise ParseError("bad_csv", detail=str(exc)) from exc


def _check_header(header: list[str], limits: _Limits) -> None:
    if any(len(name) > limits.max_cell_chars for name in header):
        raise ParseError("cell_too_long", row=1, limit=limits.max_cell_chars)


def _collect(rows: Iterable[list[str]], width: int, limits: _Limits) -> list[list[str]]:
    """Rows cut or padded to `width`; empty rows counted against the limit, then left out."""
    out: list[list[str]] = []
    max_rows = min(limits.max_rows, limits.max_cells // max(width, 1))
    for n, row in enumerate(rows, start=1):
        if n > max_rows:
            if max_rows < limits.max_rows:
                raise ParseError("too_many_cells", columns=width, rows=max_rows, cells=limits.max_cells)
            raise ParseError("too_many_rows", limit=limits.max_rows)
        if len(row) > limits.max_columns:
            raise ParseError("too_many_columns", n=len(row), limit=limits.max_columns)
        if not any(cell.strip() for cell in row):
            continue
        for cell in row:
            if len(cell) > limits.max_cell_chars:
                raise ParseError("cell_too_long", row=n + 1, limit=limits.max_cell_chars)
        out.append((row + [""] * width)[:width])
    return out


# ---------------------------------------------------------------------------------------- XLSX


def _read_xlsx(path: Path, limits: _Limits) -> tuple[list[str], list[list[str]]]:
    from python_calamine import CalamineError, CalamineWorkbook

    _check_zip(path, limits)
    try:
        with CalamineWorkbook.from_path(str(path)) as book:
            rows = iter(book.get_sheet_by_index(0).iter_rows())
            first = next(rows, None)
            if first is None:
                raise ParseError("empty")
            header = [_cell(v).strip() for v in first]
            if not any(header):
                raise ParseError("empty")
            _check_header(header, limits)
            return header, _collect((_cells(r) for r in rows), len(header), limits)
    except (CalamineError, OSError, ValueError, IndexError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError("bad_xlsx", detail=f"{type(exc).__name__}: {exc}"[:200]) from exc


def _cells(values: Sequence[object]) -> list[str]:
    return [_cell(v) for v in values]


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # Excel stores every number as a double: 1001.0 is 1001
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return "" if value is None else str(value)


def _check_zip(path: Path, limits: _Limits) -> None:
    """Refuse an XLSX whose unpacking or whose first sheet would cost unbounded memory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise ParseError("zip_members", n=len(members), limit=MAX_ZIP_MEMBERS)
            names = [m.filename for m in members]
            if len(set(names)) < len(names):  # readers differ on which copy they read
                raise ParseError("bad_xlsx", detail="the archive holds two parts of the same name")
            total = sum(m.file_size for m in members)
            if total > MAX_UNCOMPRESSED:
                raise ParseError("zip_size", size=_mb(total), limit=_mb(MAX_UNCOMPRESSED))
            for m in members:
                if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                    raise ParseError(
                        "zip_ratio",
                        name=m.filename,
                        ratio=m.file_size // max(m.compress_size, 1),
                        limit=MAX_RATIO,
                    )
            sheets, shared = _parts(archive)
            if not sheets:
                raise ParseError("empty")
            strings = _shared_string_lengths(archive, shared)
            for sheet in sheets:
                scan = _SheetScan(strings, limits)
                _stream(archive, sheet, scan.start, scan.end, scan.text)
                _check_extent(scan.last_row, scan.last_column, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise ParseError("bad_xlsx", detail=f"{type(exc).__name__}: {exc}"[:200]) from exc


# The parts are read with expat, streaming, namespace-aware (a prefixed `<x:c x:r="...">` is
# the same cell as `<c r="...">`, and a `>` inside a quoted attribute is just a character)
# and with any DOCTYPE refused: no entity can expand, internally or from outside.
_SEP = " "  # expat joins a namespace URI and a local name with this; neither can hold a space
_RELS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _local(name: str) -> str:
    return name.rpartition(_SEP)[2]


def _stream(
    archive: zipfile.ZipFile,
    part: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
    *,
    namespaces: bool = True,
) -> None:
    parser = expat.ParserCreate(namespace_separator=_SEP) if namespaces else expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text

    def refuse(*_: object) -> None:
        raise ParseError("bad_xlsx", detail=f"{part} declares a DOCTYPE")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise ParseError("bad_xlsx", detail=f"{part}: {expat.ErrorString(exc.code)}") from None


def _parts(archive: zipfile.ZipFile) -> tuple[list[str], list[str]]:
    """The zip paths the workbook's first sheet (the one calamine reads at index 0) may name,
    and of its shared strings. Readers resolve `r:id` differently (by its namespace, or by the
    literal prefix "r:"), so every id attribute of the first <sheet> counts."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names:
        raise ParseError("bad_xlsx", detail="no xl/workbook.xml")
    for part in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        if part in names and archive.getinfo(part).file_size > _XML_PART:
            raise ParseError("bad_xlsx", detail=f"{part} is too large")
    sheet_ids: list[str] = []
    first = [True]

    def on_book(name: str, attrs: dict[str, str]) -> None:
        if name.rpartition(":")[2] == "sheet" and first[0]:
            first[0] = False
            sheet_ids.extend(v for k, v in attrs.items() if k.rpartition(":")[2].lower() == "id")

    _stream(archive, "xl/workbook.xml", on_book, namespaces=False)
    if not sheet_ids or "xl/_rels/workbook.xml.rels" not in names:
        raise ParseError("empty")
    targets: dict[str, str] = {}
    shared: list[str] = ["xl/sharedStrings.xml"]

    def on_rels(name: str, attrs: dict[str, str]) -> None:
        if _local(name) != "Relationship":
            return
        target = attrs.get("Target", "")
        target = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[attrs.get("Id", "")] = target
        if attrs.get("Type", "").endswith("/sharedStrings"):
            shared.append(target)

    _stream(archive, "xl/_rels/workbook.xml.rels", on_rels)
    sheets = [targets[i] for i in dict.fromkeys(sheet_ids) if targets.get(i) in names]
    return sheets, [p for p in dict.fromkeys(shared) if p in names]


def _shared_string_lengths(archive: zipfile.ZipFile, parts: list[str]) -> array[int]:
    """The length in characters of each shared string (the longer reading where two parts
    could be the table), streamed: calamine copies a shared string into every cell that names
    it, so a 1 MB file of one 8-million-character string named by 5,000 cells is 40 GB."""
    lengths: array[int] = array("Q")
    for part in parts:
        scan = _SharedStrings()
        _stream(archive, part, scan.start, scan.end, scan.text)
        lengths.extend([0] * max(0, len(scan.lengths) - len(lengths)))
        for i, n in enumerate(scan.lengths):
            lengths[i] = max(lengths[i], n)
    return lengths


class _SharedStrings:
    """The length of each `<si>` of sharedStrings.xml (the text of its `<t>`s); refuses a table
    whose strings hold more than `MAX_TEXT_CHARS` in all."""

    def __init__(self) -> None:
        self.lengths: array[int] = array("Q")
        self.total = 0
        self.current: int | None = None  # inside <si>: its length so far
        self.in_text = False

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "si":
            self.current = 0
        elif local == "t" and self.current is not None:
            self.in_text = True

    def text(self, data: str) -> None:
        if self.in_text and self.current is not None:
            self.current += len(data)

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "t":
            self.in_text = False
        elif local == "si" and self.current is not None:
            self.lengths.append(self.current)
            self.total += self.current
            self.current = None
            if self.total > MAX_TEXT_CHARS:  # calamine holds them all in memory
                raise ParseError("too_much_text", limit=MAX_TEXT_CHARS // 1_000_000)


class _SheetScan:
    """(last row, last column) of the cells a sheet's XML holds, and the shared-string text its
    cells would copy, streamed in constant memory.

    Cells without an `r` attribute follow the previous one, rows without one the previous row,
    as spreadsheet readers place them; where an element carries both `r` and a prefixed `x:r`
    the larger counts. Empty (styled) cells count: conservative.
    """

    def __init__(self, strings: array[int], limits: _Limits) -> None:
        self.strings = strings
        self.longest = max(strings, default=0)  # for an index only some reader understands
        self.limits = limits
        self.row = self.column = self.last_row = self.last_column = 0
        self.chars = 0  # shared-string characters the cells copy
        self.shared = False  # inside <c t="s">
        self.value: list[str] | None = None  # the text of its <v>

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "c":
            letters, digits = _reference(attrs)
            self.column = _column_number(letters) if letters else self.column + 1
            if digits:
                self.row = max(self.row, digits)
            self.last_column = max(self.last_column, self.column)
            self.last_row = max(self.last_row, self.row)
            self.shared = any(_local(k) == "t" and v == "s" for k, v in attrs.items())
        elif local == "row":
            _, digits = _reference(attrs)
            self.row = digits or self.row + 1
            self.column = 0
            self.last_row = max(self.last_row, self.row)
        elif local == "v" and self.shared:
            self.value = []

    def text(self, data: str) -> None:
        if self.value is not None and len(self.value) < 64:
            self.value.append(data)

    def end(self, name: str) -> None:
        if self.value is None or _local(name) != "v":
            return
        index = "".join(self.value).strip()
        self.value = None
        if _INDEX.fullmatch(index):
            n = self.strings[int(index)] if int(index) < len(self.strings) else 0
        else:  # an index only some reader understands: assume the longest string
            n = self.longest
        if n > self.limits.max_cell_chars:
            raise ParseError("cell_too_long", row=self.row, limit=self.limits.max_cell_chars)
        self.chars += n
        if self.chars > MAX_TEXT_CHARS:
            raise ParseError("too_much_text", limit=MAX_TEXT_CHARS // 1_000_000)


_REF = re.compile(r"\s*([A-Za-z]{0,8})(\d{0,10})")
_INDEX = re.compile(r"\+?\d{1,12}")  # a shared-string index as Rust parses an integer


def _reference(attrs: dict[str, str]) -> tuple[str, int]:
    """The column letters and row number of an `r` attribute ("" and 0 where absent); the
    largest where several namespaces give one."""
    letters, digits = "", 0
    for key, value in attrs.items():
        if _local(key) != "r" or not (match := _REF.match(value)):
            continue
        if _column_number(match.group(1)) > _column_number(letters):
            letters = match.group(1)
        digits = max(digits, int(match.group(2) or 0))
    return letters, digits


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():  # XFD (16384) is Excel's last column
        n = n * 26 + ord(ch) - ord("A") + 1
    return n


def _check_extent(rows: int, columns: int, limits: _Limits) -> None:
    if columns > limits.max_columns:
        raise ParseError("too_many_columns", n=columns, limit=limits.max_columns)
    if rows - 1 > limits.max_rows:  # the header is not a row of reviews
        raise ParseError("too_many_rows", limit=limits.max_rows)
    if rows * columns > limits.max_cells:
        raise ParseError("too_many_cells", columns=columns, rows=rows, cells=limits.max_cells)


def _kb(size: int) -> str:
    return f"{size // 1024} KB"


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB"
