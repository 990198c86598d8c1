/* bench_event_latency — the client side of test/bench/bench_event_latency.sh.
 *
 *   bench_event_latency latency REDIS_URL PORT TASK BUCKET PREFIX COUNT INTERVAL_MS SIZE
 *   bench_event_latency load PORT TASK RATE [both|task|metrics]
 *
 * latency: POST an OSS Function Compute event for PREFIX + %08d (fakes3's seeded names, the
 * objects already in the source) to 127.0.0.1:PORT every INTERVAL_MS, COUNT of them, and poll
 * each posted key's ledger record every 5 ms until it is `done` (60 s at most). Per event the
 * latency is from just before the POST's connect to the poll that saw `done` (so it includes
 * the POST itself; resolution about 5 ms). Prints p50/p90/p99/max in ms. Exit 1 when a POST
 * is not 202 or an event is not done in time.
 *
 * load: GET /v1/tasks/TASK and /metrics alternately (or only one of them), RATE requests per second
 * (a new connection each), until SIGTERM or SIGINT; then prints the requests sent, the non-200
 * answers and the mean answer time.
 *
 * The token: FERRY_API_TOKEN. */
#include "ferry/ledger.h"
#include "ferry/redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 100000

static int port;
static const char *token;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request (Connection: close); the status or -1. The body is read and dropped. */
static int http(const char *method, const char *path, const char *data)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    char req[8192];
    size_t len = data ? strlen(data) : 0;
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, token, len, data ? data : "");
    if (n <= 0 || (size_t)n >= sizeof(req)) {
        close(fd);
        return -1;
    }
    for (size_t sent = 0; sent < (size_t)n;) {
        ssize_t k = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        sent += (size_t)k;
    }
    char buf[65536];
    size_t got = 0;
    ssize_t k;
    int status = -1;
    while ((k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
        got += (size_t)k;
        if (got == sizeof(buf) - 1) { /* keep the status line, drop the rest */
            buf[got] = '\0';
            if (status < 0 && sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                status = -2;
            got = 0;
        }
    }
    buf[got] = '\0';
    if (status == -1 && sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    close(fd);
    return status;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (i < 1)
        i = 1;
    return v[(i > n ? n : i) - 1];
}

static int latency(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: bench_event_latency latency REDIS_URL PORT TASK BUCKET PREFIX "
                        "COUNT INTERVAL_MS SIZE\n");
        return 2;
    }
    const char *redis_url = argv[2], *task = argv[4], *bucket = argv[5], *prefix = argv[6];
    port = atoi(argv[3]);
    long count = atol(argv[7]), interval = atol(argv[8]);
    long long size = atoll(argv[9]);
    if (strlen(bucket) > 63 || strlen(prefix) > 200) {
        fprintf(stderr, "bench_event_latency: BUCKET at most 63 bytes, PREFIX at most 200\n");
        return 2;
    }
    if (count < 1 || count > MAX_EVENTS || interval < 1 || size < 0) {
        fprintf(stderr, "bench_event_latency: COUNT 1..%d, INTERVAL_MS >= 1, SIZE >= 0\n",
                MAX_EVENTS);
        return 2;
    }
    ferry_redis_t *r = NULL;
    ferry_ledger_t *led = NULL;
    ferry_error_t err;
    if (ferry_redis_connect(redis_url, NULL, &r, &err) != FERRY_OK ||
        ferry_ledger_open(r, task, 0, &led) != FERRY_OK) {
        fprintf(stderr, "bench_event_latency: cannot open task %s at %s\n", task, redis_url);
        return 1;
    }
    double *t0 = calloc((size_t)count, sizeof(double));
    double *lat = calloc((size_t)count, sizeof(double));
    char path[512];
    snprintf(path, sizeof(path), "/v1/tasks/%s/events", task);
    if (t0 == NULL || lat == NULL)
        return 1;
    long posted = 0, finished = 0, first_open = 0, bad = 0;
    double start = mono_ms(), next = start, deadline = 0;
    ferry_record_t rec;
    while (finished < count) {
        double now = mono_ms();
        if (posted < count && now >= next) {
            char key[256], ev[4096], when[64];
            snprintf(key, sizeof(key), "%s%08ld", prefix, posted);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            struct tm tm;
            gmtime_r(&ts.tv_sec, &tm);
            snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ts.tv_nsec / 1000000));
            snprintf(ev, sizeof(ev),
                     "{\"events\":[{\"eventName\":\"ObjectCreated:PutObject\",\"eventSource\":"
                     "\"acs:oss\",\"eventTime\":\"%s\",\"eventVersion\":\"1.0\",\"oss\":{"
                     "\"bucket\":{\"name\":\"%s\"},\"object\":{\"key\":\"%s\",\"size\":%lld}},"
                     "\"region\":\"cn-hangzhou\"}]}",
                     when, bucket, key, size);
            t0[posted] = mono_ms();
            int st = http("POST", path, ev);
            if (st != 202) {
                fprintf(stderr, "bench_event_latency: POST %s answered %d\n", key, st);
                bad++;
                lat[posted] = -1;
                finished++;
            }
            posted++;
            next += (double)interval;
            if (posted == count)
                deadline = mono_ms() + 60000;
        }
        for (long i = first_open; i < posted; i++) {
            if (lat[i] != 0)
                continue;
            char key[256];
            snprintf(key, sizeof(key), "%s%08ld", prefix, i);
            if (ferry_ledger_get(led, key, &rec) == FERRY_OK && rec.state == FERRY_STATE_DONE) {
                lat[i] = mono_ms() - t0[i];
                finished++;
            }
        }
        while (first_open < posted && lat[first_open] != 0)
            first_open++;
        if (deadline && mono_ms() > deadline) {
            fprintf(stderr, "bench_event_latency: %ld events not done after 60 s\n",
                    count - finished);
            bad += count - finished;
            break;
        }
        usleep(5000);
    }
    size_t n = 0;
    for (long i = 0; i < count; i++)
        if (lat[i] > 0)
            lat[n++] = lat[i];
    qsort(lat, n, sizeof(double), cmp_double);
    if (n)
        printf("events %zu done of %ld, POST every %ld ms, %lld bytes each: event->done ms p50 "
               "%.0f p90 %.0f p99 %.0f max %.0f (posting took %.1f s)\n",
               n, count, interval, size, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99),
               lat[n - 1], (next - start) / 1e3);
    free(t0);
    free(lat);
    ferry_ledger_free(led);
    ferry_redis_free(r);
    return bad ? 1 : 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

