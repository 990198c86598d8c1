/* ferry worker — what the copy*.c files share (internal; the API is copy.h).
 *
 * The copy of one object is split by what each part is about:
 *   copy.c         phases, the one ending (copy_finish), multipart create / resume / complete /
 *                  abort, server-side copy, start and cancel (the phase diagram is there)
 *   copy_source.c  the source version (HEAD, or one GET), its part size, headers, the plan
 *   copy_unit.c    streams (units) and the stream pool
 *   copy_verify.c  the comparisons that ferry_copy_checks (copy_checks.c) chose
 * Everything runs on the loop; nothing here is thread-safe. Ownership: a ferry_copy_t owns its
 * parts, units, header copies and digest arrays (freed in after_close, copy.c); a unit owns
 * its buffer, ring and hash states (freed when it settles, copy_unit.c).
 */
#ifndef FERRY_WORKER_COPY_INT_H
#define FERRY_WORKER_COPY_INT_H

#include "copy.h"
#include "copy_checks.h"
#include "hasher.h"
#include "plan.h"
#include "ring.h"

#include "ferry/check.h"
#include "ferry/ledger.h"
#include "ferry/list.h"

#include <stdint.h>
#include <sys/types.h>

#define MAX_HDRS    48
#define UNIT_RESEND 1 /* unit_check_resumed: the uploaded part differs, send it again */

/* A stream in flight: one source GET (or none) and one destination request. */
typedef enum {
    UM_BUF = 0, /* GET whole into buf, then PUT/UploadPart from memory with Content-MD5 */
    UM_STREAM,  /* GET -> ring -> PUT/UploadPart, both running */
    UM_VERIFY,  /* resume: re-read an uploaded part to hash it, no upload */
    UM_PCOPY,   /* UploadPartCopy */
    UM_EMPTY    /* zero bytes: no GET */
} unit_mode_t;

/* A part of the plan (a single-request copy has one). */
typedef enum {
    PART_PENDING = 0, /* to start (again), not before not_before */
    PART_RUNNING,     /* a unit is on it */
    PART_DONE         /* uploaded and checked (or, on a resume, re-read and compared) */
} part_state_t;

/* The ordered MD5 of one copy (copy_md5.c), apart from the copy so that it can outlive it:
 * md5 belongs to the hasher thread while blocks of it are out (out > 0), to the loop otherwise.
 * c is the copy, or NULL once the copy ended: then the last block handed back frees this.
 * out and c are touched by the loop thread only. */
typedef struct ohash_s {
    ferry_md5_t md5;
    unsigned out; /* blocks at the hasher */
    ferry_copy_t *c;
} ohash_t;

/* Bytes of a part held for the ordered MD5 (copy_md5.c): a chain of blocks in source order.
 * A block handed to the hasher is off its part's chain and belongs to the hasher until it is
 * handed back (hi, oh). */
typedef struct hold_blk_s {
    struct hold_blk_s *next;
    size_t len; /* bytes in data */
    ferry_hasher_item_t hi;
    ohash_t *oh;
    char data[]; /* HOLD_BLK bytes */
} hold_blk_t;

typedef struct part_s {
    uint64_t first, len;
    part_state_t state;
    uint8_t listed;
    unsigned tries;
    uint64_t not_before; /* loop ms */
    uint64_t crc64;
    uint32_t scrc; /* CRC32C of the source bytes read (a FULL_OBJECT source CRC32C) */
    uint8_t md5[16];
    char *etag;             /* the destination's part ETag (owned) */
    char *listed_etag;      /* ListParts (owned) */
    char crc32c[16];        /* base64 CRC32C the destination verified (trailer mode) */
    char listed_crc32c[16]; /* ListParts' <ChecksumCRC32C> */
    /* The ordered MD5 (copy_md5.c): the part's first ohashed bytes are in the copy's MD5 (ocrc:
     * their CRC32C, to check a second read of them against); the next held bytes were read
     * ahead of the hash and wait in hold (owned, counted in the pool's held). */
    uint64_t ohashed, held;
    uint32_t ocrc;
    uint8_t hold_mark; /* started ahead of the hash: 1 its length reserved, 2 the loose one */
    hold_blk_t *hold, *hold_tail;
} part_t;

