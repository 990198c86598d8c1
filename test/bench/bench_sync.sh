#!/usr/bin/env bash
# bench_sync.sh — `ferry sync` end to end vs `rclone copy`, as users run them (issue 16).
#
#   test/bench/bench_sync.sh [BUILD_DIR] [SCENARIOS]      (also: bench_copy.sh --e2e ...)
#
# BUILD_DIR: a release build with ferry and fakes3 (default build-rel).
# SCENARIOS (default "2k 10k 256m 4g resync ttfb curve"):
#   2k      2,000 x 16 KiB          10k   10,000 x 16 KiB
#   256m    8 x 256 MiB             4g    1 x 4 GiB
#   resync  both tools again over an unchanged, already copied 10,000 x 16 KiB tree: both list
#           source and destination and compare; the destination must see no PUT
#   ttfb    time from the start of the command to the first object stored at the destination
#           (a --verbose fakes3 destination logs each request with its end time), 10,000 source
#   curve   ferry sync --workers 1, 2, 4, 8 on 10,000 x 16 KiB (one rclone run for reference)
#
# Both tools copy from one fakes3 (--personality s3; FERRY_BENCH_SRC_CRC32C=1 seeds objects
# with a stored FULL_OBJECT CRC32C, otherwise their only source check is the MD5 ETag;
# FERRY_BENCH_SRC=oss makes it --personality oss, ferry's source oss://, checked by the CRC-64
# the store shows, as from Aliyun OSS — rclone reads it as a generic S3 store either way) to one
# fakes3 s3 destination (prefaulted, see bench_copy.sh), with Redis for ferry's ledger, all on
# this machine. Commands, without any tuning flag:
#   ferry --redis URL sync --from s3://src/P/ --to s3://dst/ferry-P-i/ --src-endpoint … (FERRY_BENCH_SYNC_FLAGS added)
#   rclone copy fsrc:src/P/ fdst:dst/rclone-P-i/ --transfers 32 --checkers 32 (FERRY_BENCH_RCLONE_FLAGS replaces the flags)
# FERRY_BENCH_REPS (default 2) pairs per scenario, alternating: ferry first in odd pairs, rclone
# first in even ones. Per run: wall s, objects/s, MB/s, CPU s (user+sys of the command and every
# child it waited for: ferry sync + its workers; rclone), CPU s/GB, peak RSS (the largest single
# process, from /usr/bin/time, and the sum over the process tree, sampled every 50 ms), the
# servers' CPU (redis, source, destination) during the run, and the destination's requests.
# Per pair, the ratios, and "machine CPU rclone/ferry": all CPU the run cost this machine (the
# tool, Redis and both servers), rclone's over ferry's — on a machine whose cores are all busy the
# speed ratio cannot pass it. With more than one pair, a last row gives the medians (min-max).
# FERRY_BENCH_REDIS_STATS=1 prints Redis's command statistics after each ferry run (stderr).
# FERRY_BENCH_WRAP prefixes ferry's command line (e.g. "perf record -g -o F --"); FERRY_BENCH_KEEP=DIR
# keeps the logs. Output: Markdown tables on stdout, progress on stderr.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
HERE=$ROOT/test/bench
BUILD=${1:-$ROOT/build-rel}
SCEN=${2:-"2k 10k 256m 4g resync ttfb curve"}
REPS=${FERRY_BENCH_REPS:-2}
BIN=$BUILD/bin
for b in ferry fakes3; do
  [[ -x $BIN/$b ]] || { echo "bench_sync: $BIN/$b missing: build it (cmake --build $BUILD --target $b)" >&2; exit 2; }
done
ferry_need rclone redis-server redis-cli python3 curl bc /usr/bin/time
TMP=$(mktemp -d /tmp/ferry-bench-sync.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${FERRY_BENCH_KEEP:-} ]] && mkdir -p "$FERRY_BENCH_KEEP" && cp -r "$TMP"/. "$FERRY_BENCH_KEEP"/
  rm -rf "$TMP"
}
trap cleanup EXIT
say() { echo "bench_sync: $*" >&2; }

# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_redis --appendonly no
start_fakes3() { # name personality bucket [extra flags...] -> sets PORT, SPID
  bench_fakes3 "$1" "$2" "$3" "${1#t}" "${@:4}" # tdst has dst's keys
}
SRCKIND=${FERRY_BENCH_SRC:-s3}
case $SRCKIND in s3 | oss) ;; *) echo "bench_sync: FERRY_BENCH_SRC=$SRCKIND: want s3 or oss" >&2; exit 2 ;; esac
start_fakes3 src "$SRCKIND" src; SRC=http://127.0.0.1:$PORT SRC_PID=$SPID
# 4.5 GiB prefaulted: scenario 4g's 4 GiB (each tool's output is purged after its run).
start_fakes3 dst s3 dst --prefault "${FAKES3_DST_PREFAULT:-4831838208}"; DST=http://127.0.0.1:$PORT DST_PID=$SPID
if [[ " $SCEN " == *" ttfb "* ]]; then # these log every request with the time it ended
  start_fakes3 tdst s3 dst --verbose; TDST=http://127.0.0.1:$PORT
  start_fakes3 tsrc "$SRCKIND" src --verbose; TSRC=http://127.0.0.1:$PORT
fi

servers_ticks() { echo "$(cpu_of "$REDIS_PID") $(cpu_of "$SRC_PID") $(cpu_of "$DST_PID")"; }
HZ=$(getconf CLK_TCK)

export FERRY_SRC_ACCESS_KEY_ID=AKsrc FERRY_SRC_SECRET_ACCESS_KEY=SKsrc
rclone_remote fsrc "$SRC" src
rclone_remote fdst "$DST" dst
[[ -n ${TDST:-} ]] && rclone_remote ftdst "$TDST" dst && rclone_remote ftsrc "$TSRC" src
RFLAGS=${FERRY_BENCH_RCLONE_FLAGS:-"--transfers 32 --checkers 32"}

declare -A NOBJ BYTES PFX
NOBJ[2k]=2000; BYTES[2k]=$((2000 * 16384)); PFX[2k]=s2k
NOBJ[10k]=10000; BYTES[10k]=$((10000 * 16384)); PFX[10k]=s10k
NOBJ[256m]=8; BYTES[256m]=$((8 * 268435456)); PFX[256m]=s256m
NOBJ[4g]=1; BYTES[4g]=4294967296; PFX[4g]=s4g
CRC=false
[[ ${FERRY_BENCH_SRC_CRC32C:-0} == 1 ]] && CRC=true
seed() { # prefix count size seed (into $SRC)
  curl -sf -X POST "$SRC/_fakes3/seed" \
    -d "{\"bucket\":\"src\",\"prefix\":\"$1/\",\"count\":$2,\"size\":$3,\"seed\":$4,\"crc32c\":$CRC}" >/dev/null
}
need() { for w in "$@"; do [[ " $SCEN " == *" $w "* ]] && return 0; done; return 1; }
need 2k && seed s2k 2000 16384 11
need 10k resync ttfb curve && seed s10k 10000 16384 12
[[ -n ${TSRC:-} ]] && SRC=$TSRC seed s10k 10000 16384 12
need 256m && seed s256m 8 268435456 13
need 4g && seed s4g 1 4294967296 14

dst_puts() { # destination requests that write an object or a part, so far
  curl -sf "$1/_fakes3/stats" | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(sum(d.get(o,{}).get("count",0) for o in ("PutObject","UploadPart","CompleteMultipartUpload")))'
}
dst_reqs() { # all destination requests by operation, so far, as "op=n ..."
  curl -sf "$1/_fakes3/stats" | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join("%s=%d" % (k, v["count"]) for k, v in sorted(d.items()) if isinstance(v, dict) and "count" in v and k != "aws_chunked"))'
}
purge() { env -u AWS_CA_BUNDLE rclone purge "$1" >/dev/null 2>&1 || true; }

