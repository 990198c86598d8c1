/* Unit tests: the pure parts of ferry/stats.h (labels, field names, histogram definitions,
 * the accumulator's bound). Redis-side behaviour: test/integration/test_metrics.c. */
#include "ferry/error.h"
#include "ferry/stats.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The old formatting of a counter's field (snprintf), the reference for the printf-free one. */
static int old_counter_field(char *buf, size_t n, const char *name, const char *l1, const char *l2,
                             const char *l3)
{
    if (!ferry_stats_label_ok(name))
        return FERRY_EINVAL;
#define OR_OTHER(l) ((l) ? (ferry_stats_label_ok(l) ? (l) : "other") : "")
    int len = snprintf(buf, n, "c|%s|%s|%s|%s", name, OR_OTHER(l1), OR_OTHER(l2), OR_OTHER(l3));
#undef OR_OTHER
    return len > 0 && (size_t)len < n ? FERRY_OK : FERRY_ETOOBIG;
}

/* Field names as they were formatted with snprintf, over many label sets and buffer sizes. */
static void test_field_names(void)
{
    static const char *const words[] = {NULL,
                                        "",
                                        "src",
                                        "dst",
                                        "GetObject",
                                        "PutObject",
                                        "2xx",
                                        "none",
                                        "a|b",
                                        "a key",
                                        "other",
                                        "x",
                                        "redirect-region",
                                        "ok.v1_",
                                        "quote\"",
                                        "0123456789012345678901234567890",    /* 31 */
                                        "01234567890123456789012345678901",   /* 32 */
                                        "012345678901234567890123456789012"}; /* 33: other */
    const size_t nw = sizeof(words) / sizeof(words[0]);
    static const size_t caps[] = {FERRY_STATS_FIELD_MAX, 1, 2, 3, 10, 20, 40, 64, 200};
    int bad = 0, n = 0;
    for (size_t a = 0; a < nw; a++)
        for (size_t b = 0; b < nw; b++)
            for (size_t c = 0; c < nw; c++)
                for (size_t d = 0; d < nw; d += (a + b + c) % 3 + 1)
                    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
                        char want[256], got[256];
                        size_t len = 999;
                        const char *name = words[(a + d) % nw] ? words[(a + d) % nw] : "results";
                        int rw =
                            old_counter_field(want, caps[k], name, words[b], words[c], words[d]);
                        int rg = ferry_stats_counter_field(got, caps[k], &len, name, words[b],
                                                           words[c], words[d]);
                        n++;
                        if (rw != rg ||
                            (rw == FERRY_OK && (strcmp(want, got) != 0 || len != strlen(want)))) {
                            if (bad++ < 5)
                                fprintf(stderr, "  cap %zu: want %d '%s', got %d '%s'\n", caps[k],
                                        rw, rw == FERRY_OK ? want : "", rg,
                                        rg == FERRY_OK ? got : "");
                        }
                    }
    CHECK_INT(bad, 0);
    CHECK(n > 10000);
    char f[FERRY_STATS_FIELD_MAX], want[FERRY_STATS_FIELD_MAX];
    size_t len = 0;
    for (int h = 0; h < FERRY_HIST_COUNT; h++) {
        const ferry_hist_def_t *d = ferry_stats_hist(h);
        for (long b = 0; b <= (long)d->n; b++) {
            snprintf(want, sizeof(want), "h|%s|%ld", d->id, b);
            CHECK_INT(ferry_stats_hist_field(f, sizeof(f), &len, h, b), FERRY_OK);
            CHECK_STR(f, want);
            CHECK_INT((long long)len, (long long)strlen(want));
        }
        snprintf(want, sizeof(want), "h|%s|sum", d->id);
        CHECK_INT(ferry_stats_hist_field(f, sizeof(f), &len, h, -1), FERRY_OK);
        CHECK_STR(f, want);
        CHECK_INT(ferry_stats_hist_field(f, sizeof(f), NULL, h, (long)d->n + 1), FERRY_EINVAL);
        CHECK_INT(ferry_stats_hist_field(f, sizeof(f), NULL, h, -2), FERRY_EINVAL);
        CHECK_INT(ferry_stats_hist_field(f, 5, NULL, h, -1), FERRY_ETOOBIG);
    }
    CHECK_INT(ferry_stats_hist_field(f, sizeof(f), NULL, FERRY_HIST_COUNT, 0), FERRY_EINVAL);
}

