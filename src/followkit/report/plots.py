"""The run report's pictures, as base64 PNG; matplotlib is imported only here, and only when drawing."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from followkit.core.stats import COUNT_BINS, Comparison
from followkit.report.views import EvalView, RunView, by_constraint_bin, comparisons, panel_label


def _pyplot():
    """matplotlib.pyplot, drawing off screen (imported here, when a picture is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_by_count(view: RunView) -> str | None:
    """Grouped bars: strict prompt accuracy by number of constraints, one bar per evaluation."""
    if not view.evals:
        return None
    plt = _pyplot()
    bins = [b for b in COUNT_BINS if any(b in by_constraint_bin(ev) for ev in view.evals)]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(1, len(view.evals))
    for i, ev in enumerate(view.evals):
        m = by_constraint_bin(ev)
        xs = [j + (i - (len(view.evals) - 1) / 2) * width for j in range(len(bins))]
        ys = [100 * m[b].value if b in m else 0 for b in bins]
        es = [100 * m[b].stderr if b in m and m[b].stderr == m[b].stderr else 0 for b in bins]
        ax.bar(xs, ys, width=width, yerr=es, capsize=2, label=ev.name)
    ax.set_xlabel("constraints per prompt")
    ax.set_ylabel("prompt-level accuracy (%)")
    ax.set_xticks(range(len(bins)), bins)
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_training(view: RunView) -> str | None:
    """Training curves: loss, reward accuracy and margin per method."""
    if not view.trains:
        return None
    plt = _pyplot()
    keys = [("loss", "loss"), ("rewards/accuracies", "reward accuracy"), ("rewards/margins", "reward margin")]
    if any("reward" in r for tv in view.trains for r in tv.steps):  # GRPO: the verifiable reward per step
        keys.append(("reward", "GRPO reward (constraints followed)"))
    fig, axes = plt.subplots(1, len(keys), figsize=(11, 3.2))
    for ax, (key, label) in zip(axes, keys, strict=True):
        for tv in view.trains:
            pts = [(r.get("step", i), r[key]) for i, r in enumerate(tv.steps) if key in r]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=tv.name)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return _png(fig)


def plot_differences(view: RunView) -> str | None:
    """The paired differences with their 95% intervals, one panel per benchmark: each method against
    the base, then method against method; prompt and instruction level side by side."""
    comps = comparisons(view)
    if not comps:
        return None
    plt = _pyplot()
    panels: dict[Path, list[tuple[EvalView, EvalView, Comparison]]] = {}
    for b, e, c in comps:
        panels.setdefault(e.path.parent, []).append((b, e, c))
    rows = max(len(v) for v in panels.values())
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 0.5 * rows + 1.6), sharey=False, squeeze=False
    )
    for ax, (_, group) in zip(axes[0], panels.items(), strict=True):
        labels = [f"{e.path.name} − {b.path.name}" for b, e, _ in group]
        for j, (_, _, c) in enumerate(group):
            y = len(group) - 1 - j
            for off, d, color, name in (
                (0.15, c.inst_diff, "#1f5fbf", "instruction level"),
                (-0.15, c.prompt_diff, "#d9822b", "prompt level"),
            ):
                ax.errorbar(
                    100 * d.diff,
                    y + off,
                    xerr=[[100 * (d.diff - d.lo)], [100 * (d.hi - d.diff)]],
                    fmt="o",
                    color=color,
                    capsize=3,
                    label=name if j == 0 else None,
                )
        ax.axvline(0, color="#555", lw=0.8)
        ax.set_yticks(range(len(group)), list(reversed(labels)), fontsize=8)
        ax.set_ylim(-0.6, len(group) - 0.4)
        ax.set_title(f"{panel_label(group[0][1])} · {group[0][2].n_prompts} prompts", fontsize=10)
        ax.set_xlabel("difference, points (95% CI)")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    return _png(fig)
