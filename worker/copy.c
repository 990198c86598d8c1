/* ferry worker — the copy of one object (see copy.h and docs/internals/worker.md). */
#include "copy.h"

#include "plan.h"
#include "ring.h"

#include "ferry/buf.h"
#include "ferry/check.h"
#include "ferry/ledger.h"
#include "ferry/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#define MAX_HDRS    48
#define UNIT_RESEND 1 /* unit_check_resumed: the uploaded part differs, send it again */

/* A stream in flight: one source GET (or none) and one destination request. */
typedef enum {
    UM_BUF = 0, /* GET whole into buf, then PUT/UploadPart from memory with Content-MD5 */
    UM_STREAM,  /* GET -> ring -> PUT/UploadPart, both running */
    UM_VERIFY,  /* resume: re-read an uploaded part to hash it, no upload */
    UM_PCOPY,   /* UploadPartCopy */
    UM_EMPTY    /* zero bytes: no GET */
} unit_mode_t;

typedef struct part_s {
    uint64_t first, len;
    uint8_t state; /* 0 pending, 1 running, 2 done */
    uint8_t listed;
    unsigned tries;
    uint64_t not_before; /* loop ms */
    uint64_t crc64;
    uint32_t scrc; /* CRC32C of the source bytes read (a FULL_OBJECT source CRC32C) */
    uint8_t md5[16];
    char *etag;             /* the destination's part ETag (owned) */
    char *listed_etag;      /* ListParts (owned) */
    char crc32c[16];        /* base64 CRC32C the destination verified (trailer mode) */
    char listed_crc32c[16]; /* ListParts' <ChecksumCRC32C> */
} part_t;

typedef struct unit_s unit_t;
struct unit_s {
    ferry_copy_t *c;
    unit_t *next;
    int pidx; /* part index, -1 for a single-request copy */
    unit_mode_t mode;
    uint64_t first, len, got;
    char *buf;
    ferry_ring_t ring;
    ferry_s3_op_t *get_op, *put_op;
    int ops; /* callbacks outstanding */
    int get_ok, get_paused, put_paused, stopping;
    int holdback, verified; /* single PUT: keep the last byte until the source CRC matched */
    uint64_t sent;
    int rc;
    ferry_error_t err;
    uint64_t crc64;
    uint32_t crc32c;
    ferry_md5_t md5;
    int md5_on;   /* off for parts whose integrity rides on CRC32C (trailer mode) */
    int crc_mode; /* a part of a CRC32C upload: the destination echoes its CRC32C */
    int md5_done; /* md5_bin holds the final digest (taken early to check the source) */
    /* The source's own multipart boundaries (c->mp_psize): one MD5 per source part, written
     * to c->mpd as each part's last byte passes. mp_pos is the absolute object offset. */
    int mp_on, mp_open;
    uint64_t mp_pos;
    ferry_md5_t mp_md5;
    uint32_t mp_crc; /* the current source part's CRC32C (c->mpc, a COMPOSITE source CRC32C) */
    int scrc_on;     /* CRC32C of every byte read, for a FULL_OBJECT source CRC32C */
    uint32_t scrc;
    int qetag_on;
    ferry_qetag_t qetag;
    uint8_t md5_bin[16];
    char md5_b64[32], crc32c_b64[16];
    int sent_md5, sent_crc32c; /* what the PUT/UploadPart carried */
    char echo[16];             /* the destination's x-amz-checksum-crc32c */
    char etag[FERRY_ETAG_MAX + 1];
};

typedef enum {
    PH_GET1 = 0, /* small object: one GET whole, no HEAD (see ferry_copy_req_t.use_hint) */
    PH_HEAD,
    PH_PROBE,
    PH_LISTPARTS,
    PH_CREATE,
    PH_PARTS,
    PH_COMPLETE,
    PH_SCOPY,
    PH_DSTHEAD,
    PH_RECHECK,
    PH_ABORT,
    PH_END
} phase_t;

struct ferry_copy_s {
    ferry_copy_env_t env;
    char *src_key, *dst_key;
    size_t src_len, dst_len;
    char resume_id[FERRY_UPLOAD_ID_MAX + 1];
    int (*on_upload)(void *arg, const char *upload_id);
    ferry_copy_done_cb done;
    void *arg;
    ferry_copy_result_t res;
    const ferry_profile_t *sp, *dp;
    ferry_plan_t plan;
    char *hname[MAX_HDRS], *hval[MAX_HDRS];
    ferry_kv_t hdrs[MAX_HDRS];
    size_t nh;
    char upload_id[FERRY_UPLOAD_ID_MAX + 1];
    int upload_open;
    part_t *parts;
    uint32_t parts_done;
    unit_t *units;
    unsigned running;
    phase_t phase;
    ferry_s3_op_t *op;
    int failing; /* an error is set in fail_*, units are being stopped */
    ferry_copy_status_t fail_status;
    ferry_error_t fail_err;
    int canceled;
    uv_timer_t timer;
    int timer_armed;
    int waiting; /* in the pool's wait list */
    ferry_copy_t *wnext, *wprev;
    int src_md5_etag; /* the source ETag is the content MD5 (single PUT semantics) */
    int in_pump;
    int64_t t0;
    /* PH_GET1: the whole object, read into fbuf (at most ring_size bytes). */
    char *fbuf;
    size_t fgot, fcap;
    uint64_t hint;
    int fslot; /* holds a pool stream for the GET1 */
    /* Kodo multipart: each 4 MiB block's SHA-1, written by the parts as they stream (they
     * start on block boundaries), combined into the source's qetag before Complete. Owned;
     * NULL when not checked. */
    uint8_t *qblk;
    uint64_t qblk_n;
    /* An S3 multipart source ETag "hex-N": the source's part size (from HEAD ?partNumber=1,
     * 0 when the boundaries are unknown) and one MD5 per source part (owned, N x 16). */
    uint32_t mp_n;
    uint64_t mp_psize;
    uint8_t *mpd;
    int mp_probed;
    /* The source's stored CRC32C (HEAD with x-amz-checksum-mode: ENABLED, s3 and s3c only):
     * SRC_CRC_FULL, the CRC32C of the whole object (src_crc); or SRC_CRC_COMPOSITE,
     * crc32c(concat(part CRC32Cs))-N over its own parts (src_crc_b64), checked when the part
     * boundaries are known (mpc: one CRC32C per source part, owned, mp_n entries). */
    int src_crc_kind;
    uint32_t src_crc;
    char src_crc_b64[24];
    uint32_t src_crc_parts; /* COMPOSITE: N */
    uint32_t *mpc;
    int no_ck_mode; /* the source refused x-amz-checksum-mode (400): ask without it */
};

enum { SRC_CRC_NONE = 0, SRC_CRC_FULL = 1, SRC_CRC_COMPOSITE = 2 };

/* Block digests kept for a Kodo multipart qetag: 20 bytes per 4 MiB block, so the largest
 * object S3 holds (48.8 TiB) needs 250 MB; a copy that cannot hold them is src:unverified. */
#define QBLK_MAX ((FERRY_S3_MAX_OBJECT + FERRY_QETAG_BLOCK - 1) / FERRY_QETAG_BLOCK)

static void pump(ferry_copy_t *c);
static void finish(ferry_copy_t *c);
static void fail(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *e);
static void head_done(void *arg, const ferry_s3_result_t *r);
static int collect_headers(ferry_copy_t *c, const ferry_s3_result_t *r, ferry_error_t *err);
static void plan_and_start(ferry_copy_t *c);
static int mp_probe_start(ferry_copy_t *c, const ferry_s3_result_t *r);
static int is_qetag(const char *e);
static int start_head(ferry_copy_t *c, ferry_error_t *e);

/* ---- helpers ----------------------------------------------------------------------------- */

int64_t ferry_copy_http_time(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    time_t t = curl_getdate(s, NULL);
    return t < 0 ? 0 : (int64_t)t;
}

static uint64_t now_ms(ferry_copy_t *c)
{
    return uv_now(c->env.loop);
}

static ferry_copy_status_t classify(int rc, const ferry_error_t *e)
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

static void add_check(ferry_copy_t *c, const char *what)
{
    size_t l = strlen(c->res.checks);
    if (strstr(c->res.checks, what) != NULL)
        return;
    snprintf(c->res.checks + l, sizeof(c->res.checks) - l, "%s%s", l ? "," : "", what);
}

/* A comparison failed: count it and set err (FERRY_ECHECKSUM: retried, then failed with this
 * message). Returns FERRY_ECHECKSUM. */
