/* ferry worker — the copy of one object: its phases and its one ending (see copy.h, copy_int.h
 * and docs/internals/worker.md "The copy of one object").
 *
 * ferry_copy_start
 *   | size hint <= ring and threshold, not server-side, no resume id
 *   +--> GET1: the object whole, in memory, no HEAD --> plan (single), choose checks --+
 *   |      | larger than the hint, a GET error, a hex-N ETag                          |
 *   v      v                                                                          |
 *  HEAD <--+   (a 400 to x-amz-checksum-mode: HEAD again without it)                  |
 *   | 404 --> PROBE (1-byte GET: NoSuchKey SKIPPED, NoSuchBucket FAILED) --> END      |
 *   | hex-N ETag --> HEAD ?partNumber=1 (the source's part size)                      |
 *   v                                                                                 |
 *  plan, choose checks (--require-source-check, no source check possible: FAILED)     |
 *   +- server copy --> SCOPY (CopyObject) -------------------------------> RECHECK    |
 *   +- single -------> PARTS (one unit: GET -> PUT) --> committed -------> RECHECK    |
 *   |                  PARTS (one buffered unit: PUT from memory) <-------------------+
 *   +- multipart, server parts:
 *        resume id --> LISTPARTS --+-- upload gone -----------------------> CREATE
 *                                  +-- made in the other checksum mode --> ABORT --> CREATE
 *        no resume id ----------------------------------------------------> CREATE
 *        CREATE --> PARTS (units, parts_per_job at most) --> committed --> COMPLETE --> RECHECK
 *  RECHECK: HEAD the source again (changed after the copy?) --> END: done is called, once.
 *  Any failure: copy_fail stops every unit and request; once none is left, conclude_failure
 *    --> ABORT (an open upload, unless canceled: it stays for a resume) --> END.
 */
#include "copy_int.h"

#include "ferry/log.h"
#include "ferry/task.h"
#include "ferry/text.h"

#include <stdarg.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conclude_failure(ferry_copy_t *c);
static void recheck_done(void *arg, const ferry_s3_result_t *r);
static void create_done(void *arg, const ferry_s3_result_t *r);

int64_t ferry_copy_http_time(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    time_t t = curl_getdate(s, NULL);
    return t < 0 ? 0 : (int64_t)t;
}

uint64_t copy_now_ms(ferry_copy_t *c)
{
    return uv_now(c->env.loop);
}

ferry_copy_status_t copy_classify(int rc, const ferry_error_t *e)
{
    switch (rc) {
    case FERRY_EDENIED:
    case FERRY_EAUTH:
    case FERRY_EINVAL:
    case FERRY_ECONFIG:
    case FERRY_ERANGE:
    case FERRY_EUNSUPPORTED:
    case FERRY_ENOTFOUND:
    case FERRY_ETOOBIG:
        return FERRY_COPY_FAILED;
    case FERRY_ES3:
        return (e->http_status >= 500 || e->http_status == 0) ? FERRY_COPY_RETRY
                                                              : FERRY_COPY_FAILED;
    default:
        return FERRY_COPY_RETRY;
    }
}

void copy_add_check(ferry_copy_t *c, const char *what)
{
    size_t l = strlen(c->res.checks);
    if (strstr(c->res.checks, what) != NULL || l + 1 >= sizeof(c->res.checks))
        return;
    if (l) /* "%s%s" of "," and what, without snprintf: this runs a few times per object */
        ferry_str_cat(c->res.checks, sizeof(c->res.checks), &l, ",", 1);
    ferry_str_cat(c->res.checks, sizeof(c->res.checks), &l, what, strlen(what));
}

void copy_args_base(ferry_copy_t *c, ferry_s3_args_t *a, int dst)
{
    ferry_s3_args_init(a);
    if (dst) {
        a->bucket = c->env.dst_bucket;
        a->key = c->dst_key;
        a->key_len = c->dst_len;
    } else {
        a->bucket = c->env.src_bucket;
        a->key = c->src_key;
        a->key_len = c->src_len;
    }
}

void copy_args_copy_source(ferry_copy_t *c, ferry_s3_args_t *a)
{
    a->copy_bucket = c->env.src_bucket;
    a->copy_key = c->src_key;
    a->copy_key_len = c->src_len;
}

static void on_timer(uv_timer_t *t)
{
    ferry_copy_t *c = t->data;
    c->timer_armed = 0;
    copy_pump(c);
}

