"""Where handlers are traced: Powertools' own rule, decided without importing the X-Ray SDK."""

from __future__ import annotations

import pytest

from connector.observability import Untraced, tracing_enabled

LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("environ", "traced"),
    [
        ({}, False),
        (LAMBDA, True),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({**LAMBDA, "AWS_CHALICE_CLI_MODE": "true"}, False),
    ],
)
def test_only_a_lambda_with_tracing_left_on_is_traced(
    environ: dict[str, str], traced: bool
) -> None:
    assert tracing_enabled(environ) is traced


def test_untraced_decorators_hand_back_the_function_itself() -> None:
    untraced = Untraced()

    def handler(event: dict[str, int], context: object) -> int:
        return event["n"] * 2

    for decorated in (
        untraced.capture_lambda_handler(capture_response=False)(handler),
        untraced.capture_lambda_handler(handler),
        untraced.capture_method(capture_response=False)(handler),
        untraced.capture_method(handler),
    ):
        assert decorated is handler
        assert decorated({"n": 21}, None) == 42