static int mismatch(ferry_copy_t *c, ferry_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int mismatch(ferry_copy_t *c, ferry_error_t *err, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->res.checksum_failures++;
    return ferry_error_set(err, FERRY_ECHECKSUM, "%s", msg);
}

static int is_hex32(const char *s)
{
    while (*s == '"')
        s++;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return s[32] == '\0' || s[32] == '"';
}

/* N for a multipart ETag "hex32-N" (quotes allowed, 1 <= N <= 10,000), else 0. */
static int mp_etag_parts(const char *s)
{
    while (*s == '"')
        s++;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    if (s[32] != '-' || !isdigit((unsigned char)s[33]))
        return 0;
    long n = 0;
    const char *p = s + 33;
    for (; isdigit((unsigned char)*p) && n <= 10000; p++)
        n = n * 10 + (*p - '0');
    if (*p == '"')
        p++;
    return *p == '\0' && n >= 1 && n <= 10000 ? (int)n : 0;
}

/* The source's ETag is the MD5 of its bytes: a plain 32-hex ETag from S3 (its profile's ETag
 * kind is MD5), or from an s3c store (S3-compatible: assumed so when it looks like one; a
 * store whose 32-hex ETags are not MD5s fails the check, never passes it). Not OSS: its
 * appendable objects have 32-hex ETags that are not MD5s, and its CRC-64 checks the read. */
static int src_etag_is_md5(const ferry_copy_t *c, const ferry_s3_result_t *r)
{
    /* SSE-KMS and SSE-C objects: S3's ETag is not the MD5 of the content. */
    const char *sse = ferry_s3_result_header(r, "x-amz-server-side-encryption");
    if ((sse != NULL && strncmp(sse, "aws:kms", 7) == 0) ||
        ferry_s3_result_header(r, "x-amz-server-side-encryption-customer-algorithm") != NULL)
        return 0;
    return ((c->sp->etag_kind == FERRY_ETAG_MD5 && c->sp->multipart_etag_md5) ||
            strcmp(c->sp->scheme, "s3c") == 0) &&
           is_hex32(c->res.etag);
}

/* Ask an s3 / s3c source for its stored checksum (x-amz-checksum-mode: ENABLED on HEAD and a
 * whole GET). OSS, COS and Kodo have none (their CRC-64 / qetag come without asking). */
static int want_ck_mode(const ferry_copy_t *c)
{
    return !c->no_ck_mode &&
           (strcmp(c->sp->scheme, "s3") == 0 || strcmp(c->sp->scheme, "s3c") == 0);
}

static const ferry_kv_t ck_mode_hdr = {"x-amz-checksum-mode", "ENABLED"};

/* The stored CRC32C a HEAD (or whole GET) answered, into c->src_crc_*: "b64" (FULL_OBJECT, or
 * x-amz-checksum-type FULL_OBJECT) or "b64-N" (COMPOSITE over N parts). A value of another
 * form, or whose type contradicts its form, is not used (logged): only what can be recomputed
 * is compared. Other algorithms (CRC32, SHA-*, CRC64NVME) are not checked. */
static void src_crc_parse(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    c->src_crc_kind = SRC_CRC_NONE;
    if (!want_ck_mode(c))
        return;
    const char *v = ferry_s3_result_header(r, "x-amz-checksum-crc32c");
    const char *type = ferry_s3_result_header(r, "x-amz-checksum-type");
    if (v == NULL)
        return;
    size_t blen = strcspn(v, "-");
    uint8_t be[4];
    size_t n = 0;
    long parts = 0;
    int ok = blen == 8 && strlen(v) < 16 &&
             ferry_b64_decode(v, blen, be, sizeof(be), &n) == FERRY_OK && n == 4;
    if (ok && v[blen] == '-') {
        char *end = NULL;
        parts = isdigit((unsigned char)v[blen + 1]) ? strtol(v + blen + 1, &end, 10) : 0;
        ok = end != NULL && *end == '\0' && parts >= 1 && parts <= 10000 &&
             (type == NULL || strcasecmp(type, "COMPOSITE") == 0);
    } else if (ok) {
        ok = type == NULL || strcasecmp(type, "FULL_OBJECT") == 0;
    }
    if (!ok) {
        ferry_log(FERRY_LOG_INFO, "copy.source_crc32c_unused", "key", c->src_key, "value", v,
                  "type", type ? type : "", "reason",
                  "not a CRC32C of the form b64 (FULL_OBJECT) or b64-N (COMPOSITE)", NULL);
        return;
    }
    uint32_t crc = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 | (uint32_t)be[2] << 8 | be[3];
    ferry_crc32c_b64(crc, c->src_crc_b64);
    if (parts > 0) {
        c->src_crc_kind = SRC_CRC_COMPOSITE;
        c->src_crc_parts = (uint32_t)parts;
        snprintf(c->src_crc_b64 + 8, sizeof(c->src_crc_b64) - 8, "-%ld", parts);
    } else {
        c->src_crc_kind = SRC_CRC_FULL;
        c->src_crc = crc;
    }
}

#define REQUIRE_MSG                                                                                \
    "no source check is possible for this object (the source gives no CRC-64, no qetag, no "       \
    "stored CRC32C and no MD5 or multipart-MD5 ETag ferry can recompute): drop "                   \
    "--require-source-check to copy it as src:unverified, or copy it from a store that exposes "   \
    "a checksum"

/* Parts of a streamed multipart copy carry a CRC32C the destination verifies (aws-chunked
 * trailer, or the header for buffered parts) instead of an MD5 compared with the part ETag:
 * CRC32C runs at memory speed, MD5 at under 1 GB/s a core. The upload is created with
 * x-amz-checksum-algorithm CRC32C and Complete lists every part's checksum. */
static int crc_parts(const ferry_copy_t *c)
{
    return c->plan.kind == FERRY_PLAN_MULTIPART && c->dp->aws_chunked_ok;
}

/* The unit reads the source range through the worker (and so can hash it). */
static int reads_source(unit_mode_t m)
{
    return m == UM_STREAM || m == UM_BUF || m == UM_VERIFY;
}

/* The destination's ETag for a single PUT / part is the MD5 of the bytes it received. */
static int dst_etag_is_md5(const ferry_copy_t *c)
{
    return c->dp->etag_kind == FERRY_ETAG_MD5 || c->dp->etag_kind == FERRY_ETAG_MD5_UPPER;
}

static int add_hdr(ferry_copy_t *c, const char *name, const char *val)
{
    if (c->nh >= MAX_HDRS)
        return FERRY_ETOOBIG;
    c->hname[c->nh] = strdup(name);
    c->hval[c->nh] = strdup(val);
    if (c->hname[c->nh] == NULL || c->hval[c->nh] == NULL) {
        free(c->hname[c->nh]);
        free(c->hval[c->nh]);
        return FERRY_ENOMEM;
    }
    c->hdrs[c->nh].name = c->hname[c->nh];
    c->hdrs[c->nh].value = c->hval[c->nh];
    c->nh++;
    return FERRY_OK;
}

static void args_base(ferry_copy_t *c, ferry_s3_args_t *a, int dst)
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

/* ---- pool -------------------------------------------------------------------------------- */

static int pool_take(ferry_copy_t *c)
{
    ferry_copy_pool_t *p = c->env.pool;
    if (p->used < p->max) {
        p->used++;
        return 1;
    }
    if (!c->waiting) {
        c->waiting = 1;
        c->wnext = NULL;
        c->wprev = p->wait_tail;
        if (p->wait_tail)
            p->wait_tail->wnext = c;
        else
            p->wait_head = c;
        p->wait_tail = c;
    }
    return 0;
}

static void pool_unwait(ferry_copy_t *c)
{
    ferry_copy_pool_t *p = c->env.pool;
    if (!c->waiting)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        p->wait_head = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    else
        p->wait_tail = c->wprev;
    c->waiting = 0;
    c->wnext = c->wprev = NULL;
}

static void pool_give(ferry_copy_pool_t *p)
{
    if (p->used > 0)
        p->used--;
    while (p->used < p->max && p->wait_head != NULL) {
        ferry_copy_t *w = p->wait_head;
        unsigned before = p->used;
        pool_unwait(w);
        pump(w);
        if (p->used == before)
            continue; /* it needed nothing after all */
    }
}

/* ---- units ------------------------------------------------------------------------------- */

static void unit_free(unit_t *u)
{
    ferry_ring_free_cached(&u->ring);
    free(u->buf);
    ferry_md5_free(&u->md5);
    if (u->mp_open)
        ferry_md5_free(&u->mp_md5);
    if (u->qetag_on)
        ferry_qetag_free(&u->qetag);
    free(u);
}

static void unit_settle(unit_t *u);

static void unit_error(unit_t *u, int rc, const ferry_error_t *e)
{
    if (u->rc == FERRY_OK) {
        u->rc = rc;
        if (e)
            u->err = *e;
        else
            ferry_error_set(&u->err, rc, "%s", ferry_strerror(rc));
        if (u->err.code == FERRY_OK)
            u->err.code = rc;
    }
    u->stopping = 1;
    if (u->get_op)
        ferry_s3_cancel(u->get_op);
    if (u->put_op)
        ferry_s3_cancel(u->put_op);
}

/* One MD5 per source part (c->mp_psize bytes each, the last shorter) over the bytes read. */
static void unit_mp_hash(unit_t *u, const char *p, size_t n)
{
    ferry_copy_t *c = u->c;
    while (n > 0) {
        if (!u->mp_open) {
            if (ferry_md5_init(&u->mp_md5) != FERRY_OK) {
                u->mp_on = 0; /* no digest: the comparison sees a hole and fails safe */
                return;
            }
            u->mp_open = 1;
        }
        uint64_t end = (u->mp_pos / c->mp_psize + 1) * c->mp_psize;
        if (end > c->res.size)
            end = c->res.size;
        size_t take = end - u->mp_pos < n ? (size_t)(end - u->mp_pos) : n;
        ferry_md5_update(&u->mp_md5, p, take);
        if (c->mpc != NULL)
            u->mp_crc = ferry_crc32c_update(u->mp_crc, p, take);
        u->mp_pos += take;
        p += take;
        n -= take;
        if (u->mp_pos == end) {
            uint64_t i = (end - 1) / c->mp_psize;
            ferry_md5_final(&u->mp_md5, c->mpd + i * 16);
            if (c->mpc != NULL)
                c->mpc[i] = u->mp_crc;
            u->mp_crc = 0;
            u->mp_open = 0;
        }
    }
}

static void unit_hash(unit_t *u, const char *p, size_t n)
{
    u->crc64 = ferry_crc64_update(u->crc64, p, n);
    if (u->md5_on)
        ferry_md5_update(&u->md5, p, n);
    if (u->mode == UM_BUF || (u->mode == UM_VERIFY && u->crc_mode))
        u->crc32c = ferry_crc32c_update(u->crc32c, p, n);
    if (u->scrc_on)
        u->scrc = ferry_crc32c_update(u->scrc, p, n);
    if (u->qetag_on)
        ferry_qetag_update(&u->qetag, p, n);
    if (u->mp_on)
        unit_mp_hash(u, p, n);
}

static int unit_sink(void *arg, const char *p, size_t n)
{
    unit_t *u = arg;
    if (u->stopping)
        return FERRY_ECANCELED;
    if (u->got + n > u->len)
        return FERRY_ERANGE;
    if (u->mode == UM_STREAM) {
        size_t w = ferry_ring_write(&u->ring, p, n);
        if (w == (size_t)-1)
            return FERRY_EINVAL;
        if (w == 0) {
            u->get_paused = 1;
            return FERRY_HTTP_PAUSE;
        }
    } else if (u->mode == UM_BUF) {
        memcpy(u->buf + u->got, p, n);
    }
    unit_hash(u, p, n);
    u->got += n;
    if (u->mode == UM_STREAM && u->put_paused && u->put_op) {
        u->put_paused = 0;
        ferry_s3_unpause(u->put_op);
    }
    return FERRY_OK;
}

static ssize_t unit_source(void *arg, char *buf, size_t n)
{
    unit_t *u = arg;
    if (u->stopping)
        return FERRY_ECANCELED;
    if (u->holdback && !u->verified && u->sent + n >= u->len)
        n = (size_t)(u->len - 1 - u->sent);
    size_t r = n ? ferry_ring_read(&u->ring, buf, n) : 0;
    u->sent += r;
    if (r > 0) {
        if (u->get_paused && u->get_op) {
            u->get_paused = 0;
            ferry_s3_unpause(u->get_op);
        }
        return (ssize_t)r;
    }
    if (u->ring.eof && u->sent == u->len)
        return 0;
    u->put_paused = 1;
    return FERRY_HTTP_PAUSE;
}

static void unit_put_done(void *arg, const ferry_s3_result_t *r)
{
    unit_t *u = arg;
    u->put_op = NULL;
    u->ops--;
    if (r->rc != FERRY_OK)
        unit_error(u, r->rc, &r->err);
    else {
        snprintf(u->etag, sizeof(u->etag), "%s", r->etag);
        snprintf(u->echo, sizeof(u->echo), "%s", r->checksum_crc32c);
        if (u->mode == UM_STREAM && u->crc_mode) /* the client checked it equals what it sent */
            snprintf(u->crc32c_b64, sizeof(u->crc32c_b64), "%s", r->checksum_crc32c);
    }
    if (u->ops == 0)
        unit_settle(u);
}

static int unit_start_put(unit_t *u)
{
    ferry_copy_t *c = u->c;
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 1);
    a.arg = u;
    a.body_len = (int64_t)u->len;
    if (u->mode == UM_BUF || u->mode == UM_EMPTY) {
        uint8_t d[16];
        if (u->mode == UM_EMPTY)
            ferry_md5("", 0, d);
        else
            memcpy(d, u->md5_bin, 16);
        ferry_b64(d, 16, u->md5_b64);
        a.body = u->buf ? u->buf : "";
        a.content_md5 = !u->crc_mode || u->mode == UM_EMPTY ? u->md5_b64 : NULL;
        if (strcmp(c->dp->scheme, "s3") == 0 || u->crc_mode) {
            ferry_crc32c_b64(u->crc32c, u->crc32c_b64);
            a.checksum_crc32c = u->crc32c_b64;
        }
        u->sent_md5 = a.content_md5 != NULL;
        u->sent_crc32c = a.checksum_crc32c != NULL;
    } else {
        a.source = unit_source;
        a.trailer_crc32c = u->crc_mode;
        u->sent_crc32c = u->crc_mode;
        /* A streamed single PUT whose source ETag is its MD5: the destination checks it. */
        if (c->plan.kind == FERRY_PLAN_SINGLE && c->src_md5_etag) {
            uint8_t d[16];
            const char *s = c->res.etag;
            for (int i = 0; i < 16; i++) {
                unsigned v;
                sscanf(s + 2 * i, "%2x", &v);
                d[i] = (uint8_t)v;
            }
            ferry_b64(d, 16, u->md5_b64);
            a.content_md5 = u->md5_b64;
            u->sent_md5 = 1;
        }
    }
    int rc;
    if (c->plan.kind == FERRY_PLAN_SINGLE) {
        a.headers = c->hdrs;
        a.nheaders = c->nh;
        rc = ferry_s3_put(c->env.dst, &a, unit_put_done, u, &u->put_op, &e);
    } else {
        a.upload_id = c->upload_id;
        a.part_number = u->pidx + 1;
        rc = ferry_s3_upload_part(c->env.dst, &a, unit_put_done, u, &u->put_op, &e);
    }
    if (rc != FERRY_OK) {
        u->put_op = NULL;
        unit_error(u, rc, &e);
        return rc;
    }
    u->ops++;
    return FERRY_OK;
}

