"""Understand a customer review before anything replies to it (step 1 of the safe-reply pipeline).

`understand(review, sentiment)` splits a review into clauses, gives each a polarity, and pulls out
the customer's points in their own words, what they ask for (退款, 补发 ...), and flags a reply must
respect (a safety incident, a threat to complain, sarcasm, text aimed at the assistant ...).
Rules only: the classifier's results are passed in, nothing here calls a model.  Synchronous and
pure.

Matching runs over an NFKC-normalised, case-folded copy of the review whose offsets equal the
original's, so every `Point.span` is sliced from the review itself: a reply can quote it as
"关于您说的“尺码偏小”" without saying anything the customer did not say.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from nlp.aspects import aspect_spans
from nlp.checks import detect_language
from nlp.types import LABEL_POLARITY, Label, Language, Polarity, Sentiment

Ask = Literal[
    "refund",
    "return",
    "exchange",
    "resend",
    "compensation",
    "explanation",
    "repair",
    "price_diff",
    "free_order",
    "contact",
]  # what the customer asks for (差价 = price_diff, 免单 = free_order)
ASKS: tuple[Ask, ...] = get_args(Ask)
Flag = Literal["contacted", "left", "safety", "threat", "sarcasm", "followup", "injection", "misuse"]
FLAGS: tuple[Flag, ...] = get_args(Flag)

MAX_POINTS = 4
# Longest quote a reply may take from the review; English words need more characters.
MAX_SPAN = {"zh": 20, "en": 40}


@dataclass(frozen=True)
class Clause:
    text: str
    start: int
    end: int
    polarity: Polarity  # from the classifier's label when given, else lexical cues
    aspects: tuple[str, ...]  # keys of nlp.types.ASPECTS


@dataclass(frozen=True)
class Point:
    aspect: str | None  # ASPECTS key, or None for a concrete point with no known aspect
    polarity: Polarity
    span: str  # the customer's own words, verbatim from the review


@dataclass(frozen=True)
class Understanding:
    review: str
    label: Label  # overall, from the classifier's Sentiment
    clauses: tuple[Clause, ...]
    points: tuple[Point, ...]  # complaints first, then praise; at most MAX_POINTS
    asks: tuple[Ask, ...]  # in order of first mention
    flags: frozenset[Flag]
    language: Language

    @property
    def complaints(self) -> tuple[Point, ...]:
        return tuple(p for p in self.points if p.polarity < 0)

    @property
    def praise(self) -> tuple[Point, ...]:
        return tuple(p for p in self.points if p.polarity > 0)


def _normalise(text: str) -> str:
    """NFKC each character (full-width → ASCII) and lower-case it, keeping offsets aligned."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Clauses
# ---------------------------------------------------------------------------------------------

_HARD_STOP = re.compile(
    r"[，,。！!？?；;…\n\r~～]+"
    r"|\.(?=\s|$|[^\x00-\x7f])"  # a full stop, not a decimal point
    r"|(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])"  # spaces between Chinese words stand for commas
)
# Contrast words start a new clause (and make it the main point).  Guards keep 不但/但愿, 再好不过,
# 不过敏, 这就是/这可是 and 忙不过来 whole.
_CONTRAST = re.compile(
    r"(?<![不])但(?![愿凡])"
    r"|(?<![再只比信躲敌说打跑熬逃拗斗顶])(?<!再.)不过(?![来去瘾关意敏])"
    r"|(?<![这那我你他她它也都还又就真正可不要才便即总倒却算说像])(?:就是|可是|只是)"
    r"|可惜|然而"
    r"|(?<![a-z])(?:but|however)(?![a-z])"
)
# Where a long clause may be cut to find the part that carries its judgement.
_SOFT_STOP = re.compile(
    r"、+|(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])"
    r"|而且|并且|然后|结果|所以|因为|还有|另外|(?<![a-z])and(?![a-z])"
)


def _trimmed(norm: str, start: int, end: int) -> tuple[int, int]:
    while start < end and not norm[start].isalnum():
        start += 1
    while end > start and not norm[end - 1].isalnum():
        end -= 1
    return start, end


def _pieces(
    norm: str, start: int, end: int, stop: re.Pattern[str], *, keep_sep: bool
) -> list[tuple[int, int]]:
    """Split norm[start:end] at `stop`; with keep_sep the separator opens the next piece."""
    cuts = [start]
    for m in stop.finditer(norm, start, end):
        cuts.append(m.start())
        if not keep_sep:
            cuts.append(m.end())
    cuts.append(end)
    if keep_sep:
        bounds = list(itertools.pairwise(cuts))
    else:
        bounds = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    out = []
    for a, b in bounds:
        a, b = _trimmed(norm, a, b)
        if a < b:
            out.append((a, b))
    return out


