"""What an evaluation measured, and how a distance is measured against real texture.

:func:`texsynth.evaluate` (images) and :func:`texsynth.evaluate_1d` (signals) cut the
exemplar and the samples into pieces of one common size (:class:`ComparedPieces`) and fill an
:class:`EvaluationReport`: each distance between every sample and the exemplar's reference
piece, next to the same distance between the exemplar's other real pieces and that reference
(the baseline), so that 1.0 reads "as close as another real piece of the texture".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import TexsynthError

__all__ = ["ComparedPieces", "EvaluationReport", "MetricResult", "check_channels"]

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A distance ``fn(x, reference) -> [B]`` between a batch and a reference piece."""


def check_channels(exemplar: torch.Tensor, samples: torch.Tensor) -> None:
    """Raise a one-line error unless ``samples`` have the channels of ``exemplar``
    (``[B, C, ...]`` both)."""
    if samples.shape[1] != exemplar.shape[1]:
        raise TexsynthError(
            f"samples have {samples.shape[1]} channels but the exemplar has {exemplar.shape[1]}"
        )


@dataclass
class ComparedPieces:
    """What the distances compare, cut to one common size.

    Attributes
    ----------
    samples
        The syntheses ``[S, C, ...]``.
    reference
        The exemplar's reference piece ``[1, C, ...]`` (crop A).
    others
        The exemplar's other real pieces (``[1, C, ...]`` each): the baseline is the mean
        of their distances to ``reference``.
    """

    samples: torch.Tensor
    reference: torch.Tensor
    others: list[torch.Tensor]


@dataclass
class MetricResult:
    """One metric: per-sample values, the real-crop baseline and their ratio."""

    name: str
    description: str
    values: list[float]
    baseline: float | None
    better: str  # "lower" or "higher" or "near 1"

    @property
    def mean(self) -> float:
        """Mean over samples."""
        finite = [v for v in self.values if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else math.nan

    @property
    def std(self) -> float:
        """Standard deviation over samples (0 for one sample)."""
        finite = [v for v in self.values if math.isfinite(v)]
        if len(finite) < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in finite) / (len(finite) - 1))

    @property
    def relative(self) -> float | None:
        """Mean value divided by the real-crop baseline (1.0 = as close as real); ``None``
        for scores with an absolute target (``better == "near 1"``, e.g. the seam score)
        and when the baseline is zero or negative (an unbiased KID estimate can be)."""
        if self.better == "near 1":
            return None
        if self.baseline is None or not math.isfinite(self.baseline):
            return None
        if self.baseline <= 0:
            # a ratio to a real-crop distance of zero or below (an unbiased KID estimate
            # can be negative) is meaningless: no ratio, the values speak
            return None
        return self.mean / self.baseline

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "description": self.description,
            "better": self.better,
            "values": self.values,
            "mean": self.mean,
            "std": self.std,
            "baseline": self.baseline,
            "relative": self.relative,
        }


@dataclass
class EvaluationReport:
    """Everything :func:`~texsynth.evaluate` (or :func:`~texsynth.evaluate_1d`) measured,
    plus the data behind the report's plots."""

    exemplar_shape: tuple[int, ...]
    sample_shape: tuple[int, ...]
    crop_shape: tuple[int, ...]  # (h, w) of the compared crops; (L,) for 1-D signals
    metrics: list[MetricResult] = field(default_factory=list)
    plots: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> MetricResult:
        """The result of metric ``name``."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def measure(
        self,
        name: str,
        description: str,
        better: str,
        fn: Distance,
        pieces: ComparedPieces,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Add metric ``name``: ``fn`` between every sample and the reference piece, and its
        real baseline (the mean of ``fn`` between the other real pieces and the reference).
        ``progress`` is called with ``name`` first."""
        if progress is not None:
            progress(name)
        values = [float(v) for v in fn(pieces.samples, pieces.reference)]
        real = [float(fn(other, pieces.reference)[0]) for other in pieces.others]
        baseline = sum(real[1:], real[0]) / len(real)
        self.metrics.append(MetricResult(name, description, values, baseline, better))

    def measure_diversity(
        self,
        diversity: Callable[[torch.Tensor], float],
        samples: torch.Tensor,
        real: torch.Tensor,
        description: str,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Add the ``"diversity"`` of a set of two or more samples (one value for the set,
        higher is better) with the diversity of the ``real`` pieces as its baseline; nothing
        for a single sample."""
        if samples.shape[0] < 2:
            return
        if progress is not None:
            progress("diversity")
        values = [diversity(samples)]
        self.metrics.append(
            MetricResult("diversity", description, values, diversity(real), "higher")
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without plot data)."""
        return {
            "exemplar_shape": list(self.exemplar_shape),
            "sample_shape": list(self.sample_shape),
            "crop_shape": list(self.crop_shape),
            "metrics": [m.to_dict() for m in self.metrics],
        }

    def table(self) -> str:
        """A plain-text table for the terminal."""
        rows = [("metric", "samples (mean ± std)", "real crop", "relative", "better")]
        for m in self.metrics:
            rel = "" if m.relative is None else f"{m.relative:.2f}"
            base = "" if m.baseline is None else f"{m.baseline:.4g}"
            rows.append((m.name, f"{m.mean:.4g} ± {m.std:.2g}", base, rel, m.better))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)
