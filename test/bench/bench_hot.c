/* bench_hot — CPU of the per-request and per-object steps of a small copy that run in ferry's
 * own code, one at a time, in a loop (issue 16): SigV4 signing of a PUT and of a GET as the S3
 * client makes them (cached signing key), and one copy.done log line (to /dev/null).
 *
 *   bench_hot [N]          (default 200000 iterations each)
 *
 * Prints ns per call (CPU time of this thread). Build without sanitizers for meaningful figures. */
#include "ferry/log.h"
#include "ferry/sigv4.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int sign_one(const char *method, const ferry_kv_t *h, size_t nh, ferry_sigv4_key_t *kc,
                    size_t *len)
{
    static const ferry_creds_t creds = {"AKIAIOSFODNN7EXAMPLE",
                                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};
    ferry_sigv4_req_t r = {
        .method = method,
        .path = "/dst/ferry-10k-3/s10k/000123/object-000123.bin",
        .query = NULL,
        .headers = h,
        .nheaders = nh,
        .payload_hash = "UNSIGNED-PAYLOAD",
        .region = "us-east-1",
        .service = "s3",
        .amz_date = "20261206T151000Z",
    };
    ferry_buf_t out;
    ferry_buf_init(&out, 1024);
    int rc = ferry_sigv4_authorization_cached(&r, &creds, kc, &out);
    *len += out.len;
    ferry_buf_free(&out);
    return rc;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n <= 0)
        n = 200000;
    const ferry_kv_t put[] = {
        {"Host", "127.0.0.1:40123"},
        {"x-amz-date", "20261206T151000Z"},
        {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
        {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
        {"x-amz-checksum-crc32c", "AAAAAA=="},
        {"x-amz-meta-mtime", "1765033800"},
    };
    const ferry_kv_t get[] = {
        {"Host", "127.0.0.1:40123"},
        {"x-amz-date", "20261206T151000Z"},
        {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
        {"x-amz-checksum-mode", "ENABLED"},
    };
    ferry_sigv4_key_t kc = {0};
    size_t len = 0;
    double t0 = cpu_ns();
    for (long i = 0; i < n; i++)
        if (sign_one("PUT", put, 6, &kc, &len) != 0)
            return 1;
    double t1 = cpu_ns();
    for (long i = 0; i < n; i++)
        if (sign_one("GET", get, 4, &kc, &len) != 0)
            return 1;
    double t2 = cpu_ns();
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0)
        return 1;
    ferry_log_setup(FERRY_LOG_INFO, fd);
    for (long i = 0; i < n; i++)
        ferry_log(FERRY_LOG_INFO, "copy.done", "task", "sync-s3-src-c-s3-dst-cpu1", "key",
                  "c/000123/object-000123.bin", "bytes", "16384", "ms", "3", "checks",
                  "src:md5,dst:content-md5,dst:crc32c-echo,dst:etag", NULL);
    double t3 = cpu_ns();
    close(fd);
    printf("sigv4 PUT (6 headers, cached key): %.0f ns\n", (t1 - t0) / (double)n);
    printf("sigv4 GET (4 headers, cached key): %.0f ns\n", (t2 - t1) / (double)n);
    printf("copy.done log line (text, to /dev/null): %.0f ns\n", (t3 - t2) / (double)n);
    return len > 0 ? 0 : 1;
}
