"""Enumerations of the revenue data model. Stored values are stable; labels are for people."""

from __future__ import annotations

from django.db import models


class SystemRole(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"


class Vendor(models.TextChoices):
    """The product behind a source system: which built-in presets read its exports."""

    HUBSPOT = "hubspot", "HubSpot"
    SALESFORCE = "salesforce", "Salesforce"
    MARKETO = "marketo", "Marketo"
    GAINSIGHT = "gainsight", "Gainsight"
    OTHER = "other", "Other"


class ObjectType(models.TextChoices):
    LEAD = "lead", "Lead"
    ACCOUNT = "account", "Account"
    DEAL = "deal", "Deal"
    ARR = "arr", "ARR change"


class LeadStage(models.TextChoices):
    """Lifecycle of a lead, in order; disqualified can follow any stage before customer."""

    NEW = "new", "New"
    MQL = "mql", "MQL"
    SAL = "sal", "SAL"
    SQL = "sql", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    DISQUALIFIED = "disqualified", "Disqualified"


class DealStage(models.TextChoices):
    QUALIFICATION = "qualification", "Qualification"
    DISCOVERY = "discovery", "Discovery"
    PROPOSAL = "proposal", "Proposal"
    NEGOTIATION = "negotiation", "Negotiation"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"


CLOSED_DEAL_STAGES = (DealStage.CLOSED_WON, DealStage.CLOSED_LOST)


class DealSource(models.TextChoices):
    MARKETING = "marketing", "Marketing-sourced"
    SALES = "sales", "Sales-sourced"


class DealType(models.TextChoices):
    NEW = "new", "New business"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"


class ArrChangeKind(models.TextChoices):
    NEW = "new", "New"
    EXPANSION = "expansion", "Expansion"
    CONTRACTION = "contraction", "Contraction"
    CHURN = "churn", "Churn"


# ARR changes store a positive amount; these kinds reduce ARR.
NEGATIVE_ARR_KINDS = (ArrChangeKind.CONTRACTION, ArrChangeKind.CHURN)


class AccountHealth(models.TextChoices):
    GOOD = "good", "Good"
    NEUTRAL = "neutral", "Neutral"
    AT_RISK = "at_risk", "At risk"


class BatchStatus(models.TextChoices):
    """Lifecycle of an import batch. A batch is checked first; it writes nothing until it is
    confirmed (the browser) or asked to apply at once (command line, API)."""

    DRAFT = "draft", "Needs a mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PENDING = "pending", "Checked — awaiting confirmation"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected (nothing applied)"
    FAILED = "failed", "Failed (nothing applied)"
    SUPERSEDED = "superseded", "Superseded (nothing applied)"


FINISHED_BATCH_STATUSES = (
    BatchStatus.APPLIED,
    BatchStatus.REJECTED,
    BatchStatus.FAILED,
    BatchStatus.SUPERSEDED,
)


class ExportKind(models.TextChoices):
    """What a file holds: every record the system has (records absent from it were deleted
    there), or only the records changed since an earlier export."""

    FULL = "full", "Full export"
    DELTA = "delta", "Changes only (delta)"


class ApplyMode(models.TextChoices):
    """What an import does with a file in which some rows are wrong."""

    WHOLE = "whole", "Whole file or nothing"
    VALID_ROWS = "valid_rows", "Apply the valid rows, hold the rest"


class FindingKind(models.TextChoices):
    """Data-quality findings: rows an import accepts but that someone should look at. Stored
    values are stable; add a kind here (no migration: the column has no choices)."""

    MISSING_ACCOUNT = "missing_account", "No account"
    MISSING_LEAD = "missing_lead", "Lead not found"
    PLACEHOLDER_EMAIL = "placeholder_email", "Placeholder email"
    UNKNOWN_VALUE = "unknown_value", "Unknown picklist value"
    NUL_BYTES = "nul_bytes", "NUL bytes removed"
    CONTROL_CHARACTERS = "control_characters", "Control characters removed"
    DATE_ORDER = "date_order", "Dates out of order"
    CELL_CUT = "cell_cut", "Very long cell"
    OTHER_VENDOR = "other_vendor", "Another vendor's columns"


# Fields of each golden record whose value a field-authority rule picks from one system.
AUTHORITY_FIELDS: dict[str, tuple[str, ...]] = {
    ObjectType.LEAD: (
        "first_name",
        "last_name",
        "company",
        "stage",
        "source",
        "owner",
        "country",
        "created_at",
        "mql_at",
        "sal_at",
        "sql_at",
        "converted_at",
        "disqualified_at",
        "first_touch_at",
    ),
    ObjectType.ACCOUNT: (
        "name",
        "industry",
        "segment",
        "country",
        "employees",
        "owner",
        "health",
        "renewal_date",
    ),
    ObjectType.DEAL: (
        "name",
        "stage",
        "amount",
        "currency",
        "created_at",
        "close_date",
        "source",
        "deal_type",
        "owner",
        "product",
    ),
}


# --- Reconciliation ---------------------------------------------------------------------------


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed (nothing changed)"
    SKIPPED = "skipped", "Skipped (another run was running)"


class ReconciliationTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    BROWSER = "browser", "Browser"
    API = "api", "API"
    COMMAND = "command", "Command line"


class DiscrepancyKind(models.TextChoices):
    MISSING_IN_SALES = "missing_in_sales", "Missing in sales"
    MISSING_IN_MARKETING = "missing_in_marketing", "Missing in marketing"
    DUPLICATE = "duplicate", "Duplicate"
    MISMATCH = "mismatch", "Field mismatch"


# Fields a reconciliation compares between the two systems' versions of one record. Deal
# source is compared too: it decides what counts as marketing-sourced pipeline.
RECONCILED_FIELDS: dict[str, tuple[str, ...]] = {
    ObjectType.LEAD: ("stage", "mql_at", "sql_at", "source", "owner"),
    ObjectType.DEAL: ("amount", "stage", "close_date", "source"),
}


# How people name the fields reconciliation compares or a metric reads.
FIELD_LABELS: dict[str, str] = {
    "stage": "Stage",
    "mql_at": "MQL date",
    "sql_at": "SQL date",
    "source": "Source",
    "owner": "Owner",
    "amount": "Amount",
    "close_date": "Close date",
    "created_at": "Created date",
    "deal_type": "Deal type",
}


class BridgeReason(models.TextChoices):
    """Why a metric's value differs between marketing and sales, one bridge step each."""

    MISSING_IN_SALES = "missing_in_sales", "Never reached sales"
    MISSING_IN_MARKETING = "missing_in_marketing", "Never reached marketing"
    NOT_SYNCED = "not_synced", "Sales-sourced, not synced to marketing"
    DUPLICATE = "duplicate", "Duplicates"
    MISMATCH = "mismatch", "Field differs"
    OTHER_WEEK = "other_week", "Counted in another week"


class ConnectorAuth(models.TextChoices):
    """How a connection signs in to its system's API."""

    HUBSPOT_TOKEN = "hubspot_token", "HubSpot private app access token"
    SALESFORCE_JWT = "salesforce_jwt", "Salesforce connected app (OAuth 2.0 JWT bearer)"
    SALESFORCE_PASSWORD = "salesforce_password", "Salesforce username, password and token"


class SyncStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (the last good data stays)"


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    BROWSER = "browser", "Browser"
    COMMAND = "command", "Command line"
