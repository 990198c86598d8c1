/* Provider profiles. Facts from docs/providers.md; "⚠" marks a choice the sources could not
 * confirm — each is a field, overridable (ferry_profile_overrides_t) or a plain field the
 * config layer may set. Contract: ferry/profile.h. */
#include "ferry/profile.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define GiB (1024ull * 1024 * 1024)

/* §7 storage classes. S3 names are accepted as aliases because the S3-compatible APIs of OSS
 * and COS report S3-style names (rclone's Alibaba/TencentCOS class lists [R2,R3]). */
static const ferry_storage_class_t oss_classes[] = {
    {"Standard", "STANDARD", 0},
    {"IA", "STANDARD_IA", 0},
    {"Archive", "GLACIER", 1},
    {"ColdArchive", "DEEP_ARCHIVE", 1},
    {"DeepColdArchive", "DEEP_ARCHIVE", 1},
    {"STANDARD_IA", "STANDARD_IA", 0},
    {"GLACIER", "GLACIER", 1},
    {"DEEP_ARCHIVE", "DEEP_ARCHIVE", 1},
};
static const ferry_storage_class_t cos_classes[] = {
    {"STANDARD", "STANDARD", 0},
    {"MAZ_STANDARD", "STANDARD", 0},
    {"STANDARD_IA", "STANDARD_IA", 0},
    {"MAZ_STANDARD_IA", "STANDARD_IA", 0},
    {"INTELLIGENT_TIERING", "INTELLIGENT_TIERING", 0},
    {"MAZ_INTELLIGENT_TIERING", "INTELLIGENT_TIERING", 0},
    {"ARCHIVE", "GLACIER", 1},
    {"DEEP_ARCHIVE", "DEEP_ARCHIVE", 1},
};
static const ferry_storage_class_t kodo_classes[] = {
    {"STANDARD", "STANDARD", 0},         {"LINE", "STANDARD_IA", 0},
    {"GLACIER_IR", "GLACIER_IR", 0},     {"GLACIER", "GLACIER", 1},
    {"DEEP_ARCHIVE", "DEEP_ARCHIVE", 1},
};
static const ferry_storage_class_t s3_classes[] = {
    {"STANDARD", "STANDARD", 0},
    {"REDUCED_REDUNDANCY", "STANDARD", 0},
    {"STANDARD_IA", "STANDARD_IA", 0},
    {"ONEZONE_IA", "ONEZONE_IA", 0},
    {"INTELLIGENT_TIERING", "INTELLIGENT_TIERING", 0},
    {"GLACIER_IR", "GLACIER_IR", 0},
    {"GLACIER", "GLACIER", 1},
    {"DEEP_ARCHIVE", "DEEP_ARCHIVE", 1},
    {"EXPRESS_ONEZONE", "EXPRESS_ONEZONE", 0},
};

/* §6: OSS throttling codes (503 [A23], 429 [A24]). */
static const char *const oss_retry[] = {"DownloadTrafficRateLimitExceeded",
                                        "UploadTrafficRateLimitExceeded",
                                        "MetaOperationQpsLimitExceeded",
                                        "ServiceUnavailable",
                                        "TotalQpsLimitExceeded",
                                        "ActiveRequestLimitExceeded",
                                        "CpuLimitExceeded",
                                        "QpsLimitExceeded",
                                        NULL};
/* §6: COS names InternalError / ServiceUnavailable / SlowDown ⚠ (generic lists cover them). */
static const char *const cos_retry[] = {"SlowDown", "ServiceUnavailable", NULL};
static const char *const none_retry[] = {NULL};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* needs_region: the templates use {region}; default_region: used when none is given. */
typedef struct {
    ferry_profile_t p;
    int needs_region;
    const char *default_region;
} proto_t;

