/* ferry — HTTP transport: libcurl multi on a libuv loop. See ferry/http.h and
 * docs/internals/s3-client.md ("Transport").
 *
 * Shape (after curl's docs/examples/multi-uv.c, with the ownership rules libuv asks for):
 *   - one curl multi handle per transport; its socket callback opens one uv_poll_t per socket
 *     (sock_t, freed in its close callback), its timer callback drives one uv_timer_t;
 *   - every uv callback calls curl_multi_socket_action and then drains curl_multi_info_read,
 *     calling completion callbacks there, outside any curl callback;
 *   - anything a user may call from inside a curl callback (unpause, cancel, close) is only
 *     flagged and done from a zero-delay "defer" timer, because curl forbids removing or
 *     unpausing handles from inside its own callbacks;
 *   - the transport is freed when its last uv handle has closed.
 */
#include "ferry/http.h"

#include "ferry/list.h"

#include <curl/curl.h>

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define ERROR_BODY_MAX   (64u * 1024)
#define DEFAULT_BODY_MAX (1u << 20)
#define MAX_RESP_HEADERS 256
#define MAX_HEADER_BYTES (64u * 1024)
/* Idle easy handles kept for reuse. An easy handle is ~6 KiB of state plus its receive buffer
 * (CURLOPT_BUFFERSIZE); initialising one per request was a measurable share of the loop's CPU
 * on small objects. The cap bounds what an idle transport holds. */
#define EASY_POOL_MAX 256
/* Upload buffer: large for streamed and large bodies (fewer read callbacks and send calls per
 * MiB), small for small memory bodies — curl allocates it for every upload and frees it when
 * the transfer is done, whatever the handle's reuse. */
#define UPLOAD_BUF_LARGE (512L * 1024)
#define UPLOAD_BUF_MIN   (16L * 1024)
/* A memory body up to this size goes with the request head in one send (CURLOPT_POSTFIELDS:
 * curl 7.88 puts a body under 64 KiB in the head's buffer), not head and body in two sends
 * through the read callback: one system call less per small PUT. */
#define INLINE_BODY_MAX (60L * 1024)

typedef struct sock_s sock_t;

struct ferry_http_s {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* curl's timeout */
    uv_timer_t defer; /* deferred unpause / cancel / close work */
    ferry_http_opts_t opts;
    char *ca_file;
    ferry_list_t reqs; /* in-flight requests (ferry_http_req_t.link), newest first */
    size_t nreqs;
    ferry_list_t socks; /* open poll handles (sock_t.link), newest first */
    /* Connection sockets by fd (those curl opened through open_sock), with their poll handle
     * while they have one. A socket that goes idle in curl's connection cache keeps its handle
     * ("parked") until curl closes it through close_sock, so a reused connection costs no new
     * handle, no FIONBIO ioctl and no epoll add/delete per request. Owned; grows to the
     * highest fd seen (at most SOCK_FD_MAX). */
    struct conn_fd_s {
        sock_t *s;
        unsigned char ours;
    } * byfd;
    size_t nbyfd;
    int in_curl;     /* depth of calls into curl that may run our curl callbacks */
    int dispatching; /* inside check_info */
    int closing;
    int open_handles;          /* uv handles not yet closed */
    CURL *pool[EASY_POOL_MAX]; /* idle easy handles, reset (no request state, no references) */
    int no_env_proxy;          /* none of the proxy variables curl reads is set (env_has_proxy) */
    size_t npool;
    void (*closed_cb)(void *);
    void *closed_arg;
};

struct sock_s {
    uv_poll_t poll;
    ferry_http_t *h;
    curl_socket_t fd;
    int closing;
    int events; /* what the poll handle watches now (0: stopped) */
    int parked; /* idle in curl's cache: watched for a peer close only, not reported to curl */
    ferry_list_t link; /* in h->socks */
};

#define SOCK_FD_MAX  (1u << 20)
#define HDR_LINE_MAX 16384 /* a request header line, "Name: value" */

