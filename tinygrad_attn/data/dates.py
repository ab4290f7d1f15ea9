"""Our date generator: a date in one of many human formats -> ISO `YYYY-MM-DD`.

    examples = generate_dates(50_000, seed=0)            # Examples, see textfile.py
    FORMATS["full_upper"](datetime.date(1984, 9, 25))     # 'TUESDAY, SEPTEMBER 25, 1984'
    FORMATS["short"].parse("8/23/08")                     # datetime.date(2008, 8, 23)

A format is one row of `FORMATS`: name -> DateFormat(pattern, case). Patterns use our own
strftime-like directives (English names, independent of the locale):

    %A Monday..Sunday   %a Mon..Sun     %B January..December   %b Jan..Dec
    %E AP-style month: Jan. Feb. March April May June July Aug. Sept. Oct. Nov. Dec.
    %d day 01-31        %e day 1-31     %o ordinal day 1st..31st
    %m month 01-12      %n month 1-12   %Y year, 4 digits      %y year, 2 digits   %% a '%'

`case` is "title" (names as written above), "lower" or "upper", applied to the whole text.
Every format renders a date to exactly one text, and `parse` reads it back (names in any
case, digits exactly as the directive writes them; a weekday must match the date, an ordinal
suffix must match its day).

Two-digit years. A '%y' year is read in the 100-year window that starts at the first year
of the generated range (the pivot rule): year = first + (yy - first) mod 100. With the
default range 1970-01-01..2030-12-31, '70..'99 are 1970..1999 and '00..'30 are 2000..2030
(the same reading as POSIX strptime's %y for these years). A range spanning more than 100
years would make a two-digit year ambiguous, so `generate_dates` refuses it while a
two-digit format is selected (pass `formats=FOUR_DIGIT_FORMATS`).

A text never stands for two dates: slashes are always month-first (US), dots day-first
(European) or year-first, and the tests parse every text with every format. But one text can
come from two formats of the same date: the book's own medium and long formats agree in May
("May 3, 1996"), so `unique=True` deduplicates the texts themselves. Changing the table
(even appending a row) changes which file a given seed produces.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

import numpy as np

from .textfile import Examples, check_count

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
AP_MONTHS = ("Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.",
             "Oct.", "Nov.", "Dec.")
DEFAULT_START = _dt.date(1970, 1, 1)
DEFAULT_END = _dt.date(2030, 12, 31)
ANSWER_WIDTH = 11  # '_' + 'YYYY-MM-DD'
CASES = ("title", "lower", "upper")


def ordinal(day: int) -> str:
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 11 -> '11th', 22 -> '22nd', 31 -> '31st'."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def two_digit_year(yy: int, first_year: int) -> int:
    """The pivot rule: the year in [first_year, first_year + 99] that ends in `yy`."""
    return first_year + (yy - first_year) % 100


def _names(names):
    # longest first so that no alternative is cut short by a prefix of another
    return "(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"


# directive -> (render(date) -> str, regex with one group, field, value(group) -> int,
#               widest text it writes)
_DIRECTIVES = {
    "A": (lambda d: WEEKDAYS[d.weekday()], _names(WEEKDAYS), "weekday",
          lambda s: [w.lower() for w in WEEKDAYS].index(s.lower()), max(map(len, WEEKDAYS))),
    "a": (lambda d: WEEKDAYS[d.weekday()][:3], _names(w[:3] for w in WEEKDAYS), "weekday",
          lambda s: [w[:3].lower() for w in WEEKDAYS].index(s.lower()), 3),
    "B": (lambda d: MONTHS[d.month - 1], _names(MONTHS), "month",
          lambda s: [m.lower() for m in MONTHS].index(s.lower()) + 1, max(map(len, MONTHS))),
    "b": (lambda d: MONTHS[d.month - 1][:3], _names(m[:3] for m in MONTHS), "month",
          lambda s: [m[:3].lower() for m in MONTHS].index(s.lower()) + 1, 3),
    "E": (lambda d: AP_MONTHS[d.month - 1], _names(AP_MONTHS), "month",
          lambda s: [m.lower() for m in AP_MONTHS].index(s.lower()) + 1,
          max(map(len, AP_MONTHS))),
    "d": (lambda d: f"{d.day:02d}", r"(\d\d)", "day", int, 2),
    "e": (lambda d: str(d.day), r"([1-9]\d?)", "day", int, 2),
    "o": (lambda d: ordinal(d.day), r"([1-9]\d?(?:st|nd|rd|th))", "day", None, 4),
    "m": (lambda d: f"{d.month:02d}", r"(\d\d)", "month", int, 2),
    "n": (lambda d: str(d.month), r"([1-9]\d?)", "month", int, 2),
    "Y": (lambda d: f"{d.year:04d}", r"(\d{4})", "year", int, 4),
    "y": (lambda d: f"{d.year % 100:02d}", r"(\d\d)", "yy", int, 2),
}


@dataclass(frozen=True)
class DateFormat:
    """One human date format: callable date -> text, `parse(text)` -> date."""
    pattern: str
    case: str = "title"
    _parts: tuple = field(init=False, repr=False, compare=False)
    _regex: object = field(init=False, repr=False, compare=False)
    _fields: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.case not in CASES:
            raise ValueError(f"DateFormat: case must be one of {CASES}, got {self.case!r}")
        parts, regex, fields, i = [], [], [], 0
        while i < len(self.pattern):
            ch = self.pattern[i]
            if ch != "%":
                parts.append(ch)
                regex.append(re.escape(ch))
                i += 1
                continue
            key = self.pattern[i + 1:i + 2]
            if key == "%":
                parts.append("%")
                regex.append("%")
            elif key in _DIRECTIVES:
                parts.append(_DIRECTIVES[key][0])
                regex.append(_DIRECTIVES[key][1])
                fields.append(key)
            else:
                raise ValueError(f"DateFormat {self.pattern!r}: unknown directive %{key} at "
                                 f"{i} (known: {' '.join('%' + k for k in _DIRECTIVES)})")
            i += 2
        if not {"Y", "y"} & set(fields) or not {"B", "b", "E", "m", "n"} & set(fields) \
                or not {"d", "e", "o"} & set(fields):
            raise ValueError(f"DateFormat {self.pattern!r}: needs a year, a month and a day")
        object.__setattr__(self, "_parts", tuple(parts))
        object.__setattr__(self, "_regex", re.compile("".join(regex), re.IGNORECASE))
        object.__setattr__(self, "_fields", tuple(fields))

    @property
    def two_digit_year(self) -> bool:
        return "y" in self._fields

    @property
    def max_width(self) -> int:
        """The widest text this format can write: the literal characters plus each
        directive's widest text. The widest texts combine freely (every weekday falls on
        every month and day in some year), so some date in any 28-year span reaches it."""
        literal = sum(1 for p in self._parts if isinstance(p, str))
        return literal + sum(_DIRECTIVES[k][4] for k in self._fields)

    def __call__(self, d: _dt.date) -> str:
        text = "".join(p if isinstance(p, str) else p(d) for p in self._parts)
        return text.lower() if self.case == "lower" else \
            text.upper() if self.case == "upper" else text

    def matches(self, text: str) -> bool:
        """Whether `text` has this format's shape (parse may still find a bad date)."""
        return self._regex.fullmatch(text) is not None

    def parse(self, text: str, first_year: int = DEFAULT_START.year) -> _dt.date:
        """Read a text written by this format back into a date (ValueError if it is not
        one). `first_year` starts the window for two-digit years (see the module doc)."""
        m = self._regex.fullmatch(text)
        if m is None:
            raise ValueError(f"{text!r} does not match the date format {self.pattern!r}")
        values = {}
        for key, group in zip(self._fields, m.groups()):
            name, convert = _DIRECTIVES[key][2], _DIRECTIVES[key][3]
            if key == "o":
                value = int(group[:-2])
                if ordinal(value).lower() != group.lower():
                    raise ValueError(f"{text!r}: {group!r} has the wrong ordinal suffix")
            else:
                value = convert(group)
            if name == "yy":
                name, value = "year", two_digit_year(value, first_year)
            if values.setdefault(name, value) != value:
                raise ValueError(f"{text!r}: two different {name}s")
        weekday = values.pop("weekday", None)
        try:
            d = _dt.date(values["year"], values["month"], values["day"])
        except ValueError as e:
            raise ValueError(f"{text!r} is not a valid date ({e})") from None
        if weekday is not None and weekday != d.weekday():
            raise ValueError(f"{text!r}: {d.isoformat()} is a {WEEKDAYS[d.weekday()]}, "
                             f"not a {WEEKDAYS[weekday]}")
        return d


