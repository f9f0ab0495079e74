"""A shop's after-sales policy, parsed once into the remedies it allows.

The checks (nlp/promises.py) only let a draft promise what a remedy here licenses, and
/settings shows the parsed form so the merchant can confirm what was understood.
Parsing is rules-based and covers the clauses Taobao/JD/PDD shops actually write
(7天无理由退换货, 质量问题包邮退换, 退货运费买家承担, 破损补发, 拍照凭证, 定制商品不退换, ...)
and their English equivalents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal, TypeVar, get_args

from nlp.fold import fold
from nlp.types import Language

# shipping: the shop pays (return) shipping
RemedyKind = Literal[
    "return",
    "exchange",
    "resend",
    "refund",
    "refund_only",
    "repair",
    "compensation",
    "coupon",
    "gift",
    "cash",
    "shipping",
]
# "any": no reason needed (无理由)
Trigger = Literal["any", "quality", "damaged", "wrong_item", "missing", "late"]
Payer = Literal["shop", "customer", "unstated"]


@dataclass(frozen=True)
class Remedy:
    kind: RemedyKind
    when: Trigger = "any"
    days: int | None = None  # time limit, e.g. 7 for 7天无理由
    shipping: Payer = "unstated"  # who pays the return/exchange shipping under this remedy
    # conditions: "photo", "video", "batch_number", "unused", "tags", "receipt", ...
    requires: tuple[str, ...] = ()
    amount: str = ""  # a stated amount, e.g. "5元"
    source: str = ""  # the clause of the policy it was read from
    hours: int | None = None  # a time limit stated in hours ("送达后2小时内"), kept as stated


class InvalidPolicyJSON(ValueError):
    """A stored parsed policy that is not what `ParsedPolicy.to_json` writes."""


_T = TypeVar("_T", bound=str)


def _choice(value: object, options: tuple[_T, ...]) -> _T:
    for option in options:
        if value == option:
            return option
    raise ValueError(f"{value!r} is not one of {options}")


# Which reasons a remedy stated for `when` covers: a quality clause (质量问题包退) also covers
# damaged goods and wrong items, the shop's fault; "any" (无理由) covers every reason.
_COVERS: dict[Trigger, frozenset[Trigger]] = {
    "any": frozenset({"any", "quality", "damaged", "wrong_item", "missing", "late"}),
    "quality": frozenset({"quality", "damaged", "wrong_item"}),
    "damaged": frozenset({"damaged"}),
    "wrong_item": frozenset({"wrong_item"}),
    "missing": frozenset({"missing"}),
    "late": frozenset({"late"}),
}


@dataclass(frozen=True)
class ParsedPolicy:
    text: str
    remedies: tuple[Remedy, ...]
    refused: tuple[str, ...] = ()  # explicit refusals in the policy ("不支持仅退款", "定制商品不退换")

    def allows(self, kind: RemedyKind, when: Trigger = "any") -> Remedy | None:
        """The remedy that licenses `kind` for a customer with reason `when`, or None.

        "shipping" is licensed by a shipping remedy or by any remedy whose shipping the shop pays.
        """
        for r in self.remedies:
            fits = r.kind == kind or (kind == "shipping" and r.shipping == "shop")
            if fits and when in _COVERS[r.when]:
                return r
        return None

    def customer_pays_shipping(self, when: Trigger = "any") -> Remedy | None:
        """A remedy (for reason `when`) under which the policy makes the customer pay shipping."""
        for r in self.remedies:
            if r.shipping == "customer" and when in _COVERS[r.when]:
                return r
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the store keeps the form the merchant was shown)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParsedPolicy:
        """The inverse of `to_json`; `InvalidPolicyJSON` for anything else."""
        try:
            remedies = tuple(
                Remedy(
                    kind=_choice(r["kind"], get_args(RemedyKind)),
                    when=_choice(r["when"], get_args(Trigger)),
                    days=None if r["days"] is None else int(r["days"]),
                    shipping=_choice(r["shipping"], get_args(Payer)),
                    requires=tuple(str(x) for x in r["requires"]),
                    amount=str(r["amount"]),
                    source=str(r["source"]),
                    hours=None if r.get("hours") is None else int(r["hours"]),  # absent before hours
                )
                for r in data["remedies"]
            )
            return cls(str(data["text"]), remedies, tuple(str(x) for x in data["refused"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPolicyJSON(str(exc)) from exc

    def describe(self, lang: Language) -> str:
        """The parsed form, one line per remedy, for the merchant to confirm in /settings."""
        lines = [f"✅ {_describe(r, lang)}" for r in self.remedies]
        lines += [f"❌ {clause}" for clause in self.refused]
        if not lines:
            return "（没有读到具体的售后承诺）" if lang == "zh" else "(no after-sales remedies recognised)"
        return "\n".join(lines)


_KIND_NAMES: dict[RemedyKind, tuple[str, str]] = {
    "return": ("退货退款", "return for a refund"),
    "exchange": ("换货", "exchange"),
    "resend": ("补发", "resend"),
    "refund": ("退款", "refund"),
    "refund_only": ("仅退款（不退货）", "refund without return"),
    "repair": ("维修/保修", "repair/warranty"),
    "compensation": ("赔偿", "compensation"),
    "coupon": ("优惠券", "coupon"),
    "gift": ("赠品", "gift"),
    "cash": ("红包/返现", "cash/red packet"),
    "shipping": ("运费由店铺承担", "shop pays shipping"),
}
_TRIGGER_NAMES: dict[Trigger, tuple[str, str]] = {
    "any": ("无理由", "no reason needed"),
    "quality": ("质量问题", "quality problems"),
    "damaged": ("破损", "damaged goods"),
    "wrong_item": ("发错货", "wrong item"),
    "missing": ("少件/漏发", "missing items"),
    "late": ("延迟发货", "late shipping"),
}
_REQUIRE_NAMES: dict[str, tuple[str, str]] = {
    "photo": ("照片", "photos"),
    "video": ("视频", "video"),
    "batch_number": ("批号", "batch number"),
    "unused": ("未使用/不影响二次销售", "unused, resellable"),
    "tags": ("吊牌完好", "tags attached"),
    "receipt": ("凭证/发票", "receipt"),
}
_PAYER_NAMES: dict[Payer, tuple[str, str]] = {
    "shop": ("运费店铺承担", "shop pays shipping"),
    "customer": ("运费买家承担", "customer pays shipping"),
    "unstated": ("", ""),
}


def _describe(r: Remedy, lang: Language) -> str:
    i = 0 if lang == "zh" else 1
    head = _KIND_NAMES[r.kind][i]
    stated = r.when != "any" or any(w in r.source for w in ("无理由", "reason"))
    when = _TRIGGER_NAMES[r.when][i] if stated else ""
    if lang == "zh":
        days = f"{r.days}天" if r.days is not None else f"{r.hours}小时" if r.hours is not None else ""
        text = f"{days}{when}{head}" if r.when == "any" else f"{when}{days and days + '内'}{head}"
    else:
        days = (
            f" within {r.days} days"
            if r.days is not None
            else f" within {r.hours} hours"
            if r.hours is not None
            else ""
        )
        text = f"{head} ({when}){days}" if when else f"{head}{days}"
    notes = [_PAYER_NAMES[r.shipping][i]] if r.kind != "shipping" else []
    notes += [_REQUIRE_NAMES.get(req, (req, req))[i] for req in r.requires]
    if r.amount:
        notes.append(r.amount)
    notes = [n for n in notes if n]
    if notes:
        text += f"（{'，'.join(notes)}）" if lang == "zh" else f" ({', '.join(notes)})"
    return text


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

_CLAUSES = re.compile(r"[，,。；;！!？?\n]+|(?<![0-9])\.(?![0-9])")

_CN_DIGITS = dict(zip("一二三四五六七八九十", range(1, 11), strict=True)) | {"两": 2}
_DAYS = re.compile(r"([0-9]+|[一二两三四五六七八九十]{1,3})[\s-]*(天|日|小时|个月|days?|hours?|months?)")

_TRIGGERS: tuple[tuple[Trigger, re.Pattern[str]], ...] = (
    ("any", re.compile(r"无理由|no[- ]reason|any reason|without (?:giving a )?reason")),
    (
        "damaged",
        re.compile(r"破损|损坏|压坏|摔坏|碎|坏果|烂果|坏损|变质|腐烂|死亡|洒漏|洒了|damag|broken|crushed"),
    ),
    ("wrong_item", re.compile(r"错发|发错|漏错|错送|送错|wrong item|wrong (?:size|colou?r) sent")),
    ("missing", re.compile(r"少件|漏发|少发|缺件|缺少|少册|少送|漏送|missing")),
    ("late", re.compile(r"延迟发货|超时发货|晚发|未按时发货|late (?:shipping|delivery)")),
    ("quality", re.compile(r"(?<!非)质量|瑕疵|故障|非人为|(?<![a-z])(?:defect\w*|faulty|quality)")),
)

_KINDS: tuple[tuple[RemedyKind, re.Pattern[str]], ...] = (
    (
        "refund_only",
        re.compile(
            r"仅退款|只退款|无需退货|不用退货|无需寄回"
            r"|(?<![a-z])refund (?:only|without return)"
        ),
    ),
    ("return", re.compile(r"退换|退货|包退|可退|退回|(?<![a-z])returns?(?![a-z])")),
    (
        "exchange",
        re.compile(
            r"退换|换货|包换|只换|可换|换新|更换|调换|换码|换尺码|换号|(?<![a-z])(?:exchanges?|replace\w*)"
        ),
    ),
    ("resend", re.compile(r"补发|重发|补寄|补送|重新送|重送|再送一份|(?<![a-z])(?:resend|re-?ship)")),
    ("refund", re.compile(r"(?<!仅)(?<!只)退款|退钱|退还|(?<![a-z])(?:refund\w*|money back)")),
    ("repair", re.compile(r"维修|保修|质保|返修|(?<![a-z])(?:repair\w*|warranty)")),
    ("compensation", re.compile(r"赔|补偿|(?<![a-z])compensat\w*")),
    ("cash", re.compile(r"红包|返现|现金|(?<![a-z])cash")),
    ("coupon", re.compile(r"券|(?<![a-z])(?:coupons?|vouchers?)")),
    ("gift", re.compile(r"赠|礼品|小礼物|(?<![a-z])gifts?")),
)

_WHO_SHOP = r"(?:我们|我方|本店|店铺|商家|卖家|掌柜|我司|店家)"
_WHO_CUSTOMER = r"(?:买家|顾客|客户|您|亲|消费者|客人)"
_SHOP_PAYS = re.compile(
    r"包邮|免运费|运费险|(?<![a-z])free returns?(?![a-z])"
    r"|(?<![家客者人您亲])(?:承担|报销)(?:来回|往返|退货|退回|寄回|退换)?的?(?:运费|邮费)"
    rf"|(?:运费|邮费)(?:由)?{_WHO_SHOP}(?:来)?(?:承担|负责|出)|{_WHO_SHOP}(?:来)?(?:承担|负责|出)(?:来回)?(?:运费|邮费)"
    r"|(?<![a-z])(?:free (?:return )?shipping|we (?:pay|cover) (?:the )?(?:return )?shipping"
    r"|shipping (?:is )?on us)"
)
_CUSTOMER_PAYS = re.compile(
    rf"(?:运费|邮费)(?:由)?{_WHO_CUSTOMER}(?:自行)?(?:承担|负责|自理|出)|{_WHO_CUSTOMER}(?:需)?(?:自行)?(?:承担|负责|出)(?:来回)?(?:运费|邮费)"
    r"|自付运费|运费自理|邮费自理|自理运费|自付邮费|运费自付|邮费自付"
    r"|(?<![a-z])(?:(?:buyer|customer)s? (?:pays?|covers?)"
    r"|(?:at|on) (?:the )?(?:buyer|customer)'?s? (?:own )?(?:cost|expense))"
)
_REFUSAL = re.compile(
    r"不支持|不退|不换|不予|不接受|概不|恕不|不提供|不可退|不可换|不能退|不能换|无法退|不包邮|谢绝|拒绝"
    r"|(?<![a-z])(?:no (?:returns?|refunds?|exchanges?)|non-?returnable"
    r"|not (?:accepted|refundable|returnable)"
    r"|(?:do|does|can) ?not (?:accept|offer|support))"
)
_REQUIRES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("photo", re.compile(r"拍照|照片|图片|实拍|(?<![a-z])(?:photos?|pictures?)")),
    ("video", re.compile(r"视频|(?<![a-z])videos?")),
    ("batch_number", re.compile(r"批号|批次|(?<![a-z])batch")),
    (
        "unused",
        re.compile(
            r"未拆封|未使用|未穿着|未洗涤|未食用|二次销售"
            r"|(?<![a-z])(?:unused|unopened|unworn)"
        ),
    ),
    ("tags", re.compile(r"吊牌|标签|(?<![a-z])tags?(?![a-z])")),
    ("receipt", re.compile(r"发票|凭证|小票|(?<![a-z])receipts?")),
)
_AMOUNT = re.compile(
    r"假一赔[一二两三四五六七八九十\d]+|[一二两三四五六七八九十\d]+倍"
    r"|[¥$]\s*\d+(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:元|块|rmb|yuan)|[一二两三四五六七八九十百]+(?:元|块)"
)


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if "十" in token:
        tens, _, ones = token.partition("十")
        return _CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(token)


def _limit(clause: str) -> tuple[int | None, int | None]:
    """The clause's time limit as (days, hours): "7天" -> (7, None), "2小时" -> (None, 2)."""
    m = _DAYS.search(clause)
    if m is None:
        return None, None
    n = _number(m.group(1))
    if n is None:
        return None, None
    unit = m.group(2)
    if unit.startswith(("小时", "hour")):
        return None, n
    if unit.startswith(("个月", "month")):
        return n * 30, None
    return n, None


