#include "ferry/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ferry_strerror(int code)
{
    switch (code) {
    case FERRY_OK:
        return "success";
#define XX(name, val, msg)                                                                         \
    case FERRY_E##name:                                                                            \
        return msg;
        FERRY_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *ferry_err_name(int code)
{
    switch (code) {
    case FERRY_OK:
        return "FERRY_OK";
#define XX(name, val, msg)                                                                         \
    case FERRY_E##name:                                                                            \
        return "FERRY_E" #name;
        FERRY_ERRNO_MAP(XX)
#undef XX
    default:
        return "FERRY_E_UNKNOWN";
    }
}

int ferry_error_set(ferry_error_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->http_status = 0;
    err->s3_code[0] = '\0';
    err->side[0] = '\0';
    if (fmt == NULL) {
        snprintf(err->msg, sizeof(err->msg), "%s", ferry_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void ferry_error_clear(ferry_error_t *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}
