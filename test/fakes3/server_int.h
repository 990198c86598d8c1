/* fakes3 — one request being answered: shared by server.c (routing, auth, responses) and
 * ops.c (the S3 operations). A ctx lives on the connection thread's stack for one request. */
#ifndef FAKES3_SERVER_INT_H
#define FAKES3_SERVER_INT_H

#include "fakes3.h"

#include <stdarg.h>

#define FAKES3_KEY_MAX      1024
#define FAKES3_QUERY_MAX    32
#define FAKES3_XML_BODY_MAX (4u << 20)

/* Digests ctx_read_body computes while the body arrives (one pass, cache-warm). */
enum {
    FAKES3_WANT_MD5 = 1,
    FAKES3_WANT_CRC64 = 2,
    FAKES3_WANT_QETAG = 4,
    FAKES3_WANT_SHA256 = 8,
};

typedef struct fakes3_qparam_s {
    char *name; /* decoded, NUL-terminated, owned by ctx->qarena */
    char *value;
    size_t vlen;
} fakes3_qparam_t;

typedef struct fakes3_ctx_s {
    fakes3_server_t *srv;
    fakes3_conn_t *conn;
    fakes3_http_req_t *req;
    fakes3_op_t op;
    char reqid[20];
    /* addressing */
    char bucket[64]; /* "" for service-level requests */
    int has_key;     /* the path named an object (possibly "" for "/b/") */
    char key[FAKES3_KEY_MAX + 1];
    size_t klen;
    int path_style;
    fakes3_qparam_t q[FAKES3_QUERY_MAX];
    size_t nq;
    ferry_buf_t qarena;
    /* body */
    char *body; /* owned: the request body once read */
    size_t body_len;
    int body_done;            /* read (or found absent) */
    const char *payload_hash; /* x-amz-content-sha256 (borrowed) */
    uint8_t md5[16];
    uint64_t crc64;
    char qetag[29];
    char sha256[65]; /* hex, with FAKES3_WANT_SHA256 */
    unsigned have;   /* FAKES3_WANT_* digests computed so far */
    /* aws-chunked (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER), checked by
     * the server before the operation runs */
    int aws_seen;         /* the request claimed an aws-chunked body (counted in the stats) */
    int aws_chunked;      /* ... and it passed the header checks: decode it */
    uint64_t decoded_len; /* x-amz-decoded-content-length */
    int trailer_crc32c;   /* x-amz-trailer: x-amz-checksum-crc32c */
    /* a CRC32C the client supplied (header or trailer) and that matched the body */
    int has_crc32c;
    uint32_t crc32c;
    fakes3_fault_hit_t fault;
    /* outcome */
    int status;
    int close_after;     /* answer with Connection: close and close */
    int dead;            /* the connection was reset or failed: do not touch it again */
    int accounted;       /* counted in the stats (when the answer's head was built) */
    uint64_t in_counted; /* body bytes in counted then */
    uint64_t bytes_out;
} fakes3_ctx_t;

/* A decoded query parameter or NULL. */
const char *fakes3_ctx_param(const fakes3_ctx_t *ctx, const char *name);

/* Send an S3 error (XML body unless HEAD). Always returns FERRY_OK: the error is the answer. */
int fakes3_ctx_error(fakes3_ctx_t *ctx, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Send a full response. hdrs: extra "Name: v\r\n" lines or NULL; ctype may be NULL. */
int fakes3_ctx_reply(fakes3_ctx_t *ctx, int status, const char *hdrs, const char *ctype,
                     const char *body, size_t len);
/* Send only the head (a body of content_length bytes follows, unless HEAD). */
int fakes3_ctx_reply_head(fakes3_ctx_t *ctx, int status, const char *hdrs, const char *ctype,
                          uint64_t content_length);
/* Read the request body (cap bounds it; 100-continue is sent first when asked), computing the
 * wanted digests, and check x-amz-content-sha256 and Content-MD5 / x-amz-checksum-crc32c.
 * An aws-chunked body (ctx->aws_chunked) is decoded while it arrives; ctx->body holds the
 * decoded bytes and the trailer's CRC32C is checked like the header's. A CRC32C that was
 * supplied and matched is left in ctx->crc32c (ctx->has_crc32c).
 * FERRY_OK; otherwise the error answer was already sent (or the connection is dead). */
int fakes3_ctx_read_body(fakes3_ctx_t *ctx, uint64_t cap, unsigned want);

/* The personality's extra error/response decorations. */
const char *fakes3_xml_head(void);

/* ops.c: route to and run the S3 operation chosen by fakes3_ctx_route. */
fakes3_op_t fakes3_ops_classify(const fakes3_ctx_t *ctx);
void fakes3_ops_run(fakes3_ctx_t *ctx);

/* control.c: the control routes under /_fakes3/ (no auth, JSON in and out). */
int fakes3_control(fakes3_ctx_t *ctx);

#endif
