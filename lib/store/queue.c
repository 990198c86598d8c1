/* ferry — job queue on Redis streams. See ferry/queue.h and docs/internals/ledger.md. */
#include "ferry/clock.h"
#include "ferry/queue.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry/log.h"
#include "keys_int.h"
#include "redis_int.h"

#define BUF_MAX 64

/* The streams of one ledger shard (docs/redis.md): a job lives in its record's shard. */
typedef struct {
    char k_q[2][128];
    char k_dead[128];
    char k_cnt[128];       /* the shard's counters: queue bytes (LUA_QDEL) */
    int rec_done[2];       /* per stream: its pending entries are all read */
    char rec_id[2][48];    /* per stream: the last pending entry read ("0": none yet) */
    long long empty_ms[2]; /* several shards: when a read of new entries found none */
} qshard_t;

struct ferry_queue_s {
    ferry_ledger_t *l;
    ferry_redis_t *r;
    char consumer[FERRY_WORKER_MAX + 1];
    int64_t vt_ms;
    int max_deliveries;
    uint32_t nsh; /* the ledger's shards */
    qshard_t *sh;
    uint32_t cur;            /* several shards: the next one to read new entries from */
    uint32_t claim_next;     /* several shards: the next one to sweep with XAUTOCLAIM */
    int recovered;           /* every own pending entry from before a restart was read */
    int seen[2];             /* entries of each stream in the last reply */
    char last_id[2][48];     /* the last entry id of each stream in the last reply */
    long long last_claim_ms; /* last XAUTOCLAIM sweep */
    ferry_job_t *buf;        /* jobs delivered but not yet handed out: buf[head, head + nbuf) */
    int head;
    int nbuf;
};

static ferry_error_t *qerr(ferry_queue_t *q)
{
    return (ferry_error_t *)ferry_redis_error(q->r);
}

/* ---- job decoding ------------------------------------------------------------------------------
 */

static int num_field(const redisReply *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (v->len == 0) {
        *out = 0;
        return 0;
    }
    if (v->len > 20)
        return -1;
    char tmp[24];
    memcpy(tmp, v->str, v->len);
    tmp[v->len] = '\0';
    for (size_t i = 0; i < v->len; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return -1;
    errno = 0;
    unsigned long long x = strtoull(tmp, NULL, 10);
    if (errno || x > (unsigned long long)hi || (int64_t)x < lo)
        return -1;
    *out = (int64_t)x;
    return 0;
}

static int str_field(const redisReply *v, char *dst, size_t cap)
{
    if (v->len + 1 > cap || memchr(v->str, 0, v->len))
        return -1;
    memcpy(dst, v->str, v->len);
    dst[v->len] = '\0';
    return 0;
}

int ferry_job_decode(const redisReply *e, int kind, ferry_job_t *job, ferry_error_t *err)
{
    memset(job, 0, sizeof(*job));
    job->kind = kind;
    job->deliveries = 1;
    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return ferry_error_set(err, FERRY_EPARSE, "job: not a stream entry");
    const redisReply *id = e->element[0], *f = e->element[1];
    if (id->len == 0 || id->len >= sizeof(job->id))
        return ferry_error_set(err, FERRY_EPARSE, "job: bad entry id");
    for (size_t i = 0; i < id->len; i++)
        if (!((id->str[i] >= '0' && id->str[i] <= '9') || id->str[i] == '-'))
            return ferry_error_set(err, FERRY_EPARSE, "job: bad entry id");
    memcpy(job->id, id->str, id->len);
    if (f->type == REDIS_REPLY_NIL)
        return ferry_error_set(err, FERRY_ENOTFOUND, "job %s was deleted", job->id);
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 || f->elements > 64)
        return ferry_error_set(err, FERRY_EPARSE, "job %s: fields are not pairs", job->id);
    int have_key = 0;
    for (size_t i = 0; i < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return ferry_error_set(err, FERRY_EPARSE, "job %s: non-string field", job->id);
        int64_t x;
        int bad = 0;
        if (k->len == 1) {
            switch (k->str[0]) {
            case 'k':
                bad = v->len == 0 || v->len > FERRY_KEY_MAX ||
                      str_field(v, job->key, sizeof(job->key));
                have_key = !bad;
                break;
            case 's':
                bad = num_field(v, 0, INT64_MAX, &x);
                job->size = (uint64_t)x;
                break;
            case 'm':
                bad = num_field(v, 0, INT64_MAX / 2, &job->mtime);
                break;
            case 'e':
                bad = str_field(v, job->etag, sizeof(job->etag));
                break;
            case 'c':
                if (v->len) {
                    char tmp[24];
                    bad = v->len > 20 || str_field(v, tmp, sizeof(tmp));
                    for (size_t j = 0; !bad && tmp[j]; j++)
                        bad = tmp[j] < '0' || tmp[j] > '9';
                    if (!bad) {
                        errno = 0;
                        job->crc64 = strtoull(tmp, NULL, 10);
                        bad = errno != 0;
                        job->has_crc64 = !bad;
                    }
                }
                break;
            case 'q':
                bad = str_field(v, job->seq, sizeof(job->seq));
                break;
            case 'o': {
                char tmp[8];
                ferry_origin_t o;
                bad = str_field(v, tmp, sizeof(tmp)) || ferry_origin_parse(tmp, &o);
                job->origin = bad ? 0 : (int)o;
                break;
            }
            case 't':
                bad = num_field(v, 0, INT64_MAX / 2, &job->enqueued_ms);
                break;
            default:
                break; /* unknown one-letter fields: newer producers */
            }
        } else if (k->len == 2 && memcmp(k->str, "op", 2) == 0) {
            if (v->len == 4 && memcmp(v->str, "copy", 4) == 0)
                job->op_delete = 0;
            else if (v->len == 6 && memcmp(v->str, "delete", 6) == 0)
                job->op_delete = 1;
            else
                bad = 1;
        }
        if (bad)
            return ferry_error_set(err, FERRY_EPARSE, "job %s: bad field \"%.*s\"", job->id,
                                   (int)(k->len > 8 ? 8 : k->len), k->str);
    }
    if (!have_key)
        return ferry_error_set(err, FERRY_EPARSE, "job %s has no key", job->id);
    return FERRY_OK;
}

/* ---- open
 * ---------------------------------------------------------------------------------------- */