def _triggers(clause: str) -> list[Trigger]:
    """The reasons a clause names ("破损、漏发请拍照" names two), in the order of `_TRIGGERS`."""
    found = [trigger for trigger, pattern in _TRIGGERS if pattern.search(clause)]
    if "非人为" in clause and "damaged" in found:  # 非人为损坏: a defect, not damage in transit
        found.remove("damaged")
    return found


_OUTBOUND_ONLY = re.compile(r"全场|全国|下单|发货|满\d+")


def _payer(clause: str) -> Payer:
    if _CUSTOMER_PAYS.search(clause):
        return "customer"
    if _SHOP_PAYS.search(clause):
        return "shop"
    return "unstated"


def _kinds(clause: str) -> list[RemedyKind]:
    # "退货退款" is one remedy (return for a refund), not a return and a separate refund.
    kinds = [kind for kind, pattern in _KINDS if pattern.search(clause)]
    if "return" in kinds and "refund" in kinds:
        kinds.remove("refund")
    if "gift" in kinds and "运费险" in clause:  # 赠送运费险: shipping insurance, not a gift
        kinds.remove("gift")
    if "compensation" in kinds and "cash" in kinds and "红包" not in clause and "返现" not in clause:
        kinds.remove("cash")
    return kinds


@dataclass(frozen=True)
class _Preamble:
    """What a clause without a remedy says about the next one ("签收后48小时内", "如有破损")."""

    triggers: list[Trigger] = field(default_factory=list)
    requires: tuple[str, ...] = ()
    days: int | None = None
    hours: int | None = None


