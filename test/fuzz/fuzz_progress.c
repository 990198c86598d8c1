/* Fuzz the text the display takes from outside (cmd/progress.c): an error message as a server
 * and the worker wrote it, grouped against a key (progress_error_group), and a log line from the
 * workers' log (progress_line_important). The input is KEY NUL ERROR; the output must be a
 * NUL-terminated string within its buffer, never cut inside a UTF-8 sequence. */
#include "fuzz.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *buf = malloc(size + 2);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    buf[size + 1] = '\0';
    const char *key = buf, *err = buf + strlen(buf) + 1;
    if (err > buf + size)
        err = buf + size;
    (void)progress_line_important(buf, size);
    size_t n = 4 + (size % 400);
    char *out = malloc(n);
    if (out) {
        progress_error_group(err, key, out, n);
        if (strlen(out) >= n)
            abort();
        free(out);
    }
    free(buf);
    return 0;
}
