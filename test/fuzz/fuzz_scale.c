/* Fuzz the scaling policy (scheduler/scale.h): the --workers range parser on any text, and the
 * decision on any inputs, state and clock, checking what must always hold: desired within
 * MIN..MAX, 0 only when MIN is 0, a target within bounds, a reason, finite rates. Input: a
 * range text up to the first newline, then bytes read as the numbers of up to 8 steps. */
#include "fuzz.h"
#include "scale.h"

#include "ferry/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long long take(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *p < end; i++, (*p)++)
        v = v << 8 | **p;
    return (long long)(v >> 1) * ((v & 1) ? -1 : 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t rl = nl ? (size_t)(nl - data) : size;
    char *range = malloc(rl + 1);
    if (range == NULL)
        return 0;
    memcpy(range, data, rl);
    range[rl] = '\0';
    int lo = -1, hi = -1;
    int rc = ferry_scale_parse_range(range, &lo, &hi);
    free(range);
    if (rc == FERRY_OK && (lo < 0 || hi < 1 || lo > hi || hi > FERRY_SCALE_MAX))
        __builtin_trap();
    if (rc != FERRY_OK && rc != FERRY_EINVAL)
        __builtin_trap();
    if (rc != FERRY_OK) {
        lo = 0;
        hi = 10;
    }
    const uint8_t *p = nl ? nl + 1 : data + size, *end = data + size;
    ferry_scale_cfg_t cfg = {.min = lo,
                             .max = hi,
                             .cooldown_ms = take(&p, end) % 100000,
                             .drain_target_ms = take(&p, end) % 1000000,
                             .concurrency = (int)(take(&p, end) % 5000)};
    ferry_scale_state_t st;
    ferry_scale_state_init(&st);
    int64_t now = 0;
    for (int step = 0; step < 8 && p < end; step++) {
        ferry_scale_in_t in = {.lag = take(&p, end),
                               .pending = take(&p, end) % 1000000000,
                               .bytes = take(&p, end),
                               .actual = take(&p, end) % 100000,
                               .concurrency = take(&p, end) % 100000000,
                               .done_objects = take(&p, end),
                               .done_bytes = take(&p, end)};
        now += take(&p, end) % 1000000;
        ferry_scale_out_t out;
        ferry_scale_decide(&cfg, &in, &st, now, &out);
        if (out.desired < lo || out.desired > hi || out.target < lo || out.target > hi)
            __builtin_trap();
        if (out.reason == NULL || !isfinite(out.ops) || !isfinite(out.bps) || out.ops <= 0 ||
            out.bps <= 0 || st.desired != out.desired)
            __builtin_trap();
    }
    return 0;
}
