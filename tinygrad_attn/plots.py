"""Pictures of the experiment with matplotlib, headless (the Agg backend; no display needed).

    curves("loss.png", [("attention", [1, 2, 3], [1.9, 0.6, 0.1])], metric="loss")
    accuracy_curves("curves.png", [("attention", [1, 2, 3], [0.0, 0.93, 0.999]), ...],
                    book=True)                                  # the book's Figure 8-26
    attention_heatmaps("heatmap.png", [(input_labels, output_labels, weights), ...])  # 8-27

A picture is .png, .svg or .pdf by its suffix (another suffix is refused before anything is
drawn). Files are written through `files.atomic_file`, so an interrupted run leaves no half
picture. matplotlib is imported when a picture is drawn, not when this module is.
"""
from __future__ import annotations

import pathlib

import numpy as np

from .files import atomic_file

__all__ = ["curves", "accuracy_curves", "attention_heatmaps", "BOOK_CURVE", "FORMATS"]

FORMATS = (".png", ".svg", ".pdf")

# The book's own code (ch. 8, section 8.3.2) run on its own date file: test accuracy after
# epochs 1, 2, 3 of its attention model (measured; the book shows the curve, Figure 8-26).
BOOK_CURVE = ("the book's attention model (its code and data, 351 steps/epoch)", [1, 2, 3],
              [0.0, 0.517, 0.999])


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _format(path):
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in FORMATS:
        got = f"suffix {suffix!r}" if suffix else "no suffix"
        raise ValueError(f"{path}: a picture with {got}; use {', '.join(FORMATS)}")
    return suffix[1:]


def _save(fig, path):
    fmt = _format(path)
    try:
        with atomic_file(path) as f:
            fig.savefig(f, format=fmt, dpi=120, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return pathlib.Path(path)


LABELS = {"accuracy": "test accuracy (%)", "loss": "training loss (mean of the epoch)",
          "bits_wrong": "bits wrong per sequence"}
TITLES = {"accuracy": "Test accuracy (exact match)", "loss": "Training loss per epoch",
          "bits_wrong": "Bits wrong per sequence (mean of the epoch)"}


def curves(path, runs, *, metric="accuracy", book=False, title=None):
    """A per-epoch metric of several runs in one picture: `runs` is a list of
    ``(label, epochs, values)``. Accuracies (in [0, 1]) are drawn in percent; `book` adds
    the book's measured accuracy curve (dashed). The x axis counts epochs from 1."""
    _format(path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    markers = "osD^vP*X"
    scale = 100 if metric == "accuracy" else 1
    for i, (label, epochs, values) in enumerate(runs):
        ax.plot(epochs, scale * np.asarray(values, dtype=float),
                marker=markers[i % len(markers)], label=label)
    if book:
        label, epochs, acc = BOOK_CURVE
        ax.plot(epochs, 100 * np.asarray(acc), "k--", marker="x", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(LABELS.get(metric, metric))
    if metric == "accuracy":
        ax.set_ylim(-2, 102)
    top = max([max(e) for _, e, _ in runs if len(e)] + [3 if book else 1])
    if top <= 30:
        ax.set_xticks(range(1, int(top) + 1))
    ax.grid(alpha=0.3)
    ax.set_title(title or TITLES.get(metric, f"{metric} per epoch"))
    ax.legend(loc="lower right" if metric == "accuracy" else "upper right", fontsize=8)
    return _save(fig, path)


def accuracy_curves(path, runs, *, book=False, title="Test accuracy (exact match)"):
    """Accuracy per epoch of several runs in one picture: `runs` is a list of
    ``(label, epochs, accuracies)`` (accuracies in [0, 1]); `book` adds the book's measured
    curve (dashed). The x axis counts epochs from 1 (after the first epoch)."""
    return curves(path, runs, metric="accuracy", book=book, title=title)


def attention_heatmaps(path, panels, *, title=None):
    """One heatmap per panel, stacked: `panels` is a list of ``(input_labels,
    output_labels, weights)`` with weights (len(output_labels), len(input_labels)); rows are
    output characters (decoder steps), columns input characters, darker = more weight."""
    _format(path)
    plt = _pyplot()
    heights = [0.9 + 0.32 * len(outs) for _, outs, _ in panels]
    widths = max(4.0, 0.3 * max(len(ins) for ins, _, _ in panels) + 1.6)
    fig, axes = plt.subplots(len(panels), 1, figsize=(widths, sum(heights) + 0.3),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (ins, outs, w) in zip(axes[:, 0], panels):
        w = np.asarray(w, dtype=float)
        if w.shape != (len(outs), len(ins)):
            raise ValueError(f"attention_heatmaps: weights {w.shape} for {len(outs)} outputs "
                             f"and {len(ins)} inputs")
        im = ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="equal")
        ax.set_xticks(range(len(ins)), [_show(c) for c in ins], fontsize=8, family="monospace")
        ax.set_yticks(range(len(outs)), [_show(c) for c in outs], fontsize=8,
                      family="monospace")
        ax.tick_params(length=0)
        ax.set_anchor("W")                     # panels of different widths line up on the left
        ax.set_ylabel("output")
        ax.set_xlabel(f"input \"{''.join(c for c in ins if len(c) == 1)}\"  \u2192  output "
                      f"\"{''.join(outs).rstrip()}\"", fontsize=8)
    fig.colorbar(im, ax=axes[:, 0].tolist(), shrink=0.6, label="attention weight")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _show(c):
    return "\u2423" if c == " " else c     # a visible space
