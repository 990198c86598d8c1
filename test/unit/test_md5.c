/* Unit tests for lib/check/md5.c: RFC 1321's vectors, ferry_md5_update against OpenSSL's MD5
 * (EVP, here only) over random lengths and split points, and ferry_md5_update_many against the
 * same for 1..20 streams of unequal lengths, contexts holding a partial block, repeated calls,
 * with the AVX2 path allowed and forced off (md5_int.h), and its FERRY_EINVAL cases. */
#include "ferry/check.h"
#include "ferry/error.h"
#include "md5_int.h"
#include "test.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define POOL ((size_t)(2u << 20) + 4096)
static uint8_t *pool;

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_rfc1321(void)
{
    static const char *const v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t d[16];
        char h[33];
        ferry_md5(v[i][0], strlen(v[i][0]), d);
        hex(d, h);
        CHECK_STR(h, v[i][1]);
        /* byte by byte through a context, then re-inited and used again */
        ferry_md5_t m;
        CHECK_INT(ferry_md5_init(&m), FERRY_OK);
        for (size_t j = 0; v[i][0][j]; j++)
            ferry_md5_update(&m, v[i][0] + j, 1);
        ferry_md5_final(&m, d);
        hex(d, h);
        CHECK_STR(h, v[i][1]);
        ferry_md5_free(&m); /* after final */
        CHECK_INT(ferry_md5_init(&m), FERRY_OK);
        ferry_md5_update(&m, v[i][0], strlen(v[i][0]));
        ferry_md5_final(&m, d);
        hex(d, h);
        CHECK_STR(h, v[i][1]);
    }
    ferry_md5_t z;
    memset(&z, 0, sizeof(z));
    ferry_md5_free(&z); /* zeroed */
    CHECK_INT(ferry_md5_init(&z), FERRY_OK);
    ferry_md5_free(&z); /* inited */
}

static void evp_md5(const void *p, size_t n, uint8_t out[16])
{
    unsigned int len = 16;
    REQUIRE(EVP_Digest(p, n, out, &len, EVP_md5(), NULL) == 1);
}

/* Random lengths 0..70,000 at random offsets, fed in random pieces. */
static void test_update_random(void)
{
    for (int it = 0; it < 400; it++) {
        size_t n = (size_t)(rnd() % 70001);
        if (it < 130)
            n = (size_t)it; /* every length around one and two blocks */
        const uint8_t *p = pool + rnd() % 4096;
        ferry_md5_t m;
        ferry_md5_init(&m);
        size_t off = 0;
        while (off < n) {
            size_t k = rnd() % 4 == 0 ? (size_t)(rnd() % 200) : (size_t)(rnd() % (n - off + 1));
            k = k > n - off ? n - off : k;
            ferry_md5_update(&m, p + off, k);
            off += k;
        }
        uint8_t a[16], b[16];
        ferry_md5_final(&m, a);
        evp_md5(p, n, b);
        CHECK(memcmp(a, b, 16) == 0);
        ferry_md5(p, n, a);
        CHECK(memcmp(a, b, 16) == 0);
    }
}

static const size_t sizes[] = {0,    1,    55,    56,    63,    64,     65,       127,  128,  129,
                               1000, 4096, 16384, 16385, 70000, 200000, 1u << 20, 3000, 8191, 77};

/* One round: count streams with contexts ctx[0..count) (already holding pre[i] bytes of
 * their stream), each given three calls; compared with OpenSSL over the same bytes. */
static void many_round(size_t count, int simd)
{
    ferry_md5_t ctx[20];
    EVP_MD_CTX *ref[20];
    ferry_md5_t *mp[20];
    const void *pp[20];
    size_t nn[20];
    for (size_t i = 0; i < count; i++) {
        ferry_md5_init(&ctx[i]);
        ref[i] = EVP_MD_CTX_new();
        REQUIRE(ref[i] != NULL && EVP_DigestInit_ex(ref[i], EVP_md5(), NULL) == 1);
        size_t pre = i % 3 == 0 ? 0 : (size_t)(rnd() % 200);
        const uint8_t *q = pool + rnd() % 4096;
        ferry_md5_update(&ctx[i], q, pre);
        EVP_DigestUpdate(ref[i], q, pre);
        mp[i] = &ctx[i];
    }
    for (int call = 0; call < 3; call++) {
        for (size_t i = 0; i < count; i++) {
            mp[i] = &ctx[i];
            size_t s =
                sizes[(i * 7 + (size_t)call * 3 + count) % (sizeof(sizes) / sizeof(sizes[0]))];
            if (call > 0 && s > 70000)
                s = (size_t)(rnd() % 5000); /* 1 MiB once per stream is enough */
            nn[i] = s;
            pp[i] = s == 0 && rnd() % 2 ? NULL : pool + rnd() % (POOL - s);
            if (s > 0)
                EVP_DigestUpdate(ref[i], pp[i], s);
        }
        /* reversed order on odd calls, so lanes meet different neighbours */
        if (call % 2) {
            for (size_t i = 0; i < count / 2; i++) {
                size_t j = count - 1 - i;
                ferry_md5_t *tm = mp[i];
                const void *tp = pp[i];
                size_t tn = nn[i];
                mp[i] = mp[j], pp[i] = pp[j], nn[i] = nn[j];
                mp[j] = tm, pp[j] = tp, nn[j] = tn;
            }
        }
        CHECK_INT(ferry_md5_update_many(mp, pp, nn, count), FERRY_OK);
    }
    int bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t a[16], b[16];
        unsigned int len = 16;
        ferry_md5_final(&ctx[i], a);
        EVP_DigestFinal_ex(ref[i], b, &len);
        EVP_MD_CTX_free(ref[i]);
        if (memcmp(a, b, 16) != 0) {
            bad++;
            fprintf(stderr, "update_many: %zu streams (simd %d), stream %zu differs\n", count, simd,
                    i);
        }
    }
    CHECK_INT(bad, 0);
}

