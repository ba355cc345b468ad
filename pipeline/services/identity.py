"""Identity resolution: build the golden records from the source records, set-based in SQL.

Each source row carries a golden key (leads: normalised email, unless it is missing or a
placeholder such as `a@a.com`; then `tel:<E.164 phone>` where the system matches by phone,
else `<system slug>:<id>`; accounts: normalised domain, else `<system slug>:<normalised
name>`; deals: the CRM id, else `<system slug>:<id>`; ARR changes:
`<system slug>:<id>`). For every key, each system contributes one row (its most recently
updated; for leads, its original record when it holds duplicates), and each field of the
golden record takes the value of the first system in that field's order: the system a
FieldAuthority rule names, then the others (sales, marketing, customer success, then by id).
A system that holds the record decides the field even when its value is blank: an authority
that says "no MQL date" is an answer, not a gap. Source rows marked deleted (a full export of
their system no longer held them) stand for their system only when no source of the key is
live; a golden record whose every source is deleted gets `deleted_at`, and loses it again
when a source brings it back.

Two ways in, one SQL:
- `golden_resolve()` rebuilds from the source tables (all keys, or the keys a batch touched):
  after field-authority changes, and for the demo.
- `golden_resolve_pending()` is the import's: the batch's new and changed rows wait in the temp
  table `_pending`; the golden records are resolved from the stored rows together with them,
  and only then are the pending rows written, already linked. Each row is written once.

Both run inside the caller's transaction, so golden and source records never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from pipeline.choices import (
    AUTHORITY_FIELDS,
    NEGATIVE_ARR_KINDS,
    ArrChangeKind,
    DealStage,
    ObjectType,
    SystemRole,
)
from pipeline.models import (
    SOURCE_MODELS,
    Account,
    ArrChange,
    Deal,
    DealStageChange,
    FieldAuthority,
    FieldOverride,
    Lead,
    LeadAlias,
    LeadStageChange,
    SourceSystem,
    source_fields,
)
from pipeline.services.currency import amounts_convert
from pipeline.services.placeholders import placeholder_condition
from revops.laps import lap

# The tables whose converted amounts follow each object type's writes.
_CONVERTED = {
    ObjectType.DEAL: ("pipeline_deal", "pipeline_sourcedeal"),
    ObjectType.ARR: ("pipeline_arrchange", "pipeline_sourcearrchange"),
}

_ROLE_ORDER = {SystemRole.SALES: 0, SystemRole.MARKETING: 1, SystemRole.CUSTOMER_SUCCESS: 2}
_RESOLVE_ORDER = (ObjectType.ACCOUNT, ObjectType.LEAD, ObjectType.DEAL, ObjectType.ARR)
# Pending rows sort after every stored row by id (ids are bigints far below this).
PENDING_ID_BASE = 1 << 62
# pg advisory lock, per transaction: one writer of source and golden records at a time (an
# import, a resolution after a correction or an authority change). Under it, a key that has
# no golden row cannot gain one from anyone else before the writer commits.
WRITE_LOCK = 7_303_001


@dataclass
class ResolveResult:
    """What resolution did to the golden records, per object type."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Spec:
    golden: type
    fk: str  # column on the source table pointing at the golden row
    key_sql: str  # SQL over source `s` and its system `ss`
    rep_joins: str = ""  # extra joins that give each source row its links
    rep_columns: str = ""  # extra columns those joins provide
    key_column: str = "key"  # the golden table's unique key column
    # Which of one system's rows for the same key stands for that system.
    rep_order: str = "s.updated_at DESC, s.rep_id DESC"
    history: type | None = None  # where changes of `stage` are recorded


