"""Writer SFT on a tiny Gemma: the prompt is masked, the dev loss falls, the adapter reloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer

from nlp.config import NLPConfig, WriterConfig
from nlp.models import load_writer
from nlp.types import Sentiment, ShopProfile
from nlp.writer import ReplyRequest
from training.train_writer import IGNORE, WriterTrainConfig, encode, render, train

REPLY = {
    "task": "reply",
    "review": "物流太慢了",
    "label": "negative",
    "tone": "apologetic",
    "profile": {"name": "小店", "policy": "质量问题包退换"},
    "response": "抱歉物流慢了，我们会催快递。",
}
COPY = {
    "task": "copy",
    "facts": {"name": "保温杯", "selling_points": ["不锈钢"], "specs": {"容量": "500ml"}},
    "platform": "taobao",
    "length": "short",
    "tone": "warm",
    "response": "标题：保温杯\n卖点：不锈钢",
}


def examples(n: int) -> list[dict[str, Any]]:
    return [dict(REPLY, response=REPLY["response"]) if i % 2 else dict(COPY) for i in range(n)]


def test_prompt_tokens_are_masked_and_the_prompt_is_the_writers(tiny_gemma_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_gemma_dir)
    prompt, response = render(REPLY)
    assert "范例" not in prompt  # the trained prompt carries no examples
    assert prompt.rstrip().endswith("客服回复：")
    row = encode(tok, prompt, response, max_length=1000)
    assert row is not None
    n_prompt = len(tok(prompt)["input_ids"])
    assert row["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert row["labels"][n_prompt:] == row["input_ids"][n_prompt:]
    assert row["input_ids"][-1] == tok.eos_token_id
    assert encode(tok, prompt, response, max_length=10) is None  # too long: skipped, never cut


def test_tiny_sft_lowers_dev_loss_and_the_adapter_reloads(tiny_gemma_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "writer"
    cfg = WriterTrainConfig(
        base=tiny_gemma_dir,
        out=out,
        epochs=12,
        batch_size=4,
        grad_accum=1,
        lr=5e-3,
        eval_every=4,
        patience=100,
        lora_r=8,
        max_length=1024,
    )
    summary = train(cfg, examples(8), examples(2))
    history = summary["history"]
    assert isinstance(history, list)
    # a 32-wide random model learns slowly, but steadily: ~5.9 -> ~5.4 nats in 24 steps
    assert float(summary["best_dev_loss"]) < history[0]["dev_loss"] - 0.3  # type: ignore[arg-type]
    assert (out / "adapter_config.json").is_file() and (out / "tokenizer.json").is_file()

    nlp = NLPConfig(
        writer=WriterConfig(
            model=str(tiny_gemma_dir),
            adapter=str(out),
            dtype="float32",
            temperature=0.0,
            max_new_tokens=8,
            reply_candidates=1,
        )
    )
    writer = load_writer(nlp)
    assert writer.loaded.adapter_id == "writer" and writer.shots is False
    req = ReplyRequest(
        "物流太慢了",
        Sentiment("negative", {"negative": 1.0, "neutral": 0.0, "positive": 0.0}),
        ShopProfile(name="小店"),
    )
    first, again = writer.reply(req)[0], load_writer(nlp).reply(req)[0]
    assert first.text == again.text and first.adapter_id == "writer"
    plain = load_writer(
        NLPConfig(
            writer=WriterConfig(
                model=str(tiny_gemma_dir), dtype="float32", max_new_tokens=8, reply_candidates=1
            )
        )
    )
    assert plain.shots is True
    assert plain.reply(req)[0].prompt_tokens > first.prompt_tokens  # few-shot examples only without adapter
    assert torch.cuda.is_available() or summary["mixed_precision"] == "no"
