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
    FieldAuthority,
    ImportBatch,
    ImportPreset,
    ImportRowError,
    SourceSystem,
)

__all__ = [
    "SOURCE_MODELS",
    "source_fields",
    "Account",
    "ArrChange",
    "BridgeStep",
    "Deal",
    "DealStageChange",
    "Discrepancy",
    "FieldAuthority",
    "ImportBatch",
    "ImportPreset",
    "ImportRowError",
    "Lead",
    "LeadStageChange",
    "ReconciledMetricWeek",
    "ReconciliationRun",
    "SourceAccount",
    "SourceArrChange",
    "SourceDeal",
    "SourceLead",
    "SourceSystem",
]
