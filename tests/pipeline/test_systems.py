"""Set-up on a fresh install: ops add, rename and retire source systems on a page or with
`manage.py system_add`; the import form offers the chosen system's vendor's presets."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from pipeline.models import SourceLead, SourceSystem
from revops.permissions import Role
from tests.pipeline.importing import csv_text, lead_row

pytestmark = pytest.mark.django_db


def test_the_first_visit_of_ops_to_an_empty_install_leads_to_the_systems_page(client_as):
    client = client_as(Role.OPS)
    first = client.get("/")
    assert first.status_code == 302
    assert first["Location"] == reverse("pipeline:system-list")
    page = client.get(first["Location"])
    assert "No source system yet" in page.text
    assert "Welcome. Start by adding the systems" in page.text
    assert client.get("/").status_code == 200  # once a session: home stays reachable
    assert client_as(Role.EXECUTIVE).get("/").status_code == 200  # not ops: no detour


def test_ops_add_a_system_and_are_sent_to_import_its_first_file(client_as):
    client = client_as(Role.OPS)
    response = client.post(
        reverse("pipeline:system-list"),
        {"name": "  HubSpot  Marketing ", "vendor": "hubspot", "role": "marketing"},
    )
    system = SourceSystem.objects.get()
    assert (system.name, system.slug, system.vendor, system.role) == (
        "HubSpot Marketing", "hubspot-marketing", "hubspot", "marketing",
    )  # fmt: skip
    assert response["Location"] == f"{reverse('pipeline:import-new')}?system=hubspot-marketing"
    form = client.get(response["Location"])
    offered = form.content.decode()
    assert "hubspot-contact" in offered
    assert "salesforce-lead" not in offered


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"name": "", "vendor": "hubspot", "role": "marketing"}, "This field is required"),
        ({"name": "X", "vendor": "sap", "role": "marketing"}, "Select a valid choice"),
        ({"name": "X", "vendor": "hubspot", "role": "finance"}, "Select a valid choice"),
        ({"name": "!!!", "vendor": "other", "role": "sales"}, "needs a letter or a digit"),
        ({"name": "hubspot", "vendor": "hubspot", "role": "sales"}, "already a system"),
    ],
)
def test_a_bad_system_is_refused_with_the_input_kept(client_as, data, says):
    SourceSystem.objects.create(name="HubSpot", slug="hubspot", role="marketing", vendor="hubspot")
    response = client_as(Role.OPS).post(reverse("pipeline:system-list"), data)
    assert response.status_code == 400
    assert says in response.text
    if data["name"]:
        assert f'value="{data["name"]}"' in response.text
    assert SourceSystem.objects.count() == 1


def test_rename_keeps_the_slug_and_retire_stops_imports_but_keeps_records(client_as, tmp_path):
    from tests.pipeline.importing import run_import

    system = SourceSystem.objects.create(name="SFDC", slug="sfdc", role="sales", vendor="other")
    client = client_as(Role.OPS)
    client.post(
        reverse("pipeline:system-edit", args=["sfdc"]),
        {f"edit-{system.pk}-name": "Salesforce", f"edit-{system.pk}-vendor": "salesforce",
         f"edit-{system.pk}-role": "sales"},
    )  # fmt: skip
    system.refresh_from_db()
    assert (system.name, system.slug, system.vendor) == ("Salesforce", "sfdc", "salesforce")
    batch = run_import(tmp_path, csv_text([lead_row(1)]), system=system)
    assert batch.status == "applied"

    client.post(reverse("pipeline:system-retire", args=["sfdc"]), {"retire": "1"})
    system.refresh_from_db()
    assert system.is_retired
    assert SourceLead.objects.filter(system=system).count() == 1  # its records stay
    with pytest.raises(Exception, match="is retired: it takes no new imports"):
        run_import(tmp_path, csv_text([lead_row(2)]), system=system)
    page = client.get(reverse("pipeline:import-new"))
    offered = page.context["form"].fields["system"].queryset
    assert not offered.filter(slug="sfdc").exists()

    client.post(reverse("pipeline:system-retire", args=["sfdc"]), {"retire": "0"})
    system.refresh_from_db()
    assert not system.is_retired


def test_other_roles_see_the_systems_but_cannot_change_them(client_as):
    SourceSystem.objects.create(name="HubSpot", slug="hubspot", role="marketing", vendor="hubspot")
    client = client_as(Role.SALES_LEAD)
    page = client.get(reverse("pipeline:system-list"))
    assert page.status_code == 200
    assert "HubSpot" in page.text
    assert "Add a system" not in page.text
    add = {"name": "X", "vendor": "other", "role": "sales"}
    assert client.post(reverse("pipeline:system-list"), add).status_code == 403
    assert client.post(reverse("pipeline:system-retire", args=["hubspot"])).status_code == 403
    assert SourceSystem.objects.count() == 1


def test_a_preset_of_another_vendor_is_refused_in_a_sentence(client_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    gainsight = SourceSystem.objects.create(
        name="Gainsight", slug="gainsight", role="customer_success", vendor="gainsight"
    )
    response = client_as(Role.OPS).post(
        reverse("pipeline:import-new"),
        {"system": gainsight.pk, "object_type": "lead", "preset": "salesforce-lead",
         "file": SimpleUploadedFile("leads.csv", csv_text([lead_row(1)]).encode())},
    )  # fmt: skip
    assert response.status_code in (200, 400)
    assert "This preset reads Salesforce exports, and Gainsight is a Gainsight system" in (
        response.text
    )


def test_system_add_on_the_command_line_and_import_records_says_how_without_systems():
    with pytest.raises(CommandError, match="there is none yet. Add one first, e.g. manage.py"):
        call_command("import_records", "x.csv", "--system", "hubspot", "--object", "lead",
                     "--preset", "hubspot-contact", stdout=io.StringIO())  # fmt: skip
    out = io.StringIO()
    call_command("system_add", "--name", "HubSpot", "--vendor", "hubspot", "--role", "marketing",
                 stdout=out)  # fmt: skip
    assert "import with --system hubspot" in out.getvalue()
    with pytest.raises(CommandError, match="already a system with the slug 'hubspot'"):
        call_command("system_add", "--name", "HubSpot", "--vendor", "hubspot", "--role",
                     "marketing", stdout=io.StringIO())  # fmt: skip


def test_the_import_form_starts_on_a_system_and_offers_only_its_vendors_presets(client_as):
    gainsight = SourceSystem.objects.create(
        name="Gainsight", slug="gainsight", role="customer_success", vendor="gainsight"
    )
    SourceSystem.objects.create(
        name="Salesforce", slug="salesforce", role="sales", vendor="salesforce"
    )
    client = client_as(Role.OPS)

    def offered(query: str) -> set[str]:
        form = client.get(reverse("pipeline:import-new") + query).context["form"]
        return {key for _group, options in form.fields["preset"].widget.choices
                for key, _label in options}  # fmt: skip

    # Without a choice the form starts on its first system and offers that vendor's presets:
    # never a Salesforce lead preset for a Gainsight system.
    first = SourceSystem.objects.filter(retired_at__isnull=True).first()
    default = offered("")
    assert all(k.startswith(first.vendor) or "-" not in k for k in default)
    by_id = offered(f"?system={gainsight.pk}")
    assert "salesforce-lead" not in by_id
    assert "salesforce-lead" in offered("?system=salesforce")
    page = client.get(reverse("pipeline:import-new"), {"system": "nope%00"})
    assert page.status_code == 200
