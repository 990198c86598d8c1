#!/usr/bin/env bash
# bench_copy.sh — ferry worker vs rclone (Debian's) on the same two fakes3 servers, same run.
#
#   test/bench/bench_copy.sh [BUILD_DIR] [SCENARIOS]
#   test/bench/bench_copy.sh --e2e [BUILD_DIR] [SCENARIOS]   end to end: `ferry sync` vs
#       `rclone copy`, listing included (test/bench/bench_sync.sh; its header lists the scenarios)
#
# BUILD_DIR: a release build with ferry, fakes3 and bench_enqueue (default build-rel).
# SCENARIOS: any of a b c (default "a b c"):
#   a) 10,000 x 16 KiB   b) 8 x 256 MiB   c) 1 x 4 GiB
# Source: fakes3 --personality oss (seeded, bytes generated on the fly, with CRC-64);
# destination: fakes3 --personality s3 (in memory; each tool's output is purged after its run).
# Measured per tool with /usr/bin/time: wall seconds, CPU seconds (user+sys), peak RSS. The
# servers' CPU is not counted for either tool. ferry's figures are the worker's; the listing
# and enqueue that ferry's scheduler does are timed separately (bench_enqueue) and reported
# beside them (rclone lists the source itself). The servers' CPU (both fakes3 and redis, from
# /proc) during each tool's run is reported in its own column: on a small machine the servers
# share the cores with the tool, so a tool can be bound by them. FERRY_BENCH_WRAP (e.g.
# "perf record -g -o /tmp/ferry.perf --") prefixes ferry's command line. FERRY_BENCH_A_FLAGS
# replaces ferry's flags for scenario a; FAKES3_BENCH_FLAGS adds flags to both servers;
# FAKES3_DST_PREFAULT sets the destination's --prefault bytes (0: off); FERRY_BENCH_REDIS_STATS=1
# prints Redis's command statistics for ferry's run; FERRY_BENCH_LOG=PATH keeps ferry's stderr
# as PATH.SCENARIO. FERRY_BENCH_BEFORE=BUILD_DIR also runs the ferry (and bench_enqueue) of an
# older release build in the same run, on the same servers, labelled "ferry (before)": what a
# change costs, measured side by side. Output: a Markdown table on stdout.
set -euo pipefail
[[ ${1:-} == --e2e ]] && exec "$(dirname "$0")/bench_sync.sh" "${@:2}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BUILD=${1:-$ROOT/build-rel}
SCEN=${2:-"a b c"}
BIN=$BUILD/bin
for b in ferry fakes3 bench_enqueue; do
  [[ -x $BIN/$b ]] || { echo "bench_copy: $BIN/$b missing: build it (cmake --build $BUILD --target $b)" >&2; exit 2; }
done
ferry_need rclone redis-server redis-cli curl python3 bc /usr/bin/time
TMP=$(mktemp -d /tmp/ferry-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_redis --appendonly no
start_fakes3() { # personality bucket [extra flags...] -> sets PORT
  # shellcheck disable=SC2086 # FAKES3_BENCH_FLAGS is a list of flags
  bench_fakes3 "$1" "$1" "$2" "$1" "${@:3}" ${FAKES3_BENCH_FLAGS:-}
}
start_fakes3 oss src; SPORT=$PORT
# The destination stores what both tools write: its pages are faulted in at start (see
# docs/internals/fakes3.md, --prefault) so that zeroing fresh pages on this VM does not make the
# server the limit. 4.5 GiB covers scenario c's 4 GiB (each tool's output is purged after it).
start_fakes3 s3 dst --prefault "${FAKES3_DST_PREFAULT:-4831838208}"; DPORT=$PORT
SERVER_PIDS="${PIDS[*]}"
REDIS_PID=${PIDS[0]} SRC_PID=${PIDS[1]} DST_PID=${PIDS[2]}
split_cpu() { # -> "redis R, fakes3 src S, fakes3 dst D" (seconds so far)
  printf "redis %.2f, fakes3 src %.2f, fakes3 dst %.2f" "$(servers_cpu "$REDIS_PID")" \
    "$(servers_cpu "$SRC_PID")" "$(servers_cpu "$DST_PID")"
}
servers_cpu() { # user+sys seconds of the given pids (default: redis and both fakes3) so far
  local t=0 p
  for p in ${1:-$SERVER_PIDS}; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t / $(getconf CLK_TCK)" | bc -l
}
SRC=http://127.0.0.1:$SPORT
DST=http://127.0.0.1:$DPORT

export FERRY_SRC_ACCESS_KEY_ID=AKoss FERRY_SRC_SECRET_ACCESS_KEY=SKoss
export FERRY_DST_ACCESS_KEY_ID=AKs3 FERRY_DST_SECRET_ACCESS_KEY=SKs3
export RCLONE_CONFIG_FSRC_TYPE=s3 RCLONE_CONFIG_FSRC_PROVIDER=Other \
  RCLONE_CONFIG_FSRC_ACCESS_KEY_ID=AKoss RCLONE_CONFIG_FSRC_SECRET_ACCESS_KEY=SKoss \
  RCLONE_CONFIG_FSRC_ENDPOINT=$SRC RCLONE_CONFIG_FSRC_REGION=us-east-1 RCLONE_CONFIG_FSRC_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_FDST_TYPE=s3 RCLONE_CONFIG_FDST_PROVIDER=Other \
  RCLONE_CONFIG_FDST_ACCESS_KEY_ID=AKs3 RCLONE_CONFIG_FDST_SECRET_ACCESS_KEY=SKs3 \
  RCLONE_CONFIG_FDST_ENDPOINT=$DST RCLONE_CONFIG_FDST_REGION=us-east-1 RCLONE_CONFIG_FDST_FORCE_PATH_STYLE=true

seed() { curl -sf -X POST "$SRC/_fakes3/seed" -d "$1" >/dev/null; }

timed() { # name cmd... -> "wall cpu rss_kib"
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/$1.time" "${@:2}" >"$TMP/$1.out" 2>"$TMP/$1.err" || {
    echo "bench_copy: $1 failed:" >&2; tail -5 "$TMP/$1.err" >&2; exit 1; }
  awk '{printf "%s %.2f %s\n", $1, $2+$3, $4}' "$TMP/$1.time"
}