_SPECS: dict[str, _Spec] = {
    ObjectType.ACCOUNT: _Spec(
        golden=Account,
        fk="account_id",
        # Without a domain, the same name within one system is the same company.
        key_sql="CASE WHEN s.domain_key <> '' THEN s.domain_key "
        "ELSE ss.slug || ':' "
        "|| left(lower(regexp_replace(btrim(s.name), '\\s+', ' ', 'g')), 249) END",
    ),
    ObjectType.LEAD: _Spec(
        golden=Lead,
        fk="lead_id",
        key_sql="",  # built per statement by _lead_key_sql: the placeholder list is data
        key_column="email_key",
        rep_joins="LEFT JOIN pipeline_sourceaccount sa "
        "ON sa.system_id = COALESCE(s.account_system_id, s.system_id) "
        "AND sa.external_id = s.account_external_id AND s.account_external_id <> ''",
        rep_columns=", sa.account_id AS linked_account_id",
        # A system's duplicates of one person: its original record stands for it (as a CRM
        # merge keeps the master); the later copies are what reconciliation reports.
        rep_order="s.created_at, s.rep_id",
        history=LeadStageChange,
    ),
    ObjectType.DEAL: _Spec(
        golden=Deal,
        fk="deal_id",
        key_sql="CASE WHEN s.crm_id <> '' THEN s.crm_id "
        f"WHEN ss.role = '{SystemRole.SALES}' THEN s.external_id "
        "ELSE ss.slug || ':' || s.external_id END",
        # A deal may name its account or lead by another system's id (lead_system_id).
        rep_joins="LEFT JOIN pipeline_sourceaccount sa "
        "ON sa.system_id = COALESCE(s.account_system_id, s.system_id) "
        "AND sa.external_id = s.account_external_id AND s.account_external_id <> '' "
        "LEFT JOIN pipeline_sourcelead sl "
        "ON sl.system_id = COALESCE(s.lead_system_id, s.system_id) "
        "AND sl.external_id = s.lead_external_id AND s.lead_external_id <> '' "
        "LEFT JOIN (SELECT system_id, converted_deal_external_id, min(lead_id) AS lead_id "
        "  FROM pipeline_sourcelead WHERE converted_deal_external_id <> '' GROUP BY 1, 2) cl "
        "ON cl.system_id = s.system_id AND cl.converted_deal_external_id = s.external_id",
        rep_columns=", sa.account_id AS linked_account_id, "
        "COALESCE(sl.lead_id, cl.lead_id) AS linked_lead_id",
        history=DealStageChange,
    ),
    ObjectType.ARR: _Spec(
        golden=ArrChange,
        fk="arr_change_id",
        key_sql="ss.slug || ':' || s.external_id",
        rep_joins="LEFT JOIN pipeline_sourceaccount sa ON sa.system_id = s.system_id "
        "AND sa.external_id = s.account_external_id",
        rep_columns=", sa.account_id AS linked_account_id",
    ),
}


def golden_key_sql(object_type: str) -> str:
    """SQL for a source row's golden key, over the row `s` and its SourceSystem row `ss`.

    A lead's email key that ops marked as the same person as another (a LeadAlias) resolves to
    that other lead. The lookup is only written into the SQL when an alias exists, so imports
    pay nothing for a table they do not use."""
    key_sql = _lead_key_sql() if object_type == ObjectType.LEAD else _SPECS[object_type].key_sql
    if object_type == ObjectType.LEAD and LeadAlias.objects.exists():
        return (
            "COALESCE((SELECT la.canonical_key FROM pipeline_leadalias la "
            f"WHERE la.alias_key = s.email_key), {key_sql})"
        )
    return key_sql


def _lead_key_sql() -> str:
    """A lead's key: its email key when it has one that is not a placeholder; else its phone
    (E.164) when its system matches by phone; else its id within its system, so two leads
    without an email never merge by accident."""
    usable = f"s.email_key <> '' AND NOT {placeholder_condition('s.email_key')}"
    return (
        f"CASE WHEN {usable} THEN s.email_key "
        "WHEN ss.match_by_phone AND s.phone_key <> '' THEN 'tel:' || s.phone_key "
        "ELSE ss.slug || ':' || s.external_id END"
    )


@transaction.atomic
def golden_resolve(
    *, object_types: tuple[str, ...] | None = None, batch_id: int | None = None
) -> ResolveResult:
    """Bring the golden records in line with the source tables.

    With `batch_id`, only the golden records that batch's rows resolve (or resolved) to are
    touched; without it, every golden record is. Object types are resolved in dependency
    order (accounts, leads, deals, ARR changes) whatever order they are given in.
    """
    wanted = set(object_types or _RESOLVE_ORDER)
    systems = _system_order()
    result = ResolveResult()
    for object_type in _RESOLVE_ORDER:
        if object_type not in wanted:
            continue
        _assign_keys(object_type, batch_id)
        _scope_from_sources(object_type, batch_id)
        _resolve_scope(object_type, systems, result)
    if wanted & {ObjectType.ARR, ObjectType.ACCOUNT}:
        account_arr_rollup()
    return result


