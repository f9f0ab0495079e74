"""The customer's issues named in the shop's own words ("隔音不好", "配送太慢", "分量太少").

A reply that quotes a customer verbatim can pick an odd fragment ("必须差评", "我头发是属于非常
枯燥的哪种"); one that names only an aspect ("质量方面") says too little. `issues(review)` finds
what the customer complained about or praised, from a table of patterns written for xiaoer over
the kinds of shops it serves (goods, fresh food, food delivery, hotels, books, electronics), and
returns each as a short phrase that says no more than the review does: "房间不够干净" only when
the review says it was dirty. Rules only, synchronous and pure; matching runs on the folded text
(nlp/fold.py: traditional characters and full-width forms read as simplified and half-width).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from nlp.fold import fold
from nlp.policy import Trigger
from nlp.tagger import ClauseTag
from nlp.tags import DOMAINS, KEY_OF_NAME, Domain, GoodsKind, fits
from nlp.types import Language

MAX_ISSUES = 3
_STAY = re.compile(r"酒店|宾馆|民宿|客栈|旅馆|公寓|度假|hotel|hostel|inn\b", re.IGNORECASE)
_FOOD = re.compile(
    r"外卖|餐|饭|小吃|食堂|奶茶|咖啡|烧烤|火锅|烘焙|面馆|粉|麻辣烫|takeaway|restaurant", re.IGNORECASE
)


def domain_of(category: str) -> Domain:
    """The kind of shop a profile's category names (its remedies and wording differ)."""
    if _STAY.search(category):
        return "stay"
    if _FOOD.search(category):
        return "food"
    return "goods"


