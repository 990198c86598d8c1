#!/usr/bin/env bash
# Render a kustomize overlay (default deploy/k8s/overlays/example) with `kubectl kustomize`
# (offline), turn it into JSON with `kubectl label --local` (offline too), and cross-check it
# against the code with check_k8s.js (Node.js) and the built ferry binary.
#
#   test/deploy/check_k8s.sh [--scale-route] [OVERLAY_DIR]
#
# Environment: FERRY_BIN_DIR (default build/bin). Exit 77 (skip) without kubectl or node.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=()
if [[ ${1:-} == --scale-route ]]; then
    mode=(--scale-route)
    shift
fi
overlay=${1:-$root/deploy/k8s/overlays/example}
command -v kubectl >/dev/null || { echo "SKIP: kubectl is not installed (it renders the manifests)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed (apt-get install nodejs)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! kubectl kustomize "$overlay" >"$work/rendered.yaml" 2>"$work/err"; then
    cat "$work/err" >&2
    echo "FAIL: kubectl kustomize $overlay does not render" >&2
    exit 1
fi
echo "ok: kubectl kustomize $overlay renders ($(grep -c '^kind:' "$work/rendered.yaml") objects)"
# --local: no cluster is contacted; the label only makes kubectl print the objects as JSON.
if ! kubectl label --local -f "$work/rendered.yaml" -o json ferry.check/rendered=1 >"$work/rendered.json" 2>"$work/err"; then
    cat "$work/err" >&2
    echo "FAIL: kubectl cannot read the rendered YAML back" >&2
    exit 1
fi
FERRY_ROOT=$root FERRY_BIN=${FERRY_BIN_DIR:-$root/build/bin}/ferry node "$here/check_k8s.js" "$work/rendered.json" "${mode[@]}"
