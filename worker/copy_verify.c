/* ferry worker — the integrity comparisons of a copy. Which of them run is chosen by
 * ferry_copy_checks (copy_checks.c) from copy_checks_of; each one that runs is named in res.checks
 * (copy_add_check), and a mismatch is FERRY_ECHECKSUM (mismatch). */
#include "copy_int.h"

#include "ferry/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_qetag(const char *e);

/* A comparison failed: count it and set err (FERRY_ECHECKSUM: retried, then failed with this
 * message). Returns FERRY_ECHECKSUM. */
int copy_mismatch(ferry_copy_t *c, ferry_error_t *err, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->res.checksum_failures++;
    return ferry_error_set(err, FERRY_ECHECKSUM, "%s", msg);
}

/* Parts of a streamed multipart copy carry a CRC32C the destination verifies (aws-chunked
 * trailer, or the header for buffered parts) instead of an MD5 compared with the part ETag:
 * CRC32C runs at memory speed, MD5 at under 1 GB/s a core. The upload is created with
 * x-amz-checksum-algorithm CRC32C and Complete lists every part's checksum. */
int copy_crc_parts(const ferry_copy_t *c)
{
    return c->plan.kind == FERRY_PLAN_MULTIPART && (c->ck.checks & CK_DST_CRC32C_ECHO);
}

/* The destination's ETag for a single PUT / part is the MD5 of the bytes it received. */
int copy_dst_etag_is_md5(const ferry_copy_t *c)
{
    return c->dp->etag_kind == FERRY_ETAG_MD5 || c->dp->etag_kind == FERRY_ETAG_MD5_UPPER;
}

/* Kodo multipart: parts are whole 4 MiB blocks, so each part can write its blocks' SHA-1s for
 * the source's qetag (c->qblk), unless the object has more blocks than QBLK_MAX. */
int copy_qblk_wanted(const ferry_copy_t *c)
{
    uint64_t nblk = (c->res.size + FERRY_QETAG_BLOCK - 1) / FERRY_QETAG_BLOCK;
    return c->plan.kind == FERRY_PLAN_MULTIPART && c->sp->checksum_kind == FERRY_CHECKSUM_QETAG &&
           c->plan.part_size % FERRY_QETAG_BLOCK == 0 && nblk <= QBLK_MAX;
}

/* What ferry_copy_checks decides from: the source version taken, the profiles, the plan. */
static void checks_in(const ferry_copy_t *c, ferry_copy_ck_stream_t stream, ferry_copy_ck_in_t *out)
{
    ferry_copy_ck_in_t in = {
        .plan = c->plan.kind,
        .stream = stream,
        .src_crc64 = c->res.src_has_crc64,
        .src_md5_etag = c->src_md5_etag,
        .src_qetag_kind = c->sp->checksum_kind == FERRY_CHECKSUM_QETAG,
        .src_etag_qetag = is_qetag(c->res.etag),
        .src_qetag_parts = copy_qblk_wanted(c),
        .src_mp_known = c->mpd != NULL,
        .src_crc = c->src_crc_kind,
        .src_crc_known = c->mpc != NULL,
        .src_etag_multi = strchr(c->res.etag, '-') != NULL,
        .dst_s3 = strcmp(c->dp->scheme, "s3") == 0,
        .dst_crc_parts = c->dp->aws_chunked_ok,
        .dst_etag_md5 = copy_dst_etag_is_md5(c),
        .dst_mp_etag_md5 = c->dp->multipart_etag_md5,
    };
    *out = in;
}

void copy_checks_of(const ferry_copy_t *c, ferry_copy_ck_stream_t stream, ferry_copy_ck_t *out)
{
    ferry_copy_ck_in_t in;
    checks_in(c, stream, &in);
    ferry_copy_checks(&in, out);
}

/* The plan is made (and the source's part boundaries known): choose the copy's checks. */
void copy_choose_checks(ferry_copy_t *c)
{
    copy_checks_of(c, CK_COPY, &c->ck);
}

