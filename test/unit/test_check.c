/* Unit tests for lib/check: CRC-64/XZ, CRC32C, MD5, qetag, base64, against published or
 * independently computed values. */
#include "ferry/check.h"
#include "ferry/error.h"
#include "test.h"

#include <stdlib.h>

static void test_crc64(void)
{
    CHECK(ferry_crc64_update(0, "123456789", 9) == 0x995DC9BBDF1939FAULL);
    CHECK(ferry_crc64_update(0, "", 0) == 0);
    /* chaining equals one pass */
    uint64_t c = ferry_crc64_update(0, "1234", 4);
    c = ferry_crc64_update(c, "56789", 5);
    CHECK(c == 0x995DC9BBDF1939FAULL);
    /* combine equals one pass, for many split points */
    static unsigned char buf[10000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    uint64_t whole = ferry_crc64_update(0, buf, sizeof(buf));
    size_t cuts[] = {0, 1, 7, 4096, 9999, 10000};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        uint64_t a = ferry_crc64_update(0, buf, cuts[i]);
        uint64_t b = ferry_crc64_update(0, buf + cuts[i], sizeof(buf) - cuts[i]);
        CHECK(ferry_crc64_combine(a, b, sizeof(buf) - cuts[i]) == whole);
    }
    uint64_t v;
    CHECK_INT(ferry_crc64_parse("11051210869376104954", &v), FERRY_OK);
    CHECK(v == 0x995DC9BBDF1939FAULL);
    CHECK_INT(ferry_crc64_parse("18446744073709551616", &v), FERRY_EPARSE); /* 2^64 */
    CHECK_INT(ferry_crc64_parse("-1", &v), FERRY_EPARSE);
    CHECK_INT(ferry_crc64_parse("12x", &v), FERRY_EPARSE);
    CHECK_INT(ferry_crc64_parse("", &v), FERRY_EPARSE);
}

/* Combining at part sizes (16 MiB and odd lengths around it): the same as one pass. */
static void test_combine_large(void)
{
    size_t n = (16u << 20) + 4099;
    unsigned char *buf = malloc(n);
    REQUIRE(buf != NULL);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 2654435761u) >> 11);
    uint64_t w64 = ferry_crc64_update(0, buf, n);
    uint32_t w32 = ferry_crc32c_update(0, buf, n);
    size_t cuts[] = {1, 4099, 5u << 20, n - (16u << 20), n - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        size_t k = cuts[i];
        CHECK(ferry_crc64_combine(ferry_crc64_update(0, buf, k),
                                  ferry_crc64_update(0, buf + k, n - k), n - k) == w64);
        CHECK(ferry_crc32c_combine(ferry_crc32c_update(0, buf, k),
                                   ferry_crc32c_update(0, buf + k, n - k), n - k) == w32);
    }
    free(buf);
}

static void test_crc32c(void)
{
    CHECK(ferry_crc32c_update(0, "123456789", 9) == 0xE3069283u);
    uint32_t c = ferry_crc32c_update(0, "12345", 5);
    CHECK(ferry_crc32c_update(c, "6789", 4) == 0xE3069283u);
    CHECK(ferry_crc32c_update(0, "", 0) == 0);
    char b64[9];
    ferry_crc32c_b64(0xE3069283u, b64); /* bytes e3 06 92 83, big-endian as S3 sends them */
    CHECK_STR(b64, "4waSgw==");
    ferry_crc32c_b64(0, b64);
    CHECK_STR(b64, "AAAAAA==");
}

/* crc32c(A||B) from crc32c(A), crc32c(B) and len(B) equals a direct CRC over A||B, at every
 * cut (empty A or B included), and chained over several pieces as a multipart copy does. */
