/* ferry — task definitions, option parsing and the registry. See ferry/task.h. */
#include "ferry/task.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ferry/cron.h"
#include "ferry/text.h"
#include "ferry/queue.h"
#include "ferry/ledger.h"
#include "ferry/profile.h"
#include "keys_int.h"

static const char *const SCHEMES[] = {"oss", "cos", "kodo", "s3", "s3c"};
/* --dst-checksum values, indexed by ferry_checksum_mode_t */
static const char *const CHECKSUM_MODES[] = {"auto", "trailer", "md5"};
/* --src-recheck values, indexed by ferry_recheck_mode_t */
static const char *const RECHECKS[] = {"auto", "head", "list"};
static const char *const COMPARES[] = {"size", "size-mtime", "checksum"};
/* --src-listing / --dst-listing values, indexed by ferry_task_side_t.listing */
static const char *const LISTINGS[] = {"default", "delimiter", "flat"};

/* The index of v among names[from..n-1] in *out: FERRY_OK, or FERRY_EINVAL when none. */
static int mode_index(const char *const names[], int from, int n, const char *v, int *out)
{
    for (int i = from; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return FERRY_OK;
        }
    return FERRY_EINVAL;
}
#define NAMES_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A --dst-checksum / --src-recheck / --src-listing value to its mode ("default" is not a
 * listing one may name); FERRY_OK or FERRY_EINVAL. */
static int checksum_mode(const char *v, int *out)
{
    return mode_index(CHECKSUM_MODES, 0, NAMES_N(CHECKSUM_MODES), v, out);
}
static int recheck_mode(const char *v, int *out)
{
    return mode_index(RECHECKS, 0, NAMES_N(RECHECKS), v, out);
}
static int listing_mode(const char *v, int *out)
{
    return mode_index(LISTINGS, 1, NAMES_N(LISTINGS), v, out);
}

const char *ferry_scheme_name(ferry_scheme_t s)
{
    return (int)s >= 0 && (int)s < 5 ? SCHEMES[s] : "?";
}

int ferry_task_name_valid(const char *name)
{
    return name && keys_task_name_ok(name);
}

int ferry_location_parse(const char *s, ferry_location_t *out, ferry_error_t *err)
{
    memset(out, 0, sizeof(*out));
    const char *sep = s ? strstr(s, "://") : NULL;
    if (sep == NULL)
        return ferry_error_set(err, FERRY_EINVAL,
                               "\"%.60s\" is not a location: use SCHEME://BUCKET[/PREFIX] with "
                               "SCHEME oss, cos, kodo, s3 or s3c",
                               s ? s : "");
    size_t sl = (size_t)(sep - s);
    int scheme = -1;
    for (int i = 0; i < 5; i++)
        if (strlen(SCHEMES[i]) == sl && strncmp(s, SCHEMES[i], sl) == 0)
            scheme = i;
    if (scheme < 0)
        return ferry_error_set(
            err, FERRY_EINVAL,
            "unknown scheme \"%.*s\" in \"%.60s\": use oss, cos, kodo, s3 or s3c",
            (int)(sl > 16 ? 16 : sl), s, s);
    out->scheme = (ferry_scheme_t)scheme;
    const char *b = sep + 3;
    const char *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl < 1 || bl > 63)
        return ferry_error_set(err, FERRY_EINVAL, "bucket name in \"%.60s\" must be 1..63 bytes",
                               s);
    for (size_t i = 0; i < bl; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return ferry_error_set(err, FERRY_EINVAL,
                                   "bucket name in \"%.60s\" has a bad character '%c'", s, c);
    }
    memcpy(out->bucket, b, bl);
    if (slash) {
        const char *p = slash + 1;
        size_t pl = strlen(p);
        if (pl > FERRY_KEY_MAX)
            return ferry_error_set(err, FERRY_EINVAL, "prefix in \"%.60s\" is longer than %d bytes",
                                   s, FERRY_KEY_MAX);
        memcpy(out->prefix, p, pl);
    }
    return FERRY_OK;
}

void ferry_task_init(ferry_task_t *t)
{
    memset(t, 0, sizeof(*t));
    t->every_ms = 3600000;
    t->compare = FERRY_COMPARE_SIZE_MTIME;
    t->part_size = 16ULL << 20;
    t->multipart_threshold = 64ULL << 20;
    t->ledger_buckets = FERRY_LEDGER_DEFAULT_BUCKETS;
    t->ledger_shards = 1;
}

void ferry_task_clear(ferry_task_t *t)
{
    for (int i = 0; i < t->n_include; i++)
        free(t->include[i]);
    for (int i = 0; i < t->n_exclude; i++)
        free(t->exclude[i]);
    t->n_include = t->n_exclude = 0;
}

static int cron_valid(const char *c)
{
    int fields = 0, in = 0;
    for (const char *p = c; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            in = 0;
            continue;
        }
        if (!in) {
            fields++;
            in = 1;
        }
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              *p == '*' || *p == '/' || *p == ',' || *p == '-' || *p == '?'))
            return 0;
    }
    return fields == 5;
}

static int set_str(char *dst, size_t cap, const char *v, const char *opt, ferry_error_t *err)
{
    if (strlen(v) >= cap)
        return ferry_error_set(err, FERRY_EINVAL, "%s: value longer than %zu bytes", opt, cap - 1);
    memcpy(dst, v, strlen(v) + 1);
    return FERRY_OK;
}