struct ferry_http_req_s {
    ferry_http_t *h;
    CURL *easy;
    /* the request headers: one malloc block, the list's nodes then their text (curl only reads
     * the list), so free() it, never curl_slist_free_all */
    struct curl_slist *hdrs;
    ferry_list_t link;      /* in h->reqs */
    ferry_http_reqopts_t o; /* copy; strings below are owned copies */
    /* the caller's, read during submit only: curl copies the URL and a custom method */
    const char *url;
    const char *method;
    char *connect_to;
    struct curl_slist *connect_to_list;
    int64_t body_off; /* memory body: next byte to send */
    int inline_body;  /* the memory body goes as CURLOPT_POSTFIELDS (sent with the head) */
    /* response */
    long status;
    size_t nresp_hdrs;
    size_t hdr_bytes;
    /* Response headers, each "name\0value\0", one allocation for all of them. Bounded by
     * MAX_HEADER_BYTES (plus two NULs per header); the kv pointers are fixed up when it moves. */
    char *hdr_arena;
    size_t hdr_arena_len, hdr_arena_cap;
    int headers_done;
    ferry_buf_t body; /* captured body (2xx without sink, or any error body) */
    int body_truncated;
    int abort_rc; /* a callback's abort code, or 0 */
    int cancel_pending;
    int unpause_pending;
    int paused;
    int64_t sent;
    int64_t received;
    /* Last, and not zeroed by submit (4 KiB of a request that usually has a dozen headers):
     * the first nresp_hdrs entries are set, errbuf is a string. */
    char errbuf[CURL_ERROR_SIZE];
    ferry_kv_t resp_hdrs[MAX_RESP_HEADERS]; /* name/value point into hdr_arena */
};

static void check_info(ferry_http_t *h);
static void defer_schedule(ferry_http_t *h);

/* ---- uv handle bookkeeping --------------------------------------------------------------- */

static void maybe_free(ferry_http_t *h)
{
    if (!h->closing || h->open_handles > 0)
        return;
    void (*cb)(void *) = h->closed_cb;
    void *arg = h->closed_arg;
    free(h->ca_file);
    free(h->byfd);
    free(h);
    if (cb)
        cb(arg);
}

static void handle_closed(uv_handle_t *hd)
{
    ferry_http_t *h = hd->data;
    h->open_handles--;
    maybe_free(h);
}

static void sock_closed(uv_handle_t *hd)
{
    sock_t *s = hd->data;
    ferry_http_t *h = s->h;
    free(s);
    h->open_handles--;
    maybe_free(h);
}

