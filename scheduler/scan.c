/* ferry scheduler — one scan of a task. See scan.h and docs/internals/scheduler.md. */
#include "scan.h"

#include "diff.h"
#include "lease.h"

#include "ferry/clock.h"
#include "ferry/list.h"
#include "ferry/check.h"
#include "ferry/ledger.h"
#include "ferry/log.h"
#include "ferry/profile.h"
#include "ferry/queue.h"
#include "ferry/s3.h"
#include "ferry/side.h"
#include "ferry/stats.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PAGE_CAP       4000 /* entries buffered from one root page (max-keys is <= 1000) */
#define PART_QUEUE_MAX 1024 /* partitions waiting; the root listing pauses above this */
#define SPOOL_TTL_MS   "86400000"

/* "\x01p" as a storage class marks a CommonPrefix in the root diff: no store sends it. */
static const char PREFIX_MARK[] = "\x01p";

typedef struct part_s part_t;
typedef struct scan_lister_s lister_t;

/* One entry of a root page, kept until the page is sorted (objects and prefixes interleave). */
typedef struct page_ent_s {
    uint64_t size;
    int64_t mtime_ms;
    int is_prefix;
    size_t len;
    char *etag, *sclass;
    char key[]; /* relative key, NUL-terminated copy */
} page_ent_t;

struct scan_lister_s {
    part_t *p;
    int side;
    int ended, running;
    ferry_s3_op_t *op;
    char *token, *marker;         /* where to resume: V2 token or V1 marker (owned) */
    ferry_s3_list_guard_t *guard; /* this listing's loop / order guard, across its pages */
    long long listed;
    char last[FERRY_KEY_MAX + 1]; /* last key listed, for "where it stopped" */
    page_ent_t **page;            /* root only */
    size_t npage;
};

struct part_s {
    ferry_scan_t *s;
    char *prefix; /* relative; "" for the root */
    int root;     /* the top partition (s->root) */
    int delim;    /* listed with a delimiter: its common prefixes become partitions */
    ferry_diff_t *diff;
    lister_t l[2];
    ferry_list_t link; /* in s->active while its listings run */
    part_t *next;      /* the waiting queue */
};

typedef struct cand_s {
    int kind; /* ferry_diff_kind_t */
    uint64_t size;
    int64_t mtime; /* seconds */
    char etag[FERRY_ETAG_MAX + 1];
    char dst_etag[FERRY_ETAG_MAX + 1];
    char key[FERRY_KEY_MAX + 1]; /* full source key */
    int archive;                 /* 1: an archive class: recorded skipped with .reason */
    char reason[160];
} cand_t;

/* What the S3 clients' observers get: the scan and which side (metrics). */
typedef struct scan_obs_s {
    struct ferry_scan_s *s;
    const char *side; /* "src" / "dst" */
} scan_obs_t;

struct ferry_scan_s {
    uv_loop_t *loop;
    ferry_redis_t *r;
    ferry_ledger_t *led;
    ferry_task_t t;
    ferry_scan_opts_t o;
    ferry_side_t side[2];
    size_t base_len[2];
    ferry_s3_t *c[2];
    ferry_stats_t *stats; /* requests by op and status class (ferry/stats.h), or NULL */
    scan_obs_t obs[2];
    const ferry_profile_t *src_prof;
    ferry_scan_done_fn done;
    void *ud;
    ferry_scan_report_t rep;

    part_t *root;
    ferry_list_t active; /* the partitions being listed (part_t.link) */
    int nactive;
    part_t *qhead, *qtail; /* waiting partitions */
    size_t nqueued;
    int ops; /* listing requests in flight */
    int aborting, finishing, finished;
    int paused_backlog;
    int flushes;

    cand_t *cands;
    size_t ncand;
    int flushed; /* a batch of candidates went out: the next ones wait for a whole batch */
    ferry_record_t *recs;
    int *found;
    const char **keys;
    ferry_item_t *items;
    int *results, *ikind;
    ferry_item_t *sitems; /* archive-class keys recorded as skipped (ferry_ledger_skip) */
    const char **sreasons;
    int *sresults;

    char spool[192];
    char **dels;
    size_t ndel;
    long long spooled;

    uv_timer_t t_abort, t_backlog, t_lease;
    int closing;
};

/* ---- small helpers --------------------------------------------------------------------------- */

static const char *side_name(int side)
{
    return side == FERRY_DIFF_SRC ? "source" : "destination";
}

