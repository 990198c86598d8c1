/* Unit tests: record encode/decode, etag packing, time formatting, JSON shape (pure). */
#include <ctype.h>
#include <string.h>

#include "ferry/ledger.h"
#include "test.h"

/* Issue 17: the scripts name states, origins, slots and bounds (S_DONE, O_EVENT, F_SIZE,
 * KEY_MAX) instead of writing numbers, and every name they use is one the generated constants
 * define (Redis would only fail at run time, on the path that reads it). */
static void test_script_names(void)
{
    static const char *const scripts[] = {"enqueue", "skip",   "start", "finish",
                                          "fail",    "upload", "lease", "list"};
    const char *consts = ferry_ledger_lua_consts();
    REQUIRE(consts != NULL);
    size_t cn = strlen(consts);
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
        const ferry_redis_script_t *sc = ferry_ledger_script(scripts[i]);
        REQUIRE(sc != NULL);
        CHECK_STR(sc->name, scripts[i]);
        /* the scripts that use constants start with them */
        if (strcmp(scripts[i], "lease") != 0)
            CHECK(strncmp(sc->src, consts, cn) == 0);
        const char *body = strncmp(sc->src, consts, cn) == 0 ? sc->src + cn : sc->src;
        for (const char *p = body; *p; p++) {
            if (p > body && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
                continue; /* not at the start of a name */
            /* a record slot by number: r[3], r[ 3] */
            if (p[0] == 'r' && p[1] == '[') {
                const char *q = p + 2;
                while (*q == ' ')
                    q++;
                if (isdigit((unsigned char)*q)) {
                    fprintf(stderr, "%s: bare slot index: %.24s\n", scripts[i], p);
                    CHECK(0);
                }
            }
            /* a name of the generated constants: S_X, O_X, F_X, N_SLOTS, *_MAX */
            size_t n = 0;
            while (isalnum((unsigned char)p[n]) || p[n] == '_')
                n++;
            int upper = n >= 3;
            for (size_t k = 0; k < n; k++)
                if (islower((unsigned char)p[k]))
                    upper = 0;
            int ours = upper && ((p[1] == '_' && strchr("SOF", p[0])) ||
                                 (n > 4 && memcmp(p + n - 4, "_MAX", 4) == 0) ||
                                 (n == 7 && memcmp(p, "N_SLOTS", 7) == 0));
            if (ours) {
                char decl[80];
                snprintf(decl, sizeof(decl), "local %.*s = ", (int)n, p);
                if (strstr(consts, decl) == NULL) {
                    fprintf(stderr, "%s: %.*s is not a generated constant\n", scripts[i], (int)n,
                            p);
                    CHECK(0);
                }
            }
            if (n)
                p += n - 1;
        }
    }
    /* the state and origin names, from the same lists */
    CHECK_STR(ferry_state_name(FERRY_STATE_DELETED), "deleted");
    CHECK_STR(ferry_state_name(FERRY_STATE_COUNT), "?");
    CHECK_STR(ferry_origin_name(FERRY_ORIGIN_RETRY), "retry");
    CHECK_STR(ferry_origin_name(FERRY_ORIGIN_COUNT), "?");
    for (int i = 0; i < FERRY_STATE_COUNT; i++)
        CHECK(strcmp(ferry_state_name(i), "?") != 0);
    CHECK_INT(FERRY_SLOT_COUNT, 17);
    CHECK_INT(FERRY_SLOT_CHECKS, FERRY_SLOT_COUNT);
}

