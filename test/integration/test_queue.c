/* Integration tests for the job queue against a real redis-server (test/harness):
 * a consumer crashing mid-job, a restarted consumer resuming its own entries, poison jobs going
 * to the dead letters, event-first reads, claim refresh, orphaned pending entries, and a Redis
 * restart (AOF) in the middle of a run with no job lost. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry/ledger.h"
#include "ferry/queue.h"
#include "ferry/stats.h"
#include "ferry/status.h"
#include "ferry/task.h"
#include "harness.h"
#include "test.h"

static harness_server_t srv;

static ferry_redis_t *conn(int retry_ms)
{
    ferry_redis_t *r = NULL;
    ferry_error_t e;
    ferry_redis_opts_t o = {.retry_ms = retry_ms};
    if (ferry_redis_connect(srv.url, &o, &r, &e) != FERRY_OK) {
        fprintf(stderr, "connect: %s\n", e.msg);
        return NULL;
    }
    return r;
}

static long long pel_count(ferry_redis_t *r, const char *task, const char *kind)
{
    redisReply *rep;
    char k[128];
    snprintf(k, sizeof(k), "ferry:{%s}:q:%s", task, kind);
    if (ferry_redis_cmd(r, &rep, "XPENDING %s workers", k) != FERRY_OK)
        return -1;
    long long n =
        rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 ? rep->element[0]->integer : -1;
    freeReplyObject(rep);
    return n;
}

static void enqueue_one(ferry_ledger_t *l, const char *key, int kind)
{
    ferry_item_t it = {.key = key, .size = 5, .mtime = 100};
    int res;
    REQUIRE(ferry_ledger_enqueue(l, kind, &it, 1, &res) == FERRY_OK);
    REQUIRE(res == FERRY_ENQ_QUEUED);
}

/* Run one job to done: start (retrying while another lease is live), finish, ack. */
static int complete(ferry_queue_t *q, ferry_ledger_t *l, const ferry_job_t *j, const char *tok)
{
    int sr;
    for (int i = 0; i < 200; i++) {
        if (ferry_ledger_start(l, j->key, "w", tok, 2000, &sr, NULL) != FERRY_OK)
            return -1;
        if (sr != FERRY_START_BUSY)
            break;
        usleep(20 * 1000);
    }
    if (sr == FERRY_START_COPY) {
        ferry_outcome_t o = {
            .state = FERRY_STATE_DONE, .size = j->size, .mtime = j->mtime, .duration_ms = 1};
        if (ferry_ledger_finish(l, j->key, tok, &o) != FERRY_OK)
            return -1;
    }
    return ferry_queue_ack(q, j);
}

/* The queue-bytes counter of one stream ("qbytes:<kind>" in the counters hash; 0 when absent). */
static long long qbytes(ferry_redis_t *r, const char *task, const char *kind)
{
    redisReply *rep;
    if (ferry_redis_cmd(r, &rep, "HGET ferry:{%s}:cnt qbytes:%s", task, kind) != FERRY_OK)
        return -1;
    long long n = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10)
                  : rep->type == REDIS_REPLY_NIL  ? 0
                                                  : -1;
    freeReplyObject(rep);
    return n;
}

/* The queue-bytes counters stay exact while entries remain (a stream that drains forgets its
 * counter, so only a partly acked stream shows a wrong size): acks one by one and in batches,
 * a repeated ack, a nack and its re-delivery, a dead letter and a malformed entry each take off
 * exactly the sizes of the entries they remove, and nothing twice. */
