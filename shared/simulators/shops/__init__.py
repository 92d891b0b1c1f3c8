"""One seeded order stream, played into any simulated store (WooCommerce, BigCommerce,
Magento) through a store driver, and checked in the simulated books."""

from simulators.shops.bigcommerce import BigCommerceDriver
from simulators.shops.driver import Delivery, OrderView, Refused, StoreDriver
from simulators.shops.magento import MagentoDriver
from simulators.shops.woocommerce import WooCommerceDriver

__all__ = [
    "BigCommerceDriver",
    "Delivery",
    "MagentoDriver",
    "OrderView",
    "Refused",
    "StoreDriver",
    "WooCommerceDriver",
]


def driver_for(kind: str) -> StoreDriver:
    """A fresh driver for ``kind`` ("woocommerce", "bigcommerce", "magento")."""
    drivers: dict[str, type[StoreDriver]] = {
        "woocommerce": WooCommerceDriver,
        "bigcommerce": BigCommerceDriver,
        "magento": MagentoDriver,
    }
    return drivers[kind]()
