#include "ferry/side.h"

#include <stdio.h>
#include <string.h>

int ferry_side_resolve(const ferry_side_spec_t *spec, ferry_side_t *out, ferry_error_t *err)
{
    ferry_profile_overrides_t ov;
    int rc;
    const char *role = spec->kind == FERRY_SIDE_SRC ? "source" : "destination";
    memset(out, 0, sizeof(*out));
    out->kind = spec->kind;
    if (!spec->scheme || !spec->bucket || !*spec->bucket)
        return ferry_error_set(err, FERRY_EINVAL, "%s: a location needs SCHEME://BUCKET", role);
    if (strlen(spec->bucket) >= sizeof(out->bucket) ||
        (spec->prefix && strlen(spec->prefix) >= sizeof(out->prefix)) ||
        strlen(spec->scheme) >= sizeof(out->scheme))
        return ferry_error_set(err, FERRY_ETOOBIG, "%s: bucket or prefix too long", role);
    ferry_profile_overrides_init(&ov);
    ov.endpoint = spec->endpoint && *spec->endpoint ? spec->endpoint : NULL;
    ov.region = spec->region && *spec->region ? spec->region : NULL;
    ov.path_style = spec->path_style ? FERRY_TRI_ON : FERRY_TRI_DEFAULT;
    if (spec->checksum == FERRY_CHECKSUM_MODE_TRAILER)
        ov.aws_chunked = FERRY_TRI_ON;
    else if (spec->checksum == FERRY_CHECKSUM_MODE_MD5)
        ov.aws_chunked = FERRY_TRI_OFF;
    if (spec->checksum == FERRY_CHECKSUM_MODE_TRAILER &&
        (!strcmp(spec->scheme, "oss") || !strcmp(spec->scheme, "cos") ||
         !strcmp(spec->scheme, "kodo")))
        return ferry_error_set(err, FERRY_EINVAL,
                               "%s: %s does not accept aws-chunked trailing checksums; use "
                               "--dst-checksum md5 or auto",
                               role, spec->scheme);
    rc = ferry_profile_resolve(spec->scheme, &ov, &out->profile, err);
    if (rc) {
        char m[sizeof(err->msg)];
        snprintf(m, sizeof(m), "%s", err ? err->msg : "");
        return ferry_error_set(err, rc, "%s: %s", role, m);
    }
    rc = ferry_creds_load(spec->kind, spec->profile, &out->creds, err);
    if (rc) {
        char m[sizeof(err->msg)];
        snprintf(m, sizeof(m), "%s", err ? err->msg : "");
        return ferry_error_set(err, rc, "%s: %s", role, m);
    }
    snprintf(out->scheme, sizeof(out->scheme), "%s", spec->scheme);
    snprintf(out->bucket, sizeof(out->bucket), "%s", spec->bucket);
    snprintf(out->prefix, sizeof(out->prefix), "%s", spec->prefix ? spec->prefix : "");
    snprintf(out->where, sizeof(out->where), "%s://%s%s%s", out->scheme, out->bucket,
             out->prefix[0] ? "/" : "", out->prefix);
    return FERRY_OK;
}

void ferry_side_wipe(ferry_side_t *s)
{
    ferry_creds_wipe(&s->creds);
}
