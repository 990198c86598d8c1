/* fakes3 integration test: every operation, each personality, driven by libcurl's own SigV4
 * signer (CURLOPT_AWS_SIGV4) — an implementation independent of lib/s3/sign.c.
 *
 * libcurl 7.88 signs the path and query exactly as given (no sorting, no re-encoding), so
 * the requests here use canonical URLs: keys S3-encoded, query parameters sorted, "uploads=".
 * That is also what real S3 requires of such a signer.
 *
 * aws-chunked uploads (STREAMING-UNSIGNED-PAYLOAD-TRAILER) are written by hand on their own
 * sockets and signed with ferry_sigv4, so that the framing can be cut into writes anywhere
 * and be wrong on purpose.
 */
#include "harness.h"
#include "test.h"

#include "ferry/buf.h"
#include "ferry/check.h"
#include "ferry/clock.h"
#include "ferry/error.h"
#include "ferry/sigv4.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a tiny S3 client over libcurl ------------------------------------------------------- */

typedef struct srv_s {
    harness_server_t h;
    const char *pers;
    int vhost;           /* address buckets as <bucket>.localhost */
    CURL *curl;          /* reused: keep-alive */
    const char *ak, *sk; /* credentials to sign with (default: the server's) */
} srv_t;

typedef struct resp_s {
    long status;
    CURLcode cc;
    ferry_buf_t body;
    ferry_buf_t hdrs;
} resp_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    ferry_buf_add(ud, p, sz * n);
    return sz * n;
}

static size_t on_hdr(char *p, size_t sz, size_t n, void *ud)
{
    resp_t *r = ud;
    /* keep only the final response's headers */
    if (sz * n > 5 && memcmp(p, "HTTP/", 5) == 0)
        ferry_buf_reset(&r->hdrs);
    ferry_buf_add(&r->hdrs, p, sz * n);
    return sz * n;
}

static void resp_free(resp_t *r)
{
    ferry_buf_free(&r->body);
    ferry_buf_free(&r->hdrs);
}

/* A response header value (copied into out), or NULL. */
static const char *hdr(const resp_t *r, const char *name, char *out, size_t cap)
{
    const char *s = ferry_buf_cstr(&r->hdrs);
    size_t nl = strlen(name);
    while (*s) {
        const char *e = strstr(s, "\r\n");
        if (e == NULL)
            break;
        if ((size_t)(e - s) > nl && strncasecmp(s, name, nl) == 0 && s[nl] == ':') {
            const char *v = s + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(e - v);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        s = e + 2;
    }
    return NULL;
}

/* The text of the first <tag> after *from (advanced past it), or NULL. */
static const char *xml_next(const char *body, const char *tag, const char **from, char *out,
                            size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *s = strstr(from && *from ? *from : body, open);
    if (s == NULL)
        return NULL;
    s += strlen(open);
    const char *e = strstr(s, close);
    if (e == NULL)
        return NULL;
    size_t n = (size_t)(e - s);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    if (from)
        *from = e + strlen(close);
    return out;
}

static const char *xml(const resp_t *r, const char *tag, char *out, size_t cap)
{
    return xml_next(ferry_buf_cstr(&r->body), tag, NULL, out, cap);
}

/* Undo XML escaping (&amp; &lt; &gt; &quot; &apos; &#xN;) in place. */
static void xml_unescape(char *s)
{
    char *d = s;
    while (*s) {
        if (*s == '&') {
            static const char *const ent[][2] = {
                {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
            int done = 0;
            for (size_t i = 0; i < 5 && !done; i++) {
                size_t l = strlen(ent[i][0]);
                if (strncmp(s, ent[i][0], l) == 0) {
                    *d++ = ent[i][1][0];
                    s += l;
                    done = 1;
                }
            }
            if (!done && strncmp(s, "&#x", 3) == 0) {
                char *end;
                long v = strtol(s + 3, &end, 16);
                if (*end == ';') {
                    *d++ = (char)v;
                    s = end + 1;
                    done = 1;
                }
            }
            if (done)
                continue;
        }
        *d++ = *s++;
    }
    *d = '\0';
}

static void s3enc(ferry_buf_t *b, const char *s, size_t n, int keep_slash)
{
    REQUIRE(ferry_uri_encode(s, n, keep_slash, b) == FERRY_OK);
}

typedef struct req_s {
    const char *method;
    const char *bucket; /* NULL: service */
    const char *key;    /* NULL: bucket-level */
    size_t klen;        /* 0: strlen(key) */
    const char *query;  /* canonical, or NULL */
    const void *body;
    size_t blen;
    const char *const *headers; /* NULL-terminated "Name: value" */
    const char *sha256;         /* x-amz-content-sha256 (default UNSIGNED-PAYLOAD), "" = none */
    int path_style;             /* force path style */
    int chunked;                /* send the body chunked */
    int unsigned_req;           /* no Authorization at all */
} req_t;

typedef struct chunk_src_s {
    const char *p;
    size_t left;
    int small; /* hand out at most 1000 bytes per call */
} chunk_src_t;

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    chunk_src_t *s = ud;
    size_t k = sz * n < s->left ? sz * n : s->left;
    if (s->small && k > 1000)
        k = 1000; /* several chunks */
    memcpy(buf, s->p, k);
    s->p += k;
    s->left -= k;
    return k;
}

/* libcurl 7.88 sorts the canonical headers by whole "name:value" line, so a header whose
 * name extends another's (x-amz-copy-source-range after x-amz-copy-source) is signed out of
 * AWS order. Such requests are signed with ferry_sigv4 here instead. */
static int curl_misorders(const req_t *q)
{
    for (const char *const *a = q->headers; a && *a; a++)
        for (const char *const *b = q->headers; b && *b; b++) {
            const char *ca = strchr(*a, ':');
            size_t la = ca ? (size_t)(ca - *a) : 0;
            if (a != b && la > 0 && strncasecmp(*a, *b, la) == 0 && (*b)[la] == '-')
                return 1;
        }
    return 0;
}

static struct curl_slist *lib_sign(srv_t *sv, const req_t *q, const char *host, const char *path,
                                   const char *sha, struct curl_slist *hl)
{
    ferry_kv_t kv[32];
    char names[32][64], vals[32][512], date[17], tmp[1200];
    size_t n = 0;
    ferry_sigv4_amz_date(time(NULL), date);
    kv[n++] = (ferry_kv_t){"host", host};
    kv[n++] = (ferry_kv_t){"x-amz-content-sha256", sha};
    kv[n++] = (ferry_kv_t){"x-amz-date", date};
    for (const char *const *h = q->headers; h && *h && n < 32; h++) {
        const char *c = strchr(*h, ':');
        if (c == NULL || strncasecmp(*h, "x-amz-", 6) != 0)
            continue;
        size_t nl = (size_t)(c - *h);
        for (size_t i = 0; i < nl && i < 63; i++)
            names[n][i] = (char)((*h)[i] >= 'A' && (*h)[i] <= 'Z' ? (*h)[i] + 32 : (*h)[i]);
        names[n][nl < 63 ? nl : 63] = '\0';
        c++;
        while (*c == ' ')
            c++;
        snprintf(vals[n], sizeof(vals[n]), "%s", c);
        kv[n] = (ferry_kv_t){names[n], vals[n]};
        n++;
    }
    ferry_sigv4_req_t sr = {.method = q->method,
                            .path = path,
                            .query = q->query,
                            .headers = kv,
                            .nheaders = n,
                            .payload_hash = sha,
                            .region = "us-east-1",
                            .service = "s3",
                            .amz_date = date};
    ferry_creds_t cr = {sv->ak ? sv->ak : sv->h.access_key, sv->sk ? sv->sk : sv->h.secret_key,
                        NULL};
    ferry_buf_t a;
    ferry_buf_init(&a, 4096);
    REQUIRE(ferry_sigv4_authorization(&sr, &cr, &a) == FERRY_OK);
    snprintf(tmp, sizeof(tmp), "Authorization: %s", ferry_buf_cstr(&a));
    hl = curl_slist_append(hl, tmp);
    snprintf(tmp, sizeof(tmp), "x-amz-date: %s", date);
    hl = curl_slist_append(hl, tmp);
    ferry_buf_free(&a);
    return hl;
}

static void do_req(srv_t *sv, const req_t *q, resp_t *r)
{
    CURL *c = sv->curl;
    ferry_buf_t url;
    char tmp[512];
    struct curl_slist *hl = NULL, *res = NULL;
    chunk_src_t src = {q->body, q->blen, q->chunked};
    int vh = sv->vhost && !q->path_style && q->bucket != NULL;
    ferry_buf_init(&url, 1 << 16);
    ferry_buf_init(&r->body, 64u << 20);
    ferry_buf_init(&r->hdrs, 1 << 20);
    curl_easy_reset(c);
    if (vh) {
        ferry_buf_addf(&url, "http://%s.localhost:%d/", q->bucket, sv->h.port);
        snprintf(tmp, sizeof(tmp), "%s.localhost:%d:127.0.0.1:%d", q->bucket, sv->h.port,
                 sv->h.port);
        res = curl_slist_append(res, tmp);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, res);
    } else {
        ferry_buf_addf(&url, "http://127.0.0.1:%d/", sv->h.port);
        if (q->bucket)
            ferry_buf_addf(&url, "%s%s", q->bucket, q->key ? "/" : "");
    }
    if (q->key)
        s3enc(&url, q->key, q->klen ? q->klen : strlen(q->key), 1);
    if (q->query)
        ferry_buf_addf(&url, "?%s", q->query);
    curl_easy_setopt(c, CURLOPT_URL, ferry_buf_cstr(&url));
    const char *sha = q->sha256 ? q->sha256 : "UNSIGNED-PAYLOAD";
    if (!q->unsigned_req && *sha && curl_misorders(q)) {
        char host[300];
        const char *u = ferry_buf_cstr(&url) + 7; /* after http:// */
        const char *sl = strchr(u, '/');
        snprintf(host, sizeof(host), "%.*s", (int)(sl - u), u);
        ferry_buf_t path;
        ferry_buf_init(&path, 1 << 16);
        ferry_buf_add(&path, sl, strcspn(sl, "?"));
        hl = lib_sign(sv, q, host, ferry_buf_cstr(&path), sha, hl);
        ferry_buf_free(&path);
    } else if (!q->unsigned_req) {
        snprintf(tmp, sizeof(tmp), "%s:%s", sv->ak ? sv->ak : sv->h.access_key,
                 sv->sk ? sv->sk : sv->h.secret_key);
        curl_easy_setopt(c, CURLOPT_USERPWD, tmp);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    }
    if (*sha) {
        snprintf(tmp, sizeof(tmp), "x-amz-content-sha256: %s", sha);
        hl = curl_slist_append(hl, tmp);
    }
    for (const char *const *h = q->headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (q->chunked) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    } else if (strcmp(q->method, "PUT") == 0 && *sha) {
        /* An upload, not POSTFIELDS: libcurl 7.88 signs the form Content-Type it adds for
         * POSTFIELDS even when the header is suppressed. */
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->blen);
    } else if (q->body != NULL || strcmp(q->method, "PUT") == 0 || strcmp(q->method, "POST") == 0) {
        /* POSTFIELDS: curl hashes the body itself when no x-amz-content-sha256 is given. */
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->blen);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
        int has_ct = 0;
        for (const char *const *h = q->headers; h && *h; h++)
            has_ct |= strncasecmp(*h, "Content-Type:", 13) == 0;
        if (!has_ct)
            hl = curl_slist_append(hl, "Content-Type: application/xml");
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    r->cc = curl_easy_perform(c);
    r->status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (getenv("FAKES3_TEST_DEBUG") && r->status >= 400)
        fprintf(stderr, "%s %s -> %ld\n%s\n", q->method, ferry_buf_cstr(&url), r->status,
                ferry_buf_cstr(&r->body));
    curl_slist_free_all(hl);
    curl_slist_free_all(res);
    ferry_buf_free(&url);
}

