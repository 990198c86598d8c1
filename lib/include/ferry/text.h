/* ferry — text helpers shared by the log, the CLI's escaped output, the event parsers and
 * every reader of a duration or a size (the command line, task definitions).
 *
 * UTF-8 here is RFC 3629's: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF. Pure functions, thread-safe, no allocation.
 */
#ifndef FERRY_TEXT_H
#define FERRY_TEXT_H

#include <stddef.h>
#include <stdint.h>

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

/* A duration in milliseconds: one or more NUMBER UNIT parts, summed, with UNIT one of ms, s,
 * m, h, d ("500ms", "90s", "15m", "1h30m", "2d"); a bare number on its own is seconds ("90").
 * Each number is 0..10^9. FERRY_OK and *ms set; FERRY_EINVAL (empty, a sign, space, an unknown
 * unit, a bare number after a part: "1h5") or FERRY_ERANGE (a number or the sum too large),
 * *ms untouched. */
int ferry_parse_duration(const char *s, int64_t *ms);

/* A size in bytes: NUMBER with an optional binary multiple K, M, G, T (either case, 1024^n),
 * optionally followed by "iB" or "B" ("123", "64k", "8MiB", "8M", "1G", "5GB"), or a plain
 * "B" ("100B"). FERRY_OK and *bytes set; FERRY_EINVAL (empty, a sign, an unknown suffix) or
 * FERRY_ERANGE (larger than 2^64-1), *bytes untouched. */
int ferry_parse_size(const char *s, uint64_t *bytes);

/* An HTTP date in the one form RFC 9110 says senders must use (IMF-fixdate, exactly 29 bytes:
 * "Sun, 06 Nov 1994 08:49:37 GMT"), years 1970..9999, a real calendar day, seconds 0..59.
 * FERRY_OK and *secs (seconds since the epoch) set; FERRY_EPARSE for anything else, *secs
 * untouched: the caller may then try a lenient parser (curl_getdate, which gives the same
 * value for every string accepted here — test_core compares them). No sscanf: this runs for
 * every object copied (Last-Modified). */
int ferry_http_date_imf(const char *s, int64_t *secs);

/* ---- string building without printf (paths run per object) --------------------------------- */

/* s into out[cap], cut to cap - 1 bytes and NUL-terminated, as snprintf(out, cap, "%s", s)
 * writes it (cap 0: nothing written). Returns the bytes written, without the NUL. */
size_t ferry_str_copy(char *out, size_t cap, const char *s);

/* Append s (n bytes) to out[cap] at *len (*len < cap), cut at cap - 1 bytes; out stays
 * NUL-terminated. Returns 0, or -1 when s was cut (out then holds what fitted). */
int ferry_str_cat(char *out, size_t cap, size_t *len, const char *s, size_t n);

#define FERRY_DEC_MAX 21 /* bytes of the longest decimal of a 64-bit integer with its NUL */

/* The decimal digits of v at dst (1..20 bytes, no NUL); returns how many. Pure. */
static inline size_t ferry_utoa(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* v in decimal into out (at least FERRY_DEC_MAX bytes), NUL-terminated, as "%llu" / "%lld"
 * write it. Return the digits written (with the sign). */
size_t ferry_fmt_u64(char *out, uint64_t v);
size_t ferry_fmt_i64(char *out, int64_t v);

#ifdef __cplusplus
}
#endif
#endif