static void test_qbytes_exact(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "qb", 8, &l) == FERRY_OK);
    static const uint64_t SZ[8] = {1000, 2200, 3300, 4400, 5500, 6600, 7, 11};
    for (int i = 0; i < 8; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        ferry_item_t it = {.key = k, .size = SZ[i], .mtime = 100};
        int res;
        REQUIRE(ferry_ledger_enqueue(l, i < 6 ? FERRY_QUEUE_BULK : FERRY_QUEUE_EVENT, &it, 1,
                                     &res) == FERRY_OK);
    }
    /* a malformed entry (no key), with its size: dead-lettered on read, its size taken off */
    redisReply *rep;
    REQUIRE(ferry_redis_cmd(r, &rep, "XADD ferry:{qb}:q:bulk * s 900") == FERRY_OK);
    freeReplyObject(rep);
    REQUIRE(ferry_redis_cmd(r, &rep, "HINCRBY ferry:{qb}:cnt qbytes:bulk 900") == FERRY_OK);
    freeReplyObject(rep);
    long long bulk = 1000 + 2200 + 3300 + 4400 + 5500 + 6600, ev = 18;
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk + 900);
    CHECK_INT(qbytes(r, "qb", "event"), ev);
    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "qb/1", .visibility_ms = 200};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    ferry_job_t j[16];
    int n = 0;
    while (n < 8) {
        int got = 0;
        int rc = ferry_queue_next_batch(q, j + n, 16 - n, 200, &got);
        REQUIRE(rc == FERRY_OK || rc == FERRY_ETIMEOUT);
        if (rc == FERRY_ETIMEOUT)
            break;
        n += got;
    }
    REQUIRE(n == 8); /* the malformed one went to the dead letters */
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk);
    ferry_job_t *by[8] = {0};
    for (int i = 0; i < n; i++)
        by[j[i].key[1] - '0'] = &j[i];
    for (int i = 0; i < 8; i++)
        REQUIRE(by[i] != NULL && by[i]->size == SZ[i]);
    /* one ack, then the same ack again: taken off once */
    REQUIRE(ferry_queue_ack(q, by[0]) == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk -= 1000);
    REQUIRE(ferry_queue_ack(q, by[0]) == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk);
    /* a batch of two, one of them already acked, and an event */
    const ferry_job_t *batch[4] = {by[1], by[2], by[0], by[6]};
    REQUIRE(ferry_queue_ack_many(q, batch, 4) == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk -= 2200 + 3300);
    CHECK_INT(qbytes(r, "qb", "event"), ev -= 7);
    /* a nack leaves it counted; its re-delivery is acked once */
    REQUIRE(ferry_queue_nack(q, by[3], 0) == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk);
    ferry_job_t again;
    int rc = FERRY_ETIMEOUT;
    for (int i = 0; i < 20 && rc == FERRY_ETIMEOUT; i++)
        rc = ferry_queue_next(q, &again, 100);
    REQUIRE(rc == FERRY_OK);
    CHECK(strcmp(again.key, "k3") == 0);
    CHECK(again.deliveries >= 2);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk);
    const ferry_job_t *both[2] = {&again, by[3]};
    REQUIRE(ferry_queue_ack_many(q, both, 2) == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk -= 4400);
    /* a dead letter takes its size off too */
    REQUIRE(ferry_queue_dead(q, by[4], "test: given up") == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), bulk -= 5500);
    CHECK_INT(bulk, 6600); /* what is left: k5 */
    long long e2, b2, d2;
    REQUIRE(ferry_queue_backlog(l, &e2, &b2, &d2) == FERRY_OK);
    CHECK_INT(b2, 1);
    CHECK_INT(e2, 1);
    CHECK_INT(d2, 2);
    /* the last entries: the streams drain and forget their counters */
    REQUIRE(ferry_queue_ack(q, by[5]) == FERRY_OK);
    REQUIRE(ferry_queue_ack(q, by[7]) == FERRY_OK);
    CHECK_INT(qbytes(r, "qb", "bulk"), 0);
    CHECK_INT(qbytes(r, "qb", "event"), 0);
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

