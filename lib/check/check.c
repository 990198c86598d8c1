#include "ferry/check.h"

#include "ferry/error.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <isa-l/crc64.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- CRCs ---------------------------------------------------------------------------- */

#define CRC64_XZ_POLY_REFL 0xC96C5795D7870F42ULL

uint64_t ferry_crc64_update(uint64_t crc, const void *p, size_t n)
{
    /* ISA-L inverts on entry and exit, so its running value is the finished CRC. */
    return crc64_ecma_refl(crc, (const unsigned char *)p, (uint64_t)n);
}

/* The CRC of A||B from crc(A), crc(B) and len(B), for any reflected CRC of width bits (32 or
 * 64) with the reflected polynomial poly: crc(A) times x^(8 len(B)) modulo the polynomial,
 * plus crc(B) (zlib 1.2.12's crc32_combine, generalised). x^(8 len) is formed by squaring,
 * about 2 log2(len) products of width steps each: a 16 MiB part costs ~3,000 steps, where
 * zlib's older method (a width x width matrix squared per bit of len) cost ~200,000; a
 * multipart copy combines two CRCs per part. */
static uint64_t mulmodp(uint64_t poly, int width, uint64_t a, uint64_t b)
{
    uint64_t m = (uint64_t)1 << (width - 1), p = 0; /* m: x^0 in reflected order */
    for (; m != 0; m >>= 1) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        b = b & 1 ? (b >> 1) ^ poly : b >> 1; /* b times x */
    }
    return p;
}

static uint64_t crc_combine(uint64_t poly, int width, uint64_t crc_a, uint64_t crc_b,
                            uint64_t len_b)
{
    uint64_t top = (uint64_t)1 << (width - 1);
    uint64_t sq = top >> 8; /* x^8: one zero byte */
    uint64_t op = top;      /* x^0 */
    while (len_b) {
        if (len_b & 1)
            op = mulmodp(poly, width, sq, op);
        len_b >>= 1;
        if (len_b)
            sq = mulmodp(poly, width, sq, sq);
    }
    return mulmodp(poly, width, op, crc_a) ^ crc_b;
}

uint64_t ferry_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    return crc_combine(CRC64_XZ_POLY_REFL, 64, crc_a, crc_b, len_b);
}

uint32_t ferry_crc32c_update(uint32_t crc, const void *p, size_t n)
{
    /* ISA-L's iSCSI CRC does not invert; do it here so callers chain finished values. */
    return ~crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, ~crc);
}

#define CRC32C_POLY_REFL 0x82F63B78u

uint32_t ferry_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return (uint32_t)crc_combine(CRC32C_POLY_REFL, 32, crc_a, crc_b, len_b);
}

void ferry_crc32c_b64(uint32_t crc, char out[9])
{
    uint8_t be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    ferry_b64(be, 4, out);
}

int ferry_crc64_parse(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return FERRY_EPARSE;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0')
        return FERRY_EPARSE;
    *out = (uint64_t)v;
    return FERRY_OK;
}

/* ---- hashes ---------------------------------------------------------------------------- */

/* OpenSSL 3 looks EVP_sha256() up in its provider tables on every init, and the
 * one-shot HMAC() builds and frees an EVP_MAC context per call: 1.3-2.0 us per HMAC on the
 * bench machine, 0.56 us with the digests fetched once and HMAC composed from them (a short
 * SHA-256: 0.44-0.69 us, now 0.31). The fetched digests live until exit. */
static EVP_MD *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md_get(void)
{
    pthread_once(&md_once, md_fetch);
    return md_sha256 ? md_sha256 : EVP_sha256(); /* unfetchable: the slow path still works */
}

static int md_init(void **ctx, const EVP_MD *md)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL)
        return FERRY_ENOMEM;
    if (EVP_DigestInit_ex(c, md, NULL) != 1) {
        EVP_MD_CTX_free(c);
        return FERRY_ENOMEM;
    }
    *ctx = c;
    return FERRY_OK;
}

static void md_final(void **ctx, uint8_t *out)
{
    unsigned int len = 0;
    EVP_DigestFinal_ex((EVP_MD_CTX *)*ctx, out, &len);
    EVP_MD_CTX_free((EVP_MD_CTX *)*ctx);
    *ctx = NULL;
}

void ferry_sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    EVP_Digest(p, n, out, &len, md_get(), NULL);
}

/* HMAC (RFC 2104) over the fetched SHA-256; out may alias key. */
void ferry_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    unsigned int len = 32;
    const EVP_MD *md = md_get();
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (keylen > sizeof(k))
        EVP_Digest(key, keylen, k, &len, md, NULL);
    else
        memcpy(k, key, keylen);
    int ok = c != NULL;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, pad, 64) == 1 &&
         EVP_DigestUpdate(c, p, n) == 1 && EVP_DigestFinal_ex(c, inner, &len) == 1;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, pad, 64) == 1 &&
         EVP_DigestUpdate(c, inner, 32) == 1 && EVP_DigestFinal_ex(c, out, &len) == 1;
    if (!ok) /* out of memory: a signature that no store accepts, never a stale one */
        memset(out, 0, 32);
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
}

