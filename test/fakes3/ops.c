#define _GNU_SOURCE /* memmem */
/* fakes3 S3 operations: buckets, objects, listings, multipart. */
#include "server_int.h"

#include "ferry/check.h"
#include "ferry/error.h"
#include "ferry/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LIST_BODY_MAX (32u << 20)
#define XMLNS         "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
#define OWNER         "<Owner><ID>fakes3</ID><DisplayName>fakes3</DisplayName></Owner>"

static int is_method(const fakes3_ctx_t *ctx, const char *m)
{
    return strcmp(ctx->req->method, m) == 0;
}

fakes3_op_t fakes3_ops_classify(const fakes3_ctx_t *ctx)
{
    int has = 0;
    if (ctx->bucket[0] == '\0')
        return is_method(ctx, "GET") ? FAKES3_OP_LIST_BUCKETS : FAKES3_OP_UNKNOWN;
    if (!ctx->has_key) {
        if (is_method(ctx, "PUT"))
            return FAKES3_OP_CREATE_BUCKET;
        if (is_method(ctx, "HEAD"))
            return FAKES3_OP_HEAD_BUCKET;
        if (is_method(ctx, "DELETE"))
            return FAKES3_OP_DELETE_BUCKET;
        if (is_method(ctx, "POST"))
            return fakes3_ctx_param(ctx, "delete") ? FAKES3_OP_DELETE_OBJECTS : FAKES3_OP_UNKNOWN;
        if (!is_method(ctx, "GET"))
            return FAKES3_OP_UNKNOWN;
        if (fakes3_ctx_param(ctx, "location"))
            return FAKES3_OP_GET_BUCKET_LOCATION;
        if (fakes3_ctx_param(ctx, "uploads"))
            return FAKES3_OP_LIST_MULTIPART_UPLOADS;
        const char *lt = fakes3_ctx_param(ctx, "list-type");
        if (lt != NULL && strcmp(lt, "2") == 0 &&
            (ctx->srv->cfg.personality != FAKES3_COS || ctx->srv->cfg.list_v2))
            return FAKES3_OP_LIST_OBJECTS_V2;
        return FAKES3_OP_LIST_OBJECTS;
    }
    has = fakes3_http_header(ctx->req, "x-amz-copy-source") != NULL;
    if (is_method(ctx, "HEAD"))
        return FAKES3_OP_HEAD_OBJECT;
    if (is_method(ctx, "GET"))
        return fakes3_ctx_param(ctx, "uploadId") ? FAKES3_OP_LIST_PARTS : FAKES3_OP_GET_OBJECT;
    if (is_method(ctx, "PUT")) {
        if (fakes3_ctx_param(ctx, "uploadId") && fakes3_ctx_param(ctx, "partNumber"))
            return has ? FAKES3_OP_UPLOAD_PART_COPY : FAKES3_OP_UPLOAD_PART;
        return has ? FAKES3_OP_COPY_OBJECT : FAKES3_OP_PUT_OBJECT;
    }
    if (is_method(ctx, "DELETE"))
        return fakes3_ctx_param(ctx, "uploadId") ? FAKES3_OP_ABORT_MULTIPART_UPLOAD
                                                 : FAKES3_OP_DELETE_OBJECT;
    if (is_method(ctx, "POST")) {
        if (fakes3_ctx_param(ctx, "uploads"))
            return FAKES3_OP_CREATE_MULTIPART_UPLOAD;
        if (fakes3_ctx_param(ctx, "uploadId"))
            return FAKES3_OP_COMPLETE_MULTIPART_UPLOAD;
    }
    return FAKES3_OP_UNKNOWN;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static void iso8601(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static void http_date(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static const char *crc_header(const fakes3_ctx_t *ctx)
{
    switch (ctx->srv->cfg.personality) {
    case FAKES3_OSS:
        return "x-oss-hash-crc64ecma";
    case FAKES3_COS:
        return "x-cos-hash-crc64ecma";
    default:
        return NULL;
    }
}

static int want_crc(const fakes3_ctx_t *ctx)
{
    return crc_header(ctx) != NULL;
}

static int add_crc(const fakes3_ctx_t *ctx, ferry_buf_t *h, int has, uint64_t crc)
{
    const char *name = crc_header(ctx);
    if (name == NULL || !has)
        return FERRY_OK;
    return ferry_buf_addf(h, "%s: %llu\r\n", name, (unsigned long long)crc);
}

static int is_s3(const fakes3_ctx_t *ctx)
{
    return ctx->srv->cfg.personality == FAKES3_S3;
}

/* Fault wrong_etag: an ETag (quoted or not) that is not the content's (first hex digit
 * changed), in place. */
static void mangle_etag(char *etag)
{
    char *p = etag;
    while (*p == '"')
        p++;
    if (*p != '\0')
        *p = *p == '0' ? '1' : '0';
}

/* The x-amz-checksum-crc32c value: base64, with "-N" for a COMPOSITE over N parts. */
static void crc32c_value(uint32_t crc, uint32_t parts, char out[32])
{
    char b64[9];
    ferry_crc32c_b64(crc, b64);
    if (parts > 0)
        snprintf(out, 32, "%s-%u", b64, parts);
    else
        snprintf(out, 32, "%s", b64);
}

/* x-amz-checksum-crc32c (and, with type, x-amz-checksum-type) in S3's style. */
static int add_crc32c(const fakes3_ctx_t *ctx, ferry_buf_t *h, int has, uint32_t crc,
                      uint32_t parts, int type)
{
    char v[32];
    if (!has || !is_s3(ctx))
        return FERRY_OK;
    crc32c_value(crc, parts, v);
    int rc = ferry_buf_addf(h, "x-amz-checksum-crc32c: %s\r\n", v);
    if (rc == FERRY_OK && type)
        rc = ferry_buf_addf(h, "x-amz-checksum-type: %s\r\n", parts ? "COMPOSITE" : "FULL_OBJECT");
    return rc;
}

static fakes3_bucket_t *need_bucket(fakes3_ctx_t *ctx, const char *name)
{
    fakes3_bucket_t *b = fakes3_store_bucket(ctx->srv->store, name);
    if (b == NULL)
        fakes3_ctx_error(ctx, 404, "NoSuchBucket", "The specified bucket does not exist");
    return b;
}

static int reply_xml(fakes3_ctx_t *ctx, int status, const char *hdrs, ferry_buf_t *b)
{
    return fakes3_ctx_reply(ctx, status, hdrs, "application/xml", b->data ? b->data : "", b->len);
}

/* ETag comparison ignoring quotes and hex case. */
static int etag_eq(const char *a, const char *b)
{
    while (*a == '"' || *a == ' ')
        a++;
    while (*b == '"' || *b == ' ')
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && (a[la - 1] == '"' || a[la - 1] == ' '))
        la--;
    while (lb && (b[lb - 1] == '"' || b[lb - 1] == ' '))
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* Does a comma-separated If-Match / If-None-Match list match etag? */
static int etag_list_match(const char *list, const char *etag)
{
    char one[128];
    while (*list) {
        while (*list == ' ' || *list == ',')
            list++;
        const char *e = strchr(list, ',');
        size_t n = e ? (size_t)(e - list) : strlen(list);
        if (n > 0 && n < sizeof(one)) {
            memcpy(one, list, n);
            one[n] = '\0';
            if (strcmp(one, "*") == 0 || etag_eq(one, etag))
                return 1;
        }
        list += n;
    }
    return 0;
}

/* Store a Content-Encoding that names aws-chunked as S3 does: without that coding, which only
 * framed the upload (nothing at all when it was the only one). */
static int add_content_encoding(ferry_buf_t *b, const char *v)
{
    int rc = FERRY_OK, n = 0;
    while (*v && rc == FERRY_OK) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        size_t l = strcspn(v, ",");
        size_t t = l;
        while (t > 0 && (v[t - 1] == ' ' || v[t - 1] == '\t'))
            t--;
        if (t > 0 && !(t == 11 && strncasecmp(v, "aws-chunked", 11) == 0))
            rc = ferry_buf_addf(b, "%s%.*s", n++ ? "," : "Content-Encoding: ", (int)t, v);
        v += l;
    }
    if (rc == FERRY_OK && n > 0)
        rc = ferry_buf_adds(b, "\r\n");
    return rc;
}

/* Collect the headers S3 stores with an object. FERRY_OK or an error already sent. */
static int collect_meta(fakes3_ctx_t *ctx, char **hdrs, int *has_ctype, char sclass[24])
{
    static const char *const std[][2] = {
        {"content-type", "Content-Type"},
        {"cache-control", "Cache-Control"},
        {"content-disposition", "Content-Disposition"},
        {"content-encoding", "Content-Encoding"},
        {"content-language", "Content-Language"},
        {"expires", "Expires"},
        {"x-amz-website-redirect-location", "x-amz-website-redirect-location"},
    };
    size_t meta_limit = ctx->srv->cfg.personality == FAKES3_OSS ? 8192 : 2048;
    size_t meta_bytes = 0;
    ferry_buf_t b;
    ferry_buf_init(&b, 64 * 1024);
    int rc = FERRY_OK;
    *has_ctype = 0;
    strcpy(sclass, "STANDARD");
    for (size_t i = 0; i < ctx->req->nhdrs && rc == FERRY_OK; i++) {
        const char *n = ctx->req->hdrs[i].name, *v = ctx->req->hdrs[i].value;
        if (strncmp(n, "x-amz-meta-", 11) == 0) {
            meta_bytes += strlen(n) - 11 + strlen(v);
            rc = ferry_buf_addf(&b, "%s: %s\r\n", n, v);
            continue;
        }
        if (strcmp(n, "x-amz-storage-class") == 0) {
            if (strlen(v) >= 24) {
                ferry_buf_free(&b);
                fakes3_ctx_error(ctx, 400, "InvalidStorageClass",
                                 "The storage class you specified is not valid");
                return FERRY_EINVAL;
            }
            strcpy(sclass, v);
            continue;
        }
        if (strcmp(n, "content-encoding") == 0 && fakes3_http_has_token(v, "aws-chunked")) {
            rc = add_content_encoding(&b, v);
            continue;
        }
        for (size_t k = 0; k < sizeof(std) / sizeof(std[0]); k++) {
            if (strcmp(n, std[k][0]) == 0) {
                rc = ferry_buf_addf(&b, "%s: %s\r\n", std[k][1], v);
                if (k == 0)
                    *has_ctype = 1;
                break;
            }
        }
    }
    if (rc == FERRY_OK && meta_bytes > meta_limit) {
        ferry_buf_free(&b);
        fakes3_ctx_error(ctx, 400, "MetadataTooLarge",
                         "Your metadata headers exceed the maximum allowed metadata size.");
        return FERRY_EINVAL;
    }
    if (rc != FERRY_OK) {
        ferry_buf_free(&b);
        fakes3_ctx_error(ctx, 400, "MetadataTooLarge", "Too many metadata headers.");
        return rc;
    }
    *hdrs = ferry_buf_steal(&b, NULL);
    return FERRY_OK;
}

/* ---- service and buckets ----------------------------------------------------------------- */

static void op_list_buckets(fakes3_ctx_t *ctx)
{
    fakes3_store_t *s = ctx->srv->store;
    ferry_buf_t b;
    ferry_buf_init(&b, LIST_BODY_MAX);
    int rc = ferry_buf_addf(&b, "%s<ListAllMyBucketsResult " XMLNS ">" OWNER "<Buckets>",
                            fakes3_xml_head());
    pthread_rwlock_rdlock(&s->lock);
    for (const fakes3_map_node_t *n = fakes3_map_seek(&s->buckets, NULL, 0, 0);
         n != NULL && rc == FERRY_OK; n = fakes3_map_next(&s->buckets, n)) {
        const fakes3_bucket_t *bk = fakes3_map_val(n);
        char t[32];
        iso8601(bk->created_ms, t);
        rc = ferry_buf_addf(&b, "<Bucket><Name>%s</Name><CreationDate>%s</CreationDate></Bucket>",
                            bk->name, t);
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</Buckets></ListAllMyBucketsResult>");
    if (rc == FERRY_OK)
        reply_xml(ctx, 200, NULL, &b);
    else
        fakes3_ctx_error(ctx, 500, "InternalError", "listing too large");
    ferry_buf_free(&b);
}

static int valid_bucket_name(const char *n)
{
    size_t l = strlen(n);
    if (l < 3 || l > 63)
        return 0;
    for (size_t i = 0; i < l; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return 0;
    }
    return n[0] != '-' && n[0] != '.' && n[l - 1] != '-' && n[l - 1] != '.';
}

static void op_create_bucket(fakes3_ctx_t *ctx)
{
    if (!valid_bucket_name(ctx->bucket)) {
        fakes3_ctx_error(ctx, 400, "InvalidBucketName", "The specified bucket is not valid.");
        return;
    }
    if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
        return;
    int rc = fakes3_store_bucket_create(ctx->srv->store, ctx->bucket);
    if (rc == FERRY_EEXISTS) {
        fakes3_ctx_error(ctx, 409, "BucketAlreadyOwnedByYou",
                         "Your previous request to create the named bucket succeeded and you "
                         "already own it.");
        return;
    }
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "could not create the bucket: %s",
                         ferry_strerror(rc));
        return;
    }
    char h[128];
    snprintf(h, sizeof(h), "Location: /%s\r\n", ctx->bucket);
    fakes3_ctx_reply(ctx, 200, h, NULL, "", 0);
}

static void op_head_bucket(fakes3_ctx_t *ctx)
{
    if (need_bucket(ctx, ctx->bucket) == NULL)
        return;
    char h[128];
    snprintf(h, sizeof(h), "x-amz-bucket-region: %s\r\n", ctx->srv->cfg.region);
    fakes3_ctx_reply(ctx, 200, h, NULL, "", 0);
}

static void op_delete_bucket(fakes3_ctx_t *ctx)
{
    int rc = fakes3_store_bucket_delete(ctx->srv->store, ctx->bucket);
    if (rc == FERRY_ENOTFOUND)
        fakes3_ctx_error(ctx, 404, "NoSuchBucket", "The specified bucket does not exist");
    else if (rc == FERRY_ECONFLICT)
        fakes3_ctx_error(ctx, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    else
        fakes3_ctx_reply(ctx, 204, NULL, NULL, "", 0);
}

static void op_get_location(fakes3_ctx_t *ctx)
{
    if (need_bucket(ctx, ctx->bucket) == NULL)
        return;
    const char *r = ctx->srv->cfg.region;
    ferry_buf_t b;
    ferry_buf_init(&b, 4096);
    ferry_buf_addf(&b, "%s<LocationConstraint " XMLNS ">%s</LocationConstraint>", fakes3_xml_head(),
                   strcmp(r, "us-east-1") == 0 ? "" : r);
    reply_xml(ctx, 200, NULL, &b);
    ferry_buf_free(&b);
}

/* ---- listings ---------------------------------------------------------------------------- */

/* Append a listing string: URL-encoded when asked, XML-escaped always. */
static int put_name(ferry_buf_t *b, const char *s, size_t n, int enc)
{
    return enc ? fakes3_url_encode(b, s, n) : fakes3_xml_escape(b, s, n);
}

static int put_elem(ferry_buf_t *b, const char *tag, const char *s, size_t n, int enc)
{
    int rc = ferry_buf_addf(b, "<%s>", tag);
    if (rc == FERRY_OK)
        rc = put_name(b, s, n, enc);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(b, "</%s>", tag);
    return rc;
}

/* The smallest string greater than every string starting with p (len in/out); 0 if none. */
static int prefix_successor(char *p, size_t *len)
{
    while (*len > 0) {
        unsigned char c = (unsigned char)p[*len - 1];
        if (c != 0xff) {
            p[*len - 1] = (char)(c + 1);
            return 1;
        }
        (*len)--;
    }
    return 0;
}

/* If key (under prefix) rolls up into a common prefix, its length; else 0. */
static size_t common_prefix(const char *key, size_t klen, size_t plen, const char *delim,
                            size_t dlen)
{
    if (dlen == 0 || klen <= plen)
        return 0;
    const char *d = memmem(key + plen, klen - plen, delim, dlen);
    return d ? (size_t)(d - key) + dlen : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return FERRY_EPARSE;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return FERRY_EPARSE;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return FERRY_OK;
}

static void op_list_objects(fakes3_ctx_t *ctx, int v2)
{
    const fakes3_config_t *cfg = &ctx->srv->cfg;
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    ferry_buf_t b;
    char mbuf[FAKES3_KEY_MAX + 8];
    size_t mlen = 0;
    int have_marker = 0;
    ferry_buf_init(&b, LIST_BODY_MAX);
    if (bk == NULL)
        return;
    const char *prefix = fakes3_ctx_param(ctx, "prefix");
    const char *delim = fakes3_ctx_param(ctx, "delimiter");
    const char *mk = fakes3_ctx_param(ctx, "max-keys");
    const char *enct = fakes3_ctx_param(ctx, "encoding-type");
    const char *token = v2 ? fakes3_ctx_param(ctx, "continuation-token") : NULL;
    const char *marker = fakes3_ctx_param(ctx, v2 ? "start-after" : "marker");
    if (prefix == NULL)
        prefix = "";
    size_t plen = strlen(prefix), dlen = delim ? strlen(delim) : 0;
    size_t omit_len = strlen(ctx->fault.list_omit);
    uint64_t max = cfg->personality == FAKES3_OSS ? 100 : 1000;
    if (mk != NULL && parse_u64(mk, &max) != FERRY_OK) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument",
                         "Provided max-keys not an integer or "
                         "within integer range");
        return;
    }
    if (max > 1000)
        max = 1000;
    if (enct != NULL && strcmp(enct, "url") != 0) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument",
                         "Invalid Encoding Method specified in "
                         "Request");
        return;
    }
    int enc = enct != NULL && cfg->personality != FAKES3_KODO;
    if (token != NULL) {
        if (ferry_b64_decode(token, strlen(token), (uint8_t *)mbuf, FAKES3_KEY_MAX, &mlen) !=
                FERRY_OK ||
            mlen == 0) {
            fakes3_ctx_error(ctx, 400, "InvalidArgument",
                             "The continuation token provided is incorrect");
            return;
        }
        have_marker = 1;
    } else if (marker != NULL && *marker) {
        mlen = strlen(marker);
        if (mlen > FAKES3_KEY_MAX)
            mlen = FAKES3_KEY_MAX;
        memcpy(mbuf, marker, mlen);
        have_marker = 1;
    }
    int rc = ferry_buf_addf(&b, "%s<ListBucketResult " XMLNS "><Name>%s</Name>", fakes3_xml_head(),
                            bk->name);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "Prefix", prefix, plen, enc);
    if (rc == FERRY_OK && !v2)
        rc = put_elem(&b, "Marker", marker ? marker : "", marker ? strlen(marker) : 0, enc);
    if (rc == FERRY_OK && v2 && marker != NULL)
        rc = put_elem(&b, "StartAfter", marker, strlen(marker), enc);
    if (rc == FERRY_OK && v2 && token != NULL)
        rc = ferry_buf_addf(&b, "<ContinuationToken>%s</ContinuationToken>", token);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "<MaxKeys>%llu</MaxKeys>", (unsigned long long)max);
    if (rc == FERRY_OK && delim != NULL)
        rc = put_elem(&b, "Delimiter", delim, dlen, enc);
    if (rc == FERRY_OK && enc)
        rc = ferry_buf_adds(&b, "<EncodingType>url</EncodingType>");

    ferry_buf_t items;
    ferry_buf_init(&items, LIST_BODY_MAX);
    char last[FAKES3_KEY_MAX + 8];
    size_t lastlen = 0;
    uint64_t count = 0;
    int contents = 0; /* <Contents> entries so far (fault list_repeat) */
    int truncated = 0;
    pthread_rwlock_rdlock(&bk->lock);
    const fakes3_map_node_t *n;
    if (have_marker) {
        size_t cpl = common_prefix(mbuf, mlen, plen, delim, dlen);
        if (cpl > 0 && cpl == mlen && plen <= mlen && memcmp(mbuf, prefix, plen) == 0) {
            /* The marker is a common prefix we returned: skip everything under it. */
            n = prefix_successor(mbuf, &mlen) ? fakes3_map_seek(&bk->objects, mbuf, mlen, 0) : NULL;
        } else {
            n = fakes3_map_seek(&bk->objects, mbuf, mlen, 1);
        }
        if (n != NULL && plen > 0) {
            size_t kl;
            const char *k = fakes3_map_key(n, &kl);
            size_t c = kl < plen ? kl : plen;
            int cmp = memcmp(k, prefix, c);
            if (cmp < 0 || (cmp == 0 && kl < plen))
                n = fakes3_map_seek(&bk->objects, prefix, plen, 0);
        }
    } else {
        n = fakes3_map_seek(&bk->objects, prefix, plen, 0);
    }
    while (n != NULL && rc == FERRY_OK) {
        size_t kl;
        const char *k = fakes3_map_key(n, &kl);
        if (kl < plen || memcmp(k, prefix, plen) != 0)
            break;
        if (count == max) {
            truncated = 1;
            break;
        }
        size_t cpl = common_prefix(k, kl, plen, delim, dlen);
        if (cpl > 0) {
            rc = ferry_buf_adds(&items, "<CommonPrefixes>");
            if (rc == FERRY_OK)
                rc = put_elem(&items, "Prefix", k, cpl, enc);
            if (rc == FERRY_OK)
                rc = ferry_buf_adds(&items, "</CommonPrefixes>");
            memcpy(last, k, cpl);
            lastlen = cpl;
            count++;
            char succ[FAKES3_KEY_MAX + 8];
            size_t sl = cpl;
            memcpy(succ, k, cpl);
            n = prefix_successor(succ, &sl) ? fakes3_map_seek(&bk->objects, succ, sl, 0) : NULL;
            continue;
        }
        if (omit_len && kl >= omit_len && memcmp(k, ctx->fault.list_omit, omit_len) == 0) {
            n = fakes3_map_next(&bk->objects, n); /* fault list_omit: a listing that hides it */
            continue;
        }
        const fakes3_obj_t *o = fakes3_map_val(n);
        char t[32];
        iso8601(o->mtime_ms, t);
        size_t at = items.len;
        rc = ferry_buf_adds(&items, "<Contents>");
        if (rc == FERRY_OK)
            rc = put_elem(&items, "Key", k, kl, enc);
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(&items,
                                "<LastModified>%s</LastModified><ETag>&quot;%.*s&quot;</ETag>"
                                "<Size>%llu</Size>%s<StorageClass>%s</StorageClass></Contents>",
                                t, (int)strlen(o->etag) - 2, o->etag + 1,
                                (unsigned long long)o->size, v2 ? "" : OWNER, o->sclass);
        if (rc == FERRY_OK && ++contents == ctx->fault.list_repeat) {
            /* fault list_repeat: this entry again, so the page is out of order */
            size_t one = items.len - at;
            char *dup = ferry_buf_reserve(&items, one, &rc); /* may move items.data */
            if (dup != NULL) {
                memcpy(dup, items.data + at, one);
                ferry_buf_commit(&items, one);
            }
        }
        memcpy(last, k, kl);
        lastlen = kl;
        count++;
        n = fakes3_map_next(&bk->objects, n);
    }
    pthread_rwlock_unlock(&bk->lock);
    if (rc == FERRY_OK && v2)
        rc = ferry_buf_addf(&b, "<KeyCount>%llu</KeyCount>", (unsigned long long)count);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
    if (rc == FERRY_OK && truncated && v2) {
        char tok[FAKES3_KEY_MAX * 2];
        ferry_b64url((const uint8_t *)last, lastlen, tok);
        rc = ferry_buf_addf(&b, "<NextContinuationToken>%s</NextContinuationToken>", tok);
    }
    if (rc == FERRY_OK && truncated && !v2)
        rc = put_elem(&b, "NextMarker", last, lastlen, enc);
    if (rc == FERRY_OK)
        rc = ferry_buf_add(&b, items.data ? items.data : "", items.len);
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</ListBucketResult>");
    if (rc == FERRY_OK)
        reply_xml(ctx, 200, NULL, &b);
    else
        fakes3_ctx_error(ctx, 500, "InternalError", "listing failed: %s", ferry_strerror(rc));
    ferry_buf_free(&items);
    ferry_buf_free(&b);
}

