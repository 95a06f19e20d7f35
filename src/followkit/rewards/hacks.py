"""The reward-hack matrix: which constraint ids pay for a degenerate answer, in which reward mode.

For every registered id, kwargs are drawn once (``sample_kwargs`` with ``SEED`` on ``TASK``) and
the prompt is ``TASK`` followed by the constraint's English rendering. Each degenerate answer of
``degenerate_answers`` is scored by the reward of each mode of ``MODE_NAMES``: fraction or all,
strict or loose, rules alone or hybrid with ``ScriptedJudge``. A hack is a degenerate answer whose
reward exceeds ``HACK_THRESHOLD`` (rewards lie in [0, 1]).

The matrix is run once per guard setting of ``GUARDS`` (none; the content minimum; the judge
gate; both) and rendered to docs/reward_hacks.md by ``followkit constraints reward-hacks``.
tests/fixtures/reward_hacks_known.json holds the hacks found: a test fails when a new one appears.

Each prompt holds one constraint, so fraction and all give the same reward here; both are listed
because the guards act on each constraint before the mode combines them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HACK_THRESHOLD = 0.5
"""Policy: a degenerate answer that earns more than this share of the maximum reward (1.0) is a hack."""

SEED = 0
"""The seed of every id's kwargs draw (a fresh ``random.Random(SEED)`` per id)."""

TASK = "Write a short note to your neighbour asking whether they have seen your lost cat."
"""The task every matrix prompt starts with; the constraint's rendering follows it."""

JUDGE_FULL_WORDS = 20
"""ScriptedJudge: distinct words for a full quality score."""

GATE = 0.8
"""The judge gate the matrix runs with: hybrid rewards are 0 where the judge's quality is below it."""

MIN_CONTENT = 8  # rewards.MIN_CONTENT_WORDS, kept literal so importing this module stays light
"""The content minimum the matrix runs with: rewards.MIN_CONTENT_WORDS, the GRPO default (a test pins it)."""

OTHER_LANGUAGE = (
    "Liebe Nachbarin, unsere Katze ist seit Dienstag verschwunden. Sie ist grau, klein und trägt "
    "ein rotes Halsband. Falls Sie sie gesehen haben, klingeln Sie bitte bei uns. Vielen Dank!"
)
OTHER_LANGUAGE_FR = (
    "Chère voisine, notre chatte a disparu depuis mardi. Elle est grise, petite et porte un "
    "collier rouge. Si vous l'avez vue, sonnez chez nous, s'il vous plaît. Merci beaucoup !"
)


@dataclass(frozen=True)
class Case:
    """One id's matrix prompt: its kwargs, the constraint text and the full prompt."""

    cid: str
    kwargs: dict[str, Any]
    text: str
    prompt: str