/* Shorthands. */
static long put(srv_t *sv, const char *b, const char *k, const void *body, size_t n,
                const char *const *h, resp_t *r)
{
    req_t q = {.method = "PUT", .bucket = b, .key = k, .body = body, .blen = n, .headers = h};
    do_req(sv, &q, r);
    return r->status;
}

static long get(srv_t *sv, const char *b, const char *k, const char *const *h, resp_t *r)
{
    req_t q = {.method = "GET", .bucket = b, .key = k, .headers = h};
    do_req(sv, &q, r);
    return r->status;
}

static long simple(srv_t *sv, const char *m, const char *b, const char *k, const char *query,
                   const char *body, resp_t *r)
{
    req_t q = {.method = m,
               .bucket = b,
               .key = k,
               .query = query,
               .body = body,
               .blen = body ? strlen(body) : 0};
    do_req(sv, &q, r);
    return r->status;
}

/* CreateMultipartUpload of bk/key with headers (NULL-terminated, or NULL): must answer 200
 * with an UploadId, which goes to id. */
static void create_upload(srv_t *sv, const char *key, const char *const *headers, char id[128])
{
    resp_t r;
    req_t q = {
        .method = "POST", .bucket = "bk", .key = key, .query = "uploads=", .headers = headers};
    do_req(sv, &q, &r);
    CHECK_INT(r.status, 200);
    REQUIRE(xml(&r, "UploadId", id, 128) != NULL);
    resp_free(&r);
}

/* Control routes (no auth). */
static long control(srv_t *sv, const char *m, const char *route, const char *json, resp_t *r)
{
    req_t q = {.method = m,
               .bucket = "_fakes3",
               .key = route,
               .body = json,
               .blen = json ? strlen(json) : 0,
               .path_style = 1,
               .unsigned_req = 1,
               .sha256 = ""};
    do_req(sv, &q, r);
    return r->status;
}

static void start(srv_t *sv, const char *pers, const char *const *extra)
{
    memset(sv, 0, sizeof(*sv));
    sv->pers = pers;
    REQUIRE(harness_fakes3_start(pers, extra, &sv->h) == 0);
    sv->vhost = strcmp(pers, "oss") == 0;
    sv->curl = curl_easy_init();
    REQUIRE(sv->curl != NULL);
}

static void stop(srv_t *sv)
{
    curl_easy_cleanup(sv->curl);
    harness_stop(&sv->h, SIGTERM);
}

static void fill(char *p, size_t n, unsigned seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (char)x;
    }
}

/* The ETag each personality gives a single PUT of p[0..n). */
static void expect_etag(const char *pers, const void *p, size_t n, char out[64])
{
    if (strcmp(pers, "kodo") == 0) {
        ferry_qetag_t q;
        char s[29];
        REQUIRE(ferry_qetag_init(&q) == FERRY_OK);
        ferry_qetag_update(&q, p, n);
        ferry_qetag_final(&q, s);
        snprintf(out, 64, "\"%s\"", s);
        return;
    }
    uint8_t d[16];
    char hex[33];
    ferry_md5(p, n, d);
    if (strcmp(pers, "oss") == 0)
        ferry_hex_upper(d, 16, hex);
    else
        ferry_hex_lower(d, 16, hex);
    snprintf(out, 64, "\"%s\"", hex);
}

static const char *crc_name(const char *pers)
{
    if (strcmp(pers, "oss") == 0)
        return "x-oss-hash-crc64ecma";
    if (strcmp(pers, "cos") == 0)
        return "x-cos-hash-crc64ecma";
    return NULL;
}

static void check_crc(const char *pers, const resp_t *r, const void *p, size_t n)
{
    char v[64];
    const char *name = crc_name(pers);
    if (name == NULL) {
        CHECK(hdr(r, "x-oss-hash-crc64ecma", v, sizeof(v)) == NULL);
        CHECK(hdr(r, "x-cos-hash-crc64ecma", v, sizeof(v)) == NULL);
        return;
    }
    char want[32];
    snprintf(want, sizeof(want), "%llu", (unsigned long long)ferry_crc64_update(0, p, n));
    CHECK_STR(hdr(r, name, v, sizeof(v)), want);
}

/* ---- sections ---------------------------------------------------------------------------- */

/* A CompleteMultipartUpload body for parts 1..n, each with its ETag and, when crc is not NULL,
 * its <ChecksumCRC32C>. */
typedef struct {
    const char *etag, *crc;
} tpart_t;

static void complete_xml(char *out, size_t cap, const tpart_t *p, int n)
{
    size_t o = (size_t)snprintf(out, cap, "<CompleteMultipartUpload>");
    for (int i = 0; i < n && o < cap; i++) {
        o += (size_t)snprintf(out + o, cap - o, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>",
                              i + 1, p[i].etag);
        if (p[i].crc && o < cap)
            o +=
                (size_t)snprintf(out + o, cap - o, "<ChecksumCRC32C>%s</ChecksumCRC32C>", p[i].crc);
        if (o < cap)
            o += (size_t)snprintf(out + o, cap - o, "</Part>");
    }
    if (o < cap)
        snprintf(out + o, cap - o, "</CompleteMultipartUpload>");
}

static void test_auth(srv_t *sv)
{
    resp_t r;
    char v[256];
    srv_t bad = *sv;
    bad.ak = "NOPE";
    CHECK_INT(get(&bad, "bk", "x", NULL, &r), 403);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidAccessKeyId");
    CHECK(hdr(&r, "x-amz-request-id", v, sizeof(v)) != NULL);
    if (strcmp(sv->pers, "oss") == 0) {
        CHECK(hdr(&r, "x-oss-request-id", v, sizeof(v)) != NULL);
        CHECK(xml(&r, "HostId", v, sizeof(v)) != NULL);
        CHECK(xml(&r, "EC", v, sizeof(v)) != NULL);
    }
    if (strcmp(sv->pers, "cos") == 0) {
        CHECK(hdr(&r, "x-cos-request-id", v, sizeof(v)) != NULL);
        CHECK(xml(&r, "TraceId", v, sizeof(v)) != NULL);
    }
    resp_free(&r);
    bad.ak = NULL;
    bad.sk = "wrong-secret";
    CHECK_INT(get(&bad, "bk", "x", NULL, &r), 403);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "SignatureDoesNotMatch");
    resp_free(&r);
    req_t q = {.method = "GET", .bucket = "bk", .key = "x", .unsigned_req = 1};
    do_req(sv, &q, &r);
    CHECK_INT(r.status, 403);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "AccessDenied");
    resp_free(&r);
    /* A signed payload hash that does not match the body. */
    req_t q2 = {.method = "PUT",
                .bucket = "bk",
                .key = "shabad",
                .body = "abc",
                .blen = 3,
                .sha256 = FERRY_SIGV4_EMPTY_SHA256};
    do_req(sv, &q2, &r);
    CHECK_INT(r.status, 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "XAmzContentSHA256Mismatch");
    resp_free(&r);
    /* The matching hash is accepted; so is no header (curl then signs the body's hash). */
    uint8_t d[32];
    char hex[65];
    ferry_sha256("abc", 3, d);
    ferry_hex_lower(d, 32, hex);
    req_t q3 = {
        .method = "PUT", .bucket = "bk", .key = "shaok", .body = "abc", .blen = 3, .sha256 = hex};
    do_req(sv, &q3, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    req_t q4 = {
        .method = "PUT", .bucket = "bk", .key = "shanone", .body = "abc", .blen = 3, .sha256 = ""};
    do_req(sv, &q4, &r);
    CHECK_INT(r.status, 200);
    resp_free(&r);
}

