"""Reading the tables a user brings: the cohort sheet, a feature table, a locked split.

One set of rules for all of them (docs/inputs.md, "How sheets and tables are read"):

* text in UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one), or
  UTF-16 with its mark (Excel's "Unicode Text"); other encodings are refused, naming the
  first byte that is not UTF-8;
* line ends LF, CRLF or CR;
* the separator is the one of comma, semicolon and tab found in the header row; a header
  holding more than one of them is refused, naming what was found;
* a spreadsheet file (.xlsx, .xls, .ods, by content, whatever its name) is refused with
  "save it as CSV (UTF-8)": Excel's cells turn 001 into 1 and ids into dates, which no
  reader can undo;
* case ids and every sheet cell are text, stripped of surrounding whitespace, so that
  `001` stays `001`;
* duplicate column names are refused (pandas would rename the second one `name.1`);
* in a semicolon or tab separated file, a numeric column written with decimal commas
  (`0,52`, as European Excel saves it) is read as numbers.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from radsnake.core.errors import InputError

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
_DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d*,\d+([eE][+-]?\d+)?\s*$")
_COMMA_OR_INTEGER = re.compile(r"^\s*[+-]?(\d+|\d*,\d+)([eE][+-]?\d+)?\s*$")


def _spreadsheet_kind(head: bytes) -> str:
    """'Excel' or 'OpenDocument' when the bytes start a spreadsheet file, else ''."""
    if head.startswith(b"PK\x03\x04"):
        return "OpenDocument" if b"application/vnd.oasis.opendocument" in head[:200] else "Excel"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # the OLE2 container of .xls
        return "Excel"
    return ""


def _decode(raw: bytes, what: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"{what} is not UTF-8 text: byte 0x{raw[err.start]:02x} on line {line} (e.g. an accented "
            "letter saved as Latin-1 / Windows-1252). Save it as CSV (UTF-8) (Excel: Save As > "
            "'CSV UTF-8 (Comma delimited)')."
        ) from None


def _separator(header: str, what: str) -> str:
    """The separator of the header row, counted outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", header)
    found = [sep for sep in SEPARATORS if sep in unquoted]
    if len(found) > 1:
        names = " and ".join(SEPARATORS[sep] for sep in found)
        raise InputError(
            f"{what}: its header row holds both {names} separators, so the columns cannot be "
            "told apart. Use one separator (comma, semicolon or tab) and no separator inside a "
            "column name."
        )
    return found[0] if found else ","


def read_table(path: str, what: str, text: bool = True) -> pd.DataFrame:
    """A user's table by the rules above.

    text=True (sheets, locked splits): every cell as stripped text, empty cells "".
    text=False (feature tables): case_id as stripped text, every other column as numbers
    where pandas can read it (empty cells NaN), decimal commas read as above.
    The frame's attrs["separator"] names the separator found.
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    kind = _spreadsheet_kind(raw[:512])
    if kind:
        program = {
            "Excel": "Excel: Save As > 'CSV UTF-8 (Comma delimited)'",
            "OpenDocument": "LibreOffice: Save As > 'Text CSV', character set UTF-8",
        }[kind]
        raise InputError(
            f"{what}: this is an {kind} file: save it as CSV (UTF-8) ({program}) and name the .csv file in the config."
        )
    content = _decode(raw, what)
    del raw
    if not content.strip():
        raise InputError(f"{what} is empty: it needs a header row naming the columns, then one row per case.")
    header_line = content.split("\n", 1)[0].split("\r", 1)[0]
    sep = _separator(header_line, what)
    header = next(csv.reader([header_line], delimiter=sep), [])
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1 and name})
    if repeated:
        raise InputError(
            f"{what}: column name(s) {', '.join(repr(n) for n in repeated)} appear more than once in the "
            "header. Each column needs its own name: rename or remove the copies."
        )
    # Unnamed columns (a trailing separator on every row) get a placeholder, dropped below.
    names = [name or f"\x00unnamed{i}" for i, name in enumerate(names)]
    rows = csv.reader(io.StringIO(content, newline=""), delimiter=sep)
    longest = max(((len(row), number) for number, row in enumerate(rows, 1)), default=(0, 0))
    if longest[0] > len(names):
        raise InputError(
            f"{what}: line {longest[1]} has {longest[0]} cells but the header has {len(names)} "
            f"({SEPARATORS[sep]}-separated). Remove the extra cells, or quote a value that holds a {SEPARATORS[sep]}."
        )
    options = dict(sep=sep, header=0, names=names, index_col=False, skip_blank_lines=True)
    try:
        if text:
            table = pd.read_csv(io.StringIO(content), dtype=str, keep_default_na=False, **options)
        else:
            table = pd.read_csv(io.StringIO(content), dtype={"case_id": str}, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputError(
            f"{what} is not a readable {SEPARATORS[sep]}-separated file: {str(err).strip()}. Check that "
            "every row has as many cells as the header."
        ) from None
    unnamed = [i for i, name in enumerate(names) if name.startswith("\x00unnamed")]
    for position in unnamed:
        column = table.iloc[:, position]
        if column.replace("", np.nan).dropna().astype(str).str.strip().ne("").any():
            raise InputError(
                f"{what}: column {position + 1} has values but no name in the header row. Name it or remove it."
            )
    table = table.drop(columns=[names[i] for i in unnamed]) if unnamed else table
    if text:
        table = table.fillna("").apply(lambda column: column.str.strip())
    elif "case_id" in table.columns:
        table["case_id"] = table["case_id"].fillna("").str.strip()
        if sep != ",":
            table = with_decimal_commas(table)
    table.attrs["separator"] = SEPARATORS[sep]
    return table


def with_decimal_commas(table: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every value is a number written with a decimal comma, as numbers."""
    for column in table.columns:
        if column == "case_id" or pd.api.types.is_numeric_dtype(table[column]):
            continue
        values = table[column].dropna().astype(str)
        written = values.map(lambda v: bool(_COMMA_OR_INTEGER.match(v)))
        if len(values) and written.all() and values.str.contains(",", regex=False).any():
            table[column] = values.str.replace(",", ".", regex=False).astype(float).reindex(table.index)
    return table


def to_numbers(values: pd.Series, separator: str) -> pd.Series:
    """A numeric sheet column (text) as floats; "" is NaN. With a semicolon or tab
    separator, a decimal comma is read as a decimal point (the feature tables' rule).
    Values that are not numbers stay NaN (the caller has named them)."""
    text = values.astype(str).str.strip()
    if separator != "comma":
        text = text.where(~text.str.match(_DECIMAL_COMMA.pattern), text.str.replace(",", ".", regex=False))
    return pd.to_numeric(text.replace("", None), errors="coerce")


def is_number(value: str, separator: str) -> bool:
    if separator != "comma" and _DECIMAL_COMMA.match(value):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True