void copy_kick(ferry_copy_t *c)
{
    if (c->phase == PH_END)
        return;
    uv_timer_stop(&c->timer);
    c->timer_armed = 1;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

static void after_close(uv_handle_t *h)
{
    ferry_copy_t *c = h->data;
    copy_md5_end(c);
    for (size_t i = 0; i < c->nh; i++) {
        free(c->hname[i]);
        free(c->hval[i]);
    }
    if (c->parts)
        for (uint32_t i = 0; i < c->plan.parts; i++) {
            free(c->parts[i].etag);
            free(c->parts[i].listed_etag);
        }
    free(c->parts);
    free(c->qblk);
    free(c->mpd);
    free(c->mpc);
    free(c->fbuf);
    free(c->src_key);
    free(c->dst_key);
    free(c);
}

/* The one ending of a copy: record how it ended (st, and err unless NULL: then the error set
 * before stands), report done, free the copy once the timer has closed. Every path ends here
 * exactly once; after it the copy must not be touched. */
void copy_finish(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *err)
{
    c->res.status = st;
    if (err != NULL)
        c->res.err = *err;
    if (c->res.status == FERRY_COPY_DONE && strstr(c->res.checks, "src:") == NULL) {
        /* No source check ran: say so; never a silent skip. */
        copy_add_check(c, "src:unverified");
        c->res.src_unverified = 1;
        if (c->env.require_source_check) {
            c->res.status = FERRY_COPY_FAILED;
            ferry_error_set(&c->res.err, FERRY_EUNSUPPORTED, "%s", REQUIRE_MSG);
        }
    }
    c->phase = PH_END;
    copy_pool_unwait(c);
    copy_md5_end(c); /* what an ordered MD5 held */
    uv_timer_stop(&c->timer);
    c->done(c->arg, &c->res);
    uv_close((uv_handle_t *)&c->timer, after_close);
}

/* copy_finish with a sentence: code and printf-style message. */
void copy_finish_msg(ferry_copy_t *c, ferry_copy_status_t st, int code, const char *fmt, ...)
{
    ferry_error_t e;
    char msg[sizeof(e.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ferry_error_set(&e, code, "%s", msg);
    copy_finish(c, st, &e);
}

/* A request could not start or failed: end as copy_classify() says. */
void copy_finish_error(ferry_copy_t *c, int rc, const ferry_error_t *e)
{
    copy_finish(c, copy_classify(rc, e), e);
}

/* The source answered 404 to a request with a body: no bucket is FAILED (what to fix is in
 * the store's sentence), no key is SKIPPED (nothing to copy). */
void copy_finish_not_found(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    if (strcmp(r->err.s3_code, "NoSuchBucket") == 0)
        copy_finish(c, FERRY_COPY_FAILED, &r->err);
    else
        copy_finish_msg(c, FERRY_COPY_SKIPPED, FERRY_ENOTFOUND,
                        "the source object is gone (404 NoSuchKey): nothing to copy");
}

/* A single-request phase failed: record why (canceled, or as classified) and end the copy. */
void copy_finish_op_error(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    copy_finish(c, c->canceled ? FERRY_COPY_CANCELED : copy_classify(r->rc, &r->err), &r->err);
}

/* An AbortMultipartUpload answered: c->op is free; a failure is logged (the janitor finds the
 * upload later). 1 when the upload is gone. */
static int abort_answered(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    c->op = NULL;
    if (r->rc != FERRY_OK && r->rc != FERRY_ENOTFOUND) {
        ferry_log(FERRY_LOG_WARN, "copy.abort_failed", "key", c->dst_key, "error", r->err.msg,
                  NULL);
        return 0;
    }
    return 1;
}

/* A request of the copy answered: c->op is free. 1 when the copy was canceled meanwhile: it
 * has then ended (CANCELED) and must not be touched. */
int copy_op_done(ferry_copy_t *c)
{
    c->op = NULL;
    if (!c->canceled)
        return 0;
    copy_finish(c, FERRY_COPY_CANCELED, NULL);
    return 1;
}

static void abort_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    if (abort_answered(c, r) && c->on_upload)
        c->on_upload(c->arg, "");
    c->upload_open = 0;
    copy_finish(c, c->res.status, NULL); /* as conclude_failure recorded */
}

/* Abort the multipart upload c->upload_id; done runs when it has. FERRY_OK, or the error of
 * a request that could not start (done will not run). */
static int start_abort(ferry_copy_t *c, ferry_s3_done_cb done)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    copy_args_base(c, &a, 1);
    a.upload_id = c->upload_id;
    c->phase = PH_ABORT;
    return ferry_s3_abort_multipart(c->env.dst, &a, done, c, &c->op, &e);
}

/* Called once every unit has stopped after a failure: abort an open upload (unless canceled:
 * it stays for a resume), then end with the failure recorded by copy_fail(). */
static void conclude_failure(ferry_copy_t *c)
{
    c->res.status = c->fail_status;
    c->res.err = c->fail_err;
    if (c->fail_status != FERRY_COPY_CANCELED && c->upload_open &&
        start_abort(c, abort_done) == FERRY_OK)
        return;
    copy_finish(c, c->fail_status, &c->fail_err);
}

void copy_fail(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *e)
{
    if (!c->failing) {
        c->failing = 1;
        c->fail_status = st;
        c->fail_err = *e;
        if (c->fail_err.code == FERRY_OK)
            c->fail_err.code = FERRY_ES3;
    }
    ferry_list_t *it, *tmp;
    FERRY_LIST_FOREACH_SAFE (it, tmp, &c->units) {
        unit_t *u = FERRY_LIST_ENTRY(it, unit_t, link);
        if (!u->stopping)
            copy_unit_error(u, FERRY_ECANCELED, NULL);
    }
    if (c->op)
        ferry_s3_cancel(c->op);
}

/* copy_fail() when no unit or request is in flight: conclude at once. */
static void fail_now(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *e)
{
    copy_fail(c, st, e);
    conclude_failure(c);
}

/* The copy is committed and verified: HEAD the source again (did it change meanwhile?), then
 * end DONE. */
static void recheck_done(void *arg, const ferry_s3_result_t *r);

static void start_recheck_head(ferry_copy_t *c)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    copy_args_base(c, &a, 0);
    c->phase = PH_RECHECK;
    if (ferry_s3_head(c->env.src, &a, recheck_done, c, &c->op, &e) != FERRY_OK)
        copy_finish(c, FERRY_COPY_DONE, NULL);
}

