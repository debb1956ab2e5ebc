"""A schema fuzzer against the served OpenAPI of a real ``bentoml serve`` (schemathesis): every
operation, a fixed seed, bounded (up to 250 generated cases per operation by default, over 1,000 in
all): no answer is a 5xx, and every answer matches what the document says (its status is
listed, its content type and body match the schema). ``make fuzz`` runs >= 5,000 cases.

schemathesis's own pytest plugin does not run under pytest 9, so the test drives it through
hypothesis directly, one operation at a time."""

from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402  (schemathesis brings hypothesis)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.service, pytest.mark.slow]
CASES = int(os.environ.get("MOODTUNE_FUZZ_CASES", "250"))  # per operation (at most: small spaces give fewer)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_5xx_and_every_answer_matches_the_openapi(service_stack):
    url = service_stack["url"]
    schema = schemathesis.openapi.from_url(f"{url}/docs.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/recommend",
        "/recommend_text",
        "/recommend_image",
        "/analyze_audio",
        "/analyze_hrv",
        "/feedback",
        "/models",
    }
    failures: dict[str, str] = {}
    counted = {"cases": 0}
    for operation in operations:

        @seed(20261201)
        @settings(
            max_examples=CASES,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case):
            counted["cases"] += 1
            response = case.call(base_url=url, timeout=120)
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # collected: every operation is fuzzed, then all failures shown
            failures[f"{operation.method.upper()} {operation.path}"] = f"{type(exc).__name__}: {exc}"[:3000]
    print(f"fuzzed {len(operations)} operations, {counted['cases']} cases")
    # the GET operations take no input (one case each) and hypothesis stops early on small input spaces
    assert counted["cases"] >= min(1000, CASES * 4)
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())
