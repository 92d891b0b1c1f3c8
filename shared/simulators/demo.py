"""`connector demo`: the scenario, narrated for a person watching."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from typing import TextIO

from connector.observability import logger
from simulators.qbd_scenario import DeskScenario, DeskScenarioReport
from simulators.scenario import Scenario, ScenarioReport


@dataclass(frozen=True)
class DemoReport:
    online: ScenarioReport
    desktop: DeskScenarioReport

    @property
    def ok(self) -> bool:
        return self.online.ok and self.desktop.ok


def run_demo(*, orders: int = 40, out: TextIO = sys.stdout, seed: int = 7) -> DemoReport:
    # The demo narrates; the functions' JSON logs and metrics would drown it out
    # (the audit trail keeps every event, and the summary reports it).
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logger.setLevel(logging.CRITICAL)
    for name in ("werkzeug", "aws_lambda_powertools", "connector"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    say(f"ml-connector demo: {orders} WooCommerce orders into QuickBooks Online (both simulated)")
    online = Scenario(orders=orders, seed=seed, progress=say).run()
    say("")
    say(online.summary())
    say("")
    say(
        f"... and {orders} orders into QuickBooks Desktop through a simulated Web Connector "
        "and company file"
    )
    desktop = DeskScenario(orders=orders, seed=seed, progress=say).run()
    say("")
    say(desktop.summary())
    return DemoReport(online, desktop)