int ferry_queue_consumer_name(char *buf, size_t n, const char *host, int slot)
{
    char h[256];
    if (host == NULL)
        host = getenv("FERRY_HOSTNAME");
    if (host == NULL || *host == '\0') {
        if (gethostname(h, sizeof(h)) != 0)
            snprintf(h, sizeof(h), "localhost");
        h[sizeof(h) - 1] = '\0';
        host = h;
    }
    int w = snprintf(buf, n, "%s/%d", host, slot);
    return w < 0 || (size_t)w >= n || w > FERRY_WORKER_MAX ? FERRY_ERANGE : FERRY_OK;
}

static int ensure_group(ferry_redis_t *r, const char *stream)
{
    const char *argv[6] = {"XGROUP", "CREATE", stream, KEYS_GROUP, "0", "MKSTREAM"};
    int rc = ferry_redis_argv(r, 6, argv, NULL, NULL);
    if (rc == FERRY_EREDIS && strstr(ferry_redis_error(r)->msg, "BUSYGROUP"))
        rc = FERRY_OK;
    return rc;
}

/* Create the groups of every stream in keys (n of them) in one pipeline; BUSYGROUP (the group
 * exists) is fine. */
static int ensure_groups(ferry_redis_t *r, char (*keys)[128], size_t n)
{
    if (n == 1)
        return ensure_group(r, keys[0]);
    int rc = FERRY_OK;
    for (size_t i = 0; i < n && rc == FERRY_OK; i++) {
        const char *argv[6] = {"XGROUP", "CREATE", keys[i], KEYS_GROUP, "0", "MKSTREAM"};
        rc = ferry_redis_append(r, 6, argv, NULL);
    }
    if (rc) {
        ferry_redis_reset(r);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(r, &rep);
        if (r2) {
            ferry_redis_reset(r);
            return r2;
        }
        if (rep->type == REDIS_REPLY_ERROR && !strstr(rep->str, "BUSYGROUP") && rc == FERRY_OK)
            rc = ferry_error_set((ferry_error_t *)ferry_redis_error(r), FERRY_EREDIS,
                                 "XGROUP CREATE %s: %s", keys[i], rep->str);
        freeReplyObject(rep);
    }
    return rc;
}

int ferry_queue_create_groups(ferry_redis_t *r, const char *task, uint32_t shards)
{
    if (shards == 0)
        shards = 1;
    if (shards > FERRY_LEDGER_SHARDS_MAX)
        return FERRY_EINVAL;
    char(*k)[128] = malloc(sizeof(*k) * 2 * shards);
    if (k == NULL)
        return FERRY_ENOMEM;
    int rc = FERRY_OK;
    for (uint32_t s = 0; s < shards && rc == FERRY_OK; s++) {
        char tag[FERRY_LEDGER_TAG_MAX + 1];
        rc = ferry_ledger_shard_tag(task, s, shards, tag, sizeof(tag));
        keys_task(k[2 * s], sizeof(k[0]), tag, "q:event");
        keys_task(k[2 * s + 1], sizeof(k[0]), tag, "q:bulk");
    }
    if (rc == FERRY_OK && shards == 1) { /* as before shards: two commands */
        rc = ensure_group(r, k[0]);
        if (rc == FERRY_OK)
            rc = ensure_group(r, k[1]);
    } else if (rc == FERRY_OK) {
        rc = ensure_groups(r, k, 2 * (size_t)shards);
        if (rc == FERRY_ENET || rc == FERRY_ETIMEOUT) /* reset by ensure_groups: once more */
            rc = ensure_groups(r, k, 2 * (size_t)shards);
    }
    free(k);
    return rc;
}