static void test_addressing(srv_t *sv)
{
    resp_t r;
    char v[256];
    int oss = strcmp(sv->pers, "oss") == 0;
    srv_t vh = *sv, ps = *sv;
    vh.vhost = 1;
    ps.vhost = 0;
    CHECK_INT(put(&vh, "bk", "addr/v", "virtual", 7, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(get(&vh, "bk", "addr/v", NULL, &r), 200);
    CHECK_STR(ferry_buf_cstr(&r.body), "virtual");
    resp_free(&r);
    get(&ps, "bk", "addr/v", NULL, &r);
    if (oss) {
        CHECK_INT(r.status, 403);
        CHECK_STR(xml(&r, "Code", v, sizeof(v)), "SecondLevelDomainForbidden");
    } else {
        CHECK_INT(r.status, 200);
        CHECK_STR(ferry_buf_cstr(&r.body), "virtual");
    }
    resp_free(&r);
}

static void test_buckets(srv_t *sv)
{
    resp_t r;
    char v[256];
    CHECK_INT(simple(sv, "PUT", "nb-1", NULL, NULL, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(simple(sv, "PUT", "nb-1", NULL, NULL, NULL, &r), 409);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "BucketAlreadyOwnedByYou");
    resp_free(&r);
    CHECK_INT(simple(sv, "PUT", "Bad_Name", NULL, NULL, NULL, &r), 400);
    resp_free(&r);
    CHECK_INT(simple(sv, "HEAD", "nb-1", NULL, NULL, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(simple(sv, "HEAD", "nb-none", NULL, NULL, NULL, &r), 404);
    resp_free(&r);
    CHECK_INT(simple(sv, "GET", NULL, NULL, NULL, NULL, &r), 200);
    CHECK(strstr(ferry_buf_cstr(&r.body), "<Name>nb-1</Name>") != NULL);
    CHECK(strstr(ferry_buf_cstr(&r.body), "<Name>bk</Name>") != NULL);
    resp_free(&r);
    CHECK_INT(simple(sv, "GET", "nb-1", NULL, "location=", NULL, &r), 200);
    CHECK(strstr(ferry_buf_cstr(&r.body), "LocationConstraint") != NULL);
    resp_free(&r);
    CHECK_INT(put(sv, "nb-1", "o", "x", 1, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(simple(sv, "DELETE", "nb-1", NULL, NULL, NULL, &r), 409);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "BucketNotEmpty");
    resp_free(&r);
    CHECK_INT(simple(sv, "DELETE", "nb-1", "o", NULL, NULL, &r), 204);
    resp_free(&r);
    CHECK_INT(simple(sv, "DELETE", "nb-1", NULL, NULL, NULL, &r), 204);
    resp_free(&r);
    CHECK_INT(simple(sv, "DELETE", "nb-1", NULL, NULL, NULL, &r), 404);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NoSuchBucket");
    resp_free(&r);
    CHECK_INT(get(sv, "nb-1", "o", NULL, &r), 404);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NoSuchBucket");
    resp_free(&r);
}

static void test_objects(srv_t *sv)
{
    resp_t r;
    char v[512], want[64];
    static char data[300000];
    fill(data, sizeof(data), 7);
    const char *const h[] = {"Content-Type: image/png",
                             "Cache-Control: max-age=60",
                             "Content-Disposition: attachment; filename=\"x.png\"",
                             "Content-Encoding: identity",
                             "Content-Language: en",
                             "Expires: Thu, 01 Dec 2044 16:00:00 GMT",
                             "x-amz-meta-color: blue",
                             "x-amz-storage-class: STANDARD_IA",
                             NULL};
    CHECK_INT(put(sv, "bk", "obj/one", data, sizeof(data), h, &r), 200);
    expect_etag(sv->pers, data, sizeof(data), want);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    check_crc(sv->pers, &r, data, sizeof(data));
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "obj/one", NULL, &r), 200);
    CHECK_INT(r.body.len, sizeof(data));
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    CHECK_STR(hdr(&r, "Content-Type", v, sizeof(v)), "image/png");
    CHECK_STR(hdr(&r, "Cache-Control", v, sizeof(v)), "max-age=60");
    CHECK_STR(hdr(&r, "Content-Disposition", v, sizeof(v)), "attachment; filename=\"x.png\"");
    CHECK_STR(hdr(&r, "Content-Encoding", v, sizeof(v)), "identity");
    CHECK_STR(hdr(&r, "Content-Language", v, sizeof(v)), "en");
    CHECK_STR(hdr(&r, "Expires", v, sizeof(v)), "Thu, 01 Dec 2044 16:00:00 GMT");
    CHECK_STR(hdr(&r, "x-amz-meta-color", v, sizeof(v)), "blue");
    CHECK_STR(hdr(&r, "x-amz-storage-class", v, sizeof(v)), "STANDARD_IA");
    check_crc(sv->pers, &r, data, sizeof(data));
    resp_free(&r);
    req_t hq = {.method = "HEAD", .bucket = "bk", .key = "obj/one"};
    do_req(sv, &hq, &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(hdr(&r, "Content-Length", v, sizeof(v)), "300000");
    CHECK_INT(r.body.len, 0);
    check_crc(sv->pers, &r, data, sizeof(data));
    resp_free(&r);
    /* Ranges, whole-object CRC on a range (as OSS). */
    const char *const r1[] = {"Range: bytes=10-19", NULL};
    CHECK_INT(get(sv, "bk", "obj/one", r1, &r), 206);
    CHECK(r.body.len == 10 && memcmp(r.body.data, data + 10, 10) == 0);
    CHECK_STR(hdr(&r, "Content-Range", v, sizeof(v)), "bytes 10-19/300000");
    check_crc(sv->pers, &r, data, sizeof(data));
    resp_free(&r);
    const char *const r2[] = {"Range: bytes=299990-", NULL};
    CHECK_INT(get(sv, "bk", "obj/one", r2, &r), 206);
    CHECK(r.body.len == 10 && memcmp(r.body.data, data + 299990, 10) == 0);
    resp_free(&r);
    const char *const r3[] = {"Range: bytes=-5", NULL};
    CHECK_INT(get(sv, "bk", "obj/one", r3, &r), 206);
    CHECK(r.body.len == 5 && memcmp(r.body.data, data + 299995, 5) == 0);
    CHECK_STR(hdr(&r, "Content-Range", v, sizeof(v)), "bytes 299995-299999/300000");
    resp_free(&r);
    const char *const r4[] = {"Range: bytes=300000-", NULL};
    CHECK_INT(get(sv, "bk", "obj/one", r4, &r), 416);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidRange");
    CHECK_STR(hdr(&r, "Content-Range", v, sizeof(v)), "bytes */300000");
    resp_free(&r);
    /* Conditionals. */
    char im[128];
    snprintf(im, sizeof(im), "If-Match: %s", want);
    const char *const c1[] = {im, NULL};
    CHECK_INT(get(sv, "bk", "obj/one", c1, &r), 200);
    resp_free(&r);
    const char *const c2[] = {"If-Match: \"0000\"", NULL};
    CHECK_INT(get(sv, "bk", "obj/one", c2, &r), 412);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "PreconditionFailed");
    resp_free(&r);
    snprintf(im, sizeof(im), "If-None-Match: %s", want);
    const char *const c3[] = {im, NULL};
    CHECK_INT(get(sv, "bk", "obj/one", c3, &r), 304);
    CHECK_INT(r.body.len, 0);
    resp_free(&r);
    /* Digests. */
    uint8_t md5[16];
    char b64[32], hb[96];
    ferry_md5("hello", 5, md5);
    ferry_b64(md5, 16, b64);
    snprintf(hb, sizeof(hb), "Content-MD5: %s", b64);
    const char *const d1[] = {hb, NULL};
    CHECK_INT(put(sv, "bk", "obj/md5", "hello", 5, d1, &r), 200);
    resp_free(&r);
    CHECK_INT(put(sv, "bk", "obj/md5", "hellO", 5, d1, &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "BadDigest");
    resp_free(&r);
    uint32_t c = ferry_crc32c_update(0, "hello", 5);
    ferry_crc32c_b64(c, b64);
    snprintf(hb, sizeof(hb), "x-amz-checksum-crc32c: %s", b64);
    const char *const d2[] = {hb, NULL};
    CHECK_INT(put(sv, "bk", "obj/crc", "hello", 5, d2, &r), 200);
    resp_free(&r);
    CHECK_INT(put(sv, "bk", "obj/crc", "jello", 5, d2, &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "BadDigest");
    resp_free(&r);
    /* The rejected PUT left the earlier object alone. */
    CHECK_INT(get(sv, "bk", "obj/crc", NULL, &r), 200);
    CHECK_STR(ferry_buf_cstr(&r.body), "hello");
    resp_free(&r);
    /* Chunked request body. */
    req_t ch = {.method = "PUT",
                .bucket = "bk",
                .key = "obj/chunked",
                .body = data,
                .blen = 5000,
                .chunked = 1};
    do_req(sv, &ch, &r);
    CHECK_INT(r.status, 200);
    expect_etag(sv->pers, data, 5000, want);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "obj/chunked", NULL, &r), 200);
    CHECK(r.body.len == 5000 && memcmp(r.body.data, data, 5000) == 0);
    resp_free(&r);
    /* Empty object. */
    CHECK_INT(put(sv, "bk", "obj/empty", "", 0, NULL, &r), 200);
    expect_etag(sv->pers, "", 0, want);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "obj/empty", NULL, &r), 200);
    CHECK_INT(r.body.len, 0);
    CHECK_STR(hdr(&r, "Content-Type", v, sizeof(v)), "binary/octet-stream");
    resp_free(&r);
    /* Delete; 404 after. */
    CHECK_INT(simple(sv, "DELETE", "bk", "obj/empty", NULL, NULL, &r), 204);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "obj/empty", NULL, &r), 404);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NoSuchKey");
    resp_free(&r);
    req_t hq2 = {.method = "HEAD", .bucket = "bk", .key = "obj/empty"};
    do_req(sv, &hq2, &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
}

static void test_copy(srv_t *sv)
{
    resp_t r;
    char v[512], want[64], hb[128];
    const char *const h[] = {"Content-Type: text/plain", "x-amz-meta-a: 1", NULL};
    CHECK_INT(put(sv, "bk", "cp/src key+1", "copy me", 7, h, &r), 200);
    expect_etag(sv->pers, "copy me", 7, want);
    resp_free(&r);
    snprintf(hb, sizeof(hb), "x-amz-copy-source: /bk/cp/src%%20key%%2B1");
    const char *const c1[] = {hb, NULL};
    CHECK_INT(put(sv, "bk", "cp/dst", NULL, 0, c1, &r), 200);
    CHECK(strstr(ferry_buf_cstr(&r.body), "<CopyObjectResult") != NULL);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "cp/dst", NULL, &r), 200);
    CHECK_STR(ferry_buf_cstr(&r.body), "copy me");
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    CHECK_STR(hdr(&r, "Content-Type", v, sizeof(v)), "text/plain");
    CHECK_STR(hdr(&r, "x-amz-meta-a", v, sizeof(v)), "1");
    resp_free(&r);
    const char *const c2[] = {hb, "x-amz-metadata-directive: REPLACE", "x-amz-meta-b: 2",
                              "Content-Type: text/x-new", NULL};
    CHECK_INT(put(sv, "bk", "cp/dst2", NULL, 0, c2, &r), 200);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "cp/dst2", NULL, &r), 200);
    CHECK(hdr(&r, "x-amz-meta-a", v, sizeof(v)) == NULL);
    CHECK_STR(hdr(&r, "x-amz-meta-b", v, sizeof(v)), "2");
    CHECK_STR(hdr(&r, "Content-Type", v, sizeof(v)), "text/x-new");
    resp_free(&r);
    const char *const c3[] = {hb, "x-amz-copy-source-if-match: \"nope\"", NULL};
    CHECK_INT(put(sv, "bk", "cp/dst3", NULL, 0, c3, &r), 412);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "PreconditionFailed");
    resp_free(&r);
    char im[128];
    snprintf(im, sizeof(im), "x-amz-copy-source-if-match: %s", want);
    const char *const c4[] = {hb, im, NULL};
    CHECK_INT(put(sv, "bk", "cp/dst3", NULL, 0, c4, &r), 200);
    resp_free(&r);
    CHECK_INT(put(sv, "bk", "cp/src key+1", NULL, 0, c1, &r), 400); /* onto itself */
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidRequest");
    resp_free(&r);
    const char *const c5[] = {"x-amz-copy-source: /bk/cp/missing", NULL};
    CHECK_INT(put(sv, "bk", "cp/dst4", NULL, 0, c5, &r), 404);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NoSuchKey");
    resp_free(&r);
}

/* Put keys, then list them back (V2 with encoding-type=url unless kodo/cos). */
static void test_hostile_keys(srv_t *sv)
{
    resp_t r;
    static char longkey[1025];
    memset(longkey, 'k', 1024);
    memcpy(longkey, "hk/", 3);
    const char *keys[] = {
        "hk/sp ace",  "hk/plus+sign", "hk/pct%20lit", "hk/uni/\xc3\xbc\xe6\x97\xa5",
        "hk/a//b",    "hk/trail/",    "hk/amp&<>\"'", "hk/q?x=1#h",
        "hk/tab\tnl", longkey};
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < nk; i++) {
        CHECK_INT(put(sv, "bk", keys[i], keys[i], strlen(keys[i]), NULL, &r), 200);
        resp_free(&r);
        CHECK_INT(get(sv, "bk", keys[i], NULL, &r), 200);
        CHECK_STR(ferry_buf_cstr(&r.body), keys[i]);
        resp_free(&r);
    }
    int kodo = strcmp(sv->pers, "kodo") == 0, cos = strcmp(sv->pers, "cos") == 0;
    const char *q = cos ? "encoding-type=url&max-keys=1000&prefix=hk%2F"
                        : "encoding-type=url&list-type=2&max-keys=1000&prefix=hk%2F";
    CHECK_INT(simple(sv, "GET", "bk", NULL, q, NULL, &r), 200);
    const char *from = NULL;
    char k[4096];
    size_t found = 0;
    while (xml_next(ferry_buf_cstr(&r.body), "Key", &from, k, sizeof(k)) != NULL) {
        ferry_buf_t d;
        ferry_buf_init(&d, 8192);
        if (kodo) {
            xml_unescape(k); /* kodo ignores encoding-type: raw keys, XML-escaped */
            ferry_buf_adds(&d, k);
        } else {
            CHECK(strchr(k, ' ') == NULL && strchr(k, '&') == NULL);
            CHECK(ferry_uri_decode(k, strlen(k), 1, &d) == FERRY_OK);
        }
        for (size_t i = 0; i < nk; i++)
            if (strcmp(ferry_buf_cstr(&d), keys[i]) == 0)
                found++;
        ferry_buf_free(&d);
    }
    CHECK_INT(found, nk);
    if (!kodo)
        CHECK(strstr(ferry_buf_cstr(&r.body), "<EncodingType>url</EncodingType>") != NULL);
    resp_free(&r);
}

