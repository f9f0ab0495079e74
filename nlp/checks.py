"""Deterministic checks run on every draft before a merchant sees it.

* `lint_ad_claims`: wording the Chinese Advertising Law (广告法 第九条、第十七条 …) forbids or
  restricts: 极限词 ("最好", "第一", "顶级" …), medical/efficacy claims on ordinary goods
  ("治疗", "防癌", "减肥" …) and unprovable guarantees ("零风险", "100%" …).
* `check_copy`: product copy may only restate what the merchant said about the product; numbers
  with units, prices, model numbers, certifications, materials, origin and service claims that
  `ProductFacts.fact_text()` does not support are reported as ``invented_fact``.  Quantities are
  compared after normalisation (full-width digits, 500ml = 500 毫升 = 0.5L, 1kg = 2斤 = 1000g,
  两年 = 24个月, ¥59 = 59元 …).
* `check_reply`: a review reply must not be empty, must be in the right language, must not repeat
  itself, must not promise what the shop's parsed policy does not license (nlp/promises.py,
  nlp/policy.py), must not ask for a review to be deleted or changed, must not echo prompt
  injections or model self-talk, and should stay short.

Finding codes: ``forbidden_claim`` and ``medical_claim`` (advertising law), ``invented_fact``
(copy), and for replies ``empty``, ``wrong_language``, ``repeated_sentence``,
``promise_beyond_policy`` (compensation, cash, coupons, gifts, refunds, returns, exchanges, free
shipping or repairs that no remedy of the policy licenses for the customer's reason; free
shipping where the policy makes the customer pay; money amounts the policy does not state; the
review is never a source of amounts), ``review_manipulation`` (asking the customer to delete or
change a review, or a good review in exchange for anything: always an error),
``unsafe_content`` and ``too_long`` (warning).
* `detect_language` and `addresses_aspects` are small helpers the checks (and callers) share.

Everything is plain regular expressions over NFKC-normalised text; findings quote the offending
text exactly as it appears in the input.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from nlp.aspects import detect_aspects
from nlp.fold import Folded, folded, is_cjk
from nlp.policy import parsed as parsed_policy
from nlp.promises import clause_before, promise_findings, sentences
from nlp.types import Finding, Language, ProductFacts, Severity, ShopProfile

__all__ = [
    "addresses_aspects",
    "check_copy",
    "check_reply",
    "detect_language",
    "lint_ad_claims",
]

# ---------------------------------------------------------------------------------------------
# Normalisation shared by all checks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    priority: int  # lower wins a tie between equally long overlapping spans


_S = TypeVar("_S", bound=_Span)


def _longest_first(spans: Iterable[_S]) -> list[_S]:
    """Drop spans that overlap a longer (or equally long, higher-priority) one; keep text order."""
    kept: list[_S] = []
    for span in sorted(spans, key=lambda s: (s.start - s.end, s.priority, s.start)):
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


# ---------------------------------------------------------------------------------------------
# Language
# ---------------------------------------------------------------------------------------------

_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _script_counts(text: str) -> tuple[int, int]:
    """(CJK characters, Latin letters) in the text."""
    norm = folded(text).norm
    cjk = sum(1 for ch in norm if is_cjk(ch))
    latin = sum(1 for ch in norm if "a" <= ch <= "z")
    return cjk, latin


def detect_language(text: str) -> Language:
    """ "zh" when CJK characters make up at least a fifth of the letters, else "en".

    Text without any letters (emoji, digits, punctuation) counts as Chinese, the shops' default.
    """
    cjk, latin = _script_counts(text)
    if cjk == 0 and latin == 0:
        return "zh"
    return "zh" if cjk * 4 >= latin else "en"


# ---------------------------------------------------------------------------------------------
# Advertising-law lint
# ---------------------------------------------------------------------------------------------

_ABSOLUTE_MSG = "“{span}”属于广告法禁用的极限词（第九条），建议{advice}"
_MEDICAL_MSG = "“{span}”属于医疗或保健功效宣称，普通商品不得使用（广告法第十七条），建议{advice}"
_SOFT_MSG = "“{span}”属于绝对化或无法证明的表述，建议{advice}"


@dataclass(frozen=True)
class _AdRule:
    pattern: re.Pattern[str]
    code: str
    severity: Severity
    template: str
    advice: str


def _ad(pattern: str, code: str, severity: Severity, template: str, advice: str) -> _AdRule:
    return _AdRule(re.compile(pattern), code, severity, template, advice)


_FORBIDDEN = "forbidden_claim"
_MEDICAL = "medical_claim"
_RANKING_CONTEXT = (
    r"销量|全国|全网|全球|世界|行业|排名|同类|国内|亚洲|天下|业界|品类|榜单|人气|口碑|全省|全市|类目|中国"
)
# "第一次", "第一步", "第一把琴", "第一，…" and the like are harmless ordinals: 第一 followed by a
# measure word counts things, it does not rank them ("位", "名", "家" and "人" stay claims).
_ORDINAL_FOLLOWERS = (
    r"次|步|天|时间|眼|印象|章|节|条|批|层|代|季|期|阶段|口|手|反应|感觉|道|遍|回|周|年|个|件|款|单|波|轮|部|集"
    r"|把|台|双|套|只|支|瓶|罐|盒|包|袋|本|张|杯|份|块|片|颗|粒|根|枚|顶|首|场|堂|课|顿|碗|辆|封|束|朵"
    r"|[，,、:：;；。.!！?？\s]|$"
)
# What may follow "100%" without it being an absolute claim: a fibre or ingredient composition.
_COMPOSITION = (
    r"(?:纯)?(?:棉|羊毛|羊绒|蚕丝|桑蚕丝|真丝|亚麻|涤纶|聚酯纤维|锦纶|氨纶|莫代尔|天丝|粘纤|腈纶"
    r"|原汁|果汁|鲜榨|生牛乳|牛乳|可可|阿拉比卡"
    r"|cotton|wool|silk|linen|cashmere|merino|polyester|nylon)"
)

_AD_RULES: tuple[_AdRule, ...] = (
    _ad(
        rf"(?:{_RANKING_CONTEXT})(?:第一|第1(?!\d))|第一(?:品牌|名|位|大品牌)",
        _FORBIDDEN,
        "error",
        _ABSOLUTE_MSG,
        "删除排名表述，或注明权威来源和统计时间",
    ),
    _ad(rf"第一(?!{_ORDINAL_FOLLOWERS})", _FORBIDDEN, "warning", _SOFT_MSG, "如不是可证明的排名，删除“第一”"),
    _ad(
        r"(?<![a-z])(?:no\s*\.?\s*1|top\s*1|number one)(?![\d.a-z])|#1(?!\d)",
        _FORBIDDEN,
        "error",
        _ABSOLUTE_MSG,
        "删除排名表述，或注明权威来源和统计时间",
    ),
    _ad(
        r"唯一(?!的?(?:缺点|不足|遗憾|问题|毛病))",
        _FORBIDDEN,
        "error",
        _ABSOLUTE_MSG,
        "删除，或改为具体、可证明的描述",
    ),
    _ad(r"国家级|世界级|全球级|宇宙级", _FORBIDDEN, "error", _ABSOLUTE_MSG, "删除，或附上官方认定文件"),
    _ad(
        r"顶级|顶尖|极品|至尊|王牌|巅峰|终极|极致|无敌|完美无缺|史无前例|前无古人|空前绝后|独一无二|绝无仅有"
        r"|遥遥领先|领导品牌|领袖品牌|(?:全球|世界|国际|行业)领先",
        _FORBIDDEN,
        "error",
        _ABSOLUTE_MSG,
        "改为“优质”“出色”等客观描述，或用具体数据说明",
    ),
    _ad(
        r"绝对(?!值|温度|湿度|零度|音感)", _FORBIDDEN, "error", _ABSOLUTE_MSG, "改为“非常”，或用具体数据说明"
    ),
    _ad(
        r"万能(?!胶|表|轮|充|钥匙|贴|扳手|插座|插头|夹)",
        _FORBIDDEN,
        "error",
        _ABSOLUTE_MSG,
        "改为“多用途”，并列出具体用途",
    ),
    _ad(r"首选", _FORBIDDEN, "error", _ABSOLUTE_MSG, "改为“推荐”"),
    _ad(r"零风险|无风险", _FORBIDDEN, "error", _SOFT_MSG, "删除"),
    _ad(r"保证有效|无效(?:全额)?退款|无效包退", _FORBIDDEN, "error", _SOFT_MSG, "删除对效果的保证"),
    _ad(
        r"(?:全球|全国|全网)?首发|独家|首家|首个|首款|首创|全网(?!通)",
        _FORBIDDEN,
        "warning",
        _SOFT_MSG,
        "确认有可核实的证明，否则删除",
    ),
    _ad(
        rf"(?:100(?:\.0+)?\s*%|百分百|百分之百)(?!\s*{_COMPOSITION})",
        _FORBIDDEN,
        "warning",
        _SOFT_MSG,
        "改为具体的检测数据，或删除",
    ),
    _ad(r"永久|终身(?:保修|质保|有效|使用)", _FORBIDDEN, "warning", _SOFT_MSG, "改为具体年限"),
    _ad(
        r"纯天然(?:无添加)?|(?:无|零|0)添加",
        _FORBIDDEN,
        "warning",
        _SOFT_MSG,
        "确认有配料表或检测依据，否则删除",
    ),
    _ad(
        r"(?<![a-z])(?:the best|world'?s best|best[- ]?sell(?:ing|er)|guaranteed)(?![a-z])",
        _FORBIDDEN,
        "warning",
        _SOFT_MSG,
        "改为客观、可证明的描述",
    ),
    _ad(
        r"(?<![a-z])(?:risk[- ]free|100% effective|guaranteed results)(?![a-z])",
        _FORBIDDEN,
        "error",
        _SOFT_MSG,
        "删除对效果的保证",
    ),
    _ad(
        r"(?:杀菌|除菌|抑菌|灭菌|抗菌)\s*(?:率)?\s*(?:达|高达)?\s*\d+(?:\.\d+)?\s*%|\d+(?:\.\d+)?\s*%\s*(?:杀菌|除菌|抑菌|抗菌)"
        r"|治疗|治愈|根治|疗效|疗程|药用|药效|医治|防癌|抗癌|抗肿瘤|消炎|抗炎|杀菌率|除菌率"
        r"|减肥|燃脂|降血压|降血糖|降血脂|降三高|降压|降糖|包治|百病|丰胸|壮阳|排毒"
        r"|(?:提高|增强|提升)免疫力|特效药|奇效|神效|速效|立竿见影|药到病除|预防(?:疾病|感冒|癌症)",
        _MEDICAL,
        "error",
        _MEDICAL_MSG,
        "删除功效宣称，只描述产品本身的成分、用法和体验",
    ),
    _ad(r"(?:无|零|没有任何|无任何|无毒)副作用", _MEDICAL, "error", _MEDICAL_MSG, "删除安全性断言"),
    _ad(
        r"杀菌|除菌|抑菌|抗菌|消毒(?!柜|碗柜)|瘦身|助眠|安神|提神|祛湿|补肾|活血|美白|祛斑",
        _MEDICAL,
        "warning",
        _MEDICAL_MSG,
        "确认产品具备相应资质和检测报告，否则删除",
    ),
    _ad(
        r"(?<![a-z])(?:cures?|heals?|anti-?cancer|weight loss|lose weight|no side effects?"
        r"|treats? (?:[a-z]+ ){0,2}(?:disease|cancer|diabetes|acne|eczema|insomnia))(?![a-z])",
        _MEDICAL,
        "error",
        _MEDICAL_MSG,
        "删除功效宣称",
    ),
)

# 最 + word: harmless when temporal/quantitative ("最近", "最后", "最多可装") or advisory
# ("开封后最好冷藏"); everything else is a superlative claim.
_ZUI_HARMLESS = re.compile(
    r"最(?:近|后|初|终|早|晚|迟|少|多|先(?!进)"
    r"|好(?=是|不要|别|尽快|提前|先|在|放|避免|冷藏|冷冻|密封|及时|遵医嘱|咨询|参考|选|搭配|使用|用|配|买|拍|备注|联系|根据)"
    r"|[大小高低长短快慢](?=\s*(?:可|能|支持|为|达|承重|功率|容量|负载|载重|转速|温度|电流|电压|输出|输入|速度|风速|风量"
    r"|扬程|压力|尺寸|分辨率|亮度|音量|档位|\d|[:：]))"
    r"|[大小](?:值|化|限度|号|码)|高(?:值|点|峰)|低(?:值|点|温|于))"
)
_ZUI_WORDS = (
    "受欢迎", "低价", "高级", "先进", "优惠", "便宜", "实惠", "划算", "畅销", "热销", "流行", "时尚", "新款",
    "专业", "权威", "正宗", "安全", "健康", "舒适", "舒服", "耐用", "环保", "纯正", "新鲜", "靠谱", "稳定",
    "清晰", "适合", "好", "佳", "优", "强", "大", "高", "低", "全", "火", "红", "棒", "牛", "新", "爱", "美",
)  # fmt: skip
_ZUI_CLAIM = re.compile("最(?:" + "|".join(sorted(_ZUI_WORDS, key=len, reverse=True)) + r"|[\u4e00-\u9fff])")
_ZUI_ALTERNATIVES = {
    "最好": "很好",
    "最佳": "优质",
    "最低价": "实惠价",
    "最优": "优质",
    "最先进": "先进",
    "最高级": "高级",
    "最强": "强劲",
    "最大": "较大",
    "最高": "较高",
    "最低": "较低",
    "最便宜": "实惠",
    "最全": "齐全",
    "最新": "新款",
    "最新款": "新款",
    "最爱": "喜爱",
}
_ZUI_SOFT = frozenset({"最新", "最新款", "最爱"})


@dataclass(frozen=True)
class _Hit(_Span):
    finding: Finding


def _zui_hits(text: Folded) -> Iterator[_Hit]:
    for m in _ZUI_CLAIM.finditer(text.norm):
        if _ZUI_HARMLESS.match(text.norm, m.start()):
            continue
        span = text.source(m.start(), m.end())
        key = m.group(0)
        alternative = _ZUI_ALTERNATIVES.get(key, key[1:])
        advice = f"改为“{alternative}”或用具体数据说明"
        severity: Severity = "warning" if key in _ZUI_SOFT else "error"
        message = (_SOFT_MSG if severity == "warning" else _ABSOLUTE_MSG).format(span=span, advice=advice)
        yield _Hit(m.start(), m.end(), 0, Finding(_FORBIDDEN, severity, message, span))


def _rule_hits(text: Folded) -> Iterator[_Hit]:
    for priority, rule in enumerate(_AD_RULES, start=1):
        for m in rule.pattern.finditer(text.norm):
            if m.end() == m.start():
                continue
            span = text.source(m.start(), m.end())
            message = rule.template.format(span=span, advice=rule.advice)
            yield _Hit(m.start(), m.end(), priority, Finding(rule.code, rule.severity, message, span))


def lint_ad_claims(text: str) -> list[Finding]:
    """Advertising-law problems in `text`: 极限词, medical/efficacy claims, unprovable guarantees."""
    norm = folded(text)
    hits = _longest_first([*_zui_hits(norm), *_rule_hits(norm)])
    return _unique(h.finding for h in hits)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in order, dropping repeats of the same (code, span)."""
    seen: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        if (f.code, f.span) not in seen:
            seen.add((f.code, f.span))
            out.append(f)
    return out


