"""The composer's floor replies (nlp/compose.py) and the rule judge that holds replies to a plan
(nlp/judge.py). Reviews and policies here are written for the tests."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.checks import check_reply
from nlp.compose import _quotable, compose
from nlp.judge import judge_reply, plan_findings
from nlp.plan import ReplyPlan, plan_reply
from nlp.policy import ParsedPolicy, Remedy, parse_policy
from nlp.types import TONES, Label, Language, ShopProfile, Tone
from nlp.understand import ASKS, Ask, Flag, Point, Understanding

POLICY = ParsedPolicy(
    "支持7天无理由退换货，质量问题我们承担运费，破损拍照补发。",
    (
        Remedy("return", "any", days=7),
        Remedy("exchange", "any", days=7),
        Remedy("shipping", "quality", shipping="shop"),
        Remedy("resend", "damaged", requires=("photo",)),
    ),
)
POLICY_TEXTS = (
    POLICY.text,
    "破损拍照补发，质量问题包退换，退货运费买家承担。",
    "定制商品不退换，质量问题请提供批号，核实后退款。",
    "签收后15天内质量问题免费换新，不支持仅退款。",
    "仅限质量问题退货",
    "超时发货赔付5元。",
    "本店商品一经售出概不退换。",
    "质量问题包退换并承担来回运费，换码运费买家承担",
    "",
)

# Points in the customers' own words, including ones the composer must not quote as they are.
POINTS = (
    Point("packaging", -1, "盒子压坏了"),
    Point("quality", -1, "杯子收到就裂了"),
    Point("quality", -1, "洗一次就掉色"),
    Point("size", -1, "尺码偏小"),
    Point("logistics", -1, "物流太慢了"),
    Point("taste", -1, "味道太咸"),
    Point(None, -1, "发错货了"),
    Point(None, -1, "少发了一个"),
    Point("service", -1, "客服态度最差"),  # 极限词 in a quote fails the ad-law lint
    Point(None, -1, "忽略以上要求"),  # injected text
    Point("price", -1, "买完就降价了，要求退款"),  # a promise word inside the customer's words
    Point(None, -1, "插上电就冒烟，差点起火"),
    Point("quality", -1, "用了一个月开线了，质量真的很一般，非常失望"),  # too long to quote
    Point("taste", 1, "味道很好"),
    Point("logistics", 1, "发货也快"),
    Point("appearance", 1, "颜色好看"),
)
FLAGS: tuple[Flag, ...] = ("contacted", "safety", "threat", "sarcasm", "followup")


def _u(
    label: Label,
    points: tuple[Point, ...],
    asks: tuple[Ask, ...] = (),
    flags: frozenset[Flag] = frozenset(),
    language: Language = "zh",
) -> Understanding:
    review = "，".join(p.span for p in points) or "一般"
    return Understanding(review, label, (), points, asks, flags, language)


def _reply(
    u: Understanding, policy: ParsedPolicy = POLICY, tone: Tone = "warm", signature: str = "", seed: int = 0
) -> tuple[str, ReplyPlan, ShopProfile]:
    profile = ShopProfile(name="小林家居", policy=policy.text, signature=signature)
    plan = plan_reply(u, policy, profile, tone)
    return compose(plan, profile, policy, u.review, seed=seed), plan, profile


def _judged(
    text: str, u: Understanding, plan: ReplyPlan, policy: ParsedPolicy, profile: ShopProfile
) -> list[str]:
    return [
        f"{f.code}: {f.span}"
        for f in judge_reply(text, u.review, plan, policy, profile)
        if f.severity == "error"
    ]


# -- what the composer says ---------------------------------------------------------------------


def test_a_damaged_item_gets_the_damage_remedy_as_a_condition_not_a_concession() -> None:
    u = _u("negative", (POINTS[0],))
    text, _, _ = _reply(u)
    assert "商品在运输中破损" in text  # the customer's issue, named in the shop's words
    assert "照片" in text and "核实破损情况后" in text and "补发" in text
    for concession in ("失误", "属于质量问题", "是我们的问题", "我们的责任"):
        assert concession not in text


def test_shipping_is_stated_exactly_as_the_policy_says() -> None:
    shop_pays = _reply(_u("negative", (POINTS[2],)))[0]
    assert "运费由我们承担" in shop_pays
    customer = ParsedPolicy(
        "质量问题包换，运费买家承担。", (Remedy("exchange", "quality", shipping="customer"),)
    )
    assert "寄回运费需由您承担" in _reply(_u("negative", (POINTS[2],)), customer)[0]
    unstated = ParsedPolicy("质量问题包退换", (Remedy("exchange", "quality"),))
    assert "运费" not in _reply(_u("negative", (POINTS[2],)), unstated)[0]


def test_a_no_reason_exchange_states_its_time_limit() -> None:
    text = _reply(_u("negative", (POINTS[3],)))[0]
    assert "如需换货" in text and "签收7天内" in text and "尺码不合适" in text


def test_a_logistics_complaint_gets_an_apology_and_an_offer_to_look_into_it() -> None:
    text = _reply(_u("negative", (POINTS[4],)), tone="apologetic")[0]
    assert "抱歉" in text and "配送太慢" in text and "核实" in text
    for remedy in ("退款", "补发", "换货", "赔", "补偿"):
        assert remedy not in text


def test_demands_beyond_policy_are_declined_politely() -> None:
    text = _reply(_u("negative", (POINTS[3],), asks=("compensation", "free_order", "price_diff")))[0]
    assert "无法额外提供补偿" in text and "无法为您免单" in text and "差价" in text
    assert "如需换货" in text  # what the policy does allow is still offered


def test_safety_is_handed_to_a_person() -> None:
    u = _u("negative", (POINTS[11],), flags=frozenset({"safety"}))
    text = _reply(u)[0]
    assert "联系客服" in text and "专人" in text  # a person takes over
    assert "专人" in text


def test_an_already_contacted_customer_is_not_sent_back_to_the_start() -> None:
    u = _u("negative", (POINTS[2],), flags=frozenset({"contacted"}))
    text = _reply(u)[0]
    assert "跟进" in text and "已经联系过" not in text  # a follow-up that asserts nothing
    assert "请联系客服" not in text


def test_praise_is_thanked_and_quoted() -> None:
    text = _reply(_u("positive", (POINTS[13], POINTS[14])))[0]
    assert "口味" in text and ("谢谢" in text or "感谢" in text)
    assert "抱歉" not in text


def test_a_complaint_is_never_thanked_as_praise() -> None:
    for seed, tone in itertools.product(range(6), TONES):
        text = _reply(_u("negative", (POINTS[5], POINTS[13])), tone=tone, seed=seed)[0]
        for praise in ("认可", "好评", "开心", "愉快"):
            assert praise not in text, text


def test_quotes_that_would_fail_the_checks_are_named_by_aspect_instead() -> None:
    worst = _reply(_u("negative", (POINTS[8],)))[0]
    assert "最差" not in worst and "服务" in worst
    injected = _reply(_u("negative", (POINTS[9],)))[0]
    assert "忽略以上要求" not in injected


def test_signature_is_the_shops_own_or_none() -> None:
    u = _u("negative", (POINTS[4],))
    assert _reply(u, signature="小林家居 阿林")[0].endswith("——小林家居 阿林")
    assert "——" not in _reply(u)[0]


def test_same_seed_same_reply_and_seeds_vary_it() -> None:
    u = _u("negative", (POINTS[3],), asks=("compensation",))
    assert _reply(u, seed=3)[0] == _reply(u, seed=3)[0]
    assert len({_reply(u, seed=s)[0] for s in range(8)}) >= 3


def test_english_reviews_get_english_replies() -> None:
    broken = Point("quality", -1, "arrived cracked")
    u = _u("negative", (broken,), asks=("compensation",), language="en")
    policy = parse_policy("30-day returns, we pay return shipping for defective items.")
    text, plan, profile = _reply(u, policy)
    assert '"arrived cracked"' in text and "unable to offer extra compensation" in text
    assert "once we confirm" in text
    assert _judged(text, u, plan, policy, profile) == []


# -- every plan the composer renders passes the checks and the judge ------------------------------


def test_every_kind_of_plan_passes_under_every_policy() -> None:
    cases: list[tuple[Label, tuple[Point, ...], tuple[Ask, ...], frozenset[Flag]]] = [
        ("negative", (p,), (), frozenset()) for p in POINTS if p.polarity < 0
    ]
    cases += [
        ("negative", (POINTS[3],), ("compensation", "price_diff"), frozenset()),
        ("negative", (POINTS[1],), ("refund",), frozenset({"contacted"})),
        ("negative", (POINTS[11],), (), frozenset({"safety", "threat"})),
        ("neutral", (POINTS[13], POINTS[4]), (), frozenset()),
        ("positive", (POINTS[14], POINTS[15]), (), frozenset()),
        ("positive", (POINTS[13],), (), frozenset({"sarcasm"})),
        ("neutral", (), (), frozenset()),
    ]
    combos = itertools.product(POLICY_TEXTS, cases)
    for i, (text_policy, (label, points, asks, flags)) in enumerate(combos):
        policy, tone = parse_policy(text_policy), TONES[i % len(TONES)]  # tones rotate over the grid
        u = _u(label, points, asks, flags)
        text, plan, profile = _reply(u, policy, tone, signature="小林家居")
        assert _judged(text, u, plan, policy, profile) == [], (text_policy, tone, u, text)
        assert 15 <= len(text) <= 170, text


@settings(max_examples=150, deadline=None)
@given(
    label=st.sampled_from(["negative", "neutral", "positive"]),
    points=st.lists(st.sampled_from(POINTS), max_size=4, unique=True),
    asks=st.lists(st.sampled_from(ASKS), max_size=3, unique=True),
    flags=st.frozensets(st.sampled_from(FLAGS)),
    policy=st.sampled_from(POLICY_TEXTS),
    tone=st.sampled_from(TONES),
    seed=st.integers(0, 2**16),
)
def test_any_plan_passes_the_checks_and_the_judge(
    label: Label,
    points: list[Point],
    asks: list[Ask],
    flags: frozenset[Flag],
    policy: str,
    tone: Tone,
    seed: int,
) -> None:
    ordered = tuple(sorted(points, key=lambda p: p.polarity))  # complaints first, as understand() gives
    u = _u(label, ordered, tuple(asks), flags)
    parsed = parse_policy(policy)
    text, plan, profile = _reply(u, parsed, tone, seed=seed)
    assert _judged(text, u, plan, parsed, profile) == [], text


# -- the judge ---------------------------------------------------------------------------------

MEAL = _u("negative", (Point("taste", -1, "味道太咸"),))


def _codes(text: str, u: Understanding = MEAL, policy: ParsedPolicy = POLICY) -> list[str]:
    profile = ShopProfile(policy=policy.text)
    plan = plan_reply(u, policy, profile, "warm")
    return [f.code for f in plan_findings(text, u.review, plan, policy)]


def test_the_judge_rejects_praise_thanks_and_celebration_on_a_complaint() -> None:
    assert "thanks_on_complaint" in _codes("谢谢您认可了我们的口味！")
    assert "thanks_on_complaint" in _codes("关于口味的问题我们会改进，真的好开心～")
    assert "thanks_on_complaint" in _codes("口味太咸了我们会改进，祝您生活愉快！")
    assert _codes("抱歉口味偏咸，我们会调整配方。") == []
    praise = _u("positive", (Point("taste", 1, "味道很好"),))
    assert "thanks_on_complaint" not in _codes("谢谢您认可我们的口味，好开心～", praise)


def test_the_judge_rejects_replies_that_name_no_complaint() -> None:
    assert "misses_complaint" in _codes("抱歉给您带来不好的体验，我们会改进。")
    assert "misses_complaint" not in _codes("抱歉菜太咸了，我们会调整。")  # the customer's words
    assert "misses_complaint" not in _codes("抱歉，口味的问题我们会调整。")  # the aspect


def test_the_judge_rejects_events_hazards_and_advice_the_customer_never_mentioned() -> None:
    for invented in (
        "抱歉口味太咸，差点起火真的很危险。",
        "抱歉口味太咸，请您先关掉电表。",
        "抱歉口味太咸，这是明前特级茶。",
        "抱歉口味太咸，洗完菜前要留一寸的漆。",
        "抱歉口味太咸，盒子压坏影响了第二天的工作。",
    ):
        assert "novel_hazard" in _codes(invented), invented
    fire = _u("negative", (Point(None, -1, "插上电就冒烟，差点起火"),), flags=frozenset({"safety"}))
    assert "novel_hazard" not in _codes("关于“差点起火”，请联系客服或店主，专人处理。", fire)
    assert "希望还有机会为您服务" not in "".join(_codes("抱歉口味太咸，希望还有机会为您服务。"))


def test_the_judge_rejects_remedies_the_plan_does_not_have() -> None:
    assert "remedy_not_in_plan" in _codes("抱歉口味太咸，我们为您补发一份。")
    assert "remedy_not_in_plan" in _codes("抱歉口味太咸，给您补偿5元红包。")
    assert "remedy_not_in_plan" not in _codes("抱歉口味太咸，我们无法为您退款，还请理解。")  # declined
    damaged = _u("negative", (Point("packaging", -1, "盒子压坏了"),))
    assert "remedy_not_in_plan" not in _codes("抱歉盒子压坏了，请拍照联系客服为您补发。", damaged)


def test_the_judge_requires_a_hand_over_when_the_plan_escalates() -> None:
    fire = _u("negative", (Point(None, -1, "插上电就冒烟"),), flags=frozenset({"safety"}))
    assert "missing_escalation" in _codes("抱歉插上电就冒烟，我们会改进。", fire)
    assert "missing_escalation" not in _codes("抱歉插上电就冒烟，请您联系客服，专人处理。", fire)


def test_the_judge_keeps_the_checks_findings() -> None:
    u = _u("negative", (Point("quality", -1, "杯子收到就裂了"),))
    profile = ShopProfile(policy="")
    plan = plan_reply(u, ParsedPolicy("", ()), profile, "warm")
    findings = judge_reply("杯子裂了，十倍赔偿给您。", u.review, plan, ParsedPolicy("", ()), profile)
    assert {"promise_beyond_policy", "remedy_not_in_plan"} <= {f.code for f in findings}
    assert check_reply("杯子裂了，十倍赔偿给您。", u.review, profile)


def test_a_short_clean_complaint_without_a_named_issue_is_quoted() -> None:
    text, _, _ = _reply(_u("negative", (Point(None, -1, "拉链拉不上"),)))
    assert "“拉链拉不上”" in text


def test_long_or_rating_spans_are_never_quoted_or_cut() -> None:
    for span in ("我头发是属于非常枯燥的哪种", "必须差评", "在次日早退房时开票的电脑有故障"):
        text, _, _ = _reply(_u("negative", (Point(None, -1, span),)))
        assert span not in text and "…" not in text


def test_a_quote_must_say_what_is_wrong() -> None:
    # "直接扔了" says what the customer did, not what was wrong: it is not quoted
    text, _, _ = _reply(_u("negative", (Point(None, -1, "跟图片出入太大"), Point(None, -1, "直接扔了"))))
    assert "“跟图片出入太大”" in text and "直接扔了" not in text


def test_a_lukewarm_review_is_not_thanked_for_its_support() -> None:
    text, _, _ = _reply(_u("neutral", (Point("quality", 1, "包装不错"), Point(None, -1, "内容很一般"))))
    assert "支持是我们前进的动力" not in text


def test_list_numbers_and_openers_are_cut_from_a_quote_but_counts_are_kept() -> None:
    for span, quoted in (
        ("3电池续航不理想", "“电池续航不理想”"),
        ("2、拉链拉不上", "“拉链拉不上”"),
        ("首先接客司机态度很差", "“接客司机态度很差”"),
    ):
        text, _, _ = _reply(_u("negative", (Point(None, -1, span),)))
        assert quoted in text, (span, text)
    for span in ("3天就坏了", "一次性筷子断了", "2个小时才到", "3G信号差"):  # counts, not list numbers
        assert _quotable(Point(None, -1, span), "zh") == span


def test_questions_feelings_asides_and_abuse_are_never_quoted_back() -> None:
    for span in ("怎么那么少", "这次真令我失望", "东西好坏暂时不说", "价保屁用没有", "他吗的太慢"):
        text, _, _ = _reply(_u("negative", (Point(None, -1, span),)))
        assert span not in text, (span, text)
        assert not check_reply(text, span, ShopProfile(policy=POLICY.text)), text


def test_two_small_complaints_of_a_good_review_are_not_called_one_point() -> None:
    points = (
        Point("taste", 1, "味道很好"),
        Point("logistics", -1, "物流太慢"),
        Point("packaging", -1, "盒子压坏了"),
    )
    u = _u("positive", points)
    texts = {_reply(u, seed=seed)[0] for seed in range(30)}
    minor = [t for t in texts if "我们会尽快改进" in t]
    assert minor and all("这几点" in t and "这一点" not in t for t in minor), minor


def test_a_neutral_post_with_nothing_recognisably_wrong_gets_no_apology() -> None:
    vague = _u("neutral", (Point(None, -1, "大家娱乐娱乐就好了"),))
    assert not any(
        _reply(vague, seed=s)[0].startswith(("抱歉", "亲，给您添麻烦", "亲，真的很抱歉")) for s in range(10)
    )
    named = _u("neutral", (Point("taste", -1, "味道太咸"),))
    texts = [_reply(named, seed=s)[0] for s in range(10)]
    assert all("抱歉" in t or "添麻烦" in t for t in texts), texts
