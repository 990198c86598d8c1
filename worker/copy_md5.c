/* ferry worker — the whole-object MD5 of a multipart copy, formed in source order (see
 * copy_int.h and docs/internals/worker.md "Plain-MD5 sources above the threshold").
 *
 * A source whose one check is its plain MD5 ETag is copied in parallel parts like any other;
 * the MD5 of all its bytes is still formed, in order, on the process's MD5 thread (hasher.h),
 * so that the loop only moves bytes. parts[oidx] is the part the hash waits for. Every part's
 * stream copies its bytes into 1 MiB blocks held by its part; the blocks of parts[oidx] are
 * handed to the thread in source order (submit: a block once full, the part's last one, or the
 * one being filled when its stream must pause), and when parts[oidx] is all handed the hash
 * moves to the next part and hands what it holds at once. The thread updates the copy's MD5
 * and hands each block back to the loop (hashed), where it is recycled.
 *
 * Memory: held bytes — blocks of parts and blocks at the thread alike, counted as whole
 * blocks (a partly filled block handed over when its stream pauses takes a whole block) — are
 * bounded process-wide by the pool's hold_max (--md5-hold). A part after the one the hash waits for
 * starts only when its length fits under the cap (copy_md5_room), and its chunks are taken only
 * while the held bytes stay under the cap less one block (ahead_max); a chunk of parts[oidx] is
 * taken while they stay under the cap itself. A chunk that would pass its limit pauses its GET
 * (curl pause) until held bytes drain (hold_wake: a block is handed back, a part's blocks are
 * dropped, or the hash moves on).
 *
 * No deadlock: the thread depends on nothing but its queue, so every block handed to it comes
 * back. A stream of parts[oidx] that pauses first hands its block being filled to the thread,
 * so once the thread's queue is empty the held bytes are those of later parts (at most the cap
 * less one block, ahead_max) and the blocks being filled by the running streams of other
 * copies' hash parts (they fill them, hand them over, or pause and hand them over): the paused
 * chunk (at most 256 KiB, curl's buffer: one new block) then fits under the cap. The part the hash
 * waits for, when it has not started, starts even above parts_per_job and the stream pool's max
 * (copy.c start_units). Every part uploaded, the copy waits (copy_md5_settled, owait) until the
 * thread has handed all its blocks back before the MD5 is final and compared (copy_md5_verify).
 *
 * Ownership across the thread: a block handed over is off its part's chain and belongs to the
 * thread until hashed() takes it back; the copy's MD5 state (ohash_t, copy_int.h) belongs to the
 * thread while any of its blocks is out. A copy that ends (fails, is cancelled, the worker
 * drains) with blocks out drops only what its parts still hold and leaves its ohash_t to the
 * last block handed back, which frees it (copy.md5_abandoned); the blocks go to the pool's
 * spares. ferry_copy_pool_close stops the thread at worker exit (it hands what is queued back
 * unhashed) after every copy ended.
 *
 * A part read twice (its first stream failed after some of its bytes were handed to the hash,
 * or its upload failed after all of them were): the bytes already handed cannot be taken out of
 * the MD5, so the second read's bytes up to that point are compared with the first read's by
 * CRC32C (part_t.ocrc, formed on the loop as blocks are handed over): the bytes uploaded are
 * then the bytes hashed, or the copy fails (FERRY_ECHECKSUM, retried as a whole). */
#include "copy_int.h"

#include "ferry/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hold_max(const ferry_copy_pool_t *p)
{
    return p->hold_max ? p->hold_max : HOLD_DEFAULT;
}

/* Bytes later parts may hold: the cap less a block's worth kept for the part the hash waits
 * for (see the top of this file). */
static uint64_t ahead_max(const ferry_copy_pool_t *p)
{
    uint64_t m = hold_max(p);
    return m - (m >= 2 * HOLD_BLK ? HOLD_BLK : m / 2);
}

static void hashed(void *arg, ferry_hasher_item_t *it);

