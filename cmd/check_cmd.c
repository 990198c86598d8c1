/* ferry check NAME [--prefix P] [--download] [--json]: an independent audit of a task's copy.
 *
 * It reads the task's definition (locations, endpoints, profiles) from the registry and nothing
 * else from Redis: never the ledger, since it is how a user confirms the ledger. Both sides are
 * listed flat (no delimiter), page by page, and merge-joined in key order (scheduler/diff.h), so
 * memory is bounded by how far one listing runs ahead of the other, not by the bucket. Source
 * keys map to destination keys as the task maps them (source prefix stripped, destination
 * prefix added); the task's --include/--exclude and size/age filters apply as in a scan.
 *
 * Per key: missing on the destination, extra on the destination, size differs, digest differs
 * (only when both ETags are single-part MD5s; any other pair is counted "not comparable"),
 * and with --download every byte: both objects are streamed (If-Match on the listed ETags)
 * through SHA-256, a few keys at a time, memory bounded by the transfer buffers.
 *
 * Exit: 0 when everything matched (pairs that were "not comparable" are counted, not failed),
 * 1 when something differs, 2 usage, 3 unknown task, 4 when the check could not finish (a
 * listing or a download failed): the message says what to do. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fnmatch.h>
#include <uv.h>

#include "cli.h"
#include "diff.h"

#include "ferry/check.h"
#include "ferry/clock.h"
#include "ferry/s3.h"
#include "ferry/side.h"
#include "ferry/task.h"

#define CLI_CHECK_ERROR   4
#define CHECK_KEY_MAX     FERRY_KEY_MAX /* S3 limit on a key, in bytes */
#define CHECK_AHEAD       5000          /* entries one listing may run ahead of the other */
#define CHECK_DL_PARALLEL 4             /* keys downloaded at once */
#define CHECK_DL_QUEUE    64            /* keys waiting for a download before the listings pause */
#define CHECK_EMPTY_PAGES 50            /* empty truncated pages in a row: the store is looping */

typedef struct check_s check_t;

/* One key to compare byte for byte. */
typedef struct dl_s {
    check_t *x;
    struct dl_s *next;
    uint64_t size;
    char src_etag[FERRY_ETAG_MAX + 1], dst_etag[FERRY_ETAG_MAX + 1];
    ferry_sha256_t h[2];
    uint64_t got[2];
    int running; /* GETs in flight */
    int rc[2];
    char err[2][400];
    ferry_s3_op_t *op[2];
    size_t rlen;
    char rel[]; /* relative key, NUL-terminated */
} dl_t;

typedef struct {
    check_t *x;
    int side;
    int ended, running;
    ferry_s3_op_t *op;
    char *token, *marker;
    int empty_pages;
    long long listed;
} lister_t;

struct check_s {
    cli_t *g;
    uv_loop_t loop;
    ferry_task_t t;
    ferry_side_t side[2];
    size_t base_len[2];        /* the side's own prefix */
    char list_prefix[2][2200]; /* side prefix + --prefix */
    ferry_s3_t *c[2];
    ferry_diff_t *diff;
    lister_t l[2];
    int download;
    int64_t now_ms;
    /* downloads */
    dl_t *qhead, *qtail;
    size_t nqueued;
    int dl_running;
    /* counts */
    long long checked, missing, extra, differ, uncomparable, filtered, errors;
    dl_t *running[CHECK_DL_PARALLEL]; /* downloads in flight, for cancel */
    int fatal;                        /* a listing failed: stop */
    char fatal_msg[1200];
    int clients_open, closing;
};

static const char *side_word(int side)
{
    return side == FERRY_DIFF_SRC ? "source" : "destination";
}

/* ---- output ----------------------------------------------------------------------------- */

/* Set o[name] to the key's bytes when they are valid UTF-8 (JSON cannot carry others), else
 * o[name + "_hex"] to their lowercase hex. */
static void json_set_key(json_t *o, const char *name, const char *p, size_t n)
{
    json_t *s = json_stringn(p, n);
    if (s) {
        json_object_set_new(o, name, s);
        return;
    }
    char *hex = malloc(n * 2 + 1);
    if (hex == NULL)
        return;
    ferry_hex_lower((const uint8_t *)p, n, hex);
    char hn[64];
    snprintf(hn, sizeof(hn), "%s_hex", name);
    json_object_set_new(o, hn, json_string(hex));
    free(hex);
}

