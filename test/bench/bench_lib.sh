# shellcheck shell=bash
# The servers a benchmark starts on this machine, shared by test/bench/*.sh. Source it after
# scripts/lib.sh, with TMP (a private directory), PIDS (an array the script's cleanup kills) and
# BIN (a build's bin/) set. Each helper runs in the calling shell (not in $(…)), so the pid it
# starts lands in PIDS.

# bench_ab_args NAME BUILD_DIR FERRY_A [FERRY_B ...]: the arguments of an A/B script (cpu_sync.sh,
# cpu_big.sh) checked, and what it needs installed. Sets BUILD and FERRYS; exits 2 with a usage
# line when they are wrong.
bench_ab_args() {
  local me=$1
  shift
  BUILD=${1:?usage: $me.sh BUILD_DIR FERRY_A [FERRY_B ...]}
  shift
  (($# >= 1)) || { echo "$me: name at least one ferry binary" >&2; exit 2; }
  FERRYS=("$@")
  local f
  for f in "${FERRYS[@]}" "$BUILD/bin/fakes3"; do
    [[ -x $f ]] || { echo "$me: $f missing or not executable" >&2; exit 2; }
  done
  ferry_need redis-server redis-cli python3 curl bc rclone /usr/bin/time
}

bench_freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# bench_redis [redis-server flags...]: a private redis-server on a free loopback port, its files
# in $TMP. Sets RPORT, REDIS (the URL) and REDIS_PID; returns once it answers PING.
bench_redis() {
  RPORT=$(bench_freeport)
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP" --save '' "$@" >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  # shellcheck disable=SC2034 # for the sourcing script
  REDIS=redis://127.0.0.1:$RPORT
  for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: redis-server did not start; its log says: $(tail -n 3 "$TMP/redis.log")" >&2
  exit 1
}

# bench_fakes3 LABEL PERSONALITY BUCKET CRED [fakes3 flags...]: a fakes3 on a free loopback port
# with the keys AK<CRED>/SK<CRED>, its output in $TMP/fakes3-LABEL.{out,err}. Sets PORT and SPID.
bench_fakes3() {
  local out=$TMP/fakes3-$1.out
  "$BIN/fakes3" --listen 127.0.0.1:0 --personality "$2" --access-key "AK$4" --secret-key "SK$4" \
    --bucket "$3" --path-style-ok "${@:5}" >"$out" 2>"$TMP/fakes3-$1.err" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 1200); do grep -q "^ready" "$out" 2>/dev/null && break; sleep 0.05; done
  PORT=$(awk '/^ready/{print $2}' "$out")
  [[ -n $PORT ]] || { echo "bench: fakes3 $1 did not start:" >&2; cat "$TMP/fakes3-$1.err" >&2; exit 1; }
}

# cpu_of PID: the user+system clock ticks a process has used so far (0 once it is gone).
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# rclone_remote NAME ENDPOINT CRED: an rclone S3 remote NAME (environment only) on a fakes3
# started by bench_fakes3 with the keys AK<CRED>/SK<CRED>.
rclone_remote() {
  local n=${1^^}
  export "RCLONE_CONFIG_${n}_TYPE=s3" "RCLONE_CONFIG_${n}_PROVIDER=Other" \
    "RCLONE_CONFIG_${n}_ACCESS_KEY_ID=AK$3" "RCLONE_CONFIG_${n}_SECRET_ACCESS_KEY=SK$3" \
    "RCLONE_CONFIG_${n}_ENDPOINT=$2" "RCLONE_CONFIG_${n}_REGION=us-east-1" \
    "RCLONE_CONFIG_${n}_FORCE_PATH_STYLE=true"
}
