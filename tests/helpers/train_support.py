"""Shared helpers for the training tests (no tests here): a tiny random Llama with the embedded tokenizer."""

from __future__ import annotations

from pathlib import Path

DPO = "tests/fixtures/train_dpo.jsonl"
IOPO = "tests/fixtures/train_iopo.jsonl"
SFT = "tests/fixtures/train_sft.jsonl"


def tiny_llama_dir(root: Path, seed: int = 0) -> Path:
    """Save a 2-layer random Llama (SmolLM2's shape family and tokenizer) under root/tiny-llama."""
    from transformers import AutoTokenizer

    from followkit.models import embedded_dir

    out = root / "tiny-llama"
    if (out / "config.json").exists():
        return out
    tok = AutoTokenizer.from_pretrained(embedded_dir())
    return save_tiny_llama(tok, out, hidden=32, intermediate=64, max_positions=2048, seed=seed)


def save_tiny_llama(tok, out: Path, hidden: int, intermediate: int, max_positions: int, seed: int) -> Path:
    """Save a 2-layer random Llama of the given widths with `tok` (its vocabulary and special ids) to out."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
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
