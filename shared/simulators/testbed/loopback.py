"""One loopback server that fronts a fresh simulator per test (starting a server is slow)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from simulators.httpserver import Handler, LoopbackServer, Request, Response


class Router:
    """Passes each request to the handler plugged in last."""

    def __init__(self) -> None:
        self.app: Handler | None = None

    def __call__(self, request: Request) -> Response:
        if self.app is None:
            return Response.of_text("nothing is plugged into this loopback server", 503)
        return self.app(request)


@dataclass(frozen=True)
class Loopback:
    server: LoopbackServer
    router: Router

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def plug(self, app: Handler) -> str:
        """Serve ``app`` from now on; returns the server's base URL."""
        self.router.app = app
        return self.server.base_url


@contextmanager
def loopback() -> Iterator[Loopback]:
    router = Router()
    with LoopbackServer(router) as server:
        yield Loopback(server, router)
