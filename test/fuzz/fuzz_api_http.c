/* Fuzz the whole HTTP request path of the API (scheduler/api.c): the bytes of a request —
 * request line, query string, headers, body — go over a loopback socket to a real server
 * (ferry_api_start: libmicrohttpd and the same callback `ferry scheduler --listen` serves
 * with), which routes, authenticates, reads the body and runs the route's handler against a
 * fake Redis that answers every command the same way. So every route reaches its Redis error
 * and odd-reply paths (an error, OK, an integer, an empty array, nil, an empty scan page)
 * without a real Redis, and every answer must be a well-formed HTTP status line.
 *
 * Task t1 (oss://src-bucket/ -> s3://dst/) exists: the fake answers its definition, unless
 * byte 0's high bit is set (then no task exists).
 *
 * Input: byte 0 picks the fake Redis's answer (mod 6); then, one per line, the method, the
 * URL (path and query), header lines up to an empty line, and the body (any bytes). The
 * harness adds Host, Content-Length (the body's) and Connection: close, and drops those
 * headers from the input, so every request is complete and gets an answer (a truncated
 * request only waits for the connection timeout: test_api covers slow and partial clients).
 * The API token is "fuzz-token" (the seed corpus test/data/fuzz/fuzz_api_http/ carries it). */
#define _GNU_SOURCE /* strcasestr */
#include "fuzz.h"
#include "api.h"

#include "ferry/log.h"
#include "ferry/task.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define FAKE_CLIENTS 64
#define FAKE_BUF     (64 * 1024)

/* ---- a fake Redis: one reply per RESP command, chosen by the current input ------------------ */

static const char *const answers[] = {
    "-ERR fake redis says no\r\n", "+OK\r\n", ":1\r\n", "*0\r\n", "$-1\r\n",
    "*2\r\n$1\r\n0\r\n*0\r\n", /* an empty, finished HSCAN/SCAN page */
};
#define NANSWERS (sizeof(answers) / sizeof(answers[0]))

static atomic_uint mode;
static char *task_reply; /* "$N\r\n<the definition of task t1 as JSON>\r\n" */

/* The first two arguments of a complete RESP command (lengths capped by the buffers). */
static void resp_args(const char *b, size_t n, char *a0, char *a1, size_t cap)
{
    char *out[2] = {a0, a1};
    a0[0] = a1[0] = '\0';
    const char *p = memchr(b, '\n', n);
    for (int i = 0; i < 2 && p && (size_t)(p + 1 - b) < n && p[1] == '$'; i++) {
        long len = strtol(p + 2, NULL, 10);
        const char *s = memchr(p + 1, '\n', n - (size_t)(p + 1 - b));
        if (s == NULL || len < 0 || (size_t)(s + 1 - b) + (size_t)len > n)
            return;
        snprintf(out[i], cap, "%.*s", (int)((size_t)len < cap ? (size_t)len : cap - 1), s + 1);
        p = s + 1 + len + 1;
    }
}

typedef struct {
    int fd;
    size_t len;
    char buf[FAKE_BUF];
} fake_client_t;

/* Bytes of one complete RESP array command at b[0..n), 0 when incomplete, -1 when not RESP. */
static long resp_command(const char *b, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return 0;
    if (b[0] != '*')
        return -1;
    char *e;
    const char *crlf = memchr(b, '\n', n);
    if (crlf == NULL)
        return 0;
    long argc = strtol(b + 1, &e, 10);
    if (argc < 0 || argc > 100000)
        return -1;
    i = (size_t)(crlf - b) + 1;
    for (long a = 0; a < argc; a++) {
        if (i >= n)
            return 0;
        if (b[i] != '$')
            return -1;
        crlf = memchr(b + i, '\n', n - i);
        if (crlf == NULL)
            return 0;
        long len = strtol(b + i + 1, &e, 10);
        if (len < 0 || len > FAKE_BUF)
            return -1;
        i = (size_t)(crlf - b) + 1 + (size_t)len + 2;
        if (i > n)
            return 0;
    }
    return (long)i;
}