def split_clauses(review: str) -> list[tuple[int, int]]:
    """(start, end) spans of the review's clauses, split on punctuation and contrast words.

    A contrast word (但/不过/就是/可是/however/but) opens the clause it introduces.  Spans are
    trimmed of punctuation, spaces and emoji; clauses without a letter or digit are dropped."""
    norm = _normalise(review)
    spans: list[tuple[int, int]] = []
    for a, b in _pieces(norm, 0, len(norm), _HARD_STOP, keep_sep=False):
        spans.extend(_pieces(norm, a, b, _CONTRAST, keep_sep=True))
    return spans


# ---------------------------------------------------------------------------------------------
# Polarity cues
# ---------------------------------------------------------------------------------------------


def _en(words: str) -> str:
    """English words that must not touch other Latin letters (``\\b`` fails next to CJK)."""
    return rf"(?<![a-z])(?:{words})(?![a-z])"


def _alt(*parts: str) -> str:
    return "|".join(parts)


_POSITIVE = _alt(
    r"好评|五星|满意|喜欢|不错|完美|超赞|点赞|赞|棒|给力|推荐|值得|划算|实惠|便宜|超值|物超所值|物美价廉",
    r"性价比(?:很|挺|超|非常)?高|好吃|好看|好用|好喝|好听|漂亮|美观|精致|舒服|舒适|干净|整洁|新鲜",
    r"正品|原装|结实|耐用|清晰|流畅|热情|耐心|周到|贴心|方便|快捷|及时|准时|迅速|神速|惊喜|优秀|专业",
    r"合适|合身|可口|美味|入味|甜|安静|宽敞|齐全|放心|靠谱|一流|到位|大气|可爱|细心|用心|负责|友好",
    r"精细|细致|颜色(?:很|挺|超)?正|礼貌|严实|牢固|温和|爱了|回购|还会再来|下次还|没得说|没话说|没的说|挺值|很值|好极了|棒极了|太好了",
    r"(?<=[很好真超挺])香|香喷喷",
    # 好 after a degree word or before a full stop; 好小/好假/好慢 use it as "very"
    r"(?<=[很挺真常别蛮都也较超最算当分太])好(?![多久几些像似看吃用听喝评])",
    r"(?<![很挺真常别蛮都也较超最算当分太])好(?=$|[了的啊呀哦呢吧，。！!？?,.;；\s~])",
    r"(?<![尽赶加])快(?![递件点些要坏到])",
    _en(
        r"good|great|excellent|love(?:d|ly)?|perfect|nice|fast|quick(?:ly)?|recommend(?:ed)?|happy"
        r"|satisfied|comfortable|clean|friendly|helpful|awesome|amazing|fantastic|beautiful|sturdy"
        r"|durable|fresh|delicious|works (?:great|well|perfectly|fine)|worth it|well made|on time"
    ),
)
_NEGATIVE = _alt(
    r"差评|差劲|(?<![出相误偏落时温视价])差(?!不多|价|点|距|异|别|旅|遣|额|些|一点就|钱)",
    r"(?<!好)不好|(?<!行)不行|不满意|不值|不推荐|不新鲜|不合适|不舒服|不干净|不咋地|不怎么样|不咋样|不如|不及",
    r"不够|不足|不符|不一致|不爽|(?<!能)不能|无法|没法|用不了|打不开|开不了|连不上|不对劲|不对|不全",
    r"不敢恭维|不耐烦|不给|不让|不理|不回|爱答不理",
    r"坏|烂|(?<![突打])破(?!费|解)|漏|裂|断了|碎|脏|臭|吵|(?<![依仍照怀])旧|(?<!慢)慢(?!慢)",
    r"(?<![宝珍富高华尊名权显])贵(?![州阳宾重族姓店司公])|(?<![放请休度寒暑])假(?![期日装])",
    r"坑|骗|忽悠|垃圾|失望|后悔|上当|无语|郁闷|生气|气死|恶心|难吃|难看|难用|难闻|难喝|糟糕|粗糙",
    r"劣质|次品|残次|瑕疵|划痕|色差|异味|刺鼻|掉色|褪色|起球|开线|问题|毛病|故障|死机|卡顿|闪退",
    r"发热|发烫|投诉|退货|退款|少了|漏发|发错|错发|缺少|没收到|迟迟|才到|才送到|才收到|等了|太久",
    r"晚了|晚到|延迟|凉了|冷了|油腻|腻|敷衍|冷淡|欺骗|奸商|黑心|太次|很次|遗憾|缺点|麻烦|折腾",
    r"虚假|虚有其名|名不副实|难符|污渍|发霉|霉|虫|头发|异物|过期|变质|过敏|拉肚子|疹|红肿|受伤",
    r"划伤|烫伤|起火|冒烟|漏电|爆炸|住院|医院|中毒|浪费|扔了|吃不下|崩溃|醉了|便宜没好货",
    r"偏大|偏小|偏紧|勉强|错了|送错|弄错|搞错|少给|少送|少发|融化|化了|溶|粘一起|粘在一起|糊了",
    r"焦了|没熟|夹生|堵塞|堵了|点不动|失灵|用过的|褶皱|冰凉|凉透|严重|可怕|失败|有待|占线|怪味",
    r"苦味|费解|吐了|吐出来|干瘪|黑店|抵制|亏了|被坑|怀疑|只有|陈旧|老旧|破旧|脱漆|掉皮",
    r"(?:太|很|较|有点|有些)老(?!板|师|人|家)|什么(?:质量|东西|服务|态度|玩意)",
    r"没(?:洗|擦|打扫|收拾|弄|做|搞|处理|煮|烧|修)(?:干净|好|熟|完)|没[\u4e00-\u9fff]{1,2}好",
    r"缩水|变形|起皱|走形",
    # wishes name what is missing: "希望下次能快一点", "能二选一就更好了"
    r"(?:就|会)更好了?|要是[^，,。！!？?]{0,12}就好了",
    r"(?:能|再|希望|要是|如果)[^，,。！!？?]{0,4}(?:快|好|便宜|大|多|新鲜|热|干净|及时)一?(?:点|些)",
    r"(?:太|偏|有点|有些)(?:大|松|辣|甜|油|硬|软)",
    r"(?:太|好|很|有点|有些|偏|这么|那么|比较)(?:小|少|紧|薄|咸|淡|酸|苦|贵|慢|吵)",
    _en(
        r"bad|poor(?:ly)?|terrible|awful|horrible|slow|broken|broke|defective|late|disappoint(?:ed|ing)"
        r"|worst|waste|dirty|rude|wrong|missing|damaged|scratched|leak(?:s|ed|ing)?|fake|overpriced"
        r"|expensive|noisy|smell(?:s|y)?|stopped working|doesn'?t work|not working|cheaply made"
        r"|too (?:small|big|tight|loose)|runs? (?:small|large|big)|never arrived|refund|useless|flimsy"
        r"|stale|cold|rash|allergic|injur(?:y|ed)|burn(?:ed|t)|hospital|sick"
    ),
)
# Lukewarm words: 一般 in a complaint is a mild complaint (MILD), 还可以 stays neutral (FAIR).
_MILD = r"一般般|一般|凑合|马马虎虎|中规中矩|普通|" + _en(r"average|so-so|mediocre")
_FAIR = r"还行|还可以|还好|过得去|尚可|说得过去|" + _en(r"ok|okay")
# A bare 没/没有 that negates no cue still reports something missing ("没有膜", "一直都没送货").
_LACK = r"(?<!有)没(?!有?(?:想到|事|关系|错|得说|话说|的说|之一|要求))有?"