/* ---- objects ----------------------------------------------------------------------------- */

/* Stream body bytes [off, off+len) of o, with the GET faults applied. */
static int send_body(fakes3_ctx_t *ctx, const fakes3_obj_t *o, uint64_t off, uint64_t len)
{
    fakes3_conn_t *c = ctx->conn;
    uint64_t limit = len, sent = 0;
    int reset = ctx->fault.reset_after >= 0 && (uint64_t)ctx->fault.reset_after < len;
    uint64_t flip_at = ctx->fault.flip_byte && len > 0 ? len / 2 : UINT64_MAX;
    if (reset)
        limit = (uint64_t)ctx->fault.reset_after;
    for (uint32_t i = 0; i < o->nslices && sent < limit; i++) {
        const fakes3_slice_t *sl = &o->slices[i];
        if (off >= sl->len) {
            off -= sl->len;
            continue;
        }
        uint64_t pos = sl->off + off;
        uint64_t avail = sl->len - off;
        off = 0;
        while (avail > 0 && sent < limit) {
            uint64_t want = limit - sent < avail ? limit - sent : avail;
            const char *p;
            size_t k;
            int in_scratch = 0;
            if (sl->seg->kind == FAKES3_SEG_MEM && !(flip_at >= sent && flip_at < sent + want)) {
                p = sl->seg->mem + pos;
                k = want > (1u << 30) ? (1u << 30) : (size_t)want;
            } else {
                k = want < FAKES3_CONN_SCRATCH ? (size_t)want : FAKES3_CONN_SCRATCH;
                if (fakes3_body_read(sl, 1, pos - sl->off, c->scratch, k) != FERRY_OK)
                    return FERRY_EIO;
                p = c->scratch;
                in_scratch = 1;
            }
            if (flip_at >= sent && flip_at < sent + k) {
                if (!in_scratch) { /* unreachable: MEM chunks with the flip go via scratch */
                    return FERRY_EIO;
                }
                c->scratch[flip_at - sent] ^= 0x01;
            }
            if (fakes3_conn_write(c, p, k, 0) != FERRY_OK)
                return FERRY_EIO;
            sent += k;
            pos += k;
            avail -= k;
            ctx->bytes_out += k;
        }
    }
    if (reset) {
        fakes3_conn_reset(c);
        ctx->dead = 1;
    }
    return FERRY_OK;
}

