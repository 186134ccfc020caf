"""Why it works, drawn: the logits along ``x + e * sign(gradient)`` (Goodfellow et al. 2015, figure 4).

The sweep itself is measured by :func:`hoodwink.linearity.linearity_sweep`.

Example:
    >>> import torch
    >>> from hoodwink import wrap, Labels
    >>> from hoodwink.linearity import linearity_sweep
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 3))
    >>> model = wrap(net, Labels.from_names(["a", "b", "c"]), input_size=(4, 4),
    ...              mean=(0, 0, 0), std=(1, 1, 1))
    >>> fig = linearity_figure(linearity_sweep(model, torch.rand(3, 4, 4), eps=0.1, points=5))
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

from matplotlib.figure import Figure

from hoodwink.linearity import LinearitySweep
from hoodwink.viz.common import PALETTE, new_figure, pixels


def linearity_figure(sweep: LinearitySweep, *, title: str | None = None) -> Figure:
    """Two panels with a shared y axis: logits along sign(gradient) (with the tangent of
    the source class dashed) and along a random +-1 direction of the same size."""
    fig = new_figure(11.0, 4.2)
    left, right = fig.subplots(1, 2, sharey=True)
    e = (sweep.eps * 255).numpy()
    verb = "more" if sweep.toward else "less"
    for k, name in enumerate(sweep.names):
        colour = PALETTE[k % len(PALETTE)]
        left.plot(e, sweep.logits[:, k].numpy(), color=colour, label=name, linewidth=1.8)
        right.plot(e, sweep.random_logits[:, k].numpy(), color=colour, label=name, linewidth=1.8)
    k = sweep.classes.index(sweep.source)
    middle = len(e) // 2
    tangent = sweep.logits[middle, k] + sweep.slopes[k] * sweep.eps
    left.plot(e, tangent.numpy(), "k--", linewidth=1.0, label=f"tangent ({sweep.source_name})")
    low, high = float(sweep.logits.min()), float(sweep.logits.max())
    pad = 0.1 * (high - low or 1.0)
    left.set_ylim(low - pad, high + pad)
    left.set_title(f"along sign(gradient): {verb} like {sweep.source_name} for e > 0", fontsize=10)
    right.set_title("along a random +-1 direction of the same size", fontsize=10)
    left.set_ylabel("logit")
    for ax in (left, right):
        ax.axvline(0.0, color="gray", linewidth=0.6)
        ax.set_xlabel("e (in 1/255 steps of every pixel)")
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    left.legend(fontsize=8, loc="best", framealpha=0.8)
    fig.suptitle(title or f"why it works: logits along x + e * sign(gradient), e from -{pixels(float(sweep.eps[-1]))}"
                 f" to +{pixels(float(sweep.eps[-1]))}", fontsize=11)
    return fig
