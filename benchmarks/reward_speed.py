"""Reward speed: constraint rewards per 1,000 completions vs generating those completions (one GRPO step).

One command:  .venv/bin/python benchmarks/reward_speed.py [--prompts 8] [--generations 4] [--max-new-tokens 64]

What a GRPO step does before its update: sample G completions for each of P prompts, then reward
them. Here the embedded model (SmolLM2-135M-Instruct) samples G completions for P composed
instructions (``synth compose``, English, 1 to 3 constraints) in one batched ``generate`` call, and
``followkit.rewards`` rewards exactly those completions, strict (the default reward) and loose, after
a one-time warm-up on other text (the Punkt model and language profiles load; reported apart). Both times are scaled to 1,000 completions. A steadier reward figure comes
from 1,000 distinct completions (the generated ones with a numbered suffix line). Prints the data
sizes, the times, and the ratio reward time / generation time last.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=8, help="prompts P per step")
    ap.add_argument("--generations", type=int, default=4, help="completions G per prompt")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from followkit.models import load_causal_lm
    from followkit.rewards.rlvr import constraint_reward, make_constraint_reward
    from followkit.synth.compose import Composer
    from followkit.synth.seeds import load_seeds

    comp = Composer(load_seeds(), seed=args.seed, k="uniform:1-3", id_width=6)
    insts = [comp.compose_record(i) for i in range(args.prompts * 4)]
    insts = [r for r in insts if r.get("language", "en") == "en"][: args.prompts]
    model, tok = load_causal_lm("embedded")
    tok.padding_side = "left"
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": r["prompt"]}], tokenize=False, add_generation_prompt=True
        )
        for r in insts
    ]
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **batch,
            do_sample=True,
            temperature=1.0,
            max_new_tokens=args.max_new_tokens,
            num_return_sequences=args.generations,
            pad_token_id=tok.pad_token_id,
        )
    gen_s = time.perf_counter() - t0
    new = out[:, batch["input_ids"].shape[1] :]
    completions = [
        [{"role": "assistant", "content": t}] for t in tok.batch_decode(new, skip_special_tokens=True)
    ]
    n = len(completions)
    new_tokens = int((new != tok.pad_token_id).sum())
    constraints = [r["constraints"] for r in insts for _ in range(args.generations)]
    n_constraints = sum(len(c) for c in constraints)

    def timed(reward, comps, cons) -> tuple[float, list]:
        t = time.perf_counter()
        values = reward(comps, constraints=cons)
        return time.perf_counter() - t, values

    # One-time start-up (Punkt model, language profiles) on other text, reported apart.
    warm_s, _ = timed(
        constraint_reward, [[{"role": "assistant", "content": "Warm up. Now."}]] * n, constraints
    )
    strict_s, rewards = timed(constraint_reward, completions, constraints)
    loose_s, _ = timed(make_constraint_reward(loose=True), completions, constraints)
    reps = -(-1000 // n)
    many = [
        [{"role": "assistant", "content": f"{c[0]['content']}\n{k}"}]
        for k in range(reps)
        for c in completions
    ][:1000]
    many_cons = (constraints * reps)[:1000]
    many_s, _ = timed(constraint_reward, many, many_cons)

    per_k = 1000 / n
    print(
        f"data: {len(insts)} prompts x {args.generations} completions = {n} completions, "
        f"{n_constraints} constraint checks, {new_tokens} generated tokens (max {args.max_new_tokens} each)"
    )
    print(f"mean reward (fraction followed, strict): {sum(rewards) / n:.3f}")
    print(
        f"generation (SmolLM2-135M, CPU, one batch): {gen_s:.2f} s = {gen_s * per_k:.1f} s per 1,000 completions"
    )
    print(f"reward warm-up (once per process, other text): {warm_s * 1000:.1f} ms")
    print(f"reward strict, same completions: {strict_s * 1000:.1f} ms = {strict_s * per_k:.3f} s per 1,000")
    print(f"reward loose, same completions: {loose_s * 1000:.1f} ms = {loose_s * per_k:.3f} s per 1,000")
    print(f"reward strict, 1,000 distinct completions: {many_s:.3f} s")
    print(f"ratio reward time / generation time (strict, same completions): {strict_s / gen_s:.5f}")


if __name__ == "__main__":
    main()
