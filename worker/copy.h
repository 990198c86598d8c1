/* ferry worker — the copy of one object: HEAD the source, plan, move the bytes (one GET piped
 * into one PUT, ranged GETs piped into UploadPart, or server-side CopyObject / UploadPartCopy),
 * verify, and report. No Redis here: the caller (worker.c) owns the ledger and the queue and
 * learns of an opened multipart upload through on_upload.
 *
 * Everything runs on the loop of the two S3 clients; nothing is thread-safe. Callback contract
 * as libuv: when ferry_copy_start returns an error, done is never called; otherwise done is
 * called exactly once, later, from the loop, and the copy frees itself after done returns.
 *
 * Memory: a stream (one part or one small object in flight) holds at most ring_size bytes —
 * objects and parts no larger than the ring are read whole into a buffer of their own size and
 * sent from memory with Content-MD5 (and x-amz-checksum-crc32c to S3), larger ones flow
 * through a ring of ring_size bytes. The pool caps streams per process, so memory is about
 * streams x ring_size whatever the object size, plus at most the pool's hold_max bytes read
 * ahead of an ordered MD5 (a multipart copy whose source's one check is its plain MD5 ETag).
 * That MD5 is formed on a thread of its own (copy_md5.c, hasher.h); everything else here runs
 * on the loop.
 */
#ifndef FERRY_WORKER_COPY_H
#define FERRY_WORKER_COPY_H

#include "ferry/error.h"
#include "ferry/limits.h"
#include "ferry/s3.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_copy_s ferry_copy_t;

/* The per-process cap on streams (parts or objects in flight). Plain value owned by the
 * caller; copies queue on it when it is full and are resumed as streams finish. Loop thread. */
typedef struct ferry_copy_pool_s {
    unsigned max; /* streams in flight at most (> 0) */
    unsigned used;
    ferry_copy_t *wait_head, *wait_tail; /* copies waiting for a stream slot */
    void *recheck; /* copy.c: the re-checks being gathered into one listing, or NULL (start it
                      zeroed) */
    unsigned recheck_heads; /* copy.c: re-checks to make by HEAD before batching again */
    /* The ordered MD5 of multipart copies whose source's one check is its MD5 (copy_md5.c):
     * bytes read ahead of the hash are held in memory, at most hold_max in the process (0:
     * 64 MiB; set it before the first copy). held / held_peak: now and the most so far, in
     * whole 1 MiB blocks (the memory they take; blocks queued at the MD5 thread included). */
    uint64_t hold_max;
    uint64_t held, held_peak;
    uint64_t hold_committed;  /* copy_md5.c: lengths of the parts started ahead of their hash */
    struct unit_s *hold_wait; /* copy_md5.c: units whose GET waits for held bytes to drain */
    void *hold_free;          /* copy_md5.c: spare hold blocks (with the held bytes at most
                                 hold_max), freed when nothing is held */
    uint64_t hold_nfree;
    uint64_t hold_nblk, hold_nblk_peak; /* copy_md5.c: hold blocks allocated (held, at the MD5
                                           thread or spare), now and the most */
    /* copy_md5.c: the process's MD5 thread (hasher.h), started at the first ordered MD5 and
     * stopped by ferry_copy_pool_close; NULL until then. Blocks at it count in held. */
    struct ferry_hasher_s *hasher;
    /* copy_unit.c: small objects read whole whose MD5 waits to be formed together with the
     * others' (ferry_md5_update_many) at the loop's next turn (md5_idle, an uv_idle_t started
     * at the first one and closed by ferry_copy_pool_close), and how many were formed in how
     * many batches (worker.stopped: md5_per_batch). */
    struct unit_s *md5_head, *md5_tail;
    void *md5_idle;
    uint64_t md5_units, md5_batches;
} ferry_copy_pool_t;

/* The process ends (loop thread, every copy finished): stop the MD5 thread if it started
 * (joined; what it still held is handed back and freed), free the spare hold blocks and close
 * the small objects' MD5 batch handle. The loop must run afterwards to close the thread's
 * wake-up handle and the batch handle. */
void ferry_copy_pool_close(ferry_copy_pool_t *pool);

/* What a copy works with. Borrowed: everything must outlive every copy started with it. */
typedef struct ferry_copy_env_s {
    uv_loop_t *loop;
    ferry_s3_t *src, *dst;
    const char *src_bucket, *dst_bucket;
    int server_side;           /* same service and credentials: CopyObject / UploadPartCopy */
    uint64_t threshold;        /* multipart above this (0: 64 MiB) */
    uint64_t part_size;        /* wanted part size (0: 16 MiB) */
    const char *storage_class; /* the task's S3 class, or NULL/"": map the source's */
    size_t ring_size;          /* bytes per stream (>= 256 KiB, curl's receive chunk) */
    unsigned parts_per_job;    /* streams one multipart copy may hold (> 0) */
    unsigned part_tries;       /* attempts per stream before the copy fails (> 0) */
    int require_source_check;  /* no source check possible: FAILED, not DONE + src:unverified */
    int recheck;               /* ferry_recheck_mode_t (ferry/task.h): the re-check after a copy */
    ferry_copy_pool_t *pool;   /* required */
} ferry_copy_env_t;

