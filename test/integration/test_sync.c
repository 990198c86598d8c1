/* Integration: the ferry binary's scan commands — ferry task run (and its lease), ferry sync
 * (dry run; end to end with local workers: the second run copies nothing), and two
 * `ferry scheduler` processes sharing one task (one scan per period).
 *
 * The end-to-end part needs `ferry worker` (the worker issue); until it lands, ferry sync
 * reports that its workers exited and this test fails there, by design.
 */
#include "test_s3_util.h"

#include "harness.h"

#include "ferry/ledger.h"
#include "ferry/redis.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static harness_server_t rs, src, dst;
static ferry_redis_t *R;
static char ferry_bin[1024];

static int run(const char *const *args, char *out, size_t outn, int timeout_s)
{
    char op[1200], ep[1200];
    static int seq;
    snprintf(op, sizeof(op), "%s/out.%d", harness_tmpdir(), seq);
    snprintf(ep, sizeof(ep), "%s/err.%d", harness_tmpdir(), seq++);
    pid_t pid = harness_spawn(args, op, ep);
    REQUIRE(pid > 0);
    int st = 0;
    for (int i = 0; i < timeout_s * 10; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        usleep(100000);
        if (i == timeout_s * 10 - 1) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "timeout: %s %s\n", args[0], args[3]);
            return -1;
        }
    }
    if (out) {
        FILE *f = fopen(op, "r");
        size_t n = f ? fread(out, 1, outn - 1, f) : 0;
        out[n] = '\0';
        if (f)
            fclose(f);
    }
    char buf[4096];
    FILE *f = fopen(ep, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code != 0)
        fprintf(stderr, "[%s %s exit %d] stderr tail: %s\n", args[3], args[4] ? args[4] : "", code,
                n > 600 ? buf + n - 600 : buf);
    return code;
}

