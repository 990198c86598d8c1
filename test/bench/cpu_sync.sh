#!/usr/bin/env bash
# cpu_sync.sh — CPU per object of `ferry sync` and of the servers it uses, A/B (issue 16).
#
#   test/bench/cpu_sync.sh BUILD_DIR FERRY_A [FERRY_B ...]
#
# BUILD_DIR: a release build with fakes3 (e.g. build-rel). FERRY_A, FERRY_B, ...: ferry binaries
# to compare (e.g. a copy of the baseline's build-rel/bin/ferry and the current one). Each rep
# runs every binary once, in a rotating order, over the same 10,000 x 16 KiB source
# (FERRY_CPU_N objects, FERRY_CPU_SIZE bytes), to a fresh destination prefix, with the same
# Redis and the same two fakes3 servers (s3 personality; the source's only check is the MD5
# ETag). FERRY_CPU_REPS (default 3) reps; FERRY_CPU_FLAGS are added to ferry sync's command line;
# FERRY_CPU_SLOWLOG=1 logs every Redis command and prints the time per script (slows Redis: its
# own figures are then not comparable); FERRY_CPU_WRAP prefixes it (e.g. "perf record -g -o FILE --": children are recorded too).
#
# Wall time on a shared machine is noise; CPU time much less so. Per run and per object:
#   ferry   user+sys of ferry sync and every child it waited for (its workers), /usr/bin/time
#   redis, src, dst   the three servers' CPU during the run (/proc/PID/stat)
#   total   the sum: the machine's CPU per object (what bounds objects/s when every process
#           shares the same cores)
#   instr   instructions (user+kernel) of ferry sync + workers per object (perf stat), if perf works
#   (stderr) each server's requests per object, by operation
#   cmds    Redis commands per object (INFO commandstats: calls, scripts' inner commands
#           included) and calls per object of the top commands (stderr)
# Output: a Markdown table on stdout, progress and Redis command statistics on stderr.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=test/bench/bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"
bench_ab_args cpu_sync "$@"
N=${FERRY_CPU_N:-10000}
SIZE=${FERRY_CPU_SIZE:-16384}
REPS=${FERRY_CPU_REPS:-3}
PERF=
# no counter on most VMs ("<not supported>"): then no instr column
perf stat -e instructions -x, true 2>&1 | grep -q '^[0-9]' && PERF=1
TMP=$(mktemp -d /tmp/ferry-cpu-sync.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
say() { echo "cpu_sync: $*" >&2; }
BIN=$BUILD/bin
bench_redis --appendonly no
bench_fakes3 src s3 src src; SRC=http://127.0.0.1:$PORT SRC_PID=$SPID
bench_fakes3 dst s3 dst dst; DST=http://127.0.0.1:$PORT DST_PID=$SPID
curl -sf -X POST "$SRC/_fakes3/seed" \
  -d "{\"bucket\":\"src\",\"prefix\":\"c/\",\"count\":$N,\"size\":$SIZE,\"seed\":7}" >/dev/null
rclone_remote fdst "$DST" dst # for the purge after each run
export FERRY_SRC_ACCESS_KEY_ID=AKsrc FERRY_SRC_SECRET_ACCESS_KEY=SKsrc
export FERRY_DST_ACCESS_KEY_ID=AKdst FERRY_DST_SECRET_ACCESS_KEY=SKdst

reqs() { # a server's requests by operation so far, "op=n ..."
  curl -sf "$1/_fakes3/stats" | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join("%s=%d" % (k, v["count"]) for k, v in sorted(d.items()) if isinstance(v, dict) and "count" in v))'
}
reqs_diff() { # before after n -> "op per object ..."
  python3 -c "import sys
a=dict(x.split('=') for x in sys.argv[1].split());b=dict(x.split('=') for x in sys.argv[2].split())
print(' '.join('%s %.3f'%(k,(int(b[k])-int(a.get(k,0)))/float(sys.argv[3])) for k in sorted(b) if int(b[k])-int(a.get(k,0))>0))" "$1" "$2" "$3"
}
HZ=$(getconf CLK_TCK)
echo "| run | ferry | wall s | ferry ms/obj | redis ms/obj | src ms/obj | dst ms/obj | total ms/obj | instr/obj (ferry) | Redis cmds/obj |"
echo "|---|---|---|---|---|---|---|---|---|---|"
RUN=0
for ((rep = 0; rep < REPS; rep++)); do
  for ((k = 0; k < ${#FERRYS[@]}; k++)); do
    i=$(((k + rep) % ${#FERRYS[@]}))
    f=${FERRYS[$i]}
    RUN=$((RUN + 1))
    name=cpu$RUN
    redis-cli -p "$RPORT" config resetstat >/dev/null
    if [[ -n ${FERRY_CPU_SLOWLOG:-} ]]; then # every command's time, for the split by script
      redis-cli -p "$RPORT" config set slowlog-log-slower-than 0 >/dev/null
      redis-cli -p "$RPORT" config set slowlog-max-len 1000000 >/dev/null
      redis-cli -p "$RPORT" slowlog reset >/dev/null
    fi
    q0=$(reqs "$SRC") e0=$(reqs "$DST")
    r0=$(cpu_of $REDIS_PID) s0=$(cpu_of $SRC_PID) d0=$(cpu_of $DST_PID)
    # shellcheck disable=SC2206 # FERRY_CPU_FLAGS is split into words on purpose
    cmd=("$f" --redis "$REDIS" sync --name "$name" --from s3://src/c/ --to "s3://dst/$name/"
      --src-endpoint "$SRC" --dst-endpoint "$DST" --src-region us-east-1 --dst-region us-east-1
      --src-path-style --dst-path-style ${FERRY_CPU_FLAGS:-})
    if [[ -n ${FERRY_CPU_WRAP:-} ]]; then # e.g. "perf record -g -o /tmp/p.data --"
      # shellcheck disable=SC2206
      cmd=($FERRY_CPU_WRAP "${cmd[@]}")
    elif [[ -n $PERF ]]; then
      cmd=(perf stat -e instructions "-x," -o "$TMP/$name.perf" -- "${cmd[@]}")
    fi
    /usr/bin/time -f "%e %U %S" -o "$TMP/$name.time" "${cmd[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" ||
      { say "run $RUN ($f) failed:"; tail -5 "$TMP/$name.err" >&2; exit 1; }
    r1=$(cpu_of $REDIS_PID) s1=$(cpu_of $SRC_PID) d1=$(cpu_of $DST_PID)
    echo "run $RUN $f: requests per object: source $(reqs_diff "$q0" "$(reqs "$SRC")" "$N"); destination $(reqs_diff "$e0" "$(reqs "$DST")" "$N")" >&2
    copied=$(sed -n 's/^sync .*: copied \([0-9]*\) objects.*/\1/p' "$TMP/$name.out")
    [[ $copied == "$N" ]] || { say "run $RUN: copied '$copied' of $N"; cat "$TMP/$name.out" >&2; exit 1; }
    read -r w u s <"$TMP/$name.time"
    instr=-
    [[ -n $PERF ]] && instr=$(awk -F, -v n="$N" '/instructions/ && $1 ~ /^[0-9]+$/ {printf "%.0f", $1 / n}' "$TMP/$name.perf")
    stats=$(redis-cli -p "$RPORT" info commandstats)
    cmds=$(echo "$stats" | python3 -c "import sys,re
t=0
for l in sys.stdin:
    m=re.match(r'cmdstat_(\S+):calls=(\d+),usec=(\d+)',l)
    if m and m.group(1) not in ('info','config|resetstat'): t+=int(m.group(2))
print('%.1f'%(t/$N))")
    {
      echo "run $RUN $f: top Redis commands (calls/obj, usec/call)"
      echo "$stats" | python3 -c "import sys,re
rows=[]
for l in sys.stdin:
    m=re.match(r'cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([0-9.]+)',l)
    if m: rows.append((int(m.group(3)),m.group(1),int(m.group(2)),float(m.group(4))))
for u,c,n,p in sorted(rows,reverse=True)[:10]: print('  %-22s %6.2f/obj %8.2f us/call %6.1f ms total'%(c,n/$N,p,u/1000))"
    } >&2
    if [[ -n ${FERRY_CPU_SLOWLOG:-} ]]; then
      redis-cli -p "$RPORT" config set slowlog-log-slower-than 10000 >/dev/null
      # per command (EVALSHA: per script, named by its sha's first 8 digits, the last part of
      # its first key and of its 4th — the first per-object key of the ledger's batch scripts);
      # the log's arguments are bytes (packed etags), hence latin-1
      redis-cli -p "$RPORT" --json slowlog get -1 | python3 -c "import json,sys
def tail(k):
    p=k.split(':')
    return p[-1] if not p[-1].isdigit() or len(p)<2 else p[-2]
d={}
for e in json.loads(sys.stdin.buffer.read().decode('latin-1')):
    a=e[3]
    if not a: continue
    c=a[0].lower()
    if c in ('evalsha','eval') and len(a)>3:
        ks=a[3:3+int(a[2])] if a[2].isdigit() else []
        c='%s %s [%s%s]'%(c,a[1][:8],tail(ks[0]) if ks else '',(' '+tail(ks[3])) if len(ks)>3 else '')
    t=d.setdefault(c,[0,0,0]); t[0]+=1; t[1]+=e[2]; t[2]+=len(a)
for c,(k,u,na) in sorted(d.items(),key=lambda x:-x[1][1])[:16]:
    print('  slowlog %-44s %7d calls %6.2f/obj %8.1f us/call %7.1f ms total, %.1f args/call'%(c,k,k/$N,u/k,u/1000,na/k))" >&2
      redis-cli -p "$RPORT" slowlog reset >/dev/null
    fi
    python3 -c "import sys
n=$N;hz=$HZ
fe=($u+$s)/n*1000;r=($r1-$r0)/hz/n*1000;sr=($s1-$s0)/hz/n*1000;ds=($d1-$d0)/hz/n*1000
print('| %d | %s | %.2f | %.3f | %.3f | %.3f | %.3f | %.3f | %s | %s |'%($RUN,'$f',$w,fe,r,sr,ds,fe+r+sr+ds,'$instr','$cmds'))"
    rclone purge "fdst:dst/$name" >/dev/null 2>&1 || true
  done
done