_MILD_RE = re.compile(_MILD)
_CUES: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(_POSITIVE)),
    (-1, re.compile(_NEGATIVE)),
    (0, _MILD_RE),
    (0, re.compile(_FAIR)),
)
_LACK_RE = re.compile(_LACK)
# Words between a negator and what it negates ("不太好", "没那么快", "not very good").
_NEGATED_BEFORE = re.compile(
    r"(?:不|没|没有|不是|未|毫不|并非)(?:太|很|怎么|是很|够|算|那么|这么|大|是|特别|非常|会|能|是太|怎|咋)?$"
    r"|(?<![a-z])(?:not|n't|never|no|hardly|isn't|wasn't|aren't|weren't)(?:\s+\w+)?\s+$"
)
_QUESTION_FORM = re.compile(r"(?:会不会|是不是|有没有|能不能|要不要|好不好|可不可以)$")


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    polarity: Polarity
    mild: bool = False  # 一般, 凑合: neutral alone, a mild complaint in a complaint


# "没有久久鸭店里买的新鲜", "不如如家的好": a comparison the product loses.
_WORSE_THAN = re.compile(r"(?:没有?|不如|比不上|不及)[^，,。！!？?；;]{1,14}(?:的|那么|这么|那样|这样)$")


def _is_negated(norm: str, start: int, floor: int, polarity: int) -> bool:
    before = norm[max(floor, start - 20) : start]
    if polarity > 0 and _WORSE_THAN.search(before):
        return True
    return bool(_NEGATED_BEFORE.search(before[-12:])) and not _QUESTION_FORM.search(before)


