"""`tinygrad-attn data`: generate a data file (dates, addition) or check one."""
from __future__ import annotations

from . import options


def run(args):
    from tinygrad_attn.data import check_file, make_file
    from .errors import UsageError
    if args.check:
        given = [o for o, v in (("KIND", args.kind), ("--out", args.out)) if v]
        if given:
            raise UsageError(f"--check FILE checks a file; it takes no {' or '.join(given)}")
        try:
            report = check_file(args.check)
        except OSError as e:
            raise UsageError(f"cannot read {args.check}: {e.strerror}") from None
        print(report)
        return 0 if report.ok else 1
    if not args.kind or not args.out:
        raise UsageError("give a kind (dates or addition) and --out FILE, or --check FILE")
    opts = {}
    if args.kind == "dates":
        opts.update({k: v for k, v in (("start", args.start), ("end", args.end)) if v})
        if args.digits:
            raise UsageError("--digits is an option of addition, not of dates")
    else:
        if args.start or args.end:
            raise UsageError("--start and --end are options of dates, not of addition")
        if args.digits:
            opts["digits"] = args.digits
    options.writable(args.out)
    try:
        print(make_file(args.kind, args.examples, args.seed, args.out, **opts))
    except ValueError as e:
        raise UsageError(str(e)) from None
    return 0


def add_parser(sub):
    p = sub.add_parser("data", help="generate a data file (dates, addition) or check one",
                       description="Generate examples in the book's file format (question "
                       "padded to a fixed width, '_', answer), written atomically, or check a "
                       "file: counts, widths, vocabulary, duplicates and every problem with "
                       "its line number (exit status 1 if there is one).")
    p.add_argument("kind", nargs="?", choices=["dates", "addition"], help="what to generate")
    options.add(p, "examples", default=50000,
                help="number of examples (default 50000; 10%% are the test split)")
    options.add(p, "seed", default=0, help="random seed (default 0)")
    options.add(p, "out", type=options.out_file(), help="the file to write")
    p.add_argument("--start", help="dates: first date, YYYY-MM-DD (default 1970-01-01)")
    p.add_argument("--end", help="dates: last date, YYYY-MM-DD (default 2030-12-31)")
    p.add_argument("--digits", type=options.count, help="addition: digits per operand "
                   "(default 3)")
    p.add_argument("--check", metavar="FILE", help="check FILE instead of generating")
    return p