static void sock_close(sock_t *s)
{
    ferry_http_t *h = s->h;
    if (s->closing)
        return;
    s->closing = 1;
    if (s->fd >= 0 && (size_t)s->fd < h->nbyfd && h->byfd[s->fd].s == s)
        h->byfd[s->fd].s = NULL;
    ferry_list_remove(&s->link);
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* ---- curl -> uv ---------------------------------------------------------------------------- */

static void socket_action(ferry_http_t *h, curl_socket_t fd, int flags)
{
    int running = 0;
    h->in_curl++;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    h->in_curl--;
    check_info(h);
}

static void poll_cb(uv_poll_t *p, int status, int events);

/* Watch events on s (0 stops it); no system call when that is what it watches already. */
static void sock_watch(sock_t *s, int events)
{
    if (events == s->events)
        return;
    s->events = events;
    if (events)
        uv_poll_start(&s->poll, events, poll_cb);
    else
        uv_poll_stop(&s->poll);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    sock_t *s = p->data;
    int flags = 0;
    if (s->parked) { /* the peer closed an idle connection, or sent junk: curl sees it on reuse */
        sock_watch(s, 0);
        return;
    }
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    socket_action(s->h, s->fd, flags);
}

static void timer_cb(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    ferry_http_t *h = userp;
    (void)multi;
    if (h->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else /* 0 means "as soon as possible", but never from inside this callback */
        uv_timer_start(&h->timer, timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    ferry_http_t *h = userp;
    sock_t *s = socketp;
    (void)easy;
    struct conn_fd_s *cf = fd >= 0 && (size_t)fd < h->nbyfd ? &h->byfd[fd] : NULL;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(h->multi, fd, NULL);
            if (cf && cf->ours && cf->s == s && !h->closing) {
                s->parked = 1; /* kept until close_sock; a peer close wakes it once */
                sock_watch(s, UV_READABLE);
                uv_unref((uv_handle_t *)&s->poll); /* an idle connection keeps no loop alive */
            } else
                sock_close(s);
        }
        return 0;
    }
    if (!s && cf && cf->s) { /* a cached connection back in use */
        s = cf->s;
        s->parked = 0;
        uv_ref((uv_handle_t *)&s->poll);
        curl_multi_assign(h->multi, fd, s);
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return -1;
        ferry_list_init(&s->link);
        if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->h = h;
        s->fd = fd;
        s->poll.data = s;
        ferry_list_insert_head(&h->socks, &s->link);
        h->open_handles++;
        curl_multi_assign(h->multi, fd, s);
        if (cf && cf->ours)
            cf->s = s;
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    sock_watch(s, events);
    return 0;
}

/* Whether any environment variable curl 7.x/8.x consults for a proxy is set (even empty).
 * Without one, every request would still look them up (up to seven getenv scans of the whole
 * environment each): the transport then tells curl "no proxy" explicitly, which is what those
 * lookups would conclude. With one, curl reads them itself, as before. */
static int env_has_proxy(void)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                       "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: open the socket as curl would, and note it as a connection
 * socket (its poll handle may be parked while the connection idles). */
static curl_socket_t open_sock(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    ferry_http_t *h = clientp;
    (void)purpose;
    curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0 || (size_t)fd >= SOCK_FD_MAX)
        return fd; /* works, just never parked */
    if ((size_t)fd >= h->nbyfd) {
        size_t n = h->nbyfd ? h->nbyfd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct conn_fd_s *v = realloc(h->byfd, n * sizeof(*v));
        if (v == NULL)
            return fd;
        memset(v + h->nbyfd, 0, (n - h->nbyfd) * sizeof(*v));
        h->byfd = v;
        h->nbyfd = n;
    }
    h->byfd[fd].ours = 1;
    h->byfd[fd].s = NULL;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: drop the socket's poll handle (parked or not; uv_close removes
 * it from epoll while the fd is still open), then close it. */
static int close_sock(void *clientp, curl_socket_t fd)
{
    ferry_http_t *h = clientp;
    if (fd >= 0 && (size_t)fd < h->nbyfd) {
        sock_t *s = h->byfd[fd].s;
        h->byfd[fd].ours = 0;
        h->byfd[fd].s = NULL;
        if (s)
            sock_close(s);
    }
    return close(fd);
}

/* ---- requests ------------------------------------------------------------------------------- */

/* An easy handle for a new request: an idle one when there is one. */
static CURL *easy_get(ferry_http_t *h)
{
    if (h->npool)
        return h->pool[--h->npool];
    return curl_easy_init();
}

/* Back to the pool, reset: curl_easy_reset drops every option (so no pointer into the finished
 * request survives) but keeps the handle's buffers; connections, DNS and TLS sessions live in
 * the multi handle either way. A closing transport frees it instead. */
static void easy_put(ferry_http_t *h, CURL *e)
{
    if (!e)
        return;
    if (h->closing || h->npool >= EASY_POOL_MAX) {
        curl_easy_cleanup(e);
        return;
    }
    curl_easy_reset(e);
    h->pool[h->npool++] = e;
}

static void pool_drain(ferry_http_t *h)
{
    while (h->npool)
        curl_easy_cleanup(h->pool[--h->npool]);
}

static void req_free(ferry_http_req_t *r)
{
    if (!r)
        return;
    easy_put(r->h, r->easy);
    free(r->hdrs);
    curl_slist_free_all(r->connect_to_list);
    free(r->hdr_arena);
    ferry_buf_free(&r->body);
    free(r->connect_to);
    free(r);
}

static void req_unlink(ferry_http_req_t *r)
{
    ferry_http_t *h = r->h;
    ferry_list_remove(&r->link);
    h->nreqs--;
}

static int is_2xx(long s)
{
    return s >= 200 && s < 300;
}

static void fill_resp(ferry_http_req_t *r, ferry_http_resp_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = r->status;
    resp->headers = r->resp_hdrs;
    resp->nheaders = r->nresp_hdrs;
    resp->body = ferry_buf_cstr(&r->body);
    resp->body_len = r->body.len;
    resp->body_truncated = r->body_truncated;
    resp->bytes_sent = r->inline_body && r->status != 0 ? r->o.body_len : r->sent;
    resp->bytes_received = r->received;
    if (r->easy) {
        long nconn = 0;
        curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &resp->total_s);
        curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn);
        resp->reused = (nconn == 0 && r->status != 0);
    }
}

