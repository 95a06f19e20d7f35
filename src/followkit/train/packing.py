"""Prefix-shared packing: each prompt once per row with all its responses after it.

A row is ``[prompt | response_1 | response_2 ...]``. Under the block attention mask built by
:func:`block_attention_mask`, every response token sees the prompt and, causally, its own
response, never another response; position ids restart after the prompt for each response, so
response k sees positions |x|, |x|+1, ... exactly as in its own unpacked sequence. The pair
(x1, y1), (x1, y2) then costs |x1| + |y1| + |y2| tokens instead of 2|x1| + |y1| + |y2|.

Rows are left-padded so that their responses end at the last column: every position whose
next token is a label then lies in the last ``keep`` columns, and the model computes logits
only there (transformers' ``logits_to_keep``), not over the prompt.

Batch layout produced by :func:`collate` (R rows, T columns, K = ``keep``):

- ``input_ids``, ``position_ids``: (R, T)
- ``segments``: (R, T) -1 padding, 0 prompt, k >= 1 response k of the row
- ``keep``: K, the number of trailing columns where logits are computed
- ``predictors``: (N,) for each of the N response tokens, the flat index (row * K + column in
  the window) of the position that predicts it; the prompt's last position predicts the first
  token of every response of its row
- ``targets``: (N,) the response tokens; ``slots``: (N,) the sequence each belongs to
  (item * sequences_per_item + sequence)
- ``lengths``: (E, S) response tokens per sequence (0 for the missing sequences of a general item)
- ``general``: (E,) True for a mixed-in general SFT item (followkit.train.mix), which has one
  sequence (slot item * S); S is the method's sequences per item
- ``ref_logps``: (E, S) when every preference item has them cached (0 for general items)
"""

from __future__ import annotations

from typing import Any

import torch

from followkit.train.data import TokenizedItem

Row = tuple[list[int], list[tuple[list[int], int]]]  # (prompt ids, [(response ids, slot)])


def item_rows(item: TokenizedItem, item_index: int, packed: bool, n_seq: int | None = None) -> list[Row]:
    """The rows of one item: one per distinct prompt when packed, else one per sequence.

    Slots are item_index * n_seq + sequence, n_seq the batch's sequences per item (default: the item's).
    """
    n_seq = n_seq or len(item.sequences)
    rows: list[Row] = []
    if packed:
        for p, prompt in enumerate(item.prompts):
            resp = [
                (item.responses[r], item_index * n_seq + s)
                for s, (pp, r) in enumerate(item.sequences)
                if pp == p
            ]
            rows.append((prompt, resp))
    else:
        for s, (p, r) in enumerate(item.sequences):
            rows.append((item.prompts[p], [(item.responses[r], item_index * n_seq + s)]))
    return rows