/* One copy request. Strings are copied by ferry_copy_start. */
typedef struct ferry_copy_req_s {
    const char *src_key;
    size_t src_key_len;
    const char *dst_key;
    size_t dst_key_len;
    const char *resume_upload_id; /* from the ledger: an open multipart upload, or NULL/"" */
    /* Called when a multipart upload was created (upload_id) or closed (""): the caller
     * records it (ledger) before the copy goes on. Return FERRY_OK, or an error to stop the
     * copy (the upload is then aborted). May be NULL. */
    int (*on_upload)(void *arg, const char *upload_id);
    /* The job's size hint (what the producer saw). When use_hint is set, the hint is no
     * larger than the ring and the threshold, and the copy is not server-side or a resume,
     * the copy skips the source HEAD: it GETs the object whole and takes size, ETag,
     * Last-Modified, CRC-64, metadata and storage class from that one response (a single
     * response describes one version, so no If-Match is needed). A larger object than the
     * hint said, or any GET error other than 404, falls back to HEAD + plan. */
    uint64_t size_hint;
    int use_hint;
} ferry_copy_req_t;

/* How a copy ended, as the ledger wants it. */
typedef enum {
    FERRY_COPY_DONE = 0,    /* copied and verified */
    FERRY_COPY_SKIPPED = 1, /* nothing to copy (the source object is gone); reason in err */
    FERRY_COPY_FAILED = 2,  /* permanent: retrying cannot help; err says what to fix */
    FERRY_COPY_RETRY = 3,   /* temporary (5xx after retries, checksum mismatch, source changed) */
    FERRY_COPY_CANCELED = 4 /* ferry_copy_cancel: the upload (if any) is left open for resume */
} ferry_copy_status_t;

typedef struct ferry_copy_result_s {
    ferry_copy_status_t status;
    ferry_error_t err; /* code and a sentence when not DONE */
    /* The source version copied (from the HEAD). */
    uint64_t size;
    int64_t mtime; /* unix seconds, 0 unknown */
    char etag[FERRY_ETAG_MAX + 1];
    int src_has_crc64;
    uint64_t src_crc64;
    /* What was verified. */
    int has_crc64; /* crc64 computed over the bytes sent (always when bytes flowed) */
    uint64_t crc64;
    char dst_etag[FERRY_ETAG_MAX + 1];
    /* Exactly the comparisons that ran and could have failed, comma-separated, from:
     * src:crc64 src:md5 src:multipart-etag src:qetag src:crc32c (the bytes read against the
     * source's digest; src:crc32c: its stored S3 CRC32C), dst:content-md5 dst:crc32c-echo dst:etag
     * (the destination confirmed what we sent), resume:crc32c resume:md5 (parts already uploaded,
     * re-read and compared), and src:unverified when no source check ran (then src_unverified is
     * 1). */
    char checks[160];
    int src_unverified;
    int plan_kind; /* ferry_plan_kind_t */
    uint32_t parts, parts_resumed;
    uint64_t bytes_moved; /* bytes through this worker (0 for server-side) */
    int checksum_failures;
    /* Set when the source changed after the copy (re-HEAD): the new version to queue. */
    int changed_after;
    uint64_t new_size;
    int64_t new_mtime;
    char new_etag[FERRY_ETAG_MAX + 1];
} ferry_copy_result_t;

typedef void (*ferry_copy_done_cb)(void *arg, const ferry_copy_result_t *res);

/* Start a copy. *out (may be NULL) gets a handle, valid until done returns. FERRY_OK,
 * FERRY_EINVAL, FERRY_ENOMEM. */
int ferry_copy_start(const ferry_copy_env_t *env, const ferry_copy_req_t *req,
                     ferry_copy_done_cb done, void *arg, ferry_copy_t **out);

/* Stop: done is called later with FERRY_COPY_CANCELED (unless it already finished). An open
 * multipart upload is not aborted (its id stays in the ledger for a resume). */
void ferry_copy_cancel(ferry_copy_t *c);

/* Parse an HTTP date (Last-Modified) into unix seconds; 0 when it does not parse. */
int64_t ferry_copy_http_time(const char *s);

#ifdef __cplusplus
}
#endif
#endif