@transaction.atomic
def golden_resolve_keys(*, object_type: str, keys: list[str]) -> ResolveResult:
    """Re-resolve the golden records of `keys` (golden keys, or for leads also email keys whose
    rows now resolve elsewhere) after a manual correction: an alias, an override. Set-based like
    every resolution; for leads, the deals converted from or linked to them follow."""
    table = SOURCE_MODELS[object_type]._meta.db_table
    key_sql = golden_key_sql(object_type)
    match = "s.golden_key = ANY(%s)"
    params: list = [keys]
    if object_type == ObjectType.LEAD:
        match = "(s.golden_key = ANY(%s) OR s.email_key = ANY(%s))"
        params = [keys, keys]
    systems = _system_order()
    result = ResolveResult()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} s SET golden_key = {key_sql} FROM pipeline_sourcesystem ss "
            f"WHERE ss.id = s.system_id AND {match} "
            f"AND s.golden_key IS DISTINCT FROM ({key_sql})",
            params,
        )
        cursor.execute("DROP TABLE IF EXISTS _scope")
        cursor.execute(
            f"CREATE TEMP TABLE _scope ON COMMIT DROP AS SELECT DISTINCT golden_key FROM "
            f"(SELECT unnest(%s::text[]) AS golden_key UNION SELECT s.golden_key FROM {table} s "
            f"WHERE {match}) k",
            [keys, *params],
        )
    _resolve_scope(object_type, systems, result)
    if object_type == ObjectType.LEAD:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT DISTINCT d.golden_key FROM pipeline_sourcedeal d
                JOIN pipeline_sourcelead l
                  ON (l.system_id = COALESCE(d.lead_system_id, d.system_id)
                      AND l.external_id = d.lead_external_id)
                  OR (l.system_id = d.system_id AND l.converted_deal_external_id = d.external_id)
                WHERE l.golden_key = ANY(%s) OR l.email_key = ANY(%s)
                """,
                [keys, keys],
            )
            deal_keys = [k for (k,) in cursor.fetchall()]
        if deal_keys:
            deals = golden_resolve_keys(object_type=ObjectType.DEAL, keys=deal_keys)
            result.updated.update(deals.updated)
    if object_type == ObjectType.ACCOUNT:
        account_arr_rollup()
    return result


# Which source rows of another type point at rows an import just changed (in `_pending`), so
# that their golden records pick up links that did not exist before: a lead imported before its
# account, a deal before the lead it was converted from. Joins driven by the changed rows.
_DEPENDENTS: dict[str, list[tuple[str, str]]] = {
    ObjectType.ACCOUNT: [
        (ObjectType.LEAD,
         "SELECT s.golden_key FROM pipeline_sourcelead s JOIN _pending p "
         "ON p.system_id = COALESCE(s.account_system_id, s.system_id) "
         "AND p.external_id = s.account_external_id "
         "UNION SELECT s.golden_key FROM pipeline_sourcelead s JOIN _pending p "
         "ON p.domain_key <> '' AND p.domain_key = split_part(s.email_key, '@', 2)"),
        (ObjectType.DEAL,
         "SELECT s.golden_key FROM pipeline_sourcedeal s JOIN _pending p "
         "ON p.system_id = COALESCE(s.account_system_id, s.system_id) "
         "AND p.external_id = s.account_external_id"),
        (ObjectType.ARR,
         "SELECT s.golden_key FROM pipeline_sourcearrchange s JOIN _pending p "
         "ON p.system_id = s.system_id AND p.external_id = s.account_external_id"),
    ],
    ObjectType.LEAD: [
        (ObjectType.DEAL,
         "SELECT s.golden_key FROM pipeline_sourcedeal s JOIN _pending p "
         "ON p.system_id = COALESCE(s.lead_system_id, s.system_id) "
         "AND p.external_id = s.lead_external_id "
         "UNION SELECT s.golden_key FROM pipeline_sourcedeal s JOIN _pending p "
         "ON p.system_id = s.system_id AND p.converted_deal_external_id = s.external_id"),
    ],
}  # fmt: skip


def golden_refresh_dependents(*, object_type: str) -> ResolveResult:
    """After an import (its changed rows still in `_pending`), re-resolve the golden records of
    other types whose links it may have changed: leads, deals and ARR changes naming an
    imported account, deals naming an imported lead."""
    systems = _system_order()
    result = ResolveResult()
    for dependent, keys_sql in _DEPENDENTS.get(object_type, []):
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _scope")
            cursor.execute(
                f"CREATE TEMP TABLE _scope ON COMMIT DROP AS SELECT DISTINCT golden_key "
                f"FROM ({keys_sql}) k"
            )
            cursor.execute("SELECT count(*) FROM _scope")
            if not cursor.fetchone()[0]:
                continue
            cursor.execute("ANALYZE _scope")
        _resolve_scope(dependent, systems, result)
    if object_type == ObjectType.ACCOUNT:
        account_arr_rollup()
    return result


def _resolve_scope(object_type: str, systems: list[int], result: ResolveResult) -> None:
    """Resolve every key in `_scope` from the source table, link and clean up."""
    spec = _SPECS[object_type]
    table = SOURCE_MODELS[object_type]._meta.db_table
    relation = (
        f"(SELECT s.id AS rep_id, s.* FROM {table} s "
        f"WHERE s.golden_key IN (SELECT golden_key FROM _scope)) s"
    )
    created, updated = _upsert(object_type, spec, systems, relation)
    _link(object_type)
    if object_type in _CONVERTED:
        amounts_convert(tables=_CONVERTED[object_type], in_scope=True)
    result.created[object_type] = result.created.get(object_type, 0) + created
    result.updated[object_type] = result.updated.get(object_type, 0) + updated
    result.deleted[object_type] = result.deleted.get(object_type, 0) + _delete_orphans(
        object_type, "_scope"
    )
    if object_type == ObjectType.DEAL:
        lead_won_rollup()


def golden_resolve_pending(*, object_type: str, batch_id: int) -> ResolveResult:
    """Resolve the golden records the rows in `_pending` touch, then write those rows into
    the source table, linked. `_pending` holds new and changed rows of one system, shaped as
    the source table's data columns plus system_id, golden_key, batch_row and rep_id. Must run
    inside the import's transaction."""
    spec = _SPECS[object_type]
    table = SOURCE_MODELS[object_type]._meta.db_table
    golden = spec.golden._meta.db_table
    columns = ["system_id", "golden_key", "updated_at", *source_fields(object_type)]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _scope, _gone")
        # Keys the pending rows had before: a row whose email changed leaves its old lead.
        cursor.execute(
            f"""
            CREATE TEMP TABLE _gone ON COMMIT DROP AS
            SELECT DISTINCT s.golden_key FROM {table} s
            JOIN _pending p ON p.system_id = s.system_id AND p.external_id = s.external_id
            WHERE p.existed AND s.golden_key <> p.golden_key
            """
        )
        cursor.execute(
            "CREATE TEMP TABLE _scope ON COMMIT DROP AS "
            "SELECT golden_key FROM _pending UNION SELECT golden_key FROM _gone"
        )
        cursor.execute("ANALYZE _scope")
        cursor.execute("ANALYZE _pending")
    lap("scope")
    # A pending row is in the file being applied, so it is live whatever it was before.
    relation = (
        f"(SELECT s.id AS rep_id, {', '.join(f's.{c}' for c in columns)}, s.deleted_at "
        f"FROM {table} s "
        f"WHERE s.golden_key IN (SELECT golden_key FROM _scope) AND NOT EXISTS ("
        f"  SELECT 1 FROM _pending p WHERE p.system_id = s.system_id "
        f"  AND p.external_id = s.external_id) "
        f"UNION ALL SELECT p.rep_id, {', '.join(f'p.{c}' for c in columns)}, "
        f"NULL::timestamptz FROM _pending p) s"
    )
    created, updated = _upsert(object_type, spec, _system_order(), relation)
    data = source_fields(object_type)
    # Then the pending rows, linked: an UPDATE of the rows the system had sent before and a
    # plain INSERT of the new ones (`existed` was read under WRITE_LOCK, held since).
    linked = f"_pending p LEFT JOIN {golden} g ON g.{spec.key_column} = p.golden_key"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} t SET {", ".join(f"{c} = p.{c}" for c in data)},
                golden_key = p.golden_key, batch_id = %s, batch_row = p.batch_row,
                {spec.fk} = g.id, updated_at = now(), deleted_at = NULL, deleted_batch_id = NULL
            FROM {linked}
            WHERE p.existed AND t.system_id = p.system_id AND t.external_id = p.external_id
            """,
            [batch_id],
        )
        cursor.execute(
            f"""
            INSERT INTO {table} (system_id, golden_key, batch_id, batch_row, first_seen_at,
                                 updated_at, {spec.fk}, {", ".join(data)})
            SELECT p.system_id, p.golden_key, %s, p.batch_row, now(), now(), g.id,
                   {", ".join(f"p.{c}" for c in data)}
            FROM {linked}
            WHERE NOT p.existed
            -- In key order: the golden-key indexes then fill page after page.
            ORDER BY p.golden_key
            """,
            [batch_id],
        )
    lap("source upsert")
    if object_type in _CONVERTED:
        # The golden rows just upserted and the source rows just written, all in `_scope`.
        amounts_convert(tables=_CONVERTED[object_type], in_scope=True)
    result = ResolveResult(
        created={object_type: created},
        updated={object_type: updated},
        deleted={object_type: _delete_orphans(object_type, "_gone")},
    )
    if object_type in (ObjectType.ARR, ObjectType.ACCOUNT):
        account_arr_rollup()
    if object_type == ObjectType.DEAL:
        lead_won_rollup()
    lap("rollups")
    return result


def lead_won_rollup() -> None:
    """Set each lead's `won_at`: the start (company time) of the close date of the first won
    deal linked to it, whichever system the deal came from. Only leads whose value changes
    are written."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH won AS (
                SELECT lead_id, (min(close_date)::timestamp AT TIME ZONE %(tz)s) AS won_at
                FROM pipeline_deal
                WHERE stage = %(won)s AND lead_id IS NOT NULL AND close_date IS NOT NULL
                GROUP BY lead_id
            ), v AS (
                SELECT lead_id AS id, won_at FROM won
                -- Leads won before and no longer (their deal reopened or moved), found through
                -- the partial index on won_at without reading every lead.
                UNION ALL
                SELECT l.id, NULL FROM pipeline_lead l
                WHERE l.won_at IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM won w WHERE w.lead_id = l.id)
            )
            UPDATE pipeline_lead l SET won_at = v.won_at
            FROM v WHERE v.id = l.id AND l.won_at IS DISTINCT FROM v.won_at
            """,
            {"tz": settings.TIME_ZONE, "won": DealStage.CLOSED_WON},
        )


def golden_resolve_scope(*, object_type: str) -> ResolveResult:
    """Re-resolve the golden records whose keys are in the temp table `_scope` (one column,
    golden_key), from the stored source rows: after a full export marked some deleted. Must
    run inside the import's transaction."""
    result = ResolveResult()
    _resolve_scope(object_type, _system_order(), result)
    if object_type in (ObjectType.ARR, ObjectType.ACCOUNT):
        account_arr_rollup()
    return result


