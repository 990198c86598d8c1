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

#include "ferry/ledger.h"
#include "ferry/redis.h"
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

/* Issue 13: every delivery format through `ferry event`, duplicates, SNS confirmations. */
static const char *sample(const char *name)
{
    static char p[4][600];
    static int slot;
    char *s = p[slot++ % 4];
    snprintf(s, 600, "%s/events/%s", FERRY_TEST_DATA, name);
    return s;
}

static int queued_in(const char *task)
{
    REQUIRE(run("ls %s --state queued --json", task) == 0);
    return count_lines(out);
}

static void issue13(void)
{
    CHECK_INT(run("task add t3 --from oss://src-bucket/ --to s3://dst/out/ --delete"), 0);

    /* a duplicate delivery (the same Kodo reqid twice) queues once and says so */
    CHECK_INT(run("event t3 %s --json", sample("kodo-put-reqid.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK(strstr(out, "\"duplicate\":0") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("kodo-put-reqid.json")), 0);
    CHECK(strstr(out, "\"queued\":0") != NULL);
    CHECK(strstr(out, "\"duplicate\":1") != NULL);
    CHECK(strstr(out, "\"unchanged\":0") != NULL);
    CHECK_INT(run("event t3 %s", sample("kodo-put-reqid.json")), 0);
    CHECK(strstr(out, "1 duplicate deliveries") != NULL);
    CHECK_INT(queued_in("t3"), 1);
    { /* the intake counts what it did for ferry_events_received_total (one queued, two
         duplicates) */
        ferry_redis_t *sr = NULL;
        ferry_error_t se;
        redisReply *rep = NULL;
        REQUIRE(ferry_redis_connect(srv.url, NULL, &sr, &se) == FERRY_OK);
        REQUIRE(ferry_redis_cmd(sr, &rep, "HGET ferry:{t3}:stats c|events|kodo|queued|cli") ==
                FERRY_OK);
        CHECK(rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "1") == 0);
        freeReplyObject(rep);
        REQUIRE(ferry_redis_cmd(sr, &rep, "HGET ferry:{t3}:stats c|events|kodo|duplicate|cli") ==
                FERRY_OK);
        CHECK(rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "2") == 0);
        freeReplyObject(rep);
        ferry_redis_free(sr);
    }
    CHECK_INT(run("status t3 'video/clip 2.mp4' --json"), 0);
    CHECK(strstr(out, "\"state\":\"queued\"") != NULL);

    /* every new format: OSS EventBridge put and delete, MNS JSON and XML, COS EventBridge */
    CHECK_INT(run("event t3 %s --json", sample("oss-eventbridge-put.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("oss-mns-json-envelope.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    /* the XML envelope: another MessageId, the same object and version: not a duplicate */
    CHECK_INT(run("event t3 %s --json", sample("oss-mns-xml-envelope.xml")), 0);
    CHECK(strstr(out, "\"duplicate\":0") != NULL);
    CHECK(strstr(out, "\"unchanged\":1") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("oss-mns-xml-envelope.xml")), 0);
    CHECK(strstr(out, "\"duplicate\":1") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("cos-eventbridge-forwarded.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK_INT(queued_in("t3"), 4);
    CHECK_INT(run("status t3 'docs/a b.pdf' --json"), 0);
    CHECK(strstr(out, "\"size\":2048") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("oss-eventbridge-delete.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK_INT(run("event t3 %s", sample("bad-other-bucket.json")), 2);
    CHECK(strstr(errbuf, "another-bucket") != NULL);

    /* a body mixing a good and a bad record (MNS batch): exit 2, nothing queued, and the good
     * record's id is not remembered (its later delivery queues) */
    const char *mixed = write_file(
        "mixed.json",
        "{\"TopicOwner\":\"1\",\"TopicName\":\"t\",\"MessageId\":\"mix-1\",\"Message\":\"{"
        "\\\"events\\\":[{\\\"eventName\\\":\\\"ObjectCreated:PutObject\\\",\\\"oss\\\":{"
        "\\\"object\\\":{\\\"key\\\":\\\"mixed/good\\\",\\\"size\\\":1}}},{\\\"eventName\\\":"
        "\\\"ObjectCreated:PutObject\\\",\\\"oss\\\":{\\\"object\\\":{\\\"key\\\":\\\"mixed/bad"
        "\\\",\\\"size\\\":-1}}}]}\"}");
    int before = queued_in("t3");
    CHECK_INT(run("event t3 %s", mixed), 2);
    CHECK(strstr(errbuf, "event 2: oss.object.size is negative") != NULL);
    CHECK(strstr(errbuf, "nothing was queued") != NULL);
    CHECK_INT(queued_in("t3"), before);
    CHECK_INT(run("status t3 mixed/good"), 3);
    const char *fixed = write_file(
        "fixed.json",
        "{\"TopicOwner\":\"1\",\"TopicName\":\"t\",\"MessageId\":\"mix-1\",\"Message\":\"{"
        "\\\"events\\\":[{\\\"eventName\\\":\\\"ObjectCreated:PutObject\\\",\\\"oss\\\":{"
        "\\\"object\\\":{\\\"key\\\":\\\"mixed/good\\\",\\\"size\\\":1}}}]}\"}");
    CHECK_INT(run("event t3 %s --json", fixed), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK(strstr(out, "\"duplicate\":0") != NULL);

    /* a failed enqueue does not remember the id: the retry queues */
    CHECK_INT(run("task add t4 --from oss://src-bucket/ --to s3://dst/out/"), 0);
    ferry_redis_t *rc = NULL;
    ferry_error_t ce;
    redisReply *rep = NULL;
    REQUIRE(ferry_redis_connect(srv.url, NULL, &rc, &ce) == FERRY_OK);
    /* Redis refuses writes (out of memory) before the enqueue script runs */
    REQUIRE(ferry_redis_cmd(rc, &rep, "CONFIG SET maxmemory 1") == FERRY_OK);
    freeReplyObject(rep);
    CHECK_INT(run("event t4 %s", sample("kodo-put-reqid.json")), 1);
    CHECK(strstr(errbuf, "queueing the events of task t4") != NULL);
    REQUIRE(ferry_redis_cmd(rc, &rep, "CONFIG SET maxmemory 0") == FERRY_OK);
    freeReplyObject(rep);
    /* the enqueue script refused while plain writes pass: the id must still not be kept */
    REQUIRE(ferry_redis_cmd(rc, &rep, "ACL SETUSER default -evalsha -eval -script") == FERRY_OK);
    freeReplyObject(rep);
    CHECK_INT(run("event t4 %s", sample("kodo-put-reqid.json")), 1);
    REQUIRE(ferry_redis_cmd(rc, &rep, "ACL SETUSER default +@all") == FERRY_OK);
    freeReplyObject(rep);
    CHECK_INT(run("event t4 %s --json", sample("kodo-put-reqid.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK(strstr(out, "\"duplicate\":0") != NULL);
    /* the window: ids expire (here after 1 s), and the key is bounded in size */
    REQUIRE(ferry_redis_cmd(rc, &rep, "KEYS ferry:{t4}:dlv:*") == FERRY_OK);
    CHECK_INT((int)rep->elements, 1);
    if (rep->elements == 1)
        CHECK_INT((int)rep->element[0]->len, (int)strlen("ferry:{t4}:dlv:") + 32);
    freeReplyObject(rep);
    setenv("FERRY_EVENT_DEDUP_SECONDS", "1", 1);
    CHECK_INT(run("event t4 %s --json", sample("oss-mns-json-envelope.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    usleep(2100 * 1000);
    CHECK_INT(run("event t4 %s --json", sample("oss-mns-json-envelope.json")), 0);
    CHECK(strstr(out, "\"duplicate\":0") != NULL); /* expired: taken again, the ledger's no-op */
    CHECK(strstr(out, "\"unchanged\":1") != NULL);
    unsetenv("FERRY_EVENT_DEDUP_SECONDS");

    /* SNS: a SubscriptionConfirmation is recorded (never fetched) and shown by task show */
    CHECK_INT(run("task show t3 --json"), 0);
    CHECK(strstr(out, "sns_subscription") == NULL);
    CHECK_INT(run("event t3 %s", sample("s3-sns-subscription-confirmation.json")), 0);
    CHECK(strstr(out, "open this URL to confirm") != NULL);
    CHECK(strstr(out, "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("s3-sns-subscription-confirmation.json")), 0);
    CHECK(strstr(out, "{\"sns_confirmation\":{\"topic\":\"arn:aws:sns:us-west-2:123456789012:"
                      "ferry\",\"subscribe_url\":\"https://sns.us-west-2.amazonaws.com/") != NULL);
    CHECK_INT(run("task show t3 --json"), 0);
    CHECK(strstr(out, "\"sns_subscription\":{") != NULL);
    CHECK(strstr(out, "\"subscribe_url\":\"https://sns.us-west-2.amazonaws.com/?Action="
                      "ConfirmSubscription&TopicArn=") != NULL);
    CHECK(strstr(out, "\"topic\":\"arn:aws:sns:us-west-2:123456789012:ferry\"") != NULL);
    CHECK_INT(run("task show t3"), 0);
    CHECK(strstr(errbuf, "waits for confirmation") != NULL);
    CHECK(strstr(out, "\"subscribe_url\"") != NULL);
    REQUIRE(ferry_redis_cmd(rc, &rep, "TTL ferry:{t3}:sns-confirm") == FERRY_OK);
    CHECK(rep->integer > 0 && rep->integer <= 259200);
    freeReplyObject(rep);
    /* a confirmation pointing anywhere but SNS is refused */
    const char *phish = write_file(
        "phish.json", "{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"m\",\"SubscribeURL\":"
                      "\"https://sns.evil.example/?Action=ConfirmSubscription\"}");
    CHECK_INT(run("event t3 %s", phish), 2);
    CHECK(strstr(errbuf, "not sns.REGION.amazonaws.com") != NULL);
    /* the S3 notification through SNS: the SNS MessageId dedupes */
    CHECK_INT(run("event t3 %s --json", sample("s3-sns-wrapped.json")), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK_INT(run("event t3 %s --json", sample("s3-sns-wrapped.json")), 0);
    CHECK(strstr(out, "\"duplicate\":1") != NULL);
    /* task rm removes the ids and the confirmation with the rest */
    CHECK_INT(run("task rm t3"), 0);
    REQUIRE(ferry_redis_cmd(rc, &rep, "KEYS ferry:{t3}:*") == FERRY_OK);
    CHECK_INT((int)rep->elements, 0);
    freeReplyObject(rep);
    ferry_redis_free(rc);
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

    /* Issue 12 item 3: an event for another bucket is refused, naming the field */
    const char *ob =
        write_file("other-bucket.json",
                   "{\"events\":[{\"eventName\":\"ObjectCreated:PutObject\",\"eventTime\":"
                   "\"2026-11-30T05:40:45.000Z\",\"oss\":{\"bucket\":{\"name\":\"another-bucket\"},"
                   "\"object\":{\"key\":\"in/"
                   "ob.csv\",\"size\":5,\"eTag\":\"5EB63BBBE01EEED093CB22BB8F5ACDC3\"}}}]}");
    CHECK_INT(run("event t1 %s", ob), 2);
    CHECK(strstr(errbuf, "oss.bucket.name is \"another-bucket\"") != NULL);
    CHECK(strstr(errbuf, "nothing was queued") != NULL);
    CHECK_INT(queued_now(), 2);

    /* items 4, 5: one bad event among good ones: exit 2, nothing queued, the index named */
    const char *oversize =
        write_file("oversize.json", "[{\"key\":\"in/g1\",\"size\":1},"
                                    "{\"key\":\"in/g2\",\"size\":1},"
                                    "{\"key\":\"in/g3\",\"size\":100000000000000000}]");
    CHECK_INT(run("event t1 %s", oversize), 2);
    CHECK(strstr(errbuf, "event 3: size is over 5 TiB") != NULL);
    CHECK_INT(queued_now(), 2);
    char longtag[400];
    snprintf(longtag, sizeof(longtag),
             "[{\"key\":\"in/g1\",\"size\":1},{\"key\":\"in/g2\",\"etag\":\"%0131d\"}]", 0);
    CHECK_INT(run("event t1 %s", write_file("longtag.json", longtag)), 2);
    CHECK(strstr(errbuf, "event 2: etag is longer than 130") != NULL);
    CHECK_INT(queued_now(), 2);
    CHECK_INT(run("status t1 in/g1"), 3);

    /* item 8: events obey the task's filters, counted as ignored */
    CHECK_INT(run("task add t2 --from oss://src/in/ --to s3://dst/out/ --exclude '*.tmp' "
                  "--max-size 100 --delete"),
              0);
    const char *filt = write_file("filt.json", "[{\"key\":\"in/a.tmp\",\"size\":1},"
                                               "{\"key\":\"in/big.bin\",\"size\":1000},"
                                               "{\"key\":\"in/ok.bin\",\"size\":10}]");
    CHECK_INT(run("event t2 %s --json", filt), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    CHECK(strstr(out, "\"filtered\":2") != NULL);
    CHECK_INT(run("status t2 in/a.tmp"), 3);
    CHECK_INT(run("status t2 in/big.bin"), 3);

    /* item 3: a delete older than the recorded create (event time) is stale: nothing queued */
    const char *cr = write_file(
        "cr.json", "{\"events\":[{\"eventName\":\"ObjectCreated:PutObject\",\"eventTime\":"
                   "\"2026-11-30T05:40:45.000Z\",\"oss\":{\"bucket\":{\"name\":\"src\"},"
                   "\"object\":{\"key\":\"in/"
                   "s.bin\",\"size\":5,\"eTag\":\"5EB63BBBE01EEED093CB22BB8F5ACDC3\"}}}]}");
    CHECK_INT(run("event t2 %s --json", cr), 0);
    CHECK(strstr(out, "\"queued\":1") != NULL);
    const char *olddel = write_file(
        "olddel.json", "{\"events\":[{\"eventName\":\"ObjectRemoved:DeleteObject\",\"eventTime\":"
                       "\"2026-11-30T05:40:44.000Z\",\"oss\":{\"bucket\":{\"name\":\"src\"},"
                       "\"object\":{\"key\":\"in/s.bin\"}}}]}");
    CHECK_INT(run("event t2 %s --json", olddel), 0);
    CHECK(strstr(out, "\"stale\":1") != NULL);
    CHECK(strstr(out, "\"queued\":0") != NULL);
    CHECK_INT(run("status t2 in/s.bin --json"), 0);
    CHECK(strstr(out, "\"size\":5") != NULL);
    CHECK(strstr(out, "\"src_mtime\":\"2026-11-30T05:40:45Z\"") != NULL);

    /* Issue 12: checks and src:unverified are visible. A worker finishes the S3 event's key
     * with a source it could not verify (done through the ledger API, as the worker does). */
    ferry_redis_t *rc = NULL;
    ferry_error_t ce;
    REQUIRE(ferry_redis_connect(srv.url, NULL, &rc, &ce) == FERRY_OK);
    ferry_ledger_t *led = NULL;
    REQUIRE(ferry_ledger_open(rc, "t1", 0, &led) == FERRY_OK);
    int sr = 0;
    REQUIRE(ferry_ledger_start(led, "in/red flower(1).jpg", "w/0", "tok", 5000, &sr, NULL) ==
            FERRY_OK);
    CHECK_INT(sr, FERRY_START_COPY);
    ferry_outcome_t o = {.state = FERRY_STATE_DONE,
                         .size = 1024,
                         .mtime = 1786603543,
                         .etag = "d41d8cd98f00b204e9800998ecf8427e",
                         .seq = "0055AED6DCD90281E5",
                         .duration_ms = 3,
                         .checks = "src:unverified,dst:content-md5"};
    CHECK_INT(ferry_ledger_finish(led, "in/red flower(1).jpg", "tok", &o), FERRY_OK);
    ferry_ledger_free(led);
    ferry_redis_free(rc);
    CHECK_INT(run("status t1 'in/red flower(1).jpg'"), 0);
    CHECK(strstr(out, "checks       src:unverified,dst:content-md5") != NULL);
    CHECK_INT(run("status t1 'in/red flower(1).jpg' --json"), 0);
    CHECK(strstr(out, "\"checks\":[\"src:unverified\",\"dst:content-md5\"]") != NULL);
    CHECK_INT(run("ls t1 --unverified --json"), 0);
    CHECK_INT(count_lines(out), 1);
    CHECK(strstr(out, "red flower(1).jpg") != NULL);
    CHECK_INT(run("ls t1 --unverified --state failed"), 2);
    CHECK_INT(run("task ls"), 0);
    CHECK(strstr(out, "unverified=1") != NULL);

    /* Issue 13: the S3 event again: its sequencer+key was taken, so a duplicate; the same
     * record in an SNS envelope (a new delivery id) reaches the ledger, which holds it done at
     * that version: unchanged, nothing queued */
    CHECK_INT(run("event t1 - --json < %s", path), 0);
    CHECK(strstr(out, "\"duplicate\":1") != NULL);
    const char *sns_again = write_file(
        "sns-again.json",
        "{\"Type\":\"Notification\",\"MessageId\":\"again-1\",\"Message\":\"{\\\"Records\\\":[{"
        "\\\"eventName\\\":\\\"ObjectCreated:Put\\\",\\\"eventTime\\\":\\\"2026-08-13T06:45:43."
        "000Z\\\","
        "\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"in/"
        "red+flower%281%29.jpg\\\",\\\"size\\\":1024,"
        "\\\"eTag\\\":\\\"d41d8cd98f00b204e9800998ecf8427e\\\",\\\"sequencer\\\":"
        "\\\"0055AED6DCD90281E5\\\"}}}]}\"}");
    CHECK_INT(run("event t1 %s --json", sns_again), 0);
    CHECK(strstr(out, "\"duplicate\":0") != NULL);
    CHECK(strstr(out, "\"unchanged\":1") != NULL);
    CHECK(strstr(out, "\"queued\":0") != NULL);
    CHECK_INT(run("status t1 'in/red flower(1).jpg' --json"), 0);
    CHECK(strstr(out, "\"state\":\"done\"") != NULL);

    issue13();

    /* unknown task, usage */
    CHECK_INT(run("event nosuch %s", plain), 3);
    CHECK_INT(run("event"), 2);
    return test_summary();
}
