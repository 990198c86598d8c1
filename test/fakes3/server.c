/* fakes3 connection loop: parse, route, authenticate (SigV4), apply faults, answer. */
#include "server_int.h"

#include "awschunked.h"

#include "ferry/check.h"
#include "ferry/error.h"
#include "ferry/log.h"
#include "ferry/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Bodies of requests we refuse are read and dropped up to this much; beyond, we close. */
#define DRAIN_MAX (64u << 20)

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

const char *fakes3_xml_head(void)
{
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
}

const char *fakes3_ctx_param(const fakes3_ctx_t *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nq; i++)
        if (strcmp(ctx->q[i].name, name) == 0)
            return ctx->q[i].value;
    return NULL;
}

/* ---- responses --------------------------------------------------------------------------- */

/* Count the request's body bytes and its error in the stats before its answer goes out, so that
 * a client reading /_fakes3/stats on another connection right after the answer sees them. What
 * comes later (bytes out, a body drained after the answer) is added when the request ends. */
static void account(fakes3_ctx_t *ctx, int status)
{
    fakes3_stats_t *st = &ctx->srv->stats;
    if (ctx->accounted)
        return;
    ctx->accounted = 1;
    ctx->in_counted = ctx->conn->bytes_in;
    atomic_fetch_add(&st->op[ctx->op].bytes_in, ctx->in_counted);
    if (status >= 400) {
        atomic_fetch_add(&st->op[ctx->op].errors, 1);
        if (ctx->aws_seen)
            atomic_fetch_add(&st->aws_chunked.errors, 1);
    }
}

static int build_head(fakes3_ctx_t *ctx, ferry_buf_t *h, int status, const char *hdrs,
                      const char *ctype, uint64_t clen)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    account(ctx, status);
    const char *pfx = ctx->srv->cfg.personality == FAKES3_OSS   ? "x-oss-request-id: "
                      : ctx->srv->cfg.personality == FAKES3_COS ? "x-cos-request-id: "
                                                                : NULL;
    int rc = ferry_buf_addf(h,
                            "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: fakes3\r\n"
                            "x-amz-request-id: %s\r\nx-amz-id-2: %s\r\n",
                            status, reason(status), date, ctx->reqid, ctx->reqid);
    if (rc == FERRY_OK && pfx != NULL)
        rc = ferry_buf_addf(h, "%s%s\r\n", pfx, ctx->reqid);
    if (rc == FERRY_OK && ctype != NULL)
        rc = ferry_buf_addf(h, "Content-Type: %s\r\n", ctype);
    if (rc == FERRY_OK && status != 304 && status != 204)
        rc = ferry_buf_addf(h, "Content-Length: %llu\r\n", (unsigned long long)clen);
    if (rc == FERRY_OK && (ctx->close_after || !ctx->req->keep_alive))
        rc = ferry_buf_adds(h, "Connection: close\r\n");
    if (rc == FERRY_OK && hdrs != NULL)
        rc = ferry_buf_adds(h, hdrs);
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(h, "\r\n");
    ctx->status = status;
    return rc;
}

int fakes3_ctx_reply_head(fakes3_ctx_t *ctx, int status, const char *hdrs, const char *ctype,
                          uint64_t content_length)
{
    ferry_buf_t h;
    ferry_buf_init(&h, FAKES3_HTTP_MAX_HEAD);
    int rc = build_head(ctx, &h, status, hdrs, ctype, content_length);
    if (rc == FERRY_OK && !ctx->dead)
        rc = fakes3_conn_write(ctx->conn, h.data, h.len,
                               content_length > 0 && strcmp(ctx->req->method, "HEAD") != 0);
    if (rc != FERRY_OK)
        ctx->dead = 1;
    ferry_buf_free(&h);
    return rc;
}

int fakes3_ctx_reply(fakes3_ctx_t *ctx, int status, const char *hdrs, const char *ctype,
                     const char *body, size_t len)
{
    if (ctx->dead)
        return FERRY_EIO;
    int is_head = strcmp(ctx->req->method, "HEAD") == 0;
    ferry_buf_t h;
    ferry_buf_init(&h, FAKES3_HTTP_MAX_HEAD + FAKES3_XML_BODY_MAX * 4);
    int rc = build_head(ctx, &h, status, hdrs, ctype, len);
    /* One write for small answers: no Nagle/delayed-ACK stall, one syscall. */
    if (rc == FERRY_OK && !is_head && len > 0 && len <= 65536)
        rc = ferry_buf_add(&h, body, len);
    if (rc == FERRY_OK)
        rc = fakes3_conn_write(ctx->conn, h.data, h.len, 0);
    if (rc == FERRY_OK && !is_head && len > 65536) {
        uint64_t n = len;
        if (ctx->fault.reset_after >= 0 && (uint64_t)ctx->fault.reset_after < n) {
            n = (uint64_t)ctx->fault.reset_after;
            rc = fakes3_conn_write(ctx->conn, body, (size_t)n, 0);
            fakes3_conn_reset(ctx->conn);
            ctx->dead = 1;
        } else {
            rc = fakes3_conn_write(ctx->conn, body, len, 0);
        }
    }
    if (!is_head)
        ctx->bytes_out += len;
    if (rc != FERRY_OK)
        ctx->dead = 1;
    ferry_buf_free(&h);
    return rc;
}

