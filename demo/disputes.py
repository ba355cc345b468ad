"""The demo's disputes: one of each kind of ending, so `make demo` shows the disputed mark, an
overdue dispute, an accepted one whose correction republished a week, a rejected one and a
withdrawn one. Each is seeded once (found again by its title and filer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from disputes.models import Dispute
from disputes.services import disputes as services
from pipeline.choices import ObjectType
from pipeline.models import Account, Lead
from revops.weeks import IsoWeek
from scorecard.models import Metric


@dataclass
class DemoDisputes:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _file(result, *, by, subject, claimed, why, now=None) -> Dispute | None:
    if Dispute.objects.filter(title=subject.title[:300], filed_by=by).exists():
        result.skipped.append(subject.title)
        return None
    result.created.append(subject.title)
    return services.dispute_file(
        by=by, subject=subject, claimed_value=claimed, explanation=why, now=now
    )


@transaction.atomic
def disputes_demo_ensure() -> DemoDisputes:
    """Seed the five demo disputes that are not there yet; needs the demo's users and data."""
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=["ops", "sales", "marketing"])
    }
    result = DemoDisputes()
    if len(users) < 3 or not Metric.objects.filter(key="mqls").exists():
        return result
    ops, sales, marketing = users["ops"], users["sales"], users["marketing"]
    last = IsoWeek.last_completed()
    now = timezone.now()

    # Open, against last week's MQLs: the scorecard shows the disputed mark on it.
    subject = services.subject_metric(metric_key="mqls", week_label=last.label)
    _file(
        result,
        by=marketing,
        subject=subject,
        claimed=str(int(float(subject.evidence["value"] or 0)) + 14),
        why="The partner webinar on Thursday brought 14 MQLs that marketing automation scored "
        "but the CRM never received: the sync failed for the partner list. Export attached "
        "in the webinar tool; the scorecard should count them.",
    )

    # In review and overdue: SQLs two weeks ago, filed a week ago.
    subject = services.subject_metric(metric_key="sqls", week_label=last.shift(-1).label)
    dispute = _file(
        result,
        by=sales,
        subject=subject,
        claimed=str(int(float(subject.evidence["value"] or 0)) + 3),
        why="Three SQLs accepted by the EMEA team on Friday evening are missing.",
        now=now - timedelta(days=7),
    )
    if dispute:
        services.dispute_review(dispute=dispute, by=ops, note="Checking the CRM stage history.")

    # Accepted with a correction: a lead whose MQL date marketing automation lost. The override
    # counts it as an MQL two weeks ago, and that published week is republished naming it.
    # Found again by what it is: once corrected, the lead no longer lacks its MQL date.
    lead = (
        Lead.objects.filter(mql_at__isnull=True, created_at__lt=last.shift(-1).start)
        .order_by("id")
        .first()
    )
    seeded = Dispute.objects.filter(filed_by=marketing, object_type=ObjectType.LEAD).exists()
    if seeded:
        result.skipped.append("lead MQL date")
    elif lead is not None:
        subject = services.subject_record(object_type=ObjectType.LEAD, record_id=lead.pk)
        dispute = _file(
            result,
            by=marketing,
            subject=subject,
            claimed=f"MQL on {last.shift(-1).monday:%Y-%m-%d}",
            why="This lead reached the MQL score on Monday (see the scoring log); the date was "
            "lost when the record was re-synced.",
        )
        if dispute:
            services.dispute_review(dispute=dispute, by=ops)
            services.dispute_accept(
                dispute=dispute,
                by=ops,
                resolution="Set the MQL date from the scoring log as a manual override.",
                correction=services.Correction(
                    kind="override",
                    field="mql_at",
                    value=f"{last.shift(-1).monday:%Y-%m-%d}T10:00:00",
                ),
            )

    # Rejected: new bookings last week.
    if Metric.objects.filter(key="new_bookings").exists():
        subject = services.subject_metric(metric_key="new_bookings", week_label=last.label)
        dispute = _file(
            result,
            by=sales,
            subject=subject,
            claimed="0",
            why="The Globex renewal should not count as new business.",
        )
        if dispute:
            services.dispute_review(dispute=dispute, by=ops)
            services.dispute_reject(
                dispute=dispute,
                by=ops,
                reason="The Globex deal is typed as new business in the CRM: it is a new product "
                "line, not a renewal. Ask the deal owner to change the type if that is wrong.",
            )

    # Withdrawn by its filer: an account record.
    account = Account.objects.order_by("id").first()
    if account is not None:
        subject = services.subject_record(object_type=ObjectType.ACCOUNT, record_id=account.pk)
        dispute = _file(
            result,
            by=sales,
            subject=subject,
            claimed="Health: good",
            why="Health looks stale.",
        )
        if dispute:
            services.dispute_withdraw(
                dispute=dispute, by=sales, note="Customer success updated it this morning."
            )
    return result
