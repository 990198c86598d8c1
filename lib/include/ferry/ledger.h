/* ferry — the ledger: one record per object key, in Redis, changed only by compare-and-set
 * Lua scripts that also keep the pending/failed indexes, the per-task counters and the per-key
 * copy lease consistent. Layout and encoding: docs/internals/ledger.md.
 *
 * A task's ledger is split into S shards (ledger_shards, fixed at creation, 1 by default).
 * Shard 0's keys have the hash tag {T} ("ferry:{T}:…"), shard s > 0's the tag {T/s.x}
 * (ferry_ledger_shard_tag). A record lives in shard (its bucket mod S) together with
 * everything a script touches with it (its bucket, the pending/failed indexes, counters,
 * copy lease and job streams of that shard), so every script stays within one hash slot while
 * one task spreads over Redis Cluster nodes. With S = 1 every key is "ferry:{T}:…", the
 * layout of ferry before shards. Per-task singletons (uploads, lease, scan state) are in
 * shard 0. docs/redis.md.
 *
 * Threading: a ferry_ledger_t borrows a ferry_redis_t and has the same one-thread rule.
 * Errors: functions return FERRY_OK or a FERRY_E* code; details are on the connection
 * (ferry_redis_error()).
 */
#ifndef FERRY_LEDGER_H
#define FERRY_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ferry/buf.h"
#include "ferry/redis.h"

#include "ferry/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_LEDGER_DEFAULT_BUCKETS 65536
#define FERRY_LEDGER_SHARDS_MAX      1024 /* --ledger-shards */
#define FERRY_LEDGER_TAG_MAX         96   /* a shard's hash tag, "T/s.x" */

/* The record states, origins and record slots are each listed once, here: the C enums, the
 * names and the constants the Lua scripts use (S_QUEUED, O_EVENT, F_SIZE, …: the prelude,
 * docs/internals/ledger.md) are all generated from these lists. Values are stored; never
 * renumber, only append. */
#define FERRY_STATE_LIST(X)                                                                        \
    X(QUEUED, 0, "queued")                                                                         \
    X(COPYING, 1, "copying")                                                                       \
    X(DONE, 2, "done")                                                                             \
    X(FAILED, 3, "failed")                                                                         \
    X(SKIPPED, 4, "skipped")                                                                       \
    X(DELETED, 5, "deleted")

#define FERRY_ORIGIN_LIST(X)                                                                       \
    X(SCAN, 0, "scan")                                                                             \
    X(EVENT, 1, "event")                                                                           \
    X(RETRY, 2, "retry")

/* The slots of a stored record, 1-based as in Lua: a record is a run of MessagePack values,
 * one per slot, trailing nils dropped (docs/internals/ledger.md). */
#define FERRY_SLOT_LIST(X)                                                                         \
    X(STATE, 1)           /* ferry_state_t */                                                      \
    X(SIZE, 2)            /* bytes */                                                              \
    X(MTIME, 3)           /* source Last-Modified / event time, unix s */                          \
    X(ETAG, 4)            /* source etag, packed (ferry_etag_pack) */                              \
    X(CRC64, 5)           /* source CRC-64, 8 bytes big-endian */                                  \
    X(DST_ETAG, 6)        /* destination etag, packed; true = the source MD5, quoted */            \
    X(ATTEMPTS, 7)        /* copies started */                                                     \
    X(ORIGIN, 8)          /* ferry_origin_t */                                                     \
    X(QUEUED_AT, 9)       /* unix s */                                                             \
    X(STARTED_AFTER, 10)  /* started_at - queued_at, s */                                          \
    X(FINISHED_AFTER, 11) /* finished_at - started_at (or queued_at), s */                         \
    X(DURATION_MS, 12)    /* the copy's duration */                                                \
    X(ERROR, 13)          /* text */                                                               \
    X(WORKER, 14)         /* consumer name */                                                      \
    X(UPLOAD_ID, 15)      /* open multipart upload */                                              \
    X(SEQ, 16)            /* source S3 sequencer */                                                \
    X(CHECKS, 17)         /* comma-separated checks of the last copy */

#define FERRY_LIST_ENUM_(prefix, name, val) prefix##name = (val),
#define FERRY_LIST_ONE_(...)                +1

