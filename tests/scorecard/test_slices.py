"""Slicing every number by region, team, owner, segment, industry, product and channel: the
values of a slice, the breakdowns that add up to the company's number, a slice's own targets,
and the pages and their links."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from pipeline import dimensions
from pipeline.choices import ArrChangeKind, DealSource, DealStage, DealType
from pipeline.dimensions import BY_KEY, Slice, breakdown_slices, filter_for, slice_from_query
from pipeline.metrics import LOGOS_LOST, SPECS, TOTAL
from pipeline.models import Owner, Region, RegionCountry, Team
from revops.permissions import Role
from scorecard.compute import metric_values_compute, reads_object
from scorecard.models import Metric
from scorecard.selectors import definition_current_map
from scorecard.services.catalog import target_set
from scorecard.targets import TargetBook
from tests.factories import AccountFactory, ArrChangeFactory, DealFactory, LeadFactory
from tests.scorecard.conftest import W10, utc

pytestmark = pytest.mark.django_db

WON, LOST = DealStage.CLOSED_WON, DealStage.CLOSED_LOST
IN_W10 = date(2026, 3, 4)


@pytest.fixture
def company():
    """Two regions, two teams (and an owner in none), accounts in four countries (one in no
    region, one with none), and leads, deals and ARR changes spread over them."""
    emea = Region.objects.create(name="EMEA")
    americas = Region.objects.create(name="Americas")
    RegionCountry.objects.create(region=emea, country="Germany")
    RegionCountry.objects.create(region=emea, country="France")
    RegionCountry.objects.create(region=americas, country="United States")
    enterprise = Team.objects.create(name="Enterprise", manager="Ann Manager")
    smb = Team.objects.create(name="SMB", manager="Cy Manager")
    Owner.objects.create(key="alice", name="Alice", team=enterprise, office="Berlin")
    Owner.objects.create(key="bob", team=enterprise, office="Paris")
    Owner.objects.create(key="carol", team=smb, office="Austin")
    Owner.objects.create(key="dave")  # in no team

    # Country spelled as exports do: case and spaces vary, one country is in no region.
    de = AccountFactory(country="germany ", segment="Enterprise", industry="Retail", owner="alice")
    fr = AccountFactory(country="France", segment="Mid-market", industry="Banking", owner="bob")
    us = AccountFactory(country="United States", segment="SMB", industry="Retail", owner="carol")
    jp = AccountFactory(country="Japan", segment="Enterprise", industry="", owner="dave")
    blank = AccountFactory(country="", segment="", owner="")
    accounts = [de, fr, us, jp, blank]

    deals = [
        # (account, owner, product, stage, amount, source)
        (de, "alice", "Platform", WON, "50000", DealSource.MARKETING),
        (de, "bob", "Add-on", WON, "7000", DealSource.SALES),
        (fr, "bob", "Platform", LOST, "30000", DealSource.MARKETING),
        (us, "carol", "Services", WON, "12000", DealSource.MARKETING),
        (us, "carol", "", WON, "3000", DealSource.SALES),
        (jp, "dave", "Platform", WON, "40000", DealSource.MARKETING),
        (None, "", "Add-on", WON, "1000", DealSource.MARKETING),
        (blank, "erin", "Services", LOST, "9000", DealSource.SALES),  # erin: no owner row
    ]
    for account, owner, product, stage, amount, source in deals:
        DealFactory(
            account=account, owner=owner, product=product, stage=stage,
            amount=Decimal(amount), source=source, deal_type=DealType.NEW,
            created_at=utc(2026, 3, 2, 9), close_date=IN_W10,
        )  # fmt: skip
    leads = [
        # (account, owner, country, channel)
        (de, "alice", "Germany", "Webinar"),
        (de, "alice", "GERMANY", "Paid search"),
        (fr, "bob", "France", "Webinar"),
        (us, "carol", "United States", "Events"),
        (jp, "dave", "Japan", "Webinar"),
        (None, "", "", ""),
        (None, "zed", "Brazil", "Referral"),
    ]
    for account, owner, country, channel in leads:
        LeadFactory(
            account=account, owner=owner, country=country, source=channel,
            created_at=utc(2026, 3, 3, 10), mql_at=utc(2026, 3, 4, 10),
            sql_at=utc(2026, 3, 5, 10), first_touch_at=utc(2026, 3, 4, 12),
        )  # fmt: skip
    arr = ("100000", "50000", "20000", "40000", "5000")
    for account, amount in zip(accounts, arr, strict=True):
        ArrChangeFactory(account=account, amount=Decimal(amount), effective_date=date(2025, 1, 6))
    ArrChangeFactory(
        account=us, kind=ArrChangeKind.CHURN, amount=Decimal("20000"), effective_date=IN_W10
    )
    ArrChangeFactory(
        account=jp, kind=ArrChangeKind.EXPANSION, amount=Decimal("10000"), effective_date=IN_W10
    )
    return accounts


def values(slice: Slice, *keys: str, week=W10) -> dict[str, Decimal | None]:
    current = definition_current_map()
    by_key = {d.metric.key: d for d in current.values()}
    wanted = keys or tuple(by_key)
    result = metric_values_compute(
        weeks=[week],
        definitions=[by_key[k] for k in wanted],
        catalog=current,
        targets=TargetBook.load(slice.target_key),
        slice=slice,
    )
    return {k: result[by_key[k].metric_id][week].value for k in wanted}


def one(key: str, value: str) -> Slice:
    return slice_from_query({key: value})


def test_a_region_counts_the_records_of_its_countries_however_an_export_spells_them(company):
    emea = values(one("region", "EMEA"), "new_bookings", "deals_won", "leads_created", "arr")
    # Deals take their account's country: the German account's two won deals (50k + 7k).
    assert emea["new_bookings"] == Decimal("57000")
    assert emea["deals_won"] == 2
    # Leads carry their own country: Germany twice (two spellings) and France.
    assert emea["leads_created"] == 3
    # ARR of the German and French accounts.
    assert emea["arr"] == Decimal("150000")
    americas = values(one("region", "americas"), "new_bookings", "arr", "logo_churn")
    assert americas["new_bookings"] == Decimal("15000")
    assert americas["arr"] == Decimal("0")  # the US account churned in the week
    assert americas["logo_churn"] == 1


def test_a_team_counts_its_owners_records_and_a_manager_their_teams(company):
    enterprise = values(one("team", "Enterprise"), "new_bookings", "win_rate", "leads_created")
    assert enterprise["new_bookings"] == Decimal("57000")  # alice 50k, bob 7k (bob's 30k lost)
    assert enterprise["leads_created"] == 3
    assert values(one("manager", "Cy Manager"), "new_bookings")["new_bookings"] == Decimal("15000")
    assert values(one("office", "Berlin"), "deals_won")["deals_won"] == 1
    assert values(one("owner", "dave"), "new_bookings")["new_bookings"] == Decimal("40000")


def test_slices_combine_and_each_dimension_reads_the_field_it_is_declared_on(company):
    both = values(slice_from_query({"region": "EMEA", "team": "Enterprise"}), "new_bookings")
    assert both["new_bookings"] == Decimal("57000")
    assert values(one("product", "Platform"), "new_bookings")["new_bookings"] == Decimal("90000")
    assert values(one("segment", "Enterprise"), "new_bookings")["new_bookings"] == Decimal("97000")
    assert values(one("industry", "Retail"), "deals_won")["deals_won"] == 4
    assert values(one("channel", "Webinar"), "mqls")["mqls"] == 3
    assert values(one("country", "japan"), "leads_created")["leads_created"] == 1


def test_a_metric_the_dimension_does_not_apply_to_has_no_value_and_says_why(company):
    current = definition_current_map()
    mqls = next(d for d in current.values() if d.metric.key == "mqls")
    cell = metric_values_compute(
        weeks=[W10], definitions=[mqls], catalog=current, slice=one("product", "Platform")
    )[mqls.metric_id][W10]
    assert cell.value is None
    assert cell.note == "Not sliced by product"


def test_a_value_no_one_defined_is_refused_with_the_reason():
    with pytest.raises(dimensions.UnknownValue, match="no team called “Nobody”"):
        one("team", "Nobody")
    with pytest.raises(dimensions.UnknownValue, match="no region"):
        one("region", "Atlantis")
    # A parameter that names no dimension is not a slice.
    assert not slice_from_query({"weeks": "13", "region": " "})


ADDITIVE = [s for s in SPECS if s.shape in (TOTAL, LOGOS_LOST)]


@pytest.mark.parametrize("spec", ADDITIVE, ids=lambda s: s.key)
def test_the_slices_of_every_dimension_add_up_to_the_company_for_every_additive_metric(
    company, spec
):
    company_value = values(Slice(), spec.key)[spec.key]
    assert company_value, f"the fixture gives {spec.key} a value to split"
    applicable = [d for d in dimensions.DIMENSIONS if d.applies_to(reads_object(spec))]
    assert applicable
    for dimension in applicable:
        # top=2: the long tail becomes "Other", so the sum covers the Other and Not set rows.
        rows = breakdown_slices(dimension, top=2)
        parts = [values(row, spec.key)[spec.key] for row in rows]
        assert sum(parts) == company_value, (dimension.key, parts)
        assert rows[-1].filters[-1].label == dimension.not_set


def test_a_breakdown_lists_the_biggest_values_then_other_then_not_set(company):
    rows = breakdown_slices(BY_KEY["owner"], top=3)
    labels = [r.filters[-1].label for r in rows]
    # Owners by the live records naming them (leads, deals and accounts).
    assert labels[:3] == ["alice", "bob", "carol"]
    assert labels[3:] == ["Other", "No owner"]


def test_a_teams_quota_judges_its_slice_and_leaves_the_company_target_alone(company):
    bookings = Metric.objects.get(key="new_bookings")
    target_set(metric=bookings, by=None, starts_on=date(2026, 1, 5), value=Decimal("100000"))
    target_set(
        metric=bookings, by=None, starts_on=date(2026, 1, 5), value=Decimal("60000"),
        dimension="team", dimension_value="Enterprise",
    )  # fmt: skip
    assert TargetBook.load().for_week(bookings.id, W10, additive=True) == Decimal("100000")
    enterprise = TargetBook.load(one("team", "Enterprise").target_key)
    assert enterprise.for_week(bookings.id, W10, additive=True) == Decimal("60000")
    # No quota for SMB: its slice has no target, not the company's.
    assert (
        TargetBook.load(one("team", "SMB").target_key).for_week(bookings.id, W10, additive=True)
        is None
    )


def test_a_quota_for_a_dimension_the_metric_is_not_sliced_by_is_refused(company):
    from django.core.exceptions import ValidationError

    mqls = Metric.objects.get(key="mqls")
    with pytest.raises(ValidationError, match="not sliced by product"):
        target_set(
            metric=mqls, by=None, starts_on=date(2026, 1, 5), value=Decimal(5),
            dimension="product", dimension_value="Platform",
        )  # fmt: skip
    with pytest.raises(ValidationError, match="not a dimension"):
        target_set(
            metric=mqls, by=None, starts_on=date(2026, 1, 5), value=Decimal(5),
            dimension="planet", dimension_value="Mars",
        )  # fmt: skip


# --- Pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.SALES_LEAD, Role.MARKETING_LEAD, Role.OPS])
def test_the_scorecard_narrowed_to_a_slice_says_so_and_links_back(client_as, company, role):
    client = client_as(role)
    url = reverse("scorecard:week", args=[W10])
    page = client.get(url, {"region": "EMEA", "team": "Enterprise"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Narrowed to Region: EMEA · Team: Enterprise" in html
    assert f'href="{url}" data-testid="company-view"' in html
    # The rows link to the slice's trend and records.
    assert f"{url}new_bookings/?region=EMEA&amp;team=Enterprise" in html
    assert f"{url}new_bookings/records/?region=EMEA&amp;team=Enterprise" in html
    assert "$57,000" in html or "$57K" in html or "57,000" in html
    # No publish form on a slice: publishing freezes the company's numbers.
    assert "Publish now" not in html


def test_a_slice_no_one_defined_is_a_404_with_the_reason(client_as, company):
    page = client_as(Role.EXECUTIVE).get(reverse("scorecard:week", args=[W10]), {"team": "Nobody"})
    assert page.status_code == 404


def test_the_records_behind_a_slices_number_are_the_slices(client_as, company):
    client = client_as(Role.SALES_LEAD)
    url = reverse("scorecard:metric-records", args=[W10, "deals_won"])
    everyone = client.get(url)
    emea = client.get(url, {"region": "EMEA"})
    assert everyone.status_code == emea.status_code == 200
    assert len(everyone.context["rows"]) == 6
    assert len(emea.context["rows"]) == 2
    assert "Narrowed to Region: EMEA" in emea.content.decode()
    csv = client.get(url, {"region": "EMEA", "format": "csv"})
    assert csv.status_code == 200
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert len(text.strip().splitlines()) == 3  # the header and the two German deals


def test_a_metric_page_breaks_its_number_down_and_the_rows_add_up(client_as, company):
    client = client_as(Role.EXECUTIVE)
    url = reverse("scorecard:metric-week", args=[W10, "new_bookings"])
    page = client.get(url, {"by": "team"})
    assert page.status_code == 200
    rows = page.context["breakdown"]["rows"]
    assert [r["label"] for r in rows] == ["Enterprise", "SMB", "No team"]
    assert [r["raw"] for r in rows] == [Decimal("57000"), Decimal("15000"), Decimal("41000")]
    assert page.context["breakdown"]["total"] == page.context["value_display"]
    # Sortable: by name, descending.
    by_name = client.get(url, {"by": "team", "sort": "-label"})
    assert [r["label"] for r in by_name.context["breakdown"]["rows"]] == [
        "SMB", "Enterprise", "No team"
    ]  # fmt: skip
    # A dimension the metric is not sliced by offers no breakdown; a bad sort falls back.
    mqls = client.get(reverse("scorecard:metric-week", args=[W10, "mqls"]), {"by": "product"})
    assert mqls.status_code == 200
    assert mqls.context["breakdown"] is None
    assert client.get(url, {"by": "team", "sort": "nonsense"}).status_code == 200


def test_a_team_row_shows_its_quota_and_status(client_as, company):
    bookings = Metric.objects.get(key="new_bookings")
    target_set(
        metric=bookings, by=None, starts_on=date(2026, 1, 5), value=Decimal("60000"),
        dimension="team", dimension_value="Enterprise",
    )  # fmt: skip
    page = client_as(Role.EXECUTIVE).get(
        reverse("scorecard:metric-week", args=[W10, "new_bookings"]), {"by": "team"}
    )
    enterprise = page.context["breakdown"]["rows"][0]
    assert enterprise["label"] == "Enterprise"
    assert enterprise["target"] != "—"
    assert enterprise["rag"] == "amber"  # 57,000 of a 60,000 quota
    assert page.context["breakdown"]["rows"][1]["rag_label"] == "No target"


def test_filter_for_keeps_a_base_value_as_typed_and_groups_resolve_to_their_members(company):
    assert filter_for(BY_KEY["country"], " germany ").keys == ("GERMANY",)
    team = filter_for(BY_KEY["team"], "enterprise")
    assert team.label == "Enterprise"
    assert sorted(team.keys) == ["alice", "bob"]


GROUPED = [s for s in SPECS if s.shape in (TOTAL, "ratio")]


@pytest.mark.parametrize("spec", GROUPED, ids=lambda s: s.key)
def test_a_breakdown_from_one_grouped_query_gives_each_row_its_slices_own_value(company, spec):
    from scorecard.selectors import metric_breakdown

    metric = Metric.objects.get(key=spec.key)
    for dimension in dimensions.dimensions_for(reads_object(spec)):
        rows = metric_breakdown(metric, W10, dimension, weeks=2, top=2)
        for row in rows:
            alone = values(row.slice, spec.key)[spec.key]
            assert row.cell.value == alone, (dimension.key, row.label)


@pytest.mark.parametrize("junk", ["\x00", "x" * 101, "Nobody"])
def test_a_hostile_slice_in_the_address_is_refused_on_every_page_and_the_api(client_as, junk):
    client = client_as(Role.EXECUTIVE)
    for name, args in (
        ("scorecard:week", [W10]),
        ("scorecard:metric-week", [W10, "new_bookings"]),
        ("scorecard:metric-records", [W10, "new_bookings"]),
        ("api:scorecard-week", [W10.label]),
    ):
        for key in ("team", "channel"):
            if key == "channel" and junk == "Nobody":
                continue  # a channel no record has is a slice of no records, not an error
            answer = client.get(reverse(name, args=args), {key: junk})
            # A NUL byte is refused before any view (400); any other junk names nothing (404).
            assert answer.status_code == (400 if junk == "\x00" else 404), (name, key)


def test_a_country_row_reads_as_most_records_spell_it(company):
    LeadFactory(country="Germany", created_at=utc(2026, 3, 3, 11))  # now two of four say so
    rows = breakdown_slices(BY_KEY["country"], top=10)
    labels = [r.filters[-1].label for r in rows]
    # "germany ", "Germany" and "GERMANY" are one country, shown as most records write it.
    assert "Germany" in labels
    assert "GERMANY" not in labels


# --- Frozen with the published week -------------------------------------------------------


@pytest.fixture
def frozen_dimensions(settings):
    settings.SCORECARD_FROZEN_DIMENSIONS = ["region", "team", "product"]


def test_publishing_freezes_the_breakdowns_so_a_published_slice_does_not_move(
    client_as, company, frozen_dimensions
):
    from scorecard.models import SnapshotSlice
    from scorecard.services.snapshots import snapshot_publish

    snapshot = snapshot_publish(week=W10, by=None, send_digest=False)
    frozen = SnapshotSlice.objects.filter(snapshot=snapshot)
    assert set(frozen.values_list("dimension", flat=True)) == {"region", "team", "product"}
    assert list(frozen.filter(dimension="team").values_list("label", flat=True)) == [
        "Enterprise", "SMB", "No team"
    ]  # fmt: skip
    # After publication: a late German deal, and Bob moves to SMB.
    de = company[0]
    DealFactory(
        account=de, owner="bob", stage=WON, amount=Decimal("5000"), deal_type=DealType.NEW,
        created_at=utc(2026, 3, 2, 9), close_date=IN_W10,
    )  # fmt: skip
    Owner.objects.filter(key="bob").update(team=Team.objects.get(name="SMB"))

    client = client_as(Role.EXECUTIVE)
    url = reverse("scorecard:metric-week", args=[W10, "new_bookings"])
    emea = client.get(url, {"region": "EMEA"})
    assert emea.context["cell"].value == Decimal("57000")  # as frozen
    assert not emea.context["cell"].live
    assert "as the published week froze them" in emea.content.decode()
    by_team = client.get(url, {"by": "team"}).context["breakdown"]
    assert by_team["frozen"]
    assert [(r["label"], r["raw"]) for r in by_team["rows"]] == [
        ("Enterprise", Decimal("57000")), ("SMB", Decimal("15000")), ("No team", Decimal("41000"))
    ]  # fmt: skip
    week = client.get(reverse("scorecard:week", args=[W10]), {"team": "Enterprise"})
    assert "as they were frozen when the week was published" in week.content.decode()
    # A product's slice is frozen too, though most metrics are not sliced by product.
    platform = client.get(reverse("scorecard:week", args=[W10]), {"product": "Platform"})
    assert "as they were frozen when the week was published" in platform.content.decode()
    assert "Not sliced by product" in platform.content.decode()
    api = client.get(reverse("api:scorecard-week", args=[W10.label]), {"region": "EMEA"}).json()
    assert api["slice"] == {"region": "EMEA"}
    assert api["status"] == "published"
    bookings = next(m for m in api["top_line"] if m["key"] == "new_bookings")
    assert Decimal(bookings["value"]) == Decimal("57000")
    assert bookings["links"]["records"].endswith("/records/?region=EMEA")
    values = reverse("api:scorecard-value-list")
    emea_values = client.get(values, {"region": "emea", "metric": "new_bookings"}).json()
    assert [(r["week"], Decimal(r["value"]), r["slice"]) for r in emea_values["results"]] == [
        (W10.label, Decimal("57000"), {"region": "EMEA"})
    ]
    sales = client.get(values, {"team": "SMB", "section": "sales"}).json()["results"]
    sales_keys = set(Metric.objects.filter(team="sales").values_list("key", flat=True))
    assert sales
    assert {r["metric"] for r in sales} <= sales_keys
    assert all(r["slice"] == {"team": "SMB"} for r in sales)
    assert client.get(values, {"section": "sales"}).json()["results"][0].get("slice") is None
    two = client.get(values, {"region": "EMEA", "team": "SMB"})
    assert two.status_code == 400
    assert "one value of one dimension at a time" in two.json()["slice"][0]
    assert client.get(values, {"team": "Nobody's"}).status_code == 404
    # Two dimensions at once are not frozen: computed live, and they say so.
    both = client.get(url, {"region": "EMEA", "team": "Enterprise"})
    assert both.context["cell"].live
    assert both.context["cell"].value == Decimal("50000")  # Bob is SMB's now

    # A republish, for a stated reason, freezes the slices again.
    snapshot_publish(week=W10, by=None, republish=True, reason="Late deal", send_digest=False)
    assert client.get(url, {"region": "EMEA"}).context["cell"].value == Decimal("62000")
    rows = client.get(url, {"by": "team"}).context["breakdown"]["rows"]
    assert [(r["label"], r["raw"]) for r in rows] == [
        ("Enterprise", Decimal("50000")), ("SMB", Decimal("27000")), ("No team", Decimal("41000"))
    ]  # fmt: skip


# --- The digest -----------------------------------------------------------------------------


def test_the_digest_names_the_slices_red_against_their_quota_and_an_executive_can_narrow_it(
    company, frozen_dimensions, make_user, client
):
    from django.core import mail

    from follows.models import NotificationSettings
    from scorecard.services.digest import digest_send
    from scorecard.services.snapshots import snapshot_publish

    bookings = Metric.objects.get(key="new_bookings")
    for team, quota in (("Enterprise", "80000"), ("SMB", "10000")):
        target_set(
            metric=bookings, by=None, starts_on=date(2026, 1, 5), value=Decimal(quota),
            dimension="team", dimension_value=team,
        )  # fmt: skip
    target_set(
        metric=bookings, by=None, starts_on=date(2026, 1, 5), value=Decimal("100000"),
        dimension="region", dimension_value="EMEA",
    )  # fmt: skip
    make_user(Role.EXECUTIVE, username="ceo", email="ceo@northwind.example")
    vp = make_user(Role.EXECUTIVE, username="vp", email="vp@northwind.example")
    lead = make_user(Role.SALES_LEAD, username="lead", email="lead@northwind.example")

    # The VP narrows their digest to EMEA on their settings page; a team no one defined is
    # refused with the reason and changes nothing.
    client.force_login(vp)
    page = reverse("follows:settings")
    assert 'name="scope_region"' in client.get(page).content.decode()
    refused = client.post(page, {"email": "on", "scope_team": "Nobody's"})
    assert refused.status_code == 400
    assert "Nobody" in refused.content.decode()
    assert NotificationSettings.objects.filter(user=vp, digest_scope__gt="").count() == 0
    assert client.post(page, {"email": "on", "scope_region": "emea"}).status_code == 302
    assert NotificationSettings.objects.get(user=vp).digest_scope == "region=EMEA"
    client.force_login(lead)
    assert 'name="scope_region"' not in client.get(page).content.decode()

    snapshot_publish(week=W10, by=None, send_digest=False)
    assert digest_send(week=W10) == 2
    sent = {m.to[0]: m for m in mail.outbox if "Scorecard 2026-W10" in m.subject}
    ceo, emea = sent["ceo@northwind.example"].body, sent["vp@northwind.example"]
    # The company's digest: Enterprise's 57,000 misses its 80,000 quota and EMEA its 100,000;
    # SMB beats its own.
    assert (
        "RED BY REGION, TEAM, SEGMENT… (AGAINST THEIR OWN QUOTAS)\n"
        "Region: EMEA\n- New bookings: $57,000 against $100k\n"
        "  http://127.0.0.1:8000/scorecard/2026-W10/new_bookings/?region=EMEA\n"
        "Team: Enterprise\n- New bookings: $57,000 against $80.0k\n"
        "  http://127.0.0.1:8000/scorecard/2026-W10/new_bookings/?team=Enterprise\n"
    ) in ceo
    assert "Team: SMB" not in ceo
    assert "- New bookings: $113,000 (target —" in ceo  # the company has no target
    # The VP's: EMEA's numbers against EMEA's quota, with EMEA's links.
    assert emea.subject == "Scorecard 2026-W10 · Region: EMEA: 1 turned red, 1 red in all"
    assert "Narrowed to Region: EMEA" in emea.body
    assert "- New bookings: $57,000 against a target of $100k" in emea.body
    assert "/scorecard/2026-W10/new_bookings/?region=EMEA" in emea.body
    assert "The whole scorecard: http://127.0.0.1:8000/scorecard/2026-W10/?region=EMEA" in emea.body
    assert "RED BY REGION" not in emea.body
    assert "Region: EMEA" in emea.alternatives[0].content
