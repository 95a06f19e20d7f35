"""In-process vLLM on a GPU (`vllm:PATH`), behind the optional extra `followkit[vllm]`."""

from __future__ import annotations

import hashlib
from typing import Any

from followkit.backends.base import Backend, Chat, Completion, Progress, SamplingParams
from followkit.core.errors import BackendError

INSTALL_HINT = "pip install 'followkit[vllm]' on a machine with a CUDA GPU, or use hf:PATH / openai:NAME"


class VLLMBackend(Backend):
    """A local model folder served by vLLM's offline engine: chat generation and prompt log-probs.

    Options: tensor_parallel_size, gpu_memory_utilization, max_model_len, dtype.
    """

    kind = "vllm"

    def __init__(
        self,
        spec: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        dtype: str = "auto",
    ):
        from followkit.models import resolve_model_path

        path = resolve_model_path(spec)
        try:
            import vllm
        except ImportError as exc:
            raise BackendError(f"vllm is not installed ({exc}): {INSTALL_HINT}") from exc
        import torch

        if not torch.cuda.is_available():
            raise BackendError(f"vllm needs a CUDA GPU and none is visible: {INSTALL_HINT}")
        self._vllm = vllm
        self.path = path
        self.model_id = spec
        self.llm = vllm.LLM(
            model=str(path),
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
        )
        self.tok = self.llm.get_tokenizer()

    def _params(self, params: SamplingParams, seed: int | None) -> Any:
        greedy = params.temperature <= 0
        return self._vllm.SamplingParams(
            n=1 if greedy else params.n,
            temperature=params.temperature,
            top_p=1.0 if greedy else params.top_p,
            max_tokens=params.max_tokens,
            seed=seed,
            stop=list(params.stop) or None,
        )

    def complete(
        self, chats: list[Chat], params: SamplingParams, progress: Progress | None = None
    ) -> list[Completion]:
        prompts: list[str | None] = []
        out: list[Completion | None] = [None] * len(chats)
        for i, chat in enumerate(chats):
            try:
                prompts.append(self.tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
            except Exception as exc:  # a template that rejects this chat fails this item only
                prompts.append(None)
                out[i] = Completion(None, error=f"chat template: {type(exc).__name__}: {exc}")
        todo = [i for i, p in enumerate(prompts) if p is not None]
        if todo:
            # One vLLM SamplingParams per request: its seed makes each request reproducible on its own.
            sp = [self._params(params, params.seed) for _ in todo]
            results = self.llm.generate([prompts[i] for i in todo], sp, use_tqdm=False)
            for i, res in zip(todo, results, strict=True):
                texts = [o.text for o in res.outputs]
                out[i] = Completion(texts * params.n if params.temperature <= 0 else texts)
        if progress:
            progress(len(chats))
        return out  # type: ignore[return-value]

    def logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        """Log-prob of each response token given the templated chat, from vLLM's prompt_logprobs."""
        from vllm.inputs import TokensPrompt

        prompts, spans = [], []
        for chat, response in pairs:
            p = self.tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
            p_ids = self.tok(p, add_special_tokens=False)["input_ids"]
            r_ids = self.tok(response, add_special_tokens=False)["input_ids"] if response else []
            prompts.append(TokensPrompt(prompt_token_ids=p_ids + r_ids))
            spans.append((len(p_ids), r_ids))
        sp = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        results = self.llm.generate(prompts, sp, use_tqdm=False)
        out = []
        for res, (start, r_ids) in zip(results, spans, strict=True):
            per_pos = res.prompt_logprobs  # [None, {token_id: Logprob}, ...] per prompt position
            out.append([per_pos[start + k][tok].logprob for k, tok in enumerate(r_ids)])
        return out

    def chat_template_hash(self) -> str | None:
        template = getattr(self.tok, "chat_template", None)
        return hashlib.sha256(template.encode()).hexdigest() if template else None

    def cache_identity(self) -> str:
        """Cache namespace: vLLM's kernels differ from transformers', so its outputs get their own."""
        from followkit.backends.hf import folder_fingerprint

        return f"vllm:{folder_fingerprint(self.path, getattr(self.tok, 'chat_template', None))}"

    def close(self) -> None:
        del self.llm