/* Each *_COUNT is the number of entries in its list (values are 0..COUNT-1 for states and
 * origins, 1..COUNT for slots; ledger.c checks that at compile time). */
typedef enum {
    FERRY_STATE_COUNT = 0 FERRY_STATE_LIST(FERRY_LIST_ONE_),
#define FERRY_STATE_ENUM_(name, val, text) FERRY_LIST_ENUM_(FERRY_STATE_, name, val)
    FERRY_STATE_LIST(FERRY_STATE_ENUM_)
#undef FERRY_STATE_ENUM_
} ferry_state_t;

typedef enum {
    FERRY_ORIGIN_COUNT = 0 FERRY_ORIGIN_LIST(FERRY_LIST_ONE_),
#define FERRY_ORIGIN_ENUM_(name, val, text) FERRY_LIST_ENUM_(FERRY_ORIGIN_, name, val)
    FERRY_ORIGIN_LIST(FERRY_ORIGIN_ENUM_)
#undef FERRY_ORIGIN_ENUM_
} ferry_origin_t;

typedef enum {
    FERRY_SLOT_COUNT = 0 FERRY_SLOT_LIST(FERRY_LIST_ONE_),
#define FERRY_SLOT_ENUM_(name, val) FERRY_LIST_ENUM_(FERRY_SLOT_, name, val)
    FERRY_SLOT_LIST(FERRY_SLOT_ENUM_)
#undef FERRY_SLOT_ENUM_
} ferry_slot_t;

/* "queued", …; "?" for an unknown value. */
const char *ferry_state_name(int state);
/* FERRY_OK or FERRY_EINVAL. */
int ferry_state_parse(const char *s, ferry_state_t *out);
const char *ferry_origin_name(int origin);
int ferry_origin_parse(const char *s, ferry_origin_t *out);

/* One object's record. Strings are "" when absent; times are unix seconds, 0 when unset. */
typedef struct ferry_record_s {
    char key[FERRY_KEY_MAX + 1];
    int state; /* ferry_state_t */
    uint64_t size;
    int64_t src_mtime;
    char src_etag[FERRY_ETAG_MAX + 1];
    int has_crc64;
    uint64_t src_crc64;
    char dst_etag[FERRY_ETAG_MAX + 1];
    char seq[FERRY_SEQ_MAX + 1]; /* source sequencer (events), the CAS tie-break */
    uint32_t attempts;
    int origin; /* ferry_origin_t */
    int64_t queued_at, started_at, finished_at;
    int64_t duration_ms; /* -1 when unset */
    char error[FERRY_ERRMSG_MAX + 1];
    char worker[FERRY_WORKER_MAX + 1];
    char upload_id[FERRY_UPLOAD_ID_MAX + 1];
    /* The checks the last copy ran, comma-separated ("src:crc64,dst:content-md5"); "" for
     * records written before the field existed or never copied. */
    char checks[FERRY_CHECKS_MAX + 1];
} ferry_record_t;

/* Reset to an empty record (duration_ms -1). */
void ferry_record_init(ferry_record_t *rec);

/* Decode a stored record value (the bytes the Lua scripts write). Pure and bounded: any input
 * gives FERRY_OK or FERRY_EPARSE, never a crash. key may be NULL (then rec->key is ""). */
int ferry_record_decode(const char *key, size_t klen, const void *buf, size_t n,
                        ferry_record_t *rec);

/* Encode a record the way the Lua scripts do (tests, benchmarks, fixtures). Appends to out. */
int ferry_record_encode(const ferry_record_t *rec, ferry_buf_t *out);

/* Etag packing used in the stored record and on the scripts' argv: hex etags (bare or
 * quoted, either case) become binary; anything else is kept as text. Pure. */
size_t ferry_etag_pack(const char *etag, uint8_t *out, size_t cap);
int ferry_etag_unpack(const uint8_t *in, size_t n, char *out, size_t cap);

/* Order two S3 sequencers as AWS documents it: right-pad the shorter with '0', then compare
 * as strings (both hex, same case as S3 sends). <0, 0, >0. Pure. */
int ferry_seq_cmp(const char *a, const char *b);

/* 1 when a checks list names src:unverified (no read-side check was possible). Pure. */
int ferry_checks_unverified(const char *checks);

