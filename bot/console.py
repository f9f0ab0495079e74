"""`xiaoer chat`: the merchant's workflow in a terminal, on the same services as the bot.

Paste one or several reviews (one per line; a blank line or a pause ends the batch) to get
sentiment, aspects and a suggested reply. Commands:
  /copy                 product copy from facts (asks for them one by one)
  /reply N [tone]       a reply for review N of the last batch (tones: warm professional concise apologetic)
  /accept  /reject  /edit TEXT    feedback on the last reply (stored for training)
  /settings [FIELD VALUE]         show or change the shop profile
  /strategy             suggestions from the reviews analysed so far
  /history              the last drafts
  /help  /quit
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from typing import TextIO, TypeVar

from bot import render
from bot.parsing import spec_pair, split_items
from bot.services import AnalysedReview, Services, StoredDraft
from bot.store import DraftHasErrors, FeedbackAction, InvalidValue, NotFound, StoreError
from nlp.errors import EngineError, InputError, ModelLoadError
from nlp.types import LENGTHS, PLATFORMS, TONES, Draft, Length, Platform, ProductFacts, Tone

CONSOLE_MERCHANT = 0  # the console's merchant id (Telegram ids are positive)
AUTO_REPLIES = 5  # replies generated right away per batch; the rest on /reply N
BADGE = {"positive": "👍 好评", "neutral": "😐 中评", "negative": "👎 差评"}
T = TypeVar("T", bound=str)
PROFILE_FIELDS = ("name", "category", "tone", "signature", "policy", "language")


async def stdin_lines(stream: TextIO = sys.stdin) -> AsyncIterator[str | None]:
    """Lines from a blocking stream, read on a thread; None marks a pause (batch boundary)."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[str | None] = asyncio.Queue()
    eof = object()

    def reader() -> None:
        for line in stream:
            loop.call_soon_threadsafe(q.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(q.put_nowait, eof)  # type: ignore[arg-type]

    threading.Thread(target=reader, daemon=True).start()
    while True:
        try:
            item = await asyncio.wait_for(q.get(), timeout=0.3)
        except TimeoutError:
            yield None
            continue
        if item is eof:
            yield None
            return
        yield item


class Console:
    def __init__(self, services: Services, out: TextIO, merchant_id: int = CONSOLE_MERCHANT) -> None:
        self.services = services
        self.out = out
        self.merchant_id = merchant_id
        self.batch: list[AnalysedReview] = []
        self.last: StoredDraft | None = None

    def say(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    async def run(self, lines: AsyncIterator[str | None]) -> None:
        await self.services.store.get_or_create_merchant(self.merchant_id)
        self.say("店小二 xiaoer — 粘贴顾客评价（每行一条），或输入 /help 查看命令。")
        pending: list[str] = []
        it = aiter(lines)
        async for line in it:
            if line is None or not line.strip():
                if pending:
                    await self.guard(self.on_reviews("\n".join(pending)))
                    pending = []
                continue
            if line.startswith("/"):
                if pending:
                    await self.guard(self.on_reviews("\n".join(pending)))
                    pending = []
                if not await self.guard(self.on_command(line.strip(), it)):
                    return
                continue
            pending.append(line)
        if pending:
            await self.guard(self.on_reviews("\n".join(pending)))

    async def guard(self, work: object) -> bool:
        """Await a step; turn the project's errors into a message. False means quit."""
        try:
            return bool(await work) if work is not None else True  # type: ignore[misc]
        except (InputError, InvalidValue) as exc:
            self.say(f"⚠️ {exc}")
        except ModelLoadError as exc:
            self.say(f"❌ 模型加载失败：{exc}\n   运行 `xiaoer models verify` 检查，或在 .env 中换一个模型。")
        except EngineError as exc:
            self.say(f"⏳ {exc}")
        except NotFound as exc:
            self.say(f"⚠️ 找不到：{exc}")
        except StoreError as exc:
            self.say(f"❌ 数据库错误：{exc}")
        return True

    # -- reviews ----------------------------------------------------------------------------

    async def on_reviews(self, message: str) -> bool:
        self.say("🔎 分析中…")
        self.batch = await self.services.analyse(self.merchant_id, message, source="console")
        for i, r in enumerate(self.batch, 1):
            s = r.sentiment
            aspects = render.aspects_text("zh", s.aspects, dict(s.aspect_polarity))
            self.say(f"[{i}] {BADGE[s.label]} {s.confidence:.0%}  方面：{aspects}  {_short(r.text)}")
        order = sorted(range(len(self.batch)), key=lambda i: self.batch[i].sentiment.label != "negative")
        for i in order[:AUTO_REPLIES]:
            await self.reply(i + 1, None)
        if len(self.batch) > AUTO_REPLIES:
            self.say(f"（其余评价输入 /reply N 生成回复，N 为 1-{len(self.batch)}）")
        return True

    async def reply(self, number: int, tone: Tone | None) -> None:
        if not 1 <= number <= len(self.batch):
            raise InputError(f"没有第 {number} 条评价（最近一批共 {len(self.batch)} 条）")
        review = self.batch[number - 1]
        self.say(f"💬 回复 [{number}]：", end="")
        streamed: list[str] = []

        def show(piece: str) -> None:
            streamed.append(piece)
            self.say(piece, end="")

        drafts = await self.services.suggest_reply(self.merchant_id, review, tone, on_text=show)
        self.say()
        if drafts[0].draft.text.strip() != "".join(streamed).strip():
            # the writer keeps the candidate the checks like best and signs with the shop's 落款
            self.say(f"   ↳ 定稿：{drafts[0].draft.text}")
        self.last = drafts[0]
        self.show_findings(drafts[0].draft)

    def show_findings(self, draft: Draft) -> None:
        for f in draft.findings:
            mark = "❌" if f.severity == "error" else "⚠️"
            self.say(f"   {mark} {f.message}")
        if not draft.text:
            self.say("   （模型没有给出内容，可以用 /reply N 重试）")

    # -- commands ---------------------------------------------------------------------------

    async def on_command(self, line: str, lines: AsyncIterator[str | None]) -> bool:
        cmd, _, arg = line.partition(" ")
        arg = arg.strip()
        if cmd in ("/quit", "/exit"):
            self.say("再见！")
            return False
        if cmd == "/help":
            self.say(__doc__.split("\n\n", 1)[1] if __doc__ else "")
        elif cmd == "/reply":
            number, _, tone = arg.partition(" ")
            if not number.isdigit():
                raise InputError("用法：/reply N [语气]")
            await self.reply(int(number), _choice(tone.strip(), TONES, "tone") if tone.strip() else None)
        elif cmd in ("/accept", "/reject", "/edit"):
            await self.on_feedback(cmd, arg)
        elif cmd == "/copy":
            await self.on_copy(lines)
        elif cmd == "/settings":
            await self.on_settings(arg)
        elif cmd == "/strategy":
            summary, stored = await self.services.strategy(self.merchant_id)
            self.say("📊 " + summary.render())
            self.say("💡 建议：\n" + stored.draft.text)
            self.show_findings(stored.draft)
        elif cmd == "/history":
            for g in await self.services.store.history(self.merchant_id, limit=10):
                self.say(f"#{g.id} [{g.kind}] {_short(g.output_text, 60)}")
        else:
            self.say(f"未知命令 {cmd}，输入 /help 查看命令。")
        return True

    async def on_feedback(self, cmd: str, arg: str) -> None:
        if self.last is None:
            raise InputError("还没有可以反馈的回复。")
        if cmd == "/edit":
            if not arg:
                raise InputError("用法：/edit 修改后的回复")
            await self.services.feedback(self.merchant_id, self.last.generation_id, "edited", arg)
        else:
            action: FeedbackAction = "accepted" if cmd == "/accept" else "rejected"
            try:
                await self.services.feedback(self.merchant_id, self.last.generation_id, action)
            except DraftHasErrors as exc:
                self.say(render.accept_refusal("zh", "console.accept_has_errors", exc.findings))
                return
        self.say("✅ 已记录，可用于训练。")

    async def on_copy(self, lines: AsyncIterator[str | None]) -> None:
        async def ask(prompt: str) -> str:
            self.say(prompt, end="")
            async for line in lines:
                if line is not None:
                    return line.strip()
            raise InputError("输入已结束")

        name = await ask("商品名称：")
        points = await ask("卖点（用；或逗号分隔）：")
        specs = await ask("规格（如 容量=500ml；材质=304不锈钢，可留空）：")
        price = await ask("价格（可留空）：")
        audience = await ask("目标人群（可留空）：")
        platform = await ask(f"平台 {'/'.join(PLATFORMS)}（默认 generic）：") or "generic"
        length = await ask(f"长度 {'/'.join(LENGTHS)}（默认 medium）：") or "medium"
        facts = ProductFacts(
            name=name,
            selling_points=tuple(split_items(points)),
            specs=dict(spec_pair(s) for s in split_items(specs)),
            price=price,
            audience=audience,
        )
        self.say("✍️ 生成中…")
        plat: Platform = _choice(platform, PLATFORMS, "platform")
        size: Length = _choice(length, LENGTHS, "length")
        drafts = await self.services.write_copy(self.merchant_id, facts, plat, size)
        for i, d in enumerate(drafts, 1):
            self.say(f"—— 方案 {i} ——\n{d.draft.text}")
            self.show_findings(d.draft)
            if d.draft.ok:
                self.say("   ✅ 未发现编造的参数或违规用语")
        self.last = drafts[-1]

    async def on_settings(self, arg: str) -> None:
        store = self.services.store
        if arg:
            field, _, value = arg.partition(" ")
            if field not in PROFILE_FIELDS:
                raise InputError(f"可设置：{', '.join(PROFILE_FIELDS)}")
            key = "reply_language" if field == "language" else field
            await store.update_profile(self.merchant_id, **{key: value.strip()})
        p = await store.get_profile(self.merchant_id)
        self.say(
            f"店铺：{p.name}\n类目：{p.category or '—'}\n语气：{p.tone}\n落款：{p.signature or '—'}\n"
            f"售后政策：{p.policy}\n回复语言：{p.language}\n"
            f"（修改：/settings 字段 值，字段：{', '.join(PROFILE_FIELDS)}）"
        )


def _short(text: str, n: int = 40) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def _choice(value: str, options: tuple[T, ...], name: str) -> T:
    for option in options:
        if option == value:
            return option
    raise InputError(f"{name} 只能是 {' / '.join(options)}")
