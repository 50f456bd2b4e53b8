"""CSV cells a spreadsheet will not run: formula-injection neutralisation for every CSV export.

A spreadsheet treats a cell starting with `=`, `+`, `-` or `@` as a formula (and a leading tab or CR can hide
one), so a lead's name or an event property written by an outsider could run in the reader's spreadsheet.
Such a text cell gets a leading `'`, which spreadsheets read as "this is text" and do not display.
Numbers are left alone: a number we write (a negative score) is not text a spreadsheet evaluates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

K = TypeVar("K")


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell that cannot start a formula: text with a risky first character gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(row: Mapping[K, Any]) -> dict[K, Any]:
    """A dict row (csv.DictWriter) with every cell passed through safe_cell."""
    return {key: safe_cell(value) for key, value in row.items()}


def safe_cells(cells: Iterable[Any]) -> list[Any]:
    """A list row (csv.writer) with every cell passed through safe_cell."""
    return [safe_cell(value) for value in cells]
