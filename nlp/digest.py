"""An aggregated view of many analysed reviews: what the strategy notes are written from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from nlp.types import ASPECTS, LABELS, Label, Sentiment


@dataclass(frozen=True)
class AspectStat:
    aspect: str  # key of ASPECTS
    negative: int  # reviews that complain about it (Sentiment.aspect_signs)
    total: int  # all reviews that mention it
    examples: tuple[str, ...] = ()  # short quotes from reviews that complain about it
    positive: int = 0  # reviews that praise it


@dataclass(frozen=True)
class ReviewDigest:
    total: int
    counts: dict[Label, int]
    aspects: tuple[AspectStat, ...] = field(default=())  # most complained-about first

    def render(self) -> str:
        """Plain Chinese summary used in prompts and reports."""
        c = self.counts
        head = f"共{self.total}条评价，好评{c['positive']}、中评{c['neutral']}、差评{c['negative']}"
        parts = []
        for a in self.aspects:
            if a.negative == 0:
                continue
            quote = f"（例：“{a.examples[0]}”）" if a.examples else ""
            parts.append(f"{ASPECTS.get(a.aspect, a.aspect)}{a.negative}条{quote}")
        return head + ("；差评方面：" + "，".join(parts) if parts else "") + "。"


def digest(
    reviews: Sequence[tuple[str, Sentiment]], examples: int = 2, quote_chars: int = 40
) -> ReviewDigest:
    """Count labels and, per aspect, how many reviews mention, complain about and praise it.

    An aspect's sign is its own where the clause tagger gave one ("物流快，但质量一般": logistics
    praised, quality complained about), else the review's label."""
    counts: Counter[Label] = Counter(s.label for _, s in reviews)
    neg: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    total: Counter[str] = Counter()
    quotes: dict[str, list[str]] = {}
    for text, s in reviews:
        for a, sign in s.aspect_signs().items():
            total[a] += 1
            pos[a] += sign > 0
            if sign < 0:
                neg[a] += 1
                q = quotes.setdefault(a, [])
                if len(q) < examples:
                    q.append(text.strip().replace("\n", " ")[:quote_chars])
    stats = sorted(
        (AspectStat(a, neg[a], total[a], tuple(quotes.get(a, [])), pos[a]) for a in total),
        key=lambda s: (-s.negative, -s.total, s.aspect),
    )
    return ReviewDigest(len(reviews), {lab: counts.get(lab, 0) for lab in LABELS}, tuple(stats))
