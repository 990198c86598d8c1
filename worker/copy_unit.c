/* ferry worker — streams ("units": one GET piped or buffered into one PUT / UploadPart, a
 * resume re-read, an UploadPartCopy) and the per-process stream pool. The per-chunk callbacks
 * (unit_sink, unit_source, unit_hash) are here and static. */
#include "copy_int.h"
#include "hasher.h"

#include "ferry/log.h"
#include "ferry/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void unit_settle(unit_t *u);

/* The stream pool (copy.h): take a stream for c (1), or queue c to be pumped when one is
 * given back (0). */
int copy_pool_take(ferry_copy_t *c)
{
    ferry_copy_pool_t *p = c->env.pool;
    if (p->used < p->max) {
        p->used++;
        return 1;
    }
    if (!c->waiting) {
        c->waiting = 1;
        c->wnext = NULL;
        c->wprev = p->wait_tail;
        if (p->wait_tail)
            p->wait_tail->wnext = c;
        else
            p->wait_head = c;
        p->wait_tail = c;
    }
    return 0;
}

/* A stream for the part an ordered MD5 waits for: taken even above the pool's max, so that
 * the hash (and the streams of later parts waiting for it) always progress (copy_md5.c). */
void copy_pool_take_force(ferry_copy_t *c)
{
    c->env.pool->used++;
}

/* Take c out of the pool's wait list (a copy that ends). */
void copy_pool_unwait(ferry_copy_t *c)
{
    ferry_copy_pool_t *p = c->env.pool;
    if (!c->waiting)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        p->wait_head = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    else
        p->wait_tail = c->wprev;
    c->waiting = 0;
    c->wnext = c->wprev = NULL;
}

/* Give a stream back and pump the waiting copies while streams are free. */
void copy_pool_give(ferry_copy_pool_t *p)
{
    if (p->used > 0)
        p->used--;
    while (p->used < p->max && p->wait_head != NULL) {
        ferry_copy_t *w = p->wait_head;
        unsigned before = p->used;
        copy_pool_unwait(w);
        copy_pump(w);
        if (p->used == before)
            continue; /* it needed nothing after all */
    }
}

static void unit_free(unit_t *u)
{
    copy_md5_unit_gone(u);
    ferry_ring_free_cached(&u->ring);
    free(u->buf);
    ferry_md5_free(&u->md5);
    if (u->mp_open)
        ferry_md5_free(&u->mp_md5);
    if (u->qetag_on)
        ferry_qetag_free(&u->qetag);
    free(u);
}

void copy_unit_error(unit_t *u, int rc, const ferry_error_t *e)
{
    if (u->rc == FERRY_OK) {
        u->rc = rc;
        if (e)
            u->err = *e;
        else
            ferry_error_set(&u->err, rc, "%s", ferry_strerror(rc));
        if (u->err.code == FERRY_OK)
            u->err.code = rc;
    }
    u->stopping = 1;
    if (u->get_op)
        ferry_s3_cancel(u->get_op);
    if (u->put_op)
        ferry_s3_cancel(u->put_op);
}

/* One MD5 per source part (c->mp_psize bytes each, the last shorter) over the bytes read. */
static void unit_mp_hash(unit_t *u, const char *p, size_t n)
{
    ferry_copy_t *c = u->c;
    while (n > 0) {
        if (!u->mp_open) {
            if (ferry_md5_init(&u->mp_md5) != FERRY_OK) {
                u->mp_on = 0; /* no digest: the comparison sees a hole and fails safe */
                return;
            }
            u->mp_open = 1;
        }
        uint64_t end = (u->mp_pos / c->mp_psize + 1) * c->mp_psize;
        if (end > c->res.size)
            end = c->res.size;
        size_t take = end - u->mp_pos < n ? (size_t)(end - u->mp_pos) : n;
        ferry_md5_update(&u->mp_md5, p, take);
        if (c->mpc != NULL)
            u->mp_crc = ferry_crc32c_update(u->mp_crc, p, take);
        u->mp_pos += take;
        p += take;
        n -= take;
        if (u->mp_pos == end) {
            uint64_t i = (end - 1) / c->mp_psize;
            ferry_md5_final(&u->mp_md5, c->mpd + i * 16);
            if (c->mpc != NULL)
                c->mpc[i] = u->mp_crc;
            u->mp_crc = 0;
            u->mp_open = 0;
        }
    }
}