static int add_glob(char **arr, int *n, const char *v, const char *opt, ferry_error_t *err)
{
    if (*n >= FERRY_TASK_GLOBS_MAX)
        return ferry_error_set(err, FERRY_EINVAL, "%s: at most %d patterns", opt,
                               FERRY_TASK_GLOBS_MAX);
    if (*v == '\0' || strlen(v) > 1024)
        return ferry_error_set(err, FERRY_EINVAL, "%s: pattern must be 1..1024 bytes", opt);
    arr[*n] = strdup(v);
    if (arr[*n] == NULL)
        return FERRY_ENOMEM;
    (*n)++;
    return FERRY_OK;
}

/* The task options: the one place that knows their names, whether they take a value, and what
 * they mean (the CLI's help prints these lines). apply_opt below gives each its effect. */
enum {
    TO_FROM,
    TO_TO,
    TO_EVERY,
    TO_CRON,
    TO_COMPARE,
    TO_INCLUDE,
    TO_EXCLUDE,
    TO_DELETE,
    TO_STORAGE_CLASS,
    TO_PART_SIZE,
    TO_MULTIPART_THRESHOLD,
    TO_MIN_SIZE,
    TO_MAX_SIZE,
    TO_MIN_AGE,
    TO_MAX_AGE,
    TO_REQUIRE_SOURCE_CHECK,
    TO_MD5_PARTS,
    TO_LEDGER_BUCKETS,
    TO_LEDGER_SHARDS,
    TO_ENDPOINT,
    TO_REGION,
    TO_PROFILE,
    TO_PATH_STYLE,
    TO_LISTING,
    TO_CHECKSUM,
    TO_RECHECK,
};

/* id, side (0 none, 's' source, 'd' destination), entry */
static const struct {
    int id;
    char side;
    ferry_task_opt_t o;
} TASK_OPTS[] = {
    {TO_FROM, 0, {"--from", "LOC", 0, "source: oss://, cos://, kodo://, s3://BUCKET[/PREFIX]"}},
    {TO_TO, 0, {"--to", "LOC", 0, "destination: s3://BUCKET[/PREFIX]"}},
    {TO_EVERY, 0, {"--every", "DUR", 0, "scan every DUR (at least 1s; default 1h)"}},
    {TO_CRON, 0, {"--cron", "EXPR", 0, "scan on a 5-field cron schedule (UTC) instead of --every"}},
    {TO_COMPARE,
     0,
     {"--compare", "MODE", 0,
      "size, size-mtime (default) or checksum: when a copied object counts as changed"}},
    {TO_INCLUDE, 0, {"--include", "GLOB", 0, "copy only keys matching GLOB (repeatable, 64 max)"}},
    {TO_EXCLUDE, 0, {"--exclude", "GLOB", 0, "skip keys matching GLOB (repeatable, 64 max)"}},
    {TO_DELETE, 0, {"--delete", NULL, 0, "delete destination objects whose source is gone"}},
    {TO_STORAGE_CLASS,
     0,
     {"--storage-class", "CLASS", 0, "destination storage class (e.g. STANDARD_IA)"}},
    {TO_PART_SIZE, 0, {"--part-size", "SIZE", 0, "multipart part size, 5MiB..5GiB (16MiB)"}},
    {TO_MULTIPART_THRESHOLD,
     0,
     {"--multipart-threshold", "SIZE", 0, "multipart above this size, 5MiB..5GiB (64MiB)"}},
    {TO_MIN_SIZE,
     0,
     {"--min-size", "SIZE", FERRY_TASK_OPT_SCAN, "skip source objects smaller than SIZE"}},
    {TO_MAX_SIZE,
     0,
     {"--max-size", "SIZE", FERRY_TASK_OPT_SCAN, "skip source objects larger than SIZE"}},
    {TO_MIN_AGE,
     0,
     {"--min-age", "DUR", FERRY_TASK_OPT_SCAN, "skip source objects modified less than DUR ago"}},
    {TO_MAX_AGE,
     0,
     {"--max-age", "DUR", FERRY_TASK_OPT_SCAN, "skip source objects modified more than DUR ago"}},
    {TO_REQUIRE_SOURCE_CHECK,
     0,
     {"--require-source-check", NULL, 0,
      "fail copies whose source bytes could not be checked (src:unverified)"}},
    {TO_MD5_PARTS,
     0,
     {"--md5-parts", NULL, 0,
      "kept for compatibility, changes nothing: large plain-MD5 sources are copied in parallel "
      "parts and still checked (src:md5)"}},
    {TO_LEDGER_BUCKETS,
     0,
     {"--ledger-buckets", "N", 0, "hash buckets of the ledger, 1..16777216 (fixed at creation)"}},
    {TO_LEDGER_SHARDS,
     0,
     {"--ledger-shards", "S", 0,
      "spread the ledger over S Redis Cluster slots, 1..1024 (1; fixed at creation)"}},
    {TO_ENDPOINT, 's', {"--src-endpoint", "URL", 0, "source endpoint (http:// or https://)"}},
    {TO_REGION, 's', {"--src-region", "REGION", 0, "source region"}},
    {TO_PROFILE, 's', {"--src-profile", "NAME", 0, "source credentials profile"}},
    {TO_PATH_STYLE, 's', {"--src-path-style", NULL, 0, "source: path-style URLs"}},
    {TO_LISTING, 's', {"--src-listing", "MODE", 0, "source listing: delimiter or flat"}},
    {TO_RECHECK,
     's',
     {"--src-recheck", "MODE", 0,
      "auto, head or list: how a copy re-checks the source afterwards (auto: listings on s3, "
      "a HEAD each elsewhere)"}},
    {TO_ENDPOINT, 'd', {"--dst-endpoint", "URL", 0, "destination endpoint (http:// or https://)"}},
    {TO_REGION, 'd', {"--dst-region", "REGION", 0, "destination region"}},
    {TO_PROFILE, 'd', {"--dst-profile", "NAME", 0, "destination credentials profile"}},
    {TO_PATH_STYLE, 'd', {"--dst-path-style", NULL, 0, "destination: path-style URLs"}},
    {TO_LISTING, 'd', {"--dst-listing", "MODE", 0, "destination listing: delimiter or flat"}},
    {TO_CHECKSUM,
     'd',
     {"--dst-checksum", "MODE", 0, "auto, trailer or md5: how uploads carry their checksum"}},
};
#define TASK_OPTS_N (sizeof(TASK_OPTS) / sizeof(TASK_OPTS[0]))

