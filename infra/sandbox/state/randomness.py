"""Every random value the sandbox issues, from one `random.Random(seed)`.

Tickets, tokens, codes, nonces, the 16-byte encryption prefix, message ids and openids are all drawn
here, each under the lock so a value is drawn whole; a seeded sandbox that does the same things in
the same order therefore issues the same values.
"""

from __future__ import annotations

import random
import string
import threading
from typing import Any

URL_SAFE = string.ascii_letters + string.digits + "-_"


class Randomness:
    """The sandbox's one seeded random source; `reset()` reseeds it."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - a sandbox is deterministic on purpose

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)  # noqa: S311 - a sandbox is deterministic on purpose

    def export(self) -> list[Any]:
        """The generator's state, so a restored sandbox goes on drawing new values rather than
        issuing the seed's first ones again."""
        with self._lock:
            version, internal, gauss = self._rng.getstate()
            return [version, list(internal), gauss]

    def restore(self, state: object) -> None:
        rng = random.Random()  # noqa: S311 - a sandbox is deterministic on purpose
        try:
            if not isinstance(state, list) or len(state) != 3 or not isinstance(state[1], list):
                raise TypeError("expected [version, [numbers...], gauss]")
            rng.setstate((state[0], tuple(state[1]), state[2]))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"random state: {exc}") from None
        with self._lock:
            self._rng = rng

    def string(self, prefix: str, length: int) -> str:
        """`prefix` and `length` URL-safe characters (tickets, tokens, codes)."""
        with self._lock:
            return prefix + "".join(self._rng.choice(URL_SAFE) for _ in range(length))

    def nonce(self) -> str:
        with self._lock:
            return str(self._rng.randint(100_000_000, 9_999_999_999))

    def prefix(self) -> bytes:
        """The 16 random bytes that open an encrypted push."""
        with self._lock:
            return self._rng.randbytes(16)

    def msg_id(self) -> int:
        with self._lock:
            return self._rng.randint(10**18, 10**19 - 1)

    def openid(self) -> str:
        return self.string("o", 27)