static const proto_t protos[] = {
    {{
         .scheme = "oss",
         .display_name = "Aliyun OSS",
         /* §1a [A1]: the S3-format host. rclone/DTH use the native oss-{region}.aliyuncs.com,
          * which works too: give it with --src-endpoint. Internal host per [A1] (a Chinese page
          * writes s3.oss-{region}.aliyuncs-internal.com ⚠). */
         .endpoint_public_tmpl = "https://s3.oss-{region}.aliyuncs.com",
         .endpoint_internal_tmpl = "https://s3.oss-{region}-internal.aliyuncs.com",
         .endpoint_accelerate = "https://s3.oss-accelerate.aliyuncs.com",
         .path_style = 0,
         .path_style_allowed = 0, /* virtual-hosted only [A2] */
         .list_version = 2,
         .list_url_encode = 1,
         .listing_delimiter_ok = 1,
         .list_plus_is_space = 1, /* ⚠ as S3; rclone/DTH decode with QueryUnescape */
         .max_keys_default = 100, /* [A8]: always send max-keys */
         .list_page_size = 1000,
         .checksum_header = "x-oss-hash-crc64ecma",
         .checksum_kind = FERRY_CHECKSUM_CRC64,
         .etag_kind = FERRY_ETAG_MD5_UPPER,
         .part_min = 100 * KiB,
         .part_max = 5 * GiB,
         .max_parts = 10000,
         .single_put_max = 5 * GiB,
         .meta_prefix = "x-oss-meta-",
         .meta_limit = 8 * 1024,
         .storage_classes = oss_classes,
         .n_storage_classes = N(oss_classes),
         .retry_codes = oss_retry,
     },
     1,
     NULL},
    {{
         .scheme = "cos",
         .display_name = "Tencent COS",
         .endpoint_public_tmpl = "https://cos.{region}.myqcloud.com",
         /* ⚠ seen only in third-party code [T14] */
         .endpoint_internal_tmpl = "https://cos-internal.{region}.tencentcos.cn",
         .endpoint_accelerate = "https://cos.accelerate.myqcloud.com",
         .path_style = 0,
         .path_style_allowed = 1, /* only buckets created before 2024-01-01 [T3] */
         .bucket_note = "COS bucket names carry the APPID: name-APPID, e.g. "
                        "examplebucket-1250000000",
         .list_version = 1, /* documented V1; V2 ⚠ [T7,R3] */
         .list_url_encode = 1,
         .listing_delimiter_ok = 1,
         .list_plus_is_space = 1, /* ⚠ */
         .max_keys_default = 1000,
         .list_page_size = 1000,
         .checksum_header = "x-cos-hash-crc64ecma",
         .checksum_kind = FERRY_CHECKSUM_CRC64,
         .etag_kind = FERRY_ETAG_OPAQUE,
         .part_min = 1 * MiB,
         .part_max = 5 * GiB,
         .max_parts = 10000,
         .single_put_max = 5 * GiB,
         .meta_prefix = "x-cos-meta-",
         .meta_limit = 2 * 1024, /* PUT Object doc; Initiate doc says 4 KB total ⚠ */
         .storage_classes = cos_classes,
         .n_storage_classes = N(cos_classes),
         .retry_codes = cos_retry,
     },
     1,
     NULL},
    {{
         .scheme = "kodo",
         .display_name = "Qiniu Kodo",
         /* [Q1] current form; rclone/DTH use s3-{region}.qiniucs.com. No internal host ⚠. */
         .endpoint_public_tmpl = "https://s3.{region}.qiniucs.com",
         .path_style = 1, /* both work [Q1]; rclone forces path style [R4] */
         .path_style_allowed = 1,
         .list_version = 2,    /* ⚠ rclone uses V2 */
         .list_url_encode = 0, /* ⚠ rclone: list_url_encode false */
         .listing_delimiter_ok = 1,
         .list_plus_is_space = 1,  /* only matters if encoding is turned on */
         .max_keys_default = 1000, /* ⚠ */
         .list_page_size = 1000,
         .checksum_kind = FERRY_CHECKSUM_QETAG,
         .etag_kind = FERRY_ETAG_QETAG, /* ⚠ the S3-API ETag format is unconfirmed */
         .part_min = 1 * MiB,
         .part_max = 1 * GiB, /* native v2 limits; via S3 ⚠ */
         .max_parts = 10000,
         .single_put_max = 1 * GiB, /* ⚠ unknown: conservative */
         .meta_prefix = "x-qn-meta-",
         .meta_limit = 2 * 1024, /* ⚠ unknown: S3's limit */
         .storage_classes = kodo_classes,
         .n_storage_classes = N(kodo_classes),
         .retry_codes = none_retry,
     },
     1,
     NULL},
    {{
         .scheme = "s3",
         .display_name = "Amazon S3",
         .endpoint_public_tmpl = "https://s3.{region}.amazonaws.com", /* .com.cn for cn-* */
         .endpoint_accelerate = "https://s3-accelerate.amazonaws.com",
         .path_style = 0,
         .path_style_allowed = 1,
         .list_version = 2,
         .list_url_encode = 1,
         .listing_delimiter_ok = 1,
         .list_plus_is_space = 1, /* measured: space -> '+', '+' -> %2B */
         .max_keys_default = 1000,
         .list_page_size = 1000,
         .checksum_kind = FERRY_CHECKSUM_MD5,
         .etag_kind = FERRY_ETAG_MD5, /* not for SSE-KMS/SSE-C [S7] */
         .multipart_etag_md5 = 1,
         .aws_chunked_ok = 1,
         .part_min = 5 * MiB,
         .part_max = 5 * GiB,
         .max_parts = 10000,
         .single_put_max = 5 * GiB,
         .meta_prefix = "x-amz-meta-",
         .meta_limit = 2 * 1024,
         .storage_classes = s3_classes,
         .n_storage_classes = N(s3_classes),
         .retry_codes = none_retry,
     },
     0,
     "us-east-1"},
    {{
         .scheme = "s3c",
         .display_name = "S3-compatible store",
         /* rclone's conservative "Other" profile [R5]: path style, V1, no url encoding. */
         .path_style = 1,
         .path_style_allowed = 1,
         .list_version = 1,
         .list_url_encode = 0,
         .listing_delimiter_ok = 0,
         .list_plus_is_space = 1,
         .max_keys_default = 1000,
         .list_page_size = 1000,
         .checksum_kind = FERRY_CHECKSUM_NONE,
         .etag_kind = FERRY_ETAG_OPAQUE,
         .part_min = 5 * MiB,
         .part_max = 5 * GiB,
         .max_parts = 10000,
         .single_put_max = 5 * GiB,
         .meta_prefix = "x-amz-meta-",
         .meta_limit = 2 * 1024,
         .storage_classes = s3_classes,
         .n_storage_classes = N(s3_classes),
         .retry_codes = none_retry,
     },
     0,
     NULL},
};

