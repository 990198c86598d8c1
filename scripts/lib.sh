# shellcheck shell=bash
# Shared by scripts/test, scripts/demo and the test scripts: where things are, and installing
# what ferry needs on a Debian machine. Source it; it defines functions and sets nothing else
# but FERRY_ROOT.

FERRY_ROOT=${FERRY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export FERRY_ROOT

# rclone (Go) refuses plain-http endpoints when AWS_CA_BUNDLE is set, and every server the
# tests and the demo start is plain http on loopback.
unset AWS_CA_BUNDLE

ferry_say() { printf '==> %s\n' "$*" >&2; }
ferry_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Debian packages, each as PACKAGE or PACKAGE:COMMAND. With a command, the package counts as
# present when the command is on PATH: Node.js and npm, say, may come from another packaging
# (nodesource's nodejs bundles npm, and Debian's npm package conflicts with it).
FERRY_APT_PACKAGES=(
    build-essential:cc cmake:cmake pkg-config:pkg-config
    clang:clang libclang-rt-14-dev clang-format:clang-format shellcheck:shellcheck
    libcurl4-openssl-dev libssl-dev libhiredis-dev libjansson-dev libuv1-dev
    libexpat1-dev libisal-dev libmicrohttpd-dev
    redis-server:redis-server redis-tools:redis-cli rclone:rclone curl:curl nodejs:node npm:npm
    python3:python3 bc:bc time:/usr/bin/time
    prometheus:promtool
    openssl:openssl stunnel4:stunnel
    systemd:systemd-analyze
    chromium:chromium
    bsdutils:script
)

ferry_missing_packages() {
    local entry pkg cmd
    for entry in "${FERRY_APT_PACKAGES[@]}"; do
        pkg=${entry%%:*}
        cmd=${entry#*:}
        if [[ $cmd != "$entry" ]]; then
            command -v "$cmd" >/dev/null 2>&1 && continue
        fi
        if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            continue
        fi
        printf '%s\n' "$pkg"
    done
}

# Install the npm packages the tests use (s3rver, playwright-core), pinned by test/npm/package-lock.json,
# into $FERRY_ROOT/.deps. Skipped when the installed lock file matches the committed one.
ferry_install_npm_deps() {
    local deps=$FERRY_ROOT/.deps src=$FERRY_ROOT/test/npm
    if [[ -x $deps/node_modules/.bin/s3rver ]] && cmp -s "$src/package-lock.json" "$deps/package-lock.json"; then
        return 0
    fi
    ferry_say "installing npm test dependencies into .deps (s3rver, playwright-core; pinned)"
    mkdir -p "$deps"
    cp "$src/package.json" "$src/package-lock.json" "$deps/"
    (cd "$deps" && npm ci --no-audit --no-fund --loglevel=error) ||
        ferry_die "npm ci in $deps failed (is the npm registry reachable?)"
}

# ferry_apt_install PACKAGE...: apt-get install them when root; otherwise say the command to
# run and exit 1.
ferry_apt_install() {
    (($#)) || return 0
    if [[ $(id -u) -eq 0 ]]; then
        ferry_say "installing Debian packages: $*"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || ferry_die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
            ferry_die "apt-get install $* failed"
    else
        printf 'error: missing Debian packages; install them with:\n  sudo apt-get install %s\n' \
            "$*" >&2
        exit 1
    fi
}

# Everything scripts/test and scripts/demo need: Debian packages (apt-get when root), then npm.
ferry_install_deps() {
    local missing
    mapfile -t missing < <(ferry_missing_packages)
    ferry_apt_install "${missing[@]}"
    ferry_install_npm_deps
}

# ferry_need COMMAND...: the commands a script runs (each the COMMAND of a PACKAGE:COMMAND
# entry above), their packages installed if missing, as ferry_install_deps does. The benchmarks
# use it for their own tools only (no npm, no compiler).
ferry_need() {
    local want entry pkg missing=()
    for want in "$@"; do
        pkg=
        for entry in "${FERRY_APT_PACKAGES[@]}"; do
            if [[ $entry == *:* && ${entry#*:} == "$want" ]]; then
                pkg=${entry%%:*}
                break
            fi
        done
        [[ -n $pkg ]] || ferry_die "ferry_need $want: no PACKAGE:$want entry in FERRY_APT_PACKAGES (scripts/lib.sh)"
        command -v "$want" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ferry_apt_install "${missing[@]}"
}

# Number of parallel build jobs: all cores.
ferry_jobs() { nproc 2>/dev/null || echo 2; }

# ---- processes a script starts: tracked in FERRY_PIDS, stopped by ferry_stop_started ------

FERRY_PIDS=()

ferry_random_token() { LC_ALL=C tr -dc "$2" </dev/urandom | head -c "$1" || true; }

# ferry_start_fakes3 VAR FAKES3_BIN WORKDIR PERSONALITY [FAKES3_ARGS...]
# Starts fakes3 on a port of its choosing with fresh credentials and waits (10 s) for its
# "ready PORT" line. Sets VAR_PORT, VAR_KEY, VAR_SECRET, VAR_PID; logs in WORKDIR/VAR.*.log.
ferry_start_fakes3() {
    local var=$1 bin=$2 work=$3 personality=$4 key secret port="" pid i
    shift 4
    [[ -x $bin ]] || ferry_die "fakes3 not found at $bin: build it (cmake --build build --target fakes3)"
    key=$(ferry_random_token 20 'A-Z0-9')
    secret=$(ferry_random_token 40 'A-Za-z0-9')
    "$bin" --listen 127.0.0.1:0 --personality "$personality" --access-key "$key" \
        --secret-key "$secret" "$@" >"$work/$var.stdout.log" 2>"$work/$var.stderr.log" &
    pid=$!
    FERRY_PIDS+=("$pid")
    for ((i = 0; i < 200; i++)); do
        port=$(sed -n 's/^ready \([0-9]\{1,5\}\)$/\1/p' "$work/$var.stdout.log" 2>/dev/null)
        [[ -n $port ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -z $port ]]; then
        cat "$work/$var.stderr.log" >&2
        ferry_die "fakes3 --personality $personality did not print 'ready PORT'"
    fi
    printf -v "${var}_PORT" '%s' "$port"
    printf -v "${var}_KEY" '%s' "$key"
    printf -v "${var}_SECRET" '%s' "$secret"
    printf -v "${var}_PID" '%s' "$pid"
}

# Stop (SIGTERM, then SIGKILL after 5 s) and reap every process in FERRY_PIDS.
ferry_stop_started() {
    local pid i
    for pid in "${FERRY_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${FERRY_PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    FERRY_PIDS=()
}
