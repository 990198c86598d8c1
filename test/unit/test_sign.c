/* Unit tests for lib/s3/sign.c: AWS's worked S3 examples ("Signature Calculations for the
 * Authorization Header: Transferring Payload in a Single Chunk"), S3 URI encoding of hostile
 * keys, Authorization parsing, and parity with libcurl's own CURLOPT_AWS_SIGV4 signer. */
#include "ferry/error.h"
#include "ferry/sigv4.h"
#include "test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static const ferry_creds_t aws_creds = {"AKIAIOSFODNN7EXAMPLE",
                                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};

static void check_auth(const char *method, const char *path, const char *query, const ferry_kv_t *h,
                       size_t nh, const char *payload, const char *want)
{
    ferry_sigv4_req_t r = {
        method, path, query, h, nh, payload, "us-east-1", "s3", "20130524T000000Z"};
    ferry_buf_t out;
    ferry_buf_init(&out, 4096);
    CHECK_INT(ferry_sigv4_authorization(&r, &aws_creds, &out), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&out), want);
    ferry_buf_free(&out);
}

static void test_aws_vectors(void)
{
    /* GET Object with Range */
    ferry_kv_t get[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                        {"Range", "bytes=0-9"},
                        {"x-amz-content-sha256", FERRY_SIGV4_EMPTY_SHA256},
                        {"x-amz-date", "20130524T000000Z"}};
    check_auth("GET", "/test.txt", NULL, get, 4, FERRY_SIGV4_EMPTY_SHA256,
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
               "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
               "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

    /* PUT Object: '$' in the key is encoded; the payload is signed */
    const char *body_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    ferry_kv_t put[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                        {"x-amz-date", "20130524T000000Z"},
                        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                        {"x-amz-content-sha256", body_hash}};
    check_auth("PUT", "/test$file.text", NULL, put, 5, body_hash,
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
               "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
               "x-amz-storage-class, "
               "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    /* the same key sent already encoded signs the same */
    check_auth("PUT", "/test%24file.text", NULL, put, 5, body_hash,
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
               "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
               "x-amz-storage-class, "
               "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");

    /* GET Bucket Lifecycle: a parameter without a value */
    ferry_kv_t lc[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"x-amz-date", "20130524T000000Z"},
                       {"x-amz-content-sha256", FERRY_SIGV4_EMPTY_SHA256}};
    check_auth("GET", "/", "lifecycle", lc, 3, FERRY_SIGV4_EMPTY_SHA256,
               "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
               "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
               "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

    /* GET Bucket (List Objects): the query is sorted */
    const char *want_list =
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
        "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
    check_auth("GET", "/", "max-keys=2&prefix=J", lc, 3, FERRY_SIGV4_EMPTY_SHA256, want_list);
    check_auth("GET", "/", "prefix=J&max-keys=2", lc, 3, FERRY_SIGV4_EMPTY_SHA256, want_list);
}

static void test_canonical(void)
{
    ferry_kv_t h[] = {{"Host", "b.example"},
                      {"X-Amz-Meta-A", "  two   spaces  "},
                      {"x-amz-meta-a", "second"},
                      {"x-amz-date", "20130524T000000Z"}};
    ferry_sigv4_req_t r = {"GET",
                           "/a b/c+d%2B//e/",
                           "uploads&prefix=a%2Fb&z=%7e",
                           h,
                           4,
                           FERRY_SIGV4_UNSIGNED,
                           "us-east-1",
                           "s3",
                           "20130524T000000Z"};
    ferry_buf_t c, sh;
    ferry_buf_init(&c, 8192);
    ferry_buf_init(&sh, 1024);
    CHECK_INT(ferry_sigv4_canonical_request(&r, &c, &sh), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&c), "GET\n"
                                  "/a%20b/c%2Bd%2B//e/\n"
                                  "prefix=a%2Fb&uploads=&z=~\n"
                                  "host:b.example\n"
                                  "x-amz-date:20130524T000000Z\n"
                                  "x-amz-meta-a:two spaces,second\n"
                                  "\n"
                                  "host;x-amz-date;x-amz-meta-a\n"
                                  "UNSIGNED-PAYLOAD");
    ferry_buf_free(&c);
    ferry_buf_free(&sh);

    /* a bad escape is a parse error, not a crash */
    ferry_sigv4_req_t bad = r;
    bad.path = "/a%G0";
    ferry_buf_init(&c, 8192);
    ferry_buf_init(&sh, 1024);
    CHECK_INT(ferry_sigv4_canonical_request(&bad, &c, &sh), FERRY_EPARSE);
    bad.path = "no-slash";
    CHECK_INT(ferry_sigv4_canonical_request(&bad, &c, &sh), FERRY_EINVAL);
    ferry_buf_free(&c);
    ferry_buf_free(&sh);
}

/* The cached key (and its keyed HMAC states) signs exactly as a fresh derivation, also when the
 * day or the region changes under it; values with tabs and runs of spaces fold the same. */
/* Signing in kept buffers gives exactly the uncached header, request after request: longer and
 * shorter requests than the one before, with and without a query, after a refused one. */
static void test_scratch(void)
{
    static char longv[3000];
    memset(longv, 'v', sizeof(longv) - 1);
    ferry_kv_t h[] = {{"Host", "b.example"},
                      {"x-amz-content-sha256", FERRY_SIGV4_UNSIGNED},
                      {"x-amz-date", "20130524T000000Z"},
                      {"x-amz-meta-long", longv}};
    struct {
        const char *method, *path, *query;
        size_t nh;
        const char *date;
    } reqs[] = {{"GET", "/k", NULL, 3, "20130524T000000Z"},
                {"PUT", "/a/very/long/key/name%20with%20spaces", "uploads=", 4, "20130524T000000Z"},
                {"HEAD", "/k2", "partNumber=1&x=y", 3, "20130524T000001Z"},
                {"GET", "/k3", NULL, 3, "2013"}, /* refused: not an amz date */
                {"DELETE", "/k", "versionId=3", 3, "20130525T000000Z"},
                {"GET", "/", NULL, 2, "20130525T000000Z"}};
    ferry_sigv4_key_t kc = {0};
    ferry_sigv4_scratch_t sc;
    ferry_sigv4_scratch_init(&sc);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        ferry_sigv4_req_t r = {reqs[i].method, reqs[i].path,         reqs[i].query, h,
                               reqs[i].nh,     FERRY_SIGV4_UNSIGNED, "us-east-1",   "s3",
                               reqs[i].date};
        ferry_buf_t a, b;
        ferry_buf_init(&a, 8192);
        ferry_buf_init(&b, 8192);
        int want = ferry_sigv4_authorization(&r, &aws_creds, &a);
        CHECK_INT(ferry_sigv4_authorization_scratch(&r, &aws_creds, &kc, &sc, &b), want);
        CHECK_STR(ferry_buf_cstr(&b), ferry_buf_cstr(&a));
        CHECK_INT(want, i == 3 ? FERRY_EINVAL : FERRY_OK);
        ferry_buf_free(&a);
        ferry_buf_free(&b);
    }
    ferry_sigv4_scratch_free(&sc);
    ferry_sigv4_key_wipe(&kc);
}

