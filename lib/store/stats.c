/* ferry store — operational statistics and worker heartbeats (see ferry/stats.h). */
#include "ferry/clock.h"
#include "ferry/stats.h"
#include "ferry/text.h"

#include "ferry/error.h"
#include "ferry/ledger.h"
#include "keys_int.h"
#include "redis_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- histograms ---------------------------------------------------------------------------- */

/* Copies take from milliseconds to hours (a multi-terabyte object). */
static const double copy_le[] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,  5,    10,
                                 30,   60,  120,  300, 600, 1800, 3600, 7200};
/* 1 KiB to 4 TiB in powers of 4 (S3 allows 5 TiB). */
static const double size_le[] = {
    1024.0,        4096.0,        16384.0,        65536.0,         262144.0,       1048576.0,
    4194304.0,     16777216.0,    67108864.0,     268435456.0,     1073741824.0,   4294967296.0,
    17179869184.0, 68719476736.0, 274877906944.0, 1099511627776.0, 4398046511104.0};
/* SLO buckets for the event path (S3 RTC promises 15 minutes). */
static const double event_le[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600};
/* Scans take seconds (a small prefix) to many hours (a billion objects). */
static const double scan_le[] = {1,    5,    10,   30,    60,    300,   600,
                                 1800, 3600, 7200, 14400, 28800, 86400, 172800};

static const ferry_hist_def_t hists[FERRY_HIST_COUNT] = {
    {"copy_seconds", copy_le, sizeof(copy_le) / sizeof(copy_le[0]), 1000.0},
    {"object_bytes", size_le, sizeof(size_le) / sizeof(size_le[0]), 1.0},
    {"event_receipt_seconds", event_le, sizeof(event_le) / sizeof(event_le[0]), 1000.0},
    {"event_origin_seconds", event_le, sizeof(event_le) / sizeof(event_le[0]), 1000.0},
    {"scan_seconds", scan_le, sizeof(scan_le) / sizeof(scan_le[0]), 1000.0},
};

const ferry_hist_def_t *ferry_stats_hist(int h)
{
    return h >= 0 && h < FERRY_HIST_COUNT ? &hists[h] : NULL;
}

const char *ferry_stats_status_class(long status)
{
    static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    if (status >= 100 && status < 600)
        return cls[status / 100 - 1];
    return "none"; /* no response: reset, timeout, TLS */
}

/* The characters of a label value: [A-Za-z0-9_.-]. */
static const unsigned char label_chars[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
    ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
    ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1,
    ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1};

/* The length of s when it may be a label value (ferry_stats_label_ok), else 0. */
static size_t label_len(const char *s)
{
    size_t i = 0;
    if (s == NULL)
        return 0;
    for (; s[i]; i++)
        if (i >= FERRY_STATS_LABEL_MAX || !label_chars[(unsigned char)s[i]])
            return 0;
    return i;
}

int ferry_stats_label_ok(const char *s)
{
    return label_len(s) > 0;
}

/* ---- the accumulator ----------------------------------------------------------------------- */

#define HIST_FIELDS 24 /* per histogram: its sum and up to 23 buckets (the most now: 18) */

typedef struct slot_s {
    char field[FERRY_STATS_FIELD_MAX];
    size_t len;    /* strlen(field) */
    uint32_t hash; /* field_hash(field, len) */
    long long delta;
} slot_t;

struct ferry_stats_s {
    char key[FERRY_TASK_NAME_MAX + 32];
    char tkey[FERRY_TASK_NAME_MAX + 32]; /* ferry:{T}:tput */
    slot_t slots[FERRY_STATS_SLOTS];
    size_t n;
    ferry_tput_point_t tput[FERRY_TPUT_PENDING]; /* throughput points not yet flushed */
    size_t ntput;
    unsigned long long dropped;
    /* slot + 1 of each histogram field (0 its sum, b + 1 bucket b), 0 while it has none: an
     * observation then needs no name; emptied with the slots */
    unsigned short hslot[FERRY_HIST_COUNT][HIST_FIELDS];
};
_Static_assert(FERRY_STATS_SLOTS < 65535, "a slot number + 1 fits hslot");
_Static_assert(sizeof(size_le) / sizeof(size_le[0]) + 2 <= HIST_FIELDS &&
                   sizeof(copy_le) / sizeof(copy_le[0]) + 2 <= HIST_FIELDS &&
                   sizeof(event_le) / sizeof(event_le[0]) + 2 <= HIST_FIELDS &&
                   sizeof(scan_le) / sizeof(scan_le[0]) + 2 <= HIST_FIELDS,
               "every bucket of every histogram has a cached slot");

int ferry_stats_new(const char *task, ferry_stats_t **out)
{
    *out = NULL;
    if (task == NULL || !keys_task_name_ok(task))
        return FERRY_EINVAL;
    ferry_stats_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return FERRY_ENOMEM;
    keys_task(s->key, sizeof(s->key), task, "stats");
    keys_task(s->tkey, sizeof(s->tkey), task, "tput");
    *out = s;
    return FERRY_OK;
}

void ferry_stats_free(ferry_stats_t *s)
{
    free(s);
}

unsigned long long ferry_stats_dropped(const ferry_stats_t *s)
{
    return s->dropped;
}

/* FNV-1a: tells the slots apart before comparing bytes. */
static uint32_t field_hash(const char *f, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)f[i]) * 16777619u;
    return h;
}

/* Linear search by hash: a worker's fields are a few dozen, and adds happen a few times per
 * copy. field is len bytes (len < FERRY_STATS_FIELD_MAX), NUL-terminated. */