/* Detach from the multi handle, call done once, free. Never called inside a curl callback. */
static void req_finish(ferry_http_req_t *r, int rc, const char *msg)
{
    ferry_http_t *h = r->h;
    ferry_error_t err;
    ferry_http_resp_t resp;

    h->in_curl++;
    curl_multi_remove_handle(h->multi, r->easy);
    h->in_curl--;
    req_unlink(r);
    ferry_error_clear(&err);
    if (rc != FERRY_OK) {
        ferry_error_set(&err, rc, "%s", msg && *msg ? msg : ferry_strerror(rc));
        err.http_status = (int)r->status;
    }
    fill_resp(r, &resp);
    r->o.done(r->o.arg, rc, &err, &resp);
    req_free(r);
}

static int map_curl(CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return FERRY_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return FERRY_ETIMEOUT;
    case CURLE_OUT_OF_MEMORY:
        return FERRY_ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return FERRY_ECONFIG; /* retrying cannot fix these */
    default:
        return FERRY_ENET;
    }
}

static void check_info(ferry_http_t *h)
{
    CURLMsg *m;
    int left;
    if (h->dispatching)
        return;
    h->dispatching = 1;
    while (!h->closing && (m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        ferry_http_req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode c = m->data.result;
        int rc;
        const char *msg = r->errbuf;
        char tmp[160];
        if (r->cancel_pending) {
            rc = FERRY_ECANCELED;
            msg = "request canceled";
        } else if (r->abort_rc) {
            rc = r->abort_rc;
            snprintf(tmp, sizeof(tmp), "request aborted: %s", ferry_strerror(rc));
            msg = tmp;
        } else {
            rc = map_curl(c);
            if (rc && !*msg)
                msg = curl_easy_strerror(c);
        }
        req_finish(r, rc, msg);
    }
    h->dispatching = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    ferry_http_req_t *r = arg;
    size_t len = size * n;
    if (r->cancel_pending)
        return 0;
    /* A status line starts a new response (100-continue, or a 1xx before the final one). */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        r->nresp_hdrs = 0;
        r->hdr_arena_len = 0;
        r->hdr_bytes = 0;
        r->headers_done = 0;
        const char *sp = memchr(p, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n')) {
        if (r->status >= 200 && !r->headers_done) {
            r->headers_done = 1;
            if (r->o.on_headers) {
                ferry_http_resp_t resp;
                fill_resp(r, &resp);
                resp.body = "";
                resp.body_len = 0;
                int rc = r->o.on_headers(r->o.arg, &resp);
                if (rc != FERRY_OK) {
                    r->abort_rc = rc;
                    return 0;
                }
            }
        }
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len; /* obsolete folding or junk: ignore */
    r->hdr_bytes += len;
    if (r->nresp_hdrs >= MAX_RESP_HEADERS || r->hdr_bytes > MAX_HEADER_BYTES)
        return len; /* keep the first ones; the rest are dropped */
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v), need = nlen + vlen + 2;
    if (r->hdr_arena_len + need > r->hdr_arena_cap) {
        /* hdr_bytes bounds the total, so this grows a few times at most */
        size_t cap = r->hdr_arena_cap ? r->hdr_arena_cap * 2 : 2048;
        while (cap < r->hdr_arena_len + need)
            cap *= 2;
        char *na = realloc(r->hdr_arena, cap);
        if (!na) {
            r->abort_rc = FERRY_ENOMEM;
            return 0;
        }
        for (size_t i = 0; i < r->nresp_hdrs; i++) { /* re-point into the moved arena */
            r->resp_hdrs[i].name = na + (r->resp_hdrs[i].name - r->hdr_arena);
            r->resp_hdrs[i].value = na + (r->resp_hdrs[i].value - r->hdr_arena);
        }
        r->hdr_arena = na;
        r->hdr_arena_cap = cap;
    }
    char *name = r->hdr_arena + r->hdr_arena_len, *val = name + nlen + 1;
    r->hdr_arena_len += need;
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)p[i]);
    name[nlen] = 0;
    memcpy(val, v, vlen);
    val[vlen] = 0;
    r->resp_hdrs[r->nresp_hdrs].name = name;
    r->resp_hdrs[r->nresp_hdrs].value = val;
    r->nresp_hdrs++;
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    ferry_http_req_t *r = arg;
    size_t len = size * n;
    if (r->cancel_pending)
        return 0;
    if (!is_2xx(r->status) || !r->o.sink) {
        size_t cap = is_2xx(r->status) ? r->o.body_max : ERROR_BODY_MAX;
        size_t room = r->body.len < cap ? cap - r->body.len : 0;
        size_t take = len < room ? len : room;
        if (take < len) {
            if (is_2xx(r->status)) {
                r->abort_rc = FERRY_ETOOBIG; /* a 2xx body we must parse cannot be cut */
                return 0;
            }
            r->body_truncated = 1;
        }
        if (take && ferry_buf_add(&r->body, p, take) != FERRY_OK) {
            r->abort_rc = FERRY_ENOMEM;
            return 0;
        }
        r->received += (int64_t)len;
        return len;
    }
    int rc = r->o.sink(r->o.arg, p, len);
    if (rc == FERRY_HTTP_PAUSE) {
        r->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc == FERRY_HTTP_PAUSE_AFTER) {
        /* Both directions: pausing only RECV makes curl 7.88 schedule the transfer again at
         * once as readable, and that read would go to the pause buffer (a copy). Only GETs
         * have sinks, so there is no send to stop; CURLPAUSE_CONT resumes both. */
        r->paused = 1;
        curl_easy_pause(r->easy, CURLPAUSE_ALL);
        r->received += (int64_t)len;
        return len;
    }
    if (rc != FERRY_OK) {
        r->abort_rc = rc;
        return 0;
    }
    r->received += (int64_t)len;
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    ferry_http_req_t *r = arg;
    size_t len = size * n;
    if (r->cancel_pending)
        return CURL_READFUNC_ABORT;
    if (r->o.body) {
        int64_t left = r->o.body_len - r->body_off;
        size_t take = left < (int64_t)len ? (size_t)left : len;
        memcpy(buf, r->o.body + r->body_off, take);
        r->body_off += (int64_t)take;
        r->sent += (int64_t)take;
        return take;
    }
    if (!r->o.source)
        return 0;
    ssize_t got = r->o.source(r->o.arg, buf, len);
    if (got == FERRY_HTTP_PAUSE) {
        r->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    if (got < 0) {
        r->abort_rc = (int)got;
        return CURL_READFUNC_ABORT;
    }
    if ((size_t)got > len) {
        r->abort_rc = FERRY_EINVAL;
        return CURL_READFUNC_ABORT;
    }
    if (r->sent + got > r->o.body_len) {
        r->abort_rc = FERRY_ERANGE; /* the source gave more than it promised */
        return CURL_READFUNC_ABORT;
    }
    r->sent += got;
    return (size_t)got;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
    ferry_http_req_t *r = arg;
    if (r->o.body && origin == SEEK_SET && off >= 0 && off <= r->o.body_len) {
        r->body_off = off;
        r->sent = off;
        return CURL_SEEKFUNC_OK;
    }
    return CURL_SEEKFUNC_CANTSEEK;
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int has_header(const ferry_http_reqopts_t *o, const char *name)
{
    for (size_t i = 0; i < o->nheaders; i++)
        if (strcasecmp(o->headers[i].name, name) == 0)
            return 1;
    return 0;
}

static int req_setup(ferry_http_t *h, ferry_http_req_t *r)
{
    const ferry_http_reqopts_t *o = &r->o;
    CURL *e = r->easy;
    int rc = FERRY_OK;

    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* S3 keys may hold "/../" and "//" */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->no_env_proxy) { /* no proxy: said once, instead of curl's getenv scans per request */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
    if (h->opts.low_speed_time_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, h->opts.low_speed_limit);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->opts.low_speed_time_s);
    }
    if (o->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_sock);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_sock);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)FERRY_HTTP_RECV_MAX);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->opts.insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->opts.insecure ? 0L : 2L);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->opts.verbose)
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    if (r->connect_to) {
        r->connect_to_list = curl_slist_append(NULL, r->connect_to);
        if (!r->connect_to_list) {
            rc = FERRY_ENOMEM;
            goto out;
        }
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to_list);
    }

    int has_body = o->body || o->source;
    int upload = has_body || !strcmp(r->method, "PUT") || !strcmp(r->method, "POST");
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (upload && !o->source && o->body_len <= INLINE_BODY_MAX) {
        r->inline_body = 1;
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body ? o->body : "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (upload) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(has_body ? o->body_len : 0));
        long ubuf = UPLOAD_BUF_LARGE;
        if (!o->source && o->body_len < UPLOAD_BUF_LARGE)
            ubuf = o->body_len > UPLOAD_BUF_MIN ? (long)o->body_len : UPLOAD_BUF_MIN;
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, ubuf);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
        if (strcmp(r->method, "PUT") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }

    /* No "Expect: 100-continue" round trip, and no header the signature does not cover
     * beyond curl's harmless defaults. curl would add "Content-Type:
     * application/x-www-form-urlencoded" to a POSTFIELDS request, and S3 would store it as
     * the object's type: "Content-Type:" removes it. "Name;" sends an empty header; "Name:"
     * would remove it. The list is built in one block (two allocations per header with
     * curl_slist_append, ~30 per copy). */
    int no_ctype = r->inline_body && !has_header(o, "Content-Type");
    size_t nn = 1 + (size_t)no_ctype + o->nheaders,
           text = sizeof("Expect:") + sizeof("Content-Type:");
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *v = o->headers[i].value ? o->headers[i].value : "";
        size_t ln = strlen(o->headers[i].name) + 2 + strlen(v) + 1;
        if (ln > HDR_LINE_MAX) {
            rc = FERRY_ETOOBIG;
            goto out;
        }
        text += ln;
    }
    struct curl_slist *l = malloc(nn * sizeof(*l) + text);
    if (!l) {
        rc = FERRY_ENOMEM;
        goto out;
    }
    r->hdrs = l;
    char *t = (char *)(l + nn);
    size_t k = 0;
