"""Template filters of the mechanism pages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from mechanisms.markdown import render

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """`{{ entry.found|markdown }}`: Markdown as sanitised HTML (nh3 allow-list)."""
    return render(text or "")