static void op_get_object(fakes3_ctx_t *ctx, int head)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    fakes3_obj_t *o = NULL;
    ferry_buf_t h;
    ferry_buf_init(&h, 64 * 1024);
    if (bk == NULL)
        goto out;
    o = fakes3_store_get(bk, ctx->key, ctx->klen);
    if (o == NULL) {
        fakes3_ctx_error(ctx, 404, "NoSuchKey", "The specified key does not exist.");
        goto out;
    }
    char lm[40];
    http_date(o->mtime_ms, lm);
    /* wrong_etag: the store claims an ETag that is not the content's, consistently (If-Match
     * is compared with the claimed one), as a store whose ETags are not MD5s would */
    char etag[sizeof(o->etag)];
    snprintf(etag, sizeof(etag), "%s", o->etag);
    if (ctx->fault.wrong_etag)
        mangle_etag(etag);
    const char *im = fakes3_http_header(ctx->req, "if-match");
    const char *inm = fakes3_http_header(ctx->req, "if-none-match");
    if (im != NULL && !etag_list_match(im, etag)) {
        fakes3_ctx_error(ctx, 412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold");
        goto out;
    }
    if (inm != NULL && etag_list_match(inm, etag)) {
        ferry_buf_addf(&h, "ETag: %s\r\nLast-Modified: %s\r\n", etag, lm);
        fakes3_ctx_reply(ctx, 304, h.data, NULL, "", 0);
        goto out;
    }
    uint64_t start = 0, len = o->size;
    int status = 200;
    const char *range = fakes3_http_header(ctx->req, "range");
    const char *pnum = fakes3_ctx_param(ctx, "partNumber");
    if (pnum != NULL) { /* one part of a multipart object, as S3: 206 with its Content-Range */
        uint64_t n = 0;
        range = NULL;
        if (parse_u64(pnum, &n) != FERRY_OK || n < 1 || n > 10000) {
            fakes3_ctx_error(ctx, 400, "InvalidArgument",
                             "Part number must be an integer between 1 and 10000, inclusive");
            goto out;
        }
        if ((o->nparts == 0 && n != 1) || (o->nparts > 0 && n > o->nparts)) {
            fakes3_ctx_error(ctx, 416, "InvalidPartNumber",
                             "The requested partnumber is not satisfiable");
            goto out;
        }
        if (o->nparts > 0) {
            for (uint64_t i = 0; i + 1 < n; i++)
                start += o->part_sizes[i];
            len = o->part_sizes[n - 1];
        }
        if (len > 0)
            status = 206;
    }
    if (range != NULL && strncmp(range, "bytes=", 6) == 0 && strchr(range, ',') == NULL) {
        const char *r = range + 6;
        const char *dash = strchr(r, '-');
        uint64_t a = 0, bnd = 0;
        int ok = dash != NULL;
        char as[32] = "", bs[32] = "";
        if (ok && (size_t)(dash - r) < sizeof(as) && strlen(dash + 1) < sizeof(bs)) {
            memcpy(as, r, (size_t)(dash - r));
            strcpy(bs, dash + 1);
        } else {
            ok = 0;
        }
        int unsat = 0;
        if (ok && as[0] == '\0' && parse_u64(bs, &bnd) == FERRY_OK) { /* -n: the last n */
            if (bnd == 0 || o->size == 0)
                unsat = 1;
            else {
                len = bnd < o->size ? bnd : o->size;
                start = o->size - len;
                status = 206;
            }
        } else if (ok && parse_u64(as, &a) == FERRY_OK) {
            uint64_t end = o->size ? o->size - 1 : 0;
            if (bs[0] != '\0') {
                if (parse_u64(bs, &bnd) != FERRY_OK || bnd < a)
                    ok = 0; /* syntactically invalid: ignore the header */
                else if (bnd < end)
                    end = bnd;
            }
            if (ok && a >= o->size)
                unsat = 1;
            else if (ok) {
                start = a;
                len = end - a + 1;
                status = 206;
            }
        }
        if (unsat) {
            char cr[64];
            snprintf(cr, sizeof(cr), "Content-Range: bytes */%llu\r\n",
                     (unsigned long long)o->size);
            ferry_buf_t eb;
            ferry_buf_init(&eb, 4096);
            ferry_buf_addf(&eb,
                           "%s<Error><Code>InvalidRange</Code><Message>The requested range is "
                           "not satisfiable</Message><RangeRequested>",
                           fakes3_xml_head());
            fakes3_xml_escape(&eb, range, strlen(range));
            ferry_buf_addf(&eb,
                           "</RangeRequested><ActualObjectSize>%llu</ActualObjectSize>"
                           "<RequestId>%s</RequestId></Error>",
                           (unsigned long long)o->size, ctx->reqid);
            fakes3_ctx_reply(ctx, 416, cr, "application/xml", eb.data, eb.len);
            ferry_buf_free(&eb);
            goto out;
        }
    }
    int rc =
        ferry_buf_addf(&h, "ETag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n", etag, lm);
    if (rc == FERRY_OK && status == 206)
        rc =
            ferry_buf_addf(&h, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)start,
                           (unsigned long long)(start + len - 1), (unsigned long long)o->size);
    if (rc == FERRY_OK && o->hdrs != NULL)
        rc = ferry_buf_adds(&h, o->hdrs);
    if (rc == FERRY_OK && strcmp(o->sclass, "STANDARD") != 0)
        rc = ferry_buf_addf(&h, "x-amz-storage-class: %s\r\n", o->sclass);
    if (rc == FERRY_OK && ctx->fault.sse_kms) /* as an SSE-KMS object: its ETag is no MD5 */
        rc = ferry_buf_adds(&h, "x-amz-server-side-encryption: aws:kms\r\n");
    if (rc == FERRY_OK && strchr(o->etag, '-') != NULL)
        rc = ferry_buf_addf(&h, "x-amz-mp-parts-count: %d\r\n", atoi(strchr(o->etag, '-') + 1));
    if (rc == FERRY_OK)
        rc = add_crc(ctx, &h, o->has_crc, o->crc64);
    /* S3 returns stored checksums only when asked, and not for a range. */
    const char *mode = fakes3_http_header(ctx->req, "x-amz-checksum-mode");
    if (rc == FERRY_OK && status == 200 && mode != NULL && strcasecmp(mode, "ENABLED") == 0)
        rc = add_crc32c(ctx, &h, o->has_crc32c, o->crc32c, o->crc32c_parts, 1);
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "headers too large");
        goto out;
    }
    if (fakes3_ctx_reply_head(ctx, status, h.data, o->has_ctype ? NULL : "binary/octet-stream",
                              len) != FERRY_OK)
        goto out;
    if (!head && len > 0 && send_body(ctx, o, start, len) != FERRY_OK)
        ctx->dead = 1;
