"""What version of the code is serving: a digest of the project's own source, templates and
static files, read once per process. Anything cached as rendered output (the published
scorecard) is keyed by it too, so a deployment never serves a page that older code rendered,
or a 304 for one that points at static files that are gone."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.conf import settings

# Folders of the checkout that are not the product's code.
SKIPPED = {".venv", ".venv-bench", ".venv-load", ".git", ".pgdata", "var", "staticfiles",
           "node_modules", "tests", "__pycache__", ".pytest_cache", ".ruff_cache"}  # fmt: skip
SUFFIXES = {".py", ".html", ".txt", ".css", ".js", ".svg"}


@cache
def build_version() -> str:
    """A short digest that changes when any file of the product's code changes."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for path in sorted(_files(root)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _files(folder: Path):
    for entry in folder.iterdir():
        if entry.name in SKIPPED or entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _files(entry)
        elif entry.suffix in SUFFIXES:
            yield entry