# timed LABEL cmd... : runs cmd under /usr/bin/time with the tree sampler; sets W C R RS SV
# (wall, cpu, max-process RSS KiB, tree RSS KiB, servers "redis src dst" CPU s).
timed() {
  local l=$1 s0 s1
  shift
  s0=$(servers_ticks)
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/$l.time" "$@" >"$TMP/$l.out" 2>"$TMP/$l.err" &
  local tp=$!
  python3 "$HERE/rss_tree.py" "$tp" "$TMP/$l.rss" &
  local sp=$!
  local st=0
  wait "$tp" || st=$?
  wait "$sp" || true
  s1=$(servers_ticks)
  if ((st != 0)); then
    say "$l failed (exit $st):"
    tail -5 "$TMP/$l.err" >&2
    exit 1
  fi
  read -r W u s R <"$TMP/$l.time"
  C=$(echo "$u + $s" | bc -l)
  read -r RS _ <"$TMP/$l.rss"
  SV=$(python3 -c "import sys;a=sys.argv[1].split();b=sys.argv[2].split();print(' '.join('%.2f'%((int(y)-int(x))/$HZ) for x,y in zip(a,b)))" "$s0" "$s1")
}

ferry_cmd() { # name dst-prefix endpoint [sync flags...] -> FCMD (the command line)
  # shellcheck disable=SC2206
  FCMD=(${FERRY_BENCH_WRAP:-} "$BIN/ferry" --redis "$REDIS" sync --name "$1" --from "$SRCKIND://src/$P/"
    --to "s3://dst/$2/" --src-endpoint "$SRC" --dst-endpoint "$3" --src-region us-east-1
    --dst-region us-east-1 --src-path-style --dst-path-style "${@:4}" ${FERRY_BENCH_SYNC_FLAGS:-})
}
ferry_sync() { ferry_cmd "$@"; "${FCMD[@]}"; }
# FERRY_BENCH_EXT=N: instead of the workers ferry sync starts, N `ferry worker` processes with
# FERRY_BENCH_WORKER_FLAGS, started with the sync (the task defined just before, untimed) and
# stopped (SIGTERM) when it returns; `ferry sync --workers 0` scans and waits. All of them run
# under one /usr/bin/time (CPU: all of them), but the wall time is the sync's, from its start
# to its return: stopping the workers afterwards (up to the 500 ms of a blocked XREADGROUP) is
# not counted (it is printed on stderr). This is how to measure worker options and the "workers ready before
# the first job" lifecycle without changing ferry sync. FERRY_BENCH_WORKER_WRAP prefixes each
# worker's command line (e.g. "perf record -g -o F --"; one worker then, or they overwrite F).
ext_sync() { # n task-add-args... -- sync-cmd...
  local n=$1 i st=0 pids=()
  shift
  local targs=()
  while [[ $1 != -- ]]; do targs+=("$1"); shift; done
  shift
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2086
    ${FERRY_BENCH_WORKER_WRAP:-} "$BIN/ferry" --redis "$REDIS" worker --task "${targs[0]}" --slot $((100 + i)) --log-level warn \
      ${FERRY_BENCH_WORKER_FLAGS:-} &
    pids+=($!)
  done
  local t0=$EPOCHREALTIME
  "$@" || st=$?
  [[ -n ${EXT_WALL:-} ]] && echo "$t0 $EPOCHREALTIME" >"$EXT_WALL"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for i in "${pids[@]}"; do wait "$i" || true; done
  return $st
}
export -f ext_sync
export BIN REDIS
# ferry_run NAME DST-PREFIX ENDPOINT [WORKERS] -> RCMD (the command to run) and label
ferry_run() {
  local nw=${4:-}
  if [[ -n ${FERRY_BENCH_EXT:-} ]]; then
    local ne=${nw:-$FERRY_BENCH_EXT}
    ferry_cmd "$1" "$2" "$3" --workers 0
    "$BIN/ferry" --redis "$REDIS" task add "$1" --from "$SRCKIND://src/$P/" --to "s3://dst/$2/" \
      --src-endpoint "$SRC" --dst-endpoint "$3" --src-region us-east-1 --dst-region us-east-1 \
      --src-path-style --dst-path-style >/dev/null 2>&1 || true # exists already (resync)
    RCMD=(env "EXT_WALL=$TMP/$1.wall" bash -c 'ext_sync "$@"' ext_sync "$ne" "$1" -- "${FCMD[@]}")
    label="ferry sync + $ne workers ${FERRY_BENCH_WORKER_FLAGS:-}"
  else
    ferry_cmd "$1" "$2" "$3" ${nw:+--workers $nw}
    RCMD=("${FCMD[@]}")
    label="ferry sync${nw:+ --workers $nw}"
  fi
}
export FERRY_DST_ACCESS_KEY_ID=AKdst FERRY_DST_SECRET_ACCESS_KEY=SKdst
RUN=0
# One run of a tool on scenario $sc: prints a row to $TMP/rows.$sc; checks what was copied.
run_tool() { # tool rep [workers]
  local tool=$1 rep=$2 nw=${3:-} name label p0 p1 d0 d1
  RUN=$((RUN + 1))
  name=b$RUN-$sc${nw:+-w$nw}
  case $sc in resync) name=resync-ferry ;; esac
  d0=$(dst_reqs "$DST")
  p0=$(dst_puts "$DST")
  [[ -n ${FERRY_BENCH_REDIS_STATS:-} ]] && redis-cli -p "$RPORT" config resetstat >/dev/null
  if [[ $tool == ferry ]]; then
    local dpfx=ferry-$sc-$RUN
    [[ $sc == resync ]] && dpfx=ferry-resync
    ferry_run "$name" "$dpfx" "$DST" "$nw"
    timed "$name" "${RCMD[@]}"
    if [[ -n ${FERRY_BENCH_REDIS_STATS:-} ]]; then # where Redis spent its time during the run
      redis-cli -p "$RPORT" info commandstats | grep -v '^#' | sort -t= -k3 -rn | head -12 >&2
    fi
    # the summary line: "sync NAME: copied N objects (...)"
    local copied
    copied=$(sed -n 's/^sync .*: copied \([0-9]*\) objects.*/\1/p' "$TMP/$name.out")
    if [[ $sc == resync ]]; then
      [[ $copied == 0 ]] || { say "resync: ferry copied $copied objects (want 0)"; exit 1; }
    else
      [[ $copied == "${NOBJ[$sc]}" ]] || { say "$sc: ferry copied '$copied' of ${NOBJ[$sc]}"; cat "$TMP/$name.out" >&2; exit 1; }
      purge "fdst:dst/$dpfx"
    fi
  else
    local dpfx=rclone-$sc-$RUN
    [[ $sc == resync ]] && dpfx=rclone-resync
    # shellcheck disable=SC2086
    timed "rclone-$RUN-$sc" env -u AWS_CA_BUNDLE rclone copy "fsrc:src/$P/" "fdst:dst/$dpfx/" $RFLAGS
    label=rclone
    [[ $sc == resync ]] || purge "fdst:dst/$dpfx"
  fi
  if [[ -f $TMP/$name.wall ]]; then # FERRY_BENCH_EXT: the wall time is the sync's
    local sw
    sw=$(awk '{printf "%.2f", $2 - $1}' "$TMP/$name.wall")
    say "$sc rep $rep: ferry sync returned after ${sw}s; its workers had stopped after ${W}s"
    W=$sw
    rm -f "$TMP/$name.wall"
  fi
  p1=$(dst_puts "$DST")
  d1=$(dst_reqs "$DST")
  if [[ $sc == resync ]] && ((p1 != p0)); then say "resync: $tool wrote $((p1 - p0)) objects/parts (want 0)"; exit 1; fi
  # destination requests of this run (before the purge's listing and deletes, which come after)
  local reqs
  reqs=$(python3 -c "import sys
a=dict(x.split('=') for x in sys.argv[1].split());b=dict(x.split('=') for x in sys.argv[2].split())
print(' '.join('%s %d'%(k,int(b[k])-int(a.get(k,0))) for k in sorted(b) if int(b[k])-int(a.get(k,0))>0))" "$d0" "$d1")
  local gb n
  gb=$(echo "${BYTES[$sc]} / 1000000000" | bc -l)
  n=${NOBJ[$sc]}
  read -r sr ss sd <<<"$SV"
  printf "| %s | %s | %s | %.2f | %.0f | %.1f | %.2f | %.2f | %.0f | %.0f | %s / %s / %s |\n" "$sc" "$rep" "$label" "$W" \
    "$(echo "$n / $W" | bc -l)" "$(echo "${BYTES[$sc]} / 1000000 / $W" | bc -l)" "$C" \
    "$(echo "$C / $gb" | bc -l)" "$(echo "$R / 1024" | bc -l)" "$(echo "$RS / 1024" | bc -l)" "$sr" "$ss" "$sd" \
    >>"$TMP/rows.$sc"
  echo "$sc $tool${nw:+-w$nw} $W $C $R $RS $sr $ss $sd" >>"$TMP/raw"
  say "$sc rep $rep $label: ${W}s, CPU ${C}s, servers (redis/src/dst) $SV; dst requests: $reqs"
}