const ferry_task_opt_t *ferry_task_opt(size_t i)
{
    return i < TASK_OPTS_N ? &TASK_OPTS[i].o : NULL;
}

/* The entry of "--name" or "--name=value"; -1 when unknown. */
static int opt_index(const char *arg)
{
    size_t n = strcspn(arg, "=");
    for (size_t i = 0; i < TASK_OPTS_N; i++)
        if (strncmp(TASK_OPTS[i].o.name, arg, n) == 0 && TASK_OPTS[i].o.name[n] == '\0')
            return (int)i;
    return -1;
}

const ferry_task_opt_t *ferry_task_opt_find(const char *arg)
{
    int i = opt_index(arg);
    return i < 0 ? NULL : &TASK_OPTS[i].o;
}

/* Give option TASK_OPTS[k] (value v, NULL for a flag) its effect on t. */
static int apply_opt(ferry_task_t *t, size_t k, const char *v, int *saw_every, ferry_error_t *err)
{
    const char *o = TASK_OPTS[k].o.name;
    ferry_task_side_t *sd = TASK_OPTS[k].side == 'd' ? &t->dst : &t->src;
    int rc = FERRY_OK;
    switch (TASK_OPTS[k].id) {
    case TO_DELETE:
        t->delete_ = 1;
        break;
    case TO_REQUIRE_SOURCE_CHECK:
        t->require_source_check = 1;
        break;
    case TO_MD5_PARTS:
        t->md5_parts = 1;
        break;
    case TO_PATH_STYLE:
        sd->path_style = 1;
        break;
    case TO_CHECKSUM:
        if (checksum_mode(v, &t->dst.checksum) != FERRY_OK)
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "--dst-checksum: \"%.40s\" is not auto, trailer or md5", v);
        break;
    case TO_RECHECK:
        if (recheck_mode(v, &sd->recheck) != FERRY_OK)
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "--src-recheck: \"%.40s\" is not auto, head or list", v);
        break;
    case TO_LISTING:
        if (listing_mode(v, &sd->listing) != FERRY_OK)
            rc = ferry_error_set(err, FERRY_EINVAL, "%s: \"%.40s\" is not delimiter or flat", o, v);
        break;
    case TO_FROM:
        rc = set_str(t->src.loc, sizeof(t->src.loc), v, o, err);
        break;
    case TO_TO:
        rc = set_str(t->dst.loc, sizeof(t->dst.loc), v, o, err);
        break;
    case TO_EVERY: {
        int dr = ferry_parse_duration(v, &t->every_ms);
        if (dr == FERRY_ERANGE)
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "--every: \"%.40s\" is too long (each number at most "
                                 "1000000000, the sum under 292 million years)",
                                 v);
        else if (dr || t->every_ms < 1000)
            rc = ferry_error_set(
                err, FERRY_EINVAL,
                "--every: \"%.40s\" is not a duration of at least 1s (e.g. 1h, 15m)", v);
        *saw_every = 1;
        break;
    }
    case TO_CRON: {
        ferry_cron_t cr;
        ferry_error_t ce;
        if (!cron_valid(v) || strlen(v) >= sizeof(t->cron))
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "--cron: \"%.60s\" is not a 5-field cron expression", v);
        else if (ferry_cron_parse(v, &cr, &ce) != FERRY_OK)
            rc = ferry_error_set(err, FERRY_EINVAL, "--cron: %s", ce.msg);
        else
            rc = set_str(t->cron, sizeof(t->cron), v, o, err);
        break;
    }
    case TO_COMPARE: {
        int c = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(v, COMPARES[i]) == 0)
                c = i;
        if (c < 0)
            rc =
                ferry_error_set(err, FERRY_EINVAL,
                                "--compare: \"%.40s\" is not one of size, size-mtime, checksum", v);
        t->compare = c;
        break;
    }
    case TO_INCLUDE:
        rc = add_glob(t->include, &t->n_include, v, o, err);
        break;
    case TO_EXCLUDE:
        rc = add_glob(t->exclude, &t->n_exclude, v, o, err);
        break;
    case TO_STORAGE_CLASS:
        rc = set_str(t->storage_class, sizeof(t->storage_class), v, o, err);
        for (const char *p = v; rc == FERRY_OK && *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || *p == '_' || (*p >= '0' && *p <= '9')))
                rc = ferry_error_set(
                    err, FERRY_EINVAL,
                    "--storage-class: \"%.40s\" is not a storage class (e.g. STANDARD_IA)", v);
        break;
    case TO_PART_SIZE:
    case TO_MULTIPART_THRESHOLD: {
        uint64_t *dst = TASK_OPTS[k].id == TO_PART_SIZE ? &t->part_size : &t->multipart_threshold;
        if (ferry_parse_size(v, dst) || *dst < (5ULL << 20) || *dst > (5ULL << 30))
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "%s: \"%.40s\" must be a size from 5MiB to 5GiB", o, v);
        break;
    }
    case TO_MIN_SIZE:
    case TO_MAX_SIZE:
        if (ferry_parse_size(v, TASK_OPTS[k].id == TO_MIN_SIZE ? &t->min_size : &t->max_size) !=
            FERRY_OK)
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "%s: '%.40s' is not a size (examples: 10MiB, 1G; 0: no bound)", o,
                                 v);
        break;
    case TO_MIN_AGE:
    case TO_MAX_AGE:
        if (ferry_parse_duration(v, TASK_OPTS[k].id == TO_MIN_AGE ? &t->min_age_ms
                                                                  : &t->max_age_ms) != FERRY_OK)
            rc = ferry_error_set(
                err, FERRY_EINVAL,
                "%s: '%.40s' is not a duration (examples: 30s, 1h, 7d; 0: no bound)", o, v);
        break;
    case TO_LEDGER_BUCKETS: {
        char *e;
        unsigned long b = strtoul(v, &e, 10);
        if (*e || b < 1 || b > (1UL << 24))
            rc = ferry_error_set(err, FERRY_EINVAL, "--ledger-buckets: must be 1..16777216");
        t->ledger_buckets = (uint32_t)b;
        break;
    }
    case TO_LEDGER_SHARDS: {
        char *e;
        unsigned long b = strtoul(v, &e, 10);
        if (*e || *v == '\0' || *v == '-' || b < 1 || b > FERRY_LEDGER_SHARDS_MAX)
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "--ledger-shards: must be 1..%d (1 unless one task's ledger "
                                 "must spread over Redis Cluster nodes, docs/redis.md)",
                                 FERRY_LEDGER_SHARDS_MAX);
        else
            t->ledger_shards = (uint32_t)b;
        break;
    }
    case TO_ENDPOINT:
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            rc = ferry_error_set(err, FERRY_EINVAL,
                                 "%s: \"%.60s\" must be an http:// or https:// URL", o, v);
        else
            rc = set_str(sd->endpoint, sizeof(sd->endpoint), v, o, err);
        break;
    case TO_REGION:
        rc = set_str(sd->region, sizeof(sd->region), v, o, err);
        break;
    case TO_PROFILE:
        rc = set_str(sd->profile, sizeof(sd->profile), v, o, err);
        break;
    default:
        rc = ferry_error_set(err, FERRY_EINVAL, "unknown option %s", o);
    }
    return rc;
}

