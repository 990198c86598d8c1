/* Unit tests: locations, durations, sizes, task option parsing and JSON round trip. */
#include "ferry/task.h"
#include "ferry/text.h"
#include "ferry/profile.h"
#include "test.h"

static int parse(ferry_task_t *t, ferry_error_t *e, int argc, char **argv)
{
    ferry_task_init(t);
    snprintf(t->name, sizeof(t->name), "t1");
    return ferry_task_parse_args(t, argc, argv, e);
}

static int dst_checksum(const ferry_task_t *t)
{
    return t->dst.checksum;
}

static int src_recheck(const ferry_task_t *t)
{
    return t->src.recheck;
}

/* A mode option: `opt value` parses to mode want (get reads it from the task), is stored under
 * key in the task JSON (absent when want is 0, the default) and read back the same. */
static void mode_option(const char *opt, const char *value, const char *key, int want,
                        int (*get)(const ferry_task_t *))
{
    ferry_task_t t, t2;
    ferry_error_t e;
    char *argv[] = {"--from", "oss://a", "--to", "s3://b", (char *)opt, (char *)value};
    REQUIRE(parse(&t, &e, 6, argv) == FERRY_OK);
    CHECK_INT(get(&t), want);
    json_t *j = ferry_task_to_json(&t);
    if (want == 0)
        CHECK(json_object_get(j, key) == NULL);
    else
        CHECK_STR(json_string_value(json_object_get(j, key)), value);
    REQUIRE(ferry_task_from_json(j, &t2, &e) == FERRY_OK);
    CHECK_INT(get(&t2), want);
    ferry_task_clear(&t2);
    json_decref(j);
    ferry_task_clear(&t);
}