def _system_order() -> list[int]:
    systems = SourceSystem.objects.values_list("id", "role")
    return [sid for sid, role in sorted(systems, key=lambda s: (_ROLE_ORDER.get(s[1], 9), s[0]))]


def _field_order(object_type: str, systems: list[int]) -> dict[str, list[int]]:
    rules = dict(
        FieldAuthority.objects.filter(object_type=object_type).values_list("field", "system_id")
    )
    orders = {}
    for name in AUTHORITY_FIELDS.get(object_type, ()):
        first = rules.get(name)
        orders[name] = ([first] if first in systems else []) + [s for s in systems if s != first]
    return orders


def _pick(column: str, order: list[int]) -> str:
    """SQL: `column` from the first system in `order` that holds the record."""
    whens = " ".join(f"WHEN r{sid}.rep_id IS NOT NULL THEN r{sid}.{column}" for sid in order)
    return f"CASE {whens} END"


def _first_non_null(column: str, order: list[int]) -> str:
    return "COALESCE(" + ", ".join(f"r{sid}.{column}" for sid in order) + ")"


def _assign_keys(object_type: str, batch_id: int | None) -> None:
    table = SOURCE_MODELS[object_type]._meta.db_table
    key_sql = golden_key_sql(object_type)
    only_batch = "AND s.batch_id = %s" if batch_id is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} s SET golden_key = {key_sql}
            FROM pipeline_sourcesystem ss
            WHERE ss.id = s.system_id AND s.golden_key IS DISTINCT FROM ({key_sql})
            {only_batch}
            """,
            [batch_id] if batch_id is not None else [],
        )


def _scope_from_sources(object_type: str, batch_id: int | None) -> None:
    """Fill the temp table `_scope` with the golden keys to resolve: those of the batch's rows
    and those the rows pointed at before (a row whose email changed leaves its old lead)."""
    spec = _SPECS[object_type]
    table = SOURCE_MODELS[object_type]._meta.db_table
    golden = spec.golden._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _scope")
        if batch_id is None:
            cursor.execute(
                f"CREATE TEMP TABLE _scope ON COMMIT DROP AS "
                f"SELECT DISTINCT golden_key FROM {table} "
                f"UNION SELECT {spec.key_column} FROM {golden}"
            )
        else:
            cursor.execute(
                f"""
                CREATE TEMP TABLE _scope ON COMMIT DROP AS
                SELECT golden_key FROM {table} WHERE batch_id = %s
                UNION
                SELECT g.{spec.key_column} FROM {table} s JOIN {golden} g ON g.id = s.{spec.fk}
                WHERE s.batch_id = %s
                """,
                [batch_id, batch_id],
            )
        cursor.execute("ALTER TABLE _scope ADD PRIMARY KEY (golden_key)")
        cursor.execute("ANALYZE _scope")


def _overrides(object_type: str) -> tuple[dict[str, str], str]:
    """Manual field overrides, applied after field authority: (golden column → SQL that takes
    the override where the record has one, else `{column}` as authority picked it; the join
    giving the overrides as columns `ov.has_<field>`, `ov.v_<field>`). One query finds which
    fields have any override; with none, nothing is added to the resolution's SQL."""
    fields = list(
        FieldOverride.objects.filter(object_type=object_type)
        .order_by("field")
        .values_list("field", flat=True)
        .distinct()
    )
    if not fields:
        return {}, ""
    golden = _SPECS[object_type].golden
    pivot, wrap = [], {}
    for name in fields:
        db_type = golden._meta.get_field(name).db_type(connection)
        cast = "text" if db_type.startswith("varchar") else db_type
        pivot.append(
            f"bool_or(field = '{name}') AS has_{name}, "
            f"max(value) FILTER (WHERE field = '{name}') AS v_{name}"
        )
        wrap[name] = f"CASE WHEN ov.has_{name} THEN CAST(ov.v_{name} AS {cast}) ELSE {{}} END"
    join = (
        f"LEFT JOIN (SELECT record_key, {', '.join(pivot)} FROM pipeline_fieldoverride "
        f"WHERE object_type = '{object_type}' GROUP BY record_key) ov "
        "ON ov.record_key = k.golden_key"
    )
    return wrap, join


