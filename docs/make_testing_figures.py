"""Draw the figures of docs/testing.md: a bug planted in the attention model, found by
`locate`, its report highlighted in the graph.

    python docs/make_testing_figures.py      # writes docs/img/locate_*.svg, prints the report
"""
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import planted_bugs  # noqa: E402  (tests/planted_bugs.py: the wrong rules)
import tinygrad_attn_models as models  # noqa: E402
from tinygrad_attn.testing import locate  # noqa: E402

IMG = ROOT / "docs" / "img"


def main():
    cls, rule, *_ = planted_bugs.BUGS["wrong sign"]
    real = cls.backward
    cls.backward = rule            # plant the bug: softmax's rule with its sign flipped
    try:
        model = models.AttentionSeq2seq(5, 2, 2, seed=0, dtype=np.float64)
        xs, ts = np.array([[1, 3]]), np.array([[0, 2, 4]])
        report = locate(lambda: model.loss(xs, ts))
        print(report)
        report.render(IMG / "locate_folded.svg", max_depth=1)
        report.render(IMG / "locate_full.svg")
    finally:
        cls.backward = real


if __name__ == "__main__":
    main()