static int is_qetag(const char *e)
{
    while (*e == '"')
        e++;
    size_t n = strlen(e);
    while (n && e[n - 1] == '"')
        n--;
    return n == 28 && (e[0] == 'F' || e[0] == 'l');
}

/* The source's multipart ETag recomputed on its own part boundaries: MD5(MD5(part1)...
 * MD5(partN))-N over the bytes read, compared with the ETag. */
static int mp_verify(ferry_copy_t *c, ferry_error_t *err)
{
    ferry_md5_t m;
    uint8_t d[16];
    char want[48];
    if (ferry_md5_init(&m) != FERRY_OK)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    ferry_md5_update(&m, c->mpd, (size_t)c->mp_n * 16);
    ferry_md5_final(&m, d);
    ferry_hex_lower(d, 16, want);
    snprintf(want + 32, sizeof(want) - 32, "-%u", c->mp_n);
    if (!ferry_etag_eq(want, c->res.etag)) {
        return copy_mismatch(c, err,
                             "the multipart ETag of the bytes read, on the source's own %u "
                             "parts (%s), differs from the source's (%s): the read was "
                             "corrupted; nothing is kept and the copy is retried",
                             c->mp_n, want, c->res.etag);
    }
    copy_add_check(c, "src:multipart-etag");
    return FERRY_OK;
}

/* The source's stored CRC32C against the bytes read: FULL_OBJECT, the CRC32C of all of them
 * (crc, combined from the parts for a multipart copy); COMPOSITE, crc32c(concat(the CRC32Cs of
 * its own parts))-N, when the part boundaries are known (c->mpc). A COMPOSITE whose part
 * boundaries are unknown cannot be recomputed: nothing is compared, nothing is claimed. */
static int src_crc_verify(ferry_copy_t *c, uint32_t crc, ferry_error_t *err)
{
    char got[24];
    if (c->src_crc_kind == CK_CRC_FULL) {
        ferry_crc32c_b64(crc, got);
    } else if (c->src_crc_kind == CK_CRC_COMPOSITE && c->mpc != NULL) {
        uint32_t comp = 0;
        for (uint32_t i = 0; i < c->mp_n; i++) {
            uint8_t be[4] = {(uint8_t)(c->mpc[i] >> 24), (uint8_t)(c->mpc[i] >> 16),
                             (uint8_t)(c->mpc[i] >> 8), (uint8_t)c->mpc[i]};
            comp = ferry_crc32c_update(comp, be, 4);
        }
        ferry_crc32c_b64(comp, got);
        snprintf(got + 8, sizeof(got) - 8, "-%u", c->mp_n);
    } else {
        return FERRY_OK;
    }
    if (strcmp(got, c->src_crc_b64) != 0) {
        return copy_mismatch(c, err,
                             "the CRC32C of the bytes read (%s) differs from the one the "
                             "source stored (%s, %s): the read was corrupted; nothing is kept "
                             "and the copy is retried",
                             got, c->src_crc_b64,
                             c->src_crc_kind == CK_CRC_FULL ? "FULL_OBJECT" : "COMPOSITE");
    }
    copy_add_check(c, "src:crc32c");
    return FERRY_OK;
}

/* The source checks that need its stored CRC32C (crc: the CRC32C of all the bytes read) or its
 * own part boundaries, as chosen: src:crc32c, src:multipart-etag. */
static int crc_and_parts_verify(ferry_copy_t *c, uint32_t crc, ferry_error_t *err)
{
    if (c->ck.checks & CK_SRC_CRC32C) {
        int rc = src_crc_verify(c, crc, err);
        if (rc != FERRY_OK)
            return rc;
    }
    if (c->ck.checks & CK_SRC_MPETAG)
        return mp_verify(c, err);
    return FERRY_OK;
}

/* A digest of all the bytes a single request read (what: "MD5", "qetag"; got: its text form)
 * against the source's ETag (theirs: how the message names it): tag recorded, or a mismatch. */
