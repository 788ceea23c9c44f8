#!/bin/sh
# Render Docs/architecture.dot to Docs/architecture.png with Graphviz (Debian: apt-get install graphviz).
set -eu
cd "$(dirname "$0")"
command -v dot >/dev/null 2>&1 || { echo "render.sh: Graphviz's dot is missing (apt-get install graphviz)" >&2; exit 1; }
dot -Tpng -Gdpi=110 architecture.dot -o architecture.png
echo "wrote $(pwd)/architecture.png"
