/* Issue 15, "which files failed, and why?": every failure a real worker records carries a
 * stable error code (ferry/errcode.h), and the failures group by it whatever the texts say.
 * fakes3 (oss) -> fakes3 (s3), real Redis, the ferry binary:
 *
 *  - a destination that answers 403 to the PUTs of some keys        -> dst:403
 *  - a destination that answers 500 until the attempts run out      -> dst:5xx
 *  - a source GET with a flipped byte (every time)                   -> checksum:src
 *  - a destination that echoes a wrong CRC32C / ETag (every time)    -> checksum:dst
 *  - a key whose source object was deleted before the copy           -> src:404 (skipped)
 *
 * Then ferry_status_failure_groups (GET /failures, the dashboard, the sync summary) answers
 * one group per code across the keys, and ferry_status_retry_code re-queues one code only.
 */
#include "test_worker_util.h"

#include "ferry/errcode.h"
#include "ferry/status.h"

#include <jansson.h>

static const char *code_of(wt_t *w, const char *key, int want_state)
{
    static char code[FERRY_ERRCODE_MAX + 1];
    ferry_record_t rec;
    code[0] = '\0';
    if (wt_record(w, "ec", key, &rec) != FERRY_OK) {
        fprintf(stderr, "%s: no record\n", key);
        return code;
    }
    if (rec.state != want_state)
        fprintf(stderr, "%s: state %d, want %d (%s)\n", key, rec.state, want_state, rec.error);
    CHECK_INT(rec.state, want_state);
    ferry_error_code_of(rec.error, code, sizeof(code));
    printf("%s: %s | %s\n", key, code, rec.error);
    CHECK(rec.error[0] == '['); /* written with its code, not classified after the fact */
    return code;
}

static json_int_t group_count(json_t *j, const char *code)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(j, "groups"), i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, "code")), code) == 0)
            return json_integer_value(json_object_get(g, "count"));
    }
    return 0;
}

int main(void)
{
    wt_t w;
    wt_start(&w, "oss", "oss");
    const char *k403[] = {"e403/a", "e403/b c", "e403/ü+"};
    const char *k500[] = {"e500/a", "e500/b"};
    for (int i = 0; i < 3; i++)
        wt_put(&w, k403[i], 100 + (size_t)i, 1 + (unsigned)i);
    for (int i = 0; i < 2; i++)
        wt_put(&w, k500[i], 200 + (size_t)i, 10 + (unsigned)i);
    wt_put(&w, "eck/src", 4096, 20);
    wt_put(&w, "eck/dst", 4096, 21);
    wt_put(&w, "ok/one", 10, 30);
    REQUIRE(
        s3t_faults(&w.d, w.dst.url,
                   "{\"rules\":[{\"op\":\"PutObject\",\"key_prefix\":\"out/e403/\",\"error\":403},"
                   "{\"op\":\"PutObject\",\"key_prefix\":\"out/e500/\",\"error\":500},"
                   "{\"op\":\"PutObject\",\"key_prefix\":\"out/eck/dst\",\"wrong_crc32c\":true,"
                   "\"wrong_etag\":true}]}") == 0);
    REQUIRE(s3t_faults(&w.s, w.src.url,
                       "{\"rules\":[{\"op\":\"GetObject\",\"key_prefix\":\"eck/src\","
                       "\"flip_byte\":true}]}") == 0);
    wt_task(&w, "ec", "", NULL, "out/", NULL);
    CHECK_INT(wt_enqueue_prefix(&w, "ec", ""), 8);
    wt_enqueue_key(&w, "ec", "gone/x", 5); /* listed, then deleted before the copy */
    const char *opts[] = {"--exit-when-idle", "--max-attempts", "2", NULL};
    pid_t p = wt_worker(&w, "ec", "ec.log", opts);
    CHECK_INT(wt_wait(p, 240), 0);

    for (int i = 0; i < 3; i++)
        CHECK_STR(code_of(&w, k403[i], FERRY_STATE_FAILED), "dst:403");
    for (int i = 0; i < 2; i++)
        CHECK_STR(code_of(&w, k500[i], FERRY_STATE_FAILED), "dst:5xx");
    CHECK_STR(code_of(&w, "eck/src", FERRY_STATE_FAILED), "checksum:src");
    CHECK_STR(code_of(&w, "eck/dst", FERRY_STATE_FAILED), "checksum:dst");
    CHECK_STR(code_of(&w, "gone/x", FERRY_STATE_SKIPPED), "src:404");
    ferry_record_t rec;
    CHECK_INT(wt_record(&w, "ec", "ok/one", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_DONE);

    /* the record as `ferry status` and the API show it: error_code beside the text */
    json_t *o = NULL;
    CHECK_INT(ferry_status_object(w.r, "ec", "e500/a", &o), FERRY_OK);
    CHECK_STR(json_string_value(json_object_get(o, "error_code")), "dst:5xx");
    const char *et = json_string_value(json_object_get(o, "error"));
    CHECK(et && strncmp(et, "gave up after 2 attempts: ", 26) == 0);
    json_decref(o);
    CHECK_INT(ferry_status_object(w.r, "ec", "ok/one", &o), FERRY_OK);
    CHECK(json_is_null(json_object_get(o, "error_code")));
    json_decref(o);

    /* one group per code across the keys (their texts all differ: they name the key) */
    json_t *j = NULL;
    CHECK_INT(ferry_status_failure_groups(w.r, "ec", "", "", 1000, 2, 0, &j), FERRY_OK);
    REQUIRE(j != NULL);
    char *dump = json_dumps(j, JSON_COMPACT);
    printf("groups: %s\n", dump ? dump : "?");
    free(dump);
    CHECK_INT(json_array_size(json_object_get(j, "groups")), 4);
    CHECK_INT(group_count(j, "dst:403"), 3);
    CHECK_INT(group_count(j, "dst:5xx"), 2);
    CHECK_INT(group_count(j, "checksum:src"), 1);
    CHECK_INT(group_count(j, "checksum:dst"), 1);
    json_t *g0 = json_array_get(json_object_get(j, "groups"), 0); /* largest first */
    CHECK_STR(json_string_value(json_object_get(g0, "code")), "dst:403");
    CHECK_INT(json_array_size(json_object_get(g0, "keys")), 2); /* samples */
    CHECK(json_is_string(json_object_get(g0, "error")));
    CHECK(json_integer_value(json_object_get(j, "examined")) == 7);
    json_decref(j);

    /* retry one code: only its keys are queued again ("checksum" takes both checksum codes) */
    long long n = 0;
    CHECK_INT(ferry_status_retry_code(w.r, "ec", "", "dst:5xx", &n), FERRY_OK);
    CHECK_INT(n, 2);
    CHECK_INT(ferry_status_retry_code(w.r, "ec", "", "checksum", &n), FERRY_OK);
    CHECK_INT(n, 2);
    CHECK_INT(ferry_status_retry_code(w.r, "ec", "", "dst:40", &n), FERRY_OK);
    CHECK_INT(n, 0); /* a code is matched whole */
    CHECK_INT(wt_record(&w, "ec", "e500/a", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_QUEUED);
    CHECK_INT(wt_record(&w, "ec", "e403/a", &rec), FERRY_OK);
    CHECK_INT(rec.state, FERRY_STATE_FAILED);

    wt_stop(&w);
    return test_summary();
}
