/* ferry scheduler — one scan of a task: list the source and the destination in parallel,
 * merge-diff them (diff.h), join the differences with the ledger, enqueue jobs.
 *
 * Shape (docs/internals/scheduler.md):
 *   - A delimiter listing ("/") of both sides feeds a root diff; every common prefix it finds
 *     becomes a partition listed without a delimiter, up to opts.parallel partitions at once.
 *     Each partition has its own diff, so memory is (partitions in flight) x (buffer bound),
 *     whatever the number of objects. Listings page one page per request (max_pages = 1) so a
 *     lister can be paused between pages.
 *   - A side that runs more than opts.diff_buffer entries ahead of the other pauses; listing
 *     pauses while the task's bulk backlog is above opts.max_backlog and resumes below half.
 *   - NEW / CHANGED keys (and UNCHANGED ones in checksum mode) are collected into batches:
 *     one pipelined ledger lookup, then one pipelined ferry_ledger_enqueue per batch. Those in
 *     an archive storage class are recorded skipped with the reason (ferry_ledger_skip, also
 *     pipelined) instead, unless the ledger already says so for that version. A key
 *     already queued or copying at the same version is not queued again; a key the ledger
 *     says is done at the listed version but the destination lacks or differs is forced.
 *   - Delete candidates (task --delete) are spooled in Redis, never held in memory, and turned
 *     into delete jobs only after both listings completed without error and the empty-source
 *     guard passed. A failed or canceled scan deletes nothing.
 *
 * Ledger keys are full source keys (the source prefix included); a worker maps a key to the
 * destination by replacing the source prefix with the destination prefix. Delete jobs carry
 * the source key that no longer exists.
 *
 * Threading: a scan runs on one libuv loop and uses the (synchronous) Redis connection given
 * to it from that loop's thread; nothing here is thread-safe.
 */
#ifndef FERRY_SCHED_SCAN_H
#define FERRY_SCHED_SCAN_H

#include "ferry/error.h"
#include "ferry/redis.h"
#include "ferry/task.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a scan found and did. Counts are objects; bytes are source bytes queued. */
typedef struct ferry_scan_report_s {
    char task[FERRY_TASK_NAME_MAX + 1];
    int64_t started_ms, finished_ms;  /* epoch ms */
    long long src_listed, dst_listed; /* objects listed on each side */
    long long new_, changed, unchanged;
    long long skipped;         /* filtered (globs, size, age), archive class, unusable key */
    long long skipped_archive; /* of which: archive class (restore first), recorded in the
                                  ledger as skipped with the reason */
    long long in_flight;       /* differences already queued or copying at that version */
    long long stale;           /* listing older than the ledger's version (an event was faster) */
    long long queued;          /* jobs added to the bulk stream (copies) */
    long long queued_bytes;
    long long unverified; /* the task's done objects recorded src:unverified, at the end */
    long long extra;      /* destination-only keys */
    long long to_delete;  /* delete jobs queued (0 unless --delete and the guards pass) */
    long long partitions; /* prefixes listed as partitions */
    long long pauses;     /* times listing paused for the backlog */
    size_t peak_buffered; /* most diff entries buffered at once, all partitions */
    int dry_run;
    int flat;               /* 1: listed flat (one listing per side), 0: partitioned */
    int rc;                 /* FERRY_OK or the code that stopped the scan */
    char error[512];        /* why it stopped, where, and what to do ("" when rc == OK) */
    char guard[320];        /* why deletes were withheld, or "" */
    char skip_example[320]; /* one skipped key and the reason, or "" */
} ferry_scan_report_t;

