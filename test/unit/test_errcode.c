/* Unit tests for ferry/errcode.h: the codes of structured errors, the classifier on the texts
 * ferry writes (formats of lib/s3/client.c op_fail_s3 / op_fail_net, worker/copy*.c, the
 * queue's dead letters, the scan's skip reasons), and the "[code] text" round trip. */
#include "ferry/errcode.h"
#include "test.h"

static const char *of(const char *text)
{
    static char code[FERRY_ERRCODE_MAX + 1];
    ferry_error_code_of(text, code, sizeof(code));
    return code;
}

static const char *for_err(int code, int status, const char *s3, const char *side, const char *msg)
{
    static char out[FERRY_ERRCODE_MAX + 1];
    ferry_error_t e;
    ferry_error_set(&e, code, "%s", msg);
    e.http_status = status;
    snprintf(e.s3_code, sizeof(e.s3_code), "%s", s3);
    snprintf(e.side, sizeof(e.side), "%s", side);
    ferry_error_code_for(&e, out, sizeof(out));
    return out;
}

static void test_valid(void)
{
    CHECK(ferry_error_code_valid("dst:403", 7));
    CHECK(ferry_error_code_valid("checksum:src", 12));
    CHECK(!ferry_error_code_valid("", 0));
    CHECK(!ferry_error_code_valid("dst 403", 7));
    CHECK(!ferry_error_code_valid("a]b", 3));
    char big[FERRY_ERRCODE_MAX + 2];
    memset(big, 'a', sizeof(big));
    CHECK(ferry_error_code_valid(big, FERRY_ERRCODE_MAX));
    CHECK(!ferry_error_code_valid(big, FERRY_ERRCODE_MAX + 1));
}

