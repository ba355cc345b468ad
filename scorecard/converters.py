"""URL converter for ISO weeks: /scorecard/2026-W46/. A label that looks right but names no
week (2026-W60) does not match, so it is a 404, never a 500."""

from __future__ import annotations

from revops.weeks import IsoWeek


class IsoWeekConverter:
    regex = r"\d{4}-W\d{2}"

    def to_python(self, value: str) -> IsoWeek:
        return IsoWeek.parse(value)  # ValueError: Django tries the next pattern, then 404s

    def to_url(self, value: IsoWeek | str) -> str:
        return value.label if isinstance(value, IsoWeek) else str(value)