/* One finding. kind: missing, extra, size, digest, bytes, not-comparable, error. */
static void report(check_t *x, const char *kind, const char *rel, size_t rlen,
                   const ferry_obj_t *src, const ferry_obj_t *dst, const char *detail)
{
    const char *sp = x->side[FERRY_DIFF_SRC].prefix, *dp = x->side[FERRY_DIFF_DST].prefix;
    if (x->g->json) {
        json_t *o = json_object();
        if (o == NULL)
            return;
        json_object_set_new(o, "kind", json_string(kind));
        json_set_key(o, "key", rel, rlen);
        char *full = malloc(strlen(sp) + strlen(dp) + rlen + 1);
        if (full) {
            if (strcmp(kind, "extra") != 0) {
                size_t n = strlen(sp);
                memcpy(full, sp, n);
                memcpy(full + n, rel, rlen);
                json_set_key(o, "src_key", full, n + rlen);
            }
            if (strcmp(kind, "missing") != 0) {
                size_t n = strlen(dp);
                memcpy(full, dp, n);
                memcpy(full + n, rel, rlen);
                json_set_key(o, "dst_key", full, n + rlen);
            }
            free(full);
        }
        if (src) {
            json_object_set_new(o, "src_size", json_integer((json_int_t)src->size));
            if (src->etag && src->etag[0])
                json_object_set_new(o, "src_etag", json_string(src->etag));
        }
        if (dst) {
            json_object_set_new(o, "dst_size", json_integer((json_int_t)dst->size));
            if (dst->etag && dst->etag[0])
                json_object_set_new(o, "dst_etag", json_string(dst->etag));
        }
        if (detail)
            json_object_set_new(o, "detail", json_string(detail));
        char *s = json_dumps(o, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
        json_decref(o);
        return;
    }
    printf("%-15s ", kind);
    if (strcmp(kind, "extra") == 0) {
        cli_puts_escaped(stdout, dp);
        cli_put_escaped(stdout, rel, rlen);
    } else {
        cli_puts_escaped(stdout, sp);
        cli_put_escaped(stdout, rel, rlen);
        if (strcmp(kind, "missing") != 0 || dp[0] || sp[0]) {
            fputs(" -> ", stdout);
            cli_puts_escaped(stdout, dp);
            cli_put_escaped(stdout, rel, rlen);
        }
    }
    if (detail) {
        fputs(": ", stdout);
        cli_puts_escaped(stdout, detail);
    }
    putchar('\n');
}

/* ---- filters (as a scan applies them: scheduler/scan.c) --------------------------------- */

static int glob_ok(const check_t *x, const char *rel)
{
    for (int i = 0; i < x->t.n_exclude; i++)
        if (fnmatch(x->t.exclude[i], rel, 0) == 0)
            return 0;
    if (x->t.n_include == 0)
        return 1;
    for (int i = 0; i < x->t.n_include; i++)
        if (fnmatch(x->t.include[i], rel, 0) == 0)
            return 1;
    return 0;
}

static int size_age_ok(const check_t *x, const ferry_obj_t *o)
{
    if (x->t.min_size && o->size < x->t.min_size)
        return 0;
    if (x->t.max_size && o->size > x->t.max_size)
        return 0;
    if ((x->t.min_age_ms || x->t.max_age_ms) && o->mtime_ms) {
        int64_t age = x->now_ms - o->mtime_ms;
        if (x->t.min_age_ms && age < x->t.min_age_ms)
            return 0;
        if (x->t.max_age_ms && age > x->t.max_age_ms)
            return 0;
    }
    return 1;
}

/* An ETag that is a plain MD5 of the bytes: 32 hex digits (no "-N" multipart suffix). */
static int is_md5_etag(const char *e)
{
    if (e == NULL || strlen(e) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (ferry_hex_val((unsigned char)e[i]) < 0)
            return 0;
    return 1;
}

/* ---- downloads ---------------------------------------------------------------------------- */

static void kick_all(check_t *x);
static void dl_pump(check_t *x);
static void on_client_closed(void *arg);

/* When nothing is left to do (both listings ended, or the check failed and nothing is in
 * flight; no download running or waiting), close the clients: uv_run then returns. */
static void maybe_finish(check_t *x)
{
    if (x->closing)
        return;
    int listing = x->l[0].running || x->l[1].running;
    int ended = x->l[0].ended && x->l[1].ended;
    if (listing || x->dl_running || (!x->fatal && (!ended || x->qhead)))
        return;
    x->closing = 1;
    for (int s = 0; s < 2; s++)
        if (x->c[s]) {
            ferry_s3_free(x->c[s], on_client_closed, x);
            x->c[s] = NULL;
        }
}

static int dl_sink(dl_t *d, int side, const char *p, size_t n)
{
    d->got[side] += n;
    if (d->got[side] > d->size)
        return FERRY_ETOOBIG; /* longer than listed: the object changed */
    ferry_sha256_update(&d->h[side], p, n);
    return FERRY_OK;
}

static int dl_sink_src(void *arg, const char *p, size_t n)
{
    return dl_sink(arg, FERRY_DIFF_SRC, p, n);
}

static int dl_sink_dst(void *arg, const char *p, size_t n)
{
    return dl_sink(arg, FERRY_DIFF_DST, p, n);
}

static void dl_finish(dl_t *d)
{
    check_t *x = d->x;
    uint8_t hs[32], hd[32];
    ferry_sha256_final(&d->h[0], hs);
    ferry_sha256_final(&d->h[1], hd);
    ferry_obj_t so = {d->rel, d->rlen, d->size, 0, d->src_etag, NULL};
    ferry_obj_t dobj = {d->rel, d->rlen, d->size, 0, d->dst_etag, NULL};
    if (x->fatal && (d->rc[0] == FERRY_ECANCELED || d->rc[1] == FERRY_ECANCELED)) {
        /* canceled because the check failed: the failure is reported once, at the end */
    } else if (d->rc[0] || d->rc[1]) {
        char msg[700];
        int s = d->rc[0] ? 0 : 1;
        snprintf(msg, sizeof(msg), "could not download the %s object: %s", side_word(s), d->err[s]);
        x->errors++;
        report(x, "error", d->rel, d->rlen, &so, &dobj, msg);
    } else if (d->got[0] != d->size || d->got[1] != d->size) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "read %" PRIu64 " source and %" PRIu64 " destination bytes of the %" PRIu64
                 " listed",
                 d->got[0], d->got[1], d->size);
        x->differ++;
        report(x, "bytes", d->rel, d->rlen, &so, &dobj, msg);
    } else if (memcmp(hs, hd, sizeof(hs)) != 0) {
        char a[65], b[65], msg[200];
        ferry_hex_lower(hs, 32, a);
        ferry_hex_lower(hd, 32, b);
        snprintf(msg, sizeof(msg), "same size, different bytes (sha256 %.16s… vs %.16s…)", a, b);
        x->differ++;
        report(x, "bytes", d->rel, d->rlen, &so, &dobj, msg);
    }
    x->dl_running--;
    for (int i = 0; i < CHECK_DL_PARALLEL; i++)
        if (x->running[i] == d)
            x->running[i] = NULL;
    free(d);
    dl_pump(x);
    kick_all(x);
    maybe_finish(x);
}

