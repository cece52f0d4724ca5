"""Output templates of an ensemble: ``out/{i:05d}.npy`` names member ``i``'s file.

The template is a :meth:`str.format` pattern whose only field is ``i`` (with any integer
format spec, e.g. ``{i:05d}``), in the file name: every member lies in one folder, beside
the ensemble's manifest (``out/ensemble.jsonl`` for ``out/{i:05d}.npy``,
``out/sky.ensemble.jsonl`` for ``out/sky_{i}.fits``).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from ..errors import TexsynthError
from ..paths import quote_path

__all__ = ["OutputTemplate"]


class OutputTemplate:
    """A checked output template.

    Parameters
    ----------
    template
        ``"out/{i:05d}.npy"``: a file name with one or more ``{i...}`` fields.
    n
        Number of members (the names of members ``0 ... n - 1`` are checked to differ).
    """

    def __init__(self, template: str | os.PathLike[str], n: int) -> None:
        text = os.fspath(template)
        if not isinstance(text, str) or not text:
            raise TexsynthError("the output template is empty; give e.g. 'out/{i:05d}.npy'")
        path = Path(text)
        self.text = text
        self.folder = path.parent
        self.pattern = path.name
        if "{" in str(self.folder) or "}" in str(self.folder):
            raise TexsynthError(
                f"output template {quote_path(text)}: '{{i}}' goes in the file name, not in "
                "the folder (every member is written to one folder); e.g. 'out/{i:05d}.npy'"
            )
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.pattern) if f is not None]
        except ValueError as exc:
            raise TexsynthError(
                f"output template {quote_path(text)} is not a valid pattern ({exc}); give "
                "e.g. 'out/{i:05d}.npy'"
            ) from None
        if not fields:
            raise TexsynthError(
                f"output template {quote_path(text)} has no '{{i}}': every member needs its own "
                "file; give e.g. 'out/{i:05d}.npy' (quote it in the shell)"
            )
        other = sorted({f for f in fields if f != "i"})
        if other:
            raise TexsynthError(
                f"output template {quote_path(text)}: unknown field(s) "
                f"{', '.join('{' + f + '}' for f in other)}; the only field is {{i}}, the "
                "member's index, e.g. 'out/{i:05d}.npy'"
            )
        probe = sorted({0, 1, max(n - 2, 0), max(n - 1, 0)})
        try:
            names = [self.pattern.format(i=k) for k in probe]
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise TexsynthError(
                f"output template {quote_path(text)}: {exc}; format the index as an integer, "
                "e.g. {i} or {i:05d}"
            ) from None
        if len(set(names)) < len(names) or any(not nm or "/" in nm for nm in names):
            raise TexsynthError(
                f"output template {quote_path(text)} gives the same file name to several "
                "members; format the index as an integer, e.g. {i} or {i:05d}"
            )
        self.suffix = Path(names[0]).suffix.lower()

    def name(self, k: int) -> str:
        """The file name of member ``k``."""
        return self.pattern.format(i=k)

    def path(self, k: int) -> Path:
        """The file of member ``k``."""
        return self.folder / self.name(k)

    @property
    def manifest(self) -> Path:
        """The ensemble's manifest, beside the members: the template's name without its
        ``{i}`` fields, ``.ensemble.jsonl`` (``ensemble.jsonl`` when nothing is left)."""
        stem = "".join(lit for lit, _, _, _ in string.Formatter().parse(self.pattern))
        if self.suffix and stem.lower().endswith(self.suffix):
            stem = stem[: -len(self.suffix)]
        stem = stem.strip("_-. ")
        name = f"{stem}.ensemble.jsonl" if stem else "ensemble.jsonl"
        return self.folder / name

    def __str__(self) -> str:
        return self.text
