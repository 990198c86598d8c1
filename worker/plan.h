/* ferry worker — copy plans and the metadata rule.
 *
 * Plan: objects up to the multipart threshold are one GET into one PUT; larger ones are
 * multipart with part size = max(configured, ceil(size / 10,000) rounded up to a MiB),
 * within S3's limits (5 MiB .. 5 GiB per part, 10,000 parts, 5 GiB single PUT,
 * 48.8 TiB object). Same service and credentials on both ends: server-side copy
 * (CopyObject up to 5 GiB, UploadPartCopy above or above the threshold).
 *
 * Metadata rule (S3 allows 2 KB of user metadata, OSS 8 KB; S3 REST headers must be
 * US-ASCII):
 *   1. standard headers (Content-Type, Cache-Control, Content-Disposition, Content-Encoding,
 *      Content-Language, Expires) are carried as they are;
 *   2. user metadata values with bytes outside printable US-ASCII are carried RFC 2047
 *      encoded (=?UTF-8?B?...?=), the form S3 itself uses to return such values;
 *   3. user metadata entries are taken in name order while the total of names and values
 *      stays within the limit (2048 bytes for S3); the rest are dropped, and
 *      `x-amz-meta-ferry-dropped: N` records how many (its own size counted in), so a
 *      reader of the copy can tell; the worker also logs and records it in the ledger.
 * Pure functions, thread-safe.
 */
#ifndef FERRY_WORKER_PLAN_H
#define FERRY_WORKER_PLAN_H

#include "ferry/buf.h"
#include "ferry/error.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_MIB           (1024ull * 1024ull)
#define FERRY_S3_MIN_PART   (5 * FERRY_MIB)
#define FERRY_S3_MAX_PART   (5 * 1024 * FERRY_MIB)
#define FERRY_S3_MAX_PARTS  10000u
#define FERRY_S3_MAX_PUT    (5 * 1024 * FERRY_MIB)
#define FERRY_S3_MAX_OBJECT (48ull * 1024 * 1024 * FERRY_MIB + 800ull * 1024 * FERRY_MIB)
#define FERRY_S3_META_LIMIT 2048

typedef enum {
    FERRY_PLAN_SINGLE = 0,      /* GET streamed into one PUT */
    FERRY_PLAN_MULTIPART = 1,   /* ranged GETs piped into UploadPart */
    FERRY_PLAN_SERVER_COPY = 2, /* CopyObject */
    FERRY_PLAN_SERVER_PARTS = 3 /* UploadPartCopy per part */
} ferry_plan_kind_t;

typedef struct ferry_plan_s {
    ferry_plan_kind_t kind;
    uint64_t size;
    uint64_t part_size; /* 0 for single-request plans */
    uint32_t parts;     /* 1 for single-request plans */
} ferry_plan_t;

/* Plan a copy of `size` bytes. threshold and part_size come from the task (0 = defaults:
 * 64 MiB threshold, 16 MiB parts). FERRY_OK, or FERRY_ERANGE with a message when the object
 * is larger than S3 can hold. */
int ferry_plan_make(uint64_t size, uint64_t threshold, uint64_t part_size, int server_side,
                    ferry_plan_t *out, ferry_error_t *err);

/* ferry_plan_make with parts rounded up to a multiple of align (a power of two, 1 MiB or more;
 * ferry_plan_make uses 1 MiB). Kodo sources use FERRY_QETAG_BLOCK (4 MiB) so every part is
 * whole qetag blocks at every size up to the 10,000-part limit. */
int ferry_plan_make_aligned(uint64_t size, uint64_t threshold, uint64_t part_size, int server_side,
                            uint64_t align, ferry_plan_t *out, ferry_error_t *err);

/* Byte range of part i (0-based) of a multipart plan: [*first, *last] inclusive. */
void ferry_plan_part_range(const ferry_plan_t *p, uint32_t i, uint64_t *first, uint64_t *last);

/* One user-metadata entry: name without the x-amz-meta- prefix, lowercase. Borrowed. */
typedef struct ferry_meta_s {
    const char *name;
    const char *value;
} ferry_meta_t;

/* Apply rules 2-3 to in[0..n): append "name: value\n" lines for the entries carried (names
 * with the x-amz-meta- prefix) to out. *dropped gets the number left out. limit 0 means
 * FERRY_S3_META_LIMIT. FERRY_OK or a buffer error; FERRY_EINVAL for a name S3 cannot carry
 * (empty, or outside [a-z0-9-_.]). */
int ferry_meta_apply(const ferry_meta_t *in, size_t n, size_t limit, ferry_buf_t *out,
                     size_t *dropped, ferry_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
