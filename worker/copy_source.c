/* ferry worker — the source version a copy is about (HEAD, or one GET for a small object),
 * the 404 probe, the source's own part size, the headers to carry, and the plan. */
#include "copy_int.h"

#include "ferry/buf.h"
#include "ferry/log.h"
#include "ferry/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

static int mp_probe_start(ferry_copy_t *c, const ferry_s3_result_t *r);
static void plan_and_start(ferry_copy_t *c);

static const ferry_kv_t ck_mode_hdr = {"x-amz-checksum-mode", "ENABLED"};

/* Past the quotes and 32 hex digits an ETag starts with, or NULL. */
static const char *skip_hex32(const char *s)
{
    while (*s == '"')
        s++;
    for (int i = 0; i < 32; i++)
        if (!isxdigit((unsigned char)s[i]))
            return NULL;
    return s + 32;
}

static int is_hex32(const char *s)
{
    s = skip_hex32(s);
    return s != NULL && (*s == '\0' || *s == '"');
}

/* N for a multipart ETag "hex32-N" (quotes allowed, 1 <= N <= 10,000), else 0. */
static int mp_etag_parts(const char *s)
{
    s = skip_hex32(s);
    if (s == NULL || s[0] != '-' || !isdigit((unsigned char)s[1]))
        return 0;
    long n = 0;
    const char *p = s + 1;
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

/* The stored CRC32C a HEAD (or whole GET) answered, into c->src_crc_*: "b64" (FULL_OBJECT, or
 * x-amz-checksum-type FULL_OBJECT) or "b64-N" (COMPOSITE over N parts). A value of another
 * form, or whose type contradicts its form, is not used (logged): only what can be recomputed
 * is compared. Other algorithms (CRC32, SHA-*, CRC64NVME) are not checked. */
static void src_crc_parse(ferry_copy_t *c, const ferry_s3_result_t *r)
{
    c->src_crc_kind = CK_CRC_NONE;
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
        c->src_crc_kind = CK_CRC_COMPOSITE;
        c->src_crc_parts = (uint32_t)parts;
        snprintf(c->src_crc_b64 + 8, sizeof(c->src_crc_b64) - 8, "-%ld", parts);
    } else {
        c->src_crc_kind = CK_CRC_FULL;
        c->src_crc = crc;
    }
}

/* The version to copy, as the HEAD (or the one GET) answered it: size, Last-Modified, ETag, the
 * CRC-64 (OSS, COS), whether the ETag is an MD5, the stored CRC32C. Everything after (plan,
 * checks, If-Match) is about this version. */
