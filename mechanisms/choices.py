"""Enumerations of mechanisms. Stored values are stable; labels are for people."""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    """Only active mechanisms are inspected, so only they can be overdue."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Team(models.TextChoices):
    REVOPS = "revops", "RevOps"
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"
    LEADERSHIP = "leadership", "Leadership"


class Cadence(models.TextChoices):
    """How often a mechanism is inspected; the next inspection is the last one plus this."""

    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


class GoalKind(models.TextChoices):
    """A mechanism has at most one of each: the service level it promises and the SMART goal
    it is working towards."""

    SLA = "sla", "SLA"
    SMART = "smart", "SMART goal"


class Direction(models.TextChoices):
    """Which side of the target is good."""

    AT_MOST = "at_most", "at or below"
    AT_LEAST = "at_least", "at or above"


class Health(models.TextChoices):
    """How a goal stands on the scorecard's latest value, worst last."""

    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"
    NO_DATA = "no_data", "No data"


HEALTH_RANK = {Health.ON_TRACK: 0, Health.NO_DATA: 1, Health.AT_RISK: 2, Health.OFF_TRACK: 3}


# The seven parts of a complete mechanism, in the order the framework tells them, with the
# questions that guide the writer (shown as help text on the edit page).
PARTS: tuple[tuple[str, str, str], ...] = (
    (
        "challenge",
        "Business challenge",
        "Who benefits? What outcome is undesirable today, and what is its impact? How can it "
        "be quantified?",
    ),
    (
        "outputs",
        "Outputs",
        "What does the mechanism produce, and for whom? What does good output look like, in "
        "numbers? Which mechanism takes it as its input?",
    ),
    (
        "tool",
        "Tool",
        "What turns the inputs into the outputs: a system, a form, a checklist, a meeting? "
        "Where does it live, and who runs it?",
    ),
    (
        "adoption",
        "Adoption",
        "Who must adopt the tool? What stands in the way (habit, incentives, training, "
        "effort)? How are people brought on board, and how do you know they use it?",
    ),
    (
        "inspection",
        "Inspection",
        "How, how often and by whom is the mechanism checked? Which metrics and thresholds "
        "say it works? What happens when it does not?",
    ),
    (
        "inputs",
        "Inputs",
        "What goes in: data, requests, people's time? Where does each come from (which "
        "mechanism's output), and who controls it?",
    ),
    (
        "iteration",
        "Iteration",
        "What was changed after inspecting, and why? What did you learn? What will you try next?",
    ),
)
PART_FIELDS: tuple[str, ...] = tuple(name for name, _, _ in PARTS)
PART_LABELS: dict[str, str] = {name: label for name, label, _ in PARTS}
