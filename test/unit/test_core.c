/* Unit tests for lib/core: the error table, the capped buffer, and structured logging
 * (quoting, one line per event, secrets never written). */
#include "ferry/buf.h"
#include "ferry/error.h"
#include "ferry/log.h"
#include "test.h"

#include <fcntl.h>
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
    ferry_log_setup(FERRY_LOG_INFO, 2);
    char out[4096];
    ssize_t r = pread(fd, out, sizeof(out) - 1, 0);
    REQUIRE(r > 0);
    out[r] = '\0';
    close(fd);
    unlink(path);
    CHECK(strstr(out, "hidden") == NULL);
    CHECK(strstr(out, "level=info event=copy.done task=t1 key=\"a b\\\"c\\n\" n=\"\"\n") != NULL);
    CHECK(strstr(out, "wJalrXUtnFEMI") == NULL);
    CHECK(strstr(out, "tok\"") == NULL && strstr(out, "=tok") == NULL);
    CHECK(strstr(out, "Credential") == NULL);
    CHECK(strstr(out, "secret_key=[redacted]") != NULL);
    /* exactly two lines */
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 2);
    ferry_log_level_t lv;
    CHECK_INT(ferry_log_level_parse("WARN", &lv), FERRY_OK);
    CHECK_INT(lv, FERRY_LOG_WARN);
    CHECK_INT(ferry_log_level_parse("loud", &lv), FERRY_EINVAL);
}

int main(void)
{
    test_errors();
    test_buf();
    test_log();
    return test_summary();
}
