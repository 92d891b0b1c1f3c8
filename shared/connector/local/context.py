"""The context object Lambda passes to a handler, for handlers run in-process.

It carries what AWS's runtime provides and what Powertools'
``Logger.inject_lambda_context`` reads (function name, memory, ARN, request id)
plus the remaining-time clock derived from the function's timeout.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from connector.resources import FunctionSpec


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: object | None = None
    client_context: object | None = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_physical_name(tenant: str, spec: FunctionSpec) -> str:
    """The deployed name of a function: one per tenant stack."""
    return f"ml-connector-{tenant}-{spec.name}"


def new_context(*, tenant: str, spec: FunctionSpec, region: str, account_id: str) -> LambdaContext:
    """A fresh context for one invocation of ``spec``."""
    name = function_physical_name(tenant, spec)
    return LambdaContext(
        function_name=name,
        memory_limit_in_mb=spec.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{name}",
        aws_request_id=str(uuid.uuid4()),
        timeout_s=spec.timeout_s,
    )
