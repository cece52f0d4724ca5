"""The settings of a :class:`~texsynth.generators.network.SynthHalfUNet2D` as stored in
generator files and checkpoints: its keys, and the keys of earlier versions read as today's."""

from __future__ import annotations

from typing import Any

__all__ = ["ARCHITECTURE", "CONFIG_KEYS", "OLD_CONFIG_KEYS", "upgrade_config"]

ARCHITECTURE = "SynthHalfUNet2D"
"""Value of ``config["architecture"]`` for :class:`~texsynth.generators.network.SynthHalfUNet2D`."""

CONFIG_KEYS = (
    "architecture",
    "depth",
    "channel_list",
    "out_channels",
    "L",
    "negative_slope",
    "tile",
    "image_channels",
    "n_quantiles",
)
"""Keys of :attr:`~texsynth.generators.network.SynthHalfUNet2D.config`, all required when
rebuilding from a config."""

OLD_CONFIG_KEYS = {"Jmax": "depth"}
"""Config keys written by older texsynth versions, and the key each became; configs that
use them are read as if they used the new key (:func:`upgrade_config`)."""


def upgrade_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the keys of older versions (:data:`OLD_CONFIG_KEYS`: ``"Jmax"``) under
    their new names; the same dict when it has none. A config with both an old key and its
    new one is returned as is (and refused by the key check of its reader)."""
    if not any(old in config and new not in config for old, new in OLD_CONFIG_KEYS.items()):
        return config
    return {OLD_CONFIG_KEYS.get(k, k): v for k, v in config.items()}