static void test_cached_key(void)
{
    ferry_kv_t h[] = {{"Host", "b.example"},
                      {"x-amz-meta-t", "\ta\t\tb  c d "},
                      {"x-amz-content-sha256", FERRY_SIGV4_UNSIGNED},
                      {"x-amz-date", "20130524T000000Z"}};
    static const char *dates[] = {"20130524T000000Z", "20130524T235959Z", "20130525T000000Z",
                                  "20130525T000001Z"};
    static const char *regions[] = {"us-east-1", "us-east-1", "us-east-1", "eu-west-1"};
    ferry_sigv4_key_t kc = {0};
    for (int i = 0; i < 4; i++) {
        h[3].value = dates[i];
        ferry_sigv4_req_t r = {"PUT",      "/k%20x/y", NULL,    h, 4, FERRY_SIGV4_UNSIGNED,
                               regions[i], "s3",       dates[i]};
        ferry_buf_t a, b;
        ferry_buf_init(&a, 4096);
        ferry_buf_init(&b, 4096);
        CHECK_INT(ferry_sigv4_authorization(&r, &aws_creds, &a), FERRY_OK);
        CHECK_INT(ferry_sigv4_authorization_cached(&r, &aws_creds, &kc, &b), FERRY_OK);
        CHECK_STR(ferry_buf_cstr(&b), ferry_buf_cstr(&a));
        CHECK(kc.valid && memcmp(kc.date, dates[i], 8) == 0);
        ferry_buf_free(&a);
        ferry_buf_free(&b);
    }
    ferry_buf_t c, sh;
    ferry_buf_init(&c, 8192);
    ferry_buf_init(&sh, 1024);
    ferry_sigv4_req_t r = {
        "GET", "/", NULL, h, 2, FERRY_SIGV4_UNSIGNED, "us-east-1", "s3", "20130524T000000Z"};
    CHECK_INT(ferry_sigv4_canonical_request(&r, &c, &sh), FERRY_OK);
    CHECK(strstr(ferry_buf_cstr(&c), "\nx-amz-meta-t:a b c d\n") != NULL);
    ferry_buf_free(&c);
    ferry_buf_free(&sh);
    ferry_sigv4_key_wipe(&kc);
    CHECK(!kc.valid);

    /* x-amz-date: the same second twice (the kept answer), another, and back */
    char d[17];
    ferry_sigv4_amz_date(1369353600, d);
    CHECK_STR(d, "20130524T000000Z");
    ferry_sigv4_amz_date(1369353600, d);
    CHECK_STR(d, "20130524T000000Z");
    ferry_sigv4_amz_date(1369353600 + 86399, d);
    CHECK_STR(d, "20130524T235959Z");
    ferry_sigv4_amz_date(0, d);
    CHECK_STR(d, "19700101T000000Z");
    ferry_sigv4_amz_date(1369353601, d);
    CHECK_STR(d, "20130524T000001Z");
}

