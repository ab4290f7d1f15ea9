"""The `tinygrad-attn` command (also `python -m tinygrad_attn`); `--help` on every command.

    tinygrad-attn demo                       the book's experiment in a minute or two: dates,
                                             training, test accuracy, translations, pictures
    tinygrad-attn demo --gradients           a forward-only expression, its gradients, gradchecks
    tinygrad-attn data dates -n 50000 --out date.txt       generate a data file (or addition)
    tinygrad-attn data --check date.txt                    every problem with its line number
    tinygrad-attn train --data date.txt --dir runs/attention [--model attention]
    tinygrad-attn train --resume --dir runs/attention      continue it, bit for bit
    tinygrad-attn train --task copy --model ntm --dir runs/ntm      the NTM copy task
    tinygrad-attn eval runs/attention --data date.txt [--all] [--beam 3]
    tinygrad-attn eval runs/ntm --lengths 1-20,30,50,80
    tinygrad-attn translate runs/attention "sept. 27, 1994" [--heatmap a.png]
    tinygrad-attn plot runs/attention runs/peeky --out curves.png [--metric loss]
    tinygrad-attn graph --out graph.svg      draw a loss graph (a model's, or a built-in example)

One module per command (demo.py, data.py, train.py, eval.py, translate.py, plot.py,
graph.py), each `add_parser(sub)` and `run(args)`; options.py is the one vocabulary of
options; process.py the only place that tunes the process (malloc, threads). This module
parses (options anywhere among the positionals and after the command: argparse's
intermixed parsing) and turns every failure into one line on stderr: exit status 2 for
bad input, 1 for a failure during the work, 130 for an interrupt; `--debug` shows the
traceback as well. The work itself is in the library (runs, tasks, data, plots, viz).
"""
from __future__ import annotations

import argparse
import difflib
import sys

from . import data, demo, eval as eval_, graph, options, plot, train, translate
from .errors import UsageError, classify, one_line
from .graph import example_expression   # noqa: F401  (the graph command's example; docs use it)

__all__ = ["main", "build_parser", "UsageError", "example_expression"]

COMMANDS = {"demo": demo, "data": data, "train": train, "eval": eval_,
            "translate": translate, "plot": plot, "graph": graph}
_TAKES_A_VALUE = {"--threads"}       # global options before the command that take a value
MOVED = {"copy": "the copy task trains and evaluates like every task: `tinygrad-attn train "
                 "--task copy --model ntm --dir runs/ntm`, `tinygrad-attn eval runs/ntm "
                 "--lengths 1-20,30,50,80`"}


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (exit status 2) instead of usage + error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser():
    """The top-level parser (its sub-parsers are the commands' own)."""
    from tinygrad_attn import __version__
    top = Parser(prog="tinygrad-attn", allow_abbrev=False,
                 description="tinygrad_attn: exact autograd over NumPy for attention seq2seq "
                 "models. Options may come before or after the command; "
                 "`tinygrad-attn COMMAND --help` lists a command's.")
    top.add_argument("--version", action="version", version=f"tinygrad-attn {__version__}")
    options.add(top, "threads", "debug")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    top.commands = {}
    for name, module in COMMANDS.items():
        p = module.add_parser(sub)
        options.add(p, "threads", "debug")
        p.set_defaults(run=module.run, command=name)
        top.commands[name] = p
    return top


def _command_index(argv):
    skip = False
    for i, token in enumerate(argv):
        if skip:
            skip = False
        elif token in _TAKES_A_VALUE:
            skip = True
        elif not token.startswith("-"):
            return i
    return None


def parse(argv):
    """(args, parser of the command): global options before the command, the command's
    own options anywhere after it (intermixed with its positionals)."""
    top = build_parser()
    i = _command_index(argv)
    if i is None:
        top.parse_args(argv)                # --help, --version, or an error
        top.error("choose a command: " + ", ".join(COMMANDS))
    name = argv[i]
    if name in MOVED:
        top.error(MOVED[name])
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        top.error(f"unknown command {name!r}" + (f" (did you mean {close[0]!r}?)" if close
                                                else f"; commands: {', '.join(COMMANDS)}"))
    before = top.parse_args(argv[:i])
    parser = top.commands[name]
    args = parser.parse_intermixed_args(argv[i + 1:])
    if args.threads is None:
        args.threads = before.threads
    args.debug = args.debug or before.debug
    return args, parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, parser = parse(argv)
    except KeyboardInterrupt:
        print("tinygrad-attn: interrupted", file=sys.stderr)
        return 130
    from . import process
    bad_input, failure = classify()
    try:
        process.configure(args)
        return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except bad_input as e:
        if args.debug:
            raise
        print(f"{parser.prog}: {one_line(e)}", file=sys.stderr)
        return 2
    except failure as e:
        if args.debug:
            raise
        print(f"{parser.prog}: {one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:           # our bug: still one line, the traceback on --debug
        if args.debug:
            raise
        print(f"{parser.prog}: internal error: {type(e).__name__}: {one_line(e)} (run again "
              "with --debug for the traceback, and please report it)", file=sys.stderr)
        return 1