# ---------------------------------------------------------------------------------------------
# Quantities: numbers with units, normalised to a base unit per dimension
# ---------------------------------------------------------------------------------------------

_MONTH = 30 * 86400.0
# (dimension, factor to the dimension's base unit, units).  A unit listed twice is ambiguous
# ("块": 50块 is a price, 3块香皂 a count; "g": 5g is grams, 128G is storage); a claim is
# supported when any of its readings is.  Counts compare by value whatever the measure word.
_UNIT_GROUPS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("volume", 1.0, ("ml", "毫升")),
    ("volume", 1000.0, ("l", "升", "公升")),
    ("mass", 0.001, ("mg", "毫克")),
    ("mass", 1.0, ("g", "克")),
    ("mass", 1000.0, ("kg", "千克", "公斤")),
    ("mass", 500.0, ("斤",)),
    ("mass", 453.592, ("lb", "lbs")),
    ("mass", 28.3495, ("oz",)),
    ("length", 1.0, ("mm", "毫米")),
    ("length", 10.0, ("cm", "厘米", "公分")),
    ("length", 1000.0, ("m", "米")),
    ("length", 1e6, ("km", "千米", "公里")),
    ("length", 25.4, ("英寸", "寸", "inch", "inches")),
    ("area", 1.0, ("m2", "平方米", "平米", "平方")),
    # time in seconds; a month is 30 days and a year 12 months, so 两年 = 24个月
    ("time", 1.0, ("秒", "秒钟", "s", "sec")),
    ("time", 60.0, ("分钟", "min", "mins")),
    ("time", 3600.0, ("小时", "个小时", "h", "hr", "hrs", "hour", "hours")),
    ("time", 86400.0, ("天", "日", "day", "days")),
    ("time", 7 * 86400.0, ("周", "星期", "个星期", "week", "weeks")),
    ("time", _MONTH, ("个月", "month", "months")),
    ("time", 12 * _MONTH, ("年", "year", "years")),
    ("power", 1.0, ("w", "瓦")),
    ("power", 1000.0, ("kw", "千瓦")),
    ("charge", 1.0, ("mah", "毫安", "毫安时")),
    ("energy", 1.0, ("wh",)),
    ("voltage", 1.0, ("v", "伏")),
    ("current", 1.0, ("a",)),
    ("data", 1 / 1024, ("kb",)),
    ("data", 1.0, ("mb",)),
    ("data", 1024.0, ("gb", "g")),
    ("data", 1024.0**2, ("tb",)),
    ("frequency", 1.0, ("hz", "赫兹")),
    ("frequency", 1e3, ("khz",)),
    ("frequency", 1e6, ("mhz",)),
    ("frequency", 1e9, ("ghz",)),
    ("degree", 1.0, ("°c", "°", "度")),
    ("percent", 1.0, ("%",)),
    ("cny", 1.0, ("元", "块钱", "rmb", "yuan", "块")),
    ("discount", 1.0, ("折",)),
    (
        "count",
        1.0,
        tuple("件个只支片包袋瓶盒罐双套粒颗条张根层档挡色种款份杯人匹核倍次代级码号岁段卷组台枚对块"),
    ),
    ("count", 1.0, ("人份", "口人", "口之家", "pcs", "pc", "pieces")),  # "三口之家": 口 counts people
)