static int read_etag_verify(ferry_copy_t *c, const char *what, const char *got, const char *theirs,
                            const char *tag, ferry_error_t *err)
{
    if (!ferry_etag_eq(got, c->res.etag)) {
        return copy_mismatch(c, err,
                             "the %s of the bytes read (%s) differs from the %s (%s): the read was "
                             "corrupted; nothing was committed and the copy is retried",
                             what, got, theirs, c->res.etag);
    }
    copy_add_check(c, tag);
    return FERRY_OK;
}

/* A single-request copy has read the whole object: compare with what the source says it is,
 * before the destination can commit it. */
int copy_unit_verify_whole(unit_t *u, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    unsigned ck = c->ck.checks;
    if (ck & CK_SRC_CRC64) {
        if (u->crc64 != c->res.src_crc64) {
            return copy_mismatch(c, err,
                                 "CRC-64 of the bytes read (%llu) differs from the source's "
                                 "(%llu): the read was corrupted; nothing was committed and "
                                 "the copy is retried",
                                 (unsigned long long)u->crc64,
                                 (unsigned long long)c->res.src_crc64);
        }
        copy_add_check(c, "src:crc64");
    }
    if (ck & CK_SRC_MD5) {
        char hex[33];
        copy_unit_md5_final(u);
        ferry_hex_lower(u->md5_bin, 16, hex);
        int rc = read_etag_verify(c, "MD5", hex, "source's ETag", "src:md5", err);
        if (rc != FERRY_OK)
            return rc;
    }
    int rc = crc_and_parts_verify(c, u->scrc, err);
    if (rc != FERRY_OK)
        return rc;
    if (u->qetag_on) {
        char q[29];
        ferry_qetag_final(&u->qetag, q);
        u->qetag_on = 0;
        if (ck & CK_SRC_QETAG)
            rc = read_etag_verify(c, "qetag", q, "source's", "src:qetag", err);
        if (rc != FERRY_OK)
            return rc;
    }
    u->verified = 1;
    return FERRY_OK;
}

/* A resumed part was re-read: is the uploaded part these bytes? FERRY_OK, or UNIT_RESEND
 * when it is not (the part is marked to upload again). */
int copy_unit_check_resumed(unit_t *u, part_t *p, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    (void)err;
    int same;
    const char *what;
    if (u->crc_mode) {
        ferry_crc32c_b64(u->crc32c, u->crc32c_b64);
        same = strcmp(u->crc32c_b64, p->listed_crc32c) == 0;
        what = "resume:crc32c";
    } else {
        char hex[33];
        copy_unit_md5_final(u);
        ferry_hex_lower(u->md5_bin, 16, hex);
        const char *want = p->listed_etag;
        if (!(u->checks & CK_RESUME_MD5) || want == NULL || !want[0] || strchr(want, '-') != NULL)
            return FERRY_OK; /* nothing to compare: listparts_done kept it for CRC-64 */
        same = ferry_etag_eq(want, hex);
        what = "resume:md5";
    }
    if (!same) {
        /* The uploaded part is not these bytes (changed source?): upload it again. */
        p->listed = 0;
        p->state = PART_PENDING;
        c->res.parts_resumed--;
        ferry_log(FERRY_LOG_WARN, "copy.resume_part_mismatch", "key", c->src_key, "reason",
                  "the uploaded part differs from the source range", NULL);
        return UNIT_RESEND;
    }
    copy_add_check(c, what);
    return FERRY_OK;
}

/* A PUT or UploadPart answered 2xx: the destination must confirm what it stored — its ETag
 * equal to our MD5 (where the store's ETag is an MD5) and any CRC32C we sent echoed equal. A
 * reply with no ETag, a wrong one, or no echo of a CRC32C part is FERRY_ECHECKSUM (retried). */
