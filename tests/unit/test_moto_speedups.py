"""The local runtime's moto lists its services once, not at every request."""

from __future__ import annotations

import os

import moto
from moto import backends

from connector.local import moto_speedups


def test_moto_s_services_are_listed_once_and_are_what_its_package_holds() -> None:
    moto_speedups.list_modules_once()
    moto_speedups.list_modules_once()  # a second call changes nothing

    listed = backends.list_of_moto_modules()
    assert listed is backends.list_of_moto_modules(), "not listed again"
    package = os.path.dirname(moto.__file__)
    assert list(listed) == sorted(
        name
        for name in os.listdir(package)
        if os.path.isdir(os.path.join(package, name)) and not name.startswith("__")
    )
    assert {"dynamodb", "sqs", "secretsmanager"} <= set(listed)
