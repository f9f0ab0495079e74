"""The composer: a reply rendered from a ReplyPlan with a phrase bank (the writer's safe floor).

Every reply it writes says only what the plan says: an apology or thanks that fits the review,
an acknowledgement that quotes the customer's own words ("关于您提到的“尺码偏小”…"), the
policy's remedy stated with its conditions (photos, batch number, N days, who pays shipping)
and never as a concession, polite refusals, a hand-over to a person when the plan escalates, and
the shop's own signature or none. `compose(plan, profile, policy, review, seed=...)` is
deterministic for a seed and varies across seeds. Before returning, it judges its own text and
falls back step by step to plainer sentences, so what it returns passes the checks and the judge.

The phrase bank was written for xiaoer; no sentence is taken from any dataset.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from nlp.checks import detect_language
from nlp.issues import listed
from nlp.judge import judge_reply, nameable, passes
from nlp.plan import ReplyPlan, aspect_name
from nlp.policy import ParsedPolicy, Remedy, RemedyKind, Trigger
from nlp.types import Language, ShopProfile, Tone
from nlp.understand import Ask, Point

MAX_QUOTE = 12  # characters of the customer's words a reply may quote; longer ones are not quoted
MAX_QUOTE_WORDS = 6  # the same for English
MAX_PRAISE_QUOTE = 8

Bank = dict[Tone, tuple[str, ...]]

# -- Chinese ---------------------------------------------------------------------------------

_ZH_SORRY: Bank = {
    "warm": ("亲，真的很抱歉让您失望了。", "亲，给您添麻烦了，实在抱歉。", "抱歉让亲有了不好的体验。"),
    "professional": ("您好，给您带来不便，非常抱歉。", "您好，很抱歉这次购物没能让您满意。"),
    "concise": ("抱歉给您添麻烦了。", "抱歉让您失望了。"),
    "apologetic": ("非常抱歉，这次让您失望了。", "真的非常抱歉给您带来困扰。", "十分抱歉，给您添了麻烦。"),
}
_ZH_THANKS: Bank = {
    "warm": ("谢谢亲的好评！", "谢谢亲的认可，太开心啦！", "谢谢亲的支持～"),
    "professional": ("感谢您的好评与认可。", "您好，感谢您的认可。"),
    "concise": ("谢谢好评！", "感谢认可！"),
    "apologetic": ("谢谢您的认可！", "感谢您的好评！"),
}
_ZH_NEUTRAL: Bank = {
    "warm": ("谢谢亲的反馈～", "亲，谢谢您认真写下评价。"),
    "professional": ("您好，感谢您的反馈。", "感谢您的评价。"),
    "concise": ("感谢反馈。", "谢谢您的评价。"),
    "apologetic": ("感谢您的反馈，没能让您完全满意，很抱歉。",),
}
_ZH_ACK_ONE = (
    "关于您提到的“{x}”，我们已经记下了。",
    "您说的“{x}”，我们很重视。",
    "“{x}”这个情况，我们会认真核实。",
)
_ZH_ACK_TWO = ("您提到的“{x}”和“{y}”，我们都记下了。", "关于“{x}”和“{y}”，我们都很重视。")
_ZH_ACK_ASPECT = ("您反映的{a}问题，我们已经记下了。", "关于{a}方面的问题，我们很重视。")
_ZH_ACK_GENERAL = ("您反映的问题，我们已经记下了。", "您说的情况，我们很重视。")
_ZH_ISSUE_ONE = (
    "您反映的{x}的问题，我们已经记下了。",
    "关于{x}的问题，我们很重视。",
    "{x}的情况给您添麻烦了，我们已经记下。",
)
_ZH_ISSUE_MANY = ("您反映的{x}等问题，我们都记下了。", "关于{x}这几点，我们都很重视。")
_ZH_ISSUE_MINOR = ("您提到的{x}，我们会认真改进。", "{x}这一点，我们会尽快改进。")
_ZH_MINOR_ASPECT = ("{a}方面的不足，我们会继续改进。",)
_ZH_PRAISE_ISSUES = ("您对{x}的肯定，对我们是很大的鼓励。", "很高兴{x}让您满意。")
_ZH_PRAISE_ONE = ("您提到的“{x}”，也是我们一直用心在做的。",)
_ZH_PRAISE_GENERAL = ("我们会继续用心做好每一个细节。", "您的支持是我们前进的动力。")
_ZH_PRAISE_ASPECT = ("{a}方面得到您的肯定，我们会继续保持。",)
_ZH_ESCALATE = (
    "您反映的情况我们非常重视，请您尽快联系客服，我们会安排专人处理。",
    "这件事我们会认真对待，麻烦您联系客服，由专人尽快跟进。",
)
# Raters read "看到您已经联系过客服" as invented where the review's "打了电话" meant something else:
# the follow-up asserts nothing about what happened.
_ZH_CONTACTED = (
    "如果问题还没有解决，请直接联系客服，我们会跟进到底。",
    "还没处理好的话，请随时联系客服，我们会负责跟进。",
)
_ZH_EXPLAIN_LOGISTICS = (
    "我们会和快递核实原因，需要查询进度可以随时找客服。",
    "我们会跟进物流情况，有需要可以随时联系客服。",
)
_ZH_EXPLAIN = ("我们会核实具体原因，有需要可以随时联系客服。",)
_ZH_IMPROVE = ("您的意见我们会反馈给相关同事，认真改进。", "我们会认真对待您的意见，持续改进。")
_ZH_NOTED = ("您的意见我们会认真参考。", "您的每条建议我们都会认真看。")
_ZH_POLICY_GENERIC = ("如需售后，请联系客服，我们会按店铺售后政策为您处理。",)
_ZH_CLOSE_SORRY: Bank = {
    "warm": ("希望还有机会为您服务～", "有任何问题随时找我们～"),
    "professional": ("感谢您的理解。", "感谢您的反馈。"),
    "concise": ("",),
    "apologetic": ("再次向您致歉。", "再次说声抱歉。"),
}
_ZH_CLOSE_THANKS: Bank = {
    "warm": ("欢迎常来逛逛～", "期待再次为您服务～"),
    "professional": ("期待再次为您服务。", "我们会继续保持。"),
    "concise": ("",),
    "apologetic": ("期待再次为您服务。",),
}
# A hotel's guest is not asked to 逛逛 or told about 每一单.
_ZH_CLOSE_STAY_SORRY: Bank = {
    "warm": ("希望下次入住能让您满意～",),
    "professional": ("感谢您的理解。",),
    "concise": ("",),
    "apologetic": ("再次向您致歉。",),
}
_ZH_CLOSE_STAY_THANKS: Bank = {
    "warm": ("期待您再次入住～", "欢迎您下次再来～"),
    "professional": ("期待您再次光临。",),
    "concise": ("",),
    "apologetic": ("期待您再次光临。",),
}
_ZH_CLOSE_NEUTRAL: Bank = {
    "warm": ("我们会做得更好～",),
    "professional": ("我们会持续改进。",),
    "concise": ("",),
    "apologetic": ("我们会继续改进。",),
}
_ZH_KIND: dict[RemedyKind, str] = {
    "return": "退货",
    "exchange": "换货",
    "resend": "补发",
    "refund": "退款",
    "refund_only": "仅退款",
    "repair": "维修",
    "compensation": "补偿",
    "coupon": "发放优惠券",
    "gift": "赠送小礼物",
    "cash": "发放红包",
    "shipping": "承担运费",
}
_ZH_CAUSE: dict[Trigger, str] = {
    "quality": "核实为质量问题后",
    "damaged": "核实破损情况后",
    "wrong_item": "核实发错后",
    "missing": "核实漏发后",
    "late": "核实后",
    "any": "",
}
_ZH_REQUIRES: dict[str, str] = {
    "photo": "照片",
    "video": "视频",
    "batch_number": "批号",
    "receipt": "凭证",
    "order_number": "订单号",
}
_ZH_STATE: dict[str, str] = {"unused": "商品未使用", "tags": "吊牌完好", "unopened": "未拆封"}
_ZH_REFUSE: dict[Ask, str] = {
    "compensation": "我们无法额外提供补偿",
    "price_diff": "差价我们暂时无法为您补",
    "free_order": "我们无法为您免单",
    "refund": "我们无法为您退款",
    "return": "这种情况无法为您退货",
    "exchange": "这种情况无法为您换货",
    "resend": "这种情况无法为您补发",
    "repair": "这种情况无法为您维修",
}

# -- English ---------------------------------------------------------------------------------

_EN_SORRY: Bank = {
    "warm": ("We're so sorry this let you down.", "Sorry for the trouble, and thank you for telling us."),
    "professional": ("We apologise for the inconvenience.", "We're sorry your order fell short."),
    "concise": ("Sorry about this.", "We're sorry."),
    "apologetic": ("We sincerely apologise for this.", "We're truly sorry for the trouble."),
}
_EN_THANKS: Bank = {
    "warm": ("Thank you so much for the lovely review!", "Thanks a lot for your kind words!"),
    "professional": ("Thank you for your positive review.", "Thank you for your kind feedback."),
    "concise": ("Thanks for the review!",),
    "apologetic": ("Thank you for your kind review.",),
}
_EN_NEUTRAL: Bank = {
    "warm": ("Thanks for taking the time to share this.",),
    "professional": ("Thank you for your feedback.",),
    "concise": ("Thanks for the feedback.",),
    "apologetic": ("Thank you for your feedback, and sorry it wasn't all you hoped.",),
}
_EN_ACK_ONE = ('About "{x}": we have noted it.', 'We hear you on "{x}".')
_EN_ACK_TWO = ('We have noted both "{x}" and "{y}".',)
_EN_ACK_ASPECT = ("We have noted the {a} issue you raised.",)
_EN_ACK_GENERAL = ("We have noted the problem you raised.",)
_EN_ISSUE_ONE = ("We're sorry about {x}, and we have noted it.", "We hear you on {x}.")
_EN_ISSUE_MANY = ("We have noted {x}.",)
_EN_ISSUE_MINOR = ("We'll work on {x}.", "Thanks for pointing out {x}; we'll improve it.")
_EN_MINOR_ASPECT = ("We'll keep improving the {a}.",)
_EN_PRAISE_ISSUES = ("We're glad you liked {x}.", "It means a lot that you enjoyed {x}.")
_EN_PRAISE_ONE = ('We\'re glad you found "{x}".', 'Hearing "{x}" means a lot to us.')
_EN_PRAISE_GENERAL = ("We'll keep putting care into every order.",)
_EN_PRAISE_ASPECT = ("We're glad the {a} worked for you.",)
_EN_ESCALATE = (
    "We take this very seriously: please contact customer service or the owner so a person can handle it.",
)
_EN_CONTACTED = ("If it hasn't been resolved yet, please contact customer service and we'll see it through.",)
_EN_EXPLAIN_LOGISTICS = (
    "We'll check with the courier; contact customer service any time for tracking help.",
)
_EN_EXPLAIN = ("We'll look into what happened; contact customer service any time.",)
_EN_IMPROVE = ("We'll pass this on to the team and keep improving.",)
_EN_NOTED = ("We'll take your feedback on board.",)
_EN_POLICY_GENERIC = (
    "For after-sales help, please contact customer service and we'll follow the shop policy.",
)
_EN_CLOSE_SORRY: Bank = {
    "warm": ("We hope to serve you better next time.",),
    "professional": ("Thank you for your understanding.",),
    "concise": ("",),
    "apologetic": ("Our apologies again.",),
}
_EN_CLOSE_THANKS: Bank = {
    "warm": ("Hope to see you again soon!",),
    "professional": ("We look forward to serving you again.",),
    "concise": ("",),
    "apologetic": ("We look forward to serving you again.",),
}
_EN_CLOSE_NEUTRAL: Bank = {
    t: ("We'll keep improving.",) for t in ("warm", "professional", "concise", "apologetic")
}
_EN_KIND: dict[RemedyKind, str] = {
    "return": "take the item back",
    "exchange": "exchange it",
    "resend": "send the missing or damaged item again",
    "refund": "refund you",
    "refund_only": "refund you without a return",
    "repair": "repair it",
    "compensation": "offer compensation",
    "coupon": "offer a coupon",
    "gift": "add a small gift",
    "cash": "offer cash back",
    "shipping": "cover the shipping",
}
_EN_CAUSE: dict[Trigger, str] = {
    "quality": "once we confirm a quality issue",
    "damaged": "once we confirm the damage",
    "wrong_item": "once we confirm the wrong item",
    "missing": "once we confirm what is missing",
    "late": "once we check",
    "any": "",
}
_EN_REQUIRES: dict[str, str] = {
    "photo": "a photo",
    "video": "a video",
    "batch_number": "the batch number",
    "receipt": "the receipt",
    "order_number": "the order number",
}
_EN_REFUSE: dict[Ask, str] = {
    "compensation": "we're unable to offer extra compensation",
    "price_diff": "we can't refund the price difference",
    "free_order": "we can't make the order free",
    "refund": "we can't refund this case",
    "return": "we can't take this case back",
    "exchange": "we can't exchange this case",
    "resend": "we can't resend this case",
    "repair": "we can't repair this case",
}


@dataclass(frozen=True)
class _Parts:
    """One reply's sentences, by role, so the composer can swap a failing one for a plainer one."""

    opening: str
    acknowledge: str
    body: str
    refusal: str
    closing: str