static void copy_bounded(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void scan_cancel_ops(ferry_scan_t *s);
static void on_abort_timer(uv_timer_t *h);

/* Stop with an error (the first one wins). Safe inside client callbacks: requests are
 * canceled from a zero timer, never from inside a callback of the same client. */
static void scan_fail(ferry_scan_t *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void scan_fail(ferry_scan_t *s, int rc, const char *fmt, ...)
{
    if (s->rep.rc == FERRY_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->rep.error, sizeof(s->rep.error), fmt, ap);
        va_end(ap);
        s->rep.rc = rc ? rc : FERRY_EIO;
        ferry_log(FERRY_LOG_WARN, "scan.abort", "task", s->t.name, "error", s->rep.error, NULL);
    }
    if (!s->aborting) {
        s->aborting = 1;
        if (!s->finishing)
            uv_timer_start(&s->t_abort, on_abort_timer, 0, 0);
    }
}

static void on_abort_timer(uv_timer_t *h)
{
    scan_cancel_ops((ferry_scan_t *)h->data);
}

/* ---- filters --------------------------------------------------------------------------------- */

/* Globs match the relative key (fnmatch without FNM_PATHNAME: '*' crosses '/'). Include
 * patterns, when any, must match; exclude patterns must not. */
static int glob_ok(const ferry_scan_t *s, const char *rel)
{
    return ferry_task_glob_ok(&s->t, rel); /* shared with the event intake */
}

static int size_age_ok(const ferry_scan_t *s, const ferry_obj_t *o)
{
    return ferry_filter_size_age_ok(s->o.min_size, s->o.max_size, s->o.min_age_ms, s->o.max_age_ms,
                                    s->o.now_ms ? s->o.now_ms : ferry_wall_ms(), o->size,
                                    o->mtime_ms);
}

static void skip(ferry_scan_t *s, const char *key, size_t klen, const char *why)
{
    s->rep.skipped++;
    if (!s->rep.skip_example[0])
        snprintf(s->rep.skip_example, sizeof(s->rep.skip_example), "%.*s: %s",
                 (int)(klen > 200 ? 200 : klen), key, why);
}

/* ---- batches: ledger join + enqueue ---------------------------------------------------------- */

static int redis_fail(ferry_scan_t *s, const char *what)
{
    const ferry_error_t *e = ferry_redis_error(s->r);
    scan_fail(s, e->code ? e->code : FERRY_EREDIS,
              "%s failed: %s (check that Redis at %s is up; nothing was deleted)", what, e->msg,
              ferry_redis_where(s->r));
    return e->code ? e->code : FERRY_EREDIS;
}

static int same_version(const ferry_record_t *rec, const cand_t *c)
{
    return rec->src_mtime == c->mtime &&
           (c->etag[0] == '\0' || ferry_etag_eq(rec->src_etag, c->etag));
}

static int check_backlog(ferry_scan_t *s);

#define FIRST_BATCH 32

/* Whether flush must read candidate c's record before deciding (see flush). */
static int needs_record(const ferry_scan_t *s, const cand_t *c)
{
    return s->o.dry_run || c->archive || c->kind == FERRY_DIFF_UNCHANGED;
}

/* Item it (zeroed first) for candidate c, as the scan queues or skips it; returns it. */
static ferry_item_t *scan_item(ferry_item_t *it, const cand_t *c)
{
    memset(it, 0, sizeof(*it));
    it->key = c->key;
    it->size = c->size;
    it->mtime = c->mtime;
    it->etag = c->etag[0] ? c->etag : NULL;
    it->origin = FERRY_ORIGIN_SCAN;
    return it;
}

static int flush(ferry_scan_t *s)
{
    size_t n = s->ncand, m = 0, k = 0;
    int rc = FERRY_OK;
    s->ncand = 0;
    s->flushed = 1;
    if (n == 0)
        return FERRY_OK;
    /* Only the candidates whose decision needs the record here are looked up: a checksum
     * comparison, an archive class (a rescan writes nothing when the ledger says so already),
     * a dry run (it reports what it would do). The others go to the enqueue script with
     * FERRY_FORCE_IDLE, which reads the record itself and makes the same decision atomically
     * (saves one HGET and one round trip per object). */
    size_t nl = 0, jl = 0;
    for (size_t i = 0; i < n; i++)
        if (needs_record(s, &s->cands[i]))
            s->keys[nl++] = s->cands[i].key;
    if (nl > 0) {
        rc = ferry_ledger_get_many(s->led, s->keys, nl, s->recs, s->found);
        if (rc)
            return redis_fail(s, "the ledger lookup");
    }
    for (size_t i = 0; i < n; i++) {
        cand_t *c = &s->cands[i];
        if (!needs_record(s, c)) {
            ferry_item_t *it = scan_item(&s->items[m], c);
            it->force = FERRY_FORCE_IDLE;
            s->ikind[m++] = c->kind;
            continue;
        }
        const ferry_record_t *rec = s->found[jl] ? &s->recs[jl] : NULL;
        jl++;
        int kind = c->kind;
        if (kind == FERRY_DIFF_UNCHANGED) { /* checksum mode */
            if (rec ? (rec->state == FERRY_STATE_DONE && rec->src_etag[0] &&
                       ferry_etag_eq(rec->src_etag, c->etag))
                    : ferry_etag_eq(c->etag, c->dst_etag)) {
                s->rep.unchanged++;
                continue;
            }
            kind = FERRY_DIFF_CHANGED;
            if (!c->archive)
                s->rep.changed++;
        }
        int same = rec && same_version(rec, c);
        if (c->archive) {
            /* Cannot be copied until restored: record it skipped, with the reason, unless the
             * ledger already says so for this version (a rescan costs no write) or a job for
             * this version is on its way (the CAS script would leave it alone too). */
            skip(s, c->key, strlen(c->key), c->reason);
            s->rep.skipped_archive++;
            if (same && (rec->state == FERRY_STATE_QUEUED || rec->state == FERRY_STATE_COPYING ||
                         (rec->state == FERRY_STATE_SKIPPED && strcmp(rec->error, c->reason) == 0)))
                continue;
            if (s->o.dry_run)
                continue;
            scan_item(&s->sitems[k], c);
            s->sreasons[k++] = c->reason;
            continue;
        }
        if (same && (rec->state == FERRY_STATE_QUEUED || rec->state == FERRY_STATE_COPYING)) {
            s->rep.in_flight++;
            continue;
        }
        if (s->o.dry_run)
            continue;
        ferry_item_t *it = scan_item(&s->items[m], c);
        /* The ledger says this version is done, but the destination lacks it or differs:
         * copy it again (a plain enqueue would be a no-op for an unchanged done record). */
        it->force = same ? FERRY_FORCE_ALWAYS : FERRY_FORCE_NO;
        s->ikind[m++] = kind;
    }
    if (k > 0) {
        rc = ferry_ledger_skip(s->led, s->sitems, s->sreasons, k, s->sresults);
        if (rc)
            return redis_fail(s, "recording skipped keys");
        for (size_t i = 0; i < k; i++)
            if (s->sresults[i] == FERRY_SKIP_STALE)
                s->rep.stale++;
    }
    if (m == 0)
        return FERRY_OK;
    rc = ferry_ledger_enqueue(s->led, FERRY_QUEUE_BULK, s->items, m, s->results);
    if (rc)
        return redis_fail(s, "enqueue");
    for (size_t i = 0; i < m; i++) {
        if (s->results[i] == FERRY_ENQ_QUEUED) {
            s->rep.queued++;
            s->rep.queued_bytes += (long long)s->items[i].size;
        } else if (s->results[i] == FERRY_ENQ_STALE)
            s->rep.stale++;
        else
            s->rep.in_flight++;
    }
    if (++s->flushes % 4 == 0)
        return check_backlog(s);
    return FERRY_OK;
}

static int spool_flush(ferry_scan_t *s)
{
    if (s->ndel == 0)
        return FERRY_OK;
    const char **argv = malloc((s->ndel + 2) * sizeof(char *));
    if (argv == NULL)
        return FERRY_ENOMEM;
    argv[0] = "RPUSH";
    argv[1] = s->spool;
    for (size_t i = 0; i < s->ndel; i++)
        argv[i + 2] = s->dels[i];
    redisReply *rep = NULL;
    int rc = ferry_redis_argv(s->r, (int)s->ndel + 2, argv, NULL, &rep);
    free(argv);
    if (rc == FERRY_OK) {
        freeReplyObject(rep);
        const char *px[3] = {"PEXPIRE", s->spool, SPOOL_TTL_MS};
        rc = ferry_redis_argv(s->r, 3, px, NULL, &rep);
        if (rc == FERRY_OK)
            freeReplyObject(rep);
    }
    for (size_t i = 0; i < s->ndel; i++)
        free(s->dels[i]);
    s->ndel = 0;
    return rc ? redis_fail(s, "spooling delete candidates") : FERRY_OK;
}

/* The full source key of a relative key, or an error when it cannot be a ledger key. */
static const char *full_key(ferry_scan_t *s, const ferry_obj_t *o, char *buf, size_t cap)
{
    size_t bl = s->base_len[FERRY_DIFF_SRC];
    if (memchr(o->key, '\0', o->key_len) != NULL)
        return "the key holds a NUL byte, which ferry cannot record";
    if (bl + o->key_len > FERRY_KEY_MAX || bl + o->key_len + 1 > cap)
        return "the key is longer than 1024 bytes with the prefix";
    memcpy(buf, s->side[FERRY_DIFF_SRC].prefix, bl);
    memcpy(buf + bl, o->key, o->key_len);
    buf[bl + o->key_len] = '\0';
    return NULL;
}

/* One decision of a partition's diff. */
static int decide(ferry_scan_t *s, ferry_diff_kind_t kind, const ferry_obj_t *src,
                  const ferry_obj_t *dst)
{
    const ferry_obj_t *o = src ? src : dst;
    char rel[FERRY_KEY_MAX + 2];
    if (o->key_len > FERRY_KEY_MAX) {
        skip(s, o->key, o->key_len, "the key is longer than 1024 bytes");
        return FERRY_OK;
    }
    memcpy(rel, o->key, o->key_len);
    rel[o->key_len] = '\0';
    if (!glob_ok(s, rel)) {
        skip(s, o->key, o->key_len, "excluded by --include/--exclude");
        return FERRY_OK;
    }
    if (kind == FERRY_DIFF_EXTRA) {
        s->rep.extra++;
        if (!s->t.delete_)
            return FERRY_OK;
        if (!size_age_ok(s, dst)) {
            skip(s, o->key, o->key_len, "outside the size/age filters");
            return FERRY_OK;
        }
        char full[FERRY_KEY_MAX + 1];
        const char *why = full_key(s, dst, full, sizeof(full));
        if (why) {
            skip(s, o->key, o->key_len, why);
            return FERRY_OK;
        }
        if (s->o.dry_run) {
            s->rep.to_delete++;
            return FERRY_OK;
        }
        s->dels[s->ndel] = strdup(full);
        if (s->dels[s->ndel] == NULL)
            return FERRY_ENOMEM;
        s->ndel++;
        s->spooled++;
        if (s->ndel >= (size_t)s->o.batch)
            return spool_flush(s);
        return FERRY_OK;
    }
    if (!size_age_ok(s, src)) {
        skip(s, o->key, o->key_len, "outside the size/age filters");
        return FERRY_OK;
    }
    /* Unchanged keys are done whatever their class now (an object copied before a lifecycle
     * rule archived it stays done). */
    if (kind == FERRY_DIFF_UNCHANGED && s->t.compare != FERRY_COMPARE_CHECKSUM) {
        s->rep.unchanged++;
        return FERRY_OK;
    }
    cand_t *c = &s->cands[s->ncand];
    const char *why = full_key(s, src, c->key, sizeof(c->key));
    if (why) {
        skip(s, o->key, o->key_len, why);
        return FERRY_OK;
    }
    /* Archive classes (the source profile's needs_restore) cannot be read until restored:
     * they go through the ledger join like any difference, and flush records them skipped. */
    int restore = 0;
    c->archive = src->storage_class && src->storage_class[0] &&
                 ferry_profile_map_storage_class(s->src_prof, src->storage_class, &restore) &&
                 restore;
    c->reason[0] = '\0';
    if (c->archive)
        snprintf(c->reason, sizeof(c->reason),
                 "source object is in archive storage class %.40s: restore it before it can be "
                 "copied",
                 src->storage_class);
    else if (kind == FERRY_DIFF_NEW)
        s->rep.new_++;
    else if (kind == FERRY_DIFF_CHANGED)
        s->rep.changed++;
    c->kind = kind;
    c->size = src->size;
    c->mtime = src->mtime_ms > 0 ? src->mtime_ms / 1000 : 0;
    copy_bounded(c->etag, sizeof(c->etag), src->etag);
    copy_bounded(c->dst_etag, sizeof(c->dst_etag), dst ? dst->etag : NULL);
    /* The first batch is small (FIRST_BATCH), so the first jobs reach the waiting workers
     * while the rest of the first page is still looked up; then whole batches. */
    if (++s->ncand >= (s->flushed ? (size_t)s->o.batch : FIRST_BATCH))
        return flush(s);
    return FERRY_OK;
}

/* ---- partitions ---------------------------------------------------------------------------- */

static void kick(lister_t *l);
static void maybe_finish(ferry_scan_t *s);

static void part_free(part_t *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        free(p->l[i].token);
        free(p->l[i].marker);
        ferry_s3_list_guard_free(p->l[i].guard);
        for (size_t j = 0; j < p->l[i].npage; j++)
            free(p->l[i].page[j]);
        free(p->l[i].page);
    }
    ferry_diff_free(p->diff);
    free(p->prefix);
    free(p);
}

