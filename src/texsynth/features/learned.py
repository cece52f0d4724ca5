"""Learned features: the encoder of a :class:`~.autoencoder.ConvAutoencoder` trained on a
user's own photos (``texsynth features train``), loaded from a ``features.safetensors`` file.

The file holds the network's tensors (``encoder.*``, ``decoder.*``) and, in its safetensors
metadata, ``format`` (``"texsynth-features/1"``), the network's ``config`` (width, depth),
the training ``patch`` size, the encoder's ``layers``, a ``training`` record (data
summary, steps, CPU seconds, held-out reconstruction score) and, once calibrated, a
``calibration`` record (:mod:`.calibration`: the weight factor of each method, applied by
:class:`~texsynth.loss_builder.LossBuilder`). Nothing is pickled.

:class:`LearnedFeatures` has the calling convention of the other extractors
(``extractor(x, layers) -> {layer: [B, C, H, W]}``, ``default_layers``), so the ``gap``,
``gram``, ``swd`` and ``gc`` methods and the evaluation metrics take it like VGG19.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import TexsynthError
from ..tensor_files import load_tensors, save_tensors
from .autoencoder import ConvAutoencoder

__all__ = [
    "FEATURES_FORMAT",
    "LearnedFeatures",
    "is_features_file",
    "load_autoencoder",
    "load_features_file",
    "read_features_metadata",
    "save_features",
    "save_features_file",
]

#: the end of the error for a features file that safetensors cannot read
FEATURES_FIX = "give a features file from `texsynth features train`"

FEATURES_FORMAT = "texsynth-features/1"
"""Value of the ``format`` metadata key of the features files this version writes and reads."""


def is_features_file(name: object) -> bool:
    """Whether a ``features`` option names a file (a path ending ``.safetensors``) rather
    than a network (``"vgg19"``, ``"random"``...)."""
    return isinstance(name, (str, os.PathLike)) and os.fspath(name).lower().endswith(".safetensors")


def save_features(
    model: ConvAutoencoder,
    path: str | os.PathLike[str],
    *,
    patch: int,
    training: dict[str, Any],
    calibration: dict[str, Any] | None = None,
) -> None:
    """Write ``model``, its training record and (if given) its calibration record
    (:func:`~.calibration.calibrate_features`) to ``path`` atomically."""
    meta = {
        "format": FEATURES_FORMAT,
        "config": json.dumps(model.config),
        "patch": str(int(patch)),
        "layers": json.dumps(list(model.layer_names)),
        "training": json.dumps(training),
    }
    if calibration is not None:
        meta["calibration"] = json.dumps(calibration)
    save_tensors(path, model.state_dict(), meta)


def load_features_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and raw string metadata of a features file, after checking its kind."""
    tensors, meta = _read(path)
    _decode(path, meta)
    return tensors, meta


def save_features_file(
    path: str | os.PathLike[str],
    tensors: dict[str, torch.Tensor],
    meta: dict[str, str],
    *,
    calibration: dict[str, Any],
) -> None:
    """Rewrite a features file (:func:`load_features_file`'s tensors and metadata)
    atomically with the ``calibration`` record added or replaced."""
    record = json.dumps(calibration)
    _check_calibration(path, record)
    save_tensors(path, tensors, {**meta, "calibration": record})


def _check_calibration(path: str | os.PathLike[str], text: str | None) -> dict[str, Any] | None:
    """The decoded ``calibration`` record (``None`` if absent): its ``scale`` must map
    method names to positive finite factors."""
    if text is None:
        return None
    record = json.loads(text)
    scale = record["scale"]
    for name, value in scale.items():
        if not isinstance(name, str) or not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"calibration scale of {name!r} is {value!r}")
    return dict(record)


