/* Fuzz the duration and size parsers of ferry/text.h (command-line options and task
 * definitions are user input): no crash, no overflow, and a value only on success. */
#include "fuzz.h"
#include "ferry/error.h"
#include "ferry/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    int64_t ms = -1;
    int rc = ferry_parse_duration(s, &ms);
    if ((rc == FERRY_OK) != (ms >= 0))
        abort();
    uint64_t b = 0;
    (void)ferry_parse_size(s, &b);
    free(s);
    return 0;
}
