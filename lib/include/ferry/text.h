/* ferry — text helpers shared by the log, the CLI's escaped output and the event parsers.
 *
 * UTF-8 here is RFC 3629's: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF. Pure functions, thread-safe, no allocation.
 */
#ifndef FERRY_TEXT_H
#define FERRY_TEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length (1..4) of the well-formed UTF-8 sequence that starts at p, reading at most n bytes
 * (n >= 1), or 0 when the bytes there are not one (invalid lead byte, bad or missing
 * continuation byte, overlong form, surrogate, past U+10FFFF, cut short by n). */
size_t ferry_utf8_seq_len(const void *p, size_t n);

/* 1 when p[0..n) is well-formed UTF-8 (an empty string is), else 0. */
int ferry_utf8_valid(const void *p, size_t n);

/* 1 when the well-formed sequence p[0..len) (from ferry_utf8_seq_len) is a control character:
 * C0 (U+0000..U+001F), DEL (U+007F) or C1 (U+0080..U+009F, which some terminals obey as
 * escapes). */
int ferry_utf8_is_control(const void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
