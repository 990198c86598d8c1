/* Unit tests for credentials (lib/core/creds.c) and side resolution (lib/s3/side.c): the
 * docs/cli.md order (profile, FERRY_SRC_/FERRY_DST_, AWS_ for the destination), INI parsing
 * errors with line numbers, and messages that say what to set. */
#include "ferry/creds.h"
#include "ferry/side.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static void clear_env(void)
{
    const char *vars[] = {"FERRY_SRC_ACCESS_KEY_ID",     "FERRY_SRC_SECRET_ACCESS_KEY",
                          "FERRY_SRC_SESSION_TOKEN",     "FERRY_DST_ACCESS_KEY_ID",
                          "FERRY_DST_SECRET_ACCESS_KEY", "FERRY_DST_SESSION_TOKEN",
                          "AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",           "FERRY_CREDENTIALS"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void test_ini(void)
{
    const char *ini = "# ferry credentials\n"
                      "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n"
                      "\n[profile prod]\n  aws_access_key_id=AKPROD  \n"
                      "aws_secret_access_key = SKPROD\naws_session_token = TOK\nregion = x\n";
    ferry_creds_store_t c;
    ferry_error_t e;
    CHECK_INT(ferry_creds_parse_ini(ini, strlen(ini), "prod", "t", &c, &e), FERRY_OK);
    CHECK_STR(c.access_key, "AKPROD");
    CHECK_STR(c.secret_key, "SKPROD");
    CHECK_STR(c.session_token, "TOK");
    CHECK_INT(ferry_creds_parse_ini(ini, strlen(ini), "default", "t", &c, &e), FERRY_OK);
    CHECK_STR(c.access_key, "D");
    CHECK_STR(c.session_token, "");
    CHECK_INT(ferry_creds_parse_ini(ini, strlen(ini), "nope", "t", &c, &e), FERRY_ENOTFOUND);
    CHECK(strstr(e.msg, "no [nope] section") != NULL);
    const char *bad = "[a]\naws_access_key_id\n";
    CHECK_INT(ferry_creds_parse_ini(bad, strlen(bad), "a", "f", &c, &e), FERRY_EPARSE);
    CHECK(strstr(e.msg, "f line 2") != NULL);
    const char *half = "[a]\naws_access_key_id = x\n";
    CHECK_INT(ferry_creds_parse_ini(half, strlen(half), "a", "f", &c, &e), FERRY_EPARSE);
    CHECK(strstr(e.msg, "lacks") != NULL);
    CHECK_STR(c.access_key, ""); /* wiped */
    const char *unclosed = "[a\n";
    CHECK_INT(ferry_creds_parse_ini(unclosed, strlen(unclosed), "a", "f", &c, &e), FERRY_EPARSE);
}

static void test_env_order(void)
{
    ferry_creds_store_t c;
    ferry_error_t e;
    clear_env();
    CHECK_INT(ferry_creds_load(FERRY_SIDE_SRC, NULL, &c, &e), FERRY_ENOTFOUND);
    CHECK(strstr(e.msg, "FERRY_SRC_ACCESS_KEY_ID") != NULL);
    CHECK(strstr(e.msg, "--src-profile") != NULL);
    setenv("AWS_ACCESS_KEY_ID", "AWSK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "AWSS", 1);
    /* AWS_* is for the destination only */
    CHECK_INT(ferry_creds_load(FERRY_SIDE_SRC, NULL, &c, &e), FERRY_ENOTFOUND);
    CHECK_INT(ferry_creds_load(FERRY_SIDE_DST, NULL, &c, &e), FERRY_OK);
    CHECK_STR(c.access_key, "AWSK");
    setenv("FERRY_DST_ACCESS_KEY_ID", "FDK", 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", "FDS", 1);
    CHECK_INT(ferry_creds_load(FERRY_SIDE_DST, NULL, &c, &e), FERRY_OK);
    CHECK_STR(c.access_key, "FDK"); /* FERRY_DST_ before AWS_ */

    char path[] = "/tmp/ferry-creds-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char *ini = "[src]\naws_access_key_id = PK\naws_secret_access_key = PS\n";
    REQUIRE(write(fd, ini, strlen(ini)) == (ssize_t)strlen(ini));
    close(fd);
    setenv("FERRY_CREDENTIALS", path, 1);
    setenv("FERRY_SRC_ACCESS_KEY_ID", "ENVK", 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", "ENVS", 1);
    CHECK_INT(ferry_creds_load(FERRY_SIDE_SRC, "src", &c, &e), FERRY_OK);
    CHECK_STR(c.access_key, "PK"); /* a named profile wins */
    ferry_creds_t v = ferry_creds_view(&c);
    CHECK_STR(v.secret_key, "PS");
    CHECK(v.session_token == NULL);
    ferry_creds_wipe(&c);
    CHECK_STR(c.secret_key, "");
    setenv("FERRY_CREDENTIALS", "/nonexistent/creds", 1);
    CHECK_INT(ferry_creds_load(FERRY_SIDE_SRC, "src", &c, &e), FERRY_EIO);
    CHECK(strstr(e.msg, "/nonexistent/creds") != NULL);
    unlink(path);
    clear_env();
}

static void test_side(void)
{
    ferry_side_t s;
    ferry_error_t e;
    clear_env();
    setenv("FERRY_SRC_ACCESS_KEY_ID", "K", 1);
    setenv("FERRY_SRC_SECRET_ACCESS_KEY", "S", 1);
    ferry_side_spec_t spec = {FERRY_SIDE_SRC,
                              "oss",
                              "src-bucket",
                              "in/",
                              "http://127.0.0.1:9000",
                              "cn-hangzhou",
                              0,
                              NULL,
                              FERRY_CHECKSUM_MODE_AUTO};
    CHECK_INT(ferry_side_resolve(&spec, &s, &e), FERRY_OK);
    CHECK_STR(s.where, "oss://src-bucket/in/");
    CHECK_STR(s.creds.access_key, "K");
    ferry_side_wipe(&s);
    spec.scheme = "gcs";
    CHECK_INT(ferry_side_resolve(&spec, &s, &e), FERRY_EINVAL);
    CHECK(strncmp(e.msg, "source: ", 8) == 0);
    spec.scheme = "oss";
    spec.kind = FERRY_SIDE_DST;
    CHECK_INT(ferry_side_resolve(&spec, &s, &e), FERRY_ENOTFOUND);
    CHECK(strstr(e.msg, "destination: no destination credentials") != NULL);
    /* trailing checksums: S3 on by default, s3c off, forced either way; refused for OSS */
    setenv("FERRY_DST_ACCESS_KEY_ID", "K", 1);
    setenv("FERRY_DST_SECRET_ACCESS_KEY", "S", 1);
    spec.checksum = FERRY_CHECKSUM_MODE_TRAILER;
    CHECK_INT(ferry_side_resolve(&spec, &s, &e), FERRY_EINVAL);
    CHECK(strstr(e.msg, "--dst-checksum md5") != NULL);
    static const struct {
        const char *scheme;
        ferry_checksum_mode_t mode;
        int chunked;
    } modes[] = {{"s3", FERRY_CHECKSUM_MODE_AUTO, 1},
                 {"s3", FERRY_CHECKSUM_MODE_MD5, 0},
                 {"s3c", FERRY_CHECKSUM_MODE_AUTO, 0},
                 {"s3c", FERRY_CHECKSUM_MODE_TRAILER, 1}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        spec.scheme = modes[i].scheme;
        spec.checksum = modes[i].mode;
        CHECK_INT(ferry_side_resolve(&spec, &s, &e), FERRY_OK);
        CHECK_INT(s.profile.aws_chunked_ok, modes[i].chunked);
    }
    ferry_side_wipe(&s);
    clear_env();
}

int main(void)
{
    test_ini();
    test_env_order();
    test_side();
    return test_summary();
}