static int is_qetag(const char *e)
{
    while (*e == '"')
        e++;
    size_t n = strlen(e);
    while (n && e[n - 1] == '"')
        n--;
    return n == 28 && (e[0] == 'F' || e[0] == 'l');
}

/* The source's multipart ETag recomputed on its own part boundaries: MD5(MD5(part1)...
 * MD5(partN))-N over the bytes read, compared with the ETag. */
static int mp_verify(ferry_copy_t *c, ferry_error_t *err)
{
    ferry_md5_t m;
    uint8_t d[16];
    char want[48];
    if (ferry_md5_init(&m) != FERRY_OK)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_md5_update(&m, c->mpd, (size_t)c->mp_n * 16);
    ferry_md5_final(&m, d);
    ferry_hex_lower(d, 16, want);
    snprintf(want + 32, sizeof(want) - 32, "-%u", c->mp_n);
    if (!ferry_etag_eq(want, c->res.etag)) {
        return mismatch(c, err,
                        "the multipart ETag of the bytes read, on the source's own %u "
                        "parts (%s), differs from the source's (%s): the read was "
                        "corrupted; nothing is kept and the copy is retried",
                        c->mp_n, want, c->res.etag);
    }
    add_check(c, "src:multipart-etag");
    return FERRY_OK;
}

/* The source's stored CRC32C against the bytes read: FULL_OBJECT, the CRC32C of all of them
 * (crc, combined from the parts for a multipart copy); COMPOSITE, crc32c(concat(the CRC32Cs of
 * its own parts))-N, when the part boundaries are known (c->mpc). A COMPOSITE whose part
 * boundaries are unknown cannot be recomputed: nothing is compared, nothing is claimed. */
static int src_crc_verify(ferry_copy_t *c, uint32_t crc, ferry_error_t *err)
{
    char got[24];
    if (c->src_crc_kind == SRC_CRC_FULL) {
        ferry_crc32c_b64(crc, got);
    } else if (c->src_crc_kind == SRC_CRC_COMPOSITE && c->mpc != NULL) {
        uint32_t comp = 0;
        for (uint32_t i = 0; i < c->mp_n; i++) {
            uint8_t be[4] = {(uint8_t)(c->mpc[i] >> 24), (uint8_t)(c->mpc[i] >> 16),
                             (uint8_t)(c->mpc[i] >> 8), (uint8_t)c->mpc[i]};
            comp = ferry_crc32c_update(comp, be, 4);
        }
        ferry_crc32c_b64(comp, got);
        snprintf(got + 8, sizeof(got) - 8, "-%u", c->mp_n);
    } else {
        return FERRY_OK;
    }
    if (strcmp(got, c->src_crc_b64) != 0) {
        return mismatch(c, err,
                        "the CRC32C of the bytes read (%s) differs from the one the "
                        "source stored (%s, %s): the read was corrupted; nothing is kept "
                        "and the copy is retried",
                        got, c->src_crc_b64,
                        c->src_crc_kind == SRC_CRC_FULL ? "FULL_OBJECT" : "COMPOSITE");
    }
    add_check(c, "src:crc32c");
    return FERRY_OK;
}

/* A single-request copy has read the whole object: compare with what the source says it is,
 * before the destination can commit it. */
static int unit_verify_whole(unit_t *u, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    if (c->res.src_has_crc64) {
        if (u->crc64 != c->res.src_crc64) {
            return mismatch(c, err,
                            "CRC-64 of the bytes read (%llu) differs from the source's "
                            "(%llu): the read was corrupted; nothing was committed and "
                            "the copy is retried",
                            (unsigned long long)u->crc64, (unsigned long long)c->res.src_crc64);
        }
        add_check(c, "src:crc64");
    }
    if (c->src_md5_etag && u->md5_on) {
        char hex[33];
        ferry_md5_final(&u->md5, u->md5_bin);
        u->md5_done = 1;
        ferry_hex_lower(u->md5_bin, 16, hex);
        if (!ferry_etag_eq(hex, c->res.etag)) {
            return mismatch(c, err,
                            "the MD5 of the bytes read (%s) differs from the source's "
                            "ETag (%s): the read was corrupted; nothing was committed "
                            "and the copy is retried",
                            hex, c->res.etag);
        }
        add_check(c, "src:md5");
    }
    if (u->scrc_on || (c->mpc != NULL && u->mp_on)) {
        int rc = src_crc_verify(c, u->scrc, err);
        if (rc != FERRY_OK)
            return rc;
    }
    if (c->mpd != NULL && u->mp_on) {
        int rc = mp_verify(c, err);
        if (rc != FERRY_OK)
            return rc;
    }
    if (u->qetag_on) {
        char q[29];
        ferry_qetag_final(&u->qetag, q);
        u->qetag_on = 0;
        if (is_qetag(c->res.etag)) {
            if (!ferry_etag_eq(q, c->res.etag)) {
                return mismatch(c, err,
                                "the qetag of the bytes read (%s) differs from the "
                                "source's (%s): the read was corrupted; nothing was "
                                "committed and the copy is retried",
                                q, c->res.etag);
            }
            add_check(c, "src:qetag");
        }
    }
    u->verified = 1;
    return FERRY_OK;
}

static void unit_get_done(void *arg, const ferry_s3_result_t *r)
{
    unit_t *u = arg;
    u->get_op = NULL;
    u->ops--;
    if (r->rc != FERRY_OK) {
        unit_error(u, r->rc, &r->err);
    } else if (u->got != u->len) {
        ferry_error_t e;
        ferry_error_set(&e, FERRY_ECHECKSUM,
                        "the source sent %llu bytes for a range of %llu: the object changed or "
                        "the store is misbehaving",
                        (unsigned long long)u->got, (unsigned long long)u->len);
        unit_error(u, FERRY_ECHECKSUM, &e);
    } else if (!u->stopping) {
        ferry_error_t ve;
        u->get_ok = 1;
        if (u->c->plan.kind == FERRY_PLAN_SINGLE && unit_verify_whole(u, &ve) != FERRY_OK) {
            unit_error(u, ve.code, &ve);
        } else if (u->mode == UM_STREAM) {
            u->ring.eof = 1;
            if (u->put_paused && u->put_op) {
                u->put_paused = 0;
                ferry_s3_unpause(u->put_op);
            }
        } else if (u->mode == UM_BUF) {
            if (u->md5_on && !u->md5_done) {
                ferry_md5_final(&u->md5, u->md5_bin);
                u->md5_done = 1;
            }
            unit_start_put(u);
        }
    }
    if (u->ops == 0)
        unit_settle(u);
}

static void unit_pcopy_done(void *arg, const ferry_s3_result_t *r)
{
    unit_t *u = arg;
    u->put_op = NULL;
    u->ops--;
    if (r->rc != FERRY_OK)
        unit_error(u, r->rc, &r->err);
    else
        snprintf(u->etag, sizeof(u->etag), "%s", r->etag);
    unit_settle(u);
}