header() {
  echo
  echo "| scenario | pair | tool | wall s | objects/s | MB/s | CPU s | CPU s/GB | peak RSS MiB (largest process) | peak RSS MiB (all processes) | servers CPU s redis / src / dst |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
}
ratios() { # scenario: per pair, rclone wall / ferry wall and ferry CPU / rclone CPU
  python3 - "$TMP/raw" "$1" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
f = [r for r in rows if r[1] == "ferry"]
r = [x for x in rows if x[1] == "rclone"]
def machine(x):  # CPU s of the tool and of the three servers during its run
    return sum(float(v) for v in x[3:4] + x[6:9])
sp, mc = [], []
for i, (a, b) in enumerate(zip(f, r), 1):
    sp.append(float(b[2]) / float(a[2]))
    mc.append(machine(b) / machine(a))
    print("| %s | %d | ratio ferry/rclone | speed %.2fx | | | CPU %.2fx | | RSS %.2fx | RSS %.2fx | machine CPU rclone/ferry %.2fx |" % (
        sys.argv[2], i, sp[-1], float(a[3]) / float(b[3]),
        float(a[4]) / float(b[4]), float(a[5]) / float(b[5]), mc[-1]))
if len(sp) > 1:
    def med(v):
        v = sorted(v)
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    print("| %s | all %d | median ratio | speed %.2fx (%.2f-%.2f) | | | | | | | machine CPU %.2fx (%.2f-%.2f) |" % (
        sys.argv[2], len(sp), med(sp), min(sp), max(sp), med(mc), min(mc), max(mc)))
EOF
}

