/* ferry store internals: what redis.c (one connection) and cluster.c (Redis Cluster) share.
 * Not a public header: everything outside lib/store goes through ferry/redis.h. */
#ifndef FERRY_STORE_REDIS_INT_H
#define FERRY_STORE_REDIS_INT_H

#include "ferry/redis.h"

#define REDIS_SCRIPT_SLOTS 32

typedef struct {
    const ferry_redis_script_t *script;
    char sha[41];
    unsigned gen; /* connection generation the script was loaded on (single node) */
} redis_script_slot_t;

typedef struct ferry_cluster_s ferry_cluster_t;

struct ferry_redis_s {
    redisContext *c; /* single node: the connection; cluster: NULL (cl holds one per node) */
    ferry_redis_url_t url;
    ferry_redis_opts_t opts;
    char where[300];
    ferry_error_t err;
    unsigned gen; /* bumped on every (re)connect */
    unsigned reconnects;
    uint64_t rng;
    redis_script_slot_t scripts[REDIS_SCRIPT_SLOTS];
    ferry_cluster_t *cl; /* non-NULL in cluster mode (owned) */
    long long client_id; /* CLIENT ID of connection gen client_id_gen; 0: not asked */
    unsigned client_id_gen;
};

/* Open one connection to host:port (or the URL's unix socket when host is NULL) with the
 * connection's timeouts and password. FERRY_OK and *out, or an error written on r->err that
 * names the address. */
int redis_int_open(ferry_redis_t *r, const char *host, int port, redisContext **out);

/* The connection's jittered sleep for attempt backoff (ms doubles up to 2 s). */
void redis_int_backoff(ferry_redis_t *r, long *backoff_ms, long long deadline_ms);

/* hiredis "Connection refused" -> "connection refused" (reads better mid-sentence). */
void redis_int_lower_first(char *dst, size_t n, const char *src);

/* s[0..n) as a decimal 0..max (1..10 digits, nothing else): 0 and *out set, or -1. Pure. */
int redis_int_parse_uint(const char *s, size_t n, long max, long *out);

#endif
