"""The wait before a wrong Web Connector login's answer: growing, capped, none for the right one."""

from __future__ import annotations

from connector.ledgers.qbd.qbwc_logins import LOGIN_DELAY_CAP_S, login_delay


def test_each_wrong_login_in_the_window_waits_twice_as_long_up_to_the_cap() -> None:
    assert [login_delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_no_number_of_failures_makes_the_wait_longer_than_the_cap() -> None:
    # The function's timeout is 29 s: a guesser must never make a call run out of time.
    assert LOGIN_DELAY_CAP_S < 10
    assert max(login_delay(n) for n in range(1, 100_000, 997)) == LOGIN_DELAY_CAP_S
    assert login_delay(10**9) == LOGIN_DELAY_CAP_S


def test_no_failure_no_wait() -> None:
    assert login_delay(0) == 0.0
