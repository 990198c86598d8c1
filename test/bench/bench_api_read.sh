#!/usr/bin/env bash
# bench_api_read.sh — what one read of the status API costs: GET /v1/tasks/NAME and
# GET /v1/tasks (ferry scheduler --listen), sequential requests on one keep-alive connection
# (curl), Redis on the same cores.
#
#   test/bench/bench_api_read.sh [BUILD_DIR] [REQS] [TASKS] [WORKERS]
#
# BUILD_DIR: a build with ferry (default build-rel; a sanitizer build works but measures the
# sanitizers). REQS requests per route (default 2000); TASKS tasks defined (default 10);
# WORKERS fake worker heartbeats (default 4). Prints per route: requests/s, the API process's
# CPU per request, and Redis commands per request (INFO's total_commands_processed).
# Figures, not pass/fail.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
ferry_need redis-server redis-cli curl python3
BUILD=${1:-$ROOT/build-rel}
REQS=${2:-2000}
TASKS=${3:-10}
WORKERS=${4:-4}
BIN=$BUILD/bin
[[ -x $BIN/ferry ]] || { echo "bench_api_read: $BIN/ferry missing: cmake --build $BUILD --target ferry" >&2; exit 2; }
TMP=$(mktemp -d /tmp/ferry-bench-api.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_redis
APORT=$(bench_freeport)
R=$REDIS
TOKEN=bench-token
for i in $(seq "$TASKS"); do
  "$BIN/ferry" --redis "$R" task add "b$i" --from "oss://src-bucket/p$i/" --to s3://dst/ >/dev/null
done
# Heartbeats as live workers write them (lib/store/stats.c): a hash with a TTL and the set.
now=$(($(date +%s) * 1000))
for w in $(seq "$WORKERS"); do
  redis-cli -p "$RPORT" hset "ferry:worker:host/$w" consumer "host/$w" pid "$((1000 + w))" tasks "" \
    in_flight 2 concurrency 8 "done" 10 failed 0 started "$now" seen "$now" >/dev/null
  redis-cli -p "$RPORT" pexpire "ferry:worker:host/$w" 600000 >/dev/null
  redis-cli -p "$RPORT" zadd ferry:workers "$now" "host/$w" >/dev/null
done
FERRY_API_TOKEN=$TOKEN "$BIN/ferry" --redis "$R" scheduler --task none --listen "127.0.0.1:$APORT" 2>"$TMP/api.log" &
APID=$!
PIDS+=("$APID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$APORT/healthz" >/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
cmds() { redis-cli -p "$RPORT" info stats | tr -d '\r' | awk -F: '$1=="total_commands_processed"{print $2}'; }
hz=$(getconf CLK_TCK)
for route in "/v1/tasks/b1" "/v1/tasks"; do
  n=$REQS
  [[ $route == /v1/tasks ]] && n=$((REQS / 4))
  cfg=$TMP/curl.cfg
  : >"$cfg"
  for _ in $(seq "$n"); do printf 'url = "http://127.0.0.1:%s%s"\noutput = /dev/null\n' "$APORT" "$route" >>"$cfg"; done
  a0=$(cpu "$APID"); c0=$(cmds); t0=$(date +%s.%N)
  curl -s -H "Authorization: Bearer $TOKEN" -K "$cfg" -w '%{http_code}\n' >"$TMP/codes"
  t1=$(date +%s.%N); a1=$(cpu "$APID"); c1=$(cmds)
  bad=$(grep -vc '^200$' "$TMP/codes" || true)
  awk -v r="$route" -v n="$n" -v t0="$t0" -v t1="$t1" -v a0="$a0" -v a1="$a1" -v hz="$hz" \
    -v c0="$c0" -v c1="$c1" -v bad="$bad" 'BEGIN {
      printf "%-14s requests=%d failed=%d req/s=%.0f api_cpu_ms/req=%.3f redis_cmds/req=%.1f\n",
        r, n, bad, n / (t1 - t0), (a1 - a0) / hz * 1000 / n, (c1 - c0 - 1) / n }'
done
