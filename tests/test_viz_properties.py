"""Diagrams of random user-style programs (tests/viz_programs.py), checked for every
option set: no exception but a documented one about the caller's input; unrolled and
unfolded, the drawing is the tape; rolled, it unrolls back to the tape; folded, every
tape edge is drawn once between the boxes that hold its ends; no cycle but a marked
recurrent edge; every leaf's gradient drawn once, labelled."""
import json
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from tinygrad_attn import viz
from tinygrad_attn.viz import make_dot

from viz_programs import OPTION_SETS, check, missing_rows, programs

# the profile's number of programs (ci 50, dev 500) times these: drawing is cheap, laying
# out (Graphviz) is not
DRAWN = 4 * settings.default.max_examples
LAID_OUT = max(5, settings.default.max_examples // 5)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` "
                               "program is not installed (apt-get install graphviz)")


def draw(program, options):
    """make_dot, or the documented error for a backward pass from a non-scalar."""
    try:
        with np.errstate(all="ignore"):
            return make_dot(program.outputs, program.params, **options)
    except ValueError as e:
        assert options.get("backward") and not program.scalar, e
        assert "scalar" in str(e)
        return None


def test_every_F_op_has_a_row_in_the_program_generator():
    missing = missing_rows()
    assert not missing, ("F ops without a row in tests/viz_programs.py ROWS (the random "
                         "programs would leave them out): " + ", ".join(missing))


@settings(max_examples=DRAWN)
@given(programs(), st.lists(OPTION_SETS, min_size=3, max_size=3))
def test_random_programs_draw_correctly(program, option_sets):
    plain = draw(program, dict(roll=False))
    with np.errstate(all="ignore"):         # (the checker runs the backward pass too)
        check(plain, program.outputs, dict(roll=False))
    event(f"ops on the tape: {_bucket(len(plain.picture.nodes))}")
    for options in option_sets:
        dot = draw(program, options)
        if dot is None:
            event("backward from a non-scalar: the documented error")
            continue
        with np.errstate(all="ignore"):
            check(dot, program.outputs, options)
        pic = dot.picture
        if pic.blocks:
            event("rolled")
        if any(n.kind.value == "box" for n in pic.nodes):
            event("folded")
        if any(n.copies > 1 and n.kind.value == "box" for n in pic.nodes):
            event("rolled boxes")
        if options["backward"]:
            event(f"backward {options['backward']}")


def _bucket(n):
    return next(f"<= {b}" for b in (10, 30, 100, 300, 1000, 10 ** 9) if n <= b)


@needs_dot
@settings(max_examples=LAID_OUT)
@given(programs(max_statements=4), OPTION_SETS, st.sampled_from(["svg", "png"]))
def test_random_programs_render_and_replay(program, options, fmt):
    """render writes a picture, and replay a page whose JSON parses (no NaN or Infinity
    constants), or they raise the documented error for a backward pass from a
    non-scalar; nothing else."""
    with tempfile.TemporaryDirectory() as tmp, np.errstate(all="ignore"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", viz.LargeGraphWarning)
        out = Path(tmp) / f"g.{fmt}"
        try:
            viz.render(program.outputs, out, params=program.params, **options)
        except ValueError as e:
            assert options["backward"] and not program.scalar and "scalar" in str(e)
        else:
            data = out.read_bytes()
            assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data
        try:
            page = viz.replay(program.outputs, Path(tmp) / "r.html", program.params,
                              roll=options["roll"], max_depth=options["max_depth"])
        except ValueError as e:
            assert not program.scalar and "scalar" in str(e)
            return
        text = re.search(r'<script id="steps" type="application/json">(.*?)</script>',
                         page.html, re.S)[1]
        steps = json.loads(text, parse_constant=lambda name: pytest.fail(name))
        assert len(steps) == page.steps and steps[0]["op"] == "seed"