def _unit_table(
    groups: Iterable[tuple[str, float, tuple[str, ...]]],
) -> dict[str, tuple[tuple[str, float], ...]]:
    """unit -> every (dimension, factor) reading it has."""
    table: dict[str, tuple[tuple[str, float], ...]] = {}
    for dim, factor, names in groups:
        for name in names:
            table[name] = (*table.get(name, ()), (dim, factor))
    return table


_UNITS = _unit_table(_UNIT_GROUPS)

_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CN_NUM_CHARS = "零〇一二两三四五六七八九十百千万亿"
_NUM_TOKEN = rf"(?:(?:{_ARABIC})(?:[万千百亿]|[wk](?=\+))?|[{_CN_NUM_CHARS}]+|半(?=年|个月|个?小时))"
_UNIT_RE = "|".join(
    re.escape(u) + ("(?![a-z])" if u[-1].isascii() and u[-1].isalpha() else "")
    for u in sorted(_UNITS, key=len, reverse=True)
)
_QUANTITY = re.compile(
    rf"(?<![a-z0-9.])(?P<nums>{_NUM_TOKEN}(?:\s*(?:[x×*~\-—–]|至|到)\s*{_NUM_TOKEN})*)\s*(?P<unit>{_UNIT_RE})?"
)
_NUM_IN_GROUP = re.compile(_NUM_TOKEN)
_PERCENT_WORDS = re.compile(rf"百分之(?P<num>{_NUM_TOKEN})")
_CURRENCY_SIGN = re.compile(rf"(?P<sign>[¥$]|rmb)\s*(?P<num>{_ARABIC})")
_PRICE_WORD = re.compile(
    r"(?:到手价|券后价?|售价|原价|特价|活动价|秒杀价|价格|仅需|只需|只要|低至|仅售|现价|折后价?|单价)\s*[:：]?\s*"
    rf"(?P<num>{_ARABIC})(?![\d.]|\s*(?:元|块|rmb|万|%))"
)
_MULTIPLIERS = {"万": 1e4, "千": 1e3, "百": 1e2, "亿": 1e8, "w": 1e4, "k": 1e3}
_CN_DIGITS = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
# A bare Chinese "一" + unit is usually idiom ("一年四季", "一个人", "一次备齐"), so copy only counts
# it as a claim when it is a duration next to warranty words ("一年质保").
_WARRANTY_NEAR = re.compile(r"质保|保修|保固|包换|换新|保质期|有效期")
# A number right after 第 is an ordinal ("第二天" is the next day, not two days); one right after
# 早/晚 is a time of day ("早八人", "早8晚10", "今晚8点").  Neither is a duration or a count.
_ORDINAL_BEFORE = "第"
_CLOCK_BEFORE = "早晚"
# Approximate ranges ("八九个小时", "一两天") are vague talk, except as a serving size: "两三个人吃",
# "三五口之家".
_PEOPLE = re.compile(r"(?:个|口)?人|人份|口之家")