typedef struct unit_s unit_t;
struct unit_s {
    ferry_copy_t *c;
    ferry_list_t link; /* in c->units */
    int pidx;          /* part index, -1 for a single-request copy */
    unit_mode_t mode;
    uint64_t first, len, got;
    char *buf;
    ferry_ring_t ring;
    ferry_s3_op_t *get_op, *put_op;
    int ops; /* callbacks outstanding */
    int get_ok, get_paused, put_paused, stopping;
    int holdback, verified; /* single PUT: keep the last byte until the source CRC matched */
    uint64_t sent;
    int rc;
    ferry_error_t err;
    uint64_t crc64;
    uint32_t crc32c;
    ferry_md5_t md5;
    int md5_on;   /* off for parts whose integrity rides on CRC32C (trailer mode) */
    int crc_mode; /* a part of a CRC32C upload: the destination echoes its CRC32C */
    int md5_done; /* md5_bin holds the final digest (taken early to check the source) */
    /* The source's own multipart boundaries (c->mp_psize): one MD5 per source part, written
     * to c->mpd as each part's last byte passes. mp_pos is the absolute object offset. */
    int mp_on, mp_open;
    uint64_t mp_pos;
    ferry_md5_t mp_md5;
    uint32_t mp_crc; /* the current source part's CRC32C (c->mpc, a COMPOSITE source CRC32C) */
    int scrc_on;     /* CRC32C of every byte read, for a FULL_OBJECT source CRC32C */
    uint32_t scrc;
    int qetag_on;
    ferry_qetag_t qetag;
    /* The ordered MD5 (copy_md5.c): this part's bytes go to the copy's whole-object MD5, are
     * held until the hash reaches them, or (below the part's ohashed: read before) are checked
     * against the first read by CRC32C (orecrc). hold_wait: the GET is paused in the pool's
     * list until held bytes drain (hnext, hprev). */
    int omd5_on, hold_wait;
    uint32_t orecrc;
    unit_t *hnext, *hprev;
    /* A small object's MD5 waiting to be formed with others' (copy_get1_unit, the pool's
     * md5_head list): the unit counts it in ops until mb_run has hashed it. */
    unit_t *mb_next;
    uint8_t md5_bin[16];
    char md5_b64[32], crc32c_b64[16];
    unsigned checks;           /* CK_* of this stream's own request (ferry_copy_checks) */
    int sent_md5, sent_crc32c; /* what the PUT/UploadPart carried */
    char echo[16];             /* the destination's x-amz-checksum-crc32c */
    char etag[FERRY_ETAG_MAX + 1];
};

typedef enum {
    PH_GET1 = 0, /* small object: one GET whole, no HEAD (see ferry_copy_req_t.use_hint) */
    PH_HEAD,
    PH_PROBE,
    PH_LISTPARTS,
    PH_CREATE,
    PH_PARTS,
    PH_COMPLETE,
    PH_SCOPY,
    PH_RECHECK,
    PH_ABORT,
    PH_END
} phase_t;

struct ferry_copy_s {
    ferry_copy_env_t env;
    char *src_key, *dst_key;
    size_t src_len, dst_len;
    char resume_id[FERRY_UPLOAD_ID_MAX + 1];
    int (*on_upload)(void *arg, const char *upload_id);
    ferry_copy_done_cb done;
    void *arg;
    ferry_copy_result_t res;
    const ferry_profile_t *sp, *dp;
    ferry_plan_t plan;
    char *hname[MAX_HDRS], *hval[MAX_HDRS];
    ferry_kv_t hdrs[MAX_HDRS];
    size_t nh;
    char upload_id[FERRY_UPLOAD_ID_MAX + 1];
    int upload_open;
    part_t *parts;
    uint32_t parts_done;
    ferry_list_t units; /* the running units (unit_t.link), newest first */
    unsigned running;
    phase_t phase;
    ferry_s3_op_t *op;
    int failing; /* an error is set in fail_*, units are being stopped */
    ferry_copy_status_t fail_status;
    ferry_error_t fail_err;
    int canceled;
    uv_timer_t timer;
    int timer_armed;
    int waiting; /* in the pool's wait list */
    ferry_copy_t *wnext, *wprev;
    int src_md5_etag; /* the source ETag is the content MD5 (single PUT semantics) */
    int in_pump;
    int64_t t0;
    /* PH_GET1: the whole object, read into fbuf (at most ring_size bytes). */
    char *fbuf;
    size_t fgot, fcap;
    uint64_t hint;
    int fslot; /* holds a pool stream for the GET1 */
    /* Kodo multipart: each 4 MiB block's SHA-1, written by the parts as they stream (they
     * start on block boundaries), combined into the source's qetag before Complete. Owned;
     * NULL when not checked. */
    uint8_t *qblk;
    uint64_t qblk_n;
    /* An S3 multipart source ETag "hex-N": the source's part size (from HEAD ?partNumber=1,
     * 0 when the boundaries are unknown) and one MD5 per source part (owned, N x 16). */
    uint32_t mp_n;
    uint64_t mp_psize;
    uint8_t *mpd;
    int mp_probed;
    /* The source's stored CRC32C (HEAD with x-amz-checksum-mode: ENABLED, s3 and s3c only):
     * CK_CRC_FULL, the CRC32C of the whole object (src_crc); or CK_CRC_COMPOSITE,
     * crc32c(concat(part CRC32Cs))-N over its own parts (src_crc_b64), checked when the part
     * boundaries are known (mpc: one CRC32C per source part, owned, mp_n entries). */
    int src_crc_kind;
    uint32_t src_crc;
    char src_crc_b64[24];
    uint32_t src_crc_parts; /* COMPOSITE: N */
    uint32_t *mpc;
    int no_ck_mode;     /* the source refused x-amz-checksum-mode (400): ask without it */
    ferry_copy_ck_t ck; /* the copy's checks, chosen once the plan is known (choose_checks) */
    struct recheck_batch_s *batch; /* PH_RECHECK by listing: the batch it waits in (copy.c) */
    /* The whole-object MD5 of a multipart copy formed in source order (copy_md5.c): opos bytes
     * hashed so far, all of the parts before oidx and the first ohashed of parts[oidx]. */
    ohash_t *oh; /* owned, see ohash_t */
    int omd5_open;
    int owait; /* every part uploaded: the verification waits for the hasher (copy_md5_settled) */
    uint64_t opos;
    uint32_t oidx;
    uint64_t oheld, oheld_peak; /* memory this copy holds now (whole blocks), and the most */
    unsigned oloose;            /* parts started ahead past the reservations (0 or 1) */
};

