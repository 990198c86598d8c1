/* fakes3 — a small blocking HTTP/1.1 server side: request-head parser, chunked-body decoder
 * and connection I/O with optional bandwidth pacing.
 *
 * The parser works in place on the caller's buffer: it lowercases header names and writes
 * NUL terminators, so every string in fakes3_http_req_t is a borrowed pointer into that buffer
 * (valid until the buffer is reused for the next request). The path and query are kept exactly
 * as they came on the wire, never decoded: SigV4 needs the raw bytes.
 *
 * A connection (fakes3_conn_t) belongs to one thread.
 */
#ifndef FAKES3_HTTP_H
#define FAKES3_HTTP_H

#include "ferry/buf.h"
#include "ferry/sigv4.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define FAKES3_HTTP_MAX_HEAD    (64 * 1024) /* request line + headers */
#define FAKES3_HTTP_MAX_HEADERS 100

typedef struct fakes3_http_req_s {
    char *method;                             /* "GET", ... */
    char *path;                               /* raw path, starts with '/' */
    char *query;                              /* raw query without '?', or NULL */
    int minor;                                /* HTTP/1.<minor> */
    ferry_kv_t hdrs[FAKES3_HTTP_MAX_HEADERS]; /* names lowercased; values trimmed */
    size_t nhdrs;
    size_t head_len;        /* bytes of the head including the blank line */
    int64_t content_length; /* -1 when absent */
    int chunked;            /* Transfer-Encoding: chunked */
    int expect_continue;    /* Expect: 100-continue */
    int keep_alive;         /* after this request (HTTP/1.1 default, Connection header) */
} fakes3_http_req_t;

/* Parse one request head from buf[0..len). buf is modified in place.
 * FERRY_OK (req filled, req->head_len set), FERRY_ERETRY (incomplete: read more),
 * FERRY_ETOOBIG (head over FAKES3_HTTP_MAX_HEAD or too many headers), FERRY_EPARSE. */
int fakes3_http_parse(char *buf, size_t len, fakes3_http_req_t *req);

/* Does the comma-separated list s contain token tok (case-insensitive)? */
int fakes3_http_has_token(const char *s, const char *tok);

/* First value of a header (name lowercase), or NULL. Borrowed from req. */
const char *fakes3_http_header(const fakes3_http_req_t *req, const char *name);

/* Chunked transfer-coding decoder, fed any slicing of the input. */
typedef struct fakes3_chunked_s {
    int state;
    uint64_t left; /* data bytes left in the current chunk */
    unsigned ndig; /* hex digits seen in the size line */
    size_t junk;   /* bytes of chunk extensions and trailers seen (capped) */
    int done;      /* the final CRLF after the last chunk was seen */
} fakes3_chunked_t;

/* Decode in[0..n): data goes to out (its cap bounds the body), *used gets the bytes of in that
 * were consumed (less than n only once done). FERRY_OK, FERRY_EPARSE, or out's FERRY_ETOOBIG /
 * FERRY_ENOMEM. out may be NULL to discard data. */
int fakes3_chunked_feed(fakes3_chunked_t *c, const char *in, size_t n, size_t *used,
                        ferry_buf_t *out);

typedef struct fakes3_conn_s {
    int fd;                       /* owned: closed by fakes3_conn_close */
    char *rbuf;                   /* owned, FAKES3_HTTP_MAX_HEAD + 1 bytes */
    size_t rpos, rlen;            /* unconsumed bytes are rbuf[rpos..rlen) */
    size_t head_end;              /* rbuf[0..head_end) is the current request's head */
    char *scratch;                /* owned, FAKES3_CONN_SCRATCH bytes for generated bodies */
    uint64_t bw;                  /* bytes per second cap for the current request, 0 = none */
    struct timespec bw_t0;        /* when pacing started */
    uint64_t bw_bytes;            /* bytes moved since bw_t0 */
    uint64_t bytes_in, bytes_out; /* body bytes of the current request */
} fakes3_conn_t;

#define FAKES3_CONN_SCRATCH (256 * 1024)

/* Set up a connection on an accepted socket (takes ownership of fd; closes it on failure).
 * FERRY_OK or FERRY_ENOMEM. */
int fakes3_conn_init(fakes3_conn_t *c, int fd);

/* Read and parse the next request head. FERRY_OK; FERRY_EIO when the peer closed between
 * requests or the read failed; FERRY_ETOOBIG / FERRY_EPARSE for a bad head (answer 4xx and
 * close). */
int fakes3_conn_read_head(fakes3_conn_t *c, fakes3_http_req_t *req);

/* Read exactly n body bytes into dst (buffered bytes first). FERRY_OK or FERRY_EIO. */
int fakes3_conn_read(fakes3_conn_t *c, void *dst, size_t n);

/* Read a whole chunked body into out (capped by out's max). FERRY_OK, FERRY_EIO, FERRY_EPARSE,
 * FERRY_ETOOBIG. out may be NULL to discard. */
int fakes3_conn_read_chunked(fakes3_conn_t *c, ferry_buf_t *out);

/* One step of the same: decode the buffered bytes, or what one recv brings (at most
 * FAKES3_CONN_SCRATCH bytes of input), appending the data to out. Start with a zeroed ch and
 * call until ch->done. Same codes; out may be NULL to discard. */
int fakes3_conn_read_chunked_some(fakes3_conn_t *c, fakes3_chunked_t *ch, ferry_buf_t *out);

/* Write all of p[0..n), paced by c->bw. more: more data follows at once (MSG_MORE, so a
 * response head and a small body share a segment). FERRY_OK or FERRY_EIO. */
int fakes3_conn_write(fakes3_conn_t *c, const void *p, size_t n, int more);

/* Start bandwidth pacing at bw bytes/s for the current request (0 turns it off). */
void fakes3_conn_pace(fakes3_conn_t *c, uint64_t bw);

/* Close with a TCP RST (SO_LINGER 0): simulates a dropped connection. */
void fakes3_conn_reset(fakes3_conn_t *c);

/* Close normally and free the buffers. Safe after fakes3_conn_reset. */
void fakes3_conn_close(fakes3_conn_t *c);

#endif
