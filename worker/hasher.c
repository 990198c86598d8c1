/* ferry worker — the hasher thread (see hasher.h). */
#include "hasher.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ferry_hasher_s {
    uv_async_t async; /* first: the close callback gets the hasher back */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    ferry_hasher_item_t *q_head, *q_tail;       /* to hash, in push order */
    ferry_hasher_item_t *done_head, *done_tail; /* hashed, to hand back */
    int stop;
    uint64_t items, batches; /* hashed so far, in how many ferry_md5_update_many calls */
    /* loop thread */
    ferry_hasher_done_cb done;
    void *arg;
    long delay_ms; /* tests only (FERRY_TEST_HASHER_DELAY_MS): a slow thread */
};

static void append(ferry_hasher_item_t **head, ferry_hasher_item_t **tail, ferry_hasher_item_t *it)
{
    it->next = NULL;
    if (*tail)
        (*tail)->next = it;
    else
        *head = it;
    *tail = it;
}

/* Items hashed together at most (ferry_md5_update_many: 16 side by side on AVX2). */
#define HB_MAX 16

/* Take from the queue (under mu) up to HB_MAX items of distinct MD5s, in push order: an item
 * whose MD5 is taken already stays, and so do the later ones of that MD5 (behind it), so each
 * MD5 still gets its bytes in push order. Returns how many went to out. */
static size_t take_batch(ferry_hasher_t *h, ferry_hasher_item_t **out)
{
    size_t k = 0;
    ferry_hasher_item_t *prev = NULL, *it = h->q_head;
    while (it != NULL && k < HB_MAX) {
        ferry_hasher_item_t *next = it->next;
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++)
            dup = out[j]->md5 == it->md5;
        if (dup) {
            prev = it;
        } else {
            out[k++] = it;
            if (prev)
                prev->next = next;
            else
                h->q_head = next;
            if (h->q_tail == it)
                h->q_tail = prev;
        }
        it = next;
    }
    return k;
}

void ferry_hasher_md5_many(ferry_md5_t *const *m, const void *const *p, const size_t *n,
                           size_t count)
{
    if (ferry_md5_update_many(m, p, n, count) != FERRY_OK)
        for (size_t i = 0; i < count; i++)
            ferry_md5_update(m[i], p[i], n[i]);
}

static void *hasher_main(void *arg)
{
    ferry_hasher_t *h = arg;
    ferry_hasher_item_t *b[HB_MAX];
    ferry_md5_t *m[HB_MAX];
    const void *p[HB_MAX];
    size_t n[HB_MAX];
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->q_head == NULL && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->q_head == NULL)
            break; /* stop, and nothing queued */
        size_t k = take_batch(h, b);
        int skip = h->stop; /* stopping: every copy ended, no MD5 is read any more */
        pthread_mutex_unlock(&h->mu);
        if (!skip) {
            if (h->delay_ms > 0) {
                struct timespec ts = {h->delay_ms / 1000, (h->delay_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            for (size_t i = 0; i < k; i++) {
                m[i] = b[i]->md5;
                p[i] = b[i]->data;
                n[i] = b[i]->len;
            }
            ferry_hasher_md5_many(m, p, n, k); /* distinct MD5s: take_batch */
        }                                      /* else handed back unhashed */
        pthread_mutex_lock(&h->mu);
        if (!skip) {
            h->items += k;
            h->batches++;
        }
        int wake = h->done_head == NULL; /* else a wake-up is pending already */
        for (size_t i = 0; i < k; i++)
            append(&h->done_head, &h->done_tail, b[i]);
        if (wake)
            uv_async_send(&h->async);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Hand back what is hashed (loop thread). */
static void deliver(ferry_hasher_t *h)
{
    pthread_mutex_lock(&h->mu);
    ferry_hasher_item_t *it = h->done_head;
    h->done_head = h->done_tail = NULL;
    pthread_mutex_unlock(&h->mu);
    while (it != NULL) {
        ferry_hasher_item_t *next = it->next;
        it->next = NULL;
        h->done(h->arg, it);
        it = next;
    }
}

static void on_async(uv_async_t *a)
{
    deliver((ferry_hasher_t *)a);
}

int ferry_hasher_start(uv_loop_t *loop, ferry_hasher_done_cb done, void *arg, ferry_hasher_t **out,
                       ferry_error_t *err)
{
    ferry_hasher_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory starting the MD5 thread");
    h->done = done;
    h->arg = arg;
    const char *d = getenv("FERRY_TEST_HASHER_DELAY_MS");
    if (d != NULL && (h->delay_ms = strtol(d, NULL, 10)) > 1000)
        h->delay_ms = 1000;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return ferry_error_set(err, FERRY_ENOMEM, "cannot create the MD5 thread's mutex");
    }
    if (pthread_cond_init(&h->cv, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        free(h);
        return ferry_error_set(err, FERRY_ENOMEM, "cannot create the MD5 thread's condition");
    }
    if (uv_async_init(loop, &h->async, on_async) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return ferry_error_set(err, FERRY_ENOMEM, "cannot create the MD5 thread's wake-up");
    }
    if (pthread_create(&h->thread, NULL, hasher_main, h) != 0) {
        /* the handle is on the loop: closed, h freed in its close callback */
        h->stop = -1;
        ferry_hasher_stop(h);
        return ferry_error_set(err, FERRY_ENOMEM,
                               "cannot start the MD5 thread (out of threads or memory?)");
    }
    *out = h;
    return FERRY_OK;
}

void ferry_hasher_push(ferry_hasher_t *h, ferry_hasher_item_t *it)
{
    pthread_mutex_lock(&h->mu);
    append(&h->q_head, &h->q_tail, it);
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void ferry_hasher_counts(ferry_hasher_t *h, uint64_t *items, uint64_t *batches)
{
    pthread_mutex_lock(&h->mu);
    *items = h->items;
    *batches = h->batches;
    pthread_mutex_unlock(&h->mu);
}

static void on_closed(uv_handle_t *a)
{
    ferry_hasher_t *h = (ferry_hasher_t *)a;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void ferry_hasher_stop(ferry_hasher_t *h)
{
    if (h == NULL)
        return;
    if (h->stop != -1) { /* -1: the thread never started */
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
        deliver(h); /* the thread hashed everything queued before it ended */
    }
    uv_close((uv_handle_t *)&h->async, on_closed);
}
