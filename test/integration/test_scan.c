/* Integration: scheduler scans (scheduler/scan.c) against fakes3 and a real redis-server.
 *
 *   - hostile keys (unicode, spaces, '+', '%', 1,024-byte keys, byte order != locale order)
 *     for each source personality (oss, cos, kodo) into an s3 destination;
 *   - a second scan while the jobs are still queued queues nothing (already in flight);
 *   - a listing failure mid-scan: stopped, reported, nothing deleted;
 *   - the empty-source guard, and --allow-empty-source;
 *   - the scan lease: one holder, a take-over after expiry;
 *   - 100,000 objects seeded with /_fakes3/seed: every difference found, nothing else;
 *   - archive-class source objects (OSS Archive/ColdArchive/DeepColdArchive, PUT with
 *     x-amz-storage-class): recorded skipped with the reason, counters and indexes exact, a
 *     rescan writes nothing, a restored object is queued; `ferry status` / `ferry ls --state
 *     skipped` show them;
 *   - size/age filters stored by `ferry task add` (and `ferry sync`), applied by `ferry task
 *     run`, a command-line bound replacing the stored one for that run;
 *   - hostile listings (test/integration/hostile_list.c; issue 12 items 6 and 13): alternating
 *     continuation tokens, V1 markers walking back, endless empty truncated pages, keys out of
 *     byte order, a size above 5 TiB — each stops the scan with an error naming the store
 *     (and nothing queued); a store that drops
 *     nested CommonPrefixes loses nothing with the flat listing (the s3c default) and, forced
 *     to a delimiter listing, shows what it hides;
 *   - s3rver as an s3c source with keys three levels deep: the default (flat) finds them all.
 */
#include "test_s3_util.h"

#include "harness.h"
#include "hostile_list.h"
#include "lease.h"
#include "scan.h"

#include "ferry/ledger.h"
#include "ferry/queue.h"
#include "ferry/task.h"

#include <ctype.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static harness_server_t redis_srv;
static ferry_redis_t *R;
static char ferry_bin[1024];

