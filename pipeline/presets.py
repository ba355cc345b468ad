"""What an import reads: the fields of each object type, the mapping from a file's columns to
those fields, and the built-in mappings (presets) for the exports people really have.

A mapping is plain JSON, the same whether ops staff save it in the browser, pass it to
`import_records --mapping FILE` or send it to the API:

    {"object": "lead", "date_order": "iso", "decimal_separator": ".", "timezone": "Europe/Berlin",
     "fields": {"external_id": "Id",
                "email": {"column": "Email"},
                "stage": {"column": "Status", "values": {"Working - Contacted": "sal"}},
                "currency": {"default": "EUR"},
                "mql_at": {"column": "MQL_Date__c", "optional": true}}}

A field is a column name, or an object with `column`, optional `values` (the file's values,
matched case-insensitively, to ours; `"*"` catches the rest), `default` (used when the column
is absent or the cell blank) and `optional` (the column may be missing from the file). An id
that names a record of another system (closed deals whose lead column holds the marketing
system's MQL id) says so with `system`, that system's slug:

    "lead_external_id": {"column": "mql_id", "system": "olist-marketing"}

`system` is allowed on `lead_external_id` and `account_external_id`.
`date_order` is how slash and dot dates are read: `us` (MM/DD/YYYY), `eu` (DD/MM/YYYY) or
`iso` / `auto` (ISO only, or slash dates only where day and month cannot be confused).
`timezone` is the zone of times written without an offset; it defaults to the company's
`TIME_ZONE`. `ignore` lists columns no field reads; `booleans` lists checkbox columns no field
reads whose cells must be true/false, 1/0 or yes/no when the file has them. `phone_region` is
the country (ISO 3166 code, e.g. "BR") of phone numbers written without a `+` prefix; it
defaults to the setting `PHONE_DEFAULT_REGION`.

A lead needs no email: without one it is keyed by its id in the system (or by its phone, where
the system matches by phone), so a marketing file keyed by `mql_id` imports as it is.

A mapping can extend a built-in preset and give only what differs from it:

    {"extends": "salesforce-opportunity",
     "fields": {"stage": {"values": {"Prospección": "qualification",
                                     "Cerrada ganada": "closed_won"}},
                "deal_type": {"values": {"Existing Business": "expansion"}},
                "owner": "Owner_Name__c", "currency": null}}

Each field given is merged into the base's: `column`, `default` and `optional` replace the
base's, `values` are added to the base's value map (the extension wins for the same file value);
a field given as `null` is dropped from the base. `date_order`, `decimal_separator`, `timezone`
and `ignore` replace the base's when given. A preset saved this way keeps only its overrides
and its base's key, so that it follows the built-in preset when that improves.

A value of a choice field that the mapping does not know is a row error for a required field
(a deal's stage, an ARR change's kind); for an optional one (a lead's stage, a deal's type or
source, an account's health) the row imports with what a blank cell means and the value is
counted as an "unknown picklist value" finding. Either way the checked batch lists every value
it found per choice field, and ops map the unknown ones on the batch's Values page.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

from pipeline.choices import (
    CLOSED_DEAL_STAGES,
    AccountHealth,
    ArrChangeKind,
    DealSource,
    DealStage,
    DealType,
    LeadStage,
    ObjectType,
)

TEXT, EMAIL, DOMAIN, DATETIME, DATE, DECIMAL, INTEGER, CHOICE, PHONE = (
    "text", "email", "domain", "datetime", "date", "decimal", "integer", "choice", "phone",
)  # fmt: skip
# Fields whose id may name a record of another system (FieldMap.system).
SYSTEM_FIELDS = ("lead_external_id", "account_external_id")
# A column checked to hold true or false (a mapping's `booleans`), read into no field.
BOOLEAN = "boolean"
BOOLEAN_VALUES = ("true", "false", "1", "0", "yes", "no")
DATE_ORDERS = ("iso", "us", "eu", "auto")
# A blank_default that means "the company currency", read when an import runs (settings may
# differ between the module's import and the run, as they do in tests).
COMPANY_CURRENCY = "<company currency>"


@dataclass(frozen=True)
class FieldInfo:
    """One field an import can fill, with the rule its cells must follow."""

    name: str
    kind: str
    label: str
    required: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    blank_default: str | None = None  # what a blank cell means when it is not an error
    positive: bool = False  # decimals: > 0 rather than >= 0
    # Required by meaning rather than always: (field, its values that need this one, why).
    # A closed deal has a close date and a created date; a prospecting deal may have neither.
    required_when: tuple[str, tuple[str, ...], str] | None = None

    def blank(self) -> str | None:
        """What a blank cell means (blank_default, with the company currency filled in)."""
        if self.blank_default == COMPANY_CURRENCY:
            return settings.COMPANY_CURRENCY
        return self.blank_default


def _f(name, kind, label, **kw) -> FieldInfo:
    return FieldInfo(name=name, kind=kind, label=label, **kw)


_EXT = _f("external_id", TEXT, "Id in the system", required=True, max_length=255)
_CLOSED_DEAL = ("stage", tuple(CLOSED_DEAL_STAGES), "for a closed deal")
FIELDS: dict[str, tuple[FieldInfo, ...]] = {
    ObjectType.LEAD: (
        _EXT,
        _f("email", EMAIL, "Email", max_length=254),
        _f("phone", PHONE, "Phone", max_length=50),
        _f("first_name", TEXT, "First name", max_length=100),
        _f("last_name", TEXT, "Last name", max_length=100),
        _f("company", TEXT, "Company", max_length=255),
        _f("stage", CHOICE, "Lifecycle stage", choices=tuple(LeadStage.values),
           blank_default=LeadStage.NEW),
        _f("source", TEXT, "Source channel", max_length=100),
        _f("owner", TEXT, "Owner", max_length=100),
        _f("country", TEXT, "Country", max_length=100),
        _f("created_at", DATETIME, "Created", required=True),
        _f("mql_at", DATETIME, "Became MQL"),
        _f("sal_at", DATETIME, "Became SAL"),
        _f("sql_at", DATETIME, "Became SQL"),
        _f("converted_at", DATETIME, "Converted"),
        _f("disqualified_at", DATETIME, "Disqualified"),
        _f("first_touch_at", DATETIME, "First sales touch"),
        _f("account_external_id", TEXT, "Account id in the system", max_length=255),
        _f("converted_deal_external_id", TEXT, "Converted deal id", max_length=255),
    ),
    ObjectType.ACCOUNT: (
        _EXT,
        _f("name", TEXT, "Name", required=True, max_length=255),
        _f("domain", DOMAIN, "Website or domain", max_length=255),
        _f("industry", TEXT, "Industry", max_length=100),
        _f("segment", TEXT, "Segment", max_length=100),
        _f("country", TEXT, "Country", max_length=100),
        _f("employees", INTEGER, "Employees"),
        _f("owner", TEXT, "Owner", max_length=100),
        _f("health", CHOICE, "Health", choices=tuple(AccountHealth.values), blank_default=""),
        _f("renewal_date", DATE, "Renewal date"),
    ),
    ObjectType.DEAL: (
        _EXT,
        _f("name", TEXT, "Name", required=True, max_length=255),
        _f("stage", CHOICE, "Stage", required=True, choices=tuple(DealStage.values)),
        _f("amount", DECIMAL, "Amount", blank_default="0"),
        _f("currency", TEXT, "Currency", max_length=3, blank_default=COMPANY_CURRENCY),
        _f("created_at", DATETIME, "Created", required_when=_CLOSED_DEAL),
        _f("close_date", DATE, "Close date", required_when=_CLOSED_DEAL),
        _f("source", CHOICE, "Marketing- or sales-sourced", choices=tuple(DealSource.values),
           blank_default=""),
        _f("deal_type", CHOICE, "Type", choices=tuple(DealType.values),
           blank_default=DealType.NEW),
        _f("owner", TEXT, "Owner", max_length=100),
        _f("product", TEXT, "Product", max_length=100),
        _f("account_external_id", TEXT, "Account id in the system", max_length=255),
        _f("lead_external_id", TEXT, "Lead id in the system", max_length=255),
        _f("crm_id", TEXT, "CRM id (for a synced copy)", max_length=255),
    ),
    ObjectType.ARR: (
        _EXT,
        _f("account_external_id", TEXT, "Account id in the system", required=True,
           max_length=255),
        _f("kind", CHOICE, "Kind", required=True, choices=tuple(ArrChangeKind.values)),
        _f("amount", DECIMAL, "Annual amount", required=True, positive=True),
        _f("currency", TEXT, "Currency", max_length=3, blank_default=COMPANY_CURRENCY),
        _f("effective_date", DATE, "Effective date", required=True),
    ),
}  # fmt: skip


_REGIONS = phonenumbers.SUPPORTED_REGIONS


def field_info(object_type: str, name: str) -> FieldInfo:
    return next(f for f in FIELDS[object_type] if f.name == name)


@dataclass(frozen=True)
class FieldMap:
    column: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    default: str | None = None
    optional: bool = False
    system: str | None = None  # slug of the system the id belongs to (SYSTEM_FIELDS)


@dataclass(frozen=True)
class Mapping:
    object_type: str
    fields: dict[str, FieldMap]
    date_order: str = "iso"
    decimal_separator: str = "."
    # A file's wall-clock times (those with no offset) are in this zone: the company's
    # TIME_ZONE unless the mapping says otherwise.
    timezone: str = field(default_factory=lambda: settings.TIME_ZONE)
    # Columns the export always has that no field needs; not reported as unknown.
    ignore: tuple[str, ...] = ()
    # The built-in preset this mapping extends ("" for none); `fields` are already resolved.
    extends: str = ""
    # Country of phone numbers written without +: '' means settings.PHONE_DEFAULT_REGION.
    phone_region: str = ""

    def region(self) -> str:
        return self.phone_region or settings.PHONE_DEFAULT_REGION

    # Checkbox columns (Salesforce's IsConverted, IsDeleted …) that no field reads but that
    # must hold true or false when the file has them: any other value is a row error.
    booleans: tuple[str, ...] = ()

    def columns(self) -> list[str]:
        """The file columns this mapping reads, in field order."""
        return [m.column for m in self.fields.values() if m.column]

    def required_columns(self) -> list[str]:
        return [m.column for m in self.fields.values() if m.column and not m.optional]

    def to_dict(self) -> dict:
        out: dict = {}
        for name, m in self.fields.items():
            spec: dict = {}
            if m.column:
                spec["column"] = m.column
            if m.values:
                spec["values"] = dict(m.values)
            if m.default is not None:
                spec["default"] = m.default
            if m.optional:
                spec["optional"] = True
            if m.system:
                spec["system"] = m.system
            out[name] = spec["column"] if list(spec) == ["column"] else spec
        data = {
            "object": self.object_type,
            "date_order": self.date_order,
            "decimal_separator": self.decimal_separator,
            "timezone": self.timezone,
            "fields": out,
        }
        if self.ignore:
            data["ignore"] = list(self.ignore)
        if self.phone_region:
            data["phone_region"] = self.phone_region
        if self.booleans:
            data["booleans"] = list(self.booleans)
        return data


def mapping_extend(data: dict) -> dict:
    """The whole mapping an extending mapping (`"extends": <built-in preset key>`) stands for:
    its base with the overrides merged in, as the module docstring describes. A mapping that
    extends nothing is returned as it is. Raises ValidationError for an unknown base."""
    base_key = data.get("extends")
    if base_key in (None, ""):
        return data
    if not isinstance(base_key, str) or base_key not in BUILTIN_PRESETS:
        raise ValidationError(
            f"'extends' names a built-in preset: one of {', '.join(BUILTIN_PRESETS)} "
            f"(not {base_key!r})."
        )
    base = BUILTIN_PRESETS[base_key]["mapping"]
    merged = {k: v for k, v in base.items() if k != "fields"}
    merged.update({k: v for k, v in data.items() if k not in ("extends", "fields")})
    if "object" in data and data["object"] != base["object"]:
        raise ValidationError(
            f"Preset {base_key!r} reads {base['object']}s; an extension of it cannot read "
            f"{data['object']}s."
        )
    fields = {name: _spec(spec) for name, spec in base["fields"].items()}
    overrides = data.get("fields") or {}
    if not isinstance(overrides, dict):
        raise ValidationError("'fields' maps field names to columns or objects.")
    for name, spec in overrides.items():
        if spec is None:
            fields.pop(name, None)
            continue
        spec = _spec(spec)
        if not isinstance(spec, dict):
            fields[name] = spec  # reported by mapping_from_dict
            continue
        out = dict(fields.get(name, {}))
        values = out.pop("values", None) or {}
        out.update({k: v for k, v in spec.items() if k != "values"})
        extra = spec.get("values") or {}
        if isinstance(values, dict) and isinstance(extra, dict):
            # Matched case-insensitively: the extension's spelling replaces the base's.
            folded = {str(k).strip().casefold() for k in extra}
            values = {k: v for k, v in values.items() if k.strip().casefold() not in folded}
            values.update(extra)
        else:
            values = extra
        if values:
            out["values"] = values
        fields[name] = out
    merged["fields"] = fields
    return merged


def _spec(spec: object) -> object:
    return {"column": spec} if isinstance(spec, str) else spec


def mapping_from_dict(data: object, *, object_type: str | None = None) -> Mapping:
    """Read and check a mapping, resolving `extends` first. Every problem is reported at once,
    in words an ops person can act on; a mapping that passes can be run."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ValidationError("A mapping is a JSON object with 'object' and 'fields'.")
    extends = data.get("extends") or ""
    data = mapping_extend(data)
    kind = data.get("object", object_type)
    if kind not in FIELDS:
        raise ValidationError(f"Unknown object {kind!r}: use one of {', '.join(FIELDS)}.")
    if object_type and kind != object_type:
        problems.append(f"This mapping is for {kind}s, not {object_type}s.")
    known = {f.name: f for f in FIELDS[kind]}
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise ValidationError("The mapping names no fields ('fields' is missing or empty).")
    fields: dict[str, FieldMap] = {}
    for name, spec in raw_fields.items():
        if name not in known:
            problems.append(f"Unknown field {name!r} for {kind}s; known: {', '.join(known)}.")
            continue
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict):
            problems.append(f"Field {name!r}: give a column name or an object.")
            continue
        column = spec.get("column") or None
        values = spec.get("values") or {}
        default = spec.get("default")
        if column is None and default is None:
            problems.append(f"Field {name!r} names neither a column nor a default.")
        if column is not None and not isinstance(column, str):
            problems.append(f"Field {name!r}: the column must be text.")
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            problems.append(f"Field {name!r}: 'values' maps file values to ours, text to text.")
            values = {}
        info = known[name]
        if values and info.kind != CHOICE:
            problems.append(f"Field {name!r} takes no value map ({info.kind}).")
        allowed = set(info.choices) | ({""} if info.blank_default == "" else set())
        bad = sorted({v for v in values.values() if v not in allowed})
        if info.kind == CHOICE and bad:
            problems.append(
                f"Field {name!r}: {', '.join(map(repr, bad))} is not one of "
                f"{', '.join(info.choices)}."
            )
        system = spec.get("system") or None
        if system is not None and (name not in SYSTEM_FIELDS or not isinstance(system, str)):
            problems.append(
                f"Field {name!r}: 'system' (the slug of the system an id belongs to) is only "
                f"for {' and '.join(SYSTEM_FIELDS)}."
            )
            system = None
        fields[name] = FieldMap(
            column=column,
            values={k.strip().casefold(): v for k, v in values.items()},
            default=None if default is None else str(default),
            optional=bool(spec.get("optional", False)),
            system=system,
        )
    for info in FIELDS[kind]:
        if info.required and info.name not in fields:
            problems.append(f"Required field {info.name!r} ({info.label}) is not mapped.")
    date_order = data.get("date_order", "iso")
    if date_order not in DATE_ORDERS:
        problems.append(f"date_order {date_order!r}: use one of {', '.join(DATE_ORDERS)}.")
    decimal = data.get("decimal_separator", ".")
    if decimal not in (".", ","):
        problems.append(f"decimal_separator {decimal!r}: use '.' or ','.")
    tz = data.get("timezone") or settings.TIME_ZONE
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone {tz!r} is not a known time zone (e.g. Europe/Berlin).")
    ignore = data.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        problems.append("'ignore' is a list of column names.")
        ignore = []
    region = data.get("phone_region") or ""
    if region and (not isinstance(region, str) or region.upper() not in _REGIONS):
        problems.append(f"phone_region {region!r}: use a country code such as US, BR or DE.")
        region = ""
    booleans = data.get("booleans", [])
    if not isinstance(booleans, list) or not all(isinstance(c, str) for c in booleans):
        problems.append("'booleans' is a list of column names.")
        booleans = []
    if problems:
        raise ValidationError(problems)
    return Mapping(
        object_type=kind,
        fields=fields,
        date_order=date_order,
        decimal_separator=decimal,
        timezone=str(tz),
        ignore=tuple(ignore),
        extends=extends,
        phone_region=region.upper(),
        booleans=tuple(booleans),
    )


