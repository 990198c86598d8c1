/* Fuzz the cron parser (task definitions are user input) and next-time search. */
#include "fuzz.h"
#include "ferry/cron.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    ferry_cron_t c;
    ferry_error_t e;
    if (ferry_cron_parse(s, &c, &e) == FERRY_OK) {
        time_t n;
        (void)ferry_cron_next(&c, 1795000000, &n);
    }
    free(s);
    return 0;
}