const char *ferry_profile_schemes(void)
{
    return "oss, cos, kodo, s3, s3c";
}

void ferry_profile_overrides_init(ferry_profile_overrides_t *ov)
{
    memset(ov, 0, sizeof(*ov));
    ov->path_style = FERRY_TRI_DEFAULT;
    ov->endpoint_kind = FERRY_ENDPOINT_PUBLIC;
    ov->list_url_encode = FERRY_TRI_DEFAULT;
    ov->list_plus_is_space = FERRY_TRI_DEFAULT;
    ov->etag_kind = -1;
    ov->aws_chunked = FERRY_TRI_DEFAULT;
}

static int valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)r[i]) || isdigit((unsigned char)r[i]) || r[i] == '-'))
            return 0;
    return 1;
}

/* Host part of a base URL ("https://h:1/"): start and length. */
static const char *url_host(const char *url, size_t *len)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    *len = strcspn(h, "/");
    return h;
}

static int host_is_local(const char *url)
{
    size_t n;
    const char *h = url_host(url, &n);
    if (n && h[0] == '[')
        return 1; /* IPv6 literal */
    size_t hl = strcspn(h, ":/");
    if (hl == 9 && strncasecmp(h, "localhost", 9) == 0)
        return 1;
    for (size_t i = 0; i < hl; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
            return 0;
    return hl > 0; /* dotted quad */
}

static int subst(char *out, size_t cap, const char *tmpl, const char *region, int s3)
{
    const char *at = strstr(tmpl, "{region}");
    int n;
    if (at == NULL) {
        n = snprintf(out, cap, "%s", tmpl);
    } else {
        n = snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, region, at + 8);
        /* AWS China regions live under amazonaws.com.cn */
        if (s3 && strncmp(region, "cn-", 3) == 0 && n > 0 && (size_t)n + 3 < cap)
            n = (int)strlen(strcat(out, ".cn"));
    }
    return n > 0 && (size_t)n < cap ? FERRY_OK : FERRY_ETOOBIG;
}

