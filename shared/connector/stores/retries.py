"""One GET with the retries every store's REST API needs: timeouts, connection errors, 429 and
5xx are tried again with exponential backoff and full jitter (at least the store's Retry-After,
up to a cap);
any other answer is the caller's to interpret. Still failing: StoreUnavailable, with the wait
the store last asked for."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from connector.retry import full_jitter
from connector.stores.port import StoreUnavailable

MAX_RETRY_AFTER_S = 30.0


def get_with_retries(
    send: Callable[[], httpx.Response],
    *,
    max_retries: int,
    backoff_s: float,
    timeout_s: float,
    message: Callable[[httpx.Response], str],
    unavailable: str,
) -> httpx.Response:
    """``send`` once, and up to ``max_retries`` more times while the failure is transient.

    ``message`` says what a failed answer said (appended to its status); ``unavailable``
    begins the StoreUnavailable text ("WooCommerce store for connection x is unavailable
    fetching order 7").
    """
    last_problem = "no attempt made"
    retry_after: float | None = None
    for attempt in range(max_retries + 1):
        if attempt:
            # Full jitter: many workers retrying one store spread out instead of arriving
            # together when it comes back.
            pause = full_jitter(backoff_s * (2 ** (attempt - 1)))
            if retry_after is not None:
                pause = max(pause, min(retry_after, MAX_RETRY_AFTER_S))
            time.sleep(pause)
        retry_after = None
        try:
            response = send()
        except httpx.TimeoutException:
            last_problem = f"no answer within {timeout_s:g} s"
            continue
        except httpx.TransportError as exc:
            last_problem = f"could not connect ({type(exc).__name__})"
            continue
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = retry_after_s(response)
            last_problem = f"HTTP {status}{message(response)}"
            continue
        return response
    raise StoreUnavailable(
        f"{unavailable}: {last_problem} after {max_retries + 1} attempts",
        retry_after_s=int(retry_after) if retry_after is not None else None,
    )


def retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