int copy_md5_begin(ferry_copy_t *c)
{
    if (c->omd5_open)
        return FERRY_OK;
    ferry_copy_pool_t *pool = c->env.pool;
    if (pool->hasher == NULL) {
        ferry_error_t e;
        ferry_hasher_t *h;
        int rc = ferry_hasher_start(c->env.loop, hashed, pool, &h, &e);
        if (rc != FERRY_OK) {
            ferry_log(FERRY_LOG_ERROR, "copy.md5_thread_failed", "error", e.msg, NULL);
            return rc;
        }
        pool->hasher = h;
    }
    ohash_t *oh = calloc(1, sizeof(*oh));
    if (oh == NULL)
        return FERRY_ENOMEM;
    int rc = ferry_md5_init(&oh->md5);
    if (rc != FERRY_OK) {
        free(oh);
        return rc;
    }
    oh->c = c;
    c->oh = oh;
    c->owait = 0;
    c->omd5_open = 1;
    c->opos = 0;
    c->oidx = 0;
    return FERRY_OK;
}

int copy_md5_next_part(const ferry_copy_t *c)
{
    if (!c->omd5_open || c->parts == NULL || c->oidx >= c->plan.parts)
        return -1;
    return (int)c->oidx;
}

/* Parts ahead of the hash are started against the cap: each reserves its whole length
 * (pool hold_committed), so the bytes they will hold fit and their GETs need not pause. A part
 * longer than the cap itself still starts when the copy has no other such part ahead ("loose":
 * at most one per copy, which may pause at the cap), so that huge parts (a 1 TiB object has
 * 105 MiB parts) are not read one at a time. A reservation ends when the hash reaches the part
 * or the part is read again. Many plain-MD5 objects at once thus share the cap's worth of
 * parts ahead and otherwise run one stream each (measured: parts ahead beyond that only added
 * server threads competing for the cores, and memory). */
int copy_md5_room(const ferry_copy_t *c, uint32_t i)
{
    const ferry_copy_pool_t *pool = c->env.pool;
    const part_t *p = &c->parts[i];
    if (pool->hold_committed + p->len <= hold_max(pool))
        return 1;
    return p->len > hold_max(pool) && c->oloose == 0 && pool->held < hold_max(pool);
}

void copy_md5_started_ahead(ferry_copy_t *c, uint32_t i)
{
    ferry_copy_pool_t *pool = c->env.pool;
    part_t *p = &c->parts[i];
    if (p->hold_mark)
        return;
    if (pool->hold_committed + p->len <= hold_max(pool)) {
        p->hold_mark = 1;
        pool->hold_committed += p->len;
    } else {
        p->hold_mark = 2;
        c->oloose++;
    }
}

/* The part no longer needs its reservation (the hash reached it, it is read again, the copy
 * ends). */
static void unmark(ferry_copy_t *c, part_t *p)
{
    ferry_copy_pool_t *pool = c->env.pool;
    if (p->hold_mark == 1)
        pool->hold_committed = pool->hold_committed > p->len ? pool->hold_committed - p->len : 0;
    else if (p->hold_mark == 2 && c->oloose > 0)
        c->oloose--;
    p->hold_mark = 0;
}

/* Wake units whose GET waits for held bytes to drain, the longest waiting first: each takes
 * its chunk or pauses again. Only as many as the room allows, a block each — under the cap for
 * units of a part the hash waits for, under ahead_max for later parts — and always one unit of
 * a part the hash waits for when one waits. Waking every unit at every block handed back made
 * each read up to a receive of curl's, and most then had a chunk refused (held bytes at the cap
 * again), which curl copies aside: at 8 x 256 MiB, 3.9 GB copied per 2 GiB. The others stay in
 * the list for the next wake. Liveness is the argument at the top of this file: when a unit of
 * a hash part woken here cannot take its chunk, held bytes are above ahead_max, so blocks are
 * out at the thread or being filled by a running hash part's stream, and each comes back
 * through hashed(), which wakes again. The list is detached first: outside a curl callback
 * ferry_s3_unpause delivers a paused chunk at once (unit_sink may then put its unit on the list
 * again); inside one it is deferred. No unit is freed from within an unpause (units settle
 * from done callbacks). */