for sc in 2k 10k 256m 4g; do
  need $sc || continue
  P=${PFX[$sc]}
  header
  for ((rep = 1; rep <= REPS; rep++)); do
    if ((rep % 2)); then run_tool ferry $rep; run_tool rclone $rep; else run_tool rclone $rep; run_tool ferry $rep; fi
  done
  cat "$TMP/rows.$sc"
  ratios $sc
done

if need resync; then
  sc=resync P=s10k
  NOBJ[resync]=10000 BYTES[resync]=$((10000 * 16384))
  say "resync: first copies (not timed)"
  ferry_sync resync-ferry ferry-resync "$DST" >"$TMP/resync-first.out" 2>"$TMP/resync-first.err" ||
    { say "resync: first ferry sync failed"; tail -5 "$TMP/resync-first.err" >&2; exit 1; }
  # shellcheck disable=SC2086
  env -u AWS_CA_BUNDLE rclone copy "fsrc:src/$P/" "fdst:dst/rclone-resync/" $RFLAGS >/dev/null 2>&1
  header
  for ((rep = 1; rep <= REPS; rep++)); do
    if ((rep % 2)); then run_tool ferry $rep; run_tool rclone $rep; else run_tool rclone $rep; run_tool ferry $rep; fi
  done
  cat "$TMP/rows.$sc"
  ratios $sc
  echo
  echo "(resync: objects/s = objects listed and compared per second; nothing is copied)"
