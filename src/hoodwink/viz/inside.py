"""Figures for :mod:`hoodwink.inside`: a neuron, a dense layer, a convolution, feature maps,
feature visualisation, DeepDream, style transfer, and the photos a network cannot name.

Each function takes a result (plain data from :mod:`hoodwink.inside`) and returns a
matplotlib :class:`~matplotlib.figure.Figure`; :func:`hoodwink.viz.common.save_figure`
writes it.

Example:
    >>> from hoodwink.inside.neuron import concert
    >>> fig = neuron_figure(concert())
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from hoodwink.viz.common import as_hwc, new_figure, percent, show_image

if TYPE_CHECKING:
    from hoodwink.inside.bias import Unseen
    from hoodwink.inside.conv import ConvolutionExplained
    from hoodwink.inside.dream import Dream
    from hoodwink.inside.features import Visualization
    from hoodwink.inside.look import InsideResult
    from hoodwink.inside.neuron import DenseLayer, Neuron
    from hoodwink.inside.style import Stylized

_DIVERGING = "RdBu_r"


def _symmetric(values: np.ndarray) -> float:
    return float(np.abs(values).max()) or 1.0


def neuron_figure(n: Neuron) -> Figure:
    """The concert neuron: the weighted sum, the activations, and its decision boundary."""
    from hoodwink.inside.neuron import sigmoid

    fig = new_figure(13, 4)
    ax_sum, ax_act, ax_bound = fig.subplots(1, 3, width_ratios=[1.3, 1, 1])
    y = np.arange(len(n.factors))[::-1]
    ax_sum.barh(y, n.products, color="#1f77b4")
    for yi, s, w, p in zip(y, n.scores, n.weights, n.products):
        ax_sum.text(p, yi, f" {s:g} x {w:g} = {p:g}", va="center", fontsize=9)
    ax_sum.set_yticks(y, n.factors, fontsize=9)
    ax_sum.set_xlim(0, max(n.products) * 1.45 or 1.0)
    ax_sum.set_xlabel("score x importance")
    ax_sum.set_title(f"sum {n.total:g} - threshold {-n.bias:g} = z = {n.z:g}", fontsize=10)
    z = np.linspace(-10, 10, 201)
    ax_act.plot(z, (z > 0).astype(float), label="step (go or not)")
    ax_act.plot(z, 1 / (1 + np.exp(-z)), label="sigmoid (how sure)")
    ax_act.plot(z, np.maximum(z, 0) / 10, label="ReLU / 10 (by how much)")
    ax_act.axvline(n.z, color="k", ls=":", lw=1)
    ax_act.set_xlabel("z = weighted sum + bias")
    ax_act.set_title(f"step {n.activations['step']:g}, sigmoid {n.activations['sigmoid']:.3f}, "
                     f"ReLU {n.activations['relu']:g}", fontsize=10)
    ax_act.legend(fontsize=8, loc="upper left")
    # Decision boundary over the first two factors, the others held at their scores.
    a, b = np.meshgrid(np.linspace(0, 10, 101), np.linspace(0, 10, 101))
    rest = sum(n.products[2:])
    zz = a * n.weights[0] + b * n.weights[1] + rest + n.bias
    image = np.vectorize(sigmoid)(zz)
    ax_bound.contourf(a, b, image, levels=20, cmap="RdYlGn", vmin=0, vmax=1)
    ax_bound.contour(a, b, zz, levels=[0], colors="k", linewidths=2)
    ax_bound.plot([n.scores[0]], [n.scores[1]], "k*", ms=14)
    ax_bound.set_xlabel(n.factors[0])
    ax_bound.set_ylabel(n.factors[1])
    ax_bound.set_title("decision boundary: go (green) or stay (red)", fontsize=10)
    fig.suptitle("A neuron: should I go to the concert?  "
                 f"{'Go!' if n.go else 'Stay home.'}", fontsize=12)
    return fig


def dense_figure(d: DenseLayer) -> Figure:
    """A digit, the ten weight templates W[:, j] with their dot products, and the softmax."""
    fig = new_figure(14, 4.2)
    grid = fig.add_gridspec(2, 11, height_ratios=[1, 1])
    ax = fig.add_subplot(grid[:, 0:2])
    show_image(ax, torch.from_numpy(d.image)[None].float(), "the digit (784 pixels)")
    side = round(math.sqrt(d.W.shape[0]))
    for j in range(min(10, d.W.shape[1])):
        axj = fig.add_subplot(grid[j // 5, 2 + j % 5])
        template = d.W[:, j].reshape(side, side)
        axj.imshow(template, cmap=_DIVERGING, vmin=-_symmetric(d.W), vmax=_symmetric(d.W))
        axj.set_xticks([])
        axj.set_yticks([])
        weight = "bold" if j == d.predicted else "normal"
        axj.set_title(f"W[:, {j}]  class {d.classes[j]}\ndot + b = {d.dense[j]:.2f}", fontsize=8,
                      fontweight=weight)
    ax_p = fig.add_subplot(grid[:, 7:11])
    colors = ["#d62728" if j == d.predicted else "#1f77b4" for j in range(len(d.classes))]
    ax_p.bar(range(len(d.classes)), d.probabilities, color=colors)
    ax_p.set_xticks(range(len(d.classes)), d.classes)
    ax_p.set_ylim(0, 1)
    ax_p.set_title(f"softmax(dense): {d.classes[d.predicted]} {percent(float(d.probabilities[d.predicted]))}"
                   f"  (network's own logits differ by {float(np.abs(d.dense - d.logits).max()):.1e})",
                   fontsize=9)
    fig.suptitle("A dense layer is ten neurons: dense[j] = np.dot(input, W[:, j]) + b[j]", fontsize=12)
    return fig


def _draw_convolution(fig: Figure, c: ConvolutionExplained, grid: object, row: int) -> None:
    """Image with the patch | patch | kernel per channel | products | output map, on ``grid[row]``."""
    gs = grid  # a GridSpec with at least 8 columns
    ax = fig.add_subplot(gs[row, 0:2])  # type: ignore[index]
    show_image(ax, c.image, "the image, and the patch")
    top, left, kh, kw = c.box
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), kw, kh, fill=False, ec="yellow", lw=2))
    ax.add_patch(Rectangle((left - 8.5, top - 8.5), kw + 16, kh + 16, fill=False, ec="yellow", lw=1, ls=":"))
    patch = c.patch.numpy()
    ax_p = fig.add_subplot(gs[row, 2])  # type: ignore[index]
    if c.patch_pixels is not None:
        show_image(ax_p, c.patch_pixels, f"patch {kh}x{kw}x{patch.shape[0]} (pixels)")
    else:
        shown = (patch - patch.min()) / (np.ptp(patch) or 1.0)
        show_image(ax_p, torch.from_numpy(shown), f"patch {kh}x{kw}x{patch.shape[0]} (rescaled)")
    kernel = c.kernel.numpy()
    limit = _symmetric(kernel)
    names = ("R", "G", "B") if kernel.shape[0] == 3 else tuple(str(i) for i in range(kernel.shape[0]))
    for i in range(min(3, kernel.shape[0])):
        axk = fig.add_subplot(gs[row, 3 + i])  # type: ignore[index]
        axk.imshow(kernel[i], cmap=_DIVERGING, vmin=-limit, vmax=limit)
        for (yy, xx), w in np.ndenumerate(kernel[i]):
            if kernel.shape[-1] <= 5:
                axk.text(xx, yy, f"{w:.2f}\nx{patch[i, yy, xx]:.2f}", ha="center", va="center", fontsize=6)
        axk.set_xticks([])
        axk.set_yticks([])
        axk.set_title(f"kernel {names[i]}: sum {float((kernel[i] * patch[i]).sum()):+.2f}", fontsize=8)
    ax_o = fig.add_subplot(gs[row, 6:8])  # type: ignore[index]
    out = c.output.numpy()
    ax_o.imshow(out, cmap="magma")
    ax_o.plot([c.position[1]], [c.position[0]], "o", mfc="none", mec="cyan", ms=10, mew=2)
    ax_o.set_xticks([])
    ax_o.set_yticks([])
    ax_o.set_title(f"{c.layer} channel {c.channel}: output map", fontsize=8)
    sums = " ".join(f"{float((kernel[i] * patch[i]).sum()):+.2f}" for i in range(kernel.shape[0])) \
        if kernel.shape[0] <= 4 else f"{float(c.products.sum()):+.2f}"
    ax_o.set_xlabel(f"{sums} {c.bias:+.2f} (bias) = {c.value:.2f}\nthe map at the circle: "
                    f"{float(c.output[c.position]):.2f}", fontsize=8)


def convolution_figure(c: ConvolutionExplained) -> Figure:
    """One kernel on the image itself: the patch, the kernel, multiply and sum, the output map."""
    fig = new_figure(15, 3.4)
    grid = fig.add_gridspec(1, 8)
    _draw_convolution(fig, c, grid, 0)
    fig.suptitle(f"A convolution: the kernel slides over the image (stride {c.stride[0]}); at each place, "
                 "multiply by the patch and add up", fontsize=11)
    return fig


def _feature_row(fig: Figure, grid: object, row: int, maps: torch.Tensor, channels: tuple[int, ...],
                 label: str, columns: int) -> None:
    for k in range(min(columns, len(channels))):
        ax = fig.add_subplot(grid[row, k])  # type: ignore[index]
        if maps.numel():
            ax.imshow(maps[k].numpy(), cmap="viridis")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"ch {channels[k]}", fontsize=7)
        if k == 0:
            ax.set_ylabel(label, fontsize=8)


def inside_figure(result: InsideResult, columns: int = 8) -> Figure:
    """The convolution explained on the image, then the strongest feature maps of each layer."""
    rows = len(result.layers) + (1 if result.convolution is not None else 0)
    fig = new_figure(15, 1.9 * rows + (1.5 if result.convolution is not None else 0))
    grid = fig.add_gridspec(max(rows, 1), columns,
                            height_ratios=([1.8] if result.convolution is not None else []) + [1] * len(result.layers))
    offset = 0
    if result.convolution is not None:
        _draw_convolution(fig, result.convolution, grid, 0)
        offset = 1
    for r, layer in enumerate(result.layers):
        c, *rest = layer.shape[1:] or (0,)
        size = "x".join(str(s) for s in rest)
        _feature_row(fig, grid, r + offset, layer.maps, layer.channels,
                     f"{layer.name}\n{c} ch, {size}", columns)
    top = result.predictions[0] if result.predictions else None
    said = f"; it says {top.name} ({percent(top.probability)})" if top else ""
    fig.suptitle(f"Inside {result.model} ({result.parameters:,} parameters){said}. Top: one kernel of the first "
                 "layer on the image; below: the strongest feature maps, early layers to late", fontsize=11)
    return fig


def visualization_figure(v: Visualization) -> Figure:
    """The image that excites the target, and the objective over the steps."""
    fig = new_figure(10, 5)
    ax_img, ax_curve = fig.subplots(1, 2, width_ratios=[1.4, 1])
    show_image(ax_img, v.image)
    said = ", ".join(f"{p.name} {percent(p.probability)}" for p in v.predictions[:2])
    ax_img.set_title(f"what excites {v.target.describe()} most" + (f"\nthe network says: {said}" if said else ""),
                     fontsize=10)
    ax_curve.plot(np.arange(1, len(v.objective) + 1), v.objective)
    ax_curve.set_xlabel("step")
    ax_curve.set_ylabel("logit" if v.target.layer is None else "mean activation")
    ax_curve.set_title(f"from {v.start:.2f} (random) to {v.final:.2f}", fontsize=10)
    fig.suptitle("Feature visualisation (Olah et al. 2017): frequency-space image, decorrelated colours, "
                 "jitter, scale and rotation", fontsize=10)
    return fig


def dream_figure(d: Dream) -> Figure:
    """The photo and its dream, side by side."""
    h, w = d.image.shape[-2:]
    fig = new_figure(12, 12 * h / (2 * w) + 0.9)
    ax_a, ax_b = fig.subplots(1, 2)
    show_image(ax_a, d.original, "the photo")
    rises = ", ".join(f"{b:.2f}->{a:.2f}" for b, a in zip(d.before, d.after))
    show_image(ax_b, d.image, f"DeepDream on {d.layer} ({len(d.sizes)} octaves x {d.steps} steps)")
    ax_b.set_xlabel(f"activation norm per octave: {rises}", fontsize=8)
    return fig


def style_figure(s: Stylized) -> Figure:
    """Content | style | result, and both losses over the steps."""
    fig = new_figure(16, 4.2)
    axes = fig.subplots(1, 4, width_ratios=[1, 1, 1, 0.8])
    show_image(axes[0], s.content, "content")
    show_image(axes[1], s.style, "style")
    show_image(axes[2], s.image, f"result ({s.model}, {s.optimizer}, {s.steps} steps)")
    steps = np.arange(len(s.style_loss))
    axes[3].semilogy(steps, s.style_loss, label="style (Gram)")
    first = 1 if s.content_loss[0] == 0 else 0   # starting from the content photo: no content loss yet
    axes[3].semilogy(steps[first:], s.content_loss[first:], label="content")
    axes[3].set_xlabel("step")
    axes[3].legend(fontsize=8)
    axes[3].set_title("losses", fontsize=10)
    fig.suptitle("Style transfer (Gatys et al. 2016): content from one picture, Gram matrices from the other",
                 fontsize=11)
    return fig


def unseen_figure(u: Unseen) -> Figure:
    """Each photo with the classes it was forced into."""
    n = len(u.photos)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = new_figure(4.6 * cols, 4.6 * rows)
    for k, photo in enumerate(u.photos):
        ax = fig.add_subplot(rows, cols, k + 1)
        show_image(ax, photo.image)
        lines = "\n".join(f"{p.name} {percent(p.probability)}" for p in photo.predictions)
        ax.set_title(photo.truth, fontsize=9)
        ax.set_xlabel(lines, fontsize=9)
    fig.suptitle(f"It sees what it was trained to see: {u.model} knows 1000 classes, none of these", fontsize=12)
    return fig


__all__ = ["as_hwc", "convolution_figure", "dense_figure", "dream_figure", "inside_figure", "neuron_figure",
           "style_figure", "unseen_figure", "visualization_figure"]
