"""The typed graph model a diagram is built as, before any DOT is written.

A `Picture` is what `make_dot` decided to draw: `Node`s and `Edge`s, each saying which things
of the tape it stands for (`members`), and the clusters they sit in (`place`, a path of
`Scope`, `Roll` and `Backward` parts). Tests hold a picture against the tape: unrolled and
unfolded every node stands for one Function or Variable and every edge for one recorded
edge; rolled, a node stands for one thing per copy.

The drawing's own clusters are types of their own: ``Scope("backward") != Backward()`` and
``Scope("roll0") != Roll(0, ...)``, so no scope a user names can merge with them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

__all__ = ["Scope", "Roll", "Backward", "BACKWARD", "NodeKind", "EdgeKind", "Node", "Edge",
           "Link", "Rule", "Grad", "Picture"]


# --- where a node sits: a path of cluster parts ----------------------------------------------
@dataclass(frozen=True)
class Scope:
    """A name scope (`name_scope`, or the attribute name of a Module)."""

    name: str


@dataclass(frozen=True)
class Roll:
    """A rolled block: `copies` copies of `period` units, drawn once, labelled ``× copies``."""

    block: int
    copies: int
    period: int


@dataclass(frozen=True)
class Backward:
    """The cluster holding the drawn backward pass."""


BACKWARD = Backward()


# --- what the nodes and edges stand for --------------------------------------------------------
class Rule:
    """The backward rule of a forward Function as reverse mode ran it (one compact backward
    node stands for one or more of these). One instance per Function: compare by identity."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def __repr__(self):
        return f"Rule({self.function.name})"


class Grad:
    """The gradient a leaf receives: ``d loss / d leaf`` (a labelled gradient node)."""

    __slots__ = ("leaf",)

    def __init__(self, leaf):
        self.leaf = leaf

    def __repr__(self):
        return f"Grad({self.leaf.name or self.leaf.shape})"


class Link(NamedTuple):
    """One edge of the tape: `tail` -> `head` (Variable -> Function: `slot` is the input
    index; Function -> Variable: the output index; Rule/Grad edges: the input whose gradient
    flows, or None)."""

    tail: object
    head: object
    slot: object


class NodeKind(Enum):
    OP = "op"          # a Function (forward, or recorded by the expanded backward)
    VALUE = "value"    # a Variable
    BOX = "box"        # a folded scope or module call
    RULE = "rule"      # the compact backward: one forward op's rule
    GRAD = "grad"      # d loss / d leaf


class EdgeKind(Enum):
    DATA = "data"      # Variable -> Function -> Variable (and through boxes)
    GRAD = "grad"      # compact backward: a gradient flowing from one rule to the next
    SEED = "seed"      # an output to the first rule of the backward pass
    LINK = "link"      # a forward op to its rule (dashed, no layout constraint)


@dataclass(eq=False)
class Node:
    """One drawn node. `members` are the tape things it stands for (Functions, Variables,
    `Rule`s, `Grad`s; a rolled node one per copy, in copy order; a box everything it
    hides). `role` says which look a value has (input, param, const, var, output, grad)."""

    id: int
    kind: NodeKind
    place: tuple
    members: tuple
    role: str = ""
    copies: int = 1           # > 1: one drawn node for this many copies
    block: int | None = None  # the rolled block it belongs to
    info: dict = field(default_factory=dict)   # what the label needs

    @property
    def key(self):
        return f"n{self.id}"


@dataclass(eq=False)
class Edge:
    """One drawn edge, standing for the tape edges `members` (several when rolled or folded).
    `recurrent`: copy t feeds copy t + 1 of a rolled block."""

    tail: int
    head: int
    kind: EdgeKind
    members: list
    slot: object = None
    recurrent: bool = False
    label: str | None = None


class Picture:
    """Nodes, edges and the clusters they sit in; `node_of` maps each tape thing (by id) to
    the node standing for it."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.node_of: dict[int, int] = {}
        self.captions: list[str] = []
        self.blocks: list = []        # (Roll, place of the block) per rolled block
        self.options: dict = {}

    def add_node(self, kind, place, members, **kw):
        node = Node(len(self.nodes), kind, tuple(place), tuple(members), **kw)
        self.nodes.append(node)
        for m in node.members:
            self.node_of.setdefault(id(m), node.id)
        return node

    def node(self, thing):
        """The node standing for a Function, Variable, Rule or Grad (None if none)."""
        i = self.node_of.get(id(thing))
        return None if i is None else self.nodes[i]

    def clusters(self):
        """Every cluster path that holds a node, parents included."""
        found = set()
        for n in self.nodes:
            for k in range(1, len(n.place) + 1):
                found.add(n.place[:k])
        return found

    def has_cycle(self):
        """True if the edges, recurrent ones and dashed links left out, form a cycle."""
        return find_cycle(len(self.nodes), [(e.tail, e.head) for e in self.edges
                                            if not e.recurrent and e.kind is not EdgeKind.LINK]
                          ) is not None


def find_cycle(n, edges):
    """A list of node numbers on a cycle of the directed graph, or None (iterative)."""
    out = [[] for _ in range(n)]
    for a, b in edges:
        out[a].append(b)
    state = [0] * n        # 0 new, 1 on the stack, 2 done
    for start in range(n):
        if state[start]:
            continue
        stack = [(start, 0)]
        state[start] = 1
        path = [start]
        while stack:
            v, i = stack[-1]
            if i < len(out[v]):
                stack[-1] = (v, i + 1)
                w = out[v][i]
                if state[w] == 1:
                    return path[path.index(w):]
                if state[w] == 0:
                    state[w] = 1
                    stack.append((w, 0))
                    path.append(w)
            else:
                state[v] = 2
                stack.pop()
                path.pop()
    return None