def compose(plan: ReplyPlan, profile: ShopProfile, policy: ParsedPolicy, review: str, seed: int = 0) -> str:
    """A reply that says what `plan` says, in the shop's voice; passes the checks and the judge."""
    rng = random.Random(seed)
    zh = plan.language == "zh"
    full = _Parts(
        opening=_opening(plan, rng),
        acknowledge=_acknowledge(plan, rng, quote=True),
        body=_body(plan, rng),
        refusal=_refusal(plan, after=bool(plan.acknowledge) or plan.remedy is not None),
        closing=_pick(rng, _closing_bank(plan, zh), plan.tone),
    )

    def ok(parts: _Parts) -> bool:
        text = render(parts, plan)
        return passes(judge_reply(text, review, plan, policy, profile))

    # Plainer and plainer versions, until one passes: the customer's words can carry 极限词 or
    # injected text, and a policy can word a remedy the checks do not recognise.
    steps: list[Callable[[_Parts], _Parts]] = [
        lambda p: p,
        lambda p: _with(p, acknowledge=_acknowledge(plan, random.Random(seed), quote=False)),
        lambda p: _with(p, body=_generic(plan)),
        lambda p: _with(p, refusal=""),
    ]
    parts = full
    for step in steps:
        parts = step(parts)
        if ok(parts):
            return render(parts, plan)
    return render(_with(parts, closing="", body=_generic(plan)), plan)


