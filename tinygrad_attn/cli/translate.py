"""`tinygrad-attn translate`: answer questions with a qa checkpoint, and draw its attention."""
from __future__ import annotations

import sys

from . import options
from .errors import UsageError


def run(args):
    from tinygrad_attn.tasks.qa import Translator
    if args.heatmap is not None:
        options.writable(args.heatmap)
    options.checkpoint_path(args.checkpoint)
    texts = args.inputs or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise UsageError("no inputs: give them as arguments or one per line on stdin")
    model, ckpt = options.load_checkpoint(args.checkpoint)
    tr = Translator.from_checkpoint(model, ckpt)
    if args.heatmap is not None and not hasattr(model, "decode_step"):
        raise UsageError(f"--heatmap: the {model.kind!r} model does not decode step by step")
    out = tr.translate(texts, beam=args.beam or 1)
    if args.heatmap is not None and out.decoded.attention is None:
        raise UsageError(f"--heatmap: the {model.kind!r} model returns no attention weights "
                         "(try an attention model)")
    width = max(len(t) for t in texts)
    for q, a in zip(out.questions, out.answers):
        print(f"{q:<{width}}  ->  {a}")
    if args.heatmap is not None:
        print(f"wrote {heatmap(tr, out, args.heatmap)}")
    return 0


def heatmap(tr, out, path):
    from tinygrad_attn import plots
    panels = []
    for i, (q, a) in enumerate(zip(out.questions, out.answers)):
        ins = list(q) + ["pad"]
        outs = list(tr.vocab.decode(out.decoded.ids[i]))
        panels.append((ins, outs, tr.reading_order(out.decoded.attention[i], q)))
    return plots.attention_heatmaps(path, panels)


def add_parser(sub):
    p = sub.add_parser("translate", help="answer questions with a checkpoint (and draw "
                       "where it looked)",
                       description="Answer each input (arguments, or stdin one per line) with "
                       "a qa checkpoint's own decoding; inputs are padded (and reversed) as "
                       "the training data was. --heatmap draws, per input, the attention of "
                       "that decoding: output characters against input characters in reading "
                       "order, the last column being the weight on the padding.")
    p.add_argument("checkpoint", help="a .npz written by train, or a run folder")
    p.add_argument("inputs", nargs="*", help="questions (default: read stdin)")
    options.add(p, "beam")
    p.add_argument("--heatmap", metavar="FILE", type=options.out_file(*options.PICTURES),
                   help="draw the attention to this picture (.png, .svg or .pdf)")
    return p
