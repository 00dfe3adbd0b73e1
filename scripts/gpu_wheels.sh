#!/usr/bin/env bash
# Wheels for the GPU machine, which has no network: what its image lacks among this project's needs
# (shared/GPU.md: hydra-core, omegaconf, antlr4-python3-runtime, datasets with dill and multiprocess,
# hydra-joblib-launcher) go into .whl/ (ignored by git), and the one device command that installs them and runs
# the GPU suite is printed at the end.
#
#   scripts/gpu_wheels.sh            # versions as installed in the active Python (fallbacks below otherwise)
#   PYTHON=.venv/bin/python scripts/gpu_wheels.sh
#
# The machine runs Python 3.12 on x86-64; pure-Python wheels (all of these) install there whatever this machine is.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
DEST=.whl
mkdir -p "$DEST"

# The installed version of a distribution, or the fallback when it is not installed here.
version() {
    "$PY" -c 'import importlib.metadata as m, sys
try:
    print(m.version(sys.argv[1]))
except m.PackageNotFoundError:
    print(sys.argv[2])' "$1" "$2"
}

# hydra-core 1.3 pins antlr4-python3-runtime==4.9.*; 4.9.3 exists only as a source archive, built below.
PACKAGES=(
    "hydra-core==$(version hydra-core 1.3.2)"
    "omegaconf==$(version omegaconf 2.3.0)"
    "hydra-joblib-launcher==$(version hydra-joblib-launcher 1.2.0)"
    "datasets==$(version datasets 3.6.0)"
    "dill==$(version dill 0.3.8)"
    "multiprocess==$(version multiprocess 0.70.16)"
)

# One version of each: an older wheel left in .whl/ would stop the install there ("two versions of one package").
for spec in "${PACKAGES[@]}" "antlr4-python3-runtime==4.9.3"; do
    name=${spec%%==*}
    stem=$(echo "$name" | tr '-' '_')
    for old in "$DEST"/"$stem"-*.whl "$DEST"/"$name"-*.whl; do
        [[ -e $old && $old != *"-${spec##*==}-"* ]] && rm -f "$old"
    done
done

"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST" "${PACKAGES[@]}"
if ! ls "$DEST"/antlr4_python3_runtime-4.9.3-*.whl >/dev/null 2>&1; then
    "$PY" -m pip wheel -q --no-deps -w "$DEST" antlr4-python3-runtime==4.9.3
fi

echo "Wheels in $DEST/ ($(du -sh "$DEST" | cut -f1)):"
ls -1 "$DEST"
cat <<'EOF'

Device call (the device tool's `run`, with carry [".whl"] and timeout_s 600); one line:

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:. && PYTHONUNBUFFERED=1 python3 scripts/gpu_suite.py --out "$OUT" --deadline-s 540 2>&1 | tee "$OUT/gpu_suite.log"

Add --only PARTS (crossover,bench,mfu,long,demo; estimates in `python scripts/gpu_suite.py --help`) to split the
suite over calls; `python scripts/gpu_suite.py --merge A/gpu_suite.json B/gpu_suite.json --out DIR` joins them here.
EOF
