"""Plan a reply within the shop's policy (step 2 of the safe-reply pipeline).

`plan_reply(understanding, policy, profile, tone)` decides *what* a reply says before anything
writes it: which of the customer's points to acknowledge (complaints first), the one remedy the
policy offers for this complaint (and its conditions), which demands to decline politely, whether
a person must take over (safety, health, threats), and whether thanks are in order at all.
The composer (nlp/compose.py) renders a plan directly; the writer also gives it to chat models and
the judge (nlp/judge.py) holds every candidate to it. Rules only, synchronous and pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from nlp.issues import Issue, domain_of, issues, tagged_issues
from nlp.lexical import Combiner
from nlp.policy import ParsedPolicy, Remedy, RemedyKind, Trigger
from nlp.prompts import quote
from nlp.tagger import ClauseTag
from nlp.tags import Domain, goods_kind
from nlp.types import ASPECTS, LABELS, Label, Language, Sentiment, ShopProfile, Tone
from nlp.understand import Ask, Point, Understanding

MAX_ACKNOWLEDGED = 3

# What counts as a complaint's cause, read from the customer's own words (the point spans).
_DAMAGED = re.compile(
    r"压坏|压扁|压碎|摔坏|碎了|破损|破了|裂|瘪|变形|漏了|漏液|洒了|crushed|broken|cracked|dented"
)
_WRONG = re.compile(
    r"发错|错发|不是我(?:买|要|拍)的|颜色不对|型号不对|款式不对|发成了|wrong (?:item|size|colou?r)"
)
_MISSING = re.compile(r"少发|漏发|少了|少送|没给|缺了|没有配|少一|missing")
_QUALITY_ASPECTS = frozenset({"quality", "function", "authenticity", "packaging"})

# Each cause accepts remedies the policy grants for these triggers: a damaged parcel is covered
# by the policy's quality clause, a 无理由 ("any") return covers any cause but a missing item.
ACCEPTS: dict[Trigger, tuple[Trigger, ...]] = {
    "damaged": ("damaged", "quality", "any"),
    "wrong_item": ("wrong_item", "quality", "any"),
    "missing": ("missing",),
    "quality": ("quality", "any", "damaged"),  # 坏果 补发 answers a rotten apple too, last
    "late": ("late",),
    "any": ("any",),
}
# Remedies to prefer for each cause, most fitting first.
_PREFERRED: dict[Trigger, tuple[RemedyKind, ...]] = {
    "damaged": ("resend", "exchange", "refund", "return", "repair", "compensation"),
    "wrong_item": ("exchange", "resend", "return", "refund"),
    "missing": ("resend", "refund", "refund_only"),
    "quality": ("exchange", "return", "refund", "repair", "resend"),
    "late": ("compensation", "coupon", "refund"),
    "any": ("exchange", "return", "refund"),
}
# What a customer's ask means in remedy kinds.
_ASK_KINDS: dict[Ask, tuple[RemedyKind, ...]] = {
    "refund": ("refund", "refund_only", "return"),
    "return": ("return", "refund"),
    "exchange": ("exchange",),
    "resend": ("resend",),
    "repair": ("repair",),
    "compensation": ("compensation", "cash", "coupon"),
    "price_diff": (),
    "free_order": (),
}
_FAULTS: frozenset[Trigger] = frozenset({"quality", "damaged", "wrong_item", "missing"})
_STATES = frozenset({"tags", "unused", "unopened"})  # conditions on the item's state
_SPECIFIC: frozenset[Trigger | None] = frozenset({"damaged", "wrong_item", "missing"})
_PUT_RIGHT: frozenset[Ask] = frozenset({"refund", "return", "exchange", "resend", "repair"})
# Goodwill remedies are offered only where the policy names this very cause, never under 无理由.
_GOODWILL: frozenset[RemedyKind] = frozenset({"compensation", "coupon", "gift", "cash"})


@dataclass(frozen=True)
class ReplyPlan:
    label: Label
    acknowledge: tuple[Point, ...]  # at most 3, complaints first
    remedy: Remedy | None  # the remedy the policy offers for this complaint, with its conditions
    refuse: tuple[Ask, ...]  # demands beyond the policy, declined politely
    escalate: bool  # safety, health or threats: a person takes over
    tone: Tone
    signature: str
    language: Language
    thanks: bool  # praise may be thanked; a complaint never is
    trigger: Trigger | None = None  # the complaint's cause, when it has one a policy can cover
    contacted: bool = False  # the customer already talked to us: follow up, don't start over
    explain: bool = False  # offer to look into what happened (logistics, no remedy applies)
    issues: tuple[Issue, ...] = ()  # the review's complaints and praise named in the shop's words
    # No remedy applies, but the policy grants what the customer asked for under conditions this
    # review does not show: point to after-sales rather than promise or refuse it.
    defer: bool = False
    domain: Domain = "goods"  # the kind of shop (its closings and remedies differ)
    # Other remedies the same policy clause grants ("核实后补发或退款"): the customer may choose.
    alternatives: tuple[RemedyKind, ...] = ()

    @property
    def complaints(self) -> tuple[Point, ...]:
        return tuple(p for p in self.acknowledge if p.polarity < 0)

    def lines(self) -> list[str]:
        """The plan as short instructions for a chat model (Chinese, like the rest of the prompt)."""
        out = []
        points = "；".join(f"“{quote(p.span, 60)}”" for p in self.acknowledge)
        if points:
            out.append(f"回应顾客提到的：{points}")
        if self.complaints:
            out.append("先道歉，不要感谢好评，不要表达开心")
        elif self.thanks:
            out.append("具体地感谢顾客的认可")
        if self.contacted:
            out.append("顾客已联系过客服：说明会继续跟进，不要让顾客重新联系")
        if self.escalate:
            out.append("情况涉及安全或投诉：请顾客联系客服/店主，由专人处理，不要给出处理建议")
        elif self.remedy is not None:
            out.append(f"可提供的售后：{describe_remedy(self.remedy)}（作为条件说明，不要自认责任）")
        elif self.explain:
            out.append("不提供补偿，表示会核实原因")
        if self.refuse:
            out.append("婉拒政策外的要求：" + "、".join(ASK_ZH[a] for a in self.refuse))
        out.append("不编造顾客没说的事情，不提政策以外的补偿")
        return out


ASK_ZH: dict[Ask, str] = {
    "refund": "退款",
    "return": "退货",
    "exchange": "换货",
    "resend": "补发",
    "compensation": "赔偿",
    "explanation": "解释",
    "repair": "维修",
    "price_diff": "补差价",
    "free_order": "免单",
    "contact": "联系",
}
_KIND_ZH: dict[RemedyKind, str] = {
    "return": "退货",
    "exchange": "换货",
    "resend": "补发",
    "refund": "退款",
    "refund_only": "仅退款",
    "repair": "维修",
    "compensation": "补偿",
    "coupon": "优惠券",
    "gift": "赠品",
    "cash": "红包",
    "shipping": "运费",
}


def describe_remedy(r: Remedy) -> str:
    """One line for the prompt: kind, cause, time limit, conditions, who pays shipping."""
    parts = [_KIND_ZH[r.kind]]
    if r.when != "any":
        parts.append(f"限{r.when}")
    if r.days:
        parts.append(f"{r.days}天内")
    elif r.hours:
        parts.append(f"{r.hours}小时内")
    if r.requires:
        parts.append("需" + "、".join(r.requires))
    if r.shipping != "unstated":
        parts.append("运费" + ("店铺承担" if r.shipping == "shop" else "顾客承担"))
    if r.amount:
        parts.append(r.amount)
    return "，".join(parts)


def plan_reply(
    u: Understanding,
    policy: ParsedPolicy,
    profile: ShopProfile,
    tone: Tone,
    tags: Sequence[ClauseTag] | None = None,
) -> ReplyPlan:
    """What a reply to this review may and must say under this policy; `tags` are the clause
    tagger's answers for `u.clauses` (None: the issues come from the lexicon alone)."""
    complaints, praise = u.complaints, u.praise
    sarcastic = "sarcasm" in u.flags
    domain = domain_of(profile.category)
    kind = goods_kind(profile.category) if domain == "goods" else None
    if tags is None:
        found = tuple(issues(u.review, domain, kind))
    else:
        spans = [(c.start, c.end) for c in u.clauses]
        found = tuple(tagged_issues(u.review, domain, spans, tags, kind, praised=u.label == "positive"))
    # Sarcastic "praise" is a complaint in disguise: it is never acknowledged as praise.
    acknowledge = _dedupe((*complaints, *(() if sarcastic else praise)))[:MAX_ACKNOWLEDGED]
    # causes of the named complaints; a named damage, wrong or missing item says more than a
    # generic quality complaint
    # (with the tagger, its named complaints count even where the clause rules saw no complaint point)
    named = (
        [i.trigger for i in found if i.polarity < 0 and i.trigger is not None]
        if complaints or tags is not None
        else []
    )
    specific = next((t for t in named if t in _SPECIFIC), None)
    trigger = specific or complaint_trigger(complaints) or next(iter(named), None)
    thanks = _thanks(u, found, trigger if trigger in _SPECIFIC else None)
    if thanks and not u.asks and trigger in ("quality", "late"):
        # a thank-you offers no exchange for a vague gripe nobody asked to have put right (a
        # damaged, wrong or missing item, or a size that does not fit, is still put right)
        trigger = None
    remedy = choose_remedy(policy, trigger, u.asks) if trigger is not None else None
    if remedy is None and trigger is not None:
        # the first cause may be one the policy is silent on (a missing item) while another named
        # complaint is covered (坏果 补发或退款): that one is put right
        each = (complaint_trigger((p,)) for p in complaints)
        for other in dict.fromkeys(t for t in (*named, *each) if t is not None and t != trigger):
            if thanks and not u.asks and other in ("quality", "late"):
                continue
            if (found_remedy := choose_remedy(policy, other, u.asks)) is not None:
                trigger, remedy = other, found_remedy
                break
    wanted = _wanted_kinds(u.asks)
    refuse = tuple(
        a
        for a in u.asks
        if a in _ASK_KINDS
        and (remedy is None or remedy.kind not in _ASK_KINDS[a])
        and not _granted(a, remedy)
    )
    if remedy is None and wanted and trigger in (None, "any"):
        # The customer asked for something this cause doesn't earn; a 无理由 return may still apply.
        remedy = choose_remedy(policy, "any", u.asks)
        trigger = "any" if remedy is not None else trigger
        refuse = tuple(a for a in refuse if remedy is None or remedy.kind not in _ASK_KINDS[a])
    # Only a refusal the policy really makes is said: where it grants the ask for some cause
    # (坏果 补发或退款) and this review's cause is unclear, the reply points to after-sales.
    granted = tuple(a for a in refuse if any(r.kind in _ASK_KINDS[a] for r in policy.remedies))
    refuse = tuple(a for a in refuse if a not in granted)
    if (
        refuse
        and complaints
        and remedy is None
        and (trigger in _FAULTS or any(r.when in _FAULTS for r in policy.remedies))
    ):
        # A fault the policy names no remedy for (a missing item, the policy silent on it), or one
        # it answers (坏果 补发或退款) that this review's cause may turn out to be, is never met
        # with a public refusal of the return, exchange, resend or refund asked for: after-sales
        # looks at it. Goodwill beyond the policy (补偿, 差价, 免单) is still declined.
        granted = (*granted, *(a for a in refuse if a in _PUT_RIGHT))
        refuse = tuple(a for a in refuse if a not in _PUT_RIGHT)
    if domain == "stay":  # a guest writes after checking out: no goods remedy applies
        remedy, refuse, granted, trigger = None, (), (), None
    logistics_only = bool(complaints) and all(p.aspect == "logistics" for p in complaints)
    return ReplyPlan(
        label=u.label,
        acknowledge=acknowledge,
        remedy=remedy,
        refuse=refuse,
        escalate=bool({"safety", "threat"} & u.flags),
        tone=tone,
        signature=profile.signature.strip(),
        language=profile.language if profile.language != "auto" else u.language,
        thanks=thanks,
        trigger=trigger if remedy is not None else None,
        contacted="contacted" in u.flags,
        explain=remedy is None and (logistics_only or "explanation" in u.asks),
        issues=found,
        defer=bool(granted) and remedy is None,
        domain=domain,
        alternatives=_alternatives(policy, remedy),
    )


