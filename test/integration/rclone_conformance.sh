#!/usr/bin/env bash
# rclone against fakes3, one personality at a time, with rclone's own provider profile for it:
#   s3 -> AWS, cos -> TencentCOS, kodo -> Qiniu, oss -> Alibaba.
# A real, independent S3 client exercising fakes3 end to end: small and empty files, a 23 MiB
# multipart upload (5 MiB parts), hostile key names; then lsf, download, `rclone check` and
# `rclone md5sum`. Any difference fails the test. Registered as a ctest (label integration)
# by test/harness/CMakeLists.txt; run by hand with FERRY_BIN_DIR=build/bin.
#
# Addressing. rclone 1.60 (Debian 12) forces virtual-host style for AWS, Alibaba and
# TencentCOS (setQuirks: virtualHostStyle=true overrides force_path_style=true), so requests go
# to http://BUCKET.localhost:PORT. Go's resolver does not map *.localhost to loopback (it asks
# DNS, which fails here), so this script re-runs itself in a private mount namespace
# (unshare -m, root only) whose /etc/hosts maps each test bucket to 127.0.0.1 — visible to
# this script's processes alone. Without that privilege, oss/cos/s3 fall back to fakes3
# --path-style-ok with rclone provider "Other" + force_path_style=true (the provider's other
# quirks are then not exercised; the script says so).
#
# Environment: FERRY_BIN_DIR (fakes3), FERRY_KEEP_TMP=1 keeps the work dir,
# FERRY_RCLONE_PERSONALITIES="s3 oss" to run a subset.
set -euo pipefail
unset AWS_CA_BUNDLE # rclone refuses plain-http endpoints while it is set

ROOT=${FERRY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

read -r -a PERSONALITIES <<<"${FERRY_RCLONE_PERSONALITIES:-s3 cos kodo oss}"
bucket_of() { echo "conf-$1"; }

# Re-exec in a private mount namespace with our own /etc/hosts (see above).
if [[ -z ${FERRY_RCLONE_NS:-} ]]; then
    if unshare -m --propagation private true 2>/dev/null; then
        exec unshare -m --propagation private env FERRY_RCLONE_NS=1 bash "${BASH_SOURCE[0]}" "$@"
    fi
    FERRY_RCLONE_NS=none
fi
VHOST=0
if [[ $FERRY_RCLONE_NS == 1 ]]; then
    hosts=$(mktemp)
    {
        cat /etc/hosts
        for p in "${PERSONALITIES[@]}"; do
            printf '127.0.0.1 %s.localhost\n' "$(bucket_of "$p")"
        done
    } >"$hosts"
    mount --bind "$hosts" /etc/hosts
    rm -f "$hosts" # the bind mount keeps the inode
    VHOST=1
else
    echo "note: unshare -m not permitted: oss/cos/s3 run path-style with rclone provider Other" >&2
fi

command -v rclone >/dev/null || ferry_die "rclone not found: run scripts/test, or apt-get install rclone"
FAKES3=${FERRY_BIN_DIR:-$ROOT/build/bin}/fakes3
[[ -x $FAKES3 ]] || ferry_die "fakes3 not built at $FAKES3 (cmake --build build --target fakes3)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-rclone-XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    ferry_stop_started
    if [[ ${FERRY_KEEP_TMP:-0} == 1 ]]; then
        echo "FERRY_KEEP_TMP=1: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the local tree to upload --------------------------------------------------------------
SRC=$WORK/src
mkdir -p "$SRC/dir/nested" "$SRC/dir with space" "$SRC/unicodé"
printf 'hello, ferry\n' >"$SRC/small.txt"
: >"$SRC/empty"
head -c 100000 /dev/urandom >"$SRC/dir/nested/100k.bin"
head -c $((23 * 1024 * 1024)) /dev/urandom >"$SRC/multipart-23MiB.bin"
for name in "with space.txt" "plus+sign.txt" "percent%20literal.txt" "percent%.txt" \
    "unicode-é中文🚀.txt" "tilde~semi;colon,comma.txt" "amp&eq=q?.txt" "dir with space/x y.txt" \
    "unicodé/ünï.txt" "apostrophe's (paren) [bracket].txt"; do
    printf 'key: %s\n' "$name" >"$SRC/$name"
done
(cd "$SRC" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$WORK/local.lsf"
(cd "$SRC" && find . -type f -print0 | xargs -0 md5sum | sed 's|  \./|  |' | LC_ALL=C sort -k2) >"$WORK/local.md5"

RCLONE_FLAGS=(--config "$WORK/rclone.conf" --retries 1 --low-level-retries 1
    --s3-upload-cutoff 5M --s3-chunk-size 5M --transfers 4 --checkers 4 --stats 0)

provider_of() {
    case $1 in
    s3) echo AWS ;;
    cos) echo TencentCOS ;;
    kodo) echo Qiniu ;;
    oss) echo Alibaba ;;
    esac
}

