"""Run the installed ``connector`` command against a local runtime's embedded AWS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from connector.local import LocalRuntime


def connector(
    runtime: LocalRuntime, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``connector`` command, pointed at the runtime's embedded AWS only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(runtime.env)
    return subprocess.run(
        [str(Path(sys.executable).with_name("connector")), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