static int add_field(ferry_stats_t *s, const char *field, size_t len, long long d, size_t *at)
{
    uint32_t h = field_hash(field, len);
    for (size_t i = 0; i < s->n; i++)
        if (s->slots[i].hash == h && s->slots[i].len == len &&
            memcmp(s->slots[i].field, field, len) == 0) {
            s->slots[i].delta += d;
            *at = i;
            return FERRY_OK;
        }
    if (s->n >= FERRY_STATS_SLOTS) {
        s->dropped++;
        return FERRY_ETOOBIG;
    }
    slot_t *sl = &s->slots[s->n];
    memcpy(sl->field, field, len + 1);
    sl->len = len;
    sl->hash = h;
    sl->delta = d;
    *at = s->n++;
    return FERRY_OK;
}

/* A label's text as filed: "" for NULL, "other" when it is not a short name. */
static const char *label_shown(const char *l, size_t *len)
{
    if (l == NULL) {
        *len = 0;
        return "";
    }
    if ((*len = label_len(l)) == 0) {
        *len = 5;
        return "other";
    }
    return l;
}

int ferry_stats_counter_field(char *buf, size_t n, size_t *len, const char *name, const char *l1,
                              const char *l2, const char *l3)
{
    size_t pl[8];
    const char *pc[8] = {"c|", name, "|", NULL, "|", NULL, "|", NULL};
    pl[0] = 2, pl[2] = pl[4] = pl[6] = 1;
    if ((pl[1] = label_len(name)) == 0)
        return FERRY_EINVAL;
    if (n == 0)
        return FERRY_ETOOBIG;
    pc[3] = label_shown(l1, &pl[3]);
    pc[5] = label_shown(l2, &pl[5]);
    pc[7] = label_shown(l3, &pl[7]);
    /* "c|%s|%s|%s|%s" without snprintf: this runs several times per object */
    size_t l = 0;
    int cut = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8; i++)
        cut |= ferry_str_cat(buf, n, &l, pc[i], pl[i]);
    if (len)
        *len = l;
    return cut ? FERRY_ETOOBIG : FERRY_OK;
}

int ferry_stats_hist_field(char *buf, size_t n, size_t *len, int h, long bucket)
{
    const ferry_hist_def_t *def = ferry_stats_hist(h);
    if (def == NULL || bucket < -1 || bucket > (long)def->n)
        return FERRY_EINVAL;
    if (n == 0)
        return FERRY_ETOOBIG;
    char num[FERRY_DEC_MAX];
    size_t l = 0, nn = bucket < 0 ? 0 : ferry_fmt_u64(num, (uint64_t)bucket);
    int cut = 0;
    buf[0] = '\0';
    cut |= ferry_str_cat(buf, n, &l, "h|", 2);
    cut |= ferry_str_cat(buf, n, &l, def->id, strlen(def->id));
    cut |= ferry_str_cat(buf, n, &l, "|", 1);
    cut |= bucket < 0 ? ferry_str_cat(buf, n, &l, "sum", 3) : ferry_str_cat(buf, n, &l, num, nn);
    if (len)
        *len = l;
    return cut ? FERRY_ETOOBIG : FERRY_OK;
}

int ferry_stats_count(ferry_stats_t *s, const char *name, const char *l1, const char *l2,
                      const char *l3, long long d)
{
    char f[FERRY_STATS_FIELD_MAX];
    size_t len = 0;
    int rc = ferry_stats_counter_field(f, sizeof(f), &len, name, l1, l2, l3);
    if (rc)
        return rc;
    size_t at;
    return d ? add_field(s, f, len, d, &at) : FERRY_OK;
}

/* The bucket of v in histogram def. */
static size_t hist_bucket(const ferry_hist_def_t *def, double v)
{
    size_t b = 0;
    while (b < def->n && v > def->le[b])
        b++;
    return b;
}

/* Add d to histogram h's bucket b (b -1: its sum), by the cached slot once it has one. */
static int add_hist(ferry_stats_t *s, int h, long b, long long d)
{
    unsigned short *c = b + 1 < HIST_FIELDS ? &s->hslot[h][b + 1] : NULL;
    if (c && *c) {
        s->slots[*c - 1].delta += d;
        return FERRY_OK;
    }
    char f[FERRY_STATS_FIELD_MAX];
    size_t len = 0, at = 0;
    int rc = ferry_stats_hist_field(f, sizeof(f), &len, h, b);
    if (rc == FERRY_OK && (rc = add_field(s, f, len, d, &at)) == FERRY_OK && c)
        *c = (unsigned short)(at + 1);
    return rc;
}

int ferry_stats_observe(ferry_stats_t *s, int h, double v)
{
    const ferry_hist_def_t *def = ferry_stats_hist(h);
    if (def == NULL || !(v >= 0) || isinf(v))
        return FERRY_EINVAL;
    int rc = add_hist(s, h, (long)hist_bucket(def, v), 1);
    double units = v * def->scale;
    if (units > 9e15)
        units = 9e15; /* a clock gone wild must not overflow the sum */
    int rc2 = add_hist(s, h, -1, (long long)llround(units));
    if (h == FERRY_HIST_OBJECT_BYTES) /* one per object done: the throughput series too */
        ferry_stats_tput_add(s, ferry_wall_ms() / 1000, 1,
                             v > 9e15 ? (long long)9e15 : (long long)v);
    return rc ? rc : rc2;
}

int ferry_stats_tput_add(ferry_stats_t *s, int64_t t_s, long long objects, long long bytes)
{
    if (objects < 0 || bytes < 0 || t_s < 0)
        return FERRY_EINVAL;
    int64_t t = t_s - t_s % FERRY_TPUT_STEP_S;
    ferry_tput_point_t *p = NULL;
    for (size_t i = 0; i < s->ntput && p == NULL; i++)
        if (s->tput[i].t == t)
            p = &s->tput[i];
    if (p == NULL && s->ntput < FERRY_TPUT_PENDING) {
        p = &s->tput[s->ntput++];
        *p = (ferry_tput_point_t){t, 0, 0};
    }
    if (p == NULL) /* full (flushes failing for minutes): the newest point takes it */
        p = &s->tput[s->ntput - 1];
    p->objects += objects;
    p->bytes += bytes;
    return FERRY_OK;
}

