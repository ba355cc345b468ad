"""Markdown inputs that make backtracking or nesting-tracking renderers slow, sized to `n`
characters: shared by `make bench-markdown` and the test that renders them in time."""

from __future__ import annotations

from collections.abc import Callable

SHAPES: dict[str, Callable[[int], str]] = {
    "nested brackets": lambda n: "[" * n,
    "unclosed links": lambda n: "[a](" * (n // 4),
    "emphasis runs": lambda n: "*a_" * (n // 3),
    "backtick runs": lambda n: "`a" * (n // 2),
    "link reference flood": lambda n: (
        "".join(f"[r{i}]: /x\n" for i in range(n // 20)) + "[r1] " * (n // 10)
    ),
    "deep lists": lambda n: "".join("  " * i + "- x\n" for i in range(int((n / 2) ** 0.5))),
    "nested quotes": lambda n: "> " * (n // 2),
    "angle brackets": lambda n: "<a" * (n // 2),
}