static void test_crash_reclaim(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "crash", 8, &l) == FERRY_OK);
    enqueue_one(l, "victim", FERRY_QUEUE_BULK);
    pid_t p = fork();
    if (p == 0) {
        ferry_redis_t *c = conn(0);
        ferry_ledger_t *cl;
        ferry_queue_t *cq;
        ferry_queue_opts_t o = {.consumer = "hostA/1", .visibility_ms = 300};
        ferry_job_t j;
        int sr;
        if (!c || ferry_ledger_open(c, "crash", 8, &cl) || ferry_queue_open(cl, &o, &cq) ||
            ferry_queue_next(cq, &j, 1000) ||
            ferry_ledger_start(cl, j.key, "hostA/1", "A", 400, &sr, NULL))
            _exit(1);
        kill(getpid(), SIGKILL); /* crash mid-copy */
        _exit(1);
    }
    int st;
    waitpid(p, &st, 0);
    CHECK(WIFSIGNALED(st));
    ferry_record_t rec;
    REQUIRE(ferry_ledger_get(l, "victim", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_COPYING);
    CHECK_INT(pel_count(r, "crash", "bulk"), 1);

    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "hostB/1", .visibility_ms = 300};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    ferry_job_t j;
    REQUIRE(ferry_queue_next(q, &j, 3000) == FERRY_OK);
    CHECK_STR(j.key, "victim");
    CHECK_INT(j.deliveries, 2);
    CHECK(complete(q, l, &j, "B") == FERRY_OK);
    REQUIRE(ferry_ledger_get(l, "victim", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);
    CHECK_INT(rec.attempts, 2);
    CHECK_INT(pel_count(r, "crash", "bulk"), 0);
    long long ev, bulk;
    REQUIRE(ferry_queue_backlog(l, &ev, &bulk, NULL) == FERRY_OK);
    CHECK_INT(bulk, 0); /* acked entries are deleted: nothing to trim */
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

/* A restarted consumer with the same stable name gets its own pending job back at once. */
static void test_same_name_resumes(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "resume", 8, &l) == FERRY_OK);
    enqueue_one(l, "mine", FERRY_QUEUE_BULK);
    pid_t p = fork();
    if (p == 0) {
        ferry_redis_t *c = conn(0);
        ferry_ledger_t *cl;
        ferry_queue_t *cq;
        ferry_queue_opts_t o = {.consumer = "host/7", .visibility_ms = 60000};
        ferry_job_t j;
        if (!c || ferry_ledger_open(c, "resume", 8, &cl) || ferry_queue_open(cl, &o, &cq) ||
            ferry_queue_next(cq, &j, 1000))
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    waitpid(p, NULL, 0);
    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "host/7", .visibility_ms = 60000};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    ferry_job_t j;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    REQUIRE(ferry_queue_next(q, &j, 0) == FERRY_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK_STR(j.key, "mine");
    CHECK(b.tv_sec - a.tv_sec < 2); /* not after the 60 s visibility timeout */
    CHECK(complete(q, l, &j, "T") == FERRY_OK);
    CHECK_INT(ferry_queue_next(q, &j, 0), FERRY_ETIMEOUT);
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

static void test_poison(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "poison", 8, &l) == FERRY_OK);
    enqueue_one(l, "bad.bin", FERRY_QUEUE_EVENT);
    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "h/1", .visibility_ms = 100, .max_deliveries = 3};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    int attempts = 0;
    ferry_job_t j;
    for (int i = 0; i < 10; i++) {
        int rc = ferry_queue_next(q, &j, 500);
        if (rc == FERRY_ETIMEOUT)
            continue;
        REQUIRE(rc == FERRY_OK);
        attempts++;
        int sr;
        char tok[16];
        snprintf(tok, sizeof(tok), "t%d", i);
        REQUIRE(ferry_ledger_start(l, j.key, "h/1", tok, 5000, &sr, NULL) == FERRY_OK);
        REQUIRE(sr == FERRY_START_COPY);
        char err[64];
        snprintf(err, sizeof(err), "SlowDown on attempt %d", attempts);
        ferry_outcome_t out = {.state = FERRY_STATE_QUEUED, .error = err, .duration_ms = 1};
        REQUIRE(ferry_ledger_finish(l, j.key, tok, &out) == FERRY_OK);
        REQUIRE(ferry_queue_nack(q, &j, 0) == FERRY_OK);
    }
    CHECK_INT(attempts, 3);
    ferry_record_t rec;
    REQUIRE(ferry_ledger_get(l, "bad.bin", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_FAILED);
    CHECK(strstr(rec.error, "gave up after 3 deliveries") != NULL);
    CHECK(strstr(rec.error, "SlowDown on attempt 3") != NULL);
    long long ev, bulk, dead;
    REQUIRE(ferry_queue_backlog(l, &ev, &bulk, &dead) == FERRY_OK);
    CHECK_INT(ev, 0);
    CHECK_INT(dead, 1);
    CHECK_INT(pel_count(r, "poison", "event"), 0);
    long long pend, failed;
    REQUIRE(ferry_ledger_progress(l, "", &pend, &failed) == FERRY_OK);
    CHECK_INT(failed, 1);
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

static void test_event_first_refresh_orphans(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "order", 8, &l) == FERRY_OK);
    char k[32];
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof(k), "bulk%d", i);
        enqueue_one(l, k, FERRY_QUEUE_BULK);
    }
    enqueue_one(l, "ev0", FERRY_QUEUE_EVENT);
    ferry_queue_t *q, *q2;
    ferry_queue_opts_t o = {.consumer = "h/1", .visibility_ms = 300};
    ferry_queue_opts_t o2 = {.consumer = "h/2", .visibility_ms = 300};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    REQUIRE(ferry_queue_open(l, &o2, &q2) == FERRY_OK);
    ferry_job_t j, j2;
    REQUIRE(ferry_queue_next(q, &j, 100) == FERRY_OK);
    CHECK_STR(j.key, "ev0");
    CHECK_INT(j.kind, FERRY_QUEUE_EVENT);
    /* a long copy: refresh keeps it ours past the visibility timeout */
    for (int i = 0; i < 5; i++) {
        usleep(150 * 1000);
        CHECK_INT(ferry_queue_refresh(q, &j), FERRY_OK);
        /* h/2 gets bulk jobs, never ev0 */
        if (ferry_queue_next(q2, &j2, 0) == FERRY_OK) {
            CHECK(strcmp(j2.key, "ev0") != 0);
            CHECK(complete(q2, l, &j2, "x") == 0);
        }
    }
    CHECK(complete(q, l, &j, "y") == 0);
    /* a job claimed away from its owner: refresh says so */
    enqueue_one(l, "stolen", FERRY_QUEUE_EVENT);
    REQUIRE(ferry_queue_next(q, &j, 100) == FERRY_OK);
    CHECK_STR(j.key, "stolen");
    usleep(400 * 1000);
    REQUIRE(ferry_queue_next(q2, &j2, 1000) == FERRY_OK);
    CHECK_STR(j2.key, "stolen");
    CHECK_INT(ferry_queue_refresh(q, &j), FERRY_EBUSY);
    CHECK(complete(q2, l, &j2, "z") == 0);
    /* an orphan: pending entry whose body is gone is cleaned up, not left pending */
    enqueue_one(l, "orphan", FERRY_QUEUE_EVENT);
    REQUIRE(ferry_queue_next(q, &j, 100) == FERRY_OK);
    redisReply *rep;
    REQUIRE(ferry_redis_cmd(r, &rep, "XDEL ferry:{order}:q:event %s", j.id) == FERRY_OK);
    freeReplyObject(rep);
    usleep(400 * 1000);
    while (ferry_queue_next(q2, &j2, 200) == FERRY_OK)
        CHECK(complete(q2, l, &j2, "w") == 0);
    CHECK_INT(pel_count(r, "order", "event"), 0);
    CHECK_INT(pel_count(r, "order", "bulk"), 0);
    int removed = -1;
    REQUIRE(ferry_queue_prune(l, 0, &removed) == FERRY_OK);
    CHECK(removed >= 2);
    ferry_queue_free(q);
    ferry_queue_free(q2);
    ferry_ledger_free(l);
}