/* Add a point to its slot of the ring: the slot is reset when it holds an older time, left
 * alone when it holds a newer one (a point more than an hour late). Numbers are Lua doubles:
 * exact to 2^53 bytes per point. */
static const ferry_redis_script_t LUA_TPUT = {
    "tput",
    "local t = tonumber(ARGV[1])\n"
    "local f = string.format('%.0f', math.floor(t / tonumber(ARGV[4])) % tonumber(ARGV[5]))\n"
    "local o, b = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local cur = redis.call('HGET', KEYS[1], f)\n"
    "if cur then\n"
    "  local ct, co, cb = string.match(cur, '^(%d+) (%d+) (%d+)$')\n"
    "  if ct then\n"
    "    ct = tonumber(ct)\n"
    "    if ct == t then o = o + tonumber(co); b = b + tonumber(cb)\n"
    "    elseif ct > t then return 0 end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], f, string.format('%.0f %.0f %.0f', t, o, b))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "return 1\n"};

int ferry_stats_flush(ferry_stats_t *s, ferry_redis_t *r)
{
    size_t sent = 0;
    int rc = s->ntput ? ferry_redis_script_load(r, &LUA_TPUT) : FERRY_OK;
    char step[FERRY_DEC_MAX], pts[FERRY_DEC_MAX], ttl[FERRY_DEC_MAX];
    ferry_fmt_i64(step, FERRY_TPUT_STEP_S);
    ferry_fmt_i64(pts, FERRY_TPUT_POINTS);
    ferry_fmt_i64(ttl, FERRY_TPUT_STEP_S * FERRY_TPUT_POINTS);
    for (size_t i = 0; i < s->ntput && rc == FERRY_OK; i++) {
        char t[FERRY_DEC_MAX], o[FERRY_DEC_MAX], b[FERRY_DEC_MAX];
        ferry_fmt_i64(t, s->tput[i].t);
        ferry_fmt_i64(o, s->tput[i].objects);
        ferry_fmt_i64(b, s->tput[i].bytes);
        const char *argv[7] = {s->tkey, t, o, b, step, pts, ttl};
        rc = ferry_redis_eval_append(r, &LUA_TPUT, 1, 7, argv, NULL);
        if (rc == FERRY_OK)
            sent++;
    }
    for (size_t i = 0; i < s->n && rc == FERRY_OK; i++) {
        if (s->slots[i].delta == 0)
            continue;
        char d[FERRY_DEC_MAX];
        ferry_fmt_i64(d, s->slots[i].delta);
        const char *argv[4] = {"HINCRBY", s->key, s->slots[i].field, d};
        rc = ferry_redis_append(r, 4, argv, NULL);
        if (rc == FERRY_OK)
            sent++;
    }
    int failed = rc != FERRY_OK, noscript = 0;
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(r, &rep);
        if (r2 != FERRY_OK) {
            rc = r2;
            failed = 1;
            break;
        }
        if (rep->type == REDIS_REPLY_ERROR && rc == FERRY_OK) {
            rc = FERRY_EREDIS;
            failed = 1;
            if (strstr(rep->str, "NOSCRIPT")) /* SCRIPT FLUSH: a new connection loads it */
                noscript = 1;
        }
        freeReplyObject(rep);
    }
    if (failed) {
        if (rc == FERRY_ENET || rc == FERRY_ETIMEOUT || noscript)
            ferry_redis_reset(r);
        return rc ? rc : FERRY_EREDIS;
    }
    s->n = 0;
    memset(s->hslot, 0, sizeof(s->hslot));
    s->ntput = 0;
    return FERRY_OK;
}

/* ---- direct updates ---------------------------------------------------------------------- */

int ferry_stats_event(ferry_redis_t *r, const char *task, const char *format, const char *channel,
                      const char *result, long long n)
{
    static const char *const results[] = {"queued", "ignored", "rejected", "duplicate"};
    int known = 0;
    for (size_t i = 0; result && i < sizeof(results) / sizeof(results[0]); i++)
        known |= strcmp(result, results[i]) == 0;
    if (task == NULL || !keys_task_name_ok(task) || !known || n < 0)
        return FERRY_EINVAL;
    if (n == 0)
        return FERRY_OK;
    char key[FERRY_TASK_NAME_MAX + 32], f[FERRY_STATS_FIELD_MAX], d[32];
    keys_task(key, sizeof(key), task, "stats");
    int rc = ferry_stats_counter_field(f, sizeof(f), NULL, "events", format ? format : "other",
                                       result, channel);
    if (rc)
        return rc;
    snprintf(d, sizeof(d), "%lld", n);
    const char *argv[4] = {"HINCRBY", key, f, d};
    redisReply *rep = NULL;
    rc = ferry_redis_argv(r, 4, argv, NULL, &rep);
    freeReplyObject(rep);
    return rc;
}

/* Sends n commands (argc[i] words at argv[i]) as one pipeline and reads every reply that was
 * queued, handing each to each(ud, reply) when each is not NULL (the reply is freed after).
 * Returns FERRY_OK; FERRY_EREDIS when Redis answered a command with an error; or the code of
 * the first failed append or read, and then resets the connection, since replies may be left
 * unread on it. */
static int pipeline_each(ferry_redis_t *r, size_t n, const int *argc, const char **const *argv,
                         void (*each)(void *ud, const redisReply *rep), void *ud)
{
    int rc = FERRY_OK;
    size_t sent = 0;
    while (sent < n && (rc = ferry_redis_append(r, argc[sent], argv[sent], NULL)) == FERRY_OK)
        sent++;
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(r, &rep);
        if (r2) {
            rc = r2;
            break;
        }
        if (rep->type == REDIS_REPLY_ERROR && rc == FERRY_OK)
            rc = FERRY_EREDIS;
        if (each)
            each(ud, rep);
        freeReplyObject(rep);
    }
    if (rc != FERRY_OK && rc != FERRY_EREDIS)
        ferry_redis_reset(r);
    return rc;
}

