"""What a review reply may promise: only what the shop's parsed policy licenses.

`promise_findings` is the part of `nlp.checks.check_reply` that reads promises. Every promise a
draft makes (compensation, cash, coupons, gifts, refunds, returns, exchanges, free shipping,
repairs) must be licensed by a `Remedy` of `nlp.policy.parse_policy(profile.policy)` for the
customer's reason (the reason stated in the sentence, else the one the review describes, else
"no reason"); free shipping must not contradict a policy that makes the customer pay. Money
amounts ("100元", "一百元", "¥100", "转100") must be stated in the policy, never merely in the
review. Asking the customer to delete or change a review is always an error (marketplace rules
forbid it, with or without something in exchange).

Works on the NFKC-folded, lower-cased reply that `nlp.checks` builds; `source(start, end)` maps
a span of it back to the original text for the finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from nlp.fold import fold
from nlp.policy import ParsedPolicy, RemedyKind, Trigger
from nlp.types import Finding

__all__ = ["promise_findings", "reason_of"]

Source = Callable[[int, int], str]


@dataclass(frozen=True)
class _Promise:
    pattern: re.Pattern[str]
    kinds: tuple[RemedyKind, ...]  # any of these remedies licenses it; () for stated multiples
    what: str


def _promise(pattern: str, kinds: tuple[RemedyKind, ...], what: str) -> _Promise:
    return _Promise(re.compile(pattern), kinds, what)


_MULTIPLE = r"[一二两三四五六七八九十百\d]+"
_PROMISES: tuple[_Promise, ...] = (
    _promise(
        rf"(?:退|假|坏|少|错)一(?:赔|罚){_MULTIPLE}|[双两三四五十\d]+倍(?:赔偿|赔付|退款|返还)|双倍"
        r"|(?<![a-z])(?:double|triple) (?:refund|compensation|your money)",
        (),
        "多倍赔偿",
    ),
    _promise(
        r"包赔|赔偿|补偿|赔付|赔您|赔给您|理赔|(?:退|补|返)(?:您|你)?差价|补贴|贴补"
        r"|退(?:您|你)?(?:一半|一部分|部分)|部分退款|免单|不用付钱|不收(?:您|你)?钱|算我们的|(?<![a-z])compensat\w*",
        ("compensation",),
        "赔偿",
    ),
    _promise(
        r"红包|返现|返利|现金|转账|打款|大洋|(?<![a-z])(?:hb|v(?:我|您|你)?\s?\d+)(?![a-z])"
        r"|(?<![a-z])cash(?:\s?back)?(?![a-z])|(?<![a-z])gift cards?",
        ("cash",),
        "红包/返现",
    ),
    _promise(
        r"优惠券|代金券|无门槛券|礼券|购物券|折扣券"
        r"|(?:送|给|发|赠|补)(?:您|你)(?:一|1|两|2|几)?(?:张|份|个)?[^\s，,。.!！?？]{0,4}券"
        r"|打个?(?:[一二三四五六七八九\d.]+|对)折|[一二三四五六七八九]折优惠|半价|(?:给|为)(?:您|你)(?:打折|折扣)"
        r"|(?:送|发放?|给|赠|补)(?:您|你)?[^，,。.!！?？]{0,6}积分"
        r"|(?<![a-z])(?:coupons?|vouchers?|store credit|\d+% off|discount)(?![a-z])",
        ("coupon",),
        "优惠券",
    ),
    _promise(
        r"赠品|赠送|免费送|额外送|加送|加赠|再送|多送|(?:送|给)(?:您|你)(?:一份|一个|个|份|些|点)?(?:小)?(?:礼物|礼品|小样)"
        r"|(?:领取|领|有|送|准备了?)(?:专属|小|一份)?(?:福利|惊喜)"
        r"|(?<![a-z])(?:free gifts?|(?:send|give) you a (?:small |free )?gift)(?![a-z])",
        ("gift",),
        "赠品",
    ),
    _promise(
        r"仅退款|不用退货|无需退货|无需寄回|不用寄回|不用退回|无需退回|直接退款"
        r"|(?<![a-z])(?:keep the (?:item|product)|no need to (?:return|send))",
        ("refund_only",),
        "仅退款不退货",
    ),
    _promise(
        r"免费(?:换新|更换|重发|补发)|换新|换一个新的|重新(?:给您)?发|补发|重发"
        r"|(?<![a-z])(?:replacement|replace it|resend|send (?:you )?a new one)(?![a-z])",
        ("exchange", "resend"),
        "换新/补发",
    ),
    _promise(
        r"全额退款|退款|退钱|退货|退还|(?<![a-z])(?:refund\w*|money back)",
        ("return", "refund", "refund_only"),
        "退款退货",
    ),
    _promise(
        r"包邮|免运费|(?:承担|报销)(?:来回|往返)?运费|(?:退|补|返)(?:您|你)?运费|运费(?:给您|为您)?(?:退|返)给?(?:您|你)"
        r"|(?<![a-z])refund (?:the |your )?(?:shipping|postage|delivery)(?: fee| cost)?"
        r"|(?:来回|往返|双向)?运费(?:险)?(?:都|也|全部?)?"
        r"(?:由?(?:我们|本店|店铺|我方)来?(?:承担|报销|补贴|出|负责|包)|由?来?(?:承担|报销|补贴|负责))"
        r"|(?<![a-z])(?:free (?:return )?shipping|cover (?:the )?(?:return )?shipping)",
        ("shipping",),
        "承担运费",
    ),
    _promise(
        r"免费维修|上门(?:维修|安装|取件)|终身(?:保修|质保|维修)|保修|质保|(?<![a-z])warranty(?![a-z])",
        ("repair",),
        "保修/上门服务",
    ),
)
_REPLY_NEGATION = re.compile(
    r"(?:不|无法|不能|没法|没办法|不会|不予|恕不|暂不|暂时无法|不支持|不可以|不可|无权|不提供|未能)"
    r"(?:再|为您|给您|帮您|向您|替您|直接|办理|进行|提供|安排|做|予以|支持|额外|任何|发放|发|送|给|的|\s"
    r"|通过|用|拿|以|靠|私下|所谓"
    r"|补偿|赔偿|赔付|退款|返现|红包|现金)*$"
    r"|(?<![a-z])(?:cannot|can't|can not|unable to|not able to|won't|will not|don't|do not|no)"
    r"\s+(?:[a-z]+\s+){0,2}$"
    # a warning against such offers: "请勿相信任何私下返现的信息"
    r"|(?:请勿|勿|不要|别|谨防|警惕|小心)(?:相信|轻信|理会|听信)?[^，,。！？!?]{0,6}$"
)
# "我们不会要求您修改评价" says the opposite of asking
_NOT_ASKING = re.compile(
    r"(?:不会|从不|从来不|绝不|决不|不曾|并不|不要求|不强求|无需|不需要|不用)[^，,。！？!?]{0,8}$"
)

# Asking for a review to be deleted or changed, or a good review in exchange for something.
_REVIEW_TARGET = r"(?:差评|中评|评价|评论|追评|评分|打分|星级)"
_GOOD_REVIEW = r"(?:好评|五星|5星|满分|五分|5分)"
_CHANGE = r"(?:删除|删掉|删了|删|撤销|撤回|撤掉|撤|去掉|隐藏|屏蔽|修改|更改|改(?!进|善|正|良|变))"
_MANIPULATION = re.compile(
    rf"(?:删除|删掉|删了|删去|删|撤销|撤回|撤掉|去掉|隐藏|屏蔽|修改|更改|改一下|改下|改掉)(?:一下|下)?(?:您|你)?的?(?:这条|这个|这次)?{_REVIEW_TARGET}"
    rf"|把(?:您|你)?的?(?:这条|这个|这次)?{_REVIEW_TARGET}(?:给)?{_CHANGE}"
    rf"|{_REVIEW_TARGET}(?:能不能|能否|可不可以|可否|可以|麻烦|帮忙|请)+(?:您|你)?(?:帮忙|帮我们)?{_CHANGE}"
    rf"|重新(?:评价|评论|打分|评分|给个?(?:评价|好评))|再(?:评价|评)一次"
    rf"|删评|改评|(?:改|换|修改|更改)(?:成|为)(?:一个|个)?{_GOOD_REVIEW}"
    rf"|追(?:评|加)(?:一个|个|一条|条)?{_GOOD_REVIEW}"
    rf"|{_GOOD_REVIEW}(?:就|即|即可|后|可)?(?:返现?|送|有礼|领|给红包|给您红包|退款)"
    rf"|(?:给|打|留)(?:个|一个|我们|下)?{_GOOD_REVIEW}(?:就|即|后|即可)(?:返|送|给|退)"
    r"|(?<![a-z])(?:remove|delete|change|update|edit|revise|amend|modify|reconsider|redo|adjust"
    r"|take down|withdraw)\s+"
    r"(?:your|the|this|that)\s+(?:negative |bad |low |1[- ]star |one[- ]star )?"
    r"(?:review|rating|feedback|comment)"
    r"|(?<![a-z])(?:5|five)[- ]star (?:review|rating)s? (?:for|in exchange)"
)

_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CN_NUMBER = "零〇一二两三四五六七八九十百千万"
# "两块肥皂" is soap; "两块作为心意", "一百块" and "50块" are money
_AS_MONEY = r"作为|当作|当|给|红包|补偿|心意|现金|补贴|的(?:红包|补偿|心意|现金|补贴)"
_MONEY = re.compile(
    rf"[¥$]\s*(?P<a>{_ARABIC})"
    rf"|(?P<b>{_ARABIC})\s*(?:元|块钱|块(?![\u4e00-\u9fff])|块(?={_AS_MONEY})|大洋|rmb|yuan|dollars?|bucks?|usd)(?![a-z])"
    rf"|(?P<e>\d{{2,}})块"
    rf"|(?P<c>[{_CN_NUMBER}]+)(?:元|块钱|块(?![\u4e00-\u9fff])|块(?={_AS_MONEY})|大洋)"
    rf"|(?P<f>[{_CN_NUMBER}]*[十百千万][{_CN_NUMBER}]*)块"
    rf"|(?:转账?|打款|返现?)(?:给您|给你|您)?\s*(?P<d>{_ARABIC})(?:\s*(?:元|块))?(?![\d.]*\s*(?:天|小时|%|个|件|次))"
)
_CN_DIGITS = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}

_SENTENCE_SPLIT = re.compile(r"[。！？!?\n]+|(?<![0-9０-９])[.．](?![0-9０-９])")
_CLAUSE_BREAK = re.compile(r"[，,。！？!?；;\n]")

_REASONS: tuple[tuple[Trigger, re.Pattern[str]], ...] = (
    ("any", re.compile(r"无理由|(?<![a-z])no[- ]reason|for any reason")),
    (
        "damaged",
        re.compile(
            r"破损|压坏|摔坏|碎了|破了|裂|烂|变形|坏果|压扁|散了|变质|发臭|臭味|怪味|异味|腥|氨水|死了|死亡|不动了"
            r"|腐烂|发芽|发霉|洒了|漏了|化了|软塌|(?<![a-z])(?:damaged|broken|crushed|cracked|spoil\w*|rotten)"
        ),
    ),
    (
        "wrong_item",
        re.compile(
            r"发错|错发|送错|错送|送成|做错|送来的是|给了个|不是我(?:买|要|拍|订|点)的"
            r"|(?<![a-z])wrong (?:item|size|colou?r|one)"
        ),
    ),
    (
        "missing",
        re.compile(r"少发|漏发|少了|缺件|少件|缺了|没放|漏加|漏了|只送来|只收到|只有|空的|(?<![a-z])missing"),
    ),
    ("late", re.compile(r"物流慢|发货慢|太慢|迟迟|还没发|超时|(?<![a-z])(?:late|slow|delay\w*)")),
    (
        "quality",
        re.compile(
            r"(?<!非)质量|坏了|坏的|不能用|用不了|不好用|故障|瑕疵|开线|开胶|线头|掉色|褪色|起球|起皮|漏水|漏气"
            r"|失灵|不工作|没声音|没反应|不亮|不响|接触不良|发烫|很烫|卡顿|死机|断了|断裂|松了|弹不起来|异响"
            r"|异味|烟味|臭|发霉|脏|污渍|泥|划痕|色差|长短不|一长一短|歪|二手|旧的|被穿过|用过的|做工|不合格"
            r"|起泡|没粘好|说卡|很卡|太卡|好卡|模糊|错字|印刷|虫|过期|临期|胀|鼓起来|变味|发黑|化水|过了"
            r"|(?<![a-z])(?:defect\w*|faulty|stopped working|does ?n[o']t work|poor quality)"
        ),
    ),
)


def _money_value(m: re.Match[str]) -> float | None:
    arabic = m.group("a") or m.group("b") or m.group("d") or m.group("e")
    if arabic:
        return float(arabic.replace(",", ""))
    return _chinese_value(m.group("c") or m.group("f"))


def _chinese_value(token: str) -> float | None:
    """一百 = 100, 两百五十 = 250, 十五 = 15, 三千 = 3000; None when it is no number."""
    total, section, digit = 0, 0, None
    for ch in token:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return float(total + section + (digit or 0))


@lru_cache(maxsize=64)
def _policy_terms(policy_text: str) -> tuple[str, frozenset[float]]:
    """A policy's folded text and the money amounts it states: read once per policy, not once
    for each reply checked against it."""
    folded = fold(policy_text)
    return folded, _money_values(folded)


def _money_values(text: str) -> frozenset[float]:
    values = (_money_value(m) for m in _MONEY.finditer(text))
    return frozenset(v for v in values if v is not None)


# The shop's fault, whichever way a policy or a review words it: real policies name a few examples
# ("漏液、破损、临期请拍照联系客服") and reviews name others, so any of them licenses the others.
_SHOP_FAULT: tuple[Trigger, ...] = ("quality", "damaged", "wrong_item", "missing")


def _licensing(reasons: tuple[Trigger, ...]) -> tuple[Trigger, ...]:
    if any(r in _SHOP_FAULT for r in reasons):
        return tuple(dict.fromkeys((*reasons, *_SHOP_FAULT)))
    return reasons


def reason_of(text: str) -> tuple[Trigger, ...]:
    """The customer's reasons a text names (破损 → "damaged", 质量 → "quality" ...), maybe none."""
    return tuple(trigger for trigger, pattern in _REASONS if pattern.search(text))


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank sentence (a '.' between digits is a decimal point)."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_SPLIT.finditer(text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(text)))
    return [(s, e) for s, e in bounds if text[s:e].strip()]


