"""Rule-based aspect detection for customer reviews and replies.

`detect_aspects` names which `ASPECTS` (物流, 质量, 价格 ...) a text talks about, in order of first
mention; `aspect_spans` also returns the words that triggered each aspect.  Both work from a
curated lexicon of Chinese (and some English) review vocabulary: every entry is a small regular
expression so that it can carry the guards real review language needs ("服务器" is not service,
"快" alone is not logistics, "盒子破损" is packaging while "破损" alone is quality).

Matching is done over NFKC-normalised, case-folded text.  When terms of different aspects
overlap, the longest match wins ("快递盒" beats "快递", "压坏了" beats "坏了"); ties go to the
aspect listed first in the lexicon.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Frequent degree adverbs that sit between a topic word and its judgement ("发货很快").
_DEG = r"(?:很|太|挺|超|非常|特别|比较|有点|有些|十分|相当|真|好|蛮|贼|巨)?"
# One or more words that may sit between a container word and damage ("盒子都被压坏了").
_FILL = r"(?:都|也|有点|有些|全|已经|被|直接|完全)*"
_BOX = r"(?:外包装|包装盒|包装袋|包装|盒子|外盒|礼盒|箱子|纸箱|外箱|快递盒|快递箱|快递袋|袋子)"


def _en(words: str) -> str:
    """An English alternative that must not touch other Latin letters (``\\b`` fails next to CJK)."""
    return rf"(?<![a-z])(?:{words})(?![a-z])"


# aspect -> regular expressions (matched case-insensitively).  Order of aspects = tie priority.
_LEXICON: dict[str, tuple[str, ...]] = {
    "packaging": (
        rf"{_BOX}{_FILL}(?:破损|破了|破掉了?|烂了|坏了|瘪了|压坏了?|压扁了?|压变形了?|变形了?|开了|漏了)",
        r"外包装",
        r"包装(?!费)",
        r"盒子",
        r"外盒",
        r"礼盒",
        r"箱子",
        r"纸箱",
        r"外箱",
        r"快递(?:盒|箱|袋)",
        r"气泡膜|泡沫(?:垫|箱|纸)?|防震|塑封|封口",
        r"压坏了?|压扁了?|压变形了?|挤坏了?|漏液",
        r"包(?:得|的|装得)" + _DEG + r"(?:严实|结实|仔细|用心|好|牢固|简陋|随意|敷衍)",
        _en(r"packag(?:ing|ed)"),
        _en(r"box(?:es)?"),
        _en(r"(?:crushed|dented)"),
        _en(r"bubble wrap|wrapping"),
    ),
    "logistics": (
        r"物流",
        r"快递(?!盒|箱|袋)",
        r"发货",
        r"送货",
        r"到货",
        r"配送",
        r"派送|派件|揽收|揽件|签收",
        r"送达",
        r"顺丰|中通|圆通|申通|韵达|极兔|邮政|(?<![a-z])ems(?![a-z])|京东快递|德邦",
        r"快递员|快递小哥|外卖小哥|骑手|送餐",
        r"外卖(?:送|小哥|员|到)",
        r"运费(?!险)",
        r"(?:发货|物流|快递|配送|送货|到货)速度",
        r"送(?:得|的)?" + _DEG + r"(?:快|慢|及时|准时)",
        r"到(?:得|的)" + _DEG + r"(?:快|慢|及时)",
        r"(?:第二天|隔天|次日|当天|两天|三天|一周|一个星期)(?:就|才)?(?:到|送到|收到|送达)了?",
        r"(?:很|挺|超|非常|特别|比较|这么|那么)(?:快|慢)(?:就|才)(?:到|收到|送到|送达)了?",
        r"次日达|当日达|才到货?|还没(?:到货?|发货|收到)|没收到货?|迟迟(?:不|没)(?:发|到)",
        _en(r"deliver(?:y|ed|ies)?"),
        _en(r"ship(?:ping|ped|ment)"),
        _en(r"courier|tracking"),
        _en(r"arriv(?:ed|al)"),
    ),
    "quality": (
        r"质量",
        r"品质",
        r"做工",
        r"材质|材料|用料|面料",
        r"掉色|褪色|染色",
        r"开线|脱线|跳线|线头",
        r"起球|掉毛|起毛",
        r"(?<![压挤])坏了|坏掉了?|损坏",
        r"破损|破洞|破了",
        r"瑕疵|划痕|刮花|毛刺",
        r"异味|刺鼻|甲醛",
        r"粗糙|劣质|次品|残次品?",
        r"(?:不)?结实|(?:不)?耐用|耐穿|耐磨",
        r"质感",
        r"裂了|裂开|开裂|断了|生锈|掉漆|漏水|漏气",
        _en(r"quality"),
        _en(r"broken|broke|defective|flimsy|sturdy|durable"),
        _en(r"(?:well|cheaply|poorly) made"),
        _en(r"(?:feels|looks) cheap"),
        _en(r"stitching|material|fell apart"),
    ),
    "price": (
        r"价格|价钱|价位|单价|原价|差价|降价|涨价|价保|保价|低价|特价",
        r"性价比",
        r"便宜",
        r"(?<![宝珍富高华尊名权显])贵(?![州阳宾重族姓店司公])",
        r"划算|合算|实惠|省钱|白菜价",
        r"优惠|打折|折扣|满减",
        r"物超所值|物有所值|超值|不值|值这个价|值这价",
        _en(r"price[ds]?|pricey|expensive|cheap|affordable|overpriced|bargain"),
        _en(r"value for money|worth (?:the|every) (?:money|penny|price)"),
    ),
    "service": (
        r"客服",
        r"服务(?!器|区|端|号|商|费|站|网|热线)",
        r"态度",
        r"售后",
        r"退货|退款|换货|退换|退钱",
        r"前台|服务员|店员|导购|工作人员",
        r"回复" + _DEG + r"(?:快|慢|及时)|不回(?:复|消息)|不理人|爱答不理|不搭理",
        r"耐心|热情|解答|沟通",
        r"处理(?:得|的)?" + _DEG + r"(?:及时|快|慢)",
        r"投诉",
        r"(?:店家|卖家|商家|老板|掌柜)" + _DEG + r"(?:人|态度)?" + _DEG + r"(?:好|nice|热情|耐心|负责)",
        _en(r"customer service|service|support"),
        _en(r"seller|staff|rude|helpful|responsive"),
        _en(r"refund(?:s|ed)?|return(?:ed|s|ing)?"),
    ),
    "appearance": (
        r"外观|外形|外表",
        r"颜色|配色|色差|色泽|花色|光泽",
        r"样子|款式|造型|图案",
        r"好看|难看|(?<!出)丑",
        r"颜值",
        r"漂亮|美观|精致|可爱|大气(?!压)|时尚|洋气|高级感|设计感",
        r"(?:与|和|跟)(?:图片|图|照片)(?:不符|不一样|一样|一致)",
        _en(r"appearance|colou?rs?|design|beautiful|ugly|stylish|gorgeous"),
        _en(r"looks? (?:great|good|nice|beautiful|amazing|cute|stylish|ugly|bad|awful)"),
        _en(r"pretty(?! (?:good|much|well|fast|quick|slow|bad|sure|happy))"),
    ),
    "function": (
        r"功能",
        r"效果",
        r"(?:不)?好用|难用|实用",
        r"续航|电池|电量|充电|待机",
        r"声音|音质|音效|噪音|噪声|静音",
        r"信号",
        r"运行|性能",
        r"卡顿|卡死|(?:很|太|有点|有些)卡|死机|闪退",
        r"灵敏|反应" + _DEG + r"(?:快|慢|迟钝)",
        r"吸力|制冷|制热|加热|保温|清洁力|去污",
        r"操作|使用(?:起来|体验|感)",
        r"画质|像素|拍照|屏幕|蓝牙|防水",
        _en(r"function(?:s|ality)?|performance"),
        _en(r"works?(?: (?:great|well|perfectly|fine))?|stopped working|doesn'?t work"),
        _en(r"battery|sound|signal|lag(?:gy|s)?|charging|useless|effective"),
    ),
    "authenticity": (
        r"正品|真品|真货|保真",
        r"假货|假的|假冒|是假",
        r"山寨|高仿|仿品|仿冒|仿制|(?<![a-z])a货",
        r"专柜",
        r"防伪",
        r"验货|鉴定",
        r"原装|正版|盗版|官方授权|水货|翻新|二手",
        _en(r"authentic|genuine|fake|counterfeit|knock-?off"),
    ),
    "size": (
        r"尺码|尺寸|码数|码子|正码|标准码",
        r"大小(?!姐|便)",
        r"偏大|偏小|合身",
        r"(?:大|小)一(?:码|号)",
        r"(?<![a-z])(?:[sml]|x{1,3}l)码|\d{2}码",
        r"版型|宽松|修身|紧身",
        r"腰围|胸围|臀围|肩宽|袖长|衣长|裤长",
        r"身高|体重|\d+斤穿",
        r"(?:衣服|裤子|鞋子?|帽子|穿着|穿起来|上身|上脚)" + _DEG + r"(?:合适|刚好|正好|大|小|紧|松)",
        r"买(?:大|小)了",
        _en(r"size[ds]?|fits?|too (?:small|big|large|tight|loose)|runs (?:small|large|big)"),
    ),
    "taste": (
        r"味道|口味|口感|风味",
        r"好吃|难吃|美味|可口|入味|嚼劲",
        r"(?:很|好|超|真|特别|非常|挺|不|太|有点)香|香喷喷|香味|香甜|香脆|清香",
        r"(?:很|太|偏|有点|有些|好|超|略|稍|不)(?:咸|淡|辣|甜|酸|苦|腻)",
        r"咸淡|麻辣|香辣|甜度|辣度|甜而不腻",
        r"(?<!不)新鲜(?!感)|不新鲜|鲜美",
        r"腥|油腻",
        _en(r"tast(?:e|es|y|ed)|flavou?rs?|delicious|salty|spicy|bland|stale"),
        _en(r"fresh"),
    ),
}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (aspect, re.compile(term, re.IGNORECASE)) for aspect, terms in _LEXICON.items() for term in terms
)


@dataclass(frozen=True)
class _Hit:
    aspect: str
    start: int
    end: int
    priority: int


def _normalise(text: str) -> str:
    """NFKC each character (full-width → ASCII) and lower-case it, keeping offsets aligned."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


def _candidates(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for priority, (aspect, pattern) in enumerate(_PATTERNS):
        hits.extend(
            _Hit(aspect, m.start(), m.end(), priority) for m in pattern.finditer(text) if m.end() > m.start()
        )
    return hits


def _resolve_overlaps(hits: list[_Hit], length: int) -> list[_Hit]:
    """Keep the longest non-overlapping hits, returned in text order."""
    taken = [False] * length
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start, h.priority)):
        if any(taken[hit.start : hit.end]):
            continue
        for i in range(hit.start, hit.end):
            taken[i] = True
        kept.append(hit)
    return sorted(kept, key=lambda h: h.start)


def aspect_spans(text: str) -> dict[str, list[str]]:
    """Map each aspect the text mentions to the distinct terms that matched, in order of first mention."""
    norm = _normalise(text)
    spans: dict[str, list[str]] = {}
    for hit in _resolve_overlaps(_candidates(norm), len(norm)):
        term = text[hit.start : hit.end]
        terms = spans.setdefault(hit.aspect, [])
        if term not in terms:
            terms.append(term)
    return spans


def detect_aspects(text: str) -> tuple[str, ...]:
    """Keys of `ASPECTS` that the text mentions, in order of first mention."""
    return tuple(aspect_spans(text))
