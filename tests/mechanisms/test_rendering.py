"""Mechanism Markdown is rendered once when saved and shown from the store: a page view renders
nothing, a changed sanitiser re-renders what it shows once, and a render past its budget is
stored as plain text that says so (issue 17, finding 1)."""

from __future__ import annotations

import time
from datetime import date

import pytest
from django.urls import reverse

from mechanisms.models import RenderedMarkdown
from mechanisms.services.mechanisms import log_entry_add
from mechanisms.services.rendering import markdown_digest
from revops import markdown
from revops.permissions import Role

pytestmark = pytest.mark.django_db

# The shape that took Python-Markdown 57 s at this size, and markdown-it-py about 0.5 s.
BRACKETS = "[" * 19_990


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Every text the renderer is asked to render, in order."""
    seen: list[str] = []
    real = markdown.render_checked

    def counting(text: str, **kwargs):
        seen.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(markdown, "render_checked", counting)
    return seen


def test_viewing_a_mechanism_renders_none_of_its_markdown(make_mechanism, client_as, renders):
    mechanism = make_mechanism(iteration="Added the **out-of-office** check.")
    log_entry_add(mechanism=mechanism, by=None, inspected_on=date(2026, 1, 5), found="All *fine*")
    assert renders, "saving renders the parts"
    renders.clear()
    client = client_as(Role.EXECUTIVE)

    page = client.get(reverse("mechanisms:mechanism-detail", args=[mechanism.slug]))
    api = client.get(f"/api/v1/mechanisms/{mechanism.slug}/")
    log = client.get(f"/api/v1/mechanisms/log-entries/?mechanism={mechanism.slug}")
    version = client.get(f"/api/v1/mechanisms/{mechanism.slug}/versions/1/")

    assert page.status_code == api.status_code == log.status_code == version.status_code == 200
    assert "Added the <strong>out-of-office</strong> check." in page.content.decode()
    assert "All <em>fine</em>" in page.content.decode()
    assert api.json()["parts"]["iteration"]["html"] == (
        "<p>Added the <strong>out-of-office</strong> check.</p>"
    )
    assert log.json()["results"][0]["found"]["html"] == "<p>All <em>fine</em></p>"
    assert version.json()["document"]["parts"]["iteration"]["html"] == (
        "<p>Added the <strong>out-of-office</strong> check.</p>"
    )
    assert renders == []


def test_a_pathological_part_costs_its_render_once_not_on_every_view(make_mechanism, client_as):
    parts = ("challenge", "iteration", "tool")
    mechanism = make_mechanism(**{part: BRACKETS for part in parts})
    client = client_as(Role.SALES_LEAD)
    url = reverse("mechanisms:mechanism-detail", args=[mechanism.slug])
    client.get(url)

    start = time.perf_counter()
    for _ in range(3):
        assert client.get(url).status_code == 200
    three_views = time.perf_counter() - start
    start = time.perf_counter()
    for part in parts:
        markdown.render(getattr(mechanism, part))
    one_render = time.perf_counter() - start
    # Rendering per view, three views would cost three renders of the parts (about 1.5 s each).
    assert three_views < one_render


def test_a_changed_sanitiser_rule_reaches_stored_text_on_its_next_view(
    make_mechanism, client_as, monkeypatch, renders
):
    mechanism = make_mechanism(challenge="MQLs wait **over a day**.")
    url = reverse("mechanisms:mechanism-detail", args=[mechanism.slug])
    client = client_as(Role.OPS)
    assert "<strong>over a day</strong>" in client.get(url).content.decode()

    # A release drops <strong> from the allow-list: its fingerprint changes with it.
    monkeypatch.setattr(markdown, "ALLOWED_TAGS", markdown.ALLOWED_TAGS - {"strong"})
    monkeypatch.setattr(markdown, "FINGERPRINT", markdown._fingerprint())
    renders.clear()

    body = client.get(url).content.decode()
    assert "<strong>" not in body
    assert "MQLs wait over a day." in body
    stored = RenderedMarkdown.objects.get(digest=markdown_digest(mechanism.challenge))
    assert stored.renderer == markdown.FINGERPRINT
    assert "<strong>" not in stored.html
    assert mechanism.challenge in renders

    renders.clear()
    client.get(url)
    assert renders == [], "re-rendered once, then read from the store"


def test_the_fingerprint_follows_the_allow_lists(monkeypatch):
    before = markdown._fingerprint()
    monkeypatch.setattr(markdown, "URL_SCHEMES", markdown.URL_SCHEMES | {"ftp"})
    assert markdown._fingerprint() != before


def test_a_render_past_its_budget_is_stored_as_plain_text_that_says_so(
    make_mechanism, client_as, monkeypatch
):
    monkeypatch.setattr(markdown, "RENDER_BUDGET_S", 0.001)
    mechanism = make_mechanism(challenge=BRACKETS[:19_000] + " <b>x</b>")

    stored = RenderedMarkdown.objects.get(digest=markdown_digest(mechanism.challenge))
    assert stored.fallback
    body = client_as(Role.EXECUTIVE).get(
        reverse("mechanisms:mechanism-detail", args=[mechanism.slug])
    )
    text = body.content.decode()
    assert "took longer than 0.001 s. It is shown as plain text." in text
    assert "<pre>[[[[" in text
    assert "<b>x" not in text


def test_the_deadline_stops_a_slow_render_early():
    start = time.perf_counter()
    result = markdown.render_checked(BRACKETS, budget=0.02)
    elapsed = time.perf_counter() - start
    assert result.fallback
    assert elapsed < 0.3  # the whole render takes about 0.5 s: it stopped, it did not finish
    assert result.html.startswith('<p class="mx-markdown-fallback">')


def test_a_text_too_long_once_cleaned_is_previewed_as_plain_text(client_as):
    # Every "<" is rendered as "&lt;": 5,000 of them within the form's limit clean to 20,000+.
    response = client_as(Role.OPS).post(
        reverse("mechanisms:mechanism-preview"), {"text": "<a" * 5_000 + "<"}
    )
    assert response.status_code == 200
    html = response.json()["html"]
    assert "over 20,000 characters to format" in html
    assert "<a" not in html.replace('<p class="mx', "")
