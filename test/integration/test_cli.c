/* Integration tests for the ferry binary ($FERRY_BIN_DIR/ferry): task commands and their
 * validation, status/ls/wait/retry with --json and exit codes against a harness Redis, the
 * exports of ferry ls --format csv|json|jsonl with hostile keys, and the
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
static char state_w[512], state_l[512], state_q[512]; /* test_state_dir_safety's dirs */

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
    const char *dirs[6] = {state_a, state_b, state_home, state_w, state_l, state_q};
    for (int i = 0; i < 6; i++)
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

/* ferry scheduler --no-scan serves the API and never scans a due task; without it the same
 * scheduler scans it at once (here the scan fails: nothing listens on port 9), which shows
 * the test can fail. */
static int scans_of(const char *task)
{
    if (run("--redis %s task show %s --json", srv.url, task) != 0)
        return -1;
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    int n = j ? (int)json_array_size(json_object_get(j, "scans")) : -1;
    json_decref(j);
    return n;
}

static void test_no_scan(void)
{
    const char *R = srv.url;
    CHECK_INT(run("--redis %s task add nsc --from s3://a/ --to s3://b/ --every 1h "
                  "--src-endpoint http://127.0.0.1:9 --dst-endpoint http://127.0.0.1:9",
                  R),
              0);
    /* a dry run is in the history but does not count as the schedule's last scan */
    run("--help >/dev/null; env FERRY_SRC_ACCESS_KEY_ID=k FERRY_SRC_SECRET_ACCESS_KEY=s "
        "FERRY_DST_ACCESS_KEY_ID=k FERRY_DST_SECRET_ACCESS_KEY=s %s --redis %s task run nsc "
        "--dry-run",
        ferry_bin, R);
    CHECK(scans_of("nsc") >= 1);
    {
        ferry_error_t e;
        ferry_redis_t *r = NULL;
        redisReply *rep = NULL;
        REQUIRE(ferry_redis_connect(R, NULL, &r, &e) == FERRY_OK);
        CHECK_INT(ferry_redis_cmd(r, &rep, "GET ferry:{nsc}:scan:last"), FERRY_OK);
        CHECK(rep && rep->type == REDIS_REPLY_NIL);
        freeReplyObject(rep);
        CHECK_INT(ferry_redis_cmd(r, &rep, "DEL ferry:{nsc}:scans"), FERRY_OK);
        freeReplyObject(rep);
        ferry_redis_free(r);
    }
    const char *sched = "--redis %s scheduler %s--listen off --tick 100ms & p=$!; sleep 1.5; "
                        "kill $p; wait $p";
    char cmd[512];
    snprintf(cmd, sizeof(cmd), sched, "%s", "--no-scan ");
    CHECK_INT(run(cmd, R), 0);
    CHECK_INT(scans_of("nsc"), 0);
    snprintf(cmd, sizeof(cmd), sched, "%s", "");
    CHECK_INT(run(cmd, R), 0);
    CHECK(scans_of("nsc") >= 1);
    CHECK_INT(run("--redis %s task rm nsc", R), 0);
}

static void test_with_redis_url(void)
{
    const char *R = srv.url;
    CHECK_INT(run("--redis %s task add t1 --from oss://src/in/ --to s3://dst/out/ --every 15m", R),
              0);
    CHECK(strstr(out, "t1") != NULL);
    { /* task add creates both streams' consumer group, before any worker ran (KEDA reads it) */
        ferry_error_t e;
        ferry_redis_t *r = NULL;
        REQUIRE(ferry_redis_connect(R, NULL, &r, &e) == FERRY_OK);
        for (int s = 0; s < 2; s++) {
            redisReply *rep = NULL;
            CHECK_INT(
                ferry_redis_cmd(r, &rep, "XINFO GROUPS ferry:{t1}:q:%s", s ? "bulk" : "event"),
                FERRY_OK);
            CHECK(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1);
            freeReplyObject(rep);
        }
        ferry_redis_free(r);
    }
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
    /* plain lines when not a terminal: the display's text, no terminal codes */
    CHECK(strstr(errbuf, "wait t1: [") != NULL && strstr(errbuf, " objects") != NULL);
    CHECK(strstr(errbuf, "\033[") == NULL);
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
    /* every command answers --help, without touching Redis */
    static const char *const cmds[] = {"task",  "status", "ls",        "wait",  "retry", "sync",
                                       "event", "down",   "scheduler", "check", "worker"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        CHECK_INT(run("--redis redis://127.0.0.1:1 %s --help", cmds[i]), 0);
        CHECK(strncmp(out, "usage: ferry ", 13) == 0);
    }
}

