/* The live display of `ferry sync` and `ferry wait --progress`, the worker-log tail that puts
 * warnings above it, and the failure summary both commands end with (docs/cli.md, "What sync
 * shows"). One implementation for both commands.
 *
 * On a terminal the display is one line on stderr, redrawn in place ("\r", the line, "erase to
 * the end"), cut to the terminal's width so it never wraps. Two phases:
 *
 *   listing  source 12,000 objects 1.2 GiB · destination 9,000 objects 0.9 GiB · copied 210/3,000
 *   [#######.............]  35%  1,050/3,000 objects  105 MiB/300 MiB  12.5 MiB/s  ETA 16s  in
 *   flight 32  retries 0  failed 0
 *
 * Without a terminal the same text (no bar) is printed as a line every interval.
 *
 * Counts are "since the display started": finished objects and bytes come from the workers'
 * statistics (ferry/stats.h: results and bytes, monotonic, flushed every second) or the
 * ledger's counts, whichever is larger; what is left from the ledger (queued + copying, objects
 * and bytes). The total is finished + failed + left,
 * never shrinking; it settles when the scan is done.
 *
 * Not thread-safe: one display per process, used from one thread.
 */
#ifndef FERRY_CMD_PROGRESS_H
#define FERRY_CMD_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

#include "ferry/ledger.h"
#include "ferry/redis.h"

/* One reading of the task (progress_read fills it). Counts since progress_init's baseline. */
typedef struct {
    int listing; /* 1: the scan still lists (sync); 0: copying phase */
    long long src_objects, dst_objects, src_bytes, dst_bytes; /* listed so far (listing) */
    long long done, done_bytes; /* finished (done, skipped, deleted) and bytes copied */
    long long copied;           /* of done: copied (not skipped or deleted) */
    long long failed;           /* copies that ended failed */
    long long retries;          /* copies queued again + requests sent again */
    long long left, left_bytes; /* queued + copying now (left_bytes < 0: unknown) */
    long long in_flight;        /* copying now */
} progress_sample_t;

enum { PROGRESS_RATE_SAMPLES = 64 };

typedef struct {
    FILE *out; /* stderr */
    int tty;   /* 1: redraw in place; 0: a line every interval_ms */
    long long interval_ms;
    const char *label; /* "sync NAME" / "wait NAME", prefixes the non-terminal lines */
    int drawn;         /* a display line is on the screen now */
    long long start_ms, last_line_ms;
    /* baselines of the monotonic counters */
    long long base_l_done, base_l_copied, base_l_bytes; /* the ledger's */
    long long base_done, base_copied, base_bytes, base_failed, base_retries;
    int have_base;
    long long total, total_bytes; /* never shrink */
    progress_sample_t last;
    /* (ms, done, bytes) for the rate over the last 10 s */
    long long rate_t[PROGRESS_RATE_SAMPLES], rate_n[PROGRESS_RATE_SAMPLES],
        rate_b[PROGRESS_RATE_SAMPLES];
    int rate_head, rate_count;
} progress_t;

/* Set up p for out (a terminal when tty). */
void progress_init(progress_t *p, FILE *out, int tty, long long interval_ms, const char *label);

/* Read the task's state into s (listing fields untouched): the workers' statistics and the
 * ledger's counters (prefix "": the whole task; else left counts only keys under prefix and
 * left_bytes is -1). The first call sets the baseline. FERRY_OK or the Redis error (details on
 * r). */
int progress_read(progress_t *p, ferry_redis_t *r, ferry_ledger_t *led, const char *task,
                  const char *prefix, progress_sample_t *s);

/* Show s: redraw on a terminal, else a line when interval_ms passed since the last (or force). */
void progress_show(progress_t *p, const progress_sample_t *s, int force);

/* Print one line (n bytes, no newline needed) above the display and redraw it. Control bytes
 * and invalid UTF-8 are written as \xHH. */
void progress_print_above(progress_t *p, const char *line, size_t n);

/* Leave the display: keep_line 1 ends the drawn line with a newline (the final state stays on
 * the screen), 0 erases it (a failed scan draws no full bar). */
void progress_end(progress_t *p, int keep_line);

/* The text of the display for s into buf (bar: with the bar). Pure; for tests. */
void progress_format(const progress_t *p, const progress_sample_t *s, int bar, long long now_ms,
                     char *buf, size_t n);

/* ---- the worker-log tail ------------------------------------------------------------------ */

enum { PROGRESS_TAIL_LINE_MAX = 8192 };

typedef struct {
    int fd;       /* -1: none */
    int verbose;  /* 1: every line; 0: warnings, errors and lines that are not log lines */
    size_t n;     /* bytes of a line not finished yet */
    int skipping; /* in a line longer than the buffer: its tail is dropped */
    char buf[PROGRESS_TAIL_LINE_MAX];
} progress_tail_t;

/* Open path for reading from offset. FERRY_OK or FERRY_EIO (errno says why). */
int progress_tail_open(progress_tail_t *t, const char *path, long long offset, int verbose);

/* Print the complete lines appended since the last call that the tail shows, above p. */
void progress_tail_poll(progress_tail_t *t, progress_t *p);

void progress_tail_close(progress_tail_t *t);

/* 1 when the tail shows this line (without its newline) at verbose 0: a log line of level warn
 * or error (text or JSON format), or a line that is no log line at all. Pure. */
int progress_line_important(const char *line, size_t n);

/* ---- the failure summary ------------------------------------------------------------------- */

/* The group an error belongs to: err with the object's key (the longest part of key, from the
 * start or after a '/', that the text holds after a '/'), hex runs of 16 or more and numbers of
 * 5 digits or more replaced by "…", so the same failure of different objects reads the same.
 * Cut to fit out (n >= 4). Pure. */
void progress_error_group(const char *err, const char *key, char *out, size_t n);

/* Print the task's failed records under prefix grouped by error code (each group shows its
 * first record's text, progress_error_group), the largest groups first, with counts and up to
 * 5 keys each (escaped for the terminal), then the commands to list them
 * all and to retry them. Reads at most 20,000 failed records (says so when there are more).
 * FERRY_OK or the Redis error. */
int progress_failures(FILE *f, ferry_redis_t *r, const char *task, const char *prefix,
                      long long failed);

#endif
