/* Unit tests for ferry/clock.h: the wall clock agrees with time(), the monotonic one never
 * goes back and is not the wall clock, ferry_mono_s() reads the monotonic clock. */
#include "ferry/clock.h"
#include "test.h"

#include <time.h>

int main(void)
{
    /* wall: the same second as time() (a tick may fall between the two readings) */
    time_t before = time(NULL);
    int64_t wall = ferry_wall_ms();
    time_t after = time(NULL);
    CHECK(wall / 1000 >= (int64_t)before && wall / 1000 <= (int64_t)after);

    /* mono: never goes back over many readings, and counts from boot, not from the epoch
     * (a machine up for 50 years would fail this, not a real one) */
    int64_t prev = ferry_mono_ms();
    CHECK(prev >= 0);
    CHECK(prev < wall - 50LL * 365 * 86400 * 1000);
    for (int i = 0; i < 100000; i++) {
        int64_t m = ferry_mono_ms();
        if (m < prev) {
            CHECK(m >= prev);
            break;
        }
        prev = m;
    }

    /* mono advances: sleep 20 ms, at least 20 ms pass (no upper bound: the machine is loaded) */
    int64_t t0 = ferry_mono_ms();
    struct timespec d = {0, 20 * 1000000};
    while (nanosleep(&d, &d) != 0) {
    }
    CHECK(ferry_mono_ms() - t0 >= 20);

    /* mono_s: the same clock, in seconds */
    int64_t a = ferry_mono_ms();
    double s = ferry_mono_s();
    int64_t b = ferry_mono_ms();
    CHECK(s * 1000 >= (double)a - 1 && s * 1000 <= (double)b + 1);
    return test_summary();
}
