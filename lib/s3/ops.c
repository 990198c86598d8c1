/* ferry — the S3 operations: what each request carries (method, query, headers, body) and
 * how each reply is read (listing pages, upload ids, ETags). The engine that signs, sends and
 * retries them is client.c. */
#include "s3_int.h"

#include "ferry/check.h"
#include "ferry/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ferry_s3_args_init(ferry_s3_args_t *a)
{
    memset(a, 0, sizeof(*a));
    a->range_start = a->range_end = -1;
    a->copy_range_start = a->copy_range_end = -1;
}

/* ---- query ------------------------------------------------------------------------------- */

static int q_add(ferry_buf_t *q, const char *name, const char *value, size_t vlen)
{
    int rc;
    if (q->len && (rc = ferry_buf_adds(q, "&")))
        return rc;
    if ((rc = ferry_buf_adds(q, name)))
        return rc;
    if (!value)
        return FERRY_OK;
    if ((rc = ferry_buf_adds(q, "=")))
        return rc;
    return ferry_uri_encode(value, vlen, 0, q);
}

static int q_str(ferry_buf_t *q, const char *name, const char *value)
{
    if (!value || !*value)
        return FERRY_OK;
    return q_add(q, name, value, strlen(value));
}

static int q_num(ferry_buf_t *q, const char *name, long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%ld", v);
    return q_add(q, name, b, strlen(b));
}

/* Parameters in byte order of their names (the signer sorts anyway; this keeps URLs stable). */
int s3_ops_build_query(ferry_s3_op_t *op)
{
    ferry_buf_t *q = &op->query;
    const ferry_profile_t *p = &op->c->prof;
    int rc = FERRY_OK;
    switch (op->kind) {
    case OP_LIST:
        if (op->list_version == 2) {
            if ((rc = q_str(q, "continuation-token", op->token)) ||
                (rc = q_str(q, "delimiter", op->delimiter)) ||
                (p->list_url_encode && (rc = q_str(q, "encoding-type", "url"))) ||
                (rc = q_str(q, "list-type", "2")) ||
                (rc = q_num(q, "max-keys", (long)op->max_keys)) ||
                (rc = q_str(q, "prefix", op->prefix)) ||
                (!op->token && (rc = q_str(q, "start-after", op->start_after))))
                return rc;
        } else {
            if ((rc = q_str(q, "delimiter", op->delimiter)) ||
                (p->list_url_encode && (rc = q_str(q, "encoding-type", "url"))) ||
                (op->marker && (rc = q_add(q, "marker", op->marker, op->marker_len))) ||
                (!op->marker && (rc = q_str(q, "marker", op->start_after))) ||
                (rc = q_num(q, "max-keys", (long)op->max_keys)) ||
                (rc = q_str(q, "prefix", op->prefix)))
                return rc;
        }
        break;
    case OP_LIST_PARTS:
        if ((rc = q_num(q, "max-parts", (long)op->max_keys)) ||
            (op->part_marker > 0 && (rc = q_num(q, "part-number-marker", op->part_marker))) ||
            (rc = q_str(q, "uploadId", op->upload_id)))
            return rc;
        break;
    case OP_LIST_UPLOADS:
        if ((rc = q_str(q, "delimiter", op->delimiter)) ||
            (p->list_url_encode && (rc = q_str(q, "encoding-type", "url"))) ||
            (op->marker && (rc = q_add(q, "key-marker", op->marker, op->marker_len))) ||
            (!op->marker && (rc = q_str(q, "key-marker", op->start_after))) ||
            (rc = q_num(q, "max-uploads", (long)op->max_keys)) ||
            (rc = q_str(q, "prefix", op->prefix)) ||
            (rc = q_str(q, "upload-id-marker", op->upload_id_marker)) ||
            (rc = q_add(q, "uploads", NULL, 0)))
            return rc;
        break;
    case OP_HEAD: /* HEAD ?partNumber=N: one part's length (args.part_number > 0) */
        if (op->part_marker > 0)
            rc = q_num(q, "partNumber", op->part_marker);
        break;
    case OP_CREATE_MPU:
        rc = q_add(q, "uploads", NULL, 0);
        break;
    case OP_UPLOAD_PART:
    case OP_UPLOAD_PART_COPY:
        if ((rc = q_num(q, "partNumber", op->part_marker)) ||
            (rc = q_str(q, "uploadId", op->upload_id)))
            return rc;
        break;
    case OP_COMPLETE:
    case OP_ABORT:
        rc = q_str(q, "uploadId", op->upload_id);
        break;
    case OP_DELETE_OBJECTS:
        rc = q_add(q, "delete", NULL, 0);
        break;
    default:
        break;
    }
    return rc;
}

/* ---- the listing guard --------------------------------------------------------------------- */

struct ferry_s3_list_guard_s {
    uint64_t *set; /* hashes of the tokens / markers seen (open addressing; 0 = free) */
    size_t cap, n;
    unsigned long pages;
    unsigned empty_run, max_empty;
    /* the greatest key or prefix of the pages accepted so far (or the start-after) */
    int has_last;
    size_t last_len;
    char last[FERRY_S3XML_KEY_MAX + 1];
    /* the last V1 marker */
    int has_marker;
    size_t marker_len;
    char marker[FERRY_S3XML_KEY_MAX + 1];
    /* the page being validated: the previous object and prefix of its two runs */
    int pg_has_obj, pg_has_pfx;
    size_t pg_obj_len, pg_pfx_len;
    char pg_obj[FERRY_S3XML_KEY_MAX + 1];
    char pg_pfx[FERRY_S3XML_KEY_MAX + 1];
};