/* Every digest of the unit's bytes but its MD5 (unit_hash). */
static void unit_hash_but_md5(unit_t *u, const char *p, size_t n)
{
    u->crc64 = ferry_crc64_update(u->crc64, p, n);
    /* One CRC32C pass serves every use: the request's (header, or the trailer of a piped part:
     * the client takes it from here, see unit_start_put), a resumed part's, and the source's
     * FULL_OBJECT check (scrc) — all of them over the unit's bytes from its first. */
    if (u->mode == UM_BUF || (u->mode == UM_VERIFY && u->crc_mode) ||
        (u->mode == UM_STREAM && u->sent_crc32c)) {
        u->crc32c = ferry_crc32c_update(u->crc32c, p, n);
        if (u->scrc_on)
            u->scrc = u->crc32c;
    } else if (u->scrc_on) {
        u->scrc = ferry_crc32c_update(u->scrc, p, n);
    }
    if (u->qetag_on)
        ferry_qetag_update(&u->qetag, p, n);
    if (u->mp_on)
        unit_mp_hash(u, p, n);
}

static void unit_hash(unit_t *u, const char *p, size_t n)
{
    if (u->md5_on)
        ferry_md5_update(&u->md5, p, n);
    unit_hash_but_md5(u, p, n);
}

/* Whether the ring has room for all that one receive of curl's can hand over. */
static int ring_takes_recv(const unit_t *u)
{
    return u->ring.cap - ferry_ring_used(&u->ring) >= FERRY_HTTP_RECV_MAX;
}

static int unit_sink(void *arg, const char *p, size_t n)
{
    unit_t *u = arg;
    if (u->stopping)
        return FERRY_ECANCELED;
    if (u->got + n > u->len)
        return FERRY_ERANGE;
    if (u->omd5_on && !copy_md5_admit(u, n))
        return FERRY_HTTP_PAUSE; /* held bytes at the cap: woken when they drain */
    if (u->mode == UM_STREAM) {
        size_t w = ferry_ring_write(&u->ring, p, n);
        if (w == (size_t)-1)
            return FERRY_EINVAL;
        if (w == 0) {
            u->get_paused = 1;
            return FERRY_HTTP_PAUSE;
        }
    } else if (u->mode == UM_BUF) {
        memcpy(u->buf + u->got, p, n);
    }
    unit_hash(u, p, n);
    if (u->omd5_on) {
        ferry_error_t e;
        int rc = copy_md5_feed(u, p, n, &e);
        if (rc != FERRY_OK) {
            copy_unit_error(u, rc, &e);
            return FERRY_ECANCELED;
        }
    }
    u->got += n;
    if (u->mode == UM_STREAM && u->put_paused && u->put_op) {
        u->put_paused = 0;
        ferry_s3_unpause(u->put_op);
    }
    if (u->got >= u->len)
        return FERRY_OK;
    /* Pause before what curl may still hand over from its last read (FERRY_HTTP_RECV_MAX at
     * most) could be refused: a refused chunk (above) makes curl copy the rest of its receive
     * buffer into a fresh allocation and hand it over again — a third copy of those bytes, and
     * new pages, each time. Two reasons, each woken on its own side: the ring's room (the PUT
     * resumes the GET, unit_source) and held bytes for the ordered MD5 (hold_wake); the one
     * that clears last resumes the GET. */
    int pause = 0;
    if (u->mode == UM_STREAM && !ring_takes_recv(u)) {
        u->get_paused = 1;
        pause = 1;
    }
    uint64_t next = u->len - u->got < FERRY_HTTP_RECV_MAX ? u->len - u->got : FERRY_HTTP_RECV_MAX;
    if (u->omd5_on && !copy_md5_admit(u, (size_t)next))
        pause = 1; /* u waits in the pool's list: held bytes draining wake it */
    return pause ? FERRY_HTTP_PAUSE_AFTER : FERRY_OK;
}

