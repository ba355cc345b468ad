"""E-mail about disputes: to the assignee when one is assigned to them, to the filer on every
step of their dispute. Sent once the transaction commits, so a rolled-back step sends nothing,
and a mail that cannot be sent is logged: the step is committed by then and stays a success."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from disputes.models import Dispute, DisputeComment, DisputeTransition
from revops import hooks

log = logging.getLogger(__name__)

# Titles come from record names, which come from imported files: a line break in one must not
# become a second header (or a BadHeaderError after the step was committed).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` safe as a mail header: control characters and line breaks become one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _send(to: str, subject: str, template: str, context: dict) -> None:
    if not to:
        return  # a user without an address cannot be told; the timeline still records it
    body = render_to_string(template, context)
    subject = one_line(subject)

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=True)
        except Exception:
            log.exception("Dispute mail to %s not sent: %s", to, subject)

    # robust: whatever goes wrong is logged, never raised into the committed request.
    transaction.on_commit(send, robust=True)


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
    _changed(dispute, f"step:{step.pk}", f"is {dispute.get_status_display().lower()}", step.by_id)


def notify_comment(comment: DisputeComment) -> None:
    """A new message in a dispute's thread: those who follow it hear of it."""
    _changed(comment.dispute, f"comment:{comment.pk}", "has a new comment", comment.author_id)


def _changed(dispute: Dispute, key: str, what: str, by_id: int | None) -> None:
    """Tell the apps that listen (follows) what happened to `dispute`, once it commits. `key`
    names the change once, so a listener that runs twice can tell."""
    payload = {"dispute_id": dispute.pk, "key": key, "what": what, "by_id": by_id}
    transaction.on_commit(lambda: hooks.emit("disputes.changed", **payload), robust=True)
