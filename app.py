#!/usr/bin/env python3
"""CDK app: one ConnectorStack per tenant file.

cdk synth  -c tenant=example [-c alarm_email=ops@example.com]
cdk deploy -c tenant=example
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The library lives in shared/ (package `connector`); a checkout runs without installing it.
for entry in (ROOT, ROOT / "shared"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from aws_cdk import App  # noqa: E402

from connector.errors import ConfigError  # noqa: E402
from infra.functions import LambdaAssets  # noqa: E402
from infra.stack import stack_from_context  # noqa: E402
from scripts.build_assets import build_assets  # noqa: E402


def main() -> int:
    app = App()
    try:
        code_dir, layer_dir = build_assets()
        stack_from_context(app, assets=LambdaAssets(code_dir=code_dir, layer_dir=layer_dir))
    except ConfigError as exc:
        print(f"ml-connector: cannot synthesise: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
