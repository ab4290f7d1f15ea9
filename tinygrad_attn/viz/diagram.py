"""`Diagram`: what `make_dot` returns, a `graphviz.Digraph` that also knows what it drew
(which node stands for which Variable or Function, the rolled blocks, its size) and
shows itself in Jupyter as SVG."""
from __future__ import annotations

try:
    import graphviz
except ImportError:  # pragma: no cover - graphviz is a declared dependency
    raise ImportError("tinygrad_attn.viz needs the `graphviz` Python package: "
                      "pip install graphviz (and the Graphviz `dot` program to render)"
                      ) from None

from .style import h

__all__ = ["Diagram"]


class Diagram(graphviz.Digraph):
    """A `graphviz.Digraph` (``.source``, ``.pipe()``, ``.render()`` work as usual) with:

    node_of   {id(Variable or Function): DOT node id}: a folded op maps to its module's
              box, a rolled copy to the copy that is drawn
    copy_of   {id(Function): (copy number, copies)} for the ops of rolled blocks
    rolled    [(scope, copies, ops per copy)] per rolled block
    counts    {"nodes": ..., "edges": ...} as drawn
    captions  the lines of the caption under the picture
    """

    node_of: dict
    copy_of: dict
    rolled: list
    counts: dict

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.captions = []
        self.node_of, self.copy_of, self.rolled, self.counts = {}, {}, [], {}

    def add_caption(self, text):
        """Add a line to the caption drawn under the picture."""
        self.captions.append(str(text))
        self.graph_attr["label"] = "<" + "<BR/>".join(
            f'<FONT POINT-SIZE="11" COLOR="#334155">{h(t)}</FONT>' for t in self.captions) + ">"
        self.graph_attr["labelloc"] = "b"
        self.graph_attr["labeljust"] = "l"

    # Jupyter: IPython asks for the mime bundle first; SVG is what a diagram should be.
    def _repr_svg_(self):
        return self.pipe(format="svg").decode("utf-8")

    def _repr_html_(self):
        return f'<div class="tinygrad-attn-diagram">{self._repr_svg_()}</div>'

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        return {"image/svg+xml": self._repr_svg_()}