# --- Built-in presets -------------------------------------------------------------------------
# Column names as each vendor's export writes them. Sources:
# - Salesforce API field names (Data Loader and report exports by API name): Object Reference,
#   Lead https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_lead.htm
#   Opportunity …/sforce_api_objects_opportunity.htm, Account …/sforce_api_objects_account.htm;
#   LeadStatus and OpportunityStage picklists (…/sforce_api_objects_leadstatus.htm,
#   …/object-opportunitystage.html). Default lead statuses: Open - Not Contacted, Working -
#   Contacted, Closed - Converted, Closed - Not Converted; default opportunity stages:
#   Prospecting … Negotiation/Review, Closed Won, Closed Lost. Salesforce has no standard MQL or
#   SQL date; the preset reads the common custom fields (MQL_Date__c …) when the file has them.
# - HubSpot exports use property labels: "Record ID", "Lifecycle Stage", "Create Date",
#   "Became a Marketing Qualified Lead Date", "Original Source" …; lifecycle stages
#   https://knowledge.hubspot.com/contacts/use-lifecycle-stages (Subscriber, Lead, Marketing
#   Qualified Lead, Sales Qualified Lead, Opportunity, Customer, Evangelist, Other; teams add
#   custom stages such as Sales Accepted Lead). Default deal pipeline stages: Appointment
#   Scheduled, Qualified to Buy, Presentation Scheduled, Decision Maker Bought-In, Contract Sent,
#   Closed Won, Closed Lost (https://knowledge.hubspot.com/deals/set-up-and-customize-your-deal-pipelines-and-deal-stages).
#   HubSpot writes dates as "2024-01-15 10:45" in the portal's time zone.

