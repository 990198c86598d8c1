/* Unit tests for lib/core: the error table, the capped buffer, and structured logging
 * (quoting, one line per event, secrets never written). */
#include "ferry/buf.h"
#include "ferry/creds.h"
#include "ferry/error.h"
#include "ferry/log.h"
#include "ferry/text.h"
#include "test.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void test_errors(void)
{
    CHECK_STR(ferry_strerror(FERRY_OK), "success");
    CHECK_STR(ferry_strerror(FERRY_ENOMEM), "out of memory");
    CHECK_STR(ferry_err_name(FERRY_ETOOBIG), "FERRY_ETOOBIG");
    CHECK_STR(ferry_strerror(-9999), "unknown error");
    ferry_error_t e;
    ferry_error_clear(&e);
    CHECK_INT(
        ferry_error_set(&e, FERRY_EDENIED, "OSS said %s for GET %s", "AccessDenied", "oss://b/k"),
        FERRY_EDENIED);
    CHECK_STR(e.msg, "OSS said AccessDenied for GET oss://b/k");
    CHECK_INT(ferry_error_set(NULL, FERRY_EIO, "x"), FERRY_EIO);
    /* a message longer than the slot is cut, not overflowed */
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ferry_error_set(&e, FERRY_EINVAL, "%s", big);
    CHECK_INT(strlen(e.msg), sizeof(e.msg) - 1);
}

static void test_buf(void)
{
    ferry_buf_t b;
    ferry_buf_init(&b, 10);
    CHECK_STR(ferry_buf_cstr(&b), "");
    CHECK_INT(ferry_buf_adds(&b, "hello"), FERRY_OK);
    CHECK_INT(ferry_buf_addf(&b, "%d", 12345), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&b), "hello12345");
    CHECK_INT(ferry_buf_add(&b, "!", 1), FERRY_ETOOBIG);
    CHECK_STR(ferry_buf_cstr(&b), "hello12345"); /* unchanged by the failed append */
    CHECK_INT(ferry_buf_addf(&b, "%s", "x"), FERRY_ETOOBIG);
    ferry_buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_INT(ferry_buf_add(&b, "abc", 3), FERRY_OK);
    size_t n;
    char *p = ferry_buf_steal(&b, &n);
    CHECK_INT(n, 3);
    CHECK_STR(p, "abc");
    free(p);
    CHECK(b.data == NULL);
    ferry_buf_free(&b); /* after steal: fine */
    /* a large buffer grows past its first allocation */
    ferry_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        REQUIRE(ferry_buf_add(&b, "0123456789", 10) == FERRY_OK);
    CHECK_INT(b.len, 100000);
    CHECK_INT(ferry_buf_add(&b, "x", (size_t)-1), FERRY_ETOOBIG); /* no overflow in the check */
    ferry_buf_free(&b);
}

/* line is pre + "YYYY-MM-DDTHH:MM:SS.mmmZ" + post, within a few seconds of now (UTC). */
static int ts_is_now(const char *line, const char *pre, const char *post)
{
    size_t pn = strlen(pre);
    if (strncmp(line, pre, pn) != 0 || strncmp(line + pn + 24, post, strlen(post)) != 0)
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int ms = -1;
    char z = 0;
    if (sscanf(line + pn, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z) != 8 ||
        z != 'Z' || ms < 0 || ms > 999 || line[pn + 19] != '.')
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long long d = (long long)timegm(&tm) - (long long)time(NULL);
    return d >= -5 && d <= 1;
}

static void test_log(void)
{
    char path[] = "/tmp/ferry-test-log-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    ferry_log_setup(FERRY_LOG_INFO, fd);
    ferry_log(FERRY_LOG_DEBUG, "hidden", "k", "v", NULL);
    ferry_log(FERRY_LOG_INFO, "copy.done", "task", "t1", "key", "a b\"c\n", "n", NULL, NULL);
    ferry_log(FERRY_LOG_WARN, "auth", "secret_key", "wJalrXUtnFEMI", "AWS_SESSION_TOKEN", "tok",
              "Authorization", "AWS4-HMAC-SHA256 Credential=x", NULL);
    /* issue 12 item 16: C1 controls and invalid UTF-8 are escaped; valid UTF-8 is kept */
    ferry_log(FERRY_LOG_INFO, "k", "key", "a\xc2\x9b[2J\xff\xe2\x80\xa6\xe2\x80", NULL);
    ferry_log_setup(FERRY_LOG_INFO, 2);
    char out[4096];
    ssize_t r = pread(fd, out, sizeof(out) - 1, 0);
    REQUIRE(r > 0);
    out[r] = '\0';
    close(fd);
    unlink(path);
    CHECK(strstr(out, "hidden") == NULL);
    CHECK(ts_is_now(out, "ts=", " level=info event=copy.done "));
    CHECK(strstr(out, "level=info event=copy.done task=t1 key=\"a b\\\"c\\n\" n=\"\"\n") != NULL);
    CHECK(strstr(out, "wJalrXUtnFEMI") == NULL);
    CHECK(strstr(out, "tok\"") == NULL && strstr(out, "=tok") == NULL);
    CHECK(strstr(out, "Credential") == NULL);
    CHECK(strstr(out, "secret_key=[redacted]") != NULL);
    CHECK(strstr(out, "key=\"a\\xc2\\x9b[2J\\xff\xe2\x80\xa6\\xe2\\x80\"\n") != NULL);
    /* exactly two lines */
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 3);
    ferry_log_level_t lv;
    CHECK_INT(ferry_log_level_parse("WARN", &lv), FERRY_OK);
    CHECK_INT(lv, FERRY_LOG_WARN);
    CHECK_INT(ferry_log_level_parse("loud", &lv), FERRY_EINVAL);
}