/* The record as the JSON object of docs/cli.md (new reference; NULL on allocation failure).
 * "checks" is a JSON array of the record's checks ([] when none). "error_code" is the error's
 * code (ferry/errcode.h: the stored "[code] " prefix, or the classifier's code for a text
 * without one; null without an error) and "error" the text after the code. */
json_t *ferry_record_to_json(const char *task, const ferry_record_t *rec);

/* Format unix seconds as 2026-08-13T06:45:43Z; "" for 0. Parse the same form (and a bare
 * integer) back. */
void ferry_time_format(int64_t t, char *buf, size_t n);
int ferry_time_parse(const char *s, int64_t *out);

/* ---- the ledger of one task ----------------------------------------------------------------- */

typedef struct ferry_ledger_s ferry_ledger_t;

/* Open the ledger of task (name validated: [A-Za-z0-9._-]{1,64}). buckets: the number of hash
 * buckets the records are spread over (from the task's config; 0 means the default). r is
 * borrowed and must outlive the ledger. *out new, free with ferry_ledger_free. */
int ferry_ledger_open(ferry_redis_t *r, const char *task, uint32_t buckets, ferry_ledger_t **out);
/* The same for a ledger of `shards` shards (the task's ledger_shards; 0 means 1; at most
 * FERRY_LEDGER_SHARDS_MAX and at most the buckets: FERRY_EINVAL otherwise). ferry_ledger_open
 * is this with one shard. Computes the shards' tags once (about S CRC16s per shard). */
int ferry_ledger_open_sharded(ferry_redis_t *r, const char *task, uint32_t buckets, uint32_t shards,
                              ferry_ledger_t **out);
void ferry_ledger_free(ferry_ledger_t *l); /* NULL accepted */

/* Borrowed accessors. */
ferry_redis_t *ferry_ledger_redis(const ferry_ledger_t *l);
const char *ferry_ledger_task(const ferry_ledger_t *l);
uint32_t ferry_ledger_buckets(const ferry_ledger_t *l);
uint32_t ferry_ledger_shards(const ferry_ledger_t *l);

/* The shard of an object key: its bucket mod the shards (0 with one shard). Pure. */
uint32_t ferry_ledger_shard_of(const ferry_ledger_t *l, const char *key);

/* The hash tag of shard s of a task with `shards` shards, into buf (n bytes; a tag is at most
 * FERRY_LEDGER_TAG_MAX): "T" for shard 0, and for s > 0 "T/s.x" with the smallest x >= 0 whose
 * Redis Cluster slot, counted from the slot of "T", falls in [s*16384/S, (s+1)*16384/S). So
 * the tags are deterministic (every reader computes the same), each shard has its own slot,
 * and the shards spread evenly over the slot space. FERRY_OK, FERRY_EINVAL (bad task name,
 * s >= shards, shards outside 1..FERRY_LEDGER_SHARDS_MAX) or FERRY_ERANGE (buf too small). */
int ferry_ledger_shard_tag(const char *task, uint32_t s, uint32_t shards, char *buf, size_t n);

/* "ferry:{<shard s's tag>}:<suffix>" into buf: FERRY_OK, FERRY_EINVAL (s out of range) or
 * FERRY_ERANGE. For the queue (q:event, q:bulk, q:dead, cnt of each shard). */
int ferry_ledger_shard_key(const ferry_ledger_t *l, uint32_t s, const char *suffix, char *buf,
                           size_t n);

/* Which bucket a key's record lives in (FNV-1a 64 mod buckets). Pure. */
uint32_t ferry_ledger_bucket_of(const char *key, size_t klen, uint32_t buckets);

/* One object's record: FERRY_OK, FERRY_ENOTFOUND, or a Redis error. */
int ferry_ledger_get(ferry_ledger_t *l, const char *key, ferry_record_t *rec);

/* Look up n records in one pipelined round trip (the scan's ledger join). recs[i] and
 * found[i] (1 when a record exists) are written for each key; recs is caller-owned, n entries.
 * FERRY_OK; FERRY_EINVAL for an empty or over-long key; a Redis error; FERRY_EPARSE for a
 * malformed stored record (the others are still filled). */
int ferry_ledger_get_many(ferry_ledger_t *l, const char *const *keys, size_t n,
                          ferry_record_t *recs, int *found);