_SF_LEAD_STATUS = {
    "Open - Not Contacted": "new", "Open": "new", "New": "new", "Nurturing": "new",
    "Marketing Qualified": "mql", "MQL": "mql",
    "Working - Contacted": "sal", "Working": "sal", "Sales Accepted": "sal", "SAL": "sal",
    "Sales Qualified": "sql", "Qualified": "sql", "SQL": "sql",
    "Closed - Converted": "opportunity", "Converted": "opportunity",
    "Customer": "customer",
    # A contact sales created on an account (a sync reads it as a lead): a person sales
    # works with, qualified by sales' own hand.
    "Contact": "sql",
    "Closed - Not Converted": "disqualified", "Unqualified": "disqualified",
    "Disqualified": "disqualified",
}  # fmt: skip
_SF_OPP_STAGE = {
    "Prospecting": "qualification", "Qualification": "qualification",
    "Needs Analysis": "discovery", "Value Proposition": "discovery",
    "Id. Decision Makers": "discovery", "Perception Analysis": "discovery",
    "Proposal/Price Quote": "proposal", "Negotiation/Review": "negotiation",
    "Closed Won": "closed_won", "Closed Lost": "closed_lost",
}  # fmt: skip
_SF_OPP_TYPE = {
    "New Customer": "new", "New Business": "new",
    "Existing Customer - Upgrade": "expansion", "Upsell": "expansion", "Expansion": "expansion",
    "Existing Customer - Replacement": "renewal", "Existing Customer - Downgrade": "renewal",
    "Renewal": "renewal",
}  # fmt: skip
# Lead sources that mean sales found the deal; any other source is marketing's.
_SALES_SOURCES = {
    "Outbound": "sales", "Cold Call": "sales", "Sales": "sales", "Existing Customer": "sales",
    "Employee Referral": "sales", "*": "marketing",
}  # fmt: skip
_HS_LIFECYCLE = {
    "Subscriber": "new", "Lead": "new", "Other": "new",
    "Marketing Qualified Lead": "mql", "marketingqualifiedlead": "mql",
    "Sales Accepted Lead": "sal",
    "Sales Qualified Lead": "sql", "salesqualifiedlead": "sql",
    "Opportunity": "opportunity", "Customer": "customer", "Evangelist": "customer",
    "Disqualified": "disqualified", "Unqualified": "disqualified",
}  # fmt: skip
_HS_DEAL_STAGE = {
    "Appointment Scheduled": "qualification", "Qualified to Buy": "qualification",
    "Presentation Scheduled": "discovery", "Decision Maker Bought-In": "proposal",
    "Contract Sent": "negotiation", "Closed Won": "closed_won", "Closed Lost": "closed_lost",
    "appointmentscheduled": "qualification", "qualifiedtobuy": "qualification",
    "presentationscheduled": "discovery", "decisionmakerboughtin": "proposal",
    "contractsent": "negotiation", "closedwon": "closed_won", "closedlost": "closed_lost",
}  # fmt: skip
_HS_DEAL_TYPE = {"New Business": "new", "newbusiness": "new", "Existing Business": "expansion",
                 "existingbusiness": "expansion", "Renewal": "renewal"}  # fmt: skip


