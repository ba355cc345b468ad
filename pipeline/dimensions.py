"""The dimensions every number can be sliced by, declared once: which field of which record holds
a dimension's value, and how ops' tables (pipeline/models/dimensions.py) group those values.

A dimension reads a *base* field: the owner, the country, the channel (a lead's source), the
segment, the industry or the product. An object type either carries the field itself (a deal's
owner) or takes it from its account (a deal's segment is its account's). Four dimensions group
a base field's values instead of showing them: team, manager and office group owners (an owner
belongs to one team, a team has one manager), region groups countries (a country is in one
region at most). A value the grouping does not know (an owner in no team, a country in no
region) or a blank field is "not set".

A slice is one or more (dimension, value) filters. Every filter resolves to the set of base
values it stands for, so in SQL it is always `<base> = ANY(values)` (or its negation, for the
"other" and "not set" rows of a breakdown); the rows of a breakdown therefore partition the
records, and for a count or an amount they add up to the company's number exactly.

Metrics declare nothing: a metric is sliceable by every dimension that applies to the object
type it reads (scorecard/compute.py `reads_object`), so a new metric over deals is sliceable by
product the day it is declared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from pipeline.choices import ObjectType

LEAD, ACCOUNT, DEAL, ARR = ObjectType.LEAD, ObjectType.ACCOUNT, ObjectType.DEAL, ObjectType.ARR

# How a base field's value is compared: without surrounding spaces, countries without case.
_KEYS = {"country": "upper(btrim({c}))"}
NOT_SET = "Not set"
OTHER = "Other"


@dataclass(frozen=True)
class Dimension:
    key: str  # the query parameter: ?region=EMEA
    label: str
    base: str  # the field holding the base value
    carried_by: frozenset[str]  # object types with the field themselves
    via_account: frozenset[str] = frozenset()  # object types that take it from their account
    group_by: str = ""  # team, manager, office (of owners) or region (of countries)
    not_set: str = NOT_SET

    @property
    def object_types(self) -> frozenset[str]:
        return self.carried_by | self.via_account

    def applies_to(self, object_type: str | None) -> bool:
        return object_type in self.object_types

    def key_sql(self, column: str) -> str:
        return _KEYS.get(self.base, "btrim({c})").format(c=f"coalesce({column}, '')")

    def base_key(self, value: str) -> str:
        value = (value or "").strip()
        return value.upper() if self.base == "country" else value


_PEOPLE = frozenset({LEAD, DEAL, ACCOUNT})
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("region", "Region", "country", frozenset({LEAD, ACCOUNT}), frozenset({DEAL, ARR}),
              group_by="region", not_set="No region"),
    Dimension("country", "Country", "country", frozenset({LEAD, ACCOUNT}),
              frozenset({DEAL, ARR})),
    Dimension("team", "Team", "owner", _PEOPLE, frozenset({ARR}), group_by="team",
              not_set="No team"),
    Dimension("manager", "Manager", "owner", _PEOPLE, frozenset({ARR}), group_by="manager",
              not_set="No manager"),
    Dimension("office", "Office", "owner", _PEOPLE, frozenset({ARR}), group_by="office",
              not_set="No office"),
    Dimension("owner", "Owner", "owner", _PEOPLE, frozenset({ARR}), not_set="No owner"),
    Dimension("segment", "Segment", "segment", frozenset({ACCOUNT}),
              frozenset({LEAD, DEAL, ARR})),
    Dimension("industry", "Industry", "industry", frozenset({ACCOUNT}),
              frozenset({LEAD, DEAL, ARR})),
    Dimension("product", "Product", "product", frozenset({DEAL})),
    Dimension("channel", "Channel", "source", frozenset({LEAD})),
)  # fmt: skip
BY_KEY: dict[str, Dimension] = {d.key: d for d in DIMENSIONS}


def dimensions_for(object_type: str | None) -> list[Dimension]:
    """The dimensions a metric reading `object_type` can be sliced by, in display order."""
    return [d for d in DIMENSIONS if d.applies_to(object_type)]


# --- Grouping base values -------------------------------------------------------------------------


def groups_of(dimension: Dimension) -> dict[str, list[str]]:
    """Each value of a grouped dimension (a team, a region …) and the base values it stands for
    (owner keys, country keys), as ops' tables say now; {} for a dimension shown as stored."""
    sql = {
        "team": "SELECT t.name, o.key FROM pipeline_owner o JOIN pipeline_team t "
        "ON t.id = o.team_id",
        "manager": "SELECT t.manager, o.key FROM pipeline_owner o JOIN pipeline_team t "
        "ON t.id = o.team_id WHERE t.manager <> ''",
        "office": "SELECT o.office, o.key FROM pipeline_owner o WHERE o.office <> ''",
        "region": "SELECT r.name, upper(btrim(c.country)) FROM pipeline_regioncountry c "
        "JOIN pipeline_region r ON r.id = c.region_id",
    }.get(dimension.group_by)
    if sql is None:
        return {}
    out: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for group, base in cursor.fetchall():
            out.setdefault(group, []).append(base)
    return out