static int emit(void *ud, ferry_diff_kind_t kind, const ferry_obj_t *src, const ferry_obj_t *dst);

static part_t *part_new(ferry_scan_t *s, const char *prefix, size_t plen, int root)
{
    part_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->s = s;
    p->root = root;
    /* Split by "/" down to split_depth levels, so a bucket with one top-level folder still
     * lists in parallel. */
    int depth = 0;
    for (size_t i = 0; i < plen; i++)
        depth += prefix[i] == '/';
    p->delim = s->o.split > 0 && depth < s->o.split_depth;
    p->prefix = malloc(plen + 1);
    p->diff = ferry_diff_new((ferry_compare_t)s->t.compare, emit, p);
    if (p->prefix == NULL || p->diff == NULL) {
        part_free(p);
        return NULL;
    }
    memcpy(p->prefix, prefix, plen);
    p->prefix[plen] = '\0';
    for (int i = 0; i < 2; i++) {
        p->l[i].p = p;
        p->l[i].side = i;
        if (ferry_s3_list_guard_new(s->o.max_empty_pages, &p->l[i].guard)) {
            part_free(p);
            return NULL;
        }
    }
    if (p->delim || root) {
        for (int i = 0; i < 2; i++) {
            p->l[i].page = calloc(PAGE_CAP, sizeof(page_ent_t *));
            if (p->l[i].page == NULL) {
                part_free(p);
                return NULL;
            }
        }
    }
    return p;
}

static void side_end(lister_t *l)
{
    l->ended = 1;
    int rc = ferry_diff_end(l->p->diff, l->side);
    if (rc && !l->p->s->aborting)
        scan_fail(l->p->s, rc, "the scan stopped after the %s listing ended: %s",
                  side_name(l->side), ferry_strerror(rc));
}

static void part_start(ferry_scan_t *s, part_t *p)
{
    ferry_list_insert_head(&s->active, &p->link);
    s->nactive++;
    s->rep.partitions++;
    for (int i = 0; i < 2; i++)
        if (p->l[i].ended)
            side_end(&p->l[i]);
    kick(&p->l[0]);
    kick(&p->l[1]);
}

static void start_waiting(ferry_scan_t *s)
{
    while (!s->aborting && s->qhead && s->nactive < s->o.parallel) {
        part_t *p = s->qhead;
        s->qhead = p->next;
        if (s->qhead == NULL)
            s->qtail = NULL;
        s->nqueued--;
        part_start(s, p);
    }
    if (s->root && s->nqueued < PART_QUEUE_MAX) {
        kick(&s->root->l[0]);
        kick(&s->root->l[1]);
    }
}

/* A common prefix seen by the root listing of one or both sides. */
static int add_partition(ferry_scan_t *s, const ferry_obj_t *src, const ferry_obj_t *dst)
{
    const ferry_obj_t *o = src ? src : dst;
    char rel[FERRY_KEY_MAX + 1];
    if (o->key_len > FERRY_KEY_MAX)
        return FERRY_EPARSE;
    memcpy(rel, o->key, o->key_len);
    rel[o->key_len] = '\0';
    if (src == NULL && !s->t.delete_) {
        /* Only in the destination, and nothing is deleted: no need to list it. */
        return FERRY_OK;
    }
    part_t *p = part_new(s, o->key, o->key_len, 0);
    (void)rel;
    if (p == NULL)
        return FERRY_ENOMEM;
    p->l[FERRY_DIFF_SRC].ended = src == NULL;
    p->l[FERRY_DIFF_DST].ended = dst == NULL;
    if (s->qtail)
        s->qtail->next = p;
    else
        s->qhead = p;
    s->qtail = p;
    s->nqueued++;
    start_waiting(s);
    return FERRY_OK;
}

