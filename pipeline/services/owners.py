"""Owners, teams and regions: what ops tell the app about the people and places behind the
records (pipeline/models/dimensions.py), so every number can be sliced by team, manager,
office and region. The one write path for those tables: the Owners and Regions pages and
anything else that changes them call these.

Owners arrive as a CSV, as a CRM's user export has them (one row an owner: key, name, team,
manager, office), applied whole or not at all. Regions are edited one at a time: a name and
the countries it stands for. A country is in one region at most, so the regions' numbers add
up to the company's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from pipeline.dimensions import BY_KEY, OTHER
from pipeline.models import Owner, Region, RegionCountry, Team
from revops.csv import CsvRejected, CsvRowError, CsvUnreadable, csv_table_read
from revops.db import advisory_lock_id

OWNERS_FILE_MAX_BYTES = 5_000_000  # as the exchange-rates file: a directory, not records
OWNERS_ROWS_MAX = 50_000
TEXT_MAX = 100  # every name, key and office, as the models store them
ERRORS_SHOWN = 1000

# The header names a CRM export uses for each field, compared without case (spaces and dashes
# read as underscores: "Owner ID" is owner_id).
OWNER_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("owner", "owner_id", "agent", "sales_agent", "user", "key"),
    "name": ("name", "owner_name", "full_name"),
    "team": ("team",),
    "manager": ("manager",),
    "office": ("office", "regional_office", "region_office"),
}
_LABELS = {
    "key": "the owner key",
    "name": "the name",
    "team": "the team",
    "manager": "the manager",
    "office": "the office",
}


def _lock() -> None:
    """One writer of owners, teams and regions at a time: two uploads at once would both
    create the same team, and the second would fail on its unique name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_id("dimensions")])


def _reserved(dimension: str, value: str) -> str | None:
    """Why `value` cannot name a group of `dimension` (a breakdown's own rows are called
    "Other" and "No team"), or None."""
    taken = {OTHER.casefold(), BY_KEY[dimension].not_set.casefold()}
    if value.casefold() in taken:
        return f"“{value}” is what a breakdown calls its own row; pick another name."
    return None


def team_name_for_manager(manager: str) -> str:
    """The team an owners file implies when it names a manager but no team."""
    return f"{manager}'s team"


# --- Owners ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerRow:
    row: int
    key: str
    name: str | None  # None: the file has no name column, so a stored name is kept
    team: str | None  # None: neither a team nor a manager column; "": in no team
    office: str | None


@dataclass
class OwnersFile:
    owners: list[OwnerRow] = field(default_factory=list)
    # Each team the file names (by its name without case): its name as first written, and
    # the manager the file gives it ("" when no row does).
    teams: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class OwnersImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    teams_created: int = 0
    teams_updated: int = 0


