/* ferry — one synchronous Redis connection: URL parsing, timeouts, reconnect with backoff,
 * pipelining and Lua scripts run by SHA.
 *
 * Threading: a ferry_redis_t belongs to one thread at a time (hiredis contexts are not
 * thread-safe). A process that needs Redis from several threads opens one connection per
 * thread. Nothing here keeps global state.
 *
 * Errors: every call that can fail returns FERRY_OK or a negative FERRY_E* code and writes the
 * details on the connection (ferry_redis_error()). A lost connection is re-established with
 * exponential backoff and full jitter for up to opts.retry_ms before the call gives up with
 * FERRY_ENET; the command is then sent again, so a command may reach Redis twice (callers only
 * send idempotent or compare-and-set commands through the retrying paths).
 */
#ifndef FERRY_REDIS_H
#define FERRY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "ferry/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Redis Cluster: ferry_redis_connect asks the node (INFO cluster) unless the URL says. */
enum { FERRY_REDIS_CLUSTER_AUTO = 0, FERRY_REDIS_CLUSTER_YES = 1, FERRY_REDIS_CLUSTER_NO = 2 };

/* A parsed Redis URL: redis://[[user]:password@]host[:port][/db][?cluster=yes|no|auto] or
 * unix:///path/to.sock[?db=N]. rediss:// (TLS) is refused with FERRY_EUNSUPPORTED and a message
 * pointing to a TLS tunnel (hiredis 0.14 has no TLS). */
typedef struct ferry_redis_url_s {
    int is_unix;        /* 1: path is set, host/port unused */
    char host[256];     /* hostname or IPv4/IPv6 literal (brackets removed) */
    int port;           /* default 6379 */
    char path[256];     /* unix socket path */
    char user[128];     /* ACL user (Redis >= 6: AUTH user password); "": the default user */
    char password[256]; /* "" when none; never printed */
    int db;             /* 0..15 by default; any non-negative number is accepted */
    int cluster;        /* FERRY_REDIS_CLUSTER_*: AUTO unless ?cluster= says */
} ferry_redis_url_t;

/* Parse a URL. FERRY_OK, or FERRY_EINVAL with err->msg naming what is wrong. Pure. */
int ferry_redis_url_parse(const char *url, ferry_redis_url_t *out, ferry_error_t *err);

/* Write where the URL points, without the password ("127.0.0.1:6379", "unix:///x.sock"). */
void ferry_redis_url_describe(const ferry_redis_url_t *u, char *buf, size_t n);

typedef struct ferry_redis_opts_s {
    int connect_timeout_ms; /* per attempt; 0 means 2000 */
    int command_timeout_ms; /* socket read/write timeout; 0 means 15000, -1 none */
    int retry_ms;           /* reconnect budget after a lost connection; 0 means 10000, -1 none */
    uint64_t seed;          /* jitter seed; 0 picks one from the clock and pid */
} ferry_redis_opts_t;

typedef struct ferry_redis_s ferry_redis_t;

/* Connect (one attempt; a CLI should fail fast with a clear message). On success *out is new
 * (free with ferry_redis_free). On failure *out is NULL and err says e.g. "cannot reach Redis
 * at 127.0.0.1:6379: connection refused — start redis-server or pass --redis URL". opts may be
 * NULL.
 *
 * Redis Cluster: unless the URL says ?cluster=no, the first node is asked INFO cluster; when it
 * says cluster_enabled:1 the connection reads CLUSTER SLOTS and becomes a cluster client behind
 * the same API (one
 * connection per master, opened when first needed; each command routed by the CRC16 slot of
 * its keys; MOVED and ASK followed; TRYAGAIN/CLUSTERDOWN waited out within opts.retry_ms; the
 * slot map re-read on MOVED and on a lost node). A multi-key command (or Lua script) whose
 * keys are in different slots fails with FERRY_EINVAL and a CROSSSLOT message naming them. SCAN
 * visits every master (its cursor is then "I:C", opaque to callers, "0" at the end) unless its
 * MATCH pattern has a literal hash tag; KEYS, FLUSHALL, FLUSHDB, SCRIPT and DBSIZE run on every
 * master. Pipelined commands are answered in order; one redirected inside a batch is resent on
 * its own after the batch was read (so it runs after the commands queued behind it). Cluster
 * mode has database 0 only and needs redis:// (not unix://). */
