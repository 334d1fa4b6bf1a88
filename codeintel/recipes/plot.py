"""``training.png``: training loss and the dev selection metric against the step, best checkpoint marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeintel.io import save_figure


def plot_history(history: list[dict[str, Any]], losses: list[tuple[int, float]], metric: str, best_step: int,
                 baselines: dict[str, float], out: Path, title: str) -> Path:
    """Write the curves of one run; returns the PNG path. ``baselines``: name -> the selection metric of each
    trivial baseline on the same dev examples the curve is scored on (a dev curve is compared with dev numbers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_dev) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    if losses:
        steps, values = zip(*losses, strict=True)
        ax_loss.plot(steps, values, lw=0.6, alpha=0.35, color="tab:blue", label="per step")
        window = max(1, len(values) // 50)
        smooth = [sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
                  for i in range(len(values))]
        ax_loss.plot(steps, smooth, lw=1.6, color="tab:blue", label=f"mean of {window}")
        ax_loss.legend(frameon=False)
    ax_loss.set(xlabel="step", ylabel="training loss", title="loss")
    if history:
        xs, ys = [h["step"] for h in history], [h[metric] for h in history]
        ax_dev.plot(xs, ys, marker="o", ms=3, color="tab:green", label=f"dev {metric}")
        best = xs.index(best_step)
        ax_dev.scatter([xs[best]], [ys[best]], s=80, facecolors="none", edgecolors="black", zorder=3,
                       label=f"best (kept): {ys[best]:.4g}")
        for (name, value), style in zip(baselines.items(), ("--", ":", "-.", (0, (5, 1))), strict=False):
            ax_dev.axhline(value, ls=style, color="gray", label=f"dev baseline: {name} {value:.4g}")
        ax_dev.legend(frameon=False, fontsize=8)
    ax_dev.set(xlabel="step", ylabel=metric, title=f"dev {metric}")
    fig.suptitle(title)
    path = out / "training.png"
    save_figure(fig, path, dpi=110)
    return path