def _golden_columns(object_type: str, systems: list[int]) -> dict[str, str]:
    """Golden column → SQL expression over the per-system rows r<id>."""
    orders = _field_order(object_type, systems)
    columns = {name: _pick(name, order) for name, order in orders.items()}
    if object_type == ObjectType.LEAD:
        columns["email"] = _pick("email", systems)
        columns["phone"] = _pick("phone", systems)
        # The account a source links the lead to, else the account of the email's domain.
        columns["account_id"] = (
            "COALESCE(" + ", ".join(f"r{sid}.linked_account_id" for sid in systems) + ", dom.id)"
        )
    elif object_type == ObjectType.ACCOUNT:
        # Every row of a domain-keyed account has that domain; the others have none.
        columns["domain"] = "CASE WHEN strpos(k.golden_key, ':') > 0 THEN '' ELSE k.golden_key END"
    elif object_type == ObjectType.DEAL:
        columns["account_id"] = _first_non_null("linked_account_id", systems)
        columns["lead_id"] = _first_non_null("linked_lead_id", systems)
    elif object_type == ObjectType.ARR:
        for name in ("kind", "amount", "currency", "effective_date"):
            columns[name] = _pick(name, systems)
        columns["account_id"] = _first_non_null("linked_account_id", systems)
    # Every rep is deleted only when the key has no live source (see `rep` in _upsert): then
    # the record is deleted as of its sources' latest deletion, else it is live.
    columns["deleted_at"] = "GREATEST(" + ", ".join(f"r{sid}.deleted_at" for sid in systems) + ")"
    return columns


