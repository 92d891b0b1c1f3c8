"""Wire details of the simulated QBO: exact-decimal JSON and Intuit's Pacific-time timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from simulators.httpserver import Response

# QBO stamps MetaData and "time" in the company's (here: Pacific daylight) time.
PACIFIC = timezone(timedelta(hours=-7))


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif value is None or isinstance(value, bool | str | int | float):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append("," if i else "")
            out.append(json.dumps(str(key), ensure_ascii=False) + ":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def dump_json(value: Any) -> bytes:
    """JSON with Decimal amounts written digit for digit, as QBO's numbers are."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, dump_json(payload), {"Content-Type": "application/json;charset=UTF-8"})


def timestamp(epoch_s: float) -> str:
    """MetaData style: 2013-11-15T15:22:43-07:00."""
    return datetime.fromtimestamp(epoch_s, UTC).astimezone(PACIFIC).isoformat(timespec="seconds")


def response_time(epoch_s: float) -> str:
    """The envelope's "time": milliseconds and offset."""
    moment = datetime.fromtimestamp(epoch_s, UTC).astimezone(PACIFIC)
    return moment.isoformat(timespec="milliseconds")


def local_date(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).astimezone(PACIFIC).date().isoformat()
