"""The loss contract: built from an exemplar, a loss scores a batch (one value per item).

A :class:`TextureLoss` holds target statistics of an exemplar. Calling it on a batch
(``[B, C, H, W]`` images, ``[B, C, N]`` signals) returns ``[B]`` losses (0 = statistics
identical). Losses compose with weights, ``2.0 * a + b``, and :meth:`TextureLoss.at`
rebuilds one with the same options from another exemplar, which is how the engine gets a
loss per level of its coarse-to-fine pyramid.
"""

from __future__ import annotations

import abc
from typing import Any, cast

import torch

from ..errors import TexsynthError

__all__ = ["TextureLoss", "WeightedLoss", "item_losses"]


class TextureLoss(torch.nn.Module, abc.ABC):
    """Base class: ``loss(x)`` returns one non-negative value per image of ``x``."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Losses ``[B]`` of images ``x [B, C, H, W]``."""

    @abc.abstractmethod
    def at(self, exemplar: torch.Tensor, **overrides: Any) -> TextureLoss:
        """The same loss built from another exemplar (e.g. a coarser pyramid level).

        ``overrides`` replace construction options (``J``, ``in_mask``, ``reference``...).
        """

    def __add__(self, other: TextureLoss) -> WeightedLoss:
        if not isinstance(other, TextureLoss):
            return NotImplemented
        return WeightedLoss(_terms(self) + _terms(other))

    def __mul__(self, weight: float) -> WeightedLoss:
        if not isinstance(weight, (int, float)):
            return NotImplemented
        return WeightedLoss([(float(weight) * w, t) for w, t in _terms(self)])

    __rmul__ = __mul__

    def random_generators(self) -> list[torch.Generator]:
        """The ``torch.Generator`` objects this loss (or any part of it) draws from.

        A loss that is itself random (the sliced Wasserstein loss draws fresh directions on
        every call) keeps its generator as an attribute; saving and restoring these
        generators' states makes an interrupted run resume exactly where it stopped.
        """
        found: list[torch.Generator] = []
        for module in self.modules():
            for value in vars(module).values():
                if isinstance(value, torch.Generator) and all(value is not g for g in found):
                    found.append(value)
        return found

    #: whether :meth:`batch_loss` can match batch statistics (``microcanonical=True``)
    supports_microcanonical: bool = False

    def batch_loss(
        self,
        x: torch.Tensor,
        *,
        microcanonical: bool = False,
        sigma_synth: bool = True,
        eps: float = 1e-6,
    ) -> torch.Tensor:
        """One scalar for a batch of generated samples (training a generator).

        ``microcanonical=False``: the mean over the batch of the per-sample losses (each
        sample must match the exemplar). ``microcanonical=True`` (losses built on statistics,
        :attr:`supports_microcanonical`): the batch *mean* of the statistics must match the
        exemplar's, each difference divided by the batch spread (see
        :meth:`ScatteringLoss.batch_loss`).
        """
        if microcanonical and not self.supports_microcanonical:
            raise TexsynthError(
                f"{type(self).__name__} has no batch statistics for the microcanonical loss; "
                "use microcanonical=False (per-sample loss) or a scattering loss"
            )
        return self(x).mean()


def item_losses(
    loss: TextureLoss,
    x: torch.Tensor,
    states: list[list[torch.Tensor]] | None = None,
    *,
    batched: bool = False,
) -> torch.Tensor:
    """``loss(x)``, each item's value (and gradient) computed exactly as on a batch of that
    item alone.

    Computed on a whole batch, an item's value can differ from its value alone in the last
    bits: vectorised kernels treat the elements at the ends of a block differently, and
    where an item's data starts within a block depends on the batch (measured: scattering
    statistics of 37x50 images, the Gram rows of signals). So the items are evaluated one
    by one; ``batched=True`` takes one call on the whole batch instead (faster for small
    inputs, equal only up to rounding).

    A loss that draws randomness on every call (the sliced Wasserstein loss draws fresh
    directions) needs ``states``: one list of the states of its
    :meth:`~TextureLoss.random_generators` per item, which item ``i`` starts from and which
    is updated to where it ends, so every item draws the sequence it would draw alone.
    This is what makes member ``k`` of a synthesised batch equal a run of that member alone.
    """
    if batched or x.shape[0] == 1:
        return loss(x)
    generators = loss.random_generators() if states is not None else []
    values = []
    for i in range(x.shape[0]):
        if generators:
            for g, state in zip(generators, states[i], strict=True):  # type: ignore[index]
                g.set_state(state)
        values.append(loss(x[i : i + 1]))
        if generators:
            states[i] = [g.get_state() for g in generators]  # type: ignore[index]
    return torch.cat(values)


def _terms(loss: TextureLoss) -> list[tuple[float, TextureLoss]]:
    return list(loss.terms) if isinstance(loss, WeightedLoss) else [(1.0, loss)]


class WeightedLoss(TextureLoss):
    """``sum_i w_i * loss_i``."""

    def __init__(self, terms: list[tuple[float, TextureLoss]]) -> None:
        super().__init__()
        self.weights = [w for w, _ in terms]
        self.parts = torch.nn.ModuleList([t for _, t in terms])

    @property
    def terms(self) -> list[tuple[float, TextureLoss]]:
        """The ``(weight, loss)`` pairs."""
        parts = cast("list[TextureLoss]", list(self.parts))
        return list(zip(self.weights, parts, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The weighted sum of the terms' losses ``[B]``."""
        return cast("torch.Tensor", sum(w * t(x) for w, t in self.terms))

    def at(self, exemplar: torch.Tensor, **overrides: Any) -> WeightedLoss:
        """Every term rebuilt from ``exemplar`` (see :meth:`TextureLoss.at`)."""
        return WeightedLoss([(w, t.at(exemplar, **overrides)) for w, t in self.terms])

    @property
    def supports_microcanonical(self) -> bool:  # type: ignore[override]
        """True if some term has batch statistics."""
        return any(t.supports_microcanonical for t in self.parts)

    def batch_loss(
        self,
        x: torch.Tensor,
        *,
        microcanonical: bool = False,
        sigma_synth: bool = True,
        eps: float = 1e-6,
    ) -> torch.Tensor:
        """Weighted sum of the terms' batch losses; with ``microcanonical=True`` the terms
        with batch statistics (scattering) use the microcanonical form and the others
        (histogram, spectrum, network losses) their per-sample mean."""
        if microcanonical and not self.supports_microcanonical:
            return super().batch_loss(x, microcanonical=True)  # raises the error
        return sum(
            w
            * t.batch_loss(
                x,
                microcanonical=microcanonical and t.supports_microcanonical,
                sigma_synth=sigma_synth,
                eps=eps,
            )
            for w, t in self.terms
        )  # type: ignore[return-value]