/* The source's current ETag etag (size, Last-Modified in ms, or -1) against the version
 * copied: a different one is recorded as changed_after (the caller re-queues it). */
static void recheck_compare(ferry_copy_t *c, const char *etag, int64_t size, int64_t mtime_s)
{
    if (etag[0] && !ferry_etag_eq(etag, c->res.etag)) {
        c->res.changed_after = 1;
        c->res.new_size = size >= 0 ? (uint64_t)size : 0;
        c->res.new_mtime = mtime_s;
        ferry_str_copy(c->res.new_etag, sizeof(c->res.new_etag), etag);
    }
}

static void recheck_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc == FERRY_OK)
        recheck_compare(c, r->etag, r->object_size,
                        ferry_copy_http_time(ferry_s3_result_header(r, "last-modified")));
    copy_finish(c, FERRY_COPY_DONE, NULL);
}

/* ---- the re-check, batched
 * A single-request copy ends by re-checking the source: a source changed after its GET is
 * re-queued, so the destination converges to the last version. One HEAD per object was a third
 * of a small object's requests and about a quarter of the machine's CPU per object (ferry and
 * the source server; docs/scaling.md). On S3 — whose listings are strongly consistent and give
 * the ETag a HEAD gives — copies of one source bucket that commit close together are re-checked
 * by one listing instead. A copy joins the process's open batch; the batch is listed when it
 * holds RECHECK_MAX copies, when no other copy holds a stream (nothing more is about to
 * commit), when RECHECK_WAIT_MS have passed since its first copy joined (up to
 * RECHECK_WAIT_MAX_MS while fewer than RECHECK_MIN have and other copies run), when a copy of
 * another bucket or client joins, or when a member is canceled. The listing: ListObjectsV2
 * under the keys' common prefix, from just before the smallest key, pages of 4n+16 keys
 * (RECHECK_PAGES at most), stopped past the largest. A listed key whose ETag differs from the
 * one copied has changed (as the HEAD would have said), a listed key with the same ETag has
 * not. A key the listing does not show proves nothing (it may be gone, or hidden by a buggy
 * store's listing, which must not cost a change: test_worker_resume 2b): it gets its HEAD, as
 * do the keys past the pages read and every key of a listing that failed or came out of key
 * order (so do S3 Express directory
 * buckets, whose listings are not sorted). 10,000 x 16 KiB with two workers: 0.05-0.07 listings
 * and 0.001 HEADs per object instead of one HEAD, a quarter less CPU (ferry + source).
 * Billing: AWS prices a listing as 12.5 HEADs, so a batch below RECHECK_MIN gets HEADs (at 8 a
 * listing costs at most 1.6 HEADs a copy; at the ~15 seen here, 0.8), and a listing that
 * settled fewer than half its batch — keys far apart, as when many workers share one queue —
 * or failed (credentials that may read but not list) turns the next RECHECK_BACKOFF re-checks
 * back to HEADs. */
#define RECHECK_MAX         64
#define RECHECK_WAIT_MS     5
#define RECHECK_WAIT_MAX_MS 20 /* while fewer than RECHECK_MIN and other copies run */
#define RECHECK_PAGES       2
#define RECHECK_MIN         8   /* fewer members: a HEAD each (below, a listing costs more) */
#define RECHECK_BACKOFF     256 /* re-checks by HEAD after a listing that settled too few */

typedef struct recheck_batch_s {
    ferry_copy_pool_t *pool;
    ferry_s3_t *src;
    const char *bucket; /* borrowed from the members' env */
    ferry_copy_t *m[RECHECK_MAX];
    unsigned char seen[RECHECK_MAX];
    /* what the listing said of each member seen, applied once the listing ended well (it is
     * parsed once, so entries of a page that turns out bad have been seen) */
    struct {
        int64_t size, mtime_s;
        char etag[FERRY_ETAG_MAX + 1];
    } listed[RECHECK_MAX];
    size_t n;
    uv_timer_t timer;
    ferry_s3_op_t *op;
    const char *max_key; /* the largest member's key (a member's, borrowed) */
    size_t max_len;
    char last_key[FERRY_S3XML_KEY_MAX + 1]; /* the last key the listing gave */
    size_t last_len;
    int has_last;
    int flushed;
    uint64_t t0; /* when the first member joined (loop ms) */
} recheck_batch_t;

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int d = memcmp(a, b, an < bn ? an : bn);
    return d ? d : (an > bn) - (an < bn);
}

static int member_cmp(const void *x, const void *y)
{
    const ferry_copy_t *a = *(ferry_copy_t *const *)x, *b = *(ferry_copy_t *const *)y;
    return key_cmp(a->src_key, a->src_len, b->src_key, b->src_len);
}

static void batch_free(uv_handle_t *h)
{
    recheck_batch_t *b = h->data;
    free(b);
}

/* Each member: changed or not as the listing said; HEAD when the listing did not decide it
 * (rc: the listing failed; or the key is past the last listed one); then done. */