int ferry_queue_open(ferry_ledger_t *l, const ferry_queue_opts_t *o, ferry_queue_t **out)
{
    *out = NULL;
    ferry_redis_t *r = ferry_ledger_redis(l);
    if (o == NULL || o->consumer == NULL || *o->consumer == '\0' ||
        strlen(o->consumer) > FERRY_WORKER_MAX)
        return ferry_error_set((ferry_error_t *)ferry_redis_error(r), FERRY_EINVAL,
                               "queue: a consumer name (1..%d bytes) is required",
                               FERRY_WORKER_MAX);
    ferry_queue_t *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return FERRY_ENOMEM;
    q->nsh = ferry_ledger_shards(l);
    q->buf = calloc(BUF_MAX, sizeof(ferry_job_t));
    q->sh = calloc(q->nsh, sizeof(*q->sh));
    if (q->buf == NULL || q->sh == NULL) {
        ferry_queue_free(q);
        return FERRY_ENOMEM;
    }
    q->l = l;
    q->r = r;
    snprintf(q->consumer, sizeof(q->consumer), "%s", o->consumer);
    q->vt_ms = o->visibility_ms > 0 ? o->visibility_ms : 300000;
    q->max_deliveries = o->max_deliveries > 0 ? o->max_deliveries : FERRY_QUEUE_DELIVERY_CAP;
    for (uint32_t i = 0; i < q->nsh; i++) {
        qshard_t *h = &q->sh[i];
        snprintf(h->rec_id[0], sizeof(h->rec_id[0]), "0");
        snprintf(h->rec_id[1], sizeof(h->rec_id[1]), "0");
        ferry_ledger_shard_key(l, i, "q:event", h->k_q[0], sizeof(h->k_q[0]));
        ferry_ledger_shard_key(l, i, "q:bulk", h->k_q[1], sizeof(h->k_q[1]));
        ferry_ledger_shard_key(l, i, "cnt", h->k_cnt, sizeof(h->k_cnt));
        ferry_ledger_shard_key(l, i, "q:dead", h->k_dead, sizeof(h->k_dead));
    }
    /* Several shards: start reading new work at a shard picked by the consumer name, so that
     * workers fan out over the shards (and the cluster's nodes) instead of all starting at 0. */
    uint32_t h = 2166136261u;
    for (const char *c = q->consumer; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    q->cur = q->claim_next = h % q->nsh;
    int rc = ferry_queue_create_groups(r, ferry_ledger_task(l), q->nsh);
    if (rc) {
        ferry_queue_free(q);
        return rc;
    }
    *out = q;
    return FERRY_OK;
}

void ferry_queue_free(ferry_queue_t *q)
{
    if (q == NULL)
        return;
    free(q->buf);
    free(q->sh);
    free(q);
}

/* ---- reading
 * ------------------------------------------------------------------------------------- */

/* Queue bytes (ferry_queue_bytes): the counters hash's field "qbytes:<stream>" holds the
 * source bytes of the jobs in the stream. The ledger's enqueue script adds a job's size with
 * its XADD; qdel removes entries and subtracts their sizes, and forgets the field when the
 * stream is empty (any drift ends when a stream drains). The client passes each entry's size
 * (the job it was handed carries the entry's "s"): subtracted only when that entry's XDEL
 * removed it, so a repeated ack subtracts nothing. An unknown size ('': a malformed entry that
 * could not be decoded) is read from the entry itself. S stream, C counters hash, A ARGV,
 * entries from A[i]: id, size pairs. */
#define LUA_QDEL                                                                                   \
    "local function qdel(S, C, A, i)\n"                                                            \
    "  local b, n = 0, 0\n"                                                                        \
    "  for j = i, #A - 1, 2 do\n"                                                                  \
    "    local z = tonumber(A[j + 1])\n"                                                           \
    "    if not z then\n"                                                                          \
    "      z = 0\n"                                                                                \
    "      local e = redis.call('XRANGE', S, A[j], A[j])\n"                                        \
    "      local f = e[1] and e[1][2] or {}\n"                                                     \
    "      for k = 1, #f - 1, 2 do if f[k] == 's' then z = tonumber(f[k + 1]) or 0 end end\n"      \
    "    end\n"                                                                                    \
    "    if redis.call('XDEL', S, A[j]) == 1 then n = n + 1; b = b + z end\n"                      \
    "  end\n"                                                                                      \
    "  local F = 'qbytes:' .. string.match(S, '[^:]+$')\n"                                         \
    "  if redis.call('XLEN', S) == 0 then redis.call('HDEL', C, F)\n"                              \
    "  elseif b > 0 then redis.call('HINCRBY', C, F, string.format('%d', -b)) end\n"               \
    "  return n\n"                                                                                 \
    "end\n"

/* KEYS: stream counters; ARGV: group id size */
static const ferry_redis_script_t LUA_ACK = {"ack", LUA_QDEL
                                             "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
                                             "return qdel(KEYS[1], KEYS[2], ARGV, 2)\n"};

/* KEYS: stream counters; ARGV: group, then id size pairs: ack and delete many entries of one
 * stream in one call. */
static const ferry_redis_script_t LUA_ACK_MANY = {
    "ack_many", LUA_QDEL "local ids = {}\n"
                         "for j = 2, #ARGV - 1, 2 do ids[#ids + 1] = ARGV[j] end\n"
                         "redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))\n"
                         "return qdel(KEYS[1], KEYS[2], ARGV, 2)\n"};
#define ACK_CHUNK 256 /* entries per call (Lua's unpack limit is ~8,000) */

/* Reset the idle time only while we own the entry (XCLAIM would otherwise steal it back). */
static const ferry_redis_script_t LUA_REFRESH = {
    "refresh",
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)\n"
    "if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end\n"
    "redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'JUSTID')\n"
    "return 1\n"};

/* KEYS: stream dead counters; ARGV: group id size ('' unknown) field value … */
static const ferry_redis_script_t LUA_DEAD = {"dead", LUA_QDEL
                                              "local f = {}\n"
                                              "for i = 4, #ARGV do f[#f + 1] = ARGV[i] end\n"
                                              "redis.call('XADD', KEYS[2], '*', unpack(f))\n"
                                              "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
                                              "qdel(KEYS[1], KEYS[3], {ARGV[2], ARGV[3]}, 1)\n"
                                              "return 1\n"};

/* size: the entry's "s" as the job decoded it (what its XDEL takes off the queue bytes). */
static int ack_id(ferry_queue_t *q, uint32_t sh, int kind, const char *id, uint64_t size)
{
    char sz[24];
    redis_int_u64(sz, size);
    const char *argv[5] = {q->sh[sh].k_q[kind], q->sh[sh].k_cnt, KEYS_GROUP, id, sz};
    return ferry_redis_eval(q->r, &LUA_ACK, 2, 5, argv, NULL, NULL);
}

/* Delivery count of one pending entry, from XPENDING; 1 if unknown. */
static long long deliveries_of(ferry_queue_t *q, uint32_t sh, int kind, const char *id)
{
    redisReply *rep = NULL;
    const char *argv[6] = {"XPENDING", q->sh[sh].k_q[kind], KEYS_GROUP, id, id, "1"};
    if (ferry_redis_argv(q->r, 6, argv, NULL, &rep))
        return 1;
    long long n = 1;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 4)
        n = ferry_redis_reply_int(rep->element[0]->element[3], 1);
    freeReplyObject(rep);
    return n;
}

/* Append entries of one stream reply (shard sh) to the local buffer. fetch_count: look up
 * deliveries. */
static int take_entries(ferry_queue_t *q, uint32_t sh, int kind, const redisReply *entries,
                        int fetch_count)
{
    if (entries == NULL || entries->type != REDIS_REPLY_ARRAY)
        return FERRY_OK;
    const qshard_t *h = &q->sh[sh];
    if (q->head) { /* new entries go after the buffered ones: move those to the front */
        if (q->nbuf)
            memmove(q->buf, &q->buf[q->head], sizeof(ferry_job_t) * (size_t)q->nbuf);
        q->head = 0;
    }
    for (size_t i = 0; i < entries->elements; i++) {
        ferry_error_t e;
        ferry_job_t *j = &q->buf[q->nbuf];
        const redisReply *en = entries->element[i];
        if (en->type == REDIS_REPLY_ARRAY && en->elements > 0 &&
            en->element[0]->type == REDIS_REPLY_STRING &&
            en->element[0]->len < sizeof(q->last_id[kind])) {
            memcpy(q->last_id[kind], en->element[0]->str, en->element[0]->len);
            q->last_id[kind][en->element[0]->len] = '\0';
            q->seen[kind]++;
        }
        int rc = ferry_job_decode(entries->element[i], kind, j, &e);
        j->shard = sh;
        if (rc == FERRY_ENOTFOUND) {
            /* Deleted body still pending (acked-then-crashed): drop it, leave no orphan. */
            ack_id(q, sh, kind, j->id, 0); /* no entry: nothing to take off */
            continue;
        }
        if (rc) {
            /* A malformed job can never succeed: dead-letter it as is. */
            const redisReply *id =
                entries->element[i]->type == REDIS_REPLY_ARRAY && entries->element[i]->elements > 0
                    ? entries->element[i]->element[0]
                    : NULL;
            if (id && id->type == REDIS_REPLY_STRING && id->len < 48) {
                char idb[48];
                memcpy(idb, id->str, id->len);
                idb[id->len] = '\0';
                /* its size is unknown (''): the script reads it from the entry */
                const char *argv[10] = {h->k_q[kind], h->k_dead, h->k_cnt, KEYS_GROUP, idb,
                                        "",           "error",   e.msg,    "id",       idb};
                ferry_redis_eval(q->r, &LUA_DEAD, 3, 10, argv, NULL, NULL);
            }
            ferry_log(FERRY_LOG_WARN, "queue.bad_job", "task", ferry_ledger_task(q->l), "error",
                      e.msg, NULL);
            continue;
        }
        if (fetch_count)
            j->deliveries = deliveries_of(q, sh, kind, j->id);
        if (q->nbuf < BUF_MAX)
            q->nbuf++;
    }
    return FERRY_OK;
}