def owners_parse(data: bytes) -> tuple[OwnersFile, list[CsvRowError]]:
    """The owners of a CSV file and every problem in it, by row and column. Pure: reads no
    table. A row is refused for a blank key, a value over 100 characters, a key given again
    with another team (or name or office), a team given another manager than on an earlier
    row, or a team, manager or office named like a breakdown's own rows."""
    try:
        table = csv_table_read(data, max_bytes=OWNERS_FILE_MAX_BYTES, max_rows=OWNERS_ROWS_MAX)
    except CsvUnreadable as exc:
        return OwnersFile(), [CsvRowError(exc.row, "", exc.message)]
    at, clashes = table.columns(OWNER_COLUMNS)
    errors = [CsvRowError(1, "", message) for message in clashes]
    if "key" not in at:
        errors.append(
            CsvRowError(
                1,
                "",
                "No column names the owner: call it owner, owner_id, user, agent, sales_agent "
                f"or key. The header has {', '.join(table.header)[:300]}.",
            )
        )
    if errors:
        return OwnersFile(), errors
    errors.extend(CsvRowError(row, "", message) for row, message in table.bad_rows)
    column = {f: table.header[i] for f, i in at.items()}
    parsed = OwnersFile()
    first: dict[str, OwnerRow] = {}
    manager_row: dict[str, int] = {}
    for row, cells in table.rows:
        values = {f: cells[i].strip() for f, i in at.items()}
        problems = [
            CsvRowError(row, column[f], f"is {len(v)} characters long; at most {TEXT_MAX}.")
            for f, v in values.items()
            if len(v) > TEXT_MAX
        ]
        key, manager = values["key"], values.get("manager", "")
        if not key:
            problems.append(CsvRowError(row, column["key"], "The owner key is blank."))
        team = values.get("team", "") or (team_name_for_manager(manager) if manager else "")
        if not values.get("team") and manager and len(team) > TEXT_MAX:
            problems.append(
                CsvRowError(
                    row,
                    column["manager"],
                    f"The team named after this manager would be over {TEXT_MAX} characters.",
                )
            )
        for f in ("team", "manager", "office"):
            value = team if f == "team" else values.get(f, "")
            why = _reserved(f, value) if value else None
            if why:
                problems.append(CsvRowError(row, column.get(f) or column["manager"], why))
        if problems:
            errors.extend(problems)
            continue
        has_team = "team" in at or "manager" in at
        owner = OwnerRow(
            row,
            key,
            values.get("name") if "name" in at else None,
            team if has_team else None,
            values.get("office") if "office" in at else None,
        )
        fold = team.casefold()
        if team and manager:
            known = parsed.teams.get(fold, ("", ""))[1]
            if known and known != manager:
                errors.append(
                    CsvRowError(
                        row,
                        column["manager"],
                        f"{team} has the manager {known} on row {manager_row[fold]}: "
                        "a team has one manager.",
                    )
                )
                continue
        earlier = first.get(key)
        if earlier is not None:
            if (earlier.team or "").casefold() != fold:
                errors.append(
                    CsvRowError(
                        row,
                        column.get("team") or column["manager"],
                        f"{key} is in {earlier.team or 'no team'} on row {earlier.row}: "
                        "an owner is in one team.",
                    )
                )
            for f in ("name", "office"):
                if f in at and getattr(earlier, f) != getattr(owner, f):
                    errors.append(
                        CsvRowError(
                            row,
                            column[f],
                            f"{key} has {_LABELS[f]} “{getattr(earlier, f)}” on row "
                            f"{earlier.row}: give each owner once.",
                        )
                    )
            continue  # given already: any difference is reported above
        first[key] = owner
        parsed.owners.append(owner)
        if team:
            name, known = parsed.teams.get(fold, (team, ""))
            if manager and not known:
                manager_row[fold] = row
            parsed.teams[fold] = (name, known or manager)
    if not parsed.owners and not errors:
        errors.append(CsvRowError(None, "", "The file has a header but no owners."))
    return parsed, errors


@transaction.atomic
def owners_import(*, data: bytes, by: AbstractBaseUser | None) -> OwnersImportResult:
    """Import an owners CSV whole or not at all: any problem (see `owners_parse`) imports
    nothing and raises CsvRejected listing each by row and column. A good file upserts owners
    by key and teams by name (matched without case, so `enterprise` is the Enterprise team
    already there), setting a team's manager where the file gives one. A column the file
    lacks changes nothing stored; owners the file leaves out are left as they are. `by` is
    who asked (the audit log's request context records it)."""
    parsed, errors = owners_parse(data)
    if errors:
        raise CsvRejected(errors[:ERRORS_SHOWN])
    _lock()
    now = timezone.now()
    result = OwnersImportResult()
    teams = {t.name.casefold(): t for t in Team.objects.select_for_update()}
    new_teams, changed_teams = [], []
    for fold, (name, manager) in parsed.teams.items():
        team = teams.get(fold)
        if team is None:
            teams[fold] = Team(name=name, manager=manager)
            new_teams.append(teams[fold])
        elif manager and team.manager != manager:
            team.manager, team.updated_at = manager, now
            changed_teams.append(team)
    Team.objects.bulk_create(new_teams, batch_size=1000)
    Team.objects.bulk_update(changed_teams, ["manager", "updated_at"], batch_size=1000)
    result.teams_created, result.teams_updated = len(new_teams), len(changed_teams)

    stored = {
        o.key: o
        for o in Owner.objects.select_for_update().filter(key__in=[o.key for o in parsed.owners])
    }
    new_owners, changed_owners = [], []
    for row in parsed.owners:
        team_id = teams[row.team.casefold()].pk if row.team else None
        owner = stored.get(row.key)
        if owner is None:
            new_owners.append(
                Owner(key=row.key, name=row.name or "", team_id=team_id, office=row.office or "")
            )
            continue
        wanted = {
            "name": owner.name if row.name is None else row.name,
            "team_id": owner.team_id if row.team is None else team_id,
            "office": owner.office if row.office is None else row.office,
        }
        if all(getattr(owner, f) == v for f, v in wanted.items()):
            result.unchanged += 1
            continue
        for f, v in wanted.items():
            setattr(owner, f, v)
        owner.updated_at = now
        changed_owners.append(owner)
    Owner.objects.bulk_create(new_owners, batch_size=1000)
    Owner.objects.bulk_update(
        changed_owners, ["name", "team_id", "office", "updated_at"], batch_size=1000
    )
    result.created, result.updated = len(new_owners), len(changed_owners)
    return result