int copy_unit_check_dst(unit_t *u, ferry_error_t *err)
{
    ferry_copy_t *c = u->c;
    const char *what = c->plan.kind == FERRY_PLAN_SINGLE ? "the object" : "a part";
    if (u->etag[0] == '\0') {
        return copy_mismatch(c, err,
                             "the destination answered 2xx without an ETag for %s: it may "
                             "not have stored it; retrying",
                             what);
    }
    if (u->checks & CK_DST_CRC32C_ECHO) {
        const char *ours = u->crc32c_b64;
        if (u->echo[0] == '\0' && u->crc_mode) {
            return copy_mismatch(c, err,
                                 "the destination did not echo the CRC32C of %s: nothing "
                                 "confirms it stored these bytes; retrying (a store that "
                                 "ignores checksums needs --dst-checksum md5)",
                                 what);
        }
        if (u->echo[0] != '\0' && strcmp(u->echo, ours) != 0) {
            return copy_mismatch(c, err,
                                 "the destination echoed CRC32C %s for %s, we sent %s: "
                                 "corrupted in transit; retrying",
                                 u->echo, what, ours);
        }
        if (u->echo[0] != '\0')
            copy_add_check(c, "dst:crc32c-echo");
    }
    if (!u->crc_mode) {
        copy_unit_md5_final(u);
        char hex[33];
        ferry_hex_lower(u->md5_bin, 16, hex);
        if ((u->checks & CK_DST_ETAG) && strchr(u->etag, '-') == NULL) {
            if (!ferry_etag_eq(u->etag, hex)) {
                return copy_mismatch(c, err,
                                     "the destination's ETag %s for %s does not match the "
                                     "MD5 %s of the bytes sent: corrupted in transit; "
                                     "retrying",
                                     u->etag, what, hex);
            }
            copy_add_check(c, "dst:etag");
        }
        if (u->checks & CK_DST_CONTENT_MD5)
            copy_add_check(c, "dst:content-md5");
    }
    return FERRY_OK;
}

/* The parts of a multipart copy are all uploaded: compare what they read with the source
 * (CRC-64 and CRC32C combined in part order, the multipart ETag on the source's boundaries,
 * the MD5 formed in source order, the qetag of the block digests) before Complete can commit
 * them. FERRY_OK, or
 * FERRY_ECHECKSUM / FERRY_ENOMEM with err set. */
int copy_verify_parts(ferry_copy_t *c, ferry_error_t *err)
{
    unsigned ck = c->ck.checks;
    if ((ck & CK_SRC_CRC64) && c->res.crc64 != c->res.src_crc64) {
        return copy_mismatch(c, err,
                             "CRC-64 of the bytes copied (%llu) differs from the source's "
                             "(%llu): the read was corrupted; the upload is discarded and "
                             "the copy retried",
                             (unsigned long long)c->res.crc64,
                             (unsigned long long)c->res.src_crc64);
    }
    if (ck & CK_SRC_CRC64)
        copy_add_check(c, "src:crc64");
    uint32_t crc = 0;
    for (uint32_t i = 0; (ck & CK_SRC_CRC32C) && i < c->plan.parts; i++)
        crc = ferry_crc32c_combine(crc, c->parts[i].scrc, c->parts[i].len);
    int rc = crc_and_parts_verify(c, crc, err);
    if (rc != FERRY_OK)
        return rc;
    if ((ck & CK_SRC_MD5) && (rc = copy_md5_verify(c, err)) != FERRY_OK)
        return rc; /* the MD5 of all the bytes, formed in source order (copy_md5.c) */
    if (ck & CK_SRC_QETAG) {
        char q[29];
        if (ferry_qetag_of_blocks(c->qblk, c->qblk_n, q) != FERRY_OK)
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        if (!ferry_etag_eq(q, c->res.etag)) {
            return copy_mismatch(
                c, err,
                "the qetag of the bytes copied (%s) differs from the source's (%s): "
                "the read was corrupted; the upload is discarded and the copy "
                "retried",
                q, c->res.etag);
        }
        copy_add_check(c, "src:qetag");
    }
    return FERRY_OK;
}

