"""moto's server in a process of its own, for a LocalRuntime whose workers run apart.

moto answers every DynamoDB, SQS and Secrets Manager call of every function; in the
runtime's process its request handling competes for the interpreter lock with the gateway
that answers the stores' webhooks. ``MotoProcess`` serves it from a child Python instead
(``python -c "...moto_process import main; main()"``), with ThreadedMotoServer's start/stop and
address. The child prints its address once listening and stops when its standard input
closes, so it never outlives the runtime that started it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

_START_TIMEOUT_S = 60.0


class MotoProcess:
    """A moto server on 127.0.0.1 in a child process."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._host = ""
        self._port = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            # -c, not -m: the package imports this module, which must not run twice.
            [sys.executable, "-c", "from connector.local.moto_process import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().split()
        if len(line) != 2:
            self.stop()
            raise RuntimeError("moto's server process did not start; its error is on stderr")
        self._host, self._port = line[0], int(line[1])

    def get_host_and_port(self) -> tuple[str, int]:
        return self._host, self._port

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def main() -> None:
    from moto.server import ThreadedMotoServer

    from connector.local import moto_atomic, moto_speedups

    moto_speedups.install()
    moto_atomic.install()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(host, port, flush=True)
    sys.stdin.read()  # until the runtime closes our input (or exits)
    server.stop()