static void set_creds(const harness_server_t *src, const harness_server_t *dst)
{
    setenv("FERRY_SRC_ACCESS_KEY_ID", src->access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", src->secret_key, 1);
    setenv("FERRY_DST_ACCESS_KEY_ID", dst->access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", dst->secret_key, 1);
}

static void mk_task(ferry_task_t *t, const char *name, const char *from, const char *to,
                    const harness_server_t *src, const harness_server_t *dst, int del)
{
    char *argv[12];
    int n = 0;
    ferry_error_t err;
    ferry_task_init(t);
    snprintf(t->name, sizeof(t->name), "%s", name);
    argv[n++] = "--from";
    argv[n++] = (char *)from;
    argv[n++] = "--to";
    argv[n++] = (char *)to;
    argv[n++] = "--src-endpoint";
    argv[n++] = (char *)src->url;
    argv[n++] = "--dst-endpoint";
    argv[n++] = (char *)dst->url;
    if (del)
        argv[n++] = "--delete";
    int rc = ferry_task_parse_args(t, n, argv, &err);
    if (rc)
        fprintf(stderr, "task: %s\n", err.msg);
    REQUIRE(rc == FERRY_OK);
    REQUIRE(ferry_task_put(R, t, 1) == FERRY_OK);
}

static int scan(const ferry_task_t *t, const ferry_scan_opts_t *o, ferry_scan_report_t *rep)
{
    ferry_error_t err = {0};
    int rc = ferry_scan_run(R, t, o, rep, &err);
    char line[900];
    ferry_scan_report_line(rep, line, sizeof(line));
    printf("  [%s] %s\n", t->name, line);
    if (rep->guard[0])
        printf("  [%s] guard: %s\n", t->name, rep->guard);
    return rc;
}

static long long xlen(const char *task, const char *q)
{
    redisReply *rep;
    char key[128];
    snprintf(key, sizeof(key), "ferry:{%s}:q:%s", task, q);
    REQUIRE(ferry_redis_cmd(R, &rep, "XLEN %s", key) == FERRY_OK);
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

static void put(s3t_t *c, const char *bucket, const char *key, size_t klen, size_t size)
{
    static char buf[4096];
    s3t_res_t x;
    memset(buf, 'x', sizeof(buf));
    if (size > sizeof(buf))
        size = sizeof(buf);
    int rc = s3t_put(c, bucket, key, klen, buf, size, &x);
    if (rc)
        fprintf(stderr, "put %.60s: %s\n", key, x.r.err.msg);
    REQUIRE(rc == FERRY_OK);
}

/* ---- hostile keys, per personality ---------------------------------------------------------- */

static const char *const HOSTILE[] = {
    "plain.txt",
    "with space.txt",
    "plus+sign.txt",
    "percent%41%2F.txt",
    "unicode/日本語/ファイル.jpg",
    "é-accent", /* 0xC3 0xA9: after 'z' in byte order, before it in locales */
    "z-last-in-locale",
    "Zebra", /* uppercase sorts before lowercase in byte order */
    "apple",
    "dir/sub/deep/x.bin",
    "~tilde",
    "a!b$c&d'e(f)g*h,i;j=k@l",
    "emoji-😀.png",
    "trailing-slash-dir/",
};

static void test_hostile(const char *personality)
{
    printf("== hostile keys, %s -> s3\n", personality);
    harness_server_t src, dst;
    const char *sx[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start(personality, sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs, cd;
    REQUIRE(s3t_open(&cs, personality, src.url, src.access_key, src.secret_key, FERRY_TRI_ON,
                     "source") == 0);
    REQUIRE(s3t_open(&cd, "s3", dst.url, dst.access_key, dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    size_t nh = sizeof(HOSTILE) / sizeof(HOSTILE[0]);
    char key[1100];
    /* Source: every hostile key under in/, plus a 1,024-byte key (prefix included). */
    for (size_t i = 0; i < nh; i++) {
        snprintf(key, sizeof(key), "in/%s", HOSTILE[i]);
        put(&cs, "src", key, strlen(key), 100 + i);
    }
    memset(key, 'k', 1024);
    memcpy(key, "in/long/", 8);
    key[1024] = '\0';
    put(&cs, "src", key, 1024, 7);
    /* Destination: half of them already copied (same size), one with another size, and two
     * keys the source does not have. */
    int copied = 0;
    for (size_t i = 0; i < nh; i += 2) {
        snprintf(key, sizeof(key), "out/%s", HOSTILE[i]);
        put(&cd, "dst", key, strlen(key), i == 4 ? 1 : 100 + i);
        copied++;
    }
    put(&cd, "dst", "out/extra one", 13, 5);
    put(&cd, "dst", "out/unicode/extra-日本", strlen("out/unicode/extra-日本"), 5);

    char name[64];
    snprintf(name, sizeof(name), "hostile-%s", personality);
    char from[64];
    snprintf(from, sizeof(from), "%s://src/in/", personality);
    ferry_task_t t;
    mk_task(&t, name, from, "s3://dst/out/", &src, &dst, 1);
    ferry_scan_opts_t o = {0};
    o.max_keys = 3; /* many pages: continuation with hostile markers */
    o.parallel = 2;
    ferry_scan_report_t rep;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.src_listed, (long long)nh + 1);
    CHECK_INT(rep.dst_listed, copied + 2);
    CHECK_INT(rep.new_, (long long)nh + 1 - copied);
    CHECK_INT(rep.changed, 1);
    CHECK_INT(rep.unchanged, copied - 1);
    CHECK_INT(rep.extra, 2);
    CHECK_INT(rep.to_delete, 2);
    CHECK_INT(rep.queued, (long long)nh + 1 - copied + 1);
    CHECK(rep.partitions >= 2);
    CHECK_INT(xlen(name, "bulk"), rep.queued + rep.to_delete);
    /* Every hostile key that differs has a queued record under its exact bytes. */
    ferry_ledger_t *led;
    REQUIRE(ferry_ledger_open(R, name, t.ledger_buckets, &led) == FERRY_OK);
    for (size_t i = 1; i < nh; i += 2) {
        ferry_record_t rec;
        snprintf(key, sizeof(key), "in/%s", HOSTILE[i]);
        int rc = ferry_ledger_get(led, key, &rec);
        if (rc)
            fprintf(stderr, "no record for %s\n", key);
        CHECK_INT(rc, FERRY_OK);
        CHECK_INT(rec.state, FERRY_STATE_QUEUED);
        CHECK_INT(rec.size, 100 + i);
    }
    ferry_record_t rec;
    memset(key, 'k', 1024);
    memcpy(key, "in/long/", 8);
    key[1024] = '\0';
    CHECK_INT(ferry_ledger_get(led, key, &rec), FERRY_OK);
    CHECK_INT(ferry_ledger_get(led, "in/extra one", &rec), FERRY_OK); /* the delete job */
    /* A second scan while all of that is still queued adds nothing. */
    long long before = xlen(name, "bulk");
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.queued, 0);
    CHECK_INT(rep.in_flight, (long long)nh + 1 - copied + 1);
    CHECK_INT(xlen(name, "bulk"), before);
    /* Without the delimiter split the result is the same. */
    o.split = -1;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.new_, (long long)nh + 1 - copied);
    CHECK_INT(rep.extra, 2);
    CHECK_INT(rep.partitions, 0);
    ferry_ledger_free(led);
    ferry_task_clear(&t);
    s3t_close(&cs);
    s3t_close(&cd);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

/* ---- failures and guards ------------------------------------------------------------------- */

typedef struct {
    s3t_t *c;
    const char *url;
    int armed;
} hook_t;

static int fail_midway(void *ud, const ferry_scan_report_t *r)
{
    hook_t *h = ud;
    if (!h->armed && r->src_listed >= 300) {
        h->armed = 1;
        REQUIRE(s3t_faults(h->c, h->url,
                           "[{\"op\":\"ListObjectsV2\",\"error\":403},"
                           "{\"op\":\"ListObjects\",\"error\":403}]") == 0);
    }
    return 0;
}

static void seed(s3t_t *c, const char *url, const char *bucket, const char *prefix,
                 unsigned long long start, unsigned long long count, unsigned size,
                 unsigned long long seedv)
{
    char body[512], out[512];
    snprintf(body, sizeof(body),
             "{\"bucket\":\"%s\",\"prefix\":\"%s\",\"start\":%llu,\"count\":%llu,\"size\":%u,"
             "\"seed\":%llu}",
             bucket, prefix, start, count, size, seedv);
    long st = s3t_control(c, url, "POST", "/_fakes3/seed", body, out, sizeof(out));
    if (st != 200)
        fprintf(stderr, "seed %s: %ld %s\n", body, st, out);
    REQUIRE(st == 200);
}

static void test_failures(void)
{
    printf("== listing failure mid-scan, empty-source guard\n");
    harness_server_t src, dst;
    const char *sx[] = {"--bucket", "src", "--bucket", "empty", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("oss", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs;
    REQUIRE(s3t_open(&cs, "oss", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    s3t_t cd;
    REQUIRE(s3t_open(&cd, "s3", dst.url, dst.access_key, dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    seed(&cs, src.url, "src", "a/", 0, 1000, 10, 1);
    seed(&cs, src.url, "src", "b/", 0, 1000, 10, 1);
    seed(&cd, dst.url, "dst", "a/", 1000, 500, 10, 1); /* 500 extras */
    seed(&cd, dst.url, "dst", "z/", 0, 500, 10, 1);    /* 500 extras */

    ferry_task_t t;
    mk_task(&t, "failing", "oss://src", "s3://dst", &src, &dst, 1);
    hook_t h = {&cs, src.url, 0};
    ferry_scan_opts_t o = {0};
    o.max_keys = 100;
    o.parallel = 1;
    o.on_progress = fail_midway;
    o.ud = &h;
    ferry_scan_report_t rep;
    int rc = scan(&t, &o, &rep);
    CHECK(rc != FERRY_OK);
    CHECK(h.armed);
    CHECK(strstr(rep.error, "listing the source") != NULL);
    CHECK(strstr(rep.error, "nothing was deleted") != NULL);
    CHECK(strstr(rep.error, "last key") != NULL);
    CHECK_INT(rep.to_delete, 0);
    CHECK(rep.src_listed >= 300 && rep.src_listed < 2000);
    /* nothing deleted: no delete job exists, and no spool is left behind */
    {
        redisReply *x;
        REQUIRE(ferry_redis_cmd(R, &x, "KEYS ferry:{failing}:scan:del:*") == FERRY_OK);
        CHECK_INT(x->elements, 0);
        freeReplyObject(x);
    }
    REQUIRE(s3t_faults(&cs, src.url, "[]") == 0);
    /* The same scan without the fault: everything found, 1000 deletes. */
    o.on_progress = NULL;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.extra, 1000);
    CHECK_INT(rep.to_delete, 1000);
    CHECK_INT(rep.new_, 2000);
    ferry_task_clear(&t);

    /* Empty source, non-empty destination: nothing is deleted unless told. */
    mk_task(&t, "emptysrc", "oss://empty", "s3://dst", &src, &dst, 1);
    memset(&o, 0, sizeof(o));
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.src_listed, 0);
    CHECK_INT(rep.extra, 1000);
    CHECK_INT(rep.to_delete, 0);
    CHECK(strstr(rep.guard, "--allow-empty-source") != NULL);
    CHECK_INT(xlen("emptysrc", "bulk"), 0);
    o.allow_empty_source = 1;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.to_delete, 1000);
    CHECK_INT(xlen("emptysrc", "bulk"), 1000);
    ferry_task_clear(&t);

    s3t_close(&cs);
    s3t_close(&cd);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

/* ---- archive classes ------------------------------------------------------------------------ */

/* Run the ferry binary (args[0] is replaced by it); stdout into out, stderr into err (either
 * may be NULL). The exit code, or -1 on a timeout. */
static int run_ferry(const char **args, char *out, size_t outn, char *err, size_t errn)
{
    char op[1200], ep[1200];
    static int seq;
    snprintf(op, sizeof(op), "%s/scan-out.%d", harness_tmpdir(), seq);
    snprintf(ep, sizeof(ep), "%s/scan-err.%d", harness_tmpdir(), seq++);
    args[0] = ferry_bin;
    pid_t pid = harness_spawn(args, op, ep);
    REQUIRE(pid > 0);
    int st = 0;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        usleep(100000);
        if (i == 599) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
    }
    const char *paths[2] = {op, ep};
    char *bufs[2] = {out, err};
    size_t caps[2] = {outn, errn};
    for (int k = 0; k < 2; k++) {
        if (bufs[k] == NULL)
            continue;
        FILE *f = fopen(paths[k], "r");
        size_t n = f ? fread(bufs[k], 1, caps[k] - 1, f) : 0;
        bufs[k][n] = '\0';
        if (f)
            fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void put_class(s3t_t *c, const char *bucket, const char *key, size_t size,
                      const char *sclass)
{
    static char buf[4096];
    memset(buf, 'a', sizeof(buf));
    ferry_kv_t h = {"x-amz-storage-class", sclass};
    ferry_s3_args_t a;
    ferry_error_t err;
    s3t_res_t x;
    memset(&x, 0, sizeof(x));
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.key_len = strlen(key);
    a.body = buf;
    a.body_len = (int64_t)(size < sizeof(buf) ? size : sizeof(buf));
    a.headers = sclass ? &h : NULL;
    a.nheaders = sclass ? 1 : 0;
    REQUIRE(ferry_s3_put(c->c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(c, &x);
    if (x.r.rc)
        fprintf(stderr, "put %s (%s): %s\n", key, sclass ? sclass : "-", x.r.err.msg);
    REQUIRE(x.r.rc == FERRY_OK);
}

static int zscore_exists(const char *task, const char *index, const char *key)
{
    redisReply *rep;
    char k[128];
    snprintf(k, sizeof(k), "ferry:{%s}:%s", task, index);
    REQUIRE(ferry_redis_cmd(R, &rep, "ZSCORE %s %s", k, key) == FERRY_OK);
    int yes = rep->type != REDIS_REPLY_NIL;
    freeReplyObject(rep);
    return yes;
}

static int count_rec(void *ud, const ferry_record_t *rec)
{
    (void)rec;
    (*(int *)ud)++;
    return 0;
}

static int count_state(ferry_ledger_t *led, int state)
{
    int n = 0;
    char next[256] = "", cur[256] = "";
    do {
        REQUIRE(ferry_ledger_list(led, state, "", cur, 1000, count_rec, &n, next, sizeof(next)) ==
                FERRY_OK);
        snprintf(cur, sizeof(cur), "%s", next);
    } while (next[0]);
    return n;
}

static void test_archive(void)
{
    printf("== archive-class source objects are recorded skipped with the reason\n");
    harness_server_t src, dst;
    const char *sx[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("oss", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs, cd;
    REQUIRE(s3t_open(&cs, "oss", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    REQUIRE(s3t_open(&cd, "s3", dst.url, dst.access_key, dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    put_class(&cs, "src", "in/std.txt", 10, NULL);
    put_class(&cs, "src", "in/ia.txt", 20, "IA");
    put_class(&cs, "src", "in/arc/g1", 100, "Archive");
    put_class(&cs, "src", "in/arc/g2", 200, "ColdArchive");
    put_class(&cs, "src", "in/deep/g3", 300, "DeepColdArchive");
    put_class(&cs, "src", "in/copied-then-archived", 40, "Archive");
    put_class(&cd, "dst", "out/copied-then-archived", 40, NULL);

    ferry_task_t t;
    mk_task(&t, "arch", "oss://src/in/", "s3://dst/out/", &src, &dst, 0);
    ferry_ledger_t *led;
    REQUIRE(ferry_ledger_open(R, "arch", t.ledger_buckets, &led) == FERRY_OK);
    /* g2 was seen before at an older version and failed: its record must move to skipped and
     * leave the failed index (a job for it is still in the stream). */
    ferry_item_t old = {.key = "in/arc/g2", .size = 1, .mtime = 1000, .etag = "0123abcd"};
    int res[4];
    REQUIRE(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, &old, 1, res) == FERRY_OK);
    CHECK_INT(res[0], FERRY_ENQ_QUEUED);
    REQUIRE(ferry_ledger_fail(led, "in/arc/g2", "InvalidObjectState") == FERRY_OK);
    CHECK(zscore_exists("arch", "failed", "in/arc/g2"));

    ferry_scan_opts_t o = {0};
    o.max_keys = 2;
    ferry_scan_report_t rep;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.src_listed, 6);
    CHECK_INT(rep.new_, 2);      /* std.txt, ia.txt */
    CHECK_INT(rep.unchanged, 1); /* copied before it was archived: stays as it is */
    CHECK_INT(rep.skipped_archive, 3);
    CHECK_INT(rep.skipped, 3);
    CHECK_INT(rep.queued, 2);
    CHECK(strstr(rep.skip_example, "restore it before it can be copied") != NULL);
    CHECK_INT(xlen("arch", "bulk"), 1 + 2); /* the old g2 job + 2 copies; no job for skips */

    ferry_record_t rec;
    CHECK_INT(ferry_ledger_get(led, "in/arc/g1", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_SKIPPED);
    CHECK_INT(rec.size, 100);
    CHECK(rec.src_mtime > 1000);
    CHECK(rec.src_etag[0] != '\0');
    CHECK_STR(rec.error, "source object is in archive storage class Archive: restore it before "
                         "it can be copied");
    CHECK(rec.finished_at > 0);
    CHECK_INT(rec.queued_at, 0);
    CHECK_INT(ferry_ledger_get(led, "in/arc/g2", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_SKIPPED);
    CHECK_INT(rec.size, 200);
    CHECK(strstr(rec.error, "ColdArchive") != NULL);
    CHECK_INT(ferry_ledger_get(led, "in/deep/g3", &rec), FERRY_OK);
    CHECK(strstr(rec.error, "DeepColdArchive") != NULL);
    CHECK_INT(ferry_ledger_get(led, "in/copied-then-archived", &rec), FERRY_ENOTFOUND);
    CHECK_INT(ferry_ledger_get(led, "in/ia.txt", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_QUEUED);
    /* counters and indexes: a skipped key is neither pending nor failed */
    ferry_counters_t c;
    REQUIRE(ferry_ledger_counters(led, &c) == FERRY_OK);
    CHECK_INT(c.objects[FERRY_STATE_SKIPPED], 3);
    CHECK_INT(c.bytes[FERRY_STATE_SKIPPED], 600);
    CHECK_INT(c.objects[FERRY_STATE_QUEUED], 2);
    CHECK_INT(c.bytes[FERRY_STATE_QUEUED], 30);
    CHECK_INT(c.objects[FERRY_STATE_FAILED], 0);
    CHECK_INT(c.bytes[FERRY_STATE_FAILED], 0);
    long long pending = -1, failed = -1;
    REQUIRE(ferry_ledger_progress(led, "", &pending, &failed) == FERRY_OK);
    CHECK_INT(pending, 2);
    CHECK_INT(failed, 0);
    CHECK(!zscore_exists("arch", "pending", "in/arc/g1"));
    CHECK(!zscore_exists("arch", "pending", "in/arc/g2"));
    CHECK(!zscore_exists("arch", "failed", "in/arc/g2"));
    CHECK_INT(count_state(led, FERRY_STATE_SKIPPED), 3);

    /* The CLI: ferry status and ferry ls --state skipped. */
    {
        char out[8192], err[2048];
        const char *a[] = {NULL,     "--redis", redis_srv.url, "--json",
                           "status", "arch",    "in/arc/g1",   NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "\"state\":\"skipped\"") != NULL);
        CHECK(strstr(out, "\"error\":\"source object is in archive storage class Archive: "
                          "restore it before it can be copied\"") != NULL);
        const char *b[] = {NULL,   "--redis", redis_srv.url, "--json", "ls",
                           "arch", "--state", "skipped",     NULL};
        CHECK_INT(run_ferry(b, out, sizeof(out), err, sizeof(err)), 0);
        int lines = 0;
        for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
            lines++;
        CHECK_INT(lines, 3);
        CHECK(strstr(out, "\"key\":\"in/arc/g1\"") != NULL);
        CHECK(strstr(out, "\"key\":\"in/arc/g2\"") != NULL);
        CHECK(strstr(out, "\"key\":\"in/deep/g3\"") != NULL);
        CHECK(strstr(out, "in/std.txt") == NULL);
    }

    /* A rescan finds the same and writes nothing: counters unchanged, no job added. */
    long long jobs = xlen("arch", "bulk");
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.skipped_archive, 3);
    CHECK_INT(rep.queued, 0);
    CHECK_INT(rep.in_flight, 2);
    CHECK_INT(xlen("arch", "bulk"), jobs);
    ferry_counters_t c2;
    REQUIRE(ferry_ledger_counters(led, &c2) == FERRY_OK);
    CHECK(memcmp(&c, &c2, sizeof(c)) == 0);

    /* The CAS rules of ferry_ledger_skip itself. */
    CHECK_INT(ferry_ledger_get(led, "in/arc/g1", &rec), FERRY_OK);
    ferry_item_t same = {
        .key = "in/arc/g1", .size = rec.size, .mtime = rec.src_mtime, .etag = rec.src_etag};
    const char *why = rec.error;
    CHECK_INT(ferry_ledger_skip(led, &same, &why, 1, res), FERRY_OK);
    CHECK_INT(res[0], FERRY_SKIP_UNCHANGED);
    ferry_item_t older = same;
    older.mtime = rec.src_mtime - 10;
    CHECK_INT(ferry_ledger_skip(led, &older, &why, 1, res), FERRY_OK);
    CHECK_INT(res[0], FERRY_SKIP_STALE);
    ferry_item_t queued_one = {.key = "in/std.txt"};
    ferry_record_t qrec;
    CHECK_INT(ferry_ledger_get(led, "in/std.txt", &qrec), FERRY_OK);
    queued_one.size = qrec.size;
    queued_one.mtime = qrec.src_mtime;
    queued_one.etag = qrec.src_etag;
    CHECK_INT(ferry_ledger_skip(led, &queued_one, &why, 1, res), FERRY_OK);
    CHECK_INT(res[0], FERRY_SKIP_BUSY);
    REQUIRE(ferry_ledger_counters(led, &c2) == FERRY_OK);
    CHECK(memcmp(&c, &c2, sizeof(c)) == 0);
    /* A newer version, still archived: recorded again, bytes follow the new size. */
    ferry_item_t newer = same;
    newer.mtime = rec.src_mtime + 10;
    newer.size = 150;
    CHECK_INT(ferry_ledger_skip(led, &newer, &why, 1, res), FERRY_OK);
    CHECK_INT(res[0], FERRY_SKIP_RECORDED);
    REQUIRE(ferry_ledger_counters(led, &c2) == FERRY_OK);
    CHECK_INT(c2.objects[FERRY_STATE_SKIPPED], 3);
    CHECK_INT(c2.bytes[FERRY_STATE_SKIPPED], 650);
    /* Restored (same version as recorded, now copyable): a forced enqueue queues it — what the
     * scan does when it sees a skipped record of the listed version. */
    newer.force = 1;
    CHECK_INT(ferry_ledger_enqueue(led, FERRY_QUEUE_BULK, &newer, 1, res), FERRY_OK);
    CHECK_INT(res[0], FERRY_ENQ_QUEUED);
    CHECK_INT(ferry_ledger_get(led, "in/arc/g1", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_QUEUED);
    CHECK_STR(rec.error, "");
    REQUIRE(ferry_ledger_counters(led, &c2) == FERRY_OK);
    CHECK_INT(c2.objects[FERRY_STATE_SKIPPED], 2);
    CHECK_INT(c2.bytes[FERRY_STATE_SKIPPED], 500);
    CHECK_INT(c2.objects[FERRY_STATE_QUEUED], 3);
    CHECK(zscore_exists("arch", "pending", "in/arc/g1"));

    /* End to end: g2 restored to a normal class (a re-PUT; within the same second it is the
     * same version, else a newer one — both must queue it). */
    put_class(&cs, "src", "in/arc/g2", 200, "Standard");
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.skipped_archive, 2); /* g3, and g1 — listed older than its record: stale */
    CHECK_INT(rep.stale, 1);
    CHECK_INT(rep.queued, 1);
    CHECK_INT(ferry_ledger_get(led, "in/arc/g2", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_QUEUED);
    CHECK_STR(rec.error, "");
    REQUIRE(ferry_ledger_counters(led, &c2) == FERRY_OK);
    CHECK_INT(c2.objects[FERRY_STATE_SKIPPED], 1);
    CHECK_INT(c2.bytes[FERRY_STATE_SKIPPED], 300);
    CHECK_INT(c2.objects[FERRY_STATE_QUEUED], 4);
    CHECK_INT(count_state(led, FERRY_STATE_SKIPPED), 1);
    REQUIRE(ferry_ledger_progress(led, "", &pending, &failed) == FERRY_OK);
    CHECK_INT(pending, 4);

    /* Dry run: counted, nothing written. */
    put_class(&cs, "src", "in/arc/g4", 50, "Archive");
    o.dry_run = 1;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.skipped_archive, 3);
    CHECK_INT(ferry_ledger_get(led, "in/arc/g4", &rec), FERRY_ENOTFOUND);

    ferry_ledger_free(led);
    ferry_task_clear(&t);
    s3t_close(&cs);
    s3t_close(&cd);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

/* ---- size/age filters stored in the task ------------------------------------------------------
 */

static void test_filters(void)
{
    printf("== size/age filters: stored by task add and sync, applied by task run\n");
    harness_server_t src, dst;
    const char *sx[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("oss", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs;
    REQUIRE(s3t_open(&cs, "oss", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    put_class(&cs, "src", "f/small", 10, NULL);
    put_class(&cs, "src", "f/mid", 1000, NULL);
    put_class(&cs, "src", "f/big", 4000, NULL);
    char out[8192], err[2048];

    /* A bad bound: exit 2, the message names the option. */
    {
        const char *a[] = {NULL,         "--redis", redis_srv.url,  "task", "add",
                           "badf",       "--from",  "oss://src/f/", "--to", "s3://dst/f/",
                           "--min-size", "2M",      "--max-size",   "1M",   NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 2);
        CHECK(strstr(err, "--min-size") != NULL);
        const char *b[] = {
            NULL,           "--redis", redis_srv.url, "task",      "add",  "badf", "--from",
            "oss://src/f/", "--to",    "s3://dst/f/", "--max-age", "soon", NULL};
        CHECK_INT(run_ferry(b, out, sizeof(out), err, sizeof(err)), 2);
        CHECK(strstr(err, "--max-age") != NULL);
    }
    const char *add[] = {NULL,
                         "--redis",
                         redis_srv.url,
                         "task",
                         "add",
                         "filt",
                         "--from",
                         "oss://src/f/",
                         "--to",
                         "s3://dst/f/",
                         "--src-endpoint",
                         src.url,
                         "--dst-endpoint",
                         dst.url,
                         "--min-size",
                         "100",
                         "--max-size",
                         "2k",
                         "--max-age",
                         "1d",
                         NULL};
    CHECK_INT(run_ferry(add, out, sizeof(out), err, sizeof(err)), 0);
    {
        const char *a[] = {NULL, "--redis", redis_srv.url, "--json", "task", "show", "filt", NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "\"min_size\":100") != NULL);
        CHECK(strstr(out, "\"max_size\":2048") != NULL);
        CHECK(strstr(out, "\"max_age_ms\":86400000") != NULL);
        CHECK(strstr(out, "min_age_ms") == NULL);
    }
    ferry_task_t t;
    REQUIRE(ferry_task_get(R, "filt", &t) == FERRY_OK);
    CHECK_INT(t.min_size, 100);
    CHECK_INT(t.max_size, 2048);
    CHECK_INT(t.max_age_ms, 86400000);
    ferry_ledger_t *led;
    REQUIRE(ferry_ledger_open(R, "filt", t.ledger_buckets, &led) == FERRY_OK);
    ferry_record_t rec;
    {
        const char *a[] = {NULL, "--redis", redis_srv.url, "--json", "task", "run", "filt", NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "\"queued\":1,") != NULL);
        CHECK(strstr(out, "\"skipped\":2,") != NULL);
        CHECK_INT(ferry_ledger_get(led, "f/mid", &rec), FERRY_OK);
        CHECK_INT(ferry_ledger_get(led, "f/small", &rec), FERRY_ENOTFOUND);
        CHECK_INT(ferry_ledger_get(led, "f/big", &rec), FERRY_ENOTFOUND);
    }
    /* The library applies the stored bounds with no options of its own, too. */
    {
        ferry_scan_opts_t o = {0};
        ferry_scan_report_t rep;
        o.dry_run = 1;
        CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
        CHECK_INT(rep.skipped, 2);
        CHECK_INT(rep.new_, 1);
    }
    /* A command-line bound replaces the stored one for that run only. */
    {
        const char *a[] = {NULL,  "--redis", redis_srv.url, "--json", "task",
                           "run", "filt",    "--max-size",  "1M",     NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "\"queued\":1,") != NULL);  /* big; mid is already queued */
        CHECK(strstr(out, "\"skipped\":1,") != NULL); /* small: the stored --min-size holds */
        CHECK_INT(ferry_ledger_get(led, "f/big", &rec), FERRY_OK);
        CHECK_INT(ferry_ledger_get(led, "f/small", &rec), FERRY_ENOTFOUND);
        ferry_task_t t2;
        REQUIRE(ferry_task_get(R, "filt", &t2) == FERRY_OK);
        CHECK_INT(t2.max_size, 2048); /* not stored */
        ferry_task_clear(&t2);
        /* an override that contradicts the stored bound is refused before any listing */
        const char *b[] = {NULL,   "--redis",    redis_srv.url, "task", "run",
                           "filt", "--min-size", "1G",          NULL};
        CHECK(run_ferry(b, out, sizeof(out), err, sizeof(err)) != 0);
        CHECK(strstr(err, "--min-size") != NULL);
    }
    /* An age bound: everything here is seconds old, so --min-age 1h skips it all. */
    {
        const char *a[] = {NULL,
                           "--redis",
                           redis_srv.url,
                           "task",
                           "add",
                           "aged",
                           "--from",
                           "oss://src/f/",
                           "--to",
                           "s3://dst/f/",
                           "--src-endpoint",
                           src.url,
                           "--dst-endpoint",
                           dst.url,
                           "--min-age",
                           "1h",
                           NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 0);
        const char *b[] = {NULL, "--redis", redis_srv.url, "--json", "task", "run", "aged", NULL};
        CHECK_INT(run_ferry(b, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "\"queued\":0,") != NULL);
        CHECK(strstr(out, "\"skipped\":3,") != NULL);
    }
    /* ferry sync stores the filters in the task it defines. */
    {
        const char *a[] = {NULL,
                           "--redis",
                           redis_srv.url,
                           "sync",
                           "--name",
                           "syncf",
                           "--from",
                           "oss://src/f/",
                           "--to",
                           "s3://dst/f/",
                           "--src-endpoint",
                           src.url,
                           "--dst-endpoint",
                           dst.url,
                           "--min-size=500",
                           "--dry-run",
                           "--workers",
                           "0",
                           NULL};
        CHECK_INT(run_ferry(a, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "2 new") != NULL);
        CHECK(strstr(out, "1 skipped") != NULL);
        ferry_task_t t3;
        REQUIRE(ferry_task_get(R, "syncf", &t3) == FERRY_OK);
        CHECK_INT(t3.min_size, 500);
        CHECK_INT(t3.max_size, 0);
        ferry_task_clear(&t3);
    }
    ferry_ledger_free(led);
    ferry_task_clear(&t);
    s3t_close(&cs);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

/* ---- leases ---------------------------------------------------------------------------------- */

static void test_lease(void)
{
    printf("== scan lease\n");
    ferry_redis_t *r2;
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(redis_srv.url, NULL, &r2, &err) == FERRY_OK);
    ferry_lease_t a, b;
    REQUIRE(ferry_lease_init(&a, R, "leased", 400, "sched-a") == FERRY_OK);
    REQUIRE(ferry_lease_init(&b, r2, "leased", 400, "sched-b") == FERRY_OK);
    char who[128];
    CHECK_INT(ferry_lease_acquire(&a, NULL, 0), FERRY_OK);
    CHECK_INT(ferry_lease_acquire(&b, who, sizeof(who)), FERRY_EBUSY);
    CHECK(strncmp(who, "sched-a:", 8) == 0);
    usleep(200 * 1000);
    CHECK_INT(ferry_lease_renew(&a), FERRY_OK);
    usleep(250 * 1000); /* 450 ms after the first take, 250 after the renewal */
    CHECK_INT(ferry_lease_acquire(&b, NULL, 0), FERRY_EBUSY);
    /* a dies (stops renewing): b takes over within the ttl */
    usleep(500 * 1000);
    CHECK_INT(ferry_lease_acquire(&b, NULL, 0), FERRY_OK);
    CHECK_INT(ferry_lease_renew(&a), FERRY_EBUSY);
    CHECK_INT(ferry_lease_release(&a), FERRY_OK); /* not ours: leaves b's lease alone */
    CHECK_INT(ferry_lease_renew(&b), FERRY_OK);
    CHECK_INT(ferry_lease_release(&b), FERRY_OK);
    CHECK_INT(ferry_lease_acquire(&a, NULL, 0), FERRY_OK);
    ferry_lease_release(&a);
    ferry_redis_free(r2);
}

/* ---- 100,000 objects ------------------------------------------------------------------------ */

static void test_100k(void)
{
    printf("== 100,000-object scan\n");
    harness_server_t src, dst;
    const char *sx[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("oss", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs, cd;
    REQUIRE(s3t_open(&cs, "oss", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    REQUIRE(s3t_open(&cd, "s3", dst.url, dst.access_key, dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    /* a/: 25k both sides, 1,000 of them another size in the destination (changed)
     * b/: 25k source, first 20k in the destination (5,000 new)
     * c/: 25k source, 30k destination (5,000 extra)
     * d/: 25k source only (a partition with no destination side: 25,000 new)
     * e/: 100 destination only (extra) */
    const char *pf[] = {"in/a/", "in/b/", "in/c/", "in/d/"};
    for (int i = 0; i < 4; i++)
        seed(&cs, src.url, "src", pf[i], 0, 25000, 16, 7);
    seed(&cd, dst.url, "dst", "in/a/", 0, 25000, 16, 7);
    seed(&cd, dst.url, "dst", "in/a/", 5000, 1000, 17, 7);
    seed(&cd, dst.url, "dst", "in/b/", 0, 20000, 16, 7);
    seed(&cd, dst.url, "dst", "in/c/", 0, 30000, 16, 7);
    seed(&cd, dst.url, "dst", "in/e/", 0, 100, 16, 7);

    ferry_task_t t;
    mk_task(&t, "big", "oss://src/in/", "s3://dst/in/", &src, &dst, 1);
    ferry_scan_opts_t o = {0};
    ferry_scan_report_t rep;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.src_listed, 100000);
    CHECK_INT(rep.dst_listed, 25000 + 20000 + 30000 + 100);
    CHECK_INT(rep.new_, 30000);
    CHECK_INT(rep.changed, 1000);
    CHECK_INT(rep.unchanged, 69000);
    CHECK_INT(rep.extra, 5100);
    CHECK_INT(rep.to_delete, 5100);
    CHECK_INT(rep.queued, 31000);
    CHECK_INT(rep.skipped, 0);
    CHECK_INT(rep.partitions, 5);
    CHECK_INT(xlen("big", "bulk"), 31000 + 5100);
    CHECK(rep.peak_buffered <= 2 * 5000 + 2000);
    /* spot checks: the exact keys */
    ferry_ledger_t *led;
    ferry_record_t rec;
    REQUIRE(ferry_ledger_open(R, "big", t.ledger_buckets, &led) == FERRY_OK);
    CHECK_INT(ferry_ledger_get(led, "in/a/00005999", &rec), FERRY_OK);
    CHECK_INT(ferry_ledger_get(led, "in/a/00006000", &rec), FERRY_ENOTFOUND);
    CHECK_INT(ferry_ledger_get(led, "in/b/00020000", &rec), FERRY_OK);
    CHECK_INT(ferry_ledger_get(led, "in/b/00019999", &rec), FERRY_ENOTFOUND);
    CHECK_INT(ferry_ledger_get(led, "in/c/00029999", &rec), FERRY_OK); /* delete */
    CHECK_INT(ferry_ledger_get(led, "in/e/00000000", &rec), FERRY_OK); /* delete */
    ferry_ledger_free(led);
    /* Backpressure: a bound below the backlog pauses and, with nobody draining, the scan is
     * canceled by the hook after a pause rather than running ahead. */
    ferry_task_clear(&t);
    s3t_close(&cs);
    s3t_close(&cd);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

/* ---- hostile listings (issue 12, items 6 and 13) -------------------------------------------- */

static void mk_task_x(ferry_task_t *t, const char *name, const char *from, const char *to,
                      const char *src_url, const harness_server_t *dst, const char *src_listing)
{
    char *argv[12];
    int n = 0;
    ferry_error_t err;
    ferry_task_init(t);
    snprintf(t->name, sizeof(t->name), "%s", name);
    argv[n++] = "--from";
    argv[n++] = (char *)from;
    argv[n++] = "--to";
    argv[n++] = (char *)to;
    argv[n++] = "--src-endpoint";
    argv[n++] = (char *)src_url;
    argv[n++] = "--dst-endpoint";
    argv[n++] = (char *)dst->url;
    if (src_listing) {
        argv[n++] = "--src-listing";
        argv[n++] = (char *)src_listing;
    }
    int rc = ferry_task_parse_args(t, n, argv, &err);
    if (rc)
        fprintf(stderr, "task: %s\n", err.msg);
    REQUIRE(rc == FERRY_OK);
    REQUIRE(ferry_task_put(R, t, 1) == FERRY_OK);
}

static void test_hostile_listings(void)
{
    printf("== hostile listings: loops, empty pages, order, dropped CommonPrefixes\n");
    harness_server_t dst;
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    hostile_list_t *h;
    char url[64];
    REQUIRE(hostile_list_start(&h, url, sizeof(url)) == 0);
    setenv("FERRY_SRC_ACCESS_KEY_ID", "AKIDHOSTILE", 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", "hostile-secret", 1);
    setenv("FERRY_DST_ACCESS_KEY_ID", dst.access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", dst.secret_key, 1);
    const char *host = url + strlen("http://");

    static const struct {
        hl_mode_t mode;
        const char *from; /* s3: V2 tokens; s3c: V1 markers */
        const char *says;
    } loops[] = {
        {HL_ALT_TOKENS, "s3://b", "continuation token"},
        {HL_MARKER_BACK, "s3c://b", "marker"},
        {HL_EMPTY_PAGES, "s3://b", "empty pages"},
        {HL_OUT_OF_ORDER, "s3://b", "out of byte order"},
        {HL_OUT_OF_ORDER, "s3c://b", "out of byte order"},
        {HL_HUGE_SIZE, "s3://b", "\"in/huge\" has <Size> 100000000000000000"},
    };
    for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "hostile-list-%zu", i);
        ferry_task_t t;
        mk_task_x(&t, name, loops[i].from, "s3://dst/out/", url, &dst, NULL);
        hostile_list_mode(h, loops[i].mode);
        ferry_scan_opts_t o = {0};
        ferry_scan_report_t rep;
        int rc = scan(&t, &o, &rep);
        long hits = hostile_list_hits(h);
        printf("  mode %d (%s): rc %d after %ld requests: %s\n", (int)loops[i].mode, loops[i].from,
               rc, hits, rep.error);
        CHECK(rc != FERRY_OK);
        CHECK(hits < HL_HIT_CAP);               /* stopped, not worn out */
        CHECK(strstr(rep.error, host) != NULL); /* names the store */
        CHECK(strstr(rep.error, loops[i].says) != NULL);
        CHECK(strstr(rep.error, "source") != NULL);
        CHECK_INT(rep.queued, 0);
        CHECK_INT(xlen(name, "bulk"), 0);
        ferry_task_clear(&t);
    }

    /* A store that drops nested CommonPrefixes (s3rver 3.7.1's bug): the default for s3c is a
     * flat listing, which finds every key; forcing --src-listing delimiter trusts the store
     * and, as documented, loses what it hides. */
    hostile_list_mode(h, HL_DROP_NESTED);
    ferry_task_t t;
    mk_task_x(&t, "hostile-nested", "s3c://b/in/", "s3://dst/nested/", url, &dst, NULL);
    ferry_scan_opts_t o = {0};
    ferry_scan_report_t rep;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.flat, 1);
    CHECK_INT(rep.src_listed, HL_NESTED_N);
    CHECK_INT(rep.queued, HL_NESTED_N);
    CHECK_INT(rep.partitions, 0);
    ferry_task_clear(&t);
    mk_task_x(&t, "hostile-nested-delim", "s3c://b/in/", "s3://dst/nested2/", url, &dst,
              "delimiter");
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.flat, 0);
    printf("  dropped CommonPrefixes, --src-listing delimiter: %lld of %d keys listed (the "
           "store hid the rest: delimiter listings are for trusted stores)\n",
           rep.src_listed, HL_NESTED_N);
    CHECK_INT(rep.src_listed, 2);
    ferry_task_clear(&t);
    /* the strategy is stored with the task (what `ferry task run` and the scheduler load) */
    REQUIRE(ferry_task_get(R, "hostile-nested-delim", &t) == FERRY_OK);
    CHECK_INT(t.src.listing, 1);
    CHECK_INT(t.dst.listing, 0);
    ferry_task_clear(&t);
    /* the same with flat forced on a scheme whose default is delimiter */
    mk_task_x(&t, "hostile-nested-flat", "s3://b/in/", "s3://dst/nested3/", url, &dst, "flat");
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.flat, 1);
    CHECK_INT(rep.src_listed, HL_NESTED_N);
    ferry_task_clear(&t);

    hostile_list_stop(h);
    harness_stop(&dst, 15);
}

/* s3rver 3.7.1 as an s3c source, keys three levels deep under a folder with no key of its own:
 * the default listing (flat for s3c) finds every key. */
static void test_s3rver_deep(void)
{
    printf("== s3rver source, keys three levels deep\n");
    setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
    harness_server_t src, dst;
    const char *buckets[] = {"deep", NULL};
    if (harness_s3rver_start(buckets, &src) != 0) {
        printf("  s3rver not available: skipped\n");
        return;
    }
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs;
    REQUIRE(s3t_open(&cs, "s3c", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    const char *keys[] = {"in/top.txt", "in/deep/a/b/k.txt", "in/deep/a/b/l.txt",
                          "in/deep/a/c/d/m.txt", "in/x/y.txt"};
    size_t nk = sizeof(keys) / sizeof(keys[0]);
    for (size_t i = 0; i < nk; i++)
        put(&cs, "deep", keys[i], strlen(keys[i]), 10 + i);
    ferry_task_t t;
    mk_task_x(&t, "s3rver-deep", "s3c://deep/in/", "s3://dst/deep/", src.url, &dst, NULL);
    ferry_scan_opts_t o = {0};
    ferry_scan_report_t rep;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.flat, 1);
    CHECK_INT(rep.src_listed, (long long)nk);
    CHECK_INT(rep.queued, (long long)nk);
    ferry_task_clear(&t);
    /* forced delimiter: what s3rver's bug costs (printed, documented; not a guarantee) */
    mk_task_x(&t, "s3rver-deep-delim", "s3c://deep/in/", "s3://dst/deep2/", src.url, &dst,
              "delimiter");
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    printf("  s3rver with --src-listing delimiter: %lld of %zu keys listed\n", rep.src_listed, nk);
    ferry_task_clear(&t);
    s3t_close(&cs);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

/* ---- the rescan's decisions, made by the enqueue script ------------------------------------ */

/* The scan sends a key the destination lacks straight to the enqueue script
 * (FERRY_FORCE_IDLE) instead of reading its record first: the script must decide as the scan
 * did. At the listed version: queued or copying → left alone (in flight, no second job);
 * done, failed → queued again; the same etag in quotes or another case is the same version. */
static void test_rescan_inflight(void)
{
    printf("== rescan: jobs on their way are left alone, done records the destination lacks are "
           "queued again\n");
    harness_server_t src, dst;
    const char *sx[] = {"--bucket", "src", "--path-style-ok", NULL};
    const char *dx[] = {"--bucket", "dst", NULL};
    REQUIRE(harness_fakes3_start("s3", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    set_creds(&src, &dst);
    s3t_t cs;
    REQUIRE(s3t_open(&cs, "s3", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    const char *keys[] = {"in/queued", "in/copying", "in/done", "in/failed", "in/upper"};
    for (size_t i = 0; i < 5; i++)
        put(&cs, "src", keys[i], strlen(keys[i]), 10 + i);
    ferry_task_t t;
    mk_task(&t, "rescan", "s3://src/in/", "s3://dst/out/", &src, &dst, 0);
    ferry_scan_opts_t o = {0};
    ferry_scan_report_t rep;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.queued, 5);
    CHECK_INT(xlen("rescan", "bulk"), 5);
    ferry_ledger_t *led;
    REQUIRE(ferry_ledger_open(R, "rescan", t.ledger_buckets, &led) == FERRY_OK);
    int sr;
    REQUIRE(ferry_ledger_start(led, "in/copying", "h/0", "h/0/1/f1", 60000, &sr, NULL) == FERRY_OK);
    CHECK_INT(sr, FERRY_START_COPY);
    ferry_record_t rec;
    REQUIRE(ferry_ledger_start(led, "in/done", "h/0", "h/0/1/f2", 60000, &sr, &rec) == FERRY_OK);
    CHECK_INT(sr, FERRY_START_COPY);
    ferry_outcome_t od = {.state = FERRY_STATE_DONE,
                          .size = rec.size,
                          .mtime = rec.src_mtime,
                          .etag = rec.src_etag,
                          .duration_ms = 1};
    CHECK_INT(ferry_ledger_finish(led, "in/done", "h/0/1/f2", &od), FERRY_OK);
    REQUIRE(ferry_ledger_start(led, "in/failed", "h/0", "h/0/1/f3", 60000, &sr, NULL) == FERRY_OK);
    CHECK_INT(ferry_ledger_fail(led, "in/failed", "gave up"), FERRY_OK);
    /* in/upper: the same version recorded with its etag bare and upper case (as an OSS event
     * sends it) and still queued */
    REQUIRE(ferry_ledger_get(led, "in/upper", &rec) == FERRY_OK);
    char up[FERRY_ETAG_MAX + 1];
    size_t n = 0;
    for (const char *p = rec.src_etag; *p && n < sizeof(up) - 1; p++)
        if (*p != '"')
            up[n++] = (char)toupper((unsigned char)*p);
    up[n] = '\0';
    CHECK(strcmp(up, rec.src_etag) != 0);
    ferry_item_t ev = {.key = "in/upper",
                       .size = rec.size,
                       .mtime = rec.src_mtime,
                       .etag = up,
                       .origin = FERRY_ORIGIN_EVENT,
                       .force = FERRY_FORCE_ALWAYS};
    int res;
    CHECK_INT(ferry_ledger_enqueue(led, FERRY_QUEUE_EVENT, &ev, 1, &res), FERRY_OK);
    CHECK_INT(res, FERRY_ENQ_QUEUED);
    long long jobs = xlen("rescan", "bulk");
    /* the destination still lacks all five */
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.new_, 5);
    CHECK_INT(rep.queued, 2);    /* done and failed */
    CHECK_INT(rep.in_flight, 3); /* queued, copying, upper */
    CHECK_INT(xlen("rescan", "bulk"), jobs + 2);
    const int want[5] = {FERRY_STATE_QUEUED, FERRY_STATE_COPYING, FERRY_STATE_QUEUED,
                         FERRY_STATE_QUEUED, FERRY_STATE_QUEUED};
    for (size_t i = 0; i < 5; i++) {
        REQUIRE(ferry_ledger_get(led, keys[i], &rec) == FERRY_OK);
        CHECK_INT(rec.state, want[i]);
    }
    /* a dry run reads the records and says the same, writing nothing */
    o.dry_run = 1;
    CHECK_INT(scan(&t, &o, &rep), FERRY_OK);
    CHECK_INT(rep.in_flight, 5);
    CHECK_INT(xlen("rescan", "bulk"), jobs + 2);
    ferry_ledger_free(led);
    ferry_task_clear(&t);
    s3t_close(&cs);
    harness_stop(&src, 15);
    harness_stop(&dst, 15);
}

int main(void)
{
    setlocale(LC_ALL, "");
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : "build/bin");
    REQUIRE(harness_redis_start(&redis_srv) == 0);
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(redis_srv.url, NULL, &R, &err) == FERRY_OK);
    test_hostile_listings();
    test_s3rver_deep();
    test_lease();
    test_rescan_inflight();
    test_hostile("oss");
    test_hostile("cos");
    test_hostile("kodo");
    test_failures();
    test_archive();
    test_filters();
    test_100k();
    ferry_redis_free(R);
    harness_stop(&redis_srv, 15);
    return test_summary();
}
