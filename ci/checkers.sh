#!/usr/bin/env bash
# The tools that cannot live in the project's venv, each in a venv of its own made from its
# pinned list (ci/NAME.txt -> .venv-NAME/ in the repository), run offline on the current
# directory (the repository root, or a copy of its templates and checker settings):
#
#   ci/checkers.sh setup             make or refresh .venv-taskcat, -checkov and -sagemaker
#   ci/checkers.sh taskcat           `taskcat lint` of ./.taskcat.yml, strict (warnings fail too)
#   ci/checkers.sh checkov [ARG...]  checkov with ./.checkov.yaml, plus ARGs
#   ci/checkers.sh sagemaker ARG...  python of the SageMaker Python SDK v3's venv, with ARGs
#   ci/checkers.sh lock NAME         re-pin ci/NAME.txt from its "# requires:" line
#
# A venv is built once and rebuilt only when its requirements file or the interpreter changes
# (their hash is kept in the venv); concurrent runs wait for each other. PYTHON picks the
# interpreter (default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
PIP_FLAGS=(--quiet --disable-pip-version-check)

# Print the path of an up-to-date venv for ci/$1.txt, building it first if needed.
venv() {
    local requirements="$ROOT/ci/$1.txt" dir="$ROOT/.venv-$1" digest
    digest="$({ cat "$requirements"; "$PYTHON" --version; } | sha256sum | cut -d' ' -f1)"
    exec 9<"$requirements"
    flock 9
    if [[ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" != "$digest" ]]; then
        echo "checkers: building $dir from ci/$1.txt" >&2
        rm -rf "$dir"
        "$PYTHON" -m venv "$dir"
        echo '*' > "$dir/.gitignore"  # as Python 3.13's venv does: git never sees it
        "$dir/bin/pip" install "${PIP_FLAGS[@]}" --no-deps -r "$requirements" >&2
        "$dir/bin/pip" check >&2
        echo "$digest" > "$dir/.requirements.sha256"
    fi
    exec 9<&-
    echo "$dir"
}

lock() {
    local requirements="$ROOT/ci/$1.txt" scratch
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' RETURN
    read -ra wanted < <(sed -n 's/^# requires: //p' "$requirements")
    "$PYTHON" -m venv "$scratch/venv"
    "$scratch/venv/bin/pip" install "${PIP_FLAGS[@]}" "${wanted[@]}"
    { grep '^#' "$requirements"; "$scratch/venv/bin/pip" freeze; } > "$requirements.new"
    mv "$requirements.new" "$requirements"
}

case "${1:-}" in
    setup)
        venv taskcat > /dev/null
        venv checkov > /dev/null
        venv sagemaker > /dev/null
        ;;
    taskcat)
        dir="$(venv taskcat)"
        "$dir/bin/python" "$ROOT/ci/taskcat_lint.py"
        ;;
    checkov)
        shift
        dir="$(venv checkov)"
        "$dir/bin/checkov" "$@"
        ;;
    sagemaker)
        shift
        dir="$(venv sagemaker)"
        "$dir/bin/python" "$@"
        ;;
    lock)
        lock "${2:?which requirements: taskcat, checkov or sagemaker}"
        ;;
    *)
        sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
esac