static void take_source_version(ferry_copy_t *c, const ferry_s3_result_t *r, uint64_t size)
{
    c->res.size = size;
    /* Stores send IMF-fixdate: parsed here without curl_getdate's sscanf calls (~8 per date),
     * which stays the fallback for any other form. */
    const char *lm = ferry_s3_result_header(r, "last-modified");
    int64_t t;
    c->res.mtime = ferry_http_date_imf(lm, &t) == FERRY_OK ? t : ferry_copy_http_time(lm);
    size_t el = strlen(r->etag); /* both FERRY_ETAG_MAX + 1 bytes: snprintf's "%s" copy */
    if (el >= sizeof(c->res.etag))
        el = sizeof(c->res.etag) - 1;
    memcpy(c->res.etag, r->etag, el);
    c->res.etag[el] = '\0';
    if (r->crc64[0] && ferry_crc64_parse(r->crc64, &c->res.src_crc64) == FERRY_OK)
        c->res.src_has_crc64 = 1;
    c->src_md5_etag = src_etag_is_md5(c, r);
    src_crc_parse(c, r);
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

/* The storage class to send: the task's, else the source's (sclass, may be NULL) mapped by
 * its profile; STANDARD is not sent. An archive-class source fails (restore it first). */
static int storage_class_hdr(ferry_copy_t *c, const char *sclass, ferry_error_t *err)
{
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
        return add_hdr(c, "x-amz-storage-class", cls);
    return FERRY_OK;
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
    return storage_class_hdr(c, sclass, err);
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
    if (r->rc == FERRY_OK) /* It is back: let the job run again. */
        copy_finish_msg(c, FERRY_COPY_RETRY, FERRY_ECHANGED,
                        "the source object reappeared during the copy; retrying");
    else if (r->rc == FERRY_ENOTFOUND)
        copy_finish_not_found(c, r);
    else
        copy_finish_op_error(c, r);
}

static void head_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    ferry_error_t e;
    if (copy_op_done(c))
        return;
    if (r->rc == FERRY_ENOTFOUND) {
        /* HEAD has no body: ask with a 1-byte GET whether the key or the bucket is missing. */
        ferry_s3_args_t a;
        copy_args_base(c, &a, 0);
        a.range_start = 0;
        a.range_end = 0;
        a.sink = probe_sink;
        c->phase = PH_PROBE;
        if (ferry_s3_get(c->env.src, &a, probe_done, c, &c->op, &e) == FERRY_OK)
            return;
        copy_finish_msg(c, FERRY_COPY_SKIPPED, FERRY_ENOTFOUND, "the source object is gone (404)");
        return;
    }
    if (r->rc == FERRY_ES3 && r->err.http_status == 400 && want_ck_mode(c)) {
        /* A store that refuses x-amz-checksum-mode: ask again without it (no stored checksum
         * is then known; the other checks still run). */
        ferry_log(FERRY_LOG_INFO, "copy.checksum_mode_refused", "key", c->src_key, "reason",
                  "HEAD with x-amz-checksum-mode answered 400; asking without it", NULL);
        c->no_ck_mode = 1;
        if (copy_start_head(c, &e) == FERRY_OK)
            return;
        copy_finish_error(c, e.code, &e);
        return;
    }
    if (r->rc != FERRY_OK) {
        copy_finish_error(c, r->rc, &r->err);
        return;
    }
    if (r->object_size < 0) {
        copy_finish_msg(c, FERRY_COPY_RETRY, FERRY_EPARSE,
                        "the source HEAD gave no Content-Length");
        return;
    }
    take_source_version(c, r, (uint64_t)r->object_size);
    int rc = collect_headers(c, r, &e);
    if (rc != FERRY_OK) {
        copy_finish_error(c, rc, &e);
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
    if (copy_op_done(c))
        return;
    const char *why = NULL;
    if (r->rc == FERRY_OK && r->etag[0] && !ferry_etag_eq(r->etag, c->res.etag)) {
        copy_finish_msg(c, FERRY_COPY_RETRY, FERRY_ECHANGED,
                        "the source object changed while its parts were asked for; retrying");
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
    copy_args_base(c, &a, 0);
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
    if (c->src_crc_kind == CK_CRC_COMPOSITE && c->src_crc_parts == c->mp_n &&
        (c->mpc = calloc(c->mp_n, sizeof(*c->mpc))) == NULL)
        return FERRY_ENOMEM;
    return FERRY_OK;
}

/* --require-source-check and no source check possible: end the copy FAILED before any byte
 * moves. 1 when it ended. */
static int refuse_unverifiable(ferry_copy_t *c)
{
    if (!c->env.require_source_check || copy_src_check_possible(c))
        return 0;
    copy_finish_msg(c, FERRY_COPY_FAILED, FERRY_EUNSUPPORTED, "%s", REQUIRE_MSG);
    return 1;
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
    uint64_t threshold = c->env.threshold ? c->env.threshold : 64 * FERRY_MIB;
    int rc = ferry_plan_make_aligned(c->res.size, threshold, want, c->env.server_side, align,
                                     &c->plan, &e);
    if (rc == FERRY_OK && mp_plan(c) != FERRY_OK)
        rc = ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
    if (rc != FERRY_OK) {
        copy_finish(c, FERRY_COPY_FAILED, &e);
        return;
    }
    copy_choose_checks(c);
    c->res.plan_kind = c->plan.kind;
    c->res.parts = c->plan.parts;
    if (c->plan.kind == FERRY_PLAN_SERVER_COPY) {
        if (!refuse_unverifiable(c))
            copy_start_scopy(c);
        return;
    }
    int prc = copy_setup_parts(c);
    if (prc == FERRY_OK && c->plan.kind == FERRY_PLAN_MULTIPART && (c->ck.checks & CK_SRC_MD5))
        prc = copy_md5_begin(c); /* the MD5 of all the bytes, formed in source order */
    if (prc == FERRY_OK && copy_qblk_wanted(c)) {
        uint64_t nblk = (c->res.size + FERRY_QETAG_BLOCK - 1) / FERRY_QETAG_BLOCK;
        c->qblk = calloc((size_t)nblk, 20);
        c->qblk_n = nblk;
        if (c->qblk == NULL)
            prc = FERRY_ENOMEM;
    }
    if (prc != FERRY_OK) {
        copy_finish_msg(c, FERRY_COPY_RETRY, FERRY_ENOMEM, "out of memory");
        return;
    }
    if (refuse_unverifiable(c))
        return;
    if (c->plan.kind == FERRY_PLAN_SINGLE) {
        c->parts[0].first = 0;
        c->parts[0].len = c->res.size;
        copy_start_parts(c);
        return;
    }
    if (c->resume_id[0] && c->plan.kind == FERRY_PLAN_MULTIPART && copy_start_listparts(c))
        return;
    copy_start_create(c);
}

int copy_start_head(ferry_copy_t *c, ferry_error_t *e)
{
    ferry_s3_args_t a;
    copy_args_base(c, &a, 0);
    if (want_ck_mode(c)) {
        a.headers = &ck_mode_hdr;
        a.nheaders = 1;
    }
    c->phase = PH_HEAD;
    return ferry_s3_head(c->env.src, &a, head_done, c, &c->op, e);
}

void copy_get1_release(ferry_copy_t *c)
{
    free(c->fbuf);
    c->fbuf = NULL;
    c->fgot = c->fcap = 0;
    if (c->fslot) {
        c->fslot = 0;
        copy_pool_give(c->env.pool);
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

static void get1_done(void *arg, const ferry_s3_result_t *r)
{
    ferry_copy_t *c = arg;
    ferry_error_t e;
    c->op = NULL;
    if (c->canceled) {
        copy_get1_release(c);
        copy_finish(c, FERRY_COPY_CANCELED, NULL);
        return;
    }
    if (r->rc == FERRY_ENOTFOUND) {
        /* A GET has a body: NoSuchKey and NoSuchBucket are told apart without a probe. */
        copy_get1_release(c);
        copy_finish_not_found(c, r);
        return;
    }
    if (r->rc != FERRY_OK || r->object_size < 0 || (uint64_t)r->object_size != c->fgot) {
        /* Larger than the hint, or an error: the general path classifies it. */
        copy_get1_release(c);
        if (copy_start_head(c, &e) != FERRY_OK) {
            copy_finish_error(c, e.code, &e);
        }
        return;
    }
    take_source_version(c, r, c->fgot);
    if (mp_wanted(c, r)) {
        /* A multipart source ETag: its part boundaries come from a HEAD; the general path. */
        copy_get1_release(c);
        c->res.src_has_crc64 = 0;
        if (copy_start_head(c, &e) != FERRY_OK) {
            copy_finish_error(c, e.code, &e);
        }
        return;
    }
    int rc = collect_headers(c, r, &e);
    if (rc == FERRY_OK)
        rc = ferry_plan_make(c->res.size, c->env.threshold, c->env.part_size, 0, &c->plan, &e);
    if (rc == FERRY_OK && c->plan.kind != FERRY_PLAN_SINGLE)
        rc = ferry_error_set(&e, FERRY_EINVAL, "internal: a one-GET copy planned as multipart");
    if (rc == FERRY_OK && copy_setup_parts(c) != FERRY_OK)
        rc = ferry_error_set(&e, FERRY_ENOMEM, "out of memory");
    if (rc != FERRY_OK) {
        copy_get1_release(c);
        copy_finish(c, rc == FERRY_ENOMEM ? FERRY_COPY_RETRY : copy_classify(rc, &e), &e);
        return;
    }
    c->res.plan_kind = c->plan.kind;
    c->res.parts = c->plan.parts;
    c->parts[0].first = 0;
    c->parts[0].len = c->res.size;
    copy_choose_checks(c);
    if (refuse_unverifiable(c)) {
        copy_get1_release(c);
        return;
    }
    copy_get1_unit(c);
}

/* Start the one-GET path if it applies and a stream is free; 0 when it did not start. */
int copy_get1_start(ferry_copy_t *c)
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
    copy_args_base(c, &a, 0);
    a.sink = get1_sink;
    a.arg = c;
    if (want_ck_mode(c)) { /* a whole GET answers the stored checksum as a HEAD does */
        a.headers = &ck_mode_hdr;
        a.nheaders = 1;
    }
    c->phase = PH_GET1;
    if (ferry_s3_get(c->env.src, &a, get1_done, c, &c->op, &e) != FERRY_OK) {
        copy_get1_release(c);
        return 0;
    }
    return 1;
}