static void dl_done(dl_t *d, int side, const ferry_s3_result_t *res)
{
    d->op[side] = NULL;
    d->rc[side] = res->rc;
    if (res->rc)
        snprintf(d->err[side], sizeof(d->err[side]), "%s",
                 res->err.msg[0] ? res->err.msg : ferry_strerror(res->rc));
    if (--d->running == 0)
        dl_finish(d);
}

static void dl_done_src(void *arg, const ferry_s3_result_t *res)
{
    dl_done(arg, FERRY_DIFF_SRC, res);
}

static void dl_done_dst(void *arg, const ferry_s3_result_t *res)
{
    dl_done(arg, FERRY_DIFF_DST, res);
}

static int dl_start(dl_t *d)
{
    check_t *x = d->x;
    for (int s = 0; s < 2; s++) {
        if (ferry_sha256_init(&d->h[s]) != FERRY_OK)
            return FERRY_ENOMEM;
    }
    x->dl_running++;
    for (int i = 0; i < CHECK_DL_PARALLEL; i++)
        if (x->running[i] == NULL) {
            x->running[i] = d;
            break;
        }
    d->running = 2;
    for (int s = 0; s < 2; s++) {
        size_t bl = x->base_len[s];
        char *key = malloc(bl + d->rlen + 1);
        ferry_error_t err;
        int rc = FERRY_ENOMEM;
        if (key) {
            memcpy(key, x->side[s].prefix, bl);
            memcpy(key + bl, d->rel, d->rlen);
            key[bl + d->rlen] = '\0';
            ferry_s3_args_t a;
            ferry_s3_args_init(&a);
            a.bucket = x->side[s].bucket;
            a.key = key;
            a.key_len = bl + d->rlen;
            const char *etag = s == 0 ? d->src_etag : d->dst_etag;
            a.if_match = etag[0] ? etag : NULL; /* a change while we read is an error */
            a.sink = s == 0 ? dl_sink_src : dl_sink_dst;
            a.arg = d;
            ferry_error_clear(&err);
            rc = ferry_s3_get(x->c[s], &a, s == 0 ? dl_done_src : dl_done_dst, d, &d->op[s], &err);
            free(key);
        }
        if (rc) {
            ferry_s3_result_t res;
            memset(&res, 0, sizeof(res));
            res.rc = rc;
            snprintf(res.err.msg, sizeof(res.err.msg), "%s",
                     key && err.msg[0] ? err.msg : ferry_strerror(rc));
            dl_done(d, s, &res); /* counts this side as finished */
        }
    }
    return FERRY_OK;
}

