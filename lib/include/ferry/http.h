/* ferry — HTTP transport: libcurl multi driven by a libuv loop.
 *
 * One ferry_http_t owns one curl multi handle bound to a caller's uv_loop_t: sockets are
 * watched with a uv_poll_t each (CURLMOPT_SOCKETFUNCTION), curl's timeout with one uv_timer_t
 * (CURLMOPT_TIMERFUNCTION), and everything advances through curl_multi_socket_action. Any
 * number of requests may be in flight; they share the multi handle's connection cache, so
 * keep-alive connections are reused across requests (and across S3 clients that share one
 * transport).
 *
 * Threading: everything here runs on the loop's thread, including every callback. Nothing is
 * thread-safe.
 *
 * Callback contract (as libuv's): when ferry_http_submit() returns an error, no callback of
 * that request is ever called; when it returns FERRY_OK, the completion callback is called
 * exactly once, later, from the loop (never from inside ferry_http_submit, ferry_http_cancel
 * or ferry_http_unpause).
 *
 * Bodies are streamed: a request body comes from a *source* callback that fills a buffer and
 * may pause; a response body goes to a *sink* callback per chunk that may pause. Pausing is how
 * a GET is piped into a PUT through a bounded ring: the GET's sink pauses when the ring is
 * full, the PUT's source pauses when it is empty, and each side unpauses the other.
 */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include "ferry/error.h"
#include "ferry/sigv4.h" /* ferry_kv_t */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_http_s ferry_http_t;
typedef struct ferry_http_req_s ferry_http_req_t;

/* Transport options. Zeroed fields take the defaults in brackets. */
typedef struct ferry_http_opts_s {
    long connect_timeout_ms; /* TCP+TLS connect [10000] */
    long low_speed_limit;    /* abort a transfer slower than this many bytes/s ... [1] */
    long low_speed_time_s;   /* ... for this many seconds [30]; -1 disables the check */
    long max_host_conns;     /* connections per host, 0 = unlimited [0] */
    long max_total_conns;    /* connections in total, 0 = unlimited [0] */
    long max_cached_conns;   /* idle keep-alive connections kept [256] */
    int insecure;            /* 1: do not verify TLS peers or host names. Off by default; only an
                                explicit option turns it on. */
    const char *ca_file;     /* CA bundle, or NULL for the system's; copied */
    int verbose;             /* 1: curl's verbose trace on stderr (debugging only) */
} ferry_http_opts_t;

/* A response as far as it has been received. Header names are lowercased; values trimmed.
 * Borrowed: valid during the callback that receives it. */
typedef struct ferry_http_resp_s {
    long status;               /* final HTTP status (1xx interim responses are skipped) */
    const ferry_kv_t *headers; /* all response headers of the final response */
    size_t nheaders;
    const char *body; /* the captured body (NUL-terminated), or "" — see below */
    size_t body_len;
    int body_truncated;     /* 1 when the body was longer than the capture cap */
    int64_t bytes_sent;     /* request body bytes sent */
    int64_t bytes_received; /* response body bytes received */
    double total_s;         /* curl's total time */
    int reused;             /* 1 when an existing keep-alive connection carried it */
} ferry_http_resp_t;

/* The value of a response header (name lowercase), or NULL. */
const char *ferry_http_resp_header(const ferry_http_resp_t *r, const char *name);

/* Returned by source and sink callbacks to pause the transfer until ferry_http_unpause(). */
#define FERRY_HTTP_PAUSE (-1000)
/* Returned by a sink: the chunk WAS consumed; pause receiving now, before curl reads more from
 * the socket (resume with ferry_http_unpause). Bytes curl already read still reach the sink
 * first, FERRY_HTTP_RECV_MAX at most, so a sink that keeps that much room when it answers this
 * never has to refuse a chunk. Refusing one (FERRY_HTTP_PAUSE) makes curl copy the rest of its
 * receive buffer aside, in a fresh allocation, and hand it over again later. */
#define FERRY_HTTP_PAUSE_AFTER (-1001)
/* curl's receive buffer (CURLOPT_BUFFERSIZE): the most a sink is handed from one read. */
#define FERRY_HTTP_RECV_MAX (256u * 1024)

/* Request body source. Fill buf with up to n bytes and return how many (> 0), 0 at the end of
 * the body, FERRY_HTTP_PAUSE to pause sending (then call ferry_http_unpause when data is
 * ready; the source is called again), or a negative ferry error code to abort the request
 * (the completion callback then gets that code). */
typedef ssize_t (*ferry_http_source_cb)(void *arg, char *buf, size_t n);

