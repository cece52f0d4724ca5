"""Generator files: safetensors weights plus a JSON config in the header, never pickles.

A file holds the ``state_dict`` of a :class:`~texsynth.generators.network.SynthHalfUNet2D`
(weights and the output-transform buffers; the wavelet filters are recomputed) and string
metadata:

* ``format``: ``"texsynth-generator/1"``;
* ``config``: the JSON :attr:`SynthHalfUNet2D.config` that rebuilds the module (earlier
  versions wrote ``depth`` as ``"Jmax"``; both are read, ``"depth"`` is written);
* ``texsynth`` and ``torch``: the versions that wrote it;
* ``texsynth.metadata``: a JSON dict of the caller's own metadata (training settings...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from .._checks import check_device
from ..errors import TexsynthError
from ..paths import as_path
from ..tensor_files import load_tensors, save_tensors
from ..version import __version__
from .config import ARCHITECTURE, CONFIG_KEYS, upgrade_config
from .network import SynthHalfUNet2D

__all__ = [
    "FORMAT",
    "atomic_save_file",
    "load_checkpoint_file",
    "load_generator",
    "read_generator_metadata",
    "save_generator",
    "validate_config",
    "validate_metadata",
]

FORMAT = "texsynth-generator/1"
"""Value of the ``format`` metadata key of the files this version writes and reads."""

_FORMAT_PREFIX = "texsynth-generator/"
_RETRAIN = "re-train it or load it with the texsynth version that wrote it"


def save_generator(
    model: SynthHalfUNet2D, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None
) -> None:
    """Write ``model`` to ``path`` (a ``.safetensors`` file), atomically.

    The file is first written to a hidden temporary file in the same directory, flushed to
    disk, then renamed over ``path``: a reader never sees a partial file, and on any error
    the temporary file is removed (an existing ``path`` is left untouched).

    Parameters
    ----------
    model
        The generator.
    path
        Destination file.
    metadata
        JSON-serialisable dict stored with the weights (see :func:`read_generator_metadata`).

    Raises
    ------
    TexsynthError
        If ``model`` is not a generator, ``metadata`` is not JSON-serialisable, or the
        directory cannot be written.
    """
    if not isinstance(model, SynthHalfUNet2D):
        raise TexsynthError(f"save_generator expects a SynthHalfUNet2D, got {type(model).__name__}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TexsynthError(
            f"metadata must be a dict (JSON-serialisable) or None, got {type(metadata).__name__}"
        )
    try:
        user = json.dumps(metadata or {})
    except (TypeError, ValueError) as exc:
        raise TexsynthError(
            f"metadata is not JSON-serialisable ({exc}); keep to str, numbers, lists and dicts"
        ) from None
    header = {
        "format": FORMAT,
        "config": json.dumps(model.config),
        "texsynth": __version__,
        "torch": str(torch.__version__),
        "texsynth.metadata": user,
    }
    atomic_save_file(model.state_dict(), path, header, what="generator file")


def atomic_save_file(
    tensors: dict[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
    *,
    what: str = "file",
) -> None:
    """Write ``tensors`` and string ``metadata`` as a safetensors file, atomically.

    Tensors are detached, moved to the CPU and made contiguous. The bytes go to a hidden
    temporary file in the destination directory, are flushed to disk, and the file is
    renamed over ``path`` (``os.replace``): readers never see a partial file, and on any
    error the temporary file is removed and an existing ``path`` is left as it was.
    Used for generator files and training checkpoints.

    Raises
    ------
    TexsynthError
        If the directory does not exist or cannot be written, or the disk is full.
    """
    directory = Path(path).parent
    if not directory.is_dir():
        raise TexsynthError(
            f"cannot write {what} {str(path)!r}: its directory {str(directory)!r} does not "
            "exist; choose an existing, writable directory"
        )
    save_tensors(path, tensors, metadata or {})


def load_checkpoint_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (on the CPU) and string metadata of any safetensors file.

    Raises
    ------
    TexsynthError
        If the file is missing or is not a safetensors file.
    """
    return load_tensors(path, missing_fix="give the path of a .safetensors file")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _read_header(path: str | os.PathLike[str]) -> dict[str, str]:
    """The raw string metadata of a generator file, with one-line errors."""
    p = as_path(path, "path")
    if not p.exists():
        raise TexsynthError(
            f"generator file {str(p)!r} does not exist; give the path of a .safetensors file "
            "written by texsynth (texsynth train / save_generator)"
        )
    if not p.is_file():
        raise TexsynthError(f"generator path {str(p)!r} is not a file; give a .safetensors file")
    if not os.access(p, os.R_OK):
        raise TexsynthError(
            f"cannot read generator file {str(p)!r}: permission denied; check the file's "
            "permissions"
        )
    try:
        with safe_open(str(p), framework="pt") as f:
            header = f.metadata()
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise TexsynthError(
            f"{str(p)!r} is not a safetensors file ({_first_line(exc)}); expected a "
            "generator written by texsynth (texsynth train / save_generator)"
        ) from None
    fmt = (header or {}).get("format")
    if fmt is None or not isinstance(fmt, str) or not fmt.startswith(_FORMAT_PREFIX):
        what = f"format {fmt!r}" if fmt is not None else "no texsynth 'format' metadata"
        raise TexsynthError(
            f"{str(p)!r} is a safetensors file but not a texsynth generator ({what}); expected "
            f"one written by texsynth with format {FORMAT!r} (texsynth train / save_generator)"
        )
    if fmt != FORMAT:
        raise TexsynthError(
            f"{str(p)!r} is a texsynth generator in format {fmt!r}, this texsynth reads "
            f"{FORMAT!r}; load it with the texsynth version that wrote it"
        )
    return header