static ssize_t unit_source(void *arg, char *buf, size_t n)
{
    unit_t *u = arg;
    if (u->stopping)
        return FERRY_ECANCELED;
    if (u->holdback && !u->verified && u->sent + n >= u->len)
        n = (size_t)(u->len - 1 - u->sent);
    size_t r = n ? ferry_ring_read(&u->ring, buf, n) : 0;
    u->sent += r;
    if (r > 0) {
        /* The GET goes on once the ring has room for a whole receive (see unit_sink): the PUT
         * drains it, so that comes. */
        if (u->get_paused && (ring_takes_recv(u) || ferry_ring_used(&u->ring) == 0)) {
            u->get_paused = 0;
            if (u->get_op && !u->hold_wait) /* else hold_wake resumes it */
                ferry_s3_unpause(u->get_op);
        }
        return (ssize_t)r;
    }
    if (u->ring.eof && u->sent == u->len)
        return 0;
    u->put_paused = 1;
    return FERRY_HTTP_PAUSE;
}

/* A PUT, UploadPart or UploadPartCopy answered: keep its ETag and CRC32C echo for the checks
 * (unit_settle). */
static void unit_put_done(void *arg, const ferry_s3_result_t *r)
{
    unit_t *u = arg;
    u->put_op = NULL;
    u->ops--;
    if (r->rc != FERRY_OK)
        copy_unit_error(u, r->rc, &r->err);
    else {
        ferry_str_copy(u->etag, sizeof(u->etag), r->etag);
        ferry_str_copy(u->echo, sizeof(u->echo), r->checksum_crc32c);
        if (u->mode == UM_STREAM && u->crc_mode) /* the client checked it equals what it sent */
            ferry_str_copy(u->crc32c_b64, sizeof(u->crc32c_b64), r->checksum_crc32c);
    }
    if (u->ops == 0)
        unit_settle(u);
}

/* The arguments every request of a unit starts from: the copy's (copy_args_base) on the source
 * (dst 0) or the destination (dst 1), the unit as its body callbacks' argument, and on the
 * destination of a multipart copy the upload and the unit's part number. */
static void unit_args(unit_t *u, ferry_s3_args_t *a, int dst)
{
    copy_args_base(u->c, a, dst);
    a->arg = u;
    if (dst && u->c->plan.kind != FERRY_PLAN_SINGLE) {
        a->upload_id = u->c->upload_id;
        a->part_number = u->pidx + 1;
    }
}

static int unit_start_put(unit_t *u)
{
    ferry_copy_t *c = u->c;
    ferry_s3_args_t a;
    ferry_error_t e;
    unit_args(u, &a, 1);
    a.body_len = (int64_t)u->len;
    if (u->mode == UM_BUF || u->mode == UM_EMPTY) {
        uint8_t d[16];
        if (u->mode == UM_EMPTY)
            ferry_md5("", 0, d);
        else
            memcpy(d, u->md5_bin, 16);
        ferry_b64(d, 16, u->md5_b64);
        a.body = u->buf ? u->buf : "";
        a.content_md5 = u->sent_md5 ? u->md5_b64 : NULL;
        if (u->sent_crc32c) {
            ferry_crc32c_b64(u->crc32c, u->crc32c_b64);
            a.checksum_crc32c = u->crc32c_b64;
        }
    } else {
        a.source = unit_source;
        a.trailer_crc32c = u->sent_crc32c;
        /* The bytes the GET gave are the bytes sent (the ring passes them unchanged): their
         * CRC32C, taken at the sink (unit_hash), is the trailer's — one pass instead of two, and
         * a byte the ring damaged would be refused by the store (BadDigest). */
        if (u->sent_crc32c)
            a.trailer_crc32c_of = &u->crc32c;
        /* A streamed single PUT whose source ETag is its MD5: the destination checks it. */
        if (u->sent_md5) {
            uint8_t d[16];
            const char *s = c->res.etag;
            for (int i = 0; i < 16; i++) /* 32 hex digits (src_etag_is_md5): no sscanf */
                d[i] = (uint8_t)(ferry_hex_val(s[2 * i]) << 4 | ferry_hex_val(s[2 * i + 1]));
            ferry_b64(d, 16, u->md5_b64);
            a.content_md5 = u->md5_b64;
        }
    }
    int rc;
    if (c->plan.kind == FERRY_PLAN_SINGLE) {
        a.headers = c->hdrs;
        a.nheaders = c->nh;
        rc = ferry_s3_put(c->env.dst, &a, unit_put_done, u, &u->put_op, &e);
    } else {
        rc = ferry_s3_upload_part(c->env.dst, &a, unit_put_done, u, &u->put_op, &e);
    }
    if (rc != FERRY_OK) {
        u->put_op = NULL;
        copy_unit_error(u, rc, &e);
        return rc;
    }
    u->ops++;
    return FERRY_OK;
}