def parse_policy(text: str) -> ParsedPolicy:
    """Read the remedies (and refusals) a free-text policy states.

    Each clause (split at Chinese and English punctuation) is read on its own: its reason
    (无理由 / 质量问题 / 破损 ...), time limit, who pays shipping, conditions (照片, 未拆封 ...) and
    the remedies it names. A clause that refuses ("不支持仅退款", "定制商品不退换") licenses nothing
    and is kept in `refused`. A clause that only says who pays shipping ("运费买家承担") applies
    to the return/exchange remedies read before it.
    """
    folded = fold(text)
    remedies: list[Remedy] = []
    refused: list[str] = []
    last: list[Trigger] = ["any"]
    pending = _Preamble()
    for raw in _CLAUSES.split(folded):
        clause = raw.strip()
        if not clause:
            continue
        if _REFUSAL.search(clause) and not _payer_only(clause):
            refused.append(clause)
            continue
        stated = _triggers(clause)
        payer = _payer(clause)
        kinds = _kinds(clause)
        if payer == "shop" and not kinds and _OUTBOUND_ONLY.search(clause):
            continue  # 全场包邮: free delivery of the order, not of a return
        requires = tuple(name for name, pattern in _REQUIRES if pattern.search(clause))
        amount_m = _AMOUNT.search(clause)
        amount = amount_m.group(0) if amount_m else ""
        days, hours = _limit(clause)
        if "除外" in clause and stated and any(r.shipping == "customer" for r in remedies):
            # "退换运费买家自理，质量问题除外": for those reasons the shop pays
            remedies += [Remedy("shipping", when, None, "shop", (), "", clause) for when in stated]
            continue
        if not kinds and payer == "unstated" and (stated or not requires):
            # A preamble of the next clause: "签收后如有破损请在24小时内拍照联系客服，我们会为您补发"
            pending = _Preamble(
                stated or pending.triggers,
                pending.requires + requires,
                days or pending.days,
                hours or pending.hours,
            )
            continue
        own = set(stated)  # reasons this clause names itself (not from a preamble)
        stated = stated or pending.triggers
        requires = tuple(dict.fromkeys(pending.requires + requires))
        if days is None and hours is None:
            days, hours = pending.days, pending.hours
        pending = _Preamble()
        if not kinds or (payer == "customer" and set(kinds) <= {"return", "exchange", "refund"}):
            # A modifier of the clauses before: who pays, or what must be shown.
            # "退换运费买家自理" after a quality clause still speaks of the no-reason returns
            whens = stated or (list(dict.fromkeys(["any", *last])) if payer == "customer" else last)
            for when in whens:
                remedies = _modify(remedies, when, payer, requires, (days, hours), clause, when in own)
                if payer == "shop":
                    remedies.append(Remedy("shipping", when, days, "shop", requires, "", clause, hours))
                elif payer == "customer" and not any(r.kind in ("return", "exchange") for r in remedies):
                    stated_kinds: list[RemedyKind] = [k for k in kinds if k != "refund"] or ["return"]
                    for kind in stated_kinds:
                        remedies.append(Remedy(kind, when, days, "customer", requires, "", clause, hours))
            continue
        triggers: list[Trigger] = stated or ["any"]
        for when in triggers:
            for kind in kinds:
                remedies.append(Remedy(kind, when, days, payer, requires, amount, clause, hours))
            if payer == "shop":
                remedies.append(Remedy("shipping", when, days, "shop", (), "", clause, hours))
        last = triggers
    return ParsedPolicy(text, tuple(remedies), tuple(refused))


