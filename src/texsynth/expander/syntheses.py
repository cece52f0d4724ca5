"""Our own syntheses as training data for the expander (issue 19).

:func:`make_syntheses` writes a folder of PNG textures made by texsynth's own synthesis
(:func:`texsynth.synthesize`, ``quality="fast"``) from exemplars that are never the
benchmark's: the procedural families of :mod:`~texsynth.expander.procedural` and crops of
the packaged photographs of :mod:`~texsynth.expander.photos`. ``texsynth train-expander
FOLDER --photos`` then trains on procedural textures, photographs and these syntheses.

Item ``i`` of a run is a pure function of ``(seed, i)`` (:func:`plan`): even items start
from a procedural texture, odd ones from a random crop of a photograph; the method is
``methods[r % M]`` and the family (or photograph) number ``(r // M) % N`` with ``r = i // 2``,
so that every family and photograph meets every method; the exemplar and the synthesis are
seeded from ``numpy.random.SeedSequence([seed, i])``. Every PNG is written atomically (a
hidden temporary, then a rename: a stopped run leaves whole files only) and a record
``syntheses.json`` (settings, and per file its source, method, seeds and seconds) at the end.

The exemplars are checked against the benchmark's (:data:`BENCHMARK_EXEMPLARS`: the
expander benchmark's held-out textures, its validation textures, the scientific ones, and
every exemplar of the quality benchmark): a photograph of that list is refused. The
procedural families ``stripes`` and ``scales`` share a *name* with two validation textures,
but these come from other generators (``benchmarks/quality_exemplars.py``, fixed seeds),
which nothing here calls; the family generators are the ones the trainer already uses.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import TexsynthError
from . import photos as photo_data
from . import procedural
from .protocol import HELD_OUT, VALIDATION

__all__ = [
    "BENCHMARK_EXEMPLARS",
    "DEFAULT_METHODS",
    "RECORD",
    "SCIENTIFIC",
    "SynthesisItem",
    "check_sources",
    "make_syntheses",
    "plan",
]

#: the quality benchmark's scientific exemplars
SCIENTIFIC = (
    "terrain",
    "turbulence",
    "lognormal",
    "cascade",
    "cosmic",
    "craters",
    "moon",
    "hubble_deep_field",
)
#: every benchmark exemplar (``benchmarks/quality_exemplars.py``): never an exemplar here
BENCHMARK_EXEMPLARS = frozenset(HELD_OUT + VALIDATION + SCIENTIFIC + ("immunohistochemistry",))
DEFAULT_METHODS = ("patch", "scattering")
RECORD = "syntheses.json"
SOURCES = ("procedural", "photo")


@dataclass(frozen=True)
class SynthesisItem:
    """One synthesis of a run: its number, source (``"procedural"`` or ``"photo"``), the
    family or photograph, the method, and the seeds of its exemplar and its synthesis."""

    index: int
    source: str
    name: str
    method: str
    exemplar_seed: int
    seed: int

    @property
    def filename(self) -> str:
        """``0007_photo-coffee_scattering.png`` (a method's ``+`` and ``*`` as ``-``)."""
        method = re.sub(r"[^A-Za-z0-9.]+", "-", self.method)
        return f"{self.index:04d}_{self.source}-{self.name}_{method}.png"


def plan(
    count: int,
    seed: int,
    methods: Sequence[str] = DEFAULT_METHODS,
    photos: Sequence[str] = photo_data.PHOTOS,
) -> list[SynthesisItem]:
    """The ``count`` items of a run (see the module's description); ``photos``: the
    photographs to crop (empty: procedural exemplars only)."""
    if not methods:
        raise TexsynthError("give at least one synthesis method")
    families = list(procedural.FAMILIES)
    items = []
    for i in range(count):
        use_photo = bool(photos) and i % 2 == 1
        r = i // 2 if photos else i
        names: Sequence[str] = photos if use_photo else families
        a, b = (int(v) for v in np.random.SeedSequence([int(seed), i]).generate_state(2, np.uint64))
        items.append(
            SynthesisItem(
                index=i,
                source="photo" if use_photo else "procedural",
                name=names[(r // len(methods)) % len(names)],
                method=methods[r % len(methods)],
                exemplar_seed=a >> 1,
                seed=b >> 1,
            )
        )
    return items


def check_sources(items: Sequence[SynthesisItem]) -> None:
    """Refuse (one line) an item whose exemplar is not one of ours: a photograph of the
    benchmarks (:data:`BENCHMARK_EXEMPLARS`) or outside :data:`~texsynth.expander.photos.
    PHOTOS`, or a family outside :data:`~texsynth.expander.procedural.FAMILIES`."""
    for it in items:
        if it.source == "photo":
            ok = it.name in photo_data.PHOTOS and it.name not in BENCHMARK_EXEMPLARS
        else:
            ok = it.source == "procedural" and it.name in procedural.FAMILIES
        if not ok:
            raise TexsynthError(
                f"synthesis {it.index} would start from {it.source} {it.name!r}, which is not "
                "one of the training exemplars (never the benchmark's held-out or validation "
                "textures)"
            )


def exemplar(item: SynthesisItem, size: int, pictures: dict[str, np.ndarray]) -> np.ndarray:
    """The ``[3, size, size]`` float32 exemplar of ``item``: a procedural texture of its
    family, or a uniformly placed crop of its photograph (in ``pictures``)."""
    if item.source == "procedural":
        return procedural.texture(item.exemplar_seed, size, item.name)
    p = pictures[item.name]
    rng = np.random.default_rng(item.exemplar_seed)
    y = int(rng.integers(p.shape[1] - size + 1))
    x = int(rng.integers(p.shape[2] - size + 1))
    return np.ascontiguousarray(p[:, y : y + size, x : x + size], dtype=np.float32)


def _check_method(method: str) -> None:
    if method.strip() == "patch":
        return
    from ..methods import parse_method

    try:
        parse_method(method)
    except TexsynthError as exc:  # one line, naming the patch method too
        raise TexsynthError(f"{exc}; or 'patch'") from None


def _recorded_files(record: Path) -> set[str]:
    """The file names an earlier run's record lists (none where it is absent or unreadable);
    only plain names of PNG files, so that a damaged record cannot point elsewhere."""
    try:
        items = json.loads(record.read_text())["items"]
        names = {str(it["file"]) for it in items}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {n for n in names if n == Path(n).name and n.endswith(".png")}


def make_syntheses(
    folder: str | os.PathLike[str],
    count: int = 24,
    size: int = 128,
    seed: int = 0,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    photos: bool = True,
    quality: str = "fast",
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Write ``count`` syntheses of side ``size`` into ``folder`` (see the module).

    Parameters
    ----------
    folder
        Where to write; created if missing (its parent must exist).
    count, size, seed
        Number of syntheses, their side in pixels (the exemplars' too), and the seed of
        the whole run (same arguments: the same files, on the same machine and threads).
    methods
        Synthesis methods, used in turn (``"patch"`` or any :func:`texsynth.synthesize`
        method such as ``"scattering"`` or ``"gram"``).
    photos
        Start every second synthesis from a crop of a packaged photograph (all of
        :data:`~texsynth.expander.photos.PHOTOS` must be readable); ``False``: procedural
        exemplars only.
    quality
        The synthesis preset (``"fast"``, ``"default"``, ``"best"``).
    overwrite
        Replace files of an earlier run; otherwise an existing file is refused.
    progress
        Called with one line per synthesis.

    Returns
    -------
    list of dict
        Per synthesis: the file, the item's fields and the seconds it took (also in
        ``folder/syntheses.json``).

    Raises
    ------
    TexsynthError
        One line, before anything is written: bad counts or sizes, an unknown method or
        quality, missing photographs, a missing parent folder, an existing file without
        ``overwrite``.
    """
    from ..atomic import atomic_text_write
    from ..io import write_image
    from ..presets import QUALITY_PRESETS
    from ..synthesis import synthesize

    if int(count) < 1:
        raise TexsynthError(f"count must be at least 1, got {count}")
    if int(size) < 16:
        raise TexsynthError(f"size must be at least 16 pixels, got {size}")
    if quality not in QUALITY_PRESETS:
        raise TexsynthError(f"quality must be one of {', '.join(QUALITY_PRESETS)}, got {quality!r}")
    methods = [m.strip() for m in ((methods,) if isinstance(methods, str) else methods)]
    for m in methods:
        _check_method(m)
    pictures: dict[str, np.ndarray] = {}
    if photos:
        pics = photo_data.require_photos()
        pictures = {
            n: p for n, p in zip(photo_data.PHOTOS, pics, strict=True) if min(p.shape[1:]) >= size
        }
        if not pictures:
            raise TexsynthError(f"no packaged photograph is at least {size} pixels on a side")
    items = plan(int(count), int(seed), methods, tuple(pictures))
    check_sources(items)
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise TexsynthError(f"{str(out)!r} is a file, not a folder")
    if not out.parent.is_dir():
        raise TexsynthError(f"folder {str(out.parent)!r} does not exist")
    if not overwrite:
        for name in [RECORD] + [it.filename for it in items]:
            if (out / name).exists():
                raise TexsynthError(
                    f"{str(out / name)!r} exists; give --overwrite or another folder"
                )
    if not os.access(out if out.is_dir() else out.parent, os.W_OK):
        raise TexsynthError(f"cannot write into {str(out)!r}; check its permissions")
    out.mkdir(exist_ok=True)
    # an earlier run's files that this one does not rewrite (a smaller count) would stay in
    # the folder and be trained on: remove those its record lists (never other files)
    for name in _recorded_files(out / RECORD) - {it.filename for it in items}:
        (out / name).unlink(missing_ok=True)
    done: list[dict[str, Any]] = []
    start = time.perf_counter()
    for it in items:
        t0 = time.perf_counter()
        ex = torch.from_numpy(exemplar(it, size, pictures))
        res = synthesize(ex, method=it.method, seed=it.seed, quality=quality, progress=False)
        assert isinstance(res, torch.Tensor)
        write_image(out / it.filename, res[0].clamp(0, 1), bit_depth=8)
        seconds = time.perf_counter() - t0
        done.append({"file": it.filename, **asdict(it), "seconds": round(seconds, 3)})
        if progress is not None:
            progress(f"{it.index + 1}/{count} {it.filename} {seconds:.1f} s")
    from ..version import __version__

    record = {
        "format": "texsynth-expander-syntheses/1",
        "texsynth": __version__,
        "count": int(count),
        "size": int(size),
        "seed": int(seed),
        "methods": methods,
        "photos": photos,
        "quality": quality,
        "torch_threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - start, 3),
        "never_used": sorted(BENCHMARK_EXEMPLARS),
        "items": done,
    }
    atomic_text_write(out / RECORD, json.dumps(record, indent=1))
    return done
