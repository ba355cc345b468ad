from pipeline.models.connectors import SYNC_OBJECT_ORDER, Connection, SyncRun
from pipeline.models.corrections import OVERRIDABLE_TYPES, FieldOverride, LeadAlias
from pipeline.models.currency import ExchangeRate
from pipeline.models.dimensions import Owner, Region, RegionCountry, Team
from pipeline.models.golden import (
    Account,
    ArrChange,
    Deal,
    DealStageChange,
    Lead,
    LeadStageChange,
)
from pipeline.models.reconciliation import (
    BridgeStep,
    Discrepancy,
    ReconciledMetricWeek,
    ReconciliationRun,
)
from pipeline.models.sources import (
    SOURCE_MODELS,
    SourceAccount,
    SourceArrChange,
    SourceDeal,
    SourceLead,
    source_fields,
)
from pipeline.models.systems import (
    IMPORT_PHASES,
    FieldAuthority,
    ImportBatch,
    ImportFinding,
    ImportHeldRow,
    ImportPreset,
    ImportRowError,
    PlaceholderEmail,
    SourceSystem,
)

__all__ = [
    "IMPORT_PHASES",
    "OVERRIDABLE_TYPES",
    "SOURCE_MODELS",
    "SYNC_OBJECT_ORDER",
    "Connection",
    "SyncRun",
    "source_fields",
    "Account",
    "ArrChange",
    "BridgeStep",
    "Deal",
    "DealStageChange",
    "Discrepancy",
    "ExchangeRate",
    "FieldAuthority",
    "FieldOverride",
    "ImportBatch",
    "ImportFinding",
    "ImportHeldRow",
    "ImportPreset",
    "ImportRowError",
    "Lead",
    "Owner",
    "Region",
    "RegionCountry",
    "Team",
    "LeadAlias",
    "LeadStageChange",
    "PlaceholderEmail",
    "ReconciledMetricWeek",
    "ReconciliationRun",
    "SourceAccount",
    "SourceArrChange",
    "SourceDeal",
    "SourceLead",
    "SourceSystem",
]
