"""Read and write 1-D signals (time series): NPY, NPZ and CSV.

:func:`read_signal` returns a ``[C, N]`` tensor (``C`` channels of ``N`` samples) and a
:class:`SignalMeta`; :func:`write_signal` writes one back, atomically (a temporary file in
the target directory, renamed over the target once complete).

Layouts
-------
* NPY/NPZ: ``(N,)`` is one channel; ``(C, N)`` is ``C`` channels (channels first, fewer
  channels than samples). NPZ archives hold one array, or one named ``signal``.
* CSV: one column per channel, an optional header row of names, or a single row holding
  one channel. Delimiters ``,``, ``;``, tab or spaces; lines starting with ``#`` and empty
  lines are skipped; empty fields and ``nan`` read as NaN.

Values keep their units (integers are not rescaled, unlike images); float64 data stays
float64, anything else becomes float32.
"""

from __future__ import annotations

import csv
import io as _stdio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import TexsynthError
from ..paths import one_line, quote_path
from .checks import (
    array_to_write,
    check_finite_read,
    check_finite_to_write,
    check_real_read,
    input_file,
    output_file,
    with_channel_axis,
)
from .formats import npy_shape

__all__ = ["SIGNAL_SUFFIXES", "SignalMeta", "is_signal_file", "read_signal", "write_signal"]

logger = logging.getLogger(__name__)

#: File suffixes :func:`read_signal` and :func:`write_signal` understand (case-insensitive).
SIGNAL_SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".csv")


@dataclass(frozen=True)
class SignalMeta:
    """Where the numbers of a signal read by :func:`read_signal` came from.

    Attributes
    ----------
    path, format
        The file read and its format (``"npy"``, ``"npz"`` or ``"csv"``).
    dtype
        Numpy dtype name of the stored values (``"float64"`` for CSV).
    channels, length
        ``C`` and ``N`` of the ``[C, N]`` tensor returned.
    columns
        Column names of a CSV header (one per channel), else ``None``.
    """

    path: str
    format: str
    dtype: str
    channels: int
    length: int
    columns: tuple[str, ...] | None = None


def _format_of(path: Path, action: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in SIGNAL_SUFFIXES:
        raise TexsynthError(
            f"cannot {action} {quote_path(path)} as a 1-D signal: unknown file type "
            f"{path.suffix or '(no suffix)'!r}; use one of {', '.join(SIGNAL_SUFFIXES)}"
        )
    return suffix[1:]


def is_signal_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a 1-D signal without asking: a ``.csv`` file, or a ``.npy``
    (``.npz``) array of one dimension. 2-D arrays are images unless read as signals
    explicitly (``texsynth synth --signal``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return True
    try:
        if suffix not in (".npy", ".npz") or not p.is_file():
            return False
        if suffix == ".npy":  # the header only: no data read, no file left open
            return len(npy_shape(p)) == 1
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.files)
            key = "signal" if "signal" in keys else (keys[0] if len(keys) == 1 else None)
            return key is not None and z[key].ndim == 1
    except Exception:  # unreadable: the image reader reports it
        return False


def read_signal(
    path: str | os.PathLike[str], *, allow_nonfinite: bool = False
) -> tuple[torch.Tensor, SignalMeta]:
    """Read a 1-D signal file as a ``[C, N]`` tensor.

    Parameters
    ----------
    path
        ``.npy``, ``.npz`` or ``.csv`` file (see the module docstring for layouts).
    allow_nonfinite
        Return NaN/Inf values instead of raising (mask them before synthesis).

    Returns
    -------
    signal : torch.Tensor
        ``[C, N]``, float64 if the file holds float64 (always for CSV), else float32.
    meta : SignalMeta
        Format, dtype, shape and CSV column names.

    Raises
    ------
    TexsynthError
        If the file is missing, empty, unreadable, of another type, not 1-D (or
        ``[C, N]``), non-numeric, or holds NaN/Inf values (unless ``allow_nonfinite``).
    """
    p, fmt = input_file(path, _format_of, "a signal file", "give a file with samples")
    columns = None
    if fmt == "csv":
        data, columns = _read_csv(p)
    else:
        data = _read_numpy(p)
    return _finish(p, fmt, data, columns, allow_nonfinite)


def _read_numpy(path: Path) -> np.ndarray:
    keys: list[str] = []
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                keys = list(loaded.files)
                key = "signal" if "signal" in keys else (keys[0] if len(keys) == 1 else None)
                arr = None if key is None else loaded[key]
        else:
            arr = loaded
    except Exception as exc:  # any library failure means an unreadable file
        raise TexsynthError(
            f"cannot read {quote_path(path)}: {one_line(exc)}; the file may be corrupt or truncated"
        ) from None
    if arr is None:
        raise TexsynthError(
            f"{quote_path(path)} holds {len(keys)} arrays (keys: {', '.join(keys) or 'none'}); "
            "name the one to read 'signal', or save just one"
        )
    return arr


def _read_csv(path: Path) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Rows of numbers (``[rows, columns]`` float64) and the header's names, if any."""
    q = quote_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TexsynthError(f"cannot read {q}: {one_line(exc)}; save it as UTF-8 text") from None
    lines = [
        (i + 1, line)
        for i, line in enumerate(text.splitlines())
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise TexsynthError(f"{q} holds no data rows; give one column per channel")
    first = lines[0][1]
    delim = next((d for d in (";", "\t", ",") if d in first), None)

    def split(line: str) -> list[str]:
        if delim is None:
            return line.split()
        return [f.strip() for f in next(csv.reader(_stdio.StringIO(line), delimiter=delim))]

    header: tuple[str, ...] | None = None
    first_fields = split(first)
    if any(_number(f) is None for f in first_fields):
        header = tuple(first_fields)
        lines = lines[1:]
        if not lines:
            raise TexsynthError(f"{q} has a header but no data rows")
    width = len(header) if header is not None else len(first_fields)
    rows = []
    for number, line in lines:
        fields = split(line)
        if len(fields) != width:
            raise TexsynthError(
                f"{q} line {number} has {len(fields)} fields, expected {width}; every row "
                "needs one value per column"
            )
        values = [_number(f) for f in fields]
        for col, (v, f) in enumerate(zip(values, fields, strict=True)):
            if v is None:
                name = f" ({header[col]!r})" if header is not None else ""
                raise TexsynthError(
                    f"{q} line {number}, column {col + 1}{name}: {f!r} is not a number; keep "
                    "only numeric signal columns (drop time stamps and labels)"
                )
        rows.append(values)
    return np.asarray(rows, dtype=np.float64), header


def _number(field: str) -> float | None:
    """``float(field)``; empty fields and ``nan`` are NaN; None if not a number."""
    f = field.strip()
    if f == "" or f.lower() in ("nan", "na", "null"):
        return float("nan")
    try:
        return float(f)
    except ValueError:
        return None


def _finish(
    path: Path,
    fmt: str,
    data: np.ndarray,
    columns: tuple[str, ...] | None,
    allow_nonfinite: bool,
) -> tuple[torch.Tensor, SignalMeta]:
    q = quote_path(path)
    check_real_read(data, q, "a signal")
    dtype_name = data.dtype.name
    if fmt == "csv":
        # rows x columns: one row is one channel along the row, else columns are channels
        data = data if data.shape[0] == 1 else data.T
        if columns is not None and data.shape[0] != len(columns):
            columns = None
    elif data.ndim == 2 and data.shape[0] > data.shape[1]:
        raise TexsynthError(
            f"{q} holds an array of shape {data.shape}, which looks like samples x channels; "
            "save it as (channels, samples), e.g. np.save(path, array.T)"
        )
    data = with_channel_axis(data, q, 1, "a signal is (N,) or (channels, N)")
    if data.size == 0:
        raise TexsynthError(f"{q} holds no samples (shape {data.shape})")
    out_dtype = np.float64 if data.dtype == np.float64 else np.float32
    with np.errstate(over="ignore"):
        arr = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("="), copy=False))
        arr = arr.astype(out_dtype)
    signal = torch.from_numpy(arr)
    check_finite_read(signal, q, allow_nonfinite, "read_signal")
    meta = SignalMeta(
        path=str(path),
        format=fmt,
        dtype=dtype_name,
        channels=int(signal.shape[0]),
        length=int(signal.shape[1]),
        columns=columns,
    )
    logger.debug("read %s: shape %s, %s", path, tuple(signal.shape), meta)
    return signal, meta