static void test_structured(void)
{
    CHECK_STR(for_err(FERRY_EDENIED, 403, "AccessDenied", "dst",
                      "S3 said AccessDenied on PUT s3://dst/k: the destination credentials "
                      "cannot write to this bucket"),
              "dst:403");
    CHECK_STR(for_err(FERRY_ES3, 403, "", "src", "OSS said HTTP 403 on GET oss://b/k: …"),
              "src:403");
    CHECK_STR(for_err(FERRY_ES3, 500, "InternalError", "dst", "x"), "dst:5xx");
    CHECK_STR(for_err(FERRY_ES3, 502, "InjectedError", "dst", "x"), "dst:5xx");
    CHECK_STR(for_err(FERRY_ES3, 503, "SlowDown", "dst", "x"), "dst:SlowDown");
    CHECK_STR(for_err(FERRY_ES3, 400, "InvalidStorageClass", "dst", "x"),
              "dst:InvalidStorageClass");
    CHECK_STR(for_err(FERRY_ES3, 418, "InjectedError", "dst", "x"), "dst:InjectedError");
    CHECK_STR(for_err(FERRY_ES3, 400, "InjectedError", "dst", "x"), "dst:InjectedError");
    /* every 403 is one code, whatever the store names it (the text keeps the name) */
    CHECK_STR(for_err(FERRY_ES3, 403, "InjectedError", "dst", "x"), "dst:403");
    CHECK_STR(for_err(FERRY_EAUTH, 403, "InvalidAccessKeyId", "dst", "x"), "dst:403");
    CHECK_STR(for_err(FERRY_ES3, 409, "", "dst", "x"), "dst:409");
    CHECK_STR(for_err(FERRY_ENOTFOUND, 404, "NoSuchBucket", "src", "x"), "src:NoSuchBucket");
    CHECK_STR(for_err(FERRY_ENOTFOUND, 0, "", "",
                      "the source object is gone (404 NoSuchKey): nothing to copy"),
              "src:404");
    /* a named code with characters a code may not hold keeps its well-formed start */
    CHECK_STR(for_err(FERRY_ES3, 400, "Bad Code", "dst", "x"), "dst:Bad");
    /* no side recorded (an older client): the method decides */
    CHECK_STR(for_err(FERRY_ES3, 403, "AccessDenied", "",
                      "S3 said AccessDenied on GET s3://src/k: the given credentials cannot read"),
              "src:403");
    CHECK_STR(for_err(FERRY_ECHECKSUM, 0, "", "",
                      "CRC-64 of the bytes read (1) differs from the source's (2): the read was "
                      "corrupted; nothing was committed and the copy is retried"),
              "checksum:src");
    CHECK_STR(for_err(FERRY_ECHECKSUM, 0, "", "",
                      "the destination's ETag \"x\" for the object does not match the MD5 y of "
                      "the bytes sent: corrupted in transit; retrying"),
              "checksum:dst");
    CHECK_STR(for_err(FERRY_ECHECKSUM, 200, "", "dst",
                      "PUT s3://b: the store's CRC32C a differs from the b that was sent: "
                      "corrupted in transit"),
              "checksum:dst");
    CHECK_STR(for_err(FERRY_ECHANGED, 0, "", "",
                      "the source object changed while its parts were asked for; retrying"),
              "changed");
    CHECK_STR(for_err(FERRY_ETIMEOUT, 0, "", "src", "could not complete GET …: timed out"),
              "net:timeout");
    CHECK_STR(for_err(FERRY_ENET, 0, "", "dst",
                      "could not complete PUT s3://b/k at http://127.0.0.1:1 after 4 attempts: "
                      "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to "
                      "server"),
              "net:connect");
    CHECK_STR(for_err(FERRY_ENET, 0, "", "dst", "… Recv failure: Connection reset by peer"),
              "net:reset");
    CHECK_STR(for_err(FERRY_ECONFIG, 0, "", "dst", "SSL certificate problem: self-signed"), "tls");
    CHECK_STR(for_err(FERRY_ETOOBIG, 0, "", "", "object of 6 TiB is over …"), "size");
    CHECK_STR(for_err(FERRY_ECANCELED, 0, "", "", "the worker is stopping"), "canceled");
    CHECK_STR(
        for_err(FERRY_EUNSUPPORTED, 0, "", "", "no source check is possible for this object (…)"),
        "unverifiable");
    CHECK_STR(for_err(FERRY_EREDIS, 0, "", "", "x"), "redis");
    CHECK_STR(for_err(FERRY_ENOMEM, 0, "", "", "out of memory"), "internal");
    CHECK_STR(for_err(FERRY_EINVAL, 0, "", "", "cannot start a part: invalid argument"),
              "internal");
    CHECK_STR(for_err(FERRY_OK, 0, "", "", ""), "");
}

