"""Building the normalising SQL (step 3): for each mapped field, the SQL that reads its cell from
`_raw`, turns it into the field's value and names what is wrong with it; and the one statement
that fills `_norm` with all of them. `norm_sql()` gives the statement a mapping produces (the
snapshot test keeps it in tests/pipeline/snapshots/)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DataError, connection, transaction
from psycopg import errors as pg_errors

from pipeline.presets import (
    BOOLEAN,
    BOOLEAN_VALUES,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    DOMAIN,
    EMAIL,
    FIELDS,
    INTEGER,
    PHONE,
    TEXT,
    FieldInfo,
    FieldMap,
    Mapping,
)
from pipeline.services.imports.base import exec_sql, lit
from pipeline.services.imports.reading import NUL_MARK
from revops.currencies import ISO_4217

AMOUNT_DECIMALS = 6  # numeric(24,6): DealFields.amount, ArrChangeFields.amount


# Emails the SQL fast path accepts are a subset of what Django's validator accepts: a dot-atom
# of the commonest characters, hostname labels (a domain of 63 characters or less cannot hold
# a longer label), an alphabetic top-level domain. A flat pattern plus position checks: the
# regex engine is slow on nested groups.
_EMAIL_FAST = r"^[A-Za-z0-9_%+.-]+@[A-Za-z0-9.-]+\.[A-Za-z][A-Za-z]+$"
_DOMAIN_FAST = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,24}$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)? ?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)
_SLASH = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(,? \d{1,2}:\d{2}(:\d{2})?( ?[AaPp]\.?[Mm]\.?)?)?$"
_NUMBER = r"^-?\d+(\.\d+)?$"
CONTROL = r"[\x01-\x1f\x7f]"  # C0 controls and DEL; C1 (U+0080–U+009F) may be Latin-1 text


@dataclass(frozen=True)
class Col:
    """SQL for one field. `raw` reads the trimmed cell from `_raw` (NULL when blank); `value`
    turns `raw_<name>` into the field's value (NULL when it cannot); `error` names what is
    wrong from `raw_<name>` and `<name>` (NULL when nothing is)."""

    info: FieldInfo
    column: str  # the file's column name, or '' for a default-only field
    raw: str
    value: str
    error: str


def _days_in_month(y: str, m: str) -> str:
    return f"extract(day from (make_date({y}, {m}, 1) + interval '1 month - 1 day'))::int"


def _date_value(v: str, info: FieldInfo, mapping: Mapping, fast: bool) -> str:
    """SQL: the date or timestamp in cell `v`, NULL when it is not one. A cell without an
    offset is read in the session's time zone, which the import sets to the mapping's.

    PostgreSQL does not promise the order in which AND and OR are evaluated, so in the safe
    form every cast sits behind CASE, which it does evaluate in order: a malformed cell can
    never raise. The fast form casts ISO-shaped cells directly and raises on a bad one; the
    import then reruns the safe form, so a clean file pays for no guard it does not need."""
    y, m, d = f"substr({v},1,4)::int", f"substr({v},6,2)::int", f"substr({v},9,2)::int"
    iso_value = f"substr({v}, 1, 10)::date" if info.kind == DATE else f"{v}::timestamptz"
    if fast:
        iso_shape = f"substr({v},5,1) = '-' AND substr({v},8,1) = '-' AND length({v}) <= 40"
        iso = iso_value
    else:
        iso_shape = f"{v} ~ '{_ISO_DATE}' OR {v} ~ '{_ISO_DATETIME}'"
        time_bad = (
            f"(CASE WHEN length({v}) > 10 THEN substr({v},12,2)::int > 23 "
            f"OR substr({v},15,2)::int > 59 ELSE false END)"
        )
        seconds_bad = (
            f"(CASE WHEN substr({v},17,1) = ':' THEN substr({v},18,2)::int > 59 ELSE false END)"
        )
        iso = (
            f"CASE WHEN {m} NOT BETWEEN 1 AND 12 OR {y} < 1 THEN NULL "
            f"WHEN {d} < 1 OR {d} > {_days_in_month(y, m)} THEN NULL "
            f"WHEN {time_bad} OR {seconds_bad} THEN NULL ELSE {iso_value} END"
        )
    # a/b/yyyy with / . or - between, read per the date order; an optional time after it.
    vv = f"replace({v}, ',', '')"
    parts = f"string_to_array(translate(split_part({vv}, ' ', 1), '.-', '//'), '/')"
    a, b, yy = f"({parts})[1]::int", f"({parts})[2]::int", f"({parts})[3]::int"
    if mapping.date_order == "us":
        month, day = a, b
    elif mapping.date_order == "eu":
        month, day = b, a
    else:  # iso / auto: only where the day cannot be taken for the month
        month = f"(CASE WHEN {a} > 12 THEN {b} ELSE {a} END)"
        day = f"(CASE WHEN {a} > 12 THEN {a} ELSE {b} END)"
    clock = (
        f"regexp_replace(substr({vv}, length(split_part({vv}, ' ', 1)) + 2), '[^0-9:]', '', 'g')"
    )
    meridiem = f"lower(substring({v} from '([AaPp])\\.?[Mm]\\.?$'))"
    hour = f"split_part({clock}, ':', 1)::int"
    minute = f"split_part({clock}, ':', 2)::int"
    second = f"coalesce(nullif(split_part({clock}, ':', 3), '')::int, 0)"
    hour24 = (
        f"(CASE WHEN {meridiem} = 'p' AND {hour} < 12 THEN {hour} + 12 "
        f"WHEN {meridiem} = 'a' AND {hour} = 12 THEN 0 ELSE {hour} END)"
    )
    clock_bad = (
        f"(CASE WHEN {clock} = '' THEN false WHEN {meridiem} IS NULL "
        f"THEN {hour} > 23 OR {minute} > 59 OR {second} > 59 "
        f"ELSE {hour} NOT BETWEEN 1 AND 12 OR {minute} > 59 OR {second} > 59 END)"
    )
    ambiguous = (
        "false"
        if mapping.date_order in ("us", "eu")
        else f"({a} <= 12 AND {b} <= 12 AND {a} <> {b})"
    )
    if info.kind == DATE:
        slash_value = f"make_date({yy}, {month}, {day})"
    else:
        slash_value = (
            f"make_timestamp({yy}, {month}, {day}, CASE WHEN {clock} = '' THEN 0 ELSE "
            f"{hour24} END, CASE WHEN {clock} = '' THEN 0 ELSE {minute} END, "
            f"CASE WHEN {clock} = '' THEN 0 ELSE {second} END)::timestamptz"
        )
    slash = (
        f"CASE WHEN {ambiguous} THEN NULL WHEN {month} NOT BETWEEN 1 AND 12 OR {yy} < 1 "
        f"THEN NULL WHEN {day} < 1 OR {day} > {_days_in_month(yy, month)} THEN NULL "
        f"WHEN {clock_bad} THEN NULL ELSE {slash_value} END"
    )
    if mapping.date_order == "iso":
        return f"CASE WHEN {iso_shape} THEN {iso} END"
    return f"CASE WHEN {iso_shape} THEN {iso} WHEN {v} ~ '{_SLASH}' THEN {slash} END"


def _date_error(v: str, mapping: Mapping) -> str:
    """SQL: why cell `v` is not a date (evaluated only for cells that did not read as one)."""
    expected = {
        "us": "a date like 2025-03-31 or 03/31/2025 (month first)",
        "eu": "a date like 2025-03-31 or 31/03/2025 (day first)",
        "iso": "a date like 2025-03-31 or 2025-03-31T14:05:00Z",
        "auto": "a date like 2025-03-31 or 31/03/2025",
    }[mapping.date_order]
    vv = f"replace({v}, ',', '')"
    parts = f"string_to_array(translate(split_part({vv}, ' ', 1), '.-', '//'), '/')"
    ambiguous = (
        "false"
        if mapping.date_order in ("us", "eu")
        else f"(({parts})[1]::int <= 12 AND ({parts})[2]::int <= 12)"
    )
    if mapping.date_order == "iso":
        return (
            f"CASE WHEN {v} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' THEN 'is not a real date or time' "
            f"WHEN {v} ~ '{_SLASH}' THEN 'is not an ISO date like 2025-03-31; if the file "
            f"writes dates as 03/31/2025, set the date order to US or EU' "
            f"ELSE {lit('is not ' + expected)} END"
        )
    return (
        f"CASE WHEN {v} ~ '{_SLASH}' THEN (CASE WHEN {ambiguous} THEN "
        f"'is ambiguous: it could be day/month or month/day; set the date order (US or EU)' "
        f"ELSE 'is not a real date' END) "
        f"WHEN {v} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' THEN 'is not a real date or time' "
        f"WHEN {v} ~ '^\\d{{1,2}}[/.-]\\d{{1,2}}[/.-]\\d{{2}}($|[ ,])' THEN "
        f"'has a two-digit year; use four digits' "
        f"ELSE {lit('is not ' + expected)} END"
    )


def _field_sql(info: FieldInfo, column: str, raw: str, mapping: Mapping, fm, *, fast: bool) -> Col:
    """Value and error SQL for one mapped field."""
    v, x = f"raw_{info.name}", info.name
    if info.kind == TEXT:
        limit = info.max_length or 10_000
        if info.name == "currency":
            value = f"upper({v})"
            invalid = (
                f"CASE WHEN NOT ({x} = ANY({lit(sorted(ISO_4217))}::text[])) "
                f"THEN format('%s is not an ISO 4217 currency code', left({x}, 40)) END"
            )
        else:
            # Every text field is a single line (a name, an id, an owner): line breaks and tabs
            # become a space and other control characters go, so a name can never split a
            # mail header or a CSV line later. CONTROL_CHARACTERS findings name the cells.
            value = (
                f"CASE WHEN _ctrl AND {v} ~ '{CONTROL}' THEN btrim(regexp_replace(regexp_replace("
                f"{v}, '[\\r\\n\\t]+', ' ', 'g'), '{CONTROL}', '', 'g')) ELSE {v} END"
            )
            invalid = (
                f"CASE WHEN length({v}) > {limit} THEN format('is %s characters long; the "
                f"limit for this column is {limit}', length({v})) END"
            )
        return Col(info, column, raw, value, _error(info, v, x, None, invalid))
    if info.kind == EMAIL:
        # COLLATE "C": byte-wise lower-casing and matching, several times faster than the
        # locale's; only ASCII addresses pass the fast path, and for those it is exact.
        c = f'({v} COLLATE "C")'
        fast_ok = " AND ".join(
            [
                f"{c} ~ '{_EMAIL_FAST}'",
                f"length({v}) <= 254",
                f"length(split_part({v}, '@', 2)) <= 63",
                f"left({v}, 1) <> '.'",
            ]
            + [f"strpos({v}, {lit(bad)}) = 0" for bad in ("..", ".@", "@.", "@-", "-.", ".-")]
        )
        value = f"CASE WHEN {fast_ok} THEN lower({c}) END"
        # Cells the fast path leaves NULL are checked exactly in Python (python_checks).
        invalid = f"CASE WHEN length({v}) > 254 THEN 'is longer than 254 characters' END"
        return Col(info, column, raw, value, _error(info, v, x, None, invalid))
    if info.kind == PHONE:
        # Numbers are read by the phonenumbers library in Python (python_checks); a number
        # it cannot read is no error, it only cannot match the lead to another.
        limit = info.max_length or 50
        invalid = (
            f"CASE WHEN length({v}) > {limit} THEN format('is %s characters long; the "
            f"limit for this column is {limit}', length({v})) END"
        )
        return Col(info, column, raw, "NULL::text", _error(info, v, x, None, invalid))
    if info.kind == DOMAIN:
        cleaned = (
            f"rtrim(regexp_replace(split_part(split_part(regexp_replace(lower({v}), "
            f"'^[a-z][a-z0-9+.-]*://', ''), '/', 1), ':', 1), '^www\\.', ''), '.')"
        )
        value = f"CASE WHEN {cleaned} ~ '{_DOMAIN_FAST}' THEN {cleaned} END"
        return Col(info, column, raw, value, _error(info, v, x, None, "NULL"))
    if info.kind in (DATE, DATETIME):
        value = _date_value(v, info, mapping, fast)
        return Col(info, column, raw, value, _error(info, v, x, _date_error(v, mapping), "NULL"))
    if info.kind in (DECIMAL, INTEGER):
        thousands, decimal = (",", ".") if mapping.decimal_separator == "." else (".", ",")
        stripped = (
            f"regexp_replace({v}, '\\s|[$€£¥]|^(USD|EUR|GBP|CHF|JPY|CAD|AUD)|"
            f"(USD|EUR|GBP|CHF|JPY|CAD|AUD)$', '', 'gi')"
        )
        negated = f"regexp_replace({stripped}, '^\\((.*)\\)$', '-\\1')"
        number = f"replace(replace({negated}, {lit(thousands)}, ''), {lit(decimal)}, '.')"
        clean = f"(CASE WHEN {v} ~ '{_NUMBER}' THEN {v} ELSE {number} END)"
        if info.kind == INTEGER:
            value = f"CASE WHEN {clean} ~ '^-?\\d{{1,9}}$' THEN {clean}::int END"
            invalid = f"CASE WHEN {x} < 0 THEN 'is negative' END"
            unreadable = "'is not a whole number'"
        else:
            # Kept as the file wrote it, never rounded: more decimals than the column holds
            # is an error below.
            value = (
                f"CASE WHEN {clean} ~ '{_NUMBER}' AND length({clean}) <= 30 "
                f"THEN {clean}::numeric END"
            )
            floor, floor_msg = (
                ("<= 0", "must be greater than 0") if info.positive else ("< 0", "is negative")
            )
            invalid = (
                f"CASE WHEN {x} >= 1000000000000 THEN 'is too large' "
                f"WHEN {x} {floor} THEN {lit(floor_msg)} "
                f"WHEN scale(trim_scale({x})) > {AMOUNT_DECIMALS} "
                f"THEN 'has more than {AMOUNT_DECIMALS} decimal places' END"
            )
            unreadable = "'is not a number'"
        if info.blank() is not None and not info.required:
            value = f"CASE WHEN {v} IS NULL THEN {info.blank()} ELSE {value} END"
        return Col(info, column, raw, value, _error(info, v, x, unreadable, invalid))
    if info.kind == CHOICE:
        whens = [f"WHEN {lit(k)} THEN {lit(t)}" for k, t in fm.values.items() if k != "*"]
        # Our own values are always understood.
        whens += [
            f"WHEN {lit(c.casefold())} THEN {lit(c)}"
            for c in info.choices
            if c.casefold() not in fm.values
        ]
        catch_all = lit(fm.values["*"]) if "*" in fm.values else "NULL"
        blank = lit(info.blank()) if info.blank() is not None else "NULL"
        mapped = f"(CASE lower({v}) {' '.join(whens)} ELSE {catch_all} END)"
        value = f"CASE WHEN {v} IS NULL THEN {blank} ELSE {mapped} END"
        if not info.required:
            # An unknown value of an optional field imports as a blank cell and is a finding
            # (pipeline/services/picklists.py); the field's value stays NULL until then.
            return Col(info, column, raw, value, _error(info, v, x, None, "NULL"))
        unreadable = lit(
            f"is not a {info.label.lower()} this mapping knows: map it to one of ours "
            f"({', '.join(info.choices)}) with “Map these values” on this import's page"
        )
        return Col(info, column, raw, value, _error(info, v, x, unreadable, "NULL"))
    raise AssertionError(info.kind)


def _required(info: FieldInfo) -> str:
    """SQL for the error of a blank cell: always one for a required field, one only when
    another field's value needs it for a field required by meaning, else none."""
    if info.required:
        return "'is required'"
    if info.required_when:
        other, values, why = info.required_when
        needs = lit(list(values))
        return f"CASE WHEN {other} = ANY({needs}::text[]) THEN {lit(f'is required {why}')} END"
    return "NULL"