declare -A NOBJ BYTES FFLAGS RFLAGS PROCS
NOBJ[a]=10000; BYTES[a]=$((10000*16384))
NOBJ[b]=8;     BYTES[b]=$((8*268435456))
NOBJ[c]=1;     BYTES[c]=4294967296
FFLAGS[a]="${FERRY_BENCH_A_FLAGS:---concurrency 64 --ring 1MiB}"
FFLAGS[b]="--concurrency 8 --parts-per-job 8 --streams 64 --ring 2MiB"
FFLAGS[c]="--concurrency 1 --parts-per-job 16 --streams 16 --ring 2MiB"
# Worker processes per scenario: one, and for the small-object scenario also one per core (a
# single event loop is the limit there; see docs/scaling.md). Peak RSS is per process.
PROCS[a]=${FERRY_BENCH_A_PROCS:-"1 $(nproc)"}; PROCS[b]=1; PROCS[c]=1
RFLAGS[a]="--transfers 64 --checkers 64 --no-check-dest"
RFLAGS[b]="--transfers 8 --checkers 8 --s3-upload-concurrency 8 --s3-chunk-size 16M --multi-thread-streams 4 --no-check-dest"
RFLAGS[c]="--transfers 1 --checkers 1 --s3-upload-concurrency 16 --s3-chunk-size 16M --multi-thread-streams 4 --no-check-dest"
seed '{"bucket":"src","prefix":"a/","count":10000,"size":16384,"seed":1}'
seed '{"bucket":"src","prefix":"b/","count":8,"size":268435456,"seed":2}'
seed '{"bucket":"src","prefix":"c/","count":1,"size":4294967296,"seed":3}'

echo "| scenario | tool | wall s | objects/s | MB/s | CPU s | CPU s/GB | peak RSS MiB | servers CPU s | flags |"
echo "|---|---|---|---|---|---|---|---|---|---|"
# N worker processes (ferry's unit of parallelism: one event loop each, as `ferry sync
# --workers N` runs them), each with the given flags, all waited for. Exit status: the first
# failure's.
workers() { # n flags...
  local n=$1 i pids=() st=0
  shift
  for ((i = 1; i <= n; i++)); do
    ${FERRY_BENCH_WRAP:-} "$BIN/ferry" --redis "$REDIS" worker --slot "$i" --exit-when-idle \
      --log-level warn "$@" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || st=$?; done
  return $st
}
export -f workers
export BIN REDIS

