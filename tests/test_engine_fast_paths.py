"""The engine's fast paths proved against the slow ones, over generated programs.

* The backward pass visits functions by generation counted down; the order must be the one a
  heap of (newest generation first, then arrival) gives, and every function must run after
  every function that consumed its outputs.
* A first-order pass (gradients summed in place, rules' arithmetic run without the tape)
  must give exactly the bits a recording pass (every sum and every rule op recorded) gives.
* Arithmetic with nothing to record (the ufunc called directly) must equal the recorded op.
* An op that fuses a composite (`Function.composite`) has a first-order rule only: a
  recording pass differentiates the composite; `unfused()` is what its public function asks.
"""
import heapq
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tga
import tinygrad_attn.functions as F
from tinygrad_attn import Function, Variable, autodiff
from tinygrad_attn.ops import arithmetic
from tinygrad_attn.tape import as_operand, is_unfused, unfused

UNARY = [F.tanh, F.sigmoid, F.exp, lambda v: v * v, lambda v: -v, lambda v: F.sum(v, 0),
         lambda v: v.T, lambda v: F.softmax(v, -1), lambda v: v * 0.5 + 1]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
          lambda a, b: a / (b * b + 1), lambda a, b: a @ b.T]


@st.composite
def programs(draw):
    """A random DAG: leaves of one (3, 3) shape (so every op applies to any pair); each step
    applies a unary op to, or combines two of, the values so far (fan-out and diamonds)."""
    n_leaves = draw(st.integers(1, 3))
    steps = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(0, 10**6),
                                    st.integers(0, 10**6)), min_size=1, max_size=25))
    seed = draw(st.integers(0, 2**31 - 1))
    return n_leaves, steps, seed


def run(program, dtype=np.float64):
    n_leaves, steps, seed = program
    rng = np.random.default_rng(seed)
    leaves = [Variable((rng.standard_normal((3, 3)) * 0.5).astype(dtype))
              for _ in range(n_leaves)]
    values = list(leaves)
    for binary, op, i, j in steps:
        x, y = values[i % len(values)], values[j % len(values)]
        if binary:
            values.append(BINARY[op % len(BINARY)](x, y))
        else:
            values.append(UNARY[op % len(UNARY)](x))
    used = [v for v in values[n_leaves:]] or leaves
    loss = sum(F.sum(v * v) for v in used[-3:])
    return leaves, loss


def heap_order(loss):
    """The order the former heap-based pass visited functions in: newest generation first,
    ties in arrival order."""
    order, seen, heap, tie = [], set(), [], itertools.count()

    def push(f):
        if f is not None and f not in seen:
            seen.add(f)
            heapq.heappush(heap, (-f.generation, next(tie), f))
    push(loss.creator)
    while heap:
        f = heapq.heappop(heap)[2]
        order.append(f)
        for x in f.inputs:
            if x.requires_grad:
                push(x.creator)
    return order


@given(programs())
def test_functions_run_newest_generation_first_after_all_their_consumers(program):
    leaves, loss = run(program)
    seed = autodiff._seed_grad(loss, None, "test")
    visited = [s.function for s in autodiff.backward_steps([loss], [seed], keep=None)]
    assert visited == heap_order(loss)
    position = {id(f): k for k, f in enumerate(visited)}
    for f in visited:       # every consumer of f's inputs' creators ran before them
        for x in f.inputs:
            if x.creator is not None:
                assert position[id(f)] < position[id(x.creator)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(program=programs())
def test_first_order_pass_gives_the_bits_of_a_recording_pass(program, dtype):
    leaves, loss = run(program, dtype)
    fast = tga.grad(loss, leaves, allow_unused=True)
    slow = tga.grad(loss, leaves, create_graph=True, allow_unused=True)
    for f, s in zip(fast, slow):
        assert (f is None) == (s is None)
        if f is not None:
            assert f.dtype == s.dtype == dtype
            np.testing.assert_array_equal(f.data, s.data)


OPERANDS = st.sampled_from([
    ((2, 3), (3,)), ((2, 3), (2, 1)), ((1, 3), (2, 1)), ((), (2,)), ((4,), ()), ((2, 2), (2, 2))])


@given(OPERANDS, st.sampled_from([np.float32, np.float64, np.int64]),
       st.sampled_from(["variable", "float", "int", "ndarray"]), st.integers(0, 2**31 - 1))
def test_arithmetic_without_the_tape_equals_the_op_run_as_a_function(shapes, dtype, kind, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(shapes[0]) * 3 + 4).astype(dtype)
    b = (rng.standard_normal(shapes[1]) * 3 + 4).astype(dtype)
    other = {"variable": lambda: Variable(b), "float": lambda: 1.75, "int": lambda: 3,
             "ndarray": lambda: b}[kind]
    for op, cls in ((F.add, arithmetic.Add), (F.sub, arithmetic.Sub),
                    (F.mul, arithmetic.Mul), (F.div, arithmetic.Div)):
        for args in ((Variable(a), other()), (other(), Variable(a))):
            like = args[0] if isinstance(args[0], Variable) else args[1]
            operands = [as_operand(v, like) for v in args]
            with np.errstate(all="ignore"), tga.no_grad():
                plain = op(*args)                 # the ufunc, directly
                reference = cls()(*operands)      # the Function's own forward
            assert plain.creator is None and not plain.requires_grad
            assert plain.dtype == reference.dtype and plain.shape == reference.shape
            np.testing.assert_array_equal(plain.data, reference.data)


class Cube(Function):
    """x³ as one node whose own rule is first order only; its composite is x * x * x."""
    recorded_rule_calls = 0

    def composite(self, x):
        return x * x * x

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        if tga.is_grad_enabled():
            Cube.recorded_rule_calls += 1
        x = self.inputs[0]
        return gy * Variable(3 * x.data ** 2, requires_grad=False)   # constants: not a graph


def cube(x):
    return (x * x * x) if is_unfused() else Cube()(x)


def test_a_fused_op_differentiates_its_composite_when_the_pass_records():
    x = Variable(np.array([0.5, -1.5, 2.0]))
    (g,) = tga.grad(F.sum(cube(x)), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    (gg,) = tga.grad(F.sum(g), x)
    np.testing.assert_allclose(gg.data, 6 * x.data)        # needs the composite: its rule
    assert Cube.recorded_rule_calls == 0                     # gives constants
    (g1,) = tga.grad(F.sum(cube(x)), x)                     # first order: its own rule
    np.testing.assert_array_equal(g1.data, 3 * x.data ** 2)


def test_unfused_records_the_composite():
    x = Variable(np.array([0.5, 2.0]))
    assert isinstance(cube(x).creator, Cube)
    with unfused():
        assert is_unfused()
        y = cube(x)
    assert not is_unfused()
    assert not isinstance(y.creator, Cube)
    np.testing.assert_array_equal(y.data, x.data ** 3)
