"""The date generator: every format renders what its row says, parses back (with our parser
and with datetime.strptime as an independent oracle), never stands for two dates, and the
generator is reproducible, in range, unique and honest about two-digit years."""
import datetime as dt
import re
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_attn.data import dates as D
from tinygrad_attn.data import generate, make_file
from tinygrad_attn.data.check import check_file

# strptime can read each format after normalising what it has no directive for
ORD = "ordinal suffix"     # 27th -> 27
AP = "AP month"            # Sept. / March -> Sep / Mar
# name, 1994-09-27, 2008-05-03 (a Saturday), strptime pattern, normalisations
FORMAT_ROWS = [
    ("short", "9/27/94", "5/3/08", "%m/%d/%y", ()),
    ("medium", "Sep 27, 1994", "May 3, 2008", "%b %d, %Y", ()),
    ("medium_lower", "sep 27, 1994", "may 3, 2008", "%b %d, %Y", ()),
    ("medium_upper", "SEP 27, 1994", "MAY 3, 2008", "%b %d, %Y", ()),
    ("long", "September 27, 1994", "May 3, 2008", "%B %d, %Y", ()),
    ("long_lower", "september 27, 1994", "may 3, 2008", "%B %d, %Y", ()),
    ("long_upper", "SEPTEMBER 27, 1994", "MAY 3, 2008", "%B %d, %Y", ()),
    ("full", "Tuesday, September 27, 1994", "Saturday, May 3, 2008", "%A, %B %d, %Y", ()),
    ("full_lower", "tuesday, september 27, 1994", "saturday, may 3, 2008", "%A, %B %d, %Y", ()),
    ("full_upper", "TUESDAY, SEPTEMBER 27, 1994", "SATURDAY, MAY 3, 2008", "%A, %B %d, %Y", ()),
    ("us_padded", "09/27/1994", "05/03/2008", "%m/%d/%Y", ()),
    ("dots", "27.9.1994", "3.5.2008", "%d.%m.%Y", ()),
    ("dots_short", "27.09.94", "03.05.08", "%d.%m.%y", ()),
    ("iso_dots", "1994.09.27", "2008.05.03", "%Y.%m.%d", ()),
    ("ordinal", "September 27th, 1994", "May 3rd, 2008", "%B %d, %Y", (ORD,)),
    ("ordinal_of_lower", "27th of september 1994", "3rd of may 2008", "%d of %B %Y", (ORD,)),
    ("day_first", "27 September 1994", "3 May 2008", "%d %B %Y", ()),
    ("day_first_upper", "27 SEP 1994", "03 MAY 2008", "%d %b %Y", ()),
    ("dashes_upper", "27-SEP-1994", "03-MAY-2008", "%d-%b-%Y", ()),
    ("apostrophe", "Sep 27 '94", "May 3 '08", "%b %d '%y", ()),
    ("weekday_day_first", "Tuesday 27 September 1994", "Saturday 3 May 2008", "%A %d %B %Y", ()),
    ("weekday_abbrev", "Tue, 27 Sep 1994", "Sat, 3 May 2008", "%a, %d %b %Y", ()),
    ("ap_weekday", "Tue, Sept. 27, 1994", "Sat, May 3, 2008", "%a, %b %d, %Y", (AP,)),
    ("ap_ordinal_lower", "27th sept. 1994", "3rd may 2008", "%d %b %Y", (ORD, AP)),
]
ROWS = {r[0]: r for r in FORMAT_ROWS}

# lines of the book's date.txt (from the brief) and the format we claim writes each
BOOK_LINES = [
    ("september 27, 1994", "long_lower", "1994-09-27"),
    ("August 19, 2003", "long", "2003-08-19"),
    ("2/10/93", "short", "1993-02-10"),
    ("10/31/90", "short", "1990-10-31"),
    ("TUESDAY, SEPTEMBER 25, 1984", "full_upper", "1984-09-25"),
    ("JUN 17, 2013", "medium_upper", "2013-06-17"),
    ("april 3, 1996", "long_lower", "1996-04-03"),
    ("October 24, 1974", "long", "1974-10-24"),
    ("AUGUST 11, 1986", "long_upper", "1986-08-11"),
    ("February 16, 2015", "long", "2015-02-16"),
    ("October 12, 1988", "long", "1988-10-12"),
    ("6/3/73", "short", "1973-06-03"),
    ("sep 30, 1975", "medium_lower", "1975-09-30"),
    ("Sunday, January 30, 1977", "full", "1977-01-30"),
    ("1/5/80", "short", "1980-01-05"),
    ("SUNDAY, DECEMBER 26, 1976", "full_upper", "1976-12-26"),
    ("8/23/08", "short", "2008-08-23"),
    ("FRIDAY, AUGUST 30, 1991", "full_upper", "1991-08-30"),
]

in_default_range = st.dates(D.DEFAULT_START, D.DEFAULT_END)


