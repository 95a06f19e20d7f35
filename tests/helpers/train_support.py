"""Shared helpers for the training tests (no tests here): a tiny random Llama with the embedded tokenizer."""

from __future__ import annotations

from pathlib import Path

DPO = "tests/fixtures/train_dpo.jsonl"
IOPO = "tests/fixtures/train_iopo.jsonl"
SFT = "tests/fixtures/train_sft.jsonl"


def tiny_llama_dir(root: Path, seed: int = 0) -> Path:
    """Save a 2-layer random Llama (SmolLM2's shape family and tokenizer) under root/tiny-llama."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from followkit.models import embedded_dir

    out = root / "tiny-llama"
    if (out / "config.json").exists():
        return out
    tok = AutoTokenizer.from_pretrained(embedded_dir())
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
