"""Text generation: review replies, product copy and strategy notes.

Synchronous and pure: callers (the async Engine) run it on a worker thread. Works with
chat-template instruct models from the hub and with the bundled base model, which gets a
few-shot document instead (nlp/prompts.py). Every draft carries the checkers' findings.

Replies go through the safe-reply pipeline: understand the review (nlp/understand.py), plan
the reply within the shop's policy (nlp/plan.py), then the composer (nlp/compose.py) writes it.
With `reply_candidates` > 0 the model samples that many candidates too and the judge
(nlp/judge.py) shows the best one that keeps to the plan; when none does, the composer's draft
is shown. Each reply draft records `params["path"]` ("model" or "composer") and
`params["first_ok"]` (whether the first sampled candidate alone would have passed; None when the
model was not asked).

The model is either loaded here (`LoadedModel`, decoded with transformers) or served
(`RemoteModel`, an OpenAI-compatible server, nlp/remote.py): the same prompts, checks, judge and
best-of-k apply to both. Number grounding steers the local decoder token by token; a served
model's numbers are checked after writing (the checks flag any the sources do not hold). When a
served model cannot be reached, replies fall back to the composer and copy raises
`ModelUnavailable`.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextStreamer

from nlp import prompts
from nlp.checks import addresses_aspects, check_copy, check_reply, detect_language, lint_ad_claims
from nlp.compose import compose, sign_off
from nlp.config import WriterConfig
from nlp.digest import ReviewDigest
from nlp.errors import Cancelled, InputError, ModelUnavailable
from nlp.grounding import DigitVocab, NumberGrounding, numbers_in
from nlp.issues import domain_of
from nlp.judge import judge_reply, passes
from nlp.loading import LoadedModel
from nlp.plan import ReplyPlan, plan_reply, reply_sentiment
from nlp.policy import ParsedPolicy, parse_policy
from nlp.remote import RemoteModel
from nlp.tagger import Tagger
from nlp.types import Draft, DraftKind, Finding, Length, Platform, ProductFacts, Sentiment, ShopProfile, Tone
from nlp.understand import Understanding, understand

__all__ = [
    "CopyRequest",
    "OnText",
    "ReplyRequest",
    "Request",
    "StrategyRequest",
    "Writer",
    "clean",
    "drop_repeated_lines",
    "sign_off",
]

log = logging.getLogger(__name__)

COMPOSER_ID = "xiaoer-composer"  # the model_id of a reply the composer wrote

Prompt = str | list[dict[str, str]]
OnText = Callable[[str], None]


@dataclass(frozen=True)
class ReplyRequest:
    review: str
    sentiment: Sentiment
    profile: ShopProfile
    tone: Tone | None = None  # None: the shop's default tone
    n: int = 1
    understanding: Understanding | None = None  # None: understood here from review and sentiment


@dataclass(frozen=True)
class CopyRequest:
    facts: ProductFacts
    platform: Platform = "generic"
    length: Length = "medium"
    tone: Tone = "warm"
    n: int = 2


@dataclass(frozen=True)
class StrategyRequest:
    digest: ReviewDigest


Request = ReplyRequest | CopyRequest | StrategyRequest


@dataclass(frozen=True)
class _Planned:
    """What the writer knows about a review before any candidate is written."""

    understanding: Understanding
    policy: ParsedPolicy
    plan: ReplyPlan


@functools.lru_cache(maxsize=64)
def _parsed_policy(text: str) -> ParsedPolicy:
    return parse_policy(text)  # pure; a shop's policy changes rarely and is parsed once per text


class Writer:
    def __init__(
        self, loaded: LoadedModel | RemoteModel, cfg: WriterConfig, tagger: Tagger | None = None
    ) -> None:
        self.loaded = loaded
        self.cfg = cfg
        self.tagger = tagger  # None: a review's issues come from the lexicon alone
        if isinstance(loaded, RemoteModel):
            self.chat = loaded.chat
            self.shots = not loaded.adapter_id
            self.stop_ids: list[int] = []
            self.digits: DigitVocab | None = None
            return
        tok = loaded.tokenizer
        self.chat = getattr(tok, "chat_template", None) is not None
        # A base model with a trained adapter learnt the bare prompt; without one it needs examples.
        self.shots = not loaded.adapter_id
        stop_ids = {tok.eos_token_id}
        end_of_turn = (
            tok.convert_tokens_to_ids("<end_of_turn>") if "<end_of_turn>" in tok.get_vocab() else None
        )
        if isinstance(end_of_turn, int):
            stop_ids.add(end_of_turn)
        self.stop_ids = sorted(i for i in stop_ids if isinstance(i, int))
        self.digits = DigitVocab.of(tok) if cfg.ground_numbers else None

    # -- public API -------------------------------------------------------------------------

    def reply(
        self, req: ReplyRequest, on_text: OnText | None = None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        return self._run(req, on_text, cancel=cancel)

    def copy(
        self, req: CopyRequest, on_text: OnText | None = None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        return self._run(req, on_text, cancel=cancel)

    def strategy(
        self, req: StrategyRequest, on_text: OnText | None = None, cancel: threading.Event | None = None
    ) -> Draft:
        return self._run(req, on_text, cancel=cancel)[0]

    def generate(
        self, req: Request, on_text: OnText | None = None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        """Any request; `on_text` receives the first draft's text as it is produced."""
        return self._run(req, on_text, cancel=cancel)

    def stream(self, req: Request) -> Iterator[str]:
        """Yield text pieces of the first draft as they are generated (a reply: once, when chosen)."""
        pieces: queue.Queue[str | None] = queue.Queue()
        error: list[BaseException] = []

        def work() -> None:
            try:
                self._run(req, pieces.put)
            except BaseException as exc:  # surfaced in the consuming thread below
                error.append(exc)
            finally:
                pieces.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        while (piece := pieces.get()) is not None:
            yield piece
        thread.join()
        if error:
            raise error[0]

    # -- internals --------------------------------------------------------------------------

    def _run(
        self, req: Request, on_text: OnText | None, cancel: threading.Event | None = None
    ) -> list[Draft]:
        if isinstance(req, ReplyRequest):
            return self._reply(req, on_text, cancel)
        prompt, n, kind, params = self._prompt(req)
        _check_variants(n)
        stops = self._stops(kind)
        # Sample a few more drafts than asked for and keep the n the checks like best.
        sampled = max(n, self.cfg.candidates) if self.cfg.temperature > 0 else n
        start = time.perf_counter()
        texts, prompt_tokens, new_tokens = self._generate(
            prompt, sampled, on_text if n == 1 else None, cancel, stops, _sources(req)
        )
        seconds = time.perf_counter() - start
        drafts = [
            self._draft(req, kind, drop_repeated_lines(raw), params, (prompt_tokens, count, seconds))
            for raw, count in zip(texts, new_tokens, strict=True)
        ]
        ranked = sorted(drafts, key=lambda d: _demerits(req, d))  # stable: ties keep sampling order
        return ranked[:n]

    def _reply(
        self, req: ReplyRequest, on_text: OnText | None, cancel: threading.Event | None
    ) -> list[Draft]:
        """The composer's drafts, or the judged model candidates topped up with them.

        Nothing of a model candidate is streamed: the judge may discard it, and a merchant must
        not watch one reply being written and then get another. `on_text` gets the chosen one.
        The model's prompt is built only when the model is asked.
        """
        planned = self._plan(req)
        n = req.n
        _check_variants(n)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        tone = req.tone or req.profile.tone
        lang = req.profile.language if req.profile.language != "auto" else detect_language(req.review)
        params = {**self._sampling(), "tone": tone, "language": lang, "label": req.sentiment.label}
        start = time.perf_counter()
        sampled: list[Draft] = []
        k = max(n, self.cfg.reply_candidates) if self.cfg.reply_candidates else 0
        if k:
            prompt = self._reply_prompt(req, planned, tone, lang)
            try:
                texts, prompt_tokens, new_tokens = self._generate(
                    prompt, k, None, cancel, self._stops("reply"), _sources(req)
                )
            except ModelUnavailable as exc:  # the composer is the floor: the merchant still gets a reply
                log.warning("model candidates skipped, the composer writes this reply: %s", exc)
                texts, prompt_tokens, new_tokens = [], 0, []
            seconds = time.perf_counter() - start
            sampled = [
                self._draft(
                    req,
                    "reply",
                    sign_off(raw, req.profile.signature),
                    params,
                    (prompt_tokens, count, seconds),
                    planned,
                )
                for raw, count in zip(texts, new_tokens, strict=True)
            ]
        chosen = _choose(req, planned, sampled, n, params)
        if on_text is not None and chosen:
            on_text(chosen[0].text)
        return chosen

    def _draft(
        self,
        req: Request,
        kind: DraftKind,
        text: str,
        params: dict[str, Any],
        cost: tuple[int, int, float],
        planned: _Planned | None = None,
    ) -> Draft:
        """A model's draft with its findings; `cost` is (prompt tokens, new tokens, seconds)."""
        prompt_tokens, new_tokens, seconds = cost
        return Draft(
            kind=kind,
            text=text,
            findings=tuple(self._check(req, text, planned)),
            model_id=self.loaded.model_id,
            adapter_id=self.loaded.adapter_id,
            params=params,
            prompt_tokens=prompt_tokens,
            new_tokens=new_tokens,
            seconds=seconds,
        )

    def _plan(self, req: ReplyRequest) -> _Planned:
        if not req.review.strip():
            raise InputError("评价内容为空 / the review is empty")
        u = req.understanding or understand(req.review, reply_sentiment(req.sentiment))
        policy = _parsed_policy(req.profile.policy)
        tags = None
        if self.tagger is not None:
            domain = domain_of(req.profile.category)
            tags = self.tagger.tag([c.text for c in u.clauses], domain, req.sentiment.lean)
        tone = req.tone or req.profile.tone
        return _Planned(u, policy, plan_reply(u, policy, req.profile, tone, tags))

    def _sampling(self) -> dict[str, Any]:
        return {
            "temperature": self.cfg.temperature,
            "top_p": self.cfg.top_p,
            "repetition_penalty": self.cfg.repetition_penalty,
            "max_new_tokens": self.cfg.max_new_tokens,
        }

    def _reply_prompt(self, req: ReplyRequest, planned: _Planned, tone: Tone, lang: str) -> Prompt:
        s = req.sentiment
        args = (req.review, s.label, s.aspects, req.profile, tone, lang)
        # The bundled adapter learnt the bare prompt; only chat models are told the plan.
        if self.chat:
            return prompts.reply_chat(*args, plan=tuple(planned.plan.lines()))
        return prompts.reply_few_shot(*args, shots=self.shots)

    def _prompt(self, req: CopyRequest | StrategyRequest) -> tuple[Prompt, int, DraftKind, dict[str, Any]]:
        sampling = self._sampling()
        if isinstance(req, CopyRequest):
            if not req.facts.name.strip():
                raise InputError("请提供商品名称 / the product needs a name")
            cargs = (req.facts, req.platform, req.length, req.tone)
            p = prompts.copy_chat(*cargs) if self.chat else prompts.copy_few_shot(*cargs, shots=self.shots)
            return (
                p,
                req.n,
                "copy",
                {**sampling, "platform": req.platform, "length": req.length, "tone": req.tone},
            )
        summary = req.digest.render()
        p = prompts.strategy_chat(summary) if self.chat else prompts.strategy_few_shot(summary, self.shots)
        return p, 1, "strategy", sampling

    def _check(self, req: Request, text: str, planned: _Planned | None = None) -> list[Finding]:
        if isinstance(req, ReplyRequest):
            if planned is None:
                return check_reply(text, req.review, req.profile)
            return judge_reply(text, req.review, planned.plan, planned.policy, req.profile)
        if isinstance(req, CopyRequest):
            return check_copy(text, req.facts)
        return lint_ad_claims(text)

    def _encode(self, loaded: LoadedModel, prompt: Prompt) -> torch.Tensor:
        tok: Any = loaded.tokenizer  # the union transformers declares is too loose to index
        if isinstance(prompt, list):
            enc = tok.apply_chat_template(
                prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        else:
            enc = tok(prompt, return_tensors="pt")
        ids: torch.Tensor = enc["input_ids"]
        if ids.shape[1] > self.cfg.max_prompt_tokens:
            raise InputError(
                f"输入太长（{ids.shape[1]} tokens，上限 {self.cfg.max_prompt_tokens}），请缩短后再试"
            )
        return ids  # (1, T)

    def _stops(self, kind: DraftKind) -> tuple[str, ...]:
        # A few-shot reply is one paragraph: its line break is the end of the turn.
        return (*prompts.STOP_STRINGS, "\n") if kind == "reply" and not self.chat else prompts.STOP_STRINGS

    def _generate(
        self,
        prompt: Prompt,
        n: int,
        on_text: OnText | None,
        cancel: threading.Event | None = None,
        stops: tuple[str, ...] = prompts.STOP_STRINGS,
        sources: tuple[str, ...] | None = None,
    ) -> tuple[list[str], int, list[int]]:
        """n texts for `prompt` (cut at `stops`), the prompt's tokens, and each text's new tokens.

        `on_text` receives the first text as it is written, cut at the first stop.
        """
        if isinstance(self.loaded, RemoteModel):
            return self._generate_remote(self.loaded, prompt, n, on_text, cancel, stops)
        loaded = self.loaded
        tok = loaded.tokenizer
        ids = self._encode(loaded, prompt).to(loaded.input_device)
        sample = self.cfg.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.cfg.max_new_tokens,
            "do_sample": sample,
            "repetition_penalty": self.cfg.repetition_penalty,
            "num_return_sequences": n if sample else 1,
            "eos_token_id": self.stop_ids,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else self.stop_ids[0],
            "stop_strings": list(stops),
            "tokenizer": tok,
        }
        if sample:
            kwargs |= {"temperature": self.cfg.temperature, "top_p": self.cfg.top_p}
        if sources is not None and self.digits is not None:
            grounding = NumberGrounding(tok, self.digits, numbers_in(*sources), ids.shape[1])
            kwargs["logits_processor"] = LogitsProcessorList([grounding])
        if cancel is not None:
            kwargs["stopping_criteria"] = StoppingCriteriaList([_Cancelled(cancel)])
        if on_text is not None:
            streamer = _CallbackStreamer(tok, on_text, stops)
            kwargs["streamer"] = streamer if kwargs["num_return_sequences"] == 1 else _FirstRow(streamer)
        model: Any = loaded.model
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        new = out[:, ids.shape[1] :]  # (n, new_tokens)
        texts, counts = [], []
        for row in new:
            kept = [t for t in row.tolist() if t not in self.stop_ids and t != kwargs["pad_token_id"]]
            counts.append(len(kept))
            texts.append(clean(str(tok.decode(kept, skip_special_tokens=True)), stops))
        if not sample:  # greedy gives one answer; repeat so callers always get n drafts
            texts, counts = texts * n, counts * n
        return texts, int(ids.shape[1]), counts

    def _generate_remote(
        self,
        remote: RemoteModel,
        prompt: Prompt,
        n: int,
        on_text: OnText | None,
        cancel: threading.Event | None,
        stops: tuple[str, ...],
    ) -> tuple[list[str], int, list[int]]:
        gate = _StopFilter(stops)

        def on_piece(piece: str) -> None:
            if on_text is not None and (out := gate.feed(piece)):
                on_text(out)

        done = remote.complete(
            prompt,
            n,
            max_tokens=self.cfg.max_new_tokens,
            temperature=self.cfg.temperature,
            top_p=self.cfg.top_p,
            repetition_penalty=self.cfg.repetition_penalty,
            stops=stops,
            on_piece=on_piece if on_text is not None else None,
            cancel=cancel,
        )
        if on_text is not None and (rest := gate.flush()):
            on_text(rest)
        return [clean(t, stops) for t in done.texts], done.prompt_tokens, done.new_tokens