def read_features_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The decoded metadata of a features file (``config``, ``patch``, ``layers``,
    ``training``), after checking that it is one."""
    _, meta = _read(path)
    return _decode(path, meta)


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    p = Path(path)
    if not p.is_file():
        raise TexsynthError(
            f"features file {str(p)!r} not found; make one with `texsynth features train`"
        )
    tensors, meta = load_tensors(p, unreadable_fix=FEATURES_FIX)
    fmt = meta.get("format", "")
    if fmt != FEATURES_FORMAT:
        what = f"a {fmt!r} file" if fmt else "a safetensors file without texsynth metadata"
        raise TexsynthError(
            f"{str(p)!r} is {what}, not a texsynth features file ({FEATURES_FORMAT}); make "
            "one with `texsynth features train FOLDER -o features.safetensors`"
        )
    return tensors, meta


def _decode(path: str | os.PathLike[str], meta: dict[str, str]) -> dict[str, Any]:
    try:
        out = {
            "config": json.loads(meta["config"]),
            "patch": int(meta["patch"]),
            "layers": json.loads(meta["layers"]),
            "training": json.loads(meta.get("training", "{}")),
            "calibration": _check_calibration(path, meta.get("calibration")),
        }
        int(out["config"]["width"]), int(out["config"]["depth"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise TexsynthError(
            f"{os.fspath(path)!r} has damaged features metadata ({type(exc).__name__}: "
            f"{exc}); train it again"
        ) from None
    return out


def load_autoencoder(
    path: str | os.PathLike[str], *, padding: str = "reflect"
) -> tuple[ConvAutoencoder, dict[str, Any]]:
    """The whole trained autoencoder of a features file (frozen, eval mode) and its
    metadata (:func:`read_features_metadata`)."""
    tensors, meta = _read(path)
    info = _decode(path, meta)
    model = ConvAutoencoder(
        int(info["config"]["width"]), int(info["config"]["depth"]), padding=padding
    )
    expected = model.state_dict()
    wrong = [k for k, v in expected.items() if k not in tensors or tensors[k].shape != v.shape] + [
        k for k in tensors if k not in expected
    ]
    if wrong:
        raise TexsynthError(
            f"{os.fspath(path)!r} does not match its own config (tensor {wrong[0]}); the file "
            "is damaged, train it again"
        )
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise TexsynthError(f"{os.fspath(path)!r} has non-finite weights; train it again")
    model.load_state_dict(tensors)
    model.requires_grad_(False)
    model.eval()
    return model, info


class LearnedFeatures(torch.nn.Module):
    """The encoder of a trained :class:`~.autoencoder.ConvAutoencoder` as a feature extractor.

    ``features(x, layers)`` returns ``{"conv1_1": [B, C, H, W], ...}`` for images in [0, 1]
    (grey or RGB). ``default_layers`` is every encoder convolution (the global-average-pooling
    descriptor of the seed); ``correspondence_layers`` the last convolution of the two
    deepest stages (the guided-correspondence method's patches).

    Build one with :meth:`from_file`.
    """

    def __init__(self, model: ConvAutoencoder, info: dict[str, Any], source: str = "") -> None:
        super().__init__()
        self.model = model
        self.info = info
        self.source = source
        self.layer_names: tuple[str, ...] = model.layer_names
        self.default_layers: tuple[str, ...] = model.layer_names
        lasts = [n for n in model.layer_names if n.endswith("_2")]
        self.correspondence_layers: tuple[str, ...] = tuple(lasts[-2:])

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, padding: str | None = None
    ) -> LearnedFeatures:
        """Load a features file; ``padding`` ``None`` is reflect (the training padding)."""
        model, info = load_autoencoder(path, padding=padding or "reflect")
        return cls(model, info, os.fspath(path))

    @property
    def calibration(self) -> dict[str, float] | None:
        """The weight factor of each method (``{"gap": 45.2, ...}``) measured on real crops
        (:mod:`.calibration`), or ``None`` for a file that was never calibrated."""
        record = self.info.get("calibration")
        if record is None:
            return None
        return {str(k): float(v) for k, v in record["scale"].items()}

    @property
    def padding(self) -> str:
        """Padding of the convolutions (``"reflect"``, ``"circular"`` or ``"zeros"``)."""
        return self.model.padding

    def extra_repr(self) -> str:
        """The settings shown by ``repr``."""
        return f"source={self.source!r}, patch={self.info.get('patch')}"

    def forward(
        self, x: torch.Tensor, layers: Sequence[str] | str | None = None
    ) -> dict[str, torch.Tensor]:
        """Features ``{layer: [B, C_l, H_l, W_l]}`` of images ``x [B, C, H, W]`` in [0, 1]."""
        return self.model.features(x, layers)