# The table. The first ten are the book's formats (Babel's en_US short/medium/long/full,
# each name-bearing one in lower, Title and UPPER case as in the book's file).
FORMATS = {
    "short":            DateFormat("%n/%e/%y"),                   # 8/23/08
    "medium":           DateFormat("%b %e, %Y"),                  # Sep 30, 1975
    "medium_lower":     DateFormat("%b %e, %Y", "lower"),         # sep 30, 1975
    "medium_upper":     DateFormat("%b %e, %Y", "upper"),         # JUN 17, 2013
    "long":             DateFormat("%B %e, %Y"),                  # August 19, 2003
    "long_lower":       DateFormat("%B %e, %Y", "lower"),         # september 27, 1994
    "long_upper":       DateFormat("%B %e, %Y", "upper"),         # AUGUST 11, 1986
    "full":             DateFormat("%A, %B %e, %Y"),              # Sunday, January 30, 1977
    "full_lower":       DateFormat("%A, %B %e, %Y", "lower"),     # tuesday, september 25, 1984
    "full_upper":       DateFormat("%A, %B %e, %Y", "upper"),     # FRIDAY, AUGUST 30, 1991
    "us_padded":        DateFormat("%m/%d/%Y"),                   # 09/27/1994
    "dots":             DateFormat("%e.%n.%Y"),                   # 27.9.1994
    "dots_short":       DateFormat("%d.%m.%y"),                   # 27.09.94
    "iso_dots":         DateFormat("%Y.%m.%d"),                   # 1994.09.27
    "ordinal":          DateFormat("%B %o, %Y"),                  # September 27th, 1994
    "ordinal_of_lower": DateFormat("%o of %B %Y", "lower"),       # 27th of september 1994
    "day_first":        DateFormat("%e %B %Y"),                   # 27 September 1994
    "day_first_upper":  DateFormat("%d %b %Y", "upper"),          # 27 SEP 1994
    "dashes_upper":     DateFormat("%d-%b-%Y", "upper"),          # 27-SEP-1994
    "apostrophe":       DateFormat("%b %e '%y"),                  # Sep 27 '94
    "weekday_day_first": DateFormat("%A %e %B %Y"),               # Tuesday 27 September 1994
    "weekday_abbrev":   DateFormat("%a, %e %b %Y"),               # Tue, 27 Sep 1994
    "ap_weekday":       DateFormat("%a, %E %e, %Y"),              # Tue, Sept. 27, 1994
    "ap_ordinal_lower": DateFormat("%o %E %Y", "lower"),          # 27th sept. 1994
}
BOOK_FORMATS = tuple(list(FORMATS)[:10])
TWO_DIGIT_FORMATS = tuple(k for k, f in FORMATS.items() if f.two_digit_year)
FOUR_DIGIT_FORMATS = tuple(k for k, f in FORMATS.items() if not f.two_digit_year)