static int pipeline(ferry_redis_t *r, size_t n, const int *argc, const char **const *argv)
{
    return pipeline_each(r, n, argc, argv, NULL, NULL);
}

/* The bucket and sum fields of one observation, as ferry_stats_observe files it. */
int ferry_stats_observe_now(ferry_redis_t *r, const char *task, int h, double v)
{
    const ferry_hist_def_t *def = ferry_stats_hist(h);
    if (task == NULL || !keys_task_name_ok(task) || def == NULL || !(v >= 0) || isinf(v))
        return FERRY_EINVAL;
    double units = v * def->scale;
    if (units > 9e15)
        units = 9e15;
    char key[FERRY_TASK_NAME_MAX + 32], fb[FERRY_STATS_FIELD_MAX], fs[FERRY_STATS_FIELD_MAX], d[32];
    keys_task(key, sizeof(key), task, "stats");
    int rc = ferry_stats_hist_field(fb, sizeof(fb), NULL, h, (long)hist_bucket(def, v));
    if (rc == FERRY_OK)
        rc = ferry_stats_hist_field(fs, sizeof(fs), NULL, h, -1);
    if (rc)
        return rc;
    snprintf(d, sizeof(d), "%lld", (long long)llround(units));
    const char *a1[4] = {"HINCRBY", key, fb, "1"};
    const char *a2[4] = {"HINCRBY", key, fs, d};
    const int argc[2] = {4, 4};
    const char **argv[2] = {a1, a2};
    return pipeline(r, 2, argc, argv);
}

/* ---- reading ----------------------------------------------------------------------------- */

int ferry_stats_read(ferry_redis_t *r, const char *task, ferry_stats_field_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (task == NULL || !keys_task_name_ok(task))
        return FERRY_EINVAL;
    char key[FERRY_TASK_NAME_MAX + 32];
    keys_task(key, sizeof(key), task, "stats");
    redisReply *rep = NULL;
    /* HSCAN pages keep a hash that somebody filled with junk from costing one huge reply. */
    char cursor[32] = "0";
    ferry_stats_field_t *v = NULL;
    size_t cnt = 0;
    int rc = FERRY_OK;
    do {
        const char *argv[6] = {"HSCAN", key, cursor, "COUNT", "512"};
        rc = ferry_redis_argv(r, 5, argv, NULL, &rep);
        if (rc)
            break;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = FERRY_EPARSE;
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        const redisReply *a = rep->element[1];
        if (a->elements / 2 > 0) {
            size_t want = cnt + a->elements / 2;
            if (want > FERRY_STATS_READ_MAX)
                want = FERRY_STATS_READ_MAX;
            ferry_stats_field_t *nv = realloc(v, (want ? want : 1) * sizeof(*v));
            if (nv == NULL) {
                rc = FERRY_ENOMEM;
                break;
            }
            v = nv;
            for (size_t i = 0; i + 1 < a->elements && cnt < want; i += 2) {
                const redisReply *f = a->element[i], *val = a->element[i + 1];
                if (f->type != REDIS_REPLY_STRING || f->len >= FERRY_STATS_FIELD_MAX ||
                    memchr(f->str, '\0', f->len) != NULL)
                    continue; /* not one of ours */
                memcpy(v[cnt].name, f->str, f->len);
                v[cnt].name[f->len] = '\0';
                v[cnt].value = ferry_redis_reply_int(val, 0);
                cnt++;
            }
        }
        freeReplyObject(rep);
        rep = NULL;
    } while (strcmp(cursor, "0") != 0 && cnt < FERRY_STATS_READ_MAX);
    freeReplyObject(rep);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return FERRY_OK;
}

int ferry_stats_field_counter(const char *field, const char *name, char *buf, size_t n,
                              const char **l1, const char **l2, const char **l3)
{
    size_t nl = strlen(name);
    if (strncmp(field, "c|", 2) != 0 || strncmp(field + 2, name, nl) != 0 || field[2 + nl] != '|')
        return 0;
    int len = snprintf(buf, n, "%s", field + 3 + nl);
    if (len < 0 || (size_t)len >= n)
        return 0;
    char *bar = strchr(buf, '|');
    if (bar == NULL)
        return 0;
    *bar = '\0';
    *l1 = buf;
    *l2 = bar + 1;
    bar = strchr(*l2, '|');
    if (bar == NULL)
        return 0;
    *bar = '\0';
    *l3 = bar + 1;
    if (strchr(*l3, '|') != NULL)
        return 0;
    return 1;
}

/* Append the STREAM_CMDS commands ferry_stats_streams reads (XLEN of event, bulk and dead,
 * XINFO GROUPS of event and bulk, the queue bytes kept in the counters hash). */
#define STREAM_CMDS 6

/* tag: the hash tag of the shard (the task's name for shard 0). */
static int streams_append(ferry_redis_t *r, const char *tag)
{
    char k[3][FERRY_LEDGER_TAG_MAX + 32];
    keys_task(k[0], sizeof(k[0]), tag, "q:event");
    keys_task(k[1], sizeof(k[1]), tag, "q:bulk");
    keys_task(k[2], sizeof(k[2]), tag, "q:dead");
    int rc = FERRY_OK;
    for (int i = 0; i < 3 && rc == FERRY_OK; i++) {
        const char *argv[2] = {"XLEN", k[i]};
        rc = ferry_redis_append(r, 2, argv, NULL);
    }
    for (int i = 0; i < 2 && rc == FERRY_OK; i++) {
        const char *argv[3] = {"XINFO", "GROUPS", k[i]};
        rc = ferry_redis_append(r, 3, argv, NULL);
    }
    char cnt[FERRY_LEDGER_TAG_MAX + 32];
    keys_task(cnt, sizeof(cnt), tag, "cnt");
    const char *hm[4] = {"HMGET", cnt, "qbytes:event", "qbytes:bulk"};
    if (rc == FERRY_OK)
        rc = ferry_redis_append(r, 4, hm, NULL);
    return rc;
}