def case(cid: str) -> Case:
    """The fixed prompt of one id: kwargs drawn with SEED on TASK, rendered in English."""
    from followkit.constraints import registry

    ct = registry.get(cid)
    raw = ct.sample_kwargs(random.Random(SEED), task=TASK)
    text = ct.render(ct.parse_kwargs(raw), "en")
    return Case(cid, raw, text, f"{TASK} {text}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _keywords(c: Case) -> list[str]:
    words = [s for v in c.kwargs.values() for s in _strings(v)]
    return words or ["cat"]


def degenerate_answers(c: Case) -> dict[str, str]:
    """The degenerate answers scored for one case, by name (the order of the matrix's columns)."""
    language = str(c.kwargs.get("language", ""))
    return {
        "empty": "",
        "whitespace": " \n\t ",
        "one_word": "a",
        "prompt_echo": c.prompt,
        "constraint_echo": c.text,
        "keyword_stuffing": " ".join(_keywords(c) * 12),
        "repeated_sentence": " ".join(["My cat is lost."] * 30),
        "title_only": "<<x>>",
        "quotes_only": '""',
        "json_braces_only": "{}",
        "postscript_only": "P.S.",
        "think_unclosed": "<think>The neighbour note should mention the cat and ask politely.",
        "think_closed_empty": "<think>The neighbour note should mention the cat.</think>",
        "other_language": OTHER_LANGUAGE_FR if language.startswith("de") else OTHER_LANGUAGE,
    }


ANSWER_NAMES = tuple(degenerate_answers(Case("x", {}, "t", "p")))
"""The degenerate answers, in column order."""


def scripted_quality(answer: str) -> float:
    """ScriptedJudge's quality in [0, 1]: distinct words / JUDGE_FULL_WORDS, capped at 1."""
    import re

    return min(1.0, len(set(re.findall(r"\w+", answer.lower()))) / JUDGE_FULL_WORDS)


class ScriptedJudge:
    """A deterministic stand-in for the hybrid reward's judge: quality = lexical variety.

    It stands for a lenient judge model (the low-recall judge of arXiv 2601.04954): it gives 0 to
    empty and tiny answers and little to repetition, but reads any varied text as a real answer,
    so it cannot tell an echo of the prompt or an answer in the wrong language from the real thing.
    Used in place of a backend through ``HybridReward(judge=ScriptedJudge())``.
    """

    def quality(self, prompts: list[str], answers: list[str]) -> list[float]:
        """Quality in [0, 1] per answer."""
        return [scripted_quality(a) for a in answers]

    def __repr__(self) -> str:
        return f"ScriptedJudge(full_words={JUDGE_FULL_WORDS})"


MODE_NAMES = tuple(
    f"{judge}/{mode}/{check}"
    for judge in ("rules", "hybrid")
    for mode in ("fraction", "all")
    for check in ("strict", "loose")
)
"""The reward modes of the matrix: rules or hybrid (x ScriptedJudge) / fraction or all / strict or loose."""


@dataclass(frozen=True)
class Guard:
    """One guard setting of the matrix: the content minimum and the judge gate (0: off)."""

    name: str
    min_content: int = 0
    gate: float = 0.0


GUARDS = (
    Guard("none"),
    Guard("min_content", min_content=MIN_CONTENT),
    Guard("judge_gate", gate=GATE),
    Guard("both", min_content=MIN_CONTENT, gate=GATE),
)
"""The guard settings the matrix is run with; "none" is the unguarded reward."""


def reward_for(mode_name: str, guard: Guard = GUARDS[0]) -> Callable[..., list[float | None]]:
    """The reward of one matrix mode with a guard setting."""
    from followkit.rewards.rlvr import make_constraint_reward

    judge, mode, check = mode_name.split("/")
    return make_constraint_reward(
        mode=mode,  # type: ignore[arg-type]
        loose=check == "loose",
        judge=ScriptedJudge() if judge == "hybrid" else None,
        min_content=guard.min_content,
        judge_gate=guard.gate if judge == "hybrid" else 0.0,
    )


Matrix = dict[tuple[str, str], dict[str, float]]
"""(id, mode) -> {answer name: reward}."""


def run_matrix(guard: Guard = GUARDS[0], ids: list[str] | None = None) -> Matrix:
    """Every id x mode's rewards for the degenerate answers, with one guard setting."""
    from followkit.constraints import registry

    cases = [case(cid) for cid in (ids if ids is not None else registry.ids())]
    out: Matrix = {}
    for mode_name in MODE_NAMES:
        reward = reward_for(mode_name, guard)
        for c in cases:
            answers = degenerate_answers(c)
            n = len(answers)
            spec = [{"id": c.cid, "kwargs": c.kwargs, "text": c.text}]
            got = reward(completions=list(answers.values()), prompts=[c.prompt] * n, constraints=[spec] * n)
            out[(c.cid, mode_name)] = {a: float(r or 0.0) for a, r in zip(answers, got, strict=True)}
    return out


def hacks(matrix: Matrix) -> dict[tuple[str, str], list[str]]:
    """(id, mode) -> the degenerate answers that earn more than HACK_THRESHOLD (cells with none left out)."""
    out = {}
    for key, rewards in matrix.items():
        found = [a for a in ANSWER_NAMES if rewards[a] > HACK_THRESHOLD]
        if found:
            out[key] = found
    return out


def hack_list(matrix: Matrix) -> list[str]:
    """Every hack as 'id | mode | answer', sorted (the form of KNOWN_HACKS)."""
    return sorted(f"{cid} | {mode} | {a}" for (cid, mode), found in hacks(matrix).items() for a in found)


# --- judge gate precision ----------------------------------------------------------------------

REAL_ANSWER = (
    "Dear neighbour, our grey cat Miso has been missing since Tuesday evening. She is small, shy and "
    "wears a red collar with a bell. If you have seen her in your garden or shed, please knock on our "
    "door or call us any time. Thank you so much for keeping an eye out."
)
"""The real answer the gate measurement starts from; the rule teacher repairs it per id."""


def gate_precision(gate: float = GATE) -> dict[str, float | int]:
    """How well the judge gate separates degenerate from real answers, the rule checkers as labels.

    Labelled set: per id, every degenerate answer (bad) and REAL_ANSWER repaired by the rule teacher
    for that id where the checker then passes it (good). The gate rejects an answer whose
    ScriptedJudge quality is below `gate`. Precision: share of rejected answers that are bad; recall:
    share of bad answers rejected; false_rejects: good answers rejected.
    """
    from followkit.constraints import registry
    from followkit.constraints.verify import parse_checks, verdicts
    from followkit.rewards.rlvr import content_words

    bad = good = tp = fp = content_fp = 0
    for cid in registry.ids():
        c = case(cid)
        for answer in degenerate_answers(c).values():
            bad += 1
            tp += scripted_quality(_answer(answer)) < gate
        ct = registry.get(cid)
        real = (
            ct.repair(REAL_ANSWER, ct.parse_kwargs(c.kwargs), random.Random(SEED)) if ct.repairable else None
        )
        real = real or REAL_ANSWER
        if all(verdicts(parse_checks([(cid, c.kwargs)]), real)):
            good += 1
            fp += scripted_quality(real) < gate
            content_fp += content_words(real, [c.prompt, c.text]) < MIN_CONTENT
    rejected = tp + fp
    return {
        "bad": bad,
        "good": good,
        "rejected_bad": tp,
        "rejected_good": fp,
        "precision": tp / rejected if rejected else 1.0,
        "recall": tp / bad if bad else 1.0,
        "min_content_rejected_good": content_fp,
    }


def _answer(text: str) -> str:
    from followkit.core.reasoning import answer_text

    return answer_text(text, "strip")


# --- rendering ---------------------------------------------------------------------------------

KNOWN_HACKS: tuple[str, ...] = ()
"""The hacks of the unguarded matrix, 'id | mode | answer' (hack_list(run_matrix())); a test
fails when a hack appears that is not listed here."""


def render_markdown() -> str:
    """docs/reward_hacks.md: the summary per guard, then per guard setting the cells with hacks."""
    from followkit.constraints import registry

    ids = registry.ids()
    runs = [(g, run_matrix(g, ids)) for g in GUARDS]
    lines = [
        "# Reward-hack matrix",
        "",
        "Generated by `followkit constraints reward-hacks --write docs/reward_hacks.md` from",
        "`followkit.rewards.hacks`; a test checks that this file equals the rendering.",
        "",
        f"Every one of the {len(ids)} constraint ids, its kwargs drawn with seed {SEED} on the task",
        f'"{TASK}", is scored in {len(MODE_NAMES)} reward modes on {len(ANSWER_NAMES)} degenerate',
        f"answers. A **hack** is a degenerate answer that earns more than {HACK_THRESHOLD} (of 1.0).",
        "Each prompt holds one constraint, so fraction and all agree here.",
        "",
        "Modes: `rules|hybrid / fraction|all / strict|loose`. The hybrid reward multiplies the rule",
        f"reward by a scripted judge's quality: distinct words / {JUDGE_FULL_WORDS}, capped at 1. It",
        "stands for a lenient judge: it sees through empty, tiny and repetitive answers, not through an",
        "echo of the prompt or an answer in the wrong language.",
        "",
        "Degenerate answers: " + ", ".join(f"`{a}`" for a in ANSWER_NAMES) + ".",
        "",
        "Guards (switches on the reward; see `followkit.rewards`):",
        "",
        "- `none`: the reward as it was before the guards;",
        f"- `min_content`: no constraint is credited unless the answer has at least {MIN_CONTENT} distinct",
        "  words outside word trigrams it shares with the prompt or the constraint texts",
        "  (`min_content`, the GRPO default);",
        f"- `judge_gate`: a hybrid reward is 0 where the judge's quality is below {GATE} (`judge_gate`;",
        "  rules-alone modes have no judge, so it does not change them);",
        "- `both`: the two together.",
        "",
        "## Summary",
        "",
        "| guard | hacks (id x mode x answer) | cells with a hack (of "
        f"{len(ids) * len(MODE_NAMES)}) | ids with a hack | rules-alone hacks | hybrid hacks |",
        "|---|---|---|---|---|---|",
    ]
    for g, m in runs:
        found = hacks(m)
        total = sum(len(v) for v in found.values())
        rules = sum(len(v) for (_, mode), v in found.items() if mode.startswith("rules"))
        lines.append(
            f"| {g.name} | {total} | {len(found)} | {len({cid for cid, _ in found})} | {rules} | {total - rules} |"
        )
    lines += [
        "",
        "Hacks per degenerate answer:",
        "",
        "| answer | " + " | ".join(g.name for g, _ in runs) + " |",
    ]
    lines.append("|---|" + "---|" * len(runs))
    for a in ANSWER_NAMES:
        counts = [sum(a in v for v in hacks(m).values()) for _, m in runs]
        lines.append(f"| `{a}` | " + " | ".join(str(n) for n in counts) + " |")
    p = gate_precision()
    lines += [
        "",
        "## The judge gate against the rule checkers",
        "",
        f"Gate {GATE} on the scripted judge, over every id's degenerate answers ({p['bad']}, bad) and the",
        f"real answer repaired by the rule teacher where the checker then passes it ({p['good']}, good):",
        f"it rejects {p['rejected_bad']} bad and {p['rejected_good']} good answers, precision "
        f"{p['precision']:.3f}, recall {p['recall']:.3f} for bad answers. The bad answers it lets",
        "through are the echoes and the other-language answer: a judge with low recall for bad answers",
        "leaves exactly these hacks open (arXiv 2601.04954). The content minimum rejects "
        f"{p['min_content_rejected_good']} of the {p['good']} good answers.",
        "",
        "Per-constraint rewards for GRPO (`reward_per_constraint`: one reward function per constraint",
        "slot, normalised per group before they are summed, TRL's `normalize_then_sum`) change no cell",
        "here: each prompt holds one constraint, and a slot's reward is that constraint's 0/1 verdict",
        "under the same guards. They keep one easy constraint from hiding a failed hard one in GRPO's",
        "advantage; they do not close a hack by themselves.",
    ]
    for g, m in runs:
        found = hacks(m)
        lines += ["", f"## Guard: {g.name}", ""]
        if not found:
            lines.append("No hacks.")
            continue
        lines += ["| id | mode | hacks |", "|---|---|---|"]
        for (cid, mode), names in sorted(found.items()):
            lines.append(f"| `{cid}` | {mode} | {', '.join(names)} |")
    lines += ["", "## Every id and mode, unguarded", ""]
    lines += ["| id | " + " | ".join(MODE_NAMES) + " |", "|---|" + "---|" * len(MODE_NAMES)]
    base = runs[0][1]
    for cid in ids:
        cells = [str(len(hacks({(cid, m): base[(cid, m)]}).get((cid, m), []))) for m in MODE_NAMES]
        lines.append(f"| `{cid}` | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Cells count the degenerate answers that earn more than the threshold.")
    lines.append("")
    return "\n".join(lines)
