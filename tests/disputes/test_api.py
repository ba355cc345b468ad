"""The disputes API and pages: the role × step table, and bad input answered with a clear
error that changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from disputes.choices import DisputeStatus
from disputes.models import Dispute
from disputes.services import disputes as services
from revops.permissions import Role
from tests.disputes.conftest import W10

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dispute(imported, sales):
    subject = services.subject_metric(metric_key="leads_created", week_label=W10.label)
    return services.dispute_file(by=sales, subject=subject, claimed_value="2", explanation="x")


@pytest.fixture
def in_review(dispute, ops):
    return services.dispute_review(dispute=dispute, by=ops)


def api(name: str, pk: int) -> str:
    return reverse(f"api:dispute-{name}", args=[pk])


ACCEPT = {"resolution": "explained, nothing to change"}

# Role of someone who did NOT file the dispute × step → status. The filer is a sales lead.
TABLE = [
    (Role.OPS, "review", {}, 200),
    (Role.SALES_LEAD, "review", {}, 403),
    (Role.MARKETING_LEAD, "review", {}, 403),
    (Role.EXECUTIVE, "review", {}, 403),
    (Role.OPS, "accept", ACCEPT, 200),
    (Role.SALES_LEAD, "accept", ACCEPT, 403),
    (Role.MARKETING_LEAD, "accept", ACCEPT, 403),
    (Role.EXECUTIVE, "accept", ACCEPT, 403),
    (Role.OPS, "reject", {"reason": "no"}, 200),
    (Role.SALES_LEAD, "reject", {"reason": "no"}, 403),
    (Role.EXECUTIVE, "reject", {"reason": "no"}, 403),
    (Role.OPS, "withdraw", {}, 403),  # not theirs
    (Role.SALES_LEAD, "withdraw", {}, 403),  # another sales lead's
    (Role.EXECUTIVE, "withdraw", {}, 403),
    (Role.OPS, "comments", {"body": "looking"}, 201),
    (Role.SALES_LEAD, "comments", {"body": "me too"}, 403),
    (Role.MARKETING_LEAD, "comments", {"body": "me too"}, 403),
    (Role.EXECUTIVE, "comments", {"body": "hm"}, 403),
    (None, "review", {}, 403),
]


@pytest.mark.parametrize(("role", "step", "body", "expected"), TABLE)
def test_role_by_step_table(request, make_user, role, step, body, expected):
    fixture = "dispute" if step == "review" else "in_review"
    target = request.getfixturevalue(fixture)
    before = Dispute.objects.get(pk=target.pk).status
    response = client_for(make_user(role, "other")).post(
        api(step, target.pk), body, content_type="application/json"
    )
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert Dispute.objects.get(pk=target.pk).status == before


@pytest.mark.parametrize(
    ("step", "body", "expected"),
    [
        ("withdraw", {}, 200),
        ("comments", {"body": "more detail"}, 201),
        ("accept", ACCEPT, 403),  # a sales lead accepting their own dispute
        ("review", {}, 403),
    ],
)
def test_what_the_filer_may_do(in_review, sales, step, body, expected):
    response = client_for(sales).post(
        api(step, in_review.pk), body, content_type="application/json"
    )
    assert response.status_code == expected


def test_resolving_a_withdrawn_dispute_is_a_conflict(in_review, sales, ops):
    services.dispute_withdraw(dispute=in_review, by=sales)
    response = client_for(ops).post(api("accept", in_review.pk), ACCEPT, "application/json")
    assert response.status_code == 409
    assert "withdrawn" in response.json()["detail"]
    assert Dispute.objects.get(pk=in_review.pk).status == DisputeStatus.WITHDRAWN


def test_everyone_reads_the_list_detail_timeline_and_thread(in_review, make_user):
    for role in Role:
        client = client_for(make_user(role, f"r-{role.value}"))
        listed = client.get(reverse("api:dispute-list") + "?status=in_review").json()
        assert [d["id"] for d in listed["results"]] == [in_review.pk]
        detail = client.get(api("detail", in_review.pk)).json()
        assert detail["evidence"]["value"] == "3"
        steps = client.get(api("transitions", in_review.pk)).json()["results"]
        assert [s["to_status"] for s in steps] == ["open", "in_review", "in_review"]
        assert client.get(api("comments", in_review.pk)).status_code == 200


def test_list_filters_by_overdue_team_metric_and_assignee(in_review, ops):
    client = client_for(ops)
    url = reverse("api:dispute-list")
    assert len(client.get(url + "?overdue=true").json()["results"]) == 0
    Dispute.objects.update(due_at="2026-03-01T00:00:00Z")
    assert len(client.get(url + "?overdue=true").json()["results"]) == 1
    assert len(client.get(url + "?team=sales").json()["results"]) == 0
    assert len(client.get(url + "?metric=leads_created&assignee=olga").json()["results"]) == 1
    assert client.get(url + "?week=nonsense").status_code == 400


def _post(client, **data):
    return client.post(reverse("api:dispute-list"), data)  # multipart


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"metric": "nope", "week": "2026-W10", "claimed_value": "2"}, "non_field_errors"),
        ({"metric": "leads_created", "week": "2099-W10", "claimed_value": "2"}, None),
        ({"metric": "leads_created", "week": "2026-W99", "claimed_value": "2"}, None),
        ({"metric": "leads_created", "week": "2026-W10", "claimed_value": "lots"}, "claimed_value"),
        ({"object_type": "lead", "record": 999999, "claimed_value": "x"}, None),
        ({"claimed_value": "2"}, None),
    ],
)
def test_bad_filings_through_the_api_are_400_and_file_nothing(imported, sales, data, field):
    response = _post(client_for(sales), explanation="why", **data)
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()
    assert not Dispute.objects.exists()


def csv_upload(content: bytes, name: str = "missing.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (csv_upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR"), "binary"),
        (csv_upload(b'email\n"unterminated@acme.com\n'), "not a CSV"),
        (csv_upload(b"email\nperson@acme.com\n", name="missing.xlsx"), "not a CSV"),
    ],
)
def test_bad_attachments_are_refused_by_content(imported, sales, upload, message):
    response = _post(
        client_for(sales), metric="leads_created", week="2026-W10", claimed_value="2",
        explanation="why", attachment=upload,
    )  # fmt: skip
    assert response.status_code == 400
    assert message in response.json()["attachment"][0]
    assert not Dispute.objects.exists()


def test_an_attachment_over_5_mb_is_stopped_while_it_arrives(imported, sales):
    response = _post(
        client_for(sales), metric="leads_created", week="2026-W10", claimed_value="2",
        explanation="why", attachment=csv_upload(b"a" * (5 * 1024 * 1024 + 1)),
    )  # fmt: skip
    assert response.status_code == 413
    assert "5 MB" in response.json()["detail"]
    assert not Dispute.objects.exists()


def test_a_csv_attachment_is_stored_and_downloadable(imported, sales, media_root):
    response = _post(
        client_for(sales), metric="leads_created", week="2026-W10", claimed_value="2",
        explanation="why", attachment=csv_upload(b"\xef\xbb\xbfemail\nmissing@acme.com\n"),
    )  # fmt: skip
    assert response.status_code == 201, response.content
    dispute = Dispute.objects.get()
    assert dispute.attachment.path.startswith(str(media_root))
    download = client_for(sales).get(reverse("disputes:dispute-attachment", args=[dispute.pk]))
    assert b"missing@acme.com" in b"".join(download.streaming_content)


def test_executives_cannot_file(imported, executive):
    response = _post(
        client_for(executive), metric="leads_created", week="2026-W10", claimed_value="2",
        explanation="why",
    )  # fmt: skip
    assert response.status_code == 403


# --- The pages -------------------------------------------------------------------------------


def test_filing_page_for_a_missing_metric_or_week_is_a_400_with_the_reason(imported, sales):
    client = client_for(sales)
    page = client.get(reverse("disputes:dispute-new") + "?metric=nope&week=2026-W10")
    assert page.status_code == 400
    assert "There is no metric" in page.text
    page = client.get(reverse("disputes:dispute-new") + "?metric=leads_created&week=2026-W60")
    assert page.status_code == 400
    assert "no week 60" in page.text


def test_filing_from_the_page_shows_form_errors_and_files_nothing(imported, sales):
    client = client_for(sales)
    url = reverse("disputes:dispute-new") + "?metric=leads_created&week=2026-W10"
    page = client.get(url)
    assert page.status_code == 200
    assert "Evidence the dispute will carry" in page.text
    bad = client.post(url, {"claimed_value": "many", "explanation": "x"})
    assert bad.status_code == 400
    assert "is not a number" in bad.text
    binary = client.post(
        url, {"claimed_value": "2", "explanation": "x",
              "attachment": csv_upload(b"\x00\x01\x02", name="x.csv")},
    )  # fmt: skip
    assert binary.status_code == 400
    assert "binary data" in binary.text
    assert not Dispute.objects.exists()
    good = client.post(url, {"claimed_value": "2", "explanation": "<script>alert(1)</script>"})
    dispute = Dispute.objects.get()
    assert good.status_code == 302
    detail = client.get(reverse("disputes:dispute-detail", args=[dispute.pk]))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text
    assert "<script>alert" not in detail.text


def test_a_disallowed_step_from_the_page_says_so_and_changes_nothing(in_review, sales, ops):
    services.dispute_withdraw(dispute=in_review, by=sales)
    client = client_for(ops)
    response = client.post(
        reverse("disputes:dispute-accept", args=[in_review.pk]),
        {"resolution": "fix", "kind": "none"},
        follow=True,
    )
    assert "Nothing was changed" in response.text
    assert "withdrawn" in response.text
    assert Dispute.objects.get(pk=in_review.pk).status == DisputeStatus.WITHDRAWN
    # A sales lead posting to accept is refused outright.
    assert (
        client_for(sales)
        .post(reverse("disputes:dispute-accept", args=[in_review.pk]), {"resolution": "x"})
        .status_code
        == 403
    )


def test_ops_take_a_dispute_through_the_pages(dispute, ops, ops2):
    client = client_for(ops)
    detail = reverse("disputes:dispute-detail", args=[dispute.pk])
    assert "Take into review" in client.get(detail).text
    client.post(reverse("disputes:dispute-review", args=[dispute.pk]), {"assignee": ops2.pk})
    dispute.refresh_from_db()
    assert (dispute.status, dispute.assignee) == (DisputeStatus.IN_REVIEW, ops2)
    client.post(
        reverse("disputes:dispute-accept", args=[dispute.pk]),
        {"resolution": "Moved person2", "kind": "override", "object_type": "lead",
         "field": "lead.created_at", "record_key": "person2@acme.com", "value": "2026-03-10"},
    )  # fmt: skip
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.ACCEPTED
    page = client.get(detail).text
    assert "Timeline" in page
    assert "Moved person2" in page


def test_list_page_filters_and_flags_overdue(dispute, executive):
    Dispute.objects.update(due_at="2026-03-01T00:00:00Z")
    client = client_for(executive)
    page = client.get(reverse("disputes:dispute-list") + "?overdue=true")
    assert page.status_code == 200
    assert "dp-row-overdue" in page.text
    assert "Response SLA" not in page.text  # executives read; ops set the SLA
    assert client.get(reverse("disputes:dispute-settings")).status_code == 403
    bad = client.get(reverse("disputes:dispute-list") + "?status=lost")
    assert bad.status_code == 200
    assert "No disputes match" in bad.text


def test_ops_set_the_sla_on_a_page(ops):
    client = client_for(ops)
    url = reverse("disputes:dispute-settings")
    assert client.post(url, {"response_business_days": "0"}).status_code == 200
    client.post(url, {"response_business_days": "3"})
    assert client.get(reverse("api:dispute-settings")).json()["response_business_days"] == 3


def test_scorecard_footer_counts_open_and_overdue_disputes(dispute, executive):
    from revops.weeks import IsoWeek

    Dispute.objects.update(due_at="2026-03-01T00:00:00Z")
    page = client_for(executive).get(reverse("scorecard:week", args=[IsoWeek.last_completed()]))
    assert "1 dispute is open, 1 overdue." in page.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "response_business_days"),
        ({"response_business_days": "soon"}, "response_business_days"),
    ],
)
def test_the_sla_through_the_api_must_be_named_and_a_number(ops, body, field):
    client = client_for(ops)
    url = reverse("api:dispute-settings")
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    ok = client.put(url, {"response_business_days": 4}, content_type="application/json")
    assert ok.status_code == 200
    assert client.get(url).json()["response_business_days"] == 4


def test_a_lead_commenting_on_someone_elses_dispute_is_refused_before_the_form(dispute, make_user):
    from revops.permissions import Role

    stranger = client_for(make_user(Role.MARKETING_LEAD, "stranger"))
    page = stranger.post(reverse("disputes:dispute-comment", args=[dispute.pk]), {})
    assert page.status_code == 403
    api = stranger.post(reverse("api:dispute-comments", args=[dispute.pk]), {})
    assert api.status_code == 403


def test_the_audit_log_records_who_moved_a_dispute_and_the_correction_it_made(dispute, ops, ops2):
    from tests.audit.test_audit import changes, rows

    client = client_for(ops)
    client.post(reverse("disputes:dispute-review", args=[dispute.pk]), {"assignee": ops2.pk})
    client.post(
        reverse("disputes:dispute-accept", args=[dispute.pk]),
        {"resolution": "Moved person2", "kind": "override", "object_type": "lead",
         "field": "lead.created_at", "record_key": "person2@acme.com", "value": "2026-03-10"},
    )  # fmt: skip
    updates = rows(model="disputes.dispute", operation="update")
    assert {row.username for row in updates} == {"olga"}
    statuses = [changes(row)["status"] for row in reversed(updates) if "status" in changes(row)]
    assert statuses == [("open", "in_review"), ("in_review", "accepted")]
    [override] = rows(model="pipeline.fieldoverride", operation="insert")
    assert override.username == "olga"


def test_a_record_named_with_a_line_break_is_disputed_and_mailed_with_a_one_line_subject(
    sales, ops, django_capture_on_commit_callbacks, mailoutbox
):
    from tests.factories import AccountFactory

    account = AccountFactory(name="Evil\r\nBcc: victim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        filed = _post(
            client_for(sales), object_type="account", record=account.pk, claimed_value="x",
            explanation="why",
        )  # fmt: skip
    assert filed.status_code == 201, filed.content
    dispute = Dispute.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        reviewed = client_for(ops).post(reverse("api:dispute-review", args=[dispute.pk]))
    assert reviewed.status_code == 200, reviewed.content
    # The filer on each step, the reviewer on being assigned.
    assert sorted(m.recipients()[0] for m in mailoutbox) == [
        "olga@example.com", "sam@example.com", "sam@example.com"
    ]  # fmt: skip
    for message in mailoutbox:
        assert "\r" not in message.subject
        assert "\n" not in message.subject
        assert "Evil Bcc: victim@example.com" in message.subject
        message.message()  # the headers build


def test_an_attachment_is_served_with_formula_cells_neutralised_and_the_original_to_ops(
    imported, sales, ops, executive
):
    upload = csv_upload(b'email,note\nmissing@acme.com,"=HYPERLINK(""http://x"")"\n')
    response = _post(
        client_for(sales), metric="leads_created", week="2026-W10", claimed_value="2",
        explanation="why", attachment=upload,
    )  # fmt: skip
    assert response.status_code == 201, response.content
    url = reverse("disputes:dispute-attachment", args=[Dispute.objects.get().pk])

    served = b"".join(client_for(executive).get(url).streaming_content).decode()
    assert served.splitlines() == ["email,note", 'missing@acme.com,"\'=HYPERLINK(""http://x"")"']
    assert client_for(executive).get(url, {"original": "1"}).status_code == 403
    original = b"".join(client_for(ops).get(url, {"original": "1"}).streaming_content)
    assert b'"=HYPERLINK(""http://x"")"' in original