/* Records with hostile keys: done or failed as asked, error text included. */
static void seed_keys(const char *task, const char *const *keys, size_t n, int failed,
                      const char *error)
{
    ferry_redis_t *r;
    ferry_error_t e;
    REQUIRE(ferry_redis_connect(srv.url, NULL, &r, &e) == FERRY_OK);
    ferry_task_t t;
    REQUIRE(ferry_task_get(r, task, &t) == FERRY_OK);
    ferry_ledger_t *l;
    REQUIRE(ferry_ledger_open(r, task, t.ledger_buckets, &l) == FERRY_OK);
    for (size_t i = 0; i < n; i++) {
        ferry_item_t it = {.key = keys[i], .size = 7, .mtime = 1786603543, .etag = "0A"};
        REQUIRE(ferry_ledger_enqueue(l, FERRY_QUEUE_BULK, &it, 1, NULL) == FERRY_OK);
        int sr;
        REQUIRE(ferry_ledger_start(l, keys[i], "host/1", "tok", 5000, &sr, NULL) == FERRY_OK);
        ferry_outcome_t o = {.state = failed ? FERRY_STATE_FAILED : FERRY_STATE_DONE,
                             .size = 7,
                             .mtime = it.mtime,
                             .etag = it.etag,
                             .dst_etag = "\"0a\"",
                             .error = error,
                             .duration_ms = 1};
        REQUIRE(ferry_ledger_finish(l, keys[i], "tok", &o) == FERRY_OK);
    }
    ferry_ledger_free(l);
    ferry_task_clear(&t);
    ferry_redis_free(r);
}

/* A control byte other than newline; with c1, also DEL and U+0080..U+009F. */
static int has_ctl_ex(const char *s, int c1)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n') || (c1 && (*p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))))
            return 1;
    return 0;
}

static int has_ctl(const char *s)
{
    return has_ctl_ex(s, 1);
}

/* Issue 12 item 16: keys are printed escaped by ls/status/wait (no terminal escapes, no forged
 * lines), --json stays exact, and the --cursor hint is safe to paste into a shell. */
static void test_hostile_keys(void)
{
    const char *R = srv.url;
    CHECK_INT(run("--redis %s task add hk --from oss://src/in/ --to s3://dst/out/", R), 0);
    const char *evil[] = {"e/\x1b]0;owned\x07\x1b[2J", "e/line\ndone 99 forged/key",
                          "e/del\x7f\xc2\x9b\xe2\x80\xa6"};
    seed_keys("hk", evil, 3, 1, "boom\x1b[31m\nforged: error");
    /* ls: one line per record, no control byte reaches the terminal */
    CHECK_INT(run("--redis %s ls hk", R), 0);
    CHECK_INT(lines(out), 3);
    CHECK(!has_ctl(out));
    CHECK(strstr(out, "e/\\x1b]0;owned\\x07\\x1b[2J") != NULL);
    CHECK(strstr(out, "e/line\\x0adone 99 forged/key") != NULL);
    CHECK(strstr(out, "e/del\\x7f\\xc2\\x9b\xe2\x80\xa6") != NULL); /* U+2026 is printable */
    /* --json stays exact JSON: the key decodes to its bytes */
    CHECK_INT(run("--redis %s ls hk --json", R), 0);
    CHECK_INT(lines(out), 3);
    CHECK(!has_ctl_ex(out, 0)); /* JSON escapes C0 controls; DEL and C1 are valid JSON text */
    json_error_t je;
    json_t *j = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
    REQUIRE(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "key")), evil[0]);
    json_decref(j);
    /* status: the key and the error escaped */
    CHECK_INT(run("--redis %s status hk \"$(printf 'e/line\\ndone 99 forged/key')\"", R), 0);
    CHECK(!has_ctl(out));
    CHECK(strstr(out, "\nforged") == NULL && strstr(out, "\ndone 99") == NULL);
    CHECK(strstr(out, "boom\\x1b[31m\\x0aforged: error") != NULL);
    /* wait: the failed keys and errors it lists on stderr */
    CHECK_INT(run("--redis %s wait hk --timeout 5s", R), 1);
    CHECK(!has_ctl(errbuf));
    CHECK(strstr(errbuf, "\nforged") == NULL && strstr(errbuf, "\ndone 99") == NULL);

    /* the cursor hint, pasted into a shell, runs ferry ls and nothing else */
    CHECK_INT(run("--redis %s task add hc --from oss://src/in/ --to s3://dst/out/", R), 0);
    const char *q[] = {"c/$(touch PWNED)'`touch PWNED`'/1", "c/$(touch PWNED)'`touch PWNED`'/2",
                       "c/$(touch PWNED)'`touch PWNED`'/3"};
    seed_keys("hc", q, 3, 0, NULL);
    CHECK_INT(run("--redis %s ls hc --limit 1 --prefix 'c/$(touch PWNED)'\\''`touch "
                  "PWNED`'\\''/'",
                  R),
              0);
    CHECK_INT(lines(out), 1);
    const char *h = strstr(errbuf, "ferry ls ");
    REQUIRE(h != NULL);
    char hint[1024], cmd[4096];
    snprintf(hint, sizeof(hint), "%s", h + 9);
    char *nl = strchr(hint, '\n');
    if (nl)
        *nl = '\0';
    snprintf(cmd, sizeof(cmd), "--help >/dev/null; cd %s && %s --redis %s ls %s", harness_tmpdir(),
             ferry_bin, R, hint);
    CHECK_INT(run("%s", cmd), 0);
    char pwned[600];
    snprintf(pwned, sizeof(pwned), "%s/PWNED", harness_tmpdir());
    CHECK(access(pwned, F_OK) != 0);
    CHECK(strstr(out, "c/$(touch PWNED)'`touch PWNED`'/2") != NULL); /* the next page */
    /* --json gives the cursor as JSON */
    CHECK_INT(run("--redis %s ls hk --limit 1 --json", R), 0);
    CHECK(strstr(errbuf, "{\"next_cursor\":\"") != NULL);
    /* a location with a control byte: task add and task ls escape it */
    CHECK_INT(run("--redis %s task add he --from \"$(printf 'oss://src/in\\033[2J/')\" --to "
                  "s3://dst/out/",
                  R),
              0);
    CHECK(!has_ctl(out));
    CHECK(strstr(out, "oss://src/in\\x1b[2J/") != NULL);
    CHECK_INT(run("--redis %s task ls", R), 0);
    CHECK(strstr(out, "\x1b") == NULL);
    CHECK_INT(run("--redis %s task rm he", R), 0);
    CHECK_INT(run("--redis %s task rm hk", R), 0);
    CHECK_INT(run("--redis %s task rm hc", R), 0);
}

