/* Fuzz the event intake: any body a source or an attacker can POST. */
#include "events.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_event_list_t l;
    ferry_error_t e;
    if (ferry_events_parse((const char *)data, size, NULL, &l, &e) == FERRY_OK)
        ferry_event_list_free(&l);
    return 0;
}
