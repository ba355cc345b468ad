"""The dispute pages as people use them: a form shown again after an error keeps what was typed,
a second dispute on the same number points at the first, text is sanitised Markdown, the
evidence speaks the bridge's words, and an accepted correction says what the number is now."""

from __future__ import annotations

import pytest
from django.urls import reverse

from disputes.choices import DisputeStatus
from disputes.evidence import evidence_labelled
from disputes.forms import AcceptForm
from disputes.models import Dispute
from disputes.services import disputes as services
from tests.disputes.conftest import W10
from tests.disputes.test_api import client_for

pytestmark = pytest.mark.django_db


def file_leads_created(by, *, explanation="person2 is a test lead") -> Dispute:
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    return services.dispute_file(by=by, subject=subject, claimed_value="2", explanation=explanation)


@pytest.fixture
def in_review(published, sales, ops):
    return services.dispute_review(dispute=file_leads_created(sales), by=ops)


def test_accept_with_a_bad_correction_shows_the_page_again_with_what_was_typed(in_review, ops):
    response = client_for(ops).post(
        reverse("disputes:dispute-accept", args=[in_review.pk]),
        {"resolution": "person2 moved to March 10", "kind": "override",
         "field": "lead.created_at", "record_key": "nobody@acme.com", "value": "2026-03-10"},
    )  # fmt: skip
    assert response.status_code == 400
    page = response.text
    assert "Nothing was changed" in page
    assert "There is no lead nobody@acme.com" in page
    assert "person2 moved to March 10</textarea>" in page
    assert 'value="nobody@acme.com"' in page
    assert 'value="2026-03-10"' in page
    assert '<option value="override" selected>' in page
    assert '<option value="lead.created_at" selected>' in page
    assert Dispute.objects.get(pk=in_review.pk).status == DisputeStatus.IN_REVIEW


def test_a_reject_without_a_reason_keeps_the_reject_form_open(in_review, ops):
    response = client_for(ops).post(
        reverse("disputes:dispute-reject", args=[in_review.pk]), {"reason": "   "}
    )
    assert response.status_code == 400
    assert "Nothing was changed" in response.text
    assert '<details class="dp-step" open><summary><strong>Reject' in response.text


def test_the_correctable_field_is_a_choice_of_labelled_fields():
    form = AcceptForm()
    groups = dict(form.fields["field"].choices[1:])
    assert ("lead.mql_at", "Became MQL") in groups["Lead"]
    assert ("deal.amount", "Amount") in groups["Deal"]
    bad = AcceptForm({"resolution": "x", "kind": "override", "field": "mql_at"})
    assert not bad.is_valid()
    assert "field" in bad.errors


def test_a_field_of_another_object_type_is_refused_at_the_field(in_review, ops):
    form = AcceptForm(
        {"resolution": "x", "kind": "override", "object_type": "deal", "field": "lead.mql_at"}
    )
    assert not form.is_valid()
    assert form.errors["field"] == ["Became MQL is a field of leads, not of deals."]
    good = AcceptForm({"resolution": "x", "kind": "override", "field": "lead.mql_at"})
    assert good.is_valid()
    assert (good.cleaned_data["object_type"], good.cleaned_data["field"]) == ("lead", "mql_at")


def test_filing_on_a_number_with_an_open_dispute_says_so_and_offers_to_comment(
    published, sales, make_user
):
    first = file_leads_created(sales)
    url = reverse("disputes:dispute-new") + f"?metric=leads_created&week={W10.label}"
    page = client_for(sales).get(url).text
    assert "This is already disputed" in page
    assert f'href="/disputes/{first.pk}/#comment"' in page
    detail = client_for(sales).get(reverse("disputes:dispute-detail", args=[first.pk])).text
    assert 'id="comment"' in detail
    # Another lead may not write in that thread: pointed at the dispute, not its comment box.
    from revops.permissions import Role

    other = make_user(Role.MARKETING_LEAD, "maud")
    page = client_for(other).get(url).text
    assert "This is already disputed" in page
    assert f'href="/disputes/{first.pk}/"' in page
    assert "#comment" not in page
    # Anyone may follow it instead, from the notice, and lands back on the form.
    follow = f'action="{reverse("follows:dispute", args=[first.pk])}"'
    assert follow in page
    done = client_for(other).post(reverse("follows:dispute", args=[first.pk]), {"next": url})
    assert done.url == url
    assert "✓ Following" in client_for(other).get(url).text