/* XREADGROUP reply of shard sh: [[stream, entries], …] */
static int take_read_reply(ferry_queue_t *q, uint32_t sh, const redisReply *rep, int fetch_count)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
        return FERRY_OK;
    const qshard_t *h = &q->sh[sh];
    /* event first, whatever order Redis used */
    for (int kind = 0; kind < 2; kind++)
        for (size_t i = 0; i < rep->elements; i++) {
            const redisReply *s = rep->element[i];
            if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
                s->element[0]->type != REDIS_REPLY_STRING)
                continue;
            if (strlen(h->k_q[kind]) == s->element[0]->len &&
                memcmp(h->k_q[kind], s->element[0]->str, s->element[0]->len) == 0)
                take_entries(q, sh, kind, s->element[1], fetch_count);
        }
    return FERRY_OK;
}

/* One XREADGROUP on shard sh's streams (one slot). streams: bit 0 event, bit 1 bulk */
static int read_group(ferry_queue_t *q, uint32_t sh, int streams, const char *id, int count,
                      int block_ms, int fetch_count)
{
    const qshard_t *h = &q->sh[sh];
    char cnt[24], blk[24];
    redis_int_i64(cnt, count);
    redis_int_i64(blk, block_ms);
    const char *argv[13];
    int n = 0;
    argv[n++] = "XREADGROUP";
    argv[n++] = "GROUP";
    argv[n++] = KEYS_GROUP;
    argv[n++] = q->consumer;
    argv[n++] = "COUNT";
    argv[n++] = cnt;
    if (block_ms > 0) {
        argv[n++] = "BLOCK";
        argv[n++] = blk;
    }
    argv[n++] = "STREAMS";
    for (int k = 0; k < 2; k++)
        if (streams & (1 << k))
            argv[n++] = h->k_q[k];
    for (int k = 0; k < 2; k++)
        if (streams & (1 << k))
            argv[n++] = id;
    /* The page is only read (decoded into jobs): a scratch reply, freed at the next read */
    const redisReply *rep = NULL;
    q->seen[0] = q->seen[1] = 0;
    int rc = redis_int_argv_scratch(q->r, n, argv, NULL, &rep);
    if (rc == FERRY_EREDIS && strstr(qerr(q)->msg, "NOGROUP")) {
        /* The streams were deleted (task removed, or FLUSHALL): recreate the groups. */
        if (ensure_group(q->r, h->k_q[0]) == FERRY_OK && ensure_group(q->r, h->k_q[1]) == FERRY_OK)
            rc = redis_int_argv_scratch(q->r, n, argv, NULL, &rep);
    }
    if (rc)
        return rc;
    take_read_reply(q, sh, rep, fetch_count);
    return FERRY_OK;
}

/* Read the next page of our own pending entries from before a restart (XREADGROUP with the
 * last id read, per stream of each shard, so the whole PEL comes back however long it is), at
 * most what the local buffer holds. Sets q->recovered once every stream answered an empty
 * page. */
static int recover_page(ferry_queue_t *q)
{
    int all = 1;
    for (uint32_t sh = 0; sh < q->nsh; sh++) {
        qshard_t *h = &q->sh[sh];
        for (int kind = 0; kind < 2; kind++) {
            if (h->rec_done[kind])
                continue;
            int room = BUF_MAX - q->nbuf;
            if (room > BUF_MAX / 2)
                room = BUF_MAX / 2;
            if (room < 1)
                return FERRY_OK; /* buffer full: go on once it drains */
            int rc = read_group(q, sh, 1 << kind, h->rec_id[kind], room, 0, 1);
            if (rc)
                return rc;
            if (q->seen[kind] == 0)
                h->rec_done[kind] = 1;
            else
                snprintf(h->rec_id[kind], sizeof(h->rec_id[kind]), "%s", q->last_id[kind]);
        }
        all = all && h->rec_done[0] && h->rec_done[1];
        if (q->nbuf)
            return FERRY_OK; /* hand these out first; the next shards on a later call */
    }
    q->recovered = all;
    return FERRY_OK;
}

/* Shards swept per XAUTOCLAIM round: all of them up to this many, else the next ones in turn
 * (a whole turn then takes shards/CLAIM_SHARDS rounds of at most a second each). */
#define CLAIM_SHARDS 16

static int autoclaim(ferry_queue_t *q)
{
    char vt[24];
    snprintf(vt, sizeof(vt), "%lld", (long long)q->vt_ms);
    uint32_t n = q->nsh < CLAIM_SHARDS ? q->nsh : CLAIM_SHARDS;
    for (uint32_t i = 0; i < n && q->nbuf < BUF_MAX / 2; i++) {
        uint32_t sh = q->nsh == 1 ? 0 : q->claim_next;
        q->claim_next = (q->claim_next + 1) % q->nsh;
        for (int kind = 0; kind < 2 && q->nbuf < BUF_MAX / 2; kind++) {
            const char *argv[8] = {
                "XAUTOCLAIM", q->sh[sh].k_q[kind], KEYS_GROUP, q->consumer, vt, "0-0", "COUNT",
                "16"};
            redisReply *rep = NULL;
            int rc = ferry_redis_argv(q->r, 8, argv, NULL, &rep);
            if (rc == FERRY_EREDIS && strstr(qerr(q)->msg, "NOGROUP")) {
                ensure_group(q->r, q->sh[sh].k_q[kind]);
                continue;
            }
            if (rc)
                return rc;
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2)
                take_entries(q, sh, kind, rep->element[1], 1);
            freeReplyObject(rep);
        }
    }
    return FERRY_OK;
}