/* Reply i (0..STREAM_CMDS-1) of streams_append into streams / dead (streams zeroed by the
 * caller with lag -1 before reply 0). */
static void streams_take(int i, const redisReply *rep, ferry_stream_stats_t streams[2],
                         long long *dead)
{
    if (i == 5) { /* HMGET qbytes: a drifted counter (see queue.c) never shows below 0 */
        for (size_t k = 0; k < 2 && rep->type == REDIS_REPLY_ARRAY && k < rep->elements; k++) {
            long long v = ferry_redis_reply_int(rep->element[k], 0);
            streams[k].bytes = v > 0 && streams[k].length > 0 ? v : 0;
        }
    } else if (i < 3) {
        long long len = ferry_redis_reply_int(rep, 0);
        if (i < 2)
            streams[i].length = len;
        else if (dead)
            *dead = len;
    } else if (rep->type == REDIS_REPLY_ARRAY) {
        /* No such stream (never written) answers an error (below). The group "workers"; no
         * group yet (no worker opened the queue): every entry waits, never delivered. */
        streams[i - 3].lag = streams[i - 3].length;
        const redisReply *e = redis_int_xinfo_group(rep, KEYS_GROUP);
        if (e) {
            streams[i - 3].pending = redis_int_xinfo_int(e, "pending", 0);
            streams[i - 3].lag = redis_int_xinfo_int(e, "lag", -1);
        }
    } else if (rep->type == REDIS_REPLY_ERROR && !redis_int_no_such_key(rep->str)) {
        /* refused (an ACL without XINFO): unknown, as on a Redis that has no lag — the policy
         * then counts what is not pending as waiting, never "nothing waits" */
        streams[i - 3].lag = -1;
    } else {
        streams[i - 3].lag = 0; /* no stream: nothing waits */
    }
}

/* The ledger shards of a task from its stored definition (a reply of HGET ferry:tasks T): 1
 * when there is none or it says nothing (tasks from before shards). */
static uint32_t def_shards(const char *def, size_t len)
{
    if (def == NULL)
        return 1;
    json_t *j = json_loadb(def, len, 0, NULL);
    json_int_t v = json_integer_value(json_object_get(j, "ledger_shards"));
    json_decref(j);
    return v >= 1 && v <= FERRY_LEDGER_SHARDS_MAX ? (uint32_t)v : 1;
}

/* Add shard totals b into a (lag -1, unknown, wins: the caller then derives it). */
static void streams_add(ferry_stream_stats_t a[2], const ferry_stream_stats_t b[2])
{
    for (int k = 0; k < 2; k++) {
        a[k].lag = a[k].lag < 0 || b[k].lag < 0 ? -1 : a[k].lag + b[k].lag;
        a[k].length += b[k].length;
        a[k].pending += b[k].pending;
        a[k].bytes += b[k].bytes;
    }
}

/* The streams (and, cnt non-NULL, the counters) of shards 1..S-1 of task, added to streams,
 * *dead and *cnt: one pipeline. */
static int streams_more(ferry_redis_t *r, const char *task, uint32_t shards,
                        ferry_stream_stats_t streams[2], long long *dead, ferry_counters_t *cnt)
{
    int rc = FERRY_OK;
    for (uint32_t sh = 1; sh < shards && rc == FERRY_OK; sh++) {
        char tag[FERRY_LEDGER_TAG_MAX + 1], ck[FERRY_LEDGER_TAG_MAX + 32];
        rc = ferry_ledger_shard_tag(task, sh, shards, tag, sizeof(tag));
        if (rc == FERRY_OK)
            rc = streams_append(r, tag);
        keys_task(ck, sizeof(ck), tag, "cnt");
        const char *hg[2] = {"HGETALL", ck};
        if (rc == FERRY_OK && cnt)
            rc = ferry_redis_append(r, 2, hg, NULL);
    }
    if (rc) {
        ferry_redis_reset(r);
        return rc;
    }
    for (uint32_t sh = 1; sh < shards; sh++) {
        ferry_stream_stats_t one[2] = {{0, 0, -1, 0}, {0, 0, -1, 0}};
        long long d = 0;
        for (int i = 0; i < STREAM_CMDS + (cnt ? 1 : 0); i++) {
            redisReply *rep = NULL;
            int r2 = ferry_redis_read(r, &rep);
            if (r2) {
                ferry_redis_reset(r);
                return r2;
            }
            if (i < STREAM_CMDS)
                streams_take(i, rep, one, &d);
            else {
                ferry_counters_t c;
                ferry_ledger_counters_parse(rep, &c);
                for (int k = 0; k < FERRY_STATE_COUNT; k++) {
                    cnt->objects[k] += c.objects[k];
                    cnt->bytes[k] += c.bytes[k];
                }
                cnt->unverified += c.unverified;
            }
            freeReplyObject(rep);
        }
        streams_add(streams, one);
        if (dead)
            *dead += d;
    }
    return FERRY_OK;
}

int ferry_stats_streams(ferry_redis_t *r, const char *task, ferry_stream_stats_t streams[2],
                        long long *dead)
{
    if (task == NULL || !keys_task_name_ok(task))
        return FERRY_EINVAL;
    /* The definition (for its shards) rides in the same pipeline as shard 0's streams: a task
     * of one shard costs the one round trip it always did. */
    const char *hg[3] = {"HGET", KEYS_REGISTRY, task};
    int rc = ferry_redis_append(r, 3, hg, NULL);
    if (rc == FERRY_OK)
        rc = streams_append(r, task);
    if (rc) {
        ferry_redis_reset(r);
        return rc;
    }
    for (int i = 0; i < 2; i++)
        streams[i] = (ferry_stream_stats_t){0, 0, -1, 0};
    long long d = 0;
    uint32_t shards = 1;
    for (int i = -1; i < STREAM_CMDS; i++) {
        redisReply *rep = NULL;
        int r2 = ferry_redis_read(r, &rep);
        if (r2) {
            ferry_redis_reset(r);
            return r2;
        }
        if (i < 0)
            shards = rep->type == REDIS_REPLY_STRING ? def_shards(rep->str, rep->len) : 1;
        else
            streams_take(i, rep, streams, &d);
        freeReplyObject(rep);
    }
    if (shards > 1 && (rc = streams_more(r, task, shards, streams, &d, NULL)) != FERRY_OK)
        return rc;
    if (dead)
        *dead = d;
    return FERRY_OK;
}

