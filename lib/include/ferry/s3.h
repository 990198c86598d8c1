/* ferry — the S3 client: operations on an S3-compatible store, on a libuv loop.
 *
 * A client is bound to one loop, one endpoint (from a resolved provider profile: URL,
 * region, addressing style, listing flavour), one set of credentials and one transport
 * (ferry/http.h; several clients may share one, so source and destination reuse one
 * connection cache and one set of uv handles). Every request is signed with SigV4
 * (x-amz-date, x-amz-content-sha256 = the body's SHA-256 for small in-memory bodies such as
 * XML, UNSIGNED-PAYLOAD for streamed bodies, x-amz-security-token when set), with the clock
 * injectable.
 *
 * Every operation is asynchronous and completes by calling its done callback exactly once
 * with a ferry_s3_result_t; when the starting function returns an error, no callback is
 * ever called (libuv's rule). Callbacks run on the loop thread; nothing here is thread-safe.
 *
 * Retries: each request is retried by the client per the retry policy (ferry/retry.h):
 * exponential backoff with full jitter on a uv timer, honouring Retry-After and
 * x-oss-qos-delay-time; 5xx, 429, SlowDown, RequestTimeout, resets and timeouts are retried,
 * other errors surface at once. A streamed request body is retried only if its source can
 * rewind (args.rewind); a GET whose sink already received bytes resumes with a Range from
 * where it stopped and If-Match on the ETag it first saw, so the sink never sees a byte twice.
 * The resumed reply must be a 206 for exactly the bytes asked (Content-Range start, end and
 * total as asked and first seen) with the first reply's ETag; anything else (another range,
 * a 200, no Content-Range) fails the GET with FERRY_ERETRY (another ETag: FERRY_ECHANGED), and
 * the caller starts the transfer over: nothing is spliced. A ranged GET's first reply is held
 * to the same rule. On a path-style client, keys with a '.' or '..' segment are FERRY_EINVAL
 * (servers normalise such paths).
 * A wrong-region reply (301, AuthorizationHeaderMalformed with the expected region) is
 * followed once — re-signed for that region (and the endpoint re-pointed when its host
 * names the old region) — and the client keeps the corrected region; a second one is an
 * error. A 200 whose body is <Error> (COS Complete/Copy, S3 Copy/Complete) is an error.
 *
 * Listings are paged by the client: one callback per entry, in the store's order. A page's
 * entries are delivered only after the whole page arrived, parsed and passed the listing's
 * guard (ferry_s3_list_guard_t below: byte order, no repeated token or marker, a bound on
 * empty pages), so a retried page never repeats an entry and a failed listing never delivers
 * a partial page. A listed size above 5 TiB fails the page (FERRY_ERANGE).
 */
#ifndef FERRY_S3_H
#define FERRY_S3_H

#include "ferry/error.h"
#include "ferry/http.h"
#include "ferry/limits.h"
#include "ferry/profile.h"
#include "ferry/retry.h"
#include "ferry/s3xml.h"
#include "ferry/sigv4.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_s3_s ferry_s3_t;
typedef struct ferry_s3_op_s ferry_s3_op_t;

/* Client configuration. Everything is copied by ferry_s3_new. */
typedef struct ferry_s3_config_s {
    const ferry_profile_t *profile; /* resolved (ferry_profile_resolve); required */
    ferry_creds_t creds;            /* required (access_key, secret_key; token optional) */
    ferry_http_t *http;             /* shared transport (borrowed: must outlive the client), or
                                       NULL: the client makes its own on loop with http_opts */
    ferry_http_opts_t http_opts;
    const ferry_retry_policy_t *retry; /* NULL: defaults, jitter from a per-client rng; the
                                          profile's retry_codes are added when extra_codes is
                                          NULL */
    const char *role;                  /* "source" / "destination", used in error messages; NULL:
                                          "the" credentials */
    int64_t (*now_ms)(void *ud);       /* clock (epoch ms) for SigV4 and Retry-After; NULL: real */
    void *now_ud;
    long timeout_ms; /* per request (each attempt), 0 = none: the transport's
                        low-speed limit bounds stalls */
    /* Observers for metrics (may be NULL), called on the loop: on_attempt after every
     * attempt that ended (op "GetObject"…, the HTTP status, 0 when no response came; not for
     * canceled ones), on_retry when an attempt is sent again (cls: why). observe_ud is
     * borrowed and must outlive the client. */
    void (*on_attempt)(void *ud, const char *op, long status);
    void (*on_retry)(void *ud, const char *op, ferry_retry_class_t cls);
    void *observe_ud;
} ferry_s3_config_t;

/* Make a client on loop. *out is new (free with ferry_s3_free). err (may be NULL) says what
 * is wrong. FERRY_OK, FERRY_EINVAL, FERRY_ENOMEM. */
