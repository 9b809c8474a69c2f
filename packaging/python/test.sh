#!/usr/bin/env bash
# Builds the Python package from this checkout into a virtual environment and runs its
# tests (the Reader against the CLI, and Spark in local[2] on the shared printed pages).
# The package is built in the dev profile with the same CARGO_TARGET_DIR as `cargo test`,
# so Burn is not compiled again. Java 17 comes from packaging/setup.sh.
#   bash packaging/python/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${INKREAD_PY_VENV:-${CARGO_TARGET_DIR:-target}/py-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
export PATH="$venv/bin:$PATH"   # the build backend runs the venv's maturin
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q 'maturin>=1.9,<2' 'pytest>=7' 'psutil>=5' \
  'pyspark==4.0.1' 'pyarrow>=12' 'pandas>=1.5'
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps --no-build-isolation ./packaging/python
cargo build --locked --bin inkread   # the CLI the tests compare against
"$venv/bin/python" -m pytest -q packaging/python/tests "$@"
