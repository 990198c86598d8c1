/* The display's pure parts (cmd/progress.c): error groups, which log lines reach the terminal,
 * the text of both phases. */
#include "progress.h"
#include "test.h"

#include <string.h>

static void test_group(void)
{
    char a[400], b[400];
    /* the same failure of two objects reads the same: the key (source and destination URL),
     * request ids and long numbers are taken out */
    progress_error_group("Aliyun OSS said AccessDenied on GET oss://src/in/a/1.jpg: the source "
                         "credentials may not read this bucket (request 5F2A9C0D1E2B3A4C5D6E7F80)",
                         "in/a/1.jpg", a, sizeof(a));
    progress_error_group("Aliyun OSS said AccessDenied on GET oss://src/in/b c/22.jpg: the source "
                         "credentials may not read this bucket (request 0123456789ABCDEF01234567)",
                         "in/b c/22.jpg", b, sizeof(b));
    CHECK_STR(a, b);
    CHECK(strstr(a, "1.jpg") == NULL && strstr(a, "AccessDenied on GET oss://src/") != NULL);
    /* the destination holds the key after the source prefix */
    progress_error_group("S3 said SlowDown on PUT s3://dst/out/a/1.jpg: still throttled after 5 "
                         "attempts: lower the concurrency",
                         "in/a/1.jpg", a, sizeof(a));
    progress_error_group("S3 said SlowDown on PUT s3://dst/out/zz/9.jpg: still throttled after 5 "
                         "attempts: lower the concurrency",
                         "in/zz/9.jpg", b, sizeof(b));
    CHECK_STR(a, b);
    CHECK(strstr(a, "after 5 attempts") != NULL); /* short numbers stay */
    /* a key cut at 200 bytes in the message (then ':' follows) */
    char key[300], msg[600];
    memset(key, 'k', 250);
    key[250] = '\0';
    snprintf(msg, sizeof(msg), "could not complete GET s3://b/%.200s: reset", key);
    progress_error_group(msg, key, a, sizeof(a));
    CHECK_STR(a, "could not complete GET s3://b/\xe2\x80\xa6: reset");
    /* sizes differ by object: one group */
    progress_error_group("size 123456 differs from 123457", "x", a, sizeof(a));
    CHECK_STR(a, "size \xe2\x80\xa6 differs from \xe2\x80\xa6");
    /* a short key is not cut out of words ("a" is not removed from "said") */
    progress_error_group("S3 said NoSuchBucket on GET s3://a/a: create it", "a", a, sizeof(a));
    CHECK_STR(a, "S3 said NoSuchBucket on GET s3://a/\xe2\x80\xa6: create it");
    /* cut to fit, never inside a UTF-8 sequence */
    progress_error_group("ab\xc3\xa9\xc3\xa9", "zz", a, 6);
    CHECK_STR(a, "ab");
}

static void test_important(void)
{
    const char *w = "ts=2026-12-06T12:00:00.000Z level=warn event=copy.retry key=x";
    const char *i = "ts=2026-12-06T12:00:00.000Z level=info event=copy.done key=x";
    const char *e = "ts=2026-12-06T12:00:00.000Z level=error event=copy.failed key=x";
    const char *jw = "{\"ts\":\"2026-12-06T12:00:00.000Z\",\"level\":\"warn\",\"event\":\"x\"}";
    const char *ji = "{\"ts\":\"2026-12-06T12:00:00.000Z\",\"level\":\"info\",\"event\":\"x\"}";
    CHECK(progress_line_important(w, strlen(w)));
    CHECK(!progress_line_important(i, strlen(i)));
    CHECK(progress_line_important(e, strlen(e)));
    CHECK(progress_line_important(jw, strlen(jw)));
    CHECK(!progress_line_important(ji, strlen(ji)));
    /* a key that says level=warn does not make an info line important */
    const char *k = "ts=2026-12-06T12:00:00.000Z level=info event=copy.done key=\" level=warn \"";
    CHECK(!progress_line_important(k, strlen(k)));
    const char *other = "ferry: worker: the ferry sync that started this worker is gone";
    CHECK(progress_line_important(other, strlen(other)));
}

static void test_format(void)
{
    progress_t p;
    progress_init(&p, stderr, 0, 10000, "sync t");
    progress_sample_t s;
    memset(&s, 0, sizeof(s));
    s.listing = 1;
    s.src_objects = 12345;
    s.src_bytes = 3 * 1048576;
    s.dst_objects = 10;
    s.done = 5;
    s.left = 100;
    p.total = 105;
    char line[1024];
    progress_format(&p, &s, 1, p.start_ms, line, sizeof(line));
    CHECK(strstr(line, "listing  source 12,345 objects 3.0 MiB") != NULL);
    CHECK(strstr(line, "destination 10 objects") != NULL);
    CHECK(strstr(line, "[#") == NULL); /* no bar while listing */
    s.listing = 0;
    s.done = 50;
    s.failed = 1;
    s.left = 54;
    s.in_flight = 3;
    s.retries = 2;
    progress_format(&p, &s, 1, p.start_ms, line, sizeof(line));
    CHECK(strstr(line, "[#########...........]  48%  50/105 objects") != NULL);
    CHECK(strstr(line, "in flight 3  retries 2  failed 1") != NULL);
    progress_format(&p, &s, 0, p.start_ms + 61000, line, sizeof(line));
    CHECK(strncmp(line, "sync t: [1m01s]  48%", 20) == 0);
    /* the last sample: 100% only when everything finished */
    s.done = 104;
    s.left = 0;
    progress_format(&p, &s, 1, p.start_ms, line, sizeof(line));
    CHECK(strstr(line, "[####################] 100%  104/105 objects") != NULL);
    CHECK(strstr(line, "ETA 0s") != NULL);
}

int main(void)
{
    test_group();
    test_important();
    test_format();
    return test_summary();
}
