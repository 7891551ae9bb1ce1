"""Random draws for the daily dynamics: the world's one stream, or common random numbers (CRN).

The dynamics (``_dynamics.run_dynamics``) draw every day's luck through one of two objects with the
same methods:

* :class:`StreamDraws` (the default) calls the world's ``numpy`` generator in exactly the order the
  simulator always has, so a seed gives the same world bit for bit;
* :class:`KeyedDraws` (the closed loop's mode, ``run_dynamics(..., crn=key)``) makes every draw a pure
  function of (key, stream, entity, day, index): a counter-based hash (SplitMix64's finaliser) of the
  five numbers, turned into a uniform on [0, 1). Two runs of one world under two policies then see the
  same luck for every dispute and person whose state a visit has not changed, however many other draws
  either run made. ``entity`` is a dispute, a party row or a person; ``index`` the call of the day.

Each draw site names its own ``stream`` (a small integer, :data:`STREAMS`), so no two sites share luck.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StreamDraws", "KeyedDraws", "STREAMS", "keyed_uniform"]

#: One number per draw site of the dynamics (and of the loop's review and acknowledgement).
STREAMS = {name: i + 1 for i, name in enumerate((
    "r_initial", "h_initial", "h_innovation", "calls", "violence", "weapon", "alcohol", "threat", "rand_party",
    "threat_kind", "caller", "disposition", "disposition_mediated", "disposition_referred", "mediation_after_call",
    "mediation_delay", "mediation_result", "mediation_resolve", "tail_innovation", "outcome", "outcome_kind",
    "quiet", "crisis_innovation", "med_stop", "med_resume", "stop_recorded", "missed_followup", "crisis_record",
    "crisis_call", "crisis_violence", "crisis_weapon", "crisis_alcohol", "crisis_disposition", "crisis_outcome",
    "crisis_outcome_kind", "review", "ack", "visit_resume"))}

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _mix(x):
    """SplitMix64's finaliser (a bijection of uint64 with full avalanche)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def keyed_uniform(key: int, stream: int, entity, day, index=0) -> np.ndarray:
    """Uniforms on [0, 1), one per element of the broadcast of ``entity``, ``day`` and ``index``: a pure
    function of the five numbers (53 random bits each)."""
    with np.errstate(over="ignore"):
        x = _mix(np.uint64(key & 0xFFFFFFFFFFFFFFFF) * _GOLD + np.uint64(stream))
        x = _mix(x ^ (np.asarray(entity).astype(np.uint64) * _GOLD))
        x = _mix(x ^ (np.asarray(day).astype(np.uint64) * _M1 + np.asarray(index).astype(np.uint64)))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


class StreamDraws:
    """The world's generator in the simulator's historical order (``entity`` etc. only give the size)."""

    keyed = False

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def random(self, stream: str, entity, t: int, index=0) -> np.ndarray:
        return self.rng.random(len(entity))

    def uniform(self, stream: str, entity, t: int, lo: float, hi: float) -> np.ndarray:
        return self.rng.uniform(lo, hi, len(entity))

    def normal(self, stream: str, entity, t: int, scale: float) -> np.ndarray:
        return self.rng.normal(0, scale, len(entity))

    def integers(self, stream: str, entity, t: int, lo: int, hi: int, index=0) -> np.ndarray:
        return self.rng.integers(lo, hi, len(entity))

    def poisson_capped(self, stream: str, entity, t: int, lam: np.ndarray, cap: int) -> np.ndarray:
        return np.minimum(self.rng.poisson(lam), cap)

    def choice(self, stream: str, entity, t: int, options, p=None) -> np.ndarray:
        if p is None:
            return self.rng.choice(options, len(entity))
        return self.rng.choice(options, len(entity), p=p)


class KeyedDraws:
    """Common random numbers: every draw keyed by (key, stream, entity, day, index)."""

    keyed = True

    def __init__(self, key: int):
        self.key = int(key)

    def random(self, stream: str, entity, t: int, index=0) -> np.ndarray:
        return keyed_uniform(self.key, STREAMS[stream], entity, t, index)

    def uniform(self, stream: str, entity, t: int, lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * self.random(stream, entity, t)

    def normal(self, stream: str, entity, t: int, scale: float) -> np.ndarray:
        # Box-Muller from two keyed uniforms (index 0 and 1 of the entity-day)
        u1 = 1.0 - self.random(stream, entity, t, 0)          # (0, 1]
        u2 = self.random(stream, entity, t, 1)
        return scale * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def integers(self, stream: str, entity, t: int, lo: int, hi: int, index=0) -> np.ndarray:
        return lo + np.minimum((self.random(stream, entity, t, index) * (hi - lo)).astype(np.int64), hi - lo - 1)

    def poisson_capped(self, stream: str, entity, t: int, lam: np.ndarray, cap: int) -> np.ndarray:
        """min(Poisson(lam), cap) by inversion of one keyed uniform."""
        u = self.random(stream, entity, t)
        lam = np.asarray(lam, dtype=float)
        term = np.exp(-lam)
        cdf = term.copy()
        out = np.zeros(len(u), dtype=np.int64)
        for k in range(1, cap + 1):
            out += u >= cdf
            term = term * lam / k
            cdf = cdf + term
        return out

    def choice(self, stream: str, entity, t: int, options, p=None) -> np.ndarray:
        opts = np.arange(int(options)) if isinstance(options, int | np.integer) else np.asarray(options)
        u = self.random(stream, entity, t)
        if p is None:
            pos = np.minimum((u * len(opts)).astype(np.int64), len(opts) - 1)
        else:
            pos = np.minimum(np.searchsorted(np.cumsum(p), u, side="right"), len(opts) - 1)
        return opts[pos]