fi

if need ttfb; then
  P=s10k
  echo
  echo "| time to first object (10,000 x 16 KiB source) | pair | first GET answered, ms | first PUT stored, ms |"
  echo "|---|---|---|---|"
  first_req() { # server-log op path-prefix skip-lines -> epoch seconds of the first such request's end
    python3 - "$TMP/fakes3-$1.err" "$2" "$3" "$4" <<'EOF2'
import sys, datetime
for i, line in enumerate(open(sys.argv[1])):
    if i >= int(sys.argv[4]) and ("op=%s " % sys.argv[2]) in line and ("path=%s" % sys.argv[3]) in line and "status=200" in line:
        ts = line.split("ts=", 1)[1].split()[0]
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        print("%.3f" % t.timestamp())
        break
EOF2
  }
  SRC0=$SRC
  SRC=$TSRC
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in ferry rclone; do
      n0=$(wc -l <"$TMP/fakes3-tsrc.err") # the source's log lines before this run
      if [[ $tool == ferry ]]; then
        ferry_run ttfb-$rep ttfb-ferry-$rep "$TDST"
        t0=$EPOCHREALTIME
        "${RCMD[@]}" >"$TMP/ttfb-$rep.out" 2>"$TMP/ttfb-$rep.err" ||
          { say "ttfb: ferry sync failed"; tail -5 "$TMP/ttfb-$rep.err" >&2; exit 1; }
        pfx=ttfb-ferry-$rep
      else
        t0=$EPOCHREALTIME
        # shellcheck disable=SC2086
        env -u AWS_CA_BUNDLE rclone copy "ftsrc:src/$P/" "ftdst:dst/ttfb-rclone-$rep/" $RFLAGS >/dev/null 2>&1
        pfx=ttfb-rclone-$rep
      fi
      g1=$(first_req tsrc GetObject "/src/$P/" "$n0")
      t1=$(first_req tdst PutObject "/dst/$pfx/" 0)
      [[ -n $t1 && -n $g1 ]] || { say "ttfb: no GetObject/PutObject logged for $pfx"; exit 1; }
      printf "| %s | %d | %.0f | %.0f |\n" "$tool" "$rep" "$(echo "($g1 - $t0) * 1000" | bc -l)" "$(echo "($t1 - $t0) * 1000" | bc -l)"
      purge "ftdst:dst/$pfx"
    done
  done
  SRC=$SRC0
  echo
  echo "(from the command's start to the end of the first GetObject at the source and of the first"
  echo "PutObject at the destination, by the servers' logs; both servers log every request here)"
fi

if need curve; then
  sc=curve P=s10k
  NOBJ[curve]=10000 BYTES[curve]=$((10000 * 16384))
  header
  ws=${FERRY_BENCH_CURVE:-"1 2 4 8"}
  for ((rep = 1; rep <= REPS; rep++)); do
    order=$ws
    ((rep % 2)) || order=$(echo "$ws" | tr ' ' '\n' | tac | tr '\n' ' ')
    for w in $order; do run_tool ferry $rep "$w"; done
    run_tool rclone $rep
  done
  cat "$TMP/rows.$sc"
fi