static int emit(void *ud, ferry_diff_kind_t kind, const ferry_obj_t *src, const ferry_obj_t *dst)
{
    part_t *p = ud;
    ferry_scan_t *s = p->s;
    if (s->aborting)
        return FERRY_ECANCELED;
    if (p->delim) {
        int sp = src && src->storage_class && strcmp(src->storage_class, PREFIX_MARK) == 0;
        int dp = dst && dst->storage_class && strcmp(dst->storage_class, PREFIX_MARK) == 0;
        if (sp || dp) {
            if ((src && !sp) || (dst && !dp))
                return FERRY_EPARSE; /* an object and a prefix with one name: impossible */
            return add_partition(s, src, dst);
        }
    }
    return decide(s, kind, src, dst);
}

static void part_maybe_done(part_t *p)
{
    ferry_scan_t *s = p->s;
    if (!(p->l[0].ended && p->l[1].ended) || p->l[0].running || p->l[1].running)
        return;
    size_t peak = ferry_diff_peak(p->diff);
    if (peak > s->rep.peak_buffered)
        s->rep.peak_buffered = peak;
    if (p->root) {
        s->root = NULL;
    } else {
        ferry_list_remove(&p->link);
        s->nactive--;
    }
    part_free(p);
    start_waiting(s);
    maybe_finish(s);
}

/* ---- listing ------------------------------------------------------------------------------- */

static int check_key(lister_t *l, const char *key, size_t len, const char **rel, size_t *rlen)
{
    ferry_scan_t *s = l->p->s;
    size_t bl = s->base_len[l->side];
    if (len < bl || memcmp(key, s->side[l->side].prefix, bl) != 0) {
        scan_fail(s, FERRY_EPARSE,
                  "the %s listing returned \"%.200s\" outside the prefix \"%s\": the store or a "
                  "proxy ignores the prefix parameter; nothing was deleted",
                  side_name(l->side), key, s->side[l->side].prefix);
        return FERRY_EPARSE;
    }
    *rel = key + bl;
    *rlen = len - bl;
    size_t n = len > FERRY_KEY_MAX ? FERRY_KEY_MAX : len;
    memcpy(l->last, key, n);
    l->last[n] = '\0';
    return FERRY_OK;
}

static void order_fail(lister_t *l, int rc)
{
    ferry_scan_t *s = l->p->s;
    if (rc == FERRY_EPARSE)
        scan_fail(s, rc,
                  "the %s listing is out of order or repeats a key near \"%.200s\": a merge-join "
                  "over it would be wrong; the scan stopped and nothing was deleted (is a proxy "
                  "reordering keys?)",
                  side_name(l->side), l->last);
    else if (rc != FERRY_ECANCELED)
        scan_fail(s, rc, "the scan stopped at %s key \"%.200s\": %s", side_name(l->side), l->last,
                  ferry_strerror(rc));
}

static int on_object(void *arg, const ferry_s3xml_object_t *o)
{
    lister_t *l = arg;
    ferry_scan_t *s = l->p->s;
    const char *rel;
    size_t rlen;
    if (s->aborting)
        return FERRY_ECANCELED;
    if (check_key(l, o->key, o->key_len, &rel, &rlen))
        return FERRY_EPARSE;
    l->listed++;
    if (l->side == FERRY_DIFF_SRC) {
        s->rep.src_listed++;
        s->rep.src_listed_bytes += o->size > 0 ? o->size : 0;
    } else {
        s->rep.dst_listed++;
        s->rep.dst_listed_bytes += o->size > 0 ? o->size : 0;
    }
    if (l->p->delim || l->p->root) {
        if (l->npage >= PAGE_CAP)
            return FERRY_ETOOBIG;
        size_t el = strlen(o->etag) + 1, cl = strlen(o->storage_class) + 1;
        page_ent_t *e = malloc(sizeof(*e) + rlen + 1 + el + cl);
        if (e == NULL)
            return FERRY_ENOMEM;
        e->size = o->size > 0 ? (uint64_t)o->size : 0;
        e->mtime_ms = o->last_modified_ms > 0 ? o->last_modified_ms : 0;
        e->is_prefix = 0;
        e->len = rlen;
        memcpy(e->key, rel, rlen);
        e->key[rlen] = '\0';
        e->etag = e->key + rlen + 1;
        memcpy(e->etag, o->etag, el);
        e->sclass = e->etag + el;
        memcpy(e->sclass, o->storage_class, cl);
        l->page[l->npage++] = e;
        return FERRY_OK;
    }
    ferry_obj_t ob = {rel,
                      rlen,
                      o->size > 0 ? (uint64_t)o->size : 0,
                      o->last_modified_ms > 0 ? o->last_modified_ms : 0,
                      o->etag,
                      o->storage_class};
    int rc = ferry_diff_push(l->p->diff, l->side, &ob);
    if (rc)
        order_fail(l, rc);
    return rc;
}

static int on_prefix(void *arg, const char *prefix, size_t len)
{
    lister_t *l = arg;
    const char *rel;
    size_t rlen;
    if (l->p->s->aborting)
        return FERRY_ECANCELED;
    if (!l->p->delim)
        return FERRY_OK;
    if (check_key(l, prefix, len, &rel, &rlen))
        return FERRY_EPARSE;
    if (l->npage >= PAGE_CAP)
        return FERRY_ETOOBIG;
    page_ent_t *e = malloc(sizeof(*e) + rlen + 1);
    if (e == NULL)
        return FERRY_ENOMEM;
    memset(e, 0, sizeof(*e));
    e->is_prefix = 1;
    e->len = rlen;
    memcpy(e->key, rel, rlen);
    e->key[rlen] = '\0';
    l->page[l->npage++] = e;
    return FERRY_OK;
}

static int page_cmp(const void *a, const void *b)
{
    const page_ent_t *x = *(page_ent_t *const *)a, *y = *(page_ent_t *const *)b;
    return ferry_key_cmp(x->key, x->len, y->key, y->len);
}

/* Root pages: objects and prefixes come as two sorted runs; merge them by sorting. */
static int push_page(lister_t *l)
{
    int rc = FERRY_OK;
    qsort(l->page, l->npage, sizeof(*l->page), page_cmp);
    for (size_t i = 0; i < l->npage; i++) {
        page_ent_t *e = l->page[i];
        if (rc == FERRY_OK) {
            ferry_obj_t ob = {e->key,
                              e->len,
                              e->size,
                              e->mtime_ms,
                              e->is_prefix ? NULL : e->etag,
                              e->is_prefix ? PREFIX_MARK : e->sclass};
            rc = ferry_diff_push(l->p->diff, l->side, &ob);
            if (rc)
                order_fail(l, rc);
        }
        free(e);
        l->page[i] = NULL;
    }
    l->npage = 0;
    return rc;
}

