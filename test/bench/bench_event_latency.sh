#!/usr/bin/env bash
# bench_event_latency.sh — issue 13's service benchmarks, on fakes3 (OSS source, S3
# destination) and Redis, through `ferry scheduler --listen` (the HTTP API). Not pass/fail:
# prints figures.
#
#   test/bench/bench_event_latency.sh [BUILD_DIR] [WHICH]
#
# BUILD_DIR: a Release build with ferry, fakes3, bench_enqueue and bench_event_latency
# (default build-rel: cmake -B build-rel -DCMAKE_BUILD_TYPE=Release). WHICH: latency, load or
# both (default "latency load"); cost alone prints what each read route costs the API.
#
# latency: FERRY_BENCH_BULK (100,000) objects of 4 KiB are queued as bulk jobs of a task
#   (bench_enqueue, as a scan would) and 2 worker processes start on it; 2 s later, while they
#   are busy with that backlog, an OSS Function Compute event for a 1 MiB object of the same
#   task is POSTed every 50 ms, FERRY_BENCH_EVENTS (100) of them; per event the time from the
#   POST to its record being `done` (the ledger polled every 5 ms) -> p50/p90/p99/max.
# load: FERRY_BENCH_LOAD_OBJECTS (20,000) objects of 16 KiB copied by 2 worker processes
#   (--exit-when-idle), alternately without and with a 200 requests/s read load on the API
#   (GET /v1/tasks/NAME and /metrics in turn, a new connection each, 8 sender threads),
#   FERRY_BENCH_ROUNDS (4) rounds in the same run, the order of the two runs swapped every
#   round -> wall seconds of each, the slowdown, and the CPU the API process used.
#   FERRY_BENCH_LOAD_ROUTES=task (or metrics) sends only that route.
# The machine is shared (2 cores): run it a few times and read the spread, not one figure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
ferry_need redis-server redis-cli curl python3 bc
BUILD=${1:-$ROOT/build-rel}
WHICH=${2:-"latency load"}
BIN=$BUILD/bin
for b in ferry fakes3 bench_enqueue bench_event_latency; do
  [[ -x $BIN/$b ]] || { echo "bench_event_latency: $BIN/$b missing: build it (cmake --build $BUILD --target $b)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/ferry-bench-ev.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_redis --appendonly no
bench_fakes3 oss oss src oss; SRC=http://127.0.0.1:$PORT
bench_fakes3 s3 s3 dst s3; DST=http://127.0.0.1:$PORT
export FERRY_SRC_ACCESS_KEY_ID=AKoss FERRY_SRC_SECRET_ACCESS_KEY=SKoss
export FERRY_DST_ACCESS_KEY_ID=AKs3 FERRY_DST_SECRET_ACCESS_KEY=SKs3
FERRY_API_TOKEN=bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export FERRY_API_TOKEN

seed() { curl -sf -X POST "$SRC/_fakes3/seed" -d "$1" >/dev/null; }
task_add() { # name source-prefix
  "$BIN/ferry" --redis "$REDIS" task add "$1" --from "oss://src/$2" --to "s3://dst/$1/" \
    --src-endpoint "$SRC" --dst-endpoint "$DST" --src-region us-east-1 --dst-region us-east-1 \
    --src-path-style --dst-path-style >/dev/null
}
# The API: a scheduler whose only scheduled task is an empty one (the benchmark's tasks are
# queued by bench_enqueue and by events, never scanned).
task_add idle idle/
APORT=$(bench_freeport)
API=http://127.0.0.1:$APORT
"$BIN/ferry" --redis "$REDIS" scheduler --task idle --listen "127.0.0.1:$APORT" 2>"$TMP/scheduler.log" &
SCHED_PID=$!
PIDS+=($!)
for _ in $(seq 100); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$API/healthz" >/dev/null || { echo "bench_event_latency: the API did not start:" >&2; cat "$TMP/scheduler.log" >&2; exit 1; }
backlog() { # task -> "event E bulk B"
  curl -sf -H "Authorization: Bearer $FERRY_API_TOKEN" "$API/v1/tasks/$1" |
    python3 -c 'import json,sys; b=json.load(sys.stdin)["backlog"]; print("event %d bulk %d" % (b["event"], b["bulk"]))'
}
now() { date +%s.%N; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }

run_latency() {
  local nbulk=${FERRY_BENCH_BULK:-100000} nev=${FERRY_BENCH_EVENTS:-100} i wp=()
  seed "{\"bucket\":\"src\",\"prefix\":\"lat/bulk/\",\"count\":$nbulk,\"size\":4096,\"seed\":1}"
  seed "{\"bucket\":\"src\",\"prefix\":\"lat/ev/\",\"count\":$nev,\"size\":1048576,\"seed\":2}"
  task_add lat lat/
  echo "latency: $("$BIN/bench_enqueue" "$REDIS" lat oss "$SRC" src lat/bulk/) (bulk, 4 KiB each)"
  for i in 1 2; do
    "$BIN/ferry" --redis "$REDIS" worker --task lat --slot "$i" --log-level warn 2>"$TMP/worker-lat-$i.log" &
    wp+=($!)
    PIDS+=($!)
  done
  sleep 2
  echo "latency: backlog when the events start: $(backlog lat)"
  "$BIN/bench_event_latency" latency "$REDIS" "$APORT" lat src lat/ev/ "$nev" 50 1048576 || echo "latency: some events failed (above)"
  echo "latency: backlog when the last event was done: $(backlog lat)"
  for i in "${wp[@]}"; do kill -TERM "$i" 2>/dev/null || true; done
  for i in "${wp[@]}"; do wait "$i" 2>/dev/null || true; done
}

run_load() {
  local n=${FERRY_BENCH_LOAD_OBJECTS:-20000} rounds=${FERRY_BENCH_ROUNDS:-4} r mode t0 t1 lp i wp st c0 r0 order
  declare -A W C R
  for ((r = 1; r <= rounds; r++)); do
    for mode in quiet loaded; do
      seed "{\"bucket\":\"src\",\"prefix\":\"ld-$r-$mode/\",\"count\":$n,\"size\":16384,\"seed\":$r}"
    done
  done
  for ((r = 1; r <= rounds; r++)); do
    order="quiet loaded"
    ((r % 2)) || order="loaded quiet"
    for mode in $order; do
      task_add "ld-$r-$mode" "ld-$r-$mode/"
      "$BIN/bench_enqueue" "$REDIS" "ld-$r-$mode" oss "$SRC" src "ld-$r-$mode/" >/dev/null
      lp=
      if [[ $mode == loaded ]]; then
        "$BIN/bench_event_latency" load "$APORT" "ld-$r-$mode" 200 "${FERRY_BENCH_LOAD_ROUTES:-both}" >"$TMP/load-$r.out" 2>&1 &
        lp=$!
        PIDS+=($!)
      fi
      c0=$(cpu "$SCHED_PID") r0=$(cpu "$REDIS_PID")
      t0=$(now)
      wp=()
      for i in 1 2; do
        "$BIN/ferry" --redis "$REDIS" worker --task "ld-$r-$mode" --slot "$i" --exit-when-idle \
          --log-level warn 2>"$TMP/worker-ld-$r-$mode-$i.log" &
        wp+=($!)
      done
      st=0
      for i in "${wp[@]}"; do wait "$i" || st=$?; done
      t1=$(now)
      C[$r$mode]=$(echo "$(cpu "$SCHED_PID") - $c0" | bc -l)
      R[$r$mode]=$(echo "$(cpu "$REDIS_PID") - $r0" | bc -l)
      [[ -n $lp ]] && { kill -TERM "$lp"; wait "$lp" || true; echo "load: round $r: $(cat "$TMP/load-$r.out")"; }
      ((st == 0)) || { echo "bench_event_latency: a worker failed (round $r, $mode)" >&2; exit 1; }
      local done_n
      done_n=$(redis-cli -p "$RPORT" hget "ferry:{ld-$r-$mode}:cnt" n2)
      [[ "$done_n" == "$n" ]] || { echo "bench_event_latency: ld-$r-$mode: $done_n/$n done" >&2; exit 1; }
      W[$r$mode]=$(echo "$t1 - $t0" | bc -l)
    done
  done
  echo "| round | without read load s | with 200 req/s s | slowdown | API CPU s (without / with) | Redis CPU s (without / with) |"
  echo "|---|---|---|---|---|---|"
  local sq=0 sl=0
  for ((r = 1; r <= rounds; r++)); do
    printf "| %d | %.2f (%.0f objects/s) | %.2f (%.0f objects/s) | %+.1f %% | %.2f / %.2f | %.2f / %.2f |\n" "$r" "${W[${r}quiet]}" \
      "$(echo "$n / ${W[${r}quiet]}" | bc -l)" "${W[${r}loaded]}" "$(echo "$n / ${W[${r}loaded]}" | bc -l)" \
      "$(echo "(${W[${r}loaded]} / ${W[${r}quiet]} - 1) * 100" | bc -l)" "${C[${r}quiet]}" "${C[${r}loaded]}" "${R[${r}quiet]}" "${R[${r}loaded]}"
    sq=$(echo "$sq + ${W[${r}quiet]}" | bc -l)
    sl=$(echo "$sl + ${W[${r}loaded]}" | bc -l)
  done
  printf "| all | %.2f | %.2f | %+.1f %% | | |\n" "$sq" "$sl" "$(echo "($sl / $sq - 1) * 100" | bc -l)"
}

# What one read request costs the API process, per route, with every task of the run defined:
# 200 sequential requests each (curl's time_total, the page size, the process's CPU).
route_cost() {
  local route c0 t
  for route in /healthz "/v1/tasks/${1:-idle}" /v1/tasks /metrics; do
    c0=$(cpu "$SCHED_PID")
    t=$(for _ in $(seq 200); do
      curl -s -o /dev/null -w '%{time_total} %{size_download}\n' -H "Authorization: Bearer $FERRY_API_TOKEN" "$API$route"
    done | awk '{t += $1; b = $2} END {printf "%.2f ms, %d bytes", t / NR * 1000, b}')
    printf "route %-22s %s, API CPU %.2f ms per request\n" "$route" "$t" \
      "$(echo "($(cpu "$SCHED_PID") - $c0) * 1000 / 200" | bc -l)"
  done
  echo "tasks defined: $("$BIN/ferry" --redis "$REDIS" task ls 2>/dev/null | wc -l), Redis keys: $(redis-cli -p "$RPORT" dbsize)"
}

for w in $WHICH; do
  case $w in
  latency) run_latency ;;
  load) run_load; route_cost ld-1-loaded ;;
  cost) route_cost ;;
  *) echo "bench_event_latency: unknown benchmark $w (latency or load)" >&2; exit 2 ;;
  esac
done
grep -c "ERROR\|error" "$TMP/scheduler.log" >/dev/null && grep -m3 "error" "$TMP/scheduler.log" >&2 || true