REPLY_NEUTRAL_MARGIN = 1.0  # how much more polar evidence counts against "neutral" in a reply


def reply_sentiment(s: Sentiment) -> Sentiment:
    """The sentiment a reply is planned from. A reply must thank or apologise, so a review the
    classifier calls neutral is answered by its lean unless its polar evidence is weak: its
    probabilities go once more through the classifier's own neutral adjustment (`Combiner`),
    the neutral odds lowered by exp(-REPLY_NEUTRAL_MARGIN x |log(p_positive / p_negative)|).
    (Raters read replies to reviews the three-label classifier called neutral as the worst: 8 of
    9 failed, mostly a lukewarm-but-leaning review answered in the wrong key.)"""
    if s.label != "neutral":
        return s
    probs = torch.tensor([[s.probs[label] for label in LABELS]])
    strict = Combiner(neutral_margin=REPLY_NEUTRAL_MARGIN).combine(probs, torch.zeros(1))[0]
    return s if strict[LABELS.index("neutral")] >= strict.max() else replace(s, label=s.lean)


def complaint_trigger(complaints: tuple[Point, ...]) -> Trigger | None:
    """The cause a policy could cover: damaged, wrong or missing item, quality, lateness, or none."""
    spans = " ".join(p.span for p in complaints).lower()
    aspects = {p.aspect for p in complaints}
    if _DAMAGED.search(spans):
        return "damaged"
    if _WRONG.search(spans):
        return "wrong_item"
    if _MISSING.search(spans):
        return "missing"
    if aspects & _QUALITY_ASPECTS:
        return "quality"
    if "size" in aspects:
        return "any"  # a wrong size is no defect: only a no-reason exchange/return covers it
    if aspects == {"logistics"}:
        return "late"
    return None