def _payer_only(clause: str) -> bool:
    """A clause about shipping costs ("退货运费买家承担", "非质量问题不包邮") rather than remedies."""
    return bool(_SHOP_PAYS.search(clause) or _CUSTOMER_PAYS.search(clause)) and "不包邮" not in clause


_MODIFIABLE = frozenset({"return", "exchange", "refund", "refund_only", "resend", "compensation"})


def _modify(
    remedies: list[Remedy],
    when: Trigger,
    payer: Payer,
    requires: tuple[str, ...],
    limit: tuple[int | None, int | None],
    clause: str,
    stated: bool = False,
) -> list[Remedy]:
    """Apply a modifier clause ("退货运费买家承担", "需拍照") to the remedies read before it."""
    out: list[Remedy] = []
    for r in remedies:
        if r.when == when and r.kind in _MODIFIABLE:
            # "退换运费买家自理": the customer pays for returns without a quality problem only; a
            # quality problem's shipping is the shop's unless the clause itself says so
            customer_ok = payer != "customer" or r.when == "any" or stated
            if (
                customer_ok
                and payer != "unstated"
                and r.shipping == "unstated"
                and r.kind in ("return", "exchange")
            ):
                r = replace(r, shipping=payer, source=f"{r.source}，{clause}")
            if requires:
                r = replace(r, requires=tuple(dict.fromkeys(r.requires + requires)))
            days, hours = limit
            if (days is not None or hours is not None) and r.days is None and r.hours is None:
                r = replace(r, days=days, hours=hours)
        out.append(r)
    return out


@lru_cache(maxsize=256)
def parsed(text: str) -> ParsedPolicy:
    """`parse_policy`, cached: the checks read the same shop's policy for every draft."""
    return parse_policy(text)
