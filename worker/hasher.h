/* ferry worker — the hasher: one thread per worker process that forms MD5s off the loop.
 *
 * The loop pushes items (bytes and the MD5 they go into) in the order they must be hashed;
 * the thread updates each item's MD5 with its bytes and hands the item back to the loop: the
 * done callback runs on the loop thread (uv_async), once per item. Items of different MD5s
 * are hashed together (up to 16 at once, ferry_md5_update_many: the first queued item of
 * each MD5), so each MD5 gets its items in push order and is handed them back in that order,
 * but items of different MD5s may come back in another order than pushed. Ownership: from
 * ferry_hasher_push until its done callback an item, its bytes and its MD5 belong to the hasher;
 * the loop must neither touch nor free them (a copy that ends meanwhile leaves them to the done
 * callback, copy_md5.c). Everything but the thread's own work runs on the loop thread. Tests only:
 * FERRY_TEST_HASHER_DELAY_MS=N (at most 1000) makes the thread sleep N ms before each batch, so
 * that copies end with items still out. */
#ifndef FERRY_WORKER_HASHER_H
#define FERRY_WORKER_HASHER_H

#include "ferry/check.h"
#include "ferry/error.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ferry_hasher_item_s {
    struct ferry_hasher_item_s *next; /* the hasher's */
    ferry_md5_t *md5;                 /* updated by the thread with data[0..len) */
    const void *data;
    size_t len;
} ferry_hasher_item_t;

typedef void (*ferry_hasher_done_cb)(void *arg, ferry_hasher_item_t *it);

typedef struct ferry_hasher_s ferry_hasher_t;

/* Start the thread and the loop's wake-up handle. FERRY_OK (*out set) or FERRY_ENOMEM with
 * err set. */
int ferry_hasher_start(uv_loop_t *loop, ferry_hasher_done_cb done, void *arg, ferry_hasher_t **out,
                       ferry_error_t *err);
/* Queue one item (loop thread). */
void ferry_hasher_push(ferry_hasher_t *h, ferry_hasher_item_t *it);
/* ferry_md5_update_many(m, p, n, count) for callers whose contexts are distinct (the hasher
 * thread, the small objects' batch on the loop): should it refuse them anyway (a caller's bug;
 * it then changes nothing), the MD5s are formed one at a time, so a wrong MD5 can only fail a
 * copy, never pass one. Any thread; distinct contexts per call. */
void ferry_hasher_md5_many(ferry_md5_t *const *m, const void *const *p, const size_t *n,
                           size_t count);
/* Items hashed so far and the ferry_md5_update_many calls they took (loop thread). */
void ferry_hasher_counts(ferry_hasher_t *h, uint64_t *items, uint64_t *batches);
/* Stop (loop thread, every copy ended): the thread hands what is queued back unhashed and is
 * joined, every item not yet
 * handed back is handed back now (done, synchronously), the wake-up handle is closed and h is
 * freed when the loop runs its close callback. NULL: nothing. */
void ferry_hasher_stop(ferry_hasher_t *h);

#endif