VALUES_CACHE_SECONDS = 300


def values_of(dimension: Dimension) -> list[str]:
    """The values a filter of `dimension` may take, as forms offer them: its groups (sorted),
    or the base values the live golden records hold (most frequent first). The records'
    values are counted at most every five minutes (a million leads take a few hundred ms)."""
    if dimension.group_by:
        return sorted(groups_of(dimension), key=str.casefold)
    from django.core.cache import cache

    key = f"dimension-values:{dimension.key}"
    found = cache.get(key)
    if found is None:
        found = [shown for value, _, shown in base_counts(dimension) if value]
        cache.set(key, found, VALUES_CACHE_SECONDS)
    return found


def base_counts(dimension: Dimension) -> list[tuple[str, int, str]]:
    """The base values the live golden records carrying the field hold, with how many records
    hold each and the spelling most of them use (a country compared without case shows as
    its records write it), most first (blank as "")."""
    from pipeline.metrics import GOLDEN_TABLES

    column = f"coalesce({dimension.base}, '')"
    parts = [
        f"SELECT {dimension.key_sql(dimension.base)} AS v, btrim({column}) AS shown "
        f"FROM {GOLDEN_TABLES[t]} WHERE deleted_at IS NULL"
        for t in sorted(dimension.carried_by)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v, count(*), mode() WITHIN GROUP (ORDER BY shown) "
            f"FROM ({' UNION ALL '.join(parts)}) x GROUP BY v ORDER BY 2 DESC, 1"
        )
        return list(cursor.fetchall())


# --- Slices ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """Records whose base value is one of `keys` (or none of them, when `negate`)."""

    dimension: Dimension
    label: str  # the value as people read it: "EMEA", "Other", "No team"
    keys: tuple[str, ...]
    negate: bool = False
    rest: bool = False  # a breakdown's "Other" or "Not set" row, which no query string names

    def sql(self, object_type: str, prefix: str, param: str) -> str | None:
        """SQL true for a record of `object_type` in the filter (its columns prefixed with
        `prefix`), naming the parameter `param`; None when the dimension does not apply."""
        d = self.dimension
        if object_type in d.carried_by:
            test = f"{d.key_sql(prefix + d.base)} = ANY(%({param})s)"
        elif object_type in d.via_account:
            inner = f"{d.key_sql('sa.' + d.base)} = ANY(%({param})s)"
            if self.negate:
                # No account, or an account outside the set: not set, or another value.
                return (
                    f"({prefix}account_id IS NULL OR NOT EXISTS (SELECT 1 FROM pipeline_account"
                    f" sa WHERE sa.id = {prefix}account_id AND {inner}))"
                )
            return (
                f"EXISTS (SELECT 1 FROM pipeline_account sa WHERE sa.id = {prefix}account_id "
                f"AND {inner})"
            )
        else:
            return None
        return f"NOT ({test})" if self.negate else test


@dataclass(frozen=True)
class Slice:
    """The records of one or more filters at once (region EMEA and team Enterprise)."""

    filters: tuple[Filter, ...] = ()
    unknown: tuple[str, ...] = field(default=(), compare=False)

    def __bool__(self) -> bool:
        return bool(self.filters)

    def applies_to(self, object_type: str | None) -> bool:
        return all(f.dimension.applies_to(object_type) for f in self.filters)

    def sql(self, object_type: str, prefix: str = "") -> tuple[str, dict]:
        """SQL true for a record of `object_type` in the slice, and its parameters ("TRUE"
        for no slice). Raises ValueError when a filter does not apply to the object type."""
        parts, params = [], {}
        for i, f in enumerate(self.filters):
            param = f"slice_{i}"
            sql = f.sql(object_type, prefix, param)
            if sql is None:
                raise ValueError(f"{f.dimension.label} does not apply to {object_type}")
            parts.append(sql)
            params[param] = list(f.keys)
        return (" AND ".join(parts) or "TRUE"), params

    def sql_params(self) -> dict:
        return {f"slice_{i}": list(f.keys) for i, f in enumerate(self.filters)}

    @property
    def label(self) -> str:
        return " · ".join(f"{f.dimension.label}: {f.label}" for f in self.filters)

    @property
    def query(self) -> dict[str, str]:
        """The query parameters that name this slice (?region=EMEA&team=Enterprise)."""
        return {f.dimension.key: f.label for f in self.filters if not f.rest}

    @property
    def target_key(self) -> tuple[str, str]:
        """The (dimension, value) a slice's target is set for: a slice of one filter has the
        targets ops set for it; any other has none of its own."""
        if len(self.filters) == 1 and not self.filters[0].rest:
            f = self.filters[0]
            return f.dimension.key, f.label
        return ("", "") if not self.filters else ("*", "*")