def _demerits(req: Request, draft: Draft) -> tuple[bool, int, bool, int]:
    """Sort key for candidate drafts: empty, errors, missed aspects (replies), warnings."""
    errors = sum(f.severity == "error" for f in draft.findings)
    misses = isinstance(req, ReplyRequest) and not addresses_aspects(draft.text, req.review)
    return not draft.text.strip(), errors, misses, len(draft.findings) - errors


def _check_variants(n: int) -> None:
    if not 1 <= n <= 5:
        raise InputError("variants must be between 1 and 5")


def _choose(
    req: ReplyRequest, planned: _Planned, sampled: list[Draft], n: int, params: dict[str, Any]
) -> list[Draft]:
    """The n best model candidates that pass the judge, topped up with the composer's drafts.

    Every sampled draft was judged against the plan (its findings include the judge's); the
    first sampled one's verdict is what a single sample would have given (None: no sample).
    """
    first_ok = bool(sampled[0].text.strip()) and passes(list(sampled[0].findings)) if sampled else None
    ranked = sorted(sampled, key=lambda d: _demerits(req, d))  # stable: ties keep sampling order
    chosen = [
        replace(d, params={**d.params, "path": "model", "first_ok": first_ok})
        for d in ranked
        if d.text.strip() and passes(list(d.findings))
    ][:n]
    template = sampled[0] if sampled else Draft(kind="reply", text="", model_id=COMPOSER_ID, params=params)
    seed = zlib.crc32(req.review.encode("utf-8"))
    texts = {d.text for d in chosen}
    attempt = 0
    while len(chosen) < n:
        text = compose(planned.plan, req.profile, planned.policy, req.review, seed=seed + attempt)
        attempt += 1
        if text in texts and attempt < 4 * n:
            continue  # a variant should differ from the others when the phrase bank allows
        texts.add(text)
        findings = judge_reply(text, req.review, planned.plan, planned.policy, req.profile)
        chosen.append(
            replace(
                template,
                text=text,
                findings=tuple(findings),
                params={**template.params, "path": "composer", "first_ok": first_ok},
            )  # tokens and seconds stay the model's: that is what this reply cost
        )
    return chosen