def question_width(formats=None) -> int:
    """The question width of a file: the widest text any of the formats can write (29 for
    the default table, as in the book's file), whatever the range, n or seed."""
    return max(FORMATS[k].max_width for k in _format_names(formats))


def _format_names(formats):
    if isinstance(formats, str):  # "long,short" from a command line
        formats = [f.strip() for f in formats.split(",")]
    names = list(FORMATS) if formats is None else list(formats)
    unknown = [k for k in names if k not in FORMATS]
    if unknown or not names:
        raise ValueError(f"unknown date formats {unknown} (known: {', '.join(FORMATS)})"
                         if unknown else "no date formats selected")
    if len(set(names)) != len(names):
        raise ValueError(f"date formats listed twice: {names}")
    return names


def _as_date(value, what):
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what} must be a date or 'YYYY-MM-DD', got {value!r}") from None


def check_range(start, end, formats=None):
    """Validate a date range for the selected formats; returns (start, end, format names)."""
    start, end = _as_date(start, "start"), _as_date(end, "end")
    names = _format_names(formats)
    if start > end:
        raise ValueError(f"the date range is empty: start {start} is after end {end}")
    if start.year < 1000:
        raise ValueError(f"start {start}: years before 1000 have no 4-digit ISO form")
    two = [k for k in names if FORMATS[k].two_digit_year]
    if two and end.year - start.year >= 100:
        raise ValueError(
            f"the range {start}..{end} covers {end.year - start.year + 1} years, so a two-digit "
            f"year would be ambiguous in the formats {', '.join(two)}; narrow the range to at "
            f"most 100 years or choose formats without them (dates.FOUR_DIGIT_FORMATS)")
    return start, end, names


