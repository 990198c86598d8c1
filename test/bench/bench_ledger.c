/* bench_ledger: enqueue rate (pipelined), transition rate, status latency, and Redis memory per
 * ledger object, against a redis-server it starts itself (no persistence, so INFO memory shows
 * the data only).
 *
 *   bench_ledger [--objects N] [--workers W] [--tuned] [--design bucket|hash]
 *
 * --tuned starts Redis with the private server's listpack settings (hash-max-listpack-value
 * 1024, -entries 512); without it Redis 7's defaults (64 / 128) apply. --design hash measures
 * the naive design (one Redis hash per object, text fields) for comparison.
 * Build without sanitizers for meaningful figures. Not registered as a test. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry/clock.h"
#include "ferry/ledger.h"
#include "ferry/queue.h"
#include "ferry/status.h"
#include "ferry/task.h"

static char url[64];

static ferry_redis_t *conn(void)
{
    ferry_redis_t *r;
    ferry_error_t e;
    ferry_redis_opts_t o = {.command_timeout_ms = 600000};
    if (ferry_redis_connect(url, &o, &r, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    return r;
}

static long long used_memory(ferry_redis_t *r)
{
    redisReply *rep;
    if (ferry_redis_cmd(r, &rep, "INFO memory"))
        return -1;
    const char *p = strstr(rep->str, "used_memory:");
    long long v = p ? atoll(p + 12) : -1;
    freeReplyObject(rep);
    return v;
}

static void key_of(char *b, size_t n, long i)
{
    snprintf(b, n, "photos/2026/%02ld/%02ld/IMG_%07ld.jpg", 1 + i % 12, 1 + (i / 12) % 28, i);
}

static pid_t start_redis(int port, int tuned, const char *dir)
{
    pid_t p = fork();
    if (p == 0) {
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", port);
        if (tuned)
            execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save",
                   "", "--appendonly", "no", "--dir", dir, "--hash-max-listpack-value", "1024",
                   "--hash-max-listpack-entries", "512", "--loglevel", "warning", (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save",
                   "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    return p;
}

/* Wait for the forked transition workers; returns the time they were all done. */
static double wait_workers(int workers)
{
    int bad = 0;
    for (int w = 0; w < workers; w++) {
        int st;
        wait(&st);
        bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    double t = ferry_mono_s();
    if (bad)
        fprintf(stderr, "%d transition workers failed\n", bad);
    return t;
}

static int cmpd(const void *x, const void *y);

int main(int argc, char **argv)
{
    long N = 1000000;
    int workers = 4, tuned = 0, hash_design = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--objects") && i + 1 < argc)
            N = atol(argv[++i]);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tuned"))
            tuned = 1;
        else if (!strcmp(argv[i], "--design") && i + 1 < argc)
            hash_design = !strcmp(argv[++i], "hash");
        else {
            fprintf(stderr, "usage: bench_ledger [--objects N] [--workers W] [--tuned] [--design "
                            "bucket|hash]\n");
            return 2;
        }
    }
    int port = 20000 + (int)(getpid() % 20000);
    char dir[] = "/tmp/bench_ledgerXXXXXX";
    if (!mkdtemp(dir))
        return 1;
    pid_t rp = start_redis(port, tuned, dir);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    ferry_redis_t *r = NULL;
    for (int i = 0; i < 100 && r == NULL; i++) {
        usleep(50000);
        ferry_error_t e;
        if (ferry_redis_connect(url, NULL, &r, &e))
            r = NULL;
    }
    if (r == NULL) {
        fprintf(stderr, "redis-server did not start\n");
        kill(rp, SIGKILL);
        return 1;
    }
    printf("objects=%ld config=%s design=%s\n", N, tuned ? "tuned" : "default",
           hash_design ? "hash-per-object" : "bucketed-msgpack");
    long long m0 = used_memory(r);

    if (hash_design) {
        /* The naive layout: one hash per object, every field as text. */
        double t0 = ferry_mono_s();
        char k[256], size[24], mt[24], qa[24];
        for (long i = 0; i < N; i++) {
            char kk[128];
            key_of(kk, sizeof(kk), i);
            snprintf(k, sizeof(k), "ferry:{b}:obj:%s", kk);
            snprintf(size, sizeof(size), "%ld", 100000 + i);
            snprintf(mt, sizeof(mt), "%ld", 1786603543 + i);
            snprintf(qa, sizeof(qa), "%ld", 1786603600 + i);
            const char *a[] = {"HSET",        k,
                               "state",       "done",
                               "size",        size,
                               "src_etag",    "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10",
                               "src_mtime",   mt,
                               "src_crc64",   "11051505435318425153",
                               "dst_etag",    "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"",
                               "attempts",    "1",
                               "origin",      "scan",
                               "queued_at",   qa,
                               "started_at",  qa,
                               "finished_at", qa,
                               "duration_ms", "12",
                               "worker",      "host-a/3"};
            ferry_redis_append(r, (int)(sizeof(a) / sizeof(a[0])), a, NULL);
            if (i % 1000 == 999 || i == N - 1) {
                long m = i % 1000 + 1;
                for (long j = 0; j < m; j++) {
                    redisReply *x;
                    if (ferry_redis_read(r, &x))
                        return 1;
                    freeReplyObject(x);
                }
            }
        }
        double t1 = ferry_mono_s();
        long long m1 = used_memory(r);
        printf("hash-per-object: write %.0f objects/s, memory %.1f bytes/object\n", N / (t1 - t0),
               (double)(m1 - m0) / N);
        ferry_redis_free(r);
        kill(rp, SIGTERM);
        waitpid(rp, NULL, 0);
        return 0;
    }

    ferry_ledger_t *l;
    uint32_t buckets = FERRY_LEDGER_DEFAULT_BUCKETS;
    if (ferry_ledger_open(r, "b", buckets, &l))
        return 1;
    /* 1. enqueue, pipelined in batches */
    const long B = 1000;
    ferry_item_t *items = calloc((size_t)B, sizeof(*items));
    char(*keys)[64] = calloc((size_t)B, 64);
    double t0 = ferry_mono_s();
    for (long off = 0; off < N; off += B) {
        long m = N - off < B ? N - off : B;
        for (long i = 0; i < m; i++) {
            key_of(keys[i], 64, off + i);
            items[i] = (ferry_item_t){.key = keys[i],
                                      .size = (uint64_t)(100000 + off + i),
                                      .mtime = 1786603543 + off + i,
                                      .etag = "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10",
                                      .has_crc64 = 1,
                                      .crc64 = 11051505435318425153ULL};
        }
        if (ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, items, (size_t)m, NULL)) {
            fprintf(stderr, "enqueue: %s\n", ferry_redis_error(r)->msg);
            return 1;
        }
    }
    double t1 = ferry_mono_s();
    long long m_queued = used_memory(r);
    printf("enqueue (ledger CAS + XADD, pipelined x%ld): %.0f jobs/s\n", B, N / (t1 - t0));
    printf("memory while queued (record + job + pending index): %.1f bytes/object\n",
           (double)(m_queued - m0) / N);

    /* 2. transitions: W processes, start + finish(done) per object; each is one EVALSHA (the
     * first half of the objects), then as the worker sends them: 64 keys per EVALSHA (the
     * second half) */
    long half = N / 2;
    t0 = ferry_mono_s();
    for (int w = 0; w < workers; w++) {
        if (fork() == 0) {
            ferry_redis_t *c = conn();
            ferry_ledger_t *cl;
            if (ferry_ledger_open(c, "b", buckets, &cl))
                _exit(1);
            char key[64], tok[32];
            for (long i = w; i < half; i += workers) {
                key_of(key, sizeof(key), i);
                snprintf(tok, sizeof(tok), "w%d", w);
                int sr;
                if (ferry_ledger_start(cl, key, "host-a/3", tok, 60000, &sr, NULL) || sr != 1)
                    _exit(2);
                ferry_outcome_t o = {.state = FERRY_STATE_DONE,
                                     .size = (uint64_t)(100000 + i),
                                     .mtime = 1786603543 + i,
                                     .etag = "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10",
                                     .dst_etag = "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"",
                                     .duration_ms = 12};
                if (ferry_ledger_finish(cl, key, tok, &o))
                    _exit(3);
            }
            _exit(0);
        }
    }
    t1 = wait_workers(workers);
    printf("transitions (start+finish, %d clients, unpipelined): %.0f transitions/s\n", workers,
           2.0 * half / (t1 - t0));

    t0 = ferry_mono_s();
    for (int w = 0; w < workers; w++) {
        if (fork() == 0) {
            enum { BATCH = 64 };
            ferry_redis_t *c = conn();
            ferry_ledger_t *cl;
            if (ferry_ledger_open(c, "b", buckets, &cl))
                _exit(1);
            static char bkeys[BATCH][64];
            char tok[32];
            snprintf(tok, sizeof(tok), "w%d", w);
            ferry_start_item_t st[BATCH];
            ferry_outcome_t o[BATCH];
            ferry_finish_item_t fi[BATCH];
            int res[BATCH];
            long i = half + w;
            while (i < N) {
                int n = 0;
                for (; n < BATCH && i < N; n++, i += workers) {
                    key_of(bkeys[n], sizeof(bkeys[n]), i);
                    st[n] = (ferry_start_item_t){.key = bkeys[n], .token = tok};
                    o[n] = (ferry_outcome_t){.state = FERRY_STATE_DONE,
                                             .size = (uint64_t)(100000 + i),
                                             .mtime = 1786603543 + i,
                                             .etag = "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10",
                                             .dst_etag = "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"",
                                             .duration_ms = 12};
                    fi[n] = (ferry_finish_item_t){bkeys[n], tok, &o[n]};
                }
                if (ferry_ledger_start_many(cl, st, (size_t)n, "host-a/3", 60000))
                    _exit(2);
                for (int j = 0; j < n; j++)
                    if (st[j].rc || st[j].result != FERRY_START_COPY)
                        _exit(2);
                if (ferry_ledger_finish_many(cl, fi, (size_t)n, res))
                    _exit(3);
                for (int j = 0; j < n; j++)
                    if (res[j])
                        _exit(3);
            }
            _exit(0);
        }
    }
    t1 = wait_workers(workers);
    printf("transitions (start+finish, %d clients, 64 keys per call): %.0f transitions/s\n",
           workers, 2.0 * (N - half) / (t1 - t0));

    /* steady state: jobs acked (streams emptied), nothing pending */
    redisReply *rep;
    if (ferry_redis_cmd(r, &rep, "DEL ferry:{b}:q:bulk ferry:{b}:q:event") == FERRY_OK)
        freeReplyObject(rep);
    long long m_done = used_memory(r);
    printf("memory at steady state (all done, streams acked): %.1f bytes/object\n",
           (double)(m_done - m0) / N);
    if (ferry_redis_cmd(r, &rep, "OBJECT ENCODING ferry:{b}:led:1") == FERRY_OK) {
        printf("bucket encoding: %s (%.1f records/bucket)\n", rep->str ? rep->str : "?",
               (double)N / buckets);
        freeReplyObject(rep);
    }
    ferry_record_t rec;
    char k0[64];
    key_of(k0, sizeof(k0), 12345 % N);
    if (ferry_ledger_get(l, k0, &rec) == FERRY_OK) {
        ferry_buf_t b;
        ferry_buf_init(&b, 4096);
        ferry_record_encode(&rec, &b);
        printf("encoded done record: %zu bytes (key %zu bytes)\n", b.len, strlen(k0));
        ferry_buf_free(&b);
    }

    /* 3. status latency: the functions `ferry status` / the API call */
    ferry_task_t t;
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "b");
    snprintf(t.src.loc, sizeof(t.src.loc), "oss://a");
    snprintf(t.dst.loc, sizeof(t.dst.loc), "s3://b");
    ferry_task_put(r, &t, 1);
    const int Q = 10000;
    double *lat = calloc(Q, sizeof(double));
    for (int i = 0; i < Q; i++) {
        char key[64];
        key_of(key, sizeof(key), (long)((unsigned long)rand() % (unsigned long)N));
        json_t *j = NULL;
        double a = ferry_mono_s();
        if (ferry_status_object(r, "b", key, &j) != FERRY_OK) {
            fprintf(stderr, "status: %s\n", ferry_redis_error(r)->msg);
            return 1;
        }
        lat[i] = ferry_mono_s() - a;
        json_decref(j);
    }
    double sum = 0, mx = 0;
    for (int i = 0; i < Q; i++) {
        sum += lat[i];
        mx = lat[i] > mx ? lat[i] : mx;
    }
    qsort(lat, Q, sizeof(double), cmpd);
    printf("status NAME KEY (task lookup + record): mean %.0f us, p99 %.0f us, max %.0f us\n",
           sum / Q * 1e6, lat[Q * 99 / 100] * 1e6, mx * 1e6);
    json_t *j = NULL;
    double a = ferry_mono_s();
    ferry_status_complete(r, "b", "photos/2026/03/", &j);
    printf("complete?prefix (2 ZLEXCOUNT): %.0f us\n", (ferry_mono_s() - a) * 1e6);
    json_decref(j);
    a = ferry_mono_s();
    ferry_status_task(r, "b", &j);
    printf("task summary (counters + backlog): %.0f us\n", (ferry_mono_s() - a) * 1e6);
    json_decref(j);
    free(lat);
    free(items);
    free(keys);
    ferry_task_clear(&t);
    ferry_ledger_free(l);
    ferry_redis_free(r);
    kill(rp, SIGTERM);
    waitpid(rp, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static int cmpd(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}
