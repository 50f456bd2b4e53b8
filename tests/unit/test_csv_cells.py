"""Formula-injection neutralisation of exported CSV cells (core.csv_cells)."""

from __future__ import annotations

import csv
import io

import pytest

from core.csv_cells import safe_cell, safe_cells, safe_row


@pytest.mark.parametrize(
    "text",
    ["=HYPERLINK(\"http://evil\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "=", "-"],
)
def test_text_starting_a_formula_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "page_visit", "a=b", "ann@acme.com", " =1", "'=already quoted", "{\"a\":-1}"])
def test_other_text_is_unchanged(text: str) -> None:
    assert safe_cell(text) == text


@pytest.mark.parametrize("value", [-5, 0, 12, -1.5, None, True])
def test_numbers_and_non_text_are_unchanged(value: object) -> None:
    assert safe_cell(value) == value and type(safe_cell(value)) is type(value)


def test_rows_of_both_shapes_are_neutralised_cell_by_cell() -> None:
    assert safe_row({"name": "=cmd", "score": -3, "email": "a@b.co"}) == {"name": "'=cmd", "score": -3,
                                                                           "email": "a@b.co"}
    assert safe_cells(["@x", "y", -1]) == ["'@x", "y", -1]


def test_a_neutralised_cell_survives_csv_quoting_and_reads_back_with_its_quote() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(safe_cells(["=1+1", "\r=2", "ok"]))
    assert next(csv.reader(io.StringIO(out.getvalue(), newline=""))) == ["'=1+1", "'\r=2", "ok"]
