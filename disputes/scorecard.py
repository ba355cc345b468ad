"""What disputes add to the scorecard: the disputed trust mark and the footer's counts, plugged
in through scorecard.trust.TRUST_SOURCES and revops.hooks (see apps.py)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from disputes import selectors
from disputes.choices import UNRESOLVED
from revops.hooks import FooterNote
from revops.permissions import can
from revops.weeks import IsoWeek
from scorecard.trust import DISPUTED, TrustMark, trust_version


# The marks read the unresolved disputes' metric and week, nothing else.
@trust_version(
    "(SELECT coalesce(string_agg(concat_ws(':', id, metric_id, week_start), ',' ORDER BY id), '')"
    " FROM disputes_dispute WHERE status IN ("
    + ", ".join(f"%(status_{i})s" for i in range(len(UNRESOLVED)))
    + "))",
    {f"status_{i}": status.value for i, status in enumerate(UNRESOLVED)},
)
def dispute_marks(week: IsoWeek, keys: frozenset[str]) -> dict[str, TrustMark]:
    """The disputed mark on every number of the week with an unresolved dispute: linking to
    the dispute, or to the list of them when there are several."""
    marks = {}
    for key, ids in selectors.unresolved_for_week(week, keys).items():
        if len(ids) == 1:
            url = reverse("disputes:dispute-detail", args=[ids[0]])
            detail = f"Dispute #{ids[0]} is open against this number"
        else:
            url = (
                f"{reverse('disputes:dispute-list')}?metric={key}&week={week.label}&unresolved=true"
            )
            detail = f"{len(ids)} disputes are open against this number"
        marks[key] = TrustMark(DISPUTED, "Disputed", detail, url=url)
    return marks


def dispute_counts_note(request: HttpRequest, counts: list[int]) -> FooterNote | None:
    """The scorecard footer's line on disputes: how many wait for ops, how many are overdue
    (`counts`: what selectors.dispute_counts_query read)."""
    if not can(request.user, "disputes.view"):
        return None
    counts = selectors.DisputeCounts(*counts)
    base = reverse("disputes:dispute-list")
    if counts.unresolved == 0:
        return FooterNote("Disputes: none open.", base, "good")
    noun = "dispute is" if counts.unresolved == 1 else "disputes are"
    text = f"{counts.unresolved} {noun} open, {counts.overdue} overdue."
    if counts.overdue:
        return FooterNote(text, f"{base}?overdue=true", "warning")
    return FooterNote(text, f"{base}?unresolved=true", "")
