/* ferry — synchronous Redis connection. See ferry/redis.h for the contract. */
#include "ferry/redis.h"

#include "ferry/clock.h"

#include "cluster_int.h"
#include "redis_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <stdalign.h>
#include <stddef.h>

/* ---- URL ---------------------------------------------------------------------------------- */

int redis_int_parse_uint(const char *s, size_t n, long max, long *out)
{
    long v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int ferry_redis_url_parse(const char *url, ferry_redis_url_t *out, ferry_error_t *err)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (url == NULL || *url == '\0')
        return ferry_error_set(err, FERRY_EINVAL, "empty Redis URL");
    size_t len = strlen(url);
    if (len > 1024)
        return ferry_error_set(err, FERRY_EINVAL, "Redis URL longer than 1024 bytes");
    int is_unix = strncmp(url, "unix://", 7) == 0; /* a socket path may hold spaces */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] < (is_unix ? 0x20 : 0x21) || url[i] == 0x7f)
            return ferry_error_set(err, FERRY_EINVAL, "Redis URL contains a space or control byte");

    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7;
        const char *q = strchr(p, '?');
        size_t pl = q ? (size_t)(q - p) : strlen(p);
        if (pl == 0 || p[0] != '/')
            return ferry_error_set(
                err, FERRY_EINVAL,
                "unix:// Redis URL needs an absolute path: unix:///path/to.sock");
        if (pl >= sizeof(out->path) || pl >= 108)
            return ferry_error_set(err, FERRY_EINVAL, "unix socket path too long (max 107 bytes)");
        memcpy(out->path, p, pl);
        out->is_unix = 1;
        if (q) {
            long db;
            if (strncmp(q, "?db=", 4) != 0 ||
                redis_int_parse_uint(q + 4, strlen(q + 4), 1000000, &db))
                return ferry_error_set(err, FERRY_EINVAL,
                                       "unix:// Redis URL accepts only ?db=N after the path");
            out->db = (int)db;
        }
        return FERRY_OK;
    }
    if (strncmp(url, "rediss://", 9) == 0)
        return ferry_error_set(
            err, FERRY_EUNSUPPORTED,
            "rediss:// (TLS) is not supported: ferry's Redis client (hiredis 0.14) has no TLS. "
            "Run a TLS tunnel next to ferry (stunnel or a sidecar, see docs/redis.md) and pass "
            "its local end as redis://127.0.0.1:PORT");
    if (strncmp(url, "redis://", 8) != 0)
        return ferry_error_set(err, FERRY_EINVAL,
                               "Redis URL must start with redis:// or unix:// (got \"%.40s\")",
                               url);
    const char *p = url + 8;
    const char *end = p + strlen(p);
    /* "?cluster=yes|no|auto" at the end (after any password, which may hold a '?'). */
    const char *lastat = strrchr(p, '@');
    const char *query = strstr(lastat ? lastat : p, "?cluster=");
    if (query) {
        const char *v = query + 9;
        if (strcmp(v, "yes") == 0)
            out->cluster = FERRY_REDIS_CLUSTER_YES;
        else if (strcmp(v, "no") == 0)
            out->cluster = FERRY_REDIS_CLUSTER_NO;
        else if (strcmp(v, "auto") != 0)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "Redis URL: ?cluster= takes yes, no or auto (got \"%.20s\")", v);
        end = query;
    }
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hostend = slash ? slash : end;
    const char *at = NULL;
    for (const char *s = p; s < hostend; s++)
        if (*s == '@')
            at = s; /* the last '@' before the path: passwords may contain '@' */
    if (at) {
        const char *cred = p;
        size_t cl = (size_t)(at - p);
        const char *colon = memchr(cred, ':', cl);
        if (colon == NULL)
            return ferry_error_set(
                err, FERRY_EINVAL,
                "Redis URL credentials must be \":password@\" or \"user:password@\"");
        size_t pwl = (size_t)(at - colon - 1), ul = (size_t)(colon - cred);
        if (pwl >= sizeof(out->password))
            return ferry_error_set(err, FERRY_EINVAL, "Redis password too long");
        if (ul >= sizeof(out->user))
            return ferry_error_set(err, FERRY_EINVAL,
                                   "Redis user name too long (at most %zu bytes)",
                                   sizeof(out->user) - 1);
        memcpy(out->user, cred, ul);
        memcpy(out->password, colon + 1, pwl);
        p = at + 1;
    }
    const char *portp = NULL;
    const char *h = p, *he = hostend;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hostend - p));
        if (rb == NULL)
            return ferry_error_set(err, FERRY_EINVAL, "Redis URL: unterminated [IPv6] host");
        h = p + 1;
        he = rb;
        if (rb + 1 < hostend) {
            if (rb[1] != ':')
                return ferry_error_set(err, FERRY_EINVAL, "Redis URL: junk after ]");
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(hostend - p));
        if (colon) {
            he = colon;
            portp = colon + 1;
        }
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0)
        return ferry_error_set(err, FERRY_EINVAL, "Redis URL has no host");
    if (hl >= sizeof(out->host))
        return ferry_error_set(err, FERRY_EINVAL, "Redis URL host too long");
    for (size_t i = 0; i < hl; i++)
        if (h[i] == '@' || h[i] == '[' || h[i] == ']' || h[i] == '?' || h[i] == '#')
            return ferry_error_set(err, FERRY_EINVAL, "Redis URL host contains '%c'", h[i]);
    memcpy(out->host, h, hl);
    if (portp) {
        long port;
        if (redis_int_parse_uint(portp, (size_t)(hostend - portp), 65535, &port) || port == 0)
            return ferry_error_set(err, FERRY_EINVAL, "Redis URL port must be 1..65535");
        out->port = (int)port;
    }
    if (slash && slash + 1 < end) {
        long db;
        if (redis_int_parse_uint(slash + 1, (size_t)(end - slash - 1), 1000000, &db))
            return ferry_error_set(err, FERRY_EINVAL, "Redis URL database must be a number: /0..");
        out->db = (int)db;
    }
    return FERRY_OK;
}