static void batch_end(recheck_batch_t *b, int listed_ok)
{
    size_t by_list = 0;
    for (size_t i = 0; i < b->n; i++) {
        ferry_copy_t *c = b->m[i];
        int decided = listed_ok && b->seen[i]; /* not listed: its HEAD says */
        by_list += decided;
        c->batch = NULL; /* the batch goes below */
        if (decided)
            recheck_compare(c, b->listed[i].etag, b->listed[i].size, b->listed[i].mtime_s);
        if (!decided && !c->canceled)
            start_recheck_head(c);
        else
            copy_finish(c, FERRY_COPY_DONE, NULL);
    }
    /* A listing that settled fewer than half its batch (keys far apart: many workers share the
     * queue) cost more than the HEADs it saved: HEADs for a while. */
    if (listed_ok && by_list * 2 < b->n)
        b->pool->recheck_heads = RECHECK_BACKOFF;
    b->n = 0;
    uv_close((uv_handle_t *)&b->timer, batch_free);
}

/* Binary search among the sorted members. */
static ssize_t member_find(recheck_batch_t *b, const char *k, size_t kn)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = key_cmp(b->m[mid]->src_key, b->m[mid]->src_len, k, kn);
        if (d == 0)
            return (ssize_t)mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* on_object's "stop, past the largest member": a negative value no FERRY_E* code takes */
#define RECHECK_PAST (-100001)

static int batch_on_object(void *arg, const ferry_s3xml_object_t *o)
{
    recheck_batch_t *b = arg;
    if (b->has_last && key_cmp(o->key, o->key_len, b->last_key, b->last_len) <= 0)
        return FERRY_EPARSE; /* not in order: this listing cannot settle anything (HEADs) */
    if (key_cmp(o->key, o->key_len, b->max_key, b->max_len) > 0)
        return RECHECK_PAST; /* every member is behind */
    if (o->key_len >= sizeof(b->last_key))
        return FERRY_EPARSE; /* longer than a key can be (the parser caps it): HEADs */
    memcpy(b->last_key, o->key, o->key_len);
    b->last_len = o->key_len;
    b->has_last = 1;
    ssize_t i = member_find(b, o->key, o->key_len);
    if (i >= 0) {
        b->seen[i] = 1;
        b->listed[i].size = o->size;
        b->listed[i].mtime_s = o->last_modified_ms >= 0 ? o->last_modified_ms / 1000 : 0;
        ferry_str_copy(b->listed[i].etag, sizeof(b->listed[i].etag), o->etag);
    }
    return FERRY_OK;
}

static void batch_listed(void *arg, const ferry_s3_result_t *r)
{
    recheck_batch_t *b = arg;
    b->op = NULL;
    int past = r->rc == RECHECK_PAST;
    /* A listing that failed (e.g. credentials that may read objects but not list the bucket,
     * as an event-fed task may have) is not tried again for a while. */
    if (r->rc != FERRY_OK && !past && r->rc != FERRY_ECANCELED)
        b->pool->recheck_heads = RECHECK_BACKOFF;
    batch_end(b, r->rc == FERRY_OK || past); /* what it listed counts, even if cut short */
}