out:
    fakes3_obj_unref(o);
    ferry_buf_free(&h);
}

static unsigned etag_wants(const fakes3_ctx_t *ctx)
{
    unsigned w = ctx->srv->cfg.personality == FAKES3_KODO ? FAKES3_WANT_QETAG : FAKES3_WANT_MD5;
    if (want_crc(ctx))
        w |= FAKES3_WANT_CRC64;
    return w;
}

/* Make the body just read into slices (one MEM segment), persisted with --data-dir. */
static int body_slices(fakes3_ctx_t *ctx, fakes3_slice_t **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (ctx->body_len == 0)
        return FERRY_OK;
    fakes3_slice_t *sl = calloc(1, sizeof(*sl));
    if (sl == NULL)
        return FERRY_ENOMEM;
    sl->seg = fakes3_seg_new_mem(ctx->body, ctx->body_len);
    ctx->body = NULL;
    if (sl->seg == NULL) {
        free(sl);
        return FERRY_ENOMEM;
    }
    sl->len = ctx->body_len;
    *out = sl;
    *n = 1;
    if (ctx->srv->cfg.data_dir != NULL) {
        int rc = fakes3_persist_slices(ctx->srv->store, sl, 1);
        if (rc != FERRY_OK) {
            fakes3_slices_free(sl, 1);
            *out = NULL;
            *n = 0;
            return rc;
        }
    }
    return FERRY_OK;
}

static void op_put_object(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    fakes3_obj_t *o = NULL;
    ferry_buf_t h;
    ferry_buf_init(&h, 4096);
    if (bk == NULL)
        goto out;
    if (ctx->req->content_length < 0 && !ctx->req->chunked) {
        fakes3_ctx_error(ctx, 411, "MissingContentLength",
                         "You must provide the Content-Length HTTP header.");
        goto out;
    }
    o = fakes3_obj_new();
    if (o == NULL) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    if (collect_meta(ctx, &o->hdrs, &o->has_ctype, o->sclass) != FERRY_OK)
        goto out;
    if (fakes3_ctx_read_body(ctx, ctx->srv->cfg.max_object, etag_wants(ctx)) != FERRY_OK)
        goto out;
    o->size = ctx->body_len;
    o->crc64 = ctx->crc64;
    o->has_crc = want_crc(ctx);
    o->has_crc32c = ctx->has_crc32c && is_s3(ctx);
    o->crc32c = ctx->crc32c;
    if (ctx->srv->cfg.personality == FAKES3_KODO)
        snprintf(o->etag, sizeof(o->etag), "\"%s\"", ctx->qetag);
    else
        fakes3_etag_md5(ctx->srv->cfg.personality, ctx->md5, o->etag);
    if (body_slices(ctx, &o->slices, &o->nslices) != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "could not store the body");
        goto out;
    }
    if (ctx->fault.no_etag) { /* a broken store: 200, no ETag, nothing kept */
        fakes3_ctx_reply(ctx, 200, NULL, NULL, "", 0);
        goto out;
    }
    {
        char shown[FAKES3_ETAG_MAX];
        memcpy(shown, o->etag, sizeof(shown));
        if (ctx->fault.wrong_etag)
            mangle_etag(shown);
        ferry_buf_addf(&h, "ETag: %s\r\n", shown);
    }
    add_crc(ctx, &h, o->has_crc, o->crc64);
    add_crc32c(ctx, &h, o->has_crc32c, o->crc32c ^ (ctx->fault.wrong_crc32c ? 1u : 0u), 0, 0);
    int rc = fakes3_store_put(ctx->srv->store, bk, ctx->key, ctx->klen, o);
    o = NULL; /* taken */
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "could not store the object: %s",
                         ferry_strerror(rc));
        goto out;
    }
    fakes3_ctx_reply(ctx, 200, h.data, NULL, "", 0);
out:
    fakes3_obj_unref(o);
    ferry_buf_free(&h);
}

static void op_delete_object(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    if (bk == NULL)
        return;
    fakes3_store_del(ctx->srv->store, bk, ctx->key, ctx->klen);
    fakes3_ctx_reply(ctx, 204, NULL, NULL, "", 0);
}

static void op_delete_objects(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    fakes3_xml_delete_t d;
    ferry_buf_t b;
    memset(&d, 0, sizeof(d));
    ferry_buf_init(&b, LIST_BODY_MAX);
    if (bk == NULL)
        goto out;
    if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
        goto out;
    int rc = fakes3_xml_delete(ctx->body, ctx->body_len, &d);
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 400, "MalformedXML",
                         "The XML you provided was not well-formed or did not validate against "
                         "our published schema");
        goto out;
    }
    rc = ferry_buf_addf(&b, "%s<DeleteResult " XMLNS ">", fakes3_xml_head());
    for (size_t i = 0; i < d.n && rc == FERRY_OK; i++) {
        if (d.klens[i] == 0 || d.klens[i] > FAKES3_KEY_MAX) {
            rc = ferry_buf_adds(&b, "<Error>");
            if (rc == FERRY_OK)
                rc = put_elem(&b, "Key", d.keys[i], d.klens[i], 0);
            if (rc == FERRY_OK)
                rc = ferry_buf_adds(&b, "<Code>InvalidArgument</Code><Message>bad key</Message>"
                                        "</Error>");
            continue;
        }
        fakes3_store_del(ctx->srv->store, bk, d.keys[i], d.klens[i]);
        if (!d.quiet) {
            rc = ferry_buf_adds(&b, "<Deleted>");
            if (rc == FERRY_OK)
                rc = put_elem(&b, "Key", d.keys[i], d.klens[i], 0);
            if (rc == FERRY_OK)
                rc = ferry_buf_adds(&b, "</Deleted>");
        }
    }
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</DeleteResult>");
    if (rc == FERRY_OK)
        reply_xml(ctx, 200, NULL, &b);
    else
        fakes3_ctx_error(ctx, 500, "InternalError", "result too large");
out:
    fakes3_xml_delete_free(&d);
    ferry_buf_free(&b);
}

/* Parse x-amz-copy-source into bucket and key, and fetch the source object (checking
 * x-amz-copy-source-if-match / -if-none-match). NULL when an error was sent. */
static fakes3_obj_t *copy_source(fakes3_ctx_t *ctx, char sbucket[64], char *skey, size_t *sklen)
{
    const char *src = fakes3_http_header(ctx->req, "x-amz-copy-source");
    ferry_buf_t d;
    fakes3_obj_t *o = NULL;
    ferry_buf_init(&d, FAKES3_KEY_MAX + 128);
    const char *q = strchr(src, '?'); /* ?versionId=... */
    size_t sl = q ? (size_t)(q - src) : strlen(src);
    if (ferry_uri_decode(src, sl, 0, &d) != FERRY_OK || d.len == 0) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument",
                         "Copy Source must mention the source "
                         "bucket and key: sourcebucket/sourcekey");
        goto out;
    }
    const char *p = d.data;
    if (*p == '/')
        p++;
    const char *slash = strchr(p, '/');
    if (slash == NULL || slash == p || (size_t)(slash - p) >= 64 || slash[1] == '\0' ||
        strlen(slash + 1) > FAKES3_KEY_MAX) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument",
                         "Copy Source must mention the source "
                         "bucket and key: sourcebucket/sourcekey");
        goto out;
    }
    memcpy(sbucket, p, (size_t)(slash - p));
    sbucket[slash - p] = '\0';
    *sklen = d.len - (size_t)(slash + 1 - d.data);
    memcpy(skey, slash + 1, *sklen);
    skey[*sklen] = '\0';
    fakes3_bucket_t *sb = need_bucket(ctx, sbucket);
    if (sb == NULL)
        goto out;
    o = fakes3_store_get(sb, skey, *sklen);
    if (o == NULL) {
        fakes3_ctx_error(ctx, 404, "NoSuchKey", "The specified key does not exist.");
        goto out;
    }
    const char *im = fakes3_http_header(ctx->req, "x-amz-copy-source-if-match");
    const char *inm = fakes3_http_header(ctx->req, "x-amz-copy-source-if-none-match");
    if ((im != NULL && !etag_list_match(im, o->etag)) ||
        (inm != NULL && etag_list_match(inm, o->etag))) {
        fakes3_ctx_error(ctx, 412, "PreconditionFailed",
                         "At least one of the pre-conditions you specified did not hold");
        fakes3_obj_unref(o);
        o = NULL;
    }