static void step_done(void *arg, const ferry_s3_result_t *res)
{
    lister_t *l = arg;
    part_t *p = l->p;
    ferry_scan_t *s = p->s;
    /* running stays set while the page is processed: emitting a partition kicks the root
     * listers, and this one must not start its next page before its marker is saved. */
    l->op = NULL;
    s->ops--;
    if (res->rc != FERRY_OK && !s->aborting) {
        char where[1300];
        snprintf(where, sizeof(where), "%s%s", s->side[l->side].where,
                 p->prefix[0] ? p->prefix : "");
        scan_fail(s, res->rc,
                  "listing the %s %s failed after %lld objects%s%.200s%s: %s — nothing was "
                  "deleted; fix the cause and run the scan again",
                  side_name(l->side), where, l->listed, l->last[0] ? " (last key \"" : "", l->last,
                  l->last[0] ? "\")" : "",
                  res->err.msg[0] ? res->err.msg : ferry_strerror(res->rc));
    }
    if (!s->aborting && (p->delim || p->root) && push_page(l) != FERRY_OK && !s->aborting)
        scan_fail(s, FERRY_EPARSE, "the root listing could not be merged");
    if (!s->aborting) {
        if (res->truncated) {
            char **slot = res->next_token[0] ? &l->token : &l->marker;
            const char *v = res->next_token[0] ? res->next_token : res->next_marker;
            free(l->token);
            free(l->marker);
            l->token = l->marker = NULL;
            if (!v[0])
                scan_fail(s, FERRY_EPARSE,
                          "the %s listing said it was truncated but gave no marker to go on "
                          "from: nothing was deleted",
                          side_name(l->side));
            else if ((*slot = strdup(v)) == NULL)
                scan_fail(s, FERRY_ENOMEM, "out of memory");
        } else {
            side_end(l);
        }
    }
    l->running = 0;
    if (s->o.on_progress && !s->aborting && s->o.on_progress(s->o.ud, &s->rep))
        ferry_scan_cancel(s, "canceled by the caller");
    if (s->aborting) {
        /* partitions stay until ferry_scan_free */
        maybe_finish(s);
        return;
    }
    kick(&p->l[0]);
    kick(&p->l[1]);
    part_maybe_done(p);
}

static void kick(lister_t *l)
{
    part_t *p = l->p;
    ferry_scan_t *s = p->s;
    if (l->ended || l->running || s->aborting || s->finishing || s->paused_backlog)
        return;
    if (ferry_diff_buffered(p->diff, l->side) > s->o.diff_buffer)
        return; /* this side runs ahead: wait for the other */
    if (p->delim && s->nqueued >= PART_QUEUE_MAX)
        return;
    char prefix[FERRY_KEY_MAX * 2 + 2];
    snprintf(prefix, sizeof(prefix), "%s%s", s->side[l->side].prefix, p->prefix);
    ferry_s3_list_args_t a;
    memset(&a, 0, sizeof(a));
    a.bucket = s->side[l->side].bucket;
    a.prefix = prefix[0] ? prefix : NULL;
    a.delimiter = p->delim ? "/" : NULL;
    a.token = l->token;
    a.start_after = l->token ? NULL : l->marker;
    a.max_keys = s->o.max_keys;
    a.max_pages = 1;
    a.guard = l->guard;
    a.on_object = on_object;
    a.on_prefix = on_prefix;
    a.arg = l;
    ferry_error_t err;
    l->running = 1;
    s->ops++;
    int rc = ferry_s3_list(s->c[l->side], &a, step_done, l, &l->op, &err);
    if (rc) {
        l->running = 0;
        s->ops--;
        scan_fail(s, rc, "could not list the %s %s: %s", side_name(l->side), s->side[l->side].where,
                  err.msg);
        maybe_finish(s);
    }
}

static void kick_all(ferry_scan_t *s)
{
    if (s->root) {
        kick(&s->root->l[0]);
        kick(&s->root->l[1]);
    }
    ferry_list_t *it;
    FERRY_LIST_FOREACH (it, &s->active) {
        part_t *p = FERRY_LIST_ENTRY(it, part_t, link);
        kick(&p->l[0]);
        kick(&p->l[1]);
    }
}

static void scan_cancel_ops(ferry_scan_t *s)
{
    if (s->root)
        for (int i = 0; i < 2; i++)
            if (s->root->l[i].running && s->root->l[i].op)
                ferry_s3_cancel(s->root->l[i].op);
    ferry_list_t *it;
    FERRY_LIST_FOREACH (it, &s->active) {
        part_t *p = FERRY_LIST_ENTRY(it, part_t, link);
        for (int i = 0; i < 2; i++)
            if (p->l[i].running && p->l[i].op)
                ferry_s3_cancel(p->l[i].op);
    }
    maybe_finish(s);
}

/* ---- backpressure and the lease ------------------------------------------------------------ */

static void on_backlog_timer(uv_timer_t *h)
{
    ferry_scan_t *s = h->data;
    long long bulk = 0;
    if (s->aborting || s->finishing) {
        uv_timer_stop(h);
        return;
    }
    if (ferry_queue_backlog(s->led, NULL, &bulk, NULL) != FERRY_OK) {
        redis_fail(s, "reading the backlog");
        return;
    }
    if (bulk <= s->o.max_backlog / 2) {
        s->paused_backlog = 0;
        uv_timer_stop(h);
        ferry_log(FERRY_LOG_INFO, "scan.resume", "task", s->t.name, NULL);
        kick_all(s);
    }
}

static int check_backlog(ferry_scan_t *s)
{
    long long bulk = 0;
    if (s->o.max_backlog < 0 || s->o.dry_run || s->paused_backlog)
        return FERRY_OK;
    if (ferry_queue_backlog(s->led, NULL, &bulk, NULL) != FERRY_OK)
        return redis_fail(s, "reading the backlog");
    if (bulk > s->o.max_backlog) {
        char b[24];
        snprintf(b, sizeof(b), "%lld", bulk);
        ferry_log(FERRY_LOG_INFO, "scan.pause", "task", s->t.name, "backlog", b, NULL);
        s->paused_backlog = 1;
        s->rep.pauses++;
        uv_timer_start(&s->t_backlog, on_backlog_timer, 250, 250);
    }
    return FERRY_OK;
}

static void scan_on_attempt(void *ud, const char *op, long status)
{
    scan_obs_t *o = ud;
    ferry_stats_count(o->s->stats, "requests", o->side, op, ferry_stats_status_class(status), 1);
}

static void scan_on_retry(void *ud, const char *op, ferry_retry_class_t cls)
{
    scan_obs_t *o = ud;
    ferry_stats_count(o->s->stats, "request_retries", o->side, op, ferry_retry_class_name(cls), 1);
}

static void stats_flush(ferry_scan_t *s)
{
    if (s->stats && ferry_stats_flush(s->stats, s->r) != FERRY_OK)
        ferry_log(FERRY_LOG_WARN, "scan.stats_flush_failed", "task", s->t.name, "error",
                  ferry_redis_error(s->r)->msg, NULL);
}

static void on_lease_timer(uv_timer_t *h)
{
    ferry_scan_t *s = h->data;
    if (s->aborting || s->finishing)
        return;
    stats_flush(s);
    int rc = ferry_lease_renew(s->o.lease);
    if (rc == FERRY_EBUSY)
        scan_fail(s, rc,
                  "lost the scan lease of task %s (another scheduler took it over after a "
                  "stall): the scan stopped and nothing was deleted",
                  s->t.name);
    else if (rc)
        redis_fail(s, "renewing the scan lease");
}

/* ---- the end ------------------------------------------------------------------------------- */

