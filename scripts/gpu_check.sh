#!/usr/bin/env bash
# The CUDA path in one run (see scripts/gpu_check.py): CUDA against CPU agreement of every torch
# renderer, the bench on CUDA (Spot, 23k, 93k at 256..1024 px), the GUI's render worker headless.
# On a machine with an NVIDIA GPU and a CUDA build of torch:  scripts/gpu_check.sh [--device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
exec python scripts/gpu_check.py "$@"