static void fake_close(fake_client_t *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void *fake_redis(void *arg)
{
    int ls = *(int *)arg;
    static fake_client_t cl[FAKE_CLIENTS];
    for (int i = 0; i < FAKE_CLIENTS; i++)
        cl[i].fd = -1;
    for (;;) {
        struct pollfd p[FAKE_CLIENTS + 1];
        int map[FAKE_CLIENTS + 1], n = 0;
        p[n].fd = ls;
        p[n].events = POLLIN;
        map[n++] = -1;
        for (int i = 0; i < FAKE_CLIENTS; i++)
            if (cl[i].fd >= 0) {
                p[n].fd = cl[i].fd;
                p[n].events = POLLIN;
                map[n++] = i;
            }
        if (poll(p, (nfds_t)n, -1) < 0)
            continue;
        if (p[0].revents & POLLIN) {
            int fd = accept(ls, NULL, NULL);
            int k = 0;
            while (fd >= 0 && k < FAKE_CLIENTS && cl[k].fd >= 0)
                k++;
            if (fd >= 0 && k < FAKE_CLIENTS)
                cl[k].fd = fd;
            else if (fd >= 0)
                close(fd);
        }
        for (int j = 1; j < n; j++) {
            fake_client_t *c = &cl[map[j]];
            if (!(p[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
            if (got <= 0) {
                fake_close(c);
                continue;
            }
            c->len += (size_t)got;
            long used;
            while ((used = resp_command(c->buf, c->len)) > 0) {
                unsigned m = atomic_load(&mode);
                const char *a = answers[m % NANSWERS];
                char a0[16], a1[32];
                resp_args(c->buf, (size_t)used, a0, a1, sizeof(a0));
                /* The task t1 exists unless the mode's high bit says not, so the routes get
                 * past the definition to their own Redis calls. */
                if (!(m & 0x80) && strcasecmp(a0, "HGET") == 0 && strcmp(a1, "ferry:tasks") == 0)
                    a = task_reply;
                if (write(c->fd, a, strlen(a)) != (ssize_t)strlen(a))
                    break;
                memmove(c->buf, c->buf + used, c->len - (size_t)used);
                c->len -= (size_t)used;
            }
            if (used < 0 || c->len == sizeof(c->buf))
                fake_close(c);
        }
    }
    return NULL;
}

/* ---- the server ----------------------------------------------------------------------------- */

static int api_port;

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    ferry_log_setup(FERRY_LOG_OFF, 2);
    static int ls;
    ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 128) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        perror("fuzz_api_http: fake redis");
        abort();
    }
    ferry_task_t task;
    ferry_error_t terr;
    char *targs[] = {"--from", "oss://src-bucket/", "--to", "s3://dst/", "--delete"};
    ferry_task_init(&task);
    snprintf(task.name, sizeof(task.name), "t1");
    json_t *tj = NULL;
    char *js = NULL;
    if (ferry_task_parse_args(&task, 5, targs, &terr) != FERRY_OK ||
        (tj = ferry_task_to_json(&task)) == NULL || (js = json_dumps(tj, JSON_COMPACT)) == NULL ||
        (task_reply = malloc(strlen(js) + 32)) == NULL)
        abort();
    sprintf(task_reply, "$%zu\r\n%s\r\n", strlen(js), js);
    free(js);
    json_decref(tj);
    ferry_task_clear(&task);
    pthread_t t;
    if (pthread_create(&t, NULL, fake_redis, &ls) != 0)
        abort();
    pthread_detach(t);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
    ferry_api_opts_t o = {.listen = "127.0.0.1:0",
                          .redis_url = url,
                          .token = "fuzz-token",
                          .threads = 2,
                          .timeout_s = 5,
                          .max_body = 64 * 1024};
    ferry_api_t *api = NULL;
    ferry_error_t err;
    ferry_error_clear(&err);
    if (ferry_api_start(&o, &api, &err) != FERRY_OK) {
        fprintf(stderr, "fuzz_api_http: %s\n", err.msg);
        abort();
    }
    api_port = ferry_api_port(api); /* api lives as long as the process */
}

/* Case-insensitive: does header line h start with name? */
static int header_is(const char *h, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n >= k && strncasecmp(h, name, k) == 0;
}

/* 1 when s[0..n) is 1+ token characters (a method, a header name). */
static int is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("!#$%&'*+-.^_`|~", s[i]) != NULL) ||
            s[i] == '\0')
            return 0;
    return 1;
}

