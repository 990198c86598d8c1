/* Integration tests for the ferry binary ($FERRY_BIN_DIR/ferry): task commands and their
 * validation, status/ls/wait/retry with --json and exit codes against a harness Redis, and the
 * private redis-server of a state dir (start, reuse, concurrent start, ferry down). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "ferry/ledger.h"
#include "ferry/task.h"
#include "harness.h"
#include "test.h"

static harness_server_t srv;
static char ferry_bin[512];
static char out[65536], errbuf[8192];
static char state_a[512], state_b[512], state_home[512];

/* Run "ferry ARGS" through the shell; stdout in out, stderr in errbuf; returns exit code. */
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s", ferry_bin, args);
    return harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
}

static void stop_private(void)
{
    char cmd[2048];
    const char *dirs[3] = {state_a, state_b, state_home};
    for (int i = 0; i < 3; i++)
        if (dirs[i][0]) {
            snprintf(cmd, sizeof(cmd), "%s --state-dir %s down >/dev/null 2>&1", ferry_bin,
                     dirs[i]);
            if (system(cmd) != 0)
                fprintf(stderr, "could not stop the private redis in %s\n", dirs[i]);
        }
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static long read_pid(const char *dir)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/redis.pid", dir);
    FILE *f = fopen(p, "r");
    long v = 0;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static int alive(long pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

static void seed(const char *task, int n_done, int n_failed, int n_queued)
{
    ferry_redis_t *r;
    ferry_error_t e;
    REQUIRE(ferry_redis_connect(srv.url, NULL, &r, &e) == FERRY_OK);
    ferry_task_t t;
    REQUIRE(ferry_task_get(r, task, &t) == FERRY_OK);
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, task, t.ledger_buckets, &l) == FERRY_OK);
    char key[64];
    for (int i = 0; i < n_done + n_failed + n_queued; i++) {
        snprintf(key, sizeof(key), "%s/%03d.jpg", i < n_done + n_failed ? "photos" : "later", i);
        ferry_item_t it = {.key = key,
                           .size = 1000 + (uint64_t)i,
                           .mtime = 1786603543,
                           .etag = "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10"};
        REQUIRE(ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, &it, 1, NULL) == FERRY_OK);
        if (i >= n_done + n_failed)
            continue;
        int sr;
        REQUIRE(ferry_ledger_start(l, key, "host/1", "tok", 5000, &sr, NULL) == FERRY_OK);
        ferry_outcome_t o = {.state = i < n_done ? FERRY_STATE_DONE : FERRY_STATE_FAILED,
                             .size = it.size,
                             .mtime = it.mtime,
                             .etag = it.etag,
                             .dst_etag = "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"",
                             .error = "OSS said AccessDenied",
                             .duration_ms = 12};
        REQUIRE(ferry_ledger_finish(l, key, "tok", &o) == FERRY_OK);
    }
    ferry_ledger_free(l);
    ferry_task_clear(&t);
    ferry_redis_free(r);
}