/* What a producer (scan, event, retry) saw of a source object. */
typedef struct ferry_item_s {
    const char *key;
    uint64_t size;
    int64_t mtime;    /* unix seconds; 0 = unknown version (always worth a look) */
    const char *etag; /* may be NULL */
    const char *seq;  /* event sequencer, may be NULL */
    int has_crc64;
    uint64_t crc64;
    int origin;    /* ferry_origin_t */
    int op_delete; /* 1: the source object was deleted */
    int force;     /* ferry_force_t */
} ferry_item_t;

/* What an enqueue does with an item at the version the record already has (an older one is
 * always STALE, a newer one always queued). */
typedef enum {
    FERRY_FORCE_NO = 0,     /* nothing (UNCHANGED), except a delete over a record it has not
                               reached (see ferry_ledger_enqueue) */
    FERRY_FORCE_ALWAYS = 1, /* re-queue it, whatever its state (retry) */
    FERRY_FORCE_IDLE = 2    /* re-queue it unless a job for it is on its way (queued or copying:
                               UNCHANGED) — the scan's "copy it again" when its destination
                               differs; here the same version compares etags as ferry_etag_eq
                               does (quotes and hex case aside), not byte for byte */
} ferry_force_t;

/* The bounds ferry_ledger_enqueue and ferry_ledger_skip check, for a producer that would
 * rather skip one bad item (a listing entry with an impossible size) than fail the batch:
 * FERRY_OK, or FERRY_EINVAL with why (cut to n) naming the key and the field. Pure. */
int ferry_item_validate(const ferry_item_t *it, char *why, size_t n);

/* Outcome of an enqueue, per item. */
typedef enum {
    FERRY_ENQ_QUEUED = 1,    /* record now queued and a job was added to the stream */
    FERRY_ENQ_UNCHANGED = 0, /* same version already done/skipped, or already queued/copying */
    FERRY_ENQ_STALE = -1     /* older than the recorded version: ignored */
} ferry_enq_result_t;

typedef enum { FERRY_QUEUE_EVENT = 0, FERRY_QUEUE_BULK = 1 } ferry_queue_kind_t;

/* Every item is validated before anything is sent (key 1..FERRY_KEY_MAX bytes, size <=
 * FERRY_SIZE_MAX, mtime <= FERRY_MTIME_MAX, etag <= FERRY_ETAG_MAX, seq <= FERRY_SEQ_MAX hex
 * digits): one bad item makes the call FERRY_EINVAL (the message names the key and the field)
 * with nothing written. The script checks the same bounds again before its first write.
 *
 * Versions: an item's mtime (the scan's Last-Modified, an event's time) and seq (an S3
 * event's sequencer) order it against the record: when both carry a sequencer, the
 * sequencers decide (ferry_seq_cmp); otherwise mtime, then etag. Older is STALE and changes
 * nothing. A delete at the same version as a record that is done, failed or skipped is
 * queued (a create and a delete within one second); over a queued or copying record it is a
 * no-op like any same-version item (the job on its way HEADs the source).
 *
 * Record and enqueue n items in one pipelined round trip (a CAS script per item adds the
 * stream job in the same atomic step as the ledger change, so a job exists exactly when the
 * record went to queued). results (may be NULL) gets one ferry_enq_result_t per item.
 * On a lost connection the whole batch is resent once: safe, because re-queueing is a no-op. */
int ferry_ledger_enqueue(ferry_ledger_t *l, ferry_queue_kind_t kind, const ferry_item_t *items,
                         size_t n, int *results);

/* Outcome of ferry_ledger_skip, per item. */
typedef enum {
    FERRY_SKIP_RECORDED = 1,  /* the record is now skipped at this version, with the reason */
    FERRY_SKIP_UNCHANGED = 0, /* already skipped at this version (the reason is refreshed) */
    FERRY_SKIP_STALE = -1,    /* older than the recorded version: ignored */
    FERRY_SKIP_BUSY = -2      /* this version is queued or copying: left alone */
} ferry_skip_result_t;