out:
    ferry_buf_free(&d);
    return o;
}

static void reply_error_body(fakes3_ctx_t *ctx)
{
    ferry_buf_t b;
    ferry_buf_init(&b, 4096);
    ferry_buf_addf(&b,
                   "%s<Error><Code>InternalError</Code><Message>We encountered an internal "
                   "error. Please try again.</Message><RequestId>%s</RequestId></Error>",
                   fakes3_xml_head(), ctx->reqid);
    reply_xml(ctx, 200, NULL, &b);
    ferry_buf_free(&b);
}

/* MD5, CRC-64, qetag and CRC32C of a body range by reading it (each optional). */
static int digest_slices(const fakes3_slice_t *sl, uint32_t n, char *scratch, uint8_t md5[16],
                         uint64_t *crc, char qetag[29], uint32_t *crc32c)
{
    uint32_t c32 = 0;
    ferry_md5_t m = {0};
    ferry_qetag_t q = {0};
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += sl[i].len;
    if ((md5 && ferry_md5_init(&m) != FERRY_OK) || (qetag && ferry_qetag_init(&q) != FERRY_OK))
        return FERRY_ENOMEM;
    uint64_t c = 0;
    int rc = FERRY_OK;
    for (uint64_t off = 0; off < total && rc == FERRY_OK; off += FAKES3_CONN_SCRATCH) {
        size_t k = total - off < FAKES3_CONN_SCRATCH ? (size_t)(total - off) : FAKES3_CONN_SCRATCH;
        rc = fakes3_body_read(sl, n, off, scratch, k);
        if (md5)
            ferry_md5_update(&m, scratch, k);
        if (qetag)
            ferry_qetag_update(&q, scratch, k);
        c = ferry_crc64_update(c, scratch, k);
        if (crc32c)
            c32 = ferry_crc32c_update(c32, scratch, k);
    }
    if (md5)
        ferry_md5_final(&m, md5);
    if (qetag)
        ferry_qetag_final(&q, qetag);
    ferry_md5_free(&m);
    ferry_qetag_free(&q);
    if (crc)
        *crc = c;
    if (crc32c)
        *crc32c = c32;
    return rc;
}

static void op_copy_object(fakes3_ctx_t *ctx)
{
    char sb[64], sk[FAKES3_KEY_MAX + 1];
    size_t sklen = 0;
    fakes3_obj_t *src = NULL, *o = NULL;
    ferry_buf_t b;
    ferry_buf_init(&b, 8192);
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    if (bk == NULL)
        goto out;
    if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
        goto out;
    src = copy_source(ctx, sb, sk, &sklen);
    if (src == NULL)
        goto out;
    const char *dir = fakes3_http_header(ctx->req, "x-amz-metadata-directive");
    int replace = dir != NULL && strcasecmp(dir, "REPLACE") == 0;
    if (dir != NULL && !replace && strcasecmp(dir, "COPY") != 0) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument", "Unknown metadata directive.");
        goto out;
    }
    if (!replace && strcmp(sb, ctx->bucket) == 0 && sklen == ctx->klen &&
        memcmp(sk, ctx->key, sklen) == 0 &&
        fakes3_http_header(ctx->req, "x-amz-storage-class") == NULL) {
        fakes3_ctx_error(ctx, 400, "InvalidRequest",
                         "This copy request is illegal because it is trying to copy an object "
                         "to itself without changing the object's metadata, storage class, "
                         "website redirect location or encryption attributes.");
        goto out;
    }
    if (ctx->fault.error_body) {
        reply_error_body(ctx);
        goto out;
    }
    o = fakes3_obj_new();
    if (o == NULL || fakes3_slices_sub(src->slices, src->nslices, 0, src->size, &o->slices,
                                       &o->nslices) != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    o->size = src->size;
    o->crc64 = src->crc64;
    o->has_crc = src->has_crc;
    /* The copy is one part: a whole-object CRC32C still holds, a COMPOSITE one does not. */
    o->has_crc32c = src->has_crc32c && src->crc32c_parts == 0;
    o->crc32c = src->crc32c;
    memcpy(o->etag, src->etag, sizeof(o->etag));
    if (replace) {
        if (collect_meta(ctx, &o->hdrs, &o->has_ctype, o->sclass) != FERRY_OK)
            goto out;
    } else {
        o->hdrs = src->hdrs ? strdup(src->hdrs) : NULL;
        o->has_ctype = src->has_ctype;
        const char *sc = fakes3_http_header(ctx->req, "x-amz-storage-class");
        snprintf(o->sclass, sizeof(o->sclass), "%s", sc ? sc : src->sclass);
    }
    char t[32];
    iso8601(0, t);
    fakes3_obj_t *pub = o;
    o = NULL;
    fakes3_obj_ref(pub);
    int rc = fakes3_store_put(ctx->srv->store, bk, ctx->key, ctx->klen, pub);
    if (rc != FERRY_OK) {
        fakes3_obj_unref(pub);
        fakes3_ctx_error(ctx, 500, "InternalError", "could not store the copy");
        goto out;
    }
    iso8601(pub->mtime_ms, t);
    ferry_buf_addf(&b,
                   "%s<CopyObjectResult " XMLNS "><LastModified>%s</LastModified>"
                   "<ETag>&quot;%.*s&quot;</ETag></CopyObjectResult>",
                   fakes3_xml_head(), t, (int)strlen(pub->etag) - 2, pub->etag + 1);
    ferry_buf_t h;
    ferry_buf_init(&h, 1024);
    add_crc(ctx, &h, pub->has_crc, pub->crc64);
    fakes3_obj_unref(pub);
    reply_xml(ctx, 200, h.len ? h.data : NULL, &b);
    ferry_buf_free(&h);
out:
    fakes3_obj_unref(src);
    fakes3_obj_unref(o);
    ferry_buf_free(&b);
}

/* ---- multipart --------------------------------------------------------------------------- */

/* The uploads map key: object key, NUL, upload id. */
static size_t upload_mkey(char *out, const char *key, size_t klen, const char *id)
{
    memcpy(out, key, klen);
    out[klen] = '\0';
    size_t il = strlen(id);
    memcpy(out + klen + 1, id, il);
    return klen + 1 + il;
}

#define UPLOAD_MKEY_MAX (FAKES3_KEY_MAX + 1 + 64)

static const char *upload_id_param(fakes3_ctx_t *ctx)
{
    const char *id = fakes3_ctx_param(ctx, "uploadId");
    if (id == NULL || strlen(id) >= 40 || *id == '\0')
        return NULL;
    return id;
}

static void no_such_upload(fakes3_ctx_t *ctx)
{
    fakes3_ctx_error(ctx, 404, "NoSuchUpload",
                     "The specified upload does not exist. The upload ID may be invalid, or the "
                     "upload may have been aborted or completed.");
}

static void op_create_upload(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    fakes3_upload_t *u = NULL;
    ferry_buf_t b;
    char mk[UPLOAD_MKEY_MAX];
    ferry_buf_init(&b, 8192);
    if (bk == NULL)
        goto out;
    if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
        goto out;
    int crc32c = 0;
    const char *alg = fakes3_http_header(ctx->req, "x-amz-checksum-algorithm");
    const char *typ = fakes3_http_header(ctx->req, "x-amz-checksum-type");
    if (is_s3(ctx) && alg != NULL) {
        if (strcasecmp(alg, "CRC32C") != 0) {
            fakes3_ctx_error(ctx, 501, "NotImplemented",
                             "fakes3 does multipart checksums with CRC32C only, not %.40s", alg);
            goto out;
        }
        crc32c = 1;
    }
    if (is_s3(ctx) && typ != NULL && (!crc32c || strcasecmp(typ, "COMPOSITE") != 0)) {
        if (crc32c)
            fakes3_ctx_error(ctx, 501, "NotImplemented",
                             "fakes3 does COMPOSITE multipart checksums only, not %.40s", typ);
        else
            fakes3_ctx_error(ctx, 400, "InvalidRequest",
                             "x-amz-checksum-type needs x-amz-checksum-algorithm");
        goto out;
    }
    if (ctx->fault.upload_id_len > 0) { /* an id longer than a client can keep; no upload */
        int rc =
            ferry_buf_addf(&b, "%s<InitiateMultipartUploadResult " XMLNS "><Bucket>%s</Bucket>",
                           fakes3_xml_head(), ctx->bucket);
        if (rc == FERRY_OK)
            rc = put_elem(&b, "Key", ctx->key, ctx->klen, 0);
        if (rc == FERRY_OK)
            rc = ferry_buf_adds(&b, "<UploadId>");
        for (int i = 0; rc == FERRY_OK && i < ctx->fault.upload_id_len; i++)
            rc = ferry_buf_adds(&b, "x");
        if (rc == FERRY_OK)
            rc = ferry_buf_adds(&b, "</UploadId></InitiateMultipartUploadResult>");
        reply_xml(ctx, 200, NULL, &b);
        goto out;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL || (u->key = malloc(ctx->klen + 1)) == NULL) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    memcpy(u->key, ctx->key, ctx->klen + 1);
    u->keylen = ctx->klen;
    u->crc32c = crc32c;
    if (collect_meta(ctx, &u->hdrs, &u->has_ctype, u->sclass) != FERRY_OK)
        goto out;
    snprintf(u->id, sizeof(u->id), "%016llx%016llx",
             (unsigned long long)fakes3_store_new_id(ctx->srv->store),
             (unsigned long long)fakes3_store_new_id(ctx->srv->store));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    u->initiated_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    size_t ml = upload_mkey(mk, ctx->key, ctx->klen, u->id);
    pthread_rwlock_wrlock(&bk->lock);
    int rc = fakes3_map_put(&bk->uploads, mk, ml, u, NULL);
    pthread_rwlock_unlock(&bk->lock);
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    const char *id = u->id;
    u = NULL;
    rc = ferry_buf_addf(&b, "%s<InitiateMultipartUploadResult " XMLNS "><Bucket>%s</Bucket>",
                        fakes3_xml_head(), ctx->bucket);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "Key", ctx->key, ctx->klen, 0);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "<UploadId>%s</UploadId></InitiateMultipartUploadResult>", id);
    reply_xml(ctx, 200,
              crc32c ? "x-amz-checksum-algorithm: CRC32C\r\nx-amz-checksum-type: COMPOSITE\r\n"
                     : NULL,
              &b);
