"""The command lines the docs show are ones the command accepts.

Every `tinygrad-attn ...` (or `python -m tinygrad_attn ...`) line in a code block of
README.md and docs/*.md parses with the command's own parser (options, their arguments,
the positionals); every option an inline mention gives (`train --task copy --controller`)
is one of that command's. Nothing runs: `parse` only reads the line. (What the commands do
is tested in tests/test_cli.py and tests/test_cli_faults.py.)
"""
import re
import shlex
from pathlib import Path

import pytest

from tinygrad_attn.cli import UsageError, build_parser, parse

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
COMMANDS = build_parser().commands
PROG = re.compile(r"(?:tinygrad-attn|python -m tinygrad_attn)(?=\s|$)")


def argv_of(line):
    """The arguments after the program name, without a trailing comment."""
    line = re.sub(r"\s+#.*$", "", line)
    m = PROG.search(line)
    return [a for a in shlex.split(line[m.end():]) if a not in ("...", "…")]


def block_lines():
    for page in PAGES:
        text = page.read_text()
        for block in re.finditer(r"```(\w*)\n(.*?)```", text, re.S):
            if block.group(1) == "python":
                continue
            first = text.count("\n", 0, block.start()) + 2
            for i, line in enumerate(block.group(2).splitlines()):
                if PROG.search(line) and not line.lstrip().startswith("#"):
                    yield f"{page.name}:{first + i}", line.split("| ")[-1]


def inline_mentions():
    """Inline code spans naming a command and giving options: (where, command, options)."""
    names = "|".join(COMMANDS)
    for page in PAGES:
        text = page.read_text()
        for m in re.finditer(r"(?<!`)`([^`\n]+)`(?!`)", text):
            span = m.group(1)
            head = PROG.search(span)
            rest = span[head.end():] if head else span
            cmd = re.match(rf"\s*({names})\b(.*)", rest)
            if not cmd or "--" not in cmd.group(2):
                continue
            where = f"{page.name}:{text.count(chr(10), 0, m.start()) + 1}"
            yield where, cmd.group(1), re.findall(r"(?<![\w-])--[a-z][\w-]*", cmd.group(2))


BLOCKS = list(block_lines())
MENTIONS = list(inline_mentions())


def test_the_docs_show_command_lines():
    assert len(BLOCKS) >= 20
    assert {argv_of(line)[0] for _, line in BLOCKS if argv_of(line)} >= set(COMMANDS)
    assert len(MENTIONS) >= 10


@pytest.mark.parametrize("where, line", BLOCKS, ids=[w for w, _ in BLOCKS])
def test_a_command_line_the_docs_show_parses(where, line):
    argv = argv_of(line)
    try:
        args, parser = parse(argv)
    except (SystemExit, UsageError) as e:
        pytest.fail(f"{where}: {line.strip()!r} does not parse: {e}")
    assert args.command == argv[0] or argv[0].startswith("-")


@pytest.mark.parametrize("where, command, options", MENTIONS, ids=[w for w, _, _ in MENTIONS])
def test_an_option_the_docs_mention_exists(where, command, options):
    known = {o for action in COMMANDS[command]._actions for o in action.option_strings}
    known |= {o for action in build_parser()._actions for o in action.option_strings}
    unknown = [o for o in options if o not in known]
    assert not unknown, f"{where}: `{command}` has no option {unknown}"


def test_the_check_catches_a_wrong_line():
    with pytest.raises((SystemExit, UsageError)):
        parse(argv_of("tinygrad-attn train --data date.txt --modle attention"))
