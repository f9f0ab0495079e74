"""Judge a candidate reply against its plan (step 4 of the safe-reply pipeline).

The checks (nlp/checks.py) catch what is wrong in any reply: promises beyond the policy, wrong
language, 极限词. The judge adds what is wrong for *this* review and plan, the failures a fluent
small model makes while passing every check:

* ``thanks_on_complaint``: praise-thanks or celebration on a complaint ("谢谢您的认可", "好开心");
* ``misses_complaint``: a complaint answered without naming any of its points;
* ``remedy_not_in_plan``: a remedy (退款, 补发, 赔偿 …) the plan does not offer for this complaint;
* ``novel_hazard``: events, hazards or advice the customer never mentioned ("起火", "关掉电表", "漆");
* ``missing_escalation``: a safety or threat case not handed to a person.

Rules only: every finding is an error and quotes the offending text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nlp.aspects import detect_aspects
from nlp.checks import check_reply
from nlp.fold import fold
from nlp.plan import ACCEPTS, ReplyPlan
from nlp.policy import ParsedPolicy, RemedyKind
from nlp.types import Finding, Severity, ShopProfile
from nlp.understand import Point

_PRAISE_THANKS = re.compile(
    r"(?:谢谢|感谢|多谢)(?:您|亲|你)?(?:的|对我们的)?(?:认可|好评|夸奖|称赞|赞美|喜欢|肯定|厚爱|五星|满分)"
    r"|(?:好|很|超|真|太|非常)开心|开心(?:啦|呀|极了)|很高兴(?:您|你|亲)(?:喜欢|满意)|(?:喜欢|满意)就好"
    r"|祝您?[^。！？!?]{0,8}(?:愉快|开心|快乐)"
    r"|(?<![a-z])(?:glad|happy|delighted) (?:you|to hear you) (?:like|liked|love|loved|enjoy|enjoyed)"
    r"|(?<![a-z])thank(?:s| you) for (?:the|your) (?:kind|lovely|positive|great|glowing|five-star) "
    r"|(?<![a-z])enjoy (?:it|your)"
)


# Remedy words a reply may use, by the remedy kinds that license them.
def _words(pattern: str, *kinds: RemedyKind) -> tuple[re.Pattern[str], frozenset[RemedyKind]]:
    return re.compile(pattern), frozenset(kinds)


_REMEDY_WORDS: tuple[tuple[re.Pattern[str], frozenset[RemedyKind]], ...] = (
    _words(r"退换|(?<![a-z])returns? or exchanges?", "return", "exchange"),
    _words(r"退款|退钱|退还|(?<![a-z])refund\w*|money back", "refund", "refund_only", "return"),
    _words(
        r"退货|退回(?!运费)|寄回(?!运费)|(?<![a-z])return (?:it|the)",
        "return",
        "refund",
        "exchange",
        "repair",
    ),
    _words(r"换货|更换|换新|换一|调换|(?<![a-z])(?:exchange|replace)\w*", "exchange", "resend"),
    _words(r"补发|重发|补寄|重新(?:给您)?发|(?<![a-z])(?:resend|send (?:you )?a new)", "resend", "exchange"),
    _words(r"维修|保修|(?<![a-z])repair\w*", "repair"),
    _words(r"赔|补偿|(?<![a-z])compensat\w*", "compensation"),
    _words(r"优惠券|代金券|无门槛券|(?<![a-z])(?:coupon|voucher)s?", "coupon"),
    _words(r"赠品|礼物|礼品|小样|(?<![a-z])(?:free )?gifts?", "gift"),
    _words(r"红包|返现|现金|(?<![a-z])cash", "cash"),
)
_NEGATED = re.compile(
    r"(?:不|无法|不能|没法|不会|不予|恕不|暂不|暂时无法|不支持|不提供|未能)[^，,。！？!?；;]{0,8}$"
    r"|(?<![a-z])(?:cannot|can't|unable to|won't|will not|don't|do not|not able to|no)\s+(?:[a-z]+\s+){0,3}$"
)
# Events, hazards and advice a reply must not bring up unless the customer did.
_HAZARDS = re.compile(
    r"起火|着火|失火|火灾|冒烟|爆炸|自燃|漏电|触电|电表|电闸|断电|跳闸|关掉|关闭电源|拔掉|拔下|燃气|煤气|天然气"
    r"|中毒|过敏|受伤|烫伤|烧伤|划伤|医院|就医|医生|报警|警察|消防|漆|化学|有毒|毒性|甲醛|致癌"
    r"|发霉|霉变|虫子|蟑螂|老鼠|腹泻|拉肚子|呕吐|工作|上班|加班|考试|生日|婚礼|孩子|老人|家人"
    r"|明前|特级|一级|头等|有机(?!会)|进口|原产地|手工|祖传|秘方"
    r"|(?<![a-z])(?:fire|smoke|explo\w+|electric shock|fuse box|meter|poison\w*|allerg\w+|injur\w+|hospital"
    r"|doctor|police|toxic|mou?ld|insects?|cockroach\w*|diarrh\w+|vomit\w*"
    r"|your (?:work|job)|birthday|wedding|kids?)(?![a-z])"
)
_SIBLINGS: frozenset[RemedyKind] = frozenset({"return", "exchange", "refund"})
_CONTACT = re.compile(
    r"联系(?:我们|客服|店主|店家|掌柜)|客服|店主|私信|(?<![a-z])(?:contact|message us|reach (?:out|us))"
)
# Characters too common to show, on their own, that a reply quotes a complaint.
_COMMON = frozenset("的了是很太有不我你他她它们也都就还又在和与及吧呢吗啊呀哦嘛个一这那么没点些好")


def judge_reply(
    text: str, review: str, plan: ReplyPlan, policy: ParsedPolicy, profile: ShopProfile
) -> list[Finding]:
    """The checks' findings on `text` plus every way it departs from `plan`."""
    return [*check_reply(text, review, profile), *plan_findings(text, review, plan, policy)]