/* Pop the first buffered event job, else the first job (event jobs were put first, so that is
 * the head: no copying of the rest, which made taking a batch of n jobs cost n^2/2 copies). */
static int pop(ferry_queue_t *q, ferry_job_t *job)
{
    int best = q->head, end = q->head + q->nbuf;
    for (int i = q->head; i < end; i++)
        if (q->buf[i].kind == FERRY_QUEUE_EVENT) {
            best = i;
            break;
        }
    *job = q->buf[best];
    if (best == q->head)
        q->head++;
    else
        memmove(&q->buf[best], &q->buf[best + 1], sizeof(ferry_job_t) * (size_t)(end - best - 1));
    if (--q->nbuf == 0)
        q->head = 0;
    return FERRY_OK;
}

static int over_limit(ferry_queue_t *q, ferry_job_t *job)
{
    if (job->deliveries <= q->max_deliveries)
        return 0;
    ferry_record_t rec;
    char msg[FERRY_ERRMSG_MAX + 1];
    int have = ferry_ledger_get(q->l, job->key, &rec) == FERRY_OK && rec.error[0];
    /* A safety cap only (the worker gives up after real attempts, see the ledger's attempts):
     * this is a job that keeps coming back without ever being copied or failed. */
    snprintf(msg, sizeof(msg), "gave up after %lld deliveries%s%.400s", job->deliveries - 1,
             have ? ": " : "", have ? rec.error : "");
    if (ferry_queue_dead(q, job, msg) == FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "queue.dead_letter", "task", ferry_ledger_task(q->l), "key",
                  job->key, "error", msg, NULL);
    return 1;
}

static long long every_ms(const ferry_queue_t *q)
{
    return q->vt_ms / 4 < 1000 ? q->vt_ms / 4 : 1000;
}

int ferry_queue_load(ferry_queue_t *q, long long *waiting, long long *delivered,
                     long long *consumers)
{
    *waiting = *delivered = *consumers = 0;
    if (q->nsh > 4)
        return FERRY_EUNSUPPORTED; /* 8+ round trips per look: not worth it */
    for (uint32_t sh = 0; sh < q->nsh; sh++)
        for (int kind = 0; kind < 2; kind++) {
            const char *argv[3] = {"XINFO", "GROUPS", q->sh[sh].k_q[kind]};
            redisReply *rep = NULL;
            int rc = ferry_redis_argv(q->r, 3, argv, NULL, &rep);
            if (rc == FERRY_EREDIS && redis_int_no_such_key(qerr(q)->msg))
                continue; /* no such stream yet: nothing waits there */
            if (rc == FERRY_EREDIS)
                return FERRY_EUNSUPPORTED; /* refused (an ACL without XINFO): cannot say */
            if (rc)
                return rc;
            const redisReply *e = redis_int_xinfo_group(rep, KEYS_GROUP);
            long long lag = e ? redis_int_xinfo_int(e, "lag", -1) : 0;
            if (e && lag >= 0) {
                *waiting += lag;
                *delivered += redis_int_xinfo_int(e, "pending", 0);
                long long c = redis_int_xinfo_int(e, "consumers", 0);
                if (c > *consumers)
                    *consumers = c;
            }
            freeReplyObject(rep);
            if (lag < 0)
                return FERRY_EUNSUPPORTED;
        }
    return FERRY_OK;
}

/* New entries of one kind (kinds: bit 0 event, bit 1 bulk), at most want per stream, without
 * waiting. One shard: one read. Several: the shards in turn from q->cur until one has work
 * (the turn then moves on past it, so a worker spreads its reads over the shards); a shard
 * whose stream was empty less than every_ms ago is skipped, so a busy worker does not poll
 * every empty stream for each job. */
static int read_new(ferry_queue_t *q, int kind, int want)
{
    if (q->nsh == 1)
        return read_group(q, 0, 1 << kind, ">", want, 0, 0);
    long long now = ferry_mono_ms(), every = every_ms(q);
    for (uint32_t i = 0; i < q->nsh && q->nbuf == 0; i++) {
        uint32_t sh = (q->cur + i) % q->nsh;
        qshard_t *h = &q->sh[sh];
        if (h->empty_ms[kind] && now - h->empty_ms[kind] < every)
            continue;
        int rc = read_group(q, sh, 1 << kind, ">", want, 0, 0);
        if (rc)
            return rc;
        if (q->nbuf) {
            q->cur = (sh + 1) % q->nsh;
            h->empty_ms[kind] = 0;
        } else
            h->empty_ms[kind] = now;
    }
    return FERRY_OK;
}

/* want: how many new entries one read may deliver (the caller's free slots). */
static int next_impl(ferry_queue_t *q, ferry_job_t *job, int block_ms, int want)
{
    int rc;
    for (;;) {
        while (q->nbuf > 0) {
            pop(q, job);
            if (!over_limit(q, job))
                return FERRY_OK;
        }
        while (!q->recovered && q->nbuf == 0) {
            /* Our own pending entries from before a restart come first, all of them, page by
             * page (an empty page can happen when every entry of one was dropped). */
            rc = recover_page(q);
            if (rc)
                return rc;
        }
        if (q->nbuf)
            continue;
        long long now = ferry_mono_ms();
        long long every = every_ms(q);
        if (now - q->last_claim_ms >= every) {
            q->last_claim_ms = now;
            rc = autoclaim(q);
            if (rc)
                return rc;
            if (q->nbuf)
                continue;
        }
        /* New work, at most `want` entries (what the caller can start at once) so nothing
         * idles in a local buffer: event, then bulk, then wait on both (a wake-up may bring
         * up to `want` of each; event goes first). */
        rc = read_new(q, FERRY_QUEUE_EVENT, want);
        if (rc == FERRY_OK && q->nbuf == 0)
            rc = read_new(q, FERRY_QUEUE_BULK, want);
        if (rc)
            return rc;
        if (q->nbuf)
            continue;
        if (block_ms <= 0)
            return FERRY_ETIMEOUT;
        int blk = block_ms;
        if (blk > 0 && blk > (int)every)
            blk = (int)every > 0 ? (int)every : 1; /* wake up for the next re-claim sweep */
        /* Several shards: block on one shard's streams at a time, the next one each time. */
        uint32_t sh = q->cur;
        q->cur = (q->cur + 1) % q->nsh;
        rc = read_group(q, sh, 3, ">", want, blk, 0);
        if (rc)
            return rc;
        if (q->nbuf)
            continue;
        if (block_ms <= 0)
            return FERRY_ETIMEOUT;
        block_ms -= blk;
        if (block_ms <= 0)
            return FERRY_ETIMEOUT;
    }
}