static void unit_get_done(void *arg, const ferry_s3_result_t *r)
{
    unit_t *u = arg;
    u->get_op = NULL;
    u->ops--;
    if (r->rc != FERRY_OK) {
        copy_unit_error(u, r->rc, &r->err);
    } else if (u->got != u->len) {
        ferry_error_t e;
        ferry_error_set(&e, FERRY_ECHECKSUM,
                        "the source sent %llu bytes for a range of %llu: the object changed or "
                        "the store is misbehaving",
                        (unsigned long long)u->got, (unsigned long long)u->len);
        copy_unit_error(u, FERRY_ECHECKSUM, &e);
    } else if (!u->stopping) {
        ferry_error_t ve;
        u->get_ok = 1;
        if (u->c->plan.kind == FERRY_PLAN_SINGLE && copy_unit_verify_whole(u, &ve) != FERRY_OK) {
            copy_unit_error(u, ve.code, &ve);
        } else if (u->mode == UM_STREAM) {
            u->ring.eof = 1;
            if (u->put_paused && u->put_op) {
                u->put_paused = 0;
                ferry_s3_unpause(u->put_op);
            }
        } else if (u->mode == UM_BUF) {
            if (u->md5_on)
                copy_unit_md5_final(u);
            unit_start_put(u);
        }
    }
    if (u->ops == 0)
        unit_settle(u);
}

/* UploadPartCopy of the unit's range (If-Match the version copied). */
static void unit_start_pcopy(unit_t *u)
{
    ferry_copy_t *c = u->c;
    ferry_s3_args_t a;
    ferry_error_t e;
    unit_args(u, &a, 1);
    copy_args_copy_source(c, &a);
    a.copy_range_start = (int64_t)u->first;
    a.copy_range_end = (int64_t)(u->first + u->len - 1);
    a.copy_if_match = c->res.etag;
    int rc = ferry_s3_upload_part_copy(c->env.dst, &a, unit_put_done, u, &u->put_op, &e);
    if (rc != FERRY_OK) {
        copy_unit_error(u, rc, &e);
        unit_settle(u);
    } else {
        u->ops++;
    }
}

/* The unit's GET (ranged for a part, If-Match the version copied); a piped unit starts its
 * upload at once, a buffered one when the GET has finished (unit_get_done). */
static void unit_start_get(unit_t *u)
{
    ferry_copy_t *c = u->c;
    ferry_s3_args_t a;
    ferry_error_t e;
    unit_args(u, &a, 0);
    a.sink = unit_sink;
    a.if_match = c->res.etag[0] ? c->res.etag : NULL;
    if (c->plan.kind != FERRY_PLAN_SINGLE) {
        a.range_start = (int64_t)u->first;
        a.range_end = (int64_t)(u->first + u->len - 1);
    }
    int rc = ferry_s3_get(c->env.src, &a, unit_get_done, u, &u->get_op, &e);
    if (rc != FERRY_OK) {
        u->get_op = NULL;
        copy_unit_error(u, rc, &e);
        unit_settle(u);
        return;
    }
    u->ops++;
    if (u->mode == UM_STREAM)
        unit_start_put(u);
}

