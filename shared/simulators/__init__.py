"""Simulated WooCommerce store and QuickBooks Online company for the demo, tests and benchmarks.

Built from the public API references; they answer like the real services, faults included.
"""
