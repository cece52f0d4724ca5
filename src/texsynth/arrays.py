"""NumPy arrays and Pillow images in, the same kind out.

The public functions compute on ``torch`` tensors (``[C, H, W]`` images, values in their
own units). People also hold images as NumPy arrays (``H x W`` or ``H x W x C``, the layout
of scikit-image, imageio and Pillow) or as Pillow images; :func:`from_user` turns those into
tensors and remembers what they were (:class:`Kind`), and :func:`to_user` gives results
back in that kind:

* a ``torch.Tensor`` is used as it is and results stay tensors;
* a NumPy array of floats keeps its units; integer arrays (``uint8``, ``uint16``, ...) are
  scaled to [0, 1] by their type's largest value and results come back in the same type
  (rounded, clipped); ``H x W`` is one channel, ``H x W x C`` has its channels on
  ``channel_axis`` (default last, as scikit-image's ``channel_axis=-1``), and results have
  the input's layout with the batch first (``[n, H, W]`` or ``[n, H, W, C]``);
* a Pillow image (modes ``1``, ``L``, ``LA``, ``P``, ``RGB``, ``RGBA``, ``I;16``, ``I``,
  ``F``) is read as its values scaled to [0, 1] (``I`` and ``F`` keep their values);
  results come back as images of the same mode, one image when there is one result, a
  list otherwise.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from .errors import TexsynthError

__all__ = ["Kind", "accepts_arrays", "from_user", "to_user"]

F = TypeVar("F", bound=Callable[..., Any])

#: Pillow modes read as 8 bits a channel (after conversion of palette and bilevel images)
_PIL_8BIT = {"L", "LA", "RGB", "RGBA"}


@dataclass(frozen=True)
class Kind:
    """What a user gave: ``"tensor"``, ``"numpy"`` or ``"pil"``, and how to give it back."""

    kind: str = "tensor"
    dtype: Any = None  # NumPy dtype of an array
    channel_axis: int | None = None  # where an array had its channels (None: grey H x W)
    mode: str | None = None  # Pillow mode


TENSOR = Kind()


def _is_pil(x: object) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover (Pillow is a dependency)
        return False
    return isinstance(x, Image.Image)


def from_user(
    x: Any, name: str, *, channel_axis: int | None = -1, ndim: int = 2, batch: bool = False
) -> tuple[Any, Kind]:
    """``x`` as a tensor (``[C, *spatial]``, or ``[B, C, *spatial]`` for a batch of
    arrays), and its :class:`Kind`. Tensors, ``None`` and anything else pass through
    unchanged (the caller's checks name what is wrong with them).

    Parameters
    ----------
    x
        A tensor, NumPy array or Pillow image.
    name
        The argument's name, for error messages.
    channel_axis
        For arrays with one axis more than ``ndim`` (``H x W x C``): the channel axis
        (default last). Arrays of ``ndim + 2`` axes are a batch, first axis.
    ndim
        Spatial axes of the data (2: images; 1: signals, whose arrays are ``[N]`` or
        ``[C, N]``).
    batch
        ``x`` is a batch whose first axis counts the items (``N x H x W`` grey images,
        ``N x H x W x C``, ``[B, N]`` signals); a list of images or arrays always is.
    """
    if x is None or isinstance(x, torch.Tensor):
        return x, TENSOR  # the common case, on the statistics' hot path: nothing to do
    if _is_pil(x):
        return _from_pil(x, name, ndim)
    if (
        isinstance(x, (list, tuple))
        and x
        and all(_is_pil(v) or isinstance(v, np.ndarray) for v in x)
    ):
        # a batch given as a list of images or arrays of one size
        items = [
            from_user(v, f"{name}[{i}]", channel_axis=channel_axis, ndim=ndim)
            for i, v in enumerate(x)
        ]
        shapes = {tuple(t.shape) for t, _ in items}
        if len(shapes) != 1:
            raise TexsynthError(
                f"the items of {name} differ in size ({sorted(shapes)}); give one size"
            )
        return torch.stack([t for t, _ in items]), items[0][1]
    if not isinstance(x, np.ndarray):
        return x, TENSOR
    if batch and x.ndim == ndim + 1:  # a batch of one-channel items
        t, kind = from_user(x[:, None], name, channel_axis=1, ndim=ndim)
        return t, Kind(kind.kind, kind.dtype, None)
    a = x
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.integer):
        # unsigned integers are image levels, scaled to [0, 1]; signed ones keep their units
        info = np.iinfo(a.dtype)
        a = a.astype(np.float32) / (1.0 if info.min < 0 else float(info.max))
    elif not np.issubdtype(a.dtype, np.floating):
        raise TexsynthError(
            f"{name} is a NumPy array of {a.dtype}; give real numbers (float or integer)"
        )
    if ndim == 1:
        if a.ndim not in (1, 2, 3):
            raise TexsynthError(
                f"{name} is a NumPy array of shape {a.shape}; give [N] or [C, N] samples"
            )
        t = torch.from_numpy(np.ascontiguousarray(a))
        return (t[None] if a.ndim == 1 else t), Kind("numpy", x.dtype, None if a.ndim == 1 else 0)
    if a.ndim == 2:
        return torch.from_numpy(np.ascontiguousarray(a))[None], Kind("numpy", x.dtype, None)
    if a.ndim in (3, 4):
        # channel_axis indexes the array's own axes (a batch's first axis is the batch)
        axis = -1 if channel_axis is None else channel_axis
        if not -a.ndim <= axis < a.ndim or (a.ndim == 4 and axis % 4 == 0):
            raise TexsynthError(
                f"channel_axis={channel_axis} does not fit {name} of shape {a.shape}"
            )
        axis %= a.ndim
        first = a.ndim - 3  # where the channels go: [C, H, W] or [B, C, H, W]
        moved = np.moveaxis(a, axis, first)
        if moved.shape[first] > 64:
            raise TexsynthError(
                f"{name} of shape {a.shape} would have {moved.shape[first]} channels; give "
                "H x W or H x W x C, or say where the channels are (channel_axis=...)"
            )
        t = torch.from_numpy(np.ascontiguousarray(moved))
        return t, Kind("numpy", x.dtype, axis - first)  # the channels' place in one item
    raise TexsynthError(
        f"{name} is a NumPy array of shape {a.shape}; give H x W, H x W x C or a batch "
        "N x H x W x C"
    )


def _from_pil(img: Any, name: str, ndim: int) -> tuple[torch.Tensor, Kind]:
    if ndim != 2:
        raise TexsynthError(f"{name} is an image; this function takes 1-D signals")
    mode = img.mode
    if mode in ("1", "P", "PA"):
        img = img.convert("RGBA" if mode == "PA" or "transparency" in img.info else "RGB")
        if mode == "1":
            img = img.convert("L")
    elif mode not in _PIL_8BIT | {"I;16", "I", "F"}:
        raise TexsynthError(
            f"{name} is a Pillow image of mode {mode!r}; convert it to 'RGB' or 'L' first"
        )
    a = np.asarray(img)
    if img.mode in _PIL_8BIT:
        a = a.astype(np.float32) / 255.0
    elif img.mode == "I;16":
        a = a.astype(np.float32) / 65535.0
    else:
        a = a.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t[None] if t.dim() == 2 else t.permute(2, 0, 1).contiguous()
    return t, Kind("pil", None, None, img.mode)


def to_user(t: torch.Tensor, kind: Kind) -> Any:
    """Results ``[n, C, *spatial]`` in the kind the user gave (see the module notes)."""
    if kind.kind == "tensor":
        return t
    a = t.detach().cpu().numpy()
    if kind.kind == "pil":
        return _to_pil(a, kind)
    # grey H x W (or a signal [N]) in: [n, H, W] out; else each item in the input's layout
    a = a[:, 0] if kind.channel_axis is None else np.moveaxis(a, 1, kind.channel_axis + 1)
    dtype = np.dtype(kind.dtype)
    if np.issubdtype(dtype, np.integer) and np.iinfo(dtype).min == 0:
        top = np.iinfo(dtype).max
        return np.clip(np.rint(a * top), 0, top).astype(dtype)
    if dtype.kind == "b" or np.issubdtype(dtype, np.integer):
        return a.astype(np.float32)
    return a.astype(dtype, copy=False)


def _to_pil(a: np.ndarray, kind: Kind) -> Any:
    from PIL import Image

    images = []
    for item in a:  # [C, H, W]
        hwc = np.moveaxis(item, 0, -1)
        mode = kind.mode or "RGB"
        if mode in ("I", "F"):
            img = Image.fromarray(hwc[..., 0].astype(np.int32 if mode == "I" else np.float32))
        elif mode == "I;16":
            img = Image.fromarray(np.clip(np.rint(hwc[..., 0] * 65535), 0, 65535).astype(np.uint16))
        else:
            u8 = np.clip(np.rint(hwc * 255), 0, 255).astype(np.uint8)
            img = Image.fromarray(u8[..., 0] if u8.shape[-1] == 1 else u8)
        images.append(img)
    return images[0] if len(images) == 1 else images


def accepts_arrays(
    *names: str, like: str, ndim: int = 2, batches: tuple[str, ...] = ()
) -> Callable[[F], F]:
    """Decorator: the arguments ``names`` of the function may be NumPy arrays or Pillow
    images (see :func:`from_user`; its ``channel_axis`` argument, if it has one, says where
    their channels are; the arguments ``batches`` are batches), and its result (a tensor,
    or a tuple whose first item is one) comes back in the kind of the argument ``like``."""

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:
                return fn(*args, **kwargs)  # Python's own message for a wrong call
            axis = kwargs.get("channel_axis", bound.arguments.get("channel_axis", -1))
            kind = TENSOR
            for name in names:
                if name in bound.arguments:
                    value, k = from_user(
                        bound.arguments[name],
                        name,
                        channel_axis=axis,
                        ndim=ndim,
                        batch=name in batches,
                    )
                    bound.arguments[name] = value
                    if name == like:
                        kind = k
            out = fn(*bound.args, **bound.kwargs)
            if kind is TENSOR:
                return out
            if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):
                return (to_user(out[0], kind), *out[1:])
            return to_user(out, kind) if isinstance(out, torch.Tensor) else out

        return inner  # type: ignore[return-value]

    return wrap