def _cues(norm: str, start: int, end: int) -> list[_Cue]:
    """Polarity cues inside norm[start:end], longest match first, negation applied."""
    hits: list[tuple[int, int, int, bool]] = []
    for polarity, pattern in _CUES:
        mild = pattern is _MILD_RE
        matches = pattern.finditer(norm, start, end)
        hits.extend((m.start(), m.end(), polarity, mild) for m in matches if m.group())
    taken = [False] * (end - start)
    cues: list[_Cue] = []
    for a, b, polarity, mild in sorted(hits, key=lambda h: (h[0] - h[1], h[0])):
        if any(taken[a - start : b - start]):
            continue
        taken[a - start : b - start] = [True] * (b - a)
        flipped = -polarity if _is_negated(norm, a, start, polarity) else polarity
        cues.append(_Cue(a, b, 1 if flipped > 0 else -1 if flipped < 0 else 0, mild))
    for m in _LACK_RE.finditer(norm, start, end):
        if not any(taken[m.start() - start : m.end() - start + 4]):
            cues.append(_Cue(m.start(), m.end(), -1))
    return sorted(cues, key=lambda c: c.start)


_QUESTION_END = re.compile(r"(?:吗|么|嘛)$")


def _lexical_polarity(norm: str, start: int, end: int, *, complaint_context: bool) -> Polarity:
    """Sign of the clause's cues; praise inside a question ("好吃么？") is not praise."""
    cues = _cues(norm, start, end)
    if norm[end : end + 1] in ("?", "？") or _QUESTION_END.search(norm, start, end):
        cues = [c for c in cues if c.polarity <= 0]
    total = sum(c.polarity for c in cues)
    if total:
        return 1 if total > 0 else -1
    polar = [c for c in cues if c.polarity]
    if polar:  # a tie: Chinese puts the judgement last ("便宜但是不好用")
        return polar[-1].polarity
    if complaint_context and any(c.mild for c in cues):
        return -1
    return 0


# ---------------------------------------------------------------------------------------------
# Points
# ---------------------------------------------------------------------------------------------

_LEAD_FILLER = re.compile(
    "(?:(?:"
    + _alt(
        r"\d{1,2}\s*[、.)）]|\d{1,2}\s+|[一二三四五六七八九十]、|第[一二三四五六七八九十]+、",  # list markers
        r"追评|追加评论|补充点评|哎呀|哎|唉|啊|呃|嗯|额|真的|真是|说实话|说真的|老实说|总之|总的来说",
        r"反正|然后|而且|并且|还有|另外|但是|但|不过|就是|可是|只是|可惜|然而|尤其是|特别是|结果|所以",
        r"因为|感觉|觉得|我觉得|只能说",
        _en(r"and|but|however|though|also|so|the|it|my|i|was|is"),
    )
    + r")\s*)+"
)
_TAIL_FILLER = re.compile(r"(?:了吧|吧|啊|呀|呢|哦|哈+|啦|嘛|的说|呵呵|噢|咯)+$")
# What a point must say besides judging: "差评！" or "非常满意" give a reply nothing to quote.
_DEGREE = r"(?:太|很|挺|超|非常|特别|真|有点|比较|十分|好|极|超级|相当|实在|真的|真是)*"
_GENERIC = re.compile(
    _DEGREE
    + "(?:"
    + _alt(
        r"差评|好评|中评|五星|一星|失望|满意|推荐|垃圾|坑|无语|郁闷|后悔|恶心|不错|还好|一般|差劲|极差",
        r"糟糕|满分|赞|棒|给力|喜欢|醉了|呵呵|生气|气人|无敌|可以|行|失败|完美",
        r"(?:好|差|烂)(?=$|[了的啊吧呀!！。，,])",
    )
    + ")|"
    + _alt(
        r"我要|想要|不会再|再也不|下次|还会再?来|回购|不买了|哎|唉|我们?|你们|这家?|那|家|店|东西|商品",
        r"产品|宝贝|商家|卖家|京东|淘宝|这次|总体|整体|总的来说|还是|就|也|都|是|了|的|啊|吧|呀|个|次",
        r"还|会|再|来|定|订|点|要求|申请|什么|并|不然|否则",
        _en(r"good|great|bad|terrible|awful|love it|recommend(?:ed)?|very|so|it|is|was|this|i|want|a|the"),
        _en(r"not|at all|please|send|me|or|and|an|need|give|will|would|like"),
    )
)


def _strip_filler(norm: str, start: int, end: int) -> tuple[int, int]:
    for _ in range(3):
        start, end = _trimmed(norm, start, end)
        lead = _LEAD_FILLER.match(norm, start, end)
        if lead and lead.end() < end:
            start = lead.end()
        tail = _TAIL_FILLER.search(norm[start:end])
        if tail and start + tail.start() > start:
            end = start + tail.start()
    return _trimmed(norm, start, end)


def _is_generic(norm: str, start: int, end: int) -> bool:
    """True when the span only judges, asks or threatens ("太差了", "要求退款", "我要投诉")."""
    rest = norm[start:end]
    for pattern in (*(p for _, p in _ASK_RES), _THREAT_RE):
        rest = pattern.sub("", rest)
    asks_only = rest != norm[start:end] and not _cues(rest, 0, len(rest))  # "能不能给我免单"
    substance = sum(ch.isalnum() for ch in _GENERIC.sub("", rest))
    judges_only = substance < 2 or sum(ch.isalnum() for ch in rest) < 3
    return (asks_only or judges_only) and not aspect_spans(rest)  # "太贵" names an aspect