static int apply_args(ferry_task_t *t, int argc, char **argv, int *saw_every, ferry_error_t *err)
{
    int rc = FERRY_OK;
    for (int i = 0; i < argc && rc == FERRY_OK; i++) {
        const char *o = argv[i];
        if (strncmp(o, "--", 2) != 0)
            return ferry_error_set(err, FERRY_EINVAL, "unexpected argument \"%.60s\"", o);
        int k = opt_index(o);
        if (k < 0)
            return ferry_error_set(err, FERRY_EINVAL, "unknown option %.60s", o);
        const char *eq = strchr(o, '=');
        const char *v = eq ? eq + 1 : NULL;
        if (TASK_OPTS[k].o.metavar == NULL && eq) /* --delete=false must not mean --delete */
            return ferry_error_set(err, FERRY_EINVAL, "%s takes no value (drop '%.40s')",
                                   TASK_OPTS[k].o.name, eq);
        if (TASK_OPTS[k].o.metavar && v == NULL) {
            if (i + 1 >= argc)
                return ferry_error_set(err, FERRY_EINVAL, "%s needs a value", TASK_OPTS[k].o.name);
            v = argv[++i];
        }
        rc = apply_opt(t, (size_t)k, TASK_OPTS[k].o.metavar ? v : NULL, saw_every, err);
    }
    return rc;
}

int ferry_task_apply_args(ferry_task_t *t, int argc, char **argv, ferry_error_t *err)
{
    int saw_every = 0;
    return apply_args(t, argc, argv, &saw_every, err);
}

