"""The customer's issues named in the shop's words (nlp/issues.py). Reviews here are written for
the tests, in the ways real customers of each kind of shop complain and praise."""

from __future__ import annotations

import pytest

from nlp.issues import domain_of, issues, listed
from nlp.tags import Domain


def named(review: str, polarity: int, domain: Domain = "goods") -> list[str]:
    return [i.zh for i in issues(review, domain) if i.polarity == polarity]


@pytest.mark.parametrize(
    ("review", "domain", "complaints"),
    [
        ("房间隔音很差，半夜听得到隔壁说话，地毯上还有污渍", "stay", ["隔音不好", "卫生不到位"]),
        ("酒店设备一般，套房里卧室的不能上网", "stay", ["设施不够好", "网络不好用"]),
        (
            "等了两个小时才送到，饭菜全凉了，菜量还少得可怜",
            "food",
            ["送餐太慢", "饭菜送到时已经凉了", "分量太少"],
        ),
        ("机场巴士等了两个小时也没来", "stay", ["等待太久"]),
        ("风扇很吵", "goods", ["噪音大"]),
        ("苹果很小，还烂了", "goods", ["果子个头偏小", "商品不够新鲜"]),
        ("我买的是黑色，结果送来的是黄色，发错了还不给换", "goods", ["发错了东西"]),
        ("盒子压坏了，里面的杯子碎了", "goods", ["商品在运输中破损"]),
        ("用了一个星期就开不了机了", "goods", ["机器运行出现故障"]),
        ("衣服尺码偏小，按尺码表买的还是紧", "goods", ["尺码不合适"]),
        ("苹果不是很新鲜，好几个都软了", "goods", ["商品不够新鲜"]),
        ("前台态度冷淡，有事都推诿", "goods", ["服务态度不好"]),
        ("不给发票，客服也不理人", "goods", ["没有开发票", "服务态度不好"]),
        ("質量太差了，做工粗糙", "goods", ["质量不好"]),  # traditional characters
    ],
)
def test_complaints_are_named(review: str, domain: Domain, complaints: list[str]) -> None:
    assert named(review, -1, domain) == complaints


@pytest.mark.parametrize(
    ("review", "domain"),
    [("容量很小，内存不够", "goods"), ("洗完头发都结成一坨", "goods"), ("瓶子坏到极点的印象", "goods")],
)
def test_words_of_another_kind_of_shop_are_not_its_issues(review: str, domain: Domain) -> None:
    # 容量 is no portion, a customer's own hair is no hotel's hygiene, a bad impression no damage
    assert not {"分量太少", "卫生不到位", "商品在运输中破损"} & set(named(review, -1, domain))


def test_domain_of_a_shop_category() -> None:
    assert [domain_of(c) for c in ("精品酒店", "外卖快餐", "女装", "")] == ["stay", "food", "goods", "goods"]


@pytest.mark.parametrize(
    "review",
    [
        "没有异味，挺好的",
        "一直没出现太大的问题",
        "包装很严实，一点没压坏",  # 没压坏: nothing was damaged
        "不脏不吵，挺满意",
    ],
)
def test_negated_or_absent_problems_are_not_complaints(review: str) -> None:
    assert named(review, -1) == []


def test_praise_is_named_by_what_was_praised() -> None:
    review = "位置非常好，离地铁很近，服务也热情周到，早餐丰富"
    assert named(review, 1, "stay") == ["位置", "服务", "早餐"]
    assert named("味道很好，发货也快", 1) == ["口味", "配送速度"]
    assert named("不好吃，一点也不新鲜", 1) == []


def test_at_most_three_of_each_in_order_of_mention() -> None:
    review = "物流太慢，包装破了，颜色和图片不一样，尺码偏小，还有异味"
    assert named(review, -1) == ["配送太慢", "商品在运输中破损", "颜色和图片有差别"]


def test_listed() -> None:
    assert listed(["隔音不好"], "zh") == "隔音不好"
    assert listed(["隔音不好", "卫生不到位", "网络不好用"], "zh") == "隔音不好、卫生不到位和网络不好用"
    assert listed(["the noise", "the cleanliness"], "en") == "the noise and the cleanliness"


@pytest.mark.parametrize(
    ("review", "domain", "complaint"),
    [
        ("酒店乱收费，退房时另外加钱", "stay", "收费不合理"),
        ("订单弄丢了，前台推皮球", "stay", "订单出了差错"),
        ("楼下是夜总会，晚上震得睡不着", "stay", "隔音不好"),
        ("卫生间地砖不防滑，差点滑倒", "stay", "地面太滑"),
        ("手机发过来没有耳机和手机膜", "goods", "配件不全"),
        ("收到的时候火龙果已经冻坏了", "goods", "商品被冻坏"),
        ("菜单切换速度不快", "goods", "运行速度慢"),
        ("付了钱两个小时了也没送到", "food", "订单没有送到"),
    ],
)
def test_the_main_complaints_raters_found_missing_are_named(
    review: str, domain: Domain, complaint: str
) -> None:
    assert complaint in named(review, -1, domain)


@pytest.mark.parametrize(
    ("category", "review", "named"),
    [
        # a shop's kind of goods decides which names can apply
        ("数码家电", "手机太大了，屏幕有坏点", ["屏幕有坏点"]),
        ("水果生鲜", "苹果很小，还烂了，效果不明显", ["果子个头偏小", "商品不够新鲜"]),
        ("服装", "衣服尺码偏小，颜色和图片不一样", ["尺码不合适", "颜色和图片有差别"]),
        ("手机", "衣服尺码偏小", []),
        ("图书", "印刷模糊，纸张很薄", ["印刷和纸张质量"]),
        ("洗发水", "用了没效果，屏幕有坏点", ["效果不明显"]),
        ("家居", "屏幕有坏点，尺码偏小", ["屏幕有坏点", "尺码不合适"]),  # no known kind: all apply
    ],
)
def test_names_that_cannot_apply_to_the_kind_of_goods_are_not_used(
    category: str, review: str, named: list[str]
) -> None:
    from nlp.tags import goods_kind

    kind = goods_kind(category)
    assert [i.zh for i in issues(review, "goods", kind) if i.polarity < 0] == named


def test_a_good_word_about_the_staff_is_no_complaint_about_their_attitude() -> None:
    assert named("客服态度很好，前台也很热情", -1) == []
    assert named("前台服务员态度非常好", -1, "stay") == []
    assert named("前台态度冷淡", -1, "stay") == ["服务态度不好"]
    assert named("客服态度差", -1) == ["服务态度不好"]