int ferry_queue_next(ferry_queue_t *q, ferry_job_t *job, int block_ms)
{
    return next_impl(q, job, block_ms, 1);
}

/* Move buffered entries into jobs[*n..max), dead-lettering those over the delivery limit. */
static void take_buffered(ferry_queue_t *q, ferry_job_t *jobs, int max, int *n)
{
    while (*n < max && q->nbuf > 0) {
        pop(q, &jobs[*n]);
        if (!over_limit(q, &jobs[*n]))
            (*n)++;
    }
}

int ferry_queue_next_batch(ferry_queue_t *q, ferry_job_t *jobs, int max, int block_ms, int *n)
{
    *n = 0;
    if (max <= 0)
        return FERRY_ETIMEOUT;
    /* The buffer must take a whole reply (a blocking read may bring `want` from each stream). */
    int want = (BUF_MAX - q->nbuf) / 2;
    if (want > max)
        want = max;
    if (want < 1)
        want = 1;
    int rc = next_impl(q, &jobs[0], block_ms, want);
    if (rc)
        return rc;
    *n = 1;
    take_buffered(q, jobs, max, n);
    return FERRY_OK;
}

int ferry_queue_next_events(ferry_queue_t *q, ferry_job_t *jobs, int max, int *n)
{
    *n = 0;
    if (max <= 0)
        return FERRY_ETIMEOUT;
    while (!q->recovered && q->nbuf == 0) { /* our own pending entries, of either kind */
        int rc = recover_page(q);
        if (rc)
            return rc;
    }
    if (q->nbuf == 0) {
        int want = BUF_MAX / 2 < max ? BUF_MAX / 2 : max;
        int rc = read_new(q, FERRY_QUEUE_EVENT, want);
        if (rc)
            return rc;
    }
    take_buffered(q, jobs, max, n);
    return *n ? FERRY_OK : FERRY_ETIMEOUT;
}

static int job_ok(ferry_queue_t *q, const ferry_job_t *job)
{
    if (job->shard >= q->nsh || job->kind < 0 || job->kind > 1)
        return ferry_error_set(qerr(q), FERRY_EINVAL,
                               "job %s: shard %u / kind %d is not one of this queue's streams",
                               job->id, job->shard, job->kind);
    return FERRY_OK;
}

int ferry_queue_ack(ferry_queue_t *q, const ferry_job_t *job)
{
    int rc = job_ok(q, job);
    return rc ? rc : ack_id(q, job->shard, job->kind, job->id, job->size);
}

int ferry_queue_ack_many(ferry_queue_t *q, const ferry_job_t *const *jobs, size_t n)
{
    /* One call per stream (shard and kind) and ACK_CHUNK entries (KEYS[1] stream, ARGV group
     * then id size pairs), all in one pipeline. */
    for (size_t i = 0; i < n; i++) {
        int rc = job_ok(q, jobs[i]);
        if (rc)
            return rc;
    }
    const char *av[3 + 2 * ACK_CHUNK];
    unsigned char *done = n ? calloc(n, 1) : NULL;
    char(*sz)[24] = n ? malloc(n * sizeof(*sz)) : NULL;
    if (n && (done == NULL || sz == NULL)) {
        free(done);
        free(sz);
        return FERRY_ENOMEM;
    }
    int rc = n ? ferry_redis_script_load(q->r, &LUA_ACK_MANY) : FERRY_OK, first = FERRY_OK;
    size_t calls = 0;
    for (size_t s = 0; s < n && rc == FERRY_OK; s++) {
        if (done[s])
            continue;
        uint32_t sh = jobs[s]->shard;
        int kind = jobs[s]->kind;
        int ac = 3;
        av[0] = q->sh[sh].k_q[kind];
        av[1] = q->sh[sh].k_cnt;
        av[2] = KEYS_GROUP;
        for (size_t i = s; i <= n && rc == FERRY_OK; i++) {
            if (i < n && !done[i] && jobs[i]->shard == sh && (int)jobs[i]->kind == kind) {
                redis_int_u64(sz[i], jobs[i]->size);
                av[ac++] = jobs[i]->id;
                av[ac++] = sz[i];
                done[i] = 1;
            }
            if (ac > 3 && (i == n || ac == 3 + 2 * ACK_CHUNK)) {
                rc = ferry_redis_eval_append(q->r, &LUA_ACK_MANY, 2, ac, av, NULL);
                if (rc == FERRY_OK)
                    calls++;
                ac = 3;
            }
        }
    }
    free(sz);
    free(done);
    for (size_t i = 0; i < calls; i++) {
        redisReply *rep;
        int r2 = ferry_redis_read(q->r, &rep);
        if (r2) {
            rc = r2;
            break;
        }
        if (rep->type == REDIS_REPLY_ERROR && first == FERRY_OK)
            first = ferry_error_set((ferry_error_t *)ferry_redis_error(q->r), FERRY_EREDIS,
                                    "ack of %zu jobs: %s", n, rep->str);
        freeReplyObject(rep);
    }
    return rc ? rc : first;
}

int ferry_queue_refresh(ferry_queue_t *q, const ferry_job_t *job)
{
    int rc = job_ok(q, job);
    if (rc)
        return rc;
    const char *argv[5] = {q->sh[job->shard].k_q[job->kind], KEYS_GROUP, q->consumer, job->id, "0"};
    redisReply *rep = NULL;
    rc = ferry_redis_eval(q->r, &LUA_REFRESH, 1, 5, argv, NULL, &rep);
    if (rc)
        return rc;
    long long v = ferry_redis_reply_int(rep, 0);
    freeReplyObject(rep);
    return v == 1 ? FERRY_OK : FERRY_EBUSY;
}

