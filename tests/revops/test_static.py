"""Static files as `make demo` and production serve them (STATIC_MANIFEST=1): hashed names in
the pages, gzip for browsers that take it, a year's cache; and plotly only where a chart is."""

from __future__ import annotations

import gzip

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from revops.permissions import Role
from revops.weeks import IsoWeek

HASHED = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "revops.staticfiles.HashedStaticFilesStorage"},
}


@pytest.fixture
def collected(tmp_path, settings):
    """Static files collected into a temporary STATIC_ROOT, served by WhiteNoise from there."""
    with override_settings(
        STATIC_MANIFEST=True,
        STATIC_ROOT=tmp_path / "static",
        STORAGES=HASHED,
        WHITENOISE_AUTOREFRESH=False,
        WHITENOISE_USE_FINDERS=False,
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield tmp_path / "static"


@pytest.mark.django_db
def test_collected_files_are_linked_by_hash_and_served_compressed_for_a_year(collected, make_user):
    client = Client()
    client.force_login(make_user(Role.OPS))
    page = client.get(reverse("pipeline:reconciliation-run-list")).content.decode()
    # Hashed even with DEBUG on, as the demo runs: a browser may keep them for good.
    assert "/static/css/app." in page
    assert '/static/css/app.css"' not in page
    css = page.split('href="/static/css/app.', 1)[1].split('"', 1)[0]
    url = f"/static/css/app.{css}"
    served = Client().get(url, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert served.status_code == 200
    assert served["Content-Encoding"] == "gzip"
    assert "immutable" in served["Cache-Control"]
    assert "max-age=315360000" in served["Cache-Control"]
    body = gzip.decompress(b"".join(served.streaming_content))
    assert body == (collected / "css" / url.removeprefix("/static/css/")).read_bytes()
    # plotly, the largest file by far, is there hashed and compressed too.
    assert list((collected / "vendor").glob("plotly.min.*.js.gz"))


@pytest.mark.django_db
def test_the_scorecard_loads_no_chart_script_and_a_trend_page_does(client_as):
    client = client_as(Role.EXECUTIVE)
    week = IsoWeek.last_completed()
    scorecard = client.get(reverse("scorecard:week", args=[week])).content.decode()
    assert "plotly" not in scorecard
    trend = client.get(reverse("scorecard:metric-week", args=[week, "mqls"])).content.decode()
    assert "vendor/plotly.min" in trend