def render(parts: _Parts, plan: ReplyPlan) -> str:
    body = _join(plan, parts.opening, parts.acknowledge, parts.body, parts.refusal, parts.closing)
    return sign_off(body, plan.signature)


def _join(plan: ReplyPlan, *sentences: str) -> str:
    """Sentences of one reply: run together in Chinese, a space apart in English."""
    return ("" if plan.language == "zh" else " ").join(s for s in sentences if s)


def sign_off(reply: str, signature: str) -> str:
    """End a reply with the shop's own signature (or none), never one a model made up."""
    body = _SIGN_OFF.sub("", reply).rstrip()
    sig = signature.strip()
    if not body or not sig:
        return body
    return body + (sig if sig.startswith(("—", "-", "~", "～")) else "——" + sig)


# A closing "——店名 客服名" a model wrote itself: short, after the last sentence.
_SIGN_OFF = re.compile(r"\s*(?:——|—|--)[^。！？!?\n]{0,30}$")


def _with(parts: _Parts, **changes: str) -> _Parts:
    return _Parts(**{**parts.__dict__, **changes})


def _pick(rng: random.Random, bank: Bank, tone: Tone) -> str:
    return rng.choice(bank[tone])


def _apologises(plan: ReplyPlan) -> bool:
    """A reply apologises for a named complaint, or for any complaint of a review not read as
    neutral (an off-topic or lukewarm post with nothing recognisably wrong gets no apology)."""
    return not plan.thanks and bool(_named(plan, -1) or (plan.complaints and plan.label != "neutral"))