static void test_with_redis_url(void)
{
    const char *R = srv.url;
    CHECK_INT(run("--redis %s task add t1 --from oss://src/in/ --to s3://dst/out/ --every 15m", R),
              0);
    CHECK(strstr(out, "t1") != NULL);
    CHECK_INT(run("--redis %s task add t1 --from oss://src/in/ --to s3://dst/out/", R), 2);
    CHECK(strstr(errbuf, "already exists") != NULL);
    CHECK_INT(run("--redis %s task add t2 --from oss://a --to s3://b --compare md5", R), 2);
    CHECK(strstr(errbuf, "--compare") != NULL);
    CHECK_INT(run("--redis %s task add t2 --from oss://a --to gs://b", R), 2);
    CHECK(strstr(errbuf, "--to") != NULL);
    CHECK_INT(run("--redis %s task add t2 --from oss://a --to s3://b --part-size 1k", R), 2);
    CHECK(strstr(errbuf, "--part-size") != NULL);
    CHECK_INT(run("--redis %s task add t2 --from oss://a --to s3://b --frobnicate", R), 2);
    CHECK(strstr(errbuf, "--frobnicate") != NULL);
    CHECK_INT(run("--redis %s task add 'bad{name}' --from oss://a --to s3://b", R), 2);
    /* FERRY_REDIS_URL works like --redis */
    char env[400];
    snprintf(env, sizeof(env), "FERRY_REDIS_URL=%s", R);
    CHECK_INT(run("--help >/dev/null; env %s %s task add t2 --from cos://c/x/ --to s3c://d "
                  "--cron '0 * * * *' --include '*.jpg' --src-profile tencent",
                  env, ferry_bin),
              0);
    CHECK_INT(run("--redis %s task ls", R), 0);
    CHECK(strstr(out, "t1") != NULL && strstr(out, "t2") != NULL);
    CHECK_INT(run("--redis %s task show t2 --json", R), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    REQUIRE(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "cron")), "0 * * * *");
    CHECK_STR(json_string_value(json_object_get(j, "from_profile")), "tencent");
    CHECK(json_object_get(j, "counters") != NULL);
    json_decref(j);
    CHECK_INT(run("--redis %s task show nope", R), 3);

    seed("t1", 5, 2, 3);
    CHECK_INT(run("--redis %s status t1 photos/000.jpg --json", R), 0);
    j = json_loads(out, 0, &je);
    REQUIRE(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "state")), "done");
    CHECK_STR(json_string_value(json_object_get(j, "task")), "t1");
    CHECK_STR(json_string_value(json_object_get(j, "src_etag")),
              "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10");
    CHECK_STR(json_string_value(json_object_get(j, "dst_etag")),
              "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"");
    CHECK_STR(json_string_value(json_object_get(j, "src_mtime")), "2026-08-13T06:45:43Z");
    CHECK_INT(json_integer_value(json_object_get(j, "attempts")), 1);
    CHECK(json_is_null(json_object_get(j, "error")));
    CHECK_STR(json_string_value(json_object_get(j, "worker")), "host/1");
    json_decref(j);
    CHECK_INT(run("--redis %s status t1 photos/000.jpg", R), 0);
    CHECK(strstr(out, "done") != NULL);
    CHECK_INT(run("--redis %s status t1 no/such.jpg", R), 3);
    CHECK_INT(run("--redis %s ls t1 --json", R), 0);
    CHECK_INT(lines(out), 10);
    CHECK_INT(run("--redis %s ls t1 --state failed --json", R), 0);
    CHECK_INT(lines(out), 2);
    CHECK(strstr(out, "AccessDenied") != NULL);
    CHECK_INT(run("--redis %s ls t1 --limit 4", R), 0);
    CHECK_INT(lines(out), 4);
    CHECK(strstr(errbuf, "--cursor") != NULL);
    CHECK_INT(run("--redis %s ls t1 --state bogus", R), 2);
    CHECK_INT(run("--redis %s wait t1 --timeout 300ms", R), 124);
    CHECK_INT(run("--redis %s wait t1 --prefix photos/ --timeout 5s --json", R), 1); /* 2 failed */
    CHECK(strstr(errbuf, "failed") != NULL);
    CHECK(strstr(out, "\"complete\":false") != NULL);
    CHECK_INT(run("--redis %s wait t1 --prefix photos/000 --progress --timeout 5s", R), 0);
    CHECK(strstr(errbuf, "progress done=") != NULL); /* plain lines when not a terminal */
    CHECK_INT(run("--redis %s retry t1 --json", R), 0);
    CHECK(strstr(out, "\"requeued\":2") != NULL);
    CHECK_INT(run("--redis %s ls t1 --state failed --json", R), 0);
    CHECK_INT(lines(out), 0);
    CHECK_INT(run("--redis %s retry t1 photos/000.jpg nope.jpg", R), 3);
    CHECK(strstr(out, "re-queued 1") != NULL);
    CHECK_INT(run("--redis %s task rm t1", R), 0);
    CHECK_INT(run("--redis %s status t1 photos/000.jpg", R), 3);
    CHECK_INT(run("--redis %s task rm t1", R), 3);

    CHECK_INT(run("--redis redis://127.0.0.1:1 task ls"), 1);
    CHECK(strstr(errbuf, "cannot reach Redis at 127.0.0.1:1: connection refused") != NULL);
    CHECK_INT(run("--redis http://x task ls"), 1);
    CHECK(strstr(errbuf, "redis://") != NULL);
    CHECK_INT(run("sync --from oss://a --to s3://b"), 2); /* checked before any I/O */
    CHECK(strstr(errbuf, "needs a region") != NULL);
    CHECK_INT(run("frobnicate"), 2);
}