def _error(info: FieldInfo, v: str, x: str, unreadable: str | None, invalid: str) -> str:
    required = _required(info)
    unreadable_case = f"WHEN {x} IS NULL THEN {unreadable} " if unreadable else ""
    return f"CASE WHEN {v} IS NULL THEN {required} {unreadable_case}ELSE {invalid} END"


def columns_sql(
    mapping: Mapping, positions: dict[str, int], fast: bool, nul: bool = False
) -> list[Col]:
    cols = []
    for info in FIELDS[mapping.object_type]:
        fm = mapping.fields.get(info.name)
        if fm is None and info.required_when:
            fm = FieldMap()  # not in the file, yet some rows need it: say which
        if fm is None:
            continue
        column = fm.column if fm.column and fm.column in positions else ""
        raw = "NULL::text"
        if column:
            cell = f"r.c{positions[column] + 1}"
            if nul:
                cell = f"replace({cell}, {lit(NUL_MARK)}, '')"
            raw = f"nullif(btrim({cell}), '')"
        if fm.default is not None:
            raw = f"coalesce({raw}, {lit(fm.default)})"
        col = _field_sql(info, column, raw, mapping, fm, fast=fast)
        v = f"raw_{info.name}"
        if raw == "NULL::text":
            # An optional column the file does not have: every cell is blank, so the value is
            # whatever a blank means, worked out once rather than per row.
            col = Col(info, column, raw, _blank_value(info), _required(info))
        else:
            # Blank cells skip the value's SQL entirely.
            col = Col(
                info,
                column,
                raw,
                f"CASE WHEN {v} IS NULL THEN {_blank_value(info)} ELSE {col.value} END",
                col.error,
            )
        cols.append(col)
    for i, column in enumerate(c for c in mapping.booleans if c in positions):
        cols.append(_boolean_sql(i, column, positions[column], nul))
    return cols


