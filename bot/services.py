"""The service layer shared by the Telegram bot and the offline console.

Each method validates the merchant's input against the limits, awaits the engine, stores what
came out, and returns typed records. No Telegram or terminal code here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from bot.parsing import pick, split_reviews
from bot.settings import LimitsConfig
from bot.store import FeedbackAction, NotFound, Source, Store
from nlp.digest import ReviewDigest, digest
from nlp.engine import Engine
from nlp.errors import InputError
from nlp.types import LENGTHS, PLATFORMS, TONES, Draft, Length, Platform, ProductFacts, Sentiment, Tone
from nlp.writer import CopyRequest, ReplyRequest, StrategyRequest


@dataclass(frozen=True)
class AnalysedReview:
    review_id: int
    text: str
    sentiment: Sentiment


@dataclass(frozen=True)
class FileUpload:
    key: str  # Telegram's file_unique_id: the same for the same file sent again
    name: str


@dataclass(frozen=True)
class FileTriage:
    results: list[Sentiment | None]  # one per row, None for an empty review
    stored_before: datetime | None  # set when this file was analysed and stored before


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

    async def stored_review(self, merchant_id: int, review_id: int) -> AnalysedReview:
        """One of the merchant's stored reviews, as `suggest_reply` takes it."""
        r = await self.store.get_review(merchant_id, review_id)
        if r is None:
            raise NotFound(f"review {review_id} not found")
        return AnalysedReview(r.id, r.text, Sentiment(r.label, r.sentiment.probs, r.sentiment.aspects))

    async def regenerate_reply(
        self,
        merchant_id: int,
        generation_id: int,
        tone: Tone | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> tuple[AnalysedReview, StoredDraft]:
        """A new reply for the review behind a stored reply (same tone unless `tone` is given)."""
        old = await self.store.get_generation(merchant_id, generation_id)
        if old is None or old.kind != "reply" or old.review_id is None:
            raise NotFound(f"reply {generation_id} not found")
        review = await self.stored_review(merchant_id, old.review_id)
        await self.store.add_feedback(merchant_id, generation_id, "regenerated")
        tone = tone or pick(old.params.get("tone"), TONES, None)
        (stored,) = await self.suggest_reply(merchant_id, review, tone, on_text=on_text)
        return review, stored

    async def classify_file(
        self,
        merchant_id: int,
        texts: Sequence[str],
        upload: FileUpload | None = None,
        chunk: int = 256,
        on_progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> FileTriage:
        """Classify the rows of an uploaded export and store them (source "file").

        One result per row, None for empty rows. Works in chunks, each classified then stored in
        one transaction, so that other chats' requests are served between them;
        `on_progress(done, total)` is awaited after each. A file the merchant sends again (same
        `upload.key`, Telegram's file_unique_id) is classified again but its reviews are stored
        once: a retry stores only what an interrupted first try did not.
        """
        todo = [i for i, t in enumerate(texts) if t.strip()]
        out: list[Sentiment | None] = [None] * len(texts)
        before = await self.store.get_upload(merchant_id, upload.key) if upload is not None else None
        for start in range(0, len(todo), chunk):
            idx = todo[start : start + chunk]
            batch = [texts[i].strip()[: self.limits.max_review_chars] for i in idx]
            sentiments = await self.engine.classify(batch)
            items = list(zip(batch, sentiments, strict=True))
            if upload is None:
                await self.store.add_reviews(merchant_id, items, "file")
            else:  # stored unless an earlier try of this file stored them
                await self.store.add_upload_reviews(
                    merchant_id, upload.key, upload.name, len(texts), start, items
                )
            for i, s in zip(idx, sentiments, strict=True):
                out[i] = s
            if on_progress is not None:
                await on_progress(min(start + chunk, len(todo)), len(todo))
        await self.store.count_usage(merchant_id, "file_reviews", len(todo))
        return FileTriage(out, before.created_at if before is not None else None)

    async def write_copy(
        self,
        merchant_id: int,
        facts: ProductFacts,
        platform: Platform = "generic",
        length: Length = "medium",
        tone: Tone = "warm",
        n: int = 2,
        first_variant: int = 1,
    ) -> list[StoredDraft]:
        """`n` variants of product copy, numbered from `first_variant` (kept in their params)."""
        if not facts.name.strip():
            raise InputError("请先告诉我商品名称。 / Give the product a name first.")
        if len(facts.fact_text()) > self.limits.max_message_chars:
            raise InputError("商品信息太长，请精简。 / Product facts are too long.")
        drafts = await self.engine.generate(CopyRequest(facts, platform, length, tone, n))
        await self.store.count_usage(merchant_id, "copies", len(drafts))
        # The facts go into params so that a variant can be rewritten later (regenerate, shorten).
        drafts = [
            replace(d, params={**d.params, "facts": _facts_to_json(facts), "variant": first_variant + i})
            for i, d in enumerate(drafts)
        ]
        return [
            StoredDraft(await self.store.add_generation(merchant_id, d, facts.fact_text()), d) for d in drafts
        ]

    async def rewrite_copy(
        self, merchant_id: int, generation_id: int, length: Length | None = None, tone: Tone | None = None
    ) -> StoredDraft:
        """One new variant of a stored copy draft, optionally shorter or in another tone."""
        old = await self.store.get_generation(merchant_id, generation_id)
        if old is None or old.kind != "copy" or not isinstance(old.params.get("facts"), dict):
            raise NotFound(f"copy {generation_id} not found")
        facts = _facts_from_json(old.params["facts"])
        platform: Platform = pick(old.params.get("platform"), PLATFORMS, "generic")
        await self.store.add_feedback(merchant_id, generation_id, "regenerated")
        old_length: Length = pick(old.params.get("length"), LENGTHS, "medium")
        old_tone: Tone = pick(old.params.get("tone"), TONES, "warm")
        variant = old.params.get("variant")
        (stored,) = await self.write_copy(
            merchant_id,
            facts,
            platform,
            length or old_length,
            tone or old_tone,
            n=1,
            first_variant=variant if isinstance(variant, int) else 1,
        )
        return stored

    async def strategy(
        self, merchant_id: int, limit: int = 500, on_text: Callable[[str], None] | None = None
    ) -> tuple[ReviewDigest, StoredDraft]:
        reviews = await self.store.recent_reviews(merchant_id, limit=limit)
        if not reviews:
            raise InputError("还没有分析过的评价：先粘贴或上传一些评价。 / Analyse some reviews first.")
        summary = digest(
            [(r.text, Sentiment(r.label, r.sentiment.probs, r.sentiment.aspects)) for r in reviews]
        )
        draft = (await self.engine.generate(StrategyRequest(summary), on_text))[0]
        gid = await self.store.add_generation(merchant_id, draft, summary.render())
        return summary, StoredDraft(gid, draft)

    async def feedback(
        self, merchant_id: int, generation_id: int, action: FeedbackAction, edited_text: str | None = None
    ) -> None:
        await self.store.add_feedback(merchant_id, generation_id, action, edited_text)


def _facts_to_json(facts: ProductFacts) -> dict[str, Any]:
    d = asdict(facts)
    d["selling_points"] = list(facts.selling_points)
    return d


def _facts_from_json(d: dict[str, Any]) -> ProductFacts:
    return ProductFacts(
        name=str(d.get("name", "")),
        selling_points=tuple(str(p) for p in d.get("selling_points", ())),
        specs={str(k): str(v) for k, v in dict(d.get("specs", {})).items()},
        price=str(d.get("price", "")),
        audience=str(d.get("audience", "")),
        extra=str(d.get("extra", "")),
    )
