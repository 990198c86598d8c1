/* The libFuzzer entry point that every fuzz target defines (fuzz_NAME.c in this directory,
 * NAME_fuzz.c in test/fakes3), driven by libFuzzer under FERRY_FUZZ and by standalone.c over
 * the seed corpus otherwise. Return 0; a crash, a sanitizer report or a leak is the finding. */
#ifndef FERRY_TEST_FUZZ_H
#define FERRY_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