int ferry_s3_new(uv_loop_t *loop, const ferry_s3_config_t *cfg, ferry_s3_t **out,
                 ferry_error_t *err);

/* Cancel every operation (done callbacks get FERRY_ECANCELED), close what the client owns
 * (its transport, if it made one; uv timers), and free it from the last close callback, then
 * call closed_cb (may be NULL). c may be NULL. The loop must run for this to finish. */
void ferry_s3_free(ferry_s3_t *c, void (*closed_cb)(void *arg), void *arg);

/* The profile in use (region may have been corrected by a redirect). Borrowed. */
const ferry_profile_t *ferry_s3_profile(const ferry_s3_t *c);

/* ---- results ------------------------------------------------------------------------------ */

typedef struct ferry_s3_result_s {
    int rc;               /* FERRY_OK or a FERRY_E* code (same as err.code) */
    ferry_error_t err;    /* code, http_status, s3_code, and a sentence saying what to check */
    long status;          /* HTTP status of the last attempt, 0 if none answered */
    unsigned attempts;    /* requests sent (for a listing: over all pages) */
    char request_id[128]; /* x-amz-request-id, x-oss-request-id or x-cos-request-id */
    char etag[FERRY_ETAG_MAX + 1]; /* ETag (header, or the XML result's), quotes stripped */
    char crc64[32];                /* x-oss-hash-crc64ecma / x-cos-hash-crc64ecma, decimal, or "" */
    char checksum_crc32c[16];      /* x-amz-checksum-crc32c (base64), or "" */
    char checksum_crc64nvme[32];
    char checksum_algorithm[16]; /* ListParts: the upload's <ChecksumAlgorithm>, or "" */
    int64_t content_length;      /* Content-Length of the response, or -1 */
    int64_t object_size;         /* HEAD/GET: whole object size (Content-Range total or
                                    Content-Length), or -1 */
    char upload_id[FERRY_UPLOAD_ID_MAX + 1]; /* CreateMultipartUpload */
    char version_id[256];                    /* x-amz-version-id, or "" */
    /* Listings: totals over all pages, and where to resume after the last complete page. */
    long entries;  /* objects / parts / uploads / deleted entries reported */
    long prefixes; /* CommonPrefixes reported */
    long pages;
    int truncated; /* 1 when stopped by max_pages with more to come */
    char next_token[FERRY_S3XML_DEFAULT_MAX_TEXT + 1]; /* V2 continuation token */
    char next_marker[FERRY_S3XML_KEY_MAX + 1];         /* V1 marker / key marker (decoded) */
    long deleted_errors; /* DeleteObjects: entries that came back as <Error> */
    /* Borrowed, valid only during the callback: every header of the final response (HEAD:
     * Last-Modified, Content-Type, Cache-Control, x-amz-meta-*, ...). NULL when none. */
    const ferry_http_resp_t *resp;
} ferry_s3_result_t;

/* The value of a response header (lowercase name) in a result, or NULL. */
const char *ferry_s3_result_header(const ferry_s3_result_t *r, const char *name);

typedef void (*ferry_s3_done_cb)(void *arg, const ferry_s3_result_t *res);

/* ---- object operations ---------------------------------------------------------------- */

/* Arguments for object operations. Zero-initialise; set what the operation needs. Strings are
 * borrowed for the call only (copied); body is borrowed until done. */
