"""Static files that come from installed Python packages rather than our static/ folder, so
they are never copied into the repository and always match the installed version, and the
storage that serves every static file hashed.

`vendor/plotly.min.js` is the plotly.js bundled in the `plotly` package (no CDN: pages work
on a closed network and under a strict CSP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


def _vendor_files() -> dict[str, Path]:
    import plotly

    return {"vendor/plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"}


class PackageDataFinder(BaseFinder):
    """Finds the files of `_vendor_files()` for runserver, WhiteNoise and collectstatic."""

    def check(self, **kwargs) -> list:
        from django.core.checks import Error

        return [
            Error(f"{path} is missing: is the package installed?", id="revops.E001")
            for path in _vendor_files().values()
            if not path.is_file()
        ]

    def find(self, path: str, find_all: bool = False, **kwargs) -> str | list[str]:
        find_all = find_all or kwargs.get("all", False)  # older callers pass `all`
        found = _vendor_files().get(path)
        if found is None or not found.is_file():
            return [] if find_all else None
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns) -> Iterator[tuple[str, FileSystemStorage]]:
        for name, path in _vendor_files().items():
            if path.is_file():
                # collectstatic copies `path.name` from the storage to prefix/path.name.
                storage = FileSystemStorage(location=str(path.parent))
                storage.prefix = str(Path(name).parent)
                yield path.name, storage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage, naming the hashed files even with DEBUG on
    (Django's own storage falls back to plain names then), so `make demo` serves what
    production serves: hashed names a browser may cache for a year."""

    def url(self, name: str | None, force: bool = False) -> str:
        return super().url(name, force=True)
