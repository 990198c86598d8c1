/* Integration: `ferry check` (issue 12, "ferry check"), an audit that does not read the
 * ledger, against fakes3 on both ends and a real Redis (task registry only), and `ferry sync`
 * passing the Redis URL to its workers through the environment (issue 12 item 16).
 *
 * Cases: a matching copy (exit 0); a multipart destination object whose ETag cannot be
 * compared, with the same bytes (0, counted "not comparable") and with other bytes of the same
 * size (found only by --download); a missing key, an extra key, a size difference and a
 * same-size byte difference with MD5 ETags (found without --download); keys outside the task's
 * filters are not reported; --json; --prefix; the ledger is not read (a deleted ledger changes
 * nothing); a failing listing (exit 4 with what to do); usage errors. */
#include "test_s3_util.h"

#include "harness.h"

#include "ferry/redis.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#define N_OBJ    30
#define OBJ_SIZE 1000

static harness_server_t rs, src, dst;
static char ferry_bin[1024], redis_url[512];
static char out[65536], errbuf[16384];
static s3t_t cs, cd;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s --redis '%s' %s", ferry_bin, redis_url, args);
    int rc = harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
    if (rc > 1)
        fprintf(stderr, "[ferry %s: exit %d]\nstdout: %.2000s\nstderr: %.2000s\n", args, rc, out,
                errbuf);
    return rc;
}