/* --log-format json: one JSON object a line, the same redaction, every value a string. */
static void test_log_json(void)
{
    char path[] = "/tmp/ferry-test-log-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    ferry_log_format_t f;
    CHECK_INT(ferry_log_format_parse("yaml", &f), FERRY_EINVAL);
    REQUIRE(ferry_log_format_parse("json", &f) == FERRY_OK);
    ferry_log_set_format(f);
    ferry_log_setup(FERRY_LOG_INFO, fd);
    ferry_log(FERRY_LOG_INFO, "copy.done", "task", "t1", "key", "a b\"c\n\\", "n", NULL, NULL);
    ferry_log(FERRY_LOG_WARN, "auth", "secret_key", "wJalrXUtnFEMI", NULL);
    ferry_log(FERRY_LOG_INFO, "k", "key", "a\xc2\x9b[2J\xff\xe2\x80\xa6", NULL);
    char big[9000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ferry_log(FERRY_LOG_INFO, "long", "key", big, NULL);
    ferry_log_setup(FERRY_LOG_INFO, 2);
    ferry_log_set_format(FERRY_LOG_TEXT);
    char out[16384];
    ssize_t r = pread(fd, out, sizeof(out) - 1, 0);
    REQUIRE(r > 0);
    out[r] = '\0';
    close(fd);
    unlink(path);
    CHECK(ts_is_now(out, "{\"ts\":\"", "\",\"level\":\"info\",\"event\":\"copy.done\","));
    CHECK(strstr(out, "\"level\":\"info\",\"event\":\"copy.done\",\"task\":\"t1\",\"key\":"
                      "\"a b\\\"c\\n\\\\\",\"n\":\"\"}\n") != NULL);
    CHECK(strstr(out, "wJalrXUtnFEMI") == NULL);
    CHECK(strstr(out, "\"secret_key\":\"[redacted]\"}") != NULL);
    CHECK(strstr(out, "\"key\":\"a\\u009b[2J\\\\xff\xe2\x80\xa6\"}") != NULL);
    CHECK(strstr(out, "\"event\":\"long\",\"cut\":") != NULL);
    /* every line parses as JSON */
    int lines = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &je);
        CHECK(j != NULL && json_is_object(j));
        if (j == NULL)
            fprintf(stderr, "not JSON: %.*s (%s)\n", (int)(nl - line > 200 ? 200 : nl - line), line,
                    je.text);
        json_decref(j);
        lines++;
    }
    CHECK_INT(lines, 4);
}

/* 1 when every byte of the store is zero. */
static int wiped(const ferry_creds_store_t *c)
{
    const unsigned char *p = (const unsigned char *)c;
    for (size_t i = 0; i < sizeof(*c); i++)
        if (p[i])
            return 0;
    return 1;
}

