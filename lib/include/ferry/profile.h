/* ferry — provider profiles: what differs between Aliyun OSS, Tencent COS, Qiniu Kodo, Amazon
 * S3 and a generic S3-compatible store, as data.
 *
 * Schemes: "oss", "cos", "kodo", "s3", "s3c" (generic). Facts come from docs/providers.md (section
 * numbers in profile.c). Everything docs/providers.md marks unconfirmed is a field with a default
 * that an override (or a later config option) can change; none is hard-coded in the client.
 *
 * A resolved profile is a plain value: the caller owns the struct; string pointers inside it
 * point either into the struct's own arrays or to static tables (never freed). Thread-safe:
 * no global mutable state.
 */
#ifndef FERRY_PROFILE_H
#define FERRY_PROFILE_H

#include "ferry/buf.h"
#include "ferry/error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A tri-state for overrides. */
#define FERRY_TRI_DEFAULT (-1)
#define FERRY_TRI_OFF     0
#define FERRY_TRI_ON      1

typedef enum ferry_endpoint_kind_e {
    FERRY_ENDPOINT_PUBLIC = 0,
    FERRY_ENDPOINT_INTERNAL,  /* in-region network (OSS; COS ⚠) */
    FERRY_ENDPOINT_ACCELERATE /* global acceleration (OSS, COS, S3) */
} ferry_endpoint_kind_t;

typedef enum ferry_checksum_kind_e {
    FERRY_CHECKSUM_NONE = 0,
    FERRY_CHECKSUM_CRC64, /* CRC-64/XZ, decimal, in checksum_header */
    FERRY_CHECKSUM_QETAG, /* Kodo qetag (native hash) */
    FERRY_CHECKSUM_MD5    /* Content-MD5 / plain ETag */
} ferry_checksum_kind_t;

typedef enum ferry_etag_kind_e {
    FERRY_ETAG_MD5 = 0,   /* hex MD5 of the content for a single PUT (lowercase) */
    FERRY_ETAG_MD5_UPPER, /* hex MD5, uppercase (OSS) */
    FERRY_ETAG_OPAQUE,    /* not necessarily MD5 (COS): compare only with itself */
    FERRY_ETAG_QETAG      /* Kodo qetag ⚠ (through the S3 API) */
} ferry_etag_kind_t;

/* A storage class as the store names it, and the S3 class ferry writes. */
typedef struct ferry_storage_class_s {
    const char *name;  /* e.g. "IA" (OSS), "STANDARD_IA" (COS), "LINE" (Kodo) */
    const char *s3;    /* e.g. "STANDARD_IA" */
    int needs_restore; /* archive classes: must be restored before GET */
} ferry_storage_class_t;

/* How a destination's uploads carry a checksum the store verifies (--dst-checksum). */
typedef enum {
    FERRY_CHECKSUM_MODE_AUTO = 0, /* trailer where the profile accepts aws-chunked (s3), else md5 */
    FERRY_CHECKSUM_MODE_TRAILER,  /* streamed parts: aws-chunked with a trailing CRC32C */
    FERRY_CHECKSUM_MODE_MD5       /* Content-MD5 where known up front, else the MD5 ETag */
} ferry_checksum_mode_t;

/* A resolved profile. */
typedef struct ferry_profile_s {
    const char *scheme;       /* "oss", ... (static) */
    const char *display_name; /* "Aliyun OSS" (static) */

    /* Endpoint. Templates use "{region}"; NULL when the store has no such endpoint. */
    const char *endpoint_public_tmpl;
    const char *endpoint_internal_tmpl;
    const char *endpoint_accelerate;
    char endpoint[512];      /* resolved base URL, scheme://host[:port], no bucket, no '/' */
    char region[64];         /* the region given ("" when none and the store needs none) */
    char signing_region[64]; /* SigV4 scope region: override, else region, else us-east-1
                                (OSS/COS scope check ⚠: overridable) */
    int path_style;          /* 1 path (https://host/bucket/key), 0 virtual (bucket.host) */
    int path_style_allowed;  /* 0: the store refuses path style on its own endpoints (OSS;
                                COS buckets created after 2024-01-01) */
    const char *bucket_note; /* a sentence for bucket-name errors, or NULL (COS: name-APPID) */

    /* Listing */
    int list_version;          /* 1 ListObjects, 2 ListObjectsV2 (COS: 1 ⚠ V2 unconfirmed) */
    int list_url_encode;       /* send encoding-type=url (Kodo: 0 ⚠) */
    int list_plus_is_space;    /* decode '+' as space in url-encoded listings (S3: 1) ⚠ */
    unsigned max_keys_default; /* what the store returns without max-keys (OSS: 100) */
    unsigned list_page_size;   /* max-keys ferry sends (1000) */
    int listing_delimiter_ok;  /* 1: the store's delimiter listings (CommonPrefixes) are trusted
                                  enough to partition a scan by them (oss, cos, kodo, s3); 0:
                                  a scan lists it flat by default (s3c: unknown stores, some of
                                  which drop nested CommonPrefixes). The task's --src-listing /
                                  --dst-listing overrides it. */

    /* Integrity */
    const char *checksum_header; /* "x-oss-hash-crc64ecma", "x-cos-hash-crc64ecma", or NULL */
    ferry_checksum_kind_t checksum_kind;
    ferry_etag_kind_t etag_kind; /* single-PUT ETag meaning */
    int multipart_etag_md5;      /* multipart ETag is md5-of-md5s "-N" (S3 only) */
    int aws_chunked_ok;          /* aws-chunked / trailing checksums accepted (S3 only) */

    /* Multipart */
    uint64_t part_min; /* bytes; the last part may be smaller */
    uint64_t part_max;
    unsigned max_parts;
    uint64_t single_put_max;

    /* Metadata */
    const char *meta_prefix; /* native prefix, e.g. "x-oss-meta-" (S3 API uses x-amz-meta-) */
    size_t meta_limit;       /* total user-metadata bytes (COS: 2 KB per PUT doc ⚠) */

    /* Storage classes, and store error codes that mean "throttled, retry" */
    const ferry_storage_class_t *storage_classes; /* static table */
    size_t n_storage_classes;
    const char *const *retry_codes; /* NULL-terminated static list, for ferry_retry_policy_t */

    int endpoint_custom; /* 1 when the endpoint came from an override */
} ferry_profile_t;