def write_signal(
    path: str | os.PathLike[str],
    signal: torch.Tensor | np.ndarray,
    meta: SignalMeta | None = None,
    *,
    columns: list[str] | tuple[str, ...] | None = None,
) -> Path:
    """Write a 1-D signal atomically, in the format of the path's suffix.

    Parameters
    ----------
    path
        ``.npy``, ``.npz`` or ``.csv`` file; its directory must exist. An existing file is
        replaced.
    signal
        ``[N]``, ``[C, N]`` or ``[1, C, N]`` tensor or array of real numbers.
    meta
        Metadata from :func:`read_signal`: float64 sources are written as float64 (else
        float32), and a CSV header's names are written back when the channels match.
    columns
        CSV header names, one per channel (overrides ``meta``'s; default: no header).

    Returns
    -------
    pathlib.Path
        The path written.

    Notes
    -----
    One channel is written as NPY ``(N,)``, several as ``(C, N)``; NPZ under the key
    ``signal``; CSV as one column per channel, with 9 significant digits for float32 and
    17 for float64 (both exact round trips).
    """
    p, fmt, q = output_file(path, _format_of)
    arr = _as_cn(signal, q)
    wide = arr.dtype == np.float64 or (meta is not None and meta.dtype == "float64")
    arr = arr.astype(np.float64 if wide else np.float32)
    names = tuple(columns) if columns is not None else (meta.columns if meta else None)
    if names is not None and len(names) != arr.shape[0]:
        if columns is not None:
            raise TexsynthError(
                f"cannot write {q}: {len(names)} column names for {arr.shape[0]} channels"
            )
        names = None

    def write(f: IO[bytes]) -> None:
        if fmt == "csv":
            f.write(_csv_text(arr, names).encode("utf-8"))
        elif fmt == "npz":
            np.savez_compressed(f, signal=arr[0] if arr.shape[0] == 1 else arr)
        else:
            np.save(f, arr[0] if arr.shape[0] == 1 else arr, allow_pickle=False)

    atomic_write(p, write)
    logger.debug("wrote %s: shape %s, %s", p, arr.shape, arr.dtype)
    return p


def _as_cn(signal: Any, q: str) -> np.ndarray:
    """Tensor/array -> ``[C, N]`` float numpy array, all finite."""
    arr = array_to_write(signal, q, "signal", 1)
    if arr.ndim != 2 or arr.size == 0:
        raise TexsynthError(
            f"cannot write {q}: signal has shape {tuple(arr.shape)}; give [N], [C, N] or [1, C, N]"
        )
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    check_finite_to_write(arr, q, "signal")
    return arr


def _csv_text(arr: np.ndarray, names: tuple[str, ...] | None) -> str:
    """One column per channel, ``%.9g`` (float32) or ``%.17g`` (float64)."""
    fmt = "%.17g" if arr.dtype == np.float64 else "%.9g"
    buf = _stdio.StringIO()
    if names is not None:
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
    np.savetxt(buf, arr.T, fmt=fmt, delimiter=",")
    return buf.getvalue()
