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

from .style import EDGE_COLOR, FONT, h

__all__ = ["Diagram"]


class Diagram(graphviz.Digraph):
    """A `graphviz.Digraph` (``.source``, ``.pipe()``, ``.render()`` work as usual) with:

    picture   the typed model it was written from (viz/model.py): nodes and edges with
              the tape things each stands for
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
        self.picture, self.depth, self.outputs, self.names = None, 0, [], {}

    @classmethod
    def from_picture(cls, picture, emitted):
        graph_attr, captions, body = emitted
        dot = cls(name="tape", graph_attr=graph_attr,
                  node_attr=dict(fontname=FONT, penwidth="1.2"),
                  edge_attr=dict(color=EDGE_COLOR, arrowsize="0.6", penwidth="1.1",
                                 fontname=FONT))
        for text in captions:
            dot.add_caption(text)
        dot.body.extend(body)
        dot.picture = picture
        opt = picture.options
        dot.outputs, dot.names = list(opt.get("outputs", ())), opt.get("names", {})
        dot.node_of = {k: picture.nodes[i].key for k, i in picture.node_of.items()}
        dot.copy_of = {}
        for n in picture.nodes:
            if n.copies > 1 and n.kind.value in ("op", "box") and n.role != "rule":
                per_copy = n.info.get("copy_members") or [[f] for f in n.members]
                for c, functions in enumerate(per_copy):
                    for f in functions:
                        dot.copy_of[id(f)] = (c + 1, n.copies)
        dot.rolled = []
        for mark, common, block in picture.blocks:
            names = tuple("backward" if type(p).__name__ == "Backward" else p.name
                          for p in common)
            dot.rolled.append((names, mark.copies, mark.period))
        dot.depth = opt.get("depth", 0)
        dot.counts = {"nodes": len(picture.nodes), "edges": len(picture.edges)}
        return dot

    def add_caption(self, text):
        """Add a line to the caption drawn under the picture."""
        self.captions.append(str(text))
        self.graph_attr["label"] = "<" + "<BR/>".join(
            f'<FONT POINT-SIZE="11" COLOR="#334155">{h(t)}</FONT>' for t in self.captions) + ">"
        self.graph_attr["labelloc"] = "b"
        self.graph_attr["labeljust"] = "l"

    # Jupyter: IPython asks for the mime bundle first; SVG is what a diagram should be.
    # Without Graphviz's `dot` the cell shows one line saying what to install, not a
    # traceback (None tells IPython a format is not available).
    def _svg(self):
        try:
            return self.pipe(format="svg").decode("utf-8")
        except graphviz.ExecutableNotFound:
            return None

    def _repr_svg_(self):
        return self._svg()

    def _repr_html_(self):
        svg = self._svg()
        return None if svg is None else f'<div class="tinygrad-attn-diagram">{svg}</div>'

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        svg = self._svg()
        if svg is None:
            return {"text/plain": (
                f"<Diagram: {self.counts.get('nodes', '?')} nodes, not drawn: Graphviz's "
                "`dot` program is not installed (apt-get install graphviz, brew install "
                "graphviz or conda install -c conda-forge graphviz); the DOT source is in "
                "`.source`>")}
        return {"image/svg+xml": svg}