int ferry_profile_resolve(const char *scheme, const ferry_profile_overrides_t *ov_in,
                          ferry_profile_t *out, ferry_error_t *err)
{
    ferry_profile_overrides_t ov;
    if (ov_in)
        ov = *ov_in;
    else
        ferry_profile_overrides_init(&ov);
    const proto_t *pr = NULL;
    for (size_t i = 0; scheme && i < N(protos); i++)
        if (strcmp(scheme, protos[i].p.scheme) == 0)
            pr = &protos[i];
    if (pr == NULL)
        return ferry_error_set(err, FERRY_EINVAL, "unknown store \"%.40s\": use one of %s",
                               scheme ? scheme : "", ferry_profile_schemes());
    ferry_profile_t p = pr->p;
    const char *sc = p.scheme;

    /* Region */
    const char *region = ov.region && *ov.region ? ov.region : pr->default_region;
    if (region && !valid_region(region))
        return ferry_error_set(err, FERRY_EINVAL,
                               "%s: bad region \"%.64s\" (lowercase letters, "
                               "digits and '-', e.g. cn-hangzhou)",
                               sc, region);
    snprintf(p.region, sizeof(p.region), "%s", region ? region : "");

    /* Endpoint */
    if (ov.endpoint && *ov.endpoint) {
        const char *e = ov.endpoint;
        size_t n = strlen(e);
        while (n && e[n - 1] == '/')
            n--;
        size_t hl;
        const char *h = url_host(e, &hl);
        if ((strncmp(e, "http://", 7) && strncmp(e, "https://", 8)) || hl == 0 ||
            (size_t)(h - e) + hl != n || n >= sizeof(p.endpoint))
            return ferry_error_set(err, FERRY_EINVAL,
                                   "%s: endpoint \"%.200s\" must be "
                                   "http(s)://host[:port] without a path",
                                   sc, e);
        memcpy(p.endpoint, e, n);
        p.endpoint[n] = '\0';
        p.endpoint_custom = 1;
    } else {
        const char *tmpl = ov.endpoint_kind == FERRY_ENDPOINT_INTERNAL ? p.endpoint_internal_tmpl
                           : ov.endpoint_kind == FERRY_ENDPOINT_ACCELERATE ? p.endpoint_accelerate
                                                                           : p.endpoint_public_tmpl;
        static const char *const kinds[] = {"public", "internal", "accelerate"};
        if (tmpl == NULL && p.endpoint_public_tmpl == NULL)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "%s: a generic S3-compatible store needs "
                                   "an endpoint (--src-endpoint / --dst-endpoint URL)",
                                   sc);
        if (tmpl == NULL)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "%s has no %s endpoint: give one with "
                                   "--src-endpoint / --dst-endpoint",
                                   p.display_name,
                                   kinds[ov.endpoint_kind <= 2 ? ov.endpoint_kind : 0]);
        if (strstr(tmpl, "{region}") && !p.region[0])
            return ferry_error_set(err, FERRY_EINVAL,
                                   "%s needs a region (--src-region / "
                                   "--dst-region) or an endpoint (--src-endpoint / "
                                   "--dst-endpoint)",
                                   sc);
        if (subst(p.endpoint, sizeof(p.endpoint), tmpl, p.region, !strcmp(sc, "s3")))
            return ferry_error_set(err, FERRY_EINVAL, "%s: endpoint too long", sc);
    }

    /* Signing region: override, else the region, else us-east-1 (OSS/COS scope check ⚠). */
    const char *sr = ov.signing_region && *ov.signing_region ? ov.signing_region
                     : p.region[0]                           ? p.region
                                                             : "us-east-1";
    if (!valid_region(sr))
        return ferry_error_set(err, FERRY_EINVAL, "%s: bad signing region \"%.64s\"", sc, sr);
    snprintf(p.signing_region, sizeof(p.signing_region), "%s", sr);

    /* Addressing */
    if (ov.path_style == FERRY_TRI_ON || ov.path_style == FERRY_TRI_OFF) {
        if (ov.path_style == FERRY_TRI_ON && !p.path_style_allowed && !p.endpoint_custom)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "%s accepts virtual-hosted requests only: "
                                   "drop --path-style (or give a custom endpoint)",
                                   p.display_name);
        p.path_style = ov.path_style;
    } else if (p.endpoint_custom && host_is_local(p.endpoint)) {
        p.path_style = 1; /* bucket.127.0.0.1 cannot resolve */
    }

    /* Listing and integrity settings */
    if (ov.list_version) {
        if (ov.list_version != 1 && ov.list_version != 2)
            return ferry_error_set(err, FERRY_EINVAL, "%s: list version must be 1 or 2", sc);
        p.list_version = ov.list_version;
    }
    if (ov.list_url_encode == FERRY_TRI_ON || ov.list_url_encode == FERRY_TRI_OFF)
        p.list_url_encode = ov.list_url_encode;
    if (ov.list_plus_is_space == FERRY_TRI_ON || ov.list_plus_is_space == FERRY_TRI_OFF)
        p.list_plus_is_space = ov.list_plus_is_space;
    if (ov.aws_chunked == FERRY_TRI_ON || ov.aws_chunked == FERRY_TRI_OFF)
        p.aws_chunked_ok = ov.aws_chunked;
    if (ov.etag_kind >= FERRY_ETAG_MD5 && ov.etag_kind <= FERRY_ETAG_QETAG)
        p.etag_kind = (ferry_etag_kind_t)ov.etag_kind;
    else if (ov.etag_kind != -1)
        return ferry_error_set(err, FERRY_EINVAL, "%s: bad ETag kind %d", sc, ov.etag_kind);

    *out = p;
    return FERRY_OK;
}

