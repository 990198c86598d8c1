#include "ring.h"

#include "ferry/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct {
    pthread_mutex_t mu;
    size_t cap; /* of every kept buffer */
    size_t n;
    uint8_t *kept[FERRY_RING_CACHE_MAX];
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

int ferry_ring_init_cached(ferry_ring_t *r, size_t cap)
{
    uint8_t *b = NULL;
    pthread_mutex_lock(&cache.mu);
    if (cache.n > 0 && cache.cap == cap)
        b = cache.kept[--cache.n];
    pthread_mutex_unlock(&cache.mu);
    if (b == NULL)
        return ferry_ring_init(r, cap);
    memset(r, 0, sizeof(*r));
    r->buf = b;
    r->cap = cap;
    return FERRY_OK;
}

void ferry_ring_free_cached(ferry_ring_t *r)
{
    uint8_t *drop[FERRY_RING_CACHE_MAX];
    size_t ndrop = 0;
    if (r->buf == NULL)
        return;
    pthread_mutex_lock(&cache.mu);
    if (cache.cap != r->cap) { /* a new size: the old buffers will not be asked for again */
        memcpy(drop, cache.kept, cache.n * sizeof(*drop));
        ndrop = cache.n;
        cache.n = 0;
        cache.cap = r->cap;
    }
    if (cache.n < FERRY_RING_CACHE_MAX) {
        cache.kept[cache.n++] = r->buf;
        r->buf = NULL;
    }
    pthread_mutex_unlock(&cache.mu);
    for (size_t i = 0; i < ndrop; i++)
        free(drop[i]);
    ferry_ring_free(r);
}

void ferry_ring_cache_drain(void)
{
    pthread_mutex_lock(&cache.mu);
    for (size_t i = 0; i < cache.n; i++)
        free(cache.kept[i]);
    cache.n = 0;
    pthread_mutex_unlock(&cache.mu);
}

int ferry_ring_init(ferry_ring_t *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    if (cap == 0)
        return FERRY_EINVAL;
    r->buf = malloc(cap);
    if (r->buf == NULL)
        return FERRY_ENOMEM;
    r->cap = cap;
    return FERRY_OK;
}

size_t ferry_ring_used(const ferry_ring_t *r)
{
    return r->len;
}

size_t ferry_ring_write(ferry_ring_t *r, const void *p, size_t n)
{
    if (n > r->cap)
        return (size_t)-1;
    if (n > r->cap - r->len)
        return 0;
    size_t tail = (r->head + r->len) % r->cap;
    size_t first = r->cap - tail < n ? r->cap - tail : n;
    memcpy(r->buf + tail, p, first);
    memcpy(r->buf, (const uint8_t *)p + first, n - first);
    r->len += n;
    r->total_in += n;
    return n;
}

size_t ferry_ring_read(ferry_ring_t *r, void *p, size_t n)
{
    if (n > r->len)
        n = r->len;
    size_t first = r->cap - r->head < n ? r->cap - r->head : n;
    memcpy(p, r->buf + r->head, first);
    memcpy((uint8_t *)p + first, r->buf, n - first);
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    r->total_out += n;
    if (r->len == 0)
        r->head = 0; /* keep later writes contiguous */
    return n;
}

void ferry_ring_free(ferry_ring_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}
