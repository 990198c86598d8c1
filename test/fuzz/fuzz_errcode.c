/* Fuzz the error-code reader and classifier (stored error texts come from Redis and from
 * the stores' messages). */
#include "fuzz.h"
#include "ferry/errcode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (s == NULL)
        return 0;
    char code[FERRY_ERRCODE_MAX + 1], out[FERRY_ERRMSG_MAX + 1];
    const char *rest = ferry_error_code_of(s, code, sizeof(code));
    if (code[0] && !ferry_error_code_valid(code, strlen(code)))
        abort();
    if (rest < s || rest > s + size)
        if (rest[0] != '\0')
            abort();
    ferry_error_text_coded(out, sizeof(out), code, rest);
    ferry_error_t e;
    ferry_error_set(&e, FERRY_ES3, "%s", s);
    e.http_status = size ? data[0] * 3 : 0;
    ferry_error_code_for(&e, code, sizeof(code));
    free(s);
    return 0;
}