int main(void)
{
    test_script_names();
    uint8_t p[200];
    char out[200];
    const char *etags[] = {"688A4C0F0B5D3B7E2F1A6B5C4D3E2F10",
                           "\"9b2cf535f27731c974343645a3985328\"",
                           "d41d8cd98f00b204e9800998ecf8427e",
                           "\"abc-3\"",
                           "x",
                           "0123456789",
                           "AbCd",
                           "\"\"",
                           "\x01weird"};
    for (size_t i = 0; i < sizeof(etags) / sizeof(etags[0]); i++) {
        size_t n = ferry_etag_pack(etags[i], p, sizeof(p));
        REQUIRE(n > 0);
        CHECK(ferry_etag_unpack(p, n, out, sizeof(out)) == FERRY_OK);
        CHECK_STR(out, etags[i]);
    }
    CHECK_INT(ferry_etag_pack(etags[0], p, sizeof(p)), 17); /* 32 hex -> 16 bytes + tag */

    ferry_record_t r, d;
    ferry_record_init(&r);
    snprintf(r.key, sizeof(r.key), "a/b.jpg");
    r.state = FERRY_STATE_DONE;
    r.size = 122539;
    r.src_mtime = 1786603543;
    snprintf(r.src_etag, sizeof(r.src_etag), "688A4C0F0B5D3B7E2F1A6B5C4D3E2F10");
    r.has_crc64 = 1;
    r.src_crc64 = 11051505435318425153ULL;
    snprintf(r.dst_etag, sizeof(r.dst_etag), "\"688a4c0f0b5d3b7e2f1a6b5c4d3e2f10\"");
    r.attempts = 1;
    r.origin = FERRY_ORIGIN_EVENT;
    r.queued_at = 1786603600;
    r.started_at = 1786603601;
    r.finished_at = 1786603602;
    r.duration_ms = 12;
    snprintf(r.worker, sizeof(r.worker), "host-a/3");
    ferry_buf_t b;
    ferry_buf_init(&b, 4096);
    REQUIRE(ferry_record_encode(&r, &b) == FERRY_OK);
    printf("done record: %zu bytes\n", b.len);
    CHECK(b.len <= 64); /* fits a default listpack value */
    REQUIRE(ferry_record_decode("a/b.jpg", 7, b.data, b.len, &d) == FERRY_OK);
    CHECK_STR(d.key, "a/b.jpg");
    CHECK_INT(d.state, FERRY_STATE_DONE);
    CHECK_INT(d.size, 122539);
    CHECK_INT(d.src_mtime, 1786603543);
    CHECK_STR(d.src_etag, r.src_etag);
    CHECK(d.has_crc64 && d.src_crc64 == r.src_crc64);
    CHECK_STR(d.dst_etag, r.dst_etag);
    CHECK_INT(d.started_at, r.started_at);
    CHECK_INT(d.finished_at, r.finished_at);
    CHECK_INT(d.duration_ms, 12);
    CHECK_STR(d.worker, "host-a/3");
    CHECK_INT(d.origin, FERRY_ORIGIN_EVENT);

    /* failed record with error, upload id, sequencer; dst etag not derived */
    ferry_buf_reset(&b);
    r.state = FERRY_STATE_FAILED;
    snprintf(r.dst_etag, sizeof(r.dst_etag), "\"other-2\"");
    snprintf(r.error, sizeof(r.error), "OSS said AccessDenied");
    snprintf(r.upload_id, sizeof(r.upload_id), "UPLOAD123");
    snprintf(r.seq, sizeof(r.seq), "0055AED6DCD90281E5");
    REQUIRE(ferry_record_encode(&r, &b) == FERRY_OK);
    REQUIRE(ferry_record_decode(NULL, 0, b.data, b.len, &d) == FERRY_OK);
    CHECK_STR(d.dst_etag, "\"other-2\"");
    CHECK_STR(d.error, "OSS said AccessDenied");
    CHECK_STR(d.upload_id, "UPLOAD123");
    CHECK_STR(d.seq, "0055AED6DCD90281E5");
    CHECK_STR(d.checks, ""); /* records without the field decode as before */

    /* issue 12: the checks slot, and one upload-id bound (1,024 bytes) */
    ferry_buf_reset(&b);
    r.state = FERRY_STATE_DONE;
    snprintf(r.checks, sizeof(r.checks), "src:crc64,dst:content-md5");
    memset(r.upload_id, 'u', FERRY_UPLOAD_ID_MAX);
    r.upload_id[FERRY_UPLOAD_ID_MAX] = '\0';
    REQUIRE(ferry_record_encode(&r, &b) == FERRY_OK);
    REQUIRE(ferry_record_decode(NULL, 0, b.data, b.len, &d) == FERRY_OK);
    CHECK_STR(d.checks, "src:crc64,dst:content-md5");
    CHECK_INT(strlen(d.upload_id), 1024);
    json_t *jc = ferry_record_to_json("t1", &d);
    char *sc = json_dumps(jc, JSON_COMPACT);
    CHECK(strstr(sc, "\"checks\":[\"src:crc64\",\"dst:content-md5\"]") != NULL);
    free(sc);
    json_decref(jc);
    snprintf(r.upload_id, sizeof(r.upload_id), "UPLOAD123");
    r.checks[0] = '\0';
    r.state = FERRY_STATE_FAILED;

    /* sequencers: right-pad the shorter with zeros, then compare (not length first) */
    CHECK(ferry_seq_cmp("00AA99", "00AB") < 0);
    CHECK(ferry_seq_cmp("00AB", "00AA99") > 0);
    CHECK(ferry_seq_cmp("00AB", "00AB00") == 0);
    CHECK(ferry_seq_cmp("00AB01", "00AB") > 0);
    CHECK(ferry_seq_cmp("0055AED6DCD90281E5", "0055AED6DCD90281E6") < 0);
    CHECK(ferry_seq_cmp("", "") == 0);
    CHECK(ferry_checks_unverified("src:unverified,dst:content-md5"));
    CHECK(ferry_checks_unverified("dst:etag,src:unverified"));
    CHECK(!ferry_checks_unverified("src:unverified-not,dst:etag"));
    CHECK(!ferry_checks_unverified(""));

    /* a minimal queued record: trailing nils dropped */
    ferry_record_t q;
    ferry_record_init(&q);
    q.queued_at = 5;
    ferry_buf_reset(&b);
    REQUIRE(ferry_record_encode(&q, &b) == FERRY_OK);
    CHECK_INT(b.len, 9); /* state size mtime nil nil nil attempts origin queued_at */
    REQUIRE(ferry_record_decode(NULL, 0, b.data, b.len, &d) == FERRY_OK);
    CHECK_INT(d.duration_ms, -1);
    CHECK_INT(d.started_at, 0);

    /* malformed */
    CHECK(ferry_record_decode(NULL, 0, "", 0, &d) == FERRY_EPARSE);
    CHECK(ferry_record_decode(NULL, 0, "\x09", 1, &d) == FERRY_EPARSE); /* state 9 */
    CHECK(ferry_record_decode(NULL, 0, "\x02\xce\x01", 3, &d) == FERRY_EPARSE);
    CHECK(ferry_record_decode(NULL, 0, "\x02\x01\x01\xa5xy", 6, &d) == FERRY_EPARSE);
    CHECK(ferry_record_decode(NULL, 0, "\x02\x01\x01\xc0\xa3xyz", 8, &d) ==
          FERRY_EPARSE); /* crc != 8 */
    CHECK(ferry_record_decode(NULL, 0, "\x02\xc1", 2, &d) == FERRY_EPARSE);
    ferry_buf_free(&b);

    char t[40];
    ferry_time_format(1786603543, t, sizeof(t));
    CHECK_STR(t, "2026-08-13T06:45:43Z");
    int64_t v;
    CHECK(ferry_time_parse("2026-08-13T06:45:43Z", &v) == 0 && v == 1786603543);
    CHECK(ferry_time_parse("2026-08-13T06:45:43.123Z", &v) == 0 && v == 1786603543);
    CHECK(ferry_time_parse("1786603543", &v) == 0 && v == 1786603543);
    CHECK(ferry_time_parse("yesterday", &v) != 0);

    json_t *j = ferry_record_to_json("t1", &r);
    char *s = json_dumps(j, JSON_COMPACT);
    CHECK(strstr(s, "\"task\":\"t1\"") != NULL);
    CHECK(strstr(s, "\"src_mtime\":\"2026-08-13T06:45:43Z\"") != NULL);
    CHECK(strstr(s, "\"src_crc64\":\"11051505435318425153\"") != NULL);
    CHECK(strstr(s, "\"state\":\"failed\"") != NULL);
    free(s);
    json_decref(j);

    ferry_state_t st;
    CHECK(ferry_state_parse("skipped", &st) == 0 && st == FERRY_STATE_SKIPPED);
    CHECK(ferry_state_parse("nope", &st) != 0);
    CHECK(ferry_ledger_bucket_of("a", 1, 16) < 16);
    CHECK(ferry_ledger_bucket_of("a", 1, 65536) == ferry_ledger_bucket_of("a", 1, 65536));
    return test_summary();
}