/* ---- the throughput series ------------------------------------------------------------------ */

/* A decimal integer of 1..18 digits at s[*i..len), advancing *i. 0 when there is none. */
static int take_num(const char *s, size_t len, size_t *i, long long *v)
{
    size_t k = 0;
    long long x = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && k < 18) {
        x = x * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    if (k == 0 || (*i < len && s[*i] >= '0' && s[*i] <= '9'))
        return 0;
    *v = x;
    return 1;
}

int ferry_stats_tput_parse(const char *s, size_t len, ferry_tput_point_t *p)
{
    size_t i = 0;
    long long t, o, b;
    if (s == NULL || !take_num(s, len, &i, &t) || i >= len || s[i++] != ' ' ||
        !take_num(s, len, &i, &o) || i >= len || s[i++] != ' ' || !take_num(s, len, &i, &b) ||
        i != len || t % FERRY_TPUT_STEP_S != 0)
        return 0;
    *p = (ferry_tput_point_t){t, o, b};
    return 1;
}

static int tput_cmp(const void *x, const void *y)
{
    const ferry_tput_point_t *a = x, *b = y;
    return (a->t > b->t) - (a->t < b->t);
}

int ferry_stats_throughput(ferry_redis_t *r, const char *task, int64_t now_s,
                           ferry_tput_point_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (task == NULL || !keys_task_name_ok(task))
        return FERRY_EINVAL;
    char key[FERRY_TASK_NAME_MAX + 32];
    keys_task(key, sizeof(key), task, "tput");
    char names[FERRY_TPUT_POINTS][8];
    const char *a[FERRY_TPUT_POINTS + 2];
    a[0] = "HMGET";
    a[1] = key;
    for (int i = 0; i < FERRY_TPUT_POINTS; i++) {
        snprintf(names[i], sizeof(names[i]), "%d", i);
        a[i + 2] = names[i];
    }
    redisReply *rep = NULL;
    int rc = ferry_redis_argv(r, FERRY_TPUT_POINTS + 2, a, NULL, &rep);
    if (rc)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return FERRY_EPARSE;
    }
    ferry_tput_point_t *v = calloc(FERRY_TPUT_POINTS, sizeof(*v));
    if (v == NULL) {
        freeReplyObject(rep);
        return FERRY_ENOMEM;
    }
    size_t cnt = 0;
    int64_t from = now_s - FERRY_TPUT_STEP_S * FERRY_TPUT_POINTS;
    for (size_t i = 0; i < rep->elements && cnt < FERRY_TPUT_POINTS; i++) {
        const redisReply *e = rep->element[i];
        ferry_tput_point_t p;
        if (e->type == REDIS_REPLY_STRING && ferry_stats_tput_parse(e->str, e->len, &p) &&
            p.t > from && p.t <= now_s)
            v[cnt++] = p;
    }
    freeReplyObject(rep);
    qsort(v, cnt, sizeof(*v), tput_cmp);
    *out = v;
    *n = cnt;
    return FERRY_OK;
}

/* ---- heartbeats ---------------------------------------------------------------------------- */

#define WORKERS_KEY  "ferry:workers"
#define WORKERS_MAX  1024
#define WORKERS_KEEP (10 * 60 * 1000LL) /* entries of the set older than this are forgotten */

static void worker_key(char *buf, size_t n, const char *consumer)
{
    snprintf(buf, n, "ferry:worker:%s", consumer);
}

int ferry_stats_heartbeat(ferry_redis_t *r, ferry_heartbeat_t *hb, int64_t ttl_ms)
{
    if (hb->consumer[0] == '\0' || ttl_ms <= 0)
        return FERRY_EINVAL;
    hb->seen_ms = ferry_wall_ms();
    char key[200], pid[24], infl[24], conc[24], done[24], failed[24], st[24], seen[24], ttl[24];
    worker_key(key, sizeof(key), hb->consumer);
    snprintf(pid, sizeof(pid), "%d", hb->pid);
    snprintf(infl, sizeof(infl), "%lld", hb->in_flight);
    snprintf(conc, sizeof(conc), "%lld", hb->concurrency);
    snprintf(done, sizeof(done), "%lld", hb->done);
    snprintf(failed, sizeof(failed), "%lld", hb->failed);
    snprintf(st, sizeof(st), "%lld", (long long)hb->started_ms);
    snprintf(seen, sizeof(seen), "%lld", (long long)hb->seen_ms);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    const char *hset[] = {"HSET",        key,       "consumer", hb->consumer, "pid",
                          pid,           "tasks",   hb->tasks,  "in_flight",  infl,
                          "concurrency", conc,      "done",     done,         "failed",
                          failed,        "started", st,         "seen",       seen};
    const char *pexp[] = {"PEXPIRE", key, ttl};
    const char *zadd[] = {"ZADD", WORKERS_KEY, seen, hb->consumer};
    const int argc[3] = {(int)(sizeof(hset) / sizeof(hset[0])), 3, 4};
    const char **argv[3] = {hset, pexp, zadd};
    return pipeline(r, 3, argc, argv);
}

