"""The console and `xiaoer analyze`, run as a merchant would run them (tiny models via settings)."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path: Path, tiny_gemma_dir: Path, tiny_encoder_dir: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("XIAOER_")}
    e |= {
        "PYTHONPATH": str(ROOT),
        "XIAOER_NLP__WRITER__MODEL": str(tiny_gemma_dir),
        "XIAOER_NLP__WRITER__MAX_NEW_TOKENS": "8",
        "XIAOER_NLP__WRITER__DTYPE": "float32",
        "XIAOER_NLP__CLASSIFIER__MODEL": str(tiny_encoder_dir),
        "XIAOER_NLP__CACHE_DIR": str(tmp_path / "cache"),
        "XIAOER_STORAGE__PATH": str(tmp_path / "db" / "xiaoer.sqlite3"),
        "XIAOER_LIMITS__MAX_REVIEW_CHARS": "50",
        "XIAOER_LOG_LEVEL": "WARNING",
    }
    return e


def xiaoer(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_console_session_through_stdin(env: dict[str, str], tmp_path: Path) -> None:
    session = (
        "\n".join(
            [
                "1. 物流太慢了，包装也破了",
                "2. 质量很好，颜色好看",
                "",
                "/accept",
                "/reply 9",
                "/settings tone concise",
                "/settings tone shouty",
                "差" * 60,
                "",
                "/copy",
                "保温杯",
                "不锈钢内胆；保温",
                "容量=500ml",
                "59元",
                "",
                "taobao",
                "short",
                "/history",
                "/nonsense",
                "/quit",
                "这一行不会被处理",
            ]
        )
        + "\n"
    )
    result = xiaoer(["chat"], env, tmp_path, session)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "[1]" in out and "[2]" in out  # both reviews got a card
    assert "方面：物流👎、包装👎" in out
    assert out.count("💬 回复") == 2  # a reply for each review
    assert "已记录" in out  # /accept stored
    assert "没有第 9 条评价" in out
    assert "语气：concise" in out
    assert "tone" in out and "shouty" not in out.split("语气：concise", 1)[1].split("\n")[0]
    assert "超过 50 字" in out  # oversized review refused with a clear message
    assert "方案 1" in out and "方案 2" in out
    assert "未知命令" in out
    assert "再见" in out

    db = sqlite3.connect(tmp_path / "db" / "xiaoer.sqlite3")
    kinds = [k for (k,) in db.execute("SELECT kind FROM generations ORDER BY id")]
    assert kinds == ["reply", "reply", "copy", "copy"]
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 2
    assert db.execute("SELECT action FROM feedback").fetchall() == [("accepted",)]


def test_console_reports_model_load_failure(env: dict[str, str], tmp_path: Path) -> None:
    env["XIAOER_NLP__CLASSIFIER__MODEL"] = str(tmp_path / "no-such-model")
    result = xiaoer(["chat"], env, tmp_path, "好\n")
    assert result.returncode == 1
    assert "模型加载失败" in result.stderr


def test_bad_settings_name_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    env["XIAOER_NLP__WRITER__TEMPERATURE"] = "hot"
    result = xiaoer(["chat"], env, tmp_path)
    assert result.returncode == 2
    assert "XIAOER_NLP__WRITER__TEMPERATURE" in result.stderr


def test_analyze_writes_one_row_per_input_row(env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    rows = [
        ["订单号", "评价内容"],
        ["A1", "物流太慢了"],
        ["A2", ""],
        ["A3", "质量很好，包装也好"],
        ["A4", "一般"],
    ]
    src.write_bytes("\n".join(",".join(r) for r in rows).encode("gbk"))  # as Chinese Excel writes it
    out = tmp_path / "out" / "labelled.csv"
    report = tmp_path / "out" / "report.md"
    result = xiaoer(["analyze", str(src), "-o", str(out), "--report", str(report)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8-sig") as f:
        got = list(csv.DictReader(f))
    # the report the bot sends for an upload, as Markdown, and its chart beside it
    text = report.read_text(encoding="utf-8")
    assert text.startswith("📑 **export.csv**：3 条评价\n（1 行为空，未分析）\n")
    n = {k: sum(r["label"] == k for r in got) for k in ("positive", "neutral", "negative")}
    assert f"👍 好评 {n['positive']} · 😐 中评 {n['neutral']} · 👎 差评 {n['negative']}" in text
    assert "• 物流：1 条吐槽（共 1 条提到）" in text  # the tagger reads "物流太慢了" as a complaint
    assert "<b>" not in text and "![chart](report.png)" in text
    assert (tmp_path / "out" / "report.png").read_bytes().startswith(b"\x89PNG")
    assert [r["订单号"] for r in got] == ["A1", "A2", "A3", "A4"]
    assert list(got[0]) == [
        "订单号",
        "评价内容",
        "label",
        "p_negative",
        "p_neutral",
        "p_positive",
        "aspects",
        "aspect_sentiment",
    ]
    for r in (got[0], got[2], got[3]):
        assert r["label"] in ("positive", "neutral", "negative")
        probs = [float(r[f"p_{k}"]) for k in ("negative", "neutral", "positive")]
        assert abs(sum(probs) - 1) < 1e-3
    assert got[1]["label"] == ""  # an empty review is left unlabelled, not guessed
    assert got[0]["aspects"] == "logistics"
    assert got[2]["aspects"] == "quality;packaging"
    # each aspect with the sign of what the review says of it (the bundled clause tagger)
    assert re.fullmatch(r"logistics:[-+0]", got[0]["aspect_sentiment"])
    assert re.fullmatch(r"quality:[-+0];packaging:[-+0]", got[2]["aspect_sentiment"])
    assert got[1]["aspect_sentiment"] == got[3]["aspect_sentiment"] == ""


def test_analyze_refuses_a_file_without_review_column(env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text("订单号,金额\nA1,10\n", encoding="utf-8")
    result = xiaoer(["analyze", str(src), "-o", str(tmp_path / "o.csv")], env, tmp_path)
    assert result.returncode == 2
    assert "订单号" in result.stderr
    assert not (tmp_path / "o.csv").exists()