static long long llen(const char *key)
{
    redisReply *rep;
    REQUIRE(ferry_redis_cmd(R, &rep, "LLEN %s", key) == FERRY_OK);
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

/* Up to max pids whose parent is ppid (from /proc). */
static int children_of(pid_t ppid, pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < max) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t m = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[m] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        char state;
        long pp;
        if (rp && sscanf(rp + 1, " %c %ld", &state, &pp) == 2 && pp == (long)ppid)
            out[n++] = (pid_t)atol(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : "build/bin");
    REQUIRE(harness_redis_start(&rs) == 0);
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(rs.url, NULL, &R, &err) == FERRY_OK);
    const char *sx[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("oss", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    setenv("FERRY_SRC_ACCESS_KEY_ID", src.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", src.secret_key, 1);
    setenv("FERRY_DST_ACCESS_KEY_ID", dst.access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", dst.secret_key, 1);
    s3t_t cs;
    REQUIRE(s3t_open(&cs, "oss", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    char out[8192];
    REQUIRE(s3t_control(&cs, src.url, "POST", "/_fakes3/seed",
                        "{\"bucket\":\"src\",\"prefix\":\"in/a/\",\"count\":150,\"size\":1000}",
                        out, sizeof(out)) == 200);
    REQUIRE(s3t_control(&cs, src.url, "POST", "/_fakes3/seed",
                        "{\"bucket\":\"src\",\"prefix\":\"in/b c/\",\"count\":150,\"size\":70000}",
                        out, sizeof(out)) == 200);

    printf("== ferry sync --dry-run\n");
    {
        const char *a[] = {ferry_bin,
                           "--redis",
                           rs.url,
                           "sync",
                           "--from",
                           "oss://src/in/",
                           "--to",
                           "s3://dst/out/",
                           "--src-endpoint",
                           src.url,
                           "--dst-endpoint",
                           dst.url,
                           "--name",
                           "dry",
                           "--dry-run",
                           "--workers",
                           "0",
                           NULL};
        CHECK_INT(run(a, out, sizeof(out), 60), 0);
        CHECK(strstr(out, "300 new") != NULL);
        CHECK(strstr(out, "copied 0 objects") != NULL);
    }

    printf("== ferry task run: the lease keeps a second scan out\n");
    {
        const char *add[] = {ferry_bin,
                             "--redis",
                             rs.url,
                             "task",
                             "add",
                             "t1",
                             "--from",
                             "oss://src/in/",
                             "--to",
                             "s3://dst/out/",
                             "--src-endpoint",
                             src.url,
                             "--dst-endpoint",
                             dst.url,
                             "--every",
                             "1h",
                             NULL};
        CHECK_INT(run(add, NULL, 0, 30), 0);
        redisReply *rep;
        REQUIRE(ferry_redis_cmd(R, &rep, "SET ferry:{t1}:lease other:1:abc PX 5000") == FERRY_OK);
        freeReplyObject(rep);
        const char *tr[] = {ferry_bin, "--redis", rs.url, "task", "run", "t1", NULL};
        CHECK_INT(run(tr, out, sizeof(out), 30), 1);
        REQUIRE(ferry_redis_cmd(R, &rep, "DEL ferry:{t1}:lease") == FERRY_OK);
        freeReplyObject(rep);
        CHECK_INT(run(tr, out, sizeof(out), 60), 0);
        CHECK(strstr(out, "300 new") != NULL);
        CHECK(strstr(out, "queued 300 jobs") != NULL);
        CHECK_INT(llen("ferry:{t1}:scans"), 1);
        const char *show[] = {ferry_bin, "--redis", rs.url, "task", "show", "t1", NULL};
        CHECK_INT(run(show, out, sizeof(out), 30), 0);
        CHECK(strstr(out, "\"scans\"") != NULL && strstr(out, "\"listed_src\": 300") != NULL);
    }

    printf("== two schedulers, one lease: one scan per period\n");
    {
        redisReply *rep;
        REQUIRE(ferry_redis_cmd(R, &rep, "DEL ferry:{t1}:scans ferry:{t1}:scan:last") == FERRY_OK);
        freeReplyObject(rep);
        /* each replica serves the API too: on a port of its own (0: any free one) */
        const char *sa[] = {ferry_bin,  "--redis",     rs.url,  "scheduler",   "--task",
                            "t1",       "--tick",      "100ms", "--lease-ttl", "2s",
                            "--listen", "127.0.0.1:0", NULL};
        char e1[1200], e2[1200];
        snprintf(e1, sizeof(e1), "%s/sched1.log", harness_tmpdir());
        snprintf(e2, sizeof(e2), "%s/sched2.log", harness_tmpdir());
        pid_t p1 = harness_spawn(sa, NULL, e1);
        pid_t p2 = harness_spawn(sa, NULL, e2);
        REQUIRE(p1 > 0 && p2 > 0);
        for (int i = 0; i < 100 && llen("ferry:{t1}:scans") == 0; i++)
            usleep(100000);
        usleep(1500000); /* both tick ~15 more times: the task is not due again for an hour */
        CHECK_INT(llen("ferry:{t1}:scans"), 1);
        kill(p1, SIGTERM);
        kill(p2, SIGTERM);
        int st1, st2;
        waitpid(p1, &st1, 0);
        waitpid(p2, &st2, 0);
        CHECK(WIFEXITED(st1) && WEXITSTATUS(st1) == 0);
        CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);
    }

    printf("== ferry sync end to end (needs ferry worker)\n");
    {
        const char *a[] = {ferry_bin,
                           "--redis",
                           rs.url,
                           "sync",
                           "--from",
                           "oss://src/in/",
                           "--to",
                           "s3://dst/copy/",
                           "--src-endpoint",
                           src.url,
                           "--dst-endpoint",
                           dst.url,
                           "--name",
                           "e2e",
                           "--workers",
                           "2",
                           NULL};
        /* Another sync's live workers hold slots 0 and 1 of this host: this sync's workers
         * take the next free slots instead of refusing to start (--slot auto). */
        const char *wa[] = {ferry_bin, "--redis", rs.url, "worker", "--task",
                            "dry",     "--slot",  "0",    NULL};
        const char *wb[] = {ferry_bin, "--redis", rs.url, "worker", "--task",
                            "dry",     "--slot",  "1",    NULL};
        char l1[1200], l2[1200];
        snprintf(l1, sizeof(l1), "%s/slot0.log", harness_tmpdir());
        snprintf(l2, sizeof(l2), "%s/slot1.log", harness_tmpdir());
        pid_t w0 = harness_spawn(wa, NULL, l1), w1 = harness_spawn(wb, NULL, l2);
        REQUIRE(w0 > 0 && w1 > 0);
        usleep(500000);
        CHECK_INT(run(a, out, sizeof(out), 120), 0);
        CHECK(strstr(out, "copied 300 objects") != NULL);
        kill(w0, SIGTERM);
        kill(w1, SIGTERM);
        int sw0, sw1;
        waitpid(w0, &sw0, 0);
        waitpid(w1, &sw1, 0);
        CHECK(WIFEXITED(sw0) && WEXITSTATUS(sw0) == 0);
        CHECK(WIFEXITED(sw1) && WEXITSTATUS(sw1) == 0);
        CHECK_INT(run(a, out, sizeof(out), 120), 0);
        CHECK(strstr(out, "300 unchanged") != NULL);
        CHECK(strstr(out, "copied 0 objects") != NULL);
        CHECK(strstr(out, "queued 0 jobs") != NULL);
        CHECK(strstr(out, "0 done without a source check") != NULL); /* OSS: CRC-64 */
        /* A done record no source check covered (as a worker records one from a store with
         * opaque ETags) is counted in the next scan's report (issue 12). */
        ferry_ledger_t *led = NULL;
        REQUIRE(ferry_ledger_open(R, "e2e", 0, &led) == FERRY_OK);
        ferry_item_t it = {.key = "in/zz-unverified",
                           .size = 1,
                           .mtime = 1786603543,
                           .origin = FERRY_ORIGIN_EVENT};
        REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_EVENT, &it, 1, NULL) == FERRY_OK);
        int sr = 0;
        REQUIRE(ferry_ledger_start(led, it.key, "w/9", "tok", 5000, &sr, NULL) == FERRY_OK);
        ferry_outcome_t o = {.state = FERRY_STATE_DONE,
                             .size = 1,
                             .mtime = it.mtime,
                             .duration_ms = 1,
                             .checks = "src:unverified,dst:content-md5"};
        REQUIRE(ferry_ledger_finish(led, it.key, "tok", &o) == FERRY_OK);
        ferry_ledger_free(led);
        const char *tr[] = {ferry_bin, "--redis", rs.url, "task", "run", "e2e", NULL};
        CHECK_INT(run(tr, out, sizeof(out), 60), 0);
        CHECK(strstr(out, "1 done without a source check (src:unverified)") != NULL);
    }
    printf("== ferry sync killed with SIGKILL: its workers stop, a re-run finishes the copy\n");
    {
        REQUIRE(s3t_faults(&cs, src.url,
                           "{\"rules\":[{\"op\":\"GetObject\",\"latency_ms\":2000}]}") == 0);
        const char *a[] = {ferry_bin,
                           "--redis",
                           rs.url,
                           "sync",
                           "--from",
                           "oss://src/in/",
                           "--to",
                           "s3://dst/killed/",
                           "--src-endpoint",
                           src.url,
                           "--dst-endpoint",
                           dst.url,
                           "--name",
                           "killed",
                           "--workers",
                           "2",
                           NULL};
        char ep[1200];
        snprintf(ep, sizeof(ep), "%s/killed-sync.log", harness_tmpdir());
        pid_t sp = harness_spawn(a, NULL, ep);
        REQUIRE(sp > 0);
        pid_t kids[8];
        int nk = 0;
        for (int i = 0; i < 100 && nk < 2; i++) { /* its two workers, once they run */
            usleep(100000);
            nk = children_of(sp, kids, 8);
        }
        CHECK_INT(nk, 2);
        usleep(1500000); /* mid-copy: 300 GETs of 2 s over 2 x 16 jobs take ~19 s */
        kill(sp, SIGKILL);
        int st;
        waitpid(sp, &st, 0);
        /* The test is a child subreaper: the orphaned workers are now its children. */
        int gone = 0;
        /* They stop within the drain of their in-flight copies (one GET of 2 s each), long
         * before the ~17 s the rest of the copy would take: not by running out of work. */
        for (int i = 0; i < 100 && gone < nk; i++) {
            usleep(100000);
            for (int k = 0; k < nk; k++)
                if (kids[k] > 0 && waitpid(kids[k], &st, WNOHANG) == kids[k]) {
                    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0); /* drained, as on SIGTERM */
                    kids[k] = 0;
                    gone++;
                }
        }
        CHECK_INT(gone, nk);
        {
            ferry_ledger_t *l0 = NULL;
            ferry_counters_t c0;
            REQUIRE(ferry_ledger_open(R, "killed", 0, &l0) == FERRY_OK);
            REQUIRE(ferry_ledger_counters(l0, &c0) == FERRY_OK);
            ferry_ledger_free(l0);
            printf("killed sync: %lld of 300 done when its workers had stopped\n",
                   c0.objects[FERRY_STATE_DONE]);
            CHECK(c0.objects[FERRY_STATE_DONE] < 300); /* they stopped, not ran out of work */
        }
        REQUIRE(s3t_faults(&cs, src.url, "{\"rules\":[]}") == 0);
        CHECK_INT(run(a, out, sizeof(out), 120), 0); /* what was left is copied; nothing failed */
        ferry_ledger_t *led = NULL;
        ferry_counters_t c;
        REQUIRE(ferry_ledger_open(R, "killed", 0, &led) == FERRY_OK);
        REQUIRE(ferry_ledger_counters(led, &c) == FERRY_OK);
        ferry_ledger_free(led);
        CHECK_INT(c.objects[FERRY_STATE_DONE], 300);
        CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    }
    s3t_close(&cs);
    ferry_redis_free(R);
    return test_summary();
}