/* Issue 12 item 16: a credential parse error leaves nothing of what was read. */
static void test_creds_wiped_on_error(void)
{
    ferry_creds_store_t c;
    ferry_error_t e;
    static const char *const bad[] = {
        "[p]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t\nno equals\n",
        "[p]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t\n[broken\n",
        "[p]\naws_access_key_id = AKIAEXAMPLE\n", /* lacks the secret */
    };
    static const int codes[] = {FERRY_EPARSE, FERRY_EPARSE, FERRY_EPARSE};
    for (int i = 0; i < 3; i++) {
        memset(&c, 0x5a, sizeof(c));
        CHECK_INT(ferry_creds_parse_ini(bad[i], strlen(bad[i]), "p", "T", &c, &e), codes[i]);
        CHECK(wiped(&c));
        CHECK(strstr(e.msg, "s3cr3t") == NULL && strstr(e.msg, "AKIAEXAMPLE") == NULL);
    }
    /* a value too long for its slot, after the key id was read */
    char big[600];
    memset(big, 'k', sizeof(big));
    const char *head = "[p]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = ";
    size_t hl = strlen(head);
    memcpy(big, head, hl);
    big[sizeof(big) - 1] = '\0';
    memset(&c, 0x5a, sizeof(c));
    CHECK_INT(ferry_creds_parse_ini(big, strlen(big), "p", "T", &c, &e), FERRY_ETOOBIG);
    CHECK(wiped(&c));
    /* the environment: the id is read, then the secret is too long */
    setenv("FERRY_SRC_ACCESS_KEY_ID", "AKIAEXAMPLE", 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", big + hl, 1);
    memset(&c, 0x5a, sizeof(c));
    CHECK_INT(ferry_creds_load(FERRY_SIDE_SRC, NULL, &c, &e), FERRY_ETOOBIG);
    CHECK(wiped(&c));
    unsetenv("FERRY_SRC_ACCESS_KEY_ID");
    unsetenv("FERRY_SRC_SECRET_ACCESS_KEY");
}

/* Issue 12 item 16: a credentials file others can read is refused, as ssh does. */
static void test_creds_file_mode(void)
{
    char path[] = "/tmp/ferry-test-creds-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char *text = "[p]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t\n";
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    setenv("FERRY_CREDENTIALS", path, 1);
    ferry_creds_store_t c;
    ferry_error_t e;
    REQUIRE(chmod(path, 0600) == 0);
    CHECK_INT(ferry_creds_load(FERRY_SIDE_DST, "p", &c, &e), FERRY_OK);
    CHECK_STR(c.secret_key, "s3cr3t");
    ferry_creds_wipe(&c);
    static const mode_t open_modes[] = {0644, 0640, 0604, 0660, 0606};
    for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
        REQUIRE(chmod(path, open_modes[i]) == 0);
        memset(&c, 0x5a, sizeof(c));
        CHECK_INT(ferry_creds_load(FERRY_SIDE_DST, "p", &c, &e), FERRY_EDENIED);
        CHECK(strstr(e.msg, "chmod 600 ") != NULL && strstr(e.msg, path) != NULL);
        CHECK(wiped(&c));
    }
    REQUIRE(chmod(path, 0400) == 0);
    CHECK_INT(ferry_creds_load(FERRY_SIDE_DST, "p", &c, &e), FERRY_OK);
    ferry_creds_wipe(&c);
    unlink(path);
    unsetenv("FERRY_CREDENTIALS");
}