def choose_remedy(policy: ParsedPolicy, trigger: Trigger, asks: tuple[Ask, ...] = ()) -> Remedy | None:
    """The policy's remedy for a complaint with this cause: what the customer asked for when the
    policy grants it, else the most fitting one; shop-paid shipping carried over from its clause."""
    accepted = ACCEPTS[trigger]
    usable = [
        r
        for r in policy.remedies
        if r.when in accepted
        and r.kind != "shipping"
        and (r.kind not in _GOODWILL or r.when == trigger != "any")
    ]
    if not usable:
        return None
    order = [*_wanted_kinds(asks), *_PREFERRED[trigger]]

    def rank(r: Remedy) -> tuple[int, int]:
        kind_rank = order.index(r.kind) if r.kind in order else len(order)
        if trigger in _FAULTS:
            # a defect is put right under the policy's clause for it (质量问题包换，运费由我们承担),
            # not under 无理由 (退货运费买家承担), even when the customer asked for a return
            return accepted.index(r.when), kind_rank
        return kind_rank, accepted.index(r.when)

    best = min(usable, key=rank)
    if trigger in _FAULTS and best.when == "any":
        # a defect is the shop's to put right: 无理由's conditions (吊牌完好, 未拆封) do not apply
        best = replace(best, requires=tuple(c for c in best.requires if c not in _STATES))
    if best.shipping == "unstated":
        pays = [r for r in policy.remedies if r.kind == "shipping" and r.when in accepted]
        if pays:
            best = replace(best, shipping=pays[0].shipping if pays[0].shipping != "unstated" else "shop")
    return best