typedef struct ferry_scan_opts_s {
    int parallel;             /* partitions listed at once; 0: 8 */
    unsigned max_keys;        /* page size; 0: the profile's (1000) */
    size_t diff_buffer;       /* entries one side may run ahead per partition; 0: 5000 */
    long long max_backlog;    /* pause above this many bulk jobs; 0: 500000; < 0: never */
    int batch;                /* lookups / enqueues per round trip; 0: 512 */
    int split;                /* 1: partition by delimiter prefixes, -1: one flat listing; 0: by
                                 the task's listing strategy (--src-listing / --dst-listing, else
                                 delimiter when both schemes are trusted with it, flat for s3c) */
    unsigned max_empty_pages; /* a listing stops with an error after this many empty truncated
                                 pages in a row; 0: 100 (FERRY_S3_LIST_MAX_EMPTY_PAGES) */
    int split_depth;          /* how many "/" levels to split; 0: 2 */
    int dry_run;              /* decide and count; write nothing to Redis */
    int allow_empty_source;   /* delete even when the source listed nothing */
    /* Size/age filters on source objects (and on destination objects of deletes). 0: the
     * task's stored value (ferry_task_t min_size …), which is 0 for no bound; a non-zero value
     * here replaces that one bound for this scan (command-line overrides). */
    uint64_t min_size, max_size;
    int64_t min_age_ms, max_age_ms; /* by last-modified */
    int64_t now_ms;                 /* clock for age filters; 0: real */
    /* Called after every listing page and batch, on the loop: a progress display or a test
     * hook. Return non-zero to cancel the scan. May be NULL. */
    int (*on_progress)(void *ud, const ferry_scan_report_t *r);
    void *ud;
    /* The lease this scan runs under (scheduler/lease.h), renewed every ttl/3 while the scan
     * runs; losing it cancels the scan. May be NULL. Borrowed until done. */
    struct ferry_lease_s *lease;
} ferry_scan_opts_t;

typedef struct ferry_scan_s ferry_scan_t;

/* Called once when the scan ended (finished, failed or canceled), after everything it owned
 * on the loop is closed; the report is borrowed for the call. Free the scan afterwards (in the
 * callback or later). */
typedef void (*ferry_scan_done_fn)(void *ud, const ferry_scan_report_t *r);

/* Start a scan of task t on loop. r (borrowed; must outlive the scan) is used from the loop's
 * thread. t is copied. Credentials are resolved here (side.h): a missing one is an error now.
 * *out new (free with ferry_scan_free after done). FERRY_OK; else err says what to fix and
 * done is never called. */
int ferry_scan_start(uv_loop_t *loop, ferry_redis_t *r, const ferry_task_t *t,
                     const ferry_scan_opts_t *opts, ferry_scan_done_fn done, void *ud,
                     ferry_scan_t **out, ferry_error_t *err);

/* Resolve both sides of t (profiles, endpoints, credentials) without any I/O: what
 * ferry_scan_start would refuse. FERRY_OK or the code with err saying what to fix. */
int ferry_scan_check(const ferry_task_t *t, ferry_error_t *err);

/* Stop the scan: listings are canceled, nothing is deleted, done follows with
 * FERRY_ECANCELED and why in the report. Idempotent. */
void ferry_scan_cancel(ferry_scan_t *s, const char *why);

/* The report so far (borrowed). */
const ferry_scan_report_t *ferry_scan_progress(const ferry_scan_t *s);

/* Accepts NULL. Only after done was called. */
void ferry_scan_free(ferry_scan_t *s);

/* Run one scan to completion on a private loop. rep gets the report. Returns rep->rc (or a
 * start error, with err set and rep->error too). */
int ferry_scan_run(ferry_redis_t *r, const ferry_task_t *t, const ferry_scan_opts_t *opts,
                   ferry_scan_report_t *rep, ferry_error_t *err);

/* ---- scan history (Redis list ferry:{T}:scans, newest first, 50 kept) ---------------------- */

/* The report as JSON (new reference). */
json_t *ferry_scan_report_json(const ferry_scan_report_t *r);

/* Record a finished scan, and when it ended (ferry:{T}:scan:last, epoch ms). */
int ferry_scan_history_add(ferry_redis_t *r, const ferry_scan_report_t *rep);

/* The newest n reports as a JSON array (*out new). */
int ferry_scan_history(ferry_redis_t *r, const char *task, size_t n, json_t **out);

/* One line for a terminal: "listed 2000/1990, new 10, changed 0, ... in 1.2s". */
void ferry_scan_report_line(const ferry_scan_report_t *r, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
