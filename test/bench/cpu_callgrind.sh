#!/usr/bin/env bash
# cpu_callgrind.sh — instructions per object of `ferry sync` and its workers, by callgrind, A/B.
#
#   test/bench/cpu_callgrind.sh BUILD_DIR FERRY_A [FERRY_B ...]
#
# Runs cpu_sync.sh once per binary (in the order given; repeat a binary to alternate) with every
# ferry process under `valgrind --tool=callgrind --trace-children=yes`, over FERRY_CPU_N objects
# (default 2000; valgrind is ~50x slower), and prints per binary the instructions per object of
# the sync process and of its workers. On a shared machine CPU time is noise and this is not
# (run to run it moves a few percent: how jobs fall into batches). Mind that valgrind counts a
# `rep movsb` / `rep stosb` (large memcpy / memset) once per byte: big copies and zeroing weigh
# far more here than in cycles. FERRY_CG_KEEP=1 keeps the callgrind files (their directory is
# printed) for callgrind_annotate.
set -euo pipefail
BUILD=${1:?usage: cpu_callgrind.sh BUILD_DIR FERRY_A [FERRY_B ...]}
shift
(($# >= 1)) || { echo "cpu_callgrind: name at least one ferry binary" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "cpu_callgrind: valgrind is not installed" >&2; exit 2; }
N=${FERRY_CPU_N:-2000}
HERE=$(dirname "${BASH_SOURCE[0]}")
echo "| ferry | sync instr/obj | workers instr/obj | total instr/obj |"
echo "|---|---|---|---|"
for f in "$@"; do
  d=$(mktemp -d /tmp/ferry-cg.XXXXXX)
  FERRY_CPU_N=$N FERRY_CPU_REPS=1 \
    FERRY_CPU_WRAP="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$d/cg.%p --" \
    "$HERE/cpu_sync.sh" "$BUILD" "$f" >/dev/null 2>"$d/err" ||
    { echo "cpu_callgrind: the run of $f failed:" >&2; tail -5 "$d/err" >&2; exit 1; }
  python3 - "$d" "$N" "$f" <<'PY'
import glob, re, sys
d, n, f = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sync = work = 0
for p in glob.glob(d + '/cg.*'):
    t = open(p, errors='replace').read()
    cmd = re.search(r'^cmd: (.*)$', t, re.M)
    tot = re.search(r'^(?:totals|summary): (\d+)', t, re.M)
    if not cmd or not tot:
        continue
    if ' worker ' in cmd.group(1):
        work += int(tot.group(1))
    else:
        sync += int(tot.group(1))
print('| %s | %.0f | %.0f | %.0f |' % (f, sync / n, work / n, (sync + work) / n))
PY
  if [[ -n ${FERRY_CG_KEEP:-} ]]; then echo "cpu_callgrind: $f: callgrind files in $d" >&2; else rm -rf "$d"; fi
done
