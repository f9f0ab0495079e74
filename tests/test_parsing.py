"""Tests for bot.parsing: splitting pasted messages and reading uploaded review exports."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.parsing import split_reviews
from bot.tables import ParseError, Table, decode, find_text_column, read_table

MAX_BYTES = 1024 * 1024
MAX_ROWS = 1000


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def read(path: Path, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Table:
    return read_table(path, max_bytes=max_bytes, max_rows=max_rows)


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


# ---------------------------------------------------------------- split_reviews


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1. 质量很好，做工精细", "质量很好，做工精细"),
        ("1.质量很好", "质量很好"),
        ("2、物流很快，第二天就到了", "物流很快，第二天就到了"),
        ("12. 客服回复及时", "客服回复及时"),
        ("3) 包装有点破", "包装有点破"),
        ("(3) 包装有点破", "包装有点破"),
        ("（4）颜色和图片一样", "颜色和图片一样"),
        ("5：尺码偏小，建议拍大一码", "尺码偏小，建议拍大一码"),
        ("③ 味道一般般", "味道一般般"),
        ("⑳ 还会回购", "还会回购"),
        ("- 性价比很高", "性价比很高"),
        ("* 声音有点大", "声音有点大"),
        ("• 电池很耐用", "电池很耐用"),
        ("   1.   前后有空格   ", "前后有空格"),
        # a review that starts with a number keeps it
        ("3天就到了，很满意", "3天就到了，很满意"),
        ("2023年买的，现在还能用", "2023年买的，现在还能用"),
        ("100%好评", "100%好评"),
        ("3.5元一个，很划算", "3.5元一个，很划算"),
        ("10:30下单，下午就送到了", "10:30下单，下午就送到了"),
        ("-5度穿着也不冷", "-5度穿着也不冷"),
        ("1234. 超过三位数的不是编号", "1234. 超过三位数的不是编号"),
        # numbering followed by a review that itself starts with a number: only the numbering goes
        ("1. 3天就到了", "3天就到了"),
        ("1、5星好评", "5星好评"),
        ("- 5星好评", "5星好评"),
        ("2. 3. 只去掉一个编号", "3. 只去掉一个编号"),
    ],
)
def test_split_reviews_removes_numbering_only(line: str, expected: str) -> None:
    assert split_reviews(line) == [expected]


def test_split_reviews_one_per_line_blank_lines_dropped() -> None:
    message = "1. 质量很好\r\n\r\n   \n2、发货太慢了\n\n③ 3天就到了\n1.\n- \n"
    assert split_reviews(message) == ["质量很好", "发货太慢了", "3天就到了"]


def test_split_reviews_unnumbered_lines_unchanged() -> None:
    message = "东西不错\n  客服态度很好  \n下次还来"
    assert split_reviews(message) == ["东西不错", "客服态度很好", "下次还来"]


@pytest.mark.parametrize("message", ["", "\n\n", "   \n\t\n", "1.\n2、\n③"])
def test_split_reviews_nothing(message: str) -> None:
    assert split_reviews(message) == []


# ---------------------------------------------------------------- decode


def test_decode_utf8_gbk_and_undecodable() -> None:
    assert decode("好评".encode()) == ("好评", "utf-8-sig")
    assert decode(b"\xef\xbb\xbf" + "好评".encode()) == ("好评", "utf-8-sig")
    assert decode("好评".encode("gbk")) == ("好评", "gb18030")
    # GB18030 maps almost every byte sequence, but a 0xFF byte or a dangling lead byte is not in it
    for data in (b"ab\xff\xfe\xfd", "好评".encode("gbk") + b"\x81"):
        with pytest.raises(ParseError, match="UTF-8"):
            decode(data)


# ---------------------------------------------------------------- read_table: text encodings
GBK_SAMPLES = [
    "好评",
    "质量很好，物流很快，非常满意！",
    "评价内容,评分\n衣服收到了，面料摸起来很舒服，尺码标准，颜色和图片一样，就是快递慢了点。,4\n",
    "买家评价\n宝贝收到了，包装很严实，没有磕碰。味道不错，孩子很喜欢吃，会回购的。\n客服态度差，差评！\n",
    "鞋子很舒适，鞋底偏硬，穿久了脚疼。退换货流程麻烦。" * 200,
    "评论\n“物流太慢”——等了一周；￥99买的，不值。【赠品】没收到～\n",
    "追评\n用了三个月，电池续航下降明显，充电器发烫（约45℃），售后说是正常现象。\n",
]
BIG5_SAMPLES = [
    "評價內容\n東西收到了，品質很好，物流很快，非常滿意！\n",
    "質量很好",
    "好評",
    "客服態度很差，退貨流程麻煩。" * 50,
]
SJIS_SAMPLES = [
    "レビュー\n商品が届きました。とても良かったです。\n",
    "品質はとても良いです",
    "配送が遅かった",
]


@pytest.mark.parametrize("text", GBK_SAMPLES)
def test_decode_real_gbk_chinese_is_never_refused(text: str) -> None:
    data = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode(data) == (text, "gb18030")


@pytest.mark.parametrize(
    ("text", "codec", "name"),
    [(t, "big5", "Big5") for t in BIG5_SAMPLES] + [(t, "shift_jis", "Shift-JIS") for t in SJIS_SAMPLES],
)
def test_decode_refuses_big5_and_shift_jis(text: str, codec: str, name: str) -> None:
    data = text.encode(codec)
    data.decode("gb18030")  # what used to happen: gibberish, silently
    with pytest.raises(ParseError, match="UTF-8") as info:
        decode(data)
    assert info.value.code == "foreign_encoding"
    assert info.value.params == {"encoding": name}
    assert f"文件看起来是 {name} 编码" in str(info.value)


def test_big5_upload_is_refused_with_the_encoding_named(tmp_path: Path) -> None:
    path = write(tmp_path, "tw.csv", BIG5_SAMPLES[0].encode("big5"))
    with pytest.raises(ParseError, match="looks like Big5"):
        read(path)


def test_utf16_big_endian_and_damaged_utf16(tmp_path: Path) -> None:
    assert decode("\ufeff评价\n好".encode("utf-16-be")) == ("评价\n好", "utf-16")
    with pytest.raises(ParseError, match="damaged"):
        decode(b"\xff\xfe" + "好".encode("utf-16-le") + b"\x00\xd8")


def test_csv_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "reviews.csv", "评价内容,评分\n质量很好,5\n发货太慢,2\n")
    table = read(path)
    assert table.columns == ["评价内容", "评分"]
    assert table.rows == [["质量很好", "5"], ["发货太慢", "2"]]
    assert table.text_column == 0
    assert table.texts() == ["质量很好", "发货太慢"]
    assert table.encoding == "utf-8-sig"


def test_csv_utf8_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "reviews.csv", b"\xef\xbb\xbf" + "评价内容,评分\n质量很好,5\n".encode())
    table = read(path)
    assert table.columns == ["评价内容", "评分"]  # no "\ufeff" left on the first header
    assert table.text_column == 0
    assert table.texts() == ["质量很好"]


def test_csv_gbk(tmp_path: Path) -> None:
    data = "评价内容,评分\n质量很好,5\n".encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    table = read(write(tmp_path, "export.csv", data))
    assert table.encoding == "gb18030"
    assert table.columns == ["评价内容", "评分"]
    assert table.texts() == ["质量很好"]


def test_csv_crlf_line_endings(tmp_path: Path) -> None:
    table = read(write(tmp_path, "r.csv", "评论,评分\r\n包装很用心,5\r\n味道偏咸,3\r\n"))
    assert table.rows == [["包装很用心", "5"], ["味道偏咸", "3"]]


def test_undecodable_bytes(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="GBK"):
        read(write(tmp_path, "r.csv", b"text\n\xff\xfe\xfd\xff\n"))


def test_binary_file_with_nul_bytes(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="not a text file"):
        read(write(tmp_path, "r.csv", b"\x00\x01\x02\x03text\x00\x00\n"))


def test_old_xls_is_not_read_as_text(tmp_path: Path) -> None:
    # an OLE2 (.xls) header: either undecodable or binary, never rows of garbage
    data = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 64
    with pytest.raises(ParseError):
        read(write(tmp_path, "r.xls", data))


# ---------------------------------------------------------------- read_table: delimiters, quoting


def test_tsv(tmp_path: Path) -> None:
    path = write(tmp_path, "r.tsv", "订单号\t评价内容\t评分\n1001\t物流很快\t5\n1002\t有点小瑕疵\t4\n")
    table = read(path)
    assert table.columns == ["订单号", "评价内容", "评分"]
    assert table.text_column == 1
    assert table.texts() == ["物流很快", "有点小瑕疵"]


def test_tsv_whose_reviews_contain_ascii_commas(tmp_path: Path) -> None:
    rows = "".join(f"{i}\t好用,便宜,发货快,包装也好\t5\n" for i in range(5))
    table = read(write(tmp_path, "r.tsv", "订单号\t评价内容\t评分\n" + rows))
    assert table.columns == ["订单号", "评价内容", "评分"]
    assert table.texts() == ["好用,便宜,发货快,包装也好"] * 5


def test_csv_whose_reviews_contain_tabs(tmp_path: Path) -> None:
    rows = "".join(f'{i},"好用\t便宜\t发货快",5\n' for i in range(5))
    table = read(write(tmp_path, "r.csv", "订单号,评价内容,评分\n" + rows))
    assert table.texts() == ["好用\t便宜\t发货快"] * 5


def test_quoted_fields_with_newlines_commas_and_quotes(tmp_path: Path) -> None:
    content = '评价内容,评分\n"第一行\n第二行，还有,英文逗号",5\n"他说""很好""",4\n普通评价,3\n'
    table = read(write(tmp_path, "r.csv", content))
    assert table.texts() == ["第一行\n第二行，还有,英文逗号", '他说"很好"', "普通评价"]
    assert [row[1] for row in table.rows] == ["5", "4", "3"]


