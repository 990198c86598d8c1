#!/usr/bin/env bash
# bench_diff.sh [N] — the scan benchmark: N source vs N destination objects (default
# 1,000,000) with 10% different (5% missing, 5% another size), seeded with /_fakes3/seed into
# two fakes3 servers (oss source, s3 destination), then in the same run:
#   1. ferry task run --dry-run   (list both sides + diff; nothing written)
#   2. ferry task run             (the same + ledger join + enqueue of the 10%)
#   3. rclone sync --dry-run --use-server-modtime   (listing-only comparison, as ferry's)
# Each under /usr/bin/time -v: wall time, CPU (user+sys) and peak RSS of that process.
# Needs a Release build: BIN=build-rel/bin by default (FERRY_BENCH_BIN=DIR to change).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$FERRY_ROOT"

N=${1:-1000000}
BIN=${FERRY_BENCH_BIN:-$FERRY_ROOT/build-rel/bin}
[[ -x $BIN/ferry && -x $BIN/fakes3 ]] || ferry_die "need $BIN/ferry and $BIN/fakes3 (Release build)"
ferry_need rclone curl bc redis-server redis-cli /usr/bin/time
PREFIXES=16
PER=$((N / PREFIXES))
MISSING=$((PER / 20)) # 5% new
CHANGED=$((PER / 20)) # 5% changed

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-XXXXXX")
cleanup() {
    local rc=$?
    ferry_stop_started
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT

mkdir -p "$WORK/redis"
SOCK=$WORK/redis/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --dir "$WORK/redis" --save "" --appendonly no \
    --hash-max-listpack-value 1024 --hash-max-listpack-entries 512 >"$WORK/redis.log" 2>&1 &
FERRY_PIDS+=($!)
for ((i = 0; i < 100; i++)); do [[ $(redis-cli -s "$SOCK" ping 2>/dev/null) == PONG ]] && break; sleep 0.05; done
ferry_start_fakes3 SRC "$BIN/fakes3" "$WORK" oss --bucket src --path-style-ok --quiet
ferry_start_fakes3 DST "$BIN/fakes3" "$WORK" s3 --bucket dst --quiet

seed() {
    curl -sS --fail-with-body -X POST --data "$2" "http://127.0.0.1:$1/_fakes3/seed" >/dev/null
}
ferry_say "seeding $N source objects and $((N - PREFIXES * MISSING)) destination objects ($PREFIXES prefixes)"
t0=$SECONDS
for ((p = 0; p < PREFIXES; p++)); do
    pf=$(printf 'data/p%02d/' "$p")
    seed "$SRC_PORT" "{\"bucket\":\"src\",\"prefix\":\"$pf\",\"count\":$PER,\"size\":64,\"seed\":1}"
done
sleep 1.1 # the copies are newer than the source, as after a real copy
for ((p = 0; p < PREFIXES; p++)); do
    pf=$(printf 'data/p%02d/' "$p")
    seed "$DST_PORT" "{\"bucket\":\"dst\",\"prefix\":\"$pf\",\"count\":$((PER - MISSING)),\"size\":64,\"seed\":1}"
    seed "$DST_PORT" "{\"bucket\":\"dst\",\"prefix\":\"$pf\",\"start\":$((PER - MISSING - CHANGED)),\"count\":$CHANGED,\"size\":65,\"seed\":1}"
done
ferry_say "seeded in $((SECONDS - t0))s; expected differences: $((PREFIXES * (MISSING + CHANGED)))"

export FERRY_SRC_ACCESS_KEY_ID=$SRC_KEY FERRY_SRC_SECRET_ACCESS_KEY=$SRC_SECRET
export FERRY_DST_ACCESS_KEY_ID=$DST_KEY FERRY_DST_SECRET_ACCESS_KEY=$DST_SECRET
F=("$BIN/ferry" --redis "unix://$SOCK")
"${F[@]}" task add bench --from oss://src --to s3://dst --src-endpoint "http://127.0.0.1:$SRC_PORT" \
    --dst-endpoint "http://127.0.0.1:$DST_PORT" >/dev/null

measure() { # measure LABEL CMD...: one line of figures
    local label=$1
    shift
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || {
        tail -5 "$WORK/err.txt" >&2
        ferry_die "$label failed"
    }
    local wall user sys rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/time.txt")
    user=$(sed -n 's/.*User time (seconds): //p' "$WORK/time.txt")
    sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/time.txt")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time.txt")
    printf '%-44s wall %8s  cpu %6.1fs  peak RSS %6.1f MiB\n' "$label" "$wall" \
        "$(echo "$user + $sys" | bc)" "$(echo "scale=1; $rss / 1024" | bc)"
}

ferry_say "results (N=$N, one machine, $(nproc) cores shared by servers and clients)"
measure "ferry task run --dry-run (list + diff)" "${F[@]}" --json task run bench --dry-run
sed -n 1p "$WORK/out.txt" | cut -c1-400
measure "ferry task run (+ ledger join + enqueue)" "${F[@]}" --json task run bench
sed -n 1p "$WORK/out.txt" | cut -c1-400

export RCLONE_CONFIG_SRC_TYPE=s3 RCLONE_CONFIG_SRC_PROVIDER=Other RCLONE_CONFIG_SRC_ENV_AUTH=false
export RCLONE_CONFIG_SRC_ACCESS_KEY_ID=$SRC_KEY RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY=$SRC_SECRET
export RCLONE_CONFIG_SRC_ENDPOINT=http://127.0.0.1:$SRC_PORT RCLONE_CONFIG_SRC_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_DST_TYPE=s3 RCLONE_CONFIG_DST_PROVIDER=Other RCLONE_CONFIG_DST_ENV_AUTH=false
export RCLONE_CONFIG_DST_ACCESS_KEY_ID=$DST_KEY RCLONE_CONFIG_DST_SECRET_ACCESS_KEY=$DST_SECRET
export RCLONE_CONFIG_DST_ENDPOINT=http://127.0.0.1:$DST_PORT RCLONE_CONFIG_DST_FORCE_PATH_STYLE=true
measure "rclone sync --dry-run --use-server-modtime" rclone sync --dry-run --use-server-modtime \
    --config /dev/null src:src dst:dst
echo "rclone: $(grep -c 'Skipped copy' "$WORK/err.txt" || true) copies it would make, $(grep -c 'Skipped delete' "$WORK/err.txt" || true) deletes"