static void hold_wake(ferry_copy_pool_t *pool)
{
    unit_t *u = pool->hold_wait, *old = NULL, *wake = NULL;
    pool->hold_wait = NULL;
    while (u != NULL) { /* newest first: reverse it */
        unit_t *next = u->hnext;
        u->hnext = old;
        old = u;
        u = next;
    }
    uint64_t cap = hold_max(pool), am = ahead_max(pool);
    uint64_t room_front = cap > pool->held ? cap - pool->held : 0;
    uint64_t room_ahead = am > pool->held ? am - pool->held : 0;
    int fronts = 0;
    for (u = old; u != NULL;) {
        unit_t *next = u->hnext;
        int front = (uint32_t)u->pidx == u->c->oidx;
        uint64_t *room = front ? &room_front : &room_ahead;
        if (*room >= HOLD_BLK || (front && fronts == 0)) {
            *room = *room >= HOLD_BLK ? *room - HOLD_BLK : 0;
            if (front)
                fronts++;
            else
                room_front = room_front >= HOLD_BLK ? room_front - HOLD_BLK : 0;
            u->hold_wait = 0;
            u->hprev = NULL;
            u->hnext = wake;
            wake = u;
        } else { /* back on the list */
            u->hprev = NULL;
            u->hnext = pool->hold_wait;
            if (pool->hold_wait)
                pool->hold_wait->hprev = u;
            pool->hold_wait = u;
        }
        u = next;
    }
    while (wake != NULL) {
        unit_t *next = wake->hnext;
        wake->hnext = NULL;
        if (wake->get_op && !wake->get_paused) /* else the ring is full: its PUT resumes it */
            ferry_s3_unpause(wake->get_op);
        wake = next;
    }
}

void copy_md5_unit_gone(unit_t *u)
{
    if (!u->hold_wait)
        return;
    ferry_copy_pool_t *pool = u->c->env.pool;
    if (u->hprev)
        u->hprev->hnext = u->hnext;
    else
        pool->hold_wait = u->hnext;
    if (u->hnext)
        u->hnext->hprev = u->hprev;
    u->hnext = u->hprev = NULL;
    u->hold_wait = 0;
}

/* Hold blocks come from and go back to the pool's spare list: a block of fresh memory costs
 * its page faults and zeroing on every use (a few percent of the worker's CPU at 4 GiB). Spares
 * and held bytes together stay within the cap; the spares are freed whenever nothing is held. */
static hold_blk_t *blk_get(ferry_copy_pool_t *pool)
{
    hold_blk_t *b = pool->hold_free;
    if (b != NULL) {
        pool->hold_free = b->next;
        pool->hold_nfree--;
    } else if ((b = malloc(sizeof(*b) + HOLD_BLK)) == NULL) {
        return NULL;
    } else if (++pool->hold_nblk > pool->hold_nblk_peak) {
        pool->hold_nblk_peak = pool->hold_nblk;
    }
    b->next = NULL;
    b->len = 0;
    return b;
}

static void blk_put(ferry_copy_pool_t *pool, hold_blk_t *b)
{
    if ((pool->hold_nfree + 1) * HOLD_BLK + pool->held > hold_max(pool)) {
        free(b);
        pool->hold_nblk--;
        return;
    }
    b->next = pool->hold_free;
    pool->hold_free = b;
    pool->hold_nfree++;
}

/* Nothing is held: give the spare blocks back. */
static void blk_trim(ferry_copy_pool_t *pool)
{
    if (pool->held > 0)
        return;
    hold_blk_t *b = pool->hold_free;
    while (b != NULL) {
        hold_blk_t *next = b->next;
        free(b);
        pool->hold_nblk--;
        b = next;
    }
    pool->hold_free = NULL;
    pool->hold_nfree = 0;
}