int ferry_redis_connect(const char *url, const ferry_redis_opts_t *opts, ferry_redis_t **out,
                        ferry_error_t *err);

/* Close and free. Accepts NULL. */
void ferry_redis_free(ferry_redis_t *r);

/* Borrowed: the last error on this connection (valid until the next call on it). */
const ferry_error_t *ferry_redis_error(const ferry_redis_t *r);

/* Borrowed: where this connection points, without secrets. */
const char *ferry_redis_where(const ferry_redis_t *r);

/* How many times the connection was re-established (for tests and metrics). */
unsigned ferry_redis_reconnects(const ferry_redis_t *r);

/* Run one command given as argv (lens may be NULL for NUL-terminated strings). On FERRY_OK
 * *reply is new (free with freeReplyObject) and is never an error reply: a Redis error reply
 * becomes FERRY_EREDIS with the server's message in the error. Reconnects as described above.
 * The command is formatted by ferry into the connection's own buffer (the bytes hiredis'
 * redisFormatCommandArgv writes); one over 1 GiB, more than Redis accepts, fails with
 * FERRY_ERANGE before anything is sent (also for ferry_redis_append and the eval calls). */
int ferry_redis_argv(ferry_redis_t *r, int argc, const char **argv, const size_t *lens,
                     redisReply **reply);

/* printf-style convenience over redisCommand formatting (%s, %b, %d, %lld …). Same contract. */
int ferry_redis_cmd(ferry_redis_t *r, redisReply **reply, const char *fmt, ...);

/* Pipelining: queue commands with ferry_redis_append, then read exactly as many replies with
 * ferry_redis_read (error replies are returned as replies here, not as codes, so a batch can
 * be checked item by item). No reconnect happens inside a pipeline: on FERRY_ENET the caller
 * calls ferry_redis_reset() and resends the batch. */
int ferry_redis_append(ferry_redis_t *r, int argc, const char **argv, const size_t *lens);
int ferry_redis_read(ferry_redis_t *r, redisReply **reply);

/* Re-establish the connection now (with the backoff budget). */
int ferry_redis_reset(ferry_redis_t *r);

/* This connection's CLIENT ID (asked once per connection, then kept until a reconnect), so that
 * another connection can end a blocking read of this one with ferry_redis_unblock. FERRY_OK and
 * *id; FERRY_EUNSUPPORTED in cluster mode (a blocking read may be on any node); or the error of
 * the command (a server whose ACL refuses CLIENT, say). */
int ferry_redis_client_id(ferry_redis_t *r, long long *id);

/* CLIENT UNBLOCK id on this connection: a blocking command (XREADGROUP BLOCK …) of connection
 * id on the same server returns now, as if it had timed out (nothing is delivered). *done (may
 * be NULL) is 1 when a command was blocked, 0 when none was (or id is gone). One attempt on the
 * current connection, never a reconnect: FERRY_OK, FERRY_ENET/FERRY_ETIMEOUT when the connection
 * is lost or Redis does not answer in the command timeout, FERRY_EREDIS (refused), or
 * FERRY_EUNSUPPORTED in cluster mode. Safe to call with any id. */
int ferry_redis_unblock(ferry_redis_t *r, long long id, int *done);

/* A Lua script. Declare one static const per script; the connection caches its SHA1 and
 * whether it is loaded on the current server connection. */
typedef struct ferry_redis_script_s {
    const char *name; /* for error messages */
    const char *src;
} ferry_redis_script_t;

/* EVALSHA, loading the script first on a fresh connection, and falling back to EVAL when the
 * server answers NOSCRIPT (e.g. after a restart). argv holds KEYS then ARGV. Same contract as
 * ferry_redis_argv. */
int ferry_redis_eval(ferry_redis_t *r, const ferry_redis_script_t *s, int nkeys, int argc,
                     const char **argv, const size_t *lens, redisReply **reply);

/* For pipelines: make sure s is loaded (SCRIPT LOAD), then append an EVALSHA. */
int ferry_redis_script_load(ferry_redis_t *r, const ferry_redis_script_t *s);
int ferry_redis_eval_append(ferry_redis_t *r, const ferry_redis_script_t *s, int nkeys, int argc,
                            const char **argv, const size_t *lens);

/* Convenience readers for replies: integer value (also from a numeric string), or dflt. */
long long ferry_redis_reply_int(const redisReply *rep, long long dflt);

#ifdef __cplusplus
}
#endif
#endif