int ferry_stats_heartbeat_clear(ferry_redis_t *r, const char *consumer)
{
    char key[200];
    worker_key(key, sizeof(key), consumer);
    redisReply *rep = NULL;
    int rc = ferry_redis_cmd(r, &rep, "DEL %s", key);
    freeReplyObject(rep);
    rep = NULL;
    if (rc == FERRY_OK)
        rc = ferry_redis_cmd(r, &rep, "ZREM %s %s", WORKERS_KEY, consumer);
    freeReplyObject(rep);
    return rc;
}

static void hb_field(ferry_heartbeat_t *hb, const char *k, const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(k, "consumer") == 0)
        snprintf(hb->consumer, sizeof(hb->consumer), "%s", v->str);
    else if (strcmp(k, "tasks") == 0)
        snprintf(hb->tasks, sizeof(hb->tasks), "%s", v->str);
    else if (strcmp(k, "pid") == 0)
        hb->pid = (int)ferry_redis_reply_int(v, 0);
    else if (strcmp(k, "in_flight") == 0)
        hb->in_flight = ferry_redis_reply_int(v, 0);
    else if (strcmp(k, "concurrency") == 0)
        hb->concurrency = ferry_redis_reply_int(v, 0);
    else if (strcmp(k, "done") == 0)
        hb->done = ferry_redis_reply_int(v, 0);
    else if (strcmp(k, "failed") == 0)
        hb->failed = ferry_redis_reply_int(v, 0);
    else if (strcmp(k, "started") == 0)
        hb->started_ms = ferry_redis_reply_int(v, 0);
    else if (strcmp(k, "seen") == 0)
        hb->seen_ms = ferry_redis_reply_int(v, 0);
}

