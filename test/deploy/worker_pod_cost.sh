#!/usr/bin/env bash
# The real `ferry worker` in "Kubernetes": with FERRY_POD_NAME/FERRY_POD_NAMESPACE/
# FERRY_K8S_API set (as deploy/k8s/base/worker.yaml sets them, the API URL pointed at a fake),
# a worker copying a job PATCHes its pod's controller.kubernetes.io/pod-deletion-cost to the
# busy value with the ServiceAccount token; SIGTERM still drains and exits 0.
# Needs redis-server and node (exit 77 = skip otherwise).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
ferry=${FERRY_BIN_DIR:-$root/build/bin}/ferry
command -v redis-server >/dev/null || { echo "SKIP: redis-server is not installed"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is not installed"; exit 77; }
[[ -x $ferry ]] || { echo "FAIL: no ferry binary at $ferry"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; sed 's/^/  worker: /' "$work/worker.log" | tail -n 20; exit 1; }

redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
node "$here/fake_k8s_api.js" "$work/api.log" >"$work/fake.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 200; i++)); do
    [[ -S $work/redis.sock ]] && grep -q '^ready' "$work/fake.out" && break
    sleep 0.05
done
read -r _ api_port hole_port <"$work/fake.out" || fail "the fake API did not start"
export FERRY_REDIS_URL=unix://$work/redis.sock
"$ferry" task add podcost --from "s3://src/" --src-endpoint "http://127.0.0.1:$hole_port" \
    --src-region us-east-1 --to "s3://dst/" --dst-endpoint "http://127.0.0.1:$hole_port" \
    --dst-region us-east-1 >/dev/null
echo '{"key":"stalled.bin","size":2048}' | "$ferry" event podcost - >/dev/null

mkdir -p "$work/sa"
printf 'sa-token-1\n' >"$work/sa/token"
FERRY_POD_NAME=ferry-worker-abc FERRY_POD_NAMESPACE=ferry FERRY_K8S_API=http://127.0.0.1:$api_port \
    FERRY_K8S_SA_DIR=$work/sa FERRY_SRC_ACCESS_KEY_ID=k FERRY_SRC_SECRET_ACCESS_KEY=s \
    FERRY_DST_ACCESS_KEY_ID=k FERRY_DST_SECRET_ACCESS_KEY=s \
    "$ferry" worker --task podcost --grace 1s >"$work/worker.log" 2>&1 &
wpid=$!
pids+=("$wpid")
want='{"metadata":{"annotations":{"controller.kubernetes.io/pod-deletion-cost":"1000"}}}'
for ((i = 0; i < 400; i++)); do
    grep -qF "$want" "$work/api.log" 2>/dev/null && break
    kill -0 "$wpid" 2>/dev/null || fail "the worker exited early"
    sleep 0.05
done
grep -qF "$want" "$work/api.log" 2>/dev/null || fail "no PATCH with the busy cost within 20 s (api log: $(cat "$work/api.log" 2>/dev/null))"
line=$(grep -F "$want" "$work/api.log" | head -n 1)
[[ $line == "PATCH /api/v1/namespaces/ferry/pods/ferry-worker-abc Bearer sa-token-1 application/merge-patch+json "* ]] ||
    fail "unexpected request: $line"
echo "ok: the busy worker sent: $line"
grep -q 'event=k8s.cost pod=ferry-worker-abc cost=1000' "$work/worker.log" || fail "no k8s.cost log line"
echo "ok: the worker logged event=k8s.cost"
kill -TERM "$wpid"
rc=0
wait "$wpid" || rc=$?
((rc == 0)) || fail "the worker exited $rc after SIGTERM, want 0 (drain)"
echo "ok: SIGTERM drained the worker, exit 0"
