"""Test support in one place: what the tests, the scenarios, the demo and the benchmark share.

- ``orders``: canonical orders, refunds and customers (``make_order(**changes)`` and named
  orders built on it)
- ``refs``: what a ledger adapter has resolved (QuickBooks Online ids, Desktop names)
- ``deployment``: the one way to run a tenant in the local runtime against the simulators
  (``deployment(...)`` yields a ``Rig``); ``online`` (WooCommerce into QuickBooks Online,
  ``qbo_rig``) and ``desktop`` (the ``desk`` connection and its Web Connector, ``qbwc_rig``)
  build on it
- ``qbo_http``, ``qbxml_messages``, ``magento``, ``cli``: speaking to one simulator (or the
  ``connector`` command) by hand
- ``clocks``, ``loopback``, ``reference``: clocks for simulators, one server fronting a fresh
  simulator per test, where the team's references are

``strategies`` (hypothesis) and ``synth`` (aws-cdk-lib, the checkout's ``infra``) need dev
dependencies; only tests import them. pytest fixtures over all this are in tests/conftest.py.
"""