int ferry_task_parse_args(ferry_task_t *t, int argc, char **argv, ferry_error_t *err)
{
    int saw_every = 0;
    int rc = apply_args(t, argc, argv, &saw_every, err);
    if (rc)
        return rc;
    if (saw_every && t->cron[0])
        return ferry_error_set(err, FERRY_EINVAL,
                               "--every and --cron: give one schedule, not both");
    if (t->cron[0])
        t->every_ms = 0;
    rc = ferry_task_validate(t, err);
    if (rc == FERRY_OK) {
        /* Validated above, so these cannot fail: keep the parsed form, as a registry read
         * does, so no caller parses the locations again. */
        ferry_location_parse(t->src.loc, &t->src.parsed, NULL);
        ferry_location_parse(t->dst.loc, &t->dst.parsed, NULL);
    }
    return rc;
}

int ferry_task_validate(const ferry_task_t *t, ferry_error_t *err)
{
    if (!ferry_task_name_valid(t->name))
        return ferry_error_set(err, FERRY_EINVAL,
                               "task name \"%.70s\" must be 1..64 of A-Z a-z 0-9 . _ - "
                               "(not starting with . or -)",
                               t->name);
    if (t->src.loc[0] == '\0')
        return ferry_error_set(err, FERRY_EINVAL,
                               "--from is required (e.g. --from oss://bucket/prefix/)");
    if (t->dst.loc[0] == '\0')
        return ferry_error_set(err, FERRY_EINVAL,
                               "--to is required (e.g. --to s3://bucket/prefix/)");
    ferry_location_t l;
    ferry_error_t e;
    if (ferry_location_parse(t->src.loc, &l, &e))
        return ferry_error_set(err, FERRY_EINVAL, "--from: %s", e.msg);
    if (ferry_location_parse(t->dst.loc, &l, &e))
        return ferry_error_set(err, FERRY_EINVAL, "--to: %s", e.msg);
    if (t->every_ms == 0 && t->cron[0] == '\0')
        return ferry_error_set(err, FERRY_EINVAL, "--every or --cron: a schedule is required");
    if (t->part_size > t->multipart_threshold && t->multipart_threshold)
        return ferry_error_set(err, FERRY_EINVAL,
                               "--part-size must not exceed --multipart-threshold");
    if (t->min_age_ms < 0 || t->max_age_ms < 0)
        return ferry_error_set(err, FERRY_EINVAL, "--%s-age must not be negative",
                               t->min_age_ms < 0 ? "min" : "max");
    if (t->max_size && t->min_size > t->max_size)
        return ferry_error_set(err, FERRY_EINVAL,
                               "--min-size must not exceed --max-size: nothing would be copied");
    if (t->max_age_ms && t->min_age_ms > t->max_age_ms)
        return ferry_error_set(err, FERRY_EINVAL,
                               "--min-age must not exceed --max-age: nothing would be copied");
    if (t->ledger_shards < 1 || t->ledger_shards > FERRY_LEDGER_SHARDS_MAX ||
        t->ledger_shards > t->ledger_buckets)
        return ferry_error_set(err, FERRY_EINVAL,
                               "--ledger-shards must be 1..%d and at most --ledger-buckets",
                               FERRY_LEDGER_SHARDS_MAX);
    return FERRY_OK;
}

static void side_json(json_t *o, const char *pfx, const ferry_task_side_t *s)
{
    char k[32];
    snprintf(k, sizeof(k), "%s", pfx);
    json_object_set_new(o, k, json_string(s->loc));
    if (s->endpoint[0]) {
        snprintf(k, sizeof(k), "%s_endpoint", pfx);
        json_object_set_new(o, k, json_string(s->endpoint));
    }
    if (s->region[0]) {
        snprintf(k, sizeof(k), "%s_region", pfx);
        json_object_set_new(o, k, json_string(s->region));
    }
    if (s->path_style) {
        snprintf(k, sizeof(k), "%s_path_style", pfx);
        json_object_set_new(o, k, json_true());
    }
    if (s->profile[0]) {
        snprintf(k, sizeof(k), "%s_profile", pfx);
        json_object_set_new(o, k, json_string(s->profile));
    }
    if (s->checksum != FERRY_CHECKSUM_MODE_AUTO) {
        snprintf(k, sizeof(k), "%s_checksum", pfx);
        json_object_set_new(o, k, json_string(CHECKSUM_MODES[s->checksum]));
    }
    if (s->listing > 0 && s->listing < 3) {
        snprintf(k, sizeof(k), "%s_listing", pfx);
        json_object_set_new(o, k, json_string(LISTINGS[s->listing]));
    }
    if (s->recheck > FERRY_RECHECK_AUTO && s->recheck <= FERRY_RECHECK_LIST) {
        snprintf(k, sizeof(k), "%s_recheck", pfx);
        json_object_set_new(o, k, json_string(RECHECKS[s->recheck]));
    }
}

