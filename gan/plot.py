"""Training curves of a GAN run as a png (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from unsup_asr.io import atomic_write

PANELS = (
    ("adversarial losses", ("losses/d", "losses/g")),
    ("penalties", ("losses/gp", "losses/code", "losses/smooth")),
    ("charts", ("charts/d_real_acc", "charts/d_fake_acc", "charts/vocab_usage")),
)


def plot_curves(history: list[dict[str, float]], png_path: Path) -> Path:
    """Plot losses, penalties, charts and every ``eval/*`` metric of ``history`` against updates.

    One panel per group; the last panel holds the ``eval/*`` records (the selection score and
    whatever the evaluation hook logged) on a log scale. Written atomically to ``png_path``.
    """
    eval_keys = sorted({k for r in history for k in r if k.startswith("eval/")})
    fig, axes = plt.subplots(len(PANELS) + 1, 1, figsize=(8, 10), sharex=True)
    for ax, (title, keys) in zip(axes, (*PANELS, ("evaluation", tuple(eval_keys))), strict=True):
        for key in keys:
            points = [(r["step"], r[key]) for r in history if key in r]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, label=key, marker="." if title == "evaluation" else None)
        ax.set_title(title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if any(v > 0 for r in history for k, v in r.items() if k.startswith("eval/")):
        axes[-1].set_yscale("log")
    axes[-1].set_xlabel("updates")
    fig.tight_layout()
    atomic_write(png_path, lambda p: fig.savefig(p, format="png", dpi=80))
    plt.close(fig)
    return Path(png_path)


def plot_history(history: list[dict[str, float]], png_path: Path, *, title: str) -> Path:
    """Plot every ``losses/*`` and ``charts/*`` metric of ``history`` against ``step`` (one panel per
    prefix), written atomically to ``png_path``."""
    groups = [g for g in ("losses", "charts", "eval") if any(k.startswith(g + "/") for r in history for k in r)]
    fig, axes = plt.subplots(max(len(groups), 1), 1, figsize=(8, 3 + 2.5 * len(groups)), sharex=True, squeeze=False)
    for ax, group in zip(axes[:, 0], groups, strict=False):
        for key in sorted({k for r in history for k in r if k.startswith(group + "/")}):
            points = [(r["step"], r[key]) for r in history if key in r]
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, label=key, marker="." if len(points) < 30 else None)
        ax.set_title(f"{title}: {group}")
        ax.legend(fontsize=7)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    atomic_write(png_path, lambda p: fig.savefig(p, format="png", dpi=100))
    plt.close(fig)
    return png_path
