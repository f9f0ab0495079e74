"""Review sentiment: positive / neutral / negative with probabilities, plus the aspects mentioned.

Two modes, picked from the checkpoint itself:
- ``head``: a sequence-classification model whose ``config.id2label`` names our labels (what
  `xiaoer train classifier` produces); probabilities are the softmax of its logits;
- ``prototype``: any encoder (the bundled multilingual-e5-small before training): reviews and
  a few label descriptions are embedded (mean pooling, "query: " prefix as e5 expects) and
  the probabilities are a softmax over cosine similarities to each label's mean description.
  Zero training, honest and better than chance; the trained head replaces it.

A head-mode classifier may carry a lexical model beside it (nlp/lexical.py, saved in the same
adapter directory by `xiaoer train lexical`): its positive-vs-negative log-odds are combined with
the encoder's, with weights fitted on dev data; the neutral probability stays the encoder's.
The result is temperature-scaled (nlp/calibration.py, `calibration.json` beside them) and, in
binary mode (`labels="binary"`), reduced to positive vs negative.

Synchronous and pure; batched with dynamic padding (texts sorted by length so each batch pads
to its own longest review).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from nlp.aspects import detect_aspects
from nlp.calibration import Calibration
from nlp.config import ClassifierConfig
from nlp.lexical import LexicalModel
from nlp.loading import LoadedModel
from nlp.tagger import Tagger, aspect_polarity
from nlp.types import LABEL_POLARITY, LABELS, Label, Sentiment
from nlp.understand import split_clauses

PREFIX = "query: "
# Label descriptions for the zero-training mode, written for xiaoer. Several per label so the
# prototype is a direction in embedding space, not one sentence.
PROTOTYPES: dict[Label, tuple[str, ...]] = {
    "positive": (
        "好评，非常满意，会回购",
        "质量很好，物流很快，推荐购买",
        "东西不错，很喜欢，五星好评",
        "服务态度好，性价比高，满意",
        "味道很好，下次还来",
    ),
    "neutral": (
        "中评，一般般，还行吧",
        "东西还可以，没什么特别的",
        "有好有坏，马马虎虎",
        "凑合能用，不好不坏",
    ),
    "negative": (
        "差评，非常失望，不会再买",
        "质量太差，物流很慢，不推荐",
        "东西坏了，客服态度差，要退货",
        "垃圾，上当了，浪费钱",
        "味道难吃，送餐太慢了",
    ),
}
MAX_PADDING = 1.25  # a group's padded tokens stay within 125% of its real tokens
TEMPERATURE = 0.02  # cosine gaps between labels are small (~0.02-0.05): sharpen them


class Classifier:
    def __init__(
        self,
        loaded: LoadedModel,
        cfg: ClassifierConfig,
        lexical: LexicalModel | None = None,
        tagger: Tagger | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.loaded = loaded
        self.cfg = cfg
        self.tagger = tagger  # per-aspect polarity from clause tags; None: none given
        id2label = getattr(loaded.model.config, "id2label", None) or {}
        names = [str(id2label.get(i, "")).lower() for i in range(len(id2label))]
        has_head = hasattr(loaded.model, "score") or hasattr(loaded.model, "classifier")
        self.mode = "head" if has_head and names and set(names) <= set(LABELS) else "prototype"
        # column j of the head's logits -> our label (the checkpoint's order may differ)
        self._head_labels: list[Label] = (
            [next(lab for lab in LABELS if lab == n) for n in names] if self.mode == "head" else []
        )
        self.lexical = lexical if self.mode == "head" else None
        self.calibration = calibration if calibration is not None and self.mode == "head" else Calibration()
        self._prototypes: torch.Tensor | None = None

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        if not texts:
            return []
        probs = self.probabilities(texts)  # (N, 3) in LABELS order
        out = []
        for text, row in zip(texts, probs.tolist(), strict=True):
            p = {lab: float(v) for lab, v in zip(LABELS, row, strict=True)}
            label = max(LABELS, key=lambda lab: p[lab])
            out.append(Sentiment(label, p, detect_aspects(text)))
        return self._with_aspect_polarity(texts, out)

    def _with_aspect_polarity(self, texts: Sequence[str], results: list[Sentiment]) -> list[Sentiment]:
        """Each aspect's sign from the clauses that mention it, the review's label where none decides
        (dev: 0.934 of 319 hand-labelled aspects, the label alone 0.871); one tagger pass a batch."""
        todo = [i for i, s in enumerate(results) if s.aspects] if self.tagger is not None else []
        if self.tagger is None or not todo:
            return results
        clauses = [[texts[i][a:b] for a, b in split_clauses(texts[i])] for i in todo]
        tags = self.tagger.tag_many(clauses, "goods", [results[i].lean for i in todo])
        out = list(results)
        for i, review, review_tags in zip(todo, clauses, tags, strict=True):
            s = results[i]
            signs = aspect_polarity([detect_aspects(c) for c in review], review_tags)
            overall = LABEL_POLARITY[s.label]
            out[i] = replace(s, aspect_polarity=tuple((a, signs.get(a) or overall) for a in s.aspects))
        return out

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, 3) calibrated probabilities over LABELS (negative, neutral, positive); in binary
        mode neutral is 0."""
        probs = self.raw_probabilities(texts)
        if self.cfg.labels == "binary":
            return self.calibration.binary(probs)
        return self.calibration.three(probs)

    def raw_probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Encoder (+ lexical model) probabilities before calibration, three labels."""
        probs = self.encoder_probabilities(texts)
        if self.lexical is not None:
            probs = self.lexical.combiner.combine(probs, self.lexical.logits(texts))
        return probs

    def encoder_probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """The encoder's own (N, 3) probabilities, without the lexical model."""
        if self.mode == "head":
            logits = self._batched([PREFIX + t for t in texts], self._logits)  # as in training
            probs = torch.zeros(len(texts), len(LABELS))
            soft = logits.float().softmax(-1)
            for j, lab in enumerate(self._head_labels):
                probs[:, LABELS.index(lab)] = soft[:, j]
            return probs
        emb = self.embed(texts)  # (N, H)
        sims = emb @ self.prototypes().T  # (N, 3)
        return (sims / TEMPERATURE).softmax(-1)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised mean-pooled embeddings, (N, H) float32."""
        return self._batched([PREFIX + t for t in texts], self._pooled)

    def prototypes(self) -> torch.Tensor:
        if self._prototypes is None:
            rows = [
                torch.nn.functional.normalize(self.embed(PROTOTYPES[lab]).mean(0), dim=-1) for lab in LABELS
            ]
            self._prototypes = torch.stack(rows)  # (3, H)
        return self._prototypes

    # -- batching ---------------------------------------------------------------------------

    def _batched(
        self, texts: Sequence[str], fn: Callable[[dict[str, torch.Tensor]], torch.Tensor]
    ) -> torch.Tensor:
        """Run `fn` over length-sorted groups and return rows in input order.

        A group closes at `batch_size` texts or when padding would exceed MAX_PADDING of its
        real tokens, so a batch of mixed lengths is cut into a few tight groups instead of
        being padded to its longest review.
        """
        tok = self.loaded.tokenizer
        ids = tok(list(texts), truncation=True, max_length=self.cfg.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        groups: list[list[int]] = [[]]
        real = 0
        for i in order:
            group, n = groups[-1], len(ids[i])
            if group and (
                len(group) >= self.cfg.batch_size or (len(group) + 1) * n > MAX_PADDING * (real + n)
            ):
                groups.append([])
                group, real = groups[-1], 0
            group.append(i)
            real += n
        device = self.loaded.input_device
        parts = []
        for group in groups:
            enc = tok.pad({"input_ids": [ids[i] for i in group]}, return_tensors="pt")
            parts.append(fn({k: enc[k].to(device) for k in ("input_ids", "attention_mask")}))
        stacked = torch.cat(parts)
        out = torch.empty_like(stacked)
        out[torch.tensor(order)] = stacked
        return out

    def _pooled(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.inference_mode():
            hidden = self.loaded.model(**enc).last_hidden_state  # (B, T, H)
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()

    def _logits(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.inference_mode():
            logits: torch.Tensor = self.loaded.model(**enc).logits
        return logits.float().cpu()  # (B, num_labels)