int ferry_queue_nack(ferry_queue_t *q, const ferry_job_t *job, int64_t delay_ms)
{
    int rc = job_ok(q, job);
    if (rc)
        return rc;
    int64_t idle = q->vt_ms - (delay_ms > 0 ? delay_ms : 0);
    if (idle < 0)
        idle = 0;
    char ib[24];
    snprintf(ib, sizeof(ib), "%lld", (long long)idle);
    const char *argv[5] = {q->sh[job->shard].k_q[job->kind], KEYS_GROUP, q->consumer, job->id, ib};
    redisReply *rep = NULL;
    rc = ferry_redis_eval(q->r, &LUA_REFRESH, 1, 5, argv, NULL, &rep);
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int ferry_queue_dead(ferry_queue_t *q, const ferry_job_t *job, const char *error)
{
    int rc = job_ok(q, job);
    if (rc)
        return rc;
    rc = ferry_ledger_fail(q->l, job->key, error);
    if (rc && rc != FERRY_ENOTFOUND)
        return rc;
    const qshard_t *h = &q->sh[job->shard];
    char size[24], mtime[24], crc[24] = "", t[24], dl[24];
    snprintf(size, sizeof(size), "%" PRIu64, job->size);
    snprintf(mtime, sizeof(mtime), "%" PRId64, job->mtime);
    if (job->has_crc64)
        snprintf(crc, sizeof(crc), "%" PRIu64, job->crc64);
    snprintf(t, sizeof(t), "%" PRId64, job->enqueued_ms);
    snprintf(dl, sizeof(dl), "%lld", job->deliveries);
    const char *argv[30] = {h->k_q[job->kind],
                            h->k_dead,
                            h->k_cnt,
                            KEYS_GROUP,
                            job->id,
                            size,
                            "k",
                            job->key,
                            "s",
                            size,
                            "m",
                            mtime,
                            "e",
                            job->etag,
                            "c",
                            crc,
                            "q",
                            job->seq,
                            "o",
                            ferry_origin_name(job->origin),
                            "op",
                            job->op_delete ? "delete" : "copy",
                            "t",
                            t,
                            "from",
                            job->kind == FERRY_QUEUE_EVENT ? "event" : "bulk",
                            "deliveries",
                            dl,
                            "error",
                            error ? error : ""};
    return ferry_redis_eval(q->r, &LUA_DEAD, 3, 30, argv, NULL, NULL);
}

static int backlog_once(ferry_ledger_t *l, long long *event, long long *bulk, long long *dead)
{
    ferry_redis_t *r = ferry_ledger_redis(l);
    uint32_t S = ferry_ledger_shards(l);
    static const char *const SUFFIX[3] = {"q:event", "q:bulk", "q:dead"};
    long long *out[3] = {event, bulk, dead}, sum[3] = {0, 0, 0};
    int rc = FERRY_OK, asked[3], na = 0;
    size_t sent = 0;
    for (int i = 0; i < 3; i++)
        if (out[i])
            asked[na++] = i;
    /* only the streams asked for (the scan's backpressure wants bulk: S XLEN, not 3S) */
    for (uint32_t s = 0; s < S && rc == FERRY_OK; s++)
        for (int i = 0; i < 3 && rc == FERRY_OK; i++) {
            if (out[i] == NULL)
                continue;
            char k[128];
            ferry_ledger_shard_key(l, s, SUFFIX[i], k, sizeof(k));
            const char *argv[2] = {"XLEN", k};
            rc = ferry_redis_append(r, 2, argv, NULL);
            if (rc == FERRY_OK)
                sent++;
        }
    if (rc) {
        ferry_redis_reset(r);
        return rc;
    }
    for (size_t j = 0; j < sent; j++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(r, &rep);
        if (r2) {
            ferry_redis_reset(r);
            return r2;
        }
        sum[asked[j % na]] += ferry_redis_reply_int(rep, 0); /* appended in this order */
        freeReplyObject(rep);
    }
    for (int i = 0; i < 3; i++)
        if (out[i])
            *out[i] = sum[i];
    return FERRY_OK;
}

int ferry_queue_backlog(ferry_ledger_t *l, long long *event, long long *bulk, long long *dead)
{
    /* A pipeline does not reconnect: after a lost connection, reconnect and read once more. */
    int rc = backlog_once(l, event, bulk, dead);
    if ((rc == FERRY_ENET || rc == FERRY_ETIMEOUT) &&
        ferry_redis_reset(ferry_ledger_redis(l)) == FERRY_OK)
        rc = backlog_once(l, event, bulk, dead);
    return rc;
}

int ferry_queue_prune(ferry_ledger_t *l, int64_t idle_ms, int *removed)
{
    ferry_redis_t *r = ferry_ledger_redis(l);
    uint32_t S = ferry_ledger_shards(l);
    int n = 0, rc = FERRY_OK;
    for (uint32_t kk = 0; kk < 2 * S && rc == FERRY_OK; kk++) {
        int kind = (int)(kk % 2);
        char k[128];
        ferry_ledger_shard_key(l, kk / 2, kind ? "q:bulk" : "q:event", k, sizeof(k));
        const char *argv[4] = {"XINFO", "CONSUMERS", k, KEYS_GROUP};
        redisReply *rep = NULL;
        rc = ferry_redis_argv(r, 4, argv, NULL, &rep);
        if (rc == FERRY_EREDIS) { /* no stream or group yet: nothing to prune */
            rc = FERRY_OK;
            continue;
        }
        if (rc)
            break;
        for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
            const redisReply *c = rep->element[i];
            char name[FERRY_WORKER_MAX + 1] = "";
            long long pending = -1, idle = -1;
            for (size_t j = 0; c->type == REDIS_REPLY_ARRAY && j + 1 < c->elements; j += 2) {
                const redisReply *f = c->element[j], *v = c->element[j + 1];
                if (f->type != REDIS_REPLY_STRING)
                    continue;
                if (strcmp(f->str, "name") == 0 && v->type == REDIS_REPLY_STRING)
                    snprintf(name, sizeof(name), "%s", v->str);
                else if (strcmp(f->str, "pending") == 0)
                    pending = ferry_redis_reply_int(v, -1);
                else if (strcmp(f->str, "idle") == 0)
                    idle = ferry_redis_reply_int(v, -1);
            }
            if (name[0] && pending == 0 && idle >= idle_ms) {
                const char *d[5] = {"XGROUP", "DELCONSUMER", k, KEYS_GROUP, name};
                if (ferry_redis_argv(r, 5, d, NULL, NULL) == FERRY_OK)
                    n++;
            }
        }
        freeReplyObject(rep);
    }
    if (removed)
        *removed = n;
    return rc;
}