static void apply_deletes(ferry_scan_t *s)
{
    if (!s->t.delete_)
        return;
    if (s->rep.src_listed == 0 && s->rep.dst_listed > 0 && !s->o.allow_empty_source) {
        snprintf(s->rep.guard, sizeof(s->rep.guard),
                 "the source listing is empty while the destination holds %lld objects: nothing "
                 "was deleted (if the source really is empty, pass --allow-empty-source)",
                 s->rep.dst_listed);
        ferry_log(FERRY_LOG_WARN, "scan.guard", "task", s->t.name, "reason", s->rep.guard, NULL);
        return;
    }
    if (s->o.dry_run)
        return;
    for (;;) {
        redisReply *rep = NULL;
        char cnt[16];
        snprintf(cnt, sizeof(cnt), "%d", s->o.batch);
        const char *argv[3] = {"LPOP", s->spool, cnt};
        if (ferry_redis_argv(s->r, 3, argv, NULL, &rep) != FERRY_OK) {
            redis_fail(s, "reading the delete spool");
            return;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
            freeReplyObject(rep);
            return;
        }
        size_t n = rep->elements;
        for (size_t i = 0; i < n; i++) {
            memset(&s->items[i], 0, sizeof(s->items[i]));
            s->items[i].key = rep->element[i]->str;
            s->items[i].origin = FERRY_ORIGIN_SCAN;
            s->items[i].op_delete = 1;
        }
        int rc = ferry_ledger_enqueue(s->led, FERRY_QUEUE_BULK, s->items, n, s->results);
        for (size_t i = 0; rc == FERRY_OK && i < n; i++)
            if (s->results[i] == FERRY_ENQ_QUEUED)
                s->rep.to_delete++;
        freeReplyObject(rep);
        if (rc) {
            redis_fail(s, "enqueueing deletes");
            return;
        }
    }
}

static void drop_spool(ferry_scan_t *s)
{
    redisReply *rep = NULL;
    const char *argv[2] = {"DEL", s->spool};
    if (!s->o.dry_run && ferry_redis_argv(s->r, 2, argv, NULL, &rep) == FERRY_OK)
        freeReplyObject(rep);
}

static void closing_step(ferry_scan_t *s)
{
    if (--s->closing == 0) {
        s->finished = 1;
        s->done(s->ud, &s->rep);
    }
}

static void on_closed(uv_handle_t *h)
{
    closing_step(h->data);
}

static void on_client_closed(void *arg)
{
    closing_step(arg);
}

static void maybe_finish(ferry_scan_t *s)
{
    if (s->finishing || s->ops > 0)
        return;
    if (!s->aborting && (s->root || !ferry_list_empty(&s->active) || s->qhead))
        return;
    s->finishing = 1;
    if (!s->aborting) {
        if (flush(s) == FERRY_OK && spool_flush(s) == FERRY_OK && !s->aborting)
            apply_deletes(s);
    }
    if (s->aborting && s->t.delete_ && !s->rep.guard[0])
        snprintf(s->rep.guard, sizeof(s->rep.guard),
                 "the scan did not complete: nothing was deleted");
    drop_spool(s);
    if (!s->rep.dry_run) { /* the task's done objects that no source-side check covers */
        ferry_counters_t cnt;
        if (ferry_ledger_counters(s->led, &cnt) == FERRY_OK)
            s->rep.unverified = cnt.unverified;
    }
    s->rep.finished_ms = ferry_wall_ms();
    stats_flush(s);
    if (s->rep.peak_buffered == 0 && s->root)
        s->rep.peak_buffered = ferry_diff_peak(s->root->diff);
    {
        char line[900];
        ferry_scan_report_line(&s->rep, line, sizeof(line));
        ferry_log(s->rep.rc ? FERRY_LOG_WARN : FERRY_LOG_INFO, "scan.end", "task", s->t.name,
                  "report", line, NULL);
    }
    /* Close: two clients, three timers; done runs from the last close. */
    s->closing = 5;
    uv_timer_stop(&s->t_backlog);
    uv_timer_stop(&s->t_lease);
    uv_close((uv_handle_t *)&s->t_backlog, on_closed);
    uv_close((uv_handle_t *)&s->t_lease, on_closed);
    uv_close((uv_handle_t *)&s->t_abort, on_closed);
    ferry_s3_free(s->c[0], on_client_closed, s);
    ferry_s3_free(s->c[1], on_client_closed, s);
    s->c[0] = s->c[1] = NULL;
}

/* ---- public -------------------------------------------------------------------------------- */

static int resolve_side(const ferry_task_side_t *ts, ferry_side_kind_t kind, ferry_side_t *out,
                        ferry_error_t *err)
{
    ferry_side_spec_t sp;
    const ferry_location_t *loc = &ts->parsed; /* filled by parse_args and registry reads */
    memset(&sp, 0, sizeof(sp));
    sp.kind = kind;
    sp.scheme = ferry_scheme_name(loc->scheme);
    sp.bucket = loc->bucket;
    sp.prefix = loc->prefix;
    sp.endpoint = ts->endpoint;
    sp.region = ts->region;
    sp.path_style = ts->path_style;
    sp.profile = ts->profile;
    sp.checksum = ts->checksum;
    return ferry_side_resolve(&sp, out, err);
}

static int copy_task(ferry_task_t *dst, const ferry_task_t *src)
{
    *dst = *src;
    dst->n_include = dst->n_exclude = 0;
    for (int i = 0; i < src->n_include; i++)
        if ((dst->include[dst->n_include++] = strdup(src->include[i])) == NULL)
            return FERRY_ENOMEM;
    for (int i = 0; i < src->n_exclude; i++)
        if ((dst->exclude[dst->n_exclude++] = strdup(src->exclude[i])) == NULL)
            return FERRY_ENOMEM;
    return FERRY_OK;
}

int ferry_scan_check(const ferry_task_t *t, ferry_error_t *err)
{
    ferry_side_t sd[2];
    int rc = resolve_side(&t->src, FERRY_SIDE_SRC, &sd[0], err);
    if (rc == FERRY_OK)
        rc = resolve_side(&t->dst, FERRY_SIDE_DST, &sd[1], err);
    ferry_side_wipe(&sd[0]);
    ferry_side_wipe(&sd[1]);
    return rc;
}

void ferry_scan_free(ferry_scan_t *s)
{
    if (s == NULL)
        return;
    ferry_stats_free(s->stats);
    part_free(s->root);
    while (!ferry_list_empty(&s->active)) {
        part_t *p = FERRY_LIST_ENTRY(ferry_list_first(&s->active), part_t, link);
        ferry_list_remove(&p->link);
        part_free(p);
    }
    while (s->qhead) {
        part_t *n = s->qhead->next;
        part_free(s->qhead);
        s->qhead = n;
    }
    for (size_t i = 0; i < s->ndel; i++)
        free(s->dels[i]);
    free(s->dels);
    free(s->cands);
    free(s->recs);
    free(s->found);
    free(s->keys);
    free(s->items);
    free(s->results);
    free(s->ikind);
    free(s->sitems);
    free(s->sreasons);
    free(s->sresults);
    ferry_ledger_free(s->led);
    ferry_side_wipe(&s->side[0]);
    ferry_side_wipe(&s->side[1]);
    ferry_task_clear(&s->t);
    free(s);
}

