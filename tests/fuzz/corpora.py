"""Hostile inputs generated in code: pathological Markdown shapes and hostile CSV files. The
corpus tests (test_corpora.py) run every one of them; `make test-fuzz` runs them with the rest
of the fuzzing."""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from collections.abc import Callable

from bench.markdown_shapes import SHAPES as BENCH_SHAPES
from tests.pipeline.importing import LEAD_HEADER, csv_text, lead_row

XSS = (
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](java&#115;cript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "![p](data:image/svg+xml;base64,PHN2Zz4=)",
    "<svg onload=alert(1)>",
)


def _table(n: int) -> str:
    cols = 40
    head = "|" + "|".join(f"c{i}" for i in range(cols)) + "|\n"
    rule = "|" + "|".join(":-:" for _ in range(cols)) + "|\n"
    row = "|" + "|".join("*x*" for _ in range(cols)) + "|\n"
    return head + rule + row * max(1, (n - len(head) - len(rule)) // len(row))


# Each builds a text of about `n` characters (they must stay within one part's limit once
# cleaned, so that they are rendered, not refused).
MARKDOWN_SHAPES: dict[str, Callable[[int], str]] = {
    **BENCH_SHAPES,
    "huge table": _table,
    "deep nested brackets and parens": lambda n: "[(" * (n // 4) + ")]" * (n // 4),
    "emphasis open runs": lambda n: "**" * (n // 4) + "a" + "__" * (n // 4),
    "alternating emphasis": lambda n: "*_" * (n // 2),
    "link reference flood with uses": lambda n: (
        "".join(f"[{i}]: https://x.example/{i}\n" for i in range(n // 60))
        + "".join(f"[{i}][{i}] " for i in range(n // 60))
    ),
    "deep ordered lists": lambda n: "".join(
        "   " * i + "1. x\n" for i in range(int((n / 3) ** 0.5))
    ),
    "blockquote list mix": lambda n: "> - " * (n // 4),
    "entity flood": lambda n: "&#x41;" * (n // 6),
    "images in links": lambda n: "[![a](b)](c)" * (n // 12),
    "unclosed code fences": lambda n: "```\n" * (n // 4),
    "heading runs": lambda n: "###### #\n" * (n // 9),
    "xss between brackets": lambda n: ("[" + "](".join(XSS)) * (n // 200),
    "control characters": lambda n: "".join(chr(c) for c in range(32)) * (n // 32),
    "unicode and bidi": lambda n: "\u202e\u200b😀ñ\u0301\ufeff" * (n // 6),
}


def _binary(size: int) -> bytes:
    return random.Random(17).randbytes(size)


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("leads.csv", csv_text([lead_row(1)]))
    return out.getvalue()


def _rows(n: int = 3, **overrides) -> list[dict]:
    return [lead_row(i, **overrides) for i in range(n)]


GOOD = csv_text(_rows())

# name → file content. Each must end as a batch with a message (rejected, or checked and
# applied), never as a crash ("failed") or an exception.
HOSTILE_CSVS: dict[str, bytes] = {
    "formula injection cells": csv_text(
        [
            lead_row(1, FirstName='=HYPERLINK("http://x.example","click")'),
            lead_row(2, LastName="+cmd|' /C calc'!A0"),
            lead_row(3, Company="@SUM(1+1)*cmd|' /C calc'!A0"),
            lead_row(4, Company="-2+3"),
            lead_row(5, FirstName="\t=1+1", LastName="\r=1+1"),
        ]
    ).encode(),
    "NUL bytes in fields": csv_text(_rows(FirstName="An\x00a", Company="Ac\x00me")).encode(),
    "NUL byte in the header": GOOD.replace("Email", "Em\x00ail", 1).encode(),
    "UTF-8 BOM": b"\xef\xbb\xbf" + GOOD.encode(),
    "two UTF-8 BOMs": b"\xef\xbb\xbf\xef\xbb\xbf" + GOOD.encode(),
    "UTF-16 with BOM": GOOD.encode("utf-16"),
    "UTF-16 without BOM": GOOD.encode("utf-16-le"),
    "Latin-1": csv_text(_rows(FirstName="José", Company="Müller GmbH")).encode("latin-1"),
    "mixed line endings": (
        ",".join(LEAD_HEADER)
        + "\r\n"
        + csv_text(_rows(1), header=LEAD_HEADER).split("\n", 1)[1].rstrip("\n")
        + "\n"
        + csv_text([lead_row(8)], header=LEAD_HEADER).split("\n", 1)[1].rstrip("\n")
        + "\r"
        + csv_text([lead_row(9)], header=LEAD_HEADER).split("\n", 1)[1]
    ).encode(),
    "bare CR line endings": GOOD.replace("\n", "\r").encode(),
    "unterminated quote": (GOOD + '00Q1,"never closed,x\n' + GOOD.split("\n", 1)[1]).encode(),
    "quote in the header": GOOD.replace("Email", '"Em"ail', 1).encode(),
    "huge field": csv_text(_rows(1, Company="x" * 300_000)).encode(),
    "huge header line": ("," * 200_000 + "\n1\n").encode(),
    "2,000 columns": csv_text(
        [{**lead_row(1), **{f"Custom_{i}__c": "x" for i in range(1_990)}}]
    ).encode(),
    "a row with too many fields": (GOOD.rstrip("\n") + ",extra,extra\n").encode(),
    "a row with too few fields": (GOOD + "00Q9,a@b.com\n").encode(),
    "duplicate header columns": GOOD.replace("FirstName", "Email", 1).encode(),
    "empty header names": ("," + GOOD.split("\n", 1)[0] + "\n" + GOOD.split("\n", 1)[1]).encode(),
    "semicolons": csv_text(_rows(), delimiter=";").encode(),
    "tabs": csv_text(_rows(), delimiter="\t").encode(),
    "empty file": b"",
    "only newlines": b"\n\n\n\r\n",
    "header only": (",".join(LEAD_HEADER) + "\n").encode(),
    "whitespace only": b"   \t  ",
    "binary disguised as CSV": _binary(64_000),
    "binary with a CSV header": (",".join(LEAD_HEADER) + "\n").encode() + _binary(8_000),
    "HTML page": (
        b"<!doctype html><html><head><title>Login</title></head><body>"
        b"<form><input name=user></form><script>alert(1)</script></body></html>"
    ),
    "zip archive": _zip(),
    "gzip archive": gzip.compress(GOOD.encode(), mtime=0),
    "PNG image": b"\x89PNG\r\n\x1a\n" + _binary(2_000),
    "surrogate escapes and invalid UTF-8": GOOD.encode() + b"00Q7,\xed\xa0\x80@x.com,\xff\xfe\n",
    "emails with control characters": csv_text(
        _rows(Email="a\x1b[31m@acme.com", Company="Evil\r\nBcc: victim@example.com")
    ).encode(),
    "numbers as text and huge numbers": csv_text(
        _rows(CreatedDate="9" * 400, IsConverted="1e309", OwnerId="-0")
    ).encode(),
    "dates out of range": csv_text(
        _rows(CreatedDate="0000-00-00", ConvertedDate="99999-12-31")
    ).encode(),
}
