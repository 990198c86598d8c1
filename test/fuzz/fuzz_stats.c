/* Fuzz target: the stats field-name parser, the label check and the throughput point parser
 * (ferry/stats.h): any bytes read back from a Redis hash must parse or be refused, never crash.
 * And the counter field builder (labels may come from outside: an event's format and channel)
 * writes what snprintf wrote, the input cut at ',' into a name and three labels. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/error.h"
#include "ferry/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    char buf[FERRY_STATS_FIELD_MAX];
    const char *a, *b, *c;
    static const char *const names[] = {"requests", "results", "events", "bytes", "copy_retries"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (ferry_stats_field_counter(s, names[i], buf, sizeof(buf), &a, &b, &c))
            (void)(strlen(a) + strlen(b) + strlen(c));
    (void)ferry_stats_label_ok(s);
    char *part[4] = {s, NULL, NULL, NULL}; /* "name,l1,l2,l3"; missing labels are NULL */
    for (int i = 1, k = 0; s[k] && i < 4; k++)
        if (s[k] == ',') {
            s[k] = '\0';
            part[i++] = s + k + 1;
        }
    char want[300], got[300];
    size_t len = 0;
    for (size_t cap = 1; cap <= sizeof(want); cap += cap < 40 ? 1 : 97) {
        int rc = ferry_stats_counter_field(got, cap, &len, part[0], part[1], part[2], part[3]);
        if (!ferry_stats_label_ok(part[0])) {
            if (rc != FERRY_EINVAL)
                abort();
            continue;
        }
#define SHOWN(l) ((l) ? (ferry_stats_label_ok(l) ? (l) : "other") : "")
        int n = snprintf(want, cap, "c|%s|%s|%s|%s", part[0], SHOWN(part[1]), SHOWN(part[2]),
                         SHOWN(part[3]));
#undef SHOWN
        if (rc != ((size_t)n < cap ? FERRY_OK : FERRY_ETOOBIG) || strcmp(want, got) != 0 ||
            len != strlen(want))
            abort();
    }
    ferry_tput_point_t p;
    if (ferry_stats_tput_parse((const char *)data, size, &p)) /* no NUL needed: the raw bytes */
        (void)(p.t + p.objects + p.bytes);
    free(s);
    return 0;
}
