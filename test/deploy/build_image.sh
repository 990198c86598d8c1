#!/usr/bin/env bash
# Build deploy/Containerfile with podman and check the image: the binary runs as the non-root
# user, finds its libraries, and the final stage holds no compiler or cmake.
#
#   test/deploy/build_image.sh [TAG]        (default TAG: localhost/ferry:dev)
#
# No registry needed: the Debian bookworm base image is made with debootstrap (minbase) and
# `podman import`ed once as localhost/ferry-bookworm-base (reused afterwards; set
# FERRY_BASE_IMAGE to use another bookworm image). Both stages still run apt-get, so
# deb.debian.org (or the mirror in FERRY_DEBIAN_MIRROR) must be reachable.
# Exit 77 (skip) when podman or debootstrap is missing; 1 when the build or a check fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tag=${1:-localhost/ferry:dev}
mirror=${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf '==> %s\n' "$*" >&2; }

command -v podman >/dev/null || { echo "SKIP: podman is not installed (apt-get install podman)"; exit 77; }
base=${FERRY_BASE_IMAGE:-localhost/ferry-bookworm-base}
if [[ -z ${FERRY_BASE_IMAGE:-} ]] && ! podman image exists "$base"; then
    command -v debootstrap >/dev/null ||
        { echo "SKIP: no $base image and no debootstrap to make one (apt-get install debootstrap)"; exit 77; }
    [[ $(id -u) -eq 0 ]] || { echo "SKIP: debootstrap needs root to make the base image"; exit 77; }
    dir=$(mktemp -d /var/tmp/ferry-bookworm.XXXXXX)
    trap 'rm -rf "$dir"' EXIT
    say "debootstrap --variant=minbase bookworm (from $mirror)"
    debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
        { tail -20 "$dir.log" >&2; echo "debootstrap failed (log: $dir.log)" >&2; exit 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    say "podman import -> $base"
    tar -C "$dir" -c . | podman import - "$base" >/dev/null
    rm -rf "$dir" "$dir.log"
    trap - EXIT
fi

say "podman build -f deploy/Containerfile -t $tag (base $base)"
start=$(date +%s)
# chroot isolation: builds where the OCI runtime cannot start containers (nested sandboxes
# without cgroup or setrlimit rights); the result is the same image.
podman build --isolation "${FERRY_BUILD_ISOLATION:-chroot}" --network host --build-arg BASE="$base" \
    -f "$root/deploy/Containerfile" -t "$tag" "$root"
say "built in $(($(date +%s) - start)) s; size $(podman image inspect "$tag" --format '{{.Size}}') bytes"

# Run a command in the image as its configured user: `podman run` when the runtime works here,
# else chroot into the mounted image with the same user (what this test machine allows).
user=$(podman image inspect "$tag" --format '{{.Config.User}}')
entry=$(podman image inspect "$tag" --format '{{join .Config.Entrypoint " "}}')
if podman run --rm "$tag" --help >/dev/null 2>&1; then
    how=podman
    inimage() { podman run --rm --entrypoint "$1" "$tag" "${@:2}"; }
else
    how=chroot
    mnt=$(podman image mount "$tag")
    trap 'podman image unmount "$tag" >/dev/null 2>&1 || true' EXIT
    inimage() { chroot --userspec="$user" "$mnt" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
        HOME=/var/lib/ferry FERRY_STATE_DIR=/var/lib/ferry/state "$@"; }
fi
say "checks run with: $how (user $user, entrypoint $entry)"

fail=0
check() { # check WHAT COMMAND...: report
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        say "ok: $what"
    else
        printf 'FAIL: %s\n%s\n' "$what" "$out" >&2
        fail=1
    fi
}
check "entrypoint is /usr/local/bin/ferry" test "$entry" = /usr/local/bin/ferry
check "image user is 10001:10001 (not root)" test "$user" = 10001:10001
check "ferry --help runs as that user (every library found)" inimage /usr/local/bin/ferry --help
check "ferry worker options parse" inimage /usr/local/bin/ferry worker --concurrency 4 --grace 30s --help
check "id -u is 10001" test "$(inimage /usr/bin/id -u)" = 10001
check "no compiler, cmake, make or headers in the final image" \
    inimage /bin/sh -c '! command -v cc && ! command -v gcc && ! command -v cmake && ! command -v make && ! test -e /usr/include/hiredis'
check "no -dev package installed" \
    inimage /bin/sh -c "! dpkg-query -W -f '\${Package}\n' | grep -- '-dev\$'"
check "ferry scheduler without Redis fails and names Redis" \
    inimage /bin/sh -c 'FERRY_REDIS_URL=redis://127.0.0.1:1 ferry scheduler --listen 127.0.0.1:0 2>&1 | grep -qi redis'

# The TLS sidecar of deploy/k8s/components/redis-tls (deploy/stunnel/Containerfile).
stag=${tag%:*}-stunnel:${tag##*:}
say "podman build -f deploy/stunnel/Containerfile -t $stag"
podman build --isolation "${FERRY_BUILD_ISOLATION:-chroot}" --network host --build-arg BASE="$base" \
    -f "$root/deploy/stunnel/Containerfile" -t "$stag" "$root/deploy/stunnel"
suser=$(podman image inspect "$stag" --format '{{.Config.User}}')
check "stunnel image user is 10001:10001" test "$suser" = 10001:10001
if [[ $how == podman ]]; then
    check "stunnel4 runs in its image" podman run --rm --entrypoint /usr/bin/stunnel4 "$stag" -version
else
    smnt=$(podman image mount "$stag")
    check "stunnel4 runs in its image (as $suser)" chroot --userspec="$suser" "$smnt" /usr/bin/stunnel4 -version
    podman image unmount "$stag" >/dev/null 2>&1 || true
fi

# The TLS path end to end: a TLS-only redis-server (a throw-away CA), the stunnel image's
# stunnel4 with the component's settings (accept 127.0.0.1, verifyChain, checkHost), and the
# ferry image's ferry talking plain Redis to stunnel. Then the same with a wrong checkHost,
# which must fail.
if command -v redis-server >/dev/null && command -v openssl >/dev/null && [[ $how == chroot ]]; then
    tls=$(mktemp -d)
    ctr=$(podman create "$stag")
    cmnt=$(podman mount "$ctr")
    spid="" rpid=""
    stop_tls() {
        [[ -n $spid ]] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
        [[ -n $rpid ]] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
        spid="" rpid=""
    }
    (
        cd "$tls"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=ferry-test-ca
        openssl req -newkey rsa:2048 -nodes -keyout r.key -out r.csr -subj /CN=localhost
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext
        openssl x509 -req -in r.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out r.crt -days 1 -extfile ext
    ) >/dev/null 2>&1
    tport=$((20000 + RANDOM % 20000)) aport=$((40000 + RANDOM % 20000))
    redis-server --port 0 --tls-port "$tport" --tls-cert-file "$tls/r.crt" --tls-key-file "$tls/r.key" \
        --tls-ca-cert-file "$tls/ca.crt" --tls-auth-clients no --save '' --appendonly no >"$tls/redis.log" 2>&1 &
    rpid=$!
    mkdir -p "$cmnt/etc/stunnel"
    cp "$tls/ca.crt" "$cmnt/etc/stunnel/ca.crt"
    tunnel() { # tunnel CHECKHOST: start stunnel4 (as the image's user) with the component's settings
        sed -e "s|^accept = .*|accept = 127.0.0.1:$aport|" -e "s|^connect = .*|connect = 127.0.0.1:$tport|" \
            -e "s|^CAfile = .*|CAfile = /etc/stunnel/ca.crt|" -e "s|^checkHost = .*|checkHost = $1|" \
            "$root/deploy/k8s/components/redis-tls/stunnel.conf" >"$cmnt/etc/stunnel/redis.conf"
        chroot --userspec="$suser" "$cmnt" /usr/bin/stunnel4 /etc/stunnel/redis.conf >"$tls/stunnel.log" 2>&1 &
        spid=$!
        sleep 1
    }
    through() { inimage /bin/sh -c "FERRY_REDIS_URL=redis://127.0.0.1:$aport ferry task ls"; }
    tunnel localhost
    check "ferry (image) -> stunnel (image) -> TLS-only redis-server: ferry task ls works" through
    stop_tls
    redis-server --port 0 --tls-port "$tport" --tls-cert-file "$tls/r.crt" --tls-key-file "$tls/r.key" \
        --tls-ca-cert-file "$tls/ca.crt" --tls-auth-clients no --save '' --appendonly no >"$tls/redis.log" 2>&1 &
    rpid=$!
    tunnel wrong-host.example
    not_through() { ! through; }
    check "the same with a certificate for another host name is refused" not_through
    stop_tls
    podman umount "$ctr" >/dev/null 2>&1 || true
    podman rm "$ctr" >/dev/null 2>&1 || true
    rm -rf "$tls"
else
    say "skipped the TLS end-to-end check (needs redis-server, openssl and the chroot runner)"
fi
((fail == 0)) || exit 1
say "images $tag and $stag: all checks passed"