/* The longest prefix a and b share, cut back to a whole UTF-8 character. */
static size_t common_prefix(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = 0;
    while (n < an && n < bn && a[n] == b[n])
        n++;
    while (n > 0 && n < an && ((unsigned char)a[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void batch_flush(recheck_batch_t *b)
{
    if (b->flushed)
        return;
    b->flushed = 1;
    if (b->pool->recheck == b)
        b->pool->recheck = NULL;
    uv_timer_stop(&b->timer);
    if (b->n < RECHECK_MIN) {
        batch_end(b, 0); /* each gets its HEAD */
        return;
    }
    qsort(b->m, b->n, sizeof(b->m[0]), member_cmp);
    const ferry_copy_t *lo = b->m[0], *hi = b->m[b->n - 1];
    b->max_key = hi->src_key;
    b->max_len = hi->src_len;
    /* start after the smallest key less its last character: every key from the smallest on is
     * listed (a few before it may be too), and the text stays valid UTF-8 */
    size_t sa = lo->src_len;
    do
        sa--;
    while (sa > 0 && ((unsigned char)lo->src_key[sa] & 0xC0) == 0x80);
    size_t pl = common_prefix(lo->src_key, lo->src_len, hi->src_key, hi->src_len);
    char *prefix = malloc(pl + 1), *start = malloc(sa + 1);
    ferry_error_t e;
    int rc = FERRY_ENOMEM;
    if (prefix && start) {
        memcpy(prefix, lo->src_key, pl);
        prefix[pl] = '\0';
        memcpy(start, lo->src_key, sa);
        start[sa] = '\0';
        ferry_s3_list_args_t la;
        memset(&la, 0, sizeof(la));
        la.bucket = b->bucket;
        la.prefix = pl ? prefix : NULL;
        la.start_after = sa >= pl && sa ? start : NULL;
        la.max_keys = (unsigned)(4 * b->n + 16);
        la.max_pages = RECHECK_PAGES;
        la.on_object = batch_on_object;
        la.arg = b;
        la.provisional = 1; /* one parse; batch_end applies what it saw only if it ended well */
        rc = ferry_s3_list(b->src, &la, batch_listed, b, &b->op, &e);
    }
    free(prefix);
    free(start);
    if (rc != FERRY_OK)
        batch_end(b, 0); /* each gets its HEAD */
}

static void batch_timer(uv_timer_t *t)
{
    recheck_batch_t *b = t->data;
    /* too few to list yet and others still moving bytes: wait a little more, up to the cap */
    if (b->n < RECHECK_MIN && b->pool->used > 0 && uv_now(t->loop) - b->t0 < RECHECK_WAIT_MAX_MS) {
        uv_timer_start(&b->timer, batch_timer, RECHECK_WAIT_MS, 0);
        return;
    }
    batch_flush(b);
}

/* 1 when c joined a batch (its re-check then ends through the listing). */
static int recheck_join(ferry_copy_t *c)
{
    ferry_copy_pool_t *pool = c->env.pool;
    size_t bl = strlen(c->env.src_bucket);
    /* auto: listings only where they are documented strongly consistent (S3); --src-recheck
     * list: on this source too; head: never */
    int listable =
        c->env.recheck == FERRY_RECHECK_LIST ||
        (c->env.recheck == FERRY_RECHECK_AUTO && c->sp && strcmp(c->sp->scheme, "s3") == 0);
    if (c->canceled || c->sp == NULL || !listable || memchr(c->src_key, '\0', c->src_len) != NULL ||
        c->src_len > FERRY_S3XML_KEY_MAX ||
        (bl >= 6 && strcmp(c->env.src_bucket + bl - 6, "--x-s3") == 0))
        return 0; /* ("--x-s3": an S3 Express directory bucket, whose listings are not sorted) */
    if (pool->recheck_heads > 0) {
        pool->recheck_heads--;
        return 0;
    }
    recheck_batch_t *b = pool->recheck;
    if (b && (b->src != c->env.src || strcmp(b->bucket, c->env.src_bucket) != 0)) {
        batch_flush(b);
        b = NULL;
    }
    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return 0;
        b->pool = pool;
        b->src = c->env.src;
        b->bucket = c->env.src_bucket;
        uv_timer_init(c->env.loop, &b->timer);
        b->timer.data = b;
        b->t0 = uv_now(c->env.loop);
        uv_timer_start(&b->timer, batch_timer, RECHECK_WAIT_MS, 0);
        pool->recheck = b;
    }
    c->phase = PH_RECHECK;
    c->batch = b;
    b->m[b->n++] = c;
    /* full, or no other copy is moving bytes (none will join soon): list now */
    if (b->n == RECHECK_MAX || pool->used == 0)
        batch_flush(b);
    return 1;
}

/* A member was canceled: its batch goes now (or its listing stops) rather than wait. */
static void recheck_cancel(ferry_copy_t *c)
{
    recheck_batch_t *b = c->batch;
    if (!b->flushed)
        batch_flush(b);
    else if (b->op)
        ferry_s3_cancel(b->op);
}

static void start_recheck(ferry_copy_t *c)
{
    if (!recheck_join(c))
        start_recheck_head(c);
}

/* The object is committed (or, multipart, every part is uploaded): record what was copied;
 * a single-request copy goes on to RECHECK, a multipart one to its source checks (then the
 * caller starts Complete). */
static void committed(ferry_copy_t *c)
{
    ferry_error_t e;
    if (c->plan.kind == FERRY_PLAN_SINGLE) {
        c->res.has_crc64 = 1;
        c->res.crc64 = c->parts[0].crc64;
        ferry_str_copy(c->res.dst_etag, sizeof(c->res.dst_etag),
                       c->parts[0].etag ? c->parts[0].etag : "");
        start_recheck(c);
    } else if (c->plan.kind == FERRY_PLAN_MULTIPART) {
        uint64_t crc = 0;
        for (uint32_t i = 0; i < c->plan.parts; i++)
            crc = ferry_crc64_combine(crc, c->parts[i].crc64, c->parts[i].len);
        c->res.has_crc64 = 1;
        c->res.crc64 = crc;
        if (copy_verify_parts(c, &e) != FERRY_OK)
            fail_now(c, FERRY_COPY_RETRY, &e);
    }
}

static void complete_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK) {
        ferry_copy_status_t st = c->canceled ? FERRY_COPY_CANCELED : copy_classify(r->rc, &r->err);
        /* InvalidPart: a part the store holds is not the one whose ETag an UploadPart reply
         * gave us (a reply corrupted on the way, or a store's bug); the bytes are not lost, the
         * copy is: retried (a resume re-reads and lists the parts), not failed for good. */
        if (st == FERRY_COPY_FAILED && strcmp(r->err.s3_code, "InvalidPart") == 0)
            st = FERRY_COPY_RETRY;
        fail_now(c, st, &r->err);
        return;
    }
    c->upload_open = 0;
    ferry_str_copy(c->res.dst_etag, sizeof(c->res.dst_etag), r->etag);
    ferry_error_t ce;
    if (copy_complete_check(c, r, &ce) != FERRY_OK) {
        /* The object is committed but not what we sent: the copy is retried (it replaces it);
         * after the retries the record is failed with this reason. */
        if (c->on_upload)
            c->on_upload(c->arg, "");
        c->res.checksum_failures++;
        ferry_log(FERRY_LOG_WARN, "copy.complete_mismatch", "key", c->dst_key, "error", ce.msg,
                  NULL);
        copy_finish(c, FERRY_COPY_RETRY, &ce);
        return;
    }
    if (c->on_upload)
        c->on_upload(c->arg, "");
    start_recheck(c);
}

static void start_complete(ferry_copy_t *c)
{
    ferry_error_t e;
    ferry_s3xml_cpart_t *cp = calloc(c->plan.parts, sizeof(*cp));
    if (cp == NULL) {
        ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
        fail_now(c, FERRY_COPY_RETRY, &e);
        return;
    }
    for (uint32_t i = 0; i < c->plan.parts; i++) {
        cp[i].number = (int)i + 1;
        cp[i].etag = c->parts[i].etag ? c->parts[i].etag : "";
        cp[i].checksum_crc32c = copy_crc_parts(c) ? c->parts[i].crc32c : NULL;
    }
    ferry_s3_args_t a;
    copy_args_base(c, &a, 1);
    a.upload_id = c->upload_id;
    c->phase = PH_COMPLETE;
    int rc = ferry_s3_complete_multipart(c->env.dst, &a, cp, c->plan.parts, complete_done, c,
                                         &c->op, &e);
    free(cp);
    if (rc != FERRY_OK) {
        fail_now(c, copy_classify(rc, &e), &e);
    }
}

/* Start a unit on part i (PART_PENDING, backoff passed) with a stream taken (forced: the part
 * an ordered MD5 waits for, even above the pool's max). FERRY_OK, or the copy is failing. */
static int start_one(ferry_copy_t *c, uint32_t i, int forced)
{
    part_t *p = &c->parts[i];
    if (forced)
        copy_pool_take_force(c);
    else if (!copy_pool_take(c))
        return FERRY_EBUSY;
    unit_mode_t m = c->plan.kind == FERRY_PLAN_SERVER_PARTS ? UM_PCOPY
                    : p->listed                             ? UM_VERIFY
                    : p->len == 0                           ? UM_EMPTY
                    : p->len <= c->env.ring_size            ? UM_BUF
                                                            : UM_STREAM;
    p->state = PART_RUNNING;
    int rc = copy_unit_start(c, (int)i, m, p->first, p->len);
    if (rc != FERRY_OK) {
        p->state = PART_PENDING;
        copy_pool_give(c->env.pool);
        ferry_error_t e;
        ferry_error_set(&e, rc, "cannot start a part: %s", ferry_strerror(rc));
        copy_fail(c, FERRY_COPY_RETRY, &e);
    }
    return c->failing ? FERRY_ECANCELED : FERRY_OK;
}

/* Start a unit for each pending part whose backoff has passed, while the copy is under
 * parts_per_job and the pool has a stream. With an ordered MD5 (copy_md5.c) the part the hash
 * waits for starts first, whatever those limits say, and the parts after it start only while
 * their length fits under the cap on held bytes (copy_md5_room). Returns the loop time of the
 * earliest backoff still to wait for (0: none); now is set to the loop time used. */
static uint64_t start_units(ferry_copy_t *c, uint64_t *now)
{
    uint64_t wake = 0;
    *now = copy_now_ms(c);
    int next = copy_md5_next_part(c);
    if (next >= 0 && c->parts[next].state == PART_PENDING) {
        part_t *p = &c->parts[next];
        if (p->not_before > *now)
            wake = p->not_before;
        else if (start_one(c, (uint32_t)next, 1) != FERRY_OK)
            return wake;
    }
    for (uint32_t i = 0; i < c->plan.parts && c->running < c->env.parts_per_job; i++) {
        part_t *p = &c->parts[i];
        if (p->state != PART_PENDING)
            continue;
        if (p->not_before > *now) {
            if (wake == 0 || p->not_before < wake)
                wake = p->not_before;
            continue;
        }
        int ahead = next >= 0 && i > (uint32_t)next;
        if (ahead && !copy_md5_room(c, i))
            break; /* ahead of the hash, and no room under the cap on held bytes */
        if (start_one(c, i, 0) != FERRY_OK)
            break;
        if (ahead)
            copy_md5_started_ahead(c, i);
    }
    return wake;
}

/* Start what can start; conclude when everything has finished. Re-entrant-safe. */
void copy_pump(ferry_copy_t *c)
{
    if (c->in_pump || c->phase == PH_END)
        return;
    c->in_pump = 1;
    if (c->failing) {
        if (c->running == 0 && c->op == NULL && c->phase != PH_ABORT) {
            c->in_pump = 0;
            conclude_failure(c);
            return;
        }
        goto out;
    }
    if (c->phase == PH_PARTS) {
        uint64_t now;
        uint64_t wake = start_units(c, &now);
        if (c->failing) {
            c->in_pump = 0;
            copy_pump(c);
            return;
        }
        if (c->parts_done == c->plan.parts && c->running == 0) {
            c->in_pump = 0;
            if (!copy_md5_settled(c))
                return; /* the MD5 thread has bytes of it still: kicked when they are back */
            committed(c);
            if (!c->failing && c->phase == PH_PARTS && c->plan.kind != FERRY_PLAN_SINGLE)
                start_complete(c);
            return;
        }
        if (wake && !c->timer_armed) {
            c->timer_armed = 1;
            uv_timer_start(&c->timer, on_timer, wake - now, 0);
        }
    }
out:
    c->in_pump = 0;
}

int copy_setup_parts(ferry_copy_t *c)
{
    c->parts = calloc(c->plan.parts, sizeof(*c->parts));
    if (c->parts == NULL)
        return FERRY_ENOMEM;
    for (uint32_t i = 0; i < c->plan.parts; i++) {
        uint64_t f, l;
        ferry_plan_part_range(&c->plan, i, &f, &l);
        c->parts[i].first = f;
        c->parts[i].len = l - f + 1;
    }
    return FERRY_OK;
}

void copy_start_parts(ferry_copy_t *c)
{
    c->phase = PH_PARTS;
    copy_pump(c);
}

static void long_id_abort_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    abort_answered(c, r);
    copy_finish(c, c->res.status, NULL); /* as create_done recorded */
}