static void test_classifier(void)
{
    /* op_fail_s3's format: "<STORE> said <S3Code|HTTP nnn> on <METHOD> <url>: <hint> (<msg>)" */
    CHECK_STR(of("S3 said AccessDenied on PUT s3://dst/a/b c.bin: the destination credentials "
                 "cannot write to this bucket (check the key's permissions) (Access Denied)"),
              "dst:403");
    CHECK_STR(of("OSS said AccessDenied on GET oss://src/k: the source credentials cannot read "
                 "objects in this bucket (check the key's permissions)"),
              "src:403");
    CHECK_STR(of("S3 said InjectedError on PUT s3://dst/k: the store refused the request"),
              "dst:InjectedError");
    CHECK_STR(of("S3 said InjectedError on PUT s3://dst/k: the destination credentials may not "
                 "write to this bucket (check the key's permissions) (fakes3 injected this "
                 "error.)"),
              "dst:403");
    CHECK_STR(of("S3 said InvalidAccessKeyId on GET s3://src/k: the source access key id is "
                 "unknown to this store (check --src-profile and the endpoint)"),
              "src:403");
    CHECK_STR(of("S3 said InternalError on PUT s3://dst/k: the store kept failing after 4 "
                 "attempts: try again later"),
              "dst:5xx");
    CHECK_STR(of("S3 said InjectedError on PUT s3://dst/k: the store kept failing after 4 "
                 "attempts: try again later"),
              "dst:5xx");
    CHECK_STR(of("S3 said SlowDown on PUT s3://dst/k: still throttled after 4 attempts: lower "
                 "the concurrency"),
              "dst:SlowDown");
    CHECK_STR(of("S3 said HTTP 403 on HEAD s3://src/k: the given credentials may not read"),
              "src:403");
    CHECK_STR(of("COS said InvalidStorageClass on PUT cos://dst/k: the store refused the request"),
              "dst:InvalidStorageClass");
    CHECK_STR(of("gave up after 3 attempts: S3 said InternalError on PUT s3://dst/k: the store "
                 "kept failing after 4 attempts: try again later"),
              "dst:5xx");
    CHECK_STR(of("gave up after 3 attempts: the destination echoed CRC32C AAA= for the object, "
                 "we sent BBB=: corrupted in transit; retrying"),
              "checksum:dst");
    CHECK_STR(of("gave up after 3 attempts: the CRC32C of the bytes read (x) differs from the one "
                 "the source stored (y, z): the read was corrupted; nothing is kept and the copy "
                 "is retried"),
              "checksum:src");
    CHECK_STR(of("could not complete GET s3://src/k at http://127.0.0.1:9 after 4 attempts: "
                 "Operation timed out after 30000 milliseconds"),
              "net:timeout");
    CHECK_STR(of("the source object is gone (404 NoSuchKey): nothing to copy"), "src:404");
    CHECK_STR(of("the source object reappeared during the copy; retrying"), "changed");
    CHECK_STR(of("source object is in archive storage class GLACIER: restore it before it can "
                 "be copied"),
              "archived");
    CHECK_STR(of("delete refused: the source still exists (a stale delete event); the "
                 "destination copy stays"),
              "stale-delete");
    CHECK_STR(of("the destination key (destination prefix + key) is longer than S3's 1024 "
                 "bytes: shorten the destination prefix"),
              "key");
    CHECK_STR(of("gave up after 40 deliveries"), "deliveries");
    CHECK_STR(of("gave up after 40 deliveries: [dst:5xx] S3 said InternalError on PUT …"),
              "dst:5xx");
    CHECK_STR(of("something nobody wrote"), "other");
    CHECK_STR(of(""), "");
    CHECK_STR(of(NULL), "");
}

static void test_round_trip(void)
{
    char buf[FERRY_ERRMSG_MAX + 1], code[FERRY_ERRCODE_MAX + 1];
    const char *msg = "S3 said AccessDenied on PUT s3://dst/[x] y: …";
    ferry_error_text_coded(buf, sizeof(buf), "dst:403", msg);
    CHECK_STR(buf, "[dst:403] S3 said AccessDenied on PUT s3://dst/[x] y: …");
    CHECK_STR(ferry_error_code_of(buf, code, sizeof(code)), msg);
    CHECK_STR(code, "dst:403");
    /* a malformed code is not written; a bracket that is not a code is text */
    ferry_error_text_coded(buf, sizeof(buf), "dst 403", "x");
    CHECK_STR(buf, "x");
    CHECK_STR(ferry_error_code_of("[not a code] S3 said AccessDenied on PUT s3://d/k: …", code,
                                  sizeof(code)),
              "[not a code] S3 said AccessDenied on PUT s3://d/k: …");
    CHECK_STR(code, "dst:403"); /* the text decides */
    /* "[" without "]" within the bound, and a lone "[": never read past the end */
    CHECK_STR(ferry_error_code_of("[", code, sizeof(code)), "[");
    CHECK_STR(ferry_error_code_of("[dst:403]", code, sizeof(code)), "");
    CHECK_STR(code, "dst:403");
    /* the text is cut to fit, the code kept */
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ferry_error_text_coded(buf, sizeof(buf), "net:timeout", big);
    CHECK_INT(strlen(buf), FERRY_ERRMSG_MAX);
    ferry_error_code_of(buf, code, sizeof(code));
    CHECK_STR(code, "net:timeout");
    /* a small output buffer is cut, never overrun */
    char small[4];
    ferry_error_code_of("[checksum:dst] x", small, sizeof(small));
    CHECK_STR(small, "che");
}

int main(void)
{
    test_valid();
    test_structured();
    test_classifier();
    test_round_trip();
    return test_summary();
}