int main(void)
{
    ferry_location_t l;
    ferry_error_t e;
    REQUIRE(ferry_location_parse("oss://my-bucket/in/", &l, &e) == FERRY_OK);
    CHECK_INT(l.scheme, FERRY_SCHEME_OSS);
    CHECK_STR(l.bucket, "my-bucket");
    CHECK_STR(l.prefix, "in/");
    REQUIRE(ferry_location_parse("s3c://b", &l, &e) == FERRY_OK);
    CHECK_INT(l.scheme, FERRY_SCHEME_S3C);
    CHECK_STR(l.prefix, "");
    CHECK(ferry_location_parse("gs://b", &l, &e) == FERRY_EINVAL);
    CHECK(strstr(e.msg, "gs") != NULL);
    CHECK(ferry_location_parse("b/x", &l, &e) == FERRY_EINVAL);
    CHECK(ferry_location_parse("s3://", &l, &e) == FERRY_EINVAL);
    CHECK(ferry_location_parse("s3://b b/x", &l, &e) == FERRY_EINVAL);

    int64_t ms;
    CHECK(ferry_parse_duration("1h", &ms) == 0 && ms == 3600000);
    CHECK(ferry_parse_duration("1h30m", &ms) == 0 && ms == 5400000);
    CHECK(ferry_parse_duration("500ms", &ms) == 0 && ms == 500);
    CHECK(ferry_parse_duration("90", &ms) == 0 && ms == 90000);
    CHECK(ferry_parse_duration("2d", &ms) == 0 && ms == 172800000);
    CHECK(ferry_parse_duration("1x", &ms) != 0);
    CHECK(ferry_parse_duration("", &ms) != 0);
    CHECK(ferry_parse_duration("h", &ms) != 0);
    CHECK(ferry_parse_duration("1h5", &ms) != 0);

    uint64_t b;
    CHECK(ferry_parse_size("8MiB", &b) == 0 && b == 8ULL << 20);
    CHECK(ferry_parse_size("8M", &b) == 0 && b == 8ULL << 20);
    CHECK(ferry_parse_size("64k", &b) == 0 && b == 65536);
    CHECK(ferry_parse_size("100", &b) == 0 && b == 100);
    CHECK(ferry_parse_size("1G", &b) == 0 && b == 1ULL << 30);
    CHECK(ferry_parse_size("1Q", &b) != 0);
    CHECK(ferry_parse_size("-1", &b) != 0);
    CHECK(ferry_parse_size("99999999999999999999", &b) != 0);

    ferry_task_t t;
    char *good[] = {"--from",
                    "oss://src/in/",
                    "--to",
                    "s3://dst/out/",
                    "--every",
                    "15m",
                    "--include",
                    "*.jpg",
                    "--exclude",
                    "tmp/*",
                    "--compare",
                    "checksum",
                    "--part-size",
                    "32MiB",
                    "--delete",
                    "--require-source-check",
                    "--dst-endpoint",
                    "http://127.0.0.1:9000",
                    "--dst-path-style",
                    "--src-profile",
                    "aliyun"};
    REQUIRE(parse(&t, &e, 21, good) == FERRY_OK);
    CHECK_INT(t.every_ms, 900000);
    CHECK_INT(t.n_include, 1);
    CHECK_INT(t.compare, FERRY_COMPARE_CHECKSUM);
    CHECK(t.delete_);
    CHECK(t.dst.path_style);
    json_t *j = ferry_task_to_json(&t);
    char *s = json_dumps(j, JSON_COMPACT);
    CHECK(strstr(s, "secret") == NULL);
    ferry_task_t t2;
    REQUIRE(ferry_task_from_json(j, &t2, &e) == FERRY_OK);
    CHECK_STR(t2.src.loc, "oss://src/in/");
    CHECK_STR(t2.dst.endpoint, "http://127.0.0.1:9000");
    CHECK_STR(t2.exclude[0], "tmp/*");
    CHECK_INT(t2.part_size, 32ULL << 20);
    CHECK_STR(t2.src.profile, "aliyun");
    CHECK(t.require_source_check);
    CHECK(t2.require_source_check);
    CHECK(!t2.md5_parts);
    free(s);
    json_decref(j);
    ferry_task_clear(&t);
    ferry_task_clear(&t2);
    {
        /* --md5-parts: plain-MD5 sources above the threshold in parallel parts (unchecked) */
        char *mp[] = {"--from", "s3://a/", "--to", "s3://b/", "--md5-parts"};
        REQUIRE(parse(&t, &e, 5, mp) == FERRY_OK);
        CHECK(t.md5_parts);
        j = ferry_task_to_json(&t);
        REQUIRE(ferry_task_from_json(j, &t2, &e) == FERRY_OK);
        CHECK(t2.md5_parts);
        json_decref(j);
        ferry_task_clear(&t);
        ferry_task_clear(&t2);
    }

    /* every error names the option */
    struct {
        int argc;
        char *argv[6];
        const char *opt;
    } bad[] = {
        {4, {"--from", "oss://a", "--to", "ftp://b"}, "--to"},
        {4, {"--from", "nope", "--to", "s3://b"}, "--from"},
        {2, {"--to", "s3://b"}, "--from"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--every", "soon"}, "--every"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--compare", "md5"}, "--compare"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--part-size", "1k"}, "--part-size"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--cron", "* * *"}, "--cron"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--cron", "0 24 * * *"}, "--cron"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--bogus", "1"}, "--bogus"},
        {5, {"--from", "oss://a", "--to", "s3://b", "--every"}, "--every"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--src-endpoint", "ftp://x"}, "--src-endpoint"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--dst-checksum", "sha1"}, "--dst-checksum"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--src-recheck", "never"}, "--src-recheck"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(&t, &e, bad[i].argc, bad[i].argv);
        CHECK(rc == FERRY_EINVAL);
        if (strstr(e.msg, bad[i].opt) == NULL)
            fprintf(stderr, "message \"%s\" does not name %s\n", e.msg, bad[i].opt);
        CHECK(strstr(e.msg, bad[i].opt) != NULL);
        ferry_task_clear(&t);
    }
    /* --dst-checksum and --src-recheck: stored when not auto, read back */
    mode_option("--dst-checksum", "md5", "to_checksum", FERRY_CHECKSUM_MODE_MD5, dst_checksum);
    mode_option("--dst-checksum", "auto", "to_checksum", FERRY_CHECKSUM_MODE_AUTO, dst_checksum);
    mode_option("--src-recheck", "list", "from_recheck", FERRY_RECHECK_LIST, src_recheck);
    mode_option("--src-recheck", "head", "from_recheck", FERRY_RECHECK_HEAD, src_recheck);
    mode_option("--src-recheck", "auto", "from_recheck", FERRY_RECHECK_AUTO, src_recheck);
    /* a stored value ferry does not know makes the task unreadable rather than silently auto */
    {
        char *ra[] = {"--from", "oss://a", "--to", "s3://b", "--src-recheck", "list"};
        REQUIRE(parse(&t, &e, 6, ra) == FERRY_OK);
        json_t *rj = ferry_task_to_json(&t);
        json_object_set_new(rj, "from_recheck", json_string("sometimes"));
        ferry_task_t t3;
        CHECK(ferry_task_from_json(rj, &t3, &e) != FERRY_OK);
        CHECK(strstr(e.msg, "\"from_recheck\"") != NULL); /* names the field, */
        CHECK(strstr(e.msg, "ferry task rm") != NULL);    /* and what to do */
        ferry_task_clear(&t3);
        json_decref(rj);
        ferry_task_clear(&t);
    }
    /* size/age filters: parsed, stored in the JSON, read back; absent when unset */
    {
        char *fa[] = {"--from",        "oss://a",   "--to", "s3://b",    "--min-size", "64k",
                      "--max-size=1G", "--min-age", "90m",  "--max-age", "30d"};
        REQUIRE(parse(&t, &e, 11, fa) == FERRY_OK);
        CHECK_INT(t.min_size, 65536);
        CHECK_INT(t.max_size, 1ULL << 30);
        CHECK_INT(t.min_age_ms, 90LL * 60000);
        CHECK_INT(t.max_age_ms, 30LL * 86400000);
        json_t *fj = ferry_task_to_json(&t);
        CHECK_INT(json_integer_value(json_object_get(fj, "min_size")), 65536);
        CHECK_INT(json_integer_value(json_object_get(fj, "max_size")), 1LL << 30);
        CHECK_INT(json_integer_value(json_object_get(fj, "min_age_ms")), 5400000);
        CHECK_INT(json_integer_value(json_object_get(fj, "max_age_ms")), 2592000000LL);
        char *dump = json_dumps(fj, JSON_COMPACT);
        json_t *back = json_loads(dump, 0, NULL);
        ferry_task_t t3;
        REQUIRE(ferry_task_from_json(back, &t3, &e) == FERRY_OK);
        CHECK_INT(t3.min_size, t.min_size);
        CHECK_INT(t3.max_size, t.max_size);
        CHECK_INT(t3.min_age_ms, t.min_age_ms);
        CHECK_INT(t3.max_age_ms, t.max_age_ms);
        CHECK_INT(ferry_task_validate(&t3, &e), FERRY_OK);
        ferry_task_clear(&t3);
        /* a stored definition with a bad filter is refused, naming the field */
        json_object_set_new(back, "max_age_ms", json_integer(-5));
        CHECK_INT(ferry_task_from_json(back, &t3, &e), FERRY_EPARSE);
        CHECK(strstr(e.msg, "max_age_ms") != NULL);
        ferry_task_clear(&t3);
        json_object_set_new(back, "max_age_ms", json_string("1h"));
        CHECK_INT(ferry_task_from_json(back, &t3, &e), FERRY_EPARSE);
        ferry_task_clear(&t3);
        json_decref(back);
        free(dump);
        json_decref(fj);
        ferry_task_clear(&t);
        /* no filters: no filter members (stored tasks keep their old form) */
        char *nf[] = {"--from", "oss://a", "--to", "s3://b"};
        REQUIRE(parse(&t, &e, 4, nf) == FERRY_OK);
        fj = ferry_task_to_json(&t);
        CHECK(json_object_get(fj, "min_size") == NULL);
        CHECK(json_object_get(fj, "max_age_ms") == NULL);
        REQUIRE(ferry_task_from_json(fj, &t3, &e) == FERRY_OK);
        CHECK_INT(t3.min_size + t3.max_size, 0);
        CHECK_INT(t3.min_age_ms + t3.max_age_ms, 0);
        ferry_task_clear(&t3);
        json_decref(fj);
        ferry_task_clear(&t);
    }
    struct {
        int argc;
        char *argv[8];
        const char *opt;
    } badf[] = {
        {6, {"--from", "oss://a", "--to", "s3://b", "--min-size", "lots"}, "--min-size"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--max-size", "-1"}, "--max-size"},
        {6, {"--from", "oss://a", "--to", "s3://b", "--min-age", "old"}, "--min-age"},
        {5, {"--from", "oss://a", "--to", "s3://b", "--max-age=1x"}, "--max-age"},
        {5, {"--from", "oss://a", "--to", "s3://b", "--max-age"}, "--max-age"},
        {8,
         {"--from", "oss://a", "--to", "s3://b", "--min-size", "2M", "--max-size", "1M"},
         "--min-size"},
        {8,
         {"--from", "oss://a", "--to", "s3://b", "--min-age", "2d", "--max-age", "1d"},
         "--min-age"},
    };
    for (size_t i = 0; i < sizeof(badf) / sizeof(badf[0]); i++) {
        int rc = parse(&t, &e, badf[i].argc, badf[i].argv);
        CHECK(rc == FERRY_EINVAL);
        if (strstr(e.msg, badf[i].opt) == NULL)
            fprintf(stderr, "message \"%s\" does not name %s\n", e.msg, badf[i].opt);
        CHECK(strstr(e.msg, badf[i].opt) != NULL);
        ferry_task_clear(&t);
    }
    CHECK(ferry_task_name_valid("nightly-photos_2.x"));
    CHECK(!ferry_task_name_valid("a{b}"));
    CHECK(!ferry_task_name_valid("-x"));
    CHECK(!ferry_task_name_valid(""));
    return test_summary();
}