static void create_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK) {
        copy_finish_op_error(c, r);
        return;
    }
    if (strlen(r->upload_id) > FERRY_UPLOAD_ID_MAX) {
        /* It cannot be recorded for a resume or the janitor: abort it (by the full id). */
        ferry_s3_args_t a;
        ferry_error_t e;
        copy_args_base(c, &a, 1);
        a.upload_id = r->upload_id;
        c->res.status = FERRY_COPY_FAILED;
        ferry_error_set(&c->res.err, FERRY_ETOOBIG,
                        "the destination returned a multipart upload id of %zu bytes; ferry "
                        "records at most %d: the upload is aborted; report this store",
                        strlen(r->upload_id), FERRY_UPLOAD_ID_MAX);
        c->phase = PH_ABORT;
        if (ferry_s3_abort_multipart(c->env.dst, &a, long_id_abort_done, c, &c->op, &e) != FERRY_OK)
            copy_finish(c, c->res.status, NULL);
        return;
    }
    ferry_str_copy(c->upload_id, sizeof(c->upload_id), r->upload_id);
    c->upload_open = 1;
    if (c->on_upload && c->on_upload(c->arg, c->upload_id) != FERRY_OK) {
        ferry_error_t e;
        ferry_error_set(&e, FERRY_EREDIS,
                        "could not record the upload id in the ledger; the upload is aborted "
                        "and the copy retried");
        fail_now(c, FERRY_COPY_RETRY, &e);
        return;
    }
    if (c->canceled) {
        fail_now(c, FERRY_COPY_CANCELED, &c->res.err);
        return;
    }
    copy_start_parts(c);
}

