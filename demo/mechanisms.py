"""The mechanisms of the demo company: five real-shaped processes with goals on scorecard
metrics, links, tenets, actions, an inspection log and a few versions to compare.

Idempotent: a mechanism whose slug exists is left as it is (ops may have edited it), and so is
everything hanging off it. Everything is written through the services, so versions, schedules
and Markdown cleaning are what a person would get."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from mechanisms.choices import Cadence, Direction, GoalKind, Status, Team
from mechanisms.models import Mechanism
from mechanisms.services.mechanisms import (
    GoalData,
    MechanismData,
    action_add,
    action_set_done,
    link_create,
    log_entry_add,
    mechanism_create,
    mechanism_update,
)
from revops.weeks import IsoWeek, company_tz, quarter_bounds, week_range
from scorecard.choices import MetricKind, Unit
from scorecard.choices import Team as MetricTeam
from scorecard.models import Metric
from scorecard.services.catalog import metric_create, series_import

DISPUTE_METRIC = "disputes_resolved_in_sla"


@dataclass(frozen=True)
class DemoMechanisms:
    created: list[str]
    skipped: list[str]


def _q_end(today: date) -> date:
    return quarter_bounds(today)[1] - timedelta(days=1)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=company_tz())


def _dispute_metric(today: date, seed: int = 11) -> Metric:
    """The dispute desk's weekly export: the share of data disputes resolved within their
    five-day SLA, imported as a series (kept off the executive scorecard)."""
    metric = Metric.objects.filter(key=DISPUTE_METRIC).first()
    if metric is not None:
        return metric
    metric = metric_create(
        by=None,
        key=DISPUTE_METRIC,
        name="Disputes resolved within SLA",
        team=MetricTeam.COMPANY,
        unit=Unit.PERCENT,
        up_is_good=True,
        kind=MetricKind.SERIES,
        definition="Share of data disputes closed in the week that were resolved within five "
        "working days of being filed, as the dispute desk exports it (imported weekly as CSV).",
        position=950,
    )
    last = IsoWeek.containing(_at(today)).shift(-1)
    weeks = week_range(last.shift(-25), last)
    rng = np.random.default_rng(seed)
    values = np.clip(np.linspace(58, 81, len(weeks)) + rng.normal(0, 4, len(weeks)), 30, 100)
    csv = "week,value\n" + "".join(
        f"{w.label},{v:.1f}\n" for w, v in zip(weeks, values, strict=True)
    )
    series_import(metric=metric, by=None, data=csv.encode(), file_name="disputes.csv")
    Metric.objects.filter(pk=metric.pk).update(is_active=False)
    return metric


def _metric(key: str) -> Metric | None:
    return Metric.objects.filter(key=key).first()


def _goal(
    key: str, statement: str, target: str, due: date, baseline: str | None, since: date
) -> GoalData | None:
    metric = _metric(key)
    if metric is None:
        return None
    return GoalData(
        statement=statement,
        metric=metric,
        direction=Direction.AT_LEAST if metric.up_is_good else Direction.AT_MOST,
        target=Decimal(target),
        due_on=due,
        baseline=Decimal(baseline) if baseline is not None else None,
        baseline_on=since if baseline is not None else None,
    )


def _documents(today: date, users: dict) -> list[tuple[str, MechanismData]]:
    q_end = _q_end(today)
    half_end = date(today.year, 6, 30) if today.month <= 6 else date(today.year, 12, 31)
    start = today - timedelta(days=120)
    return [
        (
            "lead-capture",
            MechanismData(
                name="Lead Capture",
                summary="Every inbound form fill, event scan and chat becomes one clean lead "
                "in HubSpot within minutes, with its source and consent.",
                challenge="**Marketing pays for every lead, and sales only sees some of them.** "
                "Form fills from the website, event badge scans and chat conversations land in "
                "three places; a few percent never reach the CRM and duplicates inflate "
                "marketing's numbers.\n\n- *Who benefits:* marketing (credit for the leads it "
                "paid for), sales (no lost buyers), finance (one cost per lead).\n- *Impact:* "
                "about 3% of leads never reach sales, roughly $40k of pipeline a quarter.\n- "
                "*Quantified by:* leads created per week, and reconciliation's *missing in "
                "sales* count.",
                outputs="A lead in HubSpot with **email, company, source, campaign and consent** "
                "set, synced to Salesforce within 5 minutes. Duplicates merged on email.",
                tool="HubSpot forms and the event-scan app post to one intake workflow; "
                "the workflow normalises the email and company domain and de-duplicates before "
                "the lead is created. The [intake checklist](https://wiki.example.com/intake) "
                "covers new forms.",
                adoption="Every new landing page, webinar and event uses the standard form and "
                "the intake workflow. What stands in the way: agencies build one-off forms, and "
                "event staff upload spreadsheets a week late. Marketing ops reviews every new "
                "form before launch; event uploads are due 48 hours after the event.",
                inspection="Weekly in the marketing stand-up: leads created against plan, the "
                "reconciliation's *missing in sales* and *duplicate* counts, and any form with "
                "no leads in seven days.",
                inputs="Website traffic and campaigns (paid, content, events); data dispute "
                "findings that point at intake problems.",
                iteration="Moved event uploads from CSV by email to the scan app after the "
                "March inspection found 11% of event leads arrived more than a week late.",
                owner=users.get("marketing"),
                team=Team.MARKETING,
                status=Status.ACTIVE,
                cadence=Cadence.WEEKLY,
                tags=("lead-flow", "marketing", "hubspot"),
                tenets=(
                    "One lead per person: duplicates are our problem, not sales'.",
                    "No form goes live without the intake workflow.",
                    "Consent is captured at the source, never backfilled.",
                ),
                goals={
                    GoalKind.SLA: _goal(
                        "leads_created",
                        "At least 150 new leads a week reach the CRM",
                        "150",
                        q_end,
                        None,
                        start,
                    ),
                    GoalKind.SMART: _goal(
                        "mqls",
                        "Grow MQLs to 80 a week by the end of the quarter",
                        "80",
                        q_end,
                        "55",
                        start,
                    ),
                },
            ),
        ),
        (
            "lead-routing",
            MechanismData(
                name="Lead Routing",
                summary="Every MQL reaches the right rep by territory and segment, and gets a "
                "first touch fast.",
                challenge="Leads that wait go cold: buyers who hear back within an hour are "
                "several times more likely to take a meeting than those who wait a day. Today "
                "routing rules live in three places and round-robin skips reps on holiday, so "
                "some MQLs wait **over a day** for a first touch.\n\n- *Who benefits:* buyers, "
                "SDRs, marketing (conversion).\n- *Quantified by:* the scorecard's *speed to "
                "lead*, the median hours from MQL to first sales touch.",
                outputs="Each MQL assigned to one owner in Salesforce within 5 minutes, with a "
                "task due within the hour; unassigned MQLs alert the RevOps channel.",
                tool="Salesforce assignment rules by territory and segment, backed by a "
                "round-robin queue that skips people marked out of office.",
                adoption="SDRs must work the *New MQL* queue before anything else. Obstacles: "
                "reps cherry-pick bigger logos, and managers reassign by hand. Sales leadership "
                "reviews speed to lead by rep every week.",
                inspection="Weekly: speed to lead (median and worst 10%), MQLs still untouched "
                "after 24 hours, and reassignments by hand.",
                inputs="MQLs from **Lead Capture**; territory and segment tables owned by sales "
                "ops; the out-of-office calendar.",
                iteration="Added the out-of-office check to round-robin after inspection found "
                "MQLs sitting with reps on holiday.\n\nTightened the SLA from 6 to 4 hours once "
                "the out-of-office fix held for a month.",
                owner=users.get("ops"),
                team=Team.REVOPS,
                status=Status.ACTIVE,
                cadence=Cadence.WEEKLY,
                tags=("lead-flow", "sla", "salesforce", "speed"),
                tenets=(
                    "Speed beats perfect routing: assign first, fix the territory later.",
                    "A lead nobody owns is our fault, not the rep's.",
                ),
                goals={
                    GoalKind.SLA: _goal(
                        "speed_to_lead",
                        "Median speed to lead under 4 hours",
                        "4",
                        q_end,
                        None,
                        start,
                    ),
                    GoalKind.SMART: _goal(
                        "speed_to_lead",
                        "Speed to lead under 1 hour by the end of the quarter",
                        "1",
                        q_end,
                        "6",
                        start,
                    ),
                },
            ),
        ),
        (
            "mql-hand-off-sla",
            MechanismData(
                name="MQL hand-off SLA",
                summary="Marketing and sales agree what an MQL is and what happens to it: "
                "accepted or rejected with a reason within two working days.",
                challenge="Marketing says it sent 412 qualified leads; sales says half were "
                "junk. Without an agreed definition and a recorded decision on each MQL, the "
                "weekly meeting argues about numbers instead of deciding what to do.",
                outputs="Every MQL is **accepted (SAL)** or **rejected with a reason** within two "
                "working days; rejection reasons feed back into scoring.",
                tool="The MQL definition (score ≥ 60 and a business email) in HubSpot; the "
                "accept/reject buttons and reason picklist on the Salesforce lead.",
                adoption="SDR managers check the queue daily. Obstacle: rejecting takes longer "
                "than ignoring, so the reason picklist has five options and a default.",
                inspection="Monthly with marketing and sales leads: MQL→SQL conversion, "
                "rejection reasons, and MQLs with no decision after two days.",
                inputs="Routed MQLs from **Lead Routing**; the scoring model from marketing ops.",
                iteration="Raised the score threshold from 50 to 60 after two months of "
                "*not a buyer* rejections.",
                owner=users.get("sales"),
                team=Team.SALES,
                status=Status.ACTIVE,
                cadence=Cadence.MONTHLY,
                tags=("lead-flow", "sla"),
                tenets=(
                    "A rejected MQL with a reason is worth more than an ignored one.",
                    "The definition changes only with both leads in the room.",
                ),
                goals={
                    GoalKind.SLA: _goal(
                        "speed_to_lead",
                        "Every MQL gets a sales decision within 48 hours",
                        "48",
                        half_end,
                        None,
                        start,
                    ),
                    GoalKind.SMART: _goal(
                        "mql_to_sql_rate",
                        "Lift MQL → SQL conversion to 45% by the end of the half",
                        "45",
                        half_end,
                        "35",
                        start,
                    ),
                },
            ),
        ),
        (
            "weekly-scorecard-review",
            MechanismData(
                name="Weekly scorecard review",
                summary="Every Monday the leadership team reads one scorecard, agrees what is "
                "red and leaves with owners and dates.",
                challenge="Executives used to get four decks with four different MQL numbers. "
                "The meeting spent its hour on whose number was right.",
                outputs="A published scorecard by Monday 09:00; a list of red metrics, each with "
                "an owner and an action due the next Monday.",
                tool="This app's weekly scorecard, published automatically on Monday 06:00, "
                "with trust marks and the records behind every number.",
                adoption="The CRO runs the meeting from the scorecard only; no other decks. "
                "Obstacle: old habits of bringing one's own numbers; the answer is *file a "
                "dispute*, not a slide.",
                inspection="Quarterly: was the scorecard published on time every week, did red "
                "metrics get owners, did actions close.",
                inputs="Published metrics from the scorecard; disputes from **Data dispute "
                "resolution**; the quarter's targets.",
                iteration="Added trust marks after executives asked which numbers were reconciled.",
                owner=users.get("exec"),
                team=Team.LEADERSHIP,
                status=Status.ACTIVE,
                cadence=Cadence.QUARTERLY,
                tags=("cadence", "leadership"),
                tenets=(
                    "One number per metric, and it is the scorecard's.",
                    "Every red metric leaves the room with an owner.",
                    "Disagree with a number by filing a dispute, not by bringing a slide.",
                ),
                goals={
                    GoalKind.SLA: _goal(
                        "pipeline_coverage",
                        "Keep pipeline coverage at 3× or more",
                        "3",
                        half_end,
                        None,
                        start,
                    ),
                    GoalKind.SMART: _goal(
                        "win_rate",
                        "Raise the new-business win rate to 25% by the end of the half",
                        "25",
                        half_end,
                        "20",
                        start,
                    ),
                },
            ),
        ),
        (
            "data-dispute-resolution",
            MechanismData(
                name="Data dispute resolution",
                summary="A lead who thinks a number is wrong files a dispute; RevOps resolves it "
                "within five working days and fixes the cause.",
                challenge="When a number looks wrong, people stop trusting the whole scorecard. "
                "Complaints in chat get lost and the same mistake comes back next month.",
                outputs="Each dispute accepted (with the correction made and the week "
                "republished) or rejected (with the reason), within five working days; the root "
                "cause goes to the mechanism that produced the bad data.",
                tool="Disputes filed from the scorecard with the evidence attached (the "
                "reconciliation bridge and the source records).",
                adoption="Sales and marketing leads file disputes instead of messaging RevOps. "
                "Obstacle: filing feels like blame; the dispute names the data, never a person.",
                inspection="Monthly: share resolved within SLA, open disputes older than five "
                "days, and causes by mechanism.",
                inputs="Disputes from the **Weekly scorecard review**; reconciliation results.",
                iteration="Added *fix in* to each reconciliation finding so disputes arrive with "
                "the system to correct.",
                owner=users.get("ops"),
                team=Team.REVOPS,
                status=Status.ACTIVE,
                cadence=Cadence.MONTHLY,
                tags=("data-quality", "trust"),
                tenets=(
                    "Dispute the data, never the person.",
                    "Every accepted dispute fixes its cause, not just the number.",
                ),
                goals={
                    GoalKind.SLA: _goal(
                        DISPUTE_METRIC,
                        "Resolve 70% of disputes within five working days",
                        "70",
                        q_end,
                        None,
                        start,
                    ),
                    GoalKind.SMART: _goal(
                        DISPUTE_METRIC,
                        "Resolve 90% of disputes within SLA by the end of the quarter",
                        "90",
                        q_end,
                        "60",
                        start,
                    ),
                },
            ),
        ),
    ]


LINKS = [
    ("lead-capture", "lead-routing", "new leads and MQLs"),
    ("lead-routing", "mql-hand-off-sla", "routed MQLs"),
    ("mql-hand-off-sla", "weekly-scorecard-review", "MQL → SQL conversion"),
    ("weekly-scorecard-review", "data-dispute-resolution", "disputed numbers"),
    ("data-dispute-resolution", "lead-capture", "intake fixes"),
]

# slug → (days before today, what was found, what was changed)
LOG = {
    "lead-capture": [
        (
            60,
            "Event leads arrived up to 9 days late; 11% of last event's scans were uploaded "
            "after the follow-up sequence had ended.",
            "Moved event uploads to the scan app.",
        ),
        (
            9,
            "Leads created on plan; two new landing pages bypassed the intake workflow and "
            "created 14 duplicates.",
            "Agency briefed; the pages now post to the workflow.",
        ),
    ],
    "lead-routing": [
        (
            40,
            "Median speed to lead 5.8 h; MQLs assigned to reps on holiday waited up to three days.",
            "Round-robin now skips people marked out of office.",
        ),
        (
            5,
            "Median down to 4.1 h. Enterprise MQLs still wait longest: manual reassignment.",
            "Enterprise territory rules fixed so they assign directly.",
        ),
    ],
    "mql-hand-off-sla": [
        (
            25,
            "Conversion steady at 38%; 22% of rejections were *not a buyer* (students, "
            "job seekers).",
            "Score threshold raised from 50 to 60.",
        ),
    ],
    "weekly-scorecard-review": [
        (
            70,
            "Published on time 12 of 13 weeks; 3 red metrics had no owner by Wednesday.",
            "Owners are named in the meeting, before it ends.",
        ),
    ],
    "data-dispute-resolution": [
        (50, "64% resolved within SLA; most late disputes waited for Salesforce admin time.", ""),
    ],
}

# slug → (title, assignee, due in days from today, done)
ACTIONS = {
    "lead-capture": [
        ("Retire the old webinar form on the partner site", "marketing", -6, False),
        ("Add consent capture to the chat widget", "marketing", 12, False),
        ("Brief the events agency on the scan app", "marketing", -20, True),
    ],
    "lead-routing": [
        ("Add the out-of-office calendar to round-robin", "ops", -25, True),
        ("Alert the channel when an MQL is untouched for 2 hours", "ops", 5, False),
        ("Review enterprise territory rules with sales ops", "sales", -3, False),
    ],
    "mql-hand-off-sla": [
        ("Cut the rejection reasons to five", "sales", 9, False),
    ],
    "weekly-scorecard-review": [
        ("Agree Q3 targets for pipeline coverage", "exec", 14, False),
    ],
    "data-dispute-resolution": [
        ("Book weekly Salesforce admin time for dispute fixes", "ops", -2, False),
        ("Write the dispute how-to for sales leads", "ops", 7, False),
    ],
}


@transaction.atomic
def mechanisms_demo_ensure(*, today: date | None = None) -> DemoMechanisms:
    """The five demo mechanisms with everything around them; existing ones are left alone."""
    today = today or timezone.localdate()
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["exec", "ops", "sales",
                                                                       "marketing"])}  # fmt: skip
    _dispute_metric(today)
    documents = _documents(today, users)
    created, skipped = [], []
    made: dict[str, Mechanism] = {}
    for slug, data in documents:
        if Mechanism.objects.filter(slug=slug).exists():
            skipped.append(slug)
            continue
        second = data
        if slug == "lead-routing" and data.goals.get(GoalKind.SLA) is not None:
            # The SLA started looser; a third version below tightens it.
            second = data.with_changes(
                goals={
                    **data.goals,
                    GoalKind.SLA: replace(
                        data.goals[GoalKind.SLA],
                        statement="Median speed to lead under 6 hours",
                        target=Decimal(6),
                    ),
                },
                iteration=data.iteration.split("\n\n")[0],
            )
        # History worth comparing: a first draft months ago, the full document later.
        first = second.with_changes(
            status=Status.DRAFT,
            iteration="",
            tenets=second.tenets[:1],
            goals={k: v for k, v in second.goals.items() if k == GoalKind.SLA},
            inspection=second.inspection.split(":")[0] + ".",
            tags=tuple(t for t in second.tags if t != "speed"),
        )
        mechanism = mechanism_create(
            data=first, by=data.owner, today=today - timedelta(days=150),
            when=_at(today - timedelta(days=150)),
        )  # fmt: skip
        mechanism = mechanism_update(
            mechanism=mechanism,
            data=second,
            by=users.get("ops") or data.owner,
            expected_version=1,
            today=today - timedelta(days=100),
            when=_at(today - timedelta(days=100), 15),
        )
        made[slug] = mechanism
        created.append(slug)
    if "lead-routing" in made:
        # A later tightening of the SLA: a third version with a visible change to compare.
        routing = made["lead-routing"]
        data = dict(documents)["lead-routing"]
        made["lead-routing"] = mechanism_update(
            mechanism=routing,
            data=data,
            by=users.get("ops"),
            expected_version=routing.version,
            today=today - timedelta(days=30),
            when=_at(today - timedelta(days=30), 11),
        )
    for source, target, label in LINKS:
        if source in made or target in made:
            a = Mechanism.objects.filter(slug=source).first()
            b = Mechanism.objects.filter(slug=target).first()
            if a and b and not a.outgoing.filter(target=b).exists():
                link_create(source=a, target=b, label=label, by=users.get("ops"))
    for slug, entries in LOG.items():
        if slug not in made:
            continue
        for days, found, changed in entries:
            log_entry_add(
                mechanism=made[slug],
                by=users.get("ops"),
                inspected_by=made[slug].owner,
                inspected_on=today - timedelta(days=days),
                found=found,
                changed=changed,
                today=today,
            )
    for slug, actions in ACTIONS.items():
        if slug not in made:
            continue
        for title, username, due, done in actions:
            assignee = users.get(username)
            if assignee is None:
                continue
            action = action_add(
                mechanism=made[slug],
                by=users.get("ops"),
                title=title,
                assignee=assignee,
                due_on=today + timedelta(days=due),
            )
            if done:
                action_set_done(action=action, by=assignee, done=True)
    return DemoMechanisms(created, skipped)