@dataclass(frozen=True)
class Issue:
    aspect: str  # a key of nlp.types.ASPECTS, or "stay" (hotel stays) / "food" (food delivery)
    polarity: int  # -1 a complaint, 1 praise
    zh: str  # a noun phrase: "隔音不好" (complaint), "位置" (praise)
    en: str
    start: int  # where the customer said it (offset in the folded review)
    trigger: Trigger | None = None  # the cause a policy could cover (damaged, wrong item ...)

    def name(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    aspect: str
    polarity: int
    zh: str
    en: str
    trigger: Trigger | None = None
    domains: tuple[Domain, ...] = DOMAINS
    wording: dict[Domain, tuple[str, str]] = field(default_factory=dict)  # (zh, en) per domain


_CLAUSE = r"[^，,。.！!？?；;\n]"  # any character that stays inside one clause


def _near(subject: str, said: str, gap: int = 6) -> str:
    """`subject` then, within `gap` characters of the same clause, `said`."""
    return rf"(?:{subject}){_CLAUSE}{{0,{gap}}}(?:{said})"


def _rule(
    pattern: str,
    aspect: str,
    polarity: int,
    zh: str,
    en: str,
    trigger: Trigger | None = None,
    domains: tuple[Domain, ...] = DOMAINS,
    **wording: tuple[str, str],
) -> _Rule:
    return _Rule(re.compile(pattern), aspect, polarity, zh, en, trigger, domains, wording)  # type: ignore[arg-type]


_BAD = r"差|不好|不行|一般|不怎么样|糟糕|很烂|不满意"
_DELIVERY = r"物流|快递|发货|送货|配送|送餐|送达|到货|外卖|骑手|送餐员|快递员"
_STAFF = r"前台|总台|服务员|工作人员|客服|店员|商家|卖家|老板|经理|领班|保安"

# Order matters only within one clause: the first rule that matches a span claims it.
_COMPLAINTS: tuple[_Rule, ...] = (
    # specific before general: "冻坏了" is no breakdown, "付了钱…没送到" no slow delivery
    _rule(
        r"冻坏|冻了|冰成冰|冻成|结冰",
        "quality",
        -1,
        "商品被冻坏",
        "the frozen item",
        "damaged",
        ("goods", "food"),
    ),
    _rule(
        r"(?:付了钱|收了钱|扣了钱|付款)"
        + _CLAUSE
        + r"{0,10}(?:没送|没到|没收到|不送)|没收到(?:餐|外卖)|根本没送",
        "food",
        -1,
        "订单没有送到",
        "the order that never arrived",
        "missing",
        ("food",),
    ),
    # delivery
    _rule(
        _near(_DELIVERY, r"慢|太久|迟|晚|超时")
        + r"|(?:等了|花了)"
        + _CLAUSE
        + r"{0,8}(?:小时|天|周|星期)"
        + r"|才(?:送到|送来|到货|收到)|迟迟|还没(?:送到|到货|收到|发货)|超时"
        + r"|(?:送|到|等)"
        + _CLAUSE
        + r"{0,6}(?:两|三|四|2|3|4|一个多|\d+)\s*个?多?(?:小时|钟头)"
        + r"|(?:两|三|四|2|3|4|一个多)\s*个?多?(?:小时|钟头)"
        + _CLAUSE
        + r"{0,6}(?:送|到)",
        "logistics",
        -1,
        "配送太慢",
        "the slow delivery",
        "late",
        food=("送餐太慢", "the slow delivery"),
        stay=("等待太久", "the long wait"),
    ),
    _rule(
        _near(r"送餐员|快递员|骑手|配送员|快递小哥", r"态度|骂|凶|没礼貌|不耐烦|私自|擅自|乱扔|不送上楼", 12),
        "logistics",
        -1,
        "配送员服务不周",
        "the courier's conduct",
    ),
    _rule(
        _near(r"包装|盒子|箱子|外箱|外包装", r"破|烂|压坏|压扁|变形|裂") + r"|压坏|压扁|摔坏|摔碎|碎了|破损",
        "packaging",
        -1,
        "商品在运输中破损",
        "the damage in transit",
        "damaged",
        ("goods", "food"),
        food=("餐品在配送中损坏", "the damage in transit"),
    ),
    _rule(r"洒了|漏了|撒了|汤汁漏", "packaging", -1, "餐品洒漏", "the spill", "damaged", ("food",)),
    _rule(
        r"发错|错发|送错|弄错|搞错|拿错|不是我(?:买|要|订|点|拍)的|变成了?[一二两\d]",
        "logistics",
        -1,
        "发错了东西",
        "the wrong item",
        "wrong_item",
        ("goods", "food"),
        food=("送错了餐品", "the wrong order"),
    ),
    _rule(
        r"少发|漏发|少送|少给|缺件|少件|漏放|没放|差一份|少了一|少一[份个件盒瓶]|没(?:有)?送(?:全|齐)",
        "logistics",
        -1,
        "少发了东西",
        "the missing item",
        "missing",
        ("goods", "food"),
        food=("少送了餐品", "the missing items"),
    ),
    # food delivery
    _rule(
        r"(?<![不没])(?:凉了|冷了|凉透|冰凉|都凉|全凉|是凉的|是冷的)",
        "food",
        -1,
        "饭菜送到时已经凉了",
        "the food arriving cold",
    ),
    _rule(
        _near(r"份量|分量|菜量|饭量|(?<=[菜饭肉餐])量|肉", r"少|小|不足|不够", 4) + r"|少得可怜",
        "food",
        -1,
        "分量太少",
        "the small portions",
    ),
    _rule(r"没熟|夹生|糊了|焦了|生的", "food", -1, "餐品没有做好", "the badly cooked food"),
    _rule(
        _near(r"筷子|餐具|勺子|餐巾纸|纸巾", r"不给|没给|没有|没放|忘|少", 6),
        "food",
        -1,
        "没有配齐餐具",
        "the missing cutlery",
        None,
        ("food",),
    ),
    _rule(
        r"太咸|好咸|很咸|齁|太辣|太甜|太油|油腻|没味|没有味道|难吃|不好吃|不太好吃|味道(?:很|太|有点)?(?:一般|差|怪|不好|不对)",
        "taste",
        -1,
        "口味不合适",
        "the taste",
    ),
    # goods: function and quality
    _rule(
        r"开不了机|开不开机|不能开机|无法开机|死机|黑屏|花屏|自动重启|卡顿|很卡|太卡|好卡|闪退|充不进电|充不了电",
        "function",
        -1,
        "机器运行出现故障",
        "the device malfunctioning",
        "quality",
    ),
    _rule(r"坏点|亮点|漏光|屏幕有问题", "function", -1, "屏幕有坏点", "the screen defect", "quality"),
    _rule(
        _near(r"电池|续航", r"不耐用|不行|差|一般|不经用|太短") + r"|耗电(?:很|太)?快|掉电(?:很|太)?快",
        "function",
        -1,
        "电池续航不好",
        "the battery life",
    ),
    _rule(
        r"(?:用了|没用|才用)"
        + _CLAUSE
        + r"{0,8}(?:就|便)?坏|坏了|不能用|用不了|不工作|失灵|故障|不出水|不加热|不制冷|没反应",
        "function",
        -1,
        "商品出现故障",
        "the item failing",
        "quality",
        stay=("设施损坏", "the broken facilities"),
    ),
    # goods only, as its tag: a hotel guest's "两台车被划伤" is about their car
    _rule(
        r"划痕|划伤|刮花|磨损", "appearance", -1, "外观有划痕", "the scratches", "quality", ("goods", "food")
    ),
    _rule(r"掉漆|脱漆|掉皮|掉色|褪色", "quality", -1, "掉漆掉色", "the peeling or fading", "quality"),
    _rule(
        r"色差|颜色" + _CLAUSE + r"{0,6}(?:不一样|不一致|不对|差别|差很多)",
        "appearance",
        -1,
        "颜色和图片有差别",
        "the colour not matching the photos",
    ),
    _rule(
        _near(r"尺码|码数|尺寸|号码|鞋码", r"偏小|偏大|不对|不准|小了|大了|不合适", 4)
        + r"|偏小|偏大|(?:衣服|裤子|鞋|裙子)"
        + _CLAUSE
        + r"{0,4}(?:太小|太大|小了|大了)",
        "size",
        -1,
        "尺码不合适",
        "the sizing",
        "any",
        ("goods",),
    ),
    _rule(r"起球|开线|开胶|线头|缩水|走线", "quality", -1, "做工不够好", "the workmanship", "quality"),
    _rule(
        r"(?<![不没])(?:异味|臭味|怪味|刺鼻|发臭|霉味|烟味)|发霉的?味|味道(?:很|太)?(?:大|重|难闻)|有股"
        + _CLAUSE
        + r"{0,6}味",
        "quality",
        -1,
        "有异味",
        "the smell",
    ),
    _rule(
        r"不(?:是很|太|够|怎么)?新鲜|坏果|烂果|烂了|烂掉|(?:是|都|全)烂的|发霉|长毛|变质|过期|临期"
        r"|(?:苹果|水果|果子|橙子|梨|香蕉|芒果|火龙果|桃)" + _CLAUSE + r"{0,6}(?:烂|坏|软|干瘪)",
        "quality",
        -1,
        "商品不够新鲜",
        "the freshness",
        "damaged",  # policies call spoiled fruit 坏果, with broken goods
        ("goods", "food"),
    ),
    _rule(
        r"(?:苹果|水果|果子|橙子|梨|芒果|火龙果|桃)"
        + _CLAUSE
        + r"{0,6}(?:个头)?(?:很|太|偏|比较)?小|个头(?:很|太|偏)?小",
        "quality",
        -1,
        "果子个头偏小",
        "the small fruit",
        None,
        ("goods",),
    ),
    _rule(
        r"没(?:什么)?效果|效果(?:很|太|不太|不)?(?:差|一般|不明显)|没啥用|没什么用",
        "function",
        -1,
        "效果不明显",
        "the weak effect",
    ),
    _rule(
        r"错别字|错字|缺页|少页|缺(?:少)?\d+页|少了?\d+页|印刷"
        + _CLAUSE
        + r"{0,4}(?:差|模糊|不清)|纸张"
        + _CLAUSE
        + r"{0,4}(?:差|薄|粗糙)|盗版",
        "quality",
        -1,
        "印刷和纸张质量",
        "the printing and paper",
    ),
    _rule(
        r"假货|不是正品|仿品|山寨|高仿", "authenticity", -1, "担心不是正品", "your doubts about authenticity"
    ),
    _rule(
        _near(r"质量|品质|做工|材质|料子|面料", r"差|不好|一般|不行|粗糙|太薄|很薄|低档|垃圾")
        + r"|粗糙|劣质|次品|残次|伪劣",
        "quality",
        -1,
        "质量不好",
        "the quality",
        "quality",
        ("goods", "food"),
    ),
    _rule(
        r"与描述不符|和描述不符|描述不符|宣传不符|货不对板|名不副实|虚假宣传|(?:和|跟|与)(?:图片|图|照片|描述)"
        + _CLAUSE
        + r"{0,4}(?:不一样|不符|不同|差太多)",
        "quality",
        -1,
        "商品和描述不符",
        "the item not matching its description",
        food=("餐品和描述不符", "the dish not matching its description"),
        stay=("实际情况和介绍不符", "the stay not matching its description"),
    ),
    # hotel stays
    _rule(
        r"不干净|太脏|很脏|好脏|有点脏|脏兮兮|污渍|蟑螂|有虫|发霉|霉斑|灰尘|卫生(?:很|太|比较)?(?:差|不好|一般|堪忧)"
        r"|(?:有|发现|床上|枕头|被子|浴缸|地上|地毯|毛巾|菜里|饭里|汤里)" + _CLAUSE + r"{0,4}(?:头发|毛发)",
        "stay",
        -1,
        "卫生不到位",
        "the cleanliness",
    ),
    _rule(
        r"隔音(?:效果)?(?:很|太|非常|比较|特别|也|都|还|实在)*(?:差|不好|一般|不行|不怎么)|很吵|太吵|好吵|非常的?吵"
        r"|噪[音声](?:实在|很|太|非常)*大|吵得|夜总会|ktv|卡拉ok|震动",
        "stay",
        -1,
        "隔音不好",
        "the noise",
        None,
        goods=("噪音大", "the noise"),
        food=("环境吵闹", "the noise"),
    ),
    _rule(
        r"(?:网速|宽带|网络|上网|wifi|无线)"
        + _CLAUSE
        + r"{0,6}(?:慢|差|不好|不能|没有|不行|断)|不能上网|没(?:有)?宽带|没(?:有)?网",
        "stay",
        -1,
        "网络不好用",
        "the internet connection",
    ),
    _rule(
        _near(r"设施|设备|家具|装修|房间|客房|酒店", r"陈旧|老旧|破旧|旧|老化", 6),
        "stay",
        -1,
        "设施陈旧",
        "the dated facilities",
        None,
        ("stay",),
    ),
    _rule(
        _near(r"设施|设备|家具|装修|客房", r"简陋|低档|一般|较差|差|伪劣|不全|少", 6),
        "stay",
        -1,
        "设施不够好",
        "the facilities",
        None,
        ("stay",),
    ),
    _rule(
        _near(r"早餐|自助餐|餐厅", r"差|一般|单调|少|贵|难吃|不好|没有|冷|黑店"),
        "stay",
        -1,
        "餐饮不够好",
        "the dining",
        None,
        ("stay",),
    ),
    _rule(
        _near(
            r"入住|办理|check ?in|房间|退房",
            r"等了|等到|等待|很久|太久|太慢|还没(?:打扫|清理|收拾)|没(?:打扫|清理)好",
            10,
        )
        + r"|才(?:能)?入住",
        "stay",
        -1,
        "入住等待太久",
        "the wait to check in",
        None,
        ("stay",),
    ),
    _rule(
        _near(r"空调", r"不制冷|不制热|坏|吵|响|噪|不好|不凉|不热|轰隆隆"),
        "stay",
        -1,
        "空调有问题",
        "the air conditioning",
        None,
        ("stay",),
    ),
    _rule(
        r"没有?暖气|暖气" + _CLAUSE + r"{0,4}(?:不|没)",
        "stay",
        -1,
        "没有暖气",
        "the heating",
        None,
        ("stay",),
    ),
    _rule(
        r"没有热水|热水" + _CLAUSE + r"{0,6}(?:没有|不热|不稳定|时冷时热|很小)",
        "stay",
        -1,
        "热水供应有问题",
        "the hot water",
        None,
        ("stay",),
    ),
    _rule(
        _near(r"房间|客房|卫生间|浴室", r"(?:很|太|有点|比较|偏)(?:小|窄|挤)", 4),
        "stay",
        -1,
        "房间偏小",
        "the small room",
        None,
        ("stay",),
    ),
    _rule(
        _near(r"位置|地段|地点", r"偏|远|不方便|难找|不好找") + r"|偏僻|很难找|不好找",
        "stay",
        -1,
        "位置不太方便",
        "the location",
        None,
        ("stay",),
    ),
    _rule(
        _near(r"停车", r"难|不方便|贵|没有|收费"), "stay", -1, "停车不方便", "the parking", None, ("stay",)
    ),
    _rule(
        r"滑倒|摔倒|防滑|地(?:面|砖|板)?(?:很|太|特别)?滑|滑得",
        "stay",
        -1,
        "地面太滑",
        "the slippery floor",
        None,
        ("stay",),
    ),
    _rule(r"蚊子|飞蛾|苍蝇|小虫|虫子", "stay", -1, "房间有蚊虫", "the insects", None, ("stay",)),
    _rule(
        _near(r"毛巾|浴巾|床单|被子|拖鞋|床品", r"旧|硬|黄|薄|破|脏|有洞", 6),
        "stay",
        -1,
        "床品和毛巾陈旧",
        "the worn towels and bedding",
        None,
        ("stay",),
    ),
    _rule(
        r"订单(?:被)?(?:弄丢|丢了|丢失)|查不到(?:我的)?订单|没有(?:我的)?(?:订单|预订|预定)|(?:订单|预订|预定)(?:没有|不见)",
        "service",
        -1,
        "订单出了差错",
        "the lost booking",
    ),
    _rule(
        r"宰客|多收|乱收费|加收|另外收费|另外加钱",
        "price",
        -1,
        "收费不合理",
        "the overcharging",
    ),
    _rule(
        r"没有?(?:送|给)?(?:耳机|(?:手机)?膜|充电器|数据线|说明书|配件)|配件不全|缺(?:少)?配件|少了配件",
        "logistics",
        -1,
        "配件不全",
        "the missing accessories",
        "missing",
        ("goods",),
    ),
    _rule(
        _near(r"速度|反应|运行|切换|开机", r"慢|不快|迟钝", 4),
        "function",
        -1,
        "运行速度慢",
        "the slow performance",
        "quality",
        ("goods",),
    ),
    # service and after-sales
    _rule(
        _near(
            _STAFF,
            # "态度" alone is no complaint: "客服态度很好" is praise
            r"态度(?!(?:很|非常|特别|挺|超|都|也|还|真|蛮|十分|相当)*(?:好|不错|热情|亲切|周到|满意|可以|棒|温和|耐心|和蔼|友好|到位))"
            r"|冷淡|不理|爱答不理|推诿|推委|推脱|敷衍|没笑过|不耐烦|拖延|骂|凶|不管|无赖|黑了|宰客|不讲理|理论",
            12,
        ),
        "service",
        -1,
        "服务态度不好",
        "the staff's attitude",
    ),
    _rule(
        r"不给(?:开)?发票|没(?:有)?(?:开)?发票|发票" + _CLAUSE + r"{0,4}(?:没|不|还没)|没开票",
        "service",
        -1,
        "没有开发票",
        "the invoice",
    ),
    _rule(
        _near(r"退货|退款|换货|售后|维修|保修|质保", r"难|麻烦|拖|不给|不让|拒绝|不能|不管|剥夺|没人", 10),
        "service",
        -1,
        "售后处理不顺利",
        "the after-sales handling",
    ),
    _rule(
        _near(r"价格|房价|价钱|价位|定价", r"贵|高|偏高|不值", 4)
        + r"|太贵|偏贵|有点贵|贵了|不值(?:这个价|得)|性价比(?:不高|低|差)",
        "price",
        -1,
        "价格偏高",
        "the price",
    ),
)

_PRAISE: tuple[_Rule, ...] = (
    _rule(
        _near(_DELIVERY, r"(?<!不)(?:快|及时|迅速|神速|给力|准时)", 4)
        + r"|(?:送|到)得(?:很|挺|真|超|特别)?快|(?:第二天|当天|次日|隔天)(?:就)?(?:到|送到|收到)",
        "logistics",
        1,
        "配送速度",
        "the fast delivery",
    ),
    _rule(
        _near(r"包装", r"(?<!不)(?:好|精美|严实|不错|用心|仔细|结实)", 4),
        "packaging",
        1,
        "包装",
        "the packaging",
    ),
    _rule(
        _near(
            r"质量|做工|品质|材质|面料|料子", r"(?<!不)(?:好|不错|很棒|精细|没得说|挺好|很赞|过硬|扎实)", 4
        ),
        "quality",
        1,
        "质量",
        "the quality",
    ),
    _rule(
        _near(r"服务|态度|" + _STAFF, r"(?<!不)(?:好|热情|周到|耐心|不错|贴心|到位|细心|专业|友好|礼貌)", 6),
        "service",
        1,
        "服务",
        "the service",
    ),
    _rule(
        _near(r"位置|地段|交通|地理", r"(?<!不)(?:好|方便|不错|便利|优越|佳)", 4)
        + r"|离"
        + _CLAUSE
        + r"{0,12}(?:很近|非常近|挺近|不远)",
        "stay",
        1,
        "位置",
        "the location",
    ),
    _rule(
        _near(r"味道|口味|口感", r"(?<!不)(?:好|不错|棒|赞|正宗|可以)", 4) + r"|(?<![不难])好吃|美味|可口",
        "taste",
        1,
        "口味",
        "the taste",
    ),
    _rule(
        r"性价比(?:很|挺|超|非常|较)?高|实惠|划算|物超所值|物美价廉|价格(?:很|挺|也)?(?:便宜|合理|公道|实惠)",
        "price",
        1,
        "性价比",
        "the value",
    ),
    _rule(
        _near(r"环境|房间|装修|客房", r"(?<!不)(?:好|不错|干净|舒适|舒服|安静|整洁|漂亮|宽敞|温馨)", 4),
        "stay",
        1,
        "房间环境",
        "the room",
    ),
    _rule(_near(r"早餐", r"(?<!不)(?:好|丰富|不错|可口)", 4), "stay", 1, "早餐", "the breakfast"),
    _rule(r"(?<![不没])新鲜", "quality", 1, "新鲜度", "the freshness"),
    _rule(
        _near(r"效果", r"(?<!不)(?:好|明显|不错|很棒)", 4) + r"|(?<![不难])好用|很好用",
        "function",
        1,
        "使用效果",
        "how well it works",
    ),
    _rule(
        _near(r"屏幕|画质|音质|速度|运行|系统|反应", r"(?<!不)(?:好|清晰|流畅|快|不错|灵敏)", 4),
        "function",
        1,
        "使用体验",
        "the performance",
    ),
    _rule(r"(?<!不是)正品", "authenticity", 1, "正品品质", "the genuine product"),
)

_NEGATOR = re.compile(r"(?:不|没|没有|无|未|非|不是|并不|毫不)(?:太|很|是很|怎么|那么|够|算|大|是)?$")


def issues(review: str, domain: Domain = "goods", kind: GoodsKind | None = None) -> list[Issue]:
    """Complaints (in order of mention), then praise; at most `MAX_ISSUES` of each, no repeats,
    in the words of this kind of shop (a hotel's "等待太久" is a delivery shop's "配送太慢"), and
    only those that can apply to this kind of goods (no "屏幕有问题" for apples)."""
    text = fold(review)
    return [*_found(text, _COMPLAINTS, domain, kind), *_found(text, _PRAISE, domain, kind)]


def _found(text: str, rules: tuple[_Rule, ...], domain: Domain, kind: GoodsKind | None) -> list[Issue]:
    hits: list[Issue] = []
    taken: list[tuple[int, int]] = []
    for rule in rules:
        if domain not in rule.domains or not fits(KEY_OF_NAME.get(rule.zh), kind):
            continue
        zh, en = rule.wording.get(domain, (rule.zh, rule.en))
        for m in rule.pattern.finditer(text):
            if _NEGATOR.search(text[max(0, m.start() - 4) : m.start()]):
                continue  # "没有异味", "不是很新鲜" says the opposite (or nothing)
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            hits.append(Issue(rule.aspect, rule.polarity, zh, en, m.start(), rule.trigger))
    unique: dict[str, Issue] = {}
    for hit in sorted(hits, key=lambda i: i.start):
        unique.setdefault(hit.zh, hit)
    return list(unique.values())[:MAX_ISSUES]


# How sure the tagger must be of a clause's polarity to overrule a lexicon hit of the other sign
# ("服务员态度特别好" is no complaint about attitude).
VETO = 0.7
PRAISED_TAG = 0.6  # how sure of a complaint tag the tagger must be to name it in a review read as praise


def tagged_issues(
    review: str,
    domain: Domain,
    clauses: Sequence[tuple[int, int]],
    tags: Sequence[ClauseTag],
    kind: GoodsKind | None = None,
    *,
    praised: bool = False,
) -> list[Issue]:
    """The issues of a review read clause by clause: the lexicon's hits that the tagger does not
    contradict, and the tagger's own tag where the lexicon named nothing of that sign. Complaints
    (in order of mention), then praise; at most `MAX_ISSUES` of each.

    A review read as praise (`praised`) keeps only complaints the tagger reads as complaints too,
    and the tagger's own complaint tags only when it is surer (`PRAISED_TAG`): a thank-you that
    promises to fix what the customer never criticised is worse than one that skips a small gripe."""
    hits: list[Issue] = []
    for (a, b), t in zip(clauses, tags, strict=True):
        found = [
            replace(i, start=a + i.start)
            for i in issues(review[a:b], domain, kind)
            if not (t.polarity == -i.polarity and t.polarity_p >= VETO)
            and not (praised and i.polarity < 0 and t.polarity != -1)
        ]
        hits += found
        if t.tag is None or domain not in t.tag.domains or not fits(t.tag.key, kind):
            continue  # "外观有划痕" is about goods: a hotel guest's scratched car is not named so
        if praised and t.tag.polarity < 0 and t.tag_p < PRAISED_TAG:
            continue
        if not any(i.polarity == t.tag.polarity for i in found):
            zh, en = t.tag.name(domain, "zh"), t.tag.name(domain, "en")
            hits.append(Issue(t.tag.aspect, t.tag.polarity, zh, en, a, t.tag.trigger))
    out: list[Issue] = []
    for polarity in (-1, 1):
        unique: dict[str, Issue] = {}
        for hit in sorted((h for h in hits if h.polarity == polarity), key=lambda i: i.start):
            # one name per tag: the lexicon's "屏幕有坏点" and the tagger's "屏幕有问题" are one issue
            unique.setdefault(KEY_OF_NAME.get(hit.zh, hit.zh), hit)
        out += list(unique.values())[:MAX_ISSUES]
    return out


def listed(names: list[str], language: Language) -> str:
    """ "A、B和C" / "A, B and C" """
    if language == "zh":
        return names[0] if len(names) == 1 else "、".join(names[:-1]) + "和" + names[-1]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