# Run ferry on scenario $s with $1 worker processes, from build bin dir $2 (default $BIN);
# sets fw fc fr fs enq.
run_ferry() {
  local n=$1 BIN=${2:-$BIN} task=bench-$s-$1${3:-}
  "$BIN/ferry" --redis "$REDIS" task add "$task" --from "oss://src/$s/" --to "s3://dst/ferry-$s/" \
    --src-endpoint "$SRC" --dst-endpoint "$DST" --src-region us-east-1 --dst-region us-east-1 \
    --src-path-style --dst-path-style --part-size 16MiB >/dev/null
  enq=$("$BIN/bench_enqueue" "$REDIS" "$task" oss "$SRC" src "$s/")
  [[ -n ${FERRY_BENCH_REDIS_STATS:-} ]] && redis-cli -p "$RPORT" config resetstat >/dev/null
  local s0
  s0=$(servers_cpu)
  echo "bench_copy: $s: servers CPU before ferry x$n: $(split_cpu)" >&2
  # shellcheck disable=SC2086
  read -r fw fc fr < <(BIN=$BIN timed "ferry-$s-$n${3:-}" bash -c 'workers "$@"' workers "$n" --task "$task" ${FFLAGS[$s]})
  fs=$(echo "$(servers_cpu) - $s0" | bc -l)
  [[ -n ${FERRY_BENCH_LOG:-} ]] && cp "$TMP/ferry-$s-$n.err" "$FERRY_BENCH_LOG.$s-$n"
  echo "bench_copy: $s: servers CPU after ferry x$n:  $(split_cpu)" >&2
  if [[ -n ${FERRY_BENCH_REDIS_STATS:-} ]]; then # where Redis spent its time during ferry's run
    redis-cli -p "$RPORT" info commandstats | grep -v '^#' | sort -t= -k3 -rn | head -12 >&2
    redis-cli -p "$RPORT" config resetstat >/dev/null
  fi
  local done_n
  done_n=$(redis-cli -p "$RPORT" hget "ferry:{$task}:cnt" n2)
  [[ "$done_n" == "${NOBJ[$s]}" ]] || { echo "bench_copy: ferry left $done_n/${NOBJ[$s]} done" >&2; exit 1; }
  env -u AWS_CA_BUNDLE rclone purge "fdst:dst/ferry-$s" >/dev/null 2>&1 || true
}

PAIR=0
for s in $SCEN; do
  declare -A FW FC FR FS FE
  for n in ${PROCS[$s]}; do
    # With a before build, the two alternate which runs first (the first ferry run of a bench
    # costs ~8% more CPU whichever build it is: page faults of fresh server buffers).
    for which in $( ((PAIR++ % 2)) && echo "before now" || echo "now before"); do
      if [[ $which == now ]]; then
        run_ferry "$n"
        FW[$n]=$fw FC[$n]=$fc FR[$n]=$fr FS[$n]=$fs FE[$n]=$enq
      elif [[ -n ${FERRY_BENCH_BEFORE:-} ]]; then
        run_ferry "$n" "$FERRY_BENCH_BEFORE/bin" -before
        FW[b$n]=$fw FC[b$n]=$fc FR[b$n]=$fr FS[b$n]=$fs FE[b$n]=$enq
      fi
    done
  done
  s0=$(servers_cpu)
  read -r rw rc rr < <(timed "rclone-$s" env -u AWS_CA_BUNDLE rclone copy "fsrc:src/$s/" "fdst:dst/rclone-$s/" ${RFLAGS[$s]})
  rs=$(echo "$(servers_cpu) - $s0" | bc -l)
  echo "bench_copy: $s: servers CPU after rclone: $(split_cpu)" >&2
  env -u AWS_CA_BUNDLE rclone purge "fdst:dst/rclone-$s" >/dev/null 2>&1 || true
  gb=$(echo "${BYTES[$s]} / 1000000000" | bc -l)
  row() { # tool wall cpu rss servers-cpu flags
    printf "| %s | %s | %.2f | %.0f | %.0f | %.2f | %.2f | %.0f | %.2f | \`%s\` |\n" "$s" "$1" "$2" \
      "$(echo "${NOBJ[$s]} / $2" | bc -l)" "$(echo "${BYTES[$s]} / 1000000 / $2" | bc -l)" "$3" \
      "$(echo "$3 / $gb" | bc -l)" "$(echo "$4 / 1024" | bc -l)" "$5" "$6"
  }
  for n in ${PROCS[$s]}; do
    label=ferry
    ((n > 1)) && label="ferry, $n processes"
    row "$label" "${FW[$n]}" "${FC[$n]}" "${FR[$n]}" "${FS[$n]}" "${FFLAGS[$s]} (${FE[$n]})"
    [[ -n ${FW[b$n]:-} ]] && row "$label (before)" "${FW[b$n]}" "${FC[b$n]}" "${FR[b$n]}" "${FS[b$n]}" "${FFLAGS[$s]} (${FE[b$n]})"
  done
  row rclone "$rw" "$rc" "$rr" "$rs" "${RFLAGS[$s]}"
  for n in ${PROCS[$s]}; do
    label="ratio ferry/rclone"
    ((n > 1)) && label="ratio ferry ($n processes)/rclone"
    printf "| %s | %s | speed %.2fx | | | CPU/GB %.2fx | | RSS %.2fx | | |\n" "$s" "$label" \
      "$(echo "$rw / ${FW[$n]}" | bc -l)" "$(echo "${FC[$n]} / $rc" | bc -l)" \
      "$(echo "${FR[$n]} / $rr" | bc -l)"
  done
  unset FW FC FR FS FE
done
