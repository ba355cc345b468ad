from tests.factories.pipeline import (
    AccountFactory,
    ArrChangeFactory,
    DealFactory,
    LeadFactory,
    SourceAccountFactory,
    SourceDealFactory,
    SourceLeadFactory,
    SourceSystemFactory,
)

__all__ = [
    "AccountFactory",
    "ArrChangeFactory",
    "DealFactory",
    "LeadFactory",
    "SourceAccountFactory",
    "SourceDealFactory",
    "SourceLeadFactory",
    "SourceSystemFactory",
]
