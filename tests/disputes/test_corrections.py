"""Corrections through the source of truth: identity resolution honours an alias and an
override on every later import, until the override is removed."""

from __future__ import annotations

import pytest

from pipeline.models import FieldOverride, Lead, SourceLead
from pipeline.services import corrections
from tests.disputes.conftest import leads_file
from tests.pipeline.importing import lead_row, run_import

pytestmark = pytest.mark.django_db


def test_an_override_wins_over_every_import_until_removed(imported, ops):
    corrections.field_override_set(
        object_type="lead", record_key="person1@acme.com", field="company",
        value="Acme Europe", reason="CRM account is wrong", by=ops,
    )  # fmt: skip
    assert Lead.objects.get(email_key="person1@acme.com").company == "Acme Europe"
    run_import(imported, leads_file(lead_row(1, Company="Acme Inc")), name="again.csv")
    lead = Lead.objects.get(email_key="person1@acme.com")
    assert lead.company == "Acme Europe"
    assert SourceLead.objects.get(email_key="person1@acme.com").company == "Acme Inc"
    corrections.field_override_remove(override=FieldOverride.objects.get())
    assert Lead.objects.get(email_key="person1@acme.com").company == "Acme Inc"


def test_an_override_to_no_value_is_kept_as_none(imported, ops):
    corrections.field_override_set(
        object_type="lead", record_key="person0@acme.com", field="owner", value="",
        reason="left the company", by=ops,
    )  # fmt: skip
    assert Lead.objects.get(email_key="person0@acme.com").owner == ""


def test_two_leads_marked_the_same_stay_one_across_reimports(imported, ops):
    corrections.lead_alias_create(
        alias_email="person2@acme.com", canonical_email="person1@acme.com",
        reason="same person, two inboxes", by=ops,
    )  # fmt: skip
    assert list(Lead.objects.order_by("email_key").values_list("email_key", flat=True)) == [
        "person0@acme.com",
        "person1@acme.com",
    ]
    canonical = Lead.objects.get(email_key="person1@acme.com")
    assert SourceLead.objects.filter(lead=canonical).count() == 2
    # The same file again, then a changed row of the alias: still one lead.
    run_import(imported, leads_file(*(lead_row(i) for i in range(3))), name="again.csv")
    run_import(imported, leads_file(lead_row(2, LastName="Jones")), name="changed.csv")
    assert Lead.objects.count() == 2
    assert SourceLead.objects.get(email_key="person2@acme.com").lead_id == canonical.pk


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alias_email": "person1@acme.com", "canonical_email": "person1@acme.com"}, "itself"),
        ({"alias_email": "nobody@acme.com", "canonical_email": "person1@acme.com"}, "no lead"),
        ({"alias_email": "not-an-email", "canonical_email": "person1@acme.com"}, "not an email"),
    ],
)
def test_bad_aliases_are_refused(imported, ops, kwargs, message):
    with pytest.raises(corrections.ValidationError, match=message):
        corrections.lead_alias_create(reason="r", by=ops, **kwargs)
    assert Lead.objects.count() == 3


def test_bad_override_values_are_refused(imported, ops):
    with pytest.raises(corrections.ValidationError, match="not a stage|not a valid"):
        corrections.field_override_set(
            object_type="lead", record_key="person1@acme.com", field="stage",
            value="galaxy", reason="r", by=ops,
        )  # fmt: skip
    assert not FieldOverride.objects.exists()
