/* Fuzz target: the stats field-name parser, the label check and the throughput point parser
 * (ferry/stats.h): any bytes read back from a Redis hash must parse or be refused, never crash. */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    ferry_tput_point_t p;
    if (ferry_stats_tput_parse((const char *)data, size, &p)) /* no NUL needed: the raw bytes */
        (void)(p.t + p.objects + p.bytes);
    free(s);
    return 0;
}