def test_a_closed_dispute_is_no_reason_for_the_notice(published, sales):
    services.dispute_withdraw(dispute=file_leads_created(sales), by=sales)
    url = reverse("disputes:dispute-new") + f"?metric=leads_created&week={W10.label}"
    assert "This is already disputed" not in client_for(sales).get(url).text


def test_dispute_text_and_comments_render_sanitised_markdown(published, sales):
    dispute = file_leads_created(
        sales, explanation="**person2** is a test lead <script>alert(1)</script>"
    )
    client = client_for(sales)
    client.post(
        reverse("disputes:dispute-comment", args=[dispute.pk]),
        {"body": "See *this* [list](javascript:alert(2)) <img src=x onerror=alert(3)>"},
    )
    page = client.get(reverse("disputes:dispute-detail", args=[dispute.pk])).text
    assert "<strong>person2</strong>" in page
    assert "<em>this</em>" in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page
    assert "<img" not in page
    # What the filer typed is stored as typed.
    assert Dispute.objects.get(pk=dispute.pk).explanation.endswith("<script>alert(1)</script>")


def test_a_comment_that_is_too_long_is_refused_with_the_text_kept(published, sales):
    dispute = file_leads_created(sales)
    body = "word " * 2_001
    response = client_for(sales).post(
        reverse("disputes:dispute-comment", args=[dispute.pk]), {"body": body}
    )
    assert response.status_code == 400
    assert body.strip() in response.text
    assert not dispute.comments.exists()


STEPS = [
    {"reason": "missing_in_sales", "field": "", "value": "-2", "records": 2},
    {"reason": "other_week", "field": "mql_at", "value": "1", "records": 1},
]


def test_evidence_bridge_steps_speak_the_bridges_words(published, sales):
    dispute = file_leads_created(sales)
    # Evidence frozen as an older version stored it: codes and no system names.
    dispute.evidence = {
        **dispute.evidence,
        "reconciliation": {"run": 1, "marketing_value": "5", "sales_value": "3",
                           "golden_value": "3", "unexplained": "0", "steps": STEPS},
    }  # fmt: skip
    dispute.save(update_fields=["evidence"])
    page = client_for(sales).get(reverse("disputes:dispute-detail", args=[dispute.pk])).text
    assert "Never reached Sales" in page
    assert "Counted in another week (MQL date)" in page
    assert "missing_in_sales" not in page
    assert "other_week" not in page


def test_evidence_labels_use_the_system_names_it_was_frozen_with():
    frozen = {
        "kind": "metric",
        "reconciliation": {"marketing_system": "HubSpot", "sales_system": "Salesforce",
                           "steps": STEPS},
    }  # fmt: skip
    steps = evidence_labelled(frozen)["reconciliation"]["steps"]
    assert [s["label"] for s in steps] == [
        "Never reached Salesforce",
        "Counted in another week (MQL date)",
    ]
    discrepancy = {
        "kind": "discrepancy",
        "discrepancy": {"kind": "Missing in sales", "field": "", "left_system": "HubSpot",
                        "right_system": "Salesforce"},
    }  # fmt: skip
    assert evidence_labelled(discrepancy)["discrepancy"]["label"] == "Never reached Salesforce"
    mismatch = {
        "kind": "discrepancy",
        "discrepancy": {"kind": "Field mismatch", "code": "mismatch", "field": "mql_at",
                        "left_system": "HubSpot", "right_system": "Salesforce"},
    }  # fmt: skip
    assert evidence_labelled(mismatch)["discrepancy"]["label"] == "MQL date differs"


def test_after_an_accepted_correction_the_page_says_what_the_number_is_now(in_review, ops):
    client = client_for(ops)
    response = client.post(
        reverse("disputes:dispute-accept", args=[in_review.pk]),
        {"resolution": "person2 moved", "kind": "override", "field": "lead.created_at",
         "record_key": "person2@acme.com", "value": "2026-03-10"},
        follow=True,
    )  # fmt: skip
    page = response.text
    assert "Accepted" in page
    assert "Now:</strong> Leads created, 2026-W10 is <strong" in page
    assert ">2</strong>" in page
    assert "published, revision 2" in page
    assert "it was 3 when disputed" in page
