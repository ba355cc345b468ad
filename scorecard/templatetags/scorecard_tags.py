"""Template helpers of the scorecard pages."""

from __future__ import annotations

from django import template

from revops.templatetags import revops_tags

register = template.Library()


# Every template has it as a builtin; registered here too for the templates that load this.
register.filter("week_label", revops_tags.week_label)