def _kind(req: Request) -> DraftKind:
    if isinstance(req, ReplyRequest):
        return "reply"
    return "copy" if isinstance(req, CopyRequest) else "strategy"


def _sources(req: Request) -> tuple[str, ...]:
    """The texts a draft may take numbers from.

    A reply takes numbers from the shop's policy, name and signature only, not from the review:
    "100" in "花了100元" must not become "给您100元" (nlp/promises.py reports such amounts too).
    """
    if isinstance(req, ReplyRequest):
        p = req.profile
        return (p.policy, p.name, p.signature)
    if isinstance(req, CopyRequest):
        return (req.facts.fact_text(),)
    return (req.digest.render(),)


def clean(text: str, stops: tuple[str, ...] = prompts.STOP_STRINGS) -> str:
    """Cut the continuation at the first stop marker and trim whitespace."""
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text.strip()


def drop_repeated_lines(text: str) -> str:
    """Small models loop: keep the first line for each heading ("标题：", "- 物流：") or text."""
    seen: set[str] = set()
    kept = []
    for line in text.splitlines():
        head = line.strip().lstrip("-•* ").split("：", 1)[0] if "：" in line else line.strip()
        if head and head in seen:
            continue
        seen.add(head)
        kept.append(line)
    return "\n".join(kept).strip()