static ferry_copy_ck_stream_t stream_of(unit_mode_t m)
{
    switch (m) {
    case UM_BUF:
        return CK_STREAM_BUF;
    case UM_STREAM:
        return CK_STREAM_PIPE;
    case UM_VERIFY:
        return CK_STREAM_VERIFY;
    case UM_PCOPY:
        return CK_STREAM_PCOPY;
    default:
        return CK_STREAM_EMPTY;
    }
}

/* The stream's checks (ferry_copy_checks): what it hashes, what its request carries, what its
 * reply must confirm; the hashes it needs are started. FERRY_OK or FERRY_ENOMEM (the unit is
 * then freed by the caller). */
static int unit_hashers(unit_t *u, ferry_copy_ck_stream_t stream)
{
    ferry_copy_ck_t k;
    copy_checks_of(u->c, stream, &k);
    u->checks = k.checks;
    u->crc_mode = k.crc_mode;
    u->md5_on = k.md5_on;
    u->mp_on = k.mp_on;
    u->scrc_on = k.scrc_on;
    u->omd5_on = k.omd5_on && u->c->omd5_open;
    u->holdback = k.holdback;
    u->sent_md5 = k.send_md5;
    u->sent_crc32c = k.send_crc32c;
    int rc = u->md5_on ? ferry_md5_init(&u->md5) : FERRY_OK;
    if (rc == FERRY_OK && k.qetag_on) {
        rc = ferry_qetag_init(&u->qetag);
        u->qetag_on = rc == FERRY_OK;
    }
    return rc;
}

int copy_unit_start(ferry_copy_t *c, int pidx, unit_mode_t mode, uint64_t first, uint64_t len)
{
    unit_t *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return FERRY_ENOMEM;
    ferry_list_init(&u->link);
    u->c = c;
    u->pidx = pidx;
    u->mode = mode;
    u->first = first;
    u->len = len;
    u->mp_pos = first; /* units start on the source's part boundaries */
    int rc = unit_hashers(u, stream_of(mode));
    if (rc == FERRY_OK && c->qblk != NULL && u->qetag_on) /* first is block-aligned */
        u->qetag.blocks = c->qblk + first / FERRY_QETAG_BLOCK * 20;
    if (rc == FERRY_OK && mode == UM_BUF && len > 0 && (u->buf = malloc(len)) == NULL)
        rc = FERRY_ENOMEM;
    if (rc == FERRY_OK && mode == UM_STREAM)
        rc = ferry_ring_init_cached(&u->ring, c->env.ring_size);
    if (rc != FERRY_OK) {
        unit_free(u);
        return rc;
    }
    ferry_list_insert_head(&c->units, &u->link);
    c->running++;
    if (mode == UM_EMPTY) {
        u->get_ok = 1;
        copy_unit_md5_final(u);
        unit_start_put(u);
        if (u->ops == 0)
            unit_settle(u);
        return FERRY_OK;
    }
    if (mode == UM_PCOPY)
        unit_start_pcopy(u);
    else
        unit_start_get(u);
    return FERRY_OK;
}

