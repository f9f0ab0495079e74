"""The service layer shared by the Telegram bot and the offline console.

Each method validates the merchant's input against the limits, awaits the engine, stores what
came out, and returns typed records. No Telegram or terminal code here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.parsing import split_reviews
from bot.settings import LimitsConfig
from bot.store import FeedbackAction, Source, Store
from nlp.digest import ReviewDigest, digest
from nlp.engine import Engine
from nlp.errors import InputError
from nlp.types import Draft, Length, Platform, ProductFacts, Sentiment, Tone
from nlp.writer import CopyRequest, ReplyRequest, StrategyRequest


@dataclass(frozen=True)
class AnalysedReview:
    review_id: int
    text: str
    sentiment: Sentiment


@dataclass(frozen=True)
class StoredDraft:
    generation_id: int
    draft: Draft


class Services:
    def __init__(self, store: Store, engine: Engine, limits: LimitsConfig) -> None:
        self.store = store
        self.engine = engine
        self.limits = limits

    async def analyse(self, merchant_id: int, message: str, source: Source = "chat") -> list[AnalysedReview]:
        """Split a pasted message into reviews, classify and store them (input order)."""
        texts = self.validate_reviews(message)
        sentiments = await self.engine.classify(texts)
        ids = await self.store.add_reviews(merchant_id, zip(texts, sentiments, strict=True), source)
        await self.store.count_usage(merchant_id, "reviews", len(texts))
        return [AnalysedReview(i, t, s) for i, t, s in zip(ids, texts, sentiments, strict=True)]

    def validate_reviews(self, message: str) -> list[str]:
        if len(message) > self.limits.max_message_chars:
            raise InputError(
                f"内容太长（{len(message)} 字，上限 {self.limits.max_message_chars} 字），请分几次发送。"
                " / Too long: send it in parts."
            )
        texts = split_reviews(message)
        if not texts:
            raise InputError("没有收到评价内容，请粘贴顾客评价（每行一条）。 / Paste reviews, one per line.")
        if len(texts) > self.limits.max_reviews_per_message:
            raise InputError(
                f"一次最多 {self.limits.max_reviews_per_message} 条评价（收到 {len(texts)} 条），"
                "更多请上传文件。 / Too many reviews at once: upload a file instead."
            )
        long = [i + 1 for i, t in enumerate(texts) if len(t) > self.limits.max_review_chars]
        if long:
            raise InputError(
                f"第 {', '.join(map(str, long[:5]))} 条评价超过 {self.limits.max_review_chars} 字，请删减。"
                " / A review is too long."
            )
        return texts

    async def suggest_reply(
        self,
        merchant_id: int,
        review: AnalysedReview,
        tone: Tone | None = None,
        n: int = 1,
        on_text: Callable[[str], None] | None = None,
    ) -> list[StoredDraft]:
        profile = await self.store.get_profile(merchant_id)
        drafts = await self.engine.generate(
            ReplyRequest(review.text, review.sentiment, profile, tone, n), on_text
        )
        await self.store.count_usage(merchant_id, "replies", len(drafts))
        return [
            StoredDraft(await self.store.add_generation(merchant_id, d, review.text, review.review_id), d)
            for d in drafts
        ]

    async def write_copy(
        self,
        merchant_id: int,
        facts: ProductFacts,
        platform: Platform = "generic",
        length: Length = "medium",
        tone: Tone = "warm",
        n: int = 2,
    ) -> list[StoredDraft]:
        if not facts.name.strip():
            raise InputError("请先告诉我商品名称。 / Give the product a name first.")
        if len(facts.fact_text()) > self.limits.max_message_chars:
            raise InputError("商品信息太长，请精简。 / Product facts are too long.")
        drafts = await self.engine.generate(CopyRequest(facts, platform, length, tone, n))
        await self.store.count_usage(merchant_id, "copies", len(drafts))
        return [
            StoredDraft(await self.store.add_generation(merchant_id, d, facts.fact_text()), d) for d in drafts
        ]

    async def strategy(self, merchant_id: int, limit: int = 500) -> tuple[ReviewDigest, StoredDraft]:
        reviews = await self.store.recent_reviews(merchant_id, limit=limit)
        if not reviews:
            raise InputError("还没有分析过的评价：先粘贴或上传一些评价。 / Analyse some reviews first.")
        summary = digest(
            [(r.text, Sentiment(r.label, r.sentiment.probs, r.sentiment.aspects)) for r in reviews]
        )
        draft = (await self.engine.generate(StrategyRequest(summary)))[0]
        gid = await self.store.add_generation(merchant_id, draft, summary.render())
        return summary, StoredDraft(gid, draft)

    async def feedback(
        self, merchant_id: int, generation_id: int, action: FeedbackAction, edited_text: str | None = None
    ) -> None:
        await self.store.add_feedback(merchant_id, generation_id, action, edited_text)