static int unit_start(ferry_copy_t *c, int pidx, unit_mode_t mode, uint64_t first, uint64_t len)
{
    ferry_error_t e;
    unit_t *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return FERRY_ENOMEM;
    u->c = c;
    u->pidx = pidx;
    u->mode = mode;
    u->first = first;
    u->len = len;
    int rc = FERRY_OK;
    u->crc_mode = crc_parts(c) && reads_source(mode);
    u->md5_on = !u->crc_mode;
    u->mp_on = c->mpd != NULL && reads_source(mode);
    u->mp_pos = first; /* units start on the source's part boundaries */
    u->scrc_on = c->src_crc_kind == SRC_CRC_FULL && reads_source(mode);
    if (u->md5_on || mode == UM_EMPTY)
        rc = ferry_md5_init(&u->md5);
    if (rc == FERRY_OK && c->plan.kind == FERRY_PLAN_SINGLE &&
        c->sp->checksum_kind == FERRY_CHECKSUM_QETAG) {
        rc = ferry_qetag_init(&u->qetag);
        u->qetag_on = rc == FERRY_OK;
    } else if (rc == FERRY_OK && c->qblk != NULL && reads_source(mode)) {
        rc = ferry_qetag_init(&u->qetag);
        u->qetag_on = rc == FERRY_OK;
        u->qetag.blocks = c->qblk + first / FERRY_QETAG_BLOCK * 20; /* first is block-aligned */
    }
    if (rc == FERRY_OK && mode == UM_BUF && len > 0 && (u->buf = malloc(len)) == NULL)
        rc = FERRY_ENOMEM;
    if (rc == FERRY_OK && mode == UM_STREAM)
        rc = ferry_ring_init_cached(&u->ring, c->env.ring_size);
    if (rc != FERRY_OK) {
        unit_free(u);
        return rc;
    }
    u->next = c->units;
    c->units = u;
    c->running++;
    if (mode == UM_EMPTY) {
        u->get_ok = 1;
        ferry_md5_final(&u->md5, u->md5_bin);
        u->md5_done = 1;
        unit_start_put(u);
        if (u->ops == 0)
            unit_settle(u);
        return FERRY_OK;
    }
    if (mode == UM_PCOPY) {
        ferry_s3_args_t a;
        args_base(c, &a, 1);
        a.upload_id = c->upload_id;
        a.part_number = pidx + 1;
        a.copy_bucket = c->env.src_bucket;
        a.copy_key = c->src_key;
        a.copy_key_len = c->src_len;
        a.copy_range_start = (int64_t)first;
        a.copy_range_end = (int64_t)(first + len - 1);
        a.copy_if_match = c->res.etag;
        rc = ferry_s3_upload_part_copy(c->env.dst, &a, unit_pcopy_done, u, &u->put_op, &e);
        if (rc != FERRY_OK) {
            unit_error(u, rc, &e);
            unit_settle(u);
        } else
            u->ops++;
        return FERRY_OK;
    }
    ferry_s3_args_t a;
    args_base(c, &a, 0);
    a.arg = u;
    a.sink = unit_sink;
    a.if_match = c->res.etag[0] ? c->res.etag : NULL;
    if (c->plan.kind != FERRY_PLAN_SINGLE) {
        a.range_start = (int64_t)first;
        a.range_end = (int64_t)(first + len - 1);
    }
    rc = ferry_s3_get(c->env.src, &a, unit_get_done, u, &u->get_op, &e);
    if (rc != FERRY_OK) {
        u->get_op = NULL;
        unit_error(u, rc, &e);
        unit_settle(u);
        return FERRY_OK;
    }
    u->ops++;
    if (mode == UM_STREAM) {
        u->holdback =
            c->plan.kind == FERRY_PLAN_SINGLE &&
            (c->res.src_has_crc64 || u->qetag_on || c->src_md5_etag || u->mp_on || u->scrc_on);
        unit_start_put(u);
    }
    return FERRY_OK;
}

/* A resumed part was re-read: is the uploaded part these bytes? FERRY_OK, or UNIT_RESEND
 * when it is not (the part is marked to upload again). */
static int unit_check_resumed(unit_t *u, part_t *p, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    (void)err;
    int same;
    const char *what;
    if (u->crc_mode) {
        ferry_crc32c_b64(u->crc32c, u->crc32c_b64);
        same = strcmp(u->crc32c_b64, p->listed_crc32c) == 0;
        what = "resume:crc32c";
    } else {
        char hex[33];
        if (!u->md5_done) {
            ferry_md5_final(&u->md5, u->md5_bin);
            u->md5_done = 1;
        }
        ferry_hex_lower(u->md5_bin, 16, hex);
        const char *want = p->listed_etag;
        if (!dst_etag_is_md5(c) || want == NULL || !want[0] || strchr(want, '-') != NULL)
            return FERRY_OK; /* nothing to compare: listparts_done kept it for CRC-64 */
        same = ferry_etag_eq(want, hex);
        what = "resume:md5";
    }
    if (!same) {
        /* The uploaded part is not these bytes (changed source?): upload it again. */
        p->listed = 0;
        p->state = 0;
        c->res.parts_resumed--;
        ferry_log(FERRY_LOG_WARN, "copy.resume_part_mismatch", "key", c->src_key, "reason",
                  "the uploaded part differs from the source range", NULL);
        return UNIT_RESEND;
    }
    add_check(c, what);
    return FERRY_OK;
}

/* A PUT or UploadPart answered 2xx: the destination must confirm what it stored — its ETag
 * equal to our MD5 (where the store's ETag is an MD5) and any CRC32C we sent echoed equal. A
 * reply with no ETag, a wrong one, or no echo of a CRC32C part is FERRY_ECHECKSUM (retried). */
static int unit_check_dst(unit_t *u, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    const char *what = c->plan.kind == FERRY_PLAN_SINGLE ? "the object" : "a part";
    if (u->etag[0] == '\0') {
        return mismatch(c, err,
                        "the destination answered 2xx without an ETag for %s: it may "
                        "not have stored it; retrying",
                        what);
    }
    if (u->sent_crc32c) {
        const char *ours = u->crc32c_b64;
        if (u->echo[0] == '\0' && u->crc_mode) {
            return mismatch(c, err,
                            "the destination did not echo the CRC32C of %s: nothing "
                            "confirms it stored these bytes; retrying (a store that "
                            "ignores checksums needs --dst-checksum md5)",
                            what);
        }
        if (u->echo[0] != '\0' && strcmp(u->echo, ours) != 0) {
            return mismatch(c, err,
                            "the destination echoed CRC32C %s for %s, we sent %s: "
                            "corrupted in transit; retrying",
                            u->echo, what, ours);
        }
        if (u->echo[0] != '\0')
            add_check(c, "dst:crc32c-echo");
    }
    if (!u->crc_mode) {
        if (!u->md5_done) {
            ferry_md5_final(&u->md5, u->md5_bin);
            u->md5_done = 1;
        }
        char hex[33];
        ferry_hex_lower(u->md5_bin, 16, hex);
        if (dst_etag_is_md5(c) && strchr(u->etag, '-') == NULL) {
            if (!ferry_etag_eq(u->etag, hex)) {
                return mismatch(c, err,
                                "the destination's ETag %s for %s does not match the "
                                "MD5 %s of the bytes sent: corrupted in transit; "
                                "retrying",
                                u->etag, what, hex);
            }
            add_check(c, "dst:etag");
        }
        if (u->sent_md5)
            add_check(c, "dst:content-md5");
    }
    return FERRY_OK;
}

/* Both requests of a unit have finished: check, record, release. */
static void unit_settle(unit_t *u)
{
    ferry_copy_t *c = u->c;
    /* unlink */
    for (unit_t **pp = &c->units; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    c->running--;
    int rc = u->rc;
    ferry_error_t err = u->err;
    part_t *p = &c->parts[u->pidx];
    if (rc == FERRY_OK && u->mode == UM_VERIFY)
        rc = unit_check_resumed(u, p, &err);
    else if (rc == FERRY_OK && u->mode != UM_PCOPY)
        rc = unit_check_dst(u, &err);
    if (rc == UNIT_RESEND) /* an uploaded part to send again */
        goto release;
    if (rc == FERRY_OK) {
        if (u->mode != UM_VERIFY)
            c->res.bytes_moved += u->mode == UM_PCOPY ? 0 : u->len;
        {
            if (u->qetag_on && c->qblk != NULL) { /* writes this part's last block digest */
                char ignored[29];
                ferry_qetag_final(&u->qetag, ignored);
                u->qetag_on = 0;
            }
            p->state = 2;
            p->crc64 = u->crc64;
            p->scrc = u->scrc;
            memcpy(p->md5, u->md5_bin, 16);
            snprintf(p->crc32c, sizeof(p->crc32c), "%s", u->crc32c_b64);
            free(p->etag);
            p->etag = strdup(u->mode == UM_VERIFY ? p->listed_etag : u->etag);
            if (p->etag == NULL) {
                ferry_error_set(&err, FERRY_ENOMEM, "out of memory");
                fail(c, FERRY_COPY_RETRY, &err);
            }
            c->parts_done++;
        }
    } else if (!c->failing && !c->canceled) {
        ferry_copy_status_t st = classify(rc, &err);
        unsigned tries = ++p->tries;
        if (st == FERRY_COPY_RETRY && rc != FERRY_ECHANGED && rc != FERRY_ECHECKSUM &&
            tries < c->env.part_tries) {
            /* Retry this part alone, after a short backoff. */
            p->state = 0;
            p->not_before = now_ms(c) + 200u * (1u << (tries < 6 ? tries : 6));
            ferry_log(FERRY_LOG_WARN, "copy.part_retry", "key", c->src_key, "error", err.msg, NULL);
        } else {
            fail(c, st, &err);
        }
    }
release:
    unit_free(u);
    pool_give(c->env.pool);
    pump(c);
}

/* ---- phases ------------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
    ferry_copy_t *c = t->data;
    c->timer_armed = 0;
    pump(c);
}

static void after_close(uv_handle_t *h)
{
    ferry_copy_t *c = h->data;
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

static void finish(ferry_copy_t *c)
{
    if (c->res.status == FERRY_COPY_DONE && strstr(c->res.checks, "src:") == NULL) {
        /* No source check ran: say so; never a silent skip. */
        add_check(c, "src:unverified");
        c->res.src_unverified = 1;
        if (c->env.require_source_check) {
            c->res.status = FERRY_COPY_FAILED;
            ferry_error_set(&c->res.err, FERRY_EUNSUPPORTED, "%s", REQUIRE_MSG);
        }
    }
    c->phase = PH_END;
    pool_unwait(c);
    uv_timer_stop(&c->timer);
    c->done(c->arg, &c->res);
    uv_close((uv_handle_t *)&c->timer, after_close);
}

/* A single-request phase failed: record why (canceled, or as classified) and end the copy. */
static void finish_op_error(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    c->res.status = c->canceled ? FERRY_COPY_CANCELED : classify(r->rc, &r->err);
    c->res.err = r->err;
    finish(c);
}

static void abort_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK && r->rc != FERRY_ENOTFOUND)
        ferry_log(FERRY_LOG_WARN, "copy.abort_failed", "key", c->dst_key, "error", r->err.msg,
                  NULL);
    else if (c->on_upload)
        c->on_upload(c->arg, "");
    c->upload_open = 0;
    finish(c);
}

/* Abort the multipart upload c->upload_id; done runs when it has. FERRY_OK, or the error of
 * a request that could not start (done will not run). */
static int start_abort(ferry_copy_t *c, ferry_s3_done_cb done)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 1);
    a.upload_id = c->upload_id;
    c->phase = PH_ABORT;
    return ferry_s3_abort_multipart(c->env.dst, &a, done, c, &c->op, &e);
}

/* Called once every unit has stopped after a failure. */
static void conclude_failure(ferry_copy_t *c)
{
    c->res.status = c->fail_status;
    c->res.err = c->fail_err;
    if (c->fail_status != FERRY_COPY_CANCELED && c->upload_open &&
        start_abort(c, abort_done) == FERRY_OK)
        return;
    finish(c);
}

static void fail(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *e)
{
    if (!c->failing) {
        c->failing = 1;
        c->fail_status = st;
        c->fail_err = *e;
        if (c->fail_err.code == FERRY_OK)
            c->fail_err.code = FERRY_ES3;
    }
    for (unit_t *u = c->units; u; u = u->next)
        if (!u->stopping)
            unit_error(u, FERRY_ECANCELED, NULL);
    if (c->op)
        ferry_s3_cancel(c->op);
}

