/* Fuzz target: the Redis URL parser. */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    ferry_redis_url_t u;
    ferry_error_t e;
    if (ferry_redis_url_parse(s, &u, &e) == FERRY_OK) {
        char d[400];
        ferry_redis_url_describe(&u, d, sizeof(d));
    }
    free(s);
    return 0;
}
