#!/usr/bin/env bash
# Every shell script of the repository passes shellcheck at warning level: scripts/*, .ci/run and
# every *.sh (following what they source, as -x does). Usage: check_scripts.sh ROOT
set -euo pipefail
cd "${1:?usage: check_scripts.sh ROOT}"
command -v shellcheck >/dev/null ||
    { echo "check_scripts: shellcheck is missing; install it (apt-get install shellcheck) or run scripts/test, which does" >&2; exit 1; }
mapfile -t scripts < <(
    {
        find . \( -path ./.git -o -path './build*' -o -path ./.deps -o -name node_modules \) -prune -o \
            -type f -name '*.sh' -print
        for f in scripts/* .ci/run; do
            [[ -f $f ]] && head -c 64 "$f" | grep -q '^#!.*\(bash\|sh\)' && echo "./$f"
        done
        echo ./scripts/lib.sh
    } | sort -u)
((${#scripts[@]} > 5)) || { echo "check_scripts: found only ${#scripts[@]} scripts under $PWD: wrong ROOT?" >&2; exit 1; }
if ! shellcheck -S warning -x "${scripts[@]}" >&2; then
    echo "check_scripts: shellcheck reports the warnings above; fix them (or disable one with a comment that says why)" >&2
    exit 1
fi
echo "check_scripts: ok (${#scripts[@]} scripts)"