def clause_before(text: str, start: int) -> str:
    """The clause of `text` that ends at `start`."""
    breaks = [m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)]
    return text[breaks[-1] if breaks else 0 : start]


def _negated(text: str, start: int) -> bool:
    return _REPLY_NEGATION.search(clause_before(text, start)) is not None


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    priority: int
    promise: _Promise


def _promise_hits(reply: str, start: int, end: int) -> list[_Hit]:
    """Promises made (not negated: "无法为您退款") in reply[start:end]; overlaps go to the longest."""
    hits = [
        _Hit(m.start(), m.end(), priority, promise)
        for priority, promise in enumerate(_PROMISES)
        for m in promise.pattern.finditer(reply, start, end)
        if not _negated(reply, m.start())
    ]
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.priority, h.start)):
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def _licensed(policy: ParsedPolicy, promise: _Promise, span: str, reasons: tuple[Trigger, ...]) -> bool:
    if not promise.kinds:  # 假一赔十, 双倍赔偿: only when the policy states that very multiple
        folded = _policy_terms(policy.text)[0]
        return span in folded and any(span not in clause for clause in policy.refused)
    return any(policy.allows(kind, when) is not None for kind in promise.kinds for when in reasons)


def _beyond_policy(
    span: str, promise: _Promise, policy: ParsedPolicy, reasons: tuple[Trigger, ...]
) -> Finding:
    customer_pays = next(
        (policy.customer_pays_shipping(w) for w in reasons if "shipping" in promise.kinds), None
    )
    if customer_pays is not None:
        message = (
            f"回复承诺了“{span}”（{promise.what}），但店铺售后政策写明“{customer_pays.source}”，运费由买家承担；"
            "请删除这一承诺，或先更新售后政策"
        )
    else:
        message = f"回复承诺了“{span}”（{promise.what}），但店铺售后政策没有这一项；请删除，或先更新售后政策"
    return Finding("promise_beyond_policy", "error", message, span)