def _opt(column: str) -> dict:
    return {"column": column, "optional": True}


BUILTIN_PRESETS: dict[str, dict] = {
    "salesforce-lead": {
        "label": "Salesforce — Leads (API field names)",
        "mapping": {
            "object": "lead", "date_order": "iso", "booleans": ["IsConverted", "IsDeleted"],
            "fields": {
                "external_id": "Id", "email": "Email", "first_name": "FirstName",
                "last_name": "LastName", "company": "Company",
                "stage": {"column": "Status", "values": _SF_LEAD_STATUS},
                "source": "LeadSource", "created_at": "CreatedDate",
                "converted_at": "ConvertedDate",
                "converted_deal_external_id": "ConvertedOpportunityId", "owner": "OwnerId",
                "mql_at": _opt("MQL_Date__c"), "sal_at": _opt("SAL_Date__c"),
                "sql_at": _opt("SQL_Date__c"), "disqualified_at": _opt("Disqualified_Date__c"),
                "first_touch_at": _opt("First_Touch_Date__c"),
                "account_external_id": _opt("ConvertedAccountId"),
                "country": _opt("Country"),
            },
        },
    },
    "salesforce-opportunity": {
        "label": "Salesforce — Opportunities (API field names)",
        "mapping": {
            "object": "deal", "date_order": "iso",
            "booleans": ["IsClosed", "IsWon", "IsDeleted"], "fields": {
                "external_id": "Id", "account_external_id": "AccountId", "name": "Name",
                "stage": {"column": "StageName", "values": _SF_OPP_STAGE},
                "amount": "Amount", "close_date": "CloseDate", "created_at": "CreatedDate",
                "source": {"column": "LeadSource", "values": _SALES_SOURCES},
                "deal_type": {"column": "Type", "values": _SF_OPP_TYPE}, "owner": "OwnerId",
                "currency": {"column": "CurrencyIsoCode", "optional": True},
                "product": _opt("Product__c"),
            },
        },
    },
    "salesforce-account": {
        "label": "Salesforce — Accounts (API field names)",
        "mapping": {
            "object": "account", "booleans": ["IsDeleted"], "fields": {
                "external_id": "Id", "name": "Name", "domain": "Website",
                "industry": "Industry", "employees": "NumberOfEmployees",
                "owner": _opt("OwnerId"), "country": _opt("BillingCountry"),
                "segment": _opt("Type"),
            },
        },
    },
    "hubspot-contact": {
        "label": "HubSpot — Contacts export",
        "mapping": {
            "object": "lead", "date_order": "iso", "fields": {
                "external_id": "Record ID", "email": "Email", "first_name": "First Name",
                "last_name": "Last Name",
                "stage": {"column": "Lifecycle Stage", "values": _HS_LIFECYCLE},
                "source": "Original Source", "created_at": "Create Date",
                "mql_at": "Became a Marketing Qualified Lead Date",
                "sql_at": "Became a Sales Qualified Lead Date",
                "company": "Associated Company",
                "owner": _opt("Contact owner"),
                "sal_at": _opt("Became a Sales Accepted Lead Date"),
                "converted_at": _opt("Became an Opportunity Date"),
                "account_external_id": _opt("Associated Company IDs (Primary)"),
                "country": _opt("Country/Region"),
            },
        },
    },
    "hubspot-deal": {
        "label": "HubSpot — Deals export",
        "mapping": {
            "object": "deal", "date_order": "iso", "ignore": ["Pipeline"], "fields": {
                "external_id": "Record ID", "name": "Deal Name",
                "stage": {"column": "Deal Stage", "values": _HS_DEAL_STAGE},
                "amount": "Amount", "close_date": "Close Date", "created_at": "Create Date",
                "deal_type": {"column": "Deal Type", "values": _HS_DEAL_TYPE},
                "source": {"column": "Original Source", "values": _SALES_SOURCES},
                "owner": _opt("Deal owner"),
                "crm_id": _opt("Salesforce Opportunity ID"),
                "account_external_id": _opt("Associated Company IDs (Primary)"),
                "currency": _opt("Currency"),
            },
        },
    },
    "hubspot-company": {
        "label": "HubSpot — Companies export",
        "mapping": {
            "object": "account", "fields": {
                "external_id": "Record ID", "name": "Company name",
                "domain": "Company Domain Name", "industry": "Industry",
                "employees": "Number of Employees", "owner": _opt("Company owner"),
                "country": _opt("Country/Region"), "segment": _opt("Segment"),
            },
        },
    },
    # What the HubSpot connector pulls (CRM v3 objects API): properties by internal name, as
    # https://developers.hubspot.com/docs/api/crm/understanding-the-crm lists them; a deal's
    # company comes from its associations, written to the column "associations.companies".
    "hubspot-api-contact": {
        "label": "HubSpot — Contacts (API property names)",
        "mapping": {
            "object": "lead", "date_order": "iso", "fields": {
                "external_id": "hs_object_id", "email": "email", "first_name": "firstname",
                "last_name": "lastname",
                "stage": {"column": "lifecyclestage", "values": _HS_LIFECYCLE},
                "source": "hs_analytics_source", "created_at": "createdate",
                "mql_at": "hs_lifecyclestage_marketingqualifiedlead_date",
                "sql_at": "hs_lifecyclestage_salesqualifiedlead_date",
                "converted_at": "hs_lifecyclestage_opportunity_date",
                "company": "company", "owner": "hubspot_owner_id",
                "account_external_id": "associatedcompanyid", "country": _opt("country"),
            },
        },
    },
    "hubspot-api-deal": {
        "label": "HubSpot — Deals (API property names)",
        "mapping": {
            "object": "deal", "date_order": "iso", "ignore": ["pipeline"], "fields": {
                "external_id": "hs_object_id", "name": "dealname",
                "stage": {"column": "dealstage", "values": _HS_DEAL_STAGE},
                "amount": "amount", "close_date": "closedate", "created_at": "createdate",
                "deal_type": {"column": "dealtype", "values": _HS_DEAL_TYPE},
                "source": {"column": "hs_analytics_source", "values": _SALES_SOURCES},
                "owner": "hubspot_owner_id",
                "currency": {"column": "deal_currency_code", "optional": True},
                "account_external_id": "associations.companies",
            },
        },
    },
    "hubspot-api-company": {
        "label": "HubSpot — Companies (API property names)",
        "mapping": {
            "object": "account", "fields": {
                "external_id": "hs_object_id", "name": "name", "domain": "domain",
                "industry": "industry", "employees": "numberofemployees",
                "owner": "hubspot_owner_id", "country": _opt("country"),
            },
        },
    },
}  # fmt: skip


def builtin_preset(key: str) -> Mapping:
    return mapping_from_dict(BUILTIN_PRESETS[key]["mapping"])
