/* ferry — task definitions and the task registry (Redis hash "ferry:tasks": name -> JSON).
 *
 * A task is what to copy and how: two locations, a schedule and options. Secrets are never
 * part of it: credentials are named by profile only (--src-profile / --dst-profile).
 * Option parsing lives here, not in cmd/, so `ferry task add`, `ferry sync` and the HTTP API
 * validate the same way; every error names the bad option.
 */
#ifndef FERRY_TASK_H
#define FERRY_TASK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ferry/error.h"
#include "ferry/limits.h"
#include "ferry/redis.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FERRY_SCHEME_OSS = 0,
    FERRY_SCHEME_COS,
    FERRY_SCHEME_KODO,
    FERRY_SCHEME_S3,
    FERRY_SCHEME_S3C
} ferry_scheme_t;

/* SCHEME://BUCKET[/PREFIX] */
typedef struct ferry_location_s {
    ferry_scheme_t scheme;
    char bucket[64];
    char prefix[FERRY_KEY_MAX + 1];
} ferry_location_t;

/* Parse a location. FERRY_OK or FERRY_EINVAL with a message. Pure. */
int ferry_location_parse(const char *s, ferry_location_t *out, ferry_error_t *err);
const char *ferry_scheme_name(ferry_scheme_t s);

/* Durations and sizes in task options: ferry_parse_duration, ferry_parse_size (ferry/text.h). */

typedef enum {
    FERRY_COMPARE_SIZE = 0,
    FERRY_COMPARE_SIZE_MTIME,
    FERRY_COMPARE_CHECKSUM
} ferry_compare_t;

/* How a worker re-checks the source after a single-request copy (--src-recheck): did the
 * object change after it was read? */
typedef enum {
    FERRY_RECHECK_AUTO = 0, /* one listing per batch of copies where the store's listings are
                               documented strongly consistent (s3), else a HEAD per copy */
    FERRY_RECHECK_HEAD,     /* a HEAD per copy, on every store */
    FERRY_RECHECK_LIST      /* one listing per batch on this store too (keys it does not show
                               still get their HEAD) */
} ferry_recheck_mode_t;

#define FERRY_TASK_GLOBS_MAX 64

typedef struct ferry_task_side_s {
    char loc[1100]; /* as given; parsed into .parsed */
    ferry_location_t parsed;
    char endpoint[512];
    char region[64];
    int path_style;
    char profile[128];
    int checksum; /* ferry_checksum_mode_t (destination only: --dst-checksum) */
    int listing;  /* --src-listing / --dst-listing: 0 the scheme's default (ferry/profile.h
                     ferry_profile_t.listing_delimiter_ok), 1 delimiter, 2 flat */
    int recheck;  /* ferry_recheck_mode_t (source only: --src-recheck) */
} ferry_task_side_t;

typedef struct ferry_task_s {
    char name[FERRY_TASK_NAME_MAX + 1];
    ferry_task_side_t src, dst;
    int64_t every_ms; /* 0 when cron is set; default 1 h */
    char cron[128];
    int compare; /* ferry_compare_t; default size-mtime */
    char *include[FERRY_TASK_GLOBS_MAX];
    int n_include;
    char *exclude[FERRY_TASK_GLOBS_MAX];
    int n_exclude;
    char storage_class[64];
    int delete_;                  /* propagate deletions */
    int require_source_check;     /* --require-source-check: src:unverified copies fail */
    uint64_t part_size;           /* default 16 MiB */
    uint64_t multipart_threshold; /* default 64 MiB */
    uint32_t ledger_buckets;      /* fixed at creation */
    uint32_t ledger_shards;       /* --ledger-shards: 1..1024, <= buckets; fixed at creation */
    int64_t created_at;
    /* Scan filters (--min-size, --max-size, --min-age, --max-age): source objects outside are
     * skipped (not recorded). 0: no bound. A scan's own options may replace a bound for one
     * scan (scheduler/scan.h). */
    uint64_t min_size, max_size;
    int64_t min_age_ms, max_age_ms; /* by last-modified */
    /* --md5-parts: plain-MD5 sources above the threshold in parallel parts (src:unverified),
     * not one streamed PUT checked by MD5 (docs/internals/worker.md, What is verified). */
    int md5_parts;
} ferry_task_t;

