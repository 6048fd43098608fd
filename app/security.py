"""The facilitator's PIN: chosen at first start, kept only as a slow hash (scrypt, from the
standard library), and checked with throttling so that guessing takes hours, not minutes.

Throttling counts failures in the store (so restarting the app does not reset it) and measures
the waiting time with a monotonic clock in memory: the device clock never decides anything.

The throttle does nothing against someone who copied the store: they guess offline at the
hash's own cost. Hence the cost (about 0.25 s a guess on the development machine) and PINs of
6 digits at least; even so, all 6-digit PINs take days, not years, on one core (docs/deploy.md,
"Stolen tablet"). A PIN hashed with weaker parameters, or chosen when 4 digits were enough,
keeps working: the hash is redone with today's parameters at its next right entry, and
`shorter_than_required` tells the facilitator screen to ask for a longer PIN.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable

from .errors import N_, ValidationError

PIN_MIN = 6                 # for a new PIN; a shorter one chosen before still verifies
PIN_MAX = 12
# scrypt cost: 80 MiB and about 240 ms on the 2-core development machine (2 ** 14 with r = 8,
# the parameters before, took 37 ms). Each hash records its own n, r, p, so older ones verify.
SCRYPT_N = 2 ** 16
SCRYPT_R = 10
SCRYPT_P = 1
FREE_ATTEMPTS = 3           # failures allowed before waiting starts
FIRST_WAIT = 5.0            # seconds, doubled at each further failure
MAX_WAIT = 300.0
_MAX_DOUBLINGS = 16         # FIRST_WAIT * 2 ** 16 is far past MAX_WAIT already

_SETTING = "facilitator_pin"
_FAILURES = "facilitator_pin_failures"

# What the facilitator screen says after a right PIN that is shorter than PIN_MIN.
PIN_TOO_SHORT = N_("Your PIN is shorter than {min} digits: choose a new one.")


class PinThrottled(Exception):
    """Too many wrong PINs: the next attempt is possible in `wait` seconds."""

    def __init__(self, wait: float):
        self.wait = wait
        super().__init__(f"wait {wait:.0f} s")


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=128 * r * (n + p + 2) + 1024 * 1024)


def _weaker_than_today(record: dict) -> bool:
    """True when a stored hash costs less memory or less time than SCRYPT_N, _R, _P would."""
    n, r, p = record.get("n", 0), record.get("r", 0), record.get("p", 0)
    return n * r < SCRYPT_N * SCRYPT_R or n * r * p < SCRYPT_N * SCRYPT_R * SCRYPT_P


def check_pin_format(pin: object) -> str:
    """Return `pin` if it is PIN_MIN (6) to PIN_MAX (12) digits, else raise ValidationError.
    For a new PIN only: one chosen before, when 4 digits were enough, still verifies."""
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit():
        raise ValidationError(N_("The PIN is made of digits only."), "pin")
    if not PIN_MIN <= len(pin) <= PIN_MAX:
        raise ValidationError(N_("The PIN has {min} to {max} digits."), "pin",
                              min=PIN_MIN, max=PIN_MAX)
    return pin


class FacilitatorPin:
    """`store` is the local Store (settings live there); `clock` is monotonic seconds."""

    def __init__(self, store, *, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.clock = clock
        # Known only after a right entry (the length is not kept anywhere).
        self.shorter_than_required = False
        failures = self.failures
        # After a restart with failures on record, the wait starts again from now.
        self._next_attempt = clock() + self._wait_for(failures) if failures else 0.0

    @property
    def is_set(self) -> bool:
        return self.store.get_setting(_SETTING) is not None

    @property
    def failures(self) -> int:
        value = self.store.get_setting(_FAILURES, 0)
        # A damaged or absurd record counts as many failures, never as none.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return FREE_ATTEMPTS + _MAX_DOUBLINGS if value else 0
        return value

    @staticmethod
    def _wait_for(failures: int) -> float:
        if failures < FREE_ATTEMPTS:
            return 0.0
        # The exponent is capped before the power is taken: 2 ** 1024 overflows a float, and a
        # wait that dropped to nothing (or a crash at every start) would end the throttle.
        doublings = min(failures - FREE_ATTEMPTS, _MAX_DOUBLINGS)
        return min(MAX_WAIT, FIRST_WAIT * 2 ** doublings)

    def wait_remaining(self) -> float:
        """Seconds before another attempt is accepted (0 when it is now)."""
        return max(0.0, self._next_attempt - self.clock())

    def set_pin(self, pin: str, confirmation: str | None = None) -> None:
        """Choose (or change) the PIN. Raises ValidationError on a bad or mismatched PIN."""
        check_pin_format(pin)
        if confirmation is not None and confirmation != pin:
            raise ValidationError(N_("The two PINs are different."), "confirmation")
        self._store_hash(pin)
        self.store.set_setting(_FAILURES, 0)
        self._next_attempt = 0.0
        self.shorter_than_required = False

    def _store_hash(self, pin: str) -> None:
        salt = secrets.token_bytes(16)
        digest = _derive(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        self.store.set_setting(_SETTING, {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R,
                                          "p": SCRYPT_P, "salt": salt.hex(),
                                          "hash": digest.hex()})

    def verify(self, pin: str) -> bool:
        """True when `pin` is right. Raises PinThrottled while attempts are slowed down;
        a wrong PIN counts as a failure and lengthens the next wait.

        A right PIN hashed with weaker parameters than today's is hashed again with today's;
        `shorter_than_required` then says whether it has fewer than PIN_MIN digits."""
        wait = self.wait_remaining()
        if wait > 0:
            raise PinThrottled(wait)
        record = self.store.get_setting(_SETTING)
        if record is None:
            return False
        ok = isinstance(pin, str) and hmac.compare_digest(
            _derive(pin, bytes.fromhex(record["salt"]), record["n"], record["r"], record["p"]),
            bytes.fromhex(record["hash"]))
        if ok:
            if self.failures:
                self.store.set_setting(_FAILURES, 0)
            self._next_attempt = 0.0
            if _weaker_than_today(record):
                self._store_hash(pin)
            self.shorter_than_required = len(pin) < PIN_MIN
            return True
        failures = self.failures + 1
        self.store.set_setting(_FAILURES, failures)
        self._next_attempt = self.clock() + self._wait_for(failures)
        return False
