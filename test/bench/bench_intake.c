/* bench_intake — events/s accepted by POST /v1/tasks/NAME/events over keep-alive connections.
 * Each of CONNS threads keeps one connection and POSTs REQS bodies of RECORDS S3 notification
 * records each (every key new, so every record is queued), waiting for each 202. Used by
 * test/bench/bench_intake.sh, which starts Redis and the server.
 *
 *   bench_intake PORT TOKEN TASK CONNS REQS RECORDS
 *
 * Prints "records=R conns=C requests=N events=E secs=S events/s=X requests/s=Y". Exit 0, or
 * 1 when a request failed (with the status and body). Not a test: no pass/fail threshold. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, conns, reqs, records;
static const char *token, *task;

typedef struct {
    int id;
    long long events;
    int failed;
} worker_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Read one response (headers + Content-Length body); returns the status or -1. */
static int read_one(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char *end = NULL;
    while (end == NULL) {
        if (n + 1 >= cap)
            return -1;
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = -1;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    const char *cl = strcasestr(buf, "content-length:");
    size_t want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    size_t have = n - (size_t)(end + 4 - buf);
    while (have < want) {
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0)
            return -1;
        n += (size_t)k;
        have += (size_t)k;
        buf[n] = '\0';
    }
    return status;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        w->failed = 1;
        return NULL;
    }
    size_t cap = (size_t)records * 400 + 1024;
    char *body = malloc(cap), *req = malloc(cap + 1024), resp[65536];
    for (int i = 0; i < reqs && !w->failed; i++) {
        size_t n = (size_t)snprintf(body, cap, "{\"Records\":[");
        for (int j = 0; j < records; j++)
            n += (size_t)snprintf(
                body + n, cap - n,
                "%s{\"eventSource\":\"aws:s3\",\"eventTime\":\"2026-08-13T06:45:43.000Z\","
                "\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"src-bucket\"},"
                "\"object\":{\"key\":\"bench/%d/%d/%d/%d.bin\",\"size\":1024,\"sequencer\":"
                "\"0055AED6DCD90281E5\"}}}",
                j ? "," : "", records, w->id, i, j);
        n += (size_t)snprintf(body + n, cap - n, "]}");
        int hn = snprintf(req, cap + 1024,
                          "POST /v1/tasks/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          task, token, n);
        memcpy(req + hn, body, n);
        if (send_all(fd, req, (size_t)hn + n) != 0) {
            w->failed = 1;
            break;
        }
        int st = read_one(fd, resp, sizeof(resp));
        if (st != 202) {
            fprintf(stderr, "request %d: status %d: %.300s\n", i, st, resp);
            w->failed = 1;
            break;
        }
        w->events += records;
    }
    free(body);
    free(req);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: bench_intake PORT TOKEN TASK CONNS REQS RECORDS\n");
        return 1;
    }
    port = atoi(argv[1]);
    token = argv[2];
    task = argv[3];
    conns = atoi(argv[4]);
    reqs = atoi(argv[5]);
    records = atoi(argv[6]);
    if (conns < 1 || conns > 256 || reqs < 1 || records < 1 || records > 1000) {
        fprintf(stderr, "bench_intake: CONNS 1..256, REQS >= 1, RECORDS 1..1000\n");
        return 1;
    }
    pthread_t th[256];
    worker_t w[256];
    double t0 = now_s();
    for (int i = 0; i < conns; i++) {
        w[i] = (worker_t){.id = i};
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    long long events = 0;
    int failed = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        events += w[i].events;
        failed |= w[i].failed;
    }
    double secs = now_s() - t0;
    printf("records=%d conns=%d requests=%lld events=%lld secs=%.2f events/s=%.0f "
           "requests/s=%.0f\n",
           records, conns, events / records, events, secs, (double)events / secs,
           (double)events / records / secs);
    return failed;
}