/* Defaults; the struct owns the glob strings afterwards (release with ferry_task_clear). */
void ferry_task_init(ferry_task_t *t);
void ferry_task_clear(ferry_task_t *t);

/* One task option, as the command line spells it. The table in task.c is the only place that
 * knows the task options: ferry_task_parse_args applies them, the CLI prints their help. */
typedef struct ferry_task_opt_s {
    const char *name;    /* "--from" */
    const char *metavar; /* "LOC"; NULL for a flag */
    unsigned flags;      /* FERRY_TASK_OPT_SCAN */
    const char *help;    /* one line */
} ferry_task_opt_t;
/* The option may also replace the task's stored value for one scan (ferry task run, ferry
 * scheduler: the size and age filters, scan.h). */
#define FERRY_TASK_OPT_SCAN 1u

/* The i-th task option (0, 1, …; NULL past the end). Static storage. */
const ferry_task_opt_t *ferry_task_opt(size_t i);
/* The option named by arg ("--from" or "--from=VALUE"); NULL when it is not a task option. */
const ferry_task_opt_t *ferry_task_opt_find(const char *arg);

/* Parse task options (argv as after "task add NAME": --from … --to … etc.; "--opt=VALUE" or
 * "--opt VALUE"). Unknown options and bad values are FERRY_EINVAL with a message naming the
 * option. Then validates. */
int ferry_task_parse_args(ferry_task_t *t, int argc, char **argv, ferry_error_t *err);
/* The same without the validation of a whole task: apply just these options to t (the scan
 * overrides of ferry task run and ferry scheduler). */
int ferry_task_apply_args(ferry_task_t *t, int argc, char **argv, ferry_error_t *err);

/* Check a complete task (name, both locations, schedule, sizes). */
int ferry_task_validate(const ferry_task_t *t, ferry_error_t *err);

/* The task's filters, one definition for the scan and the event intake. Globs match rel, the
 * key relative to the source prefix (fnmatch without FNM_PATHNAME: '*' crosses '/'): include
 * patterns, when any, must match; exclude patterns must not. 1 when rel passes. Pure. */
int ferry_task_glob_ok(const ferry_task_t *t, const char *rel);
/* Size and age bounds (0: none). mtime_ms 0 (unknown) passes the age bounds. 1 when the
 * object passes. Pure. */
int ferry_filter_size_age_ok(uint64_t min_size, uint64_t max_size, int64_t min_age_ms,
                             int64_t max_age_ms, int64_t now_ms, uint64_t size, int64_t mtime_ms);

/* A valid task name: [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'. */
int ferry_task_name_valid(const char *name);

/* JSON form (new reference) and back. */
json_t *ferry_task_to_json(const ferry_task_t *t);
int ferry_task_from_json(const json_t *j, ferry_task_t *t, ferry_error_t *err);

/* Registry. put: FERRY_EEXISTS when the name is taken and replace is 0. get: FERRY_ENOTFOUND.
 * list: *names new (free each and the array). remove: deletes the task's every key (ledger,
 * queue, counters) too; FERRY_ENOTFOUND when unknown. Errors on the connection. */
int ferry_task_put(ferry_redis_t *r, const ferry_task_t *t, int replace);
int ferry_task_get(ferry_redis_t *r, const char *name, ferry_task_t *t);
int ferry_task_list(ferry_redis_t *r, char ***names, size_t *n);
int ferry_task_remove(ferry_redis_t *r, const char *name);

#ifdef __cplusplus
}
#endif
#endif