int ferry_scan_start(uv_loop_t *loop, ferry_redis_t *r, const ferry_task_t *t,
                     const ferry_scan_opts_t *opts, ferry_scan_done_fn done, void *ud,
                     ferry_scan_t **out, ferry_error_t *err)
{
    int rc = FERRY_OK;
    ferry_scan_t *s = calloc(1, sizeof(*s));
    if (s)
        ferry_list_init(&s->active);
    *out = NULL;
    if (s == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_task_init(&s->t);
    if (copy_task(&s->t, t)) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    s->loop = loop;
    s->r = r;
    s->done = done;
    s->ud = ud;
    if (opts)
        s->o = *opts;
    if (s->o.parallel <= 0)
        s->o.parallel = 8;
    if (s->o.diff_buffer == 0)
        s->o.diff_buffer = 5000;
    if (s->o.max_backlog == 0)
        s->o.max_backlog = 500000;
    if (s->o.batch <= 0 || s->o.batch > 4096)
        s->o.batch = 512;
    /* The listing strategy: partitions by delimiter only when both sides are trusted with
     * delimiter listings (the task's --src-listing / --dst-listing, else the scheme's default);
     * a store that drops a CommonPrefix would otherwise hide every key under it. Set below,
     * once the profiles are resolved. */
    if (s->o.split_depth <= 0)
        s->o.split_depth = 2;
    /* Size/age filters: the task's, each bound replaced by the caller's when the caller gives
     * one (ferry task run / ferry scheduler command-line options win for that scan). */
    if (s->o.min_size == 0)
        s->o.min_size = t->min_size;
    if (s->o.max_size == 0)
        s->o.max_size = t->max_size;
    if (s->o.min_age_ms == 0)
        s->o.min_age_ms = t->min_age_ms;
    if (s->o.max_age_ms == 0)
        s->o.max_age_ms = t->max_age_ms;
    if (s->o.max_size && s->o.min_size > s->o.max_size) {
        rc = ferry_error_set(err, FERRY_EINVAL,
                             "--min-size (%" PRIu64 " bytes) exceeds --max-size (%" PRIu64
                             " bytes), counting task %s's stored values: nothing would be copied",
                             s->o.min_size, s->o.max_size, t->name);
        goto fail;
    }
    if (s->o.max_age_ms && s->o.min_age_ms > s->o.max_age_ms) {
        rc = ferry_error_set(err, FERRY_EINVAL,
                             "--min-age (%" PRId64 " ms) exceeds --max-age (%" PRId64
                             " ms), counting task %s's stored values: nothing would be copied",
                             s->o.min_age_ms, s->o.max_age_ms, t->name);
        goto fail;
    }
    snprintf(s->rep.task, sizeof(s->rep.task), "%s", t->name);
    s->rep.started_ms = ferry_wall_ms();
    s->rep.dry_run = s->o.dry_run;
    rc = resolve_side(&t->src, FERRY_SIDE_SRC, &s->side[0], err);
    if (rc == FERRY_OK)
        rc = resolve_side(&t->dst, FERRY_SIDE_DST, &s->side[1], err);
    if (rc)
        goto fail;
    for (int i = 0; i < 2; i++)
        s->base_len[i] = strlen(s->side[i].prefix);
    if (s->o.split == 0) {
        int flat = 0;
        const ferry_task_side_t *ts[2] = {&t->src, &t->dst};
        for (int i = 0; i < 2; i++)
            flat |= ts[i]->listing == 2 ||
                    (ts[i]->listing == 0 && !s->side[i].profile.listing_delimiter_ok);
        s->o.split = flat ? -1 : 1;
    }
    s->rep.flat = s->o.split < 0;
    rc = ferry_ledger_open_sharded(r, t->name, t->ledger_buckets, t->ledger_shards, &s->led);
    if (rc) {
        ferry_error_set(err, rc, "cannot open the ledger of task %s", t->name);
        goto fail;
    }
    size_t b = (size_t)s->o.batch;
    s->cands = calloc(b, sizeof(*s->cands));
    s->recs = calloc(b, sizeof(*s->recs));
    s->found = calloc(b, sizeof(*s->found));
    s->keys = calloc(b, sizeof(*s->keys));
    s->items = calloc(b, sizeof(*s->items));
    s->results = calloc(b, sizeof(*s->results));
    s->ikind = calloc(b, sizeof(*s->ikind));
    s->dels = calloc(b, sizeof(*s->dels));
    s->sitems = calloc(b, sizeof(*s->sitems));
    s->sreasons = calloc(b, sizeof(*s->sreasons));
    s->sresults = calloc(b, sizeof(*s->sresults));
    if (!s->cands || !s->recs || !s->found || !s->keys || !s->items || !s->results || !s->ikind ||
        !s->dels || !s->sitems || !s->sreasons || !s->sresults) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(s->spool, sizeof(s->spool), "ferry:{%s}:scan:del:%llx", t->name,
             (unsigned long long)s->rep.started_ms ^ ((unsigned long long)getpid() << 32));
    if (ferry_stats_new(t->name, &s->stats) != FERRY_OK)
        s->stats = NULL; /* out of memory: the scan runs without request counts */
    for (int i = 0; i < 2; i++) {
        ferry_s3_config_t cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.profile = &s->side[i].profile;
        cfg.creds = ferry_creds_view(&s->side[i].creds);
        cfg.role = i == 0 ? "source" : "destination";
        s->obs[i] = (scan_obs_t){s, i == 0 ? "src" : "dst"};
        if (s->stats) {
            cfg.on_attempt = scan_on_attempt;
            cfg.on_retry = scan_on_retry;
            cfg.observe_ud = &s->obs[i];
        }
        rc = ferry_s3_new(loop, &cfg, &s->c[i], err);
        if (rc)
            goto fail;
    }
    s->src_prof = ferry_s3_profile(s->c[0]);
    s->root = part_new(s, "", 0, 1);
    if (s->root == NULL) {
        rc = ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        goto fail;
    }
    uv_timer_init(loop, &s->t_abort);
    uv_timer_init(loop, &s->t_backlog);
    uv_timer_init(loop, &s->t_lease);
    s->t_abort.data = s->t_backlog.data = s->t_lease.data = s;
    if (s->o.lease) {
        uint64_t every = (uint64_t)(s->o.lease->ttl_ms / 3 > 0 ? s->o.lease->ttl_ms / 3 : 1000);
        uv_timer_start(&s->t_lease, on_lease_timer, every, every);
    }
    ferry_log(FERRY_LOG_INFO, "scan.start", "task", t->name, "from", s->side[0].where, "to",
              s->side[1].where, "listing", s->rep.flat ? "flat" : "delimiter", NULL);
    *out = s;
    kick(&s->root->l[0]);
    kick(&s->root->l[1]);
    return FERRY_OK;
fail:
    for (int i = 0; i < 2; i++)
        if (s->c[i]) {
            ferry_s3_free(s->c[i], NULL, NULL);
            s->c[i] = NULL;
        }
    ferry_scan_free(s);
    return rc;
}

void ferry_scan_cancel(ferry_scan_t *s, const char *why)
{
    if (s == NULL || s->finishing)
        return;
    scan_fail(s, FERRY_ECANCELED, "scan canceled (%s): nothing was deleted",
              why ? why : "by request");
}

const ferry_scan_report_t *ferry_scan_progress(const ferry_scan_t *s)
{
    return &s->rep;
}

typedef struct {
    ferry_scan_report_t *rep;
    int done;
} run_ctx_t;

static void run_done(void *ud, const ferry_scan_report_t *r)
{
    run_ctx_t *x = ud;
    *x->rep = *r;
    x->done = 1;
}

int ferry_scan_run(ferry_redis_t *r, const ferry_task_t *t, const ferry_scan_opts_t *opts,
                   ferry_scan_report_t *rep, ferry_error_t *err)
{
    uv_loop_t loop;
    run_ctx_t x = {rep, 0};
    memset(rep, 0, sizeof(*rep));
    if (uv_loop_init(&loop))
        return ferry_error_set(err, FERRY_ENOMEM, "cannot make an event loop");
    ferry_scan_t *s = NULL;
    int rc = ferry_scan_start(&loop, r, t, opts, run_done, &x, &s, err);
    if (rc == FERRY_OK) {
        uv_run(&loop, UV_RUN_DEFAULT);
        rc = x.done ? rep->rc : FERRY_EIO;
        ferry_scan_free(s);
    } else {
        snprintf(rep->task, sizeof(rep->task), "%s", t->name);
        rep->rc = rc;
        snprintf(rep->error, sizeof(rep->error), "%s", err->msg);
        uv_run(&loop, UV_RUN_DEFAULT); /* let failed clients close */
    }
    uv_loop_close(&loop);
    return rc;
}

/* ---- reports and history ------------------------------------------------------------------- */

json_t *ferry_scan_report_json(const ferry_scan_report_t *r)
{
    char st[40], fin[40];
    ferry_time_format(r->started_ms / 1000, st, sizeof(st));
    ferry_time_format(r->finished_ms / 1000, fin, sizeof(fin));
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "task", json_string(r->task));
    json_object_set_new(o, "started_at", json_string(st));
    json_object_set_new(o, "finished_at", json_string(fin));
    json_object_set_new(o, "duration_ms", json_integer(r->finished_ms - r->started_ms));
    json_object_set_new(o, "ok", json_boolean(r->rc == FERRY_OK));
    json_object_set_new(o, "listed_src", json_integer(r->src_listed));
    json_object_set_new(o, "listed_dst", json_integer(r->dst_listed));
    json_object_set_new(o, "new", json_integer(r->new_));
    json_object_set_new(o, "changed", json_integer(r->changed));
    json_object_set_new(o, "unchanged", json_integer(r->unchanged));
    json_object_set_new(o, "skipped", json_integer(r->skipped));
    json_object_set_new(o, "skipped_archive", json_integer(r->skipped_archive));
    json_object_set_new(o, "unverified", json_integer(r->unverified));
    json_object_set_new(o, "in_flight", json_integer(r->in_flight));
    json_object_set_new(o, "stale", json_integer(r->stale));
    json_object_set_new(o, "queued", json_integer(r->queued));
    json_object_set_new(o, "bytes", json_integer(r->queued_bytes));
    json_object_set_new(o, "extra", json_integer(r->extra));
    json_object_set_new(o, "to_delete", json_integer(r->to_delete));
    json_object_set_new(o, "partitions", json_integer(r->partitions));
    json_object_set_new(o, "backlog_pauses", json_integer(r->pauses));
    json_object_set_new(o, "peak_buffered", json_integer((json_int_t)r->peak_buffered));
    if (r->dry_run)
        json_object_set_new(o, "dry_run", json_true());
    json_object_set_new(o, "listing", json_string(r->flat ? "flat" : "delimiter"));
    json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
    if (r->guard[0])
        json_object_set_new(o, "delete_guard", json_string(r->guard));
    if (r->skip_example[0])
        json_object_set_new(o, "skip_example", json_string(r->skip_example));
    return o;
}