def normalise(text, how):
    if ORD in how:
        text = re.sub(r"(\d)(st|nd|rd|th)", r"\1", text, flags=re.I)
    if AP in how:
        text = re.sub(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?", r"\1",
                      text, flags=re.I)
    return text


def test_the_table_has_a_row_per_format_and_at_least_20():
    assert [r[0] for r in FORMAT_ROWS] == list(D.FORMATS)
    assert len(D.FORMATS) >= 20


@pytest.mark.parametrize("name,sep27,may3,_pattern,_how", FORMAT_ROWS)
def test_each_format_writes_its_row(name, sep27, may3, _pattern, _how):
    f = D.FORMATS[name]
    assert f(dt.date(1994, 9, 27)) == sep27
    assert f(dt.date(2008, 5, 3)) == may3
    assert f.parse(sep27) == dt.date(1994, 9, 27)
    assert f.parse(may3) == dt.date(2008, 5, 3)


@pytest.mark.parametrize("text,name,iso", BOOK_LINES)
def test_the_books_lines_come_from_the_book_formats(text, name, iso):
    assert name in D.BOOK_FORMATS
    assert D.FORMATS[name](dt.date.fromisoformat(iso)) == text
    assert D.FORMATS[name].parse(text).isoformat() == iso


@given(in_default_range)
def test_every_format_parses_back_with_our_parser(d):
    for name, f in D.FORMATS.items():
        text = f(d)
        assert f.parse(text) == d, name
        assert len(text) <= f.max_width <= D.question_width()


english = dt.date(2001, 2, 3).strftime("%A %B %a %b") == "Saturday February Sat Feb"


@pytest.mark.skipif(not english, reason="strptime's names follow the locale; ours are English")
@given(in_default_range)
def test_every_format_parses_back_with_strptime(d):
    # strptime's %y reads 69..99 as 19xx and 00..68 as 20xx: our pivot agrees on 1970..2030
    for name, f in D.FORMATS.items():
        _, _, _, pattern, how = ROWS[name]
        assert dt.datetime.strptime(normalise(f(d), how), pattern).date() == d, name


@given(in_default_range)
def test_no_text_stands_for_two_dates(d):
    """Parse each text with every format: whatever parses gives the same date (slashes are
    month-first, dots day-first or year-first, so no D/M vs M/D ambiguity)."""
    for f in D.FORMATS.values():
        text = f(d)
        for g in D.FORMATS.values():
            try:
                parsed = g.parse(text)
            except ValueError:
                continue
            assert parsed == d, (text, g.pattern)


def test_formats_share_texts_only_where_the_book_does():
    """One text from two formats happens only for May (its abbreviation is its name), in the
    book's own medium/long pair; never more than two formats per text (which
    generate_dates' sampling relies on)."""
    by_text = defaultdict(set)
    for o in range(dt.date(1995, 1, 1).toordinal(), dt.date(1996, 12, 31).toordinal() + 1):
        d = dt.date.fromordinal(o)
        for name, f in D.FORMATS.items():
            by_text[f(d)].add((name, d))
    shared = {frozenset(n for n, _ in v) for v in by_text.values() if len(v) > 1}
    assert shared == {frozenset({"medium", "long"}), frozenset({"medium_lower", "long_lower"}),
                      frozenset({"medium_upper", "long_upper"})}
    assert all(len({d for _, d in v}) == 1 for v in by_text.values())
    assert all(d.month == 5 for v in by_text.values() if len(v) > 1 for _, d in v)


def test_question_width_is_the_books_29_and_is_reached():
    assert D.question_width() == 29
    # day 27 in 28 consecutive years meets every weekday in every month
    sample = [dt.date(y, m, 27) for y in range(2000, 2028) for m in range(1, 13)]
    for name, f in D.FORMATS.items():
        assert max(len(f(d)) for d in sample) == f.max_width, name


@pytest.mark.parametrize("name,text,why", [
    ("full", "Monday, September 27, 1994", "is a Tuesday"),
    ("ordinal", "September 27st, 1994", "ordinal suffix"),
    ("short", "2/30/93", "not a valid date"),
    ("long", "Septembre 27, 1994", "does not match"),
    ("us_padded", "9/27/1994", "does not match"),
    ("dots", "27.09.1994", "does not match"),
    ("long", "September 27, 94", "does not match"),
])
def test_parse_rejects(name, text, why):
    with pytest.raises(ValueError, match=why):
        D.FORMATS[name].parse(text)


@settings(max_examples=20)
@given(st.integers(1000, 9899), st.integers(0, 99), st.integers(0, 2**32 - 1))
def test_two_digit_years_follow_the_pivot_rule_in_any_100_year_range(first, yy, seed):
    start = dt.date(first, 1, 1)
    end = dt.date(first + 99, 12, 31)
    ex = D.generate_dates(30, seed, start=start, end=end, formats=D.TWO_DIGIT_FORMATS)
    for q, a in zip(ex.questions, ex.answers):
        d = dt.date.fromisoformat(a)
        assert start <= d <= end
        parsed = {D.FORMATS[k].parse(q, first) for k in D.TWO_DIGIT_FORMATS
                  if D.FORMATS[k].matches(q)}
        assert parsed == {d}
    assert D.two_digit_year(yy, first) % 100 == yy
    assert first <= D.two_digit_year(yy, first) <= first + 99


