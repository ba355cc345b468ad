"""E-mail about disputes: to the assignee when one is assigned to them, to the filer on every
step of their dispute. Sent once the transaction commits, so a rolled-back step sends nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from disputes.models import Dispute, DisputeTransition


def _send(to: str, subject: str, template: str, context: dict) -> None:
    if not to:
        return  # a user without an address cannot be told; the timeline still records it
    body = render_to_string(template, context)
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=True)
    )


def _url(dispute: Dispute) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("disputes:dispute-detail", args=[dispute.pk])


def notify_assigned(dispute: Dispute) -> None:
    assignee = dispute.assignee
    if assignee is None:
        return
    _send(
        assignee.email,
        f"Dispute #{dispute.pk} is assigned to you: {dispute.title}",
        "emails/dispute_assigned.txt",
        {"dispute": dispute, "url": _url(dispute)},
    )


def notify_filer(dispute: Dispute, step: DisputeTransition) -> None:
    _send(
        dispute.filed_by.email,
        f"Dispute #{dispute.pk} is {dispute.get_status_display().lower()}: {dispute.title}",
        "emails/dispute_transition.txt",
        {"dispute": dispute, "step": step, "url": _url(dispute)},
    )
