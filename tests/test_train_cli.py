"""`xiaoer train ...` and `xiaoer eval ...` run as a merchant runs them, on tiny models and fixtures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.test_cli import env, xiaoer  # noqa: F401  (the fixture is used by name)
from training.data import Example
from training.evaluate import distinct_2, evaluate_set, reply_problems

GOOD = ["质量很好，满意", "物流很快，好评", "喜欢，颜色好看", "服务态度好，满意", "价格便宜，质量好"]
BAD = ["质量太差了，退货", "物流太慢，差评", "不满意，包装差", "态度差，不喜欢", "太贵了，质量差"]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def labelled(texts: list[str], label: str, suffix: str) -> list[tuple[str, str]]:
    return [(t + suffix, label) for t in texts]


def test_train_classifier_then_lexical_then_eval_with_the_tfidf_baseline(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    tiny_encoder_dir: Path,
) -> None:
    train = write_csv(
        tmp_path / "shop_train.csv",
        [
            r
            for s in ("", "！", "。", "~")
            for r in labelled(GOOD, "positive", s) + labelled(BAD, "negative", s)
        ],
    )
    write_csv(tmp_path / "shop_dev.csv", labelled(GOOD, "positive", "啊") + labelled(BAD, "negative", "啊"))
    test = write_csv(
        tmp_path / "shop_test.csv", labelled(GOOD, "positive", "呀") + labelled(BAD, "negative", "呀")
    )
    adapter = tmp_path / "adapter"
    common = ["--train", str(train), "--dev", str(tmp_path / "shop_dev.csv")]
    r = xiaoer(
        ["train", "classifier", *common, "--base", str(tiny_encoder_dir), "--out", str(adapter),
         "--epochs", "2", "--batch-size", "8", "--eval-every", "3", "--lora-top-layers", "0",
         "--max-length", "32"],
        env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (adapter / "adapter_config.json").is_file() and "best dev macro-F1" in r.stdout

    r = xiaoer(
        ["train", "lexical", *common, "--adapter", str(adapter), "--model", str(tiny_encoder_dir),
         "--l2", "1e-3", "1e-4", "--buckets", "4096"],
        env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    meta = json.loads((adapter / "lexical.json").read_text())
    assert set(meta["dev"]) == {"binary/encoder", "binary/lexical", "binary/combined"}
    assert meta["dev"]["binary/lexical"]["accuracy"] == 1.0  # the dev phrasings share the train n-grams
    assert set(meta["dev_macro_f1_by_l2"]) == {"0.001", "0.0001"}

    r = xiaoer(
        ["train", "calibrate", "--adapter", str(adapter), "--model", str(tiny_encoder_dir),
         "--dev", str(tmp_path / "shop_dev.csv")],
        env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    cal = json.loads((adapter / "calibration.json").read_text())
    assert cal["temperature"] == 1.0 and 0.05 <= cal["binary_temperature"] <= 20  # no 3-class refs given
    dev = cal["dev"]["binary"]
    assert dev["rows"] == 10 and dev["after"]["nll"] <= dev["before"]["nll"] + 1e-4
    assert dev["after"]["accuracy"] == dev["before"]["accuracy"]

    env = env | {"XIAOER_NLP__CLASSIFIER__ADAPTER": str(adapter)}
    r = xiaoer(
        ["eval", "classifier", "--test", str(test)],
        env | {"XIAOER_NLP__CLASSIFIER__LABELS": "binary"},
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("| shop_test |"))
    assert [c.strip() for c in row.strip("|").split("|")][4] == "0.0%"  # binary mode never answers neutral
    assert "labels binary" in r.stdout
    report = tmp_path / "out" / "report.md"
    r = xiaoer(
        ["eval", "classifier", "--test", str(test), "--baseline-train", str(train), "-o", str(report)],
        env,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    text = report.read_text()
    assert "+ lexical model" in text and "TF-IDF trained on shop_train.csv" in text
    row = next(line for line in text.splitlines() if line.startswith("| shop_test |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "10" and cells[-2:] == ["1.0000", "1.0000"]  # TF-IDF separates these fixtures
    assert "confusion (rows gold, columns predicted)" in text


def test_train_and_eval_refuse_bad_input_with_a_reason(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    bad = tmp_path / "bad.csv"
    bad.write_text("review,stars\n好,5\n", encoding="utf-8")
    r = xiaoer(
        ["train", "lexical", "--train", str(bad), "--dev", str(bad), "--adapter", str(tmp_path)],
        env,
        tmp_path,
    )
    assert r.returncode == 2 and "cannot read training data" in r.stderr and "label" in r.stderr
    r = xiaoer(["train", "lexical", "--train", str(bad), "--dev", str(bad)], env, tmp_path)
    assert r.returncode == 2 and "--adapter" in r.stderr  # never written into the shipped adapter by default
    good = write_csv(tmp_path / "ok.csv", labelled(GOOD, "positive", "") + labelled(BAD, "negative", ""))
    r = xiaoer(
        ["train", "lexical", "--train", str(good), "--dev", str(good), "--adapter", str(tmp_path)],
        env,
        tmp_path,
    )
    assert r.returncode == 2 and "is not a classifier adapter" in r.stderr
    r = xiaoer(["eval", "classifier"], env, tmp_path)
    assert r.returncode == 2 and "nothing to evaluate" in r.stderr
    r = xiaoer(["eval", "writer", "--data", str(good)], env, tmp_path)
    assert r.returncode == 2 and "no writer adapter" in r.stderr


def writer_examples(copy: int) -> list[dict[str, object]]:
    profile = {"name": "小店", "category": "杯", "policy": "质量问题免费补发", "signature": "小店"}
    out: list[dict[str, object]] = []
    for i, (review, label, response) in enumerate(
        [
            ("物流太慢了", "negative", "抱歉物流慢了，我们会催快递。"),
            ("质量很好，满意", "positive", "谢谢您喜欢！"),
            ("包装差，杯子破了", "negative", "抱歉杯子破了，质量问题免费补发。"),
            ("颜色好看", "positive", "谢谢您的好评！"),
            ("一般", "neutral", "谢谢您的评价，我们会改进。"),
            ("客服态度差", "negative", "抱歉客服态度不好，我们会改进服务。"),
        ]
    ):
        out.append(
            {"id": f"r{copy}-{i}", "task": "reply", "review": review, "label": label, "tone": "warm",
             "profile": profile, "response": response}
        )  # fmt: skip
    out.append(
        {"id": f"c{copy}", "task": "copy", "facts": {"name": "保温杯", "selling_points": ["不锈钢"]},
         "platform": "taobao", "length": "short", "tone": "warm", "response": "标题：保温杯\n卖点：不锈钢"}
    )  # fmt: skip
    out.append(
        {
            "id": f"s{copy}",
            "task": "strategy",
            "summary": "共10条评价，好评5、中评2、差评3。",
            "response": "- 物流：催快递",
        }
    )
    return out


def test_train_writer_then_eval_writer_on_its_held_out_examples(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    tiny_gemma_dir: Path,
) -> None:
    data = tmp_path / "writer.jsonl"
    data.write_text(
        "\n".join(json.dumps(e, ensure_ascii=False) for k in (1, 2) for e in writer_examples(k)) + "\n"
    )
    out = tmp_path / "writer-adapter"
    r = xiaoer(
        ["train", "writer", "--data", str(data), "--base", str(tiny_gemma_dir), "--out", str(out),
         "--epochs", "1", "--batch-size", "2", "--grad-accum", "1", "--eval-every", "2", "--lora-r", "4",
         "--dev-fraction", "0.5", "--max-length", "1024"],
        env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "training_summary.json").read_text())
    assert len(summary["dev_ids"]) == summary["dev_examples"] == 8

    reviews = write_csv(
        tmp_path / "real.csv", labelled(GOOD, "positive", "。") + labelled(BAD, "negative", "。")
    )
    env = env | {"XIAOER_NLP__WRITER__ADAPTER": str(out), "XIAOER_NLP__WRITER__MAX_NEW_TOKENS": "8"}
    report = tmp_path / "writer-report.md"
    r = xiaoer(
        ["eval", "writer", "--data", str(data), "--reviews", str(reviews), "--replies", "9", "--copies", "1",
         "--strategies", "1", "--variants", "2", "--variant-prompts", "2", "--show", "2", "-o", str(report)],
        env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = report.read_text()
    assert "adapter=writer-adapter" in text and "distinct-2 across 2 prompts" in text
    assert "held-out masked response loss" in text
    drafts = [json.loads(line) for line in report.with_suffix(".jsonl").read_text().splitlines()]
    assert sum(d["kind"] == "reply" for d in drafts) == 9  # held-out replies + real reviews up to 9
    held_out_ids = set(summary["dev_ids"])
    ours = {d["id"] for d in drafts if not str(d["id"]).startswith("real.csv:")}
    assert ours and ours <= held_out_ids  # never an example the adapter trained on
    row = next(line for line in text.splitlines() if line.startswith("| reply |"))
    passed = sum(not d["problems"] for d in drafts if d["kind"] == "reply")
    assert f"| {passed} (" in row


def test_a_neutral_answer_on_a_binary_set_counts_as_wrong() -> None:
    examples = [Example("a", "positive"), Example("b", "negative"), Example("c", "positive")]
    probs = torch.tensor([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1], [0.5, 0.1, 0.4]])  # pos, neutral, neg
    r = evaluate_set("t", examples, probs, None)
    assert r.model.accuracy == pytest.approx(1 / 3) and r.neutral_rate == pytest.approx(1 / 3)
    assert r.polar is not None and r.polar.accuracy == pytest.approx(2 / 3)  # b -> negative counts


def test_reply_checks_and_distinct_2() -> None:
    from nlp.types import ShopProfile

    profile = ShopProfile(policy="质量问题包退换")
    assert reply_problems("抱歉物流慢了，我们会催促快递尽快送达。", "物流太慢了", profile) == []
    assert "misses_aspects" in reply_problems("谢谢您的评价，我们会继续努力的。", "物流太慢了", profile)
    assert any(p.startswith("length") for p in reply_problems("好", "物流太慢了", profile))
    assert any(
        p.startswith("too_long") or p.startswith("length")
        for p in reply_problems("物流" * 200, "物流慢", profile)
    )
    assert distinct_2(["abab", "abab"]) == pytest.approx(2 / 6)
    assert distinct_2(["abc", "xyz"]) == 1.0 and distinct_2([""]) == 0.0


def _refs(path: Path, shared: Path, rows: list[tuple[int, str]]) -> Path:
    from training.data import text_hash

    with (shared / "reviews.csv").open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "row", "sha1", "label"])
        w.writerows(("reviews.csv", i, text_hash(texts[i]), label) for i, label in rows)
    return path


def test_train_refs_only_train_and_never_leak_a_dev_text(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    tiny_encoder_dir: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    polar = labelled(GOOD, "positive", "") + labelled(BAD, "negative", "")
    lukewarm = [("还行吧", "neutral"), ("一般般", "neutral"), ("凑合用", "neutral")]
    write_csv(shared / "reviews.csv", polar + lukewarm)
    refs = _refs(tmp_path / "refs.csv", shared, [(i, label) for i, (_, label) in enumerate(polar)])
    # hard cases: three new reviews, plus every reference again under another label
    hard_rows = [(len(polar) + i, "neutral") for i in range(len(lukewarm))]
    hard = _refs(tmp_path / "hard.csv", shared, hard_rows + [(i, "neutral") for i in range(len(polar))])
    r = xiaoer(
        ["train", "classifier", "--refs", str(refs), "--train-refs", str(hard), "--shared-dir", str(shared),
         "--dev-fraction", "0.5", "--base", str(tiny_encoder_dir), "--out", str(tmp_path / "a"),
         "--epochs", "1", "--batch-size", "8", "--max-length", "16"],
        env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("train "))
    train_part, dev_part = line.split("; dev ")
    n_train, n_dev = int(train_part.split()[1]), int(dev_part.split()[0])
    assert n_dev > 0 and n_train + n_dev == len(polar) + len(lukewarm)  # each text once
    assert "neutral" not in dev_part  # hard cases never reach dev
    # the references keep their own label; a dev text is not trained on under its hard label
    assert "'neutral': 3" in train_part


def test_aspect_scores_compare_signs_where_both_name_the_aspect() -> None:
    from training.evaluate import AspectScores, parse_aspect_signs

    s = AspectScores()
    s.add({"logistics": 1, "quality": -1, "price": 0}, {"logistics": 1, "quality": 1, "service": -1}, 1)
    assert (s.gold, s.detected, s.both, s.right, s.right_label_only) == (3, 3, 2, 1, 1)
    assert (s.polar, s.polar_right) == (2, 1) and s.by_aspect == {"logistics": [1, 1], "quality": [1, 0]}
    text = s.render("## t")
    assert (
        "| aspect detection precision | 0.667 (2/3) |" in text
        and "| **polarity accuracy** (aspects both named) | 0.500 (1/2) |" in text
    )
    assert parse_aspect_signs("logistics:+; quality:-;") == {"logistics": 1, "quality": -1}
    assert parse_aspect_signs("") == {}
    with pytest.raises(Exception, match="is not ASPECT"):
        parse_aspect_signs("weather:+")
    with pytest.raises(Exception, match="is not ASPECT"):
        parse_aspect_signs("price:?")


def test_eval_aspects_reads_references_and_reports(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    from training.data import text_hash

    shared = tmp_path / "shared"
    shared.mkdir()
    reviews = ["物流很快，但是质量太差了，用了两天就坏了", "价格便宜，包装也很好", "好评"]
    write_csv(shared / "shop_test.csv", [(t, "positive") for t in reviews])
    refs = tmp_path / "aspects.csv"
    with refs.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "row", "sha1", "aspects"])
        w.writerows(
            [
                ("shop_test.csv", 0, text_hash(reviews[0]), "logistics:+;quality:-"),
                ("shop_test.csv", 1, text_hash(reviews[1]), "price:+;packaging:+"),
                ("shop_test.csv", 2, text_hash(reviews[2]), ""),
            ]
        )
    r = xiaoer(["eval", "aspects", "--refs", str(refs), "--shared-dir", str(shared)], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 reviews; the annotators named 4 aspects" in r.stdout and "clause tagger" in r.stdout
    # the bundled tagger reads the clauses, whatever the tiny encoder says of the whole review
    assert "| logistics | 1 | 1.000 |" in r.stdout and "| quality | 1 | 1.000 |" in r.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"file,row,sha1,aspects\nshop_test.csv,0,{text_hash(reviews[0])},weather:+\n", encoding="utf-8"
    )
    r = xiaoer(["eval", "aspects", "--refs", str(bad), "--shared-dir", str(shared)], env, tmp_path)
    assert r.returncode == 2 and "is not ASPECT" in r.stderr
    bad.write_text("file,row,sha1,aspects\nshop_test.csv,0,000000000000,logistics:+\n", encoding="utf-8")
    r = xiaoer(["eval", "aspects", "--refs", str(bad), "--shared-dir", str(shared)], env, tmp_path)
    assert r.returncode == 2 and "sha1 mismatch" in r.stderr