static void test_crc32c_combine(void)
{
    static char buf[70001];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)(i * 131u + (i >> 7));
    uint32_t whole = ferry_crc32c_update(0, buf, sizeof(buf));
    size_t cuts[] = {0, 1, 3, 4, 7, 4096, 9999, 65536, sizeof(buf) - 1, sizeof(buf)};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        uint32_t a = ferry_crc32c_update(0, buf, cuts[i]);
        uint32_t b = ferry_crc32c_update(0, buf + cuts[i], sizeof(buf) - cuts[i]);
        CHECK(ferry_crc32c_combine(a, b, sizeof(buf) - cuts[i]) == whole);
    }
    uint32_t acc = 0;
    for (size_t off = 0; off < sizeof(buf); off += 5000) {
        size_t n = sizeof(buf) - off < 5000 ? sizeof(buf) - off : 5000;
        acc = ferry_crc32c_combine(acc, ferry_crc32c_update(0, buf + off, n), n);
    }
    CHECK(acc == whole);
    CHECK(ferry_crc32c_combine(ferry_crc32c_update(0, "12345", 5),
                               ferry_crc32c_update(0, "6789", 4), 4) == 0xE3069283u);
    /* lengths past 4 GiB: combining is associative (A||B)||C = A||(B||C), whatever the
     * pieces' CRCs are */
    uint64_t l1 = (5ull << 30) + 3, l2 = (7ull << 30) + 11;
    uint32_t a = 0x12345678u, b = 0x9abcdef0u, c = 0x0badf00du;
    CHECK(ferry_crc32c_combine(ferry_crc32c_combine(a, b, l1), c, l2) ==
          ferry_crc32c_combine(a, ferry_crc32c_combine(b, c, l2), l1 + l2));
}