void ferry_redis_url_describe(const ferry_redis_url_t *u, char *buf, size_t n)
{
    if (u->is_unix)
        snprintf(buf, n, "unix://%s", u->path);
    else if (strchr(u->host, ':'))
        snprintf(buf, n, "[%s]:%d", u->host, u->port);
    else
        snprintf(buf, n, "%s:%d", u->host, u->port);
}

/* ---- command formatting ------------------------------------------------------------------- */

/* Make room for need more bytes. */
static int fmt_room(redis_fmt_t *f, size_t need)
{
    if (need > REDIS_CMD_MAX - f->len)
        return FERRY_ERANGE;
    if (f->len + need <= f->cap)
        return FERRY_OK;
    size_t cap = f->cap ? f->cap : 4096;
    while (cap < f->len + need)
        cap *= 2;
    char *b = realloc(f->buf, cap);
    if (b == NULL)
        return FERRY_ENOMEM;
    f->buf = b;
    f->cap = cap;
    return FERRY_OK;
}

int redis_int_fmt_begin(redis_fmt_t *f, int argc)
{
    f->len = 0;
    if (argc < 0)
        return FERRY_EINVAL;
    int rc = fmt_room(f, 1 + 20 + 2);
    if (rc)
        return rc;
    char *p = f->buf;
    *p++ = '*';
    p += ferry_utoa(p, (uint64_t)argc);
    *p++ = '\r';
    *p++ = '\n';
    f->len = (size_t)(p - f->buf);
    return FERRY_OK;
}