void copy_start_create(ferry_copy_t *c)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    copy_args_base(c, &a, 1);
    if (c->plan.kind == FERRY_PLAN_MULTIPART) {
        a.headers = c->hdrs;
        a.nheaders = c->nh;
    } else {
        /* Server-side parts: metadata as the source has it (the client copies none). */
        a.headers = c->hdrs;
        a.nheaders = c->nh;
    }
    if (copy_crc_parts(c))
        a.checksum_algorithm = "CRC32C";
    c->phase = PH_CREATE;
    int rc = ferry_s3_create_multipart(c->env.dst, &a, create_done, c, &c->op, &e);
    if (rc != FERRY_OK) {
        copy_finish_error(c, rc, &e);
    }
}

static int on_listed_part(void *arg, const ferry_s3xml_part_t *lp)
{
    ferry_copy_t *c = arg;
    if (lp->number < 1 || (uint32_t)lp->number > c->plan.parts)
        return FERRY_OK;
    part_t *p = &c->parts[lp->number - 1];
    if (lp->size < 0 || (uint64_t)lp->size != p->len || p->listed)
        return FERRY_OK; /* wrong size: upload it again (same part number replaces it) */
    if (copy_crc_parts(c) && !lp->checksum_crc32c[0])
        return FERRY_OK; /* no checksum to verify it by, and Complete will want one */
    ferry_str_copy(p->listed_crc32c, sizeof(p->listed_crc32c), lp->checksum_crc32c);
    p->listed_etag = strdup(lp->etag);
    if (p->listed_etag == NULL)
        return FERRY_ENOMEM;
    p->listed = 1;
    c->res.parts_resumed++;
    return FERRY_OK;
}

/* Forget what ListParts said and create a new upload. */
static void restart_upload(ferry_copy_t *c)
{
    for (uint32_t i = 0; i < c->plan.parts; i++) {
        c->parts[i].listed = 0;
        free(c->parts[i].listed_etag);
        c->parts[i].listed_etag = NULL;
    }
    c->res.parts_resumed = 0;
    c->upload_open = 0;
    copy_start_create(c);
}

static void restart_abort_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    abort_answered(c, r);
    if (!copy_op_done(c))
        restart_upload(c);
}

static void listparts_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    if (copy_op_done(c))
        return;
    if (r->rc != FERRY_OK) {
        /* The upload is gone (aborted by a janitor, completed) or unreadable: start afresh. */
        ferry_log(FERRY_LOG_INFO, "copy.resume_restart", "key", c->src_key, "reason", r->err.msg,
                  NULL);
        restart_upload(c);
        return;
    }
    if (copy_crc_parts(c) != (strcasecmp(r->checksum_algorithm, "CRC32C") == 0)) {
        /* Created in the other checksum mode (--dst-checksum changed, or an older ferry): its
         * parts cannot be completed together with ours. Abort it and start a new one. */
        ferry_log(FERRY_LOG_INFO, "copy.resume_restart", "key", c->src_key, "reason",
                  copy_crc_parts(c) ? "the upload was created without CRC32C part checksums"
                                    : "the upload was created with CRC32C part checksums",
                  NULL);
        if (start_abort(c, restart_abort_done) != FERRY_OK)
            restart_upload(c);
        return;
    }
    if (!copy_dst_etag_is_md5(c) && c->res.parts_resumed > 0 && !c->res.src_has_crc64) {
        /* Nothing can verify the parts already there: safer to send them again. */
        for (uint32_t i = 0; i < c->plan.parts; i++)
            c->parts[i].listed = 0;
        c->res.parts_resumed = 0;
    }
    ferry_log(FERRY_LOG_INFO, "copy.resume", "key", c->src_key, "upload_id", c->upload_id,
              "parts_there", c->res.parts_resumed ? "yes" : "no", NULL);
    copy_start_parts(c);
}