static void held_sub(ferry_copy_t *c, uint64_t n)
{
    ferry_copy_pool_t *pool = c->env.pool;
    pool->held = pool->held > n ? pool->held - n : 0;
    c->oheld = c->oheld > n ? c->oheld - n : 0;
}

/* Drop what p holds (it is read again, or the copy ends). Blocks at the hasher are not on the
 * chain: they come back through hashed(). */
static void hold_drop(ferry_copy_t *c, part_t *p)
{
    hold_blk_t *b = p->hold;
    uint64_t nb = 0;
    while (b != NULL) {
        hold_blk_t *next = b->next;
        blk_put(c->env.pool, b);
        b = next;
        nb++;
    }
    held_sub(c, nb * HOLD_BLK);
    p->hold = p->hold_tail = NULL;
    p->held = 0;
}

/* The hasher hands a block back (loop thread): its bytes are in the MD5. They stop counting as
 * held; the units waiting for held bytes to drain are woken; the copy waiting to verify
 * (owait) is kicked when its last block is back; a copy that ended leaves its ohash_t to be
 * freed here with its last block. */
static void hashed(void *arg, ferry_hasher_item_t *it)
{
    ferry_copy_pool_t *pool = arg;
    hold_blk_t *b = (hold_blk_t *)((char *)it - offsetof(hold_blk_t, hi));
    ohash_t *oh = b->oh;
    ferry_copy_t *c = oh->c;
    b->oh = NULL;
    oh->out--;
    pool->held = pool->held > HOLD_BLK ? pool->held - HOLD_BLK : 0;
    if (c != NULL)
        c->oheld = c->oheld > HOLD_BLK ? c->oheld - HOLD_BLK : 0;
    blk_put(pool, b);
    int kick = c != NULL && c->owait && oh->out == 0;
    if (kick)
        c->owait = 0;
    if (c == NULL && oh->out == 0) {
        ferry_md5_free(&oh->md5);
        free(oh);
        blk_trim(pool);
    }
    /* oh is not looked at after this: a wake may deliver a chunk whose copy then ends */
    hold_wake(pool);
    if (kick)
        copy_kick(c); /* c is freed only from its timer's close callback, never in here */
}

void ferry_copy_pool_close(ferry_copy_pool_t *pool)
{
    if (pool->hasher != NULL) { /* its batches count with the small objects' (md5_per_batch) */
        uint64_t items, batches;
        ferry_hasher_counts(pool->hasher, &items, &batches);
        pool->md5_units += items;
        pool->md5_batches += batches;
    }
    ferry_hasher_stop(pool->hasher); /* hands back (hashed()) what it still had */
    pool->hasher = NULL;
    blk_trim(pool);
    copy_md5_batch_close(pool);
}

/* Hand the blocks of parts[oidx] to the hasher, in source order, moving on as parts are all
 * handed: a block once full, or the part's last one, or (flush: its unit pauses) the one being
 * filled. What is handed cannot be taken back: it counts as hashed for the part (ohashed and
 * its CRC32C ocrc, to check a second read against) and the copy (opos). Wake the units waiting
 * for held bytes when the hash moved to another part (one may be that part's); the part may be
 * waiting to start. */
static void submit(ferry_copy_t *c, int flush)
{
    ferry_copy_pool_t *pool = c->env.pool;
    int moved = 0;
    while (c->oidx < c->plan.parts) {
        part_t *p = &c->parts[c->oidx];
        hold_blk_t *b;
        while ((b = p->hold) != NULL) {
            if (b->next == NULL && b->len < HOLD_BLK && !flush && p->ohashed + p->held < p->len)
                break; /* being filled */
            p->hold = b->next;
            if (p->hold == NULL)
                p->hold_tail = NULL;
            p->ocrc = ferry_crc32c_update(p->ocrc, b->data, b->len);
            p->ohashed += b->len;
            p->held -= b->len;
            c->opos += b->len;
            b->next = NULL;
            b->oh = c->oh;
            b->hi.md5 = &c->oh->md5;
            b->hi.data = b->data;
            b->hi.len = b->len;
            c->oh->out++;
            ferry_hasher_push(pool->hasher, &b->hi);
        }
        if (p->ohashed < p->len)
            break;
        c->oidx++;
        if (c->oidx < c->plan.parts)
            unmark(c, &c->parts[c->oidx]);
        flush = 0;
        moved = 1;
    }
    if (!moved)
        return;
    hold_wake(pool);
    if (c->oidx < c->plan.parts && c->parts[c->oidx].state == PART_PENDING)
        copy_kick(c);
}

