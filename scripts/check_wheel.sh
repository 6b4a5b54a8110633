#!/usr/bin/env bash
# Builds the sdist and wheel, installs the wheel into a fresh virtual environment and runs
# the installed command from outside the source tree (a step of .ci/run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip install -q build
python -m build --sdist --wheel --outdir "$work/dist" "$root"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/jaxdiff-*.whl
cd "$work"
"$work/venv/bin/python" -m jaxdiff --help > /dev/null
"$work/venv/bin/python" - <<'PY'
import importlib.metadata, pathlib, jaxdiff
where = pathlib.Path(jaxdiff.__file__).parent
assert "site-packages" in str(where), where
assert (where / "py.typed").is_file()
assert jaxdiff.__version__ == importlib.metadata.version("jaxdiff")
print(f"wheel: jaxdiff {jaxdiff.__version__} from {where}")
PY
JAXDIFF_CACHE_DIR=off "$work/venv/bin/jaxdiff" demo --epochs 2 --out "$work/run" --no-figures
test -f "$work/run/samples.npy"
echo "wheel: installed, python -m jaxdiff --help and jaxdiff demo --epochs 2 work"