out:
    fakes3_upload_free(u);
    ferry_buf_free(&b);
}

static int parse_part_number(fakes3_ctx_t *ctx, uint32_t *num)
{
    uint64_t v;
    if (parse_u64(fakes3_ctx_param(ctx, "partNumber"), &v) != FERRY_OK || v < 1 || v > 10000) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument",
                         "Part number must be an integer between 1 and 10000, inclusive");
        return FERRY_EINVAL;
    }
    *num = (uint32_t)v;
    return FERRY_OK;
}

/* Look the upload up (under the caller's lock). */
static fakes3_upload_t *find_upload(fakes3_bucket_t *bk, fakes3_ctx_t *ctx, const char *id)
{
    char mk[UPLOAD_MKEY_MAX];
    size_t ml = upload_mkey(mk, ctx->key, ctx->klen, id);
    return fakes3_map_get(&bk->uploads, mk, ml);
}

/* Does the upload exist? *crc32c (may be NULL) gets whether it was created with CRC32C. */
static int upload_exists(fakes3_bucket_t *bk, fakes3_ctx_t *ctx, const char *id, int *crc32c)
{
    pthread_rwlock_rdlock(&bk->lock);
    const fakes3_upload_t *u = find_upload(bk, ctx, id);
    if (crc32c != NULL)
        *crc32c = u != NULL && u->crc32c;
    pthread_rwlock_unlock(&bk->lock);
    return u != NULL;
}

/* Insert or replace part p in upload (bucket write-locked). Takes p. */
static int upload_add_part(fakes3_upload_t *u, fakes3_part_t *p)
{
    size_t lo = 0, hi = u->nparts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u->parts[mid]->num < p->num)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < u->nparts && u->parts[lo]->num == p->num) {
        fakes3_part_free(u->parts[lo]);
        u->parts[lo] = p;
        return FERRY_OK;
    }
    if (u->nparts == u->cap) {
        size_t nc = u->cap ? u->cap * 2 : 8;
        fakes3_part_t **np = realloc(u->parts, nc * sizeof(*np));
        if (np == NULL)
            return FERRY_ENOMEM;
        u->parts = np;
        u->cap = nc;
    }
    memmove(u->parts + lo + 1, u->parts + lo, (u->nparts - lo) * sizeof(*u->parts));
    u->parts[lo] = p;
    u->nparts++;
    return FERRY_OK;
}

