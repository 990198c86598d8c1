/* Fuzz the event intake: any body a source or an attacker can POST, with the default settings
 * and with a task's source bucket and the other key decodings (every bound is checked after
 * decoding): every format, the MNS JSON and XML envelopes, CloudEvents, SNS subscription
 * confirmations and delivery ids. */
#include "fuzz.h"
#include "events.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_event_list_t l;
    ferry_error_t e;
    if (ferry_events_parse((const char *)data, size, NULL, &l, &e) == FERRY_OK) {
        for (size_t i = 0; i < l.n; i++)
            if (strlen(l.v[i].key) > FERRY_EVENTS_MAX_KEY || l.v[i].size > FERRY_EVENTS_MAX_SIZE ||
                (l.v[i].etag && strlen(l.v[i].etag) > FERRY_ETAG_MAX) ||
                (l.v[i].sequencer && strlen(l.v[i].sequencer) > FERRY_SEQ_MAX) ||
                (l.v[i].delivery &&
                 strlen(l.v[i].delivery) > 8 + FERRY_EVENTS_MAX_ID + FERRY_EVENTS_MAX_KEY))
                __builtin_trap();
        if (l.sns && (l.n != 0 || strlen(l.sns->subscribe_url) > FERRY_EVENTS_MAX_URL ||
                      strncmp(l.sns->subscribe_url, "https://sns.", 12) != 0 ||
                      strlen(l.sns->topic_arn) > FERRY_EVENTS_MAX_TOPIC))
            __builtin_trap();
        ferry_event_list_free(&l);
    }
    ferry_events_opts_t o;
    ferry_events_opts_default(&o);
    o.bucket = "src-bucket";
    o.oss_key_urlencoded = 1;
    o.cos_plus_as_space = 1;
    o.eventbridge_key_urlencoded = 0;
    if (ferry_events_parse((const char *)data, size, &o, &l, &e) == FERRY_OK)
        ferry_event_list_free(&l);
    return 0;
}