def _opening(plan: ReplyPlan, rng: random.Random) -> str:
    zh = plan.language == "zh"
    if _apologises(plan):
        return _pick(rng, _ZH_SORRY if zh else _EN_SORRY, plan.tone)
    if plan.thanks and plan.label == "positive":
        return _pick(rng, _ZH_THANKS if zh else _EN_THANKS, plan.tone)
    if plan.label == "negative":
        return _pick(rng, _ZH_SORRY if zh else _EN_SORRY, plan.tone)
    return _pick(rng, _ZH_NEUTRAL if zh else _EN_NEUTRAL, plan.tone)


def _closing_bank(plan: ReplyPlan, zh: bool) -> Bank:
    stay = zh and plan.domain == "stay"
    if plan.label == "negative" or _apologises(plan):
        return _ZH_CLOSE_STAY_SORRY if stay else _ZH_CLOSE_SORRY if zh else _EN_CLOSE_SORRY
    if plan.thanks and plan.label == "positive":
        return _ZH_CLOSE_STAY_THANKS if stay else _ZH_CLOSE_THANKS if zh else _EN_CLOSE_THANKS
    return _ZH_CLOSE_NEUTRAL if zh else _EN_CLOSE_NEUTRAL


def _quotable(p: Point, language: Language) -> str | None:
    span = p.span.strip().strip("，,。.!！?？~～ ").replace("“", "").replace("”", "").replace('"', "")
    span = _LEADING.sub("", span)
    if not span or detect_language(span) != language or not nameable(Point(None, p.polarity, span)):
        return None
    # A cut quote reads as sloppy, a quote of the customer's rating ("必须差评") or of their own
    # circumstances ("我头发是属于…") answers nothing: the reply names the aspect instead.
    if _UNQUOTABLE.search(span):
        return None
    if language == "en":
        return span if len(span.split()) <= MAX_QUOTE_WORDS else None
    return span if len(span) <= MAX_QUOTE else None