/* Page through prefix "d/" with delimiter "/", 2 entries per page. */
static void test_listing(srv_t *sv)
{
    resp_t r;
    char v[512];
    const char *keys[] = {"d/a/1", "d/a/2", "d/b/1", "d/c", "d/d/x/y", "d/e", "dz"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        CHECK_INT(put(sv, "bk", keys[i], "x", 1, NULL, &r), 200);
        resp_free(&r);
    }
    int v1 = strcmp(sv->pers, "cos") == 0;
    ferry_buf_t got;
    ferry_buf_init(&got, 1 << 16);
    char token[2048] = "";
    int pages = 0;
    for (;;) {
        ferry_buf_t qs;
        ferry_buf_init(&qs, 8192);
        if (v1) {
            ferry_buf_adds(&qs, "delimiter=%2F");
            if (token[0]) {
                ferry_buf_adds(&qs, "&marker=");
                s3enc(&qs, token, strlen(token), 0);
            }
            ferry_buf_adds(&qs, "&max-keys=2&prefix=d%2F");
        } else {
            if (token[0]) {
                ferry_buf_adds(&qs, "continuation-token=");
                s3enc(&qs, token, strlen(token), 0);
                ferry_buf_adds(&qs, "&");
            }
            ferry_buf_adds(&qs, "delimiter=%2F&list-type=2&max-keys=2&prefix=d%2F");
        }
        CHECK_INT(simple(sv, "GET", "bk", NULL, ferry_buf_cstr(&qs), NULL, &r), 200);
        ferry_buf_free(&qs);
        const char *body = ferry_buf_cstr(&r.body);
        const char *from = NULL;
        char k[1100];
        while (xml_next(body, "Key", &from, k, sizeof(k)))
            ferry_buf_addf(&got, "K:%s ", k);
        from = strstr(body, "<CommonPrefixes>");
        while (from && xml_next(body, "Prefix", &from, k, sizeof(k)))
            ferry_buf_addf(&got, "P:%s ", k);
        if (v1)
            CHECK(strstr(body, "<KeyCount>") == NULL); /* cos answers V1 */
        pages++;
        int trunc = strstr(body, "<IsTruncated>true</IsTruncated>") != NULL;
        if (!trunc || pages > 10) {
            resp_free(&r);
            break;
        }
        if (!xml(&r, v1 ? "NextMarker" : "NextContinuationToken", token, sizeof(token))) {
            CHECK(!"no continuation on a truncated page");
            resp_free(&r);
            break;
        }
        resp_free(&r);
    }
    CHECK_INT(pages, 3);
    /* Keys and prefixes in the order they were paged: 2 + 2 + 1 entries. */
    CHECK_STR(ferry_buf_cstr(&got), "P:d/a/ P:d/b/ K:d/c P:d/d/ K:d/e ");
    ferry_buf_free(&got);
    /* start-after / marker without delimiter. */
    const char *q = v1 ? "marker=d%2Fc&prefix=d%2F" : "list-type=2&prefix=d%2F&start-after=d%2Fc";
    CHECK_INT(simple(sv, "GET", "bk", NULL, q, NULL, &r), 200);
    const char *from = NULL;
    CHECK_STR(xml_next(ferry_buf_cstr(&r.body), "Key", &from, v, sizeof(v)), "d/d/x/y");
    CHECK_STR(xml_next(ferry_buf_cstr(&r.body), "Key", &from, v, sizeof(v)), "d/e");
    CHECK(xml_next(ferry_buf_cstr(&r.body), "Key", &from, v, sizeof(v)) == NULL);
    resp_free(&r);
    /* Default page size: 100 for oss, 1000 elsewhere. */
    CHECK_INT(
        simple(sv, "GET", "bk", NULL, v1 ? "prefix=d%2F" : "list-type=2&prefix=d%2F", NULL, &r),
        200);
    CHECK_STR(xml(&r, "MaxKeys", v, sizeof(v)), strcmp(sv->pers, "oss") == 0 ? "100" : "1000");
    resp_free(&r);
    CHECK_INT(simple(sv, "GET", "nobucket", NULL, "list-type=2", NULL, &r), 404);
    resp_free(&r);
}

static void md5_of_md5s(const char *pers, const void *const *parts, const size_t *lens, int n,
                        char out[80])
{
    ferry_md5_t m;
    uint8_t d[16];
    char hex[33];
    REQUIRE(ferry_md5_init(&m) == FERRY_OK);
    for (int i = 0; i < n; i++) {
        ferry_md5(parts[i], lens[i], d);
        ferry_md5_update(&m, d, 16);
    }
    ferry_md5_final(&m, d);
    if (strcmp(pers, "oss") == 0)
        ferry_hex_upper(d, 16, hex);
    else
        ferry_hex_lower(d, 16, hex);
    snprintf(out, 80, "\"%s-%d\"", hex, n);
}

static void test_multipart(srv_t *sv)
{
    resp_t r;
    char v[1024], id[128], e1[80], e2[80], e3[80], q[512], body[2048];
    size_t n1 = 5u << 20, n2 = 1000, n3 = 4096;
    char *p1 = malloc(n1), *p2 = malloc(n2), *p3 = malloc(n3);
    REQUIRE(p1 && p2 && p3);
    fill(p1, n1, 1);
    fill(p2, n2, 2);
    fill(p3, n3, 3);
    const char *const h[] = {"Content-Type: video/mp4", "x-amz-meta-mp: yes", NULL};
    create_upload(sv, "mp/obj", h, id);
    snprintf(q, sizeof(q), "partNumber=1&uploadId=%s", id);
    req_t u1 = {
        .method = "PUT", .bucket = "bk", .key = "mp/obj", .query = q, .body = p1, .blen = n1};
    do_req(sv, &u1, &r);
    CHECK_INT(r.status, 200);
    REQUIRE(hdr(&r, "ETag", e1, sizeof(e1)) != NULL);
    check_crc(sv->pers, &r, p1, n1);
    resp_free(&r);
    snprintf(q, sizeof(q), "partNumber=2&uploadId=%s", id);
    req_t u2 = {
        .method = "PUT", .bucket = "bk", .key = "mp/obj", .query = q, .body = p2, .blen = n2};
    do_req(sv, &u2, &r);
    CHECK_INT(r.status, 200);
    REQUIRE(hdr(&r, "ETag", e2, sizeof(e2)) != NULL);
    resp_free(&r);
    /* Part 3 by UploadPartCopy of a range of obj/one-like source. */
    CHECK_INT(put(sv, "bk", "mp/src", p3, n3, NULL, &r), 200);
    resp_free(&r);
    snprintf(q, sizeof(q), "partNumber=3&uploadId=%s", id);
    const char *const hc[] = {"x-amz-copy-source: bk/mp/src",
                              "x-amz-copy-source-range: bytes=96-4095", NULL};
    req_t u3 = {.method = "PUT", .bucket = "bk", .key = "mp/obj", .query = q, .headers = hc};
    do_req(sv, &u3, &r);
    CHECK_INT(r.status, 200);
    REQUIRE(xml(&r, "ETag", e3, sizeof(e3)) != NULL);
    xml_unescape(e3);
    resp_free(&r);
    /* ListParts with paging. */
    snprintf(q, sizeof(q), "max-parts=2&uploadId=%s", id);
    CHECK_INT(simple(sv, "GET", "bk", "mp/obj", q, NULL, &r), 200);
    CHECK(strstr(ferry_buf_cstr(&r.body), "<IsTruncated>true</IsTruncated>") != NULL);
    CHECK_STR(xml(&r, "NextPartNumberMarker", v, sizeof(v)), "2");
    resp_free(&r);
    snprintf(q, sizeof(q), "part-number-marker=2&uploadId=%s", id);
    CHECK_INT(simple(sv, "GET", "bk", "mp/obj", q, NULL, &r), 200);
    CHECK_STR(xml(&r, "PartNumber", v, sizeof(v)), "3");
    CHECK_STR(xml(&r, "Size", v, sizeof(v)), "4000");
    resp_free(&r);
    /* ListMultipartUploads. */
    CHECK_INT(simple(sv, "GET", "bk", NULL, "prefix=mp%2F&uploads=", NULL, &r), 200);
    CHECK_STR(xml(&r, "UploadId", v, sizeof(v)), id);
    resp_free(&r);
    /* Bad completes. */
    snprintf(q, sizeof(q), "uploadId=%s", id);
    snprintf(body, sizeof(body),
             "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
             "<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e2, e1);
    CHECK_INT(simple(sv, "POST", "bk", "mp/obj", q, body, &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidPartOrder");
    resp_free(&r);
    snprintf(body, sizeof(body),
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"bad\"</ETag>"
             "</Part></CompleteMultipartUpload>");
    CHECK_INT(simple(sv, "POST", "bk", "mp/obj", q, body, &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidPart");
    resp_free(&r);
    CHECK_INT(simple(sv, "POST", "bk", "mp/obj", q, "<Complete", &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "MalformedXML");
    resp_free(&r);
    if (strcmp(sv->pers, "s3") == 0) {
        /* Part 2 (1000 bytes) may not come before part 3. */
        snprintf(body, sizeof(body),
                 "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part>"
                 "<Part><PartNumber>3</PartNumber><ETag>%s</ETag></Part>"
                 "</CompleteMultipartUpload>",
                 e2, e3);
        CHECK_INT(simple(sv, "POST", "bk", "mp/obj", q, body, &r), 400);
        CHECK_STR(xml(&r, "Code", v, sizeof(v)), "EntityTooSmall");
        resp_free(&r);
    }
    /* Complete parts 1 and 3 (skipping 2 is allowed). */
    snprintf(body, sizeof(body),
             "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
             "<Part><ETag>%s</ETag><PartNumber>1</PartNumber></Part>"
             "<Part><PartNumber>3</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>",
             e1, e3);
    CHECK_INT(simple(sv, "POST", "bk", "mp/obj", q, body, &r), 200);
    size_t total = n1 + 4000;
    char *all = malloc(total);
    REQUIRE(all);
    memcpy(all, p1, n1);
    memcpy(all + n1, p3 + 96, 4000);
    char want[80];
    if (strcmp(sv->pers, "kodo") == 0) {
        expect_etag("kodo", all, total, want);
    } else {
        const void *parts[] = {p1, p3 + 96};
        size_t lens[] = {n1, 4000};
        md5_of_md5s(sv->pers, parts, lens, 2, want);
    }
    REQUIRE(xml(&r, "ETag", v, sizeof(v)) != NULL);
    xml_unescape(v);
    CHECK_STR(v, want);
    check_crc(sv->pers, &r, all, total);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "mp/obj", NULL, &r), 200);
    CHECK(r.body.len == total && memcmp(r.body.data, all, total) == 0);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    CHECK_STR(hdr(&r, "Content-Type", v, sizeof(v)), "video/mp4");
    CHECK_STR(hdr(&r, "x-amz-meta-mp", v, sizeof(v)), "yes");
    check_crc(sv->pers, &r, all, total);
    resp_free(&r);
    /* The upload is gone. */
    CHECK_INT(simple(sv, "GET", "bk", "mp/obj", q, NULL, &r), 404);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NoSuchUpload");
    resp_free(&r);
    /* Abort. */
    create_upload(sv, "mp/obj", h, id);
    snprintf(q, sizeof(q), "uploadId=%s", id);
    CHECK_INT(simple(sv, "DELETE", "bk", "mp/obj", q, NULL, &r), 204);
    resp_free(&r);
    CHECK_INT(simple(sv, "DELETE", "bk", "mp/obj", q, NULL, &r), 404);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NoSuchUpload");
    resp_free(&r);
    snprintf(q, sizeof(q), "partNumber=1&uploadId=%s", id);
    CHECK_INT(put(sv, "bk", "mp/obj", NULL, 0, NULL, &r), 200); /* plain PUT still fine */
    resp_free(&r);
    req_t u9 = {
        .method = "PUT", .bucket = "bk", .key = "mp/obj", .query = q, .body = "x", .blen = 1};
    do_req(sv, &u9, &r);
    CHECK_INT(r.status, 404);
    resp_free(&r);
    free(all);
    free(p1);
    free(p2);
    free(p3);
}

static void test_delete_objects(srv_t *sv)
{
    resp_t r;
    char v[256];
    for (int i = 0; i < 3; i++) {
        char k[32];
        snprintf(k, sizeof(k), "del/%d", i);
        CHECK_INT(put(sv, "bk", k, "x", 1, NULL, &r), 200);
        resp_free(&r);
    }
    const char *body = "<Delete><Object><Key>del/0</Key></Object><Object><Key>del/1</Key>"
                       "</Object></Delete>";
    CHECK_INT(simple(sv, "POST", "bk", NULL, "delete=", body, &r), 200);
    const char *from = NULL;
    CHECK_STR(xml_next(ferry_buf_cstr(&r.body), "Key", &from, v, sizeof(v)), "del/0");
    CHECK_STR(xml_next(ferry_buf_cstr(&r.body), "Key", &from, v, sizeof(v)), "del/1");
    resp_free(&r);
    body = "<Delete><Quiet>true</Quiet><Object><Key>del/2</Key></Object></Delete>";
    CHECK_INT(simple(sv, "POST", "bk", NULL, "delete=", body, &r), 200);
    CHECK(strstr(ferry_buf_cstr(&r.body), "<Deleted>") == NULL);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "del/2", NULL, &r), 404);
    resp_free(&r);
    CHECK_INT(simple(sv, "POST", "bk", NULL, "delete=", "<Delete><Object>", &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "MalformedXML");
    resp_free(&r);
}

static void set_faults(srv_t *sv, const char *json)
{
    resp_t r;
    CHECK_INT(control(sv, "POST", "faults", json, &r), 200);
    resp_free(&r);
}

static void test_faults(srv_t *sv)
{
    resp_t r;
    char v[256];
    static char data[200000];
    fill(data, sizeof(data), 9);
    CHECK_INT(put(sv, "bk", "f/obj", data, sizeof(data), NULL, &r), 200);
    resp_free(&r);
    /* 503 SlowDown once, then normal. */
    set_faults(sv, "[{\"op\":\"GetObject\",\"key_prefix\":\"f/\",\"error\":503,\"count\":1}]");
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 503);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "SlowDown");
    CHECK_STR(hdr(&r, "Retry-After", v, sizeof(v)), "1");
    if (strcmp(sv->pers, "oss") == 0)
        CHECK(hdr(&r, "x-oss-qos-delay-time", v, sizeof(v)) != NULL);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(control(sv, "GET", "faults", NULL, &r), 200);
    CHECK(strstr(ferry_buf_cstr(&r.body), "\"fired\":1") != NULL);
    resp_free(&r);
    /* 429 and 500 on PUT (the body is read, the object not stored). */
    set_faults(sv, "[{\"op\":\"PutObject\",\"error\":429,\"count\":1},"
                   "{\"op\":\"HeadObject\",\"error\":500}]");
    CHECK_INT(put(sv, "bk", "f/new", data, 1000, NULL, &r), 429);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "TooManyRequests");
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/new", NULL, &r), 404);
    resp_free(&r);
    req_t hq = {.method = "HEAD", .bucket = "bk", .key = "f/obj"};
    do_req(sv, &hq, &r);
    CHECK_INT(r.status, 500);
    resp_free(&r);
    /* Key prefix that does not match: no fault. */
    set_faults(sv, "[{\"op\":\"*\",\"key_prefix\":\"zzz/\",\"error\":500}]");
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 200);
    resp_free(&r);
    /* reset_after on GET: the client sees a cut transfer. */
    set_faults(sv, "[{\"op\":\"GetObject\",\"reset_after\":1000,\"count\":1}]");
    get(sv, "bk", "f/obj", NULL, &r);
    CHECK(r.cc != CURLE_OK);
    CHECK(r.body.len <= 1000);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 200);
    CHECK_INT(r.body.len, sizeof(data));
    resp_free(&r);
    /* reset_after on PUT: cut while sending, nothing stored. */
    set_faults(sv, "[{\"op\":\"PutObject\",\"reset_after\":5000,\"count\":1}]");
    put(sv, "bk", "f/cut", data, sizeof(data), NULL, &r);
    CHECK(r.cc != CURLE_OK || r.status == 0);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/cut", NULL, &r), 404);
    resp_free(&r);
    /* latency. */
    set_faults(sv, "[{\"op\":\"HeadObject\",\"latency_ms\":300,\"count\":1}]");
    double t0 = ferry_mono_s();
    do_req(sv, &hq, &r);
    CHECK_INT(r.status, 200);
    CHECK(ferry_mono_s() - t0 >= 0.29);
    resp_free(&r);
    /* bandwidth: 200,000 bytes at 400,000 B/s take about half a second. */
    set_faults(sv, "[{\"op\":\"GetObject\",\"bandwidth\":400000,\"count\":1}]");
    t0 = ferry_mono_s();
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 200);
    double dt = ferry_mono_s() - t0;
    CHECK(dt >= 0.4 && dt < 3.0);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    resp_free(&r);
    /* flip_byte: exactly one byte differs; the stored object does not change. */
    set_faults(sv, "[{\"op\":\"GetObject\",\"flip_byte\":true,\"count\":1}]");
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 200);
    size_t diff = 0;
    for (size_t i = 0; i < r.body.len && i < sizeof(data); i++)
        diff += r.body.data[i] != data[i];
    CHECK_INT(r.body.len, sizeof(data));
    CHECK_INT(diff, 1);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/obj", NULL, &r), 200);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    resp_free(&r);
    /* error_body on CopyObject: 200 with <Error>, no copy made. */
    set_faults(sv, "[{\"op\":\"CopyObject\",\"error_body\":true}]");
    const char *const cs[] = {"x-amz-copy-source: /bk/f/obj", NULL};
    CHECK_INT(put(sv, "bk", "f/copy", NULL, 0, cs, &r), 200);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InternalError");
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/copy", NULL, &r), 404);
    resp_free(&r);
    /* error_body on Complete. */
    set_faults(sv, "[{\"op\":\"CompleteMultipartUpload\",\"error_body\":true,\"count\":1}]");
    char id[128], q[256], e1[80], body[512];
    create_upload(sv, "f/mp", NULL, id);
    snprintf(q, sizeof(q), "partNumber=1&uploadId=%s", id);
    req_t u1 = {
        .method = "PUT", .bucket = "bk", .key = "f/mp", .query = q, .body = "abc", .blen = 3};
    do_req(sv, &u1, &r);
    REQUIRE(hdr(&r, "ETag", e1, sizeof(e1)) != NULL);
    resp_free(&r);
    snprintf(q, sizeof(q), "uploadId=%s", id);
    complete_xml(body, sizeof(body), (const tpart_t[]){{e1, NULL}}, 1);
    CHECK_INT(simple(sv, "POST", "bk", "f/mp", q, body, &r), 200);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InternalError");
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "f/mp", NULL, &r), 404);
    resp_free(&r);
    CHECK_INT(simple(sv, "POST", "bk", "f/mp", q, body, &r), 200); /* the upload survived */
    CHECK(xml(&r, "Code", v, sizeof(v)) == NULL);
    resp_free(&r);
    /* rate: deterministic and roughly right. */
    set_faults(sv, "[{\"op\":\"HeadObject\",\"error\":503,\"rate\":0.5}]");
    int fired = 0;
    for (int i = 0; i < 100; i++) {
        do_req(sv, &hq, &r);
        fired += r.status == 503;
        resp_free(&r);
    }
    CHECK(fired > 25 && fired < 75);
    /* Bad rules are refused; DELETE clears. */
    CHECK_INT(control(sv, "POST", "faults", "[{\"op\":\"Nope\"}]", &r), 400);
    resp_free(&r);
    CHECK_INT(control(sv, "DELETE", "faults", NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(control(sv, "GET", "faults", NULL, &r), 200);
    CHECK_STR(ferry_buf_cstr(&r.body), "[]");
    resp_free(&r);
}

static long long json_num(const char *body, const char *op, const char *field)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":{", op);
    const char *s = strstr(body, pat);
    if (s == NULL)
        return -1;
    snprintf(pat, sizeof(pat), "\"%s\":", field);
    s = strstr(s, pat);
    return s ? atoll(s + strlen(pat)) : -1;
}

