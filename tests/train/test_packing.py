"""Prefix-shared packing: log-probs from packed rows equal those of each sequence run alone."""

from __future__ import annotations

import pytest
import torch

from followkit.train.data import TokenizedItem
from followkit.train.packing import block_attention_mask, collate, sequence_logps
from tests.helpers.train_support import tiny_llama_dir


def _item(key: str, prompts: list[list[int]], responses: list[list[int]], layout) -> TokenizedItem:
    return TokenizedItem(key=key, prompts=prompts, responses=responses, sequences=layout)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return tiny_llama_dir(tmp_path_factory.mktemp("models"))


IOPO = ((0, 0), (0, 1), (1, 1), (1, 0))
DPO = ((0, 0), (0, 1))


def test_block_mask_shape_and_pattern():
    # one row: pad, prompt(2), response 1 (2), response 2 (1)
    seg = torch.tensor([[-1, 0, 0, 1, 1, 2]])
    m = block_attention_mask(seg)[0, 0]
    assert m.shape == (6, 6)
    assert m[0].tolist() == [True, False, False, False, False, False]  # pad sees itself only
    assert m[4].tolist() == [False, True, True, True, True, False]  # response 1 sees prompt + itself
    assert m[5].tolist() == [False, True, True, False, False, True]  # response 2 is blind to response 1
    add = block_attention_mask(seg, torch.float32)[0, 0]
    assert add[5, 3] == torch.finfo(torch.float32).min and add[5, 2] == 0


def test_collate_layout_positions_and_slots():
    item = _item("g", [[11, 12, 13], [21, 22]], [[31, 32], [41]], IOPO)
    b = collate([item], packed=True, pad_id=0)
    # row 0: x1 | y1 | y2 (6 tokens, no pad); row 1: pad | x2 | y2 | y1
    assert b["input_ids"].tolist() == [[11, 12, 13, 31, 32, 41], [0, 21, 22, 41, 31, 32]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 4, 3], [0, 0, 1, 2, 2, 3]]
    assert b["segments"].tolist() == [[0, 0, 0, 1, 1, 2], [-1, 0, 0, 1, 2, 2]]
    # keep = 3 response tokens + 1: logits at columns 2..5 of each row (window index 0..3)
    assert int(b["keep"]) == 4
    assert b["targets"].tolist() == [31, 32, 41, 41, 31, 32]
    assert b["slots"].tolist() == [0, 0, 1, 2, 3, 3]
    # row 0: x1's last token (col 2 -> window 0) predicts y1[0] and y2[0]; y1[0] (col 3) predicts y1[1]
    # row 1: x2's last token (col 2 -> 4 + 0) predicts y2[0] and y1[0]; y1[0] (col 4 -> 4 + 2) predicts y1[1]
    assert b["predictors"].tolist() == [0, 1, 0, 4, 4, 6]
    assert b["lengths"].tolist() == [[2, 1, 1, 2]]


def _random_items(n_items: int) -> list[TokenizedItem]:
    g = torch.Generator().manual_seed(1)

    def ids(n: int) -> list[int]:
        return torch.randint(100, 4000, (n,), generator=g).tolist()

    shapes = [((23, 17), (9, 5)), ((8, 30), (12, 3)), ((15, 15), (1, 7))]
    return [
        _item(f"i{k}", [ids(a), ids(b)], [ids(c), ids(d)], IOPO)
        for k, ((a, b), (c, d)) in enumerate(shapes[:n_items])
    ]


def _direct_logps(model, items: list[TokenizedItem], dtype) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Each (prompt, response) run alone: no padding, no mask, full logits."""
    direct = torch.zeros(len(items), 4, dtype=dtype)
    per_token = {}
    for i, it in enumerate(items):
        for s, (p, r) in enumerate(it.sequences):
            seq = torch.tensor([it.prompts[p] + it.responses[r]])
            logits = model(input_ids=seq).logits[0].log_softmax(-1)
            n = len(it.prompts[p])
            per_token[i * 4 + s] = logits[n - 1 : -1].gather(-1, seq[0, n:, None]).squeeze(-1)
            direct[i, s] = per_token[i * 4 + s].sum()
    return direct, per_token


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logps_exact_in_float64_on_tiny_llama(tiny_llama, attn):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        tiny_llama, dtype=torch.float64, attn_implementation=attn
    ).eval()
    items = _random_items(3)
    with torch.no_grad():
        packed, _ = sequence_logps(model, collate(items, packed=True), 3, 4, eager=attn == "eager")
        unpacked, _ = sequence_logps(model, collate(items, packed=False), 3, 4, eager=attn == "eager")
        direct, _ = _direct_logps(model, items, torch.float64)
    # float64 (rotary tables stay fp32 in transformers, hence ~1e-8): any layout, position or
    # mask mistake moves a sum by far more
    assert torch.allclose(packed, direct, atol=1e-6, rtol=0), (packed - direct).abs().max()
    assert torch.allclose(unpacked, direct, atol=1e-6, rtol=0), (unpacked - direct).abs().max()


@pytest.mark.slow
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logps_equal_single_sequence_logps_on_embedded_model(attn):
    from transformers import AutoModelForCausalLM

    from followkit.models import embedded_dir

    model = AutoModelForCausalLM.from_pretrained(
        embedded_dir(), dtype=torch.float32, attn_implementation=attn
    )
    model.eval()
    items = _random_items(2)
    eager = attn == "eager"
    with torch.no_grad():
        packed_batch, unpacked_batch = collate(items, packed=True), collate(items, packed=False)
        packed, packed_tok = sequence_logps(model, packed_batch, 2, 4, eager=eager)
        unpacked, unpacked_tok = sequence_logps(model, unpacked_batch, 2, 4, eager=eager)
        direct, direct_tok = _direct_logps(model, items, torch.float32)
    # fp32, 30 layers: per-token log-probs (magnitude ~10-20) agree within 1e-5 absolute plus a
    # few ulps (5e-6 relative); sums of ~30 tokens near -100 carry a few ulps (~3e-5) of noise.
    for slot, want in direct_tok.items():
        got_packed = packed_tok[packed_batch["slots"] == slot]
        got_unpacked = unpacked_tok[unpacked_batch["slots"] == slot]
        assert torch.allclose(got_packed, want, atol=1e-5, rtol=5e-6), (slot, (got_packed - want).abs().max())
        assert torch.allclose(got_unpacked, want, atol=1e-5, rtol=5e-6)
    assert torch.allclose(packed, direct, atol=1e-4, rtol=0)
    assert torch.allclose(packed, unpacked, atol=1e-4, rtol=0)
