"""Static type check of the package: mypy on src/texsynth, with the settings of pyproject.toml.

The CI runs only the test suite, so the type check runs here (about 20 s on 2 cores from a
cold cache; mypy keeps its cache in ``.mypy_cache`` at the repository root).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent


def test_package_type_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    # mypy reads the paths of [tool.mypy] relative to the working directory
    monkeypatch.chdir(ROOT)
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, f"mypy found errors (pyproject.toml [tool.mypy]):\n{stdout}{stderr}"
