/* ferry scheduler — the streaming diff: a merge-join of a source and a destination listing.
 *
 * Both listings arrive in S3 order (ascending unsigned byte order of the key) as pages, from
 * two asynchronous listers. The diff is push-based: each side pushes its entries as they
 * arrive; the diff emits a decision for every key that both sides have passed, and buffers
 * only the entries one side has seen and the other has not reached yet. Memory is therefore
 * bounded by how far one lister runs ahead of the other, not by the bucket; callers read
 * ferry_diff_buffered() and pause the faster lister when it passes their bound.
 *
 * Keys are relative (the caller strips the source / destination prefix before pushing), so
 * the two sides compare directly.
 *
 * Not thread-safe: one diff belongs to one loop. The emit callback may not call back into
 * the diff.
 */
#ifndef FERRY_SCHED_DIFF_H
#define FERRY_SCHED_DIFF_H

#include "ferry/task.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One listing entry. Borrowed by ferry_diff_push (copied inside); borrowed again, valid only
 * during the callback, when emitted. */
typedef struct ferry_obj_s {
    const char *key; /* relative key, not NUL-terminated necessarily */
    size_t key_len;
    uint64_t size;
    int64_t mtime_ms;          /* last modified, ms since the epoch; 0 when unknown */
    const char *etag;          /* as listed (quotes stripped), or NULL */
    const char *storage_class; /* or NULL */
} ferry_obj_t;

typedef enum {
    FERRY_DIFF_NEW = 0,       /* in the source only */
    FERRY_DIFF_CHANGED = 1,   /* on both sides, different by the compare mode */
    FERRY_DIFF_UNCHANGED = 2, /* on both sides, equal by the compare mode */
    FERRY_DIFF_EXTRA = 3      /* in the destination only (a delete candidate) */
} ferry_diff_kind_t;

/* Compare modes are the task's (ferry/task.h): FERRY_COMPARE_SIZE (sizes differ),
 * FERRY_COMPARE_SIZE_MTIME (sizes differ, or the source is newer than the copy),
 * FERRY_COMPARE_CHECKSUM (as SIZE here; the ledger join compares etag/CRC). */

enum { FERRY_DIFF_SRC = 0, FERRY_DIFF_DST = 1 };

/* Called once per key, in key order. src is NULL for EXTRA, dst NULL for NEW. Return 0 to go
 * on, or a FERRY_E* code to stop: the push that triggered it returns that code. */
typedef int (*ferry_diff_emit_fn)(void *ud, ferry_diff_kind_t kind, const ferry_obj_t *src,
                                  const ferry_obj_t *dst);

typedef struct ferry_diff_s ferry_diff_t;

/* New diff (free with ferry_diff_free). NULL on allocation failure. */
ferry_diff_t *ferry_diff_new(ferry_compare_t mode, ferry_diff_emit_fn emit, void *ud);

/* Push one entry from side FERRY_DIFF_SRC or FERRY_DIFF_DST. FERRY_OK; FERRY_EPARSE when the
 * key is not strictly after the side's previous key (a listing out of order or repeating:
 * the scan must stop, since a merge-join over it would be wrong); FERRY_EINVAL after that
 * side ended; FERRY_ENOMEM; or the emit callback's code. */
int ferry_diff_push(ferry_diff_t *d, int side, const ferry_obj_t *obj);

/* That side's listing is complete. Emits what can now be decided. Same codes as push. */
int ferry_diff_end(ferry_diff_t *d, int side);

/* Entries of that side buffered, waiting for the other side to catch up. */
size_t ferry_diff_buffered(const ferry_diff_t *d, int side);

/* The most entries ever buffered at once (both sides), for memory reports. */
size_t ferry_diff_peak(const ferry_diff_t *d);

/* Both sides ended and everything was emitted. */
int ferry_diff_done(const ferry_diff_t *d);

/* Accepts NULL. */
void ferry_diff_free(ferry_diff_t *d);

/* Compare two keys in S3 list order (unsigned bytes, then length). */
int ferry_key_cmp(const char *a, size_t alen, const char *b, size_t blen);

#ifdef __cplusplus
}
#endif
#endif
