/* bench_s3 — throughput and request rate of the S3 client against fakes3, beside curl's
 * command line doing the same transfers (curl --aws-sigv4, the same libcurl underneath).
 *
 *   bench_s3 [--size MiB] [--parallel N] [--small N] [--inflight N]
 *
 * Figures: one large object PUT and GET; N objects PUT and GET in parallel; small-object
 * (1 KiB) PUT, GET and HEAD rate with many requests in flight. Build without sanitizers for
 * meaningful numbers. fakes3 keeps objects in memory, so --size is bounded by RAM. */
#include "harness.h"
#include "test.h"

#include "ferry/clock.h"
#include "ferry/s3.h"

#include <time.h>
#include <unistd.h>

static uv_loop_t loop;
static ferry_s3_t *cli;
static const char *bucket = "bench";
static int failures;

typedef struct {
    uint64_t len, off;
    int done;
    int rc;
} job_t;

static ssize_t gen_read(void *arg, char *buf, size_t n)
{
    job_t *j = arg;
    uint64_t left = j->len - j->off;
    size_t take = left < n ? (size_t)left : n;
    memset(buf, (int)(j->off & 0xff) | 1, take); /* cheap, not all zero */
    j->off += take;
    return (ssize_t)take;
}

static int gen_rewind(void *arg)
{
    ((job_t *)arg)->off = 0;
    return FERRY_OK;
}

static int null_sink(void *arg, const char *p, size_t n)
{
    (void)p;
    ((job_t *)arg)->off += n;
    return FERRY_OK;
}

static void job_done(void *arg, const ferry_s3_result_t *r)
{
    job_t *j = arg;
    j->done = 1;
    j->rc = r->rc;
    if (r->rc) {
        failures++;
        fprintf(stderr, "bench: %s\n", r->err.msg);
    }
}

static void wait_all(job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        while (!jobs[i].done)
            uv_run(&loop, UV_RUN_ONCE);
}

static int start_put(const char *key, uint64_t len, job_t *j)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    memset(j, 0, sizeof(*j));
    j->len = len;
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.source = gen_read;
    a.rewind = gen_rewind;
    a.arg = j;
    a.body_len = (int64_t)len;
    return ferry_s3_put(cli, &a, job_done, j, NULL, &err);
}

static int start_get(const char *key, job_t *j, int head)
{
    ferry_s3_args_t a;
    ferry_error_t err;
    memset(j, 0, sizeof(*j));
    ferry_s3_args_init(&a);
    a.bucket = bucket;
    a.key = key;
    a.sink = null_sink;
    a.arg = j;
    return head ? ferry_s3_head(cli, &a, job_done, j, NULL, &err)
                : ferry_s3_get(cli, &a, job_done, j, NULL, &err);
}

/* Run n requests with at most inflight at a time; returns seconds. */
typedef enum { SMALL_PUT, SMALL_GET, SMALL_HEAD } small_t;
static double run_small(small_t kind, size_t n, size_t inflight)
{
    job_t *jobs = calloc(n, sizeof(*jobs));
    char key[64];
    size_t next = 0, finished = 0;
    double t0 = ferry_mono_s();
    while (finished < n) {
        while (next < n && next - finished < inflight) {
            snprintf(key, sizeof(key), "small/%06zu", next);
            int rc = kind == SMALL_PUT ? start_put(key, 1024, &jobs[next])
                                       : start_get(key, &jobs[next], kind == SMALL_HEAD);
            REQUIRE(rc == FERRY_OK);
            next++;
        }
        uv_run(&loop, UV_RUN_ONCE);
        while (finished < next && jobs[finished].done)
            finished++;
    }
    double el = ferry_mono_s() - t0;
    free(jobs);
    return el;
}

/* ---- curl's command line ------------------------------------------------------------------ */

static char curl_auth[256], vhost_base[320];

/* Run a shell command, return its stdout's first number (curl -w). */
static double run_curl_ns(const char *cmd);
static double run_curl(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    double v = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%lf", &v) != 1)
        v = -1;
    pclose(f);
    return v;
}

/* A command that prints elapsed nanoseconds: seconds. */
static double run_curl_ns(const char *cmd)
{
    double v = run_curl(cmd);
    return v > 0 ? v / 1e9 : -1;
}