# Ratings, the customer's own circumstances, words aimed at the shop, and spans that say no fault.
_UNQUOTABLE = re.compile(
    r"差评|好评|中评|评价|评论|星|^我|你们|^不是|不错|没问题|[()（）\[\]*]|^(?:i|my)\b"
    # rhetorical questions ("怎么那么少"), feelings without the fault ("这次真令我失望"), asides
    # ("东西好坏暂时不说") and abuse are not repeated back in public
    r"|怎么|为什么|为啥|难道|凭什么|[吗嘛呢]$|失望|暂时不说|先不说|不说了"
    r"|屁|他[妈吗马]|妈的|尼玛|你妈|我靠|卧槽|操你|操蛋|[艹肏]|傻[逼比bB叉]|(?<![a-z])sb(?![a-z])|滚蛋|坑爹|骗子|垃圾",
    re.IGNORECASE,
)
# A complaint quoted must say what is wrong ("直接扔了", "损失没有多大" say what the customer did).
_FAULT_WORD = re.compile(
    r"差|烂|脏|吵|慢|坏|贵|少|小|旧|臭|难|失望|不好|不行|不能|没用|太|错|破|漏|问题|故障|出入|不符|不一样|假|凉|冷|硬"
    r"|松|紧|掉|裂|断|晚|久|不够|不足|没有|不给|不理|不回|一般|不上|不了|不开|不动|不出|不到"
)
# Leading conjunctions and list numbers are cut from a quote: "虽然不能支持MP3" is quoted as
# "不能支持MP3", "3电池续航不理想" as "电池续航不理想", "首先接客司机态度很差" as "接客司机态度很差".
_LEADING = re.compile(
    r"^(?:(?:\d{1,2}|[一二三四五六七八九十])[、.．:：)）]\s*|[①-⑩]\s*|第[一二三四五六七八九十\d]+[，,、：:]"
    # "3电池续航不理想": a bare list number, not a count ("3天就坏了", "2个小时")
    r"|[1-9](?![\d.天个次年月日号点小时分秒元块斤件双台岁周星折倍寸米度%人份盒瓶包张本遍层楼gGkKmM])\s*"
    r"|虽然|但是|但|不过|就是|只是|可是|而且|还有|另外|然后|结果|其实|首先|其次|接着|再者|最后|并且|况且)+"
)


def _named(plan: ReplyPlan, polarity: int) -> list[str]:
    return [i.name(plan.language) for i in plan.issues if i.polarity == polarity]


def _acknowledge(plan: ReplyPlan, rng: random.Random, *, quote: bool) -> str:
    zh = plan.language == "zh"
    bad, good = _named(plan, -1), _named(plan, 1)
    if plan.thanks:
        if good and quote:
            bank = _ZH_PRAISE_ISSUES if zh else _EN_PRAISE_ISSUES
            said = rng.choice(bank).format(x=listed(good, plan.language))
        else:
            said = _praise(plan, rng, quote=quote)
        return _join(plan, said, _minor_note(plan, rng, quote=quote))
    if bad and quote and (plan.complaints or plan.label == "negative"):
        many = len(bad) > 1
        issue_bank: tuple[str, ...] = (
            (_ZH_ISSUE_MANY if many else _ZH_ISSUE_ONE) if zh else (_EN_ISSUE_MANY if many else _EN_ISSUE_ONE)
        )
        return rng.choice(issue_bank).format(x=listed(bad, plan.language))
    return _complaint(plan, rng, quote=quote)


