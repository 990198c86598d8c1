/* ferry store internals: what redis.c (one connection) and cluster.c (Redis Cluster) share.
 * Not a public header: everything outside lib/store goes through ferry/redis.h. */
#ifndef FERRY_STORE_REDIS_INT_H
#define FERRY_STORE_REDIS_INT_H

#include "ferry/redis.h"
#include "ferry/text.h"

#include <string.h>

#define REDIS_SCRIPT_SLOTS 32

typedef struct {
    const ferry_redis_script_t *script;
    char sha[41];
    unsigned gen; /* connection generation the script was loaded on (single node) */
} redis_script_slot_t;

typedef struct ferry_cluster_s ferry_cluster_t;

/* Memory for reply trees read in one piece (redis_int_argv_scratch): bump allocation from
 * chunks, freed all at once. Owned by its connection. */
typedef struct redis_chunk_s redis_chunk_t;
typedef struct {
    redis_chunk_t *head; /* chunk being filled; older ones follow */
    size_t total;        /* bytes handed out since the last reset */
    redisReply *owned;   /* cluster mode: the last scratch reply, an ordinary one */
} redis_arena_t;

/* A RESP command being written: buf[0..len) of cap bytes (owned, malloc'd; NULL when cap is 0).
 * One per connection, reused from command to command (shrunk back after a big one). */
typedef struct {
    char *buf;
    size_t len, cap;
} redis_fmt_t;

/* Largest command ferry formats (the whole RESP text): Redis refuses a query over 1 GiB
 * (client-query-buffer-limit) and a bulk string over 512 MiB (proto-max-bulk-len). */
#define REDIS_CMD_MAX ((size_t)1 << 30)

/* A buffer grown past this is freed after its command rather than kept. */
#define REDIS_FMT_KEEP ((size_t)1 << 20)

/* Start a command of argc arguments ("*argc\r\n"); FERRY_OK, FERRY_EINVAL (argc < 0) or
 * FERRY_ENOMEM. */
int redis_int_fmt_begin(redis_fmt_t *f, int argc);

/* Append one argument ("$n\r\n" s[0..n) "\r\n"; any bytes). FERRY_OK, FERRY_ERANGE when the
 * command would pass REDIS_CMD_MAX, or FERRY_ENOMEM. */
int redis_int_fmt_arg(redis_fmt_t *f, const char *s, size_t n);

/* Drop a buffer grown past REDIS_FMT_KEEP (call when its command was sent); len becomes 0. */
void redis_int_fmt_done(redis_fmt_t *f);

/* Free the buffer. */
void redis_int_fmt_free(redis_fmt_t *f);

/* argv as one RESP command, byte for byte what hiredis' redisFormatCommandArgv writes (lens may
 * be NULL: NUL-terminated strings): f->buf[0..f->len). FERRY_OK, or an error code as above. */
int redis_int_format(redis_fmt_t *f, int argc, const char **argv, const size_t *lens);

/* v in decimal, NUL-terminated, at dst (at least FERRY_DEC_MAX bytes); returns dst (for argv).
 * What snprintf "%" PRIu64 / "%" PRId64 write (ferry_fmt_u64 / _i64). Pure. */
static inline const char *redis_int_u64(char *dst, uint64_t v)
{
    ferry_fmt_u64(dst, v);
    return dst;
}

static inline const char *redis_int_i64(char *dst, int64_t v)
{
    ferry_fmt_i64(dst, v);
    return dst;
}

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
    redis_fmt_t fmt;       /* the command being sent, formatted (owned; reused between commands) */
    redis_arena_t scratch; /* the last reply of redis_int_argv_scratch */
};

/* Largest reply redis_int_argv_scratch reads (the whole tree in memory): past it the read fails
 * with FERRY_ENOMEM. */
#define REDIS_SCRATCH_MAX ((size_t)1 << 30)

/* ferry_redis_argv for a reply the caller only reads: the reply tree is built in r's scratch
 * arena (a few allocations per reply instead of two per string) and *reply is borrowed — valid
 * until the next redis_int_argv_scratch on r or ferry_redis_free, never passed to
 * freeReplyObject. Errors, reconnects and the error reply as ferry_redis_argv (FERRY_EREDIS with
 * the server's message). Not inside a pipeline. In cluster mode the reply is an ordinary one
 * kept and freed by r. */
int redis_int_argv_scratch(ferry_redis_t *r, int argc, const char **argv, const size_t *lens,
                           const redisReply **reply);

/* Parse RESP text into an arena tree the way redis_int_argv_scratch does (for tests and fuzz
 * targets): FERRY_OK and *reply (borrowed from a, valid until redis_int_arena_free(a)),
 * FERRY_ERETRY when buf holds no complete reply, FERRY_EPARSE on a protocol error,
 * FERRY_ENOMEM. */
int redis_int_arena_parse(redis_arena_t *a, const char *buf, size_t len, const redisReply **reply);
void redis_int_arena_free(redis_arena_t *a);

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

/* XINFO GROUPS replies (stats.c, queue.c). The entry of group `name` (a flat name, value, …
 * array), or NULL. Pure; the result is borrowed from rep. */
const redisReply *redis_int_xinfo_group(const redisReply *rep, const char *name);
/* An integer field of such an entry, or dflt when absent or nil. Pure. */
long long redis_int_xinfo_int(const redisReply *entry, const char *field, long long dflt);
/* 1 when err (a Redis error's text) says the key does not exist ("ERR no such key": XINFO on a
 * stream never written), which is not a refusal. Pure. */
static inline int redis_int_no_such_key(const char *err)
{
    return err != NULL && strstr(err, "no such key") != NULL;
}

/* Bounded string building without snprintf (ledger and queue arguments, key names): pieces are
 * appended at len (ferry_str_cat), never past cap - 1, and the text is always NUL-terminated and
 * cut where snprintf into the same buffer would cut it. */
typedef struct {
    char *buf;
    size_t cap, len;
} redis_sb_t;

static inline redis_sb_t redis_sb(char *buf, size_t n)
{
    redis_sb_t b = {buf, n, 0};
    if (n)
        buf[0] = '\0';
    return b;
}

static inline void redis_sb_mem(redis_sb_t *b, const char *s, size_t n)
{
    if (b->cap)
        (void)ferry_str_cat(b->buf, b->cap, &b->len, s, n);
}

static inline void redis_sb_str(redis_sb_t *b, const char *s)
{
    redis_sb_mem(b, s, strlen(s));
}

static inline void redis_sb_u64(redis_sb_t *b, uint64_t v)
{
    char d[20];
    redis_sb_mem(b, d, ferry_utoa(d, v));
}

#endif