def _boolean_sql(i: int, column: str, position: int, nul: bool) -> Col:
    """A checkbox column no field reads: a blank cell or one of BOOLEAN_VALUES, else an error
    naming the accepted values."""
    info = FieldInfo(name=f"boolean_{i + 1}", kind=BOOLEAN, label=column)
    cell = f"r.c{position + 1}"
    if nul:
        cell = f"replace({cell}, {lit(NUL_MARK)}, '')"
    v, accepted = f"raw_{info.name}", lit(list(BOOLEAN_VALUES))
    message = lit(f"is not true or false (accepted: {', '.join(BOOLEAN_VALUES)})")
    return Col(
        info,
        column,
        f"nullif(btrim({cell}), '')",
        f"lower({v}) = ANY({accepted}::text[])",
        f"CASE WHEN {v} IS NOT NULL AND NOT lower({v}) = ANY({accepted}::text[]) THEN "
        f"{message} END",
    )


def _blank_value(info: FieldInfo) -> str:
    if info.blank() is not None:
        return info.blank() if info.kind in (DECIMAL, INTEGER) else lit(info.blank())
    return "''" if info.kind == TEXT else "NULL"


def normalise(mapping: Mapping, positions: dict[str, int], *, nul: bool = False) -> list[Col]:
    """Fill `_norm` from `_raw` in one pass: each field's raw cell, value and error. Tries the
    fast form of the date SQL first and falls back to the safe one if a cell makes it raise."""
    with connection.cursor() as cursor:
        # Cells without an offset are in the mapping's time zone; Django needs UTC back after.
        cursor.execute("SELECT set_config('TimeZone', %s, false)", [mapping.timezone])
        try:
            for fast in (True, False):
                cols = columns_sql(mapping, positions, fast, nul)
                try:
                    with transaction.atomic():
                        _create_norm(cursor, cols)
                    return cols
                except pg_errors.DataError:
                    if not fast:
                        raise
                except DataError:  # Django's wrapper around the same
                    if not fast:
                        raise
            raise AssertionError("unreachable")
        finally:
            cursor.execute("SELECT set_config('TimeZone', 'UTC', false)")