static void recheck_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc == FERRY_OK && r->etag[0] && !ferry_etag_eq(r->etag, c->res.etag)) {
        c->res.changed_after = 1;
        c->res.new_size = r->object_size >= 0 ? (uint64_t)r->object_size : 0;
        c->res.new_mtime = ferry_copy_http_time(ferry_s3_result_header(r, "last-modified"));
        snprintf(c->res.new_etag, sizeof(c->res.new_etag), "%s", r->etag);
    }
    c->res.status = FERRY_COPY_DONE;
    finish(c);
}

/* The destination holds the object: verify the whole, re-check the source, report. */
static void committed(ferry_copy_t *c)
{
    ferry_error_t e;
    if (c->plan.kind == FERRY_PLAN_SINGLE) {
        c->res.has_crc64 = 1;
        c->res.crc64 = c->parts[0].crc64;
        snprintf(c->res.dst_etag, sizeof(c->res.dst_etag), "%s",
                 c->parts[0].etag ? c->parts[0].etag : "");
    } else if (c->plan.kind == FERRY_PLAN_MULTIPART) {
        uint64_t crc = 0;
        for (uint32_t i = 0; i < c->plan.parts; i++)
            crc = ferry_crc64_combine(crc, c->parts[i].crc64, c->parts[i].len);
        c->res.has_crc64 = 1;
        c->res.crc64 = crc;
    }
    if (c->plan.kind == FERRY_PLAN_MULTIPART && c->res.src_has_crc64) {
        if (c->res.crc64 != c->res.src_crc64) {
            mismatch(c, &e,
                     "CRC-64 of the bytes copied (%llu) differs from the source's "
                     "(%llu): the read was corrupted; the upload is discarded and "
                     "the copy retried",
                     (unsigned long long)c->res.crc64, (unsigned long long)c->res.src_crc64);
            fail(c, FERRY_COPY_RETRY, &e);
            conclude_failure(c);
            return;
        }
        add_check(c, "src:crc64");
    }
    if (c->plan.kind == FERRY_PLAN_MULTIPART && c->src_crc_kind != SRC_CRC_NONE) {
        uint32_t crc = 0;
        for (uint32_t i = 0; i < c->plan.parts; i++)
            crc = ferry_crc32c_combine(crc, c->parts[i].scrc, c->parts[i].len);
        if (src_crc_verify(c, crc, &e) != FERRY_OK) {
            fail(c, FERRY_COPY_RETRY, &e);
            conclude_failure(c);
            return;
        }
    }
    if (c->plan.kind == FERRY_PLAN_MULTIPART && c->mpd != NULL && mp_verify(c, &e) != FERRY_OK) {
        fail(c, FERRY_COPY_RETRY, &e);
        conclude_failure(c);
        return;
    }
    if (c->plan.kind == FERRY_PLAN_MULTIPART && c->qblk != NULL && is_qetag(c->res.etag)) {
        char q[29];
        if (ferry_qetag_of_blocks(c->qblk, c->qblk_n, q) != FERRY_OK) {
            ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
            fail(c, FERRY_COPY_RETRY, &e);
            conclude_failure(c);
            return;
        }
        if (!ferry_etag_eq(q, c->res.etag)) {
            mismatch(c, &e,
                     "the qetag of the bytes copied (%s) differs from the source's (%s): "
                     "the read was corrupted; the upload is discarded and the copy "
                     "retried",
                     q, c->res.etag);
            fail(c, FERRY_COPY_RETRY, &e);
            conclude_failure(c);
            return;
        }
        add_check(c, "src:qetag");
    }
    if (c->plan.kind == FERRY_PLAN_MULTIPART || c->plan.kind == FERRY_PLAN_SERVER_PARTS) {
        /* Complete comes next (caller). */
        return;
    }
    ferry_s3_args_t a;
    args_base(c, &a, 0);
    c->phase = PH_RECHECK;
    if (ferry_s3_head(c->env.src, &a, recheck_done, c, &c->op, &e) != FERRY_OK) {
        c->res.status = FERRY_COPY_DONE;
        finish(c);
    }
}

/* Complete answered 2xx: its ETag (MD5 of the part MD5s, "-N") or composite CRC32C must be
 * what we computed from the parts we sent. A missing or different value is FERRY_ECHECKSUM. */
static int complete_check(ferry_copy_t *c, const ferry_s3_result_t *r, ferry_error_t *err)
{
    if (c->plan.kind != FERRY_PLAN_MULTIPART)
        return FERRY_OK; /* server-side parts: the store copied them itself */
    if (crc_parts(c)) {
        /* COMPOSITE: crc32c(concat(crc32c(part_i)))-N over the checksums the parts had */
        uint32_t crc = 0;
        for (uint32_t i = 0; i < c->plan.parts; i++) {
            uint8_t be[4];
            size_t n = 0;
            if (ferry_b64_decode(c->parts[i].crc32c, strlen(c->parts[i].crc32c), be, sizeof(be),
                                 &n) != FERRY_OK ||
                n != 4)
                return ferry_error_set(err, FERRY_ECHECKSUM,
                                       "part %u has no CRC32C to check the upload by; retrying",
                                       i + 1);
            crc = ferry_crc32c_update(crc, (const char *)be, 4);
        }
        char b64[9], want[24];
        ferry_crc32c_b64(crc, b64);
        snprintf(want, sizeof(want), "%s-%u", b64, c->plan.parts);
        if (r->checksum_crc32c[0] == '\0')
            return ferry_error_set(err, FERRY_ECHECKSUM,
                                   "CompleteMultipartUpload returned no composite CRC32C (want "
                                   "%s): nothing confirms the object is the parts we sent; "
                                   "retrying",
                                   want);
        if (strcmp(want, r->checksum_crc32c) != 0)
            return ferry_error_set(err, FERRY_ECHECKSUM,
                                   "CompleteMultipartUpload returned composite CRC32C %s, the "
                                   "parts we sent make %s: the object is not what was sent; "
                                   "retrying",
                                   r->checksum_crc32c, want);
        add_check(c, "dst:crc32c-echo");
        return FERRY_OK;
    }
    if (r->etag[0] == '\0')
        return ferry_error_set(err, FERRY_ECHECKSUM,
                               "CompleteMultipartUpload returned no ETag: the object may not be "
                               "stored; retrying");
    if (!c->dp->multipart_etag_md5)
        return FERRY_OK; /* the store's multipart ETag is not MD5-of-MD5s */
    if (strchr(r->etag, '-') == NULL) {
        /* Not of the multipart form at all (s3rver 3.7 answers a whole-object MD5): nothing to
         * recompute it from; the parts' ETags were compared, the Complete ETag is not. */
        ferry_log(FERRY_LOG_INFO, "copy.complete_etag_not_compared", "key", c->dst_key, "etag",
                  r->etag, "reason", "not a multipart ETag (md5-N)", NULL);
        return FERRY_OK;
    }
    /* md5(concat(md5(part_i)))-N */
    ferry_md5_t m;
    uint8_t d[16];
    char want[48];
    if (ferry_md5_init(&m) != FERRY_OK)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < c->plan.parts; i++)
        ferry_md5_update(&m, c->parts[i].md5, 16);
    ferry_md5_final(&m, d);
    ferry_hex_lower(d, 16, want);
    snprintf(want + 32, sizeof(want) - 32, "-%u", c->plan.parts);
    if (!ferry_etag_eq(want, r->etag))
        return ferry_error_set(err, FERRY_ECHECKSUM,
                               "CompleteMultipartUpload returned ETag %s, the parts we sent make "
                               "%s: the object is not what was sent; retrying",
                               r->etag, want);
    add_check(c, "dst:etag");
    return FERRY_OK;
}

static void complete_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK) {
        ferry_copy_status_t st = c->canceled ? FERRY_COPY_CANCELED : classify(r->rc, &r->err);
        /* InvalidPart: a part the store holds is not the one whose ETag an UploadPart reply
         * gave us (a reply corrupted on the way, or a store's bug); the bytes are not lost, the
         * copy is: retried (a resume re-reads and lists the parts), not failed for good. */
        if (st == FERRY_COPY_FAILED && strcmp(r->err.s3_code, "InvalidPart") == 0)
            st = FERRY_COPY_RETRY;
        fail(c, st, &r->err);
        conclude_failure(c);
        return;
    }
    c->upload_open = 0;
    snprintf(c->res.dst_etag, sizeof(c->res.dst_etag), "%s", r->etag);
    ferry_error_t ce;
    if (complete_check(c, r, &ce) != FERRY_OK) {
        /* The object is committed but not what we sent: the copy is retried (it replaces it);
         * after the retries the record is failed with this reason. */
        if (c->on_upload)
            c->on_upload(c->arg, "");
        c->res.checksum_failures++;
        c->res.status = FERRY_COPY_RETRY;
        c->res.err = ce;
        ferry_log(FERRY_LOG_WARN, "copy.complete_mismatch", "key", c->dst_key, "error", ce.msg,
                  NULL);
        finish(c);
        return;
    }
    if (c->on_upload)
        c->on_upload(c->arg, "");
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 0);
    c->phase = PH_RECHECK;
    if (ferry_s3_head(c->env.src, &a, recheck_done, c, &c->op, &e) != FERRY_OK) {
        c->res.status = FERRY_COPY_DONE;
        finish(c);
    }
}

static void start_complete(ferry_copy_t *c)
{
    ferry_error_t e;
    ferry_s3xml_cpart_t *cp = calloc(c->plan.parts, sizeof(*cp));
    if (cp == NULL) {
        ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
        fail(c, FERRY_COPY_RETRY, &e);
        conclude_failure(c);
        return;
    }
    for (uint32_t i = 0; i < c->plan.parts; i++) {
        cp[i].number = (int)i + 1;
        cp[i].etag = c->parts[i].etag ? c->parts[i].etag : "";
        cp[i].checksum_crc32c = crc_parts(c) ? c->parts[i].crc32c : NULL;
    }
    ferry_s3_args_t a;
    args_base(c, &a, 1);
    a.upload_id = c->upload_id;
    c->phase = PH_COMPLETE;
    int rc = ferry_s3_complete_multipart(c->env.dst, &a, cp, c->plan.parts, complete_done, c,
                                         &c->op, &e);
    free(cp);
    if (rc != FERRY_OK) {
        fail(c, classify(rc, &e), &e);
        conclude_failure(c);
    }
}

