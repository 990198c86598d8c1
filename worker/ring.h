/* ferry worker — the bounded byte ring between a source GET and a destination PUT/UploadPart.
 *
 * The GET's write callback offers each chunk whole: ferry_ring_write() takes all of it or
 * nothing (libcurl's write callback must consume a chunk fully or pause and get the same
 * chunk again), so the ring's capacity must be at least the largest chunk curl hands over
 * (CURLOPT_BUFFERSIZE). The PUT's read callback takes what is there with ferry_ring_read().
 * When one side cannot proceed it pauses its transfer; the other side's progress tells the
 * caller to unpause it (the return flags below). Memory per stream is the capacity, whatever
 * the object size.
 *
 * Both sides run on one libuv loop thread, so no locking. The ring owns its storage.
 */
#ifndef FERRY_WORKER_RING_H
#define FERRY_WORKER_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_ring_s {
    uint8_t *buf; /* owned */
    size_t cap;
    size_t head; /* next byte to read */
    size_t len;  /* bytes stored */
    uint64_t total_in, total_out;
    int eof; /* the writer has finished */
} ferry_ring_t;

/* Allocate cap bytes. FERRY_OK, FERRY_EINVAL (cap 0) or FERRY_ENOMEM. */
int ferry_ring_init(ferry_ring_t *r, size_t cap);

/* Store all n bytes, or none when they do not fit: returns n, or 0 (then pause the writer
 * and retry the same chunk after a read made room). n larger than the capacity can never fit:
 * returns (size_t)-1, a caller bug (the ring is smaller than the transfer's chunk size). */
size_t ferry_ring_write(ferry_ring_t *r, const void *p, size_t n);

/* Copy up to n bytes out; returns how many (0 when empty: pause the reader unless eof). */
size_t ferry_ring_read(ferry_ring_t *r, void *p, size_t n);

/* Stored bytes. */
size_t ferry_ring_used(const ferry_ring_t *r);

/* Release the storage. Accepts a zeroed ring. */
void ferry_ring_free(ferry_ring_t *r);

/* As init / free, but buffers are kept for the next ring of the same capacity instead of going
 * back to the C library: a 2 MiB ring per part would otherwise be fresh pages every time
 * (glibc maps blocks this big), and the kernel zeroing them cost ~12% of a worker's CPU in
 * bench (b). At most FERRY_RING_CACHE_MAX buffers are kept, of one capacity (a different one
 * empties the cache); so memory stays within what the streams used at their peak.
 * Thread-safe. ferry_ring_cache_drain() frees what is kept (process exit, tests). */
#define FERRY_RING_CACHE_MAX 64
int ferry_ring_init_cached(ferry_ring_t *r, size_t cap);
void ferry_ring_free_cached(ferry_ring_t *r);
void ferry_ring_cache_drain(void);

#ifdef __cplusplus
}
#endif
#endif