/* Block digests kept for a Kodo multipart qetag: 20 bytes per 4 MiB block, so the largest
 * object S3 holds (48.8 TiB) needs 250 MB; a copy that cannot hold them is src:unverified. */
#define QBLK_MAX ((FERRY_S3_MAX_OBJECT + FERRY_QETAG_BLOCK - 1) / FERRY_QETAG_BLOCK)

#define REQUIRE_MSG                                                                                \
    "no source check is possible for this object (the source gives no CRC-64, no qetag, no "       \
    "stored CRC32C and no MD5 or multipart-MD5 ETag ferry can recompute): drop "                   \
    "--require-source-check to copy it as src:unverified, or copy it from a store that exposes "   \
    "a checksum"

/* copy_unit.c: close the pool's small-object MD5 batch handle (ferry_copy_pool_close). */
void copy_md5_batch_close(ferry_copy_pool_t *pool);

/* The unit's MD5 of the bytes (final, taken once: md5_bin). */
static inline void copy_unit_md5_final(unit_t *u)
{
    if (!u->md5_done) {
        ferry_md5_final(&u->md5, u->md5_bin);
        u->md5_done = 1;
    }
}

/* ---- copy.c: helpers, endings, phases */
/* The loop's clock, ms (uv_now). */
uint64_t copy_now_ms(ferry_copy_t *c);
/* How an error ends a copy: FAILED (permanent: 4xx, denied, too big) or RETRY. */
ferry_copy_status_t copy_classify(int rc, const ferry_error_t *e);
/* Name a comparison that ran in res.checks (once). */
void copy_add_check(ferry_copy_t *c, const char *what);
/* Request arguments for the source (dst 0) or destination (dst 1) key. */
void copy_args_base(ferry_copy_t *c, ferry_s3_args_t *a, int dst);
/* Name the source key as the copy source of a CopyObject or UploadPartCopy in a. */
void copy_args_copy_source(ferry_copy_t *c, ferry_s3_args_t *a);
void copy_finish(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *err);
void copy_finish_msg(ferry_copy_t *c, ferry_copy_status_t st, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void copy_finish_error(ferry_copy_t *c, int rc, const ferry_error_t *e);
void copy_finish_not_found(ferry_copy_t *c, const ferry_s3_result_t *r);
void copy_finish_op_error(ferry_copy_t *c, const ferry_s3_result_t *r);
int copy_op_done(ferry_copy_t *c);
/* Stop: record st/e (the first failure wins), stop every unit and request; copy_pump
 * concludes when none is left. */
void copy_fail(ferry_copy_t *c, ferry_copy_status_t st, const ferry_error_t *e);
void copy_pump(ferry_copy_t *c);
/* One part_t per part of the plan. FERRY_OK or FERRY_ENOMEM. */
int copy_setup_parts(ferry_copy_t *c);
/* Enter PARTS and pump. */
void copy_start_parts(ferry_copy_t *c);
/* CreateMultipartUpload (with CRC32C as its checksum algorithm when parts carry one). */
void copy_start_create(ferry_copy_t *c);
void copy_start_scopy(ferry_copy_t *c);
int copy_start_listparts(ferry_copy_t *c);
/* Pump c from the loop soon (not from inside a curl callback). */
void copy_kick(ferry_copy_t *c);

/* ---- copy_source.c: the source version and the plan */
/* HEAD the source (with x-amz-checksum-mode where it has one). */
int copy_start_head(ferry_copy_t *c, ferry_error_t *e);
void copy_get1_release(ferry_copy_t *c);
int copy_get1_start(ferry_copy_t *c);

/* ---- copy_unit.c: the stream pool and units */
int copy_pool_take(ferry_copy_t *c);
void copy_pool_take_force(ferry_copy_t *c);
void copy_pool_unwait(ferry_copy_t *c);
void copy_pool_give(ferry_copy_pool_t *p);
/* A unit failed (the first error is kept) or is stopped: cancel its requests. */
void copy_unit_error(unit_t *u, int rc, const ferry_error_t *e);
/* Start a unit on part pidx ([first, first + len)) in mode. FERRY_OK (it settles later, even
 * when a request could not start) or FERRY_ENOMEM. */
int copy_unit_start(ferry_copy_t *c, int pidx, unit_mode_t mode, uint64_t first, uint64_t len);
void copy_get1_unit(ferry_copy_t *c);

/* ---- copy_verify.c: the choice of checks (ferry_copy_checks) applied, and the comparisons */
int copy_crc_parts(const ferry_copy_t *c);
int copy_dst_etag_is_md5(const ferry_copy_t *c);
int copy_qblk_wanted(const ferry_copy_t *c);
void copy_checks_of(const ferry_copy_t *c, ferry_copy_ck_stream_t stream, ferry_copy_ck_t *out);
void copy_choose_checks(ferry_copy_t *c);
/* A check failed: count it in res.checksum_failures, set err (FERRY_ECHECKSUM, the message
 * formatted) and return FERRY_ECHECKSUM. */
int copy_mismatch(ferry_copy_t *c, ferry_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int copy_unit_verify_whole(unit_t *u, ferry_error_t *err);
int copy_unit_check_resumed(unit_t *u, part_t *p, ferry_error_t *err);
int copy_unit_check_dst(unit_t *u, ferry_error_t *err);
int copy_verify_parts(ferry_copy_t *c, ferry_error_t *err);
int copy_complete_check(ferry_copy_t *c, const ferry_s3_result_t *r, ferry_error_t *err);
int copy_src_check_possible(const ferry_copy_t *c);

/* ---- copy_md5.c: the whole-object MD5 of a multipart copy, formed in source order on the
 * process's MD5 thread. Parts are read in parallel into hold blocks (in memory, process-wide at
 * most the pool's hold_max, blocks at the thread included); the blocks of the part next in
 * order go to the thread as they fill. The part the hash waits for can always start (copy.c
 * start_units) and its stream is never kept waiting by later parts' held bytes, so the hash
 * always progresses (the argument: the top of copy_md5.c). */
#define HOLD_BLK     (1u << 20)
#define HOLD_DEFAULT (64ull << 20)
/* Start the MD5 (the plan is multipart and c->ck has CK_SRC_MD5). FERRY_OK or FERRY_ENOMEM. */
int copy_md5_begin(ferry_copy_t *c);
/* The part the hash waits for (its index), or -1 when none (no ordered MD5, or all hashed). */
int copy_md5_next_part(const ferry_copy_t *c);
/* May part i, after the one the hash waits for, start now (its length reserved within the cap
 * on held bytes, or the copy's one part allowed past it)? Then, once it started,
 * copy_md5_started_ahead takes the reservation. */
int copy_md5_room(const ferry_copy_t *c, uint32_t i);
void copy_md5_started_ahead(ferry_copy_t *c, uint32_t i);
/* A unit's next n bytes arrive (before they are taken): 1 to take them, 0 when they would pass
 * the cap on held bytes: the unit's GET must pause (it is woken when held bytes drain). */
int copy_md5_admit(unit_t *u, size_t n);
/* Take the unit's next n bytes (at part offset u->got): hold (and hand to the MD5 thread), or
 * check against the first read. FERRY_OK, or FERRY_ECHECKSUM / FERRY_ENOMEM with err set. */
int copy_md5_feed(unit_t *u, const char *p, size_t n, ferry_error_t *err);
/* The part goes back to pending (its unit failed, or a resumed part is sent again): drop what
 * it held (it is read again). */
void copy_md5_part_reset(ferry_copy_t *c, part_t *p);
/* A unit ends: out of the pool's wait list. */
void copy_md5_unit_gone(unit_t *u);
/* Every part uploaded: hand what is still held to the hasher; 1 when the hasher has handed
 * every block of the copy back (copy_md5_verify may run), 0 when the copy must wait: it is
 * kicked (copy_kick) when the last block comes back. */
int copy_md5_settled(ferry_copy_t *c);
/* Every part uploaded and settled: the MD5 of all the bytes against the source's ETag
 * (src:md5). */
int copy_md5_verify(ferry_copy_t *c, ferry_error_t *err);
/* The copy ends: drop everything held, free the MD5. Idempotent. */
void copy_md5_end(ferry_copy_t *c);

#endif
