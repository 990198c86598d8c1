/* ferry — checksums: CRC-64/XZ (OSS, COS), CRC32C (S3 x-amz-checksum-crc32c), MD5
 * (Content-MD5, S3 ETags), SHA-256 and HMAC-SHA256 (SigV4), qetag (Qiniu Kodo), and the
 * encodings they travel in (hex, base64, URL-safe base64).
 *
 * CRCs use ISA-L (memory speed); MD5 is ferry's own (scalar, and an AVX2 path for up to 16
 * streams at once); SHA-256 and HMAC use OpenSSL's EVP. Streaming contexts are plain structs owned
 * by the caller; the *_free functions release OpenSSL state and accept zeroed or already-freed
 * contexts. All functions are thread-safe on distinct contexts.
 */
#ifndef FERRY_CHECK_H
#define FERRY_CHECK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-64/XZ (ECMA-182, reflected, init and xorout ~0), as OSS/COS report it in
 * x-oss-hash-crc64ecma / x-cos-hash-crc64ecma. Start with crc = 0; feed pieces in order.
 * "123456789" -> 0x995DC9BBDF1939FA. */
uint64_t ferry_crc64_update(uint64_t crc, const void *p, size_t n);

/* CRC-64/XZ of A||B from crc(A), crc(B) and len(B), without the data (zlib's crc combine):
 * lets parts copied in parallel be checked against the whole-object CRC. */
uint64_t ferry_crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

/* CRC-32C (Castagnoli, as x-amz-checksum-crc32c). Start with crc = 0. */
uint32_t ferry_crc32c_update(uint32_t crc, const void *p, size_t n);
/* A CRC-32C as S3 writes it (x-amz-checksum-crc32c, <ChecksumCRC32C>): its four bytes
 * big-endian, base64: 8 characters and a NUL. */
void ferry_crc32c_b64(uint32_t crc, char out[9]);
/* CRC-32C of A||B from crc32c(A), crc32c(B) and len(B), without the data (zlib's combine for
 * the Castagnoli polynomial; ISA-L has none): parts copied in parallel are checked against an
 * S3 FULL_OBJECT x-amz-checksum-crc32c. Pure. */
uint32_t ferry_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* Parse a decimal CRC-64 header value ("11051210869376104954"); FERRY_OK or FERRY_EPARSE. */
int ferry_crc64_parse(const char *s, uint64_t *out);

/* MD5, streaming (RFC 1321; ferry's own code in lib/check/md5.c, no OpenSSL state): a plain
 * struct owned by the caller, nothing allocated. h is the chaining value, len the bytes fed so
 * far, buf the partial block (len % 64 bytes of it). */
typedef struct ferry_md5_s {
    uint32_t h[4];
    uint64_t len;
    uint8_t buf[64];
} ferry_md5_t;
int ferry_md5_init(ferry_md5_t *m); /* FERRY_OK (cannot fail; an int for older callers) */
void ferry_md5_update(ferry_md5_t *m, const void *p, size_t n);
void ferry_md5_final(ferry_md5_t *m, uint8_t out[16]); /* m may be re-inited */
/* Nothing to free; valid on an inited, finalised or zeroed context (callers keep calling it). */
void ferry_md5_free(ferry_md5_t *m);
void ferry_md5(const void *p, size_t n, uint8_t out[16]);
/* Many independent streams at once: for each i < count, m[i] updated with p[i][0..n[i]),
 * exactly what ferry_md5_update(m[i], p[i], n[i]) would do. The m[i] must be distinct and
 * non-NULL, and p[i] non-NULL when n[i] > 0; otherwise FERRY_EINVAL and no context changed
 * (the distinctness check is O(count^2): meant for tens of streams). On a CPU with AVX2
 * (checked once) up to 16 streams advance together, one per 32-bit lane (two registers of 8);
 * a stream left alone runs the scalar code. Thread-safe on distinct contexts. FERRY_OK or
 * FERRY_EINVAL. */
int ferry_md5_update_many(ferry_md5_t *const *m, const void *const *p, const size_t *n,
                          size_t count);

/* SHA-256 and HMAC-SHA256 of contiguous data. */
void ferry_sha256(const void *p, size_t n, uint8_t out[32]);
void ferry_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[32]);

/* SHA-256, streaming (for signed payloads). */
typedef struct ferry_sha256_s {
    void *ctx; /* EVP_MD_CTX *, owned */
} ferry_sha256_t;
int ferry_sha256_init(ferry_sha256_t *s);
void ferry_sha256_update(ferry_sha256_t *s, const void *p, size_t n);
void ferry_sha256_final(ferry_sha256_t *s, uint8_t out[32]);
void ferry_sha256_free(ferry_sha256_t *s);

/* Qiniu qetag, streaming: 4 MiB blocks, SHA-1 each; <=1 block: 0x16||sha1(data),
 * more: 0x96||sha1(sha1(b1)||sha1(b2)||...), URL-safe base64 (28 chars). Empty data gives
 * "Fto5o-5ea0sNMlW_75VgGJCv2AcJ". */
#define FERRY_QETAG_BLOCK (4u << 20)
typedef struct ferry_qetag_s {
    uint8_t *blocks;   /* optional, borrowed: each finished block's SHA-1 is also written here,
                          20 bytes per block in order (set after init; room for every block) */
    void *blk;         /* EVP_MD_CTX * for the current block */
    void *outer;       /* EVP_MD_CTX * over the block digests */
    uint8_t first[20]; /* the first block's digest, kept until a second block starts */
    size_t fill;       /* bytes in the current block */
    uint64_t nblocks;  /* finished blocks */
} ferry_qetag_t;
int ferry_qetag_init(ferry_qetag_t *q);
void ferry_qetag_update(ferry_qetag_t *q, const void *p, size_t n);
void ferry_qetag_final(ferry_qetag_t *q, char out[29]); /* NUL-terminated; also frees */
void ferry_qetag_free(ferry_qetag_t *q);
/* The qetag of an object from its blocks' SHA-1s (n x 20 bytes, in order; n 0 = empty data).
 * Lets parts hashed apart (on 4 MiB boundaries) give the whole object's qetag. FERRY_OK, or
 * FERRY_ENOMEM. */
int ferry_qetag_of_blocks(const uint8_t *digests, uint64_t n, char out[29]);

/* The value of one hex digit (either case), or -1. Inline: ETags are packed per object. */
static inline int ferry_hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when two ETags name the same content: surrounding quotes ignored, case ignored (OSS
 * writes upper-case MD5 hex, S3 lower-case). An empty ETag equals nothing. */
int ferry_etag_eq(const char *a, const char *b);

/* Encodings. out must hold 2n+1 (hex) or ferry_b64_len(n)+1 bytes; all NUL-terminate. */
void ferry_hex_lower(const uint8_t *p, size_t n, char *out);
void ferry_hex_upper(const uint8_t *p, size_t n, char *out);
size_t ferry_b64_len(size_t n);
void ferry_b64(const uint8_t *p, size_t n, char *out);    /* standard, padded */
void ferry_b64url(const uint8_t *p, size_t n, char *out); /* URL-safe, padded */
/* Decode standard or URL-safe base64 (padding optional). *outlen gets the byte count.
 * FERRY_OK, FERRY_EPARSE on a bad character, FERRY_ETOOBIG if cap is too small. */
int ferry_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