#define HDR_NEXT()                                                                                 \
    do {                                                                                           \
        l[k].data = t;                                                                             \
        l[k].next = k + 1 < nn ? &l[k + 1] : NULL;                                                 \
        k++;                                                                                       \
    } while (0)
    /* the text by memcpy (sprintf was ~900 instructions a line, ~6 lines a request) */
    HDR_NEXT();
    memcpy(t, "Expect:", sizeof("Expect:"));
    t += sizeof("Expect:");
    if (no_ctype) {
        HDR_NEXT();
        memcpy(t, "Content-Type:", sizeof("Content-Type:"));
        t += sizeof("Content-Type:");
    }
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *v = o->headers[i].value ? o->headers[i].value : "";
        size_t nl = strlen(o->headers[i].name), vl = strlen(v);
        HDR_NEXT();
        memcpy(t, o->headers[i].name, nl);
        t += nl;
        if (vl) { /* "Name: value" */
            memcpy(t, ": ", 2);
            t += 2;
        } else { /* "Name;": an empty header (see above) */
            *t++ = ';';
        }
        memcpy(t, v, vl);
        t += vl;
        *t++ = '\0';
    }
#undef HDR_NEXT
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
out:
    return rc;
}

int ferry_http_submit(ferry_http_t *h, const ferry_http_reqopts_t *o, ferry_http_req_t **out)
{
    ferry_http_req_t *r = NULL;
    int rc = FERRY_OK;

    if (out)
        *out = NULL;
    if (!h || !o || !o->method || !o->url || !o->done || o->body_len < 0 || (o->body && o->source))
        return FERRY_EINVAL;
    if (h->closing)
        return FERRY_ECANCELED;
    r = malloc(sizeof(*r));
    if (!r)
        return FERRY_ENOMEM;
    memset(r, 0, offsetof(ferry_http_req_t, errbuf));
    r->errbuf[0] = '\0';
    ferry_list_init(&r->link);
    r->h = h;
    r->o = *o;
    r->o.headers = NULL; /* copied into the slist; not kept */
    r->o.nheaders = 0;
    if (!r->o.body_max)
        r->o.body_max = DEFAULT_BODY_MAX;
    ferry_buf_init(&r->body, r->o.body_max > ERROR_BODY_MAX ? r->o.body_max : ERROR_BODY_MAX);
    r->url = o->url;
    r->method = o->method;
    r->connect_to = dupstr(o->connect_to);
    r->easy = easy_get(h);
    if (!r->url || !r->method || (o->connect_to && !r->connect_to) || !r->easy) {
        rc = FERRY_ENOMEM;
        goto fail;
    }
    r->o.headers = o->headers;
    r->o.nheaders = o->nheaders;
    rc = req_setup(h, r);
    r->o.headers = NULL;
    r->o.nheaders = 0;
    r->url = r->method = NULL; /* the caller's: not kept past submit */
    if (rc)
        goto fail;
    ferry_list_insert_head(&h->reqs, &r->link);
    h->nreqs++;
    h->in_curl++;
    CURLMcode mc = curl_multi_add_handle(h->multi, r->easy);
    h->in_curl--;
    if (mc != CURLM_OK) {
        req_unlink(r);
        rc = mc == CURLM_OUT_OF_MEMORY ? FERRY_ENOMEM : FERRY_EINVAL;
        goto fail;
    }
    if (out)
        *out = r;
    return FERRY_OK;
fail:
    req_free(r);
    return rc;
}