def _alternatives(policy: ParsedPolicy, remedy: Remedy | None) -> tuple[RemedyKind, ...]:
    if remedy is None:
        return ()
    kinds = [
        r.kind
        for r in policy.remedies
        if remedy.source
        and r.source == remedy.source
        and r.kind not in (remedy.kind, "shipping")
        and r.kind not in _GOODWILL
    ]
    return tuple(dict.fromkeys(kinds))


def _wanted_kinds(asks: tuple[Ask, ...]) -> list[RemedyKind]:
    return [k for a in asks for k in _ASK_KINDS.get(a, ())]


def _granted(ask: Ask, remedy: Remedy | None) -> bool:
    return remedy is not None and remedy.kind in _ASK_KINDS.get(ask, ())


def _thanks(u: Understanding, found: Sequence[Issue], specific: Trigger | None) -> bool:
    """A positive review is thanked; a negative or sarcastic one never. A mixed (neutral) one only
    where its praise outweighs its complaints and nothing came damaged, wrong or missing: raters
    read "很高兴服务让您满意" above three bad fruit and a missing one as not listening."""
    if "sarcasm" in u.flags or u.label == "negative":
        return False
    if u.label == "positive":
        return True
    bad = max(len(u.complaints), sum(i.polarity < 0 for i in found))
    good = max(len(u.praise), sum(i.polarity > 0 for i in found))
    return good > bad and specific is None


def _dedupe(points: tuple[Point, ...]) -> tuple[Point, ...]:
    seen: set[tuple[str | None, str]] = set()
    out = []
    for p in points:
        key = (p.aspect, p.span)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return tuple(out)


def aspect_name(aspect: str | None, language: Language) -> str:
    if aspect is None:
        return "这个问题" if language == "zh" else "this"
    return ASPECTS.get(aspect, aspect) if language == "zh" else aspect.replace("_", " ")
