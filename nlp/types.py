"""Typed values that cross the boundary between the NLP engine and its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")
Polarity = Literal[-1, 0, 1]  # complaint, neither (or mixed), praise
LABEL_POLARITY: dict[Label, Polarity] = {"negative": -1, "neutral": 0, "positive": 1}

Tone = Literal["warm", "professional", "concise", "apologetic"]
TONES: tuple[Tone, ...] = ("warm", "professional", "concise", "apologetic")

Platform = Literal["generic", "taobao", "jd", "pdd", "douyin", "xiaohongshu"]
PLATFORMS: tuple[Platform, ...] = ("generic", "taobao", "jd", "pdd", "douyin", "xiaohongshu")

Length = Literal["short", "medium", "long"]
LENGTHS: tuple[Length, ...] = ("short", "medium", "long")

Language = Literal["zh", "en"]

# Aspect keys are stable identifiers (stored in the database); names are for display.
ASPECTS: dict[str, str] = {
    "logistics": "物流",
    "quality": "质量",
    "price": "价格",
    "service": "服务",
    "packaging": "包装",
    "appearance": "外观",
    "function": "功能",
    "authenticity": "正品",
    "size": "尺码",
    "taste": "口味",
}


@dataclass(frozen=True)
class Sentiment:
    label: Label
    probs: dict[Label, float]  # sums to 1 over LABELS
    aspects: tuple[str, ...] = ()  # keys of ASPECTS, in order of first mention
    # (aspect, -1 / 0 / 1) for each of `aspects`, when the clause tagger is loaded: what the
    # review's clauses say about it ("物流快，但质量一般" -> logistics 1, quality -1)
    aspect_polarity: tuple[tuple[str, int], ...] = ()

    @property
    def confidence(self) -> float:
        return self.probs[self.label]

    @property
    def lean(self) -> Label:
        """The side the review leans to, positive or negative (a neutral review too): what the
        clause tagger reads clauses against (it was trained on reviews labelled one or the other)."""
        positive, negative = self.probs.get("positive", 0.0), self.probs.get("negative", 0.0)
        return "positive" if positive >= negative else "negative"

    def aspect_signs(self) -> dict[str, int]:
        """Each aspect's sign: its own polarity where the clause tagger gave one, else the
        review's label (a complaint in a negative review, praise in a positive one)."""
        if self.aspect_polarity:
            return dict(self.aspect_polarity)
        return dict.fromkeys(self.aspects, LABEL_POLARITY[self.label])


@dataclass(frozen=True)
class ShopProfile:
    name: str = "本店"
    category: str = ""
    tone: Tone = "warm"
    signature: str = ""
    policy: str = "支持7天无理由退换货，质量问题我们承担运费。"  # after-sales policy, quoted to the model
    language: Language | Literal["auto"] = "auto"  # "auto": reply in the review's language


@dataclass(frozen=True)
class ProductFacts:
    name: str
    selling_points: tuple[str, ...] = ()
    specs: dict[str, str] = field(default_factory=dict)  # e.g. {"容量": "500ml", "材质": "304不锈钢"}
    price: str = ""
    audience: str = ""
    extra: str = ""  # anything else the merchant states as fact

    def fact_text(self) -> str:
        """Everything the merchant stated, as one string (what copy may draw facts from)."""
        parts = [self.name, *self.selling_points, *(f"{k}{v}" for k, v in self.specs.items())]
        parts += [self.price, self.audience, self.extra]
        return "\n".join(p for p in parts if p)


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem a checker found in a draft."""

    code: str  # stable id, e.g. "invented_number", "forbidden_claim", "wrong_language"
    severity: Severity
    message: str  # human-readable, Chinese-first (shown to the merchant)
    span: str = ""  # the offending text, when there is one


DraftKind = Literal["reply", "copy", "strategy"]


@dataclass(frozen=True)
class Draft:
    kind: DraftKind
    text: str
    findings: tuple[Finding, ...] = ()
    model_id: str = ""
    adapter_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # sampling parameters, tone, platform, ...
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)
