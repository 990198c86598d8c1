#!/usr/bin/env bash
# bench_intake.sh — events/s accepted by POST /v1/tasks/NAME/events (ferry scheduler --listen),
# Redis on the same cores (AOF appendfsync everysec, as the private server runs).
#
#   test/bench/bench_intake.sh [BUILD_DIR] [CONNS] [SINGLE_REQS] [BATCH_REQS]
#
# BUILD_DIR: a build with ferry and bench_intake (default build-rel; a sanitizer build works
# but measures the sanitizers). Two runs on CONNS keep-alive connections (default 8): bodies
# of 1 record (SINGLE_REQS per connection, default 2000) and of 100 records (BATCH_REQS,
# default 50). Every key is new, so every record is queued. Prints one line per run and the
# server's CPU seconds; figures, not pass/fail.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
ferry_need redis-server redis-cli curl python3 bc
BUILD=${1:-$ROOT/build-rel}
CONNS=${2:-8}
SINGLE=${3:-2000}
BATCH=${4:-50}
BIN=$BUILD/bin
for b in ferry bench_intake; do
  [[ -x $BIN/$b ]] || { echo "bench_intake: $BIN/$b missing: cmake --build $BUILD --target $b" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/ferry-bench-intake.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_redis --appendonly yes --appendfsync everysec
APORT=$(bench_freeport)
R=$REDIS
TOKEN=bench-token
"$BIN/ferry" --redis "$R" task add b1 --from s3://src-bucket/ --to s3://dst/ --dst-region us-east-1 >/dev/null 2>&1 ||
  "$BIN/ferry" --redis "$R" task add b1 --from s3://src-bucket/ --to s3://dst/ >/dev/null
FERRY_API_TOKEN=$TOKEN "$BIN/ferry" --redis "$R" scheduler --task none --listen "127.0.0.1:$APORT" 2>"$TMP/api.log" &
APID=$!
PIDS+=("$APID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$APORT/healthz" >/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for spec in "1 $SINGLE" "100 $BATCH"; do
  set -- $spec
  a0=$(cpu "$APID"); r0=$(cpu "${PIDS[0]}")
  line=$("$BIN/bench_intake" "$APORT" "$TOKEN" b1 "$CONNS" "$2" "$1")
  a1=$(cpu "$APID"); r1=$(cpu "${PIDS[0]}")
  echo "$line api_cpu_s=$(echo "scale=2; ($a1-$a0)/$hz" | bc) redis_cpu_s=$(echo "scale=2; ($r1-$r0)/$hz" | bc)"
done
echo "queued in the event stream: $(redis-cli -p "$RPORT" xlen 'ferry:{b1}:q:event')"