static void test_md5_hex_b64(void)
{
    uint8_t d[16];
    char hex[33], b64[25];
    ferry_md5("", 0, d);
    ferry_hex_lower(d, 16, hex);
    CHECK_STR(hex, "d41d8cd98f00b204e9800998ecf8427e");
    ferry_hex_upper(d, 16, hex);
    CHECK_STR(hex, "D41D8CD98F00B204E9800998ECF8427E");
    ferry_b64(d, 16, b64);
    CHECK_STR(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
    ferry_md5_t m;
    REQUIRE(ferry_md5_init(&m) == FERRY_OK);
    ferry_md5_update(&m, "hello ", 6);
    ferry_md5_update(&m, "world", 5);
    ferry_md5_final(&m, d);
    ferry_hex_lower(d, 16, hex);
    CHECK_STR(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    ferry_md5_free(&m); /* after final: a no-op */

    uint8_t out[32];
    size_t n;
    CHECK_INT(ferry_b64_decode("aGVsbG8=", 8, out, sizeof(out), &n), FERRY_OK);
    CHECK_INT(n, 5);
    CHECK(memcmp(out, "hello", 5) == 0);
    CHECK_INT(ferry_b64_decode("aGVsbG8", 7, out, sizeof(out), &n), FERRY_OK);
    CHECK_INT(n, 5);
    CHECK_INT(ferry_b64_decode("aGV*bG8=", 8, out, sizeof(out), &n), FERRY_EPARSE);
    CHECK_INT(ferry_b64_decode("aGVsbG8=", 8, out, 3, &n), FERRY_ETOOBIG);
    CHECK_INT(ferry_b64_decode("a", 1, out, sizeof(out), &n), FERRY_EPARSE);
}

static void qetag_of(const unsigned char *p, size_t n, size_t piece, char out[29])
{
    ferry_qetag_t q;
    REQUIRE(ferry_qetag_init(&q) == FERRY_OK);
    for (size_t off = 0; off < n; off += piece)
        ferry_qetag_update(&q, p + off, n - off < piece ? n - off : piece);
    ferry_qetag_final(&q, out);
}

static void test_qetag(void)
{
    char t[29], t2[29];
    qetag_of(NULL, 0, 1, t);
    CHECK_STR(t, "Fto5o-5ea0sNMlW_75VgGJCv2AcJ"); /* docs/providers.md §3 */
    /* > 4 MiB: two-level form, prefix byte 0x96 -> base64 starts with 'l' */
    size_t n = FERRY_QETAG_BLOCK + 12345;
    unsigned char *big = malloc(n);
    REQUIRE(big != NULL);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i ^ (i >> 8));
    qetag_of(big, n, n, t);
    qetag_of(big, n, 65536, t2);
    CHECK_STR(t, t2);
    CHECK(t[0] == 'l');
    CHECK_INT(strlen(t), 28);
    /* exactly one block: one-level form, prefix 0x16 -> 'F' */
    qetag_of(big, FERRY_QETAG_BLOCK, 1 << 20, t);
    CHECK(t[0] == 'F');
    /* the same from block digests, hashed in two separate pieces on the block boundary (as
     * the worker's parts are): equal to the one-pass qetag */
    uint8_t dig[2 * 20];
    ferry_qetag_t a, b;
    REQUIRE(ferry_qetag_init(&a) == FERRY_OK && ferry_qetag_init(&b) == FERRY_OK);
    a.blocks = dig;
    b.blocks = dig + 20;
    ferry_qetag_update(&a, big, FERRY_QETAG_BLOCK);
    ferry_qetag_update(&b, big + FERRY_QETAG_BLOCK, 12345);
    ferry_qetag_final(&a, t2);
    ferry_qetag_final(&b, t2);
    CHECK_INT(ferry_qetag_of_blocks(dig, 2, t2), FERRY_OK);
    qetag_of(big, n, n, t);
    CHECK_STR(t2, t);
    CHECK_INT(ferry_qetag_of_blocks(dig, 1, t2), FERRY_OK); /* one block: its digest */
    qetag_of(big, FERRY_QETAG_BLOCK, FERRY_QETAG_BLOCK, t);
    CHECK_STR(t2, t);
    CHECK_INT(ferry_qetag_of_blocks(NULL, 0, t2), FERRY_OK);
    CHECK_STR(t2, "Fto5o-5ea0sNMlW_75VgGJCv2AcJ");
    dig[5] ^= 1; /* a changed block changes the whole */
    CHECK_INT(ferry_qetag_of_blocks(dig, 2, t2), FERRY_OK);
    qetag_of(big, n, n, t);
    CHECK(strcmp(t2, t) != 0);
    free(big);
}

static void test_hex_etag(void)
{
    CHECK_INT(ferry_hex_val('0'), 0);
    CHECK_INT(ferry_hex_val('a'), 10);
    CHECK_INT(ferry_hex_val('F'), 15);
    CHECK_INT(ferry_hex_val('g'), -1);
    CHECK_INT(ferry_hex_val('\0'), -1);
    CHECK(ferry_etag_eq("\"688a7bf4\"", "688A7BF4"));
    CHECK(ferry_etag_eq("abc-2", "\"ABC-2\""));
    CHECK(!ferry_etag_eq("abc", "abd"));
    CHECK(!ferry_etag_eq("abc", "abcd"));
    CHECK(!ferry_etag_eq("", ""));
    CHECK(!ferry_etag_eq("\"\"", ""));
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed first), SHA-256 of
 * "abc" (FIPS 180-2), and the output written over the key as SigV4's key chain does. */
static void test_sha256_hmac(void)
{
    uint8_t d[32], key[131];
    char hex[65];
    ferry_sha256("abc", 3, d);
    ferry_hex_lower(d, 32, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    memset(key, 0x0b, 20);
    ferry_hmac_sha256(key, 20, "Hi There", 8, d);
    ferry_hex_lower(d, 32, hex);
    CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    ferry_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    ferry_hex_lower(d, 32, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof(key));
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    ferry_hmac_sha256(key, sizeof(key), m6, strlen(m6), d);
    ferry_hex_lower(d, 32, hex);
    CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    memcpy(key, d, 32); /* out == key */
    uint8_t want[32];
    ferry_hmac_sha256(d, 32, "x", 1, want);
    ferry_hmac_sha256(key, 32, "x", 1, key);
    CHECK(memcmp(key, want, 32) == 0);
}

int main(void)
{
    test_hex_etag();
    test_sha256_hmac();
    test_crc64();
    test_crc32c();
    test_crc32c_combine();
    test_combine_large();
    test_md5_hex_b64();
    test_qetag();
    return test_summary();
}