def _parse_json(p: Any, header: dict[str, str], key: str) -> Any:
    try:
        return json.loads(header[key])
    except (KeyError, TypeError, ValueError, RecursionError):
        raise TexsynthError(
            f"generator file {str(p)!r} has a missing or corrupt {key!r} entry in its "
            f"header; {_RETRAIN}"
        ) from None


# ------------------------------------------------------------------ header schema
#: bounds of a generator file's config: what ``texsynth train`` can write (width <= 512,
#: depth <= 10), with room for models built in Python; anything else is a crafted or
#: damaged file and is refused before a tensor is allocated
MAX_CONFIG_DEPTH = 12
MAX_LEVEL_CHANNELS = 8192
MAX_IMAGE_CHANNELS = 256
MAX_L = 16
MAX_QUANTILES = 1 << 16
#: largest exemplar side recorded in the metadata (a sample's default size)
MAX_SIDE = 1 << 16


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _bad(path: Any, field: str, why: str) -> TexsynthError:
    return TexsynthError(
        f"generator file {str(path)!r}: {field} {why}; the file is damaged or was not "
        "written by texsynth (train it again)"
    )


def _int_field(path: Any, field: str, value: Any, lo: int, hi: int) -> int:
    if not _is_int(value) or not lo <= value <= hi:
        raise _bad(path, field, f"must be an integer from {lo} to {hi}, got {_short(value)}")
    return int(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_config(config: Any, path: Any = "<config>") -> dict[str, Any]:
    """Check a generator config against its schema (types and bounds) before building.

    Returns
    -------
    dict
        ``config``, every field checked, with the keys of older versions renamed
        (:func:`~texsynth.generators.config.upgrade_config`: ``"Jmax"`` -> ``"depth"``).

    Raises
    ------
    TexsynthError
        One line naming the first bad field.
    """
    if not isinstance(config, dict):
        raise _bad(path, "config", f"must be a JSON object, got {type(config).__name__}")
    depth_field = "config.depth" if "depth" in config else "config.Jmax"  # as the file says
    config = upgrade_config(config)
    arch = config.get("architecture")
    if arch != ARCHITECTURE:
        raise TexsynthError(
            f"generator file {str(path)!r}: config is for architecture {_short(arch)}, not "
            f"{ARCHITECTURE!r}; {_RETRAIN}"
        )
    missing = [k for k in CONFIG_KEYS if k not in config]
    unknown = sorted(str(k)[:30] for k in config if k not in CONFIG_KEYS)
    if missing or unknown:
        raise TexsynthError(
            f"generator file {str(path)!r}: config does not match this texsynth (missing keys "
            f"{missing}, unknown keys {unknown[:5]}); {_RETRAIN}"
        )
    depth = _int_field(path, depth_field, config["depth"], 1, MAX_CONFIG_DEPTH)
    channels = config["channel_list"]
    if not isinstance(channels, list) or len(channels) != depth + 1:
        raise _bad(
            path, "config.channel_list", f"must be a list of depth + 1 = {depth + 1} integers"
        )
    for i, c in enumerate(channels):
        _int_field(path, f"config.channel_list[{i}]", c, 1, MAX_LEVEL_CHANNELS)
    image_channels = _int_field(
        path, "config.image_channels", config["image_channels"], 1, MAX_IMAGE_CHANNELS
    )
    _int_field(path, "config.out_channels", config["out_channels"], 1, image_channels)
    _int_field(path, "config.L", config["L"], 1, MAX_L)
    slope = config["negative_slope"]
    if not isinstance(slope, (int, float)) or isinstance(slope, bool) or not 0 <= slope < 1:
        raise _bad(
            path, "config.negative_slope", f"must be a number in [0, 1), got {_short(slope)}"
        )
    if not isinstance(config["tile"], bool):
        raise _bad(path, "config.tile", f"must be true or false, got {_short(config['tile'])}")
    nq = _int_field(path, "config.n_quantiles", config["n_quantiles"], 0, MAX_QUANTILES)
    if nq == 1:
        raise _bad(path, "config.n_quantiles", "must be 0 or at least 2, got 1")
    return config


_META_TYPES = {
    "path": str,
    "format": str,
    "dtype": str,
    "channels": int,
    "scaled": bool,
    "alpha_dropped": bool,
}


def validate_metadata(metadata: Any, path: Any = "<metadata>") -> dict[str, Any]:
    """Check the fields of a generator file's metadata that texsynth uses.

    ``exemplar_size_hw`` (two integers, 1 ... 65536), ``exemplar_meta`` (an
    :class:`~texsynth.io.ImageMeta` as a JSON object) and ``settings`` (an object) are
    checked when present; other keys are the caller's and are kept as they are.

    Raises
    ------
    TexsynthError
        One line naming the first bad field.
    """
    import math

    if not isinstance(metadata, dict):
        raise _bad(path, "metadata", f"must be a JSON object, got {type(metadata).__name__}")
    if "exemplar_size_hw" in metadata:
        hw = metadata["exemplar_size_hw"]
        if not isinstance(hw, list) or len(hw) != 2:
            raise _bad(
                path, "metadata.exemplar_size_hw", f"must be [height, width], got {_short(hw)}"
            )
        for i, v in enumerate(hw):
            _int_field(path, f"metadata.exemplar_size_hw[{i}]", v, 1, MAX_SIDE)
    if "settings" in metadata and not isinstance(metadata["settings"], (dict, type(None))):
        raise _bad(path, "metadata.settings", "must be a JSON object")
    em = metadata.get("exemplar_meta")
    if em is not None:
        if not isinstance(em, dict):
            raise _bad(path, "metadata.exemplar_meta", "must be a JSON object")
        for key, kind in _META_TYPES.items():
            v = em.get(key)
            if key in em and not (
                isinstance(v, kind) and (kind is bool or not isinstance(v, bool))
            ):
                raise _bad(path, f"metadata.exemplar_meta.{key}", f"must be a {kind.__name__}")
        if "channels" in em:
            _int_field(
                path, "metadata.exemplar_meta.channels", em["channels"], 1, MAX_IMAGE_CHANNELS
            )
        if "value_range" in em:
            vr = em["value_range"]
            ok = (
                isinstance(vr, list)
                and len(vr) == 2
                and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in vr
                )
            )
            if not ok or vr[0] > vr[1]:
                raise _bad(
                    path,
                    "metadata.exemplar_meta.value_range",
                    f"must be [low, high], got {_short(vr)}",
                )
    return metadata


