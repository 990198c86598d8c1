#!/usr/bin/env bash
# bench_up.sh — issue 14's autoscaler figures, on fakes3 (OSS source, S3 destination) and
# Redis, through `ferry up`. Not pass/fail: prints figures.
#
#   test/bench/bench_up.sh [BUILD_DIR]
#
# BUILD_DIR: a Release build with ferry, fakes3 and bench_enqueue (default build-rel: cmake -B
# build-rel -DCMAKE_BUILD_TYPE=Release). Per round (FERRY_BENCH_ROUNDS, 3):
#   1. `ferry up --workers 0..8` idles with no worker (desired 0);
#   2. FERRY_BENCH_OBJECTS (10,000) objects of 16 KiB are queued at once as bulk jobs
#      (bench_enqueue, as a scan would), the destination answering each PUT after
#      FERRY_BENCH_PUT_MS (50) ms so that the backlog lasts;
#   -> scale-up: seconds from the start of the enqueue (its first 1,000 jobs land within
#      ~0.1 s; all 10,000 within about a second) to the first `up.scale` log line whose live
#      workers (heartbeats) reach this host's desired count, and that count;
#   3. 2 s later, SIGTERM to ferry up -> drain: seconds until it exited (every worker drained
#      its in-flight copies, the API stopped), and how many objects were done by then.
# The machine is shared (2 cores): read the spread, not one figure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
ferry_need redis-server redis-cli curl python3 bc
BUILD=${1:-$ROOT/build-rel}
BIN=$BUILD/bin
N=${FERRY_BENCH_OBJECTS:-10000}
ROUNDS=${FERRY_BENCH_ROUNDS:-3}
PUT_MS=${FERRY_BENCH_PUT_MS:-50}
for b in ferry fakes3 bench_enqueue; do
  [[ -x $BIN/$b ]] || { echo "bench_up: $BIN/$b missing: build it (cmake --build $BUILD --target $b)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/ferry-bench-up.XXXXXX)
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
curl -sf -X POST "$DST/_fakes3/faults" -d "[{\"op\":\"PutObject\",\"latency_ms\":$PUT_MS}]" >/dev/null
now() { date +%s.%N; }
done_count() { redis-cli -p "$RPORT" --raw hget "ferry:{$1}:cnt" n2 2>/dev/null | grep -E '^[0-9]+$' || echo 0; }

for round in $(seq "$ROUNDS"); do
  T=up$round
  curl -sf -X POST "$SRC/_fakes3/seed" \
    -d "{\"bucket\":\"src\",\"prefix\":\"$T/\",\"count\":$N,\"size\":16384,\"seed\":$round}" >/dev/null
  # the task is never scanned (--every 24h after a first scan of an empty prefix would race
  # the enqueue): ferry up schedules only the idle task
  "$BIN/ferry" --redis "$REDIS" task add "$T" --from "oss://src/$T/" --to "s3://dst/$T/" \
    --src-endpoint "$SRC" --dst-endpoint "$DST" --src-region us-east-1 --dst-region us-east-1 \
    --src-path-style --dst-path-style >/dev/null
  LOG=$TMP/up$round.log
  "$BIN/ferry" --redis "$REDIS" up --listen off --task none --workers 0..8 2>"$LOG" &
  UP=$!
  PIDS+=("$UP")
  for _ in $(seq 100); do grep -q "event=up.scale " "$LOG" && break; sleep 0.1; done
  t0=$(now)
  out=$("$BIN/bench_enqueue" "$REDIS" "$T" oss "$SRC" src "$T/")
  desired=0
  for _ in $(seq 600); do
    line=$(grep "event=up.scale " "$LOG" | awk '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (v["here"] > 0 && v["actual"] >= v["here"]) { print v["ts"], v["here"]; exit } }')
    [[ -n $line ]] && break
    sleep 0.05
  done
  read -r ts desired <<<"$line"
  up_s=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime('$ts','%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp(); print('%.2f' % (t - $t0))")
  first=$(grep "event=up.scale " "$LOG" | grep -v "here=0" | head -1 | sed 's/.*desired=\([0-9]*\).*/\1/')
  sleep 2
  d0=$(done_count "$T")
  t1=$(now)
  kill -TERM $UP
  wait $UP || true
  t2=$(now)
  d1=$(done_count "$T")
  printf 'round %d: %s; first desired %s; workers at desired (%s) %.2f s after the enqueue began; SIGTERM with %s of %d done: drained and exited in %.2f s (%s done)\n' \
    "$round" "$out" "$first" "$desired" "$up_s" "$d0" "$N" "$(echo "$t2 - $t1" | bc)" "$d1"
done