def test_ranges_where_two_digit_years_are_ambiguous_are_refused():
    with pytest.raises(ValueError, match="covers 101 years.*short, dots_short, apostrophe"):
        D.generate_dates(10, 0, start="1900-01-01", end="2000-01-01")
    ex = D.generate_dates(10, 0, start="1900-01-01", end="2000-01-01",
                          formats=D.FOUR_DIGIT_FORMATS)
    assert len(ex) == 10
    assert len(D.generate_dates(10, 0, start="1900-01-01", end="1999-12-31")) == 10


@pytest.mark.parametrize("kwargs,match", [
    (dict(start="2000-01-02", end="2000-01-01"), "empty"),
    (dict(start="0999-12-31", end="1000-01-02", formats=D.FOUR_DIGIT_FORMATS), "before 1000"),
    (dict(start="1999-02-30"), "YYYY-MM-DD"),
    (dict(formats=["long", "nope"]), "unknown date formats \\['nope'\\]"),
    (dict(formats=[]), "no date formats"),
    (dict(formats=["long", "long"]), "twice"),
])
def test_bad_generator_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.generate_dates(5, 0, **kwargs)


@pytest.mark.parametrize("n,seed", [(0, 0), (-3, 0), (2.5, 0), (True, 0), (5, -1), (5, "1")])
def test_bad_counts_and_seeds(n, seed):
    with pytest.raises(ValueError):
        D.generate_dates(n, seed)


@settings(max_examples=10)
@given(st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_same_seed_same_file(n, seed):
    a, b = D.generate_dates(n, seed), D.generate_dates(n, seed)
    assert (a.questions, a.answers) == (b.questions, b.answers)
    assert a.lines() == b.lines()


def test_same_seed_identical_bytes_other_seed_other_file(tmp_path):
    make_file("dates", 2000, 7, tmp_path / "a.txt")
    make_file("dates", 2000, 7, tmp_path / "b.txt")
    make_file("dates", 2000, 8, tmp_path / "c.txt")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert (tmp_path / "a.txt").read_bytes() != (tmp_path / "c.txt").read_bytes()


def test_a_generated_file_is_valid_unique_and_uses_every_format(tmp_path):
    result = make_file("dates", 5000, 3, tmp_path / "date.txt")
    report = check_file(tmp_path / "date.txt")
    assert report.ok and report.duplicates == 0 and not report.warnings
    assert (report.n_examples, report.question_width, report.answer_width) == (5000, 29, 11)
    assert str(result).startswith("wrote 5000 dates examples (seed 3) to ")
    ex = generate("dates", 5000, 3)
    used = {name for q in ex.questions for name, f in D.FORMATS.items()
            if f.matches(q) and f(f.parse(q)) == q}
    assert used == set(D.FORMATS)
    for q, a in zip(ex.questions, ex.answers):
        assert D.DEFAULT_START.isoformat() <= a <= D.DEFAULT_END.isoformat()


def test_unique_draws_every_distinct_text_and_no_more():
    # 1996-05-03 in 24 formats: 3 texts are shared (May), so 21 distinct questions exist
    one_day = dict(start="1996-05-03", end="1996-05-03")
    ex = D.generate_dates(21, 0, **one_day)
    assert len(set(ex.questions)) == 21 and set(ex.answers) == {"1996-05-03"}
    with pytest.raises(ValueError, match="gives only 21"):
        D.generate_dates(22, 0, **one_day)
    dup = D.generate_dates(200, 0, unique=False, **one_day)
    assert len(dup) == 200 and len(set(dup.questions)) <= 21


def test_unknown_kind_and_option():
    with pytest.raises(ValueError, match="unknown data kind 'words'"):
        generate("words", 5, 0)
    with pytest.raises(ValueError, match=r"unknown options \['digits'\]"):
        generate("dates", 5, 0, digits=3)


@pytest.mark.parametrize("day,text", [
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"),
    (13, "13th"), (14, "14th"), (20, "20th"), (21, "21st"), (22, "22nd"), (23, "23rd"),
    (24, "24th"), (30, "30th"), (31, "31st"),
])
def test_ordinals(day, text):
    assert D.ordinal(day) == text
    assert D.FORMATS["ordinal"].parse(f"May {text}, 2001") == dt.date(2001, 5, day)


def test_formats_can_be_given_as_a_comma_separated_string():
    ex = D.generate_dates(50, 0, formats="long, short")
    assert ex.options["formats"] == ["long", "short"]
    assert all(D.FORMATS["long"].matches(q) or D.FORMATS["short"].matches(q)
               for q in ex.questions)