/* User overrides (docs/cli.md: --src-endpoint, --src-region, --src-path-style, and the ⚠
 * settings). Zero-initialised is NOT "all defaults" for the tri-states: use
 * ferry_profile_overrides_init(). All strings borrowed for the call. */
typedef struct ferry_profile_overrides_s {
    const char *endpoint; /* base URL ("http://127.0.0.1:9000", "https://h"), or NULL */
    const char *region;   /* or NULL */
    int path_style;       /* FERRY_TRI_* */
    ferry_endpoint_kind_t endpoint_kind; /* which template when no endpoint is given */
    const char *signing_region;          /* or NULL: region, else us-east-1 */
    int list_version;                    /* 0 = profile default, 1 or 2 */
    int list_url_encode;                 /* FERRY_TRI_* */
    int list_plus_is_space;              /* FERRY_TRI_* */
    int etag_kind;   /* -1 = profile default, else a ferry_etag_kind_t (Kodo ⚠) */
    int aws_chunked; /* FERRY_TRI_*: trailing checksums (aws-chunked) on or off; only S3
                        accepts them by default (S3-compatible stores vary: s3c is off) */
} ferry_profile_overrides_t;

/* Set every override to "profile default". */
void ferry_profile_overrides_init(ferry_profile_overrides_t *ov);

/* Resolve scheme + overrides into out (fully written on FERRY_OK). ov may be NULL.
 * Rules: the endpoint is ov->endpoint if given (a trailing '/' is dropped; it must start with
 * http:// or https://), else the template for endpoint_kind with {region} substituted — a
 * template needing a region without one is FERRY_EINVAL ("oss needs --src-region or
 * --src-endpoint"); s3 defaults the region to us-east-1; s3c needs an endpoint. Path style:
 * ov->path_style if set, else path for endpoints whose host is an IP literal or "localhost",
 * else the profile default. Path style on the store's own endpoint where it is refused (OSS) is
 * FERRY_EINVAL; with a custom endpoint it is allowed (test servers, proxies).
 * FERRY_EINVAL for an unknown scheme, with a message listing the valid ones; err may be NULL. */
int ferry_profile_resolve(const char *scheme, const ferry_profile_overrides_t *ov,
                          ferry_profile_t *out, ferry_error_t *err);

/* The valid schemes as one string: "oss, cos, kodo, s3, s3c". Static. */
const char *ferry_profile_schemes(void);

/* Append the base URL for a bucket: "https://bucket.host" (virtual) or "https://host/bucket"
 * (path) — the caller appends "/" and the encoded key. FERRY_EINVAL for an empty bucket or one
 * that cannot be a host label in virtual style (uppercase, '_', leading/trailing '-', "..",
 * longer than 63); err says so (with bucket_note for COS). Buffer errors otherwise. */
int ferry_profile_bucket_url(const ferry_profile_t *p, const char *bucket, ferry_buf_t *out,
                             ferry_error_t *err);

/* The host (and port) part of the bucket URL, for the Host header / SigV4. Same rules. */
int ferry_profile_bucket_host(const ferry_profile_t *p, const char *bucket, ferry_buf_t *out,
                              ferry_error_t *err);

/* The S3 storage class for a source class name (case-insensitive), e.g. OSS "IA" ->
 * "STANDARD_IA"; "" or NULL -> "STANDARD"; unknown -> NULL (caller decides). needs_restore
 * (may be NULL) gets 1 for archive classes. Static strings. */
const char *ferry_profile_map_storage_class(const ferry_profile_t *p, const char *name,
                                            int *needs_restore);

/* Choose a part size for uploading an object to dst: the smallest multiple of 1 MiB that is
 * >= want and >= dst->part_min and keeps the part count <= dst->max_parts. Only dst's limits
 * apply (ranged GETs from src have none); src may be NULL and is kept for server-side copy
 * rules later. FERRY_ERANGE when that size exceeds dst->part_max (object too large). */
int ferry_profile_part_size(const ferry_profile_t *src, const ferry_profile_t *dst,
                            uint64_t object_size, uint64_t want, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
