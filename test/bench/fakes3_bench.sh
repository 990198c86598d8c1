#!/usr/bin/env bash
# How fast is fakes3 on this machine? Prints figures; not a pass/fail test.
#
#   test/bench/fakes3_bench.sh [FAKES3_BINARY]
#
# Measures, against one fakes3 --personality s3 on loopback, with curl --aws-sigv4 as the
# client (UNSIGNED-PAYLOAD, so curl does not hash the body and the figure is the server's):
#   - PUT and GET of one large object (FERRY_BENCH_MB, default 1024 MiB), MB/s;
#   - small requests (FERRY_BENCH_REQS, default 2000 PUTs then GETs of a 1 KiB object), on one
#     keep-alive connection (curl with a URL range), and from 4 such connections at once.
# Use a release build (scripts/demo makes build-release/); a sanitizer build is several times
# slower. The client shares the machine's 2 cores with the server, so these are lower bounds.
set -euo pipefail
unset AWS_CA_BUNDLE

ROOT=${FERRY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
ferry_need curl

FAKES3=${1:-}
if [[ -z $FAKES3 ]]; then
    for c in "${FERRY_BIN_DIR:-}" "$ROOT/build-release/bin" "$ROOT/build/bin"; do
        [[ -n $c && -x $c/fakes3 ]] && FAKES3=$c/fakes3 && break
    done
fi
[[ -n $FAKES3 && -x $FAKES3 ]] || ferry_die "no fakes3 binary: pass one, or build build-release/ (scripts/demo)"
MB=${FERRY_BENCH_MB:-1024}
REQS=${FERRY_BENCH_REQS:-2000}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    ferry_stop_started
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ferry_start_fakes3 B "$FAKES3" "$WORK" s3 --bucket bench
URL="http://127.0.0.1:$B_PORT/bench"
S3CURL=(curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$B_KEY:$B_SECRET"
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
echo "fakes3: $FAKES3 (pid $B_PID, port $B_PORT); $(nproc) cores; curl $(curl --version | head -n1 | cut -d' ' -f2)"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { d = b - a; printf "%.1f", (d > 0 ? n / d : 0) }'; }

# ---- large object --------------------------------------------------------------------------
big=$WORK/big.bin
head -c $((MB * 1024 * 1024)) /dev/urandom >"$big"
t0=$(now)
code=$("${S3CURL[@]}" -o /dev/null -w '%{http_code}' -T "$big" "$URL/big.bin")
t1=$(now)
[[ $code == 200 ]] || ferry_die "PUT big.bin answered $code"
echo "PUT  ${MB} MiB: $(rate "$MB" "$t0" "$t1") MiB/s"
rm -f "$big" # keep the page cache and disk for the server

t0=$(now)
code=$("${S3CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/big.bin")
t1=$(now)
[[ $code == 200 ]] || ferry_die "GET big.bin answered $code"
echo "GET  ${MB} MiB: $(rate "$MB" "$t0" "$t1") MiB/s"

# ---- small requests ------------------------------------------------------------------------
head -c 1024 /dev/urandom >"$WORK/small.bin"
width=${#REQS}
last=$(printf "%0${width}d" "$REQS")
first=$(printf "%0${width}d" 1)

# count_ok FILE: the number of 200 lines curl's -w wrote.
count_ok() { grep -c '^200$' "$1" || true; }

t0=$(now)
"${S3CURL[@]}" -o /dev/null -w '%{http_code}\n' -T "$WORK/small.bin" "$URL/small/[$first-$last]" >"$WORK/put.codes"
t1=$(now)
echo "PUT  1 KiB x $REQS, one connection: $(rate "$REQS" "$t0" "$t1") req/s ($(count_ok "$WORK/put.codes") ok)"

t0=$(now)
"${S3CURL[@]}" -o /dev/null -w '%{http_code}\n' "$URL/small/[$first-$last]" >"$WORK/get.codes"
t1=$(now)
echo "GET  1 KiB x $REQS, one connection: $(rate "$REQS" "$t0" "$t1") req/s ($(count_ok "$WORK/get.codes") ok)"

# Four connections, each over a quarter of the keys.
quarter=$((REQS / 4))
t0=$(now)
getters=()
for ((c = 0; c < 4; c++)); do
    a=$(printf "%0${width}d" $((c * quarter + 1)))
    b=$(printf "%0${width}d" $(((c + 1) * quarter)))
    "${S3CURL[@]}" -o /dev/null -w '%{http_code}\n' "$URL/small/[$a-$b]" >"$WORK/get4.$c.codes" &
    getters+=($!)
done
wait "${getters[@]}" || true
t1=$(now)
ok=$(cat "$WORK"/get4.*.codes | grep -c '^200$' || true)
echo "GET  1 KiB x $((4 * quarter)), 4 connections: $(rate $((4 * quarter)) "$t0" "$t1") req/s ($ok ok)"
