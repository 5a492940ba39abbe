"""Reading a CSV file as (line, cells) records, every failure a one-line :class:`CsvProblem`.

Used by the manifest reader and the ``folder_csv`` converter. The file is decoded as UTF-8
(a BOM is allowed) in one piece, so a bad byte is reported at its real line; a field over
the ``csv`` module's limit (131,072 characters), a stray quote and other parse failures
are reported at the line where their record starts, never as a traceback.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

__all__ = ["CsvProblem", "read_csv"]


class CsvProblem(Exception):
    """``line`` (1-based, or ``None`` for the whole file) and ``text`` (what is wrong)."""

    def __init__(self, line: int | None, text: str):
        self.line, self.text = line, text
        super().__init__(f"line {line}: {text}" if line else text)


def read_csv(path: str | Path) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """``(header, records)``: the stripped header cells (``None`` for an empty file) and
    every non-blank record after it as ``(line, stripped cells)``."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CsvProblem(line, f"not UTF-8 text (byte 0x{data[e.start]:02x}); is this a CSV file?") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    start = 0
    try:
        for cells in reader:
            line, start = start + 1, reader.line_num
            if header is None:
                header = [c.strip() for c in cells]
                continue
            if cells and any(c.strip() for c in cells):
                records.append((line, [c.strip() for c in cells]))
    except csv.Error as e:
        msg = str(e)
        if "field limit" in msg:
            msg = f"a field is longer than {csv.field_size_limit()} characters (an unclosed quote?)"
        raise CsvProblem(start + 1, f"cannot parse CSV: {msg}") from None
    return header, records