def _upsert(object_type: str, spec: _Spec, systems: list[int], relation: str) -> tuple[int, int]:
    """Create or update the golden row of every key in `_scope` from the rows of `relation`
    (a FROM item aliased `s`, with a `rep_id` column). Returns (created, updated)."""
    golden = spec.golden._meta.db_table
    with connection.cursor() as cursor:
        # Only the systems that hold rows in scope take part: a first import of one system
        # joins one, not every system there is.
        cursor.execute(
            f"SELECT ss.id FROM pipeline_sourcesystem ss "
            f"WHERE EXISTS (SELECT 1 FROM {relation} WHERE s.system_id = ss.id)"
        )
        present = {sid for (sid,) in cursor.fetchall()}
    systems = [sid for sid in systems if sid in present]
    # Live sources first, but only where there are deleted ones: a table none of whose rows
    # was ever deleted (the usual case, found on a small partial index) keeps the plain plan.
    has_deleted = SOURCE_MODELS[object_type].objects.filter(deleted_at__isnull=False).exists()
    if not systems:
        return 0, 0
    columns = _golden_columns(object_type, systems)
    wrap, override_join = _overrides(object_type)
    for name, template in wrap.items():
        columns[name] = template.format(columns[name])
    names = list(columns)
    if len(systems) == 1:
        # One system: its representative rows are the keys, with no pivot to join.
        keys = f"rep r{systems[0]} CROSS JOIN LATERAL (SELECT r{systems[0]}.golden_key) k"
        joins = ""
    else:
        keys = "(SELECT DISTINCT golden_key FROM rep) k"
        joins = " ".join(
            f"LEFT JOIN rep r{sid} ON r{sid}.golden_key = k.golden_key AND r{sid}.system_id = {sid}"
            for sid in systems
        )
    if override_join:
        joins += " " + override_join
    if object_type == ObjectType.LEAD:
        # A lead no source links to an account joins the account of its email's domain (a
        # key with a colon is a phone or a system id, not an email).
        joins += (
            " LEFT JOIN pipeline_account dom ON dom.domain <> '' AND strpos(k.golden_key, ':') = 0 "
            "AND dom.domain = split_part(k.golden_key, '@', 2)"
        )
    # ARR changes whose account the customer-success system never sent cannot be placed.
    where = (
        "WHERE " + _first_non_null("linked_account_id", systems) + " IS NOT NULL"
        if object_type == ObjectType.ARR
        else ""
    )
    # One statement: the golden row each key should have (`built`), written as an UPDATE of
    # the keys that have a row and differ, and a plain INSERT of the keys that have none
    # (cheaper than INSERT ... ON CONFLICT, which inserts speculatively; safe because every
    # writer of golden records holds WRITE_LOCK). Stage changes are recorded from the UPDATE
    # itself: `old` in its FROM list is the row as it was before.
    key = spec.key_column
    changed = " OR ".join(f"g.{n} IS DISTINCT FROM b.{n}" for n in names)
    returning = "g.id"
    history = ""
    if spec.history is not None:
        owner = "lead_id" if spec.history is LeadStageChange else "deal_id"
        returning = "g.id, old.stage AS from_stage, g.stage AS to_stage"
        history_table = spec.history._meta.db_table
        history = f""",
            history AS (
                INSERT INTO {history_table} ({owner}, from_stage, to_stage, changed_at)
                SELECT id, from_stage, to_stage, now() FROM updated WHERE from_stage <> to_stage
                ON CONFLICT DO NOTHING
            )"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        cursor.execute(
            f"""
            WITH {_rep_sql(spec, relation, has_deleted)}
            built AS MATERIALIZED (
                SELECT k.golden_key AS {key}, {", ".join(f"{v} AS {n}" for n, v in columns.items())}
                FROM {keys} {joins}
                {where}
            ),
            updated AS (
                UPDATE {golden} g SET {", ".join(f"{n} = b.{n}" for n in names)}, updated_at = now()
                FROM built b JOIN {golden} old ON old.{key} = b.{key}
                WHERE g.id = old.id AND ({changed})
                RETURNING {returning}
            ),
            inserted AS (
                INSERT INTO {golden} ({key}, {", ".join(names)}, first_seen_at, updated_at)
                SELECT b.{key}, {", ".join(f"b.{n}" for n in names)}, now(), now()
                FROM built b
                WHERE NOT EXISTS (SELECT 1 FROM {golden} g WHERE g.{key} = b.{key})
                -- In key order: the key's index, and the ids given in key order, fill page
                -- after page instead of at random.
                ORDER BY b.{key}
                RETURNING 1
            ){history}
            SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)
            """
        )
        created, updated = cursor.fetchone()
        lap("golden upsert")
        if created > 10_000:
            cursor.execute(f"ANALYZE {golden}")
            lap("analyze")
    return created, updated


def _rep_sql(spec: _Spec, relation: str, has_deleted: bool) -> str:
    """The `rep` CTE of _upsert: each system's row standing for it under each key. With
    deleted rows about, a live row stands before a deleted one, and a system whose rows of a
    key are all deleted has no say while another system holds the key live."""
    if not has_deleted:
        return f"""rep AS (
                SELECT DISTINCT ON (s.golden_key, s.system_id) s.*{spec.rep_columns}
                FROM {relation}
                {spec.rep_joins}
                ORDER BY s.golden_key, s.system_id, {spec.rep_order}
            ),"""
    return f"""rep_any AS (
                SELECT DISTINCT ON (s.golden_key, s.system_id) s.*{spec.rep_columns}
                FROM {relation}
                {spec.rep_joins}
                ORDER BY s.golden_key, s.system_id, s.deleted_at IS NOT NULL, {spec.rep_order}
            ),
            rep AS (
                SELECT * FROM (
                    SELECT r.*, bool_or(r.deleted_at IS NULL)
                        OVER (PARTITION BY r.golden_key) AS key_is_live
                    FROM rep_any r
                ) r
                WHERE r.deleted_at IS NULL OR NOT r.key_is_live
            ),"""


def _link(object_type: str) -> None:
    spec = _SPECS[object_type]
    table = SOURCE_MODELS[object_type]._meta.db_table
    golden = spec.golden._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} s SET {spec.fk} = g.id
            FROM {golden} g
            WHERE g.{spec.key_column} = s.golden_key
              AND s.golden_key IN (SELECT golden_key FROM _scope)
              AND s.{spec.fk} IS DISTINCT FROM g.id
            """
        )
        # A row whose golden record could not be built (an ARR change without its account)
        # must not keep pointing at a stale one.
        cursor.execute(
            f"""
            UPDATE {table} s SET {spec.fk} = NULL
            WHERE s.golden_key IN (SELECT golden_key FROM _scope) AND s.{spec.fk} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {golden} g
                              WHERE g.id = s.{spec.fk} AND g.{spec.key_column} = s.golden_key)
            """
        )


