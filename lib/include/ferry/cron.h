/* ferry — cron schedules for `ferry task add --cron EXPR`.
 *
 * Five fields, evaluated in UTC: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or
 * jan-dec) day-of-week (0-7 or sun-sat; 0 and 7 are Sunday). Each field is `*`, a value, a
 * range `a-b`, a step `*`/`a-b`/`a` + `/n`, or a comma list of those. As in Vixie cron, when
 * both day fields are restricted a day matches if either does. Macros: @hourly, @daily
 * (@midnight), @weekly, @monthly, @yearly (@annually).
 *
 * Pure and thread-safe; the parsed schedule is a plain value the caller owns.
 */
#ifndef FERRY_CRON_H
#define FERRY_CRON_H

#include "ferry/error.h"

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_cron_s {
    uint64_t minute; /* bit i set: minute i matches */
    uint32_t hour;
    uint32_t dom;               /* bits 1..31 */
    uint16_t month;             /* bits 1..12 */
    uint8_t dow;                /* bits 0..6 */
    uint8_t dom_star, dow_star; /* field was '*' (for the either-day rule) */
} ferry_cron_t;

/* Parse expr. FERRY_OK, or FERRY_EPARSE with err->msg naming the bad field
 * ("cron: field 2 (hour) has 24: allowed 0-23"). err may be NULL. */
int ferry_cron_parse(const char *expr, ferry_cron_t *out, ferry_error_t *err);

/* The first matching minute strictly after `after` (UTC). FERRY_OK, or FERRY_ENOTFOUND when
 * nothing matches within 5 years (e.g. "0 0 31 2 *"). */
int ferry_cron_next(const ferry_cron_t *c, time_t after, time_t *next);

#ifdef __cplusplus
}
#endif
#endif