static void scopy_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK) {
        copy_finish_op_error(c, r);
        return;
    }
    ferry_str_copy(c->res.dst_etag, sizeof(c->res.dst_etag), r->etag);
    if ((c->ck.checks & CK_DST_ETAG) && r->etag[0]) {
        if (!ferry_etag_eq(r->etag, c->res.etag)) {
            copy_finish_msg(c, FERRY_COPY_RETRY, FERRY_ECHECKSUM,
                            "server-side copy returned ETag %s, the source has %s", r->etag,
                            c->res.etag);
            return;
        }
        copy_add_check(c, "dst:etag");
    }
    start_recheck(c);
}

/* Server-side CopyObject of the whole object (metadata as the source has it, the storage
 * class as chosen). */
void copy_start_scopy(ferry_copy_t *c)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    copy_args_base(c, &a, 1);
    copy_args_copy_source(c, &a);
    a.copy_if_match = c->res.etag[0] ? c->res.etag : NULL;
    ferry_kv_t h[2];
    size_t nh = 0;
    h[nh++] = (ferry_kv_t){"x-amz-metadata-directive", "COPY"};
    for (size_t i = 0; i < c->nh; i++)
        if (strcmp(c->hdrs[i].name, "x-amz-storage-class") == 0)
            h[nh++] = c->hdrs[i];
    a.headers = h;
    a.nheaders = nh;
    c->phase = PH_SCOPY;
    int rc = ferry_s3_copy(c->env.dst, &a, scopy_done, c, &c->op, &e);
    if (rc != FERRY_OK)
        copy_finish_error(c, rc, &e);
}

/* A resume: list the parts of the upload the ledger names. 1 when ListParts is under way. */
int copy_start_listparts(ferry_copy_t *c)
{
    ferry_s3_list_args_t la;
    ferry_error_t e;
    ferry_str_copy(c->upload_id, sizeof(c->upload_id), c->resume_id);
    c->upload_open = 1;
    memset(&la, 0, sizeof(la));
    la.bucket = c->env.dst_bucket;
    la.key = c->dst_key; /* ListParts takes a NUL-terminated key */
    la.upload_id = c->upload_id;
    la.on_part = on_listed_part;
    la.arg = c;
    c->phase = PH_LISTPARTS;
    return memchr(c->dst_key, '\0', c->dst_len) == NULL &&
           ferry_s3_list_parts(c->env.dst, &la, listparts_done, c, &c->op, &e) == FERRY_OK;
}

int ferry_copy_start(const ferry_copy_env_t *env, const ferry_copy_req_t *req,
                     ferry_copy_done_cb done, void *arg, ferry_copy_t **out)
{
    if (env == NULL || req == NULL || done == NULL || env->src == NULL || env->dst == NULL ||
        env->pool == NULL || env->pool->max == 0 || req->src_key == NULL || req->dst_key == NULL ||
        env->ring_size < 256 * 1024)
        return FERRY_EINVAL;
    ferry_copy_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return FERRY_ENOMEM;
    ferry_list_init(&c->units);
    c->env = *env;
    if (c->env.parts_per_job == 0)
        c->env.parts_per_job = 4;
    if (c->env.part_tries == 0)
        c->env.part_tries = 4;
    c->src_len = req->src_key_len ? req->src_key_len : strlen(req->src_key);
    c->dst_len = req->dst_key_len ? req->dst_key_len : strlen(req->dst_key);
    c->src_key = malloc(c->src_len + 1);
    c->dst_key = malloc(c->dst_len + 1);
    if (c->src_key == NULL || c->dst_key == NULL) {
        free(c->src_key);
        free(c->dst_key);
        free(c);
        return FERRY_ENOMEM;
    }
    memcpy(c->src_key, req->src_key, c->src_len);
    c->src_key[c->src_len] = '\0';
    memcpy(c->dst_key, req->dst_key, c->dst_len);
    c->dst_key[c->dst_len] = '\0';
    if (req->resume_upload_id)
        ferry_str_copy(c->resume_id, sizeof(c->resume_id), req->resume_upload_id);
    c->on_upload = req->on_upload;
    c->done = done;
    c->arg = arg;
    c->sp = ferry_s3_profile(env->src);
    c->dp = ferry_s3_profile(env->dst);
    c->t0 = (int64_t)uv_now(env->loop);
    uv_timer_init(env->loop, &c->timer);
    c->timer.data = c;
    c->hint = req->size_hint;
    ferry_error_t e;
    int rc = req->use_hint && copy_get1_start(c) ? FERRY_OK : copy_start_head(c, &e);
    if (rc != FERRY_OK) {
        uv_close((uv_handle_t *)&c->timer, after_close);
        return rc;
    }
    if (out)
        *out = c;
    return FERRY_OK;
}

void ferry_copy_cancel(ferry_copy_t *c)
{
    if (c == NULL || c->phase == PH_END || c->canceled)
        return;
    c->canceled = 1;
    if (c->phase == PH_PARTS) {
        ferry_error_t e;
        ferry_error_set(&e, FERRY_ECANCELED, "the worker is stopping");
        copy_fail(c, FERRY_COPY_CANCELED, &e);
        copy_pump(c);
        return;
    }
    if (c->op)
        ferry_s3_cancel(c->op);
    else if (c->phase == PH_RECHECK && c->batch)
        recheck_cancel(c);
}