def passes(findings: list[Finding]) -> bool:
    return not any(f.severity == "error" for f in findings)


def plan_findings(text: str, review: str, plan: ReplyPlan, policy: ParsedPolicy) -> list[Finding]:
    """Ways a reply departs from its plan (empty: it keeps to it)."""
    norm, source = fold(text), fold(review)
    return [
        *_thanks_findings(norm, plan),
        *_acknowledge_findings(norm, plan, policy.text),
        *_remedy_findings(norm, plan, policy),
        *_hazard_findings(norm, source),
        *_escalation_findings(norm, plan),
    ]


def _thanks_findings(norm: str, plan: ReplyPlan) -> Iterator[Finding]:
    if plan.thanks or not plan.complaints:
        return
    if m := _PRAISE_THANKS.search(norm):
        yield Finding(
            "thanks_on_complaint",
            "error",
            f"顾客在投诉，回复却在感谢或庆祝（“{m.group(0)}”）；请先道歉并回应问题",
            m.group(0),
        )


def nameable(p: Point, policy_text: str = "") -> bool:
    """Whether a reply can name this point: by its aspect, or by quoting words that pass the checks
    (a customer's "最差", "忽略以上要求" or "要求退款" cannot be repeated in a public reply)."""
    if p.aspect is not None:
        return True
    found = check_reply(p.span, p.span, ShopProfile(policy=policy_text))
    return not any(f.severity == "error" for f in found)


def acknowledges(norm: str, plan: ReplyPlan, policy_text: str = "") -> bool:
    """Whether the reply names one of the plan's complaints: its aspect, its words or two in a row."""
    complaints = tuple(p for p in plan.complaints if nameable(p, policy_text))
    if not complaints:
        return True
    if any(fold(i.name(plan.language)) in norm for i in plan.issues if i.polarity < 0):
        return True  # named in the shop's words ("隔音不好"), from the review's own complaint
    if {p.aspect for p in complaints} & set(detect_aspects(norm)):
        return True
    for p in complaints:
        span = fold(p.span)
        if span and span in norm:
            return True
        grams = {span[i : i + 2] for i in range(len(span) - 1)}
        if any(g in norm for g in grams if not set(g) <= _COMMON and not g.isascii()):
            return True
        words = {w for w in re.findall(r"[a-z]{4,}", span)}
        if words & set(re.findall(r"[a-z]{4,}", norm)):
            return True
    return False


def _acknowledge_findings(norm: str, plan: ReplyPlan, policy_text: str) -> Iterator[Finding]:
    if not acknowledges(norm, plan, policy_text):
        said = "、".join(f"“{p.span}”" for p in plan.complaints)
        # in a good review a small complaint may go unnamed; in a complaint it may not
        severity: Severity = "warning" if plan.thanks else "error"
        yield Finding("misses_complaint", severity, f"回复没有回应顾客提到的问题（{said}），请点名回应")


def allowed_kinds(plan: ReplyPlan, policy: ParsedPolicy) -> frozenset[RemedyKind]:
    """Remedy kinds a reply may offer: the plan's, plus the return/exchange/refund siblings the
    policy grants for the same cause ("退换" names two at once)."""
    if plan.remedy is None:
        return frozenset()
    kinds: set[RemedyKind] = {plan.remedy.kind, *plan.alternatives}
    if plan.trigger is not None and plan.remedy.kind in _SIBLINGS:
        accepted = ACCEPTS[plan.trigger]
        kinds |= {r.kind for r in policy.remedies if r.when in accepted and r.kind in _SIBLINGS}
    return frozenset(kinds)


def _remedy_findings(norm: str, plan: ReplyPlan, policy: ParsedPolicy) -> Iterator[Finding]:
    allowed = allowed_kinds(plan, policy)
    for pattern, kinds in _REMEDY_WORDS:
        for m in pattern.finditer(norm):
            if kinds & allowed or _NEGATED.search(_clause(norm, m.start())):
                continue
            yield Finding(
                "remedy_not_in_plan",
                "error",
                f"回复提到了“{m.group(0)}”，但按售后政策这条评价不适用；请删除，或改为政策内的办法",
                m.group(0),
            )
            break


def _clause(norm: str, start: int) -> str:
    cut = max(norm.rfind(c, 0, start) for c in "，,。！？!?；;")
    return norm[cut + 1 : start]


def _hazard_findings(norm: str, review: str) -> Iterator[Finding]:
    seen: set[str] = set()
    for m in _HAZARDS.finditer(norm):
        word = m.group(0)
        if word in review or word in seen:
            continue
        seen.add(word)
        yield Finding(
            "novel_hazard",
            "error",
            f"回复提到了顾客没说过的情况或建议“{word}”，可能是编造的；请删除",
            word,
        )


def _escalation_findings(norm: str, plan: ReplyPlan) -> Iterator[Finding]:
    if plan.escalate and not _CONTACT.search(norm):
        yield Finding(
            "missing_escalation", "error", "这条评价涉及安全或投诉，回复要请顾客联系客服/店主，由专人处理"
        )