/* 1 when s[0..n) is printable ASCII without spaces (from, if first is set, a '/'). */
static int is_printable(const char *s, size_t n, char first, int spaces)
{
    if (first && (n == 0 || s[0] != first))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < (spaces ? 0x20 : 0x21) || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* The request the input describes (see the top of the file), written to out (cap bytes):
 * its length, or 0 when it does not fit. The framing (Host, Content-Length, Connection) is
 * ours, so the server always sees a complete request. *wellformed is 1 when the request
 * line and headers are well-formed HTTP too (then the server must answer; otherwise
 * libmicrohttpd may just close the connection). */
static size_t build_request(const uint8_t *d, size_t n, char *out, size_t cap, int *wellformed)
{
    const char *p = (const char *)d, *end = p + n;
    const char *line[2] = {"GET", "/"};
    size_t len[2] = {3, 1};
    for (int i = 0; i < 2 && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        line[i] = p;
        len[i] = nl ? (size_t)(nl - p) : (size_t)(end - p);
        p = nl ? nl + 1 : end;
    }
    *wellformed = is_token(line[0], len[0]) && is_printable(line[1], len[1], '/', 0);
    if (len[0] + len[1] + 64 > cap)
        return 0;
    size_t o = 0;
    memcpy(out + o, line[0], len[0]);
    o += len[0];
    out[o++] = ' ';
    memcpy(out + o, line[1], len[1]);
    o += len[1];
    o += (size_t)snprintf(out + o, cap - o, " HTTP/1.1\r\nHost: fuzz\r\n");
    int w;
    while (p < end) { /* headers, up to an empty line */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t hl = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *h = p;
        p = nl ? nl + 1 : end;
        if (hl == 0)
            break;
        if (header_is(h, hl, "content-length") || header_is(h, hl, "transfer-encoding") ||
            header_is(h, hl, "connection") || header_is(h, hl, "host") || memchr(h, '\r', hl))
            continue;
        const char *colon = memchr(h, ':', hl);
        if (colon == NULL || !is_token(h, (size_t)(colon - h)) ||
            !is_printable(colon + 1, hl - (size_t)(colon + 1 - h), 0, 1))
            *wellformed = 0;
        if (o + hl + 2 >= cap)
            return 0;
        memcpy(out + o, h, hl);
        memcpy(out + o + hl, "\r\n", 2);
        o += hl + 2;
    }
    size_t body = (size_t)(end - p);
    w = snprintf(out + o, cap - o, "Content-Length: %zu\r\nConnection: close\r\n\r\n", body);
    if (w < 0 || (size_t)w >= cap - o || o + (size_t)w + body > cap)
        return 0;
    o += (size_t)w;
    memcpy(out + o, p, body);
    return o + body;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static char req[256 * 1024], resp[1 << 16];
    pthread_once(&once, setup);
    if (size < 1)
        return 0;
    int wellformed = 0;
    size_t rlen = build_request(data + 1, size - 1, req, sizeof(req), &wellformed);
    if (rlen == 0)
        return 0;
    atomic_store(&mode, data[0]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)api_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return 0;
    }
    for (size_t off = 0; off < rlen;) {
        ssize_t w = send(fd, req + off, rlen - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server answered before the body (a 413, a 401): fine */
        off += (size_t)w;
    }
    /* Read the answer: up to the end of its headers and Content-Length bytes, or the close. */
    size_t got = 0, want = 0;
    for (;;) {
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        resp[got] = '\0';
        const char *eoh = strstr(resp, "\r\n\r\n");
        if (want == 0 && eoh) {
            const char *cl = strcasestr(resp, "\r\ncontent-length:");
            want = (size_t)(eoh + 4 - resp) + (cl && cl < eoh ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if ((want && got >= want) || got == sizeof(resp) - 1)
            break;
    }
    close(fd);
    resp[got] = '\0';
    if (getenv("FUZZ_API_HTTP_VERBOSE")) /* what the seeds reach: the answers' first lines */
        fprintf(stderr, "%.*s\n", (int)strcspn(resp, "\r"), resp);
    /* A well-formed request gets an answer, and any answer starts with a status line. */
    if ((wellformed || got > 0) && strncmp(resp, "HTTP/1.1 ", 9) != 0) {
        fprintf(stderr, "fuzz_api_http: no answer to a complete request (%zu bytes: %.40s)\n", got,
                resp);
        __builtin_trap();
    }
    return 0;
}