typedef struct ferry_s3_args_s {
    const char *bucket;
    const char *key; /* raw key (UTF-8 bytes, any characters); */
    size_t key_len;  /* 0: strlen(key) */
    /* GET / HEAD */
    int64_t range_start;              /* -1 or 0 with range_end < 0: whole object */
    int64_t range_end;                /* inclusive, -1: to the end (Range only sent when start > 0
                                         or end >= 0) */
    const char *if_match;             /* ETag with or without quotes, or NULL */
    ferry_http_sink_cb sink;          /* GET body (2xx only); required for GET */
    ferry_http_headers_cb on_headers; /* GET/HEAD: the final headers of the first 2xx reply,
                                         before any body byte (once per operation) */
    /* PUT / UploadPart: body from memory or from a source (exactly body_len bytes). */
    const char *body;
    int64_t body_len;
    ferry_http_source_cb source;
    int (*rewind)(void *arg);    /* restart the source from byte 0 for a retry: FERRY_OK, or an
                                    error (the request then fails rather than retries). NULL: a
                                    streamed body is not retried. */
    const char *content_md5;     /* base64 MD5 (Content-MD5), or NULL */
    const char *checksum_crc32c; /* base64 (x-amz-checksum-crc32c), or NULL */
    /* Streamed PUT / UploadPart: send the body aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
     * with a trailing x-amz-checksum-crc32c that the client computes over the bytes as they
     * go. The store checks it (400 BadDigest on a mismatch); the client then requires the
     * store's x-amz-checksum-crc32c in the reply to equal it (FERRY_ECHECKSUM otherwise, also
     * when the reply has none: a store that ignored the encoding would have kept the framing).
     * AWS S3 only: OSS, COS and Kodo refuse aws-chunked (docs/providers.md §1b). Needs source; not
     * with content_md5, checksum_crc32c or a Content-Encoding header (FERRY_EINVAL). */
    int trailer_crc32c;
    /* With trailer_crc32c: the CRC32C of the body that the caller computes itself over the bytes
     * it gives the source (final by the time the source has given its last byte; borrowed, valid
     * until the completion callback), so the client does not run a second CRC32C over the same
     * bytes. NULL: the client computes it. Not with rewind (FERRY_EINVAL). */
    const uint32_t *trailer_crc32c_of;
    /* CreateMultipartUpload: x-amz-checksum-algorithm (e.g. "CRC32C"), or NULL. S3 then wants
     * that checksum on every part and in Complete (ferry_s3xml_cpart_t.checksum_crc32c). */
    const char *checksum_algorithm;
    /* Extra request headers: Content-Type, Cache-Control, Content-Disposition,
     * Content-Encoding, Content-Language, Expires, x-amz-meta-*, x-amz-storage-class,
     * x-amz-metadata-directive, ... (signed and sent as given) */
    const ferry_kv_t *headers;
    size_t nheaders;
    /* multipart */
    const char *upload_id;
    int part_number; /* 1..10000; HEAD: 0, or N to ask for part N (?partNumber=N) */
    /* CopyObject / UploadPartCopy: the source object (same store) */
    const char *copy_bucket;
    const char *copy_key;
    size_t copy_key_len;
    int64_t copy_range_start; /* UploadPartCopy range, inclusive; -1: whole object */
    int64_t copy_range_end;
    const char *copy_if_match;
    void *arg; /* passed to sink, on_headers, source, rewind */
} ferry_s3_args_t;

/* Initialise args: zeroed, ranges -1. */
void ferry_s3_args_init(ferry_s3_args_t *a);

/* Each starts an operation. *op (may be NULL) gets a handle, borrowed until done returns,
 * for ferry_s3_cancel / ferry_s3_unpause. FERRY_OK, FERRY_EINVAL (missing bucket/key/sink,
 * bad range or part number, invalid bucket name for the addressing style; err says which —
 * err may be NULL), FERRY_ENOMEM, FERRY_ECANCELED (client closing). */
int ferry_s3_head(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                  ferry_s3_op_t **op, ferry_error_t *err);
int ferry_s3_get(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                 ferry_s3_op_t **op, ferry_error_t *err);
int ferry_s3_put(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                 ferry_s3_op_t **op, ferry_error_t *err);
int ferry_s3_delete(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                    ferry_s3_op_t **op, ferry_error_t *err);
/* Server-side copy of copy_bucket/copy_key to bucket/key (headers: metadata directive ...). */
int ferry_s3_copy(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                  ferry_s3_op_t **op, ferry_error_t *err);
/* Result upload_id. headers: Content-Type, metadata, storage class for the final object. */
int ferry_s3_create_multipart(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done,
                              void *arg, ferry_s3_op_t **op, ferry_error_t *err);
int ferry_s3_upload_part(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done, void *arg,
                         ferry_s3_op_t **op, ferry_error_t *err);
int ferry_s3_upload_part_copy(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done,
                              void *arg, ferry_s3_op_t **op, ferry_error_t *err);
/* parts[0..n) ascending (copied). Result etag is the final object's. */
int ferry_s3_complete_multipart(ferry_s3_t *c, const ferry_s3_args_t *a,
                                const ferry_s3xml_cpart_t *parts, size_t nparts,
                                ferry_s3_done_cb done, void *arg, ferry_s3_op_t **op,
                                ferry_error_t *err);
int ferry_s3_abort_multipart(ferry_s3_t *c, const ferry_s3_args_t *a, ferry_s3_done_cb done,
                             void *arg, ferry_s3_op_t **op, ferry_error_t *err);

/* ---- listings ----------------------------------------------------------------------------- */

/* The guard of one object listing (ListObjects V1/V2), kept across every page of it, also
 * across ferry_s3_list calls that resume it page by page (max_pages = 1, token / start_after).
 * A listing that would loop or silently lose keys is stopped with an error naming the store:
 *   - a continuation token or V1 marker seen before in this listing (a 64-bit hash of each is
 *     remembered: memory is 8-16 bytes per page);
 *   - a V1 marker that does not strictly increase;
 *   - more than max_empty_pages truncated pages in a row with no entry;
 *   - a key or common prefix not strictly after the previous one in byte order (within a page
 *     objects and prefixes are two runs; across pages everything is), or not after the
 *     listing's start-after / marker. A merge-join of out-of-order keys would lose keys.
 * Errors: FERRY_EPARSE (loop, order), FERRY_ERETRY (empty pages). */
