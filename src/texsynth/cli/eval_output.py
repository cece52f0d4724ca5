"""What ``texsynth eval`` prints and records, for images and signals alike."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..io import atomic_text_write
from ..io.runs import record_header

__all__ = ["show_evaluation"]


def show_evaluation(
    args: argparse.Namespace,
    report: Any,
    compared_on: str,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    """Print an evaluation report (``texsynth eval``) and write its ``--json`` record.

    ``compared_on`` says what pieces were compared (``"48x48 crops"``), ``note`` ends the
    line that explains the relative column, ``extra`` adds keys to the record.
    """
    k = len(args.samples)
    print(f"{args.exemplar} vs {k} sample{'s' * (k > 1)} ({compared_on})\n")
    print(report.table())
    print(
        "\nrelative = samples / real crop: 1.0 means as close to the exemplar as another "
        f"real piece of it{note}"
    )
    if args.json is not None:
        doc = {
            **record_header("eval"),
            "exemplar": str(args.exemplar),
            "samples": [str(p) for p in args.samples],
            **(extra or {}),
            **report.to_dict(),
        }
        atomic_text_write(args.json, json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