static void enc(const char *in, int keep_slash, const char *want)
{
    ferry_buf_t b;
    ferry_buf_init(&b, 1 << 16);
    CHECK_INT(ferry_uri_encode(in, strlen(in), keep_slash, &b), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&b), want);
    /* and back */
    ferry_buf_t d;
    ferry_buf_init(&d, 1 << 16);
    CHECK_INT(ferry_uri_decode(b.data, b.len, 0, &d), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&d), in);
    ferry_buf_free(&b);
    ferry_buf_free(&d);
}

static void test_uri(void)
{
    enc("a b+c%d?e#f", 1, "a%20b%2Bc%25d%3Fe%23f");
    enc("dir//sub/", 1, "dir//sub/");
    enc("dir//sub/", 0, "dir%2F%2Fsub%2F");
    enc("\xe4\xb8\xad\xe6\x96\x87.jpg", 1, "%E4%B8%AD%E6%96%87.jpg");
    enc("-._~AZaz09", 0, "-._~AZaz09");
    enc("!*'();:@&=$,[]", 1, "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%5B%5D");
    char longkey[1025];
    memset(longkey, 'k', 1024);
    longkey[1024] = '\0';
    enc(longkey, 1, longkey);

    ferry_buf_t b;
    ferry_buf_init(&b, 64);
    CHECK_INT(ferry_uri_decode("red+flower.jpg", 14, 1, &b), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&b), "red flower.jpg");
    ferry_buf_reset(&b);
    CHECK_INT(ferry_uri_decode("red+flower.jpg", 14, 0, &b), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&b), "red+flower.jpg");
    CHECK_INT(ferry_uri_decode("%4", 2, 0, &b), FERRY_EPARSE);
    CHECK_INT(ferry_uri_decode("%", 1, 0, &b), FERRY_EPARSE);
    CHECK_INT(ferry_uri_decode("%zz", 3, 0, &b), FERRY_EPARSE);
    ferry_buf_free(&b);
    /* the cap holds */
    ferry_buf_init(&b, 5);
    CHECK_INT(ferry_uri_encode("abc def", 7, 0, &b), FERRY_ETOOBIG);
    ferry_buf_free(&b);
}

