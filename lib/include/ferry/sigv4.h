/* ferry — AWS Signature Version 4 (header auth) and S3's URI encoding.
 *
 * Pure functions: no clock, no network, no global state. The caller passes the date, so
 * signing is repeatable in tests. Used by the S3 client to sign and by fakes3 to verify.
 *
 * S3 canonicalisation rules (differ from other AWS services):
 *   - the path is not normalised ("//" and "." segments are kept); each byte outside
 *     A-Z a-z 0-9 - . _ ~ / is percent-encoded once, uppercase hex;
 *   - the query is split on '&' and '=', each name and value is decoded then re-encoded
 *     with the same rule ('/' encoded too), pairs sorted by name then value; a parameter
 *     without '=' gets an empty value ("uploads" -> "uploads=");
 *   - header names lowercased, values trimmed with inner runs of spaces folded to one,
 *     sorted by name; repeated names joined with ','.
 */
#ifndef FERRY_SIGV4_H
#define FERRY_SIGV4_H

#include "ferry/buf.h"

#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Credentials. Borrowed pointers; never logged, never stored in Redis. session_token may be
 * NULL. */
typedef struct ferry_creds_s {
    const char *access_key;
    const char *secret_key;
    const char *session_token;
} ferry_creds_t;

/* A header name and value, both borrowed. */
typedef struct ferry_kv_s {
    const char *name;
    const char *value;
} ferry_kv_t;

#define FERRY_SIGV4_UNSIGNED     "UNSIGNED-PAYLOAD"
#define FERRY_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One request to sign or verify. All pointers borrowed for the duration of the call. */
typedef struct ferry_sigv4_req_s {
    const char *method;        /* "GET", "PUT", ... */
    const char *path;          /* the path as sent on the wire (encoded or not: it is decoded
                                  and re-encoded canonically), starting with '/' */
    const char *query;         /* raw query without '?', or NULL */
    const ferry_kv_t *headers; /* the headers to sign; must include host, x-amz-date and
                                  x-amz-content-sha256 for S3 */
    size_t nheaders;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or FERRY_SIGV4_UNSIGNED */
    const char *region;       /* e.g. "us-east-1" */
    const char *service;      /* "s3" */
    const char *amz_date;     /* "YYYYMMDDTHHMMSSZ" (16 chars) */
} ferry_sigv4_req_t;

/* Format t as an x-amz-date value. out gets 16 chars + NUL. */
void ferry_sigv4_amz_date(time_t t, char out[17]);

/* Append S3-canonical percent-encoding of s[0..n) to out. keep_slash: leave '/' as is (paths).
 * FERRY_OK, or FERRY_ETOOBIG / FERRY_ENOMEM from the buffer. */
int ferry_uri_encode(const char *s, size_t n, int keep_slash, ferry_buf_t *out);

/* Append the percent-decoding of s[0..n) to out. plus_as_space: '+' means ' ' (form
 * encoding, as in S3 event keys); otherwise '+' is literal. FERRY_EPARSE on a bad escape
 * ("%G1", "%4"). */
int ferry_uri_decode(const char *s, size_t n, int plus_as_space, ferry_buf_t *out);

/* Build the canonical request (appended to creq) and the signed-headers list (appended to
 * signed_headers, e.g. "host;x-amz-content-sha256;x-amz-date"). FERRY_EINVAL on a missing
 * field, FERRY_EPARSE on a bad escape in path or query, buffer errors otherwise. */
int ferry_sigv4_canonical_request(const ferry_sigv4_req_t *r, ferry_buf_t *creq,
                                  ferry_buf_t *signed_headers);

/* The hex signature over string_to_sign with the key derived from secret, the first 8 chars
 * of amz_date, region and service. out gets 64 hex chars + NUL. */
void ferry_sigv4_signature(const char *secret, const char *amz_date, const char *region,
                           const char *service, const char *string_to_sign, char out[65]);

/* Append the string to sign for a canonical request to out. */
int ferry_sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                               const char *creq, size_t creq_len, ferry_buf_t *out);

/* Append the full Authorization header value
 * ("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=...,
 * Signature=...") to out. Same codes as ferry_sigv4_canonical_request. */
int ferry_sigv4_authorization(const ferry_sigv4_req_t *r, const ferry_creds_t *creds,
                              ferry_buf_t *out);

/* A cached SigV4 signing key: kSigning, the HMAC chain over the day, region and service,
 * which changes once a day per region. Four of the five HMACs of a signature are spent
 * deriving it, so a client keeps one per secret and signs each request with a single HMAC.
 * Zero-initialise it; it belongs to one secret (a client's, copied at creation) — never share
 * one between credentials. Wipe it with ferry_sigv4_key_wipe when the secret goes. */
typedef struct ferry_sigv4_key_s {
    char date[9]; /* YYYYMMDD */
    char region[64];
    char service[16];
    unsigned char key[32];
    /* HMAC-SHA256's keyed inner and outer hash states for key (SHA256_CTX, copied per
     * signature: two short hashes instead of four, sign.c) */
    _Alignas(8) unsigned char hmac_in[128];
    _Alignas(8) unsigned char hmac_out[128];
    int valid;
} ferry_sigv4_key_t;

/* ferry_sigv4_authorization with the signing key taken from *cache when its day, region and
 * service match the request's, else derived and stored there. cache may be NULL (derive every
 * time). The header value is byte for byte the one ferry_sigv4_authorization gives. */
int ferry_sigv4_authorization_cached(const ferry_sigv4_req_t *r, const ferry_creds_t *creds,
                                     ferry_sigv4_key_t *cache, ferry_buf_t *out);

/* Buffers for the canonical request, the signed headers and the string to sign, kept between
 * signatures so that signing allocates nothing once they have grown (ferry_s3_t keeps one; they
 * hold nothing secret). Init before use, free when done. */
typedef struct ferry_sigv4_scratch_s {
    ferry_buf_t creq, sh, sts;
} ferry_sigv4_scratch_t;
void ferry_sigv4_scratch_init(ferry_sigv4_scratch_t *s);
void ferry_sigv4_scratch_free(ferry_sigv4_scratch_t *s);

/* ferry_sigv4_authorization_cached building in *scratch (NULL: buffers of its own, freed before
 * it returns). Same output and codes. */
int ferry_sigv4_authorization_scratch(const ferry_sigv4_req_t *r, const ferry_creds_t *creds,
                                      ferry_sigv4_key_t *cache, ferry_sigv4_scratch_t *scratch,
                                      ferry_buf_t *out);

/* Zero a cached key (NULL accepted). */
void ferry_sigv4_key_wipe(ferry_sigv4_key_t *cache);

/* A parsed Authorization header (for servers). Pointers are into the caller's copy. */
typedef struct ferry_sigv4_auth_s {
    char access_key[128];
    char date[9]; /* YYYYMMDD from the credential scope */
    char region[64];
    char service[32];
    char signed_headers[1024]; /* "host;x-amz-date;..." */
    char signature[65];
} ferry_sigv4_auth_t;

/* Parse an Authorization header value. FERRY_OK, FERRY_EPARSE (not SigV4 or malformed),
 * FERRY_ETOOBIG (a field longer than its slot). */
int ferry_sigv4_parse_authorization(const char *value, ferry_sigv4_auth_t *out);

#ifdef __cplusplus
}
#endif
#endif
