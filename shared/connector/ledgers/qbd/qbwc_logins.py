"""How long the answer to a wrong Web Connector login waits.

A wrong user name or password is slowed, never locked out: the n-th failure in a
connection's window (qbwc_sessions.LOGIN_WINDOW_S) waits 1, 2, 4 ... seconds, at most
LOGIN_DELAY_CAP_S, before its "nvu". A lockout let anyone who knew the URL keep the
merchant's own Web Connector out with five guesses per window; a delay costs the
guesser time and the right password nothing (it is answered at once). The cap keeps a
call far inside the function's 29 s timeout. The passwords are 144 random bits and
scrypt-hashed, so the delay is a brake on noise, not the only defence.
"""

from __future__ import annotations

LOGIN_DELAY_FIRST_S = 1.0
LOGIN_DELAY_CAP_S = 4.0


def login_delay(failures: int) -> float:
    """Seconds the answer to the ``failures``-th wrong login in the window waits."""
    if failures < 1:
        return 0.0
    # Past the cap the exponent stops mattering; bounding it keeps 2**n small.
    exponent = min(failures - 1, 16)
    return min(LOGIN_DELAY_FIRST_S * 2**exponent, LOGIN_DELAY_CAP_S)