/* ferry_queue_next_events: only event jobs, never waits, keeps recovery first. */
static void test_next_events(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "evonly", 8, &l) == FERRY_OK);
    enqueue_one(l, "b0", FERRY_QUEUE_BULK);
    enqueue_one(l, "b1", FERRY_QUEUE_BULK);
    enqueue_one(l, "e0", FERRY_QUEUE_EVENT);
    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "h/ev"};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    ferry_job_t jobs[4];
    int n = -1;
    CHECK_INT(ferry_queue_next_events(q, jobs, 4, &n), FERRY_OK);
    CHECK_INT(n, 1);
    CHECK_STR(jobs[0].key, "e0");
    CHECK(complete(q, l, &jobs[0], "t0") == 0);
    /* a restarted consumer (same name): its pending bulk entry comes back first */
    REQUIRE(ferry_queue_next_batch(q, jobs, 1, 0, &n) == FERRY_OK);
    CHECK_STR(jobs[0].key, "b0");
    ferry_queue_free(q);
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    CHECK_INT(ferry_queue_next_events(q, jobs, 4, &n), FERRY_OK);
    CHECK_INT(n, 1);
    CHECK_STR(jobs[0].key, "b0");
    CHECK(complete(q, l, &jobs[0], "t0") == 0);
    /* no event left: ETIMEOUT at once, bulk untouched */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_INT(ferry_queue_next_events(q, jobs, 4, &n), FERRY_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    /* no blocking read: well under the 500 ms the feeder would block for */
    CHECK((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 250);
    CHECK_INT(pel_count(r, "evonly", "bulk"), 0);
    enqueue_one(l, "e1", FERRY_QUEUE_EVENT);
    enqueue_one(l, "e2", FERRY_QUEUE_EVENT);
    CHECK_INT(ferry_queue_next_events(q, jobs, 4, &n), FERRY_OK);
    CHECK_INT(n, 2);
    CHECK_STR(jobs[0].key, "e1");
    CHECK_STR(jobs[1].key, "e2");
    CHECK_INT(jobs[1].kind, FERRY_QUEUE_EVENT);
    for (int i = 0; i < n; i++)
        CHECK(complete(q, l, &jobs[i], "t1") == 0);
    CHECK_INT(pel_count(r, "evonly", "bulk"), 0);
    while (ferry_queue_next_batch(q, jobs, 4, 0, &n) == FERRY_OK)
        for (int i = 0; i < n; i++)
            CHECK(complete(q, l, &jobs[i], "t2") == 0);
    CHECK_INT(pel_count(r, "evonly", "bulk"), 0);
    CHECK_INT(pel_count(r, "evonly", "event"), 0);
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

/* Workers in child processes drain 2,000 jobs while Redis restarts (AOF): none is lost. */
static void test_restart_mid_run(ferry_redis_t *r)
{
    const int N = 2000, workers = 2;
    ferry_task_t t;
    ferry_task_init(&t);
    snprintf(t.name, sizeof(t.name), "rs");
    snprintf(t.src.loc, sizeof(t.src.loc), "oss://a");
    snprintf(t.dst.loc, sizeof(t.dst.loc), "s3://b");
    t.ledger_buckets = 64;
    REQUIRE(ferry_task_put(r, &t, 0) == FERRY_OK);
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "rs", 64, &l) == FERRY_OK);
    ferry_item_t *items = calloc(N, sizeof(*items));
    char(*keys)[24] = calloc(N, 24);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 24, "obj/%05d", i);
        items[i].key = keys[i];
        items[i].size = 1000;
        items[i].mtime = 5;
    }
    REQUIRE(ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, items, N, NULL) == FERRY_OK);
    free(items);
    free(keys);
    /* everything reaches the AOF before the restart (appendfsync everysec; SIGTERM flushes) */
    pid_t kids[4];
    for (int w = 0; w < workers; w++) {
        kids[w] = fork();
        if (kids[w] == 0) {
            ferry_redis_t *c = conn(20000);
            ferry_ledger_t *cl;
            ferry_queue_t *cq = NULL;
            char name[32];
            snprintf(name, sizeof(name), "rs-host/%d", w);
            ferry_queue_opts_t o = {.consumer = name, .visibility_ms = 2000};
            if (!c || ferry_ledger_open(c, "rs", 64, &cl) || ferry_queue_open(cl, &o, &cq))
                _exit(1);
            int idle = 0;
            for (int n = 0; idle < 40 && n < 100000; n++) {
                ferry_job_t j;
                int rc = ferry_queue_next(cq, &j, 100);
                if (rc == FERRY_ETIMEOUT) {
                    long long p, f;
                    if (ferry_ledger_progress(cl, "", &p, &f) == FERRY_OK && p == 0 && f == 0)
                        idle++;
                    continue;
                }
                if (rc) {
                    usleep(50 * 1000);
                    continue;
                }
                char tok[48];
                snprintf(tok, sizeof(tok), "%s-%d", name, n);
                complete(cq, cl, &j, tok); /* errors during the restart: redelivery covers it */
                usleep(300);
            }
            _exit(0);
        }
    }
    usleep(400 * 1000);
    REQUIRE(harness_restart(&srv) == 0);
    for (int w = 0; w < workers; w++) {
        int st;
        waitpid(kids[w], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    ferry_counters_t c;
    REQUIRE(ferry_ledger_counters(l, &c) == FERRY_OK);
    CHECK_INT(c.objects[FERRY_STATE_DONE], N);
    CHECK_INT(c.bytes[FERRY_STATE_DONE], (long long)N * 1000);
    long long p, f, ev, bulk;
    REQUIRE(ferry_ledger_progress(l, "", &p, &f) == FERRY_OK);
    CHECK_INT(p, 0);
    CHECK_INT(f, 0);
    REQUIRE(ferry_queue_backlog(l, &ev, &bulk, NULL) == FERRY_OK);
    CHECK_INT(bulk, 0);
    CHECK_INT(pel_count(r, "rs", "bulk"), 0);
    CHECK(ferry_redis_reconnects(r) >= 1);
    ferry_ledger_free(l);
    ferry_task_clear(&t);
}

/* Issue 12 item 14: a delivery is not an attempt. A job put back again and again because
 * another holder has its lease (BUSY) is delivered many times; with the default options it
 * must not be dead-lettered after 5 deliveries: only the ledger's attempts (copies that ran)
 * count towards giving up, the delivery count is a high safety cap. */
static void test_busy_not_counted(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "busy", 8, &l) == FERRY_OK);
    enqueue_one(l, "held", FERRY_QUEUE_BULK);
    int sr;
    /* a live holder (another process) copies the key */
    REQUIRE(ferry_ledger_start(l, "held", "other/1", "other/1/99/f1", 60000, &sr, NULL) ==
            FERRY_OK);
    REQUIRE(sr == FERRY_START_COPY);
    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "h/5", .visibility_ms = 100};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    int got = 0;
    ferry_job_t j;
    for (int i = 0; i < 40 && got < 9; i++) {
        int rc = ferry_queue_next(q, &j, 300);
        if (rc == FERRY_ETIMEOUT)
            continue;
        REQUIRE(rc == FERRY_OK);
        got++;
        char tok[32];
        snprintf(tok, sizeof(tok), "h/5/1/f%d", i);
        REQUIRE(ferry_ledger_start(l, "held", "h/5", tok, 60000, &sr, NULL) == FERRY_OK);
        CHECK_INT(sr, FERRY_START_BUSY);
        REQUIRE(ferry_queue_nack(q, &j, 0) == FERRY_OK);
    }
    CHECK_INT(got, 9); /* delivered 9 times, never dead-lettered */
    long long dead = -1;
    REQUIRE(ferry_queue_backlog(l, NULL, NULL, &dead) == FERRY_OK);
    CHECK_INT(dead, 0);
    ferry_record_t rec;
    REQUIRE(ferry_ledger_get(l, "held", &rec) == FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_COPYING);
    CHECK_INT(rec.attempts, 1); /* the holder's start only: BUSY does not count */
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