def test_unterminated_quote_does_not_crash(tmp_path: Path) -> None:
    # the csv module reads an unterminated quote to the end of the file as one field
    path = write(tmp_path, "r.csv", '评价内容,评分\n"没有结束的引号,5\n还有一行,4\n')
    assert read(path).texts() == ["没有结束的引号,5\n还有一行,4"]


@pytest.mark.parametrize("length", [10_001, 200_000])  # 200k is also over csv's own 128 KiB cap
def test_csv_cell_over_the_cell_limit_is_refused(tmp_path: Path, length: int) -> None:
    path = write(tmp_path, "r.csv", '评价内容,评分\n短评,4\n"' + "好" * length + '",5\n')
    with pytest.raises(ParseError, match="Row 3 has a cell over 10000 characters") as info:
        read(path, max_bytes=10 * MAX_BYTES)
    assert info.value.code == "cell_too_long"
    assert "10000 个字" in str(info.value)
    assert len(read(write(tmp_path, "ok.csv", "评价内容\n" + "好" * 10_000 + "\n")).texts()[0]) == 10_000


def test_rows_shorter_than_header_are_padded_longer_cut(tmp_path: Path) -> None:
    content = "评价内容,评分,日期\n只有评价\n质量好,5\n太多列,5,2024-01-02,多余\n"
    table = read(write(tmp_path, "r.csv", content))
    assert table.rows == [
        ["只有评价", "", ""],
        ["质量好", "5", ""],
        ["太多列", "5", "2024-01-02"],
    ]
    assert all(len(row) == len(table.columns) for row in table.rows)