# --- Regions --------------------------------------------------------------------------------


def region_countries_clean(countries: Iterable[str]) -> list[str]:
    """The countries as a region stores them: trimmed, blanks dropped, the same country given
    twice (without case: `germany`, `Germany`) kept once, as first written. Raises
    ValidationError for one over 100 characters."""
    out: dict[str, str] = {}
    for raw in countries:
        country = (raw or "").strip()
        if not country:
            continue
        if len(country) > TEXT_MAX:
            raise ValidationError(
                f"“{country[:40]}…” is over {TEXT_MAX} characters: is it more than one country? "
                "Give one country per line."
            )
        out.setdefault(country.upper(), country)
    return list(out.values())


@transaction.atomic
def region_save(
    *,
    name: str,
    countries: Iterable[str],
    region: Region | None = None,
    by: AbstractBaseUser | None,
) -> Region:
    """Create a region (or rename `region`) and set its countries to `countries` (see
    `region_countries_clean`). Refuses a blank or too long name, the name of another region
    (without case), and a country already in another region, naming it and that region.
    Countries compare as the scorecard compares them: without case or surrounding spaces.
    `by` is who asked (the audit log's request context records it)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the region a name, e.g. EMEA.")
    if len(name) > TEXT_MAX:
        raise ValidationError(f"A region's name is at most {TEXT_MAX} characters.")
    why = _reserved("region", name)
    if why:
        raise ValidationError(why)
    wanted = region_countries_clean(countries)
    _lock()
    others = Region.objects.exclude(pk=region.pk) if region else Region.objects.all()
    same_name = next((r for r in others if r.name.casefold() == name.casefold()), None)
    if same_name is not None:
        raise ValidationError(f"There is already a region called {same_name.name}.")
    with connection.cursor() as cursor:
        # Compared in SQL, as the unique index compares them (upper() as PostgreSQL has it).
        cursor.execute(
            "SELECT c.country, r.name FROM pipeline_regioncountry c "
            "JOIN pipeline_region r ON r.id = c.region_id "
            "WHERE upper(c.country) = ANY(ARRAY(SELECT upper(x) FROM unnest(%s::text[]) x)) "
            "AND c.region_id IS DISTINCT FROM %s ORDER BY c.country",
            [wanted, region.pk if region else None],
        )
        taken = cursor.fetchall()
    if taken:
        raise ValidationError(
            "; ".join(f"{country} is already in {other}" for country, other in taken)
            + ". A country is in one region at most: take it out of there first."
        )
    now = timezone.now()
    if region is None:
        region = Region.objects.create(name=name)
    elif region.name != name:
        region.name, region.updated_at = name, now
        region.save(update_fields=["name", "updated_at"])
    current = {c.country.upper(): c for c in region.countries.all()}
    keep = {c.upper() for c in wanted}
    gone = [c.pk for u, c in current.items() if u not in keep]
    respelled = []
    for country in wanted:
        held = current.get(country.upper())
        if held is not None and held.country != country:
            held.country = country
            respelled.append(held)
    added = [RegionCountry(region=region, country=c) for c in wanted if c.upper() not in current]
    try:
        with transaction.atomic():
            RegionCountry.objects.filter(pk__in=gone).delete()
            RegionCountry.objects.bulk_update(respelled, ["country"])
            RegionCountry.objects.bulk_create(added)
    except IntegrityError:
        # Two spellings PostgreSQL's upper() makes one, though Python's did not.
        raise ValidationError(
            "Two of those countries are the same country; give it once."
        ) from None
    if gone or respelled or added:
        Region.objects.filter(pk=region.pk).update(updated_at=now)
    return region


@transaction.atomic
def region_delete(*, region: Region, by: AbstractBaseUser | None) -> None:
    """Remove a region and its countries: their records count as in no region from now on.
    `by` is who asked (the audit log's request context records it)."""
    _lock()
    Region.objects.filter(pk=region.pk).delete()
