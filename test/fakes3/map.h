/* fakes3 — a sorted map from byte-string keys to pointers (a treap).
 *
 * Keys compare as unsigned bytes (memcmp, then length), which is S3's listing order. Insert,
 * delete, lookup and lower/upper-bound are O(log n) expected; priorities come from a
 * per-map xorshift generator seeded by the caller, so shapes are repeatable.
 *
 * Ownership: the map copies each key into its node; values are borrowed pointers that the
 * map never frees except through the callback given to fakes3_map_clear(). Not thread-safe:
 * the caller locks (fakes3 holds a bucket's rwlock around every call).
 */
#ifndef FAKES3_MAP_H
#define FAKES3_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct fakes3_map_node_s fakes3_map_node_t;

typedef struct fakes3_map_s {
    fakes3_map_node_t *root; /* owned */
    size_t count;
    uint64_t rng; /* priority generator state, never 0 */
} fakes3_map_t;

/* An empty map. Cannot fail. */
void fakes3_map_init(fakes3_map_t *m, uint64_t seed);

/* Insert key -> val (val must not be NULL), or replace the value of an existing key; *old gets
 * the replaced value or NULL (old may be NULL if the caller knows the key is new).
 * FERRY_OK or FERRY_ENOMEM (map unchanged). */
int fakes3_map_put(fakes3_map_t *m, const void *key, size_t klen, void *val, void **old);

/* The value for key, or NULL. */
void *fakes3_map_get(const fakes3_map_t *m, const void *key, size_t klen);

/* Remove key; returns its value (now the caller's) or NULL when absent. */
void *fakes3_map_del(fakes3_map_t *m, const void *key, size_t klen);

/* The first node whose key is >= key (strict = 0) or > key (strict = 1); NULL past the end.
 * key may be NULL with klen 0 (the smallest key). Borrowed: valid until the map changes. */
const fakes3_map_node_t *fakes3_map_seek(const fakes3_map_t *m, const void *key, size_t klen,
                                         int strict);

/* The node after n, or NULL (O(log n): a strict seek on n's key). */
const fakes3_map_node_t *fakes3_map_next(const fakes3_map_t *m, const fakes3_map_node_t *n);

/* A node's key (borrowed, not NUL-terminated) and value. */
const char *fakes3_map_key(const fakes3_map_node_t *n, size_t *klen);
void *fakes3_map_val(const fakes3_map_node_t *n);

/* Free every node, calling free_val(value) on each when free_val is not NULL. */
void fakes3_map_clear(fakes3_map_t *m, void (*free_val)(void *));

#endif