int ferry_sha256_init(ferry_sha256_t *s)
{
    s->ctx = NULL;
    return md_init(&s->ctx, md_get());
}

void ferry_sha256_update(ferry_sha256_t *s, const void *p, size_t n)
{
    EVP_DigestUpdate((EVP_MD_CTX *)s->ctx, p, n);
}

void ferry_sha256_final(ferry_sha256_t *s, uint8_t out[32])
{
    md_final(&s->ctx, out);
}

void ferry_sha256_free(ferry_sha256_t *s)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)s->ctx);
    s->ctx = NULL;
}

/* ---- qetag ----------------------------------------------------------------------------- */

int ferry_qetag_init(ferry_qetag_t *q)
{
    memset(q, 0, sizeof(*q));
    return md_init(&q->blk, EVP_sha1());
}

/* Finish the current block's digest and start the next one. */
static void qetag_end_block(ferry_qetag_t *q)
{
    uint8_t d[20];
    md_final(&q->blk, d);
    if (q->blocks != NULL)
        memcpy(q->blocks + q->nblocks * 20, d, 20);
    if (q->nblocks == 0) {
        memcpy(q->first, d, 20);
    } else {
        if (q->nblocks == 1) {
            md_init(&q->outer, EVP_sha1());
            EVP_DigestUpdate((EVP_MD_CTX *)q->outer, q->first, 20);
        }
        EVP_DigestUpdate((EVP_MD_CTX *)q->outer, d, 20);
    }
    q->nblocks++;
    q->fill = 0;
}

void ferry_qetag_update(ferry_qetag_t *q, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        if (q->blk == NULL) /* the previous block ended exactly on the boundary */
            md_init(&q->blk, EVP_sha1());
        size_t take = FERRY_QETAG_BLOCK - q->fill;
        if (take > n)
            take = n;
        EVP_DigestUpdate((EVP_MD_CTX *)q->blk, b, take);
        q->fill += take;
        b += take;
        n -= take;
        if (q->fill == FERRY_QETAG_BLOCK)
            qetag_end_block(q);
    }
}

void ferry_qetag_final(ferry_qetag_t *q, char out[29])
{
    uint8_t raw[21];
    if (q->blk != NULL && (q->fill > 0 || q->nblocks == 0))
        qetag_end_block(q);
    if (q->nblocks <= 1) {
        raw[0] = 0x16;
        memcpy(raw + 1, q->first, 20);
    } else {
        raw[0] = 0x96;
        md_final(&q->outer, raw + 1);
    }
    ferry_b64url(raw, 21, out);
    ferry_qetag_free(q);
}

int ferry_qetag_of_blocks(const uint8_t *digests, uint64_t n, char out[29])
{
    uint8_t raw[21];
    if (n == 0) { /* the SHA-1 of nothing */
        ferry_qetag_t q;
        if (ferry_qetag_init(&q) != FERRY_OK)
            return FERRY_ENOMEM;
        ferry_qetag_final(&q, out);
        return FERRY_OK;
    }
    if (n == 1) {
        raw[0] = 0x16;
        memcpy(raw + 1, digests, 20);
    } else {
        void *ctx = NULL;
        if (md_init(&ctx, EVP_sha1()) != FERRY_OK)
            return FERRY_ENOMEM;
        EVP_DigestUpdate((EVP_MD_CTX *)ctx, digests, (size_t)n * 20);
        raw[0] = 0x96;
        md_final(&ctx, raw + 1);
    }
    ferry_b64url(raw, 21, out);
    return FERRY_OK;
}

void ferry_qetag_free(ferry_qetag_t *q)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)q->blk);
    EVP_MD_CTX_free((EVP_MD_CTX *)q->outer);
    q->blk = NULL;
    q->outer = NULL;
}

/* ---- hex digits and ETags -------------------------------------------------------------- */

int ferry_etag_eq(const char *a, const char *b)
{
    while (*a == '"')
        a++;
    while (*b == '"')
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '"')
        la--;
    while (lb && b[lb - 1] == '"')
        lb--;
    return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

/* ---- encodings ----------------------------------------------------------------------- */

static void hex(const uint8_t *p, size_t n, char *out, const char *digits)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void ferry_hex_lower(const uint8_t *p, size_t n, char *out)
{
    hex(p, n, out, "0123456789abcdef");
}

void ferry_hex_upper(const uint8_t *p, size_t n, char *out)
{
    hex(p, n, out, "0123456789ABCDEF");
}

size_t ferry_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

static void b64(const uint8_t *p, size_t n, char *out, const char *al)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = al[(v >> 6) & 63];
        out[o++] = al[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

void ferry_b64(const uint8_t *p, size_t n, char *out)
{
    b64(p, n, out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

void ferry_b64url(const uint8_t *p, size_t n, char *out)
{
    b64(p, n, out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int ferry_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    while (n > 0 && (s[n - 1] == '=' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r')
            continue;
        int v = b64_val(c);
        if (v < 0)
            return FERRY_EPARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return FERRY_ETOOBIG;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6) /* a lone trailing character cannot encode a byte */
        return FERRY_EPARSE;
    *outlen = o;
    return FERRY_OK;
}