typedef struct ferry_s3_list_guard_s ferry_s3_list_guard_t;

#define FERRY_S3_LIST_MAX_EMPTY_PAGES 100

/* A new guard (free with ferry_s3_list_guard_free). max_empty_pages: 0 for the default
 * (FERRY_S3_LIST_MAX_EMPTY_PAGES). FERRY_OK or FERRY_ENOMEM. */
int ferry_s3_list_guard_new(unsigned max_empty_pages, ferry_s3_list_guard_t **out);
void ferry_s3_list_guard_free(ferry_s3_list_guard_t *g); /* NULL is fine */
/* Pages the guard has seen. */
unsigned long ferry_s3_list_guard_pages(const ferry_s3_list_guard_t *g);

typedef struct ferry_s3_list_args_s {
    const char *bucket;
    const char *prefix;      /* or NULL */
    const char *delimiter;   /* or NULL */
    const char *start_after; /* V2 start-after / V1 marker / ListMultipartUploads key-marker */
    const char *token;       /* V2 continuation token to resume from, or NULL */
    int version;             /* 0: the profile's list_version; 1 or 2 */
    unsigned max_keys;       /* per page; 0: the profile's list_page_size */
    unsigned max_pages;      /* 0: all; else stop after this many (result.truncated) */
    /* ListObjects: the listing's guard (borrowed; must outlive the operation), shared by the
     * calls that resume one listing; NULL: the operation guards its own pages, with
     * max_empty_pages (0: the default). */
    ferry_s3_list_guard_t *guard;
    unsigned max_empty_pages;
    /* ListParts */
    const char *key;
    const char *upload_id;
    /* Entry callbacks (ferry/s3xml.h types; strings borrowed during the call). Return FERRY_OK
     * to go on or a negative code to stop the listing (done then gets that code). */
    int (*on_object)(void *arg, const ferry_s3xml_object_t *o);
    int (*on_prefix)(void *arg, const char *prefix, size_t len);
    int (*on_part)(void *arg, const ferry_s3xml_part_t *p);
    int (*on_upload)(void *arg, const ferry_s3xml_upload_t *u);
    void *arg;
    /* ListObjects: 0 (the default) parses each page twice and delivers its entries only once
     * the whole page is known good (well-formed, in order); 1 delivers each entry as the one
     * parse meets it (half the XML work), so entries of a page that then turns out bad have
     * been delivered: the caller keeps what it learns until done says FERRY_OK (or its own
     * stop code) and drops it otherwise. */
    int provisional;
} ferry_s3_list_args_t;

/* ListObjectsV2 or V1 (per version / profile), all pages; on_object / on_prefix per entry.
 * Keys are decoded per the response's encoding type. */
int ferry_s3_list(ferry_s3_t *c, const ferry_s3_list_args_t *a, ferry_s3_done_cb done, void *arg,
                  ferry_s3_op_t **op, ferry_error_t *err);
/* ListParts of (bucket, key, upload_id), all pages; on_part per part. */
int ferry_s3_list_parts(ferry_s3_t *c, const ferry_s3_list_args_t *a, ferry_s3_done_cb done,
                        void *arg, ferry_s3_op_t **op, ferry_error_t *err);
/* ListMultipartUploads under prefix, all pages; on_upload per upload. */
int ferry_s3_list_uploads(ferry_s3_t *c, const ferry_s3_list_args_t *a, ferry_s3_done_cb done,
                          void *arg, ferry_s3_op_t **op, ferry_error_t *err);

/* DeleteObjects: keys[0..n) (n <= 1000; copied), quiet or not. on_deleted (may be NULL) per
 * reported entry; result.deleted_errors counts per-key failures (the operation itself still
 * succeeds: check that count). Keys XML cannot carry are FERRY_EINVAL: delete them with
 * ferry_s3_delete. */
int ferry_s3_delete_objects(ferry_s3_t *c, const char *bucket, const char *const *keys, size_t n,
                            int quiet, int (*on_deleted)(void *arg, const ferry_s3xml_deleted_t *d),
                            ferry_s3_done_cb done, void *arg, ferry_s3_op_t **op,
                            ferry_error_t *err);

/* ---- control ------------------------------------------------------------------------------ */

/* Resume a paused source or sink of the operation's current request (see ferry/http.h). */
void ferry_s3_unpause(ferry_s3_op_t *op);

/* Cancel: done is called later with FERRY_ECANCELED (exactly once, whichever comes first). */
void ferry_s3_cancel(ferry_s3_op_t *op);

/* Operations in flight on this client. */
size_t ferry_s3_active(const ferry_s3_t *c);

#ifdef __cplusplus
}
#endif
#endif
