"""The data layer: the book's question_answer text files, our generators, the checker.

Plain NumPy + the standard library; imports nothing from tinygrad_attn outside this package.

Generating (generate.py, dates.py, addition.py)
    make_file(kind, n, seed, path, **options) -> GeneratedFile      # str() is a summary line
        kind "dates":    options start='1970-01-01', end='2030-12-31', formats=None (all),
                         unique=True
        kind "addition": options digits=3, unique=True
    generate(kind, n, seed, **options) -> Examples                   # not written
    generate_dates(n, seed, *, start, end, formats, unique) -> Examples
    generate_addition(n, seed, *, digits, unique) -> Examples
    FORMATS: name -> DateFormat (callable date -> str; .parse(text, first_year) -> date)
    BOOK_FORMATS, TWO_DIGIT_FORMATS, FOUR_DIGIT_FORMATS: tuples of format names
    KINDS: kind -> generator
Writing (textfile.py)
    write_examples(path, examples) -> Path; write_lines(path, lines) -> Path   # atomic
    format_line(question, answer, question_width, answer_width) -> str
Checking (check.py)
    check_file(path) -> CheckReport      # .ok, .problems (Problem: line, column, offset,
                                         # message), .warnings, widths, counts; str() prints
    DataFileError(ValueError)            # .report, .problems; message lists every problem
Loading (textfile.py, vocab.py)
    load_dataset(path, *, reverse=False, seed=1984) -> Dataset
        Dataset: x_train, t_train, x_test, t_test (int64), vocab, question_width,
                 answer_width (counts the '_'), reverse, start_id, path, train_index,
                 test_index; .encode_question(text) -> (question_width,) ids,
                 .decode_question(ids), .metadata() -> JSON-able dict for a checkpoint
    book_split(n, seed=1984) -> (train_idx, test_idx)
    Vocabulary(chars): chars, char_to_id, id_to_char, encode(text), decode(ids),
        encode_question(text, width, reverse=False), encode_questions(texts, width, reverse),
        decode_question(ids, reverse=False), to_dict(), Vocabulary.from_dict(d)
    EncodeError(ValueError)              # .problems: every unseen character with its column,
                                         # a too-long question with both widths

The NTM copy task (copy_task.py; import it as tinygrad_attn.data.copy_task)
    copy_batch(rng, batch_size, length, bits=8) -> (inputs, targets, mask); bits_wrong(...)

CLI sketch:  `data --check FILE`      -> r = check_file(FILE); print(r); exit(0 if r.ok else 1)
             `data KIND -n N --seed S --out FILE` -> print(make_file(KIND, N, S, FILE))
"""
from .addition import generate_addition
from .check import CheckReport, DataFileError, Problem, check_file
from .dates import (BOOK_FORMATS, FORMATS, FOUR_DIGIT_FORMATS, TWO_DIGIT_FORMATS, DateFormat,
                    generate_dates)
from .generate import KINDS, GeneratedFile, generate, make_file
from .textfile import (Dataset, Examples, book_split, format_line, load_dataset,
                       write_examples, write_lines)
from .vocab import EncodeError, Vocabulary

__all__ = [
    "BOOK_FORMATS", "CheckReport", "DataFileError", "Dataset", "DateFormat", "EncodeError",
    "Examples", "FORMATS", "FOUR_DIGIT_FORMATS", "GeneratedFile", "KINDS", "Problem",
    "TWO_DIGIT_FORMATS", "Vocabulary", "book_split", "check_file", "format_line", "generate",
    "generate_addition", "generate_dates", "load_dataset", "make_file", "write_examples",
    "write_lines",
]