/* Start what can start; conclude when everything has finished. Re-entrant-safe. */
static void pump(ferry_copy_t *c)
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
        uint64_t now = now_ms(c), wake = 0;
        for (uint32_t i = 0; i < c->plan.parts && c->running < c->env.parts_per_job; i++) {
            part_t *p = &c->parts[i];
            if (p->state != 0)
                continue;
            if (p->not_before > now) {
                if (wake == 0 || p->not_before < wake)
                    wake = p->not_before;
                continue;
            }
            if (!pool_take(c))
                break;
            unit_mode_t m = c->plan.kind == FERRY_PLAN_SERVER_PARTS ? UM_PCOPY
                            : p->listed                             ? UM_VERIFY
                            : p->len == 0                           ? UM_EMPTY
                            : p->len <= c->env.ring_size            ? UM_BUF
                                                                    : UM_STREAM;
            p->state = 1;
            int rc = unit_start(c, (int)i, m, p->first, p->len);
            if (rc != FERRY_OK) {
                p->state = 0;
                pool_give(c->env.pool);
                ferry_error_t e;
                ferry_error_set(&e, rc, "cannot start a part: %s", ferry_strerror(rc));
                fail(c, FERRY_COPY_RETRY, &e);
                break;
            }
            if (c->failing)
                break;
        }
        if (c->failing) {
            c->in_pump = 0;
            pump(c);
            return;
        }
        if (c->parts_done == c->plan.parts && c->running == 0) {
            c->in_pump = 0;
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

static int setup_parts(ferry_copy_t *c)
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

static void start_parts(ferry_copy_t *c)
{
    c->phase = PH_PARTS;
    pump(c);
}

static void long_id_abort_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK && r->rc != FERRY_ENOTFOUND)
        ferry_log(FERRY_LOG_WARN, "copy.abort_failed", "key", c->dst_key, "error", r->err.msg,
                  NULL);
    finish(c);
}

static void create_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK) {
        finish_op_error(c, r);
        return;
    }
    if (strlen(r->upload_id) > FERRY_UPLOAD_ID_MAX) {
        /* It cannot be recorded for a resume or the janitor: abort it (by the full id). */
        ferry_s3_args_t a;
        ferry_error_t e;
        args_base(c, &a, 1);
        a.upload_id = r->upload_id;
        c->res.status = FERRY_COPY_FAILED;
        ferry_error_set(&c->res.err, FERRY_ETOOBIG,
                        "the destination returned a multipart upload id of %zu bytes; ferry "
                        "records at most %d: the upload is aborted; report this store",
                        strlen(r->upload_id), FERRY_UPLOAD_ID_MAX);
        c->phase = PH_ABORT;
        if (ferry_s3_abort_multipart(c->env.dst, &a, long_id_abort_done, c, &c->op, &e) != FERRY_OK)
            finish(c);
        return;
    }
    snprintf(c->upload_id, sizeof(c->upload_id), "%s", r->upload_id);
    c->upload_open = 1;
    if (c->on_upload && c->on_upload(c->arg, c->upload_id) != FERRY_OK) {
        ferry_error_t e;
        ferry_error_set(&e, FERRY_EREDIS,
                        "could not record the upload id in the ledger; the upload is aborted "
                        "and the copy retried");
        fail(c, FERRY_COPY_RETRY, &e);
        conclude_failure(c);
        return;
    }
    if (c->canceled) {
        fail(c, FERRY_COPY_CANCELED, &c->res.err);
        conclude_failure(c);
        return;
    }
    start_parts(c);
}

static void start_create(ferry_copy_t *c)
{
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 1);
    if (c->plan.kind == FERRY_PLAN_MULTIPART) {
        a.headers = c->hdrs;
        a.nheaders = c->nh;
    } else {
        /* Server-side parts: metadata as the source has it (the client copies none). */
        a.headers = c->hdrs;
        a.nheaders = c->nh;
    }
    if (crc_parts(c))
        a.checksum_algorithm = "CRC32C";
    c->phase = PH_CREATE;
    int rc = ferry_s3_create_multipart(c->env.dst, &a, create_done, c, &c->op, &e);
    if (rc != FERRY_OK) {
        c->res.status = classify(rc, &e);
        c->res.err = e;
        finish(c);
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
    if (crc_parts(c) && !lp->checksum_crc32c[0])
        return FERRY_OK; /* no checksum to verify it by, and Complete will want one */
    snprintf(p->listed_crc32c, sizeof(p->listed_crc32c), "%s", lp->checksum_crc32c);
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
    start_create(c);
}

static void restart_abort_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK && r->rc != FERRY_ENOTFOUND) /* the janitor will find it */
        ferry_log(FERRY_LOG_WARN, "copy.abort_failed", "key", c->dst_key, "error", r->err.msg,
                  NULL);
    if (c->canceled) {
        c->res.status = FERRY_COPY_CANCELED;
        finish(c);
        return;
    }
    restart_upload(c);
}

static void listparts_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (c->canceled) {
        c->res.status = FERRY_COPY_CANCELED;
        finish(c);
        return;
    }
    if (r->rc != FERRY_OK) {
        /* The upload is gone (aborted by a janitor, completed) or unreadable: start afresh. */
        ferry_log(FERRY_LOG_INFO, "copy.resume_restart", "key", c->src_key, "reason", r->err.msg,
                  NULL);
        restart_upload(c);
        return;
    }
    if (crc_parts(c) != (strcasecmp(r->checksum_algorithm, "CRC32C") == 0)) {
        /* Created in the other checksum mode (--dst-checksum changed, or an older ferry): its
         * parts cannot be completed together with ours. Abort it and start a new one. */
        ferry_log(FERRY_LOG_INFO, "copy.resume_restart", "key", c->src_key, "reason",
                  crc_parts(c) ? "the upload was created without CRC32C part checksums"
                               : "the upload was created with CRC32C part checksums",
                  NULL);
        if (start_abort(c, restart_abort_done) != FERRY_OK)
            restart_upload(c);
        return;
    }
    if (!dst_etag_is_md5(c) && c->res.parts_resumed > 0 && !c->res.src_has_crc64) {
        /* Nothing can verify the parts already there: safer to send them again. */
        for (uint32_t i = 0; i < c->plan.parts; i++)
            c->parts[i].listed = 0;
        c->res.parts_resumed = 0;
    }
    ferry_log(FERRY_LOG_INFO, "copy.resume", "key", c->src_key, "upload_id", c->upload_id,
              "parts_there", c->res.parts_resumed ? "yes" : "no", NULL);
    start_parts(c);
}

static void scopy_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc != FERRY_OK) {
        finish_op_error(c, r);
        return;
    }
    snprintf(c->res.dst_etag, sizeof(c->res.dst_etag), "%s", r->etag);
    if (strchr(c->res.etag, '-') == NULL && r->etag[0]) {
        if (!ferry_etag_eq(r->etag, c->res.etag)) {
            c->res.status = FERRY_COPY_RETRY;
            ferry_error_set(&c->res.err, FERRY_ECHECKSUM,
                            "server-side copy returned ETag %s, the source has %s", r->etag,
                            c->res.etag);
            finish(c);
            return;
        }
        add_check(c, "dst:etag");
    }
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 0);
    c->phase = PH_RECHECK;
    if (ferry_s3_head(c->env.src, &a, recheck_done, c, &c->op, &e) != FERRY_OK) {
        c->res.status = FERRY_COPY_DONE;
        finish(c);
    }
}

/* Headers to carry: the standard ones and user metadata (plan.h's rule), storage class. */
static int collect_headers(ferry_copy_t *c, const ferry_s3_result_t *r, ferry_error_t *err)
{
    static const char *const std[][2] = {{"content-type", "Content-Type"},
                                         {"cache-control", "Cache-Control"},
                                         {"content-disposition", "Content-Disposition"},
                                         {"content-encoding", "Content-Encoding"},
                                         {"content-language", "Content-Language"},
                                         {"expires", "Expires"}};
    int rc = FERRY_OK;
    ferry_meta_t meta[64];
    size_t nmeta = 0, bad = 0;
    const ferry_http_resp_t *resp = r->resp;
    for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
        const char *v = ferry_s3_result_header(r, std[i][0]);
        if (v != NULL && (rc = add_hdr(c, std[i][1], v)) != FERRY_OK)
            return rc;
    }
    const char *sclass = NULL;
    for (size_t i = 0; resp && i < resp->nheaders; i++) {
        const char *n = resp->headers[i].name;
        const char *pfx = NULL;
        if (strncmp(n, "x-amz-meta-", 11) == 0)
            pfx = "x-amz-meta-";
        else if (c->sp->meta_prefix &&
                 strncmp(n, c->sp->meta_prefix, strlen(c->sp->meta_prefix)) == 0)
            pfx = c->sp->meta_prefix;
        if (pfx) {
            const char *name = n + strlen(pfx);
            int ok = *name != '\0' && strcmp(name, "ferry-dropped") != 0;
            for (const char *q = name; ok && *q; q++)
                ok = (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' ||
                     *q == '_' || *q == '.';
            if (!ok || nmeta >= 64)
                bad++;
            else
                meta[nmeta++] = (ferry_meta_t){name, resp->headers[i].value};
            continue;
        }
        if (strcmp(n, "x-amz-storage-class") == 0 || strcmp(n, "x-oss-storage-class") == 0 ||
            strcmp(n, "x-cos-storage-class") == 0)
            sclass = resp->headers[i].value;
    }
    ferry_buf_t b;
    size_t dropped = 0;
    ferry_buf_init(&b, 64 * 1024);
    rc =
        ferry_meta_apply(meta, nmeta, c->dp->meta_limit ? c->dp->meta_limit : 0, &b, &dropped, err);
    if (rc == FERRY_OK && bad) {
        dropped += bad;
        ferry_log(FERRY_LOG_WARN, "copy.meta_dropped", "key", c->src_key, "reason",
                  "user metadata names S3 cannot carry", NULL);
    }
    for (char *line = b.data; rc == FERRY_OK && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *colon = strstr(line, ": ");
        if (colon) {
            *colon = '\0';
            rc = add_hdr(c, line, colon + 2);
        }
        line = nl ? nl + 1 : NULL;
    }
    ferry_buf_free(&b);
    if (rc != FERRY_OK)
        return rc;
    if (dropped)
        ferry_log(FERRY_LOG_WARN, "copy.meta_truncated", "key", c->src_key, "rule",
                  "user metadata over S3's 2 KB: entries in name order kept, the rest dropped "
                  "(x-amz-meta-ferry-dropped)",
                  NULL);
    const char *cls = c->env.storage_class && c->env.storage_class[0] ? c->env.storage_class : NULL;
    int restore = 0;
    const char *mapped = ferry_profile_map_storage_class(c->sp, sclass, &restore);
    if (restore)
        return ferry_error_set(err, FERRY_EUNSUPPORTED,
                               "the source object is in the archive class %s: restore it on "
                               "the source first, then retry (ferry retry)",
                               sclass);
    if (cls == NULL)
        cls = mapped;
    if (cls != NULL && strcmp(cls, "STANDARD") != 0)
        rc = add_hdr(c, "x-amz-storage-class", cls);
    return rc;
}

static int probe_sink(void *arg, const char *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return FERRY_OK;
}

static void probe_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (r->rc == FERRY_OK) {
        /* It is back: let the job run again. */
        c->res.status = FERRY_COPY_RETRY;
        ferry_error_set(&c->res.err, FERRY_ECHANGED,
                        "the source object reappeared during the copy; retrying");
    } else if (r->rc == FERRY_ENOTFOUND && strcmp(r->err.s3_code, "NoSuchBucket") == 0) {
        c->res.status = FERRY_COPY_FAILED;
        c->res.err = r->err;
    } else if (r->rc == FERRY_ENOTFOUND) {
        c->res.status = FERRY_COPY_SKIPPED;
        ferry_error_set(&c->res.err, FERRY_ENOTFOUND,
                        "the source object is gone (404 NoSuchKey): nothing to copy");
    } else {
        finish_op_error(c, r);
        return;
    }
    finish(c);
}