/* Start queued downloads up to the parallelism. */
static void dl_pump(check_t *x)
{
    while (!x->fatal && x->qhead && x->dl_running < CHECK_DL_PARALLEL) {
        dl_t *d = x->qhead;
        x->qhead = d->next;
        if (x->qhead == NULL)
            x->qtail = NULL;
        x->nqueued--;
        if (dl_start(d) != FERRY_OK) {
            ferry_sha256_free(&d->h[0]);
            ferry_sha256_free(&d->h[1]);
            x->errors++;
            report(x, "error", d->rel, d->rlen, NULL, NULL, "out of memory");
            free(d);
        }
    }
}

static int dl_queue(check_t *x, const ferry_obj_t *src, const ferry_obj_t *dst)
{
    dl_t *d = calloc(1, sizeof(*d) + src->key_len + 1);
    if (d == NULL)
        return FERRY_ENOMEM;
    d->x = x;
    d->size = src->size;
    snprintf(d->src_etag, sizeof(d->src_etag), "%s", src->etag ? src->etag : "");
    snprintf(d->dst_etag, sizeof(d->dst_etag), "%s", dst->etag ? dst->etag : "");
    d->rlen = src->key_len;
    memcpy(d->rel, src->key, src->key_len);
    if (x->qtail)
        x->qtail->next = d;
    else
        x->qhead = d;
    x->qtail = d;
    x->nqueued++;
    dl_pump(x);
    return FERRY_OK;
}

/* ---- the merge-join's decisions ------------------------------------------------------------ */