/* 1 when the comma-separated list names task (or is empty: every task). */
static int serves(const char *tasks, const char *task)
{
    if (tasks[0] == '\0')
        return 1;
    size_t tl = strlen(task);
    for (const char *p = tasks; *p;) {
        size_t l = strcspn(p, ",");
        if (l == tl && strncmp(p, task, tl) == 0)
            return 1;
        p += l;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Append the two commands that list the live workers (forget the old entries, then the
 * set). */
static int workers_append(ferry_redis_t *r)
{
    char since[32], since_arg[40], last[16];
    snprintf(since, sizeof(since), "%lld", (long long)(ferry_wall_ms() - WORKERS_KEEP));
    snprintf(since_arg, sizeof(since_arg), "(%s", since);
    snprintf(last, sizeof(last), "%d", WORKERS_MAX - 1);
    const char *a1[4] = {"ZREMRANGEBYSCORE", WORKERS_KEY, "-inf", since_arg};
    const char *a2[4] = {"ZRANGE", WORKERS_KEY, "0", last};
    int rc = ferry_redis_append(r, 4, a1, NULL);
    if (rc == FERRY_OK)
        rc = ferry_redis_append(r, 4, a2, NULL);
    return rc;
}

/* The heartbeats of the workers named in set (a ZRANGE reply): one pipelined HGETALL each;
 * task non-NULL keeps only those serving it. */
/* workers_fetch's pipeline: one heartbeat hash per reply, kept when it serves the task */
typedef struct {
    ferry_heartbeat_t *v;
    size_t cnt;
    const char *task;
} hb_collect_t;

static void hb_collect(void *ud, const redisReply *rep)
{
    hb_collect_t *c = ud;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return; /* gone since SMEMBERS (expired), or not a hash */
    ferry_heartbeat_t hb;
    memset(&hb, 0, sizeof(hb));
    for (size_t j = 0; j + 1 < rep->elements; j += 2)
        if (rep->element[j]->type == REDIS_REPLY_STRING)
            hb_field(&hb, rep->element[j]->str, rep->element[j + 1]);
    if (hb.consumer[0] && (c->task == NULL || serves(hb.tasks, c->task)))
        c->v[c->cnt++] = hb;
}

static int workers_fetch(ferry_redis_t *r, const redisReply *set, const char *task,
                         ferry_heartbeat_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (set->type != REDIS_REPLY_ARRAY)
        return FERRY_EPARSE;
    size_t m = set->elements;
    typedef char hb_key_t[200];
    hb_collect_t c = {calloc(m ? m : 1, sizeof(*c.v)), 0, task};
    hb_key_t *keys = malloc(sizeof(*keys) * (m ? m : 1));
    const char **words = malloc(sizeof(*words) * 2 * (m ? m : 1));
    const char **(*argv) = malloc(sizeof(*argv) * (m ? m : 1));
    int *argc = malloc(sizeof(*argc) * (m ? m : 1));
    int rc = c.v && keys && words && argv && argc ? FERRY_OK : FERRY_ENOMEM;
    for (size_t i = 0; i < m && rc == FERRY_OK; i++) {
        const redisReply *e = set->element[i];
        worker_key(keys[i], sizeof(keys[i]), e->type == REDIS_REPLY_STRING ? e->str : "");
        words[2 * i] = "HGETALL";
        words[2 * i + 1] = keys[i];
        argv[i] = &words[2 * i];
        argc[i] = 2;
    }
    if (rc == FERRY_OK)
        rc = pipeline_each(r, m, argc, (const char **const *)argv, hb_collect, &c);
    if (rc == FERRY_EREDIS)
        rc = FERRY_OK; /* a key that is not a hash: skipped, as hb_collect does */
    free(keys);
    free(words);
    free(argv);
    free(argc);
    if (rc) {
        free(c.v);
        return rc;
    }
    *out = c.v;
    *n = c.cnt;
    return FERRY_OK;
}

int ferry_stats_workers(ferry_redis_t *r, const char *task, ferry_heartbeat_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    redisReply *rep[2] = {NULL, NULL};
    int rc = workers_append(r);
    for (int i = 0; i < 2 && rc == FERRY_OK; i++)
        rc = ferry_redis_read(r, &rep[i]);
    if (rc == FERRY_OK)
        rc = workers_fetch(r, rep[1], task, out, n);
    else if (rc == FERRY_ENET || rc == FERRY_ETIMEOUT || rep[0] == NULL || rep[1] == NULL)
        ferry_redis_reset(r); /* replies may be left unread */
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return rc;
}

/* ---- a task's status in one round trip ------------------------------------------------------ */

#define SNAP_CMDS                                                                                  \
    (3 + STREAM_CMDS) /* per task: HGET definition, HGETALL counters, the                          \
                       * stream commands, LRANGE */

void ferry_stats_snapshot_clear(ferry_task_snapshot_t *s)
{
    if (s == NULL)
        return;
    free(s->definition);
    free(s->last_scan);
    memset(s, 0, sizeof(*s));
}

int ferry_stats_snapshots(ferry_redis_t *r, const char *const *tasks, size_t n,
                          ferry_task_snapshot_t *out, ferry_heartbeat_t **hb, size_t *nhb)
{
    *hb = NULL;
    *nhb = 0;
    memset(out, 0, n * sizeof(*out));
    for (size_t t = 0; t < n; t++)
        if (tasks[t] == NULL || !keys_task_name_ok(tasks[t]))
            return FERRY_EINVAL;
    int rc = FERRY_OK;
    size_t sent = 0;
    for (size_t t = 0; t < n && rc == FERRY_OK; t++) {
        char cnt[FERRY_TASK_NAME_MAX + 32], scans[FERRY_TASK_NAME_MAX + 32];
        keys_task(cnt, sizeof(cnt), tasks[t], "cnt");
        keys_task(scans, sizeof(scans), tasks[t], "scans");
        const char *a1[3] = {"HGET", KEYS_REGISTRY, tasks[t]};
        const char *a2[2] = {"HGETALL", cnt};
        const char *a3[4] = {"LRANGE", scans, "0", "0"};
        rc = ferry_redis_append(r, 3, a1, NULL);
        if (rc == FERRY_OK)
            rc = ferry_redis_append(r, 2, a2, NULL);
        if (rc == FERRY_OK)
            rc = streams_append(r, tasks[t]);
        if (rc == FERRY_OK)
            rc = ferry_redis_append(r, 4, a3, NULL);
        if (rc == FERRY_OK)
            sent++;
    }
    if (rc == FERRY_OK)
        rc = workers_append(r);
    if (rc) { /* part of a pipeline may be out: this connection is not usable as is */
        ferry_redis_reset(r);
        return rc;
    }
    redisReply *set = NULL;
    for (size_t t = 0; t < sent && rc == FERRY_OK; t++) {
        ferry_task_snapshot_t *s = &out[t];
        s->st[0] = s->st[1] = (ferry_stream_stats_t){0, 0, -1, 0};
        for (int i = 0; i < SNAP_CMDS && rc == FERRY_OK; i++) {
            redisReply *rep = NULL;
            if ((rc = ferry_redis_read(r, &rep)) != FERRY_OK)
                break;
            if (i == 0 && rep->type == REDIS_REPLY_STRING)
                s->definition = strdup(rep->str);
            else if (i == 1)
                ferry_ledger_counters_parse(rep, &s->c);
            else if (i >= 2 && i < 2 + STREAM_CMDS)
                streams_take(i - 2, rep, s->st, &s->dead);
            else if (i == SNAP_CMDS - 1 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
                     rep->element[0]->type == REDIS_REPLY_STRING)
                s->last_scan = strdup(rep->element[0]->str);
            int oom = (i == 0 && rep->type == REDIS_REPLY_STRING && s->definition == NULL) ||
                      (i == SNAP_CMDS - 1 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
                       s->last_scan == NULL);
            freeReplyObject(rep);
            if (oom)
                rc = FERRY_ENOMEM;
        }
    }
    redisReply *zrem = NULL;
    if (rc == FERRY_OK)
        rc = ferry_redis_read(r, &zrem);
    if (rc == FERRY_OK)
        rc = ferry_redis_read(r, &set);
    /* Tasks of several ledger shards: their other shards' counters and streams, one more
     * round trip each (tasks of one shard cost nothing more). */
    for (size_t t = 0; t < sent && rc == FERRY_OK; t++) {
        ferry_task_snapshot_t *s = &out[t];
        uint32_t shards = s->definition ? def_shards(s->definition, strlen(s->definition)) : 1;
        if (shards > 1)
            rc = streams_more(r, tasks[t], shards, s->st, &s->dead, &s->c);
    }
    if (rc == FERRY_OK)
        rc = workers_fetch(r, set, NULL, hb, nhb);
    else
        ferry_redis_reset(r); /* replies may be left unread */
    freeReplyObject(zrem);
    freeReplyObject(set);
    if (rc)
        for (size_t t = 0; t < n; t++)
            ferry_stats_snapshot_clear(&out[t]);
    return rc;
}

int ferry_heartbeat_serves(const ferry_heartbeat_t *hb, const char *task)
{
    return serves(hb->tasks, task);
}

json_t *ferry_heartbeat_to_json(const ferry_heartbeat_t *hb)
{
    char st[32], seen[32];
    ferry_time_format(hb->started_ms / 1000, st, sizeof(st));
    ferry_time_format(hb->seen_ms / 1000, seen, sizeof(seen));
    json_t *tasks = json_array();
    if (tasks == NULL)
        return NULL;
    for (const char *p = hb->tasks; *p;) {
        size_t l = strcspn(p, ",");
        if (l)
            json_array_append_new(tasks, json_stringn(p, l));
        p += l;
        if (*p == ',')
            p++;
    }
    return json_pack("{s:s, s:i, s:o, s:I, s:I, s:I, s:I, s:s, s:s}", "consumer", hb->consumer,
                     "pid", hb->pid, "tasks", tasks, "in_flight", (json_int_t)hb->in_flight,
                     "concurrency", (json_int_t)hb->concurrency, "done", (json_int_t)hb->done,
                     "failed", (json_int_t)hb->failed, "started_at", st, "seen_at", seen);
}
