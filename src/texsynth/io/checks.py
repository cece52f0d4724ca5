"""Checks shared by the readers and writers of images (:mod:`~texsynth.io.images`) and
1-D signals (:mod:`~texsynth.io.signals`): the files read and written, arrays of real
numbers, a channel axis first, finite values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import TexsynthError
from ..paths import as_path, check_target, input_size, quote_path

__all__ = [
    "array_to_write",
    "check_finite_read",
    "check_finite_to_write",
    "check_real_read",
    "input_file",
    "nonfinite_error",
    "output_file",
    "real_array",
    "with_channel_axis",
]

#: ``format_of(path, action)``: the format of ``path``'s suffix, or a one-line error
#: (``action``: ``"read"`` or ``"write"``)
FormatOf = Callable[[Path, str], str]


def input_file(path: Any, format_of: FormatOf, what: str, fix: str) -> tuple[Path, str]:
    """The path and format of a file to read (``what`` names it in errors); one-line errors
    for a bad path, an unknown suffix, a missing or an empty file (whose message ends with
    ``fix``)."""
    p = as_path(path, "path")
    fmt = format_of(p, "read")
    if input_size(p, what) == 0:
        raise TexsynthError(f"{quote_path(p)} is empty (0 bytes); {fix}")
    return p, fmt


def output_file(path: Any, format_of: FormatOf) -> tuple[Path, str, str]:
    """The path, format and quoted name of a file to write; one-line errors for a bad
    path, an unknown suffix, a missing folder or a directory in the way."""
    p = as_path(path, "path")
    fmt = format_of(p, "write")
    check_target(p)
    return p, fmt, quote_path(p)


def check_real_read(data: np.ndarray, q: str, what: str) -> None:
    """A one-line error if the array read from ``q`` does not hold real numbers (``what``
    names the kind of data, e.g. ``"an image"``)."""
    if data.dtype.kind not in "biuf":
        raise TexsynthError(
            f"{q} holds {data.dtype} data; {what} must hold real numbers (bool, int or float)"
        )


def with_channel_axis(data: np.ndarray, q: str, ndim: int, layouts: str) -> np.ndarray:
    """``data`` read from file ``q`` as ``[C, *shape]`` (``ndim`` spatial axes): an array of
    ``ndim`` axes gets a channel axis of one; any other number of axes but ``ndim + 1`` is
    an error that names the accepted ``layouts``."""
    if data.ndim == ndim:
        data = data[None]
    if data.ndim != ndim + 1:
        raise TexsynthError(f"{q} holds a {data.ndim}-D array of shape {data.shape}; {layouts}")
    return data


def check_finite_read(
    t: torch.Tensor, q: str, allow_nonfinite: bool, reader: str
) -> tuple[torch.Tensor, int]:
    """Where data ``t`` read from ``q`` is finite, and how many values are not; an error
    (:func:`nonfinite_error`) if some are not, unless ``allow_nonfinite``."""
    finite = torch.isfinite(t)
    n_bad = int(t.numel() - finite.sum())
    if n_bad and not allow_nonfinite:
        n_nan = int(torch.isnan(t).sum())
        raise nonfinite_error(q, n_bad, n_nan, t.numel(), reader)
    return finite, n_bad


def nonfinite_error(
    q: str, n_bad: int, n_nan: int, total: int, reader: str = "read_image"
) -> TexsynthError:
    """The error of a file (``q``: its quoted name) holding NaN/Inf values. In Python:
    read it with ``allow_nonfinite`` and mask them; on the command line, which cannot skip
    them: fill them (and have synth inpaint them with ``--mask``)."""
    what = f"{q} has {n_bad} non-finite values ({n_nan} NaN, {n_bad - n_nan} Inf) out of {total}"
    return TexsynthError(
        f"{what}; fill them, or read with {reader}(..., allow_nonfinite=True), replace them "
        "(e.g. torch.nan_to_num) and exclude them with a mask (in_mask= 0 there)",
        cli=f"{what}; replace them with finite values (e.g. 0) before use, and to have synth "
        "fill them, mark them white in a --mask (the command line cannot skip them; the "
        f"Python API can: {reader}(..., allow_nonfinite=True))",
    )


def real_array(data: Any, q: str, what: str) -> np.ndarray:
    """A tensor or array to write (``what`` names it in errors) as a numpy array of real
    numbers (booleans, integers or floats)."""
    if isinstance(data, torch.Tensor):
        t = data.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        arr = t.numpy()
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        raise TexsynthError(
            f"cannot write {q}: {what} must be a torch.Tensor or numpy.ndarray, "
            f"got {type(data).__name__}"
        )
    if arr.dtype.kind not in "biuf":
        raise TexsynthError(f"cannot write {q}: {what} has dtype {arr.dtype}; give real numbers")
    return arr


def array_to_write(data: Any, q: str, what: str, ndim: int) -> np.ndarray:
    """A tensor or array to write to ``q`` (``what`` names it in errors) as a numpy array of
    real numbers with its channel axis first: ``[1, C, *shape]`` loses its batch axis and
    ``shape`` (``ndim`` spatial axes) gains a channel axis of one; other shapes are left for
    the caller to refuse."""
    arr = real_array(data, q, what)
    if arr.ndim == ndim + 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == ndim:
        arr = arr[None]
    return arr


def check_finite_to_write(
    arr: np.ndarray, q: str, what: str, converted_to: str | None = None
) -> None:
    """Raise a one-line error if ``arr``, to be written to ``q``, holds NaN/Inf values.
    ``converted_to`` names the dtype the values were just converted to: the count is then
    split into NaN and Inf (or beyond that dtype's range)."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    n_bad = int(arr.size - np.count_nonzero(finite))
    detail = ""
    if converted_to is not None:
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        detail = f" ({n_nan} NaN, {n_bad - n_nan} Inf or beyond {converted_to})"
    raise TexsynthError(
        f"cannot write {q}: {what} has {n_bad} non-finite values{detail} out of {arr.size}; "
        "fill them first"
    )