json_t *ferry_task_to_json(const ferry_task_t *t)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", json_string(t->name));
    side_json(o, "from", &t->src);
    side_json(o, "to", &t->dst);
    if (t->cron[0])
        json_object_set_new(o, "cron", json_string(t->cron));
    else
        json_object_set_new(o, "every_ms", json_integer(t->every_ms));
    json_object_set_new(o, "compare", json_string(COMPARES[t->compare]));
    json_t *inc = json_array(), *exc = json_array();
    for (int i = 0; i < t->n_include; i++)
        json_array_append_new(inc, json_string(t->include[i]));
    for (int i = 0; i < t->n_exclude; i++)
        json_array_append_new(exc, json_string(t->exclude[i]));
    json_object_set_new(o, "include", inc);
    json_object_set_new(o, "exclude", exc);
    if (t->storage_class[0])
        json_object_set_new(o, "storage_class", json_string(t->storage_class));
    json_object_set_new(o, "delete", json_boolean(t->delete_));
    if (t->require_source_check)
        json_object_set_new(o, "require_source_check", json_true());
    if (t->md5_parts)
        json_object_set_new(o, "md5_parts", json_true());
    json_object_set_new(o, "part_size", json_integer((json_int_t)t->part_size));
    json_object_set_new(o, "multipart_threshold", json_integer((json_int_t)t->multipart_threshold));
    json_object_set_new(o, "ledger_buckets", json_integer(t->ledger_buckets));
    json_object_set_new(o, "ledger_shards", json_integer(t->ledger_shards)); /* absent: 1 */
    json_object_set_new(o, "created_at", json_integer(t->created_at));
    /* Filters only when set, so tasks without them keep their stored form. */
    if (t->min_size)
        json_object_set_new(o, "min_size", json_integer((json_int_t)t->min_size));
    if (t->max_size)
        json_object_set_new(o, "max_size", json_integer((json_int_t)t->max_size));
    if (t->min_age_ms)
        json_object_set_new(o, "min_age_ms", json_integer(t->min_age_ms));
    if (t->max_age_ms)
        json_object_set_new(o, "max_age_ms", json_integer(t->max_age_ms));
    return o;
}

static int jstr(const json_t *j, const char *k, char *dst, size_t cap)
{
    const json_t *v = json_object_get(j, k);
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) >= cap)
        return -1;
    memcpy(dst, json_string_value(v), strlen(json_string_value(v)) + 1);
    return 0;
}

/* A non-negative integer member into *i or *u; absent leaves it. -1 when malformed. */
static int jnonneg(const json_t *j, const char *k, int64_t *i, uint64_t *u)
{
    const json_t *v = json_object_get(j, k);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    if (i)
        *i = (int64_t)json_integer_value(v);
    if (u)
        *u = (uint64_t)json_integer_value(v);
    return 0;
}

/* The mode stored under "<pfx>_<what>" into *out (0, the default, when absent). 0, or -1 when
 * the value is not one parse knows; the first such key is named in bad_key (bad_n bytes). */
static int side_mode(const json_t *j, const char *pfx, const char *what,
                     int (*parse)(const char *, int *), int *out, char *bad_key, size_t bad_n)
{
    char k[32];
    snprintf(k, sizeof(k), "%s_%s", pfx, what);
    const char *v = json_string_value(json_object_get(j, k));
    *out = 0;
    if (v == NULL || parse(v, out) == FERRY_OK)
        return 0;
    if (bad_key[0] == '\0')
        snprintf(bad_key, bad_n, "%s", k);
    return -1;
}

static int side_from(const json_t *j, const char *pfx, ferry_task_side_t *s, char *bad_key,
                     size_t bad_n)
{
    char k[32];
    int bad = jstr(j, pfx, s->loc, sizeof(s->loc));
    snprintf(k, sizeof(k), "%s_endpoint", pfx);
    bad |= jstr(j, k, s->endpoint, sizeof(s->endpoint));
    snprintf(k, sizeof(k), "%s_region", pfx);
    bad |= jstr(j, k, s->region, sizeof(s->region));
    snprintf(k, sizeof(k), "%s_profile", pfx);
    bad |= jstr(j, k, s->profile, sizeof(s->profile));
    snprintf(k, sizeof(k), "%s_path_style", pfx);
    s->path_style = json_is_true(json_object_get(j, k));
    bad |= side_mode(j, pfx, "checksum", checksum_mode, &s->checksum, bad_key, bad_n);
    bad |= side_mode(j, pfx, "listing", listing_mode, &s->listing, bad_key, bad_n);
    bad |= side_mode(j, pfx, "recheck", recheck_mode, &s->recheck, bad_key, bad_n);
    if (!bad)
        bad = ferry_location_parse(s->loc, &s->parsed, NULL) ? -1 : 0;
    return bad;
}