static void head_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    ferry_error_t e;
    c->op = NULL;
    if (c->canceled) {
        c->res.status = FERRY_COPY_CANCELED;
        finish(c);
        return;
    }
    if (r->rc == FERRY_ENOTFOUND) {
        /* HEAD has no body: ask with a 1-byte GET whether the key or the bucket is missing. */
        ferry_s3_args_t a;
        args_base(c, &a, 0);
        a.range_start = 0;
        a.range_end = 0;
        a.sink = probe_sink;
        c->phase = PH_PROBE;
        if (ferry_s3_get(c->env.src, &a, probe_done, c, &c->op, &e) == FERRY_OK)
            return;
        c->res.status = FERRY_COPY_SKIPPED;
        ferry_error_set(&c->res.err, FERRY_ENOTFOUND, "the source object is gone (404)");
        finish(c);
        return;
    }
    if (r->rc == FERRY_ES3 && r->err.http_status == 400 && want_ck_mode(c)) {
        /* A store that refuses x-amz-checksum-mode: ask again without it (no stored checksum
         * is then known; the other checks still run). */
        ferry_log(FERRY_LOG_INFO, "copy.checksum_mode_refused", "key", c->src_key, "reason",
                  "HEAD with x-amz-checksum-mode answered 400; asking without it", NULL);
        c->no_ck_mode = 1;
        if (start_head(c, &e) == FERRY_OK)
            return;
        c->res.status = classify(e.code, &e);
        c->res.err = e;
        finish(c);
        return;
    }
    if (r->rc != FERRY_OK) {
        c->res.status = classify(r->rc, &r->err);
        c->res.err = r->err;
        finish(c);
        return;
    }
    if (r->object_size < 0) {
        c->res.status = FERRY_COPY_RETRY;
        ferry_error_set(&c->res.err, FERRY_EPARSE, "the source HEAD gave no Content-Length");
        finish(c);
        return;
    }
    c->res.size = (uint64_t)r->object_size;
    c->res.mtime = ferry_copy_http_time(ferry_s3_result_header(r, "last-modified"));
    snprintf(c->res.etag, sizeof(c->res.etag), "%s", r->etag);
    if (r->crc64[0] && ferry_crc64_parse(r->crc64, &c->res.src_crc64) == FERRY_OK)
        c->res.src_has_crc64 = 1;
    c->src_md5_etag = src_etag_is_md5(c, r);
    src_crc_parse(c, r);
    int rc = collect_headers(c, r, &e);
    if (rc != FERRY_OK) {
        c->res.status = classify(rc, &e);
        c->res.err = e;
        finish(c);
        return;
    }
    if (mp_probe_start(c, r))
        return;
    plan_and_start(c);
}

/* The source's multipart ETag can be recomputed: an S3 (or s3c) "hex-N" ETag, bytes read by
 * the worker, no CRC-64 to check by instead. */
static int mp_wanted(const ferry_copy_t *c, const ferry_s3_result_t *r)
{
    const char *sse = ferry_s3_result_header(r, "x-amz-server-side-encryption");
    if ((sse != NULL && strncmp(sse, "aws:kms", 7) == 0) ||
        ferry_s3_result_header(r, "x-amz-server-side-encryption-customer-algorithm") != NULL)
        return 0; /* SSE-KMS / SSE-C: the multipart ETag is not over the content's MD5s */
    return (c->sp->multipart_etag_md5 || strcmp(c->sp->scheme, "s3c") == 0) &&
           !c->env.server_side && !c->res.src_has_crc64 && mp_etag_parts(c->res.etag) > 0;
}

/* Is part 1's length (from HEAD ?partNumber=1) consistent with n parts of one size (the last
 * shorter) making size bytes, as S3 uploads are? */
static int mp_consistent(uint64_t size, uint64_t p1, uint32_t n)
{
    if (p1 == 0 || n == 0 || p1 > size)
        return 0;
    if (n == 1)
        return p1 == size;
    return (uint64_t)(n - 1) * p1 < size && size <= (uint64_t)n * p1;
}

static void mp_head_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    c->op = NULL;
    if (c->canceled) {
        c->res.status = FERRY_COPY_CANCELED;
        finish(c);
        return;
    }
    const char *why = NULL;
    if (r->rc == FERRY_OK && r->etag[0] && !ferry_etag_eq(r->etag, c->res.etag)) {
        c->res.status = FERRY_COPY_RETRY;
        ferry_error_set(&c->res.err, FERRY_ECHANGED,
                        "the source object changed while its parts were asked for; retrying");
        finish(c);
        return;
    }
    if (r->rc != FERRY_OK) {
        why = "HEAD ?partNumber=1 failed";
    } else {
        const char *pc = ferry_s3_result_header(r, "x-amz-mp-parts-count");
        uint64_t p1 = r->content_length > 0 ? (uint64_t)r->content_length : 0;
        if (pc != NULL && strtoul(pc, NULL, 10) != c->mp_n)
            why = "x-amz-mp-parts-count differs from the ETag's part count";
        else if (!mp_consistent(c->res.size, p1, c->mp_n))
            why = "part 1's length does not fit the ETag's part count and the size (the store "
                  "may not answer ?partNumber)";
        else
            c->mp_psize = p1;
    }
    if (why)
        ferry_log(FERRY_LOG_INFO, "copy.source_parts_unknown", "key", c->src_key, "reason", why,
                  NULL);
    plan_and_start(c);
}

/* Ask the source for part 1's length when its ETag is a multipart one: 1 when the request is
 * under way (mp_head_done goes on), 0 to plan now. */
static int mp_probe_start(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    if (c->mp_probed || !mp_wanted(c, r))
        return 0;
    c->mp_probed = 1;
    c->mp_n = (uint32_t)mp_etag_parts(c->res.etag);
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 0);
    a.part_number = 1;
    c->phase = PH_HEAD;
    return ferry_s3_head(c->env.src, &a, mp_head_done, c, &c->op, &e) == FERRY_OK;
}

/* Parts on the source's own boundaries (a whole number of its parts each), so each source part
 * is hashed by one stream; one MD5 slot per source part. FERRY_OK or FERRY_ENOMEM. */
static int mp_plan(ferry_copy_t *c)
{
    if (c->mp_psize == 0)
        return FERRY_OK;
    uint64_t P = c->mp_psize;
    if (c->plan.kind == FERRY_PLAN_MULTIPART) {
        uint64_t k = (c->plan.part_size + P - 1) / P;
        if (k * P > FERRY_S3_MAX_PART)
            k = FERRY_S3_MAX_PART / P;
        if (k == 0 || k * P < FERRY_S3_MIN_PART) {
            ferry_log(FERRY_LOG_INFO, "copy.source_parts_unknown", "key", c->src_key, "reason",
                      "the source's part size cannot be a destination part size", NULL);
            return FERRY_OK;
        }
        c->plan.part_size = k * P;
        c->plan.parts = (uint32_t)((c->res.size + k * P - 1) / (k * P));
    } else if (c->plan.kind != FERRY_PLAN_SINGLE) {
        return FERRY_OK;
    }
    c->mpd = calloc(c->mp_n, 16);
    if (c->mpd == NULL)
        return FERRY_ENOMEM;
    if (c->src_crc_kind == SRC_CRC_COMPOSITE && c->src_crc_parts == c->mp_n &&
        (c->mpc = calloc(c->mp_n, sizeof(*c->mpc))) == NULL)
        return FERRY_ENOMEM;
    return FERRY_OK;
}

/* Will a source check run for this plan? */
static int src_check_possible(const ferry_copy_t *c)
{
    if (c->plan.kind == FERRY_PLAN_SERVER_COPY || c->plan.kind == FERRY_PLAN_SERVER_PARTS)
        return 0; /* no byte passes through the worker */
    if (c->res.src_has_crc64 || c->mpd != NULL || c->src_crc_kind == SRC_CRC_FULL)
        return 1;
    if (c->plan.kind == FERRY_PLAN_SINGLE)
        return c->src_md5_etag ||
               (c->sp->checksum_kind == FERRY_CHECKSUM_QETAG && is_qetag(c->res.etag));
    return c->qblk != NULL && is_qetag(c->res.etag);
}

/* --require-source-check and no source check possible: end the copy FAILED before any byte
 * moves. 1 when it ended. */
static int refuse_unverifiable(ferry_copy_t *c)
{
    if (!c->env.require_source_check || src_check_possible(c))
        return 0;
    c->res.status = FERRY_COPY_FAILED;
    ferry_error_set(&c->res.err, FERRY_EUNSUPPORTED, "%s", REQUIRE_MSG);
    finish(c);
    return 1;
}

/* A source whose only possible check is the MD5 of all its bytes (a plain-MD5 ETag, no CRC-64,
 * no stored FULL_OBJECT CRC32C) cannot be checked over parallel parts: copy it as one streamed
 * PUT (up to S3's 5 GiB) that hashes as it goes, whatever the threshold, unless the task
 * chose parallel parts (env.md5_parts) or a multipart upload of it is already open (resume id
 * from the ledger: resumed as parts, src:unverified, rather than left open). The multipart
 * threshold to plan with. */
static uint64_t plan_threshold(const ferry_copy_t *c)
{
    uint64_t t = c->env.threshold ? c->env.threshold : 64 * FERRY_MIB;
    if (c->src_md5_etag && !c->res.src_has_crc64 && c->src_crc_kind != SRC_CRC_FULL &&
        !c->env.server_side && !c->env.md5_parts && !c->resume_id[0] && c->res.size > t &&
        c->res.size <= FERRY_S3_MAX_PUT) {
        ferry_log(FERRY_LOG_INFO, "copy.single_stream_for_md5", "key", c->src_key, "reason",
                  "the source's only checksum is its MD5 ETag: one streamed PUT, not parallel "
                  "parts",
                  NULL);
        return FERRY_S3_MAX_PUT;
    }
    return t;
}

