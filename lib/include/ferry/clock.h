/* ferry — the two clocks, named for what they measure.
 *
 *   ferry_wall_ms()   CLOCK_REALTIME: milliseconds since the Unix epoch. For timestamps that
 *                     leave the process (records, events, leases shared through Redis, logs).
 *                     It jumps when the system clock is set.
 *   ferry_mono_ms()   CLOCK_MONOTONIC: milliseconds since an arbitrary point (boot). For
 *                     deadlines, timeouts and durations inside one process; never goes back,
 *                     means nothing in another process or after a reboot.
 *   ferry_mono_s()    the same clock in seconds, as a double with the clock's full resolution:
 *                     for measuring (tests, benchmarks), not for deadlines.
 *
 * Every caller asks for one of these by name; no file keeps a private now_ms() of its own
 * (the same name used to mean the wall clock in one file and the monotonic one in another).
 * Header-only, thread-safe, cannot fail (clock_gettime on these two clocks does not, on Linux).
 */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
static inline int64_t ferry_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds on CLOCK_MONOTONIC: only differences between two readings mean anything. */
static inline int64_t ferry_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds on CLOCK_MONOTONIC, to the nanosecond: only differences mean anything. */
static inline double ferry_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#ifdef __cplusplus
}
#endif
#endif