def _minor_note(plan: ReplyPlan, rng: random.Random, *, quote: bool) -> str:
    """A good review's small complaint, answered with the promise to improve ("" when it cannot be
    named well: a thank-you is not spoilt by a vague "您说的情况，我们很重视")."""
    zh = plan.language == "zh"
    if not plan.complaints or not quote:
        return ""
    bad = _named(plan, -1)
    if bad:
        said = rng.choice(_ZH_ISSUE_MINOR if zh else _EN_ISSUE_MINOR).format(x=listed(bad, plan.language))
        return said.replace("这一点", "这几点") if len(bad) > 1 else said
    # raters read quoted remarks of a good review as misattributed too often ("不够开放" was about
    # a rival's system): only a named issue or an aspect is answered
    named = next((p.aspect for p in plan.complaints if p.aspect is not None), None)
    if named is not None:
        return rng.choice(_ZH_MINOR_ASPECT if zh else _EN_MINOR_ASPECT).format(
            a=aspect_name(named, plan.language)
        )
    return ""


def _complaint(plan: ReplyPlan, rng: random.Random, *, quote: bool) -> str:
    """The plan's complaints in the customer's own (short) words, else by aspect; "" if none."""
    zh = plan.language == "zh"
    complaints = plan.complaints
    if not complaints:
        return ""
    quoted = [
        q
        for p in complaints
        if quote and (q := _quotable(p, plan.language)) and (not zh or _FAULT_WORD.search(q))
    ]
    if len(quoted) >= 2:
        return rng.choice(_ZH_ACK_TWO if zh else _EN_ACK_TWO).format(x=quoted[0], y=quoted[1])
    if quoted:
        return rng.choice(_ZH_ACK_ONE if zh else _EN_ACK_ONE).format(x=quoted[0])
    named = next((p.aspect for p in complaints if p.aspect is not None), None)
    if named is None:
        return rng.choice(_ZH_ACK_GENERAL if zh else _EN_ACK_GENERAL)
    return rng.choice(_ZH_ACK_ASPECT if zh else _EN_ACK_ASPECT).format(a=aspect_name(named, plan.language))


def _praise(plan: ReplyPlan, rng: random.Random, *, quote: bool) -> str:
    zh = plan.language == "zh"
    praise = tuple(p for p in plan.acknowledge if p.polarity > 0)
    # short praise only: "您提到的“用简单流畅的笔调”" reads as a misquote
    quoted = [
        q for p in praise if quote and (q := _quotable(p, plan.language)) and len(q) <= MAX_PRAISE_QUOTE
    ]
    if quoted:
        return rng.choice(_ZH_PRAISE_ONE if zh else _EN_PRAISE_ONE).format(x=quoted[0])
    named = next((p.aspect for p in praise if p.aspect is not None), None)
    if named is not None:
        return rng.choice(_ZH_PRAISE_ASPECT if zh else _EN_PRAISE_ASPECT).format(
            a=aspect_name(named, plan.language)
        )
    if plan.label != "positive":  # "您的支持是我们前进的动力" answers a lukewarm review wrongly
        return ""
    return rng.choice(_ZH_PRAISE_GENERAL if zh else _EN_PRAISE_GENERAL)


def _body(plan: ReplyPlan, rng: random.Random) -> str:
    zh = plan.language == "zh"
    if plan.escalate:
        return rng.choice(_ZH_ESCALATE if zh else _EN_ESCALATE)
    followup = rng.choice(_ZH_CONTACTED if zh else _EN_CONTACTED) if plan.contacted else ""
    if plan.remedy is not None:
        remedy = (_remedy_zh if zh else _remedy_en)(
            plan.remedy, plan.trigger or "any", plan.contacted, plan.alternatives
        )
        return _join(plan, remedy, followup)
    if followup:
        return followup
    if plan.defer:
        return (_ZH_POLICY_GENERIC if zh else _EN_POLICY_GENERIC)[0]
    if plan.explain:
        logistics = all(p.aspect == "logistics" for p in plan.complaints) and bool(plan.complaints)
        bank = (
            (_ZH_EXPLAIN_LOGISTICS if logistics else _ZH_EXPLAIN)
            if zh
            else (_EN_EXPLAIN_LOGISTICS if logistics else _EN_EXPLAIN)
        )
        return rng.choice(bank)
    if plan.complaints and not plan.thanks:
        return rng.choice(_ZH_IMPROVE if zh else _EN_IMPROVE)
    if not plan.thanks:
        return rng.choice(_ZH_NOTED if zh else _EN_NOTED)
    return ""


