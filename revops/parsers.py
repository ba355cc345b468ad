"""The API's request parsers (DEFAULT_PARSER_CLASSES). A module of its own: DRF resolves
that setting while importing its views, so it must not import them back (revops/api.py does)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.parsers import JSONParser as DrfJSONParser


class JSONParser(DrfJSONParser):
    """DRF's JSON parser, except that a body nested too deeply for Python's parser (`[` a
    hundred thousand times) is the caller's 400, not a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