static void op_upload_part(fakes3_ctx_t *ctx, int copy)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    fakes3_part_t *p = NULL;
    fakes3_obj_t *src = NULL;
    ferry_buf_t h, b;
    uint32_t num;
    ferry_buf_init(&h, 1024);
    ferry_buf_init(&b, 4096);
    const char *id = upload_id_param(ctx);
    if (bk == NULL || parse_part_number(ctx, &num) != FERRY_OK)
        goto out;
    int crc32c = 0;
    if (id == NULL || !upload_exists(bk, ctx, id, &crc32c)) {
        no_such_upload(ctx);
        goto out;
    }
    if (!copy && crc32c && !ctx->trailer_crc32c &&
        fakes3_http_header(ctx->req, "x-amz-checksum-crc32c") == NULL) {
        fakes3_ctx_error(ctx, 400, "InvalidRequest",
                         "The upload was created using a crc32c checksum. The part must include "
                         "it (x-amz-checksum-crc32c or an aws-chunked trailer).");
        goto out;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    p->num = num;
    if (!copy) {
        if (ctx->req->content_length < 0 && !ctx->req->chunked) {
            fakes3_ctx_error(ctx, 411, "MissingContentLength",
                             "You must provide the Content-Length HTTP header.");
            goto out;
        }
        unsigned w = FAKES3_WANT_MD5 | (want_crc(ctx) ? FAKES3_WANT_CRC64 : 0);
        if (fakes3_ctx_read_body(ctx, ctx->srv->cfg.max_object, w) != FERRY_OK)
            goto out;
        p->size = ctx->body_len;
        memcpy(p->md5, ctx->md5, 16);
        p->crc64 = ctx->crc64;
        p->has_crc = want_crc(ctx);
        p->has_crc32c = ctx->has_crc32c && is_s3(ctx);
        p->crc32c = ctx->crc32c;
        if (body_slices(ctx, &p->slices, &p->nslices) != FERRY_OK) {
            fakes3_ctx_error(ctx, 500, "InternalError", "could not store the part");
            goto out;
        }
    } else {
        char sb[64], sk[FAKES3_KEY_MAX + 1];
        size_t sklen;
        if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
            goto out;
        src = copy_source(ctx, sb, sk, &sklen);
        if (src == NULL)
            goto out;
        uint64_t a = 0, len = src->size;
        const char *r = fakes3_http_header(ctx->req, "x-amz-copy-source-range");
        if (r != NULL) {
            unsigned long long x, y;
            int used = 0;
            if (sscanf(r, "bytes=%llu-%llu%n", &x, &y, &used) != 2 || (size_t)used != strlen(r) ||
                y < x) {
                fakes3_ctx_error(ctx, 400, "InvalidArgument",
                                 "The x-amz-copy-source-range value must be of the form "
                                 "bytes=first-last where first and last are the zero-based "
                                 "offsets of the first and last bytes to copy");
                goto out;
            }
            if (y >= src->size) {
                fakes3_ctx_error(ctx, 400, "InvalidRange",
                                 "The requested range is not satisfiable");
                goto out;
            }
            a = x;
            len = y - x + 1;
        }
        if (ctx->fault.error_body) {
            reply_error_body(ctx);
            goto out;
        }
        if (fakes3_slices_sub(src->slices, src->nslices, a, len, &p->slices, &p->nslices) !=
            FERRY_OK) {
            fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
            goto out;
        }
        p->size = len;
        p->has_crc = want_crc(ctx);
        p->has_crc32c = crc32c; /* S3 computes the checksum of a copied part itself */
        if (digest_slices(p->slices, p->nslices, ctx->conn->scratch, p->md5, &p->crc64, NULL,
                          crc32c ? &p->crc32c : NULL) != FERRY_OK) {
            fakes3_ctx_error(ctx, 500, "InternalError", "could not read the source");
            goto out;
        }
    }
    fakes3_etag_md5(ctx->srv->cfg.personality, p->md5, p->etag);
    if (!copy && ctx->fault.no_etag) { /* a broken store: 200, no ETag, the part not kept */
        fakes3_ctx_reply(ctx, 200, NULL, NULL, "", 0);
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    p->mtime_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char etag[FAKES3_ETAG_MAX];
    memcpy(etag, p->etag, sizeof(etag));
    if (ctx->fault.wrong_etag)
        mangle_etag(etag);
    int has_crc = p->has_crc, has_c32 = p->has_crc32c;
    uint64_t crc = p->crc64;
    uint32_t c32 = p->crc32c ^ (ctx->fault.wrong_crc32c ? 1u : 0u);
    int64_t mt = p->mtime_ms;
    pthread_rwlock_wrlock(&bk->lock);
    fakes3_upload_t *u = find_upload(bk, ctx, id);
    int rc = u ? upload_add_part(u, p) : FERRY_ENOTFOUND;
    pthread_rwlock_unlock(&bk->lock);
    if (rc == FERRY_ENOTFOUND) {
        no_such_upload(ctx);
        goto out;
    }
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    p = NULL;
    add_crc(ctx, &h, has_crc, crc);
    if (!copy) {
        add_crc32c(ctx, &h, has_c32, c32, 0, 0);
        ferry_buf_addf(&h, "ETag: %s\r\n", etag);
        fakes3_ctx_reply(ctx, 200, h.data, NULL, "", 0);
    } else {
        char t[32], v[32];
        iso8601(mt, t);
        crc32c_value(c32, 0, v);
        ferry_buf_addf(&b,
                       "%s<CopyPartResult " XMLNS "><LastModified>%s</LastModified>"
                       "<ETag>&quot;%.*s&quot;</ETag>%s%s%s</CopyPartResult>",
                       fakes3_xml_head(), t, (int)strlen(etag) - 2, etag + 1,
                       has_c32 ? "<ChecksumCRC32C>" : "", has_c32 ? v : "",
                       has_c32 ? "</ChecksumCRC32C>" : "");
        reply_xml(ctx, 200, h.len ? h.data : NULL, &b);
    }
out:
    fakes3_part_free(p);
    fakes3_obj_unref(src);
    ferry_buf_free(&h);
    ferry_buf_free(&b);
}

/* Does the part carry this CRC32C (base64, as a Complete request gives it)? */
static int part_crc32c_is(const fakes3_part_t *p, const char *b64)
{
    char mine[16];
    if (!p->has_crc32c)
        return 0;
    ferry_crc32c_b64(p->crc32c, mine);
    return strcmp(mine, b64) == 0;
}

static void op_complete(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    fakes3_xml_part_t *want = NULL;
    size_t nwant = 0;
    fakes3_obj_t *o = NULL;
    fakes3_upload_t *u = NULL;
    ferry_buf_t b, h;
    ferry_md5_t md5 = {0};
    ferry_buf_init(&b, 16384);
    ferry_buf_init(&h, 1024);
    const char *id = upload_id_param(ctx);
    const fakes3_config_t *cfg = &ctx->srv->cfg;
    if (bk == NULL)
        goto out;
    if (fakes3_ctx_read_body(ctx, FAKES3_XML_BODY_MAX, 0) != FERRY_OK)
        goto out;
    if (id == NULL || !upload_exists(bk, ctx, id, NULL)) {
        no_such_upload(ctx);
        goto out;
    }
    if (fakes3_xml_complete(ctx->body, ctx->body_len, &want, &nwant) != FERRY_OK) {
        fakes3_ctx_error(ctx, 400, "MalformedXML",
                         "The XML you provided was not well-formed or did not validate against "
                         "our published schema");
        goto out;
    }
    if (ctx->fault.error_body) {
        reply_error_body(ctx);
        goto out;
    }
    for (size_t i = 1; i < nwant; i++) {
        if (want[i].num <= want[i - 1].num) {
            fakes3_ctx_error(ctx, 400, "InvalidPartOrder",
                             "The list of parts was not in ascending order. The parts list must "
                             "be specified in order by part number.");
            goto out;
        }
    }
    o = fakes3_obj_new();
    if (o == NULL || (o->slices = calloc(1, sizeof(*o->slices))) == NULL ||
        ferry_md5_init(&md5) != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    uint32_t cap = 1, comp = 0;
    int all_crc = 1, alg = 0;
    pthread_rwlock_wrlock(&bk->lock);
    u = find_upload(bk, ctx, id);
    const char *err = NULL;
    uint32_t bad = 0;
    if (u == NULL)
        err = "NoSuchUpload";
    else
        alg = u->crc32c;
    /* Validate everything before taking anything. */
    size_t j = 0;
    for (size_t i = 0; u != NULL && i < nwant && err == NULL; i++) {
        while (j < u->nparts && u->parts[j]->num < want[i].num)
            j++;
        if (alg && want[i].crc32c[0] == '\0') {
            err = "MissingChecksum";
            bad = want[i].num;
        } else if (j == u->nparts || u->parts[j]->num != want[i].num ||
                   !etag_eq(u->parts[j]->etag, want[i].etag)) {
            err = "InvalidPart";
            bad = want[i].num;
        } else if (want[i].crc32c[0] != '\0' && !part_crc32c_is(u->parts[j], want[i].crc32c)) {
            err = "BadChecksum";
            bad = want[i].num;
        } else if (i + 1 < nwant && cfg->min_part_size && u->parts[j]->size < cfg->min_part_size) {
            err = "EntityTooSmall";
            bad = want[i].num;
        }
    }
    j = 0;
    for (size_t i = 0; err == NULL && i < nwant; i++) {
        while (u->parts[j]->num != want[i].num)
            j++;
        fakes3_part_t *p = u->parts[j];
        if (o->nslices + p->nslices > cap) {
            uint32_t nc = (o->nslices + p->nslices) * 2;
            fakes3_slice_t *ns = realloc(o->slices, nc * sizeof(*ns));
            if (ns == NULL) {
                err = "InternalError";
                break;
            }
            o->slices = ns;
            cap = nc;
        }
        for (uint32_t k = 0; k < p->nslices; k++) {
            o->slices[o->nslices] = p->slices[k];
            fakes3_seg_ref(p->slices[k].seg);
            o->nslices++;
        }
        ferry_md5_update(&md5, p->md5, 16);
        if (alg) { /* COMPOSITE: the CRC32C of the parts' big-endian CRC32Cs */
            uint8_t be[4] = {(uint8_t)(p->crc32c >> 24), (uint8_t)(p->crc32c >> 16),
                             (uint8_t)(p->crc32c >> 8), (uint8_t)p->crc32c};
            comp = ferry_crc32c_update(comp, be, 4);
        }
        o->crc64 = i == 0 ? p->crc64 : ferry_crc64_combine(o->crc64, p->crc64, p->size);
        all_crc &= p->has_crc;
        o->size += p->size;
    }
    if (err == NULL) {
        char mk[UPLOAD_MKEY_MAX];
        size_t ml = upload_mkey(mk, ctx->key, ctx->klen, id);
        fakes3_map_del(&bk->uploads, mk, ml); /* now ours: u freed below */
    } else {
        u = NULL;
    }
    pthread_rwlock_unlock(&bk->lock);
    if (err != NULL) {
        if (strcmp(err, "NoSuchUpload") == 0)
            no_such_upload(ctx);
        else if (strcmp(err, "InvalidPart") == 0)
            fakes3_ctx_error(ctx, 400, "InvalidPart",
                             "One or more of the specified parts could not be found. The part "
                             "may not have been uploaded, or the specified entity tag may not "
                             "match the part's entity tag. (part %u)",
                             bad);
        else if (strcmp(err, "MissingChecksum") == 0)
            fakes3_ctx_error(ctx, 400, "InvalidRequest",
                             "The upload was created using a crc32c checksum. The complete "
                             "request must include the checksum for each part. It was missing "
                             "for part %u in the request.",
                             bad);
        else if (strcmp(err, "BadChecksum") == 0)
            fakes3_ctx_error(ctx, 400, "InvalidPart",
                             "One or more of the specified parts could not be found. The part "
                             "may not have been uploaded, or the specified entity tag may not "
                             "match the part's entity tag. (part %u: its ChecksumCRC32C does not "
                             "match the part's checksum)",
                             bad);
        else if (strcmp(err, "EntityTooSmall") == 0)
            fakes3_ctx_error(ctx, 400, "EntityTooSmall",
                             "Your proposed upload is smaller than the minimum allowed object "
                             "size. (part %u)",
                             bad);
        else
            fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    o->part_sizes = calloc(nwant ? nwant : 1, sizeof(*o->part_sizes));
    if (o->part_sizes == NULL) {
        fakes3_ctx_error(ctx, 500, "InternalError", "out of memory");
        goto out;
    }
    for (size_t i = 0, k = 0; i < nwant; i++) {
        while (u->parts[k]->num != want[i].num)
            k++;
        o->part_sizes[i] = u->parts[k]->size;
    }
    o->nparts = (uint32_t)nwant;
    o->has_crc = all_crc && want_crc(ctx);
    o->has_crc32c = alg;
    o->crc32c = comp;
    o->crc32c_parts = (uint32_t)nwant;
    o->hdrs = u->hdrs;
    u->hdrs = NULL;
    o->has_ctype = u->has_ctype;
    memcpy(o->sclass, u->sclass, sizeof(o->sclass));
    if (cfg->personality == FAKES3_KODO) {
        char q[29];
        if (digest_slices(o->slices, o->nslices, ctx->conn->scratch, NULL, NULL, q, NULL) !=
            FERRY_OK) {
            fakes3_ctx_error(ctx, 500, "InternalError", "could not read the parts");
            goto out;
        }
        snprintf(o->etag, sizeof(o->etag), "\"%s\"", q);
    } else {
        uint8_t d[16];
        char hex[33];
        ferry_md5_final(&md5, d);
        if (cfg->personality == FAKES3_OSS)
            ferry_hex_upper(d, 16, hex);
        else
            ferry_hex_lower(d, 16, hex);
        snprintf(o->etag, sizeof(o->etag), "\"%s-%zu\"", hex, nwant);
    }
    char etag[FAKES3_ETAG_MAX];
    memcpy(etag, o->etag, sizeof(etag));
    if (ctx->fault.wrong_etag)
        mangle_etag(etag);
    if (ctx->fault.wrong_crc32c)
        comp ^= 1u;
    int has_crc = o->has_crc;
    uint64_t crc = o->crc64;
    int rc = fakes3_store_put(ctx->srv->store, bk, ctx->key, ctx->klen, o);
    o = NULL;
    if (rc != FERRY_OK) {
        fakes3_ctx_error(ctx, 500, "InternalError", "could not store the object");
        goto out;
    }
    add_crc(ctx, &h, has_crc, crc);
    rc = ferry_buf_addf(&b, "%s<CompleteMultipartUploadResult " XMLNS "><Location>http://%s.%s/",
                        fakes3_xml_head(), ctx->bucket, cfg->domain);
    if (rc == FERRY_OK)
        rc = fakes3_url_encode(&b, ctx->key, ctx->klen);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "</Location><Bucket>%s</Bucket>", ctx->bucket);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "Key", ctx->key, ctx->klen, 0);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "<ETag>&quot;%.*s&quot;</ETag>", (int)strlen(etag) - 2, etag + 1);
    if (rc == FERRY_OK && alg) {
        char v[32];
        crc32c_value(comp, (uint32_t)nwant, v);
        rc = ferry_buf_addf(&b,
                            "<ChecksumCRC32C>%s</ChecksumCRC32C><ChecksumType>COMPOSITE"
                            "</ChecksumType>",
                            v);
    }
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</CompleteMultipartUploadResult>");
    reply_xml(ctx, 200, h.len ? h.data : NULL, &b);
out:
    ferry_md5_free(&md5);
    fakes3_upload_free(u);
    fakes3_obj_unref(o);
    free(want);
    ferry_buf_free(&b);
    ferry_buf_free(&h);
}

static void op_abort(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    const char *id = upload_id_param(ctx);
    if (bk == NULL)
        return;
    fakes3_upload_t *u = NULL;
    if (id != NULL) {
        char mk[UPLOAD_MKEY_MAX];
        size_t ml = upload_mkey(mk, ctx->key, ctx->klen, id);
        pthread_rwlock_wrlock(&bk->lock);
        u = fakes3_map_del(&bk->uploads, mk, ml);
        pthread_rwlock_unlock(&bk->lock);
    }
    if (u == NULL) {
        no_such_upload(ctx);
        return;
    }
    fakes3_upload_free(u);
    fakes3_ctx_reply(ctx, 204, NULL, NULL, "", 0);
}

