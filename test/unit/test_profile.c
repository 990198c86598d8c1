/* Tests for ferry/profile.h: resolution of each scheme, overrides, the ⚠ settings, bucket URLs,
 * storage-class mapping and part sizes. */
#include "ferry/profile.h"

#include "test.h"

static ferry_profile_t P;

static int resolve(const char *scheme, const char *endpoint, const char *region, int path,
                   ferry_error_t *err)
{
    ferry_profile_overrides_t ov;
    ferry_profile_overrides_init(&ov);
    ov.endpoint = endpoint;
    ov.region = region;
    ov.path_style = path;
    memset(&P, 0x5a, sizeof(P));
    return ferry_profile_resolve(scheme, &ov, &P, err);
}

static const char *url(const char *bucket)
{
    static ferry_buf_t b;
    ferry_buf_free(&b);
    ferry_buf_init(&b, 4096);
    if (ferry_profile_bucket_url(&P, bucket, &b, NULL))
        return "(error)";
    return ferry_buf_cstr(&b);
}

static void test_schemes(void)
{
    ferry_error_t err;
    CHECK_INT(resolve("oss", NULL, "cn-hangzhou", FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_STR(P.endpoint, "https://s3.oss-cn-hangzhou.aliyuncs.com");
    CHECK_STR(P.signing_region, "cn-hangzhou");
    CHECK_INT(P.path_style, 0);
    CHECK_INT(P.list_version, 2);
    CHECK_INT(P.list_url_encode, 1);
    CHECK_INT(P.max_keys_default, 100);
    CHECK_INT(P.list_page_size, 1000);
    CHECK_STR(P.checksum_header, "x-oss-hash-crc64ecma");
    CHECK_INT(P.checksum_kind, FERRY_CHECKSUM_CRC64);
    CHECK_INT(P.etag_kind, FERRY_ETAG_MD5_UPPER);
    CHECK_INT(P.part_min, 100 * 1024);
    CHECK_INT(P.max_parts, 10000);
    CHECK_STR(P.meta_prefix, "x-oss-meta-");
    CHECK_INT(P.meta_limit, 8192);
    CHECK_STR(P.retry_codes[0], "DownloadTrafficRateLimitExceeded");
    CHECK_INT(P.endpoint_custom, 0);
    CHECK_STR(url("examplebucket"), "https://examplebucket.s3.oss-cn-hangzhou.aliyuncs.com");

    ferry_profile_overrides_t ov;
    ferry_profile_overrides_init(&ov);
    ov.region = "cn-shanghai";
    ov.endpoint_kind = FERRY_ENDPOINT_INTERNAL;
    CHECK_INT(ferry_profile_resolve("oss", &ov, &P, NULL), FERRY_OK);
    CHECK_STR(P.endpoint, "https://s3.oss-cn-shanghai-internal.aliyuncs.com");
    ov.endpoint_kind = FERRY_ENDPOINT_ACCELERATE;
    CHECK_INT(ferry_profile_resolve("oss", &ov, &P, NULL), FERRY_OK);
    CHECK_STR(P.endpoint, "https://s3.oss-accelerate.aliyuncs.com");
    CHECK_STR(P.signing_region, "cn-shanghai");

    CHECK_INT(resolve("cos", NULL, "ap-guangzhou", FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_STR(P.endpoint, "https://cos.ap-guangzhou.myqcloud.com");
    CHECK_INT(P.list_version, 1);
    CHECK_INT(P.etag_kind, FERRY_ETAG_OPAQUE);
    CHECK_STR(P.checksum_header, "x-cos-hash-crc64ecma");
    CHECK_INT(P.part_min, 1024 * 1024);
    CHECK_INT(P.meta_limit, 2048);
    CHECK_STR(url("examplebucket-1250000000"),
              "https://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com");
    ferry_buf_t b;
    ferry_buf_init(&b, 1024);
    CHECK_INT(ferry_profile_bucket_url(&P, "examplebucket", &b, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "name-APPID") != NULL);
    ferry_buf_free(&b);

    CHECK_INT(resolve("kodo", NULL, "cn-east-1", FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_STR(P.endpoint, "https://s3.cn-east-1.qiniucs.com");
    CHECK_INT(P.path_style, 1);
    CHECK_INT(P.list_url_encode, 0);
    CHECK(P.checksum_header == NULL);
    CHECK_INT(P.checksum_kind, FERRY_CHECKSUM_QETAG);
    CHECK_INT(P.etag_kind, FERRY_ETAG_QETAG);
    CHECK_INT(P.part_max, 1024ull * 1024 * 1024);
    CHECK_STR(url("my_bucket"), "https://s3.cn-east-1.qiniucs.com/my_bucket");

    CHECK_INT(resolve("s3", NULL, NULL, FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_STR(P.region, "us-east-1");
    CHECK_STR(P.endpoint, "https://s3.us-east-1.amazonaws.com");
    CHECK_INT(P.multipart_etag_md5, 1);
    CHECK_INT(P.part_min, 5ull * 1024 * 1024);
    CHECK_STR(url("bkt"), "https://bkt.s3.us-east-1.amazonaws.com");
    CHECK_INT(resolve("s3", NULL, "cn-north-1", FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_STR(P.endpoint, "https://s3.cn-north-1.amazonaws.com.cn");
    CHECK_INT(resolve("s3", NULL, "eu-west-1", FERRY_TRI_ON, &err), FERRY_OK);
    CHECK_STR(url("Up_Case"), "https://s3.eu-west-1.amazonaws.com/Up_Case");

    CHECK_INT(resolve("s3c", NULL, NULL, FERRY_TRI_DEFAULT, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "endpoint") != NULL);
    CHECK_INT(resolve("s3c", "https://minio.example.com:9000/", NULL, FERRY_TRI_DEFAULT, &err),
              FERRY_OK);
    CHECK_STR(P.endpoint, "https://minio.example.com:9000");
    CHECK_STR(P.signing_region, "us-east-1");
    CHECK_INT(P.list_version, 1);
    CHECK_INT(P.path_style, 1);
    CHECK_STR(url("b"), "https://minio.example.com:9000/b");
    /* issue 12 item 13: an unknown store is listed flat by default (its CommonPrefixes are not
     * trusted to partition a scan); the four known stores by delimiter */
    CHECK_INT(P.listing_delimiter_ok, 0);
    static const char *const trusted[] = {"oss", "cos", "kodo", "s3"};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(
            resolve(trusted[i], "https://store.example.com", "ap-east-1", FERRY_TRI_DEFAULT, &err),
            FERRY_OK);
        CHECK_INT(P.listing_delimiter_ok, 1);
    }
}

static void test_errors_and_overrides(void)
{
    ferry_error_t err;
    CHECK_INT(resolve("gcs", NULL, NULL, FERRY_TRI_DEFAULT, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "oss, cos, kodo, s3, s3c") != NULL);
    CHECK_INT(resolve(NULL, NULL, NULL, FERRY_TRI_DEFAULT, &err), FERRY_EINVAL);
    CHECK_INT(resolve("oss", NULL, NULL, FERRY_TRI_DEFAULT, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "--src-region") != NULL);
    CHECK_INT(resolve("oss", NULL, "cn hangzhou", FERRY_TRI_DEFAULT, &err), FERRY_EINVAL);
    CHECK_INT(resolve("kodo", NULL, "cn-east-1", FERRY_TRI_DEFAULT, &err), FERRY_OK);
    ferry_profile_overrides_t ov;
    ferry_profile_overrides_init(&ov);
    ov.region = "cn-east-1";
    ov.endpoint_kind = FERRY_ENDPOINT_INTERNAL;
    CHECK_INT(ferry_profile_resolve("kodo", &ov, &P, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "no internal endpoint") != NULL);

    /* OSS refuses path style on its own endpoints, allows it on a custom one */
    CHECK_INT(resolve("oss", NULL, "cn-hangzhou", FERRY_TRI_ON, &err), FERRY_EINVAL);
    CHECK(strstr(err.msg, "virtual-hosted requests only") != NULL);
    CHECK_INT(resolve("oss", "http://127.0.0.1:9000", NULL, FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_INT(P.path_style, 1); /* IP literal -> path style */
    CHECK_INT(P.endpoint_custom, 1);
    CHECK_STR(P.signing_region, "us-east-1"); /* no region given */
    CHECK_STR(url("b"), "http://127.0.0.1:9000/b");
    CHECK_INT(resolve("oss", "http://localhost:9000", "cn-hangzhou", FERRY_TRI_OFF, &err),
              FERRY_OK);
    CHECK_INT(P.path_style, 0); /* explicit wins */
    CHECK_STR(P.signing_region, "cn-hangzhou");
    CHECK_STR(url("bkt"), "http://bkt.localhost:9000");
    CHECK_INT(resolve("oss", "https://oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou",
                      FERRY_TRI_DEFAULT, &err),
              FERRY_OK);
    CHECK_INT(P.path_style, 0);
    CHECK_INT(resolve("cos", "http://127.0.0.1:1", NULL, FERRY_TRI_DEFAULT, &err), FERRY_OK);
    CHECK_STR(url("nobucketappid"), "http://127.0.0.1:1/nobucketappid"); /* custom: no check */

    const char *bad[] = {"ftp://x", "https://", "https://h/path", "h:9000"};
    for (size_t i = 0; i < 4; i++)
        CHECK_INT(resolve("s3", bad[i], NULL, FERRY_TRI_DEFAULT, &err), FERRY_EINVAL);

    /* ⚠ settings */
    ferry_profile_overrides_init(&ov);
    ov.region = "ap-guangzhou";
    ov.signing_region = "us-east-1";
    ov.list_version = 2;
    ov.list_url_encode = FERRY_TRI_OFF;
    ov.list_plus_is_space = FERRY_TRI_OFF;
    ov.etag_kind = FERRY_ETAG_MD5;
    CHECK_INT(ferry_profile_resolve("cos", &ov, &P, &err), FERRY_OK);
    CHECK_STR(P.signing_region, "us-east-1");
    CHECK_STR(P.region, "ap-guangzhou");
    CHECK_INT(P.list_version, 2);
    CHECK_INT(P.list_url_encode, 0);
    CHECK_INT(P.list_plus_is_space, 0);
    CHECK_INT(P.etag_kind, FERRY_ETAG_MD5);
    ov.list_version = 3;
    CHECK_INT(ferry_profile_resolve("cos", &ov, &P, &err), FERRY_EINVAL);
    ov.list_version = 0;
    ov.etag_kind = 9;
    CHECK_INT(ferry_profile_resolve("cos", &ov, &P, &err), FERRY_EINVAL);
    /* NULL overrides = all defaults */
    CHECK_INT(ferry_profile_resolve("s3", NULL, &P, NULL), FERRY_OK);
    CHECK_STR(P.endpoint, "https://s3.us-east-1.amazonaws.com");

    /* bucket names in virtual style */
    CHECK_INT(resolve("s3", NULL, NULL, FERRY_TRI_DEFAULT, &err), FERRY_OK);
    ferry_buf_t b;
    ferry_buf_init(&b, 1024);
    const char *badb[] = {"", "UPPER", "a_b", "-ab", "ab-", "a..b", "ab", "a/b"};
    for (size_t i = 0; i < 8; i++)
        CHECK_INT(ferry_profile_bucket_url(&P, badb[i], &b, &err), FERRY_EINVAL);
    CHECK_INT(ferry_profile_bucket_host(&P, "my.bucket", &b, &err), FERRY_OK);
    CHECK_STR(ferry_buf_cstr(&b), "my.bucket.s3.us-east-1.amazonaws.com");
    ferry_buf_free(&b);
}

static void test_storage_and_parts(void)
{
    int restore = -1;
    CHECK_INT(resolve("oss", NULL, "cn-hangzhou", FERRY_TRI_DEFAULT, NULL), FERRY_OK);
    CHECK_STR(ferry_profile_map_storage_class(&P, "IA", &restore), "STANDARD_IA");
    CHECK_INT(restore, 0);
    CHECK_STR(ferry_profile_map_storage_class(&P, "archive", &restore), "GLACIER");
    CHECK_INT(restore, 1);
    CHECK_STR(ferry_profile_map_storage_class(&P, "ColdArchive", NULL), "DEEP_ARCHIVE");
    CHECK_STR(ferry_profile_map_storage_class(&P, "", &restore), "STANDARD");
    CHECK_INT(restore, 0);
    CHECK(ferry_profile_map_storage_class(&P, "Bogus", NULL) == NULL);
    CHECK_INT(resolve("cos", NULL, "ap-beijing", FERRY_TRI_DEFAULT, NULL), FERRY_OK);
    CHECK_STR(ferry_profile_map_storage_class(&P, "MAZ_STANDARD_IA", NULL), "STANDARD_IA");
    CHECK_STR(ferry_profile_map_storage_class(&P, "MAZ_INTELLIGENT_TIERING", NULL),
              "INTELLIGENT_TIERING");
    CHECK_STR(ferry_profile_map_storage_class(&P, "DEEP_ARCHIVE", &restore), "DEEP_ARCHIVE");
    CHECK_INT(restore, 1);
    CHECK_INT(resolve("kodo", NULL, "cn-east-1", FERRY_TRI_DEFAULT, NULL), FERRY_OK);
    CHECK_STR(ferry_profile_map_storage_class(&P, "LINE", NULL), "STANDARD_IA");
    CHECK_STR(ferry_profile_map_storage_class(&P, "GLACIER_IR", &restore), "GLACIER_IR");
    CHECK_INT(restore, 0);

    ferry_profile_t s3;
    CHECK_INT(ferry_profile_resolve("s3", NULL, &s3, NULL), FERRY_OK);
    const uint64_t MiB = 1024 * 1024;
    uint64_t ps = 0;
    CHECK_INT(ferry_profile_part_size(&P, &s3, 100 * MiB, 8 * MiB, &ps), FERRY_OK);
    CHECK_INT(ps, 8 * MiB);
    CHECK_INT(ferry_profile_part_size(&P, &s3, 100 * MiB, 1, &ps), FERRY_OK);
    CHECK_INT(ps, 5 * MiB); /* S3 minimum */
    CHECK_INT(ferry_profile_part_size(NULL, &s3, 100000 * MiB, 5 * MiB, &ps), FERRY_OK);
    CHECK_INT(ps, 10 * MiB); /* 10,000 parts at most */
    CHECK(100000 * MiB / ps <= 10000);
    CHECK_INT(ferry_profile_part_size(NULL, &s3, 48ull * 1024 * 1024 * MiB, 5 * MiB, &ps),
              FERRY_OK);
    CHECK(ps * 10000 >= 48ull * 1024 * 1024 * MiB);
    CHECK_INT(ferry_profile_part_size(NULL, &s3, 60ull * 1024 * 1024 * MiB, 5 * MiB, &ps),
              FERRY_ERANGE);
    CHECK_INT(ferry_profile_part_size(NULL, &P, 20000 * MiB, 1, &ps), FERRY_OK); /* kodo dst */
    CHECK_INT(ps, 2 * MiB);
}

int main(void)
{
    test_schemes();
    test_errors_and_overrides();
    test_storage_and_parts();
    return test_summary();
}
