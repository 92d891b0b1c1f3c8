"""`connector demo`: one day of trading through all three stores, narrated for a person watching.

The same seeded order stream (``simulators.shops``) goes into a simulated WooCommerce, a
simulated BigCommerce and a simulated Magento store, each connected through the local
runtime to its own simulated QuickBooks Online company: webhooks or hints arrive twice and
late, Magento pushes nothing for 40 % of the orders (the reconcile poll finds them), and
QuickBooks throttles, loses a response, answers 503 and expires its token. Then the
bookkeeper's side in WooCommerce (an order parked on an inactive item, fixed and replayed)
and a WooCommerce day into QuickBooks Desktop through the Web Connector. Each part ends with
its summary: every order once, totals equal to the cent.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from typing import TextIO

from connector.observability import logger
from simulators.shops import BigCommerceDriver, MagentoDriver, WooCommerceDriver
from simulators.shops.desktop import DeskDayReport, DesktopDay
from simulators.shops.online import QBO_RATES, DayReport, OnlineDay

MAGENTO_SILENT_SHARE = 0.4  # Magento Open Source sends no webhooks: these are never pushed
GIFT_CARD = ("GIFT-25", "Gift Cards")  # mapped to an item the bookkeeper has made inactive
POSTER = 11  # a WooCommerce product deleted from the catalogue after it sold


@dataclass(frozen=True)
class DemoReport:
    stores: tuple[DayReport, ...]
    replay: DayReport
    desktop: DeskDayReport

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.stores) and self.replay.ok and self.desktop.ok


def _quiet() -> None:
    """The demo narrates; the functions' JSON logs and metrics would drown it out (the audit
    trail keeps every event, and the summaries report it)."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logger.setLevel(logging.CRITICAL)
    for name in ("werkzeug", "aws_lambda_powertools", "connector"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def run_demo(*, orders: int = 40, out: TextIO = sys.stdout, seed: int = 7) -> DemoReport:
    _quiet()

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    def part(title: str) -> None:
        say("")
        say(f"== {title} " + "=" * max(0, 86 - len(title)))

    say(
        f"ml-connector demo: one day of trading, the same {orders} orders in WooCommerce, "
        "BigCommerce and Magento, into QuickBooks Online and Desktop (all simulated)"
    )
    stores: list[DayReport] = []
    for driver, silent in (
        (WooCommerceDriver(seed=seed), 0.0),
        (BigCommerceDriver(), 0.0),
        (MagentoDriver(), MAGENTO_SILENT_SHARE),
    ):
        note = f" ({silent:.0%} of the orders never pushed: the poll finds them)" if silent else ""
        part(f"{driver.display_name} -> QuickBooks Online{note}")
        day = OnlineDay(driver, orders=orders, seed=seed, silent_share=silent, progress=say)
        stores.append(day.run())
        say("")
        say(stores[-1].summary())

    part("The bookkeeper's side, in WooCommerce: an order parked, fixed and replayed")
    replay = OnlineDay(
        WooCommerceDriver(seed=seed, retire=POSTER, prefixed_numbers="WC-"),
        orders=orders,
        seed=seed,
        park=GIFT_CARD,
        doc_prefix="WC-",
        foreign=tuple(QBO_RATES),
        progress=say,
    ).run()
    say("")
    say(replay.summary())

    part("WooCommerce -> QuickBooks Desktop, through the Web Connector")
    desktop = DesktopDay(
        WooCommerceDriver(seed=seed),
        orders=orders,
        seed=seed,
        foreign=("CAD", "EUR"),
        unusual_buyers=True,
        rules=True,
        progress=say,
    ).run()
    say("")
    say(desktop.summary())

    part("One order stream, three stores, QuickBooks Online")
    say(f"{'store':<13}{'orders':>7}{'post':>6}{'store calls/order':>19}"
        f"{'ingest p50 / p95 ms':>21}  result")  # fmt: skip
    for report in stores:
        pushes = report.pushes
        say(
            f"{report.store:<13}{report.orders:>7}{report.postable:>6}"
            f"{pushes.calls_per_order:>19.1f}"
            f"{pushes.ingest_ms(50):>12.1f} / {pushes.ingest_ms(95):<6.1f}  "
            + ("every order once, totals equal to the cent" if report.ok else "PROBLEMS above")
        )
    return DemoReport(tuple(stores), replay, desktop)