int fakes3_ctx_error(fakes3_ctx_t *ctx, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fakes3_personality_t p = ctx->srv->cfg.personality;
    ferry_buf_t b, hdrs;
    ferry_buf_init(&b, 64 * 1024);
    ferry_buf_init(&hdrs, 4096);
    int rc = ferry_buf_addf(&b, "%s<Error><Code>%s</Code><Message>", fakes3_xml_head(), code);
    if (rc == FERRY_OK)
        rc = fakes3_xml_escape(&b, msg, strlen(msg));
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</Message><Resource>");
    if (rc == FERRY_OK)
        rc = fakes3_xml_escape(&b, ctx->req->path, strlen(ctx->req->path));
    if (rc == FERRY_OK)
        rc = ferry_buf_addf(&b, "</Resource><RequestId>%s</RequestId>", ctx->reqid);
    if (rc == FERRY_OK && p == FAKES3_COS)
        rc = ferry_buf_addf(&b, "<TraceId>%s</TraceId>", ctx->reqid);
    if (rc == FERRY_OK && p == FAKES3_OSS)
        rc = ferry_buf_addf(&b, "<HostId>%s.%s</HostId><EC>0002-00000000</EC>",
                            ctx->bucket[0] ? ctx->bucket : "s3", ctx->srv->cfg.domain);
    if (rc == FERRY_OK)
        rc = ferry_buf_adds(&b, "</Error>");
    if (rc == FERRY_OK && p == FAKES3_OSS)
        rc = ferry_buf_adds(&hdrs, "x-oss-ec: 0002-00000000\r\n");
    if (rc == FERRY_OK && status == 503) {
        rc = ferry_buf_adds(&hdrs, "Retry-After: 1\r\n");
        if (rc == FERRY_OK && p == FAKES3_OSS)
            rc = ferry_buf_adds(&hdrs, "x-oss-qos-delay-time: 1000\r\n");
    }
    if (rc == FERRY_OK)
        fakes3_ctx_reply(ctx, status, hdrs.len ? hdrs.data : NULL, "application/xml", b.data,
                         b.len);
    ferry_buf_free(&b);
    ferry_buf_free(&hdrs);
    return FERRY_OK;
}

/* ---- request bodies ---------------------------------------------------------------------- */

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

#define DIGEST_STEP (1u << 20)
#define HUGE_BODY   (8u << 20)

/* The body buffer (freed with free()). Large ones are 2 MiB-aligned and marked for
 * transparent huge pages: first-touch page faults and zeroing of fresh memory were over half
 * of a 1 GiB PUT's server CPU with 4 KiB pages. */
static char *body_alloc(size_t n)
{
    void *p = NULL;
    if (n < HUGE_BODY)
        return malloc(n ? n : 1);
    if (posix_memalign(&p, 2u << 20, n) != 0)
        return NULL;
    (void)madvise(p, n & ~((size_t)(2u << 20) - 1), MADV_HUGEPAGE);
    return p;
}

/* The digests one body needs, fed as its bytes land. */
typedef struct digests_s {
    unsigned want; /* FAKES3_WANT_* */
    int crc32c;    /* a CRC32C was supplied: compute it */
    ferry_md5_t md5;
    ferry_qetag_t qe;
    ferry_sha256_t sh;
    uint64_t crc64;
    uint32_t c32;
} digests_t;

static int digests_init(digests_t *g, unsigned want, int crc32c)
{
    memset(g, 0, sizeof(*g));
    g->want = want;
    g->crc32c = crc32c;
    if ((want & FAKES3_WANT_MD5) && ferry_md5_init(&g->md5) != FERRY_OK)
        return FERRY_ENOMEM;
    if ((want & FAKES3_WANT_QETAG) && ferry_qetag_init(&g->qe) != FERRY_OK)
        return FERRY_ENOMEM;
    if ((want & FAKES3_WANT_SHA256) && ferry_sha256_init(&g->sh) != FERRY_OK)
        return FERRY_ENOMEM;
    return FERRY_OK;
}

static void digests_update(digests_t *g, const char *p, size_t n)
{
    if (g->want & FAKES3_WANT_MD5)
        ferry_md5_update(&g->md5, p, n);
    if (g->want & FAKES3_WANT_QETAG)
        ferry_qetag_update(&g->qe, p, n);
    if (g->want & FAKES3_WANT_CRC64)
        g->crc64 = ferry_crc64_update(g->crc64, p, n);
    if (g->want & FAKES3_WANT_SHA256)
        ferry_sha256_update(&g->sh, p, n);
    if (g->crc32c)
        g->c32 = ferry_crc32c_update(g->c32, p, n);
}

static void digests_free(digests_t *g)
{
    ferry_md5_free(&g->md5);
    ferry_qetag_free(&g->qe);
    ferry_sha256_free(&g->sh);
}

/* Where the encoded bytes of an aws-chunked body come from: Content-Length bytes, or an HTTP
 * chunked body (the AWS CLI sends aws-chunked inside Transfer-Encoding: chunked). */
typedef struct enc_src_s {
    fakes3_conn_t *conn;
    int te;
    uint64_t left;       /* Content-Length: bytes not read yet */
    fakes3_chunked_t ch; /* chunked: the transfer decoder */
    ferry_buf_t tmp;     /* chunked: the data of one step */
} enc_src_t;

/* The next span of encoded bytes (*n == 0 at the end). FERRY_OK; FERRY_EIO, FERRY_EPARSE or
 * FERRY_ETOOBIG when the connection or its HTTP chunking failed. */
static int enc_next(enc_src_t *s, const char **p, size_t *n)
{
    *n = 0;
    if (!s->te) {
        if (s->left == 0)
            return FERRY_OK;
        size_t k = s->left < FAKES3_CONN_SCRATCH ? (size_t)s->left : FAKES3_CONN_SCRATCH;
        if (fakes3_conn_read(s->conn, s->conn->scratch, k) != FERRY_OK)
            return FERRY_EIO;
        s->left -= k;
        *p = s->conn->scratch;
        *n = k;
        return FERRY_OK;
    }
    ferry_buf_reset(&s->tmp);
    while (s->tmp.len == 0 && !s->ch.done) {
        int rc = fakes3_conn_read_chunked_some(s->conn, &s->ch, &s->tmp);
        if (rc != FERRY_OK)
            return rc;
    }
    *p = s->tmp.data;
    *n = s->tmp.len;
    return FERRY_OK;
}