@dataclass(frozen=True)
class _Number:
    raw: float  # as written (after 万/千 multipliers)
    chinese: bool  # written in Chinese numerals


def _parse_chinese_number(token: str) -> float | None:
    """Value of a Chinese numeral ("十二", "两千", "一百零五", "三万"); None for "两三" style ranges."""
    total, section = 0, 0
    digit: int | None = None
    previous = ""
    for ch in token:
        if ch in _CN_DIGITS:
            if digit is not None and previous not in "零〇":
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_SMALL_UNITS:
            section += (1 if digit is None else digit) * _CN_SMALL_UNITS[ch]
            digit = None
        else:
            section += digit or 0
            total += (section or 1) * _CN_BIG_UNITS[ch]
            section, digit = 0, None
        previous = ch
    return float(total + section + (digit or 0))


def _parse_approximate(token: str) -> tuple[float, float] | None:
    """(low, high) of an approximate Chinese range written as two digits ("两三", "三五", "七八")."""
    if len(token) != 2 or any(ch not in _CN_DIGITS for ch in token):
        return None
    low, high = (_CN_DIGITS[ch] for ch in token)
    return (float(low), float(high)) if 0 < low < high else None


def _parse_number(token: str) -> _Number | None:
    if token == "半":
        return _Number(0.5, True)
    if token[0] in _CN_NUM_CHARS:
        value = _parse_chinese_number(token)
        return None if value is None else _Number(value, True)
    multiplier = 1.0
    if token[-1] in _MULTIPLIERS:
        multiplier = _MULTIPLIERS[token[-1]]
        token = token[:-1]
    return _Number(float(token.replace(",", "")) * multiplier, False)