/* ---- deferred work ------------------------------------------------------------------------ */

static void teardown(ferry_http_t *h);

static void defer_cb(uv_timer_t *t)
{
    ferry_http_t *h = t->data;
    if (h->closing) {
        teardown(h);
        return;
    }
    /* Cancels first: they complete (call done) here, outside every curl callback. */
    for (;;) {
        ferry_http_req_t *r = NULL;
        ferry_list_t *it;
        FERRY_LIST_FOREACH (it, &h->reqs) {
            if (FERRY_LIST_ENTRY(it, ferry_http_req_t, link)->cancel_pending) {
                r = FERRY_LIST_ENTRY(it, ferry_http_req_t, link);
                break;
            }
        }
        if (!r)
            break;
        req_finish(r, FERRY_ECANCELED, "request canceled");
        if (h->closing) {
            teardown(h);
            return;
        }
    }
    ferry_list_t *it;
    FERRY_LIST_FOREACH (it, &h->reqs) {
        ferry_http_req_t *r = FERRY_LIST_ENTRY(it, ferry_http_req_t, link);
        if (r->unpause_pending) {
            r->unpause_pending = 0;
            r->paused = 0;
            h->in_curl++;
            curl_easy_pause(r->easy, CURLPAUSE_CONT);
            h->in_curl--;
        }
    }
    check_info(h);
}