def collate(
    items: list[TokenizedItem], packed: bool = True, pad_id: int = 0, n_seq: int | None = None
) -> dict[str, torch.Tensor]:
    """Build one left-padded batch of packed (or unpacked) rows; see the module docstring.

    ``n_seq``: sequences per item in the layout (the method's; default: the most any item has).
    """
    n_seq = n_seq or max(len(it.sequences) for it in items)
    rows = [row for i, item in enumerate(items) for row in item_rows(item, i, packed, n_seq)]
    width = max(len(p) + sum(len(r) for r, _ in resp) for p, resp in rows)
    keep = max(sum(len(r) for r, _ in resp) for _, resp in rows) + 1
    n = len(rows)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((n, width), dtype=torch.long)
    segments = torch.full((n, width), -1, dtype=torch.long)
    predictors: list[int] = []
    targets: list[int] = []
    slots: list[int] = []
    for i, (prompt, resp) in enumerate(rows):
        total = len(prompt) + sum(len(r) for r, _ in resp)
        start = width - total
        end_prompt = start + len(prompt)
        input_ids[i, start:end_prompt] = torch.tensor(prompt)
        position_ids[i, start:end_prompt] = torch.arange(len(prompt))
        segments[i, start:end_prompt] = 0
        col = end_prompt
        for k, (r, slot) in enumerate(resp, start=1):
            input_ids[i, col : col + len(r)] = torch.tensor(r)
            position_ids[i, col : col + len(r)] = torch.arange(len(prompt), len(prompt) + len(r))
            segments[i, col : col + len(r)] = k
            # Response token j is predicted at the previous position of its own sequence: the
            # prompt's last token for j = 0 (shared by all the row's responses), token j - 1 after.
            cols = [end_prompt - 1, *range(col, col + len(r) - 1)]
            predictors += [i * keep + c - (width - keep) for c in cols]
            targets += r
            slots += [slot] * len(r)
            col += len(r)
    lengths = torch.zeros((len(items), n_seq), dtype=torch.long)
    for i, it in enumerate(items):
        for s, (_, r) in enumerate(it.sequences):
            lengths[i, s] = len(it.responses[r])
    batch: dict[str, Any] = {
        "input_ids": input_ids,
        "position_ids": position_ids,
        "segments": segments,
        "keep": torch.tensor(keep),
        "predictors": torch.tensor(predictors, dtype=torch.long),
        "targets": torch.tensor(targets, dtype=torch.long),
        "slots": torch.tensor(slots, dtype=torch.long),
        "lengths": lengths,
        "general": torch.tensor([it.general for it in items], dtype=torch.bool),
        "num_tokens": torch.tensor(int((segments >= 0).sum())),
    }
    # A general item needs no reference: a batch of general items only gets zeros (no reference pass).
    if all(it.ref_logps is not None for it in items if not it.general):
        batch["ref_logps"] = torch.tensor(
            [it.ref_logps if it.ref_logps is not None else [0.0] * n_seq for it in items], dtype=torch.float32
        )
    return batch


def block_attention_mask(segments: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """(R, 1, T, T) mask: causal, prompt visible to all, responses blind to each other.

    Boolean (True = attend) when ``dtype`` is None, which SDPA takes in any precision; additive
    (0 or the dtype's minimum) otherwise, which the eager attention needs. transformers passes
    a 4-D mask through unchanged. Padding positions attend only to themselves, so no row of the
    mask is empty (an all-masked row gives NaN in SDPA).
    """
    t = segments.size(1)
    causal = torch.ones(t, t, dtype=torch.bool, device=segments.device).tril()
    q = segments.unsqueeze(2)  # (R, T, 1) query segment
    k = segments.unsqueeze(1)  # (R, 1, T) key segment
    allowed = causal & (k >= 0) & ((k == 0) | (k == q))
    allowed |= torch.eye(t, dtype=torch.bool, device=segments.device)
    if dtype is None:
        return allowed.unsqueeze(1)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segments.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask.unsqueeze(1)


def sequence_logps(
    model: Any, batch: dict[str, torch.Tensor], n_items: int, n_seq: int, eager: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed response log-probs (E, S) of a collated batch, and the per-token log-probs (N,).

    The model runs over the packed rows with the block mask and explicit position ids; logits
    are computed only at the last K positions, where every label's predictor lies. ``eager``:
    the model uses the eager attention (it needs an additive mask).
    """
    keep = int(batch["keep"])
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point()) if eager else None
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=block_attention_mask(batch["segments"], dtype),
        position_ids=batch["position_ids"],
        logits_to_keep=keep,
        use_cache=False,
    )
    logits = out.logits[:, -keep:]
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # log-softmax in >= fp32
    window = logits.reshape(-1, logits.size(-1))  # (R * K, V), a view
    # Index scalars, not rows: copying the (N, V) predictor rows out would cost a full pass over
    # the logits (and another in backward); the window is almost all predictors anyway.
    predictors = batch["predictors"]
    token_logps = window[predictors, batch["targets"]] - window.logsumexp(-1)[predictors]
    flat = torch.zeros(n_items * n_seq, dtype=token_logps.dtype, device=token_logps.device)
    flat = flat.index_add(0, batch["slots"], token_logps)
    return flat.view(n_items, n_seq), token_logps