def _key(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else value


@dataclass(frozen=True)
class _Quantity:
    raw: float
    readings: tuple[tuple[str, float], ...]  # (dimension, key(value in base unit)); () = bare number


def _readings(number: _Number, unit: str) -> tuple[tuple[str, float], ...]:
    if unit == "年" and not number.chinese and number.raw.is_integer() and 1900 <= number.raw <= 2100:
        return (("date", number.raw),)
    return tuple((dim, _key(number.raw * factor)) for dim, factor in _UNITS[unit])


def _chinese_one_is_idiom(text: str, start: int, end: int, unit: str | None) -> bool:
    if unit is None or not any(dim == "time" for dim, _ in _UNITS[unit]):
        return True
    window = text[max(0, start - 4) : end + 4]
    return not _WARRANTY_NEAR.search(window)


def _not_an_amount(text: str, start: int, unit: str | None) -> bool:
    """Ordinals ("第二天") and times of day ("早八人", "晚10点") rather than amounts."""
    if start == 0:
        return False
    before = text[start - 1]
    is_time = unit is not None and any(dim == "time" for dim, _ in _UNITS[unit])
    return (before == _ORDINAL_BEFORE and is_time) or (before in _CLOCK_BEFORE and not is_time)


@dataclass(frozen=True)
class _QuantityMatch:
    start: int
    end: int
    quantities: tuple[_Quantity, ...]


def _quantity_matches(text: str, *, strict_one: bool) -> Iterator[_QuantityMatch]:
    """Numbers in `text` with their units; Chinese numerals only count when a unit follows."""
    for m in _QUANTITY.finditer(text):
        unit = m.group("unit")
        if _not_an_amount(text, m.start(), unit):
            continue
        quantities: list[_Quantity] = []
        counts_people = unit is not None and _PEOPLE.match(text, m.start("unit")) is not None
        for token in _NUM_IN_GROUP.findall(m.group("nums")):
            approximate = _parse_approximate(token) if counts_people else None
            number = _parse_number(token)
            numbers = [number] if number else [_Number(v, True) for v in approximate or ()]
            if not numbers or (numbers[0].chinese and unit is None):
                continue
            # "一两天" is as vague as "一天"
            if (
                strict_one
                and numbers[0].chinese
                and numbers[0].raw == 1
                and _chinese_one_is_idiom(text, *m.span(), unit)
            ):
                continue
            quantities.extend(_Quantity(n.raw, _readings(n, unit) if unit else ()) for n in numbers)
        if quantities:
            yield _QuantityMatch(m.start(), m.end(), tuple(quantities))
    for m in _PERCENT_WORDS.finditer(text):
        number = _parse_number(m.group("num"))
        if number is not None:
            yield _QuantityMatch(
                m.start(), m.end(), (_Quantity(number.raw, (("percent", _key(number.raw)),)),)
            )
    for m in _CURRENCY_SIGN.finditer(text):
        value = float(m.group("num").replace(",", ""))
        dim = "usd" if m.group("sign") == "$" else "cny"
        yield _QuantityMatch(m.start(), m.end(), (_Quantity(value, ((dim, _key(value)),)),))
    for m in _PRICE_WORD.finditer(text):
        value = float(m.group("num").replace(",", ""))
        yield _QuantityMatch(m.start("num"), m.end("num"), (_Quantity(value, (("cny", _key(value)),)),))


# ---------------------------------------------------------------------------------------------
# Term claims: model numbers, certifications, materials, origin, service and promotions
# ---------------------------------------------------------------------------------------------

_COUNTRIES: dict[str, tuple[str, ...]] = {
    "日本": ("japan", "日系"), "德国": ("germany", "german"), "美国": ("usa", "america", "united states"),
    "法国": ("france", "french"), "意大利": ("italy", "italian"), "英国": ("uk", "britain", "england"),
    "韩国": ("korea", "韩系"), "瑞士": ("switzerland", "swiss"), "瑞典": ("sweden",), "丹麦": ("denmark",),
    "挪威": ("norway",), "芬兰": ("finland",), "荷兰": ("netherlands", "holland"), "比利时": ("belgium",),
    "西班牙": ("spain",), "葡萄牙": ("portugal",), "奥地利": ("austria",), "澳大利亚": ("australia", "澳洲"),
    "澳洲": ("australia", "澳大利亚"), "新西兰": ("new zealand",), "加拿大": ("canada",),
    "泰国": ("thailand",),
    "越南": ("vietnam",), "马来西亚": ("malaysia",), "印尼": ("indonesia", "印度尼西亚"),
    "新加坡": ("singapore",), "智利": ("chile",), "阿根廷": ("argentina",), "巴西": ("brazil",),
    "俄罗斯": ("russia",), "以色列": ("israel",), "土耳其": ("turkey",), "墨西哥": ("mexico",),
    "印度": ("india",), "斯里兰卡": ("sri lanka",), "爱尔兰": ("ireland",), "希腊": ("greece",),
    "欧洲": ("europe", "欧盟"), "北欧": ("nordic",), "中国": ("china",),
}  # fmt: skip
_ENGLISH_COUNTRIES = {alias: cn for cn, aliases in _COUNTRIES.items() for alias in aliases if alias.isascii()}
_FOREIGN = tuple(name for cn, aliases in _COUNTRIES.items() if cn != "中国" for name in (cn, *aliases))
_REGIONS = (
    "新疆", "西藏", "云南", "宁夏", "内蒙古", "东北", "五常", "赣南", "烟台", "阳澄湖", "西湖", "武夷山",
    "安溪", "普洱", "景德镇", "长白山", "青海", "贵州", "四川", "山东", "福建", "浙江", "广东", "海南",
    "台湾", "香港",
)  # fmt: skip
_COUNTRY_RE = "|".join(sorted(_COUNTRIES, key=len, reverse=True))
_CLAUSE_PUNCT = "，,。！？!?；;\n"
_GIFT_RECIPIENTS = (
    r"亲友|亲朋|朋友|好友|家人|长辈|父母|爸妈|老师|同事|客户|恋人|爱人|伴侣|男友|女友|男朋友|女朋友|闺蜜|他人|友人"
    r"|对方|ta|他|她"
)
_PLACE_RE = "|".join(sorted((*_COUNTRIES, *_REGIONS), key=len, reverse=True))


@dataclass(frozen=True)
class _TermRule:
    label: str
    pattern: re.Pattern[str]
    needles: tuple[str, ...] = ()  # besides the matched text itself, any of these supports the claim
    match_is_needle: bool = True


def _term(label: str, pattern: str, *needles: str, match_is_needle: bool = True) -> _TermRule:
    return _TermRule(label, re.compile(pattern), needles, match_is_needle)


_LATIN_CODES = r"fcc|rohs|ul|fda|sgs|gmp|haccp|cqc|cma|cnas|etl|kc|pse|ukca|bsci|oeko-?tex|gots|ce"

_TERM_RULES: tuple[_TermRule, ...] = (
    # Idioms whose numerals are not claims ("五颜六色" is not "6 colours"): an empty label marks
    # a span that is never reported.
    _term(
        "",
        r"五颜六色|一年四季|三天两头|一日三餐|一天到晚|一年到头|四面八方|七上八下|十全十美|三番五次|一模一样"
        r"|千家万户|百里挑一|千变万化|万无一失|一应俱全|一分钱一分货|一步到位|三五成群|十足|百搭|一次性"
        # "四周" is "all around" unless it reads as a duration ("四周后", "四周内见效")
        r"|四周(?!\s*(?:后|内|以内|以上|左右|起|时间|的时间|即可|见效|年))",
    ),
    # "两次大扫除之间": between two occurrences of something, the two is no count of the product's
    _term("", rf"(?<![\d.])(?:两|2)\s*次(?=[^{_CLAUSE_PUNCT}]{{1,8}}?之间)"),
    # the buyer giving the product away ("作为小礼物赠送亲友") is no promise of a free gift
    _term("", rf"(?:礼物|礼品|伴手礼)(?:赠送|送给|赠予)|(?:赠送|赠予)给?(?:{_GIFT_RECIPIENTS})"),
    # materials
    _term("材质", r"纯棉|全棉|100\s*%\s*(?:纯)?棉", "纯棉", "全棉", "100%棉", "100%纯棉"),
    _term("材质", r"(?:新疆)?(?:长绒|精梳|有机)棉|新疆棉"),
    _term("材质", r"真皮", "牛皮", "羊皮", "猪皮", "头层", "二层皮"),
    _term("材质", r"头层(?:牛)?皮|小?(?:牛|羊|羊羔|猪|鳄鱼|鸵鸟)皮|pu皮|人造革|超纤皮"),
    _term("材质", r"(?:sus)?(?:304|316l?|201|430)\s*(?:不锈钢|钢)|sus\s*(?:304|316l?|201|430)"),
    _term(
        "材质", r"不锈钢|食品级|医用级|母婴级|食品接触级|航空铝|铝合金|钛合金|纯钛|碳纤维|纯铜|黄铜|铸铁|珐琅"
    ),
    _term("材质", r"(?:纯|山)?羊绒|(?:纯|美利奴)?羊毛|澳毛"),
    _term("材质", r"真丝", "蚕丝"),
    _term("材质", r"(?:桑|柞)?蚕丝|亚麻|苎麻|莫代尔|天丝|竹纤维|冰丝|雪纺|涤纶|聚酯纤维|锦纶|氨纶"),
    _term("材质", r"纯银|足银|s?925(?:纯)?银|s925|(?:千)?足金|18k金|k金|纯金|黄金|铂金|白金"),
    _term("材质", r"实木", "胡桃木", "橡木", "榉木", "松木", "红木", "柚木", "樱桃木", "桦木"),
    _term("材质", r"红木|胡桃木|橡木|榉木|松木|柚木|樱桃木|桦木|竹制"),
    _term("材质", r"羽绒", "鹅绒", "鸭绒"),
    _term("材质", r"(?:白)?(?:鹅|鸭)绒|(?:天然)?乳胶|记忆棉|(?:食品级)?硅胶|tritan|ppsu"),
    _term("材质", r"陶瓷|骨瓷|高硼硅(?:玻璃)?|钢化玻璃|水晶|大理石|翡翠|和田玉"),
    # certifications and awards
    _term("认证", r"(?<![a-z0-9])(?:3c|ccc)(?![a-z0-9])(?:认证)?", "3c", "ccc", match_is_needle=False),
    _term("认证", rf"(?<![a-z0-9])(?:{_LATIN_CODES})(?![a-z0-9])(?:认证|检测|标准|认可)?"),
    _term("认证", r"(?<![a-z])iso\s*\d{3,5}(?::\d{4})?|(?<![a-z])iso(?![a-z])(?:认证|体系)?"),
    _term("认证", r"(?<![a-z])gb\s*/?\s*t?\s*\d{3,6}|国标|国家标准", "国标", "国家标准", "gb"),
    _term("认证", r"(?:国家|权威|官方)认证", "认证", "3c", "ccc"),
    _term("认证", r"(?:发明|实用新型|外观(?:设计)?|国家)?专利(?:技术|产品|设计|号)?", "专利"),
    _term("认证", r"质检报告|检测报告|检验报告|第三方检测|权威检测", "检测", "质检", "检验", "报告"),
    _term("认证", r"有机认证|有机食品|绿色食品|(?:国家)?地理标志|非遗|(?:中华)?老字号", "有机", "地理标志"),
    _term("认证", r"[一二三四五12345]级能效|能效(?:等级)?\s*[一二三四五12345]级", "能效"),
    _term("认证", r"(?<![a-z])a类(?:标准)?|婴幼儿a类", "a类"),
    _term("认证", r"获奖|金奖|银奖|大奖|奖项", "奖"),
    # origin
    _term("产地", rf"(?:原产|产自|产于|来自|源自|进口自|生产地|产地)\s*[:：]?\s*(?P<key>{_PLACE_RE})"),
    _term(
        "产地",
        rf"(?P<key>{_COUNTRY_RE})(?:原装)?(?:原产|进口|制造|生产|产|直邮|直采|直供|工艺|技术|品牌|设计|血统|原装)",
    ),
    _term("产地", rf"(?P<key>{'|'.join(_REGIONS)})(?:原产|产|直发|直供|直采|特产|原装)"),
    _term("产地", r"(?<![a-z])made in (?P<key>[a-z]+(?: [a-z]+)?)"),
    _term(
        "产地",
        r"原装进口|进口|海外直采|海外直邮|跨境直邮|保税(?:仓)?|(?<![a-z])imported",
        "进口",
        "海外",
        *_FOREIGN,
    ),
    _term("产地", r"(?:原)?产地直[发供采销]", "产地"),
    # service and promotions
    _term("服务承诺", r"(?:顺丰|全国)?包邮|免运费|免邮", "包邮", "免运费", "免邮"),
    _term("服务承诺", r"运费险|退货险", "运费险", "退货险"),
    _term("服务承诺", r"终身(?:保修|质保|维修|包换)", "终身"),
    _term(
        "服务承诺",
        r"质保|保修|保固|包换|包退|(?:全国)?联保|三包",
        "质保",
        "保修",
        "保固",
        "包换",
        "三包",
        "联保",
    ),
    _term("服务承诺", r"以旧换新|上门安装|免费安装|包安装|送货上门|上门服务", "安装", "上门"),
    _term("服务承诺", r"[七7]天无理由(?:退换货?|退货)?", "无理由"),
    _term("服务承诺", r"买[一二两三四五六七八九十\d]+(?:送|赠)[一二两三四五六七八九十\d]+"),
    _term("服务承诺", r"第[二2]件半价|半价"),
    _term("服务承诺", r"满\d+减\d+"),
    _term("服务承诺", r"赠品|赠送|附赠|加赠|免费送|买就送|送(?:运费险|礼品|小礼品|赠品)", "赠"),
    _term("服务承诺", r"假一(?:赔|罚)[一二三四五六七八九十\d]+|正品保[证障]", "正品保"),
)

_MODEL_TOKEN = re.compile(r"(?<![a-z0-9])[a-z0-9]+(?:[-_.][a-z0-9]+)*(?![a-z0-9])")
_PLAIN_QUANTITY = re.compile(
    rf"(?:{_NUM_TOKEN})(?:\s*(?:[x×*~\-]|至|到)\s*(?:{_NUM_TOKEN}))*\s*(?:{_UNIT_RE})?"
)


@dataclass(frozen=True)
class _Claim(_Span):
    label: str
    needles: tuple[str, ...] = ()
    quantities: tuple[_Quantity, ...] = ()


def _aliases(key: str) -> tuple[str, ...]:
    cn = _ENGLISH_COUNTRIES.get(key, key)
    return (key, cn, *_COUNTRIES.get(cn, ()))


def _term_claims(text: str) -> Iterator[_Claim]:
    for priority, rule in enumerate(_TERM_RULES):
        for m in rule.pattern.finditer(text):
            needles = list(rule.needles)
            if rule.match_is_needle:
                needles.append(m.group(0))
            if "key" in rule.pattern.groupindex and m.group("key"):
                needles.extend(_aliases(m.group("key")))
            yield _Claim(m.start(), m.end(), priority, rule.label, tuple(needles))


def _model_claims(text: str) -> Iterator[_Claim]:
    """Letter+digit tokens ("X500", "AB-1234", "WiFi6") that are not a number with a unit."""
    for m in _MODEL_TOKEN.finditer(text):
        token = m.group(0)
        has_letter = any("a" <= c <= "z" for c in token)
        if not has_letter or not any(c.isdigit() for c in token) or _PLAIN_QUANTITY.fullmatch(token):
            continue
        yield _Claim(m.start(), m.end(), 100, "型号", (token,))


def _quantity_claims(text: str, *, strict_one: bool) -> Iterator[_Claim]:
    for match in _quantity_matches(text, strict_one=strict_one):
        yield _Claim(
            match.start, match.end, 200, _quantity_label(match.quantities), quantities=match.quantities
        )


def _quantity_label(quantities: tuple[_Quantity, ...]) -> str:
    dims = {dim for q in quantities for dim, _ in q.readings}
    if dims & {"cny", "usd"}:
        return "价格"
    if "percent" in dims:
        return "百分比"
    if "date" in dims:
        return "年份"
    if "time" in dims:
        return "时长"
    if "count" in dims:
        return "数量"
    return "数字" if not dims else "规格参数"


def _claims(text: str, *, strict_one: bool) -> list[_Claim]:
    candidates = [
        *_term_claims(text),
        *_model_claims(text),
        *_quantity_claims(text, strict_one=strict_one),
    ]
    return _longest_first(candidates)


# ---------------------------------------------------------------------------------------------
# Facts index and support
# ---------------------------------------------------------------------------------------------

_DIGIT_WORDS = str.maketrans("一二两三四五六七八九", "1223456789")
_SEPARATORS = "[\\s\\-_·/]*"


@dataclass(frozen=True)
class _FactIndex:
    literal: str  # normalised
    text: str  # normalised, Chinese digits as Arabic
    readings: frozenset[tuple[str, float]]
    bare: frozenset[float]  # numbers stated without a unit
    numbers: frozenset[float]  # every number stated


def _fact_text(facts: ProductFacts) -> str:
    """`ProductFacts.fact_text()`, but with each spec's key and value apart ("DPI 800/1200")."""
    specs = (f"{k} {v}" for k, v in facts.specs.items())
    parts = [facts.name, *facts.selling_points, *specs, facts.price, facts.audience, facts.extra]
    return "\n".join(p for p in parts if p)


_LATIN_THEN_CN_NUMBER = re.compile(rf"(?<=[a-z])(?=[{_CN_NUM_CHARS}])")


def _index_facts(facts: ProductFacts) -> _FactIndex:
    text = folded(_fact_text(facts)).norm
    # In copy a number glued to a Latin token is no claim of its own, but a fact "DPI三档可调"
    # still states 三档.
    spaced = _LATIN_THEN_CN_NUMBER.sub(" ", text)
    quantities = [q for m in _quantity_matches(spaced, strict_one=False) for q in m.quantities]
    price = folded(facts.price).norm
    price_numbers = [_key(q.raw) for m in _quantity_matches(price, strict_one=False) for q in m.quantities]
    readings = {r for q in quantities for r in q.readings} | {("cny", v) for v in price_numbers}
    return _FactIndex(
        literal=text,
        text=text.translate(_DIGIT_WORDS),
        readings=frozenset(readings),
        bare=frozenset(_key(q.raw) for q in quantities if not q.readings),
        numbers=frozenset(_key(q.raw) for q in quantities),
    )


def _mentions(facts: _FactIndex, needle: str) -> bool:
    """Whether the facts contain `needle`, ignoring spacing/hyphens; Latin needles match whole tokens.

    Chinese digits may stand for Arabic ones ("买二送一" = "买2送1"), but a Chinese digit never
    extends a Latin token: "2C1A三接口" mentions "2C1A".
    """
    norm = folded(needle).norm
    return _contains(facts.literal, norm) or _contains(facts.text, norm.translate(_DIGIT_WORDS))


def _contains(text: str, needle: str) -> bool:
    needle = re.sub(_SEPARATORS, "", needle)
    if not needle:
        return False
    body = _SEPARATORS.join(re.escape(c) for c in needle)
    before = "(?<![a-z0-9])" if needle[0].isascii() and needle[0].isalnum() else ""
    after = "(?![a-z0-9])" if needle[-1].isascii() and needle[-1].isalnum() else ""
    return re.search(before + body + after, text) is not None


def _quantity_supported(facts: _FactIndex, quantity: _Quantity) -> bool:
    raw = _key(quantity.raw)
    if not quantity.readings:
        return raw in facts.numbers or any(v == raw for _, v in facts.readings)
    return raw in facts.bare or any(r in facts.readings for r in quantity.readings)


def _claim_supported(facts: _FactIndex, claim: _Claim) -> bool:
    if not claim.label:
        return True
    if claim.quantities:
        return all(_quantity_supported(facts, q) for q in claim.quantities)
    return any(_mentions(facts, n) for n in claim.needles)


def _invented_fact(label: str, span: str) -> Finding:
    message = (
        f"文案中的{label}“{span}”在商品资料里找不到依据，可能是编造的；请删除，或先在商品资料中补充后再使用"
    )
    return Finding("invented_fact", "error", message, span)


# "可收纳4件羽绒外套", "适用于不锈钢锅具": a material directly followed by an item noun, after a
# storing/fitting verb in the same clause, is the material of what the product holds or fits.
_HOLDS = re.compile(r"收纳|存放|可放|能放|放得下|可装|能装|装得下|容纳|适用|兼容|适配")
_ITEM_NOUN = re.compile(
    r"外套|大衣|夹克|[服衣衫裤裙鞋靴帽袜被褥枕毯垫]|制品|用品|衣物|锅|壶|杯|碗|盘|餐具|首饰|饰品|家具|地板"
)


def _material_of_held_item(text: str, claim: _Claim) -> bool:
    return (
        claim.label == "材质"
        and _ITEM_NOUN.match(text, claim.end) is not None
        and _HOLDS.search(clause_before(text, claim.start)) is not None
    )


def check_copy(copy_text: str, facts: ProductFacts) -> list[Finding]:
    """Advertising-law lint plus every factual claim in the copy that `facts` does not support."""
    text = folded(copy_text)
    index = _index_facts(facts)
    invented = (
        _invented_fact(claim.label, text.source(claim.start, claim.end))
        for claim in _claims(text.norm, strict_one=True)
        if not _claim_supported(index, claim) and not _material_of_held_item(text.norm, claim)
    )
    return [*lint_ad_claims(copy_text), *_unique(invented)]


# ---------------------------------------------------------------------------------------------
# Review replies
# ---------------------------------------------------------------------------------------------

_MAX_REPLY_UNITS = 300
_MIN_REPEAT_CHARS = 4

_UNSAFE = re.compile(
    r"(?<![a-z])(?:ignore|disregard|forget) (?:all |any )?(?:the |your )?"
    r"(?:previous|prior|above|earlier|preceding) (?:instructions?|prompts?|messages?|rules)"
    r"|system prompt|(?<![a-z])as an ai(?![a-z])|as an? (?:large )?language model"
    r"|(?<![a-z])i(?: am|'m) an ai(?![a-z])"
    r"|(?<![a-z])(?:openai|chatgpt)(?![a-z])"
    r"|<\|?(?:im_start|im_end|start_of_turn|end_of_turn|endoftext|system)\|?>|\[/?inst\]"
    r"|(?:忽略|无视|忘记|忘掉)(?:以上|之前|上面|前面|上述|先前|所有|你的)"
    r"|系统提示|提示词"
    r"|作为(?:一个|一名)?(?:ai|人工智能|语言模型|大语言模型|大模型|ai助手|聊天机器人|智能助手)"
    r"|我(?:只)?是(?:一个|一名)?(?:ai|人工智能|语言模型|大语言模型|大模型|聊天机器人)(?![a-z])"
)


def _is_blank(text: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PSZC" for ch in text)


def _expected_language(review: str, profile: ShopProfile) -> Language | None:
    if profile.language != "auto":
        return profile.language
    cjk, latin = _script_counts(review)
    return detect_language(review) if cjk or latin else None


def _language_finding(reply: str, review: str, profile: ShopProfile) -> Finding | None:
    expected = _expected_language(review, profile)
    if expected is None or detect_language(reply) == expected:
        return None
    name = "中文" if expected == "zh" else "英文"
    source = "店铺设置" if profile.language != "auto" else "顾客评价"
    return Finding("wrong_language", "error", f"回复语言与{source}不一致，请用{name}回复")


def _sentence_key(sentence: str) -> str:
    return "".join(ch for ch in folded(sentence).norm if unicodedata.category(ch)[0] not in "PSZC")


def _repeat_findings(reply: str) -> Iterator[Finding]:
    seen: set[str] = set()
    reported: set[str] = set()
    for start, end in sentences(reply):
        sentence = reply[start:end].strip()
        key = _sentence_key(sentence)
        if len(key) < _MIN_REPEAT_CHARS:
            continue
        if key in seen and key not in reported:
            reported.add(key)
            yield Finding(
                "repeated_sentence", "error", f"回复中有重复的句子“{sentence}”，请删除重复部分", sentence
            )
        seen.add(key)


def _unsafe_findings(reply: Folded) -> Iterator[Finding]:
    for m in _UNSAFE.finditer(reply.norm):
        span = reply.source(m.start(), m.end())
        message = f"回复中出现疑似提示词注入或模型自我描述的内容“{span}”，不能发给顾客，请重新生成"
        yield Finding("unsafe_content", "error", message, span)


def _length_units(text: str) -> int:
    """CJK characters plus Latin words: roughly "Chinese characters" for mixed text."""
    norm = folded(text).norm
    return sum(1 for ch in norm if is_cjk(ch)) + len(_LATIN_WORD.findall(norm))


def _length_finding(reply: str) -> Finding | None:
    units = _length_units(reply)
    if units <= _MAX_REPLY_UNITS:
        return None
    return Finding("too_long", "warning", f"回复过长（约{units}字），建议精简到{_MAX_REPLY_UNITS}字以内")


def check_reply(reply: str, review: str, profile: ShopProfile) -> list[Finding]:
    """Problems in a drafted reply to `review` for the shop described by `profile`.

    Replies are public text, so they get the advertising-law lint that copy gets.
    """
    if _is_blank(reply):
        return [Finding("empty", "error", "回复为空或只有标点符号，请重新生成")]
    norm = folded(reply)
    policy = parsed_policy(profile.policy)
    optional = (_language_finding(reply, review, profile), _length_finding(reply))
    return [
        *(f for f in optional[:1] if f is not None),
        *_repeat_findings(reply),
        *promise_findings(norm.norm, norm.source, folded(review).norm, policy),
        *_unique(_unsafe_findings(norm)),
        *lint_ad_claims(reply),
        *(f for f in optional[1:] if f is not None),
    ]


def addresses_aspects(reply: str, review: str) -> bool:
    """True when the review raises no aspect, or the reply talks about at least one it raises."""
    raised = detect_aspects(review)
    if not raised:
        return True
    return bool(set(raised) & set(detect_aspects(reply)))