/* One RFC 4180 record from *p (fields into f[0..max), each malloc'd); the number of fields, 0 at
 * the end of the input, -1 when the text is not valid CSV. */
static int csv_record(const char **p, char **f, int max)
{
    const char *s = *p;
    int n = 0;
    if (*s == '\0')
        return 0;
    for (;;) {
        char buf[4096];
        size_t l = 0;
        if (*s == '"') {
            for (s++;; s++) {
                if (*s == '\0')
                    return -1;
                if (*s == '"' && s[1] == '"')
                    s++;
                else if (*s == '"') {
                    s++;
                    break;
                }
                if (l + 1 < sizeof(buf))
                    buf[l++] = *s;
            }
        } else
            while (*s && *s != ',' && *s != '\r' && *s != '\n') {
                if (*s == '"')
                    return -1; /* a quote inside an unquoted field */
                if (l + 1 < sizeof(buf))
                    buf[l++] = *s;
                s++;
            }
        buf[l] = '\0';
        if (n >= max)
            return -1;
        f[n++] = strdup(buf);
        if (*s == ',') {
            s++;
            continue;
        }
        if (s[0] == '\r' && s[1] == '\n') {
            *p = s + 2;
            return n;
        }
        return -1; /* records end with CRLF */
    }
}

static void free_fields(char **f, int n)
{
    for (int i = 0; i < n; i++)
        free(f[i]);
}

/* Issue 15: ferry ls --format csv|json|jsonl exports every matching record (across pages) with
 * its error, attempts, times and worker; keys with commas, quotes, line breaks, CR, spaces and
 * unicode come back byte for byte. */
