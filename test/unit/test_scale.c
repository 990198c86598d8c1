/* The scaling policy (scheduler/scale.h): tables of backlog -> desired, bytes-heavy backlogs,
 * the cap at jobs / concurrency, the clamp, up at once, down only after the cooldown, idle ->
 * MIN (including 0), measured rates, and the --workers range parser. */
#include "test.h"

#include "scale.h"

#include "ferry/error.h"

#define MiB (1024LL * 1024)
#define GiB (1024LL * MiB)

typedef struct {
    const char *name;
    int min, max;
    long long lag, pending, bytes, actual, conc;
    int want;
    const char *reason;
} row_t;

static void fresh_table(void)
{
    /* Defaults: 20 objects/s and 32 MiB/s per worker until measured, drain within 60 s,
     * concurrency 16 when no heartbeat says. */
    static const row_t T[] = {
        {"idle, min 0", 0, 10, 0, 0, 0, 0, 0, 0, "idle"},
        {"idle, min 2", 2, 10, 0, 0, 0, 0, 0, 2, "min"},
        {"one job wakes one worker", 0, 10, 1, 0, 16384, 0, 0, 1, "backlog"},
        {"1,000 small: 50 worker-s, one worker", 0, 10, 1000, 0, 1000 * 16384LL, 0, 0, 1,
         "backlog"},
        {"1,201 small: 60.05 worker-s, two", 0, 10, 1201, 0, 1201 * 16384LL, 0, 0, 2, "backlog"},
        {"10,000 small: 500 worker-s -> 9", 0, 20, 10000, 0, 10000 * 16384LL, 0, 0, 9, "backlog"},
        {"10,000 small, max 4", 0, 4, 10000, 0, 10000 * 16384LL, 0, 0, 4, "max"},
        {"in flight counts too", 0, 20, 0, 10000, 10000 * 16384LL, 0, 0, 9, "backlog"},
        /* 100 objects of 1 GiB: 3,200 worker-s by bytes, 5 by count: capped at 100/16 = 7 */
        {"bytes-heavy, capped by concurrency", 0, 50, 100, 0, 100 * GiB, 0, 0, 7, "capped"},
        /* the same with concurrency 1 per worker (heartbeats): 54 by bytes */
        {"bytes-heavy, concurrency 1", 0, 100, 100, 0, 100 * GiB, 4, 4, 54, "bytes"},
        /* one 50 GB object is one job: never more than one worker */
        {"one 50 GB object", 0, 10, 1, 0, 50 * GiB, 0, 0, 1, "capped"},
        {"same count, small bytes", 0, 100, 100, 0, 100 * 16384LL, 4, 4, 1, "backlog"},
        {"max clamps bytes", 0, 3, 100, 0, 100 * GiB, 4, 4, 3, "max"},
    };
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
        const row_t *r = &T[i];
        ferry_scale_cfg_t cfg = {.min = r->min, .max = r->max};
        ferry_scale_in_t in = {.lag = r->lag,
                               .pending = r->pending,
                               .bytes = r->bytes,
                               .actual = r->actual,
                               .concurrency = r->conc};
        ferry_scale_state_t st;
        ferry_scale_out_t out;
        ferry_scale_state_init(&st);
        ferry_scale_decide(&cfg, &in, &st, 1000000, &out);
        if (out.desired != r->want || strcmp(out.reason, r->reason) != 0)
            fprintf(stderr, "row \"%s\": desired %d (%s), want %d (%s)\n", r->name, out.desired,
                    out.reason, r->want, r->reason);
        CHECK_INT(out.desired, r->want);
        CHECK_STR(out.reason, r->reason);
        CHECK_INT(st.desired, r->want);
    }
}

/* Up at once; down only after the target has stayed lower for the whole cooldown; a rise in
 * the middle of the cooldown restarts it. */
static void hysteresis(void)
{
    ferry_scale_cfg_t cfg = {.min = 0, .max = 20, .cooldown_ms = 30000};
    ferry_scale_state_t st;
    ferry_scale_out_t out;
    ferry_scale_state_init(&st);
    ferry_scale_in_t big = {.lag = 10000, .bytes = 10000 * 16384LL};
    ferry_scale_in_t small = {.lag = 100, .bytes = 100 * 16384LL};
    ferry_scale_in_t none = {0};
    int64_t t = 1000000;
    ferry_scale_decide(&cfg, &none, &st, t, &out);
    CHECK_INT(out.desired, 0);
    ferry_scale_decide(&cfg, &big, &st, t += 1000, &out); /* up: at once */
    CHECK_INT(out.desired, 9);
    ferry_scale_decide(&cfg, &small, &st, t += 1000, &out); /* target 1: hold */
    CHECK_INT(out.target, 1);
    CHECK_INT(out.desired, 9);
    CHECK_STR(out.reason, "cooldown");
    CHECK_INT(out.cooldown_left_ms, 30000);
    ferry_scale_decide(&cfg, &small, &st, t += 29000, &out);
    CHECK_INT(out.desired, 9);
    CHECK_INT(out.cooldown_left_ms, 1000);
    ferry_scale_decide(&cfg, &big, &st, t += 500, &out); /* back up: the cooldown restarts */
    CHECK_INT(out.desired, 9);
    CHECK_INT(st.low_since_ms, 0);
    ferry_scale_decide(&cfg, &small, &st, t += 500, &out);
    CHECK_INT(out.desired, 9);
    ferry_scale_decide(&cfg, &small, &st, t += 29999, &out);
    CHECK_INT(out.desired, 9);
    ferry_scale_decide(&cfg, &small, &st, t += 1, &out); /* 30 s below: down */
    CHECK_INT(out.desired, 1);
    CHECK_STR(out.reason, "backlog");
    ferry_scale_decide(&cfg, &none, &st, t += 1000, &out); /* idle: to 0 after the cooldown */
    CHECK_INT(out.desired, 1);
    ferry_scale_decide(&cfg, &none, &st, t += 30000, &out);
    CHECK_INT(out.desired, 0);
    CHECK_STR(out.reason, "idle");
    ferry_scale_decide(&cfg, &small, &st, t += 1000, &out); /* one event wakes it at once */
    CHECK_INT(out.desired, 1);
    /* a smaller max applies at once, cooldown or not */
    ferry_scale_decide(&cfg, &big, &st, t += 1000, &out);
    CHECK_INT(out.desired, 9);
    cfg.max = 3;
    ferry_scale_decide(&cfg, &big, &st, t += 1000, &out);
    CHECK_INT(out.desired, 3);
    /* ... but only down to it: a lower target still waits the cooldown */
    cfg.max = 20;
    ferry_scale_decide(&cfg, &big, &st, t += 1000, &out);
    CHECK_INT(out.desired, 9);
    cfg.max = 5;
    ferry_scale_decide(&cfg, &small, &st, t += 1000, &out);
    CHECK_INT(out.desired, 5);
    CHECK_STR(out.reason, "cooldown");
    /* a clock that goes back does not cut the cooldown short */
    cfg.max = 20;
    ferry_scale_decide(&cfg, &big, &st, t += 1000, &out);
    CHECK_INT(out.desired, 9);
    ferry_scale_decide(&cfg, &small, &st, t, &out);
    ferry_scale_decide(&cfg, &small, &st, t - 100000, &out);
    CHECK_INT(out.desired, 9);
}