static int emit(void *ud, ferry_diff_kind_t kind, const ferry_obj_t *src, const ferry_obj_t *dst)
{
    check_t *x = ud;
    const ferry_obj_t *o = src ? src : dst;
    char rel[CHECK_KEY_MAX + 2];
    size_t n = o->key_len > CHECK_KEY_MAX ? CHECK_KEY_MAX : o->key_len;
    memcpy(rel, o->key, n);
    rel[n] = '\0';
    /* the task's filters: what a scan would not copy is not expected on the destination */
    if (!glob_ok(x, rel) || (src && !size_age_ok(x, src)) ||
        (kind == FERRY_DIFF_EXTRA && !size_age_ok(x, dst))) {
        x->filtered++;
        return FERRY_OK;
    }
    x->checked++;
    char msg[400];
    switch (kind) {
    case FERRY_DIFF_NEW: {
        x->missing++;
        int restore = 0;
        if (src->storage_class && src->storage_class[0])
            ferry_profile_map_storage_class(&x->side[FERRY_DIFF_SRC].profile, src->storage_class,
                                            &restore);
        snprintf(msg, sizeof(msg), "%" PRIu64 " bytes, not on the destination%s%.40s%s", src->size,
                 restore ? " (the source is in archive class " : "",
                 restore ? src->storage_class : "",
                 restore ? ": a scan skips it until it is restored)" : "");
        report(x, "missing", o->key, o->key_len, src, NULL, msg);
        return FERRY_OK;
    }
    case FERRY_DIFF_EXTRA:
        x->extra++;
        snprintf(msg, sizeof(msg), "%" PRIu64 " bytes, no source object", dst->size);
        report(x, "extra", o->key, o->key_len, NULL, dst, msg);
        return FERRY_OK;
    default:
        break;
    }
    if (src->size != dst->size) {
        x->differ++;
        snprintf(msg, sizeof(msg), "source %" PRIu64 " bytes, destination %" PRIu64 " bytes",
                 src->size, dst->size);
        report(x, "size", o->key, o->key_len, src, dst, msg);
        return FERRY_OK;
    }
    if (is_md5_etag(src->etag) && is_md5_etag(dst->etag)) {
        if (!ferry_etag_eq(src->etag, dst->etag)) {
            x->differ++;
            snprintf(msg, sizeof(msg), "MD5 differs: source %s, destination %s", src->etag,
                     dst->etag);
            report(x, "digest", o->key, o->key_len, src, dst, msg);
            return FERRY_OK;
        }
        if (!x->download)
            return FERRY_OK;
    } else if (!x->download) {
        x->uncomparable++;
        snprintf(msg, sizeof(msg),
                 "same size; the ETags are not both single-part MD5s (source \"%.64s\", "
                 "destination \"%.64s\"): run with --download to compare the bytes",
                 src->etag ? src->etag : "", dst->etag ? dst->etag : "");
        report(x, "not-comparable", o->key, o->key_len, src, dst, msg);
        return FERRY_OK;
    }
    return dl_queue(x, src, dst);
}

/* ---- listings ------------------------------------------------------------------------------ */

static void fail(check_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cancel_all(check_t *x)
{
    for (int s = 0; s < 2; s++)
        if (x->l[s].running && x->l[s].op)
            ferry_s3_cancel(x->l[s].op);
    for (int i = 0; i < CHECK_DL_PARALLEL; i++)
        for (int s = 0; x->running[i] && s < 2; s++)
            if (x->running[i]->op[s])
                ferry_s3_cancel(x->running[i]->op[s]);
}

static void fail(check_t *x, const char *fmt, ...)
{
    if (x->fatal)
        return;
    x->fatal = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->fatal_msg, sizeof(x->fatal_msg), fmt, ap);
    va_end(ap);
    cancel_all(x);
}

static int on_object(void *arg, const ferry_s3xml_object_t *o)
{
    lister_t *l = arg;
    check_t *x = l->x;
    if (x->fatal)
        return FERRY_ECANCELED;
    size_t bl = x->base_len[l->side];
    if (o->key_len < bl || memcmp(o->key, x->side[l->side].prefix, bl) != 0) {
        fail(x,
             "the %s listing returned \"%.200s\" outside the prefix \"%s\": the store or a proxy "
             "ignores the prefix parameter, so this check cannot be trusted",
             side_word(l->side), o->key, x->side[l->side].prefix);
        return FERRY_EPARSE;
    }
    l->listed++;
    ferry_obj_t ob = {o->key + bl,
                      o->key_len - bl,
                      o->size > 0 ? (uint64_t)o->size : 0,
                      o->last_modified_ms > 0 ? o->last_modified_ms : 0,
                      o->etag,
                      o->storage_class};
    int rc = ferry_diff_push(x->diff, l->side, &ob);
    if (rc == FERRY_EPARSE)
        fail(x,
             "the %s listing is out of order or repeats a key near \"%.200s\": a merge-join over "
             "it would be wrong (is a proxy reordering keys?)",
             side_word(l->side), o->key);
    else if (rc)
        fail(x, "the check stopped at %s key \"%.200s\": %s", side_word(l->side), o->key,
             ferry_strerror(rc));
    return rc;
}

static void kick(lister_t *l);

