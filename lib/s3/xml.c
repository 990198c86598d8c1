/* Streaming parsers for S3 XML responses on expat, and the request-body builders.
 * Contract and caps: ferry/s3xml.h. Design notes: docs/internals/s3-client.md. */
#include "ferry/s3xml.h"

#include "ferry/sigv4.h"

#include <expat.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RAW_KEY_MAX (3 * FERRY_S3XML_KEY_MAX) /* "%XX" per byte at most */
#define NAME_MAX_   48                        /* element names we track */

/* A held entry while the key encoding is not yet known (see the header). */
enum { REC_OBJECT = 1, REC_PREFIX, REC_UPLOAD };

typedef struct rec_hdr_s {
    int type;
    size_t key_len; /* raw (undecoded) */
    size_t id_len;  /* upload id */
    ferry_s3xml_object_t obj;
    ferry_s3xml_upload_t up;
} rec_hdr_t;

struct ferry_s3xml_s {
    XML_Parser xp;
    ferry_s3xml_opts_t opts;
    ferry_s3xml_cbs_t cbs;
    ferry_error_t err;
    int rc;        /* sticky result */
    int started;   /* first non-whitespace byte seen */
    int root_done; /* the root element closed */
    size_t fed;
    unsigned depth;
    char child[NAME_MAX_]; /* the current depth-2 element */
    int text_on;           /* collecting text for the current element */
    ferry_buf_t text;
    int enc_known, url;
    ferry_buf_t held; /* rec_hdr_t + key + id, while !enc_known */
    /* the entry being built */
    ferry_s3xml_object_t obj;
    ferry_s3xml_part_t part;
    ferry_s3xml_upload_t up;
    ferry_s3xml_deleted_t del;
    ferry_buf_t key; /* raw key of the entry */
    ferry_buf_t id;  /* upload id of the entry */
    int have_key, have_part_number, have_next_token, have_next_marker;
    /* V1: the last key / prefix reported (decoded), for the marker fallback */
    char last[FERRY_S3XML_KEY_MAX + 1];
    size_t last_len;
    ferry_buf_t next_marker_raw;
    ferry_buf_t dec; /* scratch for decoding */
    ferry_s3xml_result_t res;
};

/* ---- errors ---------------------------------------------------------------------------- */

static int fail(ferry_s3xml_t *p, int code, const char *fmt, const char *a)
{
    if (p->rc)
        return p->rc;
    char what[200];
    snprintf(what, sizeof(what), fmt, a ? a : "");
    unsigned long line = p->xp ? (unsigned long)XML_GetCurrentLineNumber(p->xp) : 0;
    ferry_error_set(&p->err, code, "S3 XML: %s (line %lu)", what, line);
    p->rc = code;
    if (p->xp)
        XML_StopParser(p->xp, XML_FALSE);
    return code;
}

/* ---- small parsers --------------------------------------------------------------------- */

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 19)
        return FERRY_EPARSE;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FERRY_EPARSE;
        if (v > (INT64_MAX - (s[i] - '0')) / 10)
            return FERRY_EPARSE;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return FERRY_OK;
}

static int parse_bool(const char *s, int *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = 1;
    else if (strcasecmp(s, "false") == 0)
        *out = 0;
    else
        return FERRY_EPARSE;
    return FERRY_OK;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t at, size_t len, int *out)
{
    if (at + len > n)
        return -1;
    int v = 0;
    for (size_t i = at; i < at + len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int ferry_s3xml_parse_time(const char *s, size_t n, int64_t *out_ms)
{
    int Y, M, D, h, m, sec, ms = 0;
    if (digits(s, n, 0, 4, &Y) || n < 19 || s[4] != '-' || digits(s, n, 5, 2, &M) || s[7] != '-' ||
        digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &m) || s[16] != ':' ||
        digits(s, n, 17, 2, &sec))
        return FERRY_EPARSE;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return FERRY_EPARSE;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        int scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start || i - start > 9)
            return FERRY_EPARSE;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return FERRY_EPARSE;
        off = (int64_t)(oh * 60 + om) * 60 * (s[i] == '+' ? 1 : -1);
        i += 6;
    }
    if (i != n)
        return FERRY_EPARSE;
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - off;
    *out_ms = secs * 1000 + ms;
    return FERRY_OK;
}