def test_blank_rows_dropped(tmp_path: Path) -> None:
    table = read(write(tmp_path, "r.csv", "评价内容,评分\n\n质量很好,5\n , \n,\n"))
    assert table.rows == [["质量很好", "5"]]


# ---------------------------------------------------------------- read_table: finding the column


@pytest.mark.parametrize(
    ("header", "index"),
    [
        ("评论,评分", 0),
        ("评分,text", 1),
        ("评分,Text", 1),
        ("评分, 评价内容 ,日期", 1),
        ("订单号,买家评价", 1),
        ("sku,rating,comment", 2),
    ],
)
def test_review_column_found_by_name(tmp_path: Path, header: str, index: int) -> None:
    width = header.count(",") + 1
    cells = ["x"] * width
    cells[index] = "做工很好"
    table = read(write(tmp_path, "r.csv", f"{header}\n{','.join(cells)}\n"))
    assert table.text_column == index
    assert table.texts() == ["做工很好"]


def test_several_columns_without_review_column(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "商品,评分,日期\n杯子,5,2024-03-01\n")
    with pytest.raises(ParseError) as info:
        read(path)
    message = str(info.value)
    assert "text" in message
    assert "商品, 评分, 日期" in message


def test_single_column_with_another_name_is_taken(tmp_path: Path) -> None:
    table = read(write(tmp_path, "r.csv", "留言\n东西收到了，很喜欢\n第二次买了\n"))
    assert table.text_column == 0
    assert table.texts() == ["东西收到了，很喜欢", "第二次买了"]


def test_find_text_column_prefers_known_names() -> None:
    assert find_text_column(["评分", "评价内容"]) == 1
    assert find_text_column(["随便"]) == 0
    with pytest.raises(ParseError, match="a, b"):
        find_text_column(["a", "b"])


# ---------------------------------------------------------------- read_table: TXT


def test_txt_one_review_per_line(tmp_path: Path) -> None:
    content = "质量很好\n\n  \n发货太慢了, 等了一周\r\n3天就到了\n"
    table = read(write(tmp_path, "r.txt", content))
    assert table.columns == ["text"]
    assert table.text_column == 0
    # commas are part of the review, no CSV splitting
    assert table.texts() == ["质量很好", "发货太慢了, 等了一周", "3天就到了"]


def test_txt_gbk(tmp_path: Path) -> None:
    table = read(write(tmp_path, "r.TXT", "颜色很正\n尺码合适\n".encode("gbk")))
    assert table.encoding == "gb18030"
    assert table.texts() == ["颜色很正", "尺码合适"]