/* Complete answered 2xx: its ETag (MD5 of the part MD5s, "-N") or composite CRC32C must be
 * what we computed from the parts we sent. A missing or different value is FERRY_ECHECKSUM. */
int copy_complete_check(ferry_copy_t *c, const ferry_s3_result_t *r, ferry_error_t *err)
{
    if (c->plan.kind != FERRY_PLAN_MULTIPART)
        return FERRY_OK; /* server-side parts: the store copied them itself */
    if (c->ck.checks & CK_DST_CRC32C_ECHO) {
        /* COMPOSITE: crc32c(concat(crc32c(part_i)))-N over the checksums the parts had */
        uint32_t crc = 0;
        for (uint32_t i = 0; i < c->plan.parts; i++) {
            uint8_t be[4];
            size_t n = 0;
            if (ferry_b64_decode(c->parts[i].crc32c, strlen(c->parts[i].crc32c), be, sizeof(be),
                                 &n) != FERRY_OK ||
                n != 4)
                return ferry_error_set(err, FERRY_ECHECKSUM,
                                       "part %u has no CRC32C to check the upload by; retrying",
                                       i + 1);
            crc = ferry_crc32c_update(crc, (const char *)be, 4);
        }
        char b64[9], want[24];
        ferry_crc32c_b64(crc, b64);
        snprintf(want, sizeof(want), "%s-%u", b64, c->plan.parts);
        if (r->checksum_crc32c[0] == '\0')
            return ferry_error_set(err, FERRY_ECHECKSUM,
                                   "CompleteMultipartUpload returned no composite CRC32C (want "
                                   "%s): nothing confirms the object is the parts we sent; "
                                   "retrying",
                                   want);
        if (strcmp(want, r->checksum_crc32c) != 0)
            return ferry_error_set(err, FERRY_ECHECKSUM,
                                   "CompleteMultipartUpload returned composite CRC32C %s, the "
                                   "parts we sent make %s: the object is not what was sent; "
                                   "retrying",
                                   r->checksum_crc32c, want);
        copy_add_check(c, "dst:crc32c-echo");
        return FERRY_OK;
    }
    if (r->etag[0] == '\0')
        return ferry_error_set(err, FERRY_ECHECKSUM,
                               "CompleteMultipartUpload returned no ETag: the object may not be "
                               "stored; retrying");
    if (!(c->ck.checks & CK_DST_ETAG))
        return FERRY_OK; /* the store's multipart ETag is not MD5-of-MD5s */
    if (strchr(r->etag, '-') == NULL) {
        /* Not of the multipart form at all (s3rver 3.7 answers a whole-object MD5): nothing to
         * recompute it from; the parts' ETags were compared, the Complete ETag is not. */
        ferry_log(FERRY_LOG_INFO, "copy.complete_etag_not_compared", "key", c->dst_key, "etag",
                  r->etag, "reason", "not a multipart ETag (md5-N)", NULL);
        return FERRY_OK;
    }
    /* md5(concat(md5(part_i)))-N */
    ferry_md5_t m;
    uint8_t d[16];
    char want[48];
    if (ferry_md5_init(&m) != FERRY_OK)
        return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < c->plan.parts; i++)
        ferry_md5_update(&m, c->parts[i].md5, 16);
    ferry_md5_final(&m, d);
    ferry_hex_lower(d, 16, want);
    snprintf(want + 32, sizeof(want) - 32, "-%u", c->plan.parts);
    if (!ferry_etag_eq(want, r->etag))
        return ferry_error_set(err, FERRY_ECHECKSUM,
                               "CompleteMultipartUpload returned ETag %s, the parts we sent make "
                               "%s: the object is not what was sent; retrying",
                               r->etag, want);
    copy_add_check(c, "dst:etag");
    return FERRY_OK;
}

/* Will a source check run for this plan? */
int copy_src_check_possible(const ferry_copy_t *c)
{
    return (c->ck.checks & CK_SRC_ANY) != 0;
}