static void test_private_redis(void)
{
    snprintf(state_a, sizeof(state_a), "%s/sa", harness_tmpdir());
    snprintf(state_b, sizeof(state_b), "%s/sb", harness_tmpdir());
    /* first use starts it */
    CHECK_INT(run("--state-dir %s task add p1 --from kodo://k --to s3://d", state_a), 0);
    long pid1 = read_pid(state_a);
    CHECK(pid1 > 0);
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/redis.sock", state_a);
    struct stat st;
    CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
    /* reused, and the data is there */
    CHECK_INT(run("--state-dir %s task ls", state_a), 0);
    CHECK(strstr(out, "p1") != NULL);
    CHECK_INT(read_pid(state_a), pid1);
    /* FERRY_STATE_DIR works too */
    char env[700];
    snprintf(env, sizeof(env), "FERRY_STATE_DIR=%s", state_a);
    CHECK_INT(run("--help >/dev/null; env %s %s task ls", env, ferry_bin), 0);
    CHECK(strstr(out, "p1") != NULL);
    /* down stops it; data survives a restart (AOF) */
    CHECK_INT(run("--state-dir %s down", state_a), 0);
    CHECK(strstr(out, "stopped") != NULL);
    CHECK(!alive(pid1));
    CHECK_INT(run("--state-dir %s down", state_a), 0);
    CHECK(strstr(out, "no private redis-server") != NULL);
    CHECK_INT(run("--state-dir %s task ls", state_a), 0);
    CHECK(strstr(out, "p1") != NULL);
    CHECK(read_pid(state_a) != pid1);
    /* two commands racing on a fresh dir start one server */
    char cmd[8192];
    snprintf(
        cmd, sizeof(cmd),
        "%s --state-dir %s task ls >/dev/null 2>&1 & %s --state-dir %s task ls >/dev/null 2>&1 & "
        "%s --state-dir %s task ls >/dev/null 2>&1 & wait",
        ferry_bin, state_b, ferry_bin, state_b, ferry_bin, state_b);
    CHECK(system(cmd) == 0);
    long pidb = read_pid(state_b);
    CHECK(pidb > 0);
    snprintf(cmd, sizeof(cmd), "pgrep -f '[r]edis-server.*sb/redis.sock' | wc -l");
    CHECK_INT(run("--help >/dev/null; %s", cmd), 0);
    CHECK_INT(atoi(out), 1);
    CHECK_INT(run("--state-dir %s down", state_b), 0);
    CHECK(!alive(pidb));
    CHECK_INT(run("--state-dir %s down", state_a), 0);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : ".");
    REQUIRE(access(ferry_bin, X_OK) == 0);
    /* A command run without --redis/--state-dir by mistake must not touch the real HOME. */
    setenv("HOME", harness_tmpdir(), 1);
    unsetenv("FERRY_STATE_DIR");
    unsetenv("FERRY_REDIS_URL");
    snprintf(state_home, sizeof(state_home), "%s/.local/state/ferry", harness_tmpdir());
    atexit(stop_private); /* runs before the harness's cleanup (atexit is LIFO) */
    REQUIRE(harness_redis_start(&srv) == 0);
    test_with_redis_url();
    test_private_redis();
    return test_summary();
}