int ferry_task_from_json(const json_t *j, ferry_task_t *t, ferry_error_t *err)
{
    ferry_task_init(t);
    if (!json_is_object(j))
        return ferry_error_set(err, FERRY_EPARSE, "task: not a JSON object");
    int bad = jstr(j, "name", t->name, sizeof(t->name));
    char bad_key[32] = "";
    bad |= side_from(j, "from", &t->src, bad_key, sizeof(bad_key));
    bad |= side_from(j, "to", &t->dst, bad_key, sizeof(bad_key));
    bad |= jstr(j, "cron", t->cron, sizeof(t->cron));
    bad |= jstr(j, "storage_class", t->storage_class, sizeof(t->storage_class));
    if (t->cron[0])
        t->every_ms = 0;
    if (json_is_integer(json_object_get(j, "every_ms")))
        t->every_ms = json_integer_value(json_object_get(j, "every_ms"));
    const char *cmp = json_string_value(json_object_get(j, "compare"));
    for (int k = 0; cmp && k < 3; k++)
        if (strcmp(cmp, COMPARES[k]) == 0)
            t->compare = k;
    const json_t *a;
    size_t i;
    json_t *v;
    if ((a = json_object_get(j, "include")) && json_is_array(a))
        json_array_foreach(a, i, v) if (json_is_string(v))
            add_glob(t->include, &t->n_include, json_string_value(v), "include", NULL);
    if ((a = json_object_get(j, "exclude")) && json_is_array(a))
        json_array_foreach(a, i, v) if (json_is_string(v))
            add_glob(t->exclude, &t->n_exclude, json_string_value(v), "exclude", NULL);
    t->delete_ = json_is_true(json_object_get(j, "delete"));
    t->require_source_check = json_is_true(json_object_get(j, "require_source_check"));
    t->md5_parts = json_is_true(json_object_get(j, "md5_parts"));
    if (json_is_integer(json_object_get(j, "part_size")))
        t->part_size = (uint64_t)json_integer_value(json_object_get(j, "part_size"));
    if (json_is_integer(json_object_get(j, "multipart_threshold")))
        t->multipart_threshold =
            (uint64_t)json_integer_value(json_object_get(j, "multipart_threshold"));
    if (json_is_integer(json_object_get(j, "ledger_buckets"))) {
        json_int_t b = json_integer_value(json_object_get(j, "ledger_buckets"));
        t->ledger_buckets = b >= 1 && b <= (1 << 24) ? (uint32_t)b : FERRY_LEDGER_DEFAULT_BUCKETS;
    }
    if (json_object_get(j, "ledger_shards")) {
        /* Never guessed: a wrong shard count would read and write the wrong keys. */
        json_int_t sh = json_integer_value(json_object_get(j, "ledger_shards"));
        if (!json_is_integer(json_object_get(j, "ledger_shards")) || sh < 1 ||
            sh > FERRY_LEDGER_SHARDS_MAX || (uint32_t)sh > t->ledger_buckets)
            return ferry_error_set(err, FERRY_EPARSE,
                                   "task %s: \"ledger_shards\" in the stored definition must be "
                                   "1..%d and at most ledger_buckets",
                                   t->name, FERRY_LEDGER_SHARDS_MAX);
        t->ledger_shards = (uint32_t)sh;
    }
    if (json_is_integer(json_object_get(j, "created_at")))
        t->created_at = json_integer_value(json_object_get(j, "created_at"));
    /* Filters: absent is no bound; present must be a non-negative integer. */
    static const char *const FILTERS[4] = {"min_size", "max_size", "min_age_ms", "max_age_ms"};
    int64_t *ages[4] = {NULL, NULL, &t->min_age_ms, &t->max_age_ms};
    uint64_t *sizes[4] = {&t->min_size, &t->max_size, NULL, NULL};
    for (int k = 0; k < 4; k++)
        if (jnonneg(j, FILTERS[k], ages[k], sizes[k]))
            return ferry_error_set(err, FERRY_EPARSE,
                                   "task %s: \"%s\" in the stored definition must be a "
                                   "non-negative integer",
                                   t->name, FILTERS[k]);
    if (bad_key[0])
        return ferry_error_set(err, FERRY_EPARSE,
                               "task %s: \"%s\" in the stored definition has a value this ferry "
                               "does not know (a newer ferry may have written it): run that "
                               "version, or remove the task (ferry task rm) and add it again",
                               t->name, bad_key);
    if (bad)
        return ferry_error_set(err, FERRY_EPARSE, "task %s: malformed stored definition", t->name);
    return FERRY_OK;
}

/* ---- registry -------------------------------------------------------------------------------- */

int ferry_task_put(ferry_redis_t *r, const ferry_task_t *t, int replace)
{
    ferry_error_t *e = (ferry_error_t *)ferry_redis_error(r);
    int rc = ferry_task_validate(t, e);
    if (rc)
        return rc;
    ferry_task_t copy = *t;
    if (copy.created_at == 0)
        copy.created_at = (int64_t)time(NULL);
    json_t *j = ferry_task_to_json(&copy);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (s == NULL)
        return FERRY_ENOMEM;
    redisReply *rep = NULL;
    const char *argv[4] = {replace ? "HSET" : "HSETNX", KEYS_REGISTRY, t->name, s};
    rc = ferry_redis_argv(r, 4, argv, NULL, &rep);
    free(s);
    if (rc)
        return rc;
    long long v = ferry_redis_reply_int(rep, -1);
    freeReplyObject(rep);
    if (!replace && v == 0)
        return ferry_error_set(
            e, FERRY_EEXISTS,
            "task %s already exists (ferry task rm %s first, or pick another name)", t->name,
            t->name);
    return ferry_queue_create_groups(r, t->name, t->ledger_shards);
}

