/* ferry — one side of a task resolved for the S3 client: provider profile (with the user's
 * endpoint / region / addressing overrides) and credentials.
 *
 * Both roles use it: the scheduler to list, the worker to copy. The spec is plain strings so
 * this module needs neither the task registry nor Redis; ferry_task_side_t maps onto it field
 * by field. Not thread-safe (credentials come from getenv / a file).
 */
#ifndef FERRY_SIDE_H
#define FERRY_SIDE_H

#include "ferry/creds.h"
#include "ferry/error.h"
#include "ferry/limits.h"
#include "ferry/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_side_spec_s {
    ferry_side_kind_t kind; /* FERRY_SIDE_SRC or FERRY_SIDE_DST */
    const char *scheme;     /* "oss", "cos", "kodo", "s3", "s3c" */
    const char *bucket;
    const char *prefix;   /* or NULL */
    const char *endpoint; /* --src-endpoint, or NULL / "" */
    const char *region;   /* or NULL / "" */
    int path_style;       /* 1: --src-path-style given; 0: the profile's style */
    const char *profile;  /* credentials profile name, or NULL / "" */
    int checksum;         /* ferry_checksum_mode_t: how uploads carry their checksum */
} ferry_side_spec_t;

/* A resolved side. Plain value; owns nothing on the heap. */
typedef struct ferry_side_s {
    ferry_side_kind_t kind;
    ferry_profile_t profile;
    ferry_creds_store_t creds;
    char scheme[8];
    char bucket[64];
    char prefix[FERRY_KEY_MAX + 1];
    char where[1200]; /* "oss://bucket/prefix", for messages */
} ferry_side_t;

/* Resolve spec into *out. FERRY_OK, or a code from ferry_profile_resolve / ferry_creds_load
 * with err saying what to fix ("source: no source credentials: set FERRY_SRC_ACCESS_KEY_ID
 * ..."). */
int ferry_side_resolve(const ferry_side_spec_t *spec, ferry_side_t *out, ferry_error_t *err);

/* Wipe the credentials in a resolved side. */
void ferry_side_wipe(ferry_side_t *s);

#ifdef __cplusplus
}
#endif
#endif
