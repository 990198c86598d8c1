#!/usr/bin/env bash
# cpu_big.sh — CPU per GB of `ferry sync` on large objects, A/B (issue 16).
#
#   test/bench/cpu_big.sh BUILD_DIR FERRY_A [FERRY_B ...]
#
# BUILD_DIR: a release build with fakes3 (e.g. build-rel). FERRY_A, FERRY_B, ...: ferry binaries
# to compare (a copy of the baseline's build-rel/bin/ferry and the current one). Each rep runs
# every binary once, in a rotating order, over the same source (FERRY_BIG_N objects of
# FERRY_BIG_SIZE bytes: default 8 x 256 MiB; 1 x 4 GiB is FERRY_BIG_N=1 FERRY_BIG_SIZE=4294967296)
# to a fresh destination prefix (purged after the run), with the same Redis and the same two
# fakes3 servers (s3 personality, the destination prefaulted). FERRY_BIG_CRC32C=1 seeds the
# source with a stored FULL_OBJECT CRC32C (the check is then CRC32C; without it the source's only
# check is its plain MD5 ETag: the ordered MD5). FERRY_BIG_REPS (default 3) reps;
# FERRY_BIG_FLAGS are added to ferry sync's command line; FERRY_BIG_WRAP prefixes it (e.g.
# "perf record -g -o FILE --").
#
# Per run (ferry sync + the workers it waited for, from /usr/bin/time): wall s, MB/s, CPU s,
# CPU s/GB, minor page faults (per MiB copied too), the largest process's peak RSS, and the two
# fakes3 servers' CPU s during the run. Wall time and MB/s on a shared machine are noise; CPU
# and faults much less so. Output: a Markdown table on stdout, progress on stderr.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_ab_args cpu_big "$@"
N=${FERRY_BIG_N:-8}
SIZE=${FERRY_BIG_SIZE:-268435456}
REPS=${FERRY_BIG_REPS:-3}
CRC=false
[[ ${FERRY_BIG_CRC32C:-0} == 1 ]] && CRC=true
TMP=$(mktemp -d /tmp/ferry-cpu-big.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
say() { echo "cpu_big: $*" >&2; }
BIN=$BUILD/bin
bench_redis --appendonly no
bench_fakes3 src s3 src src; SRC=http://127.0.0.1:$PORT SRC_PID=$SPID
# room for one run's output (purged after each run), as bench_sync.sh does
bench_fakes3 dst s3 dst dst --prefault $((N * SIZE + (256 << 20))); DST=http://127.0.0.1:$PORT DST_PID=$SPID
curl -sf -X POST "$SRC/_fakes3/seed" \
  -d "{\"bucket\":\"src\",\"prefix\":\"b/\",\"count\":$N,\"size\":$SIZE,\"seed\":9,\"crc32c\":$CRC}" >/dev/null
rclone_remote fdst "$DST" dst # for the purge after each run
export FERRY_SRC_ACCESS_KEY_ID=AKsrc FERRY_SRC_SECRET_ACCESS_KEY=SKsrc
export FERRY_DST_ACCESS_KEY_ID=AKdst FERRY_DST_SECRET_ACCESS_KEY=SKdst
HZ=$(getconf CLK_TCK)
say "$N x $SIZE bytes, source CRC32C stored: $CRC"
echo "| run | ferry | wall s | MB/s | CPU s | CPU s/GB | minor faults | faults/MiB | peak RSS MiB | src / dst CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
RUN=0
for ((rep = 0; rep < REPS; rep++)); do
  for ((k = 0; k < ${#FERRYS[@]}; k++)); do
    i=$(((k + rep) % ${#FERRYS[@]}))
    f=${FERRYS[$i]}
    RUN=$((RUN + 1))
    name=big$RUN
    s0=$(cpu_of $SRC_PID) d0=$(cpu_of $DST_PID)
    # shellcheck disable=SC2206 # FERRY_BIG_FLAGS is split into words on purpose
    cmd=(${FERRY_BIG_WRAP:-} "$f" --redis "$REDIS" sync --name "$name" --from s3://src/b/
      --to "s3://dst/$name/" --src-endpoint "$SRC" --dst-endpoint "$DST" --src-region us-east-1
      --dst-region us-east-1 --src-path-style --dst-path-style ${FERRY_BIG_FLAGS:-})
    /usr/bin/time -f "%e %U %S %R %M" -o "$TMP/$name.time" "${cmd[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" ||
      { say "run $RUN ($f) failed:"; tail -5 "$TMP/$name.err" >&2; exit 1; }
    s1=$(cpu_of $SRC_PID) d1=$(cpu_of $DST_PID)
    copied=$(sed -n 's/^sync .*: copied \([0-9]*\) objects.*/\1/p' "$TMP/$name.out")
    [[ $copied == "$N" ]] || { say "run $RUN: copied '$copied' of $N"; cat "$TMP/$name.out" >&2; exit 1; }
    read -r w u s flt rss <"$TMP/$name.time"
    python3 -c "
n=$N*$SIZE;w=$w;c=$u+$s;hz=$HZ
print('| %d | %s | %.2f | %.1f | %.2f | %.3f | %d | %.1f | %d | %.2f / %.2f |'%($RUN,'$f',w,n/w/1e6,c,c/(n/2**30),$flt,$flt/(n/2**20),$rss/1024,($s1-$s0)/hz,($d1-$d0)/hz))"
    rclone purge "fdst:dst/$name" >/dev/null 2>&1 || true
  done
done