/* The rate is measured only while jobs wait undelivered (the workers are saturated), per live
 * worker, and then replaces the assumption. */
static void measured_rates(void)
{
    ferry_scale_cfg_t cfg = {.min = 0, .max = 100};
    ferry_scale_state_t st;
    ferry_scale_out_t out;
    ferry_scale_state_init(&st);
    ferry_scale_in_t in = {
        .lag = 6000, .pending = 64, .bytes = 6064 * 16384LL, .actual = 2, .concurrency = 32};
    int64_t t = 5000000;
    ferry_scale_decide(&cfg, &in, &st, t, &out);
    CHECK_INT(out.measured, 0);
    CHECK_INT(out.desired, 6); /* 6064 / 20 = 303 worker-s -> 6 */
    /* 2 workers finished 2,000 objects in 10 s: 100 objects/s each */
    in.done_objects = 2000;
    in.done_bytes = 2000 * 16384LL;
    in.lag = 4000;
    in.bytes = 4064 * 16384LL;
    ferry_scale_decide(&cfg, &in, &st, t += 10000, &out);
    CHECK_INT(out.measured, 1); /* objects/s only */
    CHECK(out.ops > 99.9 && out.ops < 100.1);
    CHECK_INT(out.target, 1);  /* 4064 / 100 = 40.6 worker-s: one worker within 60 s */
    CHECK_INT(out.desired, 6); /* but down only after the cooldown */
    /* without waiting jobs the trickle is not a capacity: not sampled */
    double ops = st.ops;
    in.lag = 0;
    in.done_objects += 10;
    ferry_scale_decide(&cfg, &in, &st, t += 10000, &out);
    CHECK(st.ops == ops);
    /* counters that go back (re-queued records) are ignored */
    in.lag = 100;
    in.done_objects = 5;
    ferry_scale_decide(&cfg, &in, &st, t += 10000, &out);
    CHECK(st.ops == ops);
    /* small objects measured objects/s only; large ones measure bytes/s */
    CHECK(st.bps == 0);
    CHECK(out.bps == FERRY_SCALE_WORKER_BPS);
    in.done_objects += 20; /* 20 objects of 64 MiB in 10 s by 2 workers: 64 MiB/s each */
    in.done_bytes += 20 * 64 * MiB;
    ferry_scale_decide(&cfg, &in, &st, t += 10000, &out);
    CHECK(st.ops == ops);
    CHECK(out.measured == 3);
    CHECK(out.bps > 63.9 * MiB && out.bps < 64.1 * MiB);
}

static void ranges(void)
{
    int lo = -1, hi = -1;
    CHECK_INT(ferry_scale_parse_range("1..8", &lo, &hi), FERRY_OK);
    CHECK_INT(lo, 1);
    CHECK_INT(hi, 8);
    CHECK_INT(ferry_scale_parse_range("0..4", &lo, &hi), FERRY_OK);
    CHECK_INT(lo, 0);
    CHECK_INT(ferry_scale_parse_range("3", &lo, &hi), FERRY_OK);
    CHECK_INT(lo, 3);
    CHECK_INT(hi, 3);
    static const char *const BAD[] = {"",      "0",     "0..0",  "5..2",    "a..3",  "1..",
                                      "..3",   "-1..3", "1...3", "1..3..4", "10001", "1..99999999",
                                      " 1..2", "1..2 ", "1..2x", NULL};
    for (int i = 0; BAD[i]; i++) {
        int rc = ferry_scale_parse_range(BAD[i], &lo, &hi);
        if (rc != FERRY_EINVAL)
            fprintf(stderr, "range \"%s\" accepted\n", BAD[i]);
        CHECK_INT(rc, FERRY_EINVAL);
    }
}

int main(void)
{
    fresh_table();
    hysteresis();
    measured_rates();
    ranges();
    return test_summary();
}