def _delete_orphans(object_type: str, keys_table: str) -> int:
    """Golden records among `keys_table`'s keys that no source holds any more go. Through the
    ORM, so rows pointing at them are handled as their foreign keys say (cascade or set null);
    there are few, so collecting them in Python costs nothing."""
    spec = _SPECS[object_type]
    table = SOURCE_MODELS[object_type]._meta.db_table
    golden = spec.golden._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT g.id FROM {golden} g
            WHERE g.{spec.key_column} IN (SELECT golden_key FROM {keys_table})
              AND NOT EXISTS (SELECT 1 FROM {table} s WHERE s.{spec.fk} = g.id)
            """
        )
        ids = [pk for (pk,) in cursor.fetchall()]
    if not ids:
        return 0
    return spec.golden.objects.filter(pk__in=ids).delete()[1].get(spec.golden._meta.label, 0)


def account_arr_rollup(*, today: date | None = None) -> None:
    """Set each account's ARR (changes effective by `today`, in the company currency: a change
    with no rate in force is left out rather than added unconverted; one marked deleted too),
    customer-since and churn dates."""
    today = today or timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH totals AS (
                SELECT a.id,
                    COALESCE(SUM(CASE WHEN c.kind = ANY(%(arr_reducing)s)
                                      THEN -c.amount_converted ELSE c.amount_converted END)
                        FILTER (WHERE c.effective_date <= %(today)s), 0) AS arr,
                    MIN(c.effective_date) FILTER (WHERE c.kind = %(new)s) AS since,
                    MAX(c.effective_date) FILTER (WHERE c.kind = %(churn)s) AS churned,
                    MAX(c.effective_date) FILTER (WHERE c.kind IN (%(new)s, %(expansion)s))
                        AS grew
                FROM pipeline_account a
                LEFT JOIN pipeline_arrchange c ON c.account_id = a.id AND c.deleted_at IS NULL
                GROUP BY a.id
            ),
            v AS (
                SELECT id, GREATEST(round(arr, 2), 0) AS arr, since,
                    CASE WHEN churned IS NOT NULL AND (grew IS NULL OR churned >= grew)
                         THEN churned END AS churned_on
                FROM totals
            )
            UPDATE pipeline_account a
            SET arr = v.arr, customer_since = v.since, churned_on = v.churned_on, updated_at = now()
            FROM v
            WHERE v.id = a.id AND (a.arr, a.customer_since, a.churned_on)
                IS DISTINCT FROM (v.arr, v.since, v.churned_on)
            """,
            {
                "today": today,
                "arr_reducing": list(NEGATIVE_ARR_KINDS),
                "new": ArrChangeKind.NEW,
                "churn": ArrChangeKind.CHURN,
                "expansion": ArrChangeKind.EXPANSION,
            },
        )
