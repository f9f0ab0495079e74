"""The issues a customer can raise (or praise), as a closed set of tags with the shop's words for each.

One table serves the clause tagger (nlp/tagger.py predicts a tag per clause), the people who label
clauses for it (`hint` says what the tag covers), and the composer (`zh` / `en` name the issue in a
reply, per kind of shop where they differ: a hotel's "等待太久" is a delivery shop's "配送太慢").
A name says no more than a customer who raised the issue said: "房间不够干净", not "房间很脏".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from nlp.policy import Trigger

Domain = Literal["goods", "food", "stay"]  # shops that ship goods, food delivery, hotels
DOMAINS: tuple[Domain, ...] = ("goods", "food", "stay")


@dataclass(frozen=True)
class Tag:
    key: str
    polarity: int  # -1 a complaint, 1 praise
    aspect: str  # a key of nlp.types.ASPECTS, or "stay" / "food"
    zh: str
    en: str
    hint: str  # what it covers, for labellers
    trigger: Trigger | None = None  # the cause a policy could cover
    domains: tuple[Domain, ...] = DOMAINS
    wording: dict[Domain, tuple[str, str]] = field(default_factory=dict)

    def name(self, domain: Domain, language: str) -> str:
        zh, en = self.wording.get(domain, (self.zh, self.en))
        return zh if language == "zh" else en


def _t(
    key: str,
    polarity: int,
    aspect: str,
    zh: str,
    en: str,
    hint: str,
    trigger: Trigger | None = None,
    domains: tuple[Domain, ...] = DOMAINS,
    **wording: tuple[str, str],
) -> Tag:
    return Tag(key, polarity, aspect, zh, en, hint, trigger, domains, wording)  # type: ignore[arg-type]


_GOODS_FOOD: tuple[Domain, ...] = ("goods", "food")
_STAY: tuple[Domain, ...] = ("stay",)

TAGS: tuple[Tag, ...] = (
    # -- delivery and the order -------------------------------------------------------------
    _t(
        "slow_delivery",
        -1,
        "logistics",
        "配送太慢",
        "the slow delivery",
        "shipping, delivery or a wait took too long; not yet arrived",
        "late",
        food=("送餐太慢", "the slow delivery"),
        stay=("等待太久", "the long wait"),
    ),
    _t(
        "not_to_door",
        -1,
        "logistics",
        "快递没有送货上门",
        "the parcel not brought to your door",
        "courier left it at a pick-up point, asked the buyer to collect, would not deliver upstairs",
        domains=_GOODS_FOOD,
    ),
    _t(
        "courier_conduct",
        -1,
        "logistics",
        "配送员服务不周",
        "the courier's conduct",
        "courier or rider rude, careless, threw the parcel, called rudely",
    ),
    _t(
        "damaged_in_transit",
        -1,
        "packaging",
        "商品在运输中破损",
        "the damage in transit",
        "arrived broken, crushed, dented, leaking because of transport",
        "damaged",
        _GOODS_FOOD,
        food=("餐品在配送中损坏", "the damage in transit"),
    ),
    _t(
        "poor_packaging",
        -1,
        "packaging",
        "包装太简陋",
        "the flimsy packaging",
        "packaging too thin, no padding, box dirty or opened (nothing broken)",
        domains=_GOODS_FOOD,
    ),
    _t(
        "spilled",
        -1,
        "packaging",
        "餐品洒漏",
        "the spill",
        "soup or food spilled in the bag",
        "damaged",
        ("food",),
    ),
    _t(
        "wrong_item",
        -1,
        "logistics",
        "发错了东西",
        "the wrong item",
        "received a different item, colour, model or dish than ordered",
        "wrong_item",
        _GOODS_FOOD,
        food=("送错了餐品", "the wrong order"),
    ),
    _t(
        "missing_item",
        -1,
        "logistics",
        "少发了东西",
        "the missing item",
        "part of the order, a dish or an item missing",
        "missing",
        _GOODS_FOOD,
        food=("少送了餐品", "the missing items"),
    ),
    _t(
        "not_delivered",
        -1,
        "logistics",
        "订单没有送到",
        "the order that never arrived",
        "paid but the order never arrived at all",
        "missing",
        _GOODS_FOOD,
    ),
    _t(
        "missing_accessory",
        -1,
        "logistics",
        "配件不全",
        "the missing accessories",
        "accessory, cable, manual, gift or invoice missing from the box",
        "missing",
        ("goods",),
    ),
    _t(
        "no_cutlery",
        -1,
        "food",
        "没有配齐餐具",
        "the missing cutlery",
        "no chopsticks, spoon, napkins",
        domains=("food",),
    ),
    # -- the goods -------------------------------------------------------------------------
    _t(
        "poor_quality",
        -1,
        "quality",
        "质量不好",
        "the quality",
        "quality poor in general, flimsy, cheap-feeling, broke soon",
        "quality",
        _GOODS_FOOD,
    ),
    _t(
        "workmanship",
        -1,
        "quality",
        "做工不够好",
        "the workmanship",
        "loose threads, rough edges, glue, uneven stitching, parts not fitting",
        "quality",
        _GOODS_FOOD,
    ),
    _t(
        "thin_material",
        -1,
        "quality",
        "面料偏薄",
        "the thin fabric",
        "fabric or material too thin, see-through, not warm",
        domains=("goods",),
    ),
    _t(
        "faulty",
        -1,
        "function",
        "商品出现故障",
        "the item failing",
        "does not work, stopped working, broke down, will not switch on",
        "quality",
        stay=("设施损坏", "the broken facilities"),
    ),
    _t(
        "crashes",
        -1,
        "function",
        "机器运行出现故障",
        "the device malfunctioning",
        "device crashes, freezes, restarts or shuts down by itself",
        "quality",
        ("goods",),
    ),
    _t(
        "slow_device",
        -1,
        "function",
        "运行速度慢",
        "the slow performance",
        "device slow, lags",
        "quality",
        ("goods",),
    ),
    _t(
        "software",
        -1,
        "function",
        "系统和软件不好用",
        "the software",
        "operating system, apps, drivers, settings awkward or missing features",
        domains=("goods",),
    ),
    _t(
        "overheating",
        -1,
        "function",
        "发热明显",
        "the heat",
        "device gets hot, poor cooling, fan loud",
        domains=("goods",),
    ),
    _t(
        "screen_defect",
        -1,
        "function",
        "屏幕有问题",
        "the screen",
        "dead pixels, light bleed, dim or blurry screen",
        "quality",
        ("goods",),
    ),
    _t(
        "weak_spec",
        -1,
        "function",
        "配置偏低",
        "the specifications",
        "memory, storage, processor, camera, speaker or signal weaker than wanted",
        domains=("goods",),
    ),
    _t(
        "design",
        -1,
        "appearance",
        "设计不够合理",
        "the design",
        "awkward layout, shape, buttons, ports, shower or room design",
    ),
    _t(
        "battery",
        -1,
        "function",
        "电池续航不好",
        "the battery life",
        "battery drains fast, will not charge",
        domains=("goods",),
    ),
    _t(
        "weak_effect",
        -1,
        "function",
        "效果不明显",
        "the weak effect",
        "product does not do what it should: shampoo, cream, cleaner, heater not effective",
    ),
    _t(
        "scratches",
        -1,
        "appearance",
        "外观有划痕",
        "the scratches",
        "scratched, dented or stained surface",
        "quality",
        _GOODS_FOOD,
    ),
    _t(
        "peeling",
        -1,
        "quality",
        "掉漆掉色",
        "the peeling or fading",
        "paint peels, colour runs or fades",
        "quality",
        _GOODS_FOOD,
    ),
    _t(
        "colour_mismatch",
        -1,
        "appearance",
        "颜色和图片有差别",
        "the colour not matching the photos",
        "colour differs from the pictures",
        domains=_GOODS_FOOD,
    ),
    _t(
        "not_as_described",
        -1,
        "quality",
        "商品和描述不符",
        "the item not matching its description",
        "size, length, material, spec, model or version differ from the listing",
        food=("餐品和描述不符", "the dish not matching its description"),
        stay=("实际情况和介绍不符", "the stay not matching its description"),
    ),
    _t(
        "sizing",
        -1,
        "size",
        "尺码不合适",
        "the sizing",
        "too big, too small, tight, runs small/large",
        "any",
        ("goods",),
    ),
    _t("smell", -1, "quality", "有异味", "the smell", "bad or chemical smell, smoke smell in a room"),
    _t(
        "not_fresh",
        -1,
        "quality",
        "商品不够新鲜",
        "the freshness",
        "fruit or food rotten, spoiled, stale, expired, mouldy",
        "damaged",
        _GOODS_FOOD,
    ),
    _t(
        "small_fruit",
        -1,
        "quality",
        "果子个头偏小",
        "the small fruit",
        "fruit smaller than expected",
        domains=("goods",),
    ),
    _t(
        "frozen",
        -1,
        "quality",
        "商品被冻坏",
        "the frozen item",
        "arrived frozen or frost-damaged",
        "damaged",
        _GOODS_FOOD,
    ),
    _t(
        "printing",
        -1,
        "quality",
        "印刷和纸张质量",
        "the printing and paper",
        "book printing blurred, pages missing or upside down, thin paper",
        domains=("goods",),
    ),
    _t(
        "book_content",
        -1,
        "quality",
        "内容没有达到期待",
        "the content falling short",
        "a book's or course's content boring, shallow, outdated, badly written or translated",
        domains=("goods",),
    ),
    _t(
        "authenticity",
        -1,
        "authenticity",
        "担心不是正品",
        "your doubts about authenticity",
        "suspects a fake, counterfeit, refurbished or second-hand item; batch codes differ",
    ),
    _t(
        "skin_reaction",
        -1,
        "quality",
        "使用后身体不适",
        "the reaction after use",
        "rash, allergy, itching, stomach upset or other harm to the body after using or eating it",
    ),
    _t(
        "food_safety",
        -1,
        "quality",
        "食品安全",
        "food safety",
        "worries about food safety: additives, contamination, altered dates, a scandal",
        domains=_GOODS_FOOD,
    ),
    _t(
        "foreign_object",
        -1,
        "food",
        "餐品里有异物",
        "something found in the food",
        "hair, insect, plastic or other foreign matter in the food",
        "damaged",
        _GOODS_FOOD,
    ),
    # -- food delivery -----------------------------------------------------------------------
    _t(
        "cold_food",
        -1,
        "food",
        "饭菜送到时已经凉了",
        "the food arriving cold",
        "food arrived cold",
        domains=("food",),
    ),
    _t(
        "small_portion",
        -1,
        "food",
        "分量太少",
        "the small portions",
        "portion small, little meat, too few, weight less than stated",
        goods=("分量不足", "the short weight"),
    ),
    _t(
        "badly_cooked",
        -1,
        "food",
        "餐品没有做好",
        "the badly cooked food",
        "undercooked, burnt, raw inside, soggy, cooked wrongly",
        domains=("food", "stay"),
    ),
    _t(
        "taste",
        -1,
        "taste",
        "口味不合适",
        "the taste",
        "tastes bad, too salty, oily, sweet, bland, spicy",
        domains=("food", "stay", "goods"),
    ),
    # -- hotels ----------------------------------------------------------------------------
    _t("dirty", -1, "stay", "卫生不到位", "the cleanliness", "dirty room, bathroom, sheets, hair, stains"),
    _t(
        "noise",
        -1,
        "stay",
        "隔音不好",
        "the noise",
        "noisy, poor soundproofing, loud neighbours or street",
        goods=("噪音大", "the noise"),
        food=("环境吵闹", "the noise"),
    ),
    _t(
        "wifi",
        -1,
        "stay",
        "网络不好用",
        "the internet connection",
        "wifi or broadband slow or missing",
        domains=_STAY,
    ),
    _t(
        "old_facilities",
        -1,
        "stay",
        "设施陈旧",
        "the dated facilities",
        "old, worn, shabby rooms or furniture",
        domains=_STAY,
    ),
    _t(
        "poor_facilities",
        -1,
        "stay",
        "设施不够好",
        "the facilities",
        "missing or poor facilities: no elevator, no window, poor lighting, TV, gym, pool",
        domains=_STAY,
    ),
    _t(
        "broken_facilities",
        -1,
        "stay",
        "设施损坏",
        "the broken facilities",
        "something in the room broken: lock, shower, toilet, TV, lamp",
        domains=_STAY,
    ),
    _t(
        "breakfast",
        -1,
        "stay",
        "餐饮不够好",
        "the dining",
        "breakfast or restaurant poor, few choices",
        domains=_STAY,
    ),
    _t(
        "checkin_wait",
        -1,
        "stay",
        "入住等待太久",
        "the wait to check in",
        "slow check-in or check-out",
        domains=_STAY,
    ),
    _t(
        "aircon",
        -1,
        "stay",
        "空调有问题",
        "the air conditioning",
        "air conditioning weak, off, noisy, too hot",
        domains=_STAY,
    ),
    _t("heating", -1, "stay", "没有暖气", "the heating", "no heating, room cold", domains=_STAY),
    _t(
        "hot_water",
        -1,
        "stay",
        "热水供应有问题",
        "the hot water",
        "no or little hot water, weak shower",
        domains=_STAY,
    ),
    _t("small_room", -1, "stay", "房间偏小", "the small room", "room or bed too small", domains=_STAY),
    _t(
        "bed",
        -1,
        "stay",
        "床睡着不舒服",
        "the bed",
        "bed or pillow hard, uncomfortable, creaky",
        domains=_STAY,
    ),
    _t(
        "bedding",
        -1,
        "stay",
        "床品和毛巾陈旧",
        "the worn towels and bedding",
        "worn, damp or old towels, sheets",
        domains=_STAY,
    ),
    _t(
        "location",
        -1,
        "stay",
        "位置不太方便",
        "the location",
        "hard to find, far from transport or sights",
        domains=_STAY,
    ),
    _t("parking", -1, "stay", "停车不方便", "the parking", "parking hard, paid, no space", domains=_STAY),
    _t("insects", -1, "stay", "房间有蚊虫", "the insects", "mosquitoes, cockroaches, bugs", domains=_STAY),
    _t(
        "shuttle",
        -1,
        "stay",
        "接送服务不周",
        "the shuttle service",
        "airport bus or pick-up late, crowded, rude",
        domains=_STAY,
    ),
    _t("slippery", -1, "stay", "地面太滑", "the slippery floor", "slippery bathroom or floor", domains=_STAY),
    # -- service and money -------------------------------------------------------------------
    _t(
        "staff_attitude",
        -1,
        "service",
        "服务态度不好",
        "the staff's attitude",
        "staff, seller or customer service rude, impatient, indifferent",
    ),
    _t(
        "unreachable",
        -1,
        "service",
        "联系客服不顺畅",
        "how hard it was to reach us",
        "customer service did not answer, only a robot, no call back, hard to reach",
    ),
    _t(
        "after_sales",
        -1,
        "service",
        "售后处理不顺利",
        "the after-sales handling",
        "return, exchange, refund or repair refused, slow or difficult",
    ),
    _t(
        "order_error",
        -1,
        "service",
        "订单出了差错",
        "the mix-up with the order",
        "booking or order lost, changed, cancelled or handled wrongly",
    ),
    _t("invoice", -1, "service", "没有开发票", "the invoice", "no invoice or receipt, wrong invoice"),
    _t(
        "gift",
        -1,
        "service",
        "赠品问题",
        "the gift",
        "gift, freebie or coupon missing, fewer or poorer than expected",
    ),
    _t(
        "overcharged",
        -1,
        "price",
        "收费不合理",
        "the overcharging",
        "charged extra, deposit not returned, hidden fees",
    ),
    _t("price_high", -1, "price", "价格偏高", "the price", "too expensive, not worth the money"),
    _t(
        "price_drop",
        -1,
        "price",
        "购买后不久就降价了",
        "the price drop after your purchase",
        "price fell soon after buying, others paid less",
    ),
    # -- praise ------------------------------------------------------------------------------
    _t("p_delivery", 1, "logistics", "配送速度", "the fast delivery", "fast shipping or delivery"),
    _t("p_packaging", 1, "packaging", "包装", "the packaging", "good, careful packaging"),
    _t("p_quality", 1, "quality", "质量", "the quality", "good quality, well made"),
    _t("p_appearance", 1, "appearance", "外观", "the look", "looks good, pretty, nice design or colour"),
    _t("p_fit", 1, "size", "尺码", "the fit", "size fits well", domains=("goods",)),
    _t(
        "p_function",
        1,
        "function",
        "使用效果",
        "how well it works",
        "works well, effective, fast, good screen, battery",
    ),
    _t("p_authentic", 1, "authenticity", "正品品质", "the genuine product", "genuine, authentic"),
    _t("p_fresh", 1, "quality", "新鲜度", "the freshness", "fresh fruit or food"),
    _t("p_taste", 1, "taste", "口味", "the taste", "tasty, delicious"),
    _t("p_portion", 1, "food", "分量", "the generous portions", "big portion, plenty", domains=("food",)),
    _t("p_price", 1, "price", "性价比", "the value", "cheap, good value, worth it"),
    _t("p_service", 1, "service", "服务", "the service", "staff, seller or customer service kind, helpful"),
    _t("p_location", 1, "stay", "位置", "the location", "convenient location", domains=_STAY),
    _t(
        "p_room",
        1,
        "stay",
        "房间环境",
        "the room",
        "room clean, comfortable, quiet, nice view",
        domains=_STAY,
    ),
    _t("p_breakfast", 1, "stay", "早餐", "the breakfast", "good breakfast", domains=_STAY),
    _t(
        "p_content",
        1,
        "quality",
        "内容",
        "the content",
        "a book's content good, useful, moving",
        domains=("goods",),
    ),
)

BY_KEY: dict[str, Tag] = {t.key: t for t in TAGS}

# -- kinds of goods ------------------------------------------------------------------------------
# A goods shop's category says which tags can apply: no "屏幕有问题" for apples, no "尺码不合适"
# for a phone, no "印刷和纸张质量" for shampoo. A category that names no kind allows every tag.
GoodsKind = Literal["device", "wear", "print", "fresh", "care"]
_KINDS: tuple[tuple[GoodsKind, re.Pattern[str]], ...] = (
    ("print", re.compile(r"书|图书|绘本|杂志|文具|book", re.IGNORECASE)),
    ("fresh", re.compile(r"水果|生鲜|果蔬|蔬菜|肉|海鲜|奶|蒙牛|零食|茶叶|食品|粮|特产|fruit|food", re.I)),
    ("wear", re.compile(r"服|衣|裤|裙|鞋|袜|帽|内衣|箱包|包包|饰|cloth|shoe|wear", re.IGNORECASE)),
    ("care", re.compile(r"洗发|护发|护肤|化妆|个护|美妆|香水|洗护|日化|cosmetic|beauty", re.IGNORECASE)),
    (
        "device",
        re.compile(r"手机|平板|电脑|计算机|笔记本|数码|家电|电器|热水器|耳机|相机|electronic|phone", re.I),
    ),
)
_ONLY_FOR: dict[str, frozenset[GoodsKind]] = {
    **dict.fromkeys(
        ("crashes", "slow_device", "software", "overheating", "screen_defect", "battery", "weak_spec"),
        frozenset({"device"}),
    ),
    **dict.fromkeys(("faulty", "weak_effect", "missing_accessory"), frozenset({"device", "care"})),
    **dict.fromkeys(("sizing", "thin_material", "p_fit"), frozenset({"wear"})),
    **dict.fromkeys(("printing", "book_content", "p_content"), frozenset({"print"})),
    **dict.fromkeys(
        ("not_fresh", "small_fruit", "p_fresh", "frozen", "food_safety", "foreign_object"),
        frozenset({"fresh"}),
    ),
    **dict.fromkeys(("taste", "p_taste"), frozenset({"fresh"})),
    **dict.fromkeys(
        ("scratches", "peeling", "workmanship", "colour_mismatch"), frozenset({"device", "wear", "care"})
    ),
}


def goods_kind(category: str) -> GoodsKind | None:
    """The kind of goods a category names, or None when it names none we know."""
    return next((kind for kind, pattern in _KINDS if pattern.search(category)), None)


def fits(key: str | None, kind: GoodsKind | None) -> bool:
    """Whether a tag can apply to this kind of goods (any tag fits an unknown kind or no tag)."""
    return kind is None or key is None or key not in _ONLY_FOR or kind in _ONLY_FOR[key]


# The lexicon's names (nlp/issues.py) as tags: most are the tag's own name in some kind of shop.
KEY_OF_NAME: dict[str, str] = {
    **{zh: t.key for t in TAGS for zh, _ in t.wording.values()},
    **{t.zh: t.key for t in TAGS},
    "屏幕有坏点": "screen_defect",
    "使用体验": "p_function",
    "设施损坏": "broken_facilities",
}