def _create_norm(cursor, cols: list[Col]) -> None:
    cursor.execute("DROP TABLE IF EXISTS _norm")
    exec_sql(cursor, norm_sql(cols))


def norm_sql(cols: list[Col]) -> str:
    """The statement that fills `_norm` from `_raw`, in three nested passes: each field's
    trimmed cell (`raw_<field>`), then its value (`<field>`), then its error
    (`err_<field>`). OFFSET 0 fences stop the planner from inlining a value's SQL once per
    use. One line per field and pass, so that a change shows as the lines it changes."""
    names = [c.info.name for c in cols]
    raws = [f"{c.raw} AS raw_{n}" for c, n in zip(cols, names, strict=True)]
    values = [f"raw_{n}, {c.value} AS {n}" for c, n in zip(cols, names, strict=True)]
    errors = [f"raw_{n}, {n}, {c.error} AS err_{n}" for c, n in zip(cols, names, strict=True)]
    # _ctrl: does any single-line text cell of the row hold a control character? One regex
    # over the row's cells together costs half of one per cell, and most rows have none.
    single = [c.raw for c in cols if single_line(c)]
    ctrl = f"concat({', '.join(single)}) ~ '{CONTROL}'" if single else "false"

    def fields(parts: list[str], indent: str) -> str:
        return f",\n{indent}".join(parts)

    return f"""CREATE TEMP TABLE _norm AS
SELECT row_no, _ctrl,
    {fields(errors, "    ")}
FROM (
    SELECT row_no, _ctrl,
        {fields(values, "        ")}
    FROM (
        SELECT r.row_no,
            ({ctrl}) AS _ctrl,
            {fields(raws, "            ")}
        FROM _raw r OFFSET 0
    ) AS raw OFFSET 0
) AS val
"""


def single_line(c: Col) -> bool:
    """A text field read from a column, whose control characters the import removes."""
    return c.info.kind == TEXT and c.info.name != "currency" and bool(c.column)