/* Record n source objects as skipped without creating a job — objects the scan will not copy
 * and the user should hear about (an archive storage class that must be restored first).
 * reasons[i] is what `ferry status` shows as the record's "error" (cut to FERRY_ERRMSG_MAX).
 * Compare-and-set like enqueue, one Lua step per item, pipelined like ferry_ledger_enqueue:
 * an older version is STALE; the same version already skipped is a no-op (UNCHANGED); the same
 * version queued or copying is BUSY; anything else (no record, a newer version, the same
 * version done/failed/deleted) becomes skipped: counters move, the key leaves the pending and
 * failed indexes, a newer version clears the dst etag and upload id. A job already in a stream
 * for the key finds the record skipped and is acked without copying. Only key, size, mtime,
 * etag, seq, crc64 and origin of the items are used. A later enqueue of the same version with
 * force (the scan does that when the object is copyable again) queues it normally.
 * results (may be NULL) gets one ferry_skip_result_t per item. A lost connection resends the
 * chunk once (re-recording is a no-op). */
int ferry_ledger_skip(ferry_ledger_t *l, const ferry_item_t *items, const char *const *reasons,
                      size_t n, int *results);

/* ---- transitions used by workers ------------------------------------------------------------ */

typedef enum {
    FERRY_START_COPY = 1,  /* record is now copying and the lease is ours: go */
    FERRY_START_DONE = 0,  /* nothing to do (done/skipped/deleted): ack the job */
    FERRY_START_BUSY = -2, /* another holder has the key's lease: leave the job for later */
    FERRY_START_GONE = -3  /* no record (task removed?): ack and drop */
} ferry_start_result_t;

/* queued|failed|copying → copying, attempts+1, under a copy lease (token, lease_ms). On
 * FERRY_START_COPY and FERRY_START_DONE, rec (may be NULL) receives the record — with the open
 * upload id for a multipart resume. */
int ferry_ledger_start(ferry_ledger_t *l, const char *key, const char *worker, const char *token,
                       int64_t lease_ms, int *result, ferry_record_t *rec);

/* ferry_ledger_start for many keys: one script call per 128 keys, so Redis runs one script
 * and updates the counters once for the lot. Each item's rc is what ferry_ledger_start would
 * have returned, result and rec (may be NULL) what it would have filled. Returns FERRY_OK when
 * every call was answered; on a connection error, items whose rc is FERRY_ERETRY have no known
 * outcome (their lease may be taken under their token: starting again with the same token is
 * allowed). */
typedef struct ferry_start_item_s {
    const char *key;     /* in */
    const char *token;   /* in */
    ferry_record_t *rec; /* in, may be NULL: receives the record as ferry_ledger_start's */
    int rc;              /* out */
    int result;          /* out: ferry_start_result_t */
} ferry_start_item_t;
int ferry_ledger_start_many(ferry_ledger_t *l, ferry_start_item_t *items, size_t n,
                            const char *worker, int64_t lease_ms);

/* Extend the lease if token still holds it: FERRY_OK, or FERRY_EBUSY when lost. */
int ferry_ledger_lease_renew(ferry_ledger_t *l, const char *key, const char *token,
                             int64_t lease_ms);

/* Release the lease if token holds it (idempotent). */
int ferry_ledger_lease_release(ferry_ledger_t *l, const char *key, const char *token);

/* The outcome of a copy attempt. */
typedef struct ferry_outcome_s {
    int state;     /* DONE, SKIPPED, DELETED, FAILED (final) or QUEUED (retryable) */
    uint64_t size; /* the source version actually copied */
    int64_t mtime;
    const char *etag;
    const char *seq;
    int has_crc64;
    uint64_t crc64;
    const char *dst_etag;
    const char *error; /* for FAILED / QUEUED */
    int64_t duration_ms;
    /* The checks that ran, comma-separated (worker/copy.h's result), or NULL; cut to
     * FERRY_CHECKS_MAX. A done outcome naming src:unverified counts in the task's
     * `unverified` counter. */
    const char *checks;
} ferry_outcome_t;

/* copying → outcome, compare-and-set: FERRY_OK; FERRY_ECONFLICT when the record is for a newer
 * source version than the one copied (the newer job is queued; just ack) — a record still
 * copying a version an event named takes the worker's HEAD as the truth instead; FERRY_EBUSY when
 * another token holds the lease; FERRY_ENOTFOUND without a record. Releases the lease. */
int ferry_ledger_finish(ferry_ledger_t *l, const char *key, const char *token,
                        const ferry_outcome_t *o);