static void test_stats(srv_t *sv)
{
    resp_t r;
    CHECK_INT(put(sv, "bk", "st/x", "12345", 5, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(control(sv, "POST", "stats/reset", NULL, &r), 200);
    resp_free(&r);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(get(sv, "bk", "st/x", NULL, &r), 200);
        resp_free(&r);
    }
    CHECK_INT(get(sv, "bk", "st/none", NULL, &r), 404);
    size_t errlen = r.body.len; /* error bodies count as bytes out too */
    resp_free(&r);
    CHECK_INT(put(sv, "bk", "st/y", "abcdefgh", 8, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(control(sv, "GET", "stats", NULL, &r), 200);
    const char *b = ferry_buf_cstr(&r.body);
    CHECK_INT(json_num(b, "GetObject", "count"), 4);
    CHECK_INT(json_num(b, "GetObject", "bytes_out"), 15 + (long long)errlen);
    CHECK_INT(json_num(b, "GetObject", "errors"), 1);
    CHECK_INT(json_num(b, "PutObject", "count"), 1);
    CHECK_INT(json_num(b, "PutObject", "bytes_in"), 8);
    CHECK_INT(json_num(b, "ListBuckets", "count"), -1);
    resp_free(&r);
}

static void test_seed(srv_t *sv, long count)
{
    resp_t r;
    char json[512], v[256];
    snprintf(json, sizeof(json),
             "{\"bucket\":\"seeded\",\"prefix\":\"s/\",\"count\":%ld,\"seed\":42,"
             "\"sizes\":[{\"size\":100,\"weight\":3},{\"size\":7000,\"weight\":1}]}",
             count);
    double t0 = ferry_mono_s();
    CHECK_INT(control(sv, "POST", "seed", json, &r), 200);
    fprintf(stderr, "seed %ld objects (%s): %.2f s\n", count, sv->pers, ferry_mono_s() - t0);
    snprintf(v, sizeof(v), "{\"created\":%ld}", count);
    CHECK_STR(ferry_buf_cstr(&r.body), v);
    resp_free(&r);
    /* Count by listing every page. */
    long listed = 0, sizes100 = 0;
    char token[2048] = "", last[300] = "";
    int v1 = strcmp(sv->pers, "cos") == 0;
    for (;;) {
        ferry_buf_t qs;
        ferry_buf_init(&qs, 8192);
        if (v1) {
            if (token[0]) {
                ferry_buf_adds(&qs, "marker=");
                s3enc(&qs, token, strlen(token), 0);
                ferry_buf_adds(&qs, "&");
            }
            ferry_buf_adds(&qs, "max-keys=1000");
        } else {
            if (token[0]) {
                ferry_buf_adds(&qs, "continuation-token=");
                s3enc(&qs, token, strlen(token), 0);
                ferry_buf_adds(&qs, "&");
            }
            ferry_buf_adds(&qs, "list-type=2&max-keys=1000");
        }
        CHECK_INT(simple(sv, "GET", "seeded", NULL, ferry_buf_cstr(&qs), NULL, &r), 200);
        ferry_buf_free(&qs);
        const char *from = NULL, *body = ferry_buf_cstr(&r.body);
        char k[256];
        while (xml_next(body, "Key", &from, k, sizeof(k))) {
            listed++;
            snprintf(last, sizeof(last), "%s", k);
            char sz[32];
            if (xml_next(body, "Size", &from, sz, sizeof(sz)) && strcmp(sz, "100") == 0)
                sizes100++;
        }
        int trunc = strstr(body, "<IsTruncated>true</IsTruncated>") != NULL;
        if (trunc)
            xml(&r, v1 ? "NextMarker" : "NextContinuationToken", token, sizeof(token));
        resp_free(&r);
        if (!trunc)
            break;
    }
    CHECK_INT(listed, count);
    CHECK(sizes100 > count / 2 && sizes100 < count * 9 / 10);
    snprintf(v, sizeof(v), "s/%08ld", count - 1);
    CHECK_STR(last, v);
    /* A seeded object's body matches its ETag and CRC; ranges agree with the whole. */
    CHECK_INT(get(sv, "seeded", "s/00000007", NULL, &r), 200);
    char want[64];
    expect_etag(sv->pers, r.body.data, r.body.len, want);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    check_crc(sv->pers, &r, r.body.data, r.body.len);
    resp_t r2;
    const char *const rg[] = {"Range: bytes=3-50", NULL};
    CHECK_INT(get(sv, "seeded", "s/00000007", rg, &r2), 206);
    CHECK(r2.body.len == 48 && memcmp(r2.body.data, r.body.data + 3, 48) == 0);
    resp_free(&r2);
    resp_free(&r);
    /* Deterministic: the same seed gives the same bytes in another bucket. */
    CHECK_INT(control(sv, "POST", "seed",
                      "{\"bucket\":\"seeded2\",\"prefix\":\"s/\",\"start\":7,\"count\":1,"
                      "\"seed\":42,\"sizes\":[{\"size\":100,\"weight\":3},"
                      "{\"size\":7000,\"weight\":1}]}",
                      &r),
              200);
    resp_free(&r);
    CHECK_INT(get(sv, "seeded", "s/00000007", NULL, &r), 200);
    CHECK_INT(get(sv, "seeded2", "s/00000007", NULL, &r2), 200);
    CHECK(r.body.len == r2.body.len && memcmp(r.body.data, r2.body.data, r.body.len) == 0);
    resp_free(&r);
    resp_free(&r2);
    CHECK_INT(control(sv, "POST", "seed", "{\"bucket\":\"x\"}", &r), 400);
    resp_free(&r);
}

static void test_keepalive(srv_t *sv)
{
    resp_t r;
    long conns = 0, total = 0;
    for (int i = 0; i < 50; i++) {
        get(sv, "bk", "st/x", NULL, &r);
        long n = 0;
        curl_easy_getinfo(sv->curl, CURLINFO_NUM_CONNECTS, &n);
        conns += n;
        total++;
        resp_free(&r);
    }
    CHECK(conns <= 1);
    CHECK_INT(total, 50);
}

/* ---- aws-chunked uploads and CRC32C checksums ------------------------------------------- */

/* A request written by hand on its own connection (Connection: close), so that the body can
 * be any bytes, cut into writes anywhere. Signed with ferry_sigv4 like lib_sign. */
typedef struct raw_s {
    const char *method, *bucket, *key, *query;
    const char *const *headers; /* NULL-terminated "Name: value"; the x-amz-* ones are signed */
    const char *sha;  /* x-amz-content-sha256 (default STREAMING-UNSIGNED-PAYLOAD-TRAILER) */
    const char *body; /* the encoded body, sent as is */
    size_t blen;
    long clen;    /* Content-Length to announce; -1: blen */
    size_t piece; /* write the body in pieces of this many bytes, pausing between (0: at once) */
    int te;       /* send it as Transfer-Encoding: chunked (one HTTP chunk per piece) */
    int shut;     /* shut down writing after the body: a short body when clen > blen */
    const char *then; /* keep the connection and send this request right after the body */
} raw_t;

static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The status (0 when the server closed without an answer); r gets headers and body (with
 * q->then, the body is everything after the first head: the rest of the first answer and the
 * whole second one). */
static long raw_req(srv_t *sv, const raw_t *q, resp_t *r)
{
    char host[300], tmp[256];
    ferry_buf_t path, head, in;
    const char *sha = q->sha ? q->sha : "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    ferry_buf_init(&path, 1 << 16);
    ferry_buf_init(&head, 1 << 16);
    ferry_buf_init(&in, 4u << 20);
    ferry_buf_init(&r->body, 4u << 20);
    ferry_buf_init(&r->hdrs, 1 << 20);
    r->status = 0;
    r->cc = CURLE_OK;
    if (sv->vhost) {
        snprintf(host, sizeof(host), "%s.localhost:%d", q->bucket, sv->h.port);
        ferry_buf_adds(&path, "/");
    } else {
        snprintf(host, sizeof(host), "127.0.0.1:%d", sv->h.port);
        ferry_buf_addf(&path, "/%s/", q->bucket);
    }
    s3enc(&path, q->key, strlen(q->key), 1);
    req_t sq = {.method = q->method, .query = q->query, .headers = q->headers};
    struct curl_slist *sig = lib_sign(sv, &sq, host, ferry_buf_cstr(&path), sha, NULL);
    ferry_buf_addf(&head, "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nx-amz-content-sha256: %s\r\n",
                   q->method, ferry_buf_cstr(&path), q->query ? "?" : "", q->query ? q->query : "",
                   host, sha);
    for (struct curl_slist *l = sig; l; l = l->next)
        ferry_buf_addf(&head, "%s\r\n", l->data);
    for (const char *const *h = q->headers; h && *h; h++)
        ferry_buf_addf(&head, "%s\r\n", *h);
    if (q->te)
        ferry_buf_adds(&head, "Transfer-Encoding: chunked\r\n");
    else
        ferry_buf_addf(&head, "Content-Length: %ld\r\n", q->clen >= 0 ? q->clen : (long)q->blen);
    ferry_buf_adds(&head, q->then ? "\r\n" : "Connection: close\r\n\r\n");
    curl_slist_free_all(sig);

    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sv->h.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int ok = send_all(fd, head.data, head.len) == 0;
    size_t piece = q->piece ? q->piece : (q->blen ? q->blen : 1);
    for (size_t off = 0; ok && off < q->blen; off += piece) {
        size_t k = q->blen - off < piece ? q->blen - off : piece;
        if (q->te) {
            snprintf(tmp, sizeof(tmp), "%zx\r\n", k);
            ok = send_all(fd, tmp, strlen(tmp)) == 0;
        }
        ok = ok && send_all(fd, q->body + off, k) == 0;
        if (ok && q->te)
            ok = send_all(fd, "\r\n", 2) == 0;
        if (q->piece)
            usleep(300); /* let the server see the pieces apart */
    }
    if (ok && q->te)
        ok = send_all(fd, "0\r\n\r\n", 5) == 0;
    if (ok && q->then)
        ok = send_all(fd, q->then, strlen(q->then)) == 0;
    if (q->shut)
        shutdown(fd, SHUT_WR);
    for (;;) {
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        ferry_buf_add(&in, buf, (size_t)n);
    }
    close(fd);
    const char *s = ferry_buf_cstr(&in);
    const char *end = strstr(s, "\r\n\r\n");
    if (end != NULL && strncmp(s, "HTTP/1.1 ", 9) == 0) {
        r->status = strtol(s + 9, NULL, 10);
        ferry_buf_add(&r->hdrs, s, (size_t)(end + 4 - s));
        ferry_buf_add(&r->body, end + 4, in.len - (size_t)(end + 4 - s));
    }
    if (getenv("FAKES3_TEST_DEBUG") && r->status != 200)
        fprintf(stderr, "raw %s %s -> %ld\n%s\n", q->method, ferry_buf_cstr(&path), r->status,
                ferry_buf_cstr(&r->body));
    ferry_buf_free(&path);
    ferry_buf_free(&head);
    ferry_buf_free(&in);
    return r->status;
}

static void crc32c_b64(const void *p, size_t n, char out[16])
{
    ferry_crc32c_b64(ferry_crc32c_update(0, p, n), out);
}

/* data[0..n) in aws-chunked framing: chunk sizes taken in turn from sizes (0-terminated), hex
 * upper case every other chunk, then "0\r\n" and trailer (the trailer lines and the final
 * CRLF). */
static void aws_encode(ferry_buf_t *out, const void *data, size_t n, const size_t *sizes,
                       const char *trailer)
{
    const char *p = data;
    ferry_buf_init(out, 64u << 20);
    for (size_t off = 0, i = 0, j = 0; off < n; i++, j++) {
        if (sizes[j] == 0)
            j = 0;
        size_t k = sizes[j];
        if (k > n - off)
            k = n - off;
        REQUIRE(ferry_buf_addf(out, (i & 1) ? "%zX\r\n" : "%zx\r\n", k) == FERRY_OK);
        REQUIRE(ferry_buf_add(out, p + off, k) == FERRY_OK);
        REQUIRE(ferry_buf_adds(out, "\r\n") == FERRY_OK);
        off += k;
    }
    REQUIRE(ferry_buf_addf(out, "0\r\n%s", trailer) == FERRY_OK);
}

/* An aws-chunked PUT of key that must fail with status and code (and msg in the message, when
 * given), and leave no object behind. */
static void aws_refused(srv_t *sv, raw_t *q, long status, const char *code, const char *msg)
{
    resp_t r;
    char v[1024];
    CHECK_INT(raw_req(sv, q, &r), status);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), code);
    if (msg != NULL && strstr(xml(&r, "Message", v, sizeof(v)) ? v : "", msg) == NULL) {
        fprintf(stderr, "message for %s: %s\n", q->key, v);
        CHECK(!"message");
    }
    resp_free(&r);
    CHECK_INT(get(sv, q->bucket, q->key, NULL, &r), 404);
    resp_free(&r);
}

/* UploadPart number partno of awsmp/obj in upload id: data[0..n) aws-chunked in pieces of
 * sizes, with the CRC32C trailer crc (base64), sent piece bytes at a time (0: at once). The
 * store must echo the checksum; etag gets the part's ETag. */
static void aws_put_part(srv_t *sv, const char *id, int partno, const void *data, size_t n,
                         const char *crc, const size_t *sizes, size_t piece, char etag[128])
{
    char trl[64], dl[64], q[256], v[256];
    ferry_buf_t enc;
    resp_t r;
    snprintf(trl, sizeof(trl), "x-amz-checksum-crc32c:%s\r\n\r\n", crc);
    aws_encode(&enc, data, n, sizes, trl);
    snprintf(dl, sizeof(dl), "x-amz-decoded-content-length: %zu", n);
    const char *const h[] = {"Content-Encoding: aws-chunked", dl,
                             "x-amz-trailer: x-amz-checksum-crc32c", NULL};
    snprintf(q, sizeof(q), "partNumber=%d&uploadId=%s", partno, id);
    raw_t u = {.method = "PUT",
               .bucket = "bk",
               .key = "awsmp/obj",
               .query = q,
               .headers = h,
               .body = enc.data,
               .blen = enc.len,
               .clen = -1,
               .piece = piece};
    CHECK_INT(raw_req(sv, &u, &r), 200);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), crc);
    REQUIRE(hdr(&r, "ETag", etag, 128) != NULL);
    resp_free(&r);
    ferry_buf_free(&enc);
}

