"""Hostile input against the whole API: schemathesis generates requests from the OpenAPI schema
(valid and invalid ones) for every operation and checks that none gets a 500 and that every
response conforms to the schema.

The schema is the one the app serves at /api/v1/schema/, generated in-process; requests go to
the WSGI app with an ops token (ops may call every operation, so the fuzzing reaches the code
behind the permission check). The data is a small demo: real leads, deals, a reconciliation run,
published weeks and mechanisms, so ids in paths sometimes exist.

The budget is FUZZ_EXAMPLES generated requests per operation: small in the normal suite (CI),
large under `make test-fuzz`. One test walks every operation and reports every failing one with
the request that broke it, instead of stopping at the first.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from revops.auth import TokenRateThrottle
from revops.permissions import Role
from revops.services import api_token_create

# Each request commits or rolls back on its own, as in production: one refused request must not
# poison the next one's transaction.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
]


def _describe(error: BaseException) -> str:
    """Schemathesis' own report: the check that failed, the response and a curl to reproduce."""
    return str(error) if str(error) else repr(error)


def _schema() -> schemathesis.schemas.BaseSchema:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    return schema


@pytest.fixture
def ops_token(make_user, monkeypatch) -> str:
    # The per-token rate limit is tested on its own; here it would only answer 429s.
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "100000/minute"})
    _token, key = api_token_create(by=make_user(Role.OPS, "fuzzer"), name="fuzz")
    return key


def test_no_operation_answers_hostile_input_with_a_server_error_or_off_schema(
    small_demo_transactional, ops_token
):
    schema = _schema()
    headers = {"Authorization": f"Token {ops_token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:  # one failure must not hide the others
            failures.append(f"{operation.label}:\n{_describe(error)}")
    assert operations > 40, "the schema lost its operations"
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
