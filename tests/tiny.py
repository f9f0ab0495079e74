"""Tiny models built from a config in the test: random weights, a character tokenizer, offline.

They exercise the real loading, placement, batching and generation code in seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    AutoModelForCausalLM,
    BertConfig,
    BertModel,
    Gemma3TextConfig,
    PreTrainedTokenizerFast,
)

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
# Enough characters for the prompts and test reviews; everything else maps to <unk>.
CHARS = sorted(
    set(
        "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然"
        "于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长"
        "儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果"
        "走将月十实向声车全信重三机工物气每并别真打太新比才便夫再书部水像眼等体却加电主界门利海受听表德少克代员许稜"
        "质量物流快递慢差评价服务态度包装颜色价格便宜贵退货款客满意喜欢谢感歉抱店铺回复语气亲切热情专业得体简洁明了诚恳致"
        "标题卖点描述商品信息规格容量人群其他平台淘宝京东杯保温不锈钢玻璃滤网茶上班族建议统计共条方面例售后政策免费补发运费"
        "，。！？：；、（）【】“”《》—…～ abcdefghijklmnopqrstuvwxyz0123456789#\n:%.-"
    )
)


def tiny_tokenizer(chat_template: str | None = None) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")  # one token per character
    tk.decoder = decoders.Fuse()  # characters join without spaces, as in Chinese text
    tk.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
    )
    if chat_template:
        tok.chat_template = chat_template
    return tok


def save_tiny_gemma(path: Path, seed: int = 0, chat_template: str | None = None) -> Path:
    torch.manual_seed(seed)
    tok = tiny_tokenizer(chat_template)
    cfg = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        layer_types=["sliding_attention", "full_attention"],
    )
    model = AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_tiny_encoder(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    tok = tiny_tokenizer()
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path
