"""Owners, teams and regions: ops upload the CRM's owners and edit regions, everyone who reads
records sees them, a bad file changes nothing and says where it is wrong, and nothing a person
can type or upload is a server error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pipeline.models import Owner, Region, RegionCountry, Team
from pipeline.services.owners import owners_import, region_save
from revops.csv import CsvRejected
from revops.permissions import Role
from tests.factories import AccountFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db

OWNERS = "pipeline:owner-list"
IMPORT = "pipeline:owner-import"
REGIONS = "pipeline:region-list"
READERS = [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD]


def upload(content: str | bytes, name: str = "owners.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def owners() -> list[tuple]:
    return list(Owner.objects.order_by("key").values_list("key", "name", "team__name", "office"))


def teams() -> list[tuple]:
    return list(Team.objects.order_by("name").values_list("name", "manager"))


def rejected(data: str | bytes) -> list[tuple]:
    with pytest.raises(CsvRejected) as caught:
        owners_import(data=data.encode() if isinstance(data, str) else data, by=None)
    return [(e.row, e.column, e.message) for e in caught.value.errors]


# --- The owners file ----------------------------------------------------------------------------


def test_a_crm_export_with_its_own_header_names_bom_and_semicolons_is_read():
    data = (
        "\ufeffSales Agent;Full Name;Team;Manager;Regional Office\r\n"
        "alice;Alice Smith;Enterprise;Ann Manager;Berlin\r\n"
        "bob;;Enterprise;;Paris\r\n"
        "carol;Carol Jones;SMB;Cy Manager;Austin\r\n"
    ).encode()
    result = owners_import(data=data, by=None)
    assert (result.created, result.updated, result.teams_created) == (3, 0, 2)
    assert owners() == [
        ("alice", "Alice Smith", "Enterprise", "Berlin"),
        ("bob", "", "Enterprise", "Paris"),
        ("carol", "Carol Jones", "SMB", "Austin"),
    ]
    assert teams() == [("Enterprise", "Ann Manager"), ("SMB", "Cy Manager")]


def test_an_excel_sep_line_names_the_delimiter():
    owners_import(data=b"sep=;\r\nOwner ID;Office\r\nalice;Berlin, Mitte\r\n", by=None)
    assert owners() == [("alice", "", None, "Berlin, Mitte")]


def test_without_a_team_column_each_manager_gives_the_team_its_name():
    owners_import(data=b"owner_id,manager\nalice,Ann\nbob,Ann\ncarol,\n", by=None)
    assert teams() == [("Ann's team", "Ann")]
    assert [(k, t) for k, _, t, _ in owners()] == [
        ("alice", "Ann's team"),
        ("bob", "Ann's team"),
        ("carol", None),
    ]


def test_importing_again_upserts_and_leaves_what_the_file_does_not_say_alone():
    enterprise = Team.objects.create(name="Enterprise", manager="Ann")
    Owner.objects.create(key="alice", name="Alice", team=enterprise, office="Berlin")
    Owner.objects.create(key="zed", name="Zed", team=enterprise, office="Rome")  # not in the file
    # No office column: offices stay. The team is matched without case; a new manager is set.
    result = owners_import(
        data=b"user,name,team,manager\nalice,Alice Smith,ENTERPRISE,Beth\nbob,Bob,SMB,\n",
        by=None,
    )
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert (result.teams_created, result.teams_updated) == (1, 1)
    assert owners() == [
        ("alice", "Alice Smith", "Enterprise", "Berlin"),
        ("bob", "Bob", "SMB", ""),
        ("zed", "Zed", "Enterprise", "Rome"),
    ]
    assert teams() == [("Enterprise", "Beth"), ("SMB", "")]
    again = owners_import(data=b"user,name,team\nalice,Alice Smith,Enterprise\n", by=None)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_a_file_with_bad_rows_names_each_row_and_column_and_writes_nothing():
    Team.objects.create(name="Enterprise", manager="Ann")
    data = (
        "Owner,Team,Manager,Office\n"
        "alice,Enterprise,Ann,Berlin\n"  # fine on its own
        ",SMB,Cy,Austin\n"  # row 3: no key
        f"bob,{'x' * 101},Cy,Paris\n"  # row 4: team too long
        "carol,SMB,Cy,Austin\n"
        "carol,Enterprise,Ann,Austin\n"  # row 6: carol again, in another team
        "dave,SMB,Dee,Austin\n"  # row 7: SMB given a second manager
        "erin,Other,,Austin\n"  # row 8: a name breakdowns use for their own row
    )
    errors = rejected(data)
    assert [(row, column) for row, column, _ in errors] == [
        (3, "Owner"),
        (4, "Team"),
        (6, "Team"),
        (7, "Manager"),
        (8, "Team"),
    ]
    messages = [m for _, _, m in errors]
    assert "blank" in messages[0]
    assert "at most 100" in messages[1]
    assert "carol is in SMB on row 5" in messages[2]
    assert "SMB has the manager Cy on row 5" in messages[3]
    assert Owner.objects.count() == 0
    assert teams() == [("Enterprise", "Ann")]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"owner\x00,team\nalice\x00,x\n", "binary"),
        ("owner,team\nJosé,x\n".encode("cp1252"), "not UTF-8"),
        (b"name,team\nAlice,Enterprise\n", "No column names the owner"),
        (b"owner,user\nalice,alice\n", "both say key"),
        (b"owner,team\n", "no owners"),
        (b'owner,team\n"alice,Enterprise\nbob,SMB\n', "quote left open"),
        (b"owner,Owner\nalice,alice\n", "twice"),
        (b"owner,team\nalice,Enterprise,extra\n", "has 3 fields"),
    ],
)
def test_a_file_that_is_not_an_owners_table_is_refused_in_a_sentence(data, said):
    errors = rejected(data)
    assert said in " ".join(m for _, _, m in errors)
    assert not Owner.objects.exists()


# --- The owners page ---------------------------------------------------------------------------


def test_ops_upload_owners_and_see_teams_managers_and_the_records_naming_each(client_as):
    LeadFactory(owner="alice")
    LeadFactory(owner=" alice ")  # compared trimmed, as the scorecard slices
    DealFactory(owner="alice")
    AccountFactory(owner="stranger")
    client = client_as(Role.OPS)
    text = "owner,name,team,manager,office\nalice,Alice,Enterprise,Ann,Berlin\nbob,,,,\n"
    response = client.post(reverse(IMPORT), {"file": upload(text)}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Owners imported: 2 new" in body
    directory = response.context["directory"]
    enterprise, no_team = directory.teams
    assert (enterprise.team.name, enterprise.team.manager) == ("Enterprise", "Ann")
    [(alice, counts)] = enterprise.owners
    assert (alice.key, counts.leads, counts.deals, counts.accounts) == ("alice", 2, 1, 0)
    assert no_team.team is None
    assert [o.key for o, _ in no_team.owners] == ["bob"]
    assert [k for k, _ in directory.unlisted] == ["stranger"]
    assert "Ann" in body
    assert "Berlin" in body
    assert "stranger" in body


def test_a_refused_upload_shows_every_problem_with_its_row_and_column(client_as):
    client = client_as(Role.OPS)
    text = "owner,team\nalice,Enterprise\n,SMB\n"
    response = client.post(reverse(IMPORT), {"file": upload(text)})
    assert response.status_code == 400
    assert [(e.row, e.column) for e in response.context["upload_errors"]] == [(3, "owner")]
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "The owner key is blank." in body
    assert not Owner.objects.exists()


def test_an_upload_without_a_file_or_over_the_limit_is_a_400(client_as, monkeypatch):
    client = client_as(Role.OPS)
    assert client.post(reverse(IMPORT), {}).status_code == 400
    monkeypatch.setattr("pipeline.forms.OWNERS_FILE_MAX_BYTES", 10)
    response = client.post(reverse(IMPORT), {"file": upload("owner\nalice-with-a-long-key\n")})
    assert response.status_code == 400
    assert "over" in response.content.decode()
    assert not Owner.objects.exists()


def test_the_owners_page_costs_the_same_few_queries_however_many_owners(
    client_as, django_assert_max_num_queries
):
    team = Team.objects.create(name="Enterprise", manager="Ann")
    Owner.objects.bulk_create([Owner(key=f"owner-{n}", team=team) for n in range(50)])
    client = client_as(Role.EXECUTIVE)
    with django_assert_max_num_queries(12):
        assert client.get(reverse(OWNERS)).status_code == 200


# --- Regions ----------------------------------------------------------------------------------


def test_a_regions_countries_are_trimmed_and_given_once():
    region = region_save(
        name=" EMEA ", countries=["Germany", " germany ", "", "France", "FRANCE"], by=None
    )
    assert region.name == "EMEA"
    assert sorted(region.countries.values_list("country", flat=True)) == ["France", "Germany"]


def test_a_country_in_another_region_is_refused_naming_it_and_that_region():
    emea = region_save(name="EMEA", countries=["Germany", "France"], by=None)
    with pytest.raises(ValidationError, match="Germany is already in EMEA"):
        region_save(name="DACH", countries=["Austria", "GERMANY"], by=None)
    with pytest.raises(ValidationError, match="already a region called EMEA"):
        region_save(name="emea", countries=[], by=None)
    assert list(Region.objects.values_list("name", flat=True)) == ["EMEA"]
    # Its own countries are not "in another region": re-saving and respelling is fine.
    region_save(name="Europe", countries=["germany", "Spain"], region=emea, by=None)
    assert sorted(RegionCountry.objects.values_list("country", flat=True)) == ["Spain", "germany"]


def test_ops_add_edit_and_delete_a_region_on_the_page(client_as):
    LeadFactory(country="Japan")
    client = client_as(Role.OPS)
    added = client.post(
        reverse(REGIONS), {"name": "EMEA", "countries": "Germany, France , germany"}, follow=True
    )
    assert "EMEA added." in added.content.decode()
    region = Region.objects.get()
    assert sorted(region.countries.values_list("country", flat=True)) == ["France", "Germany"]
    assert [c for c, _ in added.context["unplaced"]] == ["Japan"]

    # Several lines: one country a line, a comma inside a name kept.
    prefix = f"edit-{region.pk}"
    edited = client.post(
        reverse("pipeline:region-edit", args=[region.pk]),
        {f"{prefix}-name": "Europe", f"{prefix}-countries": "Germany\nKorea, Republic of\n\n"},
    )
    assert edited.status_code == 302
    region.refresh_from_db()
    assert region.name == "Europe"
    assert sorted(region.countries.values_list("country", flat=True)) == [
        "Germany",
        "Korea, Republic of",
    ]
    page = client.get(reverse(REGIONS)).content.decode()
    assert "Korea, Republic of" in page
    # Its edit form, sent back as shown, keeps a lone country with a comma whole.
    alone = {f"{prefix}-name": "Korea", f"{prefix}-countries": "Korea, Republic of\r\n"}
    client.post(reverse("pipeline:region-edit", args=[region.pk]), alone)
    assert list(region.countries.values_list("country", flat=True)) == ["Korea, Republic of"]

    deleted = client.post(reverse("pipeline:region-delete", args=[region.pk]))
    assert deleted.status_code == 302
    assert not Region.objects.exists()
    assert not RegionCountry.objects.exists()


def test_a_refused_region_is_shown_again_with_the_reason(client_as):
    region_save(name="EMEA", countries=["Germany"], by=None)
    client = client_as(Role.OPS)
    response = client.post(reverse(REGIONS), {"name": "DACH", "countries": "Austria\ngermany"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Germany is already in EMEA" in body
    assert response.context["form"]["name"].value() == "DACH"
    assert Region.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x" * 101, "countries": "Germany"},
        {"name": "", "countries": "Germany"},
        {"name": "   ", "countries": ""},
        {"name": "Other", "countries": ""},
        {"name": "EMEA", "countries": "G" * 101},
        {"name": "EMEA", "countries": "x" * 50_001},
        {"name": "EMEA\x00", "countries": "Germany"},
    ],
)
def test_junk_typed_into_the_region_form_is_a_400_not_a_500(client_as, data):
    response = client_as(Role.OPS).post(reverse(REGIONS), data)
    assert response.status_code == 400
    assert not Region.objects.exists()


@pytest.mark.parametrize("pk", [999999, 10**20])
def test_editing_or_deleting_a_region_that_is_gone_is_a_404(client_as, pk):
    client = client_as(Role.OPS)
    assert client.post(reverse("pipeline:region-delete", args=[pk])).status_code == 404
    edit = client.post(reverse("pipeline:region-edit", args=[pk]), {f"edit-{pk}-name": "X"})
    assert edit.status_code == 404


# --- Who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_readers_see_both_pages_without_forms_and_may_not_change_anything(client_as, role):
    emea = region_save(name="EMEA", countries=["Germany"], by=None)
    owners_import(data=b"owner,team,manager\nalice,Enterprise,Ann\n", by=None)
    client = client_as(role)
    page = client.get(reverse(OWNERS))
    assert page.status_code == 200
    assert "Enterprise" in page.content.decode()
    assert "Import owners" not in page.content.decode()
    regions = client.get(reverse(REGIONS))
    assert regions.status_code == 200
    assert "Germany" in regions.content.decode()
    assert "Add region" not in regions.content.decode()

    file = {"file": upload("owner,team\nbob,SMB\n")}
    assert client.post(reverse(IMPORT), file).status_code == 403
    assert client.post(reverse(REGIONS), {"name": "APAC", "countries": "Japan"}).status_code == 403
    edit = {f"edit-{emea.pk}-name": "Europe", f"edit-{emea.pk}-countries": "Spain"}
    assert client.post(reverse("pipeline:region-edit", args=[emea.pk]), edit).status_code == 403
    assert client.post(reverse("pipeline:region-delete", args=[emea.pk])).status_code == 403
    assert owners() == [("alice", "", "Enterprise", "")]
    assert list(Region.objects.values_list("name", flat=True)) == ["EMEA"]
    assert list(RegionCountry.objects.values_list("country", flat=True)) == ["Germany"]


def test_a_user_without_a_role_sees_neither_page(client_as):
    client = client_as(None)
    assert client.get(reverse(OWNERS)).status_code == 403
    assert client.get(reverse(REGIONS)).status_code == 403


def test_writes_need_a_post_with_a_csrf_token(ops_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops_user)
    assert client.get(reverse(IMPORT)).status_code == 405
    assert client.get(reverse("pipeline:region-delete", args=[1])).status_code == 405
    file = {"file": upload("owner\nalice\n")}
    assert client.post(reverse(IMPORT), file).status_code == 403
    assert client.post(reverse(REGIONS), {"name": "EMEA", "countries": ""}).status_code == 403
    assert not Owner.objects.exists()
    assert not Region.objects.exists()


def test_both_pages_are_in_the_navigation(client_as):
    response = client_as(Role.SALES_LEAD).get(reverse(OWNERS))
    urls = [item["url"] for item in response.context["nav_items"]]
    assert reverse(OWNERS) in urls
    assert reverse(REGIONS) in urls
    current = [item["label"] for item in response.context["nav_items"] if item["current"]]
    assert current == ["Owners"]