class _StopFilter:
    """Passes streamed text through until a stop marker appears (the rest is the model's next example).

    A tail that could be the start of a marker ("#" of "###") is held back until the next piece
    shows whether it is one.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.seen = ""
        self.sent = 0  # characters of `seen` already passed on
        self.done = False

    def feed(self, piece: str) -> str:
        if self.done:
            return ""
        self.seen += piece
        cut = min((i for stop in self.stops if (i := self.seen.find(stop)) >= 0), default=-1)
        if cut >= 0:
            self.done = True
            return self._send(cut)
        hold = max(
            (k for stop in self.stops for k in range(1, len(stop)) if self.seen.endswith(stop[:k])),
            default=0,
        )
        return self._send(len(self.seen) - hold)

    def flush(self) -> str:
        return "" if self.done else self._send(len(self.seen))

    def _send(self, end: int) -> str:
        out = self.seen[self.sent : end] if end > self.sent else ""
        self.sent = max(self.sent, end)
        return out


class _CallbackStreamer(TextStreamer):
    """Hands decoded text to a callback as it is finalised (first sequence only)."""

    def __init__(self, tokenizer: Any, on_text: OnText, stops: tuple[str, ...]) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._on_text = on_text
        self._gate = _StopFilter(stops)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        out = self._gate.feed(text) + (self._gate.flush() if stream_end else "")
        if out:
            self._on_text(out)


class _FirstRow:
    """Streams only the first of several sequences sampled together (streamers take one)."""

    def __init__(self, streamer: Any) -> None:
        self.streamer = streamer

    def put(self, value: torch.Tensor) -> None:
        self.streamer.put(value[:1])

    def end(self) -> None:
        self.streamer.end()


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        done = torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )
        return done  # type: ignore[return-value]