int main(int argc, char **argv)
{
    uint64_t size_mib = 256;
    size_t parallel = 16, small = 2000, inflight = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--size"))
            size_mib = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--parallel"))
            parallel = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--small"))
            small = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--inflight"))
            inflight = strtoul(argv[i + 1], NULL, 10);
    }
    const uint64_t size = size_mib << 20;
    REQUIRE(harness_init() == 0);
    harness_server_t srv;
    const char *extra[] = {"--bucket", bucket, "--quiet", NULL};
    REQUIRE(harness_fakes3_start("s3", extra, &srv) == 0);
    REQUIRE(uv_loop_init(&loop) == 0);

    ferry_profile_overrides_t ov;
    ferry_profile_t prof;
    ferry_error_t err;
    char ep[256];
    const char *p = strstr(srv.url, "127.0.0.1");
    snprintf(ep, sizeof(ep), "%.*slocalhost%s", (int)(p - srv.url), srv.url, p + 9);
    ferry_profile_overrides_init(&ov);
    ov.endpoint = ep;
    ov.region = "us-east-1";
    ov.path_style = FERRY_TRI_OFF;
    REQUIRE(ferry_profile_resolve("s3", &ov, &prof, &err) == FERRY_OK);
    ferry_s3_config_t cfg = {
        .profile = &prof, .creds = {srv.access_key, srv.secret_key, NULL}, .role = "destination"};
    REQUIRE(ferry_s3_new(&loop, &cfg, &cli, &err) == FERRY_OK);
    snprintf(
        curl_auth, sizeof(curl_auth),
        "--aws-sigv4 aws:amz:us-east-1:s3 -u %s:%s -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'",
        srv.access_key, srv.secret_key);
    snprintf(vhost_base, sizeof(vhost_base), "http://%s.%s", bucket, ep + 7);

    printf("bench_s3: fakes3 on %s, object %llu MiB, %zu parallel, %zu small objects, %zu in "
           "flight\n",
           srv.url, (unsigned long long)size_mib, parallel, small, inflight);
    printf("%-34s %14s %14s\n", "", "ferry_s3", "curl CLI");

    /* one large object */
    job_t j;
    double t0 = ferry_mono_s();
    REQUIRE(start_put("big/one", size, &j) == FERRY_OK);
    wait_all(&j, 1);
    double put1 = (double)size / (ferry_mono_s() - t0) / 1e6;
    t0 = ferry_mono_s();
    REQUIRE(start_get("big/one", &j, 0) == FERRY_OK);
    wait_all(&j, 1);
    CHECK(j.off == size);
    double get1 = (double)size / (ferry_mono_s() - t0) / 1e6;

    char file[600], cmd[4096];
    snprintf(file, sizeof(file), "%s/big.bin", harness_tmpdir());
    snprintf(cmd, sizeof(cmd), "head -c %llu /dev/zero > %s", (unsigned long long)size, file);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof(cmd),
             "curl -sS -f %s -T %s -o /dev/null -w '%%{speed_upload}' %s/big/curl", curl_auth, file,
             vhost_base);
    double cput1 = run_curl(cmd) / 1e6;
    snprintf(cmd, sizeof(cmd), "curl -sS -f %s -o /dev/null -w '%%{speed_download}' %s/big/one",
             curl_auth, vhost_base);
    double cget1 = run_curl(cmd) / 1e6;
    printf("%-34s %11.0f MB/s %11.0f MB/s\n", "PUT one large object", put1, cput1);
    printf("%-34s %11.0f MB/s %11.0f MB/s\n", "GET one large object", get1, cget1);

    /* many in parallel */
    uint64_t each = size / parallel;
    job_t *jobs = calloc(parallel, sizeof(*jobs));
    char key[64];
    t0 = ferry_mono_s();
    for (size_t i = 0; i < parallel; i++) {
        snprintf(key, sizeof(key), "par/%03zu", i);
        REQUIRE(start_put(key, each, &jobs[i]) == FERRY_OK);
    }
    wait_all(jobs, parallel);
    double putp = (double)(each * parallel) / (ferry_mono_s() - t0) / 1e6;
    t0 = ferry_mono_s();
    for (size_t i = 0; i < parallel; i++) {
        snprintf(key, sizeof(key), "par/%03zu", i);
        REQUIRE(start_get(key, &jobs[i], 0) == FERRY_OK);
    }
    wait_all(jobs, parallel);
    double getp = (double)(each * parallel) / (ferry_mono_s() - t0) / 1e6;
    /* curl: the same N objects with --parallel */
    char cfgpath[600];
    snprintf(cfgpath, sizeof(cfgpath), "%s/par.cfg", harness_tmpdir());
    FILE *cf = fopen(cfgpath, "w");
    for (size_t i = 0; i < parallel; i++)
        fprintf(cf, "url = \"%s/par/%03zu\"\noutput = \"/dev/null\"\n", vhost_base, i);
    fclose(cf);
    snprintf(cmd, sizeof(cmd),
             "s=$(date +%%s%%N); curl -sS -f --parallel --parallel-max %zu %s -K %s 2>/dev/null; "
             "e=$(date +%%s%%N); echo $((e - s))",
             parallel, curl_auth, cfgpath);
    double cgetp_s = run_curl_ns(cmd);
    double cgetp = cgetp_s > 0 ? (double)(each * parallel) / cgetp_s / 1e6 : -1;
    snprintf(file, sizeof(file), "%s/part.bin", harness_tmpdir());
    snprintf(cmd, sizeof(cmd), "head -c %llu /dev/zero > %s", (unsigned long long)each, file);
    CHECK(system(cmd) == 0);
    cf = fopen(cfgpath, "w");
    for (size_t i = 0; i < parallel; i++)
        fprintf(cf, "url = \"%s/cpar/%03zu\"\nupload-file = \"%s\"\noutput = \"/dev/null\"\n",
                vhost_base, i, file);
    fclose(cf);
    snprintf(cmd, sizeof(cmd),
             "s=$(date +%%s%%N); curl -sS -f --parallel --parallel-max %zu %s -K %s 2>/dev/null; "
             "e=$(date +%%s%%N); echo $((e - s))",
             parallel, curl_auth, cfgpath);
    double cputp_s = run_curl_ns(cmd);
    double cputp = cputp_s > 0 ? (double)(each * parallel) / cputp_s / 1e6 : -1;
    char label[64];
    snprintf(label, sizeof(label), "PUT %zu x %llu MiB in parallel", parallel,
             (unsigned long long)(each >> 20));
    printf("%-34s %11.0f MB/s %11.0f MB/s\n", label, putp, cputp);
    snprintf(label, sizeof(label), "GET %zu x %llu MiB in parallel", parallel,
             (unsigned long long)(each >> 20));
    printf("%-34s %11.0f MB/s %11.0f MB/s\n", label, getp, cgetp);
    free(jobs);

    /* small objects */
    double sp = run_small(SMALL_PUT, small, inflight);
    double sg = run_small(SMALL_GET, small, inflight);
    double sh = run_small(SMALL_HEAD, small, inflight);
    cf = fopen(cfgpath, "w");
    for (size_t i = 0; i < small; i++)
        fprintf(cf, "url = \"%s/small/%06zu\"\noutput = \"/dev/null\"\n", vhost_base, i);
    fclose(cf);
    snprintf(cmd, sizeof(cmd),
             "s=$(date +%%s%%N); curl -sS -f --parallel --parallel-max %zu %s -K %s 2>/dev/null; "
             "e=$(date +%%s%%N); echo $((e - s))",
             inflight, curl_auth, cfgpath);
    double csg = run_curl_ns(cmd);
    printf("%-34s %12.0f/s %12s\n", "PUT 1 KiB objects", (double)small / sp, "-");
    printf("%-34s %12.0f/s %12.0f/s\n", "GET 1 KiB objects", (double)small / sg,
           csg > 0 ? (double)small / csg : -1);
    printf("%-34s %12.0f/s %12s\n", "HEAD", (double)small / sh, "-");
    CHECK_INT(failures, 0);

    ferry_s3_free(cli, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    harness_stop(&srv, 15);
    return test_summary();
}