COMPANY = Slice()


class UnknownValue(ValueError):
    """A slice names a value the dimension does not have."""


def filter_for(dimension: Dimension, value: str) -> Filter:
    """The filter of `dimension` = `value`, its base values resolved now. Raises UnknownValue
    for a group ops have not defined."""
    value = value.strip()
    if dimension.group_by:
        groups = groups_of(dimension)
        match = next((g for g in groups if g.casefold() == value.casefold()), None)
        if match is None:
            raise UnknownValue(f"There is no {dimension.label.lower()} called “{value}”.")
        return Filter(dimension, match, tuple(groups[match]))
    return Filter(dimension, value, (dimension.base_key(value),))


def slice_from_query(query: Mapping[str, str] | Iterable[tuple[str, str]]) -> Slice:
    """The slice a page's or an endpoint's query string names (?region=EMEA&team=Enterprise),
    ignoring parameters that name no dimension and blank values. Raises UnknownValue."""
    items = query.items() if isinstance(query, Mapping) else query
    filters = []
    for key, value in items:
        dimension = BY_KEY.get(key)
        if dimension is None or not str(value).strip():
            continue
        if len(str(value)) > 100:
            raise UnknownValue(f"That {dimension.label.lower()} is too long to be one.")
        if "\x00" in str(value):
            raise UnknownValue(f"A {dimension.label.lower()} holds no NUL character.")
        filters.append(filter_for(dimension, str(value)))
    return Slice(tuple(filters))


# --- Breakdowns -----------------------------------------------------------------------------------


def breakdown_slices(
    dimension: Dimension, *, top: int = 12, within: Slice = COMPANY
) -> list[Slice]:
    """The rows of a breakdown by `dimension`: its most frequent values (by the live records
    holding the field), one slice each, then "Other" for the rest and "Not set" for records
    with no value (or a value no group knows), each only when it holds records. Together they
    partition the records. Each row's slice adds its filter to `within`."""
    counts = base_counts(dimension)
    if dimension.group_by:
        groups = groups_of(dimension)
        group_of = {base: g for g, bases in groups.items() for base in bases}
        sizes: dict[str, int] = {}
        for base, n, _ in counts:
            if base in group_of:
                sizes[group_of[base]] = sizes.get(group_of[base], 0) + n
        ranked = sorted(groups, key=lambda g: (-sizes.get(g, 0), g.casefold()))
        shown, rest = ranked[:top], ranked[top:]
        rows = [Filter(dimension, g, tuple(groups[g])) for g in shown]
        rest_keys = tuple(b for g in rest for b in groups[g])
        known = tuple(group_of)
    else:
        values = [(v, spelled) for v, _, spelled in counts if v]
        shown, rest = values[:top], values[top:]
        rows = [Filter(dimension, spelled, (v,)) for v, spelled in shown]
        rest_keys = tuple(v for v, _ in rest)
        known = tuple(v for v, _ in values)
    if rest_keys:
        rows.append(Filter(dimension, OTHER, rest_keys, rest=True))
    rows.append(Filter(dimension, dimension.not_set, known, negate=True, rest=True))
    return [Slice((*within.filters, f)) for f in rows]


def slice_q(slice: Slice, model) -> Q:
    """The slice as a Q over golden `model` (Lead, Deal, Account or ArrChange), from the same SQL
    the scorecard computes with; Q() for no slice. Raises ValueError when it does not apply."""
    from pipeline.metrics import GOLDEN_TABLES

    if not slice:
        return Q()
    table = model._meta.db_table
    object_type = next(t for t, name in GOLDEN_TABLES.items() if name == table)
    sql, params = slice.sql(object_type, prefix="r.")
    # RawSQL takes positional parameters: each named one, in the order the SQL names them.
    names = re.findall(r"%\((\w+)\)s", sql)
    positional = re.sub(r"%\(\w+\)s", "%s", sql)
    return Q(
        pk__in=RawSQL(f"SELECT r.id FROM {table} r WHERE {positional}", [params[n] for n in names])
    )
