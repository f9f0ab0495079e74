"""Tests for nlp.aspects: the review-aspect lexicon and its guards against false positives."""

from __future__ import annotations

import pytest

from nlp import aspects as aspects_mod
from nlp.aspects import aspect_spans, detect_aspects
from nlp.types import ASPECTS


def test_lexicon_covers_exactly_the_aspect_keys() -> None:
    assert set(aspects_mod._LEXICON) == set(ASPECTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # logistics
        ("物流太慢了", ("logistics",)),
        ("快递三天才到", ("logistics",)),
        ("发货速度很快", ("logistics",)),
        ("顺丰第二天就到了", ("logistics",)),
        ("很快就到了", ("logistics",)),
        ("外卖小哥送得很快", ("logistics",)),
        ("下单一周了还没发货", ("logistics",)),
        ("Fast delivery", ("logistics",)),
        # quality
        ("质量很好，做工精细", ("quality",)),
        ("洗了一次就掉色", ("quality",)),
        ("衣服开线了，还起球", ("quality",)),
        ("用了两天就坏了", ("quality",)),
        ("收到的杯子有破损", ("quality",)),
        ("有很重的异味", ("quality",)),
        ("It arrived broken", ("logistics", "quality")),
        # price
        ("价格便宜，性价比高", ("price",)),
        ("太贵了", ("price",)),
        ("活动降价了很划算", ("price",)),
        ("物超所值", ("price",)),
        ("way too expensive", ("price",)),
        # service
        ("客服态度很好", ("service",)),
        ("售后处理得很及时", ("service",)),
        ("申请退款一直不处理", ("service",)),
        ("前台服务员很热情", ("service",)),
        ("customer service was rude", ("service",)),
        # packaging
        ("包装很严实", ("packaging",)),
        ("盒子都压坏了", ("packaging",)),
        ("快递盒破了", ("packaging",)),
        ("外包装破损", ("packaging",)),
        # appearance
        ("颜色很正，颜值高", ("appearance",)),
        ("款式好看", ("appearance",)),
        ("有色差，和图片不一样", ("appearance",)),
        ("looks great", ("appearance",)),
        # function
        ("续航很给力，电池耐用", ("function", "quality")),
        ("手机运行卡顿", ("function",)),
        ("信号不好，声音也小", ("function",)),
        ("不好用", ("function",)),
        ("效果明显", ("function",)),
        # authenticity
        ("是正品，专柜验过", ("authenticity",)),
        ("感觉是假货，山寨的", ("authenticity",)),
        ("高仿的吧", ("authenticity",)),
        ("有防伪码可以查", ("authenticity",)),
        ("this is a fake", ("authenticity",)),
        # size
        ("尺码偏大，建议拍小一码", ("size",)),
        ("穿着很合身", ("size",)),
        ("大小刚好", ("size",)),
        ("runs small", ("size",)),
        # taste
        ("味道不错，就是有点咸", ("taste",)),
        ("很好吃，水果很新鲜", ("taste",)),
        ("太辣了", ("taste",)),
        ("口味偏淡", ("taste",)),
        ("delicious and fresh", ("taste",)),
    ],
)
def test_detects_aspect(text: str, expected: tuple[str, ...]) -> None:
    assert detect_aspects(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "服务器很稳定",  # not service
        "服务区休息了一下",
        "跑得很快",  # "快" alone is not logistics
        "收到了，挺开心",  # receiving is not logistics
        "贵店的东西我常买",  # 贵店 is a polite "your shop", not price
        "仿佛回到了小时候",  # 仿佛 is not 仿品
        "淡定",
        "新鲜感十足",
        "评价一下",  # 评价 contains 价 but is not price
        "谢谢",
        "",
    ],
)
def test_no_false_positive(text: str) -> None:
    assert detect_aspects(text) == ()


def test_order_of_first_mention() -> None:
    text = "味道一般，价格还行，物流很快，客服态度好"
    assert detect_aspects(text) == ("taste", "price", "logistics", "service")


def test_each_aspect_reported_once() -> None:
    assert detect_aspects("物流快，快递员也好，物流信息更新及时") == ("logistics",)


def test_box_damage_is_packaging_but_product_damage_is_quality() -> None:
    assert detect_aspects("盒子破损") == ("packaging",)
    assert detect_aspects("商品破损") == ("quality",)
    assert detect_aspects("快递盒子都压坏了，里面的杯子也破损了") == ("packaging", "quality")


def test_longest_term_wins_across_aspects() -> None:
    # "快递盒" (packaging) beats "快递" (logistics); "发货速度" is logistics, not function.
    assert aspect_spans("快递盒") == {"packaging": ["快递盒"]}
    assert aspect_spans("发货速度快") == {"logistics": ["发货速度"]}


def test_spans_are_original_text_and_distinct() -> None:
    spans = aspect_spans("ＱＵＡＬＩＴＹ很好，质量好，质量真的好，价格便宜")
    assert spans == {"quality": ["ＱＵＡＬＩＴＹ", "质量"], "price": ["价格", "便宜"]}


def test_english_terms_match_next_to_chinese() -> None:
    assert detect_aspects("这个battery很耐用") == ("function", "quality")
    # but not inside a longer English word
    assert detect_aspects("network") == ()


def test_mixed_review() -> None:
    review = "物流太慢了，等了一周才到，盒子都压坏了，不过衣服质量还行，尺码偏小"
    assert detect_aspects(review) == ("logistics", "packaging", "quality", "size")
    spans = aspect_spans(review)
    assert spans["logistics"] == ["物流", "一周才到"]
    assert spans["packaging"] == ["盒子都压坏了"]
    assert spans["size"] == ["尺码", "偏小"]