int ferry_task_get(ferry_redis_t *r, const char *name, ferry_task_t *t)
{
    ferry_error_t *e = (ferry_error_t *)ferry_redis_error(r);
    ferry_task_init(t);
    if (!ferry_task_name_valid(name))
        return ferry_error_set(e, FERRY_EINVAL, "\"%.70s\" is not a valid task name",
                               name ? name : "");
    redisReply *rep = NULL;
    const char *argv[3] = {"HGET", KEYS_REGISTRY, name};
    int rc = ferry_redis_argv(r, 3, argv, NULL, &rep);
    if (rc)
        return rc;
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return ferry_error_set(e, FERRY_ENOTFOUND, "no task named %s (see ferry task ls)", name);
    }
    json_error_t je;
    json_t *j = json_loadb(rep->str, rep->len, 0, &je);
    freeReplyObject(rep);
    if (j == NULL)
        return ferry_error_set(e, FERRY_EPARSE, "task %s: stored definition is not JSON", name);
    rc = ferry_task_from_json(j, t, e);
    json_decref(j);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ferry_task_list(ferry_redis_t *r, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    redisReply *rep = NULL;
    const char *argv[2] = {"HKEYS", KEYS_REGISTRY};
    int rc = ferry_redis_argv(r, 2, argv, NULL, &rep);
    if (rc)
        return rc;
    char **out = calloc(rep->elements + 1, sizeof(char *));
    if (out == NULL) {
        freeReplyObject(rep);
        return FERRY_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING && (out[m] = strdup(rep->element[i]->str)))
            m++;
    freeReplyObject(rep);
    qsort(out, m, sizeof(char *), cmp_str);
    *names = out;
    *n = m;
    return FERRY_OK;
}

/* UNLINK every key matching pattern (SCAN … MATCH; a pattern with a literal hash tag scans one
 * cluster node). *deleted grows by the keys removed. */
static int unlink_matching(ferry_redis_t *r, const char *match, long long *deleted)
{
    char cursor[32] = "0";
    redisReply *rep = NULL;
    do {
        const char *sargv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
        int rc = ferry_redis_argv(r, 6, sargv, NULL, &rep);
        if (rc)
            return rc;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            return FERRY_EREDIS;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        const redisReply *ks = rep->element[1];
        for (size_t i = 0; i < ks->elements; i += 256) {
            const char *dargv[257];
            size_t m = ks->elements - i < 256 ? ks->elements - i : 256;
            dargv[0] = "UNLINK";
            for (size_t j = 0; j < m; j++)
                dargv[1 + j] = ks->element[i + j]->str;
            redisReply *d = NULL;
            if (ferry_redis_argv(r, (int)m + 1, dargv, NULL, &d) == FERRY_OK) {
                *deleted += ferry_redis_reply_int(d, 0);
                freeReplyObject(d);
            }
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return FERRY_OK;
}

int ferry_task_remove(ferry_redis_t *r, const char *name)
{
    ferry_error_t *e = (ferry_error_t *)ferry_redis_error(r);
    if (!ferry_task_name_valid(name))
        return ferry_error_set(e, FERRY_EINVAL, "\"%.70s\" is not a valid task name",
                               name ? name : "");
    /* The shard count first: each shard's keys have their own hash tag. A definition that
     * cannot be read (already gone, or malformed) leaves shard 0 only. */
    uint32_t shards = 1;
    {
        ferry_task_t t;
        if (ferry_task_get(r, name, &t) == FERRY_OK)
            shards = t.ledger_shards;
        ferry_task_clear(&t);
    }
    redisReply *rep = NULL;
    const char *argv[3] = {"HDEL", KEYS_REGISTRY, name};
    int rc = ferry_redis_argv(r, 3, argv, NULL, &rep);
    if (rc)
        return rc;
    long long gone = ferry_redis_reply_int(rep, 0);
    freeReplyObject(rep);
    /* Delete the task's keys even when the registry entry was already gone (half-removed). */
    long long deleted = 0;
    for (uint32_t s = 0; s < shards; s++) {
        char tag[FERRY_LEDGER_TAG_MAX + 1], match[FERRY_LEDGER_TAG_MAX + 16];
        if ((rc = ferry_ledger_shard_tag(name, s, shards, tag, sizeof(tag))) != FERRY_OK)
            return rc;
        snprintf(match, sizeof(match), "ferry:{%s}:*", tag);
        if ((rc = unlink_matching(r, match, &deleted)) != FERRY_OK)
            return rc;
    }
    if (!gone && deleted == 0)
        return ferry_error_set(e, FERRY_ENOTFOUND, "no task named %s (see ferry task ls)", name);
    return FERRY_OK;
}

int ferry_task_glob_ok(const ferry_task_t *t, const char *rel)
{
    for (int i = 0; i < t->n_exclude; i++)
        if (fnmatch(t->exclude[i], rel, 0) == 0)
            return 0;
    if (t->n_include == 0)
        return 1;
    for (int i = 0; i < t->n_include; i++)
        if (fnmatch(t->include[i], rel, 0) == 0)
            return 1;
    return 0;
}

int ferry_filter_size_age_ok(uint64_t min_size, uint64_t max_size, int64_t min_age_ms,
                             int64_t max_age_ms, int64_t now_ms, uint64_t size, int64_t mtime_ms)
{
    if (min_size && size < min_size)
        return 0;
    if (max_size && size > max_size)
        return 0;
    if ((min_age_ms || max_age_ms) && mtime_ms) {
        int64_t age = now_ms - mtime_ms;
        if (min_age_ms && age < min_age_ms)
            return 0;
        if (max_age_ms && age > max_age_ms)
            return 0;
    }
    return 1;
}