static void op_list_parts(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    const char *id = upload_id_param(ctx);
    ferry_buf_t b;
    uint64_t max = 1000, marker = 0;
    ferry_buf_init(&b, LIST_BODY_MAX);
    if (bk == NULL)
        goto out;
    const char *mp = fakes3_ctx_param(ctx, "max-parts");
    const char *pm = fakes3_ctx_param(ctx, "part-number-marker");
    if ((mp != NULL && parse_u64(mp, &max) != FERRY_OK) ||
        (pm != NULL && parse_u64(pm, &marker) != FERRY_OK)) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument", "bad max-parts or part-number-marker");
        goto out;
    }
    if (max > 1000)
        max = 1000;
    pthread_rwlock_rdlock(&bk->lock);
    fakes3_upload_t *u = id ? find_upload(bk, ctx, id) : NULL;
    if (u == NULL) {
        pthread_rwlock_unlock(&bk->lock);
        no_such_upload(ctx);
        goto out;
    }
    int rc = ferry_buf_addf(&b, "%s<ListPartsResult " XMLNS "><Bucket>%s</Bucket>",
                            fakes3_xml_head(), ctx->bucket);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "Key", ctx->key, ctx->klen, 0);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b,
                            "<UploadId>%s</UploadId><Initiator><ID>fakes3</ID><DisplayName>"
                            "fakes3</DisplayName></Initiator>" OWNER
                            "<StorageClass>%s</StorageClass>%s<PartNumberMarker>%llu"
                            "</PartNumberMarker><MaxParts>%llu</MaxParts>",
                            u->id, u->sclass,
                            u->crc32c ? "<ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
                                        "<ChecksumType>COMPOSITE</ChecksumType>"
                                      : "",
                            (unsigned long long)marker, (unsigned long long)max);
    uint64_t n = 0, last = 0;
    int truncated = 0;
    ferry_buf_t items;
    ferry_buf_init(&items, LIST_BODY_MAX);
    for (size_t i = 0; i < u->nparts && rc == FERRY_OK; i++) {
        const fakes3_part_t *p = u->parts[i];
        if (p->num <= marker)
            continue;
        if (n == max) {
            truncated = 1;
            break;
        }
        char t[32], c32[16] = "";
        iso8601(p->mtime_ms, t);
        if (p->has_crc32c)
            ferry_crc32c_b64(p->crc32c, c32);
        rc = ferry_buf_addf(&items,
                            "<Part><PartNumber>%u</PartNumber><LastModified>%s</LastModified>"
                            "<ETag>&quot;%.*s&quot;</ETag>%s%s%s<Size>%llu</Size></Part>",
                            p->num, t, (int)strlen(p->etag) - 2, p->etag + 1,
                            c32[0] ? "<ChecksumCRC32C>" : "", c32,
                            c32[0] ? "</ChecksumCRC32C>" : "", (unsigned long long)p->size);
        last = p->num;
        n++;
    }
    pthread_rwlock_unlock(&bk->lock);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b,
                            "<NextPartNumberMarker>%llu</NextPartNumberMarker>"
                            "<IsTruncated>%s</IsTruncated>",
                            (unsigned long long)last, truncated ? "true" : "false");
    if (rc == FERRY_OK)
        rc = ferry_buf_add(&b, items.data ? items.data : "", items.len);
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</ListPartsResult>");
    ferry_buf_free(&items);
    if (rc == FERRY_OK)
        reply_xml(ctx, 200, NULL, &b);
    else
        fakes3_ctx_error(ctx, 500, "InternalError", "listing failed");
out:
    ferry_buf_free(&b);
}

static void op_list_uploads(fakes3_ctx_t *ctx)
{
    fakes3_bucket_t *bk = need_bucket(ctx, ctx->bucket);
    ferry_buf_t b, items;
    uint64_t max = 1000;
    ferry_buf_init(&b, LIST_BODY_MAX);
    ferry_buf_init(&items, LIST_BODY_MAX);
    if (bk == NULL)
        goto out;
    const char *prefix = fakes3_ctx_param(ctx, "prefix");
    const char *km = fakes3_ctx_param(ctx, "key-marker");
    const char *um = fakes3_ctx_param(ctx, "upload-id-marker");
    const char *mu = fakes3_ctx_param(ctx, "max-uploads");
    if (prefix == NULL)
        prefix = "";
    size_t plen = strlen(prefix);
    if (mu != NULL && parse_u64(mu, &max) != FERRY_OK) {
        fakes3_ctx_error(ctx, 400, "InvalidArgument", "bad max-uploads");
        goto out;
    }
    if (max > 1000)
        max = 1000;
    char mk[UPLOAD_MKEY_MAX + 2];
    size_t ml = 0;
    int strict = 0;
    if (km != NULL && *km && strlen(km) <= FAKES3_KEY_MAX) {
        if (um != NULL && *um && strlen(um) < 40) {
            ml = upload_mkey(mk, km, strlen(km), um);
            strict = 1;
        } else {
            /* After every upload of key-marker: "K\x01" sorts after all "K\0<id>". */
            ml = strlen(km);
            memcpy(mk, km, ml);
            mk[ml++] = '\x01';
        }
    }
    int rc = ferry_buf_addf(&b, "%s<ListMultipartUploadsResult " XMLNS "><Bucket>%s</Bucket>",
                            fakes3_xml_head(), ctx->bucket);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "KeyMarker", km ? km : "", km ? strlen(km) : 0, 0);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "UploadIdMarker", um ? um : "", um ? strlen(um) : 0, 0);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "Prefix", prefix, plen, 0);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "<MaxUploads>%llu</MaxUploads>", (unsigned long long)max);
    uint64_t n = 0;
    int truncated = 0;
    char lastkey[FAKES3_KEY_MAX + 1] = "", lastid[40] = "";
    size_t lastkl = 0;
    pthread_rwlock_rdlock(&bk->lock);
    const fakes3_map_node_t *nd = ml ? fakes3_map_seek(&bk->uploads, mk, ml, strict)
                                     : fakes3_map_seek(&bk->uploads, prefix, plen, 0);
    for (; nd != NULL && rc == FERRY_OK; nd = fakes3_map_next(&bk->uploads, nd)) {
        const fakes3_upload_t *u = fakes3_map_val(nd);
        if (u->keylen < plen || memcmp(u->key, prefix, plen) != 0) {
            if (u->keylen >= plen && memcmp(u->key, prefix, plen) > 0)
                break;
            continue;
        }
        if (n == max) {
            truncated = 1;
            break;
        }
        char t[32];
        iso8601(u->initiated_ms, t);
        rc = ferry_buf_adds(&items, "<Upload>");
        if (rc == FERRY_OK)
            rc = put_elem(&items, "Key", u->key, u->keylen, 0);
        if (rc == FERRY_OK)
            rc = ferry_buf_addf(&items,
                                "<UploadId>%s</UploadId><Initiator><ID>fakes3</ID><DisplayName>"
                                "fakes3</DisplayName></Initiator>" OWNER
                                "<StorageClass>%s</StorageClass><Initiated>%s</Initiated>%s"
                                "</Upload>",
                                u->id, u->sclass, t,
                                u->crc32c ? "<ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>"
                                            "<ChecksumType>COMPOSITE</ChecksumType>"
                                          : "");
        memcpy(lastkey, u->key, u->keylen);
        lastkl = u->keylen;
        snprintf(lastid, sizeof(lastid), "%s", u->id);
        n++;
    }
    pthread_rwlock_unlock(&bk->lock);
    if (rc == FERRY_OK)
        rc = put_elem(&b, "NextKeyMarker", lastkey, lastkl, 0);
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b,
                            "<NextUploadIdMarker>%s</NextUploadIdMarker>"
                            "<IsTruncated>%s</IsTruncated>",
                            lastid, truncated ? "true" : "false");
    if (rc == FERRY_OK)
        rc = ferry_buf_add(&b, items.data ? items.data : "", items.len);
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</ListMultipartUploadsResult>");
    if (rc == FERRY_OK)
        reply_xml(ctx, 200, NULL, &b);
    else
        fakes3_ctx_error(ctx, 500, "InternalError", "listing failed");
out:
    ferry_buf_free(&items);
    ferry_buf_free(&b);
}

void fakes3_ops_run(fakes3_ctx_t *ctx)
{
    switch (ctx->op) {
    case FAKES3_OP_LIST_BUCKETS:
        op_list_buckets(ctx);
        break;
    case FAKES3_OP_CREATE_BUCKET:
        op_create_bucket(ctx);
        break;
    case FAKES3_OP_HEAD_BUCKET:
        op_head_bucket(ctx);
        break;
    case FAKES3_OP_DELETE_BUCKET:
        op_delete_bucket(ctx);
        break;
    case FAKES3_OP_GET_BUCKET_LOCATION:
        op_get_location(ctx);
        break;
    case FAKES3_OP_LIST_OBJECTS_V2:
        op_list_objects(ctx, 1);
        break;
    case FAKES3_OP_LIST_OBJECTS:
        op_list_objects(ctx, 0);
        break;
    case FAKES3_OP_HEAD_OBJECT:
        op_get_object(ctx, 1);
        break;
    case FAKES3_OP_GET_OBJECT:
        op_get_object(ctx, 0);
        break;
    case FAKES3_OP_PUT_OBJECT:
        op_put_object(ctx);
        break;
    case FAKES3_OP_DELETE_OBJECT:
        op_delete_object(ctx);
        break;
    case FAKES3_OP_DELETE_OBJECTS:
        op_delete_objects(ctx);
        break;
    case FAKES3_OP_COPY_OBJECT:
        op_copy_object(ctx);
        break;
    case FAKES3_OP_CREATE_MULTIPART_UPLOAD:
        op_create_upload(ctx);
        break;
    case FAKES3_OP_UPLOAD_PART:
        op_upload_part(ctx, 0);
        break;
    case FAKES3_OP_UPLOAD_PART_COPY:
        op_upload_part(ctx, 1);
        break;
    case FAKES3_OP_COMPLETE_MULTIPART_UPLOAD:
        op_complete(ctx);
        break;
    case FAKES3_OP_ABORT_MULTIPART_UPLOAD:
        op_abort(ctx);
        break;
    case FAKES3_OP_LIST_PARTS:
        op_list_parts(ctx);
        break;
    case FAKES3_OP_LIST_MULTIPART_UPLOADS:
        op_list_uploads(ctx);
        break;
    default:
        fakes3_ctx_error(ctx, 405, "MethodNotAllowed",
                         "The specified method is not allowed against this resource.");
    }
}