static void test_export(void)
{
    const char *R = srv.url;
    enum { PLAIN = 40, HOSTILE = 7, N = PLAIN + HOSTILE };
    static char plain[PLAIN][32];
    const char *keys[N];
    const char *hostile[HOSTILE] = {
        "x/comma,key",        "x/\"quoted\" \"\"twice\"\"",         "x/line\nbreak", "x/cr\r\nlf",
        "x/ lead and trail ", "x/unicode \xc3\xa9\xe2\x80\xa6+%2F", "x/,\",\n"};
    for (int i = 0; i < PLAIN; i++) {
        snprintf(plain[i], sizeof(plain[i]), "p/%03d", i);
        keys[i] = plain[i];
    }
    for (int i = 0; i < HOSTILE; i++)
        keys[PLAIN + i] = hostile[i];
    CHECK_INT(run("--redis %s task add ex --from oss://src/in/ --to s3://dst/out/", R), 0);
    seed_keys("ex", keys, N, 1, "[dst:403] AccessDenied, \"quoted\"\nsecond line");
    const char *ok_key[] = {"done/1"};
    seed_keys("ex", ok_key, 1, 0, NULL);

    /* csv: a header and one record per failed object, page after page (--limit 6 pages) */
    CHECK_INT(run("--redis %s ls ex --state failed --format csv --limit 6", R), 0);
    const char *p = out;
    char *f[16];
    int n = csv_record(&p, f, 16);
    REQUIRE(n == 11);
    CHECK_STR(f[0], "key");
    CHECK_STR(f[4], "error_code");
    CHECK_STR(f[5], "error");
    CHECK_STR(f[10], "worker");
    free_fields(f, n);
    int rows = 0, seen[N] = {0};
    while ((n = csv_record(&p, f, 16)) > 0) {
        REQUIRE(n == 11);
        rows++;
        for (int k = 0; k < N; k++)
            if (strcmp(f[0], keys[k]) == 0)
                seen[k]++;
        CHECK_STR(f[1], "failed");
        CHECK_STR(f[2], "7");
        CHECK_STR(f[3], "1");       /* attempts */
        CHECK_STR(f[4], "dst:403"); /* the code, then the text after it */
        CHECK_STR(f[5], "AccessDenied, \"quoted\"\nsecond line");
        CHECK(f[6][0] && f[7][0] && f[8][0]); /* queued, started, finished */
        CHECK_STR(f[10], "host/1");
        free_fields(f, n);
    }
    CHECK_INT(n, 0); /* the whole output parsed as CSV */
    CHECK_INT(rows, N);
    for (int k = 0; k < N; k++)
        CHECK_INT(seen[k], 1);

    /* json: one array of whole records */
    CHECK_INT(run("--redis %s ls ex --state failed --format json --limit 5", R), 0);
    json_error_t je;
    json_t *arr = json_loads(out, 0, &je);
    REQUIRE(arr != NULL && json_is_array(arr));
    CHECK_INT((int)json_array_size(arr), N);
    int jseen[N] = {0};
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        for (int k = 0; k < N; k++)
            if (strcmp(json_string_value(json_object_get(v, "key")), keys[k]) == 0)
                jseen[k]++;
        CHECK_INT((int)json_integer_value(json_object_get(v, "attempts")), 1);
        CHECK_STR(json_string_value(json_object_get(v, "error_code")), "dst:403");
        CHECK(json_is_string(json_object_get(v, "finished_at")));
    }
    for (int k = 0; k < N; k++)
        CHECK_INT(jseen[k], 1);
    json_decref(arr);

    /* jsonl: one object a line */
    CHECK_INT(run("--redis %s ls ex --state failed --format jsonl --limit 4", R), 0);
    CHECK_INT(lines(out), N);
    json_t *first = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
    REQUIRE(first != NULL);
    CHECK_STR(json_string_value(json_object_get(first, "state")), "failed");
    json_decref(first);

    /* nothing matching: the header alone, an empty array */
    CHECK_INT(run("--redis %s ls ex --state copying --format csv", R), 0);
    CHECK_INT(lines(out), 1);
    CHECK_INT(run("--redis %s ls ex --state copying --format json", R), 0);
    CHECK_STR(out, "[]\n");
    /* every state and a prefix */
    CHECK_INT(run("--redis %s ls ex --prefix x/ --format jsonl", R), 0);
    CHECK_INT(lines(out), HOSTILE);
    CHECK_INT(run("--redis %s ls nosuch --format csv", R), 3);
    /* retry by error code: the code's records only, whole codes or a leading part up to ':' */
    CHECK_INT(run("--redis %s retry ex --error checksum:dst", R), 0);
    CHECK_STR(out, "re-queued 0\n");
    CHECK_INT(run("--redis %s retry ex --error dst:40", R), 0);
    CHECK_STR(out, "re-queued 0\n");
    CHECK_INT(run("--redis %s retry ex --error 'dst 403'", R), 2);
    CHECK_INT(run("--redis %s retry ex --error dst:403 p/001", R), 2);
    CHECK_INT(run("--redis %s retry ex --error dst", R), 0);
    CHECK_STR(out, "re-queued 47\n");
    CHECK_INT(run("--redis %s task rm ex", R), 0);
}

/* Issue 12 item 16: a duration whose sum overflows int64 is a clear error (no UB: this binary
 * runs under UBSan with halt_on_error). */
