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
    constants), or they raise the documented errors: for a backward pass from a
    non-scalar, and (render) for a graph that no fold brings within the layout budget and
    that Graphviz does not lay out before the timeout; nothing else."""
    with tempfile.TemporaryDirectory() as tmp, np.errstate(all="ignore"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", viz.LargeGraphWarning)
        out = Path(tmp) / f"g.{fmt}"
        try:
            viz.render(program.outputs, out, params=program.params, **options)
        except ValueError as e:
            assert options["backward"] and not program.scalar and "scalar" in str(e)
        except viz.GraphvizError as e:
            # the documented outcome of a graph over the layout budget that cannot be folded
            # within it (roll=False, or no scopes): the layout is stopped at the timeout
            assert "did not finish laying the graph out" in str(e), e
            folded = viz.within_budget(program.outputs, params=program.params, **options)
            assert viz.layout_cost(folded) > viz.LAYOUT_BUDGET, e
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


@st.composite
def interleaved_scopes(draw):
    """A random DAG of small ops, each recorded in a random scope ("a", "b", "c", "a.d" or
    none), the scopes entered again and again in any order: boxes that feed one another."""
    import contextlib

    import tinygrad_attn as tga
    import tinygrad_attn.functions as F
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    pool = [tga.Variable(rng.standard_normal(3), name=f"x{k}") for k in range(3)]
    for _ in range(draw(st.integers(2, 24))):
        scope = draw(st.sampled_from(["a", "b", "a", "b", "c", "a.d", None]))
        picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=2))
        with tga.name_scope(scope) if scope else contextlib.nullcontext():
            ys = [pool[i] for i in picks]
            pool.append(F.tanh(ys[0]) if len(ys) == 1 else ys[0] * ys[1])
    used = draw(st.lists(st.integers(0, len(pool) - 1), max_size=3))
    loss = F.sum(pool[-1])
    for i in used:
        loss = loss + F.sum(pool[i])
    return loss


@settings(max_examples=10 * settings.default.max_examples)    # small graphs: cheap
@given(interleaved_scopes(), st.sampled_from([dict(max_depth=0), dict(max_depth=1),
                                              dict(view="modules"), dict(max_depth=0,
                                                                         backward=True)]))
def test_folding_never_draws_a_cycle_however_scopes_interleave(loss, options):
    """Boxes are cut (into parts) until no path leaves a box and comes back and no boxes
    feed one another; every tape edge is still drawn once."""
    check(make_dot(loss, **options), loss, options)