int copy_md5_settled(ferry_copy_t *c)
{
    if (!c->omd5_open || c->oh == NULL)
        return 1;
    submit(c, 0); /* every part is uploaded: their last blocks are complete */
    if (c->oh->out == 0)
        return 1;
    c->owait = 1;
    return 0;
}

/* The bytes of a unit's next n that are new to the hash (not a second read of hashed ones). */
static size_t new_bytes(const unit_t *u, size_t n)
{
    const part_t *p = &u->c->parts[u->pidx];
    if (u->got >= p->ohashed)
        return n;
    uint64_t again = p->ohashed - u->got;
    return again >= n ? 0 : n - (size_t)again;
}

int copy_md5_admit(unit_t *u, size_t n)
{
    ferry_copy_t *c = u->c;
    if (!u->omd5_on || !c->omd5_open)
        return 1;
    size_t h = new_bytes(u, n);
    ferry_copy_pool_t *pool = c->env.pool;
    const hold_blk_t *t = c->parts[u->pidx].hold_tail;
    size_t room = t != NULL ? HOLD_BLK - t->len : 0; /* in the block being filled */
    if (h <= room)
        return 1;
    uint64_t need = (h - room + HOLD_BLK - 1) / HOLD_BLK * HOLD_BLK; /* new blocks */
    int front = (uint32_t)u->pidx == c->oidx;
    if (pool->held + need <= (front ? hold_max(pool) : ahead_max(pool)))
        return 1;
    if (front)
        submit(c, 1); /* its block being filled too: the hasher hands it back, which wakes u */
    if (!u->hold_wait) {
        u->hold_wait = 1;
        u->hprev = NULL;
        u->hnext = pool->hold_wait;
        if (pool->hold_wait)
            pool->hold_wait->hprev = u;
        pool->hold_wait = u;
    }
    return 0;
}

static int hold_add(ferry_copy_t *c, part_t *p, const char *d, size_t n)
{
    ferry_copy_pool_t *pool = c->env.pool;
    size_t left = n;
    while (left > 0) {
        hold_blk_t *b = p->hold_tail;
        if (b == NULL || b->len == HOLD_BLK) {
            if ((b = blk_get(pool)) == NULL)
                return FERRY_ENOMEM;
            if (p->hold_tail)
                p->hold_tail->next = b;
            else
                p->hold = b;
            p->hold_tail = b;
            pool->held += HOLD_BLK; /* held counts whole blocks: the memory they take */
            c->oheld += HOLD_BLK;
        }
        size_t k = HOLD_BLK - b->len < left ? HOLD_BLK - b->len : left;
        memcpy(b->data + b->len, d, k);
        b->len += k;
        d += k;
        left -= k;
        p->held += k;
    }
    if (pool->held > pool->held_peak)
        pool->held_peak = pool->held;
    if (c->oheld > c->oheld_peak)
        c->oheld_peak = c->oheld;
    return FERRY_OK;
}