/* ---- the claim on a consumer name --------------------------------------------------------- */

/* KEYS: claim; ARGV: value ttl_ms previous ('' none): take it when free, ours, or still held by
 * the previous value we know to be dead. Returns {1, ''} or {0, current holder}. */
static const ferry_redis_script_t LUA_CLAIM = {
    "consumer_claim", "local cur = redis.call('GET', KEYS[1])\n"
                      "if not cur or cur == ARGV[1] or (ARGV[3] ~= '' and cur == ARGV[3]) then\n"
                      "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                      "  return {1, ''}\n"
                      "end\n"
                      "return {0, cur}\n"};

/* KEYS: claim; ARGV: value ms (0 = release). 1 when it was ours. A claim that lapsed (the
 * process stalled past its ttl, or a Redis without persistence restarted) and that nobody took
 * meanwhile is taken again: no other process can hold leases of this name then. */
static const ferry_redis_script_t LUA_CLAIM_RENEW = {
    "consumer_renew", "local cur = redis.call('GET', KEYS[1])\n"
                      "if not cur and ARGV[2] ~= '0' then\n"
                      "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                      "  return 1\n"
                      "end\n"
                      "if cur ~= ARGV[1] then return 0 end\n"
                      "if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else\n"
                      "redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
                      "return 1\n"};

static int claim_key(const char *consumer, char *key, size_t n)
{
    if (consumer == NULL || *consumer == '\0' || strlen(consumer) > FERRY_WORKER_MAX)
        return FERRY_EINVAL;
    snprintf(key, n, "ferry:consumer:%s", consumer);
    return FERRY_OK;
}

/* "<machine> <pid>": the machine is gethostname() (not FERRY_HOSTNAME, which names the
 * consumer), so that the pid can be checked where it runs. */
static void claim_value(int pid, char *buf, size_t n)
{
    char h[256];
    if (gethostname(h, sizeof(h)) != 0)
        snprintf(h, sizeof(h), "localhost");
    h[sizeof(h) - 1] = '\0';
    for (char *c = h; *c; c++)
        if (*c == ' ')
            *c = '_';
    snprintf(buf, n, "%s %d", h, pid);
}

int ferry_queue_claim(ferry_redis_t *r, const char *consumer, int pid, int64_t ttl_ms,
                      ferry_error_t *err)
{
    char key[FERRY_WORKER_MAX + 32], val[300], ttl[24], prev[300] = "";
    if (claim_key(consumer, key, sizeof(key)) != FERRY_OK || pid <= 0)
        return ferry_error_set(err, FERRY_EINVAL, "a consumer name (1..%d bytes) is required",
                               FERRY_WORKER_MAX);
    claim_value(pid, val, sizeof(val));
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(ttl_ms > 0 ? ttl_ms : 60000));
    for (int round = 0; round < 2; round++) {
        const char *argv[4] = {key, val, ttl, prev};
        redisReply *rep = NULL;
        int rc = ferry_redis_eval(r, &LUA_CLAIM, 1, 4, argv, NULL, &rep);
        if (rc)
            return ferry_error_set(err, rc, "cannot claim the consumer name %s: %s", consumer,
                                   ferry_redis_error(r)->msg);
        int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                 ferry_redis_reply_int(rep->element[0], 0) == 1;
        char cur[300] = "";
        if (!ok && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            rep->element[1]->type == REDIS_REPLY_STRING && rep->element[1]->len < sizeof(cur)) {
            memcpy(cur, rep->element[1]->str, rep->element[1]->len);
            cur[rep->element[1]->len] = '\0';
        }
        freeReplyObject(rep);
        if (ok) {
            if (prev[0])
                ferry_log(FERRY_LOG_WARN, "worker.consumer_taken_over", "consumer", consumer,
                          "previous", prev, "reason", "its process is gone", NULL);
            return FERRY_OK;
        }
        /* Held: by a dead process of this machine (take it over), or a live one (refuse). */
        const char *sp = strrchr(cur, ' ');
        char mine[300];
        claim_value(pid, mine, sizeof(mine));
        const char *msp = strrchr(mine, ' ');
        long other = sp ? strtol(sp + 1, NULL, 10) : 0;
        int same_machine =
            sp && msp && sp - cur == msp - mine && memcmp(cur, mine, (size_t)(sp - cur)) == 0;
        if (same_machine && other > 0 && other != pid && kill((pid_t)other, 0) != 0 &&
            errno == ESRCH && round == 0) {
            snprintf(prev, sizeof(prev), "%s", cur);
            continue;
        }
        if (same_machine)
            return ferry_error_set(err, FERRY_EBUSY,
                                   "consumer %s is in use by process %ld on this machine: give "
                                   "this worker another --slot, or stop that process first",
                                   consumer, other);
        return ferry_error_set(err, FERRY_EBUSY,
                               "consumer %s is in use by \"%s\" (another machine): give this "
                               "worker another --slot or --consumer, or wait up to %s ms for "
                               "that claim to lapse if its process is gone",
                               consumer, cur, ttl);
    }
    return ferry_error_set(err, FERRY_EBUSY,
                           "consumer %s: the claim changed hands while it was "
                           "taken over: start this worker again",
                           consumer);
}

int ferry_queue_claim_renew(ferry_redis_t *r, const char *consumer, int pid, int64_t ttl_ms)
{
    char key[FERRY_WORKER_MAX + 32], val[300], ttl[24];
    if (claim_key(consumer, key, sizeof(key)) != FERRY_OK)
        return FERRY_EINVAL;
    claim_value(pid, val, sizeof(val));
    snprintf(ttl, sizeof(ttl), "%lld", ttl_ms > 0 ? (long long)ttl_ms : 0LL);
    const char *argv[3] = {key, val, ttl};
    redisReply *rep = NULL;
    int rc = ferry_redis_eval(r, &LUA_CLAIM_RENEW, 1, 3, argv, NULL, &rep);
    if (rc)
        return rc;
    long long v = ferry_redis_reply_int(rep, 0);
    freeReplyObject(rep);
    return v == 1 ? FERRY_OK : FERRY_EBUSY;
}

int ferry_queue_claim_release(ferry_redis_t *r, const char *consumer, int pid)
{
    return ferry_queue_claim_renew(r, consumer, pid, 0);
}