static void defer_schedule(ferry_http_t *h)
{
    if (!uv_is_active((uv_handle_t *)&h->defer))
        uv_timer_start(&h->defer, defer_cb, 0, 0);
}

void ferry_http_unpause(ferry_http_req_t *r)
{
    if (!r || r->cancel_pending)
        return;
    ferry_http_t *h = r->h;
    if (h->in_curl || h->closing) {
        r->unpause_pending = 1;
        defer_schedule(h);
        return;
    }
    r->paused = 0;
    h->in_curl++;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
    h->in_curl--;
    /* curl_easy_pause asks for an immediate timeout; the timer callback drives it on. */
}

void ferry_http_cancel(ferry_http_req_t *r)
{
    if (!r || r->cancel_pending)
        return;
    r->cancel_pending = 1;
    defer_schedule(r->h);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int ferry_http_new(uv_loop_t *loop, const ferry_http_opts_t *opts, ferry_http_t **out)
{
    static int curl_inited;
    ferry_http_t *h;

    if (!loop || !out)
        return FERRY_EINVAL;
    *out = NULL;
    if (!curl_inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return FERRY_ENOMEM;
        curl_inited = 1;
    }
    h = calloc(1, sizeof(*h));
    if (!h)
        return FERRY_ENOMEM;
    ferry_list_init(&h->reqs);
    ferry_list_init(&h->socks);
    h->loop = loop;
    h->no_env_proxy = !env_has_proxy();
    if (opts)
        h->opts = *opts;
    if (h->opts.connect_timeout_ms <= 0)
        h->opts.connect_timeout_ms = 10000;
    if (h->opts.low_speed_limit <= 0)
        h->opts.low_speed_limit = 1;
    if (h->opts.low_speed_time_s == 0)
        h->opts.low_speed_time_s = 30;
    if (h->opts.max_cached_conns <= 0)
        h->opts.max_cached_conns = 256;
    if (opts && opts->ca_file && !(h->ca_file = strdup(opts->ca_file))) {
        free(h);
        return FERRY_ENOMEM;
    }
    h->opts.ca_file = h->ca_file;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h->ca_file);
        free(h);
        return FERRY_ENOMEM;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, h->opts.max_cached_conns);
    if (h->opts.max_host_conns > 0)
        curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, h->opts.max_host_conns);
    if (h->opts.max_total_conns > 0)
        curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, h->opts.max_total_conns);
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    uv_timer_init(loop, &h->defer);
    h->defer.data = h;
    h->open_handles = 2;
    *out = h;
    return FERRY_OK;
}

