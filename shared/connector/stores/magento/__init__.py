"""The Magento 2 / Adobe Commerce store adapter.

- ``store``: ``MagentoShop`` (the store port) and ``open_store`` (the registry's opener).
- ``webhook``: ``read_webhook``, the signed push hint (polling is the primary trigger).
- ``client``: ``MagentoClient``, REST V1 reads with retries, classified failures and
  keyset polling by ``updated_at``.
- ``oauth``: OAuth 1.0a HMAC-SHA256 signing with the integration's four values.
- ``payloads`` / ``normalise``: REST payloads to the canonical model.
"""