# ---------------------------------------------------------------- read_table: XLSX


def test_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "export.xlsx",
        [
            ["订单号", "评价内容", "评分", None],
            [1001, "物流很快，包装完好", 5, None],
            [1002, None, 4.5, None],
            [None, None, None, None],
            [1003, "  客服很耐心  ", None, None],
        ],
    )
    table = read(path)
    assert table.encoding == "xlsx"
    # a column with no cell at all is not in the file; whole numbers read back without ".0"
    assert table.columns == ["订单号", "评价内容", "评分"]
    assert table.text_column == 1
    assert table.rows == [
        ["1001", "物流很快，包装完好", "5"],
        ["1002", "", "4.5"],
        ["1003", "  客服很耐心  ", ""],
    ]
    assert table.texts() == ["物流很快，包装完好", "", "客服很耐心"]


def test_xlsx_upper_case_suffix(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "EXPORT.XLSX", [["评论"], ["不错"]])
    assert read(path).texts() == ["不错"]


def test_xlsx_without_review_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [["商品", "评分"], ["杯子", 5]])
    with pytest.raises(ParseError, match="商品, 评分"):
        read(path)


def test_xlsx_empty_workbook(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    Workbook().save(path)
    with pytest.raises(ParseError):
        read(path)


def test_xlsx_header_only(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [["评价内容", "评分"]])
    with pytest.raises(ParseError, match="no rows"):
        read(path)


def test_xlsx_too_many_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [["评价内容"]] + [[f"好评{i}"] for i in range(6)])
    assert len(read(path, max_rows=6).rows) == 6
    with pytest.raises(ParseError, match="Too many rows"):
        read(path, max_rows=5)


def _corrupt_xlsx_variants(tmp_path: Path) -> list[Path]:
    good = write_xlsx(tmp_path / "good.xlsx", [["评价内容"]] + [[f"质量很好{i}" * 5] for i in range(50)])
    data = good.read_bytes()
    random_bytes = write(tmp_path, "random.xlsx", random.Random(0).randbytes(4096))
    truncated = write(tmp_path, "truncated.xlsx", data[: len(data) // 2])
    empty = write(tmp_path, "empty.xlsx", b"")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "不是 Excel")
    other_zip = write(tmp_path, "zip.xlsx", buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name.endswith("sheet1.xml"):
                content = content[: len(content) // 2]
            target.writestr(name, content)
    broken_sheet = write(tmp_path, "sheet.xlsx", buffer.getvalue())
    return [random_bytes, truncated, empty, other_zip, broken_sheet]


def test_corrupt_xlsx_is_a_parse_error(tmp_path: Path) -> None:
    for path in _corrupt_xlsx_variants(tmp_path):
        with pytest.raises(ParseError, match=r"XLSX|empty"):
            read(path)


# ---------------------------------------------------------------- read_table: limits and empties


@pytest.mark.parametrize("name", ["r.csv", "r.tsv", "r.txt"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ParseError, match=r"empty|no rows"):
        read(write(tmp_path, name, b""))


def test_header_only_csv(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no rows"):
        read(write(tmp_path, "r.csv", "评价内容,评分\n"))


def test_file_over_max_bytes(tmp_path: Path) -> None:
    content = "评价内容\n" + "质量很好\n" * 200
    path = write(tmp_path, "r.csv", content)
    size = path.stat().st_size
    assert len(read(path, max_bytes=size).rows) == 200
    with pytest.raises(ParseError, match="too large"):
        read(path, max_bytes=size - 1)


def test_file_over_max_bytes_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "r.csv", "评价内容\n" + "好\n" * 2000)

    def fail(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("read a file over the limit")

    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(ParseError, match="too large"):
        read(path, max_bytes=1024)


@pytest.mark.parametrize("name", ["r.csv", "r.txt"])
def test_more_rows_than_max_rows(tmp_path: Path, name: str) -> None:
    header = "评价内容\n" if name.endswith(".csv") else ""
    path = write(tmp_path, name, header + "".join(f"第{i}条好评\n" for i in range(11)))
    assert len(read(path, max_rows=11).rows) == 11
    with pytest.raises(ParseError, match="Too many rows"):
        read(path, max_rows=10)


def test_utf16_unicode_text_export_is_read(tmp_path: Path) -> None:
    # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
    path = tmp_path / "export.txt"
    path.write_bytes("质量很好\n物流太慢\n".encode("utf-16"))
    table = read_table(path, max_bytes=10_000, max_rows=10)
    assert table.encoding == "utf-16"
    assert table.texts() == ["质量很好", "物流太慢"]
