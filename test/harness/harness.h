/* ferry test harness: start real servers for integration tests and always tear them down.
 *
 * harness_init() makes a private temp dir and arranges cleanup on every exit path: normal
 * exit (atexit), a failed REQUIRE (exit), and fatal signals (SIGINT, SIGTERM, SIGABRT,
 * SIGSEGV, SIGBUS, SIGHUP). Children are started with PR_SET_PDEATHSIG=SIGKILL, so they die
 * with the test even on SIGKILL of the test itself. The temp dir is removed unless
 * FERRY_KEEP_TMP=1.
 *
 * Binaries: fakes3 is found in $FERRY_BIN_DIR (set by ctest) or next to the test executable;
 * s3rver in $FERRY_ROOT/.deps/node_modules/.bin (installed by scripts/test); redis-server on
 * PATH. A missing server is a test failure with a message saying how to install it, never a
 * silent skip.
 *
 * Not thread-safe: call from the test's main thread.
 */
#ifndef FERRY_HARNESS_H
#define FERRY_HARNESS_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct harness_server_s {
    pid_t pid;
    int port;            /* loopback TCP port */
    char url[256];       /* redis://127.0.0.1:PORT, or http://127.0.0.1:PORT for S3 servers */
    char dir[512];       /* this server's data dir inside the temp dir */
    char access_key[64]; /* S3 servers: the credentials they accept */
    char secret_key[64];
} harness_server_t;

/* Create the temp dir and install cleanup. Returns 0, or -1 with a message on stderr. */
int harness_init(void);

/* The temp dir (valid after harness_init). */
const char *harness_tmpdir(void);

/* Start redis-server on a free loopback port with its own dir (AOF appendfsync everysec).
 * Waits until it answers PING. 0 or -1. */
int harness_redis_start(harness_server_t *out);

/* Start build/bin/fakes3 --listen 127.0.0.1:0 --personality P with fresh random credentials,
 * plus extra argv (NULL-terminated, may be NULL: e.g. {"--bucket","src",NULL}). Waits for
 * "ready PORT". 0 or -1. */
int harness_fakes3_start(const char *personality, const char *const *extra, harness_server_t *out);

/* Start s3rver (npm) on a free port with a bucket per name in buckets (NULL-terminated).
 * Credentials are S3RVER/S3RVER as s3rver requires. 0 or -1. */
int harness_s3rver_start(const char *const *buckets, harness_server_t *out);

/* Start an n-master Redis Cluster (1..16 nodes, no replicas) on free loopback ports: each node
 * is a redis-server --cluster-enabled yes with its own dir and bus port (harness_stop and
 * harness_restart work on each), joined by redis-cli --cluster create; returns once every
 * node says cluster_state:ok. nodes[i].url is redis://127.0.0.1:PORT. 0 or -1. */
int harness_redis_cluster_start(int n, harness_server_t *nodes);

/* 1 when a cluster node answers CLUSTER INFO with cluster_state:ok. */
int harness_redis_cluster_ok(const harness_server_t *node);

/* Send sig to a server and reap it (SIGKILL after 5 s). 0 or -1. */
int harness_stop(harness_server_t *s, int sig);

/* Stop and start again on the same port and dir (Redis restart with AOF). 0 or -1. */
int harness_restart(harness_server_t *s);

/* Start any program (argv[0] looked up on PATH) as a tracked child that cleanup kills.
 * stdout_path/stderr_path may be NULL (inherit). Returns the pid or -1. */
pid_t harness_spawn(const char *const *argv, const char *stdout_path, const char *stderr_path);

/* Run a shell command line; its stdout goes to out[0..outn) and its stderr to err[0..errn)
 * (both NUL-terminated, cut at the cap). Returns the exit code, or 128 when it did not exit
 * normally. */
int harness_run(const char *cmdline, char *out, size_t outn, char *err, size_t errn);

/* A loopback TCP port free right now (bind to port 0, read it back, close), or -1. */
int harness_free_port(void);

/* Connect to 127.0.0.1:port, with send and receive timeouts of timeout_ms. The fd, or -1. */
int harness_connect(int port, int timeout_ms);

/* Kill every child and remove the temp dir. Called automatically; safe to call twice. */
void harness_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
