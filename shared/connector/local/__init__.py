"""The local runtime: the deployed functions on a laptop, against moto's server.

``LocalRuntime`` is the entry point; ``connector local`` drives it.
"""

from connector.local.context import LambdaContext
from connector.local.runtime import LocalRuntime

__all__ = ["LambdaContext", "LocalRuntime"]