/* Read and decode an aws-chunked body into ctx->body (ctx->decoded_len bytes), digesting each
 * MiB as it lands. The trailer's value goes to trailer. After a framing error the rest of the
 * body is read and dropped (up to DRAIN_MAX) so that the error reaches the client on a
 * connection that stays usable. FERRY_OK; otherwise the answer was sent or the connection is
 * dead. */
static int read_aws_chunked(fakes3_ctx_t *ctx, uint64_t cap, digests_t *g,
                            char trailer[FAKES3_AWSCHUNKED_LINE_MAX + 1])
{
    fakes3_http_req_t *req = ctx->req;
    fakes3_conn_t *conn = ctx->conn;
    fakes3_awschunked_t d;
    enc_src_t src = {.conn = conn,
                     .te = req->chunked,
                     .left = req->content_length > 0 ? (uint64_t)req->content_length : 0};
    uint64_t digested = 0, extra = 0, dropped = 0;
    int rc = FERRY_OK;
    ferry_buf_init(&src.tmp, FAKES3_CONN_SCRATCH + FAKES3_HTTP_MAX_HEAD);
    if (ctx->decoded_len > cap) {
        ctx->close_after = 1;
        rc = (fakes3_ctx_error(ctx, 400, "EntityTooLarge", "the body exceeds the cap of %llu bytes",
                               (unsigned long long)cap),
              FERRY_ETOOBIG);
        goto out;
    }
    ctx->body = body_alloc((size_t)ctx->decoded_len);
    if (ctx->body == NULL) {
        ctx->close_after = 1;
        rc = (fakes3_ctx_error(ctx, 500, "InternalError", "out of memory for the body"),
              FERRY_ENOMEM);
        goto out;
    }
    ctx->body_len = (size_t)ctx->decoded_len;
    if (req->expect_continue)
        fakes3_conn_write(conn, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
    if (!src.te && ctx->fault.reset_after >= 0 && (uint64_t)ctx->fault.reset_after < src.left) {
        for (uint64_t r = (uint64_t)ctx->fault.reset_after; r > 0;) {
            size_t k = r < FAKES3_CONN_SCRATCH ? (size_t)r : FAKES3_CONN_SCRATCH;
            if (fakes3_conn_read(conn, conn->scratch, k) != FERRY_OK)
                break;
            r -= k;
        }
        fakes3_conn_reset(conn);
        ctx->dead = 1;
        rc = FERRY_EIO;
        goto out;
    }
    fakes3_awschunked_init(&d, ctx->body, ctx->decoded_len,
                           ctx->trailer_crc32c ? "x-amz-checksum-crc32c" : NULL);
    for (;;) {
        const char *p = NULL;
        size_t n = 0, used = 0;
        if ((d.code != NULL || d.done) && dropped + src.left > DRAIN_MAX) {
            ctx->close_after = 1; /* too much left to drop: answer and close */
            break;
        }
        if (enc_next(&src, &p, &n) != FERRY_OK) {
            ctx->dead = 1;
            rc = FERRY_EIO;
            goto out;
        }
        if (n == 0)
            break;
        if (d.code != NULL || d.done) {
            dropped += n;
            if (d.code == NULL)
                extra += n;
            continue;
        }
        if (fakes3_awschunked_feed(&d, p, n, &used) == FERRY_OK && used < n)
            extra += n - used;
        for (; d.decoded - digested >= DIGEST_STEP; digested += DIGEST_STEP)
            digests_update(g, ctx->body + digested, DIGEST_STEP);
    }
    if (d.code == NULL)
        (void)fakes3_awschunked_finish(&d);
    if (d.code != NULL) {
        rc = (fakes3_ctx_error(ctx, 400, d.code, "%s", d.msg), FERRY_EPARSE);
        goto out;
    }
    if (extra > 0) {
        rc = (fakes3_ctx_error(ctx, 400, "IncompleteBody",
                               "%llu bytes follow the end of the aws-chunked body (is "
                               "Content-Length right?)",
                               (unsigned long long)extra),
              FERRY_EPARSE);
        goto out;
    }
    digests_update(g, ctx->body + digested, (size_t)(ctx->decoded_len - digested));
    memcpy(trailer, d.value, sizeof(d.value));
    atomic_fetch_add(&ctx->srv->stats.aws_chunked.bytes_decoded, ctx->decoded_len);
out:
    ferry_buf_free(&src.tmp);
    return rc;
}

int fakes3_ctx_read_body(fakes3_ctx_t *ctx, uint64_t cap, unsigned want)
{
    int rc = FERRY_OK;
    fakes3_http_req_t *req = ctx->req;
    const char *sha = ctx->payload_hash;
    int check_sha = sha != NULL && is_hex64(sha);
    const char *cmd5 = fakes3_http_header(req, "content-md5");
    const char *ccrc = fakes3_http_header(req, "x-amz-checksum-crc32c");
    char trailer[FAKES3_AWSCHUNKED_LINE_MAX + 1] = "";
    digests_t g;
    memset(&g, 0, sizeof(g));
    if (cmd5 != NULL)
        want |= FAKES3_WANT_MD5;
    if (ctx->body_done) {
        /* Read earlier (to authenticate a request without x-amz-content-sha256): digest
         * what is still missing from memory; the checks below ran then. */
        unsigned miss = want & ~ctx->have;
        if (digests_init(&g, miss & ~(unsigned)FAKES3_WANT_SHA256, 0) == FERRY_OK) {
            digests_update(&g, ctx->body ? ctx->body : "", ctx->body_len);
            if (miss & FAKES3_WANT_MD5)
                ferry_md5_final(&g.md5, ctx->md5);
            if (miss & FAKES3_WANT_QETAG)
                ferry_qetag_final(&g.qe, ctx->qetag);
            if (miss & FAKES3_WANT_CRC64)
                ctx->crc64 = g.crc64;
            ctx->have |= miss;
        }
        digests_free(&g);
        return FERRY_OK;
    }
    ctx->crc64 = 0;
    ctx->body_done = 1;
    if (want & FAKES3_WANT_SHA256)
        check_sha = 1;
    if (check_sha)
        want |= FAKES3_WANT_SHA256;
    if (digests_init(&g, want, ccrc != NULL || ctx->trailer_crc32c) != FERRY_OK) {
        ctx->close_after = 1;
        rc = (fakes3_ctx_error(ctx, 500, "InternalError", "out of memory for the digests"),
              FERRY_ENOMEM);
        goto out;
    }
    if (ctx->aws_chunked) {
        rc = read_aws_chunked(ctx, cap, &g, trailer);
        if (rc != FERRY_OK)
            goto out;
        if (ctx->trailer_crc32c)
            ccrc = trailer;
    } else if (req->chunked) {
        ferry_buf_t b;
        ferry_buf_init(&b, cap);
        if (req->expect_continue)
            fakes3_conn_write(ctx->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
        rc = fakes3_conn_read_chunked(ctx->conn, &b);
        if (rc == FERRY_ETOOBIG) {
            ctx->close_after = 1;
            ferry_buf_free(&b);
            rc = (fakes3_ctx_error(ctx, 400, "EntityTooLarge",
                                   "the body exceeds the cap of %llu bytes",
                                   (unsigned long long)cap),
                  FERRY_ETOOBIG);
            goto out;
        }
        if (rc != FERRY_OK) {
            ferry_buf_free(&b);
            ctx->dead = 1;
            goto out;
        }
        ctx->body_len = b.len;
        ctx->body = ferry_buf_steal(&b, NULL);
        digests_update(&g, ctx->body ? ctx->body : "", ctx->body_len);
    } else if (req->content_length > 0) {
        if ((uint64_t)req->content_length > cap) {
            ctx->close_after = 1; /* we will not read it */
            rc = (fakes3_ctx_error(ctx, 400, "EntityTooLarge",
                                   "the body exceeds the cap of %llu bytes",
                                   (unsigned long long)cap),
                  FERRY_ETOOBIG);
            goto out;
        }
        ctx->body_len = (size_t)req->content_length;
        ctx->body = body_alloc(ctx->body_len);
        if (ctx->body == NULL) {
            ctx->close_after = 1;
            rc = (fakes3_ctx_error(ctx, 500, "InternalError", "out of memory for the body"),
                  FERRY_ENOMEM);
            goto out;
        }
        if (req->expect_continue)
            fakes3_conn_write(ctx->conn, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
        size_t n = ctx->body_len;
        if (ctx->fault.reset_after >= 0 && (uint64_t)ctx->fault.reset_after < n &&
            (ctx->op == FAKES3_OP_PUT_OBJECT || ctx->op == FAKES3_OP_UPLOAD_PART ||
             ctx->op == FAKES3_OP_COMPLETE_MULTIPART_UPLOAD ||
             ctx->op == FAKES3_OP_DELETE_OBJECTS)) {
            (void)fakes3_conn_read(ctx->conn, ctx->body, (size_t)ctx->fault.reset_after);
            fakes3_conn_reset(ctx->conn);
            ctx->dead = 1;
            rc = FERRY_EIO;
            goto out;
        }
        /* Digest each MiB right after it lands, while it is still in cache. */
        for (size_t off = 0; off < n; off += DIGEST_STEP) {
            size_t k = n - off < DIGEST_STEP ? n - off : DIGEST_STEP;
            rc = fakes3_conn_read(ctx->conn, ctx->body + off, k);
            if (rc != FERRY_OK) {
                ctx->dead = 1;
                goto out;
            }
            digests_update(&g, ctx->body + off, k);
        }
    }
    if (want & FAKES3_WANT_MD5)
        ferry_md5_final(&g.md5, ctx->md5);
    if (want & FAKES3_WANT_QETAG)
        ferry_qetag_final(&g.qe, ctx->qetag);
    ctx->crc64 = g.crc64;
    ctx->have = want;
    if (check_sha) {
        uint8_t d[32];
        ferry_sha256_final(&g.sh, d);
        ferry_hex_lower(d, 32, ctx->sha256);
        if (sha != NULL && is_hex64(sha) && strcmp(ctx->sha256, sha) != 0) {
            rc = FERRY_ECHECKSUM;
            fakes3_ctx_error(ctx, 400, "XAmzContentSHA256Mismatch",
                             "The provided 'x-amz-content-sha256' header does not match what "
                             "was computed.");
            goto out;
        }
    }
    if (cmd5 != NULL) {
        uint8_t want_md5[16];
        size_t dl = 0;
        if (ferry_b64_decode(cmd5, strlen(cmd5), want_md5, sizeof(want_md5), &dl) != FERRY_OK ||
            dl != 16) {
            rc = FERRY_EPARSE;
            fakes3_ctx_error(ctx, 400, "InvalidDigest",
                             "The Content-MD5 you specified was invalid.");
            goto out;
        }
        if (memcmp(want_md5, ctx->md5, 16) != 0) {
            rc = FERRY_ECHECKSUM;
            fakes3_ctx_error(ctx, 400, "BadDigest",
                             "The Content-MD5 you specified did not match what we received.");
            goto out;
        }
    }
    if (ccrc != NULL) {
        char b64[16];
        ferry_crc32c_b64(g.c32, b64);
        if (strcmp(b64, ccrc) != 0) {
            rc = FERRY_ECHECKSUM;
            fakes3_ctx_error(ctx, 400, "BadDigest",
                             "The CRC32C you specified did not match the calculated checksum.");
            goto out;
        }
        ctx->has_crc32c = 1;
        ctx->crc32c = g.c32;
    }
out:
    digests_free(&g);
    return rc;
}

/* Called when an answer went out without the body being read: keep the connection usable. */
static void finish_body(fakes3_ctx_t *ctx)
{
    fakes3_http_req_t *req = ctx->req;
    if (ctx->body_done || ctx->dead)
        return;
    if (req->expect_continue) {
        /* The client waits for 100 before sending: it will not send; the stream is unknown
         * for a client that sends anyway, so close. */
        if (req->chunked || req->content_length > 0)
            ctx->close_after = 1;
        return;
    }
    if (req->chunked) {
        if (fakes3_conn_read_chunked(ctx->conn, NULL) != FERRY_OK)
            ctx->close_after = 1;
        return;
    }
    if (req->content_length <= 0)
        return;
    if ((uint64_t)req->content_length > DRAIN_MAX) {
        ctx->close_after = 1;
        return;
    }
    uint64_t left = (uint64_t)req->content_length;
    while (left > 0) {
        size_t k = left < FAKES3_CONN_SCRATCH ? (size_t)left : FAKES3_CONN_SCRATCH;
        if (fakes3_conn_read(ctx->conn, ctx->conn->scratch, k) != FERRY_OK) {
            ctx->close_after = 1;
            return;
        }
        left -= k;
    }
}

/* ---- authentication ---------------------------------------------------------------------- */

static int ct_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n != strlen(b))
        return 0;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* FERRY_OK when the request is signed by our key; otherwise the error was sent. */
static int authenticate(fakes3_ctx_t *ctx)
{
    int rc = FERRY_OK;
    fakes3_http_req_t *req = ctx->req;
    const fakes3_config_t *cfg = &ctx->srv->cfg;
    ferry_sigv4_auth_t auth;
    ferry_kv_t kv[FAKES3_HTTP_MAX_HEADERS];
    size_t nkv = 0;
    ferry_buf_t creq, sh, sts;
    ferry_buf_init(&creq, 256 * 1024);
    ferry_buf_init(&sh, 4096);
    ferry_buf_init(&sts, 4096);
    const char *authz = fakes3_http_header(req, "authorization");
    if (authz == NULL) {
        if (fakes3_ctx_param(ctx, "X-Amz-Signature") != NULL)
            rc = (fakes3_ctx_error(ctx, 403, "AccessDenied",
                                   "fakes3 does not support presigned URLs"),
                  FERRY_EAUTH);
        else
            rc = (fakes3_ctx_error(ctx, 403, "AccessDenied", "Access Denied"), FERRY_EAUTH);
        goto out;
    }
    if (ferry_sigv4_parse_authorization(authz, &auth) != FERRY_OK) {
        rc = (fakes3_ctx_error(ctx, 400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed."),
              FERRY_EAUTH);
        goto out;
    }
    if (strcmp(auth.access_key, cfg->access_key) != 0) {
        rc = (fakes3_ctx_error(ctx, 403, "InvalidAccessKeyId",
                               "The AWS Access Key Id you provided does not exist in our "
                               "records."),
              FERRY_EAUTH);
        goto out;
    }
    if (strcmp(auth.service, "s3") != 0 || (cfg->region_set && cfg->personality == FAKES3_S3 &&
                                            strcmp(auth.region, cfg->region) != 0)) {
        rc = (fakes3_ctx_error(ctx, 400, "AuthorizationHeaderMalformed",
                               "The authorization header is malformed; the region '%s' is wrong; "
                               "expecting '%s'",
                               auth.region, cfg->region),
              FERRY_EAUTH);
        goto out;
    }
    const char *amz_date = fakes3_http_header(req, "x-amz-date");
    if (amz_date == NULL || strlen(amz_date) != 16 || strncmp(amz_date, auth.date, 8) != 0) {
        rc = (fakes3_ctx_error(ctx, 403, "AccessDenied",
                               "AWS authentication requires a valid Date or x-amz-date header"),
              FERRY_EAUTH);
        goto out;
    }
    ctx->payload_hash = fakes3_http_header(req, "x-amz-content-sha256");
    if (ctx->payload_hash == NULL) {
        /* Real S3 answers 400 here, but generic SigV4 signers (curl's --aws-sigv4 before
         * 8.x) sign the body's SHA-256 without sending the header: read the body and use
         * its hash. */
        uint64_t cap = ctx->op == FAKES3_OP_PUT_OBJECT || ctx->op == FAKES3_OP_UPLOAD_PART
                           ? cfg->max_object
                           : FAKES3_XML_BODY_MAX;
        if (fakes3_ctx_read_body(ctx, cap, FAKES3_WANT_SHA256) != FERRY_OK) {
            rc = FERRY_EAUTH;
            goto out;
        }
        ctx->payload_hash = ctx->sha256;
    }
    /* STREAMING-* values are signed like any other; check_aws_chunked judges them after. */
    if (strcmp(ctx->payload_hash, FERRY_SIGV4_UNSIGNED) != 0 && !is_hex64(ctx->payload_hash) &&
        strncmp(ctx->payload_hash, "STREAMING-", 10) != 0) {
        rc = (fakes3_ctx_error(ctx, 400, "InvalidArgument",
                               "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 "
                               "value."),
              FERRY_EAUTH);
        goto out;
    }
    /* The signed headers, with every received value of each (the canonicaliser joins). */
    for (const char *p = auth.signed_headers; *p;) {
        const char *e = strchr(p, ';');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < req->nhdrs; i++) {
            if (strlen(req->hdrs[i].name) == n && memcmp(req->hdrs[i].name, p, n) == 0) {
                kv[nkv++] = req->hdrs[i];
                found = 1;
            }
        }
        if (!found) {
            rc = (fakes3_ctx_error(ctx, 403, "SignatureDoesNotMatch",
                                   "A signed header is missing from the request: %.*s", (int)n, p),
                  FERRY_EAUTH);
            goto out;
        }
        p = e ? e + 1 : p + n;
    }
    ferry_sigv4_req_t sr = {
        .method = req->method,
        .path = req->path,
        .query = req->query,
        .headers = kv,
        .nheaders = nkv,
        .payload_hash = ctx->payload_hash,
        .region = auth.region,
        .service = auth.service,
        .amz_date = amz_date,
    };
    char sig[65];
    if (ferry_sigv4_canonical_request(&sr, &creq, &sh) != FERRY_OK ||
        ferry_sigv4_string_to_sign(amz_date, auth.region, auth.service, creq.data, creq.len,
                                   &sts) != FERRY_OK) {
        rc = (fakes3_ctx_error(ctx, 400, "InvalidURI", "Couldn't parse the specified URI."),
              FERRY_EAUTH);
        goto out;
    }
    ferry_sigv4_signature(cfg->secret_key, amz_date, auth.region, auth.service, sts.data, sig);
    if (!ct_equal(sig, auth.signature)) {
        rc = (fakes3_ctx_error(ctx, 403, "SignatureDoesNotMatch",
                               "The request signature we calculated does not match the signature "
                               "you provided. Check your key and signing method. "
                               "Canonical request: %.300s String to sign: %.200s",
                               ferry_buf_cstr(&creq), ferry_buf_cstr(&sts)),
              FERRY_EAUTH);
        goto out;
    }
out:
    ferry_buf_free(&creq);
    ferry_buf_free(&sh);
    ferry_buf_free(&sts);
    return rc;
}

/* ---- aws-chunked ------------------------------------------------------------------------- */

#define STREAMING_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

static const char *provider_name(fakes3_personality_t p)
{
    switch (p) {
    case FAKES3_OSS:
        return "Aliyun OSS";
    case FAKES3_COS:
        return "Tencent COS";
    case FAKES3_KODO:
        return "Qiniu Kodo";
    default:
        return "S3";
    }
}

/* Where the request's Range header starts (bytes=N-[M]), for fault rules' range_start; -1 when
 * it has none of that form. */
static int64_t range_start(const fakes3_ctx_t *ctx)
{
    const char *r = fakes3_http_header(ctx->req, "range");
    if (r == NULL || strncmp(r, "bytes=", 6) != 0 || !isdigit((unsigned char)r[6]))
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(r + 6, &end, 10);
    return errno == 0 && end != NULL && *end == '-' && v <= INT64_MAX ? (int64_t)v : -1;
}

/* Judge the headers of an aws-chunked request (Content-Encoding: aws-chunked, x-amz-trailer or
 * a STREAMING-* payload hash) before the operation runs, and prepare ctx to decode its body.
 * FERRY_OK (also for ordinary requests); otherwise the error was sent. */
static int check_aws_chunked(fakes3_ctx_t *ctx)
{
    fakes3_http_req_t *req = ctx->req;
    const char *ce = fakes3_http_header(req, "content-encoding");
    const char *trl = fakes3_http_header(req, "x-amz-trailer");
    const char *dcl = fakes3_http_header(req, "x-amz-decoded-content-length");
    const char *ph = ctx->payload_hash ? ctx->payload_hash : "";
    int ce_aws = ce != NULL && fakes3_http_has_token(ce, "aws-chunked");
    int streaming = strncmp(ph, "STREAMING-", 10) == 0;
    if (!ce_aws && trl == NULL && !streaming)
        return FERRY_OK;
    ctx->aws_seen = 1;
    atomic_fetch_add(&ctx->srv->stats.aws_chunked.count, 1);
    if (ctx->srv->cfg.personality != FAKES3_S3)
        return fakes3_ctx_error(ctx, 400, "InvalidArgument",
                                "%s does not accept aws-chunked trailing checksums "
                                "(Content-Encoding: aws-chunked, x-amz-trailer, "
                                "x-amz-content-sha256: STREAMING-*): send a plain body with "
                                "Content-Length",
                                provider_name(ctx->srv->cfg.personality)),
               FERRY_EINVAL;
    if (streaming && strcmp(ph, STREAMING_TRAILER) != 0)
        return fakes3_ctx_error(ctx, 501, "NotImplemented",
                                "fakes3 does not implement signed streaming uploads (%s); it "
                                "takes aws-chunked bodies only as " STREAMING_TRAILER,
                                ph),
               FERRY_EINVAL;
    if (!streaming)
        return fakes3_ctx_error(ctx, 400, "InvalidRequest",
                                "Content-Encoding: aws-chunked and x-amz-trailer need "
                                "x-amz-content-sha256: " STREAMING_TRAILER),
               FERRY_EINVAL;
    if (!ce_aws)
        return fakes3_ctx_error(ctx, 400, "InvalidRequest",
                                "x-amz-content-sha256: " STREAMING_TRAILER
                                " needs Content-Encoding: aws-chunked"),
               FERRY_EINVAL;
    if (ctx->op != FAKES3_OP_PUT_OBJECT && ctx->op != FAKES3_OP_UPLOAD_PART)
        return fakes3_ctx_error(ctx, 501, "NotImplemented",
                                "fakes3 takes aws-chunked bodies for PutObject and UploadPart "
                                "only, not %s",
                                fakes3_op_name(ctx->op)),
               FERRY_EINVAL;
    if (trl == NULL)
        return fakes3_ctx_error(ctx, 400, "InvalidRequest",
                                STREAMING_TRAILER " needs an x-amz-trailer header naming the "
                                                  "trailing checksum"),
               FERRY_EINVAL;
    if (strcasecmp(trl, "x-amz-checksum-crc32c") != 0) {
        static const char *const other[] = {"x-amz-checksum-crc32", "x-amz-checksum-crc64nvme",
                                            "x-amz-checksum-sha1", "x-amz-checksum-sha256"};
        for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
            if (strcasecmp(trl, other[i]) == 0)
                return fakes3_ctx_error(ctx, 501, "NotImplemented",
                                        "fakes3 verifies only x-amz-checksum-crc32c trailers, "
                                        "not %s",
                                        other[i]),
                       FERRY_EINVAL;
        return fakes3_ctx_error(ctx, 400, "InvalidArgument",
                                "x-amz-trailer must name one checksum header such as "
                                "x-amz-checksum-crc32c, not \"%.100s\"",
                                trl),
               FERRY_EINVAL;
    }
    if (fakes3_http_header(req, "x-amz-checksum-crc32c") != NULL)
        return fakes3_ctx_error(ctx, 400, "InvalidRequest",
                                "Expecting a single x-amz-checksum- header. Multiple checksum "
                                "Types are not allowed."),
               FERRY_EINVAL;
    uint64_t v = 0;
    size_t nd = 0;
    for (const char *p = dcl; p != NULL && *p >= '0' && *p <= '9' && nd < 19; p++, nd++)
        v = v * 10 + (uint64_t)(*p - '0');
    if (dcl == NULL || nd == 0 || dcl[nd] != '\0')
        return fakes3_ctx_error(ctx, 400, "InvalidRequest",
                                "An aws-chunked body needs x-amz-decoded-content-length, the "
                                "length of the decoded data in decimal (got %.40s)",
                                dcl ? dcl : "none"),
               FERRY_EINVAL;
    ctx->aws_chunked = 1;
    ctx->decoded_len = v;
    ctx->trailer_crc32c = 1;
    return FERRY_OK;
}

/* ---- routing ----------------------------------------------------------------------------- */

static int parse_query(fakes3_ctx_t *ctx)
{
    const char *q = ctx->req->query;
    ferry_buf_init(&ctx->qarena, 64 * 1024);
    if (q == NULL || *q == '\0')
        return FERRY_OK;
    /* Two passes: decode everything into the arena, then take pointers (it may move). */
    size_t offs[FAKES3_QUERY_MAX][3];
    size_t n = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 0) {
            if (n == FAKES3_QUERY_MAX)
                return FERRY_ETOOBIG;
            const char *eq = memchr(q, '=', len);
            size_t nl = eq ? (size_t)(eq - q) : len;
            offs[n][0] = ctx->qarena.len;
            if (ferry_uri_decode(q, nl, 0, &ctx->qarena) != FERRY_OK ||
                ferry_buf_add(&ctx->qarena, "", 1) != FERRY_OK)
                return FERRY_EPARSE;
            offs[n][1] = ctx->qarena.len;
            if (eq && ferry_uri_decode(eq + 1, len - nl - 1, 0, &ctx->qarena) != FERRY_OK)
                return FERRY_EPARSE;
            offs[n][2] = ctx->qarena.len - offs[n][1];
            if (ferry_buf_add(&ctx->qarena, "", 1) != FERRY_OK)
                return FERRY_EPARSE;
            n++;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    for (size_t i = 0; i < n; i++) {
        ctx->q[i].name = ctx->qarena.data + offs[i][0];
        ctx->q[i].value = ctx->qarena.data + offs[i][1];
        ctx->q[i].vlen = offs[i][2];
    }
    ctx->nq = n;
    return FERRY_OK;
}

/* Split the Host header and path into bucket and key. FERRY_OK or an error already sent. */
static int address(fakes3_ctx_t *ctx)
{
    const fakes3_config_t *cfg = &ctx->srv->cfg;
    const char *host = fakes3_http_header(ctx->req, "host");
    const char *path = ctx->req->path;
    const char *keyp = NULL;
    char hbuf[256];
    size_t hl = 0;
    if (host != NULL) {
        if (host[0] == '[') {
            const char *e = strchr(host, ']');
            hl = e ? (size_t)(e - host + 1) : strlen(host);
        } else {
            const char *c = strchr(host, ':');
            hl = c ? (size_t)(c - host) : strlen(host);
        }
        if (hl >= sizeof(hbuf))
            hl = sizeof(hbuf) - 1;
        memcpy(hbuf, host, hl);
        hbuf[hl] = '\0';
    }
    size_t dl = strlen(cfg->domain);
    if (hl > dl + 1 && hbuf[hl - dl - 1] == '.' && strcasecmp(hbuf + hl - dl, cfg->domain) == 0) {
        size_t bl = hl - dl - 1;
        if (bl >= sizeof(ctx->bucket))
            return fakes3_ctx_error(ctx, 400, "InvalidBucketName",
                                    "The specified bucket is not valid."),
                   FERRY_EINVAL;
        memcpy(ctx->bucket, hbuf, bl);
        ctx->bucket[bl] = '\0';
        for (char *p = ctx->bucket; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        keyp = path + 1;
        ctx->has_key = path[1] != '\0';
    } else {
        ctx->path_style = 1;
        const char *b = path + 1;
        const char *slash = strchr(b, '/');
        size_t bl = slash ? (size_t)(slash - b) : strlen(b);
        if (bl >= sizeof(ctx->bucket))
            return fakes3_ctx_error(ctx, 400, "InvalidBucketName",
                                    "The specified bucket is not valid."),
                   FERRY_EINVAL;
        memcpy(ctx->bucket, b, bl);
        ctx->bucket[bl] = '\0';
        if (slash != NULL && slash[1] != '\0') {
            keyp = slash + 1;
            ctx->has_key = 1;
        }
    }
    if (ctx->has_key) {
        ferry_buf_t k;
        ferry_buf_init(&k, FAKES3_KEY_MAX);
        int rc = ferry_uri_decode(keyp, strlen(keyp), 0, &k);
        if (rc == FERRY_ETOOBIG) {
            ferry_buf_free(&k);
            return fakes3_ctx_error(ctx, 400, "KeyTooLongError", "Your key is too long."),
                   FERRY_EINVAL;
        }
        if (rc != FERRY_OK || memchr(k.data, '\0', k.len) != NULL) {
            ferry_buf_free(&k);
            return fakes3_ctx_error(ctx, 400, "InvalidURI", "Couldn't parse the specified URI."),
                   FERRY_EINVAL;
        }
        memcpy(ctx->key, k.data, k.len);
        ctx->klen = k.len;
        ctx->key[k.len] = '\0';
        ferry_buf_free(&k);
    }
    return FERRY_OK;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void log_request(fakes3_ctx_t *ctx, double ms)
{
    char st[8], bytes_in[24], bytes_out[24], dur[24];
    snprintf(st, sizeof(st), "%d", ctx->status);
    snprintf(bytes_in, sizeof(bytes_in), "%llu", (unsigned long long)ctx->conn->bytes_in);
    snprintf(bytes_out, sizeof(bytes_out), "%llu", (unsigned long long)ctx->bytes_out);
    snprintf(dur, sizeof(dur), "%.3f", ms);
    ferry_log(FERRY_LOG_INFO, "fakes3.request", "id", ctx->reqid, "method", ctx->req->method,
              "path", ctx->req->path, "op", fakes3_op_name(ctx->op), "status", st, "in", bytes_in,
              "out", bytes_out, "ms", dur, NULL);
}

static void serve_one(fakes3_server_t *srv, fakes3_conn_t *conn, fakes3_http_req_t *req)
{
    fakes3_ctx_t *ctx = calloc(1, sizeof(*ctx));
    struct timespec t0, t1;
    if (ctx == NULL) {
        fakes3_conn_reset(conn);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ctx->srv = srv;
    ctx->conn = conn;
    ctx->req = req;
    ctx->op = FAKES3_OP_UNKNOWN;
    ctx->fault.reset_after = -1;
    conn->bytes_in = 0;
    snprintf(ctx->reqid, sizeof(ctx->reqid), "%016llX",
             (unsigned long long)(atomic_fetch_add(&srv->req_seq, 1) * 0x9E3779B97F4A7C15ULL ^
                                  srv->cfg.seed));
    if (parse_query(ctx) != FERRY_OK) {
        fakes3_ctx_error(ctx, 400, "InvalidURI", "Couldn't parse the specified URI.");
        goto done;
    }
    if (strncmp(req->path, "/_fakes3/", 9) == 0) {
        fakes3_control(ctx);
        goto done;
    }
    if (address(ctx) != FERRY_OK)
        goto done;
    ctx->op = fakes3_ops_classify(ctx);
    atomic_fetch_add(&srv->stats.op[ctx->op].count, 1);
    if (authenticate(ctx) != FERRY_OK)
        goto done;
    if (ctx->op == FAKES3_OP_UNKNOWN) {
        fakes3_ctx_error(ctx, 405, "MethodNotAllowed",
                         "The specified method is not allowed against this resource.");
        goto done;
    }
    if (srv->cfg.personality == FAKES3_OSS && ctx->path_style && ctx->bucket[0] &&
        !srv->cfg.path_style_ok) {
        fakes3_ctx_error(ctx, 403, "SecondLevelDomainForbidden",
                         "Please use virtual hosted style to access.");
        goto done;
    }
    if (check_aws_chunked(ctx) != FERRY_OK)
        goto done;
    fakes3_faults_match(&srv->faults, fakes3_op_name(ctx->op), ctx->has_key ? ctx->key : NULL,
                        ctx->klen, range_start(ctx), &ctx->fault);
    if (ctx->fault.fired) {
        atomic_fetch_add(&srv->stats.op[ctx->op].faults, 1);
        if (ctx->fault.latency_ms > 0) {
            struct timespec ts = {ctx->fault.latency_ms / 1000,
                                  (long)(ctx->fault.latency_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        if (ctx->fault.bandwidth > 0)
            fakes3_conn_pace(conn, ctx->fault.bandwidth);
        if (ctx->fault.error) {
            int e = ctx->fault.error;
            finish_body(ctx); /* read what the client sends, then refuse */
            ctx->body_done = 1;
            if (e == 503)
                fakes3_ctx_error(ctx, 503, "SlowDown", "Please reduce your request rate.");
            else if (e == 429)
                fakes3_ctx_error(ctx, 429, "TooManyRequests", "Please reduce your request rate.");
            else if (e == 500)
                fakes3_ctx_error(ctx, 500, "InternalError",
                                 "We encountered an internal error. Please try again.");
            else
                fakes3_ctx_error(ctx, e, "InjectedError", "fakes3 injected this error.");
            goto done;
        }
    }
    fakes3_ops_run(ctx);
done:
    finish_body(ctx);
    if (!ctx->dead) {
        if (ctx->close_after || !req->keep_alive)
            ctx->dead = 1;
    } else if (conn->fd >= 0) {
        /* a write failed: make sure the loop ends */
    }
    account(ctx, ctx->status); /* no answer went out */
    atomic_fetch_add(&srv->stats.op[ctx->op].bytes_in, conn->bytes_in - ctx->in_counted);
    atomic_fetch_add(&srv->stats.op[ctx->op].bytes_out, ctx->bytes_out);
    if (srv->cfg.verbose) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        log_request(ctx, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                             (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
    if (ctx->dead)
        conn->rlen = conn->rpos = 0, req->keep_alive = 0;
    free(ctx->body);
    ferry_buf_free(&ctx->qarena);
    free(ctx);
    fakes3_conn_pace(conn, 0);
}

void fakes3_server_conn(fakes3_server_t *srv, int fd)
{
    fakes3_conn_t conn;
    fakes3_http_req_t *req = malloc(sizeof(*req));
    if (req == NULL || fakes3_conn_init(&conn, fd) != FERRY_OK) {
        free(req);
        if (req == NULL)
            close(fd);
        return;
    }
    while (!atomic_load(&srv->stopping)) {
        int rc = fakes3_conn_read_head(&conn, req);
        if (rc == FERRY_EIO)
            break;
        if (rc != FERRY_OK) {
            const char *msg = rc == FERRY_ETOOBIG
                                  ? "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                    "Content-Length: 0\r\nConnection: close\r\n\r\n"
                                  : "HTTP/1.1 400 Bad Request\r\n"
                                    "Content-Length: 0\r\nConnection: close\r\n\r\n";
            (void)fakes3_conn_write(&conn, msg, strlen(msg), 0);
            break;
        }
        atomic_fetch_add(&srv->inflight, 1);
        serve_one(srv, &conn, req);
        atomic_fetch_sub(&srv->inflight, 1);
        if (!req->keep_alive || conn.fd < 0)
            break;
    }
    fakes3_conn_close(&conn);
    free(req);
}
