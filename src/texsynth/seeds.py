"""One seed policy for every random draw of texsynth.

* A seed is an integer from 0 to ``2**63 - 1`` (:func:`check_seed`).
* "No seed" means a fresh one from the operating system (:func:`fresh_seed`, through
  :mod:`secrets`), drawn once per run and recorded, so that every run can be repeated from
  its record. torch's and NumPy's global random generators are never used.
* A batch of ``n`` outputs from seed ``S`` has one seed per member (:func:`member_seeds`):
  member 0 uses ``S`` itself and member ``k`` a seed mixed from ``(S, k)`` by NumPy's
  :class:`numpy.random.SeedSequence` (O'Neill's hash-based seeding), so member ``k`` equals
  a run with ``n = 1`` and that member's seed, and ensembles from neighbouring seeds
  (``S`` and ``S + 1``) share no member.
* Each member draws from its own :class:`torch.Generator` (:func:`member_generators`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import numpy as np
import torch

from ._checks import MAX_SEED, check_seed
from .errors import TexsynthError

__all__ = [
    "MAX_SEED",
    "check_seed",
    "check_seeds",
    "fresh_seed",
    "member_generators",
    "member_seed",
    "member_seeds",
    "resolve_seeds",
]


def fresh_seed() -> int:
    """A new seed from the operating system's random source (0 ... 2**63 - 1)."""
    return secrets.randbits(63)


def member_seed(seed: int, k: int) -> int:
    """The seed of member ``k`` of a batch (or ensemble) started from ``seed``.

    ``member_seed(seed, 0) == seed``; for ``k >= 1`` a 63-bit hash of ``(seed, k)``
    (:class:`numpy.random.SeedSequence`), independent of how the members are batched.
    """
    seed = check_seed(seed)  # type: ignore[assignment]
    if seed is None:
        raise TexsynthError("member_seed needs a seed, got None")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise TexsynthError(f"member index must be an integer >= 0, got {k!r}")
    if k == 0:
        return seed
    state = np.random.SeedSequence([seed, int(k)]).generate_state(1, np.uint64)[0]
    return int(state) >> 1


def member_seeds(seed: int, n: int, start: int = 0) -> list[int]:
    """Seeds of members ``start ... start + n - 1`` of a batch started from ``seed``."""
    return [member_seed(seed, k) for k in range(start, start + n)]


def check_seeds(seed: object, name: str = "seed") -> int | list[int] | None:
    """``seed`` checked early: ``None``, an integer seed or a sequence of them (one per
    output; its length is checked against ``n`` by :func:`resolve_seeds`)."""
    if isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
        if not seed:
            raise TexsynthError(f"{name} is an empty list; give an integer or one per output")
        return [check_seed(s, name) for s in seed]  # type: ignore[misc]
    return check_seed(seed, name)


def resolve_seeds(seed: object, n: int, name: str = "seed") -> tuple[int, list[int]]:
    """``(base seed, one seed per member)`` for a run of ``n`` outputs.

    ``seed`` is ``None`` (a fresh seed, see :func:`fresh_seed`), an integer (the base
    seed, see :func:`member_seed`) or a sequence of ``n`` integers, one per member (what an
    ensemble runner passes; the base seed is then the first).
    """
    if isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
        seeds = [check_seed(s, name) for s in seed]
        if any(s is None for s in seeds):
            raise TexsynthError(f"{name} lists None; give an integer per output")
        if len(seeds) != n:
            raise TexsynthError(f"{name} lists {len(seeds)} seeds for n={n} outputs; give {n}")
        return seeds[0], seeds  # type: ignore[return-value]
    base = check_seed(seed, name)
    if base is None:
        base = fresh_seed()
    return base, member_seeds(base, n)


def member_generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU :class:`torch.Generator` per member seed (noise is drawn on the CPU and
    moved, so a seed gives the same numbers on every device)."""
    return [torch.Generator().manual_seed(s) for s in seeds]