def read_generator_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Header of a generator file, without loading the weights.

    Returns
    -------
    dict
        ``{"config": {...}, "texsynth": str, "torch": str, "metadata": {...}}``: the
        module's config, the versions that wrote the file and the caller's metadata.

    Raises
    ------
    TexsynthError
        If the file is missing, not safetensors, not a texsynth generator, or a field of its
    config or metadata has the wrong type or is out of bounds (a crafted or damaged file;
    see :func:`validate_config` and :func:`validate_metadata`).
    """
    header = _read_header(path)
    return {
        "config": validate_config(_parse_json(path, header, "config"), path),
        "texsynth": str(header.get("texsynth", "unknown"))[:64],
        "torch": str(header.get("torch", "unknown"))[:64],
        "metadata": validate_metadata(_parse_json(path, header, "texsynth.metadata"), path),
    }


def _describe_mismatch(
    expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], limit: int = 3
) -> str:
    """Short description of how two state dicts differ (first few keys of each kind)."""
    parts = []
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [
        f"{k} {list(found[k].shape)} vs {list(expected[k].shape)}"
        for k in expected
        if k in found and found[k].shape != expected[k].shape
    ]
    for label, items in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("shape file vs model", shapes),
    ):
        if items:
            more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
            parts.append(f"{label}: {', '.join(items[:limit])}{more}")
    return "; ".join(parts)


def load_generator(
    path: str | os.PathLike[str], device: str | torch.device | None = None
) -> SynthHalfUNet2D:
    """Load a generator written by :func:`save_generator`.

    Parameters
    ----------
    path
        The ``.safetensors`` file.
    device
        Where to put the model (default CPU).

    Returns
    -------
    SynthHalfUNet2D
        The model, in eval mode, in the dtype of its stored weights.

    Raises
    ------
    TexsynthError
        If the file is missing, not safetensors, not a texsynth generator, or its tensors do
        not match its config (another architecture or texsynth version).
    """
    dev = check_device(device)
    header = _read_header(path)
    path = Path(path)
    config = validate_config(_parse_json(path, header, "config"), path)
    try:
        model = SynthHalfUNet2D.from_config(config)
    except TexsynthError as exc:
        raise TexsynthError(f"generator file {str(path)!r}: {exc}") from None
    try:
        state = load_file(str(path), device="cpu")
    except Exception as exc:
        raise TexsynthError(
            f"cannot read the tensors of generator file {str(path)!r} ({_first_line(exc)}); "
            "the file is damaged, save or train it again"
        ) from None
    expected = model.state_dict()
    mismatch = _describe_mismatch(expected, state)
    if mismatch:
        raise TexsynthError(
            f"generator file {str(path)!r} does not match its architecture "
            f"({config.get('architecture')}, channel_list={config.get('channel_list')}): "
            f"{mismatch}; {_RETRAIN}"
        )
    dtypes = {t.dtype for t in state.values()}
    odd = dtypes - {torch.float16, torch.bfloat16, torch.float32, torch.float64}
    if odd:
        raise _bad(path, "tensors", f"must be float16/32/64, got {sorted(map(str, odd))}")
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise _bad(path, "tensors", f"cannot be loaded ({_first_line(exc)[:80]})") from None
    if dev is not None:
        model.to(dev)
    return model.eval()
