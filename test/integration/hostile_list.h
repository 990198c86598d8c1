/* hostile_list — a small S3 listing server that misbehaves on purpose (libmicrohttpd in a
 * thread, loopback, any credentials accepted), for the listing guards of the S3 client and the
 * scan (issue 12, items 6 and 13). It answers ListObjects V1 (no list-type) and V2
 * (list-type=2) on any bucket, and nothing else (404).
 *
 * Modes:
 *   HL_ALT_TOKENS    V2: continuation tokens A, B, A, B, ... (a new key on every page)
 *   HL_MARKER_BACK   V1: NextMarker m2, m1, m2, m1, ... (walks back and forth)
 *   HL_EMPTY_PAGES   V2: empty pages that each say "truncated", each with a new token
 *   HL_OUT_OF_ORDER  one page whose keys are out of byte order ("b" before "a")
 *   HL_HUGE_SIZE     one page with an object of 1e17 bytes (above S3's 5 TiB)
 *   HL_DROP_NESTED   a real listing of four keys under in/ (V1 or V2, any prefix/delimiter),
 *                    except that a delimiter listing drops the CommonPrefix of a folder whose
 *                    keys are all two or more levels further down (in/deep/a/b/k.txt under
 *                    in/): s3rver 3.7.1's bug
 *
 * The looping modes give up after HL_HIT_CAP requests with a final page, so a client without
 * guards ends (and its test fails on the count) instead of hanging.
 *
 * Ownership: hostile_list_start returns a server that hostile_list_stop frees. Not
 * thread-safe apart from the counters (the server thread only reads the mode). */
#ifndef FERRY_TEST_HOSTILE_LIST_H
#define FERRY_TEST_HOSTILE_LIST_H

#include <stddef.h>

typedef enum {
    HL_ALT_TOKENS,
    HL_MARKER_BACK,
    HL_EMPTY_PAGES,
    HL_OUT_OF_ORDER,
    HL_HUGE_SIZE,
    HL_DROP_NESTED
} hl_mode_t;

#define HL_HIT_CAP 1000

/* The keys HL_DROP_NESTED holds (all under "in/"), and how many. */
extern const char *const HL_NESTED_KEYS[];
#define HL_NESTED_N 4

typedef struct hostile_list_s hostile_list_t;

/* Start on a free loopback port; url gets "http://127.0.0.1:PORT". 0 or -1. */
int hostile_list_start(hostile_list_t **out, char *url, size_t urln);
/* Switch mode and reset the request counter. */
void hostile_list_mode(hostile_list_t *h, hl_mode_t mode);
/* Listing requests answered since the last mode switch. */
long hostile_list_hits(hostile_list_t *h);
void hostile_list_stop(hostile_list_t *h);

#endif