/* Can name be a DNS label under the endpoint (virtual-hosted style)? */
static int dns_bucket(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.'))
            return 0;
        if (c == '.' && (i == 0 || b[i - 1] == '.' || b[i - 1] == '-' || i == n - 1))
            return 0;
    }
    return b[0] != '-' && b[n - 1] != '-';
}

static int check_bucket(const ferry_profile_t *p, const char *bucket, ferry_error_t *err)
{
    size_t n = bucket ? strlen(bucket) : 0;
    if (n == 0 || strchr(bucket, '/') || n > 255)
        return ferry_error_set(err, FERRY_EINVAL,
                               "%s: bucket name \"%.64s\" is empty, too long "
                               "or holds '/'",
                               p->scheme, bucket ? bucket : "");
    if (!p->path_style && !dns_bucket(bucket, n))
        return ferry_error_set(err, FERRY_EINVAL,
                               "%s: bucket \"%.64s\" cannot be used "
                               "virtual-hosted (3-63 of a-z 0-9 . -); use path style%s%s",
                               p->scheme, bucket, p->bucket_note ? "; " : "",
                               p->bucket_note ? p->bucket_note : "");
    if (!strcmp(p->scheme, "cos") && !p->endpoint_custom) {
        const char *d = strrchr(bucket, '-');
        int ok = d && d[1];
        for (const char *c = d ? d + 1 : ""; ok && *c; c++)
            ok = isdigit((unsigned char)*c);
        if (!ok)
            return ferry_error_set(err, FERRY_EINVAL,
                                   "cos: bucket \"%.64s\" has no -APPID "
                                   "suffix. %s",
                                   bucket, p->bucket_note);
    }
    return FERRY_OK;
}

