"""Pictures of a robustness evaluation (:class:`hoodwink.evaluate.Report`).

* :func:`curve_figure`: robust accuracy against eps (the fixed budgets, and
  the curve from each image's smallest successful perturbation), and the
  accuracy after each attack of the ensemble, AutoAttack-style;
* :func:`classes_figure`: how often correctly classified images were fooled,
  per group of classes (dogs, cats, birds, ...) or per class;
* :func:`broken_figure`: clean and adversarial images side by side with their
  classes.

Example:
    >>> fig = curve_figure(report)                                   # doctest: +SKIP
    >>> save_figure(fig, "curve.png")                                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure

from hoodwink.viz.common import PALETTE, new_figure, show_image

if TYPE_CHECKING:
    from hoodwink.evaluate.run import Report
    from hoodwink.evaluate.suite import Evaluation


def curve_figure(report: Report) -> Figure:
    """Left: robust accuracy against eps; right: accuracy after each attack, per eps."""
    fig = new_figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    points = report.curve()
    xs = [p.eps * 255 for p in points]
    left.plot(xs, [p.robust_accuracy for p in points], "o-", color=PALETTE[0],
              label=f"{report.suite.name} suite at each eps")
    minimal = report.minimal_curve()
    if minimal:
        left.step([p.eps * 255 for p in minimal], [p.robust_accuracy for p in minimal],
                  where="post", color=PALETTE[1], alpha=0.8,
                  label="smallest adversarial found per image")
    left.set_xlabel("eps (x/255)")
    left.set_ylabel("robust accuracy (true labels)")
    left.set_ylim(-0.02, 1.02)
    left.set_title(f"clean accuracy {report.clean_accuracy:.1%}")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    steps = ["clean", *report.suite.labels]
    width = 0.8 / max(len(report.evaluations), 1)
    for k, evaluation in enumerate(report.evaluations):
        values = [v for _, v in evaluation.accuracy_after()]
        right.bar([i + k * width for i in range(len(steps))], values, width,
                  color=PALETTE[k % len(PALETTE)], label=f"eps {evaluation.threat.eps * 255:g}/255")
    right.set_xticks([i + width * (len(report.evaluations) - 1) / 2 for i in range(len(steps))],
                     ["clean", *[f"after {s}" for s in steps[1:]]], fontsize=8)
    right.set_ylim(0, 1.02)
    right.set_ylabel("accuracy")
    right.set_title("worst-case ensemble: accuracy after each attack")
    right.legend(fontsize=8, loc="lower left")
    return fig


def classes_figure(report: Report, evaluation: Evaluation | None = None, *, top: int = 12) -> Figure:
    """Share of correctly classified images fooled, per group (or per class when the model
    has no ImageNet groups), with the image counts."""
    evaluation = evaluation or report.evaluations[0]
    rows = report.groups(evaluation) or report.classes(evaluation)
    rows = [r for r in rows if r.correct][: max(top, 1) * 3]
    fig = new_figure(8, 0.45 * max(len(rows), 2) + 1.4)
    ax = fig.add_subplot()
    names = [f"{r.name} ({r.fooled}/{r.correct})" for r in rows]
    values = [r.fooled_rate or 0.0 for r in rows]
    colors = [PALETTE[3] if r.name == "dogs" else PALETTE[0] for r in rows]
    ax.barh(range(len(rows)), values, color=colors)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("fooled (share of correctly classified images)")
    eps = evaluation.threat.eps * 255
    title = f"fooled per {'group' if report.groups(evaluation) else 'class'} at eps {eps:g}/255"
    claim = next((c for c in report.dog_claims() if abs(c.eps_255 - round(eps, 4)) < 1e-6), None)
    if claim is not None and claim.holds is not None:
        title += "\n\"you can't fool a dog\": " + ("holds" if claim.holds else "does not hold")
    ax.set_title(title, fontsize=10)
    return fig


def broken_figure(pairs: Sequence[tuple[torch.Tensor, torch.Tensor, str, str]],
                  *, columns: int = 4) -> Figure:
    """Up to 16 broken images: (clean, adversarial, clean title, adversarial title) each."""
    pairs = list(pairs)[:16]
    rows = max(1, -(-len(pairs) // columns))
    fig = new_figure(1.8 * columns * 2, 2.3 * rows)
    axes = fig.subplots(rows, columns * 2, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (clean, adversarial, title_clean, title_adv) in enumerate(pairs):
        r, c = divmod(k, columns)
        show_image(axes[r][2 * c], clean, title_clean)
        show_image(axes[r][2 * c + 1], adversarial, title_adv)
    if not pairs:
        axes[0][0].text(0, 0.5, "no image was broken by an attack", fontsize=10)
    return fig


__all__ = ["broken_figure", "classes_figure", "curve_figure"]
