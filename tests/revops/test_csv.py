"""Every CSV the app writes goes through revops.csv: cells a spreadsheet would run as a formula
are made inert, numbers stay numbers, and rows stream one line at a time."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from revops.csv import csv_lines, csv_response


def test_csv_lines_escape_formulas_and_keep_numbers_and_blanks():
    lines = list(
        csv_lines([["name", "amount"], ["=1+2", -5], ["@SUM(A1)", Decimal("-2.50")], ["-x", None]])
    )
    assert lines == ["name,amount\r\n", "'=1+2,-5\r\n", "'@SUM(A1),-2.50\r\n", "'-x,\r\n"]


def test_a_csv_response_streams_its_rows_as_an_attachment():
    response = csv_response(iter([["a"], ["+1 555 0100"]]), "x.csv")
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    body = b"".join(response.streaming_content).decode()
    assert list(csv.reader(io.StringIO(body))) == [["a"], ["'+1 555 0100"]]


def test_negative_numbers_as_text_stay_numbers_but_formulas_starting_with_a_minus_do_not():
    # Held import rows come back as the file's text: "-5" must re-import as -5, not "'-5".
    lines = list(csv_lines([["-5", "-1,234.50", "-2+3", "-A1", "-", "-1e3"]]))
    assert lines == ["-5,\"-1,234.50\",'-2+3,'-A1,'-,'-1e3\r\n"]


def test_a_csv_response_may_start_with_a_byte_order_mark_for_excel():
    response = csv_response(iter([["email"], ["zoë@y.com"]]), "x.csv", bom=True)
    body = b"".join(response.streaming_content)
    assert body == "\ufeffemail\r\nzoë@y.com\r\n".encode()
    assert not b"".join(csv_response(iter([["a"]]), "x.csv").streaming_content).startswith(
        "\ufeff".encode()
    )