static void test_duration_overflow(void)
{
    char big[2200] = "";
    for (int i = 0; i < 150; i++) /* 150 x 8.64e16 ms > INT64_MAX */
        strcat(big, "1000000000d");
    CHECK_INT(run("--redis %s task add ov --from oss://a/ --to s3://b/ --every %s", srv.url, big),
              2);
    CHECK(strstr(errbuf, "--every") != NULL && strstr(errbuf, "too long") != NULL);
    CHECK(strstr(errbuf, "runtime error") == NULL);
    CHECK_INT(run("--redis %s task add ov --from oss://a/ --to s3://b/ --every "
                  "9999999999999999999h",
                  srv.url),
              2);
    CHECK(strstr(errbuf, "too long") != NULL);
    CHECK_INT(run("--redis %s wait nosuch --timeout %s", srv.url, big), 2);
    CHECK(strstr(errbuf, "runtime error") == NULL);
}

/* Issue 12 item 16: the state dir and redis.conf. */
static void test_state_dir_safety(void)
{
    const char *T = harness_tmpdir();
    char d[400], f[700], cmd[2048];
    /* a state dir writable by others is refused, with the chmod to run */
    snprintf(d, sizeof(d), "%s/sw", T);
    snprintf(state_w, sizeof(state_w), "%s", d); /* stopped at exit if the refusal fails */
    REQUIRE(mkdir(d, 0700) == 0);
    REQUIRE(chmod(d, 0777) == 0);
    CHECK_INT(run("--state-dir %s task ls", d), 1);
    CHECK(strstr(errbuf, "chmod go-w") != NULL);
    snprintf(f, sizeof(f), "%s/redis.pid", d);
    CHECK(access(f, F_OK) != 0); /* nothing started there */
    REQUIRE(chmod(d, 0700) == 0);
    /* a symlink planted at redis.conf.tmp is not followed */
    snprintf(d, sizeof(d), "%s/sl", T);
    REQUIRE(mkdir(d, 0700) == 0);
    char victim[700];
    snprintf(victim, sizeof(victim), "%s/victim", T);
    FILE *v = fopen(victim, "w");
    REQUIRE(v != NULL);
    fputs("keep\n", v);
    fclose(v);
    snprintf(f, sizeof(f), "%s/redis.conf.tmp", d);
    REQUIRE(symlink(victim, f) == 0);
    snprintf(state_l, sizeof(state_l), "%s", d); /* stopped at exit */
    CHECK_INT(run("--state-dir %s task ls", d), 0);
    v = fopen(victim, "r");
    REQUIRE(v != NULL);
    char got[64] = "";
    CHECK(fgets(got, sizeof(got), v) != NULL);
    fclose(v);
    CHECK_STR(got, "keep\n");
    CHECK_INT(run("--state-dir %s down", d), 0);
    /* nor one at redis.lock: refused, nothing created where it points */
    snprintf(f, sizeof(f), "%s/redis.lock", d);
    REQUIRE(unlink(f) == 0);
    char target[700];
    snprintf(target, sizeof(target), "%s/lock-target", T);
    REQUIRE(symlink(target, f) == 0);
    CHECK_INT(run("--state-dir %s task ls", d), 1);
    CHECK(strstr(errbuf, "symbolic link") != NULL);
    CHECK(access(target, F_OK) != 0);
    REQUIRE(unlink(f) == 0);
    /* a path with quotes, a backslash and spaces is quoted in redis.conf and works */
    snprintf(d, sizeof(d), "%s/s \"q\\ x", T);
    snprintf(state_q, sizeof(state_q), "'%s'", d);
    snprintf(cmd, sizeof(cmd), "--state-dir '%s' task ls", d);
    CHECK_INT(run("%s", cmd), 0);
    snprintf(f, sizeof(f), "%s/redis.conf", d);
    v = fopen(f, "r");
    REQUIRE(v != NULL);
    char conf[4096];
    size_t n = fread(conf, 1, sizeof(conf) - 1, v);
    conf[n] = '\0';
    fclose(v);
    CHECK(strstr(conf, "s \\\"q\\\\ x/redis.sock\"") != NULL);
    snprintf(cmd, sizeof(cmd), "--state-dir '%s' down", d);
    CHECK_INT(run("%s", cmd), 0);
    CHECK(strstr(out, "stopped") != NULL);
    /* a path with a newline (which could add a directive) is refused clearly */
    CHECK_INT(run("--state-dir \"$(printf '%s/n\\nrequirepass x')\" task ls", T), 1);
    CHECK(strstr(errbuf, "control character") != NULL);
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
    test_no_scan();
    test_hostile_keys();
    test_export();
    test_duration_overflow();
    test_state_dir_safety();
    test_private_redis();
    return test_summary();
}
