#include "ferry/creds.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREDS_FILE_MAX (1024 * 1024)

/* Zero n bytes in a way the compiler may not drop (the memory is freed or reused next). */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* An error after something may have been read into out: wipe it, then report. */
static int fail_wiped(ferry_creds_store_t *out, int rc)
{
    ferry_creds_wipe(out);
    return rc;
}

static int copy_val(char *dst, size_t cap, const char *v, size_t n, const char *what,
                    const char *origin, ferry_error_t *err)
{
    if (n >= cap)
        return ferry_error_set(err, FERRY_ETOOBIG, "%s in %s is longer than %zu bytes", what,
                               origin, cap - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return FERRY_OK;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

int ferry_creds_parse_ini(const char *text, size_t len, const char *profile, const char *origin,
                          ferry_creds_store_t *out, ferry_error_t *err)
{
    int in_section = 0, found = 0, rc;
    size_t lineno = 0;
    memset(out, 0, sizeof(*out));
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        size_t n = (size_t)(le - p);
        lineno++;
        p = nl ? nl + 1 : end;
        trim(&s, &n);
        if (n == 0 || s[0] == '#' || s[0] == ';')
            continue;
        if (s[0] == '[') {
            if (s[n - 1] != ']')
                return fail_wiped(out, ferry_error_set(err, FERRY_EPARSE,
                                                       "%s line %zu: a section header must end "
                                                       "with ']'",
                                                       origin, lineno));
            const char *name = s + 1;
            size_t nn = n - 2;
            trim(&name, &nn);
            /* "[profile NAME]" as in ~/.aws/config is accepted too */
            if (nn > 8 && strncmp(name, "profile ", 8) == 0) {
                name += 8;
                nn -= 8;
                trim(&name, &nn);
            }
            in_section = strlen(profile) == nn && memcmp(name, profile, nn) == 0;
            found |= in_section;
            continue;
        }
        const char *eq = memchr(s, '=', n);
        if (eq == NULL)
            return fail_wiped(out,
                              ferry_error_set(err, FERRY_EPARSE, "%s line %zu: want key = value",
                                              origin, lineno));
        if (!in_section)
            continue;
        const char *k = s, *v = eq + 1;
        size_t kn = (size_t)(eq - s), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        if (kn == 17 && memcmp(k, "aws_access_key_id", 17) == 0)
            rc = copy_val(out->access_key, sizeof(out->access_key), v, vn, "aws_access_key_id",
                          origin, err);
        else if (kn == 21 && memcmp(k, "aws_secret_access_key", 21) == 0)
            rc = copy_val(out->secret_key, sizeof(out->secret_key), v, vn, "aws_secret_access_key",
                          origin, err);
        else if (kn == 17 && memcmp(k, "aws_session_token", 17) == 0)
            rc = copy_val(out->session_token, sizeof(out->session_token), v, vn,
                          "aws_session_token", origin, err);
        else
            rc = FERRY_OK; /* region and other keys belong to other tools */
        if (rc) {
            ferry_creds_wipe(out);
            return rc;
        }
    }
    if (!found)
        return fail_wiped(out, ferry_error_set(err, FERRY_ENOTFOUND,
                                               "no [%s] section in %s: add one with "
                                               "aws_access_key_id and aws_secret_access_key",
                                               profile, origin));
    if (!out->access_key[0] || !out->secret_key[0]) {
        ferry_creds_wipe(out);
        return ferry_error_set(err, FERRY_EPARSE,
                               "[%s] in %s lacks aws_access_key_id or aws_secret_access_key",
                               profile, origin);
    }
    snprintf(out->source, sizeof(out->source), "profile %.40s in %.100s", profile, origin);
    return FERRY_OK;
}

static int from_env(const char *id_var, const char *secret_var, const char *token_var,
                    ferry_creds_store_t *out, ferry_error_t *err)
{
    const char *id = getenv(id_var), *secret = getenv(secret_var), *token = getenv(token_var);
    if (!id || !*id || !secret || !*secret)
        return FERRY_ENOTFOUND;
    int rc;
    if ((rc = copy_val(out->access_key, sizeof(out->access_key), id, strlen(id), id_var,
                       "the environment", err)) ||
        (rc = copy_val(out->secret_key, sizeof(out->secret_key), secret, strlen(secret), secret_var,
                       "the environment", err)))
        return fail_wiped(out, rc);
    if (token && *token &&
        (rc = copy_val(out->session_token, sizeof(out->session_token), token, strlen(token),
                       token_var, "the environment", err)))
        return fail_wiped(out, rc);
    snprintf(out->source, sizeof(out->source), "%s", id_var);
    return FERRY_OK;
}

int ferry_creds_file_check(int fd, const char *path, ferry_error_t *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ferry_error_set(err, FERRY_EIO, "cannot stat the credentials file %s: %s", path,
                               strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ferry_error_set(err, FERRY_EIO, "the credentials file %s is not a regular file",
                               path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return ferry_error_set(err, FERRY_EDENIED,
                               "the credentials file %s is accessible by other users (mode %03o): "
                               "run chmod 600 %s, and rotate the keys if others may have read "
                               "them",
                               path, (unsigned)(st.st_mode & 0777), path);
    if (st.st_uid != getuid() && st.st_uid != 0)
        return ferry_error_set(err, FERRY_EDENIED,
                               "the credentials file %s belongs to another user (uid %ld): "
                               "use a file of your own",
                               path, (long)st.st_uid);
    return FERRY_OK;
}

int ferry_creds_load(ferry_side_kind_t side, const char *profile, ferry_creds_store_t *out,
                     ferry_error_t *err)
{
    const char *pfx = side == FERRY_SIDE_SRC ? "FERRY_SRC" : "FERRY_DST";
    const char *flag = side == FERRY_SIDE_SRC ? "--src-profile" : "--dst-profile";
    char id_var[64], secret_var[64], token_var[64];
    int rc;
    memset(out, 0, sizeof(*out));
    if (profile && *profile) {
        char path[4096];
        const char *f = getenv("FERRY_CREDENTIALS");
        if (f && *f) {
            snprintf(path, sizeof(path), "%s", f);
        } else {
            const char *home = getenv("HOME");
            snprintf(path, sizeof(path), "%s/.config/ferry/credentials", home ? home : "");
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return ferry_error_set(err, FERRY_EIO,
                                   "%s %s: cannot read the credentials file %s: create it, or "
                                   "point FERRY_CREDENTIALS at it",
                                   flag, profile, path);
        rc = ferry_creds_file_check(fd, path, err);
        if (rc) {
            close(fd);
            return rc;
        }
        FILE *fp = fdopen(fd, "rb");
        if (fp == NULL) {
            close(fd);
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        }
        char *text = malloc(CREDS_FILE_MAX + 1);
        if (text == NULL) {
            fclose(fp);
            return ferry_error_set(err, FERRY_ENOMEM, "out of memory");
        }
        size_t n = fread(text, 1, CREDS_FILE_MAX + 1, fp);
        fclose(fp);
        if (n > CREDS_FILE_MAX)
            rc = ferry_error_set(err, FERRY_ETOOBIG, "%s is larger than 1 MiB", path);
        else
            rc = ferry_creds_parse_ini(text, n, profile, path, out, err);
        wipe(text, n);
        free(text);
        return rc;
    }
    snprintf(id_var, sizeof(id_var), "%s_ACCESS_KEY_ID", pfx);
    snprintf(secret_var, sizeof(secret_var), "%s_SECRET_ACCESS_KEY", pfx);
    snprintf(token_var, sizeof(token_var), "%s_SESSION_TOKEN", pfx);
    rc = from_env(id_var, secret_var, token_var, out, err);
    if (rc != FERRY_ENOTFOUND)
        return rc;
    if (side == FERRY_SIDE_DST) {
        rc = from_env("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", out, err);
        if (rc != FERRY_ENOTFOUND)
            return rc;
    }
    return ferry_error_set(err, FERRY_ENOTFOUND,
                           "no %s credentials: set %s and %s%s, or name a profile with %s",
                           side == FERRY_SIDE_SRC ? "source" : "destination", id_var, secret_var,
                           side == FERRY_SIDE_DST ? " (or AWS_ACCESS_KEY_ID and "
                                                    "AWS_SECRET_ACCESS_KEY)"
                                                  : "",
                           flag);
}

ferry_creds_t ferry_creds_view(const ferry_creds_store_t *c)
{
    ferry_creds_t v = {c->access_key, c->secret_key, c->session_token[0] ? c->session_token : NULL};
    return v;
}

void ferry_creds_wipe(ferry_creds_store_t *c)
{
    wipe(c, sizeof(*c));
}