int ferry_scan_history_add(ferry_redis_t *r, const ferry_scan_report_t *rep)
{
    if (!ferry_task_name_valid(rep->task))
        return FERRY_EINVAL;
    json_t *j = ferry_scan_report_json(rep);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL)
        return FERRY_ENOMEM;
    char key[128], last[128], when[24];
    snprintf(key, sizeof(key), "ferry:{%s}:scans", rep->task);
    snprintf(last, sizeof(last), "ferry:{%s}:scan:last", rep->task);
    snprintf(when, sizeof(when), "%lld", (long long)rep->finished_ms);
    const char *a1[3] = {"LPUSH", key, s};
    const char *a2[4] = {"LTRIM", key, "0", "49"};
    const char *a3[3] = {"SET", last, when};
    redisReply *x = NULL;
    int rc = ferry_redis_argv(r, 3, a1, NULL, &x);
    if (rc == FERRY_OK) {
        freeReplyObject(x);
        rc = ferry_redis_argv(r, 4, a2, NULL, &x);
    }
    if (rc == FERRY_OK) {
        freeReplyObject(x);
        x = NULL;
        /* a dry run decides nothing: it does not push the schedule's next scan back */
        if (!rep->dry_run)
            rc = ferry_redis_argv(r, 3, a3, NULL, &x);
    }
    if (rc == FERRY_OK && x)
        freeReplyObject(x);
    free(s);
    /* ferry_scan_duration_seconds (the histogram keeps every scan, the history the newest 50) */
    if (rc == FERRY_OK && rep->finished_ms >= rep->started_ms && rep->started_ms > 0)
        rc = ferry_stats_observe_now(r, rep->task, FERRY_HIST_SCAN_SECONDS,
                                     (double)(rep->finished_ms - rep->started_ms) / 1000.0);
    return rc;
}

int ferry_scan_history(ferry_redis_t *r, const char *task, size_t n, json_t **out)
{
    *out = NULL;
    if (!ferry_task_name_valid(task))
        return FERRY_EINVAL;
    char key[128], stop[24];
    snprintf(key, sizeof(key), "ferry:{%s}:scans", task);
    snprintf(stop, sizeof(stop), "%zu", n ? n - 1 : 0);
    const char *argv[4] = {"LRANGE", key, "0", stop};
    redisReply *rep = NULL;
    int rc = ferry_redis_argv(r, 4, argv, NULL, &rep);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; arr && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len > 65536)
            continue;
        json_t *j = json_loadb(e->str, e->len, 0, NULL);
        if (j)
            json_array_append_new(arr, j);
    }
    freeReplyObject(rep);
    if (arr == NULL)
        return FERRY_ENOMEM;
    *out = arr;
    return FERRY_OK;
}

void ferry_scan_report_line(const ferry_scan_report_t *r, char *buf, size_t n)
{
    double secs = (double)(r->finished_ms - r->started_ms) / 1000.0;
    snprintf(buf, n,
             "listed %lld source / %lld destination objects: %lld new, %lld changed, %lld "
             "unchanged, %lld skipped, %lld already queued; queued %lld jobs (%lld bytes), %lld "
             "deletes, %lld done without a source check (src:unverified), in %.1fs%s%.300s",
             r->src_listed, r->dst_listed, r->new_, r->changed, r->unchanged, r->skipped,
             r->in_flight, r->queued, r->queued_bytes, r->to_delete, r->unverified,
             secs < 0 ? 0.0 : secs, r->rc ? " — FAILED: " : "", r->rc ? r->error : "");
}
