/* The libFuzzer entry point that every fuzz target defines (fuzz_NAME.c in this directory,
 * NAME_fuzz.c in test/fakes3), driven by libFuzzer under FERRY_FUZZ and by standalone.c over
 * the seed corpus otherwise. Return 0; a crash, a sanitizer report or a leak is the finding. */
#ifndef FERRY_TEST_FUZZ_H
#define FERRY_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (new: free it), for parsers of text; NULL when out of
 * memory. A NUL inside the input ends the string early, as it would for the parser's callers. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

#endif