static void teardown(ferry_http_t *h)
{
    /* Complete every request with ECANCELED; callbacks may not submit (closing is set). */
    ferry_list_t *first;
    while ((first = ferry_list_first(&h->reqs)) != NULL) {
        ferry_http_req_t *r = FERRY_LIST_ENTRY(first, ferry_http_req_t, link);
        r->cancel_pending = 1;
        req_finish(r, FERRY_ECANCELED, "transport closed");
    }
    if (h->multi) {
        h->in_curl++;
        curl_multi_cleanup(h->multi); /* may call curl_socket_cb(REMOVE) */
        h->in_curl--;
        h->multi = NULL;
    }
    pool_drain(h);
    while ((first = ferry_list_first(&h->socks)) != NULL)
        sock_close(FERRY_LIST_ENTRY(first, sock_t, link));
    if (!uv_is_closing((uv_handle_t *)&h->timer)) {
        uv_close((uv_handle_t *)&h->timer, handle_closed);
        uv_close((uv_handle_t *)&h->defer, handle_closed);
    }
}

void ferry_http_close(ferry_http_t *h, void (*closed_cb)(void *arg), void *arg)
{
    if (!h || h->closing)
        return;
    h->closing = 1;
    h->closed_cb = closed_cb;
    h->closed_arg = arg;
    /* Flag in-flight requests so their curl callbacks stop at once; finish from the loop. */
    ferry_list_t *it;
    FERRY_LIST_FOREACH (it, &h->reqs)
        FERRY_LIST_ENTRY(it, ferry_http_req_t, link)->cancel_pending = 1;
    uv_timer_stop(&h->timer);
    uv_timer_start(&h->defer, defer_cb, 0, 0);
}

size_t ferry_http_active(const ferry_http_t *h)
{
    return h ? h->nreqs : 0;
}

const char *ferry_http_resp_header(const ferry_http_resp_t *r, const char *name)
{
    if (!r || !name)
        return NULL;
    /* on_header stores each name lowercased with its value right behind it in the arena, so a
     * name's length is value - name - 1: most headers are ruled out by their length, without
     * a string compare (a 16 KiB copy looked up ~30 headers among ~10, 2% of a worker) */
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++) {
        const ferry_kv_t *h = &r->headers[i];
        if ((size_t)(h->value - h->name) == n + 1 && !strncasecmp(h->name, name, n))
            return h->value;
    }
    return NULL;
}