/* Both requests of a unit have finished: check, record, release. */
static void unit_settle(unit_t *u)
{
    ferry_copy_t *c = u->c;
    ferry_list_remove(&u->link);
    c->running--;
    int rc = u->rc;
    ferry_error_t err = u->err;
    part_t *p = &c->parts[u->pidx];
    if (rc == FERRY_OK && u->mode == UM_VERIFY)
        rc = copy_unit_check_resumed(u, p, &err);
    else if (rc == FERRY_OK && u->mode != UM_PCOPY)
        rc = copy_unit_check_dst(u, &err);
    if (rc == UNIT_RESEND) { /* an uploaded part to send again */
        copy_md5_part_reset(c, p);
        goto release;
    }
    if (rc == FERRY_OK) {
        if (u->mode != UM_VERIFY)
            c->res.bytes_moved += u->mode == UM_PCOPY ? 0 : u->len;
        {
            if (u->qetag_on && c->qblk != NULL) { /* writes this part's last block digest */
                char ignored[29];
                ferry_qetag_final(&u->qetag, ignored);
                u->qetag_on = 0;
            }
            p->state = PART_DONE;
            p->crc64 = u->crc64;
            p->scrc = u->scrc;
            memcpy(p->md5, u->md5_bin, 16);
            ferry_str_copy(p->crc32c, sizeof(p->crc32c), u->crc32c_b64);
            free(p->etag);
            p->etag = strdup(u->mode == UM_VERIFY ? p->listed_etag : u->etag);
            if (p->etag == NULL) {
                ferry_error_set(&err, FERRY_ENOMEM, "out of memory");
                copy_fail(c, FERRY_COPY_RETRY, &err);
            }
            c->parts_done++;
        }
    } else if (!c->failing && !c->canceled) {
        ferry_copy_status_t st = copy_classify(rc, &err);
        unsigned tries = ++p->tries;
        if (st == FERRY_COPY_RETRY && rc != FERRY_ECHANGED && rc != FERRY_ECHECKSUM &&
            tries < c->env.part_tries) {
            /* Retry this part alone, after a short backoff. */
            p->state = PART_PENDING;
            copy_md5_part_reset(c, p);
            p->not_before = copy_now_ms(c) + 200u * (1u << (tries < 6 ? tries : 6));
            ferry_log(FERRY_LOG_WARN, "copy.part_retry", "key", c->src_key, "error", err.msg, NULL);
        } else {
            copy_fail(c, st, &err);
        }
    }
release:
    unit_free(u);
    copy_pool_give(c->env.pool);
    copy_pump(c);
}

/* A small object read whole, hashed: verify it against what its response said, then PUT it
 * from memory (or settle the unit if that cannot start). */
static void get1_go(unit_t *u)
{
    ferry_error_t e;
    if (copy_unit_verify_whole(u, &e) != FERRY_OK) {
        copy_unit_error(u, e.code, &e);
        unit_settle(u);
        return;
    }
    copy_unit_md5_final(u);
    unit_start_put(u);
    if (u->ops == 0)
        unit_settle(u);
}

/* ---- small objects' MD5s, formed together
 *
 * A worker copying small objects has many read whole at once, and one MD5 is a serial chain
 * (~600 MB/s a core) while ferry_md5_update_many runs up to 16 of them side by side (AVX2).
 * copy_get1_unit queues a unit whose MD5 is still to be formed (md5_head) instead of hashing
 * it alone; the pool's idle handle runs at the loop's next turn, after the other responses the
 * same turn finished were queued too, hashes them all in one call and goes on with each unit
 * (get1_go). A queued unit counts the MD5 in ops, so nothing settles or frees it meanwhile; a
 * unit stopped meanwhile (its copy was cancelled or the worker drains) is settled unhashed. */
#define MB_CHUNK 64 /* MD5s per ferry_md5_update_many call */

/* Tests only: FERRY_TEST_MD5_CANCEL=TEXT stops every queued unit whose source key contains TEXT
 * as if its copy were cancelled while its MD5 waited (the path a drain's grace or a lost lease
 * takes, which timing alone rarely hits). Read once. */
static void mb_test_cancel(unit_t *u)
{
    static const char *text;
    static int read;
    if (!read) {
        text = getenv("FERRY_TEST_MD5_CANCEL");
        read = 1;
    }
    if (text == NULL || !*text || u->stopping || u->c->src_key == NULL ||
        strstr(u->c->src_key, text) == NULL)
        return;
    ferry_error_t e;
    ferry_error_set(&e, FERRY_EIO, "test: stopped while its MD5 waited (FERRY_TEST_MD5_CANCEL)");
    copy_unit_error(u, FERRY_EIO, &e);
}

