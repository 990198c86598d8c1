/* ferry — credentials for one side of a task (docs/cli.md, "Locations and credentials").
 *
 * Never on the command line, never in Redis, never in logs. Resolution order:
 *   1. a named profile (--src-profile / --dst-profile): that section of the credentials file
 *      ($FERRY_CREDENTIALS, default ~/.config/ferry/credentials; AWS INI form with
 *      aws_access_key_id, aws_secret_access_key, optional aws_session_token);
 *   2. FERRY_SRC_ACCESS_KEY_ID / FERRY_SRC_SECRET_ACCESS_KEY (/ FERRY_SRC_SESSION_TOKEN), or
 *      the FERRY_DST_ ones for the destination;
 *   3. for the destination only: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 *      (/ AWS_SESSION_TOKEN).
 * The result holds copies; ferry_creds_wipe() zeroes them. Not thread-safe (reads getenv).
 */
#ifndef FERRY_CREDS_H
#define FERRY_CREDS_H

#include "ferry/error.h"
#include "ferry/sigv4.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_creds_store_s {
    char access_key[129];
    char secret_key[257];
    char session_token[4097];
    char source[160]; /* where they came from, for messages: "profile prod in FILE", "env" */
} ferry_creds_store_t;

/* Which side: changes the environment names and whether AWS_* is consulted. */
typedef enum { FERRY_SIDE_SRC = 0, FERRY_SIDE_DST = 1 } ferry_side_kind_t;

/* Resolve credentials for a side. profile may be NULL/"" (then the environment). FERRY_OK;
 * FERRY_ENOTFOUND (nothing configured: err says which variables or profile to set);
 * FERRY_EIO (the file cannot be read); FERRY_EDENIED (the file is open to other users:
 * ferry_creds_file_check); FERRY_EPARSE (a malformed line, with its number); FERRY_ETOOBIG (a
 * value longer than its slot). On every error *out is wiped: nothing read stays behind. */
int ferry_creds_load(ferry_side_kind_t side, const char *profile, ferry_creds_store_t *out,
                     ferry_error_t *err);

/* Refuse a credentials file others could read or change, as ssh does: fd open on path; the
 * file must be a regular file, owned by the user (or root), without any group or other
 * permission bit. FERRY_OK; FERRY_EDENIED with err saying "chmod 600 FILE"; FERRY_EIO. */
int ferry_creds_file_check(int fd, const char *path, ferry_error_t *err);

/* Parse credentials from INI text (for tests and the loader): the section [profile]. Same
 * codes; `origin` names the text in messages. */
int ferry_creds_parse_ini(const char *text, size_t len, const char *profile, const char *origin,
                          ferry_creds_store_t *out, ferry_error_t *err);

/* A borrowed view for the S3 client (valid while the store lives). */
ferry_creds_t ferry_creds_view(const ferry_creds_store_t *c);

/* Zero the secrets. */
void ferry_creds_wipe(ferry_creds_store_t *c);

#ifdef __cplusplus
}
#endif
#endif