static void test_aws_chunked_multipart(srv_t *sv)
{
    resp_t r;
    char v[1024], id[128], e1[128], e2[128], q[512], body[2048], c1[16], c2[16], want[32];
    size_t n1 = (5u << 20) + 3, n2 = 1000;
    char *p1 = malloc(n1), *p2 = malloc(n2);
    REQUIRE(p1 && p2);
    fill(p1, n1, 21);
    fill(p2, n2, 22);
    crc32c_b64(p1, n1, c1);
    crc32c_b64(p2, n2, c2);
    /* Only CRC32C, in any case. */
    const char *const bad[] = {"x-amz-checksum-algorithm: SHA256", NULL};
    req_t cb = {
        .method = "POST", .bucket = "bk", .key = "awsmp/obj", .query = "uploads=", .headers = bad};
    do_req(sv, &cb, &r);
    CHECK_INT(r.status, 501);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "NotImplemented");
    resp_free(&r);
    const char *const ch[] = {"x-amz-checksum-algorithm: crc32c", NULL};
    req_t cq = {
        .method = "POST", .bucket = "bk", .key = "awsmp/obj", .query = "uploads=", .headers = ch};
    do_req(sv, &cq, &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(hdr(&r, "x-amz-checksum-algorithm", v, sizeof(v)), "CRC32C");
    REQUIRE(xml(&r, "UploadId", id, sizeof(id)) != NULL);
    resp_free(&r);
    /* A part without a checksum is refused. */
    snprintf(q, sizeof(q), "partNumber=2&uploadId=%s", id);
    req_t plain = {
        .method = "PUT", .bucket = "bk", .key = "awsmp/obj", .query = q, .body = p2, .blen = n2};
    do_req(sv, &plain, &r);
    CHECK_INT(r.status, 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidRequest");
    resp_free(&r);
    /* Two parts through aws-chunked. */
    const size_t big[] = {65536, 0}, odd[] = {333, 1, 0};
    aws_put_part(sv, id, 1, p1, n1, c1, big, 0, e1);
    aws_put_part(sv, id, 2, p2, n2, c2, odd, 100, e2);
    /* ListParts: each part's checksum, after its ETag and before its Size. */
    snprintf(q, sizeof(q), "uploadId=%s", id);
    CHECK_INT(simple(sv, "GET", "bk", "awsmp/obj", q, NULL, &r), 200);
    CHECK_STR(xml(&r, "ChecksumAlgorithm", v, sizeof(v)), "CRC32C");
    snprintf(v, sizeof(v), "</ETag><ChecksumCRC32C>%s</ChecksumCRC32C><Size>%zu</Size>", c1, n1);
    CHECK(strstr(ferry_buf_cstr(&r.body), v) != NULL);
    snprintf(v, sizeof(v), "</ETag><ChecksumCRC32C>%s</ChecksumCRC32C><Size>%zu</Size>", c2, n2);
    CHECK(strstr(ferry_buf_cstr(&r.body), v) != NULL);
    resp_free(&r);
    /* Complete must name each part's checksum, and the right one. */
    complete_xml(body, sizeof(body), (const tpart_t[]){{e1, NULL}, {e2, NULL}}, 2);
    CHECK_INT(simple(sv, "POST", "bk", "awsmp/obj", q, body, &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidRequest");
    CHECK_STR(xml(&r, "Message", v, sizeof(v)),
              "The upload was created using a crc32c checksum. The complete request must include "
              "the checksum for each part. It was missing for part 1 in the request.");
    resp_free(&r);
    complete_xml(body, sizeof(body), (const tpart_t[]){{e1, c1}, {e2, c1}}, 2);
    CHECK_INT(simple(sv, "POST", "bk", "awsmp/obj", q, body, &r), 400);
    CHECK_STR(xml(&r, "Code", v, sizeof(v)), "InvalidPart");
    resp_free(&r);
    complete_xml(body, sizeof(body), (const tpart_t[]){{e1, c1}, {e2, c2}}, 2);
    CHECK_INT(simple(sv, "POST", "bk", "awsmp/obj", q, body, &r), 200);
    /* S3's COMPOSITE checksum: the CRC32C of the parts' big-endian CRC32Cs, then -N. */
    uint8_t be[8];
    uint32_t x1 = ferry_crc32c_update(0, p1, n1), x2 = ferry_crc32c_update(0, p2, n2);
    for (int i = 0; i < 4; i++) {
        be[i] = (uint8_t)(x1 >> (24 - 8 * i));
        be[4 + i] = (uint8_t)(x2 >> (24 - 8 * i));
    }
    char comp[16];
    uint32_t xc = ferry_crc32c_update(0, be, 8);
    uint8_t bc[4] = {(uint8_t)(xc >> 24), (uint8_t)(xc >> 16), (uint8_t)(xc >> 8), (uint8_t)xc};
    ferry_b64(bc, 4, comp);
    snprintf(want, sizeof(want), "%s-2", comp);
    CHECK_STR(xml(&r, "ChecksumCRC32C", v, sizeof(v)), want);
    CHECK(strstr(ferry_buf_cstr(&r.body), "</ETag><ChecksumCRC32C>") != NULL);
    resp_free(&r);
    /* HEAD gives it only with x-amz-checksum-mode: ENABLED. */
    const char *const mode[] = {"x-amz-checksum-mode: ENABLED", NULL};
    req_t hq = {.method = "HEAD", .bucket = "bk", .key = "awsmp/obj", .headers = mode};
    do_req(sv, &hq, &r);
    CHECK_INT(r.status, 200);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), want);
    CHECK_STR(hdr(&r, "x-amz-checksum-type", v, sizeof(v)), "COMPOSITE");
    resp_free(&r);
    req_t hq2 = {.method = "HEAD", .bucket = "bk", .key = "awsmp/obj"};
    do_req(sv, &hq2, &r);
    CHECK_INT(r.status, 200);
    CHECK(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)) == NULL);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "awsmp/obj", NULL, &r), 200);
    CHECK(r.body.len == n1 + n2 && memcmp(r.body.data, p1, n1) == 0 &&
          memcmp(r.body.data + n1, p2, n2) == 0);
    resp_free(&r);
    free(p1);
    free(p2);
}

