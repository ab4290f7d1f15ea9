"""viz.replay: the backward pass step by step in one offline HTML page, checked as text
and in a real browser (headless Chromium: screenshots at two steps, keyboard stepping)."""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from tinygrad_attn import viz

from test_viz_backward import small

HAVE_DOT = shutil.which("dot") is not None
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(not HAVE_DOT, reason="the Graphviz `dot` program is not "
                                "installed (apt-get install graphviz)")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium); "
    "the replay page is then checked as text only")

CURRENT = np.array([0xDC, 0x26, 0x26])   # the running function's fill (replay.py's CSS)


def steps_of(page):
    m = re.search(r'<script id="steps" type="application/json">(.*?)</script>', page.html,
                  re.S)
    return json.loads(m[1])


def test_the_page_has_one_step_per_function_and_is_self_contained(tmp_path):
    y, x, W, b = small()
    page = viz.replay(y, tmp_path / "r.html")
    assert page.path == tmp_path / "r.html" and page.path.read_text() == page.html
    steps = steps_of(page)
    # the seed, then sum, tanh, add, matmul: newest first, as reverse mode runs them
    assert [s["op"] for s in steps] == ["seed", "sum", "tanh", "add", "matmul"]
    assert page.steps == 5
    t = np.tanh(x.data @ W.data + b.data)
    gz = 1 - t ** 2
    sent = {g["name"]: g for g in steps[4]["sent"]}
    assert set(sent) == {"d y / d x", "d y / d W"}
    assert sent["d y / d W"]["shape"] == [3, 4]
    np.testing.assert_allclose(sent["d y / d W"]["norm"], np.linalg.norm(x.data.T @ gz))
    np.testing.assert_allclose(sent["d y / d W"]["values"], (x.data.T @ gz).reshape(-1)[:4])
    assert steps[3]["received"][0]["name"] == "d y / d add (2, 4)"
    # every node a step names is in the SVG
    titles = set(re.findall(r"<title>(\w+)</title>", page.html))
    for s in steps:
        assert s["node"] is None or s["node"] in titles
        assert set(s["arrive"]) <= titles
    # offline: nothing to fetch (the only URLs are the SVG namespaces)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page.html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|fetch\(|XMLHttpRequest",
                         page.html)
    assert x.grad is None
    assert 'srcdoc="&lt;!DOCTYPE html&gt;' in page._repr_html_()   # Jupyter: inline


def test_rolled_steps_say_which_copy_runs():
    from test_viz_roll import rnn_chain
    y, _ = rnn_chain(5)
    steps = steps_of(viz.replay(y))
    wheres = [s["where"] for s in steps if s["op"] == "tanh"]
    assert wheres == [f"copy {k} of 5 (rolled)" for k in (5, 4, 3, 2, 1)]
    assert len({s["node"] for s in steps if s["op"] == "tanh"}) == 1


def _chromium(*args, timeout=90):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", "--window-size=1000,700", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _highlight_centre(png):
    import matplotlib.image
    img = matplotlib.image.imread(str(png))[..., :3]
    rgb = np.round(img * 255).astype(int)
    mask = (np.abs(rgb - CURRENT).sum(axis=-1) < 30)
    assert mask.sum() > 100, f"no highlighted node in {png}"
    ys, xs = np.nonzero(mask)
    return xs.mean(), ys.mean()


@needs_chromium
def test_in_chromium_the_highlight_moves_between_steps(tmp_path):
    y, *_ = small()
    page = viz.replay(y, tmp_path / "r.html")
    centres = {}
    for k in (1, 4):
        png = tmp_path / f"step{k}.png"
        run = _chromium(f"--screenshot={png}", f"{page.path.as_uri()}#step={k}")
        assert png.exists(), run.stderr[-2000:]
        centres[k] = _highlight_centre(png)
    # step 1 runs sum's rule (bottom of the graph), step 4 matmul's (top)
    (x1, y1), (x4, y4) = centres[1], centres[4]
    assert y1 - y4 > 150, centres


@needs_chromium
def test_in_chromium_arrow_keys_step_and_gradients_fill_in(tmp_path):
    y, *_ = small()
    page = viz.replay(y)
    probe = """<script>
    (function () {
      var seen = [];
      function record() {
        var cur = document.querySelector("g.node.tga-current title");
        seen.push([document.body.getAttribute("data-step"), cur ? cur.textContent : null,
                   document.querySelectorAll("g.node.tga-grad").length,
                   document.getElementById("title").textContent]);
      }
      function key(k) { document.dispatchEvent(new KeyboardEvent("keydown", {key: k})); }
      record();
      ["ArrowRight", "ArrowRight", "ArrowRight", "ArrowLeft", "End", "ArrowRight"].forEach(
        function (k) { key(k); record(); });
      var out = document.createElement("pre");
      out.id = "probe";
      out.textContent = JSON.stringify(seen);
      document.body.appendChild(out);
    })();
    </script></body>"""
    path = tmp_path / "probe.html"
    path.write_text(page.html.replace("</body>", probe))
    run = _chromium("--dump-dom", path.as_uri())
    m = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert m, run.stderr[-2000:]
    seen = json.loads(m[1].replace("&quot;", '"'))
    steps = steps_of(page)
    assert [int(s[0]) for s in seen] == [0, 1, 2, 3, 2, 4, 4]
    assert [s[1] for s in seen[1:4]] == [steps[k]["node"] for k in (1, 2, 3)]
    assert seen[1][3] == "backward of sum" and seen[5][3] == "backward of matmul"
    filled = [s[2] for s in seen]
    assert filled[0] == 1 and filled[1] < filled[2] < filled[3] and filled[4] == filled[2]
    assert filled[5] == len({n for s in steps for n in s["arrive"]})


def test_cli_graph_writes_a_replay(tmp_path, capsys):
    from tinygrad_attn.cli import main
    out = tmp_path / "r.html"
    assert main(["graph", "--model", "attention", "--replay", str(out)]) == 0
    assert "steps" in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "copy 1 of 6 (rolled)" in text


def test_cli_graph_options_reach_make_dot(tmp_path):
    from tinygrad_attn.cli import main
    assert main(["graph", "--model", "attention", "--out", str(tmp_path / "r.dot")]) == 0
    assert main(["graph", "--model", "attention", "--no-roll", "--out",
                 str(tmp_path / "u.dot")]) == 0
    rolled, unrolled = (tmp_path / "r.dot").read_text(), (tmp_path / "u.dot").read_text()
    assert "<B>× 6</B>" in rolled and "×" not in unrolled
    assert main(["graph", "--model", "example", "--backward", "--show-values", "--out",
                 str(tmp_path / "b.dot")]) == 0
    text = (tmp_path / "b.dot").read_text()
    assert "<B>backward</B>" in text and "d loss / d W" in text
    assert "backward has run" in text