int ferry_s3_list_guard_new(unsigned max_empty_pages, ferry_s3_list_guard_t **out)
{
    ferry_s3_list_guard_t *g = calloc(1, sizeof(*g));
    *out = g;
    if (!g)
        return FERRY_ENOMEM;
    g->max_empty = max_empty_pages ? max_empty_pages : FERRY_S3_LIST_MAX_EMPTY_PAGES;
    return FERRY_OK;
}

void ferry_s3_list_guard_free(ferry_s3_list_guard_t *g)
{
    if (!g)
        return;
    free(g->set);
    free(g);
}

unsigned long ferry_s3_list_guard_pages(const ferry_s3_list_guard_t *g)
{
    return g ? g->pages : 0;
}

static uint64_t hash64(int kind, const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind; /* FNV-1a, then a finaliser */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

/* Remember a token; 1 when it was seen before, 0 when new, FERRY_ENOMEM. */
static int guard_seen(ferry_s3_list_guard_t *g, int kind, const char *s, size_t n)
{
    uint64_t h = hash64(kind, s, n);
    if ((g->n + 1) * 2 > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        uint64_t *set = calloc(cap, sizeof(*set));
        if (!set)
            return FERRY_ENOMEM;
        for (size_t i = 0; i < g->cap; i++)
            if (g->set[i])
                for (size_t j = g->set[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!set[j]) {
                        set[j] = g->set[i];
                        break;
                    }
        free(g->set);
        g->set = set;
        g->cap = cap;
    }
    for (size_t j = h & (g->cap - 1);; j = (j + 1) & (g->cap - 1)) {
        if (g->set[j] == h)
            return 1;
        if (!g->set[j]) {
            g->set[j] = h;
            g->n++;
            return 0;
        }
    }
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static void guard_set(char *dst, size_t *dlen, int *has, const char *s, size_t n)
{
    if (n > FERRY_S3XML_KEY_MAX)
        n = FERRY_S3XML_KEY_MAX;
    memcpy(dst, s, n);
    dst[n] = 0;
    *dlen = n;
    *has = 1;
}

/* Where a listing is, for messages: "s3c://bucket at http://host:port". */
#define STORE_FMT      "%s://%s at %s"
#define STORE_ARGS(op) (op)->c->prof.scheme, (op)->bucket, (op)->c->prof.endpoint
#define SHOW(s, n)     (int)((n) > 120 ? 120 : (n)), (s)

static int chk_entry(ferry_s3_op_t *op, const char *k, size_t n, int is_prefix)
{
    ferry_s3_list_guard_t *g = op->guard;
    char *prev = is_prefix ? g->pg_pfx : g->pg_obj;
    size_t *plen = is_prefix ? &g->pg_pfx_len : &g->pg_obj_len;
    int *has = is_prefix ? &g->pg_has_pfx : &g->pg_has_obj;
    if (*has && key_cmp(k, n, prev, *plen) <= 0)
        return ferry_error_set(&op->res.err, FERRY_EPARSE,
                               "the listing of " STORE_FMT " is out of byte order: %s \"%.*s\" "
                               "came after \"%.*s\" (page %lu); a merge over it would lose "
                               "keys, so the listing stopped (is a proxy reordering keys, or "
                               "does the store sort another way?)",
                               STORE_ARGS(op), is_prefix ? "prefix" : "key", SHOW(k, n),
                               SHOW(prev, *plen), g->pages + 1);
    guard_set(prev, plen, has, k, n);
    return FERRY_OK;
}

/* A held entry (op->held): this header, then the key or prefix's len bytes and a NUL, the
 * whole padded to 16 bytes. For an object, o is the entry as parsed, its key pointer stale. */
typedef struct {
    int is_prefix;
    size_t len;
    ferry_s3xml_object_t o;
} held_t;

#define HELD_MAX   (64u << 20) /* past this (a page is at most 8 MiB of XML): parse again */
#define HELD_ALIGN 16

/* The cap on one page's held entries: HELD_MAX, or for tests FERRY_TEST_LIST_HOLD_MAX bytes
 * (smaller only), which drives the fallback to a second parse with small pages. */
static size_t held_max(void)
{
    const char *t = getenv("FERRY_TEST_LIST_HOLD_MAX");
    if (t == NULL || *t == '\0')
        return HELD_MAX;
    char *end;
    unsigned long v = strtoul(t, &end, 10);
    return *end == '\0' && v > 0 && v < HELD_MAX ? (size_t)v : HELD_MAX;
}

static void hold(ferry_s3_op_t *op, const ferry_s3xml_object_t *o, const char *k, size_t n)
{
    if (!op->held_ok)
        return;
    held_t h;
    memset(&h, 0, sizeof(h));
    h.is_prefix = o == NULL;
    h.len = n;
    if (o)
        h.o = *o;
    size_t need = (sizeof(h) + n + 1 + HELD_ALIGN - 1) / HELD_ALIGN * HELD_ALIGN;
    int rc;
    char *d = ferry_buf_reserve(&op->held, need, &rc);
    if (d == NULL) {
        op->held_ok = 0; /* delivered by a second parse instead */
        return;
    }
    memcpy(d, &h, sizeof(h));
    memcpy(d + sizeof(h), k, n);
    memset(d + sizeof(h) + n, 0, need - sizeof(h) - n);
    ferry_buf_commit(&op->held, need);
}

/* Deliver the held entries of a good page, in document order; a callback's code stops it. */
static int deliver_held(ferry_s3_op_t *op)
{
    const char *p = op->held.data, *end = p ? p + op->held.len : NULL;
    int rc = FERRY_OK;
    while (p && p < end && rc == FERRY_OK) {
        held_t h;
        memcpy(&h, p, sizeof(h));
        const char *k = p + sizeof(h);
        if (h.is_prefix) {
            if (op->la.on_prefix)
                rc = op->la.on_prefix(op->la.arg, k, h.len);
        } else if (op->la.on_object) {
            h.o.key = k;
            rc = op->la.on_object(op->la.arg, &h.o);
        }
        p += (sizeof(h) + h.len + 1 + HELD_ALIGN - 1) / HELD_ALIGN * HELD_ALIGN;
    }
    return rc;
}

static int chk_object(void *ud, const ferry_s3xml_object_t *o)
{
    int rc = chk_entry(ud, o->key, o->key_len, 0);
    if (rc == FERRY_OK)
        hold(ud, o, o->key, o->key_len);
    return rc;
}

static int chk_prefix(void *ud, const char *p, size_t n)
{
    int rc = chk_entry(ud, p, n, 1);
    if (rc == FERRY_OK)
        hold(ud, NULL, p, n);
    return rc;
}

/* la.provisional: the check, then the caller's callback, in the one pass. */
static int chk_deliver_object(void *ud, const ferry_s3xml_object_t *o)
{
    ferry_s3_op_t *op = ud;
    int rc = chk_entry(op, o->key, o->key_len, 0);
    if (rc == FERRY_OK && op->la.on_object && (rc = op->la.on_object(op->la.arg, o)) != FERRY_OK)
        op->cb_stopped = 1;
    return rc;
}

static int chk_deliver_prefix(void *ud, const char *p, size_t n)
{
    ferry_s3_op_t *op = ud;
    int rc = chk_entry(op, p, n, 1);
    if (rc == FERRY_OK && op->la.on_prefix && (rc = op->la.on_prefix(op->la.arg, p, n)) != FERRY_OK)
        op->cb_stopped = 1;
    return rc;
}

const ferry_s3xml_cbs_t *s3_ops_check_cbs(ferry_s3_op_t *op, ferry_s3xml_cbs_t *cbs)
{
    ferry_s3_list_guard_t *g = op->guard;
    if (op->kind != OP_LIST || !g)
        return NULL;
    /* both runs of the page start after everything accepted so far */
    g->pg_has_obj = g->pg_has_pfx = g->has_last;
    g->pg_obj_len = g->pg_pfx_len = g->last_len;
    memcpy(g->pg_obj, g->last, g->last_len + 1);
    memcpy(g->pg_pfx, g->last, g->last_len + 1);
    memset(cbs, 0, sizeof(*cbs));
    cbs->ud = op;
    cbs->on_object = op->la.provisional ? chk_deliver_object : chk_object;
    cbs->on_prefix = op->la.provisional ? chk_deliver_prefix : chk_prefix;
    op->cb_stopped = 0;
    if (!op->la.provisional) { /* the page's entries are recorded as they pass the check */
        if (op->held.max == 0)
            ferry_buf_init(&op->held, held_max());
        ferry_buf_reset(&op->held);
        op->held_ok = 1;
    }
    return cbs;
}

/* A ListObjects page was accepted (entries delivered): move the guard on, and check the way
 * on before another page is asked for. */
static int guard_page(ferry_s3_op_t *op, const ferry_s3xml_result_t *r)
{
    ferry_s3_list_guard_t *g = op->guard;
    ferry_s3_result_t *res = &op->res;
    int rc;
    g->pages++;
    /* the greatest entry: the later of the two runs' last ones */
    if (g->pg_has_obj &&
        (!g->pg_has_pfx || key_cmp(g->pg_obj, g->pg_obj_len, g->pg_pfx, g->pg_pfx_len) >= 0))
        guard_set(g->last, &g->last_len, &g->has_last, g->pg_obj, g->pg_obj_len);
    else if (g->pg_has_pfx)
        guard_set(g->last, &g->last_len, &g->has_last, g->pg_pfx, g->pg_pfx_len);
    if (!r->is_truncated)
        return FERRY_OK;
    if (r->objects + r->prefixes == 0) {
        if (++g->empty_run >= g->max_empty)
            return ferry_error_set(&res->err, FERRY_ERETRY,
                                   "the listing of " STORE_FMT " sent %u empty pages in a row "
                                   "that each said more was to come (page %lu); the listing "
                                   "stopped rather than loop (the store may be overloaded or "
                                   "looping: try again later)",
                                   STORE_ARGS(op), g->empty_run, g->pages);
    } else {
        g->empty_run = 0;
    }
    if (op->list_version == 2) {
        size_t tl = strlen(r->next_token);
        if ((rc = guard_seen(g, 2, r->next_token, tl)) == 1)
            return ferry_error_set(&res->err, FERRY_EPARSE,
                                   "the listing of " STORE_FMT " sent continuation token "
                                   "\"%.*s\" a second time (page %lu): it would loop forever, "
                                   "so the listing stopped (a store bug: report it to its "
                                   "operator)",
                                   STORE_ARGS(op), SHOW(r->next_token, tl), g->pages);
        return rc;
    }
    if (g->has_marker && key_cmp(r->next_marker, r->next_marker_len, g->marker, g->marker_len) <= 0)
        return ferry_error_set(&res->err, FERRY_EPARSE,
                               "the listing of " STORE_FMT " sent marker \"%.*s\" after \"%.*s\" "
                               "(page %lu): markers must increase, or the listing would loop or "
                               "skip keys, so it stopped (a store bug: report it to its "
                               "operator)",
                               STORE_ARGS(op), SHOW(r->next_marker, r->next_marker_len),
                               SHOW(g->marker, g->marker_len), g->pages);
    if ((rc = guard_seen(g, 1, r->next_marker, r->next_marker_len)) == 1)
        return ferry_error_set(&res->err, FERRY_EPARSE,
                               "the listing of " STORE_FMT " sent marker \"%.*s\" a second time "
                               "(page %lu): the listing stopped rather than loop",
                               STORE_ARGS(op), SHOW(r->next_marker, r->next_marker_len), g->pages);
    if (rc)
        return rc;
    guard_set(g->marker, &g->marker_len, &g->has_marker, r->next_marker, r->next_marker_len);
    return FERRY_OK;
}

/* A ListObjects operation starts: its guard (given or its own), told where the listing
 * starts when it is new. */
static int guard_start(ferry_s3_op_t *op, const ferry_s3_list_args_t *a, ferry_error_t *err)
{
    if (a->guard) {
        op->guard = a->guard;
    } else {
        if (ferry_s3_list_guard_new(a->max_empty_pages, &op->own_guard))
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        op->guard = op->own_guard;
    }
    ferry_s3_list_guard_t *g = op->guard;
    if (g->pages || g->has_last)
        return FERRY_OK; /* resuming: the guard knows where the listing is */
    if (a->start_after && *a->start_after && !a->token) {
        size_t n = strlen(a->start_after);
        guard_set(g->last, &g->last_len, &g->has_last, a->start_after, n);
        if (op->list_version == 1)
            guard_set(g->marker, &g->marker_len, &g->has_marker, a->start_after, n);
    }
    if (a->token && *a->token && guard_seen(g, 2, a->token, strlen(a->token)) < 0)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    return FERRY_OK;
}

/* ---- replies -------------------------------------------------------------------------------- */

typedef struct {
    ferry_s3_op_t *op;
} page_ud_t;

static int cb_object(void *ud, const ferry_s3xml_object_t *o)
{
    ferry_s3_op_t *op = ud;
    return op->la.on_object ? op->la.on_object(op->la.arg, o) : FERRY_OK;
}

static int cb_prefix(void *ud, const char *p, size_t n)
{
    ferry_s3_op_t *op = ud;
    return op->la.on_prefix ? op->la.on_prefix(op->la.arg, p, n) : FERRY_OK;
}

static int cb_part(void *ud, const ferry_s3xml_part_t *p)
{
    ferry_s3_op_t *op = ud;
    return op->la.on_part ? op->la.on_part(op->la.arg, p) : FERRY_OK;
}

static int cb_upload(void *ud, const ferry_s3xml_upload_t *u)
{
    ferry_s3_op_t *op = ud;
    return op->la.on_upload ? op->la.on_upload(op->la.arg, u) : FERRY_OK;
}

static int cb_deleted(void *ud, const ferry_s3xml_deleted_t *d)
{
    ferry_s3_op_t *op = ud;
    if (!d->ok)
        op->res.deleted_errors++;
    return op->on_deleted ? op->on_deleted(op->la.arg, d) : FERRY_OK;
}

static int set_str(char **dst, const char *s, size_t n)
{
    char *p = s3_strndup(s, n);
    if (!p)
        return FERRY_ENOMEM;
    free(*dst);
    *dst = p;
    return FERRY_OK;
}

/* A listing page that parsed (xr: the first pass's result): deliver its entries (a ListObjects
 * page from what its checking pass recorded; other listings by a second pass, now that the page
 * is known good; a provisional listing had them in the first), then move the paging state on. */
static int list_page(ferry_s3_op_t *op, const ferry_http_resp_t *resp,
                     const ferry_s3xml_result_t *xr, int *more)
{
    ferry_s3_t *c = op->c;
    ferry_s3xml_t *px = NULL;
    const ferry_s3xml_result_t *r = xr;
    int rc = FERRY_OK;
    int held = op->kind == OP_LIST && op->guard && xr && !op->la.provisional && op->held_ok;
    op->held_ok = 0;
    if (held) { /* checked in the first pass, entries recorded there: no second parse */
        rc = deliver_held(op);
        ferry_buf_reset(&op->held);
        if (rc)
            return rc; /* a callback stopped it */
    } else if (!(op->kind == OP_LIST && op->la.provisional && op->guard && xr)) {
        ferry_s3xml_opts_t xo = {.expect = op->expect,
                                 .list_version = op->list_version,
                                 .plus_literal = !c->prof.list_plus_is_space};
        ferry_s3xml_cbs_t cbs = {.ud = op,
                                 .on_object = cb_object,
                                 .on_prefix = cb_prefix,
                                 .on_part = cb_part,
                                 .on_upload = cb_upload,
                                 .on_deleted = cb_deleted};
        rc = ferry_s3xml_new(&xo, &cbs, &px);
        if (!rc)
            rc = ferry_s3xml_feed(px, resp->body, resp->body_len);
        if (!rc)
            rc = ferry_s3xml_finish(px);
        if (rc) {
            ferry_s3xml_free(px);
            return rc; /* a callback stopped it (the page itself parsed before) */
        }
        r = ferry_s3xml_result(px);
    }
    ferry_s3_result_t *res = &op->res;
    res->pages++;
    res->entries += r->objects;
    res->prefixes += r->prefixes;
    res->truncated = 0;
    *more = 0;
    if (op->kind == OP_LIST_PARTS && r->checksum_algorithm[0])
        ferry_str_copy(res->checksum_algorithm, sizeof(res->checksum_algorithm),
                       r->checksum_algorithm);
    if (op->kind == OP_LIST && op->guard && (rc = guard_page(op, r)))
        goto out;
    if (op->kind == OP_DELETE_OBJECTS || !r->is_truncated)
        goto out;

    switch (op->kind) {
    case OP_LIST:
        if (op->list_version == 2) {
            if (!r->next_token[0] || (op->token && !strcmp(op->token, r->next_token))) {
                rc = ferry_error_set(&res->err, FERRY_EPARSE,
                                     "%s://%s: listing page %ld is truncated but gives no new "
                                     "continuation token",
                                     c->prof.scheme, op->bucket, res->pages);
                goto out;
            }
            if ((rc = set_str(&op->token, r->next_token, strlen(r->next_token))))
                goto out;
            ferry_str_copy(res->next_token, sizeof(res->next_token), r->next_token);
        } else {
            if (!r->next_marker_len || (op->marker && op->marker_len == r->next_marker_len &&
                                        !memcmp(op->marker, r->next_marker, r->next_marker_len))) {
                rc = ferry_error_set(&res->err, FERRY_EPARSE,
                                     "%s://%s: listing page %ld is truncated but gives no new "
                                     "marker",
                                     c->prof.scheme, op->bucket, res->pages);
                goto out;
            }
            if ((rc = set_str(&op->marker, r->next_marker, r->next_marker_len)))
                goto out;
            op->marker_len = r->next_marker_len;
            ferry_str_copy(res->next_marker, sizeof(res->next_marker), r->next_marker);
        }
        break;
    case OP_LIST_PARTS:
        if (r->next_part_number_marker <= op->part_marker) {
            rc = ferry_error_set(&res->err, FERRY_EPARSE,
                                 "%s://%s: ListParts page is truncated without a new part marker",
                                 c->prof.scheme, op->bucket);
            goto out;
        }
        op->part_marker = r->next_part_number_marker;
        break;
    case OP_LIST_UPLOADS:
        if (!r->next_marker_len && !r->next_upload_id_marker[0]) {
            rc = ferry_error_set(&res->err, FERRY_EPARSE,
                                 "%s://%s: ListMultipartUploads page is truncated without markers",
                                 c->prof.scheme, op->bucket);
            goto out;
        }
        if ((rc = set_str(&op->marker, r->next_marker, r->next_marker_len)) ||
            (rc = set_str(&op->upload_id_marker, r->next_upload_id_marker,
                          strlen(r->next_upload_id_marker))))
            goto out;
        op->marker_len = r->next_marker_len;
        ferry_str_copy(res->next_marker, sizeof(res->next_marker), r->next_marker);
        break;
    default:
        break;
    }
    if (op->la.max_pages && (unsigned long)res->pages >= op->la.max_pages)
        res->truncated = 1;
    else
        *more = 1;
out:
    ferry_s3xml_free(px);
    return rc;
}

int s3_ops_on_page(ferry_s3_op_t *op, const ferry_http_resp_t *resp, const ferry_s3xml_result_t *xr,
                   int *more)
{
    *more = 0;
    switch (op->kind) {
    case OP_LIST:
    case OP_LIST_PARTS:
    case OP_LIST_UPLOADS:
    case OP_DELETE_OBJECTS:
        return list_page(op, resp, xr, more);
    case OP_CREATE_MPU:
        if (!xr || !xr->upload_id[0])
            return ferry_error_set(&op->res.err, FERRY_EPARSE,
                                   "%s://%s: CreateMultipartUpload reply has no UploadId",
                                   op->c->prof.scheme, op->bucket);
        ferry_str_copy(op->res.upload_id, sizeof(op->res.upload_id), xr->upload_id);
        return FERRY_OK;
    case OP_COMPLETE:
    case OP_COPY:
    case OP_UPLOAD_PART_COPY:
        if (xr && xr->etag[0])
            ferry_str_copy(op->res.etag, sizeof(op->res.etag), xr->etag);
        if (xr && xr->checksum_crc32c[0])
            ferry_str_copy(op->res.checksum_crc32c, sizeof(op->res.checksum_crc32c),
                           xr->checksum_crc32c);
        return FERRY_OK;
    default:
        return FERRY_OK;
    }
}

/* ---- object operations --------------------------------------------------------------------- */

static int need_key(const ferry_s3_args_t *a, ferry_error_t *err)
{
    if (!a || !a->key || (!a->key_len && !*a->key))
        return ferry_error_set(err, FERRY_EINVAL, "S3 operation without an object key");
    if ((a->key_len ? a->key_len : strlen(a->key)) > FERRY_S3XML_KEY_MAX)
        return ferry_error_set(err, FERRY_EINVAL, "object key longer than %d bytes",
                               FERRY_S3XML_KEY_MAX);
    return FERRY_OK;
}

static ferry_s3_op_t *obj_op(ferry_s3_t *c, op_kind_t kind, const char *name, const char *method,
                             const ferry_s3_args_t *a, ferry_error_t *err, int *rc)
{
    if ((*rc = need_key(a, err)))
        return NULL;
    ferry_s3_op_t *op = s3_op_new(c, kind, a->bucket, a->key, a->key_len, err, rc);
    if (!op)
        return NULL;
    op->name = name;
    op->method = method;
    op->uarg = a->arg;
    return op;
}

static int add_user_headers(ferry_s3_op_t *op, const ferry_s3_args_t *a)
{
    int rc;
    for (size_t i = 0; i < a->nheaders; i++)
        if (a->headers[i].name && (rc = s3_op_header(op, a->headers[i].name, a->headers[i].value)))
            return rc == FERRY_EINVAL
                       ? ferry_error_set(&op->res.err, rc,
                                         "header \"%.60s\": not a valid HTTP header (a name is a "
                                         "token; a value holds no CR or LF)",
                                         a->headers[i].name)
                       : rc;
    if (a->content_md5 && (rc = s3_op_header(op, "Content-MD5", a->content_md5)))
        return rc;
    if (a->checksum_crc32c && (rc = s3_op_header(op, "x-amz-checksum-crc32c", a->checksum_crc32c)))
        return rc;
    op->body_checked = a->content_md5 || a->checksum_crc32c;
    return FERRY_OK;
}

static int set_body(ferry_s3_op_t *op, const ferry_s3_args_t *a, ferry_error_t *err)
{
    if (a->body && a->source)
        return ferry_error_set(err, FERRY_EINVAL, "a body from memory or a source, not both");
    if (a->body_len < 0 || ((a->body || a->source) == 0 && a->body_len > 0))
        return ferry_error_set(err, FERRY_EINVAL, "body length %" PRId64 " without a body",
                               a->body_len);
    op->body = a->body;
    op->body_len = a->body_len;
    op->source = a->source;
    op->rewind = a->rewind;
    if (!a->trailer_crc32c)
        return FERRY_OK;
    if (!a->source)
        return ferry_error_set(err, FERRY_EINVAL, "a trailing checksum needs a streamed body");
    if (a->checksum_crc32c || a->content_md5)
        return ferry_error_set(err, FERRY_EINVAL,
                               "a trailing checksum replaces Content-MD5 and "
                               "x-amz-checksum-crc32c; send one or the other");
    for (size_t i = 0; i < a->nheaders; i++)
        if (a->headers[i].name && !strcasecmp(a->headers[i].name, "Content-Encoding"))
            return ferry_error_set(err, FERRY_EINVAL,
                                   "a trailing checksum (aws-chunked) cannot be sent with a "
                                   "Content-Encoding header");
    if (a->trailer_crc32c_of && a->rewind)
        return ferry_error_set(err, FERRY_EINVAL,
                               "a caller's trailing checksum cannot follow a rewound body");
    int rc = s3_chunked_init(op, a->body_len);
    op->ch.of = a->trailer_crc32c_of;
    if (!rc)
        rc = s3_op_header(op, "Content-Encoding", "aws-chunked");
    char n[24];
    snprintf(n, sizeof(n), "%" PRId64, a->body_len);
    if (!rc)
        rc = s3_op_header(op, "x-amz-decoded-content-length", n);
    if (!rc)
        rc = s3_op_header(op, "x-amz-trailer", "x-amz-checksum-crc32c");
    return rc;
}

static int copy_source(ferry_s3_op_t *op, const ferry_s3_args_t *a, ferry_error_t *err)
{
    ferry_buf_t b;
    int rc;
    if (!a->copy_bucket || !*a->copy_bucket || !a->copy_key || !*a->copy_key)
        return ferry_error_set(err, FERRY_EINVAL, "copy without a source bucket and key");
    ferry_buf_init(&b, 8192);
    size_t kl = a->copy_key_len ? a->copy_key_len : strlen(a->copy_key);
    if (!(rc = ferry_buf_adds(&b, "/")) &&
        !(rc = ferry_uri_encode(a->copy_bucket, strlen(a->copy_bucket), 0, &b)) &&
        !(rc = ferry_buf_adds(&b, "/")) && !(rc = ferry_uri_encode(a->copy_key, kl, 1, &b)))
        rc = s3_op_header(op, "x-amz-copy-source", ferry_buf_cstr(&b));
    ferry_buf_free(&b);
    if (!rc && a->copy_if_match)
        rc = s3_op_header(op, "x-amz-copy-source-if-match", a->copy_if_match);
    return rc;
}

#define START(op)                                                                                  \
    do {                                                                                           \
        if (rc) {                                                                                  \
            if (err && !err->code && (op)->res.err.code)                                           \
                *err = (op)->res.err;                                                              \
            else if (err && !err->code)                                                            \
                ferry_error_set(err, rc, "%s: %s", (op)->name, ferry_strerror(rc));                \
            s3_op_discard(op);                                                                     \
            return rc;                                                                             \
        }                                                                                          \
        return s3_op_start((op), done, arg, out, err);                                             \
    } while (0)

int ferry_s3_head(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                  ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    if (a && (a->part_number < 0 || a->part_number > 10000))
        return ferry_error_set(err, FERRY_EINVAL, "part number %d is outside 1..10000",
                               a->part_number);
    ferry_s3_op_t *op = obj_op(c, OP_HEAD, "HeadObject", "HEAD", a, err, &rc);
    if (!op)
        return rc;
    op->part_marker = a->part_number;
    op->on_headers = a->on_headers;
    rc = add_user_headers(op, a);
    if (!rc && a->if_match)
        rc = s3_op_header(op, "If-Match", a->if_match);
    START(op);
}

int ferry_s3_get(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                 ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    if (!a || !a->sink)
        return ferry_error_set(err, FERRY_EINVAL, "GET without a sink");
    if (a->range_end >= 0 && a->range_start > a->range_end)
        return ferry_error_set(err, FERRY_EINVAL, "GET range %" PRId64 "-%" PRId64 " is empty",
                               a->range_start, a->range_end);
    ferry_s3_op_t *op = obj_op(c, OP_GET, "GetObject", "GET", a, err, &rc);
    if (!op)
        return rc;
    op->sink = a->sink;
    op->on_headers = a->on_headers;
    op->range_start = a->range_start;
    op->range_end = a->range_end;
    rc = add_user_headers(op, a);
    if (!rc && a->if_match && !(op->if_match = strdup(a->if_match)))
        rc = FERRY_ENOMEM;
    START(op);
}

int ferry_s3_put(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                 ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_s3_op_t *op = obj_op(c, OP_PUT, "PutObject", "PUT", a, err, &rc);
    if (!op)
        return rc;
    rc = set_body(op, a, err);
    if (!rc)
        rc = add_user_headers(op, a);
    START(op);
}

int ferry_s3_delete(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                    ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_s3_op_t *op = obj_op(c, OP_DELETE, "DeleteObject", "DELETE", a, err, &rc);
    if (!op)
        return rc;
    rc = add_user_headers(op, a);
    START(op);
}

int ferry_s3_copy(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                  ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_s3_op_t *op = obj_op(c, OP_COPY, "CopyObject", "PUT", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_COPY;
    rc = copy_source(op, a, err);
    if (!rc)
        rc = add_user_headers(op, a);
    START(op);
}

int ferry_s3_create_multipart(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done,
                              void *arg, ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_s3_op_t *op = obj_op(c, OP_CREATE_MPU, "CreateMultipartUpload", "POST", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_INITIATE;
    rc = add_user_headers(op, a);
    if (!rc && a->checksum_algorithm)
        rc = s3_op_header(op, "x-amz-checksum-algorithm", a->checksum_algorithm);
    START(op);
}

static int need_upload(const ferry_s3_args_t *a, int need_part, ferry_error_t *err)
{
    if (!a || !a->upload_id || !*a->upload_id)
        return ferry_error_set(err, FERRY_EINVAL, "multipart operation without an upload id");
    if (need_part && (a->part_number < 1 || a->part_number > 10000))
        return ferry_error_set(err, FERRY_EINVAL, "part number %d is outside 1..10000",
                               a->part_number);
    return FERRY_OK;
}

int ferry_s3_upload_part(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                         ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    if ((rc = need_upload(a, 1, err)))
        return rc;
    ferry_s3_op_t *op = obj_op(c, OP_UPLOAD_PART, "UploadPart", "PUT", a, err, &rc);
    if (!op)
        return rc;
    op->part_marker = a->part_number;
    if (!(op->upload_id = strdup(a->upload_id)))
        rc = FERRY_ENOMEM;
    if (!rc)
        rc = set_body(op, a, err);
    if (!rc)
        rc = add_user_headers(op, a);
    START(op);
}

int ferry_s3_upload_part_copy(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done,
                              void *arg, ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    if ((rc = need_upload(a, 1, err)))
        return rc;
    if (a->copy_range_start >= 0 && a->copy_range_end < a->copy_range_start)
        return ferry_error_set(err, FERRY_EINVAL, "UploadPartCopy range is empty");
    ferry_s3_op_t *op = obj_op(c, OP_UPLOAD_PART_COPY, "UploadPartCopy", "PUT", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_COPY;
    op->part_marker = a->part_number;
    if (!(op->upload_id = strdup(a->upload_id)))
        rc = FERRY_ENOMEM;
    if (!rc)
        rc = copy_source(op, a, err);
    if (!rc && a->copy_range_start >= 0) {
        char r[80];
        snprintf(r, sizeof(r), "bytes=%" PRId64 "-%" PRId64, a->copy_range_start,
                 a->copy_range_end);
        rc = s3_op_header(op, "x-amz-copy-source-range", r);
    }
    if (!rc)
        rc = add_user_headers(op, a);
    START(op);
}

int ferry_s3_complete_multipart(ferry_s3_t *c, const ferry_s3_args_t *a,
                                const ferry_s3xml_cpart_t *parts, size_t nparts,
                                ferry_s3_done_cb done, void *arg, ferry_s3_op_t **out,
                                ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_buf_t b;
    if ((rc = need_upload(a, 0, err)))
        return rc;
    ferry_s3_op_t *op = obj_op(c, OP_COMPLETE, "CompleteMultipartUpload", "POST", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_COMPLETE;
    ferry_buf_init(&b, (size_t)16 << 20);
    if (!(op->upload_id = strdup(a->upload_id)))
        rc = FERRY_ENOMEM;
    if (!rc && (rc = ferry_s3xml_build_complete(parts, nparts, &b)))
        ferry_error_set(err, rc, "CompleteMultipartUpload: bad part list (%zu parts)", nparts);
    if (!rc) {
        op->body_len = (int64_t)b.len;
        op->own_body = ferry_buf_steal(&b, NULL);
        op->body = op->own_body;
        rc = s3_op_header(op, "Content-Type", "application/xml");
    }
    ferry_buf_free(&b);
    if (!rc)
        rc = add_user_headers(op, a);
    START(op);
}

int ferry_s3_abort_multipart(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done,
                             void *arg, ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    if ((rc = need_upload(a, 0, err)))
        return rc;
    ferry_s3_op_t *op = obj_op(c, OP_ABORT, "AbortMultipartUpload", "DELETE", a, err, &rc);
    if (!op)
        return rc;
    if (!(op->upload_id = strdup(a->upload_id)))
        rc = FERRY_ENOMEM;
    START(op);
}

/* ---- listings --------------------------------------------------------------------------- */

static ferry_s3_op_t *list_op(ferry_s3_t *c, op_kind_t kind, const char *name,
                              const ferry_s3_list_args_t *a, ferry_error_t *err, int *rc)
{
    if (!a) {
        *rc = ferry_error_set(err, FERRY_EINVAL, "%s without arguments", name);
        return NULL;
    }
    ferry_s3_op_t *op =
        s3_op_new(c, kind, a->bucket, kind == OP_LIST_PARTS ? a->key : NULL, 0, err, rc);
    if (!op)
        return NULL;
    op->name = name;
    op->method = "GET";
    op->la = *a;
    /* strings in la are borrowed only for the call: keep copies, clear the borrowed ones */
    op->la.bucket = op->la.prefix = op->la.delimiter = op->la.start_after = op->la.token = NULL;
    op->la.key = op->la.upload_id = NULL;
    op->max_keys =
        a->max_keys ? a->max_keys : (c->prof.list_page_size ? c->prof.list_page_size : 1000);
    if (op->max_keys > 1000)
        op->max_keys = 1000;
    if ((a->prefix && !(op->prefix = strdup(a->prefix))) ||
        (a->delimiter && !(op->delimiter = strdup(a->delimiter))) ||
        (a->start_after && !(op->start_after = strdup(a->start_after))) ||
        (a->token && !(op->token = strdup(a->token))) ||
        (a->upload_id && !(op->upload_id = strdup(a->upload_id))))
        *rc = FERRY_ENOMEM;
    return op;
}

int ferry_s3_list(ferry_s3_t *c, const ferry_s3_list_args_t *a, ferry_s3_done_cb done, void *arg,
                  ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_s3_op_t *op = list_op(c, OP_LIST, "ListObjects", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_LIST;
    op->list_version = a->version ? a->version : (c->prof.list_version ? c->prof.list_version : 2);
    if (op->list_version != 1 && op->list_version != 2)
        rc = ferry_error_set(err, FERRY_EINVAL, "list version %d (1 or 2)", a->version);
    if (op->list_version == 2)
        op->name = "ListObjectsV2";
    if (!rc)
        rc = guard_start(op, a, err);
    START(op);
}

int ferry_s3_list_parts(ferry_s3_t *c, const ferry_s3_list_args_t *a, ferry_s3_done_cb done,
                        void *arg, ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    if (!a || !a->key || !*a->key || !a->upload_id || !*a->upload_id)
        return ferry_error_set(err, FERRY_EINVAL, "ListParts needs a key and an upload id");
    ferry_s3_op_t *op = list_op(c, OP_LIST_PARTS, "ListParts", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_LIST_PARTS;
    op->part_marker = 0;
    START(op);
}

int ferry_s3_list_uploads(ferry_s3_t *c, const ferry_s3_list_args_t *a, ferry_s3_done_cb done,
                          void *arg, ferry_s3_op_t **out, ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_s3_op_t *op = list_op(c, OP_LIST_UPLOADS, "ListMultipartUploads", a, err, &rc);
    if (!op)
        return rc;
    op->expect = FERRY_S3XML_LIST_UPLOADS;
    START(op);
}

int ferry_s3_delete_objects(ferry_s3_t *c, const char *bucket, const char *const *keys, size_t n,
                            int quiet, int (*on_deleted)(void *arg, const ferry_s3xml_deleted_t *d),
                            ferry_s3_done_cb done, void *arg, ferry_s3_op_t **out,
                            ferry_error_t *err)
{
    ferry_error_clear(err);
    int rc;
    ferry_buf_t b;
    ferry_s3_op_t *op = s3_op_new(c, OP_DELETE_OBJECTS, bucket, NULL, 0, err, &rc);
    if (!op)
        return rc;
    op->name = "DeleteObjects";
    op->method = "POST";
    op->expect = FERRY_S3XML_DELETE;
    op->on_deleted = on_deleted;
    op->la.arg = arg;
    ferry_buf_init(&b, (size_t)4 << 20);
    rc = ferry_s3xml_build_delete(keys, n, quiet, &b, err);
    if (!rc) {
        uint8_t md5[16];
        char b64[32];
        ferry_md5(b.data, b.len, md5);
        ferry_b64(md5, 16, b64);
        op->body_len = (int64_t)b.len;
        op->own_body = ferry_buf_steal(&b, NULL);
        op->body = op->own_body;
        rc = s3_op_header(op, "Content-MD5", b64); /* S3 requires it on DeleteObjects */
        if (!rc)
            rc = s3_op_header(op, "Content-Type", "application/xml");
    }
    ferry_buf_free(&b);
    START(op);
}
