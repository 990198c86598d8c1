#define _GNU_SOURCE /* memmem */
#include "http.h"

#include "ferry/check.h"
#include "ferry/error.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- request head ------------------------------------------------------------------------ */

static int is_tchar(unsigned char ch)
{
    /* RFC 9110 token characters. */
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

int fakes3_http_has_token(const char *s, const char *tok)
{
    size_t tl = strlen(tok);
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
            return 1;
        s = e;
    }
    return 0;
}

static int parse_uint(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (*s == '\0')
        return FERRY_EPARSE;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return FERRY_EPARSE;
        if (v > (INT64_MAX - 9) / 10)
            return FERRY_ETOOBIG;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return FERRY_OK;
}

int fakes3_http_parse(char *buf, size_t len, fakes3_http_req_t *req)
{
    size_t skip = 0;
    /* RFC 9112 2.2: ignore empty lines before the request line. */
    while (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n')
        skip += 2;
    size_t scan = len < FAKES3_HTTP_MAX_HEAD ? len : FAKES3_HTTP_MAX_HEAD;
    if (skip >= scan)
        return len >= FAKES3_HTTP_MAX_HEAD ? FERRY_ETOOBIG : FERRY_ERETRY;
    char *end = memmem(buf + skip, scan - skip, "\r\n\r\n", 4);
    if (end == NULL)
        return len >= FAKES3_HTTP_MAX_HEAD ? FERRY_ETOOBIG : FERRY_ERETRY;
    /* The head is complete: from here on the buffer is modified in place. */
    char *p = buf + skip, *hend = end + 2; /* hend: just past the last header's CRLF */
    if (memchr(p, '\0', (size_t)(end - p)) != NULL)
        return FERRY_EPARSE;
    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    req->head_len = (size_t)(end + 4 - buf);

    /* Request line: METHOD SP target SP HTTP/1.x CRLF */
    req->method = p;
    while (p < hend && is_tchar((unsigned char)*p))
        p++;
    if (p == req->method || *p != ' ')
        return FERRY_EPARSE;
    *p++ = '\0';
    char *target = p;
    while (p < hend && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == target || *p != ' ' || *target != '/')
        return FERRY_EPARSE;
    *p++ = '\0';
    if (hend - p < 10 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != '\r' ||
        p[9] != '\n')
        return FERRY_EPARSE;
    req->minor = p[7] - '0';
    p += 10;
    req->path = target;
    char *q = strchr(target, '?');
    if (q != NULL) {
        *q = '\0';
        req->query = q + 1;
    }
    req->keep_alive = req->minor >= 1;

    /* Header fields. */
    int have_cl = 0;
    while (p < hend) {
        char *name = p;
        while (p < hend && is_tchar((unsigned char)*p)) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
            p++;
        }
        if (p == name || *p != ':') /* also rejects obsolete line folding */
            return FERRY_EPARSE;
        *p++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        char *val = p;
        char *eol = p;
        while (*eol != '\r') {
            unsigned char ch = (unsigned char)*eol;
            if ((ch < ' ' && ch != '\t') || ch == 0x7f)
                return FERRY_EPARSE; /* bare LF, other controls */
            eol++;
        }
        if (eol[1] != '\n')
            return FERRY_EPARSE;
        char *vend = eol;
        while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        *vend = '\0';
        p = eol + 2;
        if (req->nhdrs == FAKES3_HTTP_MAX_HEADERS)
            return FERRY_ETOOBIG;
        req->hdrs[req->nhdrs].name = name;
        req->hdrs[req->nhdrs].value = val;
        req->nhdrs++;

        if (strcmp(name, "content-length") == 0) {
            int64_t v;
            int rc = parse_uint(val, &v);
            if (rc != FERRY_OK)
                return FERRY_EPARSE;
            if (have_cl && v != req->content_length)
                return FERRY_EPARSE;
            have_cl = 1;
            req->content_length = v;
        } else if (strcmp(name, "transfer-encoding") == 0) {
            if (!ieq(val, "chunked") || req->chunked)
                return FERRY_EPARSE;
            req->chunked = 1;
        } else if (strcmp(name, "connection") == 0) {
            if (fakes3_http_has_token(val, "close"))
                req->keep_alive = 0;
            else if (fakes3_http_has_token(val, "keep-alive"))
                req->keep_alive = 1;
        } else if (strcmp(name, "expect") == 0) {
            if (ieq(val, "100-continue"))
                req->expect_continue = 1;
        }
    }
    if (req->chunked && have_cl)
        return FERRY_EPARSE; /* request smuggling shape: refuse */
    return FERRY_OK;
}