static void mb_run(uv_idle_t *h)
{
    ferry_copy_pool_t *pool = h->data;
    uv_idle_stop(h);
    unit_t *list = pool->md5_head;
    pool->md5_head = pool->md5_tail = NULL;
    ferry_md5_t *m[MB_CHUNK];
    const void *p[MB_CHUNK];
    size_t n[MB_CHUNK];
    size_t k = 0;
    for (unit_t *u = list; u != NULL; u = u->mb_next) {
        mb_test_cancel(u);
        if (!u->stopping) {
            m[k] = &u->md5;
            p[k] = u->buf;
            n[k] = (size_t)u->len;
            k++;
        }
        if (k == MB_CHUNK || (u->mb_next == NULL && k > 0)) {
            ferry_hasher_md5_many(m, p, n, k); /* distinct units: distinct contexts */
            pool->md5_units += k;
            pool->md5_batches++;
            k = 0;
        }
    }
    /* Each unit goes on; one may end its copy and start others, which queue on the new list. */
    while (list != NULL) {
        unit_t *u = list;
        list = u->mb_next;
        u->mb_next = NULL;
        u->ops--;
        if (u->stopping) {
            if (u->ops == 0)
                unit_settle(u);
        } else {
            get1_go(u);
        }
    }
}

static void mb_closed(uv_handle_t *h)
{
    free(h);
}

/* Queue u (its MD5 unformed; u->buf holds its u->len bytes) for mb_run. FERRY_OK, or
 * FERRY_ENOMEM when the idle handle cannot be made (the caller hashes u alone). */
static int mb_queue(unit_t *u)
{
    ferry_copy_pool_t *pool = u->c->env.pool;
    uv_idle_t *h = pool->md5_idle;
    if (h == NULL) {
        if ((h = malloc(sizeof(*h))) == NULL)
            return FERRY_ENOMEM;
        if (uv_idle_init(u->c->env.loop, h) != 0) {
            free(h);
            return FERRY_ENOMEM;
        }
        h->data = pool;
        pool->md5_idle = h;
    }
    u->mb_next = NULL;
    if (pool->md5_tail)
        pool->md5_tail->mb_next = u;
    else
        pool->md5_head = u;
    pool->md5_tail = u;
    u->ops++;
    if (!uv_is_active((uv_handle_t *)h))
        uv_idle_start(h, mb_run);
    return FERRY_OK;
}

void copy_md5_batch_close(ferry_copy_pool_t *pool)
{
    if (pool->md5_idle != NULL)
        uv_close((uv_handle_t *)pool->md5_idle, mb_closed);
    pool->md5_idle = NULL;
}

/* The object is in fbuf: hash it as a buffered stream would have (its MD5 with other small
 * objects', mb_queue), verify it against what the same response said, then PUT it from memory.
 * Takes over fbuf and the pool stream. */
void copy_get1_unit(ferry_copy_t *c)
{
    unit_t *u = calloc(1, sizeof(*u));
    int rc = FERRY_ENOMEM;
    if (u != NULL) {
        ferry_list_init(&u->link);
        u->c = c;
        /* Hashed as a buffered stream that read the source, even at 0 bytes (the GET answered
         * them): Content-MD5 on the PUT, the ETag compared, the source's digests checked. */
        rc = unit_hashers(u, CK_STREAM_BUF);
    }
    if (rc != FERRY_OK) {
        if (u)
            unit_free(u);
        copy_get1_release(c);
        copy_finish_msg(c, FERRY_COPY_RETRY, rc, "cannot start the copy: %s", ferry_strerror(rc));
        return;
    }
    u->pidx = 0;
    u->mode = c->res.size == 0 ? UM_EMPTY : UM_BUF;
    u->len = u->got = c->res.size;
    u->buf = c->fbuf; /* ownership moves to the unit (freed with it) */
    c->fbuf = NULL;
    c->fslot = 0; /* the unit gives the stream back when it settles */
    u->get_ok = 1;
    unit_hash_but_md5(u, u->buf ? u->buf : "", (size_t)u->len);
    ferry_list_insert_head(&c->units, &u->link);
    c->running++;
    c->parts[0].state = PART_RUNNING;
    c->phase = PH_PARTS;
    if (u->md5_on && u->mode == UM_BUF && mb_queue(u) == FERRY_OK)
        return; /* mb_run goes on */
    if (u->md5_on)
        ferry_md5_update(&u->md5, u->buf ? u->buf : "", (size_t)u->len);
    get1_go(u);
}