/* Response body sink, called per chunk of a 2xx response body (error bodies are captured,
 * never passed to the sink). Return FERRY_OK when the chunk was consumed, FERRY_HTTP_PAUSE to
 * pause receiving — the chunk is then NOT consumed and is passed again (possibly with more
 * data appended) after ferry_http_unpause —, FERRY_HTTP_PAUSE_AFTER (consumed, then pause), or
 * a negative ferry code to abort. */
typedef int (*ferry_http_sink_cb)(void *arg, const char *p, size_t n);

/* Called once, when the headers of the final response are complete and before any body
 * byte reaches the sink. resp->body is empty. Return FERRY_OK to go on or a negative ferry
 * code to abort the request. */
typedef int (*ferry_http_headers_cb)(void *arg, const ferry_http_resp_t *resp);

/* Completion. rc is FERRY_OK when a complete response was received, whatever its status; else
 * FERRY_ENET (connection refused, reset, DNS, TLS), FERRY_ETIMEOUT (connect timeout, low-speed
 * limit, request timeout), FERRY_ECANCELED (ferry_http_cancel or ferry_http_close), or the
 * code a callback aborted with. err holds a message (curl's) when rc != FERRY_OK. resp is
 * never NULL: on failure it holds what was received. After this returns the request is freed:
 * its handle must not be used again. */
typedef void (*ferry_http_done_cb)(void *arg, int rc, const ferry_error_t *err,
                                   const ferry_http_resp_t *resp);

/* One request. Everything is copied by ferry_http_submit except body (borrowed until the
 * completion callback) and arg. */
typedef struct ferry_http_reqopts_s {
    const char *method;        /* "GET", "PUT", "HEAD", "POST", "DELETE" */
    const char *url;           /* absolute, already percent-encoded */
    const ferry_kv_t *headers; /* extra request headers ("Name", "value") */
    size_t nheaders;
    /* Request body: either a memory body (body != NULL, body_len bytes) or a source
     * (source != NULL, body_len bytes exactly: sent as Content-Length), or none (body_len 0,
     * source NULL; PUT and POST then send Content-Length: 0). */
    const char *body;
    int64_t body_len;
    ferry_http_source_cb source;
    /* Response body: to the sink when set (2xx only), else captured up to body_max bytes
     * [1 MiB] into resp->body. Error bodies (non-2xx) are captured up to 64 KiB. */
    ferry_http_sink_cb sink;
    size_t body_max;
    ferry_http_headers_cb on_headers;
    ferry_http_done_cb done;
    void *arg;
    long timeout_ms;        /* whole request, 0 = none (the low-speed limit still applies) */
    const char *connect_to; /* optional curl CONNECT_TO entry "HOST:PORT:CONNECT-HOST:PORT" */
} ferry_http_reqopts_t;

/* Create a transport on loop. opts may be NULL. *out is new (close with ferry_http_close).
 * FERRY_OK, FERRY_ENOMEM, FERRY_EINVAL. Calls curl_global_init the first time (not
 * thread-safe; call once at start-up before threads if in doubt). */
int ferry_http_new(uv_loop_t *loop, const ferry_http_opts_t *opts, ferry_http_t **out);

/* Cancel every request (each completion callback gets FERRY_ECANCELED), tear down the multi
 * handle and close the uv handles. The transport is freed from the last close callback; then
 * closed_cb (may be NULL) is called. h may be NULL (closed_cb is then not called). The loop
 * must run for the close to finish. */
void ferry_http_close(ferry_http_t *h, void (*closed_cb)(void *arg), void *arg);

/* Start a request. *out (may be NULL) gets a handle, borrowed until the completion callback
 * returns, for ferry_http_cancel / ferry_http_unpause. FERRY_OK, FERRY_EINVAL, FERRY_ENOMEM,
 * FERRY_ECANCELED (transport closing). */
int ferry_http_submit(ferry_http_t *h, const ferry_http_reqopts_t *o, ferry_http_req_t **out);

/* Resume a paused source and/or sink. Safe from any callback on the loop (the resume is
 * deferred to the loop when called from inside a transfer's callback). No-op when not
 * paused. */
void ferry_http_unpause(ferry_http_req_t *r);

/* Cancel: the completion callback is called later with FERRY_ECANCELED (unless the request
 * completes first; either way exactly once). */
void ferry_http_cancel(ferry_http_req_t *r);

/* Number of requests in flight. */
size_t ferry_http_active(const ferry_http_t *h);

#ifdef __cplusplus
}
#endif
#endif