int redis_int_fmt_arg(redis_fmt_t *f, const char *s, size_t n)
{
    if (n > REDIS_CMD_MAX)
        return FERRY_ERANGE;
    int rc = fmt_room(f, 1 + 20 + 2 + n + 2);
    if (rc)
        return rc;
    char *p = f->buf + f->len;
    *p++ = '$';
    p += ferry_utoa(p, n);
    *p++ = '\r';
    *p++ = '\n';
    if (n)
        memcpy(p, s, n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    f->len = (size_t)(p - f->buf);
    return FERRY_OK;
}

void redis_int_fmt_done(redis_fmt_t *f)
{
    f->len = 0;
    if (f->cap > REDIS_FMT_KEEP)
        redis_int_fmt_free(f);
}

void redis_int_fmt_free(redis_fmt_t *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

int redis_int_format(redis_fmt_t *f, int argc, const char **argv, const size_t *lens)
{
    int rc = redis_int_fmt_begin(f, argc);
    for (int i = 0; i < argc && rc == FERRY_OK; i++)
        rc = redis_int_fmt_arg(f, argv[i], lens ? lens[i] : strlen(argv[i]));
    return rc;
}

/* The error of a command that could not be formatted (rc from redis_int_format). */
static int fmt_error(ferry_redis_t *r, int rc, int argc)
{
    if (rc == FERRY_ERANGE)
        return ferry_error_set(&r->err, FERRY_ERANGE,
                               "a Redis command of %d arguments would be over 1 GiB, more than "
                               "Redis accepts — send fewer or smaller items per call",
                               argc);
    if (rc == FERRY_EINVAL)
        return ferry_error_set(&r->err, FERRY_EINVAL, "a Redis command needs 0 or more arguments");
    return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot format a Redis command: out of memory");
}

/* ---- XINFO GROUPS ------------------------------------------------------------------------- */

static const redisReply *xinfo_value(const redisReply *entry, const char *field)
{
    for (size_t i = 0; entry->type == REDIS_REPLY_ARRAY && i + 1 < entry->elements; i += 2) {
        const redisReply *k = entry->element[i];
        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
            strcmp(k->str, field) == 0)
            return entry->element[i + 1];
    }
    return NULL;
}

const redisReply *redis_int_xinfo_group(const redisReply *rep, const char *name)
{
    for (size_t g = 0; rep->type == REDIS_REPLY_ARRAY && g < rep->elements; g++) {
        const redisReply *nm = xinfo_value(rep->element[g], "name");
        if (nm && nm->type == REDIS_REPLY_STRING && strcmp(nm->str, name) == 0)
            return rep->element[g];
    }
    return NULL;
}

long long redis_int_xinfo_int(const redisReply *entry, const char *field, long long dflt)
{
    const redisReply *v = xinfo_value(entry, field);
    return v == NULL || v->type == REDIS_REPLY_NIL ? dflt : ferry_redis_reply_int(v, dflt);
}

/* ---- scratch replies ----------------------------------------------------------------------- */

/* hiredis builds a reply tree with two allocations per string and frees it node by node; a
 * 64-entry XREADGROUP page is ~2,700 of each. A scratch reply is built by these functions
 * instead (the same redisReply nodes, hiredis' own reader) in chunks freed all at once. */

#define SCRATCH_CHUNK ((size_t)64 * 1024)

struct redis_chunk_s {
    redis_chunk_t *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

static void *arena_alloc(redis_arena_t *a, size_t n)
{
    n = (n + (alignof(max_align_t) - 1)) & ~(alignof(max_align_t) - 1);
    if (n > REDIS_SCRATCH_MAX || a->total > REDIS_SCRATCH_MAX - n)
        return NULL; /* the reader reports it as out of memory */
    redis_chunk_t *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > SCRATCH_CHUNK ? n : SCRATCH_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->total += n;
    return p;
}

/* Forget every reply: keep one standard chunk for the next, free the others. */
static void arena_reset(redis_arena_t *a)
{
    if (a->owned) {
        freeReplyObject(a->owned);
        a->owned = NULL;
    }
    redis_chunk_t *keep = NULL;
    for (redis_chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        if (keep == NULL && c->cap == SCRATCH_CHUNK) {
            keep = c;
            keep->used = 0;
            keep->next = NULL;
        } else {
            free(c);
        }
    }
    a->head = keep;
    a->total = 0;
}

void redis_int_arena_free(redis_arena_t *a)
{
    arena_reset(a);
    free(a->head);
    a->head = NULL;
}

/* The reply types that hold elements: RESP2's array; hiredis 1.x's RESP3 map, set and push
 * too (ferry speaks RESP2, but the reader's table is the library's). */
static int arena_aggregate(int type)
{
#if HIREDIS_MAJOR >= 1
    if (type == REDIS_REPLY_MAP || type == REDIS_REPLY_SET || type == REDIS_REPLY_PUSH)
        return 1;
#endif
    return type == REDIS_REPLY_ARRAY;
}

/* A node linked into its parent as hiredis' createReplyObject + parent link does. */
static redisReply *arena_node(const redisReadTask *task, int type)
{
    redis_arena_t *a = task->privdata;
    redisReply *r = a ? arena_alloc(a, sizeof(*r)) : NULL;
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        if (parent == NULL || !arena_aggregate(parent->type) || task->idx < 0 ||
            (size_t)task->idx >= parent->elements)
            return NULL;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *arena_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = arena_node(task, task->type);
    char *buf = r ? arena_alloc(task->privdata, len + 1) : NULL;
    if (buf == NULL)
        return NULL;
    memcpy(buf, str, len);
    buf[len] = '\0';
    r->str = buf;
    r->len = len;
    return r;
}

static void *arena_aggregate_node(const redisReadTask *task, size_t elements)
{
    redisReply *r = arena_node(task, arena_aggregate(task->type) ? task->type : REDIS_REPLY_ARRAY);
    if (r == NULL)
        return NULL;
    if (elements > 0) {
        if (elements > REDIS_SCRATCH_MAX / sizeof(*r->element))
            return NULL; /* past the cap: the reader reports it as out of memory */
        r->element = arena_alloc(task->privdata, sizeof(*r->element) * elements);
        if (r->element == NULL)
            return NULL;
        memset(r->element, 0, sizeof(*r->element) * elements);
    }
    r->elements = elements;
    return r;
}

/* The element count's type is the library's: int in hiredis 0.14, size_t in 1.x. */
#if HIREDIS_MAJOR >= 1
static void *arena_array(const redisReadTask *task, size_t elements)
{
    return arena_aggregate_node(task, elements);
}
#else
static void *arena_array(const redisReadTask *task, int elements)
{
    return arena_aggregate_node(task, elements > 0 ? (size_t)elements : 0);
}
#endif

static void *arena_integer(const redisReadTask *task, long long value)
{
    redisReply *r = arena_node(task, REDIS_REPLY_INTEGER);
    if (r)
        r->integer = value;
    return r;
}

static void *arena_nil(const redisReadTask *task)
{
    return arena_node(task, REDIS_REPLY_NIL);
}

static void arena_free_object(void *reply)
{
    (void)reply; /* the arena holds it; freed at the next reset */
}

#if HIREDIS_MAJOR >= 1
/* RESP3 only (ferry never sends HELLO 3), as hiredis 1.x builds them. */
static void *arena_double(const redisReadTask *task, double value, char *str, size_t len)
{
    redisReply *r = arena_string(task, str, len);
    if (r)
        r->dval = value;
    return r;
}

static void *arena_bool(const redisReadTask *task, int bval)
{
    redisReply *r = arena_node(task, REDIS_REPLY_BOOL);
    if (r)
        r->integer = bval != 0;
    return r;
}

static redisReplyObjectFunctions arena_functions = {arena_string,     arena_array, arena_integer,
                                                    arena_double,     arena_nil,   arena_bool,
                                                    arena_free_object};
#else
static redisReplyObjectFunctions arena_functions = {arena_string, arena_array, arena_integer,
                                                    arena_nil, arena_free_object};
#endif

int redis_int_arena_parse(redis_arena_t *a, const char *buf, size_t len, const redisReply **reply)
{
    *reply = NULL;
    arena_reset(a);
    redisReader *rd = redisReaderCreateWithFunctions(&arena_functions);
    if (rd == NULL)
        return FERRY_ENOMEM;
    rd->privdata = a;
    void *rep = NULL;
    int rc = FERRY_OK;
    if (redisReaderFeed(rd, buf, len) != REDIS_OK || redisReaderGetReply(rd, &rep) != REDIS_OK)
        rc = rd->err == REDIS_ERR_OOM ? FERRY_ENOMEM : FERRY_EPARSE;
    else if (rep == NULL)
        rc = FERRY_ERETRY;
    rd->reply = NULL; /* a partial tree is the arena's */
    redisReaderFree(rd);
    *reply = rc == FERRY_OK ? rep : NULL;
    return rc;
}

/* ---- connection --------------------------------------------------------------------------- */

static uint64_t rng_next(ferry_redis_t *r)
{
    uint64_t x = r->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->rng = x;
    return x;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void redis_int_backoff(ferry_redis_t *r, long *backoff_ms, long long deadline_ms)
{
    /* Full jitter: sleep uniformly in [0, backoff], backoff doubling to 2 s. */
    long s = (long)(rng_next(r) % (uint64_t)(*backoff_ms + 1));
    long long left = deadline_ms - ferry_mono_ms();
    if (deadline_ms > 0 && s > left)
        s = left > 0 ? (long)left : 0;
    sleep_ms(s);
    if (*backoff_ms < 2000)
        *backoff_ms *= 2;
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void lower_first(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
    /* hiredis says "Connection refused"; in the middle of our sentence it reads better lower. */
    if (dst[0] >= 'A' && dst[0] <= 'Z' && !(dst[1] >= 'A' && dst[1] <= 'Z'))
        dst[0] = (char)(dst[0] - 'A' + 'a');
}

void redis_int_lower_first(char *dst, size_t n, const char *src)
{
    lower_first(dst, n, src);
}

int redis_int_open(ferry_redis_t *r, const char *host, int port, redisContext **out)
{
    *out = NULL;
    char where[300];
    if (host)
        snprintf(where, sizeof(where),
                 strchr(host, ':') ? "Redis Cluster node [%s]:%d" : "Redis Cluster node %s:%d",
                 host, port);
    else
        snprintf(where, sizeof(where), "Redis at %.280s", r->where);
    struct timeval ctv = tv_ms(r->opts.connect_timeout_ms);
    redisContext *c = host             ? redisConnectWithTimeout(host, port, ctv)
                      : r->url.is_unix ? redisConnectUnixWithTimeout(r->url.path, ctv)
                                       : redisConnectWithTimeout(r->url.host, r->url.port, ctv);
    if (c == NULL)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot allocate a Redis context");
    if (c->err) {
        char why[160];
        lower_first(why, sizeof(why), c->errstr);
        redisFree(c);
        return ferry_error_set(&r->err, FERRY_ENET,
                               "cannot reach %s: %s — start redis-server or pass --redis URL",
                               where, why);
    }
    if (r->opts.command_timeout_ms > 0)
        redisSetTimeout(c, tv_ms(r->opts.command_timeout_ms));
    if (r->url.password[0]) {
        /* an ACL user was dropped here before: its password went to the default user */
        redisReply *rep = r->url.user[0]
                              ? redisCommand(c, "AUTH %s %s", r->url.user, r->url.password)
                              : redisCommand(c, "AUTH %s", r->url.password);
        if (rep == NULL) {
            char why[160];
            lower_first(why, sizeof(why), c->errstr);
            redisFree(c);
            return ferry_error_set(&r->err, FERRY_ENET,
                                   "lost %s at AUTH: %s — if that port speaks TLS only, put a TLS "
                                   "tunnel in front (docs/redis.md)",
                                   where, why);
        }
        int bad = rep->type == REDIS_REPLY_ERROR;
        if (bad) {
            ferry_error_set(&r->err, FERRY_EAUTH,
                            "%s refused the password%s%s: %s — check the credentials in the "
                            "Redis URL (redis://[user]:password@host:port)",
                            where, r->url.user[0] ? " of user " : "", r->url.user,
                            rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            return FERRY_EAUTH;
        }
        freeReplyObject(rep);
    }
    *out = c;
    return FERRY_OK;
}

static int connect_once(ferry_redis_t *r)
{
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
    redisContext *c = NULL;
    int rc = redis_int_open(r, NULL, 0, &c);
    if (rc)
        return rc;
    r->c = c;
    r->gen++;
    if (r->url.db) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->url.db);
        int bad = rep == NULL || rep->type == REDIS_REPLY_ERROR;
        if (bad) {
            ferry_error_set(&r->err, FERRY_EREDIS, "Redis at %s: SELECT %d failed: %s", r->where,
                            r->url.db, rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            r->c = NULL;
            return FERRY_EREDIS;
        }
        freeReplyObject(rep);
    }
    return FERRY_OK;
}

/* The major version in an INFO reply's "redis_version:MAJOR.…" line, or -1 when absent. */
static int info_major(const char *info)
{
    const char *v = strstr(info, "redis_version:");
    if (v == NULL)
        return -1;
    v += strlen("redis_version:");
    int major = 0, digits = 0;
    for (; *v >= '0' && *v <= '9' && digits < 4; v++, digits++)
        major = major * 10 + (*v - '0');
    return digits ? major : -1;
}

/* INFO once, at connect: the server's version (the ledger's scripts need Redis 7.0: SET … NX
 * GET) and whether it is part of a Redis Cluster (cluster_enabled:1); if so, become a cluster
 * client from its CLUSTER SLOTS. A server that refuses INFO (a proxy, an ACL) or does not say
 * is not refused for its version and is taken as one node, unless ?cluster=yes. */
static int check_server(ferry_redis_t *r)
{
    redisReply *rep = redisCommand(r->c, "INFO");
    if (rep == NULL) {
        char why[160];
        lower_first(why, sizeof(why), r->c->errstr);
        return ferry_error_set(&r->err, FERRY_ENET,
                               "lost Redis at %s at the first command: %s — if that port "
                               "speaks TLS only, put a TLS tunnel in front (docs/redis.md)",
                               r->where, why);
    }
    int is_info = rep->type == REDIS_REPLY_STRING;
    int major = is_info && rep->str ? info_major(rep->str) : -1;
    int enabled = is_info && rep->str && strstr(rep->str, "cluster_enabled:1") != NULL;
    freeReplyObject(rep);
    if (major >= 0 && major < 7)
        return ferry_error_set(&r->err, FERRY_EUNSUPPORTED,
                               "Redis at %s is version %d; ferry needs Redis 7.0 or later (its "
                               "ledger scripts use SET … NX GET) — upgrade the server or point "
                               "--redis at a 7.x one (docs/redis.md, \"Which Redis\")",
                               r->where, major);
    if (r->url.cluster == FERRY_REDIS_CLUSTER_NO)
        return FERRY_OK;
    if (!enabled)
        return r->url.cluster == FERRY_REDIS_CLUSTER_YES
                   ? ferry_error_set(&r->err, FERRY_EREDIS,
                                     "Redis at %s is not a cluster node (INFO cluster does not say "
                                     "cluster_enabled:1) — remove ?cluster=yes from the URL",
                                     r->where)
                   : FERRY_OK;
    rep = redisCommand(r->c, "CLUSTER SLOTS");
    if (rep == NULL) {
        char why[160];
        lower_first(why, sizeof(why), r->c->errstr);
        return ferry_error_set(&r->err, FERRY_ENET, "lost Redis at %s: %s", r->where, why);
    }
    if (rep->type != REDIS_REPLY_ARRAY) {
        ferry_error_set(&r->err, FERRY_EREDIS,
                        "Redis at %s is a cluster node but CLUSTER SLOTS failed: %s — check the "
                        "user's permissions (CLUSTER SLOTS is needed to route commands)",
                        r->where, rep->type == REDIS_REPLY_ERROR ? rep->str : "not an array");
        freeReplyObject(rep);
        return FERRY_EREDIS;
    }
    int rc = FERRY_OK;
    if (r->url.is_unix)
        rc = ferry_error_set(&r->err, FERRY_EUNSUPPORTED,
                             "Redis at %s is a cluster node: reach the cluster over TCP "
                             "(redis://HOST:PORT), the nodes announce TCP addresses",
                             r->where);
    else if (r->url.db)
        rc = ferry_error_set(&r->err, FERRY_EINVAL,
                             "Redis at %s is a cluster node and a Redis Cluster has database 0 "
                             "only: remove /%d from the URL",
                             r->where, r->url.db);
    if (rc == FERRY_OK)
        rc = ferry_cluster_start(r, rep);
    freeReplyObject(rep);
    if (rc == FERRY_OK) {
        char seed[280];
        snprintf(seed, sizeof(seed), "%.260s", r->where);
        snprintf(r->where, sizeof(r->where), "%.260s (Redis Cluster, %d masters)", seed,
                 ferry_cluster_masters(r));
    }
    return rc;
}

int ferry_redis_connect(const char *url, const ferry_redis_opts_t *opts, ferry_redis_t **out,
                        ferry_error_t *err)
{
    *out = NULL;
    ferry_redis_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    int rc = ferry_redis_url_parse(url, &r->url, err);
    if (rc)
        goto fail;
    if (opts)
        r->opts = *opts;
    if (r->opts.connect_timeout_ms <= 0)
        r->opts.connect_timeout_ms = 2000;
    if (r->opts.command_timeout_ms == 0)
        r->opts.command_timeout_ms = 15000;
    if (r->opts.retry_ms == 0)
        r->opts.retry_ms = 10000;
    r->rng = r->opts.seed
                 ? r->opts.seed
                 : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    ferry_redis_url_describe(&r->url, r->where, sizeof(r->where));
    rc = connect_once(r);
    if (rc == FERRY_OK)
        rc = check_server(r);
    if (rc) {
        if (err)
            *err = r->err;
        goto fail;
    }
    *out = r;
    return FERRY_OK;
fail:
    if (r->c)
        redisFree(r->c);
    ferry_cluster_free(r->cl);
    redis_int_fmt_free(&r->fmt);
    redis_int_arena_free(&r->scratch);
    free(r);
    return rc;
}

void ferry_redis_free(ferry_redis_t *r)
{
    if (r == NULL)
        return;
    if (r->c)
        redisFree(r->c);
    ferry_cluster_free(r->cl);
    redis_int_fmt_free(&r->fmt);
    redis_int_arena_free(&r->scratch);
    memset(r->url.password, 0, sizeof(r->url.password));
    free(r);
}

const ferry_error_t *ferry_redis_error(const ferry_redis_t *r)
{
    return &r->err;
}

const char *ferry_redis_where(const ferry_redis_t *r)
{
    return r->where;
}

unsigned ferry_redis_reconnects(const ferry_redis_t *r)
{
    return r->reconnects;
}

int ferry_redis_reset(ferry_redis_t *r)
{
    if (r->cl)
        return ferry_cluster_reset(r);
    long long deadline = r->opts.retry_ms < 0 ? 0 : ferry_mono_ms() + r->opts.retry_ms;
    long backoff = 50;
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = connect_once(r);
        if (rc == FERRY_OK) {
            r->reconnects++;
            return FERRY_OK;
        }
        if (rc == FERRY_EAUTH || deadline == 0)
            return rc;
        long long left = deadline - ferry_mono_ms();
        if (left <= 0)
            return rc;
        /* Full jitter: sleep uniformly in [0, backoff], backoff doubling to 2 s. */
        long s = (long)(rng_next(r) % (uint64_t)(backoff + 1));
        if (s > left)
            s = (long)left;
        sleep_ms(s);
        if (backoff < 2000)
            backoff *= 2;
    }
}

static int conn_lost(const redisContext *c)
{
    return c == NULL || c->err == REDIS_ERR_IO || c->err == REDIS_ERR_EOF;
}

static int io_error(ferry_redis_t *r)
{
    char why[160];
    lower_first(why, sizeof(why), r->c ? r->c->errstr : "not connected");
    if (r->c && r->c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return ferry_error_set(&r->err, FERRY_ETIMEOUT, "Redis at %s did not answer in %d ms",
                               r->where, r->opts.command_timeout_ms);
    return ferry_error_set(&r->err, FERRY_ENET, "lost Redis at %s: %s", r->where, why);
}

static int check_reply(ferry_redis_t *r, redisReply *rep, redisReply **out)
{
    if (rep->type == REDIS_REPLY_ERROR) {
        ferry_error_set(&r->err, FERRY_EREDIS, "Redis at %s: %s", r->where, rep->str);
        freeReplyObject(rep);
        return FERRY_EREDIS;
    }
    if (out)
        *out = rep;
    else
        freeReplyObject(rep);
    return FERRY_OK;
}

/* Send the command formatted in r->fmt and read its reply; ferry_redis_argv's contract. */
static int exec_fmt(ferry_redis_t *r, redisReply **reply)
{
    if (r->cl)
        return ferry_cluster_exec(r, r->fmt.buf, r->fmt.len, reply);
    for (int round = 0; round < 2; round++) {
        if (r->c == NULL || conn_lost(r->c)) {
            int rc = ferry_redis_reset(r);
            if (rc)
                return rc;
        }
        /* What redisCommandArgv does, without formatting the command again */
        redisReply *rep = NULL;
        if (redisAppendFormattedCommand(r->c, r->fmt.buf, r->fmt.len) == REDIS_OK &&
            redisGetReply(r->c, (void **)&rep) == REDIS_OK && rep)
            return check_reply(r, rep, reply);
        int rc = io_error(r);
        if (!conn_lost(r->c) || round == 1)
            return rc;
        /* Lost mid-command: reconnect and send it once more (at-least-once). */
    }
    return FERRY_ENET;
}

int ferry_redis_argv(ferry_redis_t *r, int argc, const char **argv, const size_t *lens,
                     redisReply **reply)
{
    if (reply)
        *reply = NULL;
    int rc = redis_int_format(&r->fmt, argc, argv, lens);
    rc = rc ? fmt_error(r, rc, argc) : exec_fmt(r, reply);
    redis_int_fmt_done(&r->fmt);
    return rc;
}

/* One round of the command in r->fmt with its reply built in r->scratch: 1 and *rep, or 0 with
 * the connection's error (c->err set). */
static int scratch_round(ferry_redis_t *r, redisReply **rep)
{
    redisReader *rd = r->c->reader;
    redisReplyObjectFunctions *fn = rd->fn;
    void *priv = rd->privdata;
    rd->fn = &arena_functions;
    rd->privdata = &r->scratch;
    void *got = NULL;
    int ok = redisAppendFormattedCommand(r->c, r->fmt.buf, r->fmt.len) == REDIS_OK &&
             redisGetReply(r->c, &got) == REDIS_OK && got;
    /* A tree cut short (lost connection, bad reply, cap) is the arena's too: the reader must not
     * hand it to freeReplyObject when it is freed or reused. */
    rd->reply = NULL;
    rd->fn = fn;
    rd->privdata = priv;
    *rep = ok ? got : NULL;
    return ok;
}

int redis_int_argv_scratch(ferry_redis_t *r, int argc, const char **argv, const size_t *lens,
                           const redisReply **reply)
{
    *reply = NULL;
    arena_reset(&r->scratch);
    if (r->cl) {
        redisReply *own = NULL;
        int rc = ferry_redis_argv(r, argc, argv, lens, &own);
        r->scratch.owned = own;
        *reply = own;
        return rc;
    }
    int rc = redis_int_format(&r->fmt, argc, argv, lens);
    if (rc) {
        rc = fmt_error(r, rc, argc);
        redis_int_fmt_done(&r->fmt);
        return rc;
    }
    rc = FERRY_ENET;
    for (int round = 0; round < 2; round++) {
        if (r->c == NULL || conn_lost(r->c)) {
            rc = ferry_redis_reset(r);
            if (rc)
                break;
        }
        redisReply *rep = NULL;
        if (scratch_round(r, &rep)) {
            rc = FERRY_OK;
            if (rep->type == REDIS_REPLY_ERROR)
                rc = ferry_error_set(&r->err, FERRY_EREDIS, "Redis at %s: %s", r->where, rep->str);
            else
                *reply = rep;
            break;
        }
        arena_reset(&r->scratch);
        rc = io_error(r);
        if (!conn_lost(r->c)) {
            /* out of memory or a protocol error: the connection is out of step, open a new one
             * at the next command */
            redisFree(r->c);
            r->c = NULL;
            break;
        }
        /* Lost mid-command: reconnect and send it once more (at-least-once). */
    }
    redis_int_fmt_done(&r->fmt);
    return rc;
}

int ferry_redis_client_id(ferry_redis_t *r, long long *id)
{
    *id = 0;
    if (r->cl)
        return FERRY_EUNSUPPORTED;
    if (r->client_id > 0 && r->client_id_gen == r->gen) {
        *id = r->client_id;
        return FERRY_OK;
    }
    redisReply *rep = NULL;
    const char *argv[2] = {"CLIENT", "ID"};
    int rc = ferry_redis_argv(r, 2, argv, NULL, &rep);
    if (rc)
        return rc;
    long long v = ferry_redis_reply_int(rep, -1);
    freeReplyObject(rep);
    if (v <= 0)
        return ferry_error_set(&r->err, FERRY_EREDIS, "CLIENT ID: unexpected reply from Redis");
    r->client_id = v;
    r->client_id_gen = r->gen; /* the connection that answered */
    *id = v;
    return FERRY_OK;
}

int ferry_redis_unblock(ferry_redis_t *r, long long id, int *done)
{
    if (done)
        *done = 0;
    if (r->cl)
        return FERRY_EUNSUPPORTED;
    /* One attempt, no reconnect: the caller is a worker stopping, which must not wait out a
     * reconnect budget for a courtesy (the blocked read times out by itself anyway). */
    if (r->c == NULL || conn_lost(r->c))
        return ferry_error_set(&r->err, FERRY_ENET, "not connected to Redis at %s", r->where);
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *argv[3] = {"CLIENT", "UNBLOCK", ids};
    redisReply *rep = redisCommandArgv(r->c, 3, argv, NULL);
    if (rep == NULL)
        return io_error(r);
    redisReply *ok = NULL;
    int rc = check_reply(r, rep, &ok);
    if (rc == FERRY_OK && done)
        *done = ferry_redis_reply_int(ok, 0) == 1;
    freeReplyObject(ok);
    return rc;
}

int ferry_redis_cmd(ferry_redis_t *r, redisReply **reply, const char *fmt, ...)
{
    if (reply)
        *reply = NULL;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot format a Redis command");
    if (r->cl) {
        int rc = ferry_cluster_exec(r, cmd, (size_t)len, reply);
        redisFreeCommand(cmd);
        return rc;
    }
    int rc = FERRY_ENET;
    for (int round = 0; round < 2; round++) {
        if (r->c == NULL || conn_lost(r->c)) {
            rc = ferry_redis_reset(r);
            if (rc)
                break;
        }
        redisReply *rep = NULL;
        if (redisAppendFormattedCommand(r->c, cmd, (size_t)len) == REDIS_OK &&
            redisGetReply(r->c, (void **)&rep) == REDIS_OK && rep) {
            rc = check_reply(r, rep, reply);
            break;
        }
        rc = io_error(r);
        if (!conn_lost(r->c))
            break;
    }
    free(cmd);
    return rc;
}

/* Queue the command formatted in r->fmt (script: the EVALSHA's script, for a cluster). */
static int append_fmt(ferry_redis_t *r, const ferry_redis_script_t *script)
{
    if (r->cl)
        return ferry_cluster_append(r, r->fmt.buf, r->fmt.len, script);
    if (r->c == NULL || conn_lost(r->c)) {
        int rc = ferry_redis_reset(r);
        if (rc)
            return rc;
    }
    if (redisAppendFormattedCommand(r->c, r->fmt.buf, r->fmt.len) != REDIS_OK)
        return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot queue a Redis command");
    return FERRY_OK;
}

int ferry_redis_append(ferry_redis_t *r, int argc, const char **argv, const size_t *lens)
{
    int rc = redis_int_format(&r->fmt, argc, argv, lens);
    rc = rc ? fmt_error(r, rc, argc) : append_fmt(r, NULL);
    redis_int_fmt_done(&r->fmt);
    return rc;
}

int ferry_redis_read(ferry_redis_t *r, redisReply **reply)
{
    *reply = NULL;
    if (r->cl)
        return ferry_cluster_read(r, reply);
    if (r->c == NULL)
        return ferry_error_set(&r->err, FERRY_ENET, "not connected to Redis at %s", r->where);
    void *rep = NULL;
    if (redisGetReply(r->c, &rep) != REDIS_OK || rep == NULL)
        return io_error(r);
    *reply = rep;
    return FERRY_OK;
}

long long ferry_redis_reply_int(const redisReply *rep, long long dflt)
{
    if (rep == NULL)
        return dflt;
    if (rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    if ((rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) && rep->len > 0 &&
        rep->len < 24) {
        char tmp[24];
        memcpy(tmp, rep->str, rep->len);
        tmp[rep->len] = '\0';
        char *e;
        errno = 0;
        long long v = strtoll(tmp, &e, 10);
        if (*e == '\0' && errno == 0)
            return v;
    }
    return dflt;
}

/* ---- scripts ------------------------------------------------------------------------------ */

static redis_script_slot_t *slot_for(ferry_redis_t *r, const ferry_redis_script_t *s)
{
    for (int i = 0; i < REDIS_SCRIPT_SLOTS; i++) {
        if (r->scripts[i].script == s)
            return &r->scripts[i];
        if (r->scripts[i].script == NULL) {
            r->scripts[i].script = s;
            r->scripts[i].gen = 0;
            return &r->scripts[i];
        }
    }
    return NULL;
}

int ferry_redis_script_load(ferry_redis_t *r, const ferry_redis_script_t *s)
{
    redis_script_slot_t *sl = slot_for(r, s);
    if (sl == NULL)
        return ferry_error_set(&r->err, FERRY_ERANGE, "too many Lua scripts on one connection");
    if (r->cl) {
        /* A cluster has one script cache per node: keep the SHA1 (computed here, no round
         * trip); a node without the script answers NOSCRIPT and gets it by EVAL. */
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdl = 0;
        if (sl->sha[0] == '\0') {
            if (EVP_Digest(s->src, strlen(s->src), md, &mdl, EVP_sha1(), NULL) != 1 || mdl != 20)
                return ferry_error_set(&r->err, FERRY_ENOMEM, "cannot hash Lua script %s", s->name);
            for (unsigned i = 0; i < 20; i++)
                snprintf(sl->sha + 2 * i, 3, "%02x", md[i]);
        }
        return FERRY_OK;
    }
    if (sl->gen == r->gen && r->c && !conn_lost(r->c))
        return FERRY_OK;
    redisReply *rep = NULL;
    const char *argv[3] = {"SCRIPT", "LOAD", s->src};
    int rc = ferry_redis_argv(r, 3, argv, NULL, &rep);
    if (rc) {
        ferry_error_set(&r->err, rc, "cannot load Lua script %s into Redis at %s: %s", s->name,
                        r->where, r->err.msg);
        return rc;
    }
    if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
        freeReplyObject(rep);
        return ferry_error_set(&r->err, FERRY_EREDIS, "SCRIPT LOAD %s: unexpected reply", s->name);
    }
    memcpy(sl->sha, rep->str, 40);
    sl->sha[40] = '\0';
    sl->gen = r->gen;
    freeReplyObject(rep);
    return FERRY_OK;
}

#define EVAL_MAX_ARGS 1100

/* VERB body nkeys argv… into r->fmt (VERB is EVALSHA with the SHA1 or EVAL with the source).
 * FERRY_OK or an error on r->err. */
static int format_eval(ferry_redis_t *r, const char *verb, const char *body, int nkeys, int argc,
                       const char **argv, const size_t *lens)
{
    if (argc < 0 || argc + 3 > EVAL_MAX_ARGS)
        return ferry_error_set(&r->err, FERRY_ERANGE, "too many script arguments");
    char nk[24];
    redis_int_i64(nk, nkeys);
    size_t nkl = strlen(nk);
    int rc = redis_int_fmt_begin(&r->fmt, argc + 3);
    if (rc == FERRY_OK)
        rc = redis_int_fmt_arg(&r->fmt, verb, strlen(verb));
    if (rc == FERRY_OK)
        rc = redis_int_fmt_arg(&r->fmt, body, strlen(body));
    if (rc == FERRY_OK)
        rc = redis_int_fmt_arg(&r->fmt, nk, nkl);
    for (int i = 0; i < argc && rc == FERRY_OK; i++)
        rc = redis_int_fmt_arg(&r->fmt, argv[i], lens ? lens[i] : strlen(argv[i]));
    return rc ? fmt_error(r, rc, argc + 3) : FERRY_OK;
}

int ferry_redis_eval_append(ferry_redis_t *r, const ferry_redis_script_t *s, int nkeys, int argc,
                            const char **argv, const size_t *lens)
{
    int rc = ferry_redis_script_load(r, s);
    if (rc)
        return rc;
    redis_script_slot_t *sl = slot_for(r, s);
    rc = format_eval(r, "EVALSHA", sl->sha, nkeys, argc, argv, lens);
    if (rc == FERRY_OK)
        rc = append_fmt(r, s);
    redis_int_fmt_done(&r->fmt);
    return rc;
}

int ferry_redis_eval(ferry_redis_t *r, const ferry_redis_script_t *s, int nkeys, int argc,
                     const char **argv, const size_t *lens, redisReply **reply)
{
    if (reply)
        *reply = NULL;
    int rc = ferry_redis_script_load(r, s);
    if (rc)
        return rc;
    redis_script_slot_t *sl = slot_for(r, s);
    rc = format_eval(r, "EVALSHA", sl->sha, nkeys, argc, argv, lens);
    if (rc == FERRY_OK)
        rc = exec_fmt(r, reply);
    if (rc == FERRY_EREDIS && strstr(r->err.msg, "NOSCRIPT")) {
        /* The server forgot the script (restart, SCRIPT FLUSH, failover): EVAL loads it. */
        sl->gen = 0;
        rc = format_eval(r, "EVAL", s->src, nkeys, argc, argv, lens);
        if (rc == FERRY_OK)
            rc = exec_fmt(r, reply);
    }
    redis_int_fmt_done(&r->fmt);
    return rc;
}