int main(void)
{
    test_field_names();
    /* Labels: short names only. */
    CHECK(ferry_stats_label_ok("GetObject"));
    CHECK(ferry_stats_label_ok("redirect-region"));
    CHECK(ferry_stats_label_ok("2xx"));
    CHECK(!ferry_stats_label_ok(""));
    CHECK(!ferry_stats_label_ok(NULL));
    CHECK(!ferry_stats_label_ok("a|b"));
    CHECK(!ferry_stats_label_ok("a key"));
    CHECK(!ferry_stats_label_ok("quote\""));
    CHECK(!ferry_stats_label_ok("012345678901234567890123456789012")); /* 33 bytes */
    CHECK(ferry_stats_label_ok("01234567890123456789012345678901"));   /* 32 bytes */
    for (int ch = 1; ch < 256; ch++) { /* every byte, against the rule as written */
        char one[2] = {(char)ch, 0};
        int want = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        CHECK_INT(ferry_stats_label_ok(one), want);
    }

    /* Field names split back into their labels. */
    char buf[FERRY_STATS_FIELD_MAX];
    const char *a = NULL, *b = NULL, *c = NULL;
    CHECK(ferry_stats_field_counter("c|requests|src|GetObject|2xx", "requests", buf, sizeof(buf),
                                    &a, &b, &c));
    CHECK_STR(a, "src");
    CHECK_STR(b, "GetObject");
    CHECK_STR(c, "2xx");
    CHECK(ferry_stats_field_counter("c|results|done||", "results", buf, sizeof(buf), &a, &b, &c));
    CHECK_STR(a, "done");
    CHECK_STR(b, "");
    CHECK_STR(c, "");
    CHECK(!ferry_stats_field_counter("c|results|done||", "result", buf, sizeof(buf), &a, &b, &c));
    CHECK(!ferry_stats_field_counter("c|resultsx|done||", "results", buf, sizeof(buf), &a, &b, &c));
    CHECK(!ferry_stats_field_counter("h|copy_seconds|3", "copy_seconds", buf, sizeof(buf), &a, &b,
                                     &c));
    CHECK(!ferry_stats_field_counter("c|results|done|", "results", buf, sizeof(buf), &a, &b, &c));
    CHECK(!ferry_stats_field_counter("c|results|a|b|c|d", "results", buf, sizeof(buf), &a, &b, &c));
    CHECK(!ferry_stats_field_counter("c|results|a|b|c", "results", buf, 4, &a, &b, &c));

    /* Histograms: ascending bounds; copies up to two hours; event SLO buckets from 100 ms. */
    for (int h = 0; h < FERRY_HIST_COUNT; h++) {
        const ferry_hist_def_t *d = ferry_stats_hist(h);
        REQUIRE(d != NULL);
        CHECK(d->n > 0);
        for (size_t i = 1; i < d->n; i++)
            CHECK(d->le[i] > d->le[i - 1]);
    }
    CHECK(ferry_stats_hist(FERRY_HIST_COUNT) == NULL);
    CHECK(ferry_stats_hist(-1) == NULL);
    const ferry_hist_def_t *cd = ferry_stats_hist(FERRY_HIST_COPY_SECONDS);
    CHECK(cd->le[cd->n - 1] >= 7200);
    CHECK(ferry_stats_hist(FERRY_HIST_EVENT_RECEIPT)->le[0] == 0.1);

    /* The accumulator: a task name is required; a bounded number of fields. */
    ferry_stats_t *s = NULL;
    CHECK_INT(ferry_stats_new("bad name", &s), FERRY_EINVAL);
    CHECK(s == NULL);
    CHECK_INT(ferry_stats_new("t1", &s), FERRY_OK);
    REQUIRE(s != NULL);
    CHECK_INT(ferry_stats_count(s, "bad name", "x", NULL, NULL, 1), FERRY_EINVAL);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, -1), FERRY_EINVAL);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, NAN), FERRY_EINVAL);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COUNT, 1), FERRY_EINVAL);
    CHECK_INT(ferry_stats_observe(s, FERRY_HIST_COPY_SECONDS, 1e30), FERRY_OK); /* +Inf bucket */
    int full = 0;
    for (int i = 0; i < FERRY_STATS_SLOTS + 10; i++) {
        char op[16];
        snprintf(op, sizeof(op), "op%d", i);
        if (ferry_stats_count(s, "requests", "src", op, "2xx", 1) == FERRY_ETOOBIG)
            full++;
    }
    CHECK(full > 0);
    CHECK_INT((long long)ferry_stats_dropped(s), full);
    /* A field already held still counts when the accumulator is full. */
    CHECK_INT(ferry_stats_count(s, "requests", "src", "op0", "2xx", 1), FERRY_OK);
    CHECK_INT(ferry_stats_tput_add(s, 100, -1, 0), FERRY_EINVAL);
    CHECK_INT(ferry_stats_tput_add(s, 100, 0, -1), FERRY_EINVAL);
    for (int i = 0; i < 3 * FERRY_TPUT_PENDING; i++) /* more points than held: folded, kept */
        CHECK_INT(ferry_stats_tput_add(s, 1000 + 10 * i, 1, 10), FERRY_OK);
    ferry_stats_free(s);
    ferry_stats_free(NULL);

    /* Throughput points as stored: "t objects bytes", t on a step. */
    ferry_tput_point_t p;
    CHECK(ferry_stats_tput_parse("1765000000 3 4096", 17, &p));
    CHECK(p.t == 1765000000 && p.objects == 3 && p.bytes == 4096);
    CHECK(ferry_stats_tput_parse("10 0 0", 6, &p));
    CHECK(!ferry_stats_tput_parse("1765000001 3 4096", 17, &p)); /* not on a step */
    CHECK(!ferry_stats_tput_parse("1765000000 3 4096", 13, &p)); /* cut after a space */
    CHECK(p.t == 10);                                            /* untouched when refused */
    CHECK(!ferry_stats_tput_parse("1765000000  3 4096", 18, &p));
    CHECK(!ferry_stats_tput_parse("1765000000 3 4096 ", 18, &p));
    CHECK(!ferry_stats_tput_parse("1765000000 -3 4096", 18, &p));
    CHECK(!ferry_stats_tput_parse("1765000000 3", 12, &p));
    CHECK(!ferry_stats_tput_parse("", 0, &p));
    CHECK(!ferry_stats_tput_parse(NULL, 0, &p));
    CHECK(!ferry_stats_tput_parse("10 1 1234567890123456789", 24, &p)); /* 19 digits */
    CHECK(ferry_stats_tput_parse("10 1 123456789012345678", 23, &p));
    return test_summary();
}