/* Append the n pieces p[i] (l[i] bytes) to out, all or nothing (as ferry_buf_addf would, without
 * its formatting: the URL is built for every request). */
static int buf_cat(ferry_buf_t *out, size_t n, const char *const *p, const size_t *l)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += l[i];
    int rc;
    char *d = ferry_buf_reserve(out, total, &rc);
    if (d == NULL)
        return rc;
    for (size_t i = 0, at = 0; i < n; at += l[i], i++)
        memcpy(d + at, p[i], l[i]);
    ferry_buf_commit(out, total);
    return FERRY_OK;
}

int ferry_profile_bucket_host(const ferry_profile_t *p, const char *bucket, ferry_buf_t *out,
                              ferry_error_t *err)
{
    int rc = check_bucket(p, bucket, err);
    if (rc)
        return rc;
    size_t hl;
    const char *h = url_host(p->endpoint, &hl);
    if (p->path_style)
        return ferry_buf_add(out, h, hl);
    const char *pc[3] = {bucket, ".", h}; /* "%s.%.*s" */
    const size_t pl[3] = {strlen(bucket), 1, hl};
    return buf_cat(out, 3, pc, pl);
}

int ferry_profile_bucket_url(const ferry_profile_t *p, const char *bucket, ferry_buf_t *out,
                             ferry_error_t *err)
{
    int rc = check_bucket(p, bucket, err);
    if (rc)
        return rc;
    size_t hl;
    const char *h = url_host(p->endpoint, &hl);
    if (p->path_style) { /* "%s/%s" */
        const char *pc[3] = {p->endpoint, "/", bucket};
        const size_t pl[3] = {strlen(p->endpoint), 1, strlen(bucket)};
        return buf_cat(out, 3, pc, pl);
    }
    const char *pc[4] = {p->endpoint, bucket, ".", h}; /* "%.*s%s.%.*s" */
    const size_t pl[4] = {(size_t)(h - p->endpoint), strlen(bucket), 1, hl};
    return buf_cat(out, 4, pc, pl);
}

const char *ferry_profile_map_storage_class(const ferry_profile_t *p, const char *name,
                                            int *needs_restore)
{
    if (needs_restore)
        *needs_restore = 0;
    if (name == NULL || name[0] == '\0')
        return "STANDARD";
    for (size_t i = 0; i < p->n_storage_classes; i++) {
        if (strcasecmp(name, p->storage_classes[i].name) == 0) {
            if (needs_restore)
                *needs_restore = p->storage_classes[i].needs_restore;
            return p->storage_classes[i].s3;
        }
    }
    return NULL;
}

int ferry_profile_part_size(const ferry_profile_t *src, const ferry_profile_t *dst,
                            uint64_t object_size, uint64_t want, uint64_t *out)
{
    (void)src;
    uint64_t size = want > dst->part_min ? want : dst->part_min;
    uint64_t parts = dst->max_parts ? dst->max_parts : 10000;
    uint64_t need = object_size / parts + (object_size % parts != 0);
    if (need > size)
        size = need;
    size = (size + MiB - 1) / MiB * MiB;
    if (size > dst->part_max) {
        /* a part_max that is not a MiB multiple: try it exactly */
        if (need <= dst->part_max && want <= dst->part_max)
            size = dst->part_max;
        else
            return FERRY_ERANGE;
    }
    *out = size;
    return FERRY_OK;
}