static void plan_and_start(ferry_copy_t *c)
{
    ferry_error_t e;
    uint64_t want = c->env.part_size, align = FERRY_MIB;
    /* Kodo: keep parts on qetag block boundaries, at every size. */
    if (c->sp->checksum_kind == FERRY_CHECKSUM_QETAG) {
        align = FERRY_QETAG_BLOCK;
        if (want % FERRY_QETAG_BLOCK)
            want = (want / FERRY_QETAG_BLOCK + 1) * FERRY_QETAG_BLOCK;
    }
    int rc = ferry_plan_make_aligned(c->res.size, plan_threshold(c), want, c->env.server_side,
                                     align, &c->plan, &e);
    if (rc == FERRY_OK && mp_plan(c) != FERRY_OK)
        rc = ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
    if (rc != FERRY_OK) {
        c->res.status = FERRY_COPY_FAILED;
        c->res.err = e;
        finish(c);
        return;
    }
    c->res.plan_kind = c->plan.kind;
    c->res.parts = c->plan.parts;
    if (c->plan.kind == FERRY_PLAN_SERVER_COPY && refuse_unverifiable(c))
        return;
    switch (c->plan.kind) {
    case FERRY_PLAN_SERVER_COPY: {
        ferry_s3_args_t a;
        args_base(c, &a, 1);
        a.copy_bucket = c->env.src_bucket;
        a.copy_key = c->src_key;
        a.copy_key_len = c->src_len;
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
        rc = ferry_s3_copy(c->env.dst, &a, scopy_done, c, &c->op, &e);
        if (rc != FERRY_OK) {
            c->res.status = classify(rc, &e);
            c->res.err = e;
            finish(c);
        }
        return;
    }
    default:
        break;
    }
    int prc = setup_parts(c);
    uint64_t nblk = (c->res.size + FERRY_QETAG_BLOCK - 1) / FERRY_QETAG_BLOCK;
    if (prc == FERRY_OK && c->plan.kind == FERRY_PLAN_MULTIPART &&
        c->sp->checksum_kind == FERRY_CHECKSUM_QETAG &&
        c->plan.part_size % FERRY_QETAG_BLOCK == 0 && nblk <= QBLK_MAX) {
        c->qblk = calloc((size_t)nblk, 20);
        c->qblk_n = nblk;
        if (c->qblk == NULL)
            prc = FERRY_ENOMEM;
    }
    if (prc != FERRY_OK) {
        c->res.status = FERRY_COPY_RETRY;
        ferry_error_set(&c->res.err, FERRY_ENOMEM, "out of memory");
        finish(c);
        return;
    }
    if (refuse_unverifiable(c))
        return;
    if (c->plan.kind == FERRY_PLAN_SINGLE) {
        c->parts[0].first = 0;
        c->parts[0].len = c->res.size;
        start_parts(c);
        return;
    }
    if (c->resume_id[0] && c->plan.kind == FERRY_PLAN_MULTIPART) {
        snprintf(c->upload_id, sizeof(c->upload_id), "%s", c->resume_id);
        c->upload_open = 1;
        ferry_s3_list_args_t la;
        memset(&la, 0, sizeof(la));
        la.bucket = c->env.dst_bucket;
        la.key = c->dst_key; /* ListParts takes a NUL-terminated key */
        la.upload_id = c->upload_id;
        la.on_part = on_listed_part;
        la.arg = c;
        c->phase = PH_LISTPARTS;
        if (memchr(c->dst_key, '\0', c->dst_len) == NULL &&
            ferry_s3_list_parts(c->env.dst, &la, listparts_done, c, &c->op, &e) == FERRY_OK)
            return;
    }
    start_create(c);
}

/* ---- small objects: one GET, no HEAD ------------------------------------------------------ */

static int start_head(ferry_copy_t *c, ferry_error_t *e)
{
    ferry_s3_args_t a;
    args_base(c, &a, 0);
    if (want_ck_mode(c)) {
        a.headers = &ck_mode_hdr;
        a.nheaders = 1;
    }
    c->phase = PH_HEAD;
    return ferry_s3_head(c->env.src, &a, head_done, c, &c->op, e);
}

static void get1_release(ferry_copy_t *c)
{
    free(c->fbuf);
    c->fbuf = NULL;
    c->fgot = c->fcap = 0;
    if (c->fslot) {
        c->fslot = 0;
        pool_give(c->env.pool);
    }
}

static int get1_sink(void *arg, const char *p, size_t n)
{
    ferry_copy_t *c = arg;
    if (c->canceled)
        return FERRY_ECANCELED;
    if (n > c->env.ring_size - c->fgot)
        return FERRY_ETOOBIG; /* larger than the hint said: HEAD + plan instead */
    if (c->fgot + n > c->fcap) {
        size_t cap = c->fcap * 2;
        if (cap < c->fgot + n)
            cap = c->fgot + n;
        if (cap > c->env.ring_size)
            cap = c->env.ring_size;
        char *nb = realloc(c->fbuf, cap);
        if (nb == NULL)
            return FERRY_ENOMEM;
        c->fbuf = nb;
        c->fcap = cap;
    }
    memcpy(c->fbuf + c->fgot, p, n);
    c->fgot += n;
    return FERRY_OK;
}

/* The object is in fbuf: hash it as a buffered stream would have, verify it against what the
 * same response said, then PUT it from memory. Takes over fbuf and the pool stream. */
static void get1_unit(ferry_copy_t *c)
{
    ferry_error_t e;
    unit_t *u = calloc(1, sizeof(*u));
    int rc = u ? ferry_md5_init(&u->md5) : FERRY_ENOMEM;
    if (rc == FERRY_OK && c->sp->checksum_kind == FERRY_CHECKSUM_QETAG) {
        rc = ferry_qetag_init(&u->qetag);
        u->qetag_on = rc == FERRY_OK;
    }
    if (rc != FERRY_OK) {
        if (u)
            unit_free(u);
        get1_release(c);
        c->res.status = FERRY_COPY_RETRY;
        ferry_error_set(&c->res.err, rc, "cannot start the copy: %s", ferry_strerror(rc));
        finish(c);
        return;
    }
    u->c = c;
    u->pidx = 0;
    u->md5_on = 1; /* Content-MD5 on the PUT, the ETag compared, the source's MD5 checked */
    u->mode = c->res.size == 0 ? UM_EMPTY : UM_BUF;
    u->len = u->got = c->res.size;
    u->buf = c->fbuf; /* ownership moves to the unit (freed with it) */
    c->fbuf = NULL;
    c->fslot = 0; /* the unit gives the stream back when it settles */
    u->get_ok = 1;
    u->scrc_on = c->src_crc_kind == SRC_CRC_FULL;
    unit_hash(u, u->buf ? u->buf : "", (size_t)u->len);
    u->next = c->units;
    c->units = u;
    c->running++;
    c->parts[0].state = 1;
    c->phase = PH_PARTS;
    if (unit_verify_whole(u, &e) != FERRY_OK) {
        unit_error(u, e.code, &e);
        unit_settle(u);
        return;
    }
    if (!u->md5_done) {
        ferry_md5_final(&u->md5, u->md5_bin);
        u->md5_done = 1;
    }
    unit_start_put(u);
    if (u->ops == 0)
        unit_settle(u);
}

static void get1_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    ferry_error_t e;
    c->op = NULL;
    if (c->canceled) {
        get1_release(c);
        c->res.status = FERRY_COPY_CANCELED;
        finish(c);
        return;
    }
    if (r->rc == FERRY_ENOTFOUND) {
        /* A GET has a body: NoSuchKey and NoSuchBucket are told apart without a probe. */
        get1_release(c);
        if (strcmp(r->err.s3_code, "NoSuchBucket") == 0) {
            c->res.status = FERRY_COPY_FAILED;
            c->res.err = r->err;
        } else {
            c->res.status = FERRY_COPY_SKIPPED;
            ferry_error_set(&c->res.err, FERRY_ENOTFOUND,
                            "the source object is gone (404 NoSuchKey): nothing to copy");
        }
        finish(c);
        return;
    }
    if (r->rc != FERRY_OK || r->object_size < 0 || (uint64_t)r->object_size != c->fgot) {
        /* Larger than the hint, or an error: the general path classifies it. */
        get1_release(c);
        if (start_head(c, &e) != FERRY_OK) {
            c->res.status = classify(e.code, &e);
            c->res.err = e;
            finish(c);
        }
        return;
    }
    c->res.size = c->fgot;
    c->res.mtime = ferry_copy_http_time(ferry_s3_result_header(r, "last-modified"));
    snprintf(c->res.etag, sizeof(c->res.etag), "%s", r->etag);
    if (r->crc64[0] && ferry_crc64_parse(r->crc64, &c->res.src_crc64) == FERRY_OK)
        c->res.src_has_crc64 = 1;
    c->src_md5_etag = src_etag_is_md5(c, r);
    src_crc_parse(c, r);
    if (mp_wanted(c, r)) {
        /* A multipart source ETag: its part boundaries come from a HEAD; the general path. */
        get1_release(c);
        c->res.src_has_crc64 = 0;
        if (start_head(c, &e) != FERRY_OK) {
            c->res.status = classify(e.code, &e);
            c->res.err = e;
            finish(c);
        }
        return;
    }
    int rc = collect_headers(c, r, &e);
    if (rc == FERRY_OK)
        rc = ferry_plan_make(c->res.size, c->env.threshold, c->env.part_size, 0, &c->plan, &e);
    if (rc == FERRY_OK && c->plan.kind != FERRY_PLAN_SINGLE)
        rc = ferry_error_set(&e, FERRY_EINVAL, "internal: a one-GET copy planned as multipart");
    if (rc == FERRY_OK && setup_parts(c) != FERRY_OK)
        rc = ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
    if (rc != FERRY_OK) {
        get1_release(c);
        c->res.status = rc == FERRY_ENOMEM ? FERRY_COPY_RETRY : classify(rc, &e);
        c->res.err = e;
        finish(c);
        return;
    }
    c->res.plan_kind = c->plan.kind;
    c->res.parts = c->plan.parts;
    c->parts[0].first = 0;
    c->parts[0].len = c->res.size;
    if (refuse_unverifiable(c)) {
        get1_release(c);
        return;
    }
    get1_unit(c);
}

/* Start the one-GET path if it applies and a stream is free; 0 when it did not start. */
static int get1_start(ferry_copy_t *c)
{
    ferry_copy_pool_t *p = c->env.pool;
    uint64_t threshold = c->env.threshold ? c->env.threshold : 64ull << 20;
    if (c->env.server_side || c->resume_id[0] || c->hint > c->env.ring_size ||
        c->hint > threshold || p->used >= p->max)
        return 0;
    c->fcap = c->hint > 0 ? (size_t)c->hint : 64 * 1024;
    if (c->fcap > c->env.ring_size)
        c->fcap = c->env.ring_size;
    c->fbuf = malloc(c->fcap);
    if (c->fbuf == NULL)
        return 0;
    p->used++;
    c->fslot = 1;
    ferry_s3_args_t a;
    ferry_error_t e;
    args_base(c, &a, 0);
    a.sink = get1_sink;
    a.arg = c;
    if (want_ck_mode(c)) { /* a whole GET answers the stored checksum as a HEAD does */
        a.headers = &ck_mode_hdr;
        a.nheaders = 1;
    }
    c->phase = PH_GET1;
    if (ferry_s3_get(c->env.src, &a, get1_done, c, &c->op, &e) != FERRY_OK) {
        get1_release(c);
        return 0;
    }
    return 1;
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
        snprintf(c->resume_id, sizeof(c->resume_id), "%s", req->resume_upload_id);
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
    int rc = req->use_hint && get1_start(c) ? FERRY_OK : start_head(c, &e);
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
        fail(c, FERRY_COPY_CANCELED, &e);
        pump(c);
        return;
    }
    if (c->op)
        ferry_s3_cancel(c->op);
}
