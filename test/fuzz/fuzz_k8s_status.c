/* Fuzz the reader of a Kubernetes API error answer (lib/core/k8s.c): the body comes from the
 * network; the message must stay inside the input and the output buffer, printable. */
#include "fuzz.h"
#include "ferry/k8s.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1); /* exactly the input: ASan sees any read past it */
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    char out[40];
    ferry_k8s_status_message(s, size, out, sizeof(out));
    size_t n = strlen(out);
    for (size_t i = 0; i < n; i++)
        if (out[i] < 0x20 || out[i] >= 0x7f)
            abort();
    char one[1];
    ferry_k8s_status_message(s, size, one, sizeof(one));
    if (one[0] != '\0')
        abort();
    free(s);
    return 0;
}
