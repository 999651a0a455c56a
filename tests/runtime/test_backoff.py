from __future__ import annotations

import random

from benchlink.runtime.device import Backoff


def test_backoff_grows_exponentially_with_jitter_is_capped_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [min(8.0, 0.5 * 2**i) for i in range(8)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert max(delays) <= 8.0 and delays[-1] >= 4.0
    assert len(set(delays)) == len(delays), "no jitter"
    backoff.reset()
    assert backoff.next_delay() <= 0.5
