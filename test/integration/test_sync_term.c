/* Integration: what `ferry sync` and `ferry wait --progress` show on a terminal (issue 15, "The
 * terminal"). Each command runs under a pseudo-terminal (`script -q -e -c CMD /dev/null`, from
 * util-linux) and its output is checked:
 *   - default verbosity: no per-object (copy.done) and no worker start lines on the terminal,
 *     the path of the workers' log printed first, every object in that log, each worker started
 *     once (no --exit-when-idle cycling), the display ending at 100%;
 *   - -v brings the per-object lines back; --log-format json makes the log JSON;
 *   - injected faults: the errors reach the terminal, the summary groups the failed objects by
 *     error (counts, at most 5 keys each) and gives the commands to list and retry them;
 *     `ferry wait --progress` ends with the same summary;
 *   - a failed scan: what failed and what to do, and no full bar;
 *   - without a terminal: the progress line every --progress-interval, the log on stderr.
 */
#include "test_s3_util.h"

#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static harness_server_t rs, src, dst;
static char ferry_bin[1024], state_dir[1024];
static char out[1 << 20], err[1 << 16];

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Run `ferry --redis URL --state-dir DIR ARGS` on a pseudo-terminal; its terminal output in
 * out. The exit code. */
static int run_tty(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "script -q -e -c \"%s --redis %s --state-dir %s %s\" /dev/null </dev/null", ferry_bin,
             rs.url, state_dir, args);
    int rc = harness_run(cmd, out, sizeof(out), err, sizeof(err));
    if (getenv("FERRY_TEST_SHOW")) /* what the terminal got, for a person to look at */
        fprintf(stderr, "--- %s ---\n%s\n", args, out);
    if (rc != 0)
        fprintf(stderr, "[exit %d] %s\n--- terminal (tail) ---\n%s\n", rc, args,
                strlen(out) > 3000 ? out + strlen(out) - 3000 : out);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    static char buf[1 << 21];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *sync_args(const char *name, const char *to, const char *extra)
{
    static char a[2048];
    snprintf(a, sizeof(a),
             "sync --from oss://src/in/ --to s3://dst/%s/ --src-endpoint %s --dst-endpoint %s "
             "--name %s --workers 2 %s",
             to, src.url, dst.url, name, extra);
    return a;
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : "build/bin");
    snprintf(state_dir, sizeof(state_dir), "%s/state", harness_tmpdir());
    REQUIRE(harness_redis_start(&rs) == 0);
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
    char body[8192];
    REQUIRE(s3t_control(&cs, src.url, "POST", "/_fakes3/seed",
                        "{\"bucket\":\"src\",\"prefix\":\"in/a/\",\"count\":200,\"size\":1000}",
                        body, sizeof(body)) == 200);
    REQUIRE(s3t_control(&cs, src.url, "POST", "/_fakes3/seed",
                        "{\"bucket\":\"src\",\"prefix\":\"in/b c/\",\"count\":12,\"size\":5000}",
                        body, sizeof(body)) == 200);
    REQUIRE(s3t_control(&cs, src.url, "POST", "/_fakes3/seed",
                        "{\"bucket\":\"src\",\"prefix\":\"in/d/\",\"count\":3,\"size\":5000}", body,
                        sizeof(body)) == 200);
    char logp[1200];

    printf("== on a terminal: one display, the workers' log in a file\n");
    {
        CHECK_INT(run_tty(sync_args("t1", "one", "")), 0);
        snprintf(logp, sizeof(logp), "%s/log/t1.log", state_dir);
        CHECK(strstr(out, "the workers' log: ") != NULL && strstr(out, logp) != NULL);
        CHECK(strstr(out, "copy.done") == NULL);
        CHECK(strstr(out, "worker.start") == NULL && strstr(out, "worker.exit") == NULL);
        CHECK(strstr(out, "100%  215/215 objects") != NULL);
        CHECK(strstr(out, "copied 215 objects") != NULL);
        CHECK(strstr(out, "\r") != NULL && strstr(out, "\033[K") != NULL); /* redrawn in place */
        const char *log = slurp(logp);
        REQUIRE(log != NULL);
        CHECK_INT(count(log, "event=copy.done"), 215);
        /* each of the two workers started once and was stopped once, by the sync */
        CHECK_INT(count(log, "event=worker.start"), 2);
        CHECK_INT(count(log, "event=worker.exit"), 2);
        CHECK_INT(count(log, "event=worker.idle"), 0);
    }

    printf("== -v: the per-object lines come back; --log-format json\n");
    {
        CHECK_INT(run_tty(sync_args("t2", "two", "-v --log-format json")), 0);
        CHECK_INT(count(out, "\"event\":\"copy.done\""), 215);
        CHECK(strstr(out, "100%  215/215 objects") != NULL);
        snprintf(logp, sizeof(logp), "%s/log/t2.log", state_dir);
        const char *log = slurp(logp);
        REQUIRE(log != NULL);
        CHECK(strstr(log, "ts=") == NULL);
        CHECK_INT(count(log, "{\"ts\":\""), count(log, "\n"));
    }

    printf("== injected faults: errors above the display, failures grouped in the summary\n");
    {
        REQUIRE(s3t_faults(&cs, src.url,
                           "{\"rules\":[{\"key_prefix\":\"in/b c/\",\"error\":403},"
                           "{\"key_prefix\":\"in/d/\",\"error\":400}]}") == 0);
        CHECK_INT(run_tty(sync_args("t3", "three", "")), 1);
        CHECK(strstr(out, "copy.done") == NULL);
        CHECK(strstr(out, "event=copy.failed") != NULL); /* errors reach the terminal */
        CHECK(strstr(out, "failed: 15 objects, by error code:") != NULL);
        CHECK(strstr(out, "  12 × [src:403] ") != NULL && strstr(out, "  3 × [src:") != NULL);
        CHECK(strstr(out, "… and 7 more") != NULL); /* 5 keys of the 12 */
        CHECK_INT(count(out, "      in/b c/"), 5);
        CHECK_INT(count(out, "      in/d/"), 3);
        CHECK(strstr(out, "ferry ls t3 --state failed --format csv") != NULL);
        CHECK(strstr(out, "ferry retry t3") != NULL);
        /* ferry wait --progress ends with the same summary */
        CHECK_INT(run_tty("wait t3 --progress"), 1);
        CHECK(strstr(out, "failed: 15 objects, by error code:") != NULL);
        CHECK(strstr(out, "ferry retry t3") != NULL);
        REQUIRE(s3t_faults(&cs, src.url, "{\"rules\":[]}") == 0);
    }

    printf("== a failed scan: what failed and what to do, no full bar\n");
    {
        REQUIRE(s3t_faults(&cs, src.url,
                           "{\"rules\":[{\"op\":\"ListObjects\",\"error\":403},"
                           "{\"op\":\"ListObjectsV2\",\"error\":403}]}") == 0);
        CHECK_INT(run_tty(sync_args("t4", "four", "")), 1);
        CHECK(strstr(out, "the scan failed: ") != NULL);
        CHECK(strstr(out, "the source credentials may not list this bucket") != NULL);
        CHECK(strstr(out, "fix the cause") != NULL); /* what to do */
        CHECK(strstr(out, "100%") == NULL);
        CHECK(strstr(out, "[####################]") == NULL);
        REQUIRE(s3t_faults(&cs, src.url, "{\"rules\":[]}") == 0);
    }

    printf("== ferry wait --progress on a terminal\n");
    {
        CHECK_INT(run_tty("wait t1 --progress"), 0);
        CHECK(strstr(out, "100%") != NULL && strstr(out, "objects") != NULL);
    }

    printf("== without a terminal: progress lines and the log on stderr\n");
    {
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "%s --redis %s --state-dir %s %s", ferry_bin, rs.url, state_dir,
                 sync_args("t5", "five", "--progress-interval 100ms"));
        CHECK_INT(harness_run(cmd, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(strstr(out, "copied 215 objects") != NULL);
        CHECK_INT(count(err, "event=copy.done"), 215); /* the log as before */
        CHECK(strstr(err, "sync t5: [") != NULL);      /* the progress line */
        CHECK(strstr(err, "100%  215/215 objects") != NULL);
        CHECK(strstr(err, "\033[K") == NULL); /* no terminal codes */
    }
    printf("== Ctrl-C: the workers drain and stop, the sync says how to resume\n");
    {
        REQUIRE(s3t_faults(&cs, src.url,
                           "{\"rules\":[{\"op\":\"GetObject\",\"latency_ms\":3000}]}") == 0);
        char ep[1200], op[1200];
        snprintf(ep, sizeof(ep), "%s/int.err", harness_tmpdir());
        snprintf(op, sizeof(op), "%s/int.out", harness_tmpdir());
        const char *a[] = {ferry_bin,
                           "--redis",
                           rs.url,
                           "--state-dir",
                           state_dir,
                           "sync",
                           "--from",
                           "oss://src/in/",
                           "--to",
                           "s3://dst/six/",
                           "--src-endpoint",
                           src.url,
                           "--dst-endpoint",
                           dst.url,
                           "--name",
                           "t6",
                           "--workers",
                           "2",
                           NULL};
        pid_t pid = harness_spawn(a, op, ep);
        REQUIRE(pid > 0);
        usleep(1500000);
        kill(pid, SIGINT);
        int st = 0, done = 0;
        for (int i = 0; i < 300 && !done; i++) { /* the drain: copies in flight, 3 s each */
            usleep(100000);
            done = waitpid(pid, &st, WNOHANG) == pid;
        }
        if (!done) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
        CHECK(done);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
        const char *e = slurp(ep);
        REQUIRE(e != NULL);
        CHECK(strstr(e, "interrupted; run the same command again to resume") != NULL);
        CHECK_INT(count(e, "event=worker.start"), 2); /* not started again after the signal */
        CHECK_INT(count(e, "event=worker.exit"), 2);
        /* stopped, not run to the end: 215 GETs of 3 s over 2 x 64 copies take 6 s, and the
         * signal comes at 1.5 s, before the first 128 end */
        const char *o = slurp(op);
        REQUIRE(o != NULL);
        const char *c = strstr(o, "copied ");
        long long copied = c ? atoll(c + 7) : -1;
        printf("interrupted sync: copied %lld of 215\n", copied);
        CHECK(copied >= 0 && copied < 215);
        REQUIRE(s3t_faults(&cs, src.url, "{\"rules\":[]}") == 0);
    }
    s3t_close(&cs);
    return test_summary();
}