int copy_md5_feed(unit_t *u, const char *d, size_t n, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    if (!u->omd5_on || !c->omd5_open || n == 0)
        return FERRY_OK;
    part_t *p = &c->parts[u->pidx];
    if (u->got < p->ohashed) {
        /* read before and hashed then: these bytes must be the same ones */
        uint64_t again = p->ohashed - u->got;
        size_t k = again < n ? (size_t)again : n;
        u->orecrc = ferry_crc32c_update(u->orecrc, d, k);
        if (u->got + k == p->ohashed && u->orecrc != p->ocrc) {
            return copy_mismatch(c, err,
                                 "part %d of the source read differently the second time (its "
                                 "first %llu bytes: CRC32C %08x, first read %08x): the store "
                                 "returned changing bytes; nothing is kept and the copy is "
                                 "retried",
                                 u->pidx + 1, (unsigned long long)p->ohashed, u->orecrc, p->ocrc);
        }
        d += k;
        n -= k;
        if (n == 0)
            return FERRY_OK;
    }
    if (hold_add(c, p, d, n) != FERRY_OK)
        return ferry_error_set(err, FERRY_ENOMEM,
                               "out of memory holding %zu bytes for the ordered MD5; retrying", n);
    if ((uint32_t)u->pidx == c->oidx)
        submit(c, 0);
    return FERRY_OK;
}

void copy_md5_part_reset(ferry_copy_t *c, part_t *p)
{
    unmark(c, p);
    if (p->held == 0)
        return;
    hold_drop(c, p);
    hold_wake(c->env.pool);
}

int copy_md5_verify(ferry_copy_t *c, ferry_error_t *err)
{
    uint8_t d[16];
    char hex[33];
    if (!c->omd5_open || c->oh == NULL || c->oh->out != 0 || c->opos != c->res.size)
        return ferry_error_set(err, FERRY_ECHECKSUM,
                               "internal: the ordered MD5 covers %llu of %llu bytes; nothing is "
                               "kept and the copy is retried",
                               (unsigned long long)c->opos, (unsigned long long)c->res.size);
    ferry_md5_final(&c->oh->md5, d);
    c->omd5_open = 0;
    ferry_hex_lower(d, 16, hex);
    char held[24], peak[24], nblk[24];
    snprintf(held, sizeof(held), "%llu", (unsigned long long)c->oheld_peak);
    snprintf(peak, sizeof(peak), "%llu", (unsigned long long)c->env.pool->held_peak);
    snprintf(nblk, sizeof(nblk), "%llu", (unsigned long long)c->env.pool->hold_nblk_peak);
    ferry_log(FERRY_LOG_INFO, "copy.md5_ordered", "key", c->src_key, "md5", hex, "held_peak", held,
              "process_held_peak", peak, "process_blocks_peak", nblk, NULL);
    if (!ferry_etag_eq(hex, c->res.etag)) {
        return copy_mismatch(c, err,
                             "the MD5 of the bytes read, in source order over the parts (%s), "
                             "differs from the source's ETag (%s): the read was corrupted (or "
                             "the store's ETag is not the MD5 of the object); the upload is "
                             "discarded and the copy retried",
                             hex, c->res.etag);
    }
    copy_add_check(c, "src:md5");
    return FERRY_OK;
}

void copy_md5_end(ferry_copy_t *c)
{
    int dropped = 0;
    for (uint32_t i = 0; c->parts != NULL && i < c->plan.parts; i++) {
        unmark(c, &c->parts[i]);
        if (c->parts[i].held > 0 || c->parts[i].hold != NULL) {
            hold_drop(c, &c->parts[i]);
            dropped = 1;
        }
    }
    if (dropped)
        hold_wake(c->env.pool);
    ohash_t *oh = c->oh;
    c->oh = NULL;
    c->omd5_open = 0;
    c->owait = 0;
    if (oh != NULL) {
        if (oh->out == 0) {
            ferry_md5_free(&oh->md5);
            free(oh);
        } else {
            char n[16];
            snprintf(n, sizeof(n), "%u", oh->out);
            ferry_log(FERRY_LOG_INFO, "copy.md5_abandoned", "key", c->src_key, "blocks_out", n,
                      NULL);
            oh->c = NULL; /* the hasher still has blocks of it: the last one back frees it */
        }
    }
    blk_trim(c->env.pool);
}
