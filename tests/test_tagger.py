"""The clause tagger (nlp/tagger.py), its training (training/train_tagger.py) and how the plan uses
it (nlp/issues.tagged_issues). Clauses here are written for the tests."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from nlp.errors import ModelLoadError
from nlp.issues import issues, tagged_issues
from nlp.models import load_tagger
from nlp.tagger import NONE, ClauseTag, Tagger
from nlp.tags import BY_KEY, TAGS
from nlp.types import LABELS
from nlp.understand import split_clauses
from training.data import DataError, text_hash
from training.train_tagger import Row, fit, read_clause_refs, score

# (clause, polarity, tags) in the ways customers say them; each phrase several times over
_CLAUSES = [
    ("快递员不送上门", -1, ("not_to_door",)),
    ("让我自己去快递点取", -1, ("not_to_door",)),
    ("快递放在驿站不送到家", -1, ("not_to_door",)),
    ("衣服太薄了", -1, ("thin_material",)),
    ("面料很薄透光", -1, ("thin_material",)),
    ("薄得能看到里面", -1, ("thin_material",)),
    ("服务员态度特别好", 1, ("p_service",)),
    ("前台态度很热情", 1, ("p_service",)),
    ("客服态度很好", 1, ("p_service",)),
    ("我是周五买的", 0, ()),
    ("给朋友买的", 0, ()),
    ("第二次买了", 0, ()),
]
TRAIN = [
    Row(c, "", "goods", "negative" if p < 0 else "positive", p, t, f"t{i}")
    for i, (c, p, t) in enumerate(_CLAUSES * 3)
]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    t = fit(TRAIN, l2=1e-4, min_count=1)
    t.threshold = 0.3
    return t


def test_clauses_like_the_training_ones_get_their_tag_and_polarity(tagger: Tagger) -> None:
    got = tagger.tag(
        ["快递员不送上门，要自己去取", "衣服太薄", "服务员态度好", "周五买的"], "goods", "negative"
    )
    assert [g.tag.key if g.tag else None for g in got] == ["not_to_door", "thin_material", "p_service", None]
    assert [g.polarity for g in got] == [-1, -1, 1, 0]
    assert all(0.0 < g.polarity_p <= 1.0 and 0.0 < g.tag_p <= 1.0 for g in got)


def test_a_tag_below_the_threshold_or_of_the_other_sign_is_not_named(tagger: Tagger) -> None:
    sure = tagger.tag(["衣服太薄"], "goods", "negative")[0]
    assert sure.tag is not None
    tagger.threshold = sure.tag_p + 1e-3
    try:
        assert tagger.tag(["衣服太薄"], "goods", "negative")[0].tag is None
    finally:
        tagger.threshold = 0.3
    # a praise tag never names a clause read as a complaint, and a stay-only tag no goods shop
    assert all(
        g.tag is None or g.tag.polarity == g.polarity for g in tagger.tag(["态度"], "goods", "negative")
    )


def test_tags_outside_the_shop_kind_are_not_named() -> None:
    keys = (NONE, "heating")
    weight = torch.zeros(2, len(keys))
    weight[0, 1] = 10.0  # "冷" -> heating, a hotel-only tag
    t = Tagger(
        {"冷": 0, "<l>negative": 1},
        torch.ones(2),
        weight,
        torch.zeros(len(keys)),
        torch.zeros(2, 3),
        torch.tensor([5.0, 0.0, 0.0]),
        keys,
        0.3,
    )
    assert t.tag(["好冷"], "stay", "negative")[0].tag == BY_KEY["heating"]
    assert t.tag(["好冷"], "goods", "negative")[0].tag is None


def test_save_and_load_give_the_same_answers(tagger: Tagger, tmp_path: Path) -> None:
    tagger.save(tmp_path / "t", extra={"note": "test"})
    loaded = Tagger.load(tmp_path / "t")
    assert loaded is not None and loaded.tags == tagger.tags and loaded.threshold == tagger.threshold
    clauses = ["快递员不送上门", "衣服太薄了", "服务员态度特别好", "没见过的字"]
    a, b = tagger.tag(clauses, "goods", "negative"), loaded.tag(clauses, "goods", "negative")
    assert [(x.polarity, x.tag) for x in a] == [(x.polarity, x.tag) for x in b]
    assert [round(x.tag_p, 2) for x in a] == [round(x.tag_p, 2) for x in b]  # fp16 weights on disk
    assert Tagger.load(tmp_path / "missing") is None
    assert load_tagger(str(tmp_path / "t")) is not None and load_tagger("none") is None
    with pytest.raises(ModelLoadError):
        load_tagger(str(tmp_path / "missing"))


def test_empty_input_and_featureless_clauses(tagger: Tagger) -> None:
    assert tagger.tag([], "goods", "negative") == []
    got = tagger.tag(["", "？？"], "goods", "neutral")
    assert len(got) == 2 and all(g.tag is None for g in got)


def test_the_tagger_overrules_a_lexicon_complaint_it_reads_as_praise() -> None:
    review = "服务员态度特别好，就是房间有点小"
    spans = split_clauses(review)
    praise = ClauseTag(1, 0.9, BY_KEY["p_service"], 0.8)
    small = ClauseTag(-1, 0.9, BY_KEY["small_room"], 0.8)
    lexicon = [i.zh for i in issues(review, "stay")]
    found = tagged_issues(review, "stay", spans, [praise, small])
    assert [(i.zh, i.polarity) for i in found] == [("房间偏小", -1), ("服务", 1)]
    # unsure of the praise, the lexicon's reading stands
    unsure = tagged_issues(review, "stay", spans, [ClauseTag(1, 0.5, None, 0.6), small])
    assert [i.zh for i in unsure if i.polarity < 0] == [z for z in lexicon if z != "服务"][:3]


def test_the_tagger_names_what_the_lexicon_has_no_rule_for() -> None:
    review = "快递小哥让我自己下楼去驿站拿"
    assert [i for i in issues(review, "goods") if i.polarity < 0] == []
    found = tagged_issues(
        review, "goods", split_clauses(review), [ClauseTag(-1, 0.8, BY_KEY["not_to_door"], 0.7)]
    )
    assert [(i.zh, i.aspect, i.polarity) for i in found] == [("快递没有送货上门", "logistics", -1)]
    # where the lexicon named a complaint in the clause, the tagger adds no second name for it
    review = "盒子压坏了"
    again = tagged_issues(
        review, "goods", split_clauses(review), [ClauseTag(-1, 0.9, BY_KEY["poor_packaging"], 0.9)]
    )
    assert [i.zh for i in again] == ["商品在运输中破损"]


def test_every_tag_names_itself_in_both_languages_and_keys_are_unique() -> None:
    assert len(BY_KEY) == len(TAGS)
    for t in TAGS:
        assert t.polarity in (-1, 1) and t.hint
        for domain in t.domains:
            assert t.name(domain, "zh") and t.name(domain, "en")


def _shared(tmp_path: Path, texts: list[str]) -> Path:
    d = tmp_path / "shared"
    d.mkdir()
    with (d / "reviews.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for t in texts:
            w.writerow([t, "negative"])
    return d


def _refs(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "refs.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "row", "sha1", "start", "end", "pol", "tags", "other"])
        w.writeheader()
        w.writerows(rows)
    return path


def test_clause_references_are_joined_with_the_shared_reviews(tmp_path: Path) -> None:
    text = "衣服太薄了，快递也不送上门"
    shared = _shared(tmp_path, [text])
    ref = {"file": "reviews.csv", "row": 0, "sha1": text_hash(text), "other": ""}
    refs = _refs(
        tmp_path,
        [
            {**ref, "start": 6, "end": 13, "pol": -1, "tags": "not_to_door"},
            {**ref, "start": 0, "end": 5, "pol": -1, "tags": "thin_material"},
        ],
    )
    rows = read_clause_refs(refs, shared)
    assert [(r.clause, r.previous, r.tags) for r in rows] == [
        ("衣服太薄了", "", ("thin_material",)),
        ("快递也不送上门", "衣服太薄了", ("not_to_door",)),
    ]
    with pytest.raises(DataError, match="sha1"):
        read_clause_refs(
            _refs(tmp_path, [{**ref, "sha1": "0" * 12, "start": 0, "end": 5, "pol": -1, "tags": ""}]), shared
        )
    with pytest.raises(DataError, match="unknown tag"):
        read_clause_refs(
            _refs(tmp_path, [{**ref, "start": 0, "end": 5, "pol": -1, "tags": "no_such_tag"}]), shared
        )


def test_score_counts_named_tags_against_the_labellers(tagger: Tagger) -> None:
    rows = [
        Row("衣服太薄了", "", "goods", "negative", -1, ("thin_material",), "a"),
        Row("周五买的", "衣服太薄了", "goods", "negative", 0, (), "a"),
    ]
    s = score(tagger, rows)
    assert s.polarity_accuracy == 1.0 and s.tag_precision == 1.0 and s.tag_recall == 1.0 and s.named == 1
    wrong = [Row("衣服太薄了", "", "goods", "negative", 1, ("sizing",), "b")]
    s = score(tagger, wrong)
    assert s.polarity_accuracy == 0.0 and s.tag_precision == 0.0 and s.tag_recall == 0.0


def test_a_tag_that_cannot_apply_to_the_goods_is_not_named() -> None:
    review = "按键有点小"
    sizing = [ClauseTag(-1, 0.9, BY_KEY["sizing"], 0.8)]
    assert [i.zh for i in tagged_issues(review, "goods", split_clauses(review), sizing, "wear")] == [
        "尺码不合适"
    ]
    assert tagged_issues(review, "goods", split_clauses(review), sizing, "device") == []


def test_the_writer_names_what_its_tagger_finds(tiny_gemma_dir: Path, tagger: Tagger) -> None:
    from transformers import AutoModelForCausalLM

    from nlp.config import WriterConfig
    from nlp.loading import load_model
    from nlp.types import Sentiment, ShopProfile
    from nlp.writer import ReplyRequest, Writer

    cfg = WriterConfig(model=str(tiny_gemma_dir), dtype="float32", max_new_tokens=8)
    loaded = load_model(cfg, AutoModelForCausalLM, bundled_dir=lambda: tiny_gemma_dir)
    neg = Sentiment("negative", {"negative": 0.9, "neutral": 0.05, "positive": 0.05}, ())
    req = ReplyRequest("快递员不送上门，还让我自己去快递点取", neg, ShopProfile(category="家居"))
    with_tagger = Writer(loaded, cfg, tagger).reply(req)[0].text
    without = Writer(loaded, cfg).reply(req)[0].text
    assert "快递没有送货上门" in with_tagger
    assert "快递没有送货上门" not in without


def test_a_review_read_as_praise_names_only_complaints_the_tagger_agrees_with() -> None:
    review = "客服态度很好，质量一般吧"
    spans = split_clauses(review)
    praise, unsure = ClauseTag(1, 0.9, BY_KEY["p_service"], 0.8), ClauseTag(0, 0.6, None, 0.7)
    assert [i.zh for i in issues(review, "goods")] == ["质量不好", "服务"]  # the lexicon reads a gripe
    assert "质量不好" in [i.zh for i in tagged_issues(review, "goods", spans, [praise, unsure])]
    praised = tagged_issues(review, "goods", spans, [praise, unsure], praised=True)
    assert [(i.zh, i.polarity) for i in praised] == [("服务", 1)]
    # the tagger's own complaint tag needs more confidence in a review read as praise
    review = "客服态度很好，还不知道耐不耐用"
    spans = split_clauses(review)
    weak = [praise, ClauseTag(-1, 0.9, BY_KEY["poor_quality"], 0.5)]
    assert [i.zh for i in tagged_issues(review, "goods", spans, weak) if i.polarity < 0] == ["质量不好"]
    assert [i for i in tagged_issues(review, "goods", spans, weak, praised=True) if i.polarity < 0] == []


def test_a_complaint_only_the_tagger_names_still_gets_the_policys_remedy() -> None:
    from nlp.plan import plan_reply
    from nlp.policy import parse_policy
    from nlp.types import Sentiment, ShopProfile
    from nlp.understand import understand

    policy = parse_policy("餐品漏送、错送或洒漏，请在送达后2小时内联系客服，核实后为您补送或退款。")
    review = "汤全撒在袋子里了"
    u = understand(review, Sentiment("negative", {}, ()))
    shop = ShopProfile(category="外卖", policy=policy.text)
    assert plan_reply(u, policy, shop, "warm").remedy is None  # the rules read no complaint here
    spilled = [ClauseTag(-1, 0.9, BY_KEY["spilled"], 0.9)]
    plan = plan_reply(u, policy, shop, "warm", spilled)
    assert [i.zh for i in plan.issues] == ["餐品洒漏"]
    assert plan.remedy is not None and plan.remedy.kind in ("resend", "refund") and plan.remedy.hours == 2


def test_the_lexicon_and_the_tagger_do_not_name_one_issue_twice() -> None:
    review = "屏幕有坏点，显示屏严重漏光"
    spans = split_clauses(review)
    screen = [
        ClauseTag(-1, 0.9, BY_KEY["screen_defect"], 0.9),
        ClauseTag(-1, 0.9, BY_KEY["screen_defect"], 0.9),
    ]
    assert [i.zh for i in tagged_issues(review, "goods", spans, screen, "device")] == ["屏幕有坏点"]


def test_the_classifier_gives_each_aspect_the_sign_its_clauses_give_it(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    from nlp.config import ClassifierConfig, NLPConfig
    from nlp.models import load_classifier

    clauses = [("物流很快", 1, ("p_delivery",)), ("质量一般", -1, ("poor_quality",)), ("我是周五买的", 0, ())]
    rows = [
        Row(c, "", "goods", lab, p, t, f"a{i}") for i, (c, p, t) in enumerate(clauses * 4) for lab in LABELS
    ]
    tagger = fit(rows, l2=1e-5, min_count=1)
    tagger.threshold = 0.3
    tagger.save(tmp_path / "tagger")
    cfg = NLPConfig(
        classifier=ClassifierConfig(model=str(tiny_encoder_dir), dtype="float32", adapter="none"),
        tagger=str(tmp_path / "tagger"),
    )
    clf = load_classifier(cfg)
    (s,) = clf.classify(["物流很快，但质量一般"])
    assert s.aspects == ("logistics", "quality")
    assert s.aspect_polarity == (("logistics", 1), ("quality", -1))
    # no aspect, nothing to say; without a tagger, no polarity at all
    assert clf.classify(["我是周五买的"])[0].aspect_polarity == ()
    plain = load_classifier(cfg.model_copy(update={"tagger": "none"}))
    assert plain.classify(["物流很快，但质量一般"])[0].aspect_polarity == ()


def test_a_tag_for_another_kind_of_shop_is_never_named() -> None:
    # a hotel guest whose car was scratched in the car park: "外观有划痕" is a goods complaint
    review = "停车场一晚上有两台车被划伤"
    scratched = [ClauseTag(-1, 0.9, BY_KEY["scratches"], 0.8)]
    assert "stay" not in BY_KEY["scratches"].domains
    assert tagged_issues(review, "stay", split_clauses(review), scratched) == []
    goods = tagged_issues(review, "goods", split_clauses(review), scratched)
    assert [i.zh for i in goods] == ["外观有划痕"]