static void test_parse_auth(void)
{
    ferry_sigv4_auth_t a;
    CHECK_INT(ferry_sigv4_parse_authorization(
                  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
                  "SignedHeaders=host;x-amz-date, "
                  "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                  &a),
              FERRY_OK);
    CHECK_STR(a.access_key, "AKIDEXAMPLE");
    CHECK_STR(a.date, "20150830");
    CHECK_STR(a.region, "us-east-1");
    CHECK_STR(a.service, "s3");
    CHECK_STR(a.signed_headers, "host;x-amz-date");
    /* no spaces after commas is accepted (some clients) */
    CHECK_INT(ferry_sigv4_parse_authorization(
                  "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s3/aws4_request,SignedHeaders=host,"
                  "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                  &a),
              FERRY_OK);
    const char *bad[] = {
        NULL,
        "",
        "AWS AKID:sig",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AK/2015/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request/x, "
        "SignedHeaders=host, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=zz672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=short",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(ferry_sigv4_parse_authorization(bad[i], &a), FERRY_EPARSE);
}

/* ---- parity with libcurl's signer ------------------------------------------------------ */

typedef struct {
    int fd;
    char req[8192];
} capture_t;

static void *capture_thread(void *arg)
{
    capture_t *c = arg;
    int s = accept(c->fd, NULL, NULL);
    if (s < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof(c->req) - 1) {
        ssize_t r = read(s, c->req + n, sizeof(c->req) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        c->req[n] = '\0';
        if (strstr(c->req, "\r\n\r\n"))
            break;
    }
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    ssize_t w = write(s, resp, sizeof(resp) - 1);
    (void)w;
    close(s);
    return NULL;
}

/* Find header `name` in a raw request; copy its value. */
static int header_of(const char *req, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = (size_t)(e - v);
            if (n >= cap)
                return -1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

static void test_curl_parity(void)
{
    capture_t cap;
    memset(&cap, 0, sizeof(cap));
    cap.fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(cap.fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    REQUIRE(bind(cap.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    REQUIRE(listen(cap.fd, 1) == 0);
    REQUIRE(getsockname(cap.fd, (struct sockaddr *)&sa, &sl) == 0);
    int port = ntohs(sa.sin_port);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, capture_thread, &cap) == 0);

    char url[256], host[64];
    /* a key with characters that need encoding, already encoded as a client sends it */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket/dir/a%%20b%%2Bc.txt", port);
    snprintf(host, sizeof(host), "127.0.0.1:%d", port);
    CURL *h = curl_easy_init();
    REQUIRE(h != NULL);
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "x-amz-date: 20240101T120000Z");
    hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(h, CURLOPT_USERPWD, "AKIDPARITY:secretparity");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    CURLcode cc = curl_easy_perform(h);
    CHECK_INT(cc, CURLE_OK);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    pthread_join(th, NULL);
    close(cap.fd);

    char curl_auth[1024], date[64], sha[128];
    REQUIRE(header_of(cap.req, "Authorization", curl_auth, sizeof(curl_auth)) == 0);
    REQUIRE(header_of(cap.req, "x-amz-date", date, sizeof(date)) == 0);
    REQUIRE(header_of(cap.req, "x-amz-content-sha256", sha, sizeof(sha)) == 0);
    ferry_sigv4_auth_t pa;
    REQUIRE(ferry_sigv4_parse_authorization(curl_auth, &pa) == FERRY_OK);
    /* Sign the same headers curl signed, with ours. */
    ferry_kv_t hs[8];
    char vals[8][256];
    size_t nh = 0;
    char list[1024];
    snprintf(list, sizeof(list), "%s", pa.signed_headers);
    for (char *save = NULL, *t = strtok_r(list, ";", &save); t && nh < 8;
         t = strtok_r(NULL, ";", &save)) {
        REQUIRE(header_of(cap.req, t, vals[nh], sizeof(vals[nh])) == 0);
        hs[nh].name = t;
        hs[nh].value = vals[nh];
        nh++;
    }
    ferry_creds_t cr = {"AKIDPARITY", "secretparity", NULL};
    ferry_sigv4_req_t r = {"GET", "/bucket/dir/a%20b%2Bc.txt", NULL, hs, nh, sha, "us-east-1", "s3",
                           date};
    ferry_buf_t ours;
    ferry_buf_init(&ours, 4096);
    CHECK_INT(ferry_sigv4_authorization(&r, &cr, &ours), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&ours), curl_auth);
    ferry_buf_free(&ours);
    (void)host;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_aws_vectors();
    test_canonical();
    test_cached_key();
    test_scratch();
    test_uri();
    test_parse_auth();
    test_curl_parity();
    curl_global_cleanup();
    return test_summary();
}