#define LOAD_THREADS 8

typedef struct loader_s {
    pthread_t th;
    const char *task_path;
    int routes; /* 0 both in turn, 1 the task only, 2 /metrics only */
    double rate, offset_ms;
    int index;
    long sent, non200;
    double busy, max;
} loader_t;

/* One of LOAD_THREADS open-loop senders: its share of the rate, so a slow answer delays only
 * this thread's next request, not the whole load. */
static void *loader(void *arg)
{
    loader_t *l = arg;
    double next = mono_ms() + l->offset_ms;
    while (!stop) {
        double now = mono_ms();
        if (now < next) {
            usleep((useconds_t)((next - now) * 1000));
            continue;
        }
        int metrics = l->routes == 0 ? (int)((l->sent + l->index) % 2) : l->routes == 2;
        int st = http("GET", metrics ? "/metrics" : l->task_path, NULL);
        double took = mono_ms() - now;
        l->busy += took;
        if (took > l->max)
            l->max = took;
        l->non200 += st != 200 && !stop; /* a request cut by the signal does not count */
        l->sent++;
        next += 1000.0 / l->rate;
    }
    return NULL;
}

static int load(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bench_event_latency load PORT TASK RATE [both|task|metrics]\n");
        return 2;
    }
    int routes = argc == 6 ? (strcmp(argv[5], "task") == 0      ? 1
                              : strcmp(argv[5], "metrics") == 0 ? 2
                              : strcmp(argv[5], "both") == 0    ? 0
                                                                : -1)
                           : 0;
    if (routes < 0) {
        fprintf(stderr, "bench_event_latency: routes: both, task or metrics\n");
        return 2;
    }
    port = atoi(argv[2]);
    double rate = atof(argv[4]);
    if (rate <= 0 || rate > 100000) {
        fprintf(stderr, "bench_event_latency: RATE 0..100000 requests/s\n");
        return 2;
    }
    if (strlen(argv[3]) > 256) {
        fprintf(stderr, "bench_event_latency: TASK at most 256 bytes\n");
        return 2;
    }
    char task_path[512];
    snprintf(task_path, sizeof(task_path), "/v1/tasks/%s", argv[3]);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* the signal goes to the main thread (the senders block it) */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    loader_t l[LOAD_THREADS];
    double start = mono_ms();
    for (int i = 0; i < LOAD_THREADS; i++) {
        l[i] = (loader_t){.task_path = task_path,
                          .routes = routes,
                          .rate = rate / LOAD_THREADS,
                          .offset_ms = 1000.0 / rate * i,
                          .index = i};
        if (pthread_create(&l[i].th, NULL, loader, &l[i]) != 0) {
            fprintf(stderr, "bench_event_latency: cannot start a thread\n");
            return 1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    while (!stop)
        pause();
    long sent = 0, non200 = 0;
    double busy = 0, max = 0;
    for (int i = 0; i < LOAD_THREADS; i++) {
        pthread_join(l[i].th, NULL);
        sent += l[i].sent;
        non200 += l[i].non200;
        busy += l[i].busy;
        if (l[i].max > max)
            max = l[i].max;
    }
    double secs = (mono_ms() - start) / 1e3;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("read load: %ld requests in %.1f s (%.0f/s), %ld not 200, answer mean %.2f ms max "
           "%.0f ms, this client's CPU %.2f s\n",
           sent, secs, secs > 0 ? sent / secs : 0, non200, sent ? busy / sent : 0, max, cpu);
    return non200 ? 1 : 0;
}

int main(int argc, char **argv)
{
    token = getenv("FERRY_API_TOKEN");
    if (token == NULL || strlen(token) > 1024) {
        fprintf(stderr, "bench_event_latency: set FERRY_API_TOKEN\n");
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "latency") == 0)
        return latency(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "load") == 0)
        return load(argc, argv);
    fprintf(stderr, "usage: bench_event_latency latency|load ... (see the source's header)\n");
    return 2;
}
