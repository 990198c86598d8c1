#!/usr/bin/env bash
# Check deploy/systemd: `systemd-analyze verify` accepts the units with no warning (the real
# ferry binary substituted for /usr/local/bin/ferry), `systemd-analyze security` rates them
# OK (exposure <= 2.0), and what they share with the code: KillMode=mixed, Restart=on-failure,
# TimeoutStopSec >= the worker's --grace + 10 s, ExecStart options the binary accepts, and
# FERRY_* variable names the code reads.
#
# Environment: FERRY_BIN_DIR (default build/bin). Exit 77 (skip) without systemd-analyze.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$root/deploy/systemd
ferry=${FERRY_BIN_DIR:-$root/build/bin}/ferry
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"; exit 77; }
[[ -x $ferry ]] || { echo "FAIL: no ferry binary at $ferry (cmake --build build --target ferry)"; exit 1; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src"/*.service "$src"/*.target "$work/"
touch "$work/ferry.env"
sed -i -e "s|/usr/local/bin/ferry|$ferry|" -e "s|/etc/ferry/ferry.env|$work/ferry.env|" "$work"/*.service
ln -s ferry-worker@.service "$work/ferry-worker@1.service"

units=("$work/ferry-scheduler.service" "$work/ferry-worker@1.service" "$work/ferry-workers.target")
if systemd-analyze verify --man=no "${units[@]}" >"$work/verify.log" 2>&1 && ! [[ -s $work/verify.log ]]; then
    ok "systemd-analyze verify: no error, no warning"
else
    sed "s|$work/||g" "$work/verify.log"
    fail "systemd-analyze verify reported the lines above"
fi
for u in ferry-scheduler.service ferry-worker@1.service; do
    level=$(systemd-analyze security --offline=yes "$work/$u" 2>/dev/null |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [[ -n $level ]] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
        ok "$u: systemd-analyze security exposure $level (<= 2.0)"
    else
        fail "$u: systemd-analyze security exposure ${level:-unknown}, want <= 2.0"
    fi
done

# key VALUE of FILE (the last one wins, as in systemd)
key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
seconds() { # 70s, 2min, 90 -> seconds
    local v=$1
    case $v in
    *ms) echo $((${v%ms} / 1000)) ;;
    *min) echo $((${v%min} * 60)) ;;
    *m) echo $((${v%m} * 60)) ;;
    *h) echo $((${v%h} * 3600)) ;;
    *s) echo "${v%s}" ;;
    *) echo "$v" ;;
    esac
}
for u in ferry-scheduler.service ferry-worker@.service; do
    f=$src/$u
    [[ $(key "$f" KillMode) == mixed ]] && ok "$u: KillMode=mixed" || fail "$u: want KillMode=mixed"
    [[ $(key "$f" Restart) == on-failure ]] && ok "$u: Restart=on-failure" || fail "$u: want Restart=on-failure"
    [[ -n $(key "$f" EnvironmentFile) ]] && ok "$u: EnvironmentFile for secrets" || fail "$u: want an EnvironmentFile"
    read -r -a argv <<<"$(key "$f" ExecStart)"
    argv=("${argv[@]:1}")          # drop the binary
    argv=("${argv[@]//%i/1}")      # the instance
    case ${argv[0]} in
    worker)
        if "$ferry" "${argv[@]}" --help >/dev/null 2>"$work/err"; then
            ok "$u: ferry ${argv[*]} parses"
        else
            fail "$u: ferry ${argv[*]}: $(head -n 1 "$work/err")"
        fi
        grace=30 # worker.c's default drain
        for ((i = 1; i < ${#argv[@]}; i++)); do
            [[ ${argv[i]} == --grace ]] && grace=$(seconds "${argv[i + 1]}")
        done
        stop=$(seconds "$(key "$f" TimeoutStopSec)")
        if ((stop >= grace + 10)); then
            ok "$u: TimeoutStopSec ${stop}s >= drain ${grace}s + 10s"
        else
            fail "$u: TimeoutStopSec ${stop}s < drain ${grace}s + 10s: the drain would be killed"
        fi
        ;;
    scheduler)
        FERRY_REDIS_URL=redis://127.0.0.1:1/0 "$ferry" "${argv[@]}" --ferry-deploy-check >/dev/null 2>"$work/err" || true
        if grep -q 'unknown option --ferry-deploy-check' "$work/err"; then
            ok "$u: ferry ${argv[*]} parses"
        else
            fail "$u: ferry ${argv[*]}: $(head -n 1 "$work/err")"
        fi
        ;;
    *) fail "$u: ExecStart runs \"${argv[0]}\", not ferry worker or ferry scheduler" ;;
    esac
done

# Every FERRY_* name the units or the example env file set is one the code reads.
names=$( (grep -ho 'Environment=FERRY_[A-Z_]*' "$src"/*.service | sed 's/Environment=//'
    grep -o '^FERRY_[A-Z_]*' "$src/ferry.env.example") | sort -u)
for n in $names; do
    if grep -rqF "\"$n\"" "$root/lib" "$root/cmd" "$root/worker" "$root/scheduler"; then
        ok "$n is read by the code"
    else
        fail "$n is set but no source file names \"$n\""
    fi
done
((fails == 0)) || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