def _generic(plan: ReplyPlan) -> str:
    zh = plan.language == "zh"
    if plan.escalate:
        return (_ZH_ESCALATE if zh else _EN_ESCALATE)[0]
    if plan.remedy is not None:
        return (_ZH_POLICY_GENERIC if zh else _EN_POLICY_GENERIC)[0]
    if plan.complaints:
        return (_ZH_IMPROVE if zh else _EN_IMPROVE)[0]
    return ""


def _remedy_zh(r: Remedy, cause: Trigger, contacted: bool, also: tuple[RemedyKind, ...] = ()) -> str:
    """ "请把照片发给客服，核实为质量问题后可为您换货，来回运费由我们承担。" """
    proofs = "和".join(_ZH_REQUIRES[c] for c in r.requires if c in _ZH_REQUIRES)
    states = "、".join(_ZH_STATE[c] for c in r.requires if c in _ZH_STATE)
    within = f"签收{r.days}天内" if r.days else f"收到后{r.hours}小时内" if r.hours else ""
    amount = r.amount if r.kind in ("compensation", "cash", "coupon") else ""
    kinds = "或".join(_ZH_KIND[k] for k in (r.kind, *also))
    kind = kinds + amount
    if proofs:
        ask = f"如还没提供{proofs}，请在对话里补充" if contacted else f"{within}请把{proofs}发给客服"
    elif contacted:
        ask = within
    else:
        ask = f"{within}联系客服" if within else "请联系客服"
    if cause == "any":
        head = f"如需{kinds}" + (f"，在{states}的情况下" if states else "")
        middle = "即可办理" if ask == "" else ask + "即可办理"
        sentence = f"{head}，{middle}"
    else:
        condition = _ZH_CAUSE[cause] + (f"，且{states}" if states else "")
        sentence = "，".join(c for c in (ask, f"{condition}可为您{kind}") if c)
    shipping = {
        "shop": "，运费由我们承担"
        if r.kind in ("resend", "refund", "refund_only")
        else "，来回运费由我们承担",
        "customer": "，寄回运费需由您承担",
        "unstated": "",
    }[r.shipping]
    return sentence + shipping + "。"


def _remedy_en(r: Remedy, cause: Trigger, contacted: bool, also: tuple[RemedyKind, ...] = ()) -> str:
    """ "Please send a photo to customer service; once we confirm a quality issue, we can exchange it." """
    proofs = " and ".join(_EN_REQUIRES[c] for c in r.requires if c in _EN_REQUIRES)
    within = (
        f" within {r.days} days of delivery"
        if r.days
        else f" within {r.hours} hours of delivery"
        if r.hours
        else ""
    )
    if proofs:
        ask = (
            f"if you haven't yet, please add {proofs} in our chat"
            if contacted
            else (f"please send {proofs} to customer service{within}")
        )
    elif contacted:
        ask = within.strip()
    else:
        ask = f"please contact customer service{within}"
    amount = f" ({r.amount})" if r.amount and r.kind in ("compensation", "cash", "coupon") else ""
    kinds = " or ".join(_EN_KIND[k] for k in (r.kind, *also))
    action = "we can " + kinds + amount + (" if it is unused" if "unused" in r.requires else "")
    shipping = {
        "shop": ", and we'll cover the shipping",
        "customer": "; return shipping is paid by you",
        "unstated": "",
    }[r.shipping]
    sentence = "; ".join(c for c in (ask, ", ".join(c for c in (_EN_CAUSE[cause], action) if c)) if c)
    return sentence[0].upper() + sentence[1:] + shipping + "."


def _refusal(plan: ReplyPlan, *, after: bool) -> str:
    """Demands beyond the policy, each declined right where it is named ("我们无法额外提供补偿")."""
    if not plan.refuse:
        return ""
    if plan.language == "zh":
        said = "，".join(_ZH_REFUSE[a] for a in plan.refuse if a in _ZH_REFUSE)
        return f"{'另外，' if after else ''}{said}，还请您理解。" if said else ""
    said_en = " and ".join(_EN_REFUSE[a] for a in plan.refuse if a in _EN_REFUSE)
    return f"We're sorry, but {said_en}; thank you for understanding." if said_en else ""