def generate_dates(n: int, seed: int, *, start=DEFAULT_START, end=DEFAULT_END,
                   formats=None, unique: bool = True) -> Examples:
    """`n` (question, ISO answer) examples, reproducible from `seed`.

    Each example is a (date, format) pair drawn uniformly from every day in [start, end]
    (inclusive; dates or 'YYYY-MM-DD') times the selected `formats` (names, default all);
    `unique=True` keeps distinct questions only (so no example is in both the train and
    the test set); ValueError if the range and formats have fewer than `n`. The question
    width is `question_width(formats)`, the answer width 11.
    """
    start, end, names = check_range(start, end, formats)
    n = check_count(n, seed)
    table = [FORMATS[k] for k in names]
    first, days = start.toordinal(), end.toordinal() - start.toordinal() + 1
    capacity = days * len(table)
    rng = np.random.default_rng(seed)

    def example(pair):
        d = _dt.date.fromordinal(first + pair // len(table))
        return table[pair % len(table)](d), d.isoformat()

    if not unique:
        pairs = rng.integers(0, capacity, size=n).tolist()
        questions, answers = map(list, zip(*map(example, pairs)))
    else:
        chosen = _distinct(rng, capacity, n, example)
        if len(chosen) < n:
            raise ValueError(f"cannot draw {n} distinct questions: {start}..{end} in "
                             f"{len(table)} formats gives only {len(chosen)}")
        questions, answers = list(chosen), list(chosen.values())
    return Examples(questions, answers, question_width(names), ANSWER_WIDTH, kind="dates",
                    options=dict(start=start.isoformat(), end=end.isoformat(),
                                 formats=names, unique=unique))


def _distinct(rng, capacity, n, example):
    """The first `n` distinct questions met while drawing (date, format) pairs without
    replacement. Pairs and questions are not one to one: some of the book's own formats
    coincide ("May 3, 1996" is both its medium and its long format), so we deduplicate the
    texts. A small population is walked as one permutation (and may run out: the caller
    reports the exact count); a large one (over 4n pairs) is sampled in blocks, which ends
    quickly because at most two formats share a text (a test checks it), so it holds more
    than 2n distinct questions."""
    chosen = {}

    def take(pairs):
        for pair in pairs:
            q, a = example(pair)
            chosen.setdefault(q, a)
            if len(chosen) == n:
                break

    if capacity <= 4 * n:
        take(rng.permutation(capacity).tolist())
        return chosen
    block = rng.choice(capacity, size=n, replace=False).tolist()
    seen = set(block)
    take(block)
    for _ in range(100):
        if len(chosen) == n:
            return chosen
        block = []
        for pair in rng.integers(0, capacity, size=2 * (n - len(chosen)) + 16).tolist():
            if pair not in seen:
                seen.add(pair)
                block.append(pair)
        take(block)
    if len(chosen) < n:
        raise RuntimeError(f"generate_dates: still {n - len(chosen)} questions short after "
                           f"100 rounds; the format table has texts shared by many formats")
    return chosen