static void step_page(lister_t *l, const ferry_s3_result_t *res)
{
    check_t *x = l->x;
    if (res->rc != FERRY_OK) {
        fail(x, "listing the %s %s failed after %lld objects: %s", side_word(l->side),
             x->side[l->side].where, l->listed,
             res->err.msg[0] ? res->err.msg : ferry_strerror(res->rc));
        return;
    }
    if (x->fatal)
        return;
    if (!res->truncated) {
        l->ended = 1;
        int rc = ferry_diff_end(x->diff, l->side);
        if (rc)
            fail(x, "the check stopped after the %s listing: %s", side_word(l->side),
                 ferry_strerror(rc));
        kick_all(x);
        return;
    }
    const char *v = res->next_token[0] ? res->next_token : res->next_marker;
    int is_token = res->next_token[0] != 0;
    if (!v[0]) {
        fail(x, "the %s listing said it was truncated but gave no marker to go on from",
             side_word(l->side));
        return;
    }
    /* a repeated position, or pages without entries forever: the store is looping */
    const char *prev = is_token ? l->token : l->marker;
    if (prev && strcmp(prev, v) == 0) {
        fail(x, "the %s store repeated the listing position \"%.200s\": it would loop forever",
             side_word(l->side), v);
        return;
    }
    l->empty_pages = res->entries == 0 ? l->empty_pages + 1 : 0;
    if (l->empty_pages >= CHECK_EMPTY_PAGES) {
        fail(x, "the %s store sent %d empty truncated pages in a row: it would loop forever",
             side_word(l->side), l->empty_pages);
        return;
    }
    free(l->token);
    free(l->marker);
    l->token = l->marker = NULL;
    char *copy = strdup(v);
    if (copy == NULL) {
        fail(x, "out of memory");
        return;
    }
    if (is_token)
        l->token = copy;
    else
        l->marker = copy;
    kick_all(x);
}

static void step_done(void *arg, const ferry_s3_result_t *res)
{
    lister_t *l = arg;
    l->op = NULL;
    l->running = 0;
    step_page(l, res);
    maybe_finish(l->x);
}

static void kick(lister_t *l)
{
    check_t *x = l->x;
    if (l->ended || l->running || x->fatal)
        return;
    if (ferry_diff_buffered(x->diff, l->side) > CHECK_AHEAD)
        return; /* this side runs ahead: wait for the other */
    if (x->nqueued >= CHECK_DL_QUEUE)
        return; /* downloads are behind: wait for them */
    ferry_s3_list_args_t a;
    memset(&a, 0, sizeof(a));
    a.bucket = x->side[l->side].bucket;
    a.prefix = x->list_prefix[l->side][0] ? x->list_prefix[l->side] : NULL;
    a.token = l->token;
    a.start_after = l->token ? NULL : l->marker;
    a.max_pages = 1;
    a.on_object = on_object;
    a.arg = l;
    ferry_error_t err;
    ferry_error_clear(&err);
    l->running = 1;
    int rc = ferry_s3_list(x->c[l->side], &a, step_done, l, &l->op, &err);
    if (rc) {
        l->running = 0;
        fail(x, "could not list the %s %s: %s", side_word(l->side), x->side[l->side].where,
             err.msg[0] ? err.msg : ferry_strerror(rc));
        maybe_finish(x);
    }
}

static void kick_all(check_t *x)
{
    kick(&x->l[0]);
    kick(&x->l[1]);
}

/* ---- the command ----------------------------------------------------------------------------- */

static void on_client_closed(void *arg)
{
    check_t *x = arg;
    x->clients_open--;
}

static int resolve(const ferry_task_side_t *ts, ferry_side_kind_t kind, ferry_side_t *out,
                   ferry_error_t *err)
{
    ferry_side_spec_t sp;
    const ferry_location_t *loc = &ts->parsed;
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

static void print_summary(check_t *x)
{
    if (x->g->json) {
        json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "summary", 1, "checked",
                              (json_int_t)x->checked, "missing", (json_int_t)x->missing, "extra",
                              (json_int_t)x->extra, "differ", (json_int_t)x->differ,
                              "not_comparable", (json_int_t)x->uncomparable, "filtered",
                              (json_int_t)x->filtered, "errors", (json_int_t)x->errors, "match",
                              !x->missing && !x->extra && !x->differ && !x->errors && !x->fatal);
        if (o && x->fatal)
            json_object_set_new(o, "error", json_string(x->fatal_msg));
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(o);
        return;
    }
    printf("checked %lld, missing %lld, extra %lld, differ %lld, not comparable %lld\n", x->checked,
           x->missing, x->extra, x->differ, x->uncomparable);
    if (x->filtered || x->errors)
        printf("(%lld keys outside the task's filters, %lld errors)\n", x->filtered, x->errors);
}