# One personality: start fakes3, configure rclone, run every step. Returns non-zero on the
# first failed step, after saying which.
run_personality() {
    local p=$1 bucket provider remote extra=() path_style=false rc=0
    bucket=$(bucket_of "$p")
    provider=$(provider_of "$p")
    if ((!VHOST)) && [[ $provider != Qiniu ]]; then
        provider=Other
        path_style=true
        [[ $p == oss ]] && extra=(--path-style-ok)
    fi
    local V=F_$p
    ferry_start_fakes3 "$V" "$FAKES3" "$WORK" "$p" --bucket "$bucket" "${extra[@]}"
    local port_var=${V}_PORT key_var=${V}_KEY secret_var=${V}_SECRET
    cat >>"$WORK/rclone.conf" <<EOF
[$p]
type = s3
provider = $provider
env_auth = false
access_key_id = ${!key_var}
secret_access_key = ${!secret_var}
endpoint = http://localhost:${!port_var}
region = us-east-1
force_path_style = $path_style

EOF
    remote="$p:$bucket"
    echo "--- $p: fakes3 on port ${!port_var}, rclone provider $provider, $([[ $VHOST == 1 && $path_style == false ]] && echo "virtual-host (if the provider's quirks say so)" || echo path-style)"

    step() {
        local what=$1
        shift
        if ! "$@" >"$WORK/$p.step.out" 2>"$WORK/$p.step.err"; then
            echo "FAIL $p: $what" >&2
            tail -n 20 "$WORK/$p.step.err" >&2
            return 1
        fi
        echo "ok   $p: $what"
    }
    step "upload (rclone copy, 23 MiB multipart in 5 MiB parts)" \
        rclone "${RCLONE_FLAGS[@]}" copy "$SRC" "$remote" || return 1
    step "listing (rclone lsf -R)" rclone "${RCLONE_FLAGS[@]}" lsf -R --files-only "$remote" || return 1
    LC_ALL=C sort "$WORK/$p.step.out" >"$WORK/$p.lsf"
    if ! diff -u "$WORK/local.lsf" "$WORK/$p.lsf" >"$WORK/$p.lsf.diff"; then
        echo "FAIL $p: listing differs from the local tree (- local, + fakes3):" >&2
        cat "$WORK/$p.lsf.diff" >&2
        return 1
    fi
    echo "ok   $p: listing equals the local tree ($(wc -l <"$WORK/local.lsf") keys)"
    step "download (rclone copy back)" \
        rclone "${RCLONE_FLAGS[@]}" copy "$remote" "$WORK/$p.down" || return 1
    if ! diff -r "$SRC" "$WORK/$p.down" >"$WORK/$p.down.diff" 2>&1; then
        echo "FAIL $p: downloaded tree differs:" >&2
        head -n 20 "$WORK/$p.down.diff" >&2
        return 1
    fi
    echo "ok   $p: downloaded bytes equal the uploaded ones"
    step "rclone check (sizes and hashes)" rclone "${RCLONE_FLAGS[@]}" check "$SRC" "$remote" || return 1
    if grep -q "hashes could not be checked\|no hashes in common" "$WORK/$p.step.err"; then
        echo "note $p: rclone check could not compare some hashes:" >&2
        grep "hash" "$WORK/$p.step.err" | head -n 5 >&2
    fi
    step "rclone check --download (content)" \
        rclone "${RCLONE_FLAGS[@]}" check --download "$SRC" "$remote" || return 1
    step "rclone md5sum" rclone "${RCLONE_FLAGS[@]}" md5sum "$remote" || return 1
    LC_ALL=C sort -k2 "$WORK/$p.step.out" >"$WORK/$p.md5"
    local want=$WORK/local.md5
    if [[ $p == kodo ]]; then
        # Kodo's ETag is the qetag (SHA-1 based), not an MD5, so rclone has an MD5 only where
        # it stored one itself: in the metadata of its multipart uploads. Objects sent in one
        # PUT (under the 5 MiB cutoff) must show a blank hash; the content was compared by
        # `check --download` above.
        want=$WORK/kodo.want.md5
        while IFS= read -r line; do
            if (($(stat -c %s "$SRC/${line:34}") < 5 * 1024 * 1024)); then
                printf '%32s  %s\n' "" "${line:34}"
            else
                printf '%s\n' "$line"
            fi
        done <"$WORK/local.md5" | LC_ALL=C sort -k2 >"$want"
    fi
    if ! diff -u "$want" "$WORK/$p.md5" >"$WORK/$p.md5.diff"; then
        echo "FAIL $p: rclone md5sum differs from local md5sum (- local, + fakes3):" >&2
        cat "$WORK/$p.md5.diff" >&2
        return 1
    fi
    echo "ok   $p: rclone md5sum equals local md5sum"
    return $rc
}

failed=()
for p in "${PERSONALITIES[@]}"; do
    run_personality "$p" || failed+=("$p")
done
n=${#PERSONALITIES[@]}
echo "rclone conformance: $((n - ${#failed[@]})) personalities passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
((${#failed[@]} == 0))