/* The one UTF-8 reader shared by the log, the CLI's escaping and the event parsers. */
static void test_utf8(void)
{
    CHECK_INT(ferry_utf8_seq_len("a", 1), 1);
    CHECK_INT(ferry_utf8_seq_len("\xc3\xa9", 2), 2);         /* é */
    CHECK_INT(ferry_utf8_seq_len("\xe5\x90\x8d", 3), 3);     /* 名 */
    CHECK_INT(ferry_utf8_seq_len("\xf0\x9f\x98\x80", 4), 4); /* U+1F600 */
    CHECK_INT(ferry_utf8_seq_len("\xe5\x90\x8d", 2), 0);     /* cut short by n */
    CHECK_INT(ferry_utf8_seq_len("\xc0\xaf", 2), 0);         /* overlong '/' */
    CHECK_INT(ferry_utf8_seq_len("\xe0\x80\xaf", 3), 0);     /* overlong, 3 bytes */
    CHECK_INT(ferry_utf8_seq_len("\xed\xa0\x80", 3), 0);     /* surrogate U+D800 */
    CHECK_INT(ferry_utf8_seq_len("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
    CHECK_INT(ferry_utf8_seq_len("\x80", 1), 0);             /* lone continuation */
    CHECK_INT(ferry_utf8_seq_len("\xc3(", 2), 0);            /* bad continuation */
    CHECK_INT(ferry_utf8_seq_len("", 0), 0);
    CHECK_INT(ferry_utf8_valid("", 0), 1);
    CHECK_INT(ferry_utf8_valid("a/\xe5\x90\x8d.bin", 9), 1);
    CHECK_INT(ferry_utf8_valid("a/\xe5\x90", 4), 0);
    CHECK_INT(ferry_utf8_is_control("\x1b", 1), 1);
    CHECK_INT(ferry_utf8_is_control("\x7f", 1), 1);
    CHECK_INT(ferry_utf8_is_control("\xc2\x9b", 2), 1); /* C1 CSI */
    CHECK_INT(ferry_utf8_is_control("\xc2\xa0", 2), 0); /* no-break space */
    CHECK_INT(ferry_utf8_is_control("a", 1), 0);
}

/* The IMF-fixdate fast path gives curl_getdate's value for every date it takes (the worker
 * falls back to curl_getdate for the rest), and takes nothing else. */
static void test_http_date(void)
{
    static const time_t edges[] = {0,          59,         86399,      86400,
                                   951782399,  951782400,  951868799,  951868800,
                                   1700000000, 4107542399, 4107542400, 253402300799};
    int bad = 0, n = 0;
    for (int64_t t = 0; t <= 253402300799; t += 9999991 + (t % 7) * 3607) {
        for (int pass = 0; pass < 2; pass++) {
            time_t tt = pass ? edges[n % 12] : (time_t)t;
            struct tm tm;
            char s[64];
            gmtime_r(&tt, &tm);
            strftime(s, sizeof(s), "%a, %d %b %Y %H:%M:%S GMT", &tm);
            int64_t got = -1;
            if (ferry_http_date_imf(s, &got) != FERRY_OK || got != (int64_t)tt ||
                (int64_t)curl_getdate(s, NULL) != got) {
                if (bad++ < 5)
                    fprintf(stderr, "  %s: got %" PRId64 ", want %lld (curl %lld)\n", s, got,
                            (long long)tt, (long long)curl_getdate(s, NULL));
            }
        }
        n++;
    }
    CHECK_INT(bad, 0);
    CHECK(n > 20000);
    static const char *const no[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:60 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Thu, 29 Feb 1900 00:00:00 GMT",
        "Sun, 29 Feb 2026 00:00:00 GMT",
        "Wed, 31 Dec 1969 23:59:59 GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:4a:37 GMT",
        "Sun; 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "1994-11-06T08:49:37Z",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        int64_t v = 42;
        CHECK_INT(ferry_http_date_imf(no[i], &v), FERRY_EPARSE);
        CHECK(v == 42);
    }
    int64_t v = 42;
    CHECK_INT(ferry_http_date_imf(NULL, &v), FERRY_EPARSE);
    CHECK_INT(ferry_http_date_imf("Tue, 29 Feb 2000 23:59:59 GMT", &v), FERRY_OK);
    CHECK(v == 951868799);
    CHECK_INT(ferry_http_date_imf("Sun, 06 Nov 1994 08:49:37 GMT", &v), FERRY_OK);
    CHECK(v == 784111777);
}

/* The printf-free builders write what snprintf writes, over many values and every cut. */
static void test_str_build(void)
{
    int bad = 0;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t u = i < 64 ? (uint64_t)1 << i : x >> (x % 64);
        int64_t v = (int64_t)(i % 3 == 0 ? x : (i % 3 == 1 ? u : 0 - u));
        if (i == 1)
            v = INT64_MIN;
        if (i == 2)
            v = INT64_MAX, u = UINT64_MAX;
        char a[FERRY_DEC_MAX], b[FERRY_DEC_MAX + 8];
        size_t n = ferry_fmt_u64(a, u);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)u);
        bad += strcmp(a, b) != 0 || n != strlen(b);
        n = ferry_fmt_i64(a, v);
        snprintf(b, sizeof(b), "%lld", (long long)v);
        bad += strcmp(a, b) != 0 || n != strlen(b);
    }
    CHECK_INT(bad, 0);
    const char *src[] = {"", "a", "etag-0123456789abcdef", "\"quoted\""};
    for (size_t k = 0; k < sizeof(src) / sizeof(src[0]); k++)
        for (size_t cap = 1; cap < 30; cap++) {
            char a[32], b[32];
            memset(a, 'x', sizeof(a));
            memset(b, 'x', sizeof(b));
            size_t n = ferry_str_copy(a, cap, src[k]);
            snprintf(b, cap, "%s", src[k]);
            CHECK(memcmp(a, b, sizeof(a)) == 0);
            CHECK_INT((long long)n, (long long)strlen(b));
            /* two appends give what one snprintf of both gives */
            size_t len = 0;
            memset(a, 'x', sizeof(a));
            memset(b, 'x', sizeof(b));
            a[0] = '\0';
            int c1 = ferry_str_cat(a, cap, &len, src[k], strlen(src[k]));
            int c2 = ferry_str_cat(a, cap, &len, "|tail", 5);
            int want = snprintf(b, cap, "%s|tail", src[k]);
            CHECK(strcmp(a, b) == 0);
            CHECK_INT((long long)len, (long long)strlen(b));
            CHECK_INT(c1 || c2 ? 1 : 0, (size_t)want >= cap ? 1 : 0);
        }
    char z[4] = "abc";
    CHECK_INT((long long)ferry_str_copy(z, 0, "zz"), 0); /* cap 0: nothing written */
    CHECK_STR(z, "abc");
}

int main(void)
{
    test_str_build();
    test_http_date();
    test_utf8();
    test_creds_wiped_on_error();
    test_creds_file_mode();
    test_errors();
    test_buf();
    test_log();
    test_log_json();
    return test_summary();
}