static int count_lines(const char *s, const char *kind)
{
    int n = 0;
    size_t kl = strlen(kind);
    for (const char *p = s; *p;) {
        if (strncmp(p, kind, kl) == 0 && p[kl] == ' ')
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static void put_dst(const char *key, const char *data, size_t len)
{
    s3t_res_t x;
    REQUIRE(s3t_put(&cd, "dst", key, 0, data, len, &x) == FERRY_OK);
}

static void del_dst(const char *key)
{
    s3t_res_t x;
    REQUIRE(s3t_delete(&cd, "dst", key, 0, &x) == FERRY_OK);
}

/* The source object's bytes. */
static size_t get_src(const char *key, char *buf, size_t cap)
{
    s3t_sink_t sink = {0};
    s3t_res_t x;
    REQUIRE(s3t_get(&cs, "src", key, 0, -1, -1, &sink, &x) == FERRY_OK);
    REQUIRE(sink.len <= cap);
    memcpy(buf, sink.data, sink.len);
    free(sink.data);
    return sink.len;
}

/* Put data on the destination as a two-part multipart upload: its ETag is "…-2". */
static void put_dst_multipart(const char *key, const char *data, size_t len)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    s3t_res_t x;
    ferry_s3_args_init(&a);
    a.bucket = "dst";
    a.key = key;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_create_multipart(cd.c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(&cd, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    char upload[FERRY_UPLOAD_ID_MAX + 1], etags[2][FERRY_ETAG_MAX + 1];
    snprintf(upload, sizeof(upload), "%s", x.r.upload_id);
    size_t half = len / 2;
    for (int pn = 1; pn <= 2; pn++) {
        ferry_s3_args_init(&a);
        a.bucket = "dst";
        a.key = key;
        a.upload_id = upload;
        a.part_number = pn;
        a.body = data + (pn == 1 ? 0 : half);
        a.body_len = (int64_t)(pn == 1 ? half : len - half);
        memset(&x, 0, sizeof(x));
        REQUIRE(ferry_s3_upload_part(cd.c, &a, s3t_done, &x, NULL, &err) == FERRY_OK);
        s3t_wait(&cd, &x);
        REQUIRE(x.r.rc == FERRY_OK);
        snprintf(etags[pn - 1], sizeof(etags[0]), "%s", x.r.etag);
    }
    ferry_s3xml_cpart_t parts[2] = {{1, etags[0], NULL}, {2, etags[1], NULL}};
    ferry_s3_args_init(&a);
    a.bucket = "dst";
    a.key = key;
    a.upload_id = upload;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_complete_multipart(cd.c, &a, parts, 2, s3t_done, &x, NULL, &err) == FERRY_OK);
    s3t_wait(&cd, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    REQUIRE(strchr(x.r.etag, '-') != NULL);
}

/* 1 when some argv element of the process holds needle. */
static int argv_has(const char *pid, const char *needle, char *cmdline, size_t cap)
{
    char p[300];
    snprintf(p, sizeof(p), "/proc/%s/cmdline", pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(cmdline, 1, cap - 1, f);
    fclose(f);
    cmdline[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (cmdline[i] == '\0')
            cmdline[i] = ' ';
    return strstr(cmdline, needle) != NULL;
}

/* Issue 12 item 16: ferry sync gives its workers the Redis URL (with its password) in the
 * environment, never on their command lines. Runs the sync that makes the copy checked below;
 * a GET latency keeps the worker alive long enough to be seen. */
static void sync_and_watch_workers(void)
{
    REQUIRE(s3t_faults(&cs, src.url, "[{\"op\":\"GetObject\",\"latency_ms\":1500,\"count\":1}]") ==
            0);
    char op[600], ep[600];
    snprintf(op, sizeof(op), "%s/sync.out", harness_tmpdir());
    snprintf(ep, sizeof(ep), "%s/sync.err", harness_tmpdir());
    const char *args[] = {ferry_bin,
                          "--redis",
                          redis_url,
                          "sync",
                          "--name",
                          "chk",
                          "--from",
                          "s3://src/in/",
                          "--to",
                          "s3://dst/out/",
                          "--src-endpoint",
                          src.url,
                          "--dst-endpoint",
                          dst.url,
                          "--src-path-style",
                          "--dst-path-style",
                          "--src-region",
                          "us-east-1",
                          "--dst-region",
                          "us-east-1",
                          "--exclude",
                          "*.tmp",
                          "--workers",
                          "1",
                          NULL};
    pid_t pid = harness_spawn(args, op, ep);
    REQUIRE(pid > 0);
    int st = 0, seen = 0, leaked = 0, in_env = 0;
    char cmdline[8192];
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            if (argv_has(e->d_name, "--exit-when-idle", cmdline, sizeof(cmdline)) != 1 ||
                strstr(cmdline, ferry_bin) == NULL)
                continue;
            seen++;
            if (strstr(cmdline, "s3cr3t-pw") != NULL && leaked++ == 0)
                fprintf(stderr, "worker command line holds the password: %s\n", cmdline);
            char p[300], env[65536];
            snprintf(p, sizeof(p), "/proc/%s/environ", e->d_name);
            FILE *f = fopen(p, "r");
            if (f) {
                size_t n = fread(env, 1, sizeof(env) - 1, f);
                fclose(f);
                for (size_t k = 0; k + 16 < n; k++)
                    if (memcmp(env + k, "FERRY_REDIS_URL=", 16) == 0 &&
                        strcmp(env + k + 16, redis_url) == 0)
                        in_env = 1;
            }
        }
        if (d)
            closedir(d);
        usleep(20000);
    }
    REQUIRE(WIFEXITED(st));
    if (WEXITSTATUS(st) != 0) {
        FILE *f = fopen(ep, "r");
        size_t n = f ? fread(errbuf, 1, sizeof(errbuf) - 1, f) : 0;
        errbuf[n] = '\0';
        if (f)
            fclose(f);
        fprintf(stderr, "sync failed: %s\n", errbuf);
    }
    CHECK_INT(WEXITSTATUS(st), 0);
    /* the scan report quotes a skipped key: escaped (issue 12 item 16) */
    FILE *f = fopen(op, "r");
    REQUIRE(f != NULL);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
    CHECK(strstr(out, "skipped, e.g. \\x1b[2Jskip.tmp: excluded") != NULL);
    CHECK(strchr(out, '\x1b') == NULL);
    CHECK(seen > 0);
    CHECK_INT(leaked, 0);
    CHECK(in_env);
    REQUIRE(s3t_faults(&cs, src.url, "[]") == 0);
}

/* A hostile store: answers every request with a truncated ListObjectsV2 page whose
 * continuation token alternates between "a" and "b". keys: each page repeats the same key;
 * else every page is empty. Runs in a child process (killed with the test); returns its port. */
static pid_t hostile_pid;

static int hostile_store(int keys)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(ls >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    REQUIRE(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    REQUIRE(listen(ls, 16) == 0);
    REQUIRE(getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid > 0) {
        close(ls);
        hostile_pid = pid;
        return ntohs(sa.sin_port);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0)
            continue;
        char req[8192];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
            n += (size_t)r;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[n] = '\0';
        const char *next = strstr(req, "continuation-token=a") ? "b" : "a";
        char body[2048], head[512];
        int bl = snprintf(body, sizeof(body),
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "
                          "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>dst</Name>"
                          "<Prefix>out/</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>"
                          "<IsTruncated>true</IsTruncated><NextContinuationToken>%s"
                          "</NextContinuationToken>%s</ListBucketResult>",
                          keys, next,
                          keys ? "<Contents><Key>out/001</Key><LastModified>2026-01-01T00:00:00."
                                 "000Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef"
                                 "&quot;</ETag><Size>1000</Size><StorageClass>STANDARD"
                                 "</StorageClass></Contents>"
                               : "");
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: "
                          "%d\r\nx-amz-request-id: HOSTILE\r\nConnection: close\r\n\r\n",
                          bl);
        if (write(c, head, (size_t)hl) < 0 || write(c, body, (size_t)bl) < 0) {
            /* the client went away */
        }
        close(c);
    }
}

/* A store that loops (alternating tokens over empty pages, or over the same page) stops the
 * check with exit 4 instead of running forever. */
static void test_hostile_listing(void)
{
    for (int keys = 0; keys <= 1; keys++) {
        int port = hostile_store(keys);
        char ep[128];
        snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
        CHECK_INT(run("task add loop%d --from s3://src/in/ --to s3://dst/out/ --src-endpoint %s "
                      "--dst-endpoint %s --src-path-style --dst-path-style --src-region "
                      "us-east-1 --dst-region us-east-1",
                      keys, src.url, ep),
                  0);
        CHECK_INT(run("check loop%d", keys), 4);
        /* the check's own guard, or the S3 client's when it sees the repeated token first */
        CHECK(strstr(errbuf, keys ? "repeats a key" : "empty truncated pages") != NULL ||
              strstr(errbuf, "listing the destination") != NULL);
        CHECK(strstr(errbuf, "run ferry check again") != NULL);
        kill(hostile_pid, SIGKILL);
        waitpid(hostile_pid, NULL, 0);
    }
}

static void test_check(void)
{
    char body[OBJ_SIZE + 16];

    /* a faithful copy matches */
    CHECK_INT(run("check chk"), 0);
    CHECK(strstr(out, "checked 30, missing 0, extra 0, differ 0, not comparable 0") != NULL);
    CHECK_INT(count_lines(out, "missing") + count_lines(out, "extra"), 0);

    /* the ledger is not read: without it, the answer is the same */
    redisReply *rep;
    ferry_redis_t *R;
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(redis_url, NULL, &R, &err) == FERRY_OK);
    REQUIRE(ferry_redis_cmd(R, &rep, "EVAL %s 0",
                            "local n=0 for _,k in ipairs(redis.call('KEYS',"
                            "'ferry:{chk}:*')) do redis.call('DEL',k) n=n+1 "
                            "end return n") == FERRY_OK);
    CHECK(rep->integer > 0);
    freeReplyObject(rep);
    ferry_redis_free(R);
    CHECK_INT(run("check chk"), 0);
    CHECK(strstr(out, "checked 30, missing 0") != NULL);

    /* a destination object that is multipart (ETag "…-2") cannot be compared by digest: with
     * the same bytes it is counted, and --download confirms it */
    size_t n = get_src("in/009", body, sizeof(body));
    REQUIRE(n == OBJ_SIZE);
    put_dst_multipart("out/009", body, n);
    CHECK_INT(run("check chk"), 0);
    CHECK(strstr(out, "not comparable 1") != NULL);
    CHECK_INT(count_lines(out, "not-comparable"), 1);
    CHECK(strstr(out, "in/009 -> out/009") != NULL);
    CHECK_INT(run("check chk --download"), 0);
    CHECK(strstr(out, "checked 30, missing 0, extra 0, differ 0, not comparable 0") != NULL);
    /* the same size, other bytes, multipart: only --download finds it */
    body[500] ^= 1;
    put_dst_multipart("out/009", body, n);
    CHECK_INT(run("check chk"), 0);
    CHECK(strstr(out, "not comparable 1") != NULL);
    CHECK_INT(run("check chk --download"), 1);
    CHECK_INT(count_lines(out, "bytes"), 1);
    CHECK(strstr(out, "in/009 -> out/009: same size, different bytes") != NULL);
    CHECK(strstr(out, "differ 1, not comparable 0") != NULL);

    /* missing, extra (one with terminal escapes in its key), size, same-size bytes with MD5
     * ETags, and an extra key the task's --exclude covers (not reported) */
    del_dst("out/003");
    put_dst("out/extra.bin", "x", 1);
    put_dst("out/\x1b[2Jevil\nkey", "y", 1);
    put_dst("out/junk.tmp", "z", 1);
    n = get_src("in/005", body, sizeof(body));
    put_dst("out/005", body, n - 1);
    n = get_src("in/007", body, sizeof(body));
    body[0] ^= 0x20;
    put_dst("out/007", body, n);
    CHECK_INT(run("check chk"), 1);
    CHECK_INT(count_lines(out, "missing"), 1);
    CHECK_INT(count_lines(out, "extra"), 2);
    CHECK_INT(count_lines(out, "size"), 1);
    CHECK_INT(count_lines(out, "digest"), 1);
    CHECK(strstr(out, "missing         in/003 -> out/003") != NULL);
    CHECK(strstr(out, "extra           out/extra.bin") != NULL);
    CHECK(strstr(out, "extra           out/\\x1b[2Jevil\\x0akey") != NULL);
    CHECK(strstr(out, "\x1b") == NULL);
    CHECK(strstr(out, "junk.tmp") == NULL);
    CHECK(strstr(out, "size            in/005 -> out/005: source 1000 bytes, destination 999") !=
          NULL);
    CHECK(strstr(out, "digest          in/007 -> out/007: MD5 differs") != NULL);
    CHECK(strstr(out, "checked 32, missing 1, extra 2, differ 2, not comparable 1") != NULL);
    CHECK(strstr(out, "(2 keys outside the task's filters, 0 errors)") != NULL);
    CHECK_INT(run("check chk --download"), 1);
    CHECK(strstr(out, "checked 32, missing 1, extra 2, differ 3, not comparable 0") != NULL);

    /* --json: one object per finding, then the summary */
    CHECK_INT(run("check chk --json --download"), 1);
    int kinds[7] = {0}, summaries = 0;
    static const char *const K[] = {"missing", "extra", "size",          "digest",
                                    "bytes",   "error", "not-comparable"};
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        CHECK(j != NULL);
        if (j && json_is_true(json_object_get(j, "summary"))) {
            summaries++;
            CHECK_INT(json_integer_value(json_object_get(j, "checked")), 32);
            CHECK_INT(json_integer_value(json_object_get(j, "missing")), 1);
            CHECK_INT(json_integer_value(json_object_get(j, "extra")), 2);
            CHECK_INT(json_integer_value(json_object_get(j, "differ")), 3);
            CHECK(json_is_false(json_object_get(j, "match")));
        } else if (j) {
            const char *k = json_string_value(json_object_get(j, "kind"));
            for (int i = 0; k && i < 7; i++)
                kinds[i] += strcmp(k, K[i]) == 0;
            if (k && strcmp(k, "extra") == 0 &&
                strstr(json_string_value(json_object_get(j, "key")), "evil"))
                CHECK_STR(json_string_value(json_object_get(j, "dst_key")), "out/\x1b[2Jevil\nkey");
            if (k && strcmp(k, "size") == 0) {
                CHECK_INT(json_integer_value(json_object_get(j, "src_size")), 1000);
                CHECK_INT(json_integer_value(json_object_get(j, "dst_size")), 999);
                CHECK_STR(json_string_value(json_object_get(j, "src_key")), "in/005");
            }
        }
        json_decref(j);
        line = nl ? nl + 1 : NULL;
    }
    CHECK_INT(summaries, 1);
    CHECK_INT(kinds[0], 1);
    CHECK_INT(kinds[1], 2);
    CHECK_INT(kinds[2], 1);
    CHECK_INT(kinds[3], 1);
    CHECK_INT(kinds[4], 1);

    /* --prefix: only keys under it (relative to both locations) */
    CHECK_INT(run("check chk --prefix 01"), 0);
    CHECK(strstr(out, "checked 10, missing 0, extra 0, differ 0") != NULL);
    CHECK_INT(run("check chk --prefix 00"), 1);
    CHECK(strstr(out, "checked 10, missing 1, extra 0, differ 2") != NULL);

    /* a source object in an archive class: missing, and the line says why a scan skips it */
    ferry_s3_args_t a;
    ferry_error_t err2;
    s3t_res_t x;
    ferry_kv_t h[] = {{"x-amz-storage-class", "GLACIER"}};
    ferry_s3_args_init(&a);
    a.bucket = "src";
    a.key = "in/arch";
    a.body = "cold";
    a.body_len = 4;
    a.headers = h;
    a.nheaders = 1;
    memset(&x, 0, sizeof(x));
    REQUIRE(ferry_s3_put(cs.c, &a, s3t_done, &x, NULL, &err2) == FERRY_OK);
    s3t_wait(&cs, &x);
    REQUIRE(x.r.rc == FERRY_OK);
    CHECK_INT(run("check chk --prefix arch"), 1);
    CHECK(strstr(out, "missing         in/arch -> out/arch: 4 bytes, not on the destination (the "
                      "source is in archive class GLACIER") != NULL);

    /* a download that fails is not a match either: an error line per key, exit 4 */
    REQUIRE(s3t_faults(&cd, dst.url, "[{\"op\":\"GetObject\",\"error\":403}]") == 0);
    CHECK_INT(run("check chk --download --prefix 01"), 4);
    CHECK_INT(count_lines(out, "error"), 10);
    CHECK(strstr(out, "could not download the destination object") != NULL);
    CHECK(strstr(errbuf, "10 objects could not be read") != NULL);
    REQUIRE(s3t_faults(&cd, dst.url, "[]") == 0);

    /* a listing that fails is not a match: exit 4, and what to do */
    REQUIRE(s3t_faults(&cd, dst.url,
                       "[{\"op\":\"ListObjectsV2\",\"error\":403},{\"op\":\"ListObjects\","
                       "\"error\":403}]") == 0);
    CHECK_INT(run("check chk"), 4);
    CHECK(strstr(errbuf, "listing the destination") != NULL);
    CHECK(strstr(errbuf, "run ferry check again") != NULL);
    REQUIRE(s3t_faults(&cd, dst.url, "[]") == 0);

    /* usage */
    CHECK_INT(run("check"), 2);
    CHECK_INT(run("check chk --frobnicate"), 2);
    CHECK_INT(run("check nosuch"), 3);
    CHECK_INT(run("check --help"), 0);
    CHECK(strstr(out, "usage: ferry check NAME") != NULL);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : "build/bin");
    REQUIRE(harness_redis_start(&rs) == 0);
    /* a password, so the test can see where it travels */
    ferry_redis_t *R;
    ferry_error_t err;
    REQUIRE(ferry_redis_connect(rs.url, NULL, &R, &err) == FERRY_OK);
    redisReply *rep;
    REQUIRE(ferry_redis_cmd(R, &rep, "CONFIG SET requirepass s3cr3t-pw") == FERRY_OK);
    freeReplyObject(rep);
    ferry_redis_free(R);
    snprintf(redis_url, sizeof(redis_url), "redis://:s3cr3t-pw@127.0.0.1:%d", rs.port);
    unsetenv("FERRY_REDIS_URL");

    const char *sx[] = {"--bucket", "src", NULL};
    const char *dx[] = {"--bucket", "dst", "--min-part-size", "1", NULL};
    REQUIRE(harness_fakes3_start("s3", sx, &src) == 0);
    REQUIRE(harness_fakes3_start("s3", dx, &dst) == 0);
    setenv("FERRY_SRC_ACCESS_KEY_ID", src.access_key, 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", src.secret_key, 1);
    setenv("FERRY_DST_ACCESS_KEY_ID", dst.access_key, 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", dst.secret_key, 1);
    REQUIRE(s3t_open(&cs, "s3", src.url, src.access_key, src.secret_key, FERRY_TRI_ON, "source") ==
            0);
    REQUIRE(s3t_open(&cd, "s3", dst.url, dst.access_key, dst.secret_key, FERRY_TRI_ON,
                     "destination") == 0);
    char o[512];
    REQUIRE(s3t_control(&cs, src.url, "POST", "/_fakes3/seed",
                        "{\"bucket\":\"src\",\"prefix\":\"in/\",\"count\":30,\"size\":1000,"
                        "\"width\":3}",
                        o, sizeof(o)) == 200);

    s3t_res_t x;
    REQUIRE(s3t_put(&cs, "src", "in/\x1b[2Jskip.tmp", 0, "t", 1, &x) == FERRY_OK);
    sync_and_watch_workers();
    test_check();
    test_hostile_listing();
    s3t_close(&cs);
    s3t_close(&cd);
    return test_summary();
}