/* ferry_queue_load: what waits (lag), what is delivered and not acked, and how many consumers
 * the group knows — the figures a worker's share is taken from (worker.c feeder_share). */
static void test_load(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "load", 8, &l) == FERRY_OK);
    ferry_queue_t *a, *b;
    ferry_queue_opts_t oa = {.consumer = "l/1"}, ob = {.consumer = "l/2"};
    REQUIRE(ferry_queue_open(l, &oa, &a) == FERRY_OK);
    REQUIRE(ferry_queue_open(l, &ob, &b) == FERRY_OK);
    long long wait = -1, del = -1, cons = -1;
    ferry_job_t jobs[8];
    int n = 0;
    CHECK_INT(ferry_queue_next_batch(a, jobs, 8, 0, &n), FERRY_ETIMEOUT); /* a registers */
    CHECK_INT(ferry_queue_load(a, &wait, &del, &cons), FERRY_OK);
    CHECK_INT(wait, 0);
    CHECK_INT(del, 0);
    CHECK_INT(cons, 1);
    CHECK_INT(ferry_queue_next_batch(b, jobs, 8, 0, &n), FERRY_ETIMEOUT); /* b too */
    char key[8][16];
    ferry_item_t it[8];
    for (int i = 0; i < 8; i++) {
        snprintf(key[i], sizeof(key[i]), "k%d", i);
        it[i] = (ferry_item_t){.key = key[i], .size = 5, .mtime = 100};
    }
    REQUIRE(ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, it, 8, NULL) == FERRY_OK);
    CHECK_INT(ferry_queue_load(b, &wait, &del, &cons), FERRY_OK);
    CHECK_INT(wait, 8);
    CHECK_INT(del, 0);
    CHECK_INT(cons, 2);
    REQUIRE(ferry_queue_next_batch(a, jobs, 3, 0, &n) == FERRY_OK);
    CHECK_INT(n, 3);
    CHECK_INT(ferry_queue_load(b, &wait, &del, &cons), FERRY_OK);
    CHECK_INT(wait, 5);
    CHECK_INT(del, 3);
    REQUIRE(ferry_queue_ack(a, &jobs[0]) == FERRY_OK);
    CHECK_INT(ferry_queue_load(a, &wait, &del, &cons), FERRY_OK);
    CHECK_INT(wait, 5);
    CHECK_INT(del, 2);
    /* an event stream counts too */
    ferry_item_t ev = {.key = "ev", .size = 5, .mtime = 100, .origin = FERRY_ORIGIN_EVENT};
    REQUIRE(ferry_ledger_enqueue(l, FERRY_QUEUE_EVENT, &ev, 1, NULL) == FERRY_OK);
    CHECK_INT(ferry_queue_load(a, &wait, &del, &cons), FERRY_OK);
    CHECK_INT(wait, 6);
    /* A Redis user refused XINFO (an ACL) cannot say the load: FERRY_EUNSUPPORTED, so the
     * worker takes every free slot as before — not zeros, which would read as "nothing waits,
     * nobody shares" and hold a worker with --peers to one job at a time. */
    redisReply *rep = NULL;
    const char *acl[] = {"ACL", "SETUSER", "noxinfo", "on", ">pw", "~*", "&*", "+@all", "-xinfo"};
    REQUIRE(ferry_redis_argv(r, 9, acl, NULL, &rep) == FERRY_OK);
    freeReplyObject(rep);
    char url[sizeof(srv.url) + 16];
    snprintf(url, sizeof(url), "redis://noxinfo:pw@%.200s", srv.url + strlen("redis://"));
    ferry_redis_t *rn = NULL;
    ferry_error_t e;
    ferry_redis_opts_t ro = {.retry_ms = 2000};
    if (ferry_redis_connect(url, &ro, &rn, &e) != FERRY_OK)
        fprintf(stderr, "connect as noxinfo: %s\n", e.msg);
    REQUIRE(rn != NULL);
    ferry_ledger_t *ln;
    REQUIRE(ferry_ledger_open(rn, "load", 8, &ln) == FERRY_OK);
    ferry_queue_t *c;
    ferry_queue_opts_t oc = {.consumer = "l/3"};
    REQUIRE(ferry_queue_open(ln, &oc, &c) == FERRY_OK);
    CHECK_INT(ferry_queue_load(c, &wait, &del, &cons), FERRY_EUNSUPPORTED);
    /* The same user's stream statistics (the autoscaler's and /metrics' source): the waiting
     * jobs are unknown (-1, which the policy reads as "not pending: waiting"), never 0 — a 0
     * would let the policy scale to zero workers with jobs queued. */
    {
        ferry_stream_stats_t full[2], refused[2];
        long long dead = 0;
        REQUIRE(ferry_stats_streams(r, "load", full, &dead) == FERRY_OK);
        REQUIRE(ferry_stats_streams(rn, "load", refused, &dead) == FERRY_OK);
        CHECK(full[0].length > 0 && full[0].lag > 0);
        for (int i = 0; i < 2; i++) {
            CHECK_INT(refused[i].length, full[i].length);
            CHECK_INT(refused[i].lag, full[i].length > 0 ? -1 : 0);
        }
    }
    ferry_queue_free(c);
    ferry_ledger_free(ln);
    ferry_redis_free(rn);
    ferry_queue_free(a);
    ferry_queue_free(b);
    ferry_ledger_free(l);
}

