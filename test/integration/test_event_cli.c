/* Integration test for `ferry event NAME [FILE|-]` against a harness Redis: every format is
 * parsed by the same code as the HTTP intake, accepted events reach the event stream and the
 * ledger, and rejected bodies (malformed, wrong types, too big) exit 2 with the reason and
 * queue nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test.h"

static harness_server_t srv;
static char ferry_bin[512];
static char out[65536], errbuf[8192];

/* Run "ferry --redis URL ARGS" through the shell; returns the exit code. */
static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s --redis %s %s", ferry_bin, srv.url, args);
    return harness_run(cmd, out, sizeof(out), errbuf, sizeof(errbuf));
}

static const char *write_file(const char *name, const char *body)
{
    static char path[8][700];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 700, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(p, "w");
    REQUIRE(f != NULL);
    fputs(body, f);
    fclose(f);
    return p;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int queued_now(void)
{
    REQUIRE(run("ls t1 --state queued --json") == 0);
    return count_lines(out);
}

int main(void)
{
    REQUIRE(harness_init() == 0);
    const char *bin = getenv("FERRY_BIN_DIR");
    snprintf(ferry_bin, sizeof(ferry_bin), "%s/ferry", bin ? bin : ".");
    REQUIRE(access(ferry_bin, X_OK) == 0);
    setenv("HOME", harness_tmpdir(), 1);
    REQUIRE(harness_redis_start(&srv) == 0);
    CHECK_INT(run("task add t1 --from oss://src/in/ --to s3://dst/out/"), 0);

    /* the plain format, from a file */
    const char *plain = write_file("plain.json", "{\"key\":\"in/a.bin\",\"size\":3}");
    CHECK_INT(run("event t1 %s --json", plain), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK_INT(queued_now(), 1);
    /* the same again: already queued, nothing added */
    CHECK_INT(run("event t1 %s --json", plain), 0);
    CHECK(strstr(out, "\"queued\":0") != NULL);
    CHECK_INT(queued_now(), 1);

    /* an S3 notification from stdin: the form-encoded key is decoded */
    write_file("s3.json",
               "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"eventTime\":"
               "\"2026-08-13T06:45:43.000Z\",\"s3\":{\"object\":{\"key\":\"in/red+flower%281%29"
               ".jpg\",\"size\":1024,\"eTag\":\"d41d8cd98f00b204e9800998ecf8427e\","
               "\"sequencer\":\"0055AED6DCD90281E5\"}}}]}");
    char path[800];
    snprintf(path, sizeof(path), "%s/s3.json", harness_tmpdir());
    CHECK_INT(run("event t1 - < %s", path), 0);
    CHECK(strstr(out, "1 queued") != NULL);
    CHECK_INT(run("status t1 'in/red flower(1).jpg' --json"), 0);
    CHECK(strstr(out, "\"origin\":\"event\"") != NULL);
    CHECK(strstr(out, "\"state\":\"queued\"") != NULL);

    /* outside the task's source prefix; a delete while the task has no --delete */
    const char *other = write_file("other.json", "[{\"key\":\"elsewhere/x\",\"size\":1},"
                                                 "{\"key\":\"in/b\",\"op\":\"delete\"}]");
    CHECK_INT(run("event t1 %s --json", other), 0);
    CHECK(strstr(out, "\"outside_prefix\":1") != NULL);
    CHECK(strstr(out, "\"deletes_off\":1") != NULL);
    CHECK_INT(queued_now(), 2);

    /* rejected bodies: exit 2, the reason, nothing queued */
    const char *trunc = write_file("trunc.json", "{\"events\":[{\"eventName\":\"ObjectCreated:"
                                                 "PutObject\",\"oss\":{\"object\":{\"key\":");
    CHECK_INT(run("event t1 %s", trunc), 2);
    CHECK(strstr(errbuf, "malformed JSON") != NULL);
    CHECK(strstr(errbuf, "nothing was queued") != NULL);
    const char *types = write_file("types.json", "[{\"key\":\"in/ok\",\"size\":1},{\"key\":7}]");
    CHECK_INT(run("event t1 %s", types), 2);
    CHECK(strstr(errbuf, "event 2: key is a number") != NULL);
    CHECK_INT(queued_now(), 2); /* the good first event was not queued either */
    /* larger than the cap */
    char big[900];
    snprintf(big, sizeof(big),
             "head -c 2000000 /dev/zero | tr '\\0' ' ' | %s --redis %s event t1 -", ferry_bin,
             srv.url);
    int st = system(big);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK_INT(queued_now(), 2);

    /* unknown task, usage */
    CHECK_INT(run("event nosuch %s", plain), 3);
    CHECK_INT(run("event"), 2);
    return test_summary();
}