static void test_aws_chunked(srv_t *sv)
{
    resp_t r;
    char v[1024], crc[16], trl[64], dlen[64], want[64];
    static char data[70001];
    int s3 = strcmp(sv->pers, "s3") == 0;
    long sent = 0, failed = 0;
    fill(data, sizeof(data), 11);
    crc32c_b64(data, sizeof(data), crc);
    snprintf(trl, sizeof(trl), "x-amz-checksum-crc32c:%s\r\n\r\n", crc);
    snprintf(dlen, sizeof(dlen), "x-amz-decoded-content-length: %zu", sizeof(data));
    const char *const h[] = {"Content-Encoding: aws-chunked", dlen,
                             "x-amz-trailer: x-amz-checksum-crc32c", NULL};
    const size_t sizes[] = {8192, 1, 1023, 65536, 7, 0};
    ferry_buf_t enc;
    aws_encode(&enc, data, sizeof(data), sizes, trl);
    CHECK_INT(control(sv, "POST", "stats/reset", NULL, &r), 200);
    resp_free(&r);
    raw_t good = {.method = "PUT",
                  .bucket = "bk",
                  .key = "aws/good",
                  .headers = h,
                  .body = enc.data,
                  .blen = enc.len,
                  .clen = -1,
                  .piece = 997};
    if (!s3) {
        /* OSS, COS and Kodo refuse aws-chunked (docs/providers.md §1b). */
        raw_t q = good;
        aws_refused(sv, &q, 400, "InvalidArgument", "does not accept aws-chunked");
        ferry_buf_free(&enc);
        return;
    }
    /* A good upload, cut into 997-byte writes (inside size lines, data and CRLFs). */
    CHECK_INT(raw_req(sv, &good, &r), 200);
    sent++;
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), crc);
    expect_etag("s3", data, sizeof(data), want);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "aws/good", NULL, &r), 200);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    CHECK(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)) == NULL);
    CHECK(hdr(&r, "Content-Encoding", v, sizeof(v)) == NULL); /* aws-chunked is not stored */
    resp_free(&r);
    const char *const mode[] = {"x-amz-checksum-mode: ENABLED", NULL};
    CHECK_INT(get(sv, "bk", "aws/good", mode, &r), 200);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), crc);
    CHECK_STR(hdr(&r, "x-amz-checksum-type", v, sizeof(v)), "FULL_OBJECT");
    resp_free(&r);
    const char *const mode_range[] = {"x-amz-checksum-mode: enabled", "Range: bytes=0-9", NULL};
    CHECK_INT(get(sv, "bk", "aws/good", mode_range, &r), 206);
    CHECK(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)) == NULL);
    resp_free(&r);
    /* The same inside Transfer-Encoding: chunked (as the AWS CLI sends it), with another
     * Content-Encoding kept. */
    const char *const hg[] = {"Content-Encoding: aws-chunked,gzip", dlen,
                              "x-amz-trailer: x-amz-checksum-crc32c", NULL};
    raw_t te = good;
    te.key = "aws/te";
    te.te = 1;
    te.piece = 4000;
    te.headers = hg;
    CHECK_INT(raw_req(sv, &te, &r), 200);
    sent++;
    resp_free(&r);
    CHECK_INT(get(sv, "bk", "aws/te", NULL, &r), 200);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    CHECK_STR(hdr(&r, "Content-Encoding", v, sizeof(v)), "gzip");
    resp_free(&r);
    /* The connection stays usable after an aws-chunked body, good or refused (the rest of a
     * refused body is read and dropped), plain or inside HTTP chunking. */
    static const char health[] = "GET /_fakes3/health HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n";
    static const char bad_then[] = "5\r\nhello\r\nzz\r\n"; /* refused at the 2nd size */
    for (int i = 0; i < 4; i++) {
        int bad = i % 2;
        ferry_buf_t kb;
        ferry_buf_init(&kb, 1 << 20);
        if (bad) { /* then 100 KB of anything: read and dropped */
            REQUIRE(ferry_buf_adds(&kb, bad_then) == FERRY_OK);
            REQUIRE(ferry_buf_add(&kb, data, sizeof(data)) == FERRY_OK);
            REQUIRE(ferry_buf_add(&kb, data, 30000) == FERRY_OK);
        }
        raw_t k = good;
        k.key = bad ? "aws/keep-bad" : "aws/keep";
        k.then = health;
        k.te = i >= 2;
        k.piece = i >= 2 ? 5000 : 0;
        if (bad) {
            k.body = kb.data;
            k.blen = kb.len;
        }
        CHECK_INT(raw_req(sv, &k, &r), bad ? 400 : 200);
        sent++;
        failed += bad;
        const char *second = strstr(ferry_buf_cstr(&r.body), "HTTP/1.1 200 OK\r\n");
        CHECK(second != NULL && strstr(second, "{\"ok\":true}") != NULL);
        resp_free(&r);
        ferry_buf_free(&kb);
    }

    /* Refusals: each leaves nothing behind. */
    ferry_buf_t b;
    aws_encode(&b, data, sizeof(data), sizes, "x-amz-checksum-crc32c:AAAAAA==\r\n\r\n");
    raw_t q = good;
    q.key = "aws/badcrc";
    q.body = b.data;
    q.blen = b.len;
    aws_refused(sv, &q, 400, "BadDigest",
                "The CRC32C you specified did not match the calculated checksum.");
    sent++, failed++;
    ferry_buf_free(&b);
    q = good; /* truncated: without the last chunk and the trailer */
    q.key = "aws/trunc";
    q.blen = enc.len - strlen(trl) - 3;
    q.piece = 0;
    aws_refused(sv, &q, 400, "IncompleteBody", "terminated unexpectedly");
    sent++, failed++;
    q = good;
    q.key = "aws/badsize";
    q.body = "zz\r\nhello\r\n0\r\n\r\n";
    q.blen = strlen(q.body);
    aws_refused(sv, &q, 400, "InvalidChunkSizeError", NULL);
    sent++, failed++;
    q.key = "aws/ext";
    q.body = "5;chunk-signature=00\r\nhello\r\n0\r\n\r\n";
    q.blen = strlen(q.body);
    aws_refused(sv, &q, 400, "InvalidChunkSizeError", "signed streaming");
    sent++, failed++;
    char dl1[64];
    snprintf(dl1, sizeof(dl1), "x-amz-decoded-content-length: %zu", sizeof(data) + 1);
    const char *const hlong[] = {"Content-Encoding: aws-chunked", dl1,
                                 "x-amz-trailer: x-amz-checksum-crc32c", NULL};
    q = good;
    q.key = "aws/declong";
    q.headers = hlong;
    q.piece = 0;
    aws_refused(sv, &q, 400, "IncompleteBody", "x-amz-decoded-content-length");
    sent++, failed++;
    snprintf(dl1, sizeof(dl1), "x-amz-decoded-content-length: %zu", sizeof(data) - 1);
    q.key = "aws/decshort";
    aws_refused(sv, &q, 400, "IncompleteBody", "x-amz-decoded-content-length");
    sent++, failed++;
    const char *const hnolen[] = {"Content-Encoding: aws-chunked",
                                  "x-amz-trailer: x-amz-checksum-crc32c", NULL};
    q.key = "aws/nolen";
    q.headers = hnolen;
    aws_refused(sv, &q, 400, "InvalidRequest", "x-amz-decoded-content-length");
    sent++, failed++;
    /* bad trailer parts after good data */
    char t2[64], t3[400], t4[80];
    snprintf(t2, sizeof(t2), "x-amz-checksum-crc32:%s\r\n\r\n", crc);
    snprintf(t3, sizeof(t3), "x-amz-checksum-crc32c:%0300d\r\n\r\n", 0);
    snprintf(t4, sizeof(t4), "%sGARBAGE", trl);
    const struct {
        const char *key, *trailer, *code, *msg;
    } bad_trailers[] = {
        {"aws/notrailer", "\r\n", "MalformedTrailerError", "missing"},
        {"aws/othertrailer", t2, "MalformedTrailerError", "unexpected trailer"},
        {"aws/longtrailer", t3, "MalformedTrailerError", "longer than"},
        {"aws/extra", t4, "IncompleteBody", "follow the end"},
    };
    for (size_t i = 0; i < sizeof(bad_trailers) / sizeof(bad_trailers[0]); i++) {
        aws_encode(&b, data, sizeof(data), sizes, bad_trailers[i].trailer);
        q = good;
        q.key = bad_trailers[i].key;
        q.body = b.data;
        q.blen = b.len;
        aws_refused(sv, &q, 400, bad_trailers[i].code, bad_trailers[i].msg);
        sent++, failed++;
        ferry_buf_free(&b);
    }
    const char *const hsha[] = {"Content-Encoding: aws-chunked", dlen,
                                "x-amz-trailer: x-amz-checksum-sha256", NULL};
    q = good;
    q.key = "aws/sha256";
    q.headers = hsha;
    aws_refused(sv, &q, 501, "NotImplemented", "x-amz-checksum-crc32c");
    sent++, failed++;
    q = good;
    q.key = "aws/signed";
    q.sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    aws_refused(sv, &q, 501, "NotImplemented", "signed streaming");
    sent++, failed++;
    const char *const hnoce[] = {dlen, "x-amz-trailer: x-amz-checksum-crc32c", NULL};
    q = good;
    q.key = "aws/noce";
    q.headers = hnoce;
    aws_refused(sv, &q, 400, "InvalidRequest", "Content-Encoding: aws-chunked");
    sent++, failed++;
    /* A body shorter than its Content-Length: the connection closes without an answer. */
    q = good;
    q.key = "aws/short";
    q.clen = (long)enc.len + 100;
    q.shut = 1;
    q.piece = 0;
    CHECK_INT(raw_req(sv, &q, &r), 0);
    resp_free(&r);
    sent++;
    CHECK_INT(get(sv, "bk", "aws/short", NULL, &r), 404);
    resp_free(&r);
    ferry_buf_free(&enc);

    /* A plain PUT with x-amz-checksum-crc32c: echoed, and kept for checksum-mode reads. */
    char hc[64];
    snprintf(hc, sizeof(hc), "x-amz-checksum-crc32c: %s", crc);
    const char *const hp[] = {hc, NULL};
    CHECK_INT(put(sv, "bk", "aws/plain", data, sizeof(data), hp, &r), 200);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), crc);
    resp_free(&r);
    req_t hq = {.method = "HEAD", .bucket = "bk", .key = "aws/plain", .headers = mode};
    do_req(sv, &hq, &r);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), crc);
    resp_free(&r);

    test_aws_chunked_multipart(sv);
    sent += 2;

    /* The stats prove the client used aws-chunked. */
    CHECK_INT(control(sv, "GET", "stats", NULL, &r), 200);
    CHECK_INT(json_num(ferry_buf_cstr(&r.body), "aws_chunked", "count"), sent);
    CHECK_INT(json_num(ferry_buf_cstr(&r.body), "aws_chunked", "errors"), failed);
    resp_free(&r);
}