/* Copy text into a fixed slot; FERRY_ETOOBIG when it does not fit (strict) or truncate. */
static int slot(char *dst, size_t cap, const char *s, size_t n, int strict)
{
    if (n >= cap) {
        if (strict)
            return FERRY_ETOOBIG;
        n = cap - 1;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return FERRY_OK;
}

/* ETag: one leading and one trailing quote removed; case kept. */
static int etag_slot(char *dst, size_t cap, const char *s, size_t n)
{
    if (n && s[0] == '"') {
        s++;
        n--;
    }
    if (n && s[n - 1] == '"')
        n--;
    return slot(dst, cap, s, n, 1);
}

/* ---- key decoding and emission --------------------------------------------------------- */

/* Decode (or not) a raw key into p->dec; checks the 1..1024 byte rule. */
static int decode_key(ferry_s3xml_t *p, const char *raw, size_t n, const char *what)
{
    ferry_buf_reset(&p->dec);
    int rc;
    if (p->url) {
        rc = ferry_uri_decode(raw, n, !p->opts.plus_literal, &p->dec);
        if (rc == FERRY_EPARSE)
            return fail(p, FERRY_EPARSE, "bad percent-escape in a url-encoded %s", what);
    } else {
        rc = ferry_buf_add(&p->dec, raw, n);
    }
    if (rc == FERRY_ETOOBIG || (rc == FERRY_OK && p->dec.len > FERRY_S3XML_KEY_MAX))
        return fail(p, FERRY_ETOOBIG, "%s longer than 1024 bytes after decoding", what);
    if (rc)
        return fail(p, rc, "out of memory decoding a %s", what);
    if (p->dec.len == 0 && strcmp(what, "key") == 0)
        return fail(p, FERRY_EPARSE, "empty %s", what);
    if (p->dec.data == NULL)
        ferry_buf_add(&p->dec, "", 0);
    return FERRY_OK;
}

static void remember_last(ferry_s3xml_t *p)
{
    size_t n = p->dec.len;
    if (p->last_len == 0 || memcmp(p->dec.data, p->last, n < p->last_len ? n : p->last_len) > 0 ||
        (memcmp(p->dec.data, p->last, n < p->last_len ? n : p->last_len) == 0 && n > p->last_len)) {
        memcpy(p->last, p->dec.data, n);
        p->last[n] = '\0';
        p->last_len = n;
    }
}

static int cb_rc(ferry_s3xml_t *p, int rc)
{
    if (rc == FERRY_OK)
        return FERRY_OK;
    if (rc > 0)
        rc = FERRY_ECANCELED;
    if (!p->rc) {
        ferry_error_set(&p->err, rc, "S3 XML: stopped by the caller (%s)", ferry_strerror(rc));
        p->rc = rc;
    }
    if (p->xp)
        XML_StopParser(p->xp, XML_FALSE);
    return rc;
}

static int emit(ferry_s3xml_t *p, int type, const rec_hdr_t *h, const char *raw, const char *id)
{
    int rc = decode_key(p, raw, h->key_len, type == REC_PREFIX ? "prefix" : "key");
    if (rc)
        return rc;
    remember_last(p);
    if (type == REC_OBJECT) {
        p->res.objects++;
        if (p->cbs.on_object) {
            ferry_s3xml_object_t o = h->obj;
            o.key = p->dec.data;
            o.key_len = p->dec.len;
            return cb_rc(p, p->cbs.on_object(p->cbs.ud, &o));
        }
    } else if (type == REC_PREFIX) {
        p->res.prefixes++;
        if (p->cbs.on_prefix)
            return cb_rc(p, p->cbs.on_prefix(p->cbs.ud, p->dec.data, p->dec.len));
    } else {
        p->res.objects++;
        if (p->cbs.on_upload) {
            ferry_s3xml_upload_t u = h->up;
            u.key = p->dec.data;
            u.key_len = p->dec.len;
            u.upload_id = id;
            return cb_rc(p, p->cbs.on_upload(p->cbs.ud, &u));
        }
    }
    return FERRY_OK;
}

/* Report now if the encoding is known, else hold. */
static int report(ferry_s3xml_t *p, int type)
{
    rec_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.type = type;
    h.key_len = p->key.len;
    h.id_len = p->id.len;
    h.obj = p->obj;
    h.up = p->up;
    const char *raw = p->key.data ? p->key.data : "";
    const char *id = p->id.data ? p->id.data : "";
    if (p->enc_known)
        return emit(p, type, &h, raw, id);
    int rc = ferry_buf_add(&p->held, &h, sizeof(h));
    if (!rc)
        rc = ferry_buf_add(&p->held, raw, h.key_len);
    if (!rc)
        rc = ferry_buf_add(&p->held, id, h.id_len + 1);
    if (rc)
        return fail(p, rc, "%s",
                    rc == FERRY_ETOOBIG ? "too many entries held back" : "out of memory");
    return FERRY_OK;
}

/* The encoding is known now: report everything held, in order. */
static int flush_held(ferry_s3xml_t *p, int url)
{
    p->enc_known = 1;
    p->url = url;
    size_t off = 0;
    while (off < p->held.len && !p->rc) {
        rec_hdr_t h;
        memcpy(&h, p->held.data + off, sizeof(h));
        const char *raw = p->held.data + off + sizeof(h);
        const char *id = raw + h.key_len;
        off += sizeof(h) + h.key_len + h.id_len + 1;
        int rc = emit(p, h.type, &h, raw, id);
        if (rc)
            return rc;
    }
    ferry_buf_free(&p->held);
    return p->rc;
}

/* ---- expat handlers -------------------------------------------------------------------- */

static const char *local_name(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

/* One of Key, Prefix, NextMarker, Marker, StartAfter, NextKeyMarker, KeyMarker, Delimiter.
 * Asked twice for every element of every listing: by length first, then one compare (eight
 * strcmp calls were ~240 instructions an element). */
static int is_keyish(const char *n)
{
    switch (strlen(n)) {
    case 3:
        return !memcmp(n, "Key", 3);
    case 6:
        return !memcmp(n, "Prefix", 6) || !memcmp(n, "Marker", 6);
    case 9:
        return !memcmp(n, "KeyMarker", 9) || !memcmp(n, "Delimiter", 9);
    case 10:
        return !memcmp(n, "NextMarker", 10) || !memcmp(n, "StartAfter", 10);
    case 13:
        return !memcmp(n, "NextKeyMarker", 13);
    default:
        return 0;
    }
}

static ferry_s3xml_kind_t root_kind(const char *n)
{
    static const struct {
        const char *name;
        ferry_s3xml_kind_t kind;
    } roots[] = {
        {"Error", FERRY_S3XML_ERROR},
        {"ListBucketResult", FERRY_S3XML_LIST},
        {"InitiateMultipartUploadResult", FERRY_S3XML_INITIATE},
        {"CompleteMultipartUploadResult", FERRY_S3XML_COMPLETE},
        {"CopyObjectResult", FERRY_S3XML_COPY},
        {"CopyPartResult", FERRY_S3XML_COPY},
        {"ListPartsResult", FERRY_S3XML_LIST_PARTS},
        {"ListMultipartUploadsResult", FERRY_S3XML_LIST_UPLOADS},
        {"DeleteResult", FERRY_S3XML_DELETE},
    };
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        if (!strcmp(n, roots[i].name))
            return roots[i].kind;
    return FERRY_S3XML_NONE;
}

static const char *kind_root_name(ferry_s3xml_kind_t k)
{
    switch (k) {
    case FERRY_S3XML_LIST:
        return "ListBucketResult";
    case FERRY_S3XML_INITIATE:
        return "InitiateMultipartUploadResult";
    case FERRY_S3XML_COMPLETE:
        return "CompleteMultipartUploadResult";
    case FERRY_S3XML_COPY:
        return "CopyObjectResult";
    case FERRY_S3XML_LIST_PARTS:
        return "ListPartsResult";
    case FERRY_S3XML_LIST_UPLOADS:
        return "ListMultipartUploadsResult";
    case FERRY_S3XML_DELETE:
        return "DeleteResult";
    default:
        return "Error";
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    ferry_s3xml_t *p = ud;
    if (p->rc)
        return;
    const char *n = local_name(name);
    p->depth++;
    if (p->depth > p->opts.max_depth) {
        fail(p, FERRY_ETOOBIG, "elements nested deeper than the cap%s", "");
        return;
    }
    ferry_buf_reset(&p->text);
    p->text_on = p->depth == 2 || p->depth == 3;
    /* A field that can hold a key gets the raw-key cap; every other text node max_text. */
    p->text.max = is_keyish(n) ? RAW_KEY_MAX : p->opts.max_text;
    if (p->depth == 1) {
        if (p->root_done) {
            fail(p, FERRY_EPARSE, "a second root element <%s>", n);
            return;
        }
        ferry_s3xml_kind_t k = root_kind(n);
        if (k != FERRY_S3XML_ERROR && k != p->opts.expect) {
            char what[160];
            snprintf(what, sizeof(what), "expected <%s> or <Error>, got <%.60s>",
                     kind_root_name(p->opts.expect), n);
            fail(p, FERRY_EPARSE, "%s", what);
            return;
        }
        p->res.root = k;
        return;
    }
    if (p->depth == 2) {
        size_t cl = strnlen(n, sizeof(p->child) - 1); /* snprintf's "%s" cut, without it */
        memcpy(p->child, n, cl);
        p->child[cl] = '\0';
        memset(&p->obj, 0, sizeof(p->obj));
        p->obj.size = -1;
        p->obj.last_modified_ms = -1;
        memset(&p->part, 0, sizeof(p->part));
        p->part.size = -1;
        p->part.last_modified_ms = -1;
        memset(&p->up, 0, sizeof(p->up));
        p->up.initiated_ms = -1;
        memset(&p->del, 0, sizeof(p->del));
        ferry_buf_reset(&p->key);
        ferry_buf_reset(&p->id);
        p->have_key = p->have_part_number = 0;
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    ferry_s3xml_t *p = ud;
    if (p->rc || !p->text_on || len <= 0)
        return;
    if (p->res.root == FERRY_S3XML_ERROR) {
        /* Informational: keep what fits in the widest slot, drop the rest. */
        size_t room = p->text.len < 512 ? 512 - p->text.len : 0;
        if ((size_t)len > room)
            len = (int)room;
        if (len && ferry_buf_add(&p->text, s, (size_t)len))
            fail(p, FERRY_ENOMEM, "out of memory%s", "");
        return;
    }
    int rc = ferry_buf_add(&p->text, s, (size_t)len);
    if (rc == FERRY_ETOOBIG)
        fail(p, FERRY_ETOOBIG, "text of an element is longer than its cap%s", "");
    else if (rc)
        fail(p, rc, "out of memory%s", "");
}

#define IS(a)       (!strcmp(n, (a)))
#define BAD(fmt)    fail(p, FERRY_EPARSE, fmt, n)
#define TOOBIG(fmt) fail(p, FERRY_ETOOBIG, fmt, n)

static void end_error(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_error_t *e = &p->res.err;
    if (p->depth != 2)
        return;
    if (IS("Code"))
        slot(e->code, sizeof(e->code), t, tl, 0);
    else if (IS("Message"))
        slot(e->message, sizeof(e->message), t, tl, 0);
    else if (IS("RequestId"))
        slot(e->request_id, sizeof(e->request_id), t, tl, 0);
    else if (IS("HostId"))
        slot(e->host_id, sizeof(e->host_id), t, tl, 0);
    else if (IS("Resource"))
        slot(e->resource, sizeof(e->resource), t, tl, 0);
    else if (IS("TraceId"))
        slot(e->trace_id, sizeof(e->trace_id), t, tl, 0);
    else if (IS("EC"))
        slot(e->ec, sizeof(e->ec), t, tl, 0);
    else if (IS("Region"))
        slot(e->region, sizeof(e->region), t, tl, 0);
    else if (IS("Endpoint"))
        slot(e->endpoint, sizeof(e->endpoint), t, tl, 0);
    else if (IS("BucketName"))
        slot(e->bucket, sizeof(e->bucket), t, tl, 0);
}

static void set_key(ferry_s3xml_t *p, const char *t, size_t tl)
{
    ferry_buf_reset(&p->key);
    if (ferry_buf_add(&p->key, t, tl) || ferry_buf_add(&p->key, "", 0))
        fail(p, FERRY_ENOMEM, "out of memory%s", "");
    p->have_key = 1;
}

static void end_common_root(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_result_t *r = &p->res;
    int b;
    if (IS("IsTruncated")) {
        if (parse_bool(t, &b))
            BAD("<%s> is not true or false");
        else
            r->is_truncated = b;
    } else if (IS("EncodingType")) {
        int url = strcasecmp(t, "url") == 0;
        if (!url && tl)
            BAD("unknown <%s>");
        else if (p->enc_known && url != p->url)
            BAD("<%s> contradicts entries already reported");
        else if (!p->enc_known)
            flush_held(p, url);
        r->url_encoded = url;
    }
}

static void end_list(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_result_t *r = &p->res;
    if (p->depth == 2) {
        if (IS("Contents")) {
            if (!p->have_key) {
                BAD("<%s> without <Key>");
            } else if (p->obj.size > FERRY_S3XML_SIZE_MAX) {
                /* a bound every consumer relies on (ledger, plan): refused at parse time */
                char why[200];
                size_t kl = p->key.len > 80 ? 80 : p->key.len;
                snprintf(why, sizeof(why),
                         "object \"%.*s\" has <Size> %" PRId64
                         ", above the 5 TiB an object can have",
                         (int)kl, p->key.data ? p->key.data : "", p->obj.size);
                fail(p, FERRY_ERANGE, "%s", why);
            } else {
                report(p, REC_OBJECT);
            }
        } else if (IS("CommonPrefixes")) {
            if (p->have_key)
                report(p, REC_PREFIX);
        } else if (IS("NextContinuationToken")) {
            if (slot(r->next_token, sizeof(r->next_token), t, tl, 1))
                TOOBIG("<%s> too long");
            p->have_next_token = 1;
        } else if (IS("NextMarker")) {
            ferry_buf_reset(&p->next_marker_raw);
            if (ferry_buf_add(&p->next_marker_raw, t, tl) ||
                ferry_buf_add(&p->next_marker_raw, "", 0))
                fail(p, FERRY_ENOMEM, "out of memory%s", "");
            p->have_next_marker = tl > 0;
        } else if (IS("KeyCount")) {
            int64_t v;
            if (parse_i64(t, tl, &v) || v > 100000)
                BAD("bad <%s>");
            else
                r->key_count = (long)v;
        } else {
            end_common_root(p, n, t, tl);
        }
        return;
    }
    /* depth 3 */
    if (!strcmp(p->child, "Contents")) {
        ferry_s3xml_object_t *o = &p->obj;
        if (IS("Key")) {
            set_key(p, t, tl);
        } else if (IS("Size")) {
            if (parse_i64(t, tl, &o->size))
                BAD("bad <%s>");
        } else if (IS("ETag")) {
            if (etag_slot(o->etag, sizeof(o->etag), t, tl))
                TOOBIG("<%s> longer than 127 bytes");
        } else if (IS("LastModified")) {
            if (ferry_s3xml_parse_time(t, tl, &o->last_modified_ms))
                BAD("bad <%s> timestamp");
        } else if (IS("StorageClass")) {
            if (slot(o->storage_class, sizeof(o->storage_class), t, tl, 1))
                TOOBIG("<%s> longer than 63 bytes");
        }
    } else if (!strcmp(p->child, "CommonPrefixes") && IS("Prefix")) {
        set_key(p, t, tl);
    }
}

static void end_parts(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_result_t *r = &p->res;
    int64_t v;
    if (p->depth == 2) {
        if (IS("Part")) {
            if (!p->have_part_number) {
                BAD("<%s> without <PartNumber>");
                return;
            }
            r->objects++;
            if (p->cbs.on_part)
                cb_rc(p, p->cbs.on_part(p->cbs.ud, &p->part));
        } else if (IS("NextPartNumberMarker")) {
            if (parse_i64(t, tl, &v) || v > 10000)
                BAD("bad <%s>");
            else
                r->next_part_number_marker = (long)v;
        } else if (IS("UploadId")) {
            if (slot(r->upload_id, sizeof(r->upload_id), t, tl, 1))
                TOOBIG("<%s> too long");
        } else if (IS("Bucket")) {
            slot(r->bucket, sizeof(r->bucket), t, tl, 0);
        } else if (IS("Key")) {
            if (slot(r->key, sizeof(r->key), t, tl, 1))
                TOOBIG("<%s> too long");
        } else if (IS("ChecksumAlgorithm")) {
            if (slot(r->checksum_algorithm, sizeof(r->checksum_algorithm), t, tl, 1))
                TOOBIG("<%s> longer than 15 bytes");
        } else {
            end_common_root(p, n, t, tl);
        }
        return;
    }
    if (strcmp(p->child, "Part"))
        return;
    ferry_s3xml_part_t *pt = &p->part;
    if (IS("PartNumber")) {
        if (parse_i64(t, tl, &v) || v < 1 || v > 10000)
            BAD("bad <%s> (1..10000)");
        else {
            pt->number = (int)v;
            p->have_part_number = 1;
        }
    } else if (IS("ETag")) {
        if (etag_slot(pt->etag, sizeof(pt->etag), t, tl))
            TOOBIG("<%s> longer than 127 bytes");
    } else if (IS("Size")) {
        if (parse_i64(t, tl, &pt->size))
            BAD("bad <%s>");
    } else if (IS("LastModified")) {
        if (ferry_s3xml_parse_time(t, tl, &pt->last_modified_ms))
            BAD("bad <%s> timestamp");
    } else if (IS("ChecksumCRC32C")) {
        if (slot(pt->checksum_crc32c, sizeof(pt->checksum_crc32c), t, tl, 1))
            TOOBIG("<%s> longer than 15 bytes");
    }
}

static void end_uploads(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_result_t *r = &p->res;
    if (p->depth == 2) {
        if (IS("Upload")) {
            if (!p->have_key || p->id.len == 0)
                BAD("<%s> without <Key> or <UploadId>");
            else
                report(p, REC_UPLOAD);
        } else if (IS("CommonPrefixes")) {
            if (p->have_key)
                report(p, REC_PREFIX);
        } else if (IS("NextKeyMarker")) {
            ferry_buf_reset(&p->next_marker_raw);
            if (ferry_buf_add(&p->next_marker_raw, t, tl) ||
                ferry_buf_add(&p->next_marker_raw, "", 0))
                fail(p, FERRY_ENOMEM, "out of memory%s", "");
            p->have_next_marker = tl > 0;
        } else if (IS("NextUploadIdMarker")) {
            if (slot(r->next_upload_id_marker, sizeof(r->next_upload_id_marker), t, tl, 1))
                TOOBIG("<%s> too long");
        } else {
            end_common_root(p, n, t, tl);
        }
        return;
    }
    if (!strcmp(p->child, "Upload")) {
        if (IS("Key")) {
            set_key(p, t, tl);
        } else if (IS("UploadId")) {
            ferry_buf_reset(&p->id);
            if (tl > FERRY_UPLOAD_ID_MAX)
                TOOBIG("<%s> too long");
            else if (ferry_buf_add(&p->id, t, tl))
                fail(p, FERRY_ENOMEM, "out of memory%s", "");
        } else if (IS("Initiated")) {
            if (ferry_s3xml_parse_time(t, tl, &p->up.initiated_ms))
                BAD("bad <%s> timestamp");
        } else if (IS("StorageClass")) {
            if (slot(p->up.storage_class, sizeof(p->up.storage_class), t, tl, 1))
                TOOBIG("<%s> longer than 63 bytes");
        }
    } else if (!strcmp(p->child, "CommonPrefixes") && IS("Prefix")) {
        set_key(p, t, tl);
    }
}

static void end_delete(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_deleted_t *d = &p->del;
    if (p->depth == 2) {
        if (IS("Deleted") || IS("Error")) {
            if (!p->have_key) {
                BAD("<%s> without <Key>");
                return;
            }
            d->ok = IS("Deleted");
            d->key = p->key.data;
            d->key_len = p->key.len;
            p->res.objects++;
            if (p->cbs.on_deleted)
                cb_rc(p, p->cbs.on_deleted(p->cbs.ud, d));
        }
        return;
    }
    if (IS("Key")) {
        if (tl == 0 || tl > FERRY_S3XML_KEY_MAX)
            TOOBIG("<%s> empty or longer than 1024 bytes");
        else
            set_key(p, t, tl);
    } else if (IS("Code")) {
        slot(d->code, sizeof(d->code), t, tl, 0);
    } else if (IS("Message")) {
        slot(d->message, sizeof(d->message), t, tl, 0);
    }
}

static void end_simple(ferry_s3xml_t *p, const char *n, const char *t, size_t tl)
{
    ferry_s3xml_result_t *r = &p->res;
    if (p->depth != 2)
        return;
    if (IS("UploadId")) {
        if (slot(r->upload_id, sizeof(r->upload_id), t, tl, 1))
            TOOBIG("<%s> too long");
    } else if (IS("Bucket")) {
        slot(r->bucket, sizeof(r->bucket), t, tl, 0);
    } else if (IS("Key")) {
        if (slot(r->key, sizeof(r->key), t, tl, 1))
            TOOBIG("<%s> too long");
    } else if (IS("ETag")) {
        if (etag_slot(r->etag, sizeof(r->etag), t, tl))
            TOOBIG("<%s> longer than 127 bytes");
    } else if (IS("Location")) {
        slot(r->location, sizeof(r->location), t, tl, 0);
    } else if (IS("ChecksumCRC32C")) {
        if (slot(r->checksum_crc32c, sizeof(r->checksum_crc32c), t, tl, 1))
            TOOBIG("<%s> longer than 15 bytes");
    } else if (IS("LastModified")) {
        if (ferry_s3xml_parse_time(t, tl, &r->last_modified_ms))
            BAD("bad <%s> timestamp");
    }
}

/* The root closed: settle the encoding and the continuation. */
static void end_root(ferry_s3xml_t *p)
{
    ferry_s3xml_result_t *r = &p->res;
    p->root_done = 1;
    /* A page that says "more" without saying where to go on is refused before anything held
     * is reported. */
    if (r->root == FERRY_S3XML_LIST && r->is_truncated && p->opts.list_version == 2 &&
        !p->have_next_token) {
        fail(p, FERRY_EPARSE, "truncated listing without <NextContinuationToken>%s", "");
        return;
    }
    if (r->root == FERRY_S3XML_LIST || r->root == FERRY_S3XML_LIST_UPLOADS) {
        if (!p->enc_known && flush_held(p, 0))
            return;
        if (p->have_next_marker) {
            if (decode_key(p, p->next_marker_raw.data, p->next_marker_raw.len, "marker"))
                return;
            memcpy(r->next_marker, p->dec.data, p->dec.len + 1);
            r->next_marker_len = p->dec.len;
        }
    }
    if (r->root == FERRY_S3XML_LIST && r->is_truncated) {
        if (p->opts.list_version == 1 && !p->have_next_marker) {
            if (p->last_len == 0) {
                fail(p, FERRY_EPARSE, "truncated listing without entries or <NextMarker>%s", "");
                return;
            }
            memcpy(r->next_marker, p->last, p->last_len + 1);
            r->next_marker_len = p->last_len;
        }
    }
    if (r->root == FERRY_S3XML_LIST_PARTS && r->is_truncated && r->next_part_number_marker < 0)
        fail(p, FERRY_EPARSE, "truncated part list without <NextPartNumberMarker>%s", "");
    if (r->root == FERRY_S3XML_INITIATE && !r->upload_id[0])
        fail(p, FERRY_EPARSE, "no <UploadId> in the reply%s", "");
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    ferry_s3xml_t *p = ud;
    if (p->rc)
        return;
    const char *n = local_name(name);
    const char *t = p->text.data ? p->text.data : "";
    size_t tl = p->text.len;
    if (!is_keyish(n) && tl) {
        /* Keys keep every byte; other fields lose surrounding whitespace (OSS's documented
         * error body puts newlines around <Code>). */
        while (tl && isspace((unsigned char)*t)) {
            t++;
            tl--;
        }
        while (tl && isspace((unsigned char)t[tl - 1]))
            tl--;
        p->text.data[(t - p->text.data) + tl] = '\0';
    }
    if (p->depth == 1) {
        end_root(p);
    } else {
        switch (p->res.root) {
        case FERRY_S3XML_ERROR:
            end_error(p, n, t, tl);
            break;
        case FERRY_S3XML_LIST:
            end_list(p, n, t, tl);
            break;
        case FERRY_S3XML_LIST_PARTS:
            end_parts(p, n, t, tl);
            break;
        case FERRY_S3XML_LIST_UPLOADS:
            end_uploads(p, n, t, tl);
            break;
        case FERRY_S3XML_DELETE:
            end_delete(p, n, t, tl);
            break;
        default:
            end_simple(p, n, t, tl);
            break;
        }
    }
    p->depth--;
    ferry_buf_reset(&p->text);
    p->text_on = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    fail(ud, FERRY_EPARSE, "a DTD (<!DOCTYPE>) is not allowed in a reply%s", "");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_length, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    fail(ud, FERRY_EPARSE, "entity declarations are not allowed in a reply%s", "");
}

/* ---- public ---------------------------------------------------------------------------- */

int ferry_s3xml_new(const ferry_s3xml_opts_t *opts, const ferry_s3xml_cbs_t *cbs,
                    ferry_s3xml_t **out)
{
    *out = NULL;
    if (opts == NULL || opts->expect <= FERRY_S3XML_ERROR || opts->expect > FERRY_S3XML_DELETE ||
        opts->list_version < 0 || opts->list_version > 2)
        return FERRY_EINVAL;
    ferry_s3xml_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return FERRY_ENOMEM;
    p->opts = *opts;
    if (!p->opts.list_version)
        p->opts.list_version = 2;
    if (!p->opts.max_bytes)
        p->opts.max_bytes = FERRY_S3XML_DEFAULT_MAX_BYTES;
    if (!p->opts.max_depth)
        p->opts.max_depth = FERRY_S3XML_DEFAULT_MAX_DEPTH;
    if (!p->opts.max_text || p->opts.max_text > FERRY_S3XML_DEFAULT_MAX_TEXT)
        p->opts.max_text = FERRY_S3XML_DEFAULT_MAX_TEXT;
    if (cbs)
        p->cbs = *cbs;
    ferry_buf_init(&p->text, p->opts.max_text);
    ferry_buf_init(&p->held, p->opts.max_bytes + (p->opts.max_bytes / 4));
    ferry_buf_init(&p->key, RAW_KEY_MAX + 1);
    ferry_buf_init(&p->id, FERRY_UPLOAD_ID_MAX + 1);
    ferry_buf_init(&p->next_marker_raw, RAW_KEY_MAX + 1);
    ferry_buf_init(&p->dec, RAW_KEY_MAX + 1);
    p->res.key_count = -1;
    p->res.next_part_number_marker = -1;
    p->res.last_modified_ms = -1;
    p->xp = XML_ParserCreate(NULL);
    if (p->xp == NULL) {
        ferry_s3xml_free(p);
        return FERRY_ENOMEM;
    }
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
    XML_SetEntityDeclHandler(p->xp, on_entity_decl);
    XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);
    *out = p;
    return FERRY_OK;
}

static int expat_fail(ferry_s3xml_t *p, const char *when)
{
    if (p->rc)
        return p->rc;
    enum XML_Error e = XML_GetErrorCode(p->xp);
    char what[200];
    snprintf(what, sizeof(what), "%s: %s at column %lu", when, XML_ErrorString(e),
             (unsigned long)XML_GetCurrentColumnNumber(p->xp));
    return fail(p, FERRY_EPARSE, "%s", what);
}

int ferry_s3xml_feed(ferry_s3xml_t *p, const void *data, size_t len)
{
    if (p->rc)
        return p->rc;
    if (len > p->opts.max_bytes - p->fed || p->fed > p->opts.max_bytes)
        return fail(p, FERRY_ETOOBIG, "reply body larger than the cap%s", "");
    p->fed += len;
    const char *s = data;
    if (!p->started) {
        /* S3 and COS send spaces before the XML of a long Complete. */
        while (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
            s++;
            len--;
        }
        if (len == 0)
            return FERRY_OK;
        p->started = 1;
    }
    while (len) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;
        if (XML_Parse(p->xp, s, n, XML_FALSE) != XML_STATUS_OK)
            return expat_fail(p, "malformed XML");
        s += n;
        len -= (size_t)n;
    }
    return p->rc;
}

int ferry_s3xml_finish(ferry_s3xml_t *p)
{
    if (p->rc)
        return p->rc;
    if (!p->started)
        return fail(p, FERRY_EPARSE, "empty reply body%s", "");
    if (XML_Parse(p->xp, NULL, 0, XML_TRUE) != XML_STATUS_OK)
        return expat_fail(p, "truncated or malformed XML");
    if (!p->root_done)
        return fail(p, FERRY_EPARSE, "truncated reply: the root element never closed%s", "");
    return p->rc;
}

const ferry_s3xml_result_t *ferry_s3xml_result(const ferry_s3xml_t *p)
{
    return &p->res;
}

const ferry_error_t *ferry_s3xml_last_error(const ferry_s3xml_t *p)
{
    return &p->err;
}

void ferry_s3xml_free(ferry_s3xml_t *p)
{
    if (p == NULL)
        return;
    if (p->xp)
        XML_ParserFree(p->xp);
    ferry_buf_free(&p->text);
    ferry_buf_free(&p->held);
    ferry_buf_free(&p->key);
    ferry_buf_free(&p->id);
    ferry_buf_free(&p->next_marker_raw);
    ferry_buf_free(&p->dec);
    free(p);
}

int ferry_s3xml_parse_error(const void *body, size_t len, ferry_s3xml_error_t *out)
{
    memset(out, 0, sizeof(*out));
    /* Any expected kind will do: <Error> is always accepted; pick one whose root no error
     * body has, so only <Error> passes. */
    ferry_s3xml_opts_t o = {.expect = FERRY_S3XML_INITIATE, .max_bytes = 1u << 20};
    ferry_s3xml_t *p;
    int rc = ferry_s3xml_new(&o, NULL, &p);
    if (rc)
        return rc;
    rc = ferry_s3xml_feed(p, body, len);
    if (!rc)
        rc = ferry_s3xml_finish(p);
    if (!rc && p->res.root != FERRY_S3XML_ERROR)
        rc = FERRY_EPARSE;
    if (!rc)
        *out = p->res.err;
    else if (rc != FERRY_ENOMEM)
        rc = FERRY_EPARSE;
    ferry_s3xml_free(p);
    return rc;
}

int ferry_s3xml_error_apply(const ferry_s3xml_error_t *e, int code, int http_status,
                            const char *what, ferry_error_t *err)
{
    if (code == FERRY_OK)
        code = FERRY_ES3;
    if (err == NULL)
        return code;
    const char *sep = what && *what ? ": " : "";
    ferry_error_set(err, code, "%s%s%s%s%s%s%s%s", what ? what : "", sep,
                    e->code[0] ? e->code : "error", e->message[0] ? ": " : "", e->message,
                    e->request_id[0] ? " (request id " : "", e->request_id,
                    e->request_id[0] ? ")" : "");
    err->http_status = http_status;
    snprintf(err->s3_code, sizeof(err->s3_code), "%s", e->code);
    return code;
}

/* ---- builders -------------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (n bytes left) and its code point; 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, c = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, c = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

int ferry_s3xml_escape(const char *s, size_t n, ferry_buf_t *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, start = 0;
    int rc = FERRY_OK;
    while (i < n && !rc) {
        uint32_t cp;
        size_t l = utf8_seq(u + i, n - i, &cp);
        if (l == 0)
            return FERRY_EINVAL;
        const char *rep = NULL;
        switch (cp) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        case '\t':
            rep = "&#9;";
            break;
        case '\n':
            rep = "&#10;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF)
                return FERRY_EINVAL;
        }
        if (rep) {
            rc = ferry_buf_add(out, s + start, i - start);
            if (!rc)
                rc = ferry_buf_adds(out, rep);
            start = i + l;
        }
        i += l;
    }
    if (!rc)
        rc = ferry_buf_add(out, s + start, n - start);
    return rc;
}

int ferry_s3xml_build_complete(const ferry_s3xml_cpart_t *parts, size_t n, ferry_buf_t *out)
{
    if (n == 0 || n > 10000)
        return FERRY_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].number < 1 || parts[i].number > 10000 ||
            (i && parts[i].number <= parts[i - 1].number) || parts[i].etag == NULL)
            return FERRY_EINVAL;
    }
    size_t mark = out->len;
    int rc = ferry_buf_adds(out, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < n && !rc; i++) {
        const char *e = parts[i].etag;
        size_t el = strlen(e);
        if (el && e[0] == '"') {
            e++;
            el--;
        }
        if (el && e[el - 1] == '"')
            el--;
        if (el == 0) {
            rc = FERRY_EINVAL;
            break;
        }
        rc = ferry_buf_addf(out, "<Part><PartNumber>%d</PartNumber><ETag>\"", parts[i].number);
        if (!rc)
            rc = ferry_s3xml_escape(e, el, out);
        if (!rc)
            rc = ferry_buf_adds(out, "\"</ETag>");
        const char *ck = parts[i].checksum_crc32c;
        if (!rc && ck && ck[0]) {
            rc = ferry_buf_adds(out, "<ChecksumCRC32C>");
            if (!rc)
                rc = ferry_s3xml_escape(ck, strlen(ck), out);
            if (!rc)
                rc = ferry_buf_adds(out, "</ChecksumCRC32C>");
        }
        if (!rc)
            rc = ferry_buf_adds(out, "</Part>");
    }
    if (!rc)
        rc = ferry_buf_adds(out, "</CompleteMultipartUpload>");
    if (rc) {
        out->len = mark; /* leave the buffer as it was */
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

int ferry_s3xml_build_delete(const char *const *keys, size_t n, int quiet, ferry_buf_t *out,
                             ferry_error_t *err)
{
    if (n == 0 || n > 1000)
        return ferry_error_set(err, FERRY_EINVAL, "DeleteObjects takes 1 to 1000 keys, not %zu", n);
    size_t mark = out->len;
    int rc = ferry_buf_adds(out, "<Delete>");
    if (!rc && quiet)
        rc = ferry_buf_adds(out, "<Quiet>true</Quiet>");
    for (size_t i = 0; i < n && !rc; i++) {
        size_t kl = keys[i] ? strlen(keys[i]) : 0;
        if (kl == 0 || kl > FERRY_S3XML_KEY_MAX) {
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "DeleteObjects: key %zu is empty or longer "
                                 "than 1024 bytes",
                                 i);
            break;
        }
        rc = ferry_buf_adds(out, "<Object><Key>");
        if (!rc) {
            rc = ferry_s3xml_escape(keys[i], kl, out);
            if (rc == FERRY_EINVAL) {
                ferry_error_set(err, rc,
                                "DeleteObjects: key %zu (\"%.60s\"...) holds invalid "
                                "UTF-8 or a control character XML 1.0 cannot carry: delete it "
                                "with a single DELETE",
                                i, keys[i]);
                break;
            }
        }
        if (!rc)
            rc = ferry_buf_adds(out, "</Key></Object>");
    }
    if (!rc)
        rc = ferry_buf_adds(out, "</Delete>");
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}