/* ferry_ledger_finish for many keys: one script call (one round trip, one counter update) per
 * 64 keys. results[i] gets the code ferry_ledger_finish would have returned for items[i].
 * Returns FERRY_OK when every call was answered; on a connection error (FERRY_ENET, FERRY_ETIMEOUT)
 * the items whose results[i] is FERRY_ERETRY have no known outcome: some may have been applied.
 * Finishing one again with the same outcome is harmless (the record already holds it); if
 * another worker took the key meanwhile, it answers FERRY_EBUSY and that worker decides. */
typedef struct ferry_finish_item_s {
    const char *key;
    const char *token;
    const ferry_outcome_t *o;
} ferry_finish_item_t;
int ferry_ledger_finish_many(ferry_ledger_t *l, const ferry_finish_item_t *items, size_t n,
                             int *results);

/* Mark failed with error unless the record is done/skipped/deleted (dead letters). */
int ferry_ledger_fail(ferry_ledger_t *l, const char *key, const char *error);

/* Remember (or clear, upload_id "") the open multipart upload id while token holds the lease.
 * FERRY_EINVAL for an id longer than FERRY_UPLOAD_ID_MAX. */
int ferry_ledger_set_upload(ferry_ledger_t *l, const char *key, const char *token,
                            const char *upload_id);

/* One of the ledger's Lua scripts by name ("enqueue", "skip", "start", "finish", "fail",
 * "upload", "lease", "list"), or NULL: for tests that send a script arguments the C API would
 * refuse (the scripts validate again before their first write). Static storage. The scripts'
 * text is lib/store/lua/NAME.lua, embedded at build time. */
const ferry_redis_script_t *ferry_ledger_script(const char *name);

/* The Lua text every ledger script starts with: `local S_<STATE> = n` for each state,
 * O_<ORIGIN> for each origin, F_<SLOT> for each record slot, N_SLOTS, and the bounds KEY_MAX,
 * ETAG_MAX, SEQ_MAX, UPLOAD_ID_MAX, SIZE_MAX, MTIME_MAX, all generated from the lists above and
 * ferry/limits.h. Static storage; for the test that C and Lua agree. */
const char *ferry_ledger_lua_consts(void);

/* ---- queries ------------------------------------------------------------------------------- */

typedef struct ferry_counters_s {
    long long objects[FERRY_STATE_COUNT];
    long long bytes[FERRY_STATE_COUNT];
    long long unverified; /* done records whose checks include src:unverified */
} ferry_counters_t;

int ferry_ledger_counters(ferry_ledger_t *l, ferry_counters_t *c);
/* The counters from an HGETALL reply of the counters hash (as ferry_ledger_counters reads it,
 * for a caller that pipelines that read with others: ferry_stats_snapshots). Pure. */
void ferry_ledger_counters_parse(const redisReply *rep, ferry_counters_t *c);

/* Under prefix (""/NULL: all): queued+copying count, failed count. complete = both zero. */
int ferry_ledger_progress(ferry_ledger_t *l, const char *prefix, long long *pending,
                          long long *failed);

/* Page through records: state -1 for any. cursor is "" to start; on return next holds the
 * cursor of the following page ("" when finished). fn is called per record; it returns 0 to
 * go on. At most limit records per call. Records of one page are unordered across buckets for
 * state done/any; failed/queued/copying pages come from the indexes in key order. */
typedef int (*ferry_record_fn)(void *ud, const ferry_record_t *rec);
int ferry_ledger_list(ferry_ledger_t *l, int state, const char *prefix, const char *cursor,
                      size_t limit, ferry_record_fn fn, void *ud, char *next, size_t next_n);

/* Keys under prefix in the failed index (for retry), paged like ferry_ledger_list. */

/* The multipart uploads ferry started for this task: hash ferry:{T}:uploads, upload id ->
 * creation time (unix ms). The worker adds an id as soon as CreateMultipartUpload answers and
 * removes it when the upload is completed or aborted; the janitor aborts only uploads in it,
 * never another application's. FERRY_OK or a Redis error (FERRY_EINVAL for an empty or
 * over-long id). tracked: *yes 1 when the id is in the set. */
int ferry_ledger_upload_track(ferry_ledger_t *l, const char *upload_id);
int ferry_ledger_upload_untrack(ferry_ledger_t *l, const char *upload_id);
int ferry_ledger_upload_tracked(ferry_ledger_t *l, const char *upload_id, int *yes);

#ifdef __cplusplus
}
#endif
#endif