static void run_personality(const char *pers)
{
    srv_t sv;
    const char *const extra[] = {"--bucket", "bk", "--seed", "7", NULL};
    fprintf(stderr, "== personality %s\n", pers);
    start(&sv, pers, extra);
    test_auth(&sv);
    test_addressing(&sv);
    test_buckets(&sv);
    test_objects(&sv);
    test_copy(&sv);
    test_hostile_keys(&sv);
    test_listing(&sv);
    test_multipart(&sv);
    test_delete_objects(&sv);
    test_faults(&sv);
    test_stats(&sv);
    test_aws_chunked(&sv);
    test_keepalive(&sv);
    test_seed(&sv, strcmp(pers, "s3") == 0 ? 100000 : 3000);
    stop(&sv);
}

/* --data-dir: everything answered before SIGTERM is there after a restart. */
static void test_data_dir(void)
{
    srv_t sv;
    resp_t r;
    char dir[600], v[256], want[64];
    snprintf(dir, sizeof(dir), "%s/fakes3-data", harness_tmpdir());
    const char *const extra[] = {"--bucket", "bk", "--data-dir", dir, NULL};
    fprintf(stderr, "== data-dir\n");
    start(&sv, "oss", extra);
    static char data[100000];
    fill(data, sizeof(data), 5);
    CHECK_INT(put(&sv, "bk", "dd/a b", data, sizeof(data), NULL, &r), 200);
    resp_free(&r);
    const char *const cs[] = {"x-amz-copy-source: /bk/dd/a%20b", "Content-Type: t/x",
                              "x-amz-metadata-directive: REPLACE", NULL};
    CHECK_INT(put(&sv, "bk", "dd/copy", NULL, 0, cs, &r), 200);
    resp_free(&r);
    CHECK_INT(put(&sv, "bk", "dd/gone", "x", 1, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(simple(&sv, "DELETE", "bk", "dd/gone", NULL, NULL, &r), 204);
    resp_free(&r);
    char id[128], q[256], e1[80], body[512];
    create_upload(&sv, "dd/mp", NULL, id);
    snprintf(q, sizeof(q), "partNumber=1&uploadId=%s", id);
    req_t u1 = {
        .method = "PUT", .bucket = "bk", .key = "dd/mp", .query = q, .body = data, .blen = 5000};
    do_req(&sv, &u1, &r);
    REQUIRE(hdr(&r, "ETag", e1, sizeof(e1)) != NULL);
    resp_free(&r);
    snprintf(q, sizeof(q), "uploadId=%s", id);
    complete_xml(body, sizeof(body), (const tpart_t[]){{e1, NULL}}, 1);
    CHECK_INT(simple(&sv, "POST", "bk", "dd/mp", q, body, &r), 200);
    resp_free(&r);
    CHECK_INT(control(&sv, "POST", "seed",
                      "{\"bucket\":\"sd\",\"prefix\":\"p\",\"count\":500,\"size\":64,\"seed\":3}",
                      &r),
              200);
    resp_free(&r);
    CHECK_INT(simple(&sv, "DELETE", "sd", "p00000009", NULL, NULL, &r), 204);
    resp_free(&r);
    CHECK_INT(put(&sv, "sd", "p00000010", "over", 4, NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(get(&sv, "sd", "p00000011", NULL, &r), 200);
    char seeded[64];
    REQUIRE(r.body.len == 64);
    memcpy(seeded, r.body.data, 64);
    resp_free(&r);
    REQUIRE(harness_restart(&sv.h) == 0);
    curl_easy_cleanup(sv.curl);
    sv.curl = curl_easy_init();
    CHECK_INT(get(&sv, "bk", "dd/a b", NULL, &r), 200);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    expect_etag("oss", data, sizeof(data), want);
    CHECK_STR(hdr(&r, "ETag", v, sizeof(v)), want);
    check_crc("oss", &r, data, sizeof(data));
    resp_free(&r);
    CHECK_INT(get(&sv, "bk", "dd/copy", NULL, &r), 200);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    CHECK_STR(hdr(&r, "Content-Type", v, sizeof(v)), "t/x");
    resp_free(&r);
    CHECK_INT(get(&sv, "bk", "dd/gone", NULL, &r), 404);
    resp_free(&r);
    CHECK_INT(get(&sv, "bk", "dd/mp", NULL, &r), 200);
    CHECK(r.body.len == 5000 && memcmp(r.body.data, data, 5000) == 0);
    CHECK(strstr(hdr(&r, "ETag", v, sizeof(v)) ? v : "", "-1\"") != NULL);
    resp_free(&r);
    CHECK_INT(get(&sv, "sd", "p00000009", NULL, &r), 404);
    resp_free(&r);
    CHECK_INT(get(&sv, "sd", "p00000010", NULL, &r), 200);
    CHECK_STR(ferry_buf_cstr(&r.body), "over");
    resp_free(&r);
    CHECK_INT(get(&sv, "sd", "p00000011", NULL, &r), 200);
    CHECK(r.body.len == 64 && memcmp(r.body.data, seeded, 64) == 0);
    resp_free(&r);
    CHECK_INT(simple(&sv, "GET", "sd", NULL, "list-type=2", NULL, &r), 200);
    CHECK_STR(xml(&r, "KeyCount", v, sizeof(v)), "100"); /* oss default page */
    resp_free(&r);
    /* Deleting the source keeps the copy (shared blob) readable across another restart. */
    CHECK_INT(simple(&sv, "DELETE", "bk", "dd/a b", NULL, NULL, &r), 204);
    resp_free(&r);
    REQUIRE(harness_restart(&sv.h) == 0);
    curl_easy_cleanup(sv.curl);
    sv.curl = curl_easy_init();
    CHECK_INT(get(&sv, "bk", "dd/copy", NULL, &r), 200);
    CHECK(r.body.len == sizeof(data) && memcmp(r.body.data, data, sizeof(data)) == 0);
    resp_free(&r);
    CHECK_INT(get(&sv, "bk", "dd/a b", NULL, &r), 404);
    resp_free(&r);
    stop(&sv);
}

/* --data-dir keeps the stored CRC32C (whole object and COMPOSITE) across a restart. */
static void test_data_dir_crc32c(void)
{
    srv_t sv;
    resp_t r;
    char dir[600], v[256], crc[16], hc[64], id[128], e1[80], q[256], body[512], comp[48];
    snprintf(dir, sizeof(dir), "%s/fakes3-data-crc32c", harness_tmpdir());
    const char *const extra[] = {"--bucket", "bk", "--data-dir", dir, NULL};
    fprintf(stderr, "== data-dir crc32c\n");
    start(&sv, "s3", extra);
    static const char data[] = "crc32c across restarts";
    crc32c_b64(data, sizeof(data) - 1, crc);
    snprintf(hc, sizeof(hc), "x-amz-checksum-crc32c: %s", crc);
    const char *const hp[] = {hc, NULL};
    CHECK_INT(put(&sv, "bk", "c/one", data, sizeof(data) - 1, hp, &r), 200);
    resp_free(&r);
    const char *const ch[] = {"x-amz-checksum-algorithm: CRC32C", NULL};
    create_upload(&sv, "c/mp", ch, id);
    snprintf(q, sizeof(q), "partNumber=1&uploadId=%s", id);
    req_t u1 = {.method = "PUT",
                .bucket = "bk",
                .key = "c/mp",
                .query = q,
                .body = data,
                .blen = sizeof(data) - 1,
                .headers = hp};
    do_req(&sv, &u1, &r);
    REQUIRE(hdr(&r, "ETag", e1, sizeof(e1)) != NULL);
    resp_free(&r);
    snprintf(q, sizeof(q), "uploadId=%s", id);
    complete_xml(body, sizeof(body), (const tpart_t[]){{e1, crc}}, 1);
    CHECK_INT(simple(&sv, "POST", "bk", "c/mp", q, body, &r), 200);
    REQUIRE(xml(&r, "ChecksumCRC32C", comp, sizeof(comp)) != NULL);
    CHECK(strlen(comp) == 10 && strcmp(comp + 8, "-1") == 0);
    resp_free(&r);
    REQUIRE(harness_restart(&sv.h) == 0);
    curl_easy_cleanup(sv.curl);
    sv.curl = curl_easy_init();
    const char *const mode[] = {"x-amz-checksum-mode: ENABLED", NULL};
    req_t h1 = {.method = "HEAD", .bucket = "bk", .key = "c/one", .headers = mode};
    do_req(&sv, &h1, &r);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), crc);
    resp_free(&r);
    req_t h2 = {.method = "HEAD", .bucket = "bk", .key = "c/mp", .headers = mode};
    do_req(&sv, &h2, &r);
    CHECK_STR(hdr(&r, "x-amz-checksum-crc32c", v, sizeof(v)), comp);
    resp_free(&r);
    stop(&sv);
}

/* Hand-made bytes: bad requests must be refused without hurting the server. */
static void test_raw(void)
{
    srv_t sv;
    resp_t r;
    const char *const extra[] = {"--bucket", "bk", NULL};
    start(&sv, "s3", extra);
    /* A huge header block gets 431 and the server keeps serving. */
    static char big[70000];
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "X-Big: ", 7);
    const char *const h[] = {big, NULL};
    get(&sv, "bk", "x", h, &r);
    CHECK(r.status == 431 || r.cc != CURLE_OK);
    resp_free(&r);
    CHECK_INT(control(&sv, "GET", "stats", NULL, &r), 200);
    resp_free(&r);
    CHECK_INT(control(&sv, "GET", "nope", NULL, &r), 404);
    resp_free(&r);
    stop(&sv);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    REQUIRE(curl_global_init(CURL_GLOBAL_DEFAULT) == 0);
    run_personality("s3");
    run_personality("oss");
    run_personality("cos");
    run_personality("kodo");
    test_data_dir();
    test_data_dir_crc32c();
    test_raw();
    curl_global_cleanup();
    return test_summary();
}