const char *fakes3_http_header(const fakes3_http_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nhdrs; i++)
        if (strcmp(req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value;
    return NULL;
}

/* ---- chunked bodies ---------------------------------------------------------------------- */

enum {
    C_SIZE,
    C_EXT,
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TRL,
    C_TRL_LINE,
    C_TRL_LF,
    C_END_LF,
    C_DONE
};

#define CHUNK_JUNK_MAX 16384 /* extensions + trailers */

int fakes3_chunked_feed(fakes3_chunked_t *c, const char *in, size_t n, size_t *used,
                        ferry_buf_t *out)
{
    size_t i = 0;
    int rc = FERRY_OK;
    while (i < n && c->state != C_DONE) {
        char ch = in[i];
        switch (c->state) {
        case C_SIZE: {
            int v = ferry_hex_val(ch);
            if (v >= 0) {
                if (c->ndig == 15) {
                    rc = FERRY_ETOOBIG;
                    goto out;
                }
                c->left = c->left * 16 + (uint64_t)v;
                c->ndig++;
            } else if (c->ndig > 0 && (ch == ';' || ch == ' ' || ch == '\t')) {
                c->state = C_EXT;
            } else if (c->ndig > 0 && ch == '\r') {
                c->state = C_SIZE_LF;
            } else {
                rc = FERRY_EPARSE;
                goto out;
            }
            i++;
            break;
        }
        case C_EXT:
            if (ch == '\r')
                c->state = C_SIZE_LF;
            else if (ch == '\n' || ++c->junk > CHUNK_JUNK_MAX) {
                rc = FERRY_EPARSE;
                goto out;
            }
            i++;
            break;
        case C_SIZE_LF:
            if (ch != '\n') {
                rc = FERRY_EPARSE;
                goto out;
            }
            c->state = c->left == 0 ? C_TRL : C_DATA;
            i++;
            break;
        case C_DATA: {
            size_t take = n - i;
            if (take > c->left)
                take = (size_t)c->left;
            if (out != NULL) {
                rc = ferry_buf_add(out, in + i, take);
                if (rc != FERRY_OK)
                    goto out;
            }
            c->left -= take;
            i += take;
            if (c->left == 0)
                c->state = C_DATA_CR;
            break;
        }
        case C_DATA_CR:
        case C_TRL_LF:
        case C_DATA_LF:
        case C_END_LF:
            if (ch != (c->state == C_DATA_CR ? '\r' : '\n')) {
                rc = FERRY_EPARSE;
                goto out;
            }
            if (c->state == C_DATA_CR) {
                c->state = C_DATA_LF;
            } else if (c->state == C_DATA_LF) {
                c->state = C_SIZE;
                c->ndig = 0;
            } else if (c->state == C_TRL_LF) {
                c->state = C_TRL;
            } else {
                c->state = C_DONE;
                c->done = 1;
            }
            i++;
            break;
        case C_TRL:
            c->state = ch == '\r' ? C_END_LF : C_TRL_LINE;
            if (ch != '\r' && ++c->junk > CHUNK_JUNK_MAX) {
                rc = FERRY_EPARSE;
                goto out;
            }
            i++;
            break;
        case C_TRL_LINE:
            if (ch == '\r')
                c->state = C_TRL_LF;
            else if (ch == '\n' || ++c->junk > CHUNK_JUNK_MAX) {
                rc = FERRY_EPARSE;
                goto out;
            }
            i++;
            break;
        default:
            rc = FERRY_EPARSE;
            goto out;
        }
    }
out:
    *used = i;
    return rc;
}

/* ---- connections ------------------------------------------------------------------------- */

int fakes3_conn_init(fakes3_conn_t *c, int fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->rbuf = malloc(FAKES3_HTTP_MAX_HEAD + 1);
    c->scratch = malloc(FAKES3_CONN_SCRATCH);
    if (c->rbuf == NULL || c->scratch == NULL) {
        fakes3_conn_close(c);
        return FERRY_ENOMEM;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return FERRY_OK;
}

static void pace(fakes3_conn_t *c, size_t n)
{
    if (c->bw == 0)
        return;
    c->bw_bytes += n;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed =
        (double)(now.tv_sec - c->bw_t0.tv_sec) + (double)(now.tv_nsec - c->bw_t0.tv_nsec) / 1e9;
    double due = (double)c->bw_bytes / (double)c->bw;
    if (due > elapsed) {
        double d = due - elapsed;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

void fakes3_conn_pace(fakes3_conn_t *c, uint64_t bw)
{
    c->bw = bw;
    c->bw_bytes = 0;
    clock_gettime(CLOCK_MONOTONIC, &c->bw_t0);
}

/* The largest single transfer while paced, so pacing is smooth. */
static size_t pace_chunk(const fakes3_conn_t *c, size_t n)
{
    if (c->bw == 0)
        return n;
    size_t lim = (size_t)(c->bw / 20);
    if (lim < 1024)
        lim = 1024;
    return n < lim ? n : lim;
}

static ssize_t recv_some(fakes3_conn_t *c, void *dst, size_t n)
{
    for (;;) {
        ssize_t r = recv(c->fd, dst, pace_chunk(c, n), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0)
            pace(c, (size_t)r);
        return r;
    }
}

int fakes3_conn_read_head(fakes3_conn_t *c, fakes3_http_req_t *req)
{
    /* The previous request's strings are dead now: move leftover bytes to the front. */
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = c->head_end = 0;
    }
    for (;;) {
        if (c->rlen > 0) {
            int rc = fakes3_http_parse(c->rbuf, c->rlen, req);
            if (rc == FERRY_OK) {
                c->rpos = c->head_end = req->head_len;
                return FERRY_OK;
            }
            if (rc != FERRY_ERETRY)
                return rc;
        }
        if (c->rlen >= FAKES3_HTTP_MAX_HEAD)
            return FERRY_ETOOBIG;
        ssize_t r = recv_some(c, c->rbuf + c->rlen, FAKES3_HTTP_MAX_HEAD - c->rlen);
        if (r <= 0)
            return FERRY_EIO;
        c->rlen += (size_t)r;
    }
}

int fakes3_conn_read(fakes3_conn_t *c, void *dst, size_t n)
{
    char *d = dst;
    size_t have = c->rlen - c->rpos;
    if (have > 0) {
        size_t take = have < n ? have : n;
        memcpy(d, c->rbuf + c->rpos, take);
        c->rpos += take;
        d += take;
        n -= take;
        c->bytes_in += take;
    }
    while (n > 0) {
        ssize_t r = recv_some(c, d, n);
        if (r <= 0)
            return FERRY_EIO;
        d += r;
        n -= (size_t)r;
        c->bytes_in += (uint64_t)r;
    }
    return FERRY_OK;
}

int fakes3_conn_read_chunked_some(fakes3_conn_t *c, fakes3_chunked_t *ch, ferry_buf_t *out)
{
    size_t used;
    int rc;
    if (ch->done)
        return FERRY_OK;
    /* Buffered bytes first. */
    if (c->rpos < c->rlen) {
        rc = fakes3_chunked_feed(ch, c->rbuf + c->rpos, c->rlen - c->rpos, &used, out);
        c->rpos += used;
        c->bytes_in += used;
        return rc;
    }
    /* Every buffered byte after the head has been decoded: free that room for the bytes of a
     * pipelined request this recv may bring (the head read may have filled the buffer with
     * body bytes). The head stays: the request's strings point into it. */
    c->rpos = c->rlen = c->head_end;
    ssize_t r = recv_some(c, c->scratch, FAKES3_CONN_SCRATCH);
    if (r <= 0)
        return FERRY_EIO;
    rc = fakes3_chunked_feed(ch, c->scratch, (size_t)r, &used, out);
    c->bytes_in += used;
    if (rc != FERRY_OK)
        return rc;
    if (used < (size_t)r) {
        /* A pipelined request follows: keep its bytes after the current head. */
        size_t extra = (size_t)r - used;
        if (extra > FAKES3_HTTP_MAX_HEAD - c->rlen)
            return FERRY_ETOOBIG;
        memcpy(c->rbuf + c->rlen, c->scratch + used, extra);
        c->rlen += extra;
    }
    return FERRY_OK;
}

int fakes3_conn_read_chunked(fakes3_conn_t *c, ferry_buf_t *out)
{
    fakes3_chunked_t ch;
    memset(&ch, 0, sizeof(ch));
    int rc = FERRY_OK;
    while (rc == FERRY_OK && !ch.done)
        rc = fakes3_conn_read_chunked_some(c, &ch, out);
    return rc;
}

int fakes3_conn_write(fakes3_conn_t *c, const void *p, size_t n, int more)
{
    const char *s = p;
    while (n > 0) {
        size_t want = pace_chunk(c, n);
        ssize_t w = send(c->fd, s, want, MSG_NOSIGNAL | ((more || want < n) ? MSG_MORE : 0));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return FERRY_EIO;
        }
        pace(c, (size_t)w);
        s += w;
        n -= (size_t)w;
    }
    return FERRY_OK;
}

void fakes3_conn_reset(fakes3_conn_t *c)
{
    if (c->fd >= 0) {
        struct linger lg = {1, 0};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(c->fd);
        c->fd = -1;
    }
}

void fakes3_conn_close(fakes3_conn_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->rbuf);
    free(c->scratch);
    c->rbuf = c->scratch = NULL;
}