int cmd_check(cli_t *g, const cli_args_t *a)
{
    const char *name = a->pos[0], *prefix = a->v[O_PREFIX].set ? a->v[O_PREFIX].str : "";
    int download = a->v[O_DOWNLOAD].set;
    if (strlen(prefix) > CHECK_KEY_MAX)
        return cli_error(CLI_USAGE, "check: --prefix is longer than 1024 bytes");

    check_t *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return cli_error(CLI_CHECK_ERROR, "out of memory");
    x->g = g;
    x->download = download;
    x->now_ms = ferry_wall_ms();
    ferry_task_init(&x->t);
    int code = CLI_OK;
    ferry_redis_t *r = cli_connect(g);
    if (r == NULL) {
        code = CLI_CHECK_ERROR;
        goto out;
    }
    /* The task's definition is the only thing read from Redis. */
    if (ferry_task_get(r, name, &x->t) != FERRY_OK) {
        code = cli_redis_error(r);
        ferry_redis_free(r);
        goto out;
    }
    ferry_redis_free(r);
    ferry_error_t err;
    ferry_error_clear(&err);
    if (resolve(&x->t.src, FERRY_SIDE_SRC, &x->side[0], &err) != FERRY_OK ||
        resolve(&x->t.dst, FERRY_SIDE_DST, &x->side[1], &err) != FERRY_OK) {
        code = cli_error(CLI_USAGE, "check: %s", err.msg);
        goto out;
    }
    for (int s = 0; s < 2; s++) {
        x->base_len[s] = strlen(x->side[s].prefix);
        snprintf(x->list_prefix[s], sizeof(x->list_prefix[s]), "%s%s", x->side[s].prefix, prefix);
        x->l[s].x = x;
        x->l[s].side = s;
    }
    x->diff = ferry_diff_new(FERRY_COMPARE_SIZE, emit, x);
    if (x->diff == NULL || uv_loop_init(&x->loop) != 0) {
        code = cli_error(CLI_CHECK_ERROR, "out of memory");
        goto out;
    }
    for (int s = 0; s < 2; s++) {
        ferry_s3_config_t cfg;
        memset(&cfg, 0, sizeof(cfg));
        cfg.profile = &x->side[s].profile;
        cfg.creds = ferry_creds_view(&x->side[s].creds);
        cfg.role = side_word(s);
        if (ferry_s3_new(&x->loop, &cfg, &x->c[s], &err) != FERRY_OK) {
            fail(x, "%s", err.msg);
            break;
        }
        x->clients_open++;
    }
    if (!x->fatal)
        kick_all(x);
    maybe_finish(x);
    uv_run(&x->loop, UV_RUN_DEFAULT); /* until maybe_finish closed both clients */
    if (uv_loop_close(&x->loop) != 0)
        fail(x, "the check ended with work still running (a bug: please report it)");
    if (!x->fatal && !ferry_diff_done(x->diff))
        fail(x, "the listings ended before the join finished (a bug: please report it)");
    print_summary(x);
    fflush(stdout);
    if (x->fatal)
        code = cli_error(CLI_CHECK_ERROR,
                         "check: %s — the comparison is incomplete; fix the cause and run ferry "
                         "check again",
                         x->fatal_msg);
    else if (x->errors)
        code = cli_error(CLI_CHECK_ERROR,
                         "check: %lld objects could not be read (listed above): run ferry check "
                         "again, or check those keys by hand",
                         x->errors);
    else if (x->missing || x->extra || x->differ)
        code = CLI_FAIL;
out:
    while (x->qhead) {
        dl_t *d = x->qhead;
        x->qhead = d->next;
        free(d);
    }
    for (int s = 0; s < 2; s++) {
        free(x->l[s].token);
        free(x->l[s].marker);
        ferry_side_wipe(&x->side[s]);
    }
    ferry_diff_free(x->diff);
    ferry_task_clear(&x->t);
    free(x);
    return code;
}