def _amount_findings(
    reply: str, source: Source, start: int, end: int, allowed: frozenset[float]
) -> Iterator[Finding]:
    """Money amounts ("退款20元", "转100") the policy does not state; the review never licenses one."""
    for m in _MONEY.finditer(reply, start, end):
        value = _money_value(m)
        if value is None or value in allowed or _negated(reply, m.start()):
            continue
        span = source(m.start(), m.end())
        message = f"回复承诺了金额“{span}”，但店铺售后政策没有写明；请删除具体金额，或先更新售后政策"
        yield Finding("promise_beyond_policy", "error", message, span)


def _manipulation_findings(reply: str, source: Source) -> Iterator[Finding]:
    for m in _MANIPULATION.finditer(reply):
        if _NOT_ASKING.search(clause_before(reply, m.start())):
            continue
        span = source(m.start(), m.end())
        message = (
            f"回复要求顾客删除或修改评价（“{span}”），平台规则禁止以任何方式诱导删评、改评或好评返现；"
            "请删除这句话"
        )
        yield Finding("review_manipulation", "error", message, span)


def promise_findings(reply: str, source: Source, review: str, policy: ParsedPolicy) -> list[Finding]:
    """Review-manipulation requests, then promises and money amounts the policy does not license.

    `reply` and `review` are NFKC-folded and lower-cased; `source` maps a span of `reply` back to
    the original text.
    """
    findings: list[Finding] = list(_manipulation_findings(reply, source))
    review_reasons = reason_of(review)
    allowed_money = _policy_terms(policy.text)[1]
    for start, end in sentences(reply):
        reasons = _licensing(reason_of(reply[start:end]) or review_reasons or ("any",))
        hits = _promise_hits(reply, start, end)
        broken = [h for h in hits if not _licensed(policy, h.promise, reply[h.start : h.end], reasons)]
        findings.extend(_beyond_policy(source(h.start, h.end), h.promise, policy, reasons) for h in broken)
        if not broken:
            findings.extend(_amount_findings(reply, source, start, end, allowed_money))
    unique: dict[tuple[str, str], Finding] = {}
    for f in findings:
        unique.setdefault((f.code, f.span), f)
    return list(unique.values())