def _point_span(norm: str, clause: tuple[int, int], polarity: Polarity, limit: int) -> tuple[int, int]:
    """The clause without filler or, when that is too long, the piece of it carrying its judgement."""
    a, b = _strip_filler(norm, *clause)
    if b - a <= limit:
        return a, b
    cues = [c for c in _cues(norm, a, b) if c.polarity == polarity or (polarity < 0 and c.polarity == 0)]
    pieces = _pieces(norm, a, b, _SOFT_STOP, keep_sep=False) or [(a, b)]
    piece = pieces[0]
    if cues:
        piece = next((p for p in pieces if p[0] <= cues[0].start < p[1]), piece)
    a, b = _strip_filler(norm, *piece)
    if b - a <= limit:
        return a, b
    inside = [c for c in cues if a <= c.start and c.end <= b]
    if not inside:
        end = a + limit
        while end > a + 1 and norm[end - 1 : end + 1].isascii() and norm[end - 1 : end + 1].isalpha():
            end -= 1  # do not cut an English word in two
        return _strip_filler(norm, a, end)
    cue = inside[0]
    # keep the cue, most of the room before it (its subject), the rest after it (what is missing)
    start = max(a, cue.start - (limit - (cue.end - cue.start)) * 2 // 3)
    end = min(b, start + limit)
    head = re.search(r"[的是在把让说]|(?<=[a-z])\s", norm[start : start + 6])
    if start > a and head and start + head.end() <= cue.start:
        start += head.end()
    return _strip_filler(norm, start, end)


def _points(
    review: str, norm: str, clauses: Sequence[Clause], language: Language, *, sarcastic: bool
) -> tuple[Point, ...]:
    """Complaints first, then praise (none when the praise is sarcastic), one span per clause."""
    limit = MAX_SPAN[language]
    found: list[Point] = []
    for i, clause in enumerate(clauses):
        if clause.polarity == 0 or _INJECTION_RE.search(norm, clause.start, clause.end):
            continue  # text aimed at the assistant is no point of the customer's
        a, b = _point_span(norm, (clause.start, clause.end), clause.polarity, limit)
        joined = i and not norm[clauses[i - 1].end : clause.start].strip()
        if joined and clauses[i - 1].polarity == 0 and _is_generic(norm, a, b):
            # a contrast word cut "扬声器就是坏的" in two: the judgement needs its subject
            a, b = _point_span(norm, (clauses[i - 1].start, clause.end), clause.polarity, limit)
        if a >= b or _is_generic(norm, a, b):
            continue
        span = review[a:b]
        aspects = tuple(aspect_spans(span)) or clause.aspects
        point = Point(aspects[0] if aspects else None, clause.polarity, span)
        if all(p.span != point.span for p in found):
            found.append(point)
    complaints = _diverse([p for p in found if p.polarity < 0])
    praise = [] if sarcastic else _diverse([p for p in found if p.polarity > 0])
    keep = MAX_POINTS - min(len(praise), 1)
    chosen = complaints[:keep]
    return tuple(chosen + praise[: MAX_POINTS - len(chosen)])


def _diverse(points: list[Point]) -> list[Point]:
    """Text order, but the first point about each aspect before a second one about the same."""
    seen: set[str | None] = set()
    first: list[Point] = []
    rest: list[Point] = []
    for p in points:
        (rest if p.aspect is not None and p.aspect in seen else first).append(p)
        seen.add(p.aspect)
    return first + rest


# ---------------------------------------------------------------------------------------------
# Asks and flags
# ---------------------------------------------------------------------------------------------

_REQUEST = r"(?:要求|申请|希望|需要|想|要|能|可以|帮我|给我|请)[^，,。！!？?]{0,3}"
_ASK_PATTERNS: tuple[tuple[Ask, str], ...] = (
    (
        "refund",
        _alt(
            r"退款(?!(?:蛮|很|挺|还|也|倒是)?(?:快|及时|顺利|迅速))|退钱|退全款|返款|把钱退",
            _en(r"refund|money back"),
        ),
    ),
    (
        "return",
        _alt(
            r"退货(?!(?:也|太|很|真|实在)?麻烦)|(?<![钱款金])退回(?!来)|寄回(?!去?(?:修|厂|检测))|退掉|退换",
            r"(?<=[想要])退(?![款钱房差步出休])|申请退(?!款|钱|差)",
            _en(r"return (?:it|this|them|the)|send it back"),
        ),
    ),
    (
        "exchange",
        _alt(
            r"换货|换一个|换个新的?|换新|给我换|帮我换|换一(?:件|双|台|只|部|份|条|瓶|盒)",
            r"(?:要求|申请|希望|想|给我|帮我|能|可以|请)[^，,。！!？?]{0,3}(?:更换|调换)",
            _en(r"exchange|replacement|replace (?:it|this)"),
        ),
    ),
    ("resend", _alt(r"补发|重发|重新发|再发一", _en(r"resend|send (?:another|a new)|reship"))),
    (
        "compensation",
        _alt(
            # not one already made ("作为补偿", "已赔我了") nor a policy ("超时赔付")
            r"(?<!半价)(?<!超时)(?<!双倍)赔偿|(?<!作为)(?<!了)补偿(?!性)|(?<!已)赔我(?!了)",
            r"赔钱|索赔|(?<!超时)赔付",
            _en(r"compensat(?:e|ion)"),
        ),
    ),
    ("price_diff", _alt(r"差价|价保|保价", _en(r"price (?:difference|adjustment|match)"))),
    ("free_order", _alt(r"免单", _en(r"free of charge|comp(?:ed)? the (?:meal|order)"))),
    (
        "explanation",
        _alt(
            r"为什么(?!呢|这么说|[^？?]{0,10}因为)|为啥|怎么回事|给个解释|给个说法|给我一个?解释|解释一下|给个交代",
            _en(r"why|explain|explanation"),
        ),
    ),
    (
        "repair",
        _alt(
            _REQUEST + r"(?:维修|修理|修一下|修好)",
            r"返修(?![了过])|返厂(?![了过])|能修|修不好",
            _en(r"repair|fix (?:it|this)"),
        ),
    ),
    (
        "contact",
        _alt(
            r"联系我(?!说|们|了)|回电话?|回个电话|打电话给我(?!说)|给我回电|私信我|加我微信",
            _en(r"contact me|call me|call back"),
        ),
    ),
)
_ASK_RES = tuple((ask, re.compile(p)) for ask, p in _ASK_PATTERNS)
# "不用退了", "也不想退", "并没有要求补偿": the customer declines.  A refusal by the shop
# ("不给退款", "拒绝退货") leaves the ask standing, so it is tested first.
_REFUSED_BY_SHOP = re.compile(
    r"(?:不给|不让|不予|不肯|拒绝|不同意|不能|不可以|不支持|没给|不帮|还没|一直没|迟迟不|没有?"
    r"|(?:商家|卖家|店家|客服|老板|你们|店铺|他们)(?:也|都|就|还|一直|根本)?不)[我你]?(?:申请)?$"
)
_DECLINED = re.compile(
    r"(?:不用|不想|不要|不必|无需|没必要|不打算|懒得|不需要|不会|没有?要求|并没有?要求?|不是要|算了"
    r"|(?:我|就|也|都)不|别|不知道?是?|觉得|嫌|(?:不想|难得|懒得|不用)(?:再|去|自己|花钱|折腾|麻烦)*"
    r"|(?<![a-z])(?:no need to|don'?t want(?: to)?|not asking for|no|don'?t need(?: a| to)?)\s*)"
    r"(?:再|去|了|申请|要|想)?$"
)

_STOP_CHARS = r"[^，,。！!？?；;\n]"
_FLAG_PATTERNS: tuple[tuple[Flag, str], ...] = (
    (
        "contacted",
        _alt(
            r"(?:联系|找|问|咨询|打|call|给|跟|和|致电)了?(?:在线|官方|人工)?客服",
            r"客服(?:不理|不回|没回|没人|也不(?!错)|说|回复说|答应|让我|叫我|东拉西扯|推|敷衍|态度)",
            r"向?(?:服务台|前台|客服|商家|卖家|酒店|经理|售后)反[映应]|(?:问|找)了?(?:前台|经理|售后|经销商)",
            r"售后(?:说|人员说|让我|叫我)|打(?:了|过)?(?:电话|客服电话)(?:给|过去|问)",
            r"给(?:客服|商家|卖家|店家|售后)打(?:了)?电话|联系了?(?:商家|卖家|店家|老板)",
            r"问了?(?:商家|卖家|店家|老板)|(?:商家|卖家|店家)(?:不理|不回|说)",
            _en(r"contacted (?:the )?(?:seller|support|customer service|store)"),
            _en(r"called (?:the )?(?:store|support|seller)"),
        ),
    ),
    (
        "left",
        _alt(
            r"已退房|退房了|已经退房|已经走了|已经离开|已经离店|离店了|已经吃完",
            # someone else finishing is no reason to think the customer has
            r"(?<!人家)(?<!别人)(?<!同事)(?<!他们)(?<!她们)(?<!人家都)(?<!别人都)(?<!同事都)(?<!他们都)吃完了",
            _en(r"checked out|already left"),
        ),
    ),
    (
        "safety",
        _alt(
            r"过敏|起疹子?|起红疹|红疹|红肿|受伤|烫伤|烧伤|起火|着火|冒烟|漏电|触电|爆炸|炸裂|鼓包",
            r"变质|发霉(?!的?味)|长毛|异物|有虫|虫子|吃坏肚子|拉肚子|腹泻|呕吐|食物中毒|中毒|甲醛超标",
            r"吃(?:出|到)了?(?:头发|虫|苍蝇|蟑螂|钢丝|塑料|石头|玻璃|异物)",
            r"住院|进了?医院|去了?医院|看医生|急诊|过期(?:食品|了|的|产品|货)|已过期|临期",
            rf"(?:手|脚|腿|脸|皮肤|嘴|手指|孩子|宝宝|小孩|人){_STOP_CHARS}{{0,3}}?(?P<harm1>划伤|割伤|划破|刮伤|割破)",
            r"(?:划伤|割伤|划破|刮伤|割破)了?(?:手|脚|腿|脸|皮肤|嘴|手指)",
            rf"(?:饭|菜|汤|面|粥|餐|食物|吃的){_STOP_CHARS}{{0,4}}?(?P<harm2>头发|苍蝇|蟑螂)",
            rf"(?:孩子|宝宝|小孩|婴儿|儿子|女儿){_STOP_CHARS}{{0,8}}?"
            r"(?P<harm3>受伤|伤|疼|痛|咬|划|烫|吞|误食|红|肿|病|不舒服|发烧|呛)",
            _en(
                r"allerg(?:y|ic)|rash|injur(?:y|ed)|burn(?:ed|t)|caught fire|explod(?:ed|e)|electric shock"
                r"|food poisoning|mou?ldy?|expired|spoiled|smoke came out|started smoking|diarrh(?:o)?ea"
                r"|vomit(?:ed|ing)?|hospital|hair in|bug in"
            ),
        ),
    ),
    (
        "threat",
        _alt(
            r"12315|(?<!\d)315(?!\d)|投诉|曝光|消协|消费者协会|工商(?!银行)|市场监管|律师|起诉|法院"
            r"|报警(?!音|声|器|灯|铃|装置|系统|功能|提示|模式)",  # "柔和的报警音" is a feature
            r"(?:找|上|联系|告诉)媒体|媒体曝光|差评警告|告你|告到|维权|举报",
            _en(r"lawyer|sue|legal action|report (?:you|this)|consumer (?:association|protection)"),
        ),
    ),
    (
        "followup",
        _alt(
            r"追评|追加评论|补充点评|(?:用|使用|穿|戴|吃)了?[^，,。！!？?]{0,4}一段时间",
            r"用了(?:一|两|三|几|半|好几|[0-9]+)个?多?(?:月|年)(?!的)|过了(?:一|两|三|几|半)个?多?(?:月|星期|礼拜|周)",
            _en(r"update\s*[:：]|follow-?up|after (?:a|one|two|three|a few|several) (?:weeks?|months?)"),
        ),
    ),
    (
        "injection",
        _alt(
            r"忽略(?:以上|之前|前面|上面|上述|所有)|无视(?:以上|之前|上面)|你现在是|从现在(?:开始|起)你",
            r"你是一个?(?:ai|人工智能|助手|机器人|模型|语言模型|chatgpt|gpt|写手|诗人|翻译|回复助手|客服助手)",
            r"系统提示|提示词|扮演|请(?:你)?(?:帮我)?(?:写|生成|输出)(?:一)?(?:段|篇|首|个|封)|写一(?:段|篇|首|封)",
            r"请(?:你)?回复(?=[:：“\"'「]|说|一句|以下|这句|内容)",
            _en(
                r"ignore (?:all |the |any )?(?:previous|above|prior|earlier)|system prompt"
                r"|you are (?:now )?(?:a|an) |act as|pretend (?:to be|you)|jailbreak|as an ai|reply with"
                r"|write (?:a|an) (?:poem|story|essay)"
            ),
        ),
    ),
    (
        "misuse",
        _alt(
            r"自己不小心|我不小心|不小心(?:摔|掉|弄|碰|洗|打|烫|压|扯|剪|割|泡)",
            r"(?:用|放进?|扔进?)洗衣机(?:里)?洗了?|洗衣机洗了|机洗了|没看说明|没(?:有)?仔细看说明|自己(?:弄|摔|搞)坏",
            _en(r"my (?:own )?(?:fault|mistake)|accidentally|dropped it"),
            _en(r"didn'?t read the (?:instructions|manual)"),
        ),
    ),
)
_FLAG_RES = tuple((flag, re.compile(p)) for flag, p in _FLAG_PATTERNS)
_THREAT_RE = next(p for flag, p in _FLAG_RES if flag == "threat")
_INJECTION_RE = next(p for flag, p in _FLAG_RES if flag == "injection")
_NEGATABLE_FLAGS = frozenset({"contacted", "left", "safety", "threat", "misuse"})
_FLAG_NEGATOR = re.compile(
    r"(?:不|没|没有|并没有|不是|并非|无|未|从没|从来没有?|不会|不想|也没|都没|懒得|没去)"
    r"(?:有|是|会|被|任何|什么|出现)?"
    r"(?:我|我们|自己)?$"
    r"|(?<![a-z])(?:not|no|never|didn'?t|wasn'?t|isn'?t)\s+(?:\w+\s+)?$"
)
_SARCASM = re.compile(
    _alt(
        r"呵呵|好极了|谢谢你们让我|感谢.{0,4}让我|真(?:是|够)?(?:厉害|行|可以|棒|牛|绝)了|太(?:棒|好)了(?:吧|呢)",
        r"给你们点赞|真是谢谢|谢谢了您|(?:很|真|太)?牛逼(?:是么|啊|呀)",
        _en(r"thanks for nothing|just great|oh great|yeah right|great job"),
    )
)


def _clause_floor(norm: str, start: int) -> int:
    """Where the clause holding `start` begins (for look-behind that must not cross a comma)."""
    floor = 0
    for m in _HARD_STOP.finditer(norm, 0, start):
        floor = m.end()
    return floor


# "真不知道携程为什么会推荐": wondering aloud asks nobody for an explanation.
_MUSING = re.compile(r"不知道?[^，,。！!？?]{0,8}$")


def _asks(norm: str) -> tuple[Ask, ...]:
    hits: list[tuple[int, Ask]] = []
    for ask, pattern in _ASK_RES:
        for m in pattern.finditer(norm):
            before = norm[max(_clause_floor(norm, m.start()), m.start() - 16) : m.start()]
            if ask == "explanation" and _MUSING.search(before):
                continue
            if _REFUSED_BY_SHOP.search(before) or not _DECLINED.search(before):
                hits.append((m.start(), ask))
    ordered: list[Ask] = []
    for _, ask in sorted(hits):
        if ask not in ordered:
            ordered.append(ask)
    return tuple(ordered)


def _pattern_flags(norm: str) -> set[Flag]:
    flags: set[Flag] = set()
    for flag, pattern in _FLAG_RES:
        for m in pattern.finditer(norm):
            # "孩子没有受伤": the negator sits before the harm word, inside the match
            key = max((m.start(g) for g in pattern.groupindex if m.group(g)), default=m.start())
            before = norm[max(_clause_floor(norm, m.start()), key - 6) : key]
            negated = _FLAG_NEGATOR.search(before) and not _QUESTION_FORM.search(before)
            if flag in _NEGATABLE_FLAGS and negated:
                continue
            flags.add(flag)
            break
    return flags


def _sarcastic(norm: str, label: Label, clauses: Iterable[Clause], stars: int | None) -> bool:
    polarities = [c.polarity for c in clauses]
    clearly_negative = label == "negative" and 1 not in polarities
    clearly_positive = label == "positive" and -1 not in polarities and 1 in polarities
    if stars is not None and ((stars >= 4 and clearly_negative) or (stars <= 2 and clearly_positive)):
        return True
    return label == "negative" and bool(_SARCASM.search(norm))


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def understand(
    review: str,
    sentiment: Sentiment,
    *,
    clause_labels: Sequence[Label] | None = None,
    stars: int | None = None,
) -> Understanding:
    """What the review says, asks for and needs care with.

    `clause_labels` are the classifier's labels for the `split_clauses(review)` spans, in order;
    `stars` the rating the customer gave, when the platform shows one."""
    norm = _normalise(review)
    spans = split_clauses(review)
    if clause_labels is not None and len(clause_labels) != len(spans):
        raise ValueError(f"clause_labels has {len(clause_labels)} labels for {len(spans)} clauses")
    complaint_context = sentiment.label == "negative"
    clauses: list[Clause] = []
    for i, (a, b) in enumerate(spans):
        if clause_labels is not None:
            polarity = LABEL_POLARITY[clause_labels[i]]
        else:
            contrasted = bool(_CONTRAST.match(norm, a))  # "物流快，但质量一般"
            polarity = _lexical_polarity(norm, a, b, complaint_context=complaint_context or contrasted)
        clauses.append(Clause(review[a:b], a, b, polarity, tuple(aspect_spans(review[a:b]))))
    language = detect_language(review)
    flags = _pattern_flags(norm)
    sarcastic = _sarcastic(norm, sentiment.label, clauses, stars)
    if sarcastic:
        flags.add("sarcasm")
    return Understanding(
        review=review,
        label=sentiment.label,
        clauses=tuple(clauses),
        points=_points(review, norm, clauses, language, sarcastic=sarcastic and complaint_context),
        asks=_asks(norm),
        flags=frozenset(flags),
        language=language,
    )