/* Issue 12 item 15: a restarted worker takes back all of its pending jobs at once, not only
 * the first 32 (the rest used to wait for the visibility timeout). */
static void test_full_pel_reclaim(ferry_redis_t *r)
{
    enum { N = 150 };
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "pel", 8, &l) == FERRY_OK);
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "k%03d", i);
        enqueue_one(l, k, i % 3 ? FERRY_QUEUE_BULK : FERRY_QUEUE_EVENT);
    }
    pid_t p = fork();
    if (p == 0) { /* takes every job, then dies */
        ferry_redis_t *c = conn(0);
        ferry_ledger_t *cl;
        ferry_queue_t *cq;
        ferry_queue_opts_t o = {.consumer = "host/8", .visibility_ms = 60000};
        ferry_job_t j;
        if (!c || ferry_ledger_open(c, "pel", 8, &cl) || ferry_queue_open(cl, &o, &cq))
            _exit(1);
        for (int i = 0; i < N; i++)
            if (ferry_queue_next(cq, &j, 1000))
                _exit(1);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    int st = 0;
    waitpid(p, &st, 0);
    REQUIRE(WIFSIGNALED(st));
    CHECK_INT(pel_count(r, "pel", "bulk") + pel_count(r, "pel", "event"), N);
    ferry_queue_t *q;
    ferry_queue_opts_t o = {.consumer = "host/8", .visibility_ms = 60000};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int got = 0;
    unsigned char seen[N] = {0};
    ferry_job_t j;
    while (got < N && ferry_queue_next(q, &j, 0) == FERRY_OK) {
        int i = atoi(j.key + 1);
        REQUIRE(i >= 0 && i < N);
        CHECK(!seen[i]);
        seen[i] = 1;
        got++;
        CHECK(complete(q, l, &j, "P") == FERRY_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK_INT(got, N);
    CHECK(b.tv_sec - a.tv_sec < 5); /* not after the 60 s visibility timeout */
    CHECK_INT(pel_count(r, "pel", "bulk") + pel_count(r, "pel", "event"), 0);
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

/* Issue 12 item 15: a lease held by a dead process of the same slot (same consumer name
 * "host/slot", another pid in the token "host/slot/pid/…") is taken over at once; a lease of
 * another slot, or of the same process, still answers BUSY. */
static void test_lease_takeover(ferry_redis_t *r)
{
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, "take", 8, &l) == FERRY_OK);
    enqueue_one(l, "a", FERRY_QUEUE_BULK);
    int sr;
    ferry_record_t rec;
    REQUIRE(ferry_ledger_start(l, "a", "hx/3", "hx/3/111/f1", 60000, &sr, NULL) == FERRY_OK);
    REQUIRE(sr == FERRY_START_COPY);
    /* another slot of the same host: busy */
    REQUIRE(ferry_ledger_start(l, "a", "hx/4", "hx/4/222/f1", 60000, &sr, NULL) == FERRY_OK);
    CHECK_INT(sr, FERRY_START_BUSY);
    /* another host with a slot name that is a prefix: busy */
    REQUIRE(ferry_ledger_start(l, "a", "hx", "hx/333/f1", 60000, &sr, NULL) == FERRY_OK);
    CHECK_INT(sr, FERRY_START_BUSY);
    /* the same process (pid 111), another job of it: busy */
    REQUIRE(ferry_ledger_start(l, "a", "hx/3", "hx/3/111/f2", 60000, &sr, NULL) == FERRY_OK);
    CHECK_INT(sr, FERRY_START_BUSY);
    /* the slot restarted (pid 444): the dead holder's lease is taken over */
    REQUIRE(ferry_ledger_start(l, "a", "hx/3", "hx/3/444/f1", 60000, &sr, &rec) == FERRY_OK);
    CHECK_INT(sr, FERRY_START_COPY);
    CHECK_INT(rec.attempts, 2);
    /* and the old holder's token is no longer valid */
    CHECK_INT(ferry_ledger_lease_renew(l, "a", "hx/3/111/f1", 60000), FERRY_EBUSY);
    CHECK_INT(ferry_ledger_lease_renew(l, "a", "hx/3/444/f1", 60000), FERRY_OK);
    ferry_queue_t *q; /* clear the job */
    ferry_queue_opts_t o = {.consumer = "hx/3", .visibility_ms = 60000};
    REQUIRE(ferry_queue_open(l, &o, &q) == FERRY_OK);
    ferry_job_t j;
    REQUIRE(ferry_queue_next(q, &j, 0) == FERRY_OK);
    CHECK(complete(q, l, &j, "hx/3/444/f1") == FERRY_OK);
    ferry_queue_free(q);
    ferry_ledger_free(l);
}

/* Issue 12 item 15: a consumer name is held by one live process (what makes the lease takeover
 * above safe): a live holder refuses another pid, a dead holder of this machine is taken
 * over at once, and the old holder's renewal then fails. */
static void test_consumer_claim(ferry_redis_t *r)
{
    ferry_error_t e;
    int me = (int)getpid();
    REQUIRE(ferry_queue_claim(r, "cl/1", me, 60000, &e) == FERRY_OK);
    CHECK_INT(ferry_queue_claim(r, "cl/1", me, 60000, &e), FERRY_OK); /* ours already */
    /* another pid while we live: refused, with what to do */
    CHECK_INT(ferry_queue_claim(r, "cl/1", 999999, 60000, &e), FERRY_EBUSY);
    CHECK(strstr(e.msg, "--slot") != NULL);
    CHECK_INT(ferry_queue_claim_renew(r, "cl/1", me, 60000), FERRY_OK);
    /* a holder that died: taken over at once */
    pid_t p = fork();
    if (p == 0) {
        ferry_redis_t *c = conn(0);
        ferry_error_t ce;
        _exit(c && ferry_queue_claim(c, "cl/2", (int)getpid(), 60000, &ce) == FERRY_OK ? 0 : 1);
    }
    int st = 0;
    waitpid(p, &st, 0);
    REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_INT(ferry_queue_claim(r, "cl/2", me, 60000, &e), FERRY_OK);
    CHECK_INT(ferry_queue_claim_renew(r, "cl/2", (int)p, 60000), FERRY_EBUSY);
    CHECK_INT(ferry_queue_claim_release(r, "cl/2", me), FERRY_OK);
    CHECK_INT(ferry_queue_claim_release(r, "cl/1", me), FERRY_OK);
    CHECK_INT(ferry_queue_claim(r, "cl/1", 999999, 60000, &e), FERRY_OK); /* free again */
    CHECK_INT(ferry_queue_claim_release(r, "cl/1", 999999), FERRY_OK);
    /* A claim that lapsed (the holder stalled past its ttl) and nobody took is renewed, not
     * lost: the worker goes on instead of stopping. */
    REQUIRE(ferry_queue_claim(r, "cl/3", me, 100, &e) == FERRY_OK);
    usleep(250 * 1000);
    CHECK_INT(ferry_queue_claim_renew(r, "cl/3", me, 60000), FERRY_OK);
    CHECK_INT(ferry_queue_claim(r, "cl/3", 999999, 60000, &e), FERRY_EBUSY); /* ours again */
    CHECK_INT(ferry_queue_claim_release(r, "cl/3", me), FERRY_OK);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    REQUIRE(harness_redis_start(&srv) == 0);
    ferry_redis_t *r = conn(20000);
    REQUIRE(r != NULL);
    test_crash_reclaim(r);
    test_same_name_resumes(r);
    test_poison(r);
    test_event_first_refresh_orphans(r);
    test_next_events(r);
    test_restart_mid_run(r);
    test_busy_not_counted(r);
    test_full_pel_reclaim(r);
    test_lease_takeover(r);
    test_consumer_claim(r);
    test_qbytes_exact(r);
    test_load(r);
    ferry_redis_free(r);
    return test_summary();
}