static void test_update_many(void)
{
    for (int simd = 1; simd >= 0; simd--) {
        int on = ferry_md5_set_simd(simd);
        printf("update_many: AVX2 path %s\n", on ? "on" : "off");
        if (simd == 0)
            CHECK_INT(on, 0);
        for (size_t count = 1; count <= 20; count++)
            many_round(count, on);
        /* many equal streams: all lanes busy, then all end together */
        ferry_md5_t ctx[16], *mp[16];
        const void *pp[16];
        size_t nn[16];
        for (int i = 0; i < 16; i++) {
            ferry_md5_init(&ctx[i]);
            mp[i] = &ctx[i];
            pp[i] = pool + 64 * i + i;
            nn[i] = 16384;
        }
        CHECK_INT(ferry_md5_update_many(mp, pp, nn, 16), FERRY_OK);
        for (int i = 0; i < 16; i++) {
            uint8_t a[16], b[16];
            ferry_md5_final(&ctx[i], a);
            evp_md5(pp[i], nn[i], b);
            CHECK(memcmp(a, b, 16) == 0);
        }
    }
    ferry_md5_set_simd(1);
}

static void test_einval(void)
{
    ferry_md5_t a, b;
    ferry_md5_init(&a);
    ferry_md5_init(&b);
    ferry_md5_update(&a, "xyz", 3);
    ferry_md5_t a0 = a, b0 = b;
    ferry_md5_t *twice[3] = {&a, &b, &a};
    const void *pp[3] = {pool, pool, pool};
    size_t nn[3] = {100, 100, 100};
    CHECK_INT(ferry_md5_update_many(twice, pp, nn, 3), FERRY_EINVAL);
    CHECK(memcmp(&a, &a0, sizeof(a)) == 0 && memcmp(&b, &b0, sizeof(b)) == 0);
    ferry_md5_t *withnull[2] = {&a, NULL};
    CHECK_INT(ferry_md5_update_many(withnull, pp, nn, 2), FERRY_EINVAL);
    ferry_md5_t *two[2] = {&a, &b};
    const void *nodata[2] = {pool, NULL};
    CHECK_INT(ferry_md5_update_many(two, nodata, nn, 2), FERRY_EINVAL);
    CHECK(memcmp(&a, &a0, sizeof(a)) == 0 && memcmp(&b, &b0, sizeof(b)) == 0);
    CHECK_INT(ferry_md5_update_many(NULL, NULL, NULL, 0), FERRY_OK);
    CHECK_INT(ferry_md5_update_many(NULL, pp, nn, 1), FERRY_EINVAL);
    size_t zero[2] = {0, 0};
    CHECK_INT(ferry_md5_update_many(two, nodata, zero, 2), FERRY_OK); /* NULL with 0 bytes */
    CHECK(memcmp(&a, &a0, sizeof(a)) == 0 && memcmp(&b, &b0, sizeof(b)) == 0);
}

/* Two threads hashing their own streams at once (the worker's loop and hasher thread): each
 * gets OpenSSL's digests. Run first, so the two race to the one-time AVX2 check. */
static void *thread_many(void *arg)
{
    const uint8_t *base = arg;
    ferry_md5_t ctx[12], *mp[12];
    const void *pp[12];
    size_t nn[12];
    int bad = 0;
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < 12; i++) {
            ferry_md5_init(&ctx[i]);
            mp[i] = &ctx[i];
            pp[i] = base + 1000 * i + rep;
            nn[i] = 4096 + 640 * (size_t)i + (size_t)rep;
        }
        if (ferry_md5_update_many(mp, pp, nn, 12) != FERRY_OK)
            bad++;
        for (int i = 0; i < 12; i++) {
            uint8_t a[16], b[16];
            unsigned int len = 16;
            ferry_md5_final(&ctx[i], a);
            EVP_Digest(pp[i], nn[i], b, &len, EVP_md5(), NULL);
            bad += memcmp(a, b, 16) != 0;
        }
    }
    return (void *)(intptr_t)bad;
}

static void test_threads(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        REQUIRE(pthread_create(&t[i], NULL, thread_many, pool + 100000 * (size_t)i) == 0);
    for (int i = 0; i < 2; i++) {
        void *bad = NULL;
        REQUIRE(pthread_join(t[i], &bad) == 0);
        CHECK_INT((intptr_t)bad, 0);
    }
}

int main(void)
{
    pool = malloc(POOL);
    REQUIRE(pool != NULL);
    for (size_t i = 0; i < POOL; i++)
        pool[i] = (uint8_t)(rnd() >> 56);
    test_threads();
    test_rfc1321();
    test_update_random();
    test_update_many();
    test_einval();
    free(pool);
    return test_summary();
}
