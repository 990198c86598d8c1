/* fakes3 connection input: a request whose head read also took in a buffer's worth of its
 * chunked body, followed on the same connection by a pipelined request. The whole stream is
 * in the socket before the server side reads, so the first recv fills the head buffer. */
#include "http.h"

#include "ferry/buf.h"
#include "ferry/error.h"
#include "test.h"

#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY 90000

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        REQUIRE(w > 0); /* the socket buffer holds the whole stream */
        p += w;
        n -= (size_t)w;
    }
}

static void test_pipelined_after_chunked(int te_pieces)
{
    int sv[2];
    int big = 1 << 20;
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    static char data[BODY];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    ferry_buf_t in;
    ferry_buf_init(&in, 1 << 20);
    REQUIRE(ferry_buf_adds(&in, "PUT /bk/k HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n") == FERRY_OK);
    size_t piece = BODY / (size_t)te_pieces;
    for (size_t off = 0; off < BODY; off += piece) {
        size_t k = BODY - off < piece ? BODY - off : piece;
        REQUIRE(ferry_buf_addf(&in, "%zx\r\n", k) == FERRY_OK);
        REQUIRE(ferry_buf_add(&in, data + off, k) == FERRY_OK);
        REQUIRE(ferry_buf_adds(&in, "\r\n") == FERRY_OK);
    }
    REQUIRE(ferry_buf_adds(&in, "0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n") == FERRY_OK);
    write_all(sv[0], in.data, in.len);
    shutdown(sv[0], SHUT_WR);

    fakes3_conn_t c;
    fakes3_http_req_t *req = malloc(sizeof(*req));
    REQUIRE(req != NULL && fakes3_conn_init(&c, sv[1]) == FERRY_OK);
    REQUIRE(fakes3_conn_read_head(&c, req) == FERRY_OK);
    CHECK_STR(req->path, "/bk/k");
    CHECK(req->chunked);
    /* More than the head is buffered: the body's first bytes came with it. */
    CHECK(c.rlen > req->head_len + 1000);
    ferry_buf_t body;
    ferry_buf_init(&body, 1 << 20);
    CHECK_INT(fakes3_conn_read_chunked(&c, &body), FERRY_OK);
    CHECK(body.len == BODY && memcmp(body.data, data, BODY) == 0);
    /* The pipelined request is there, whole, after the body. */
    CHECK_INT(fakes3_conn_read_head(&c, req), FERRY_OK);
    CHECK_STR(req->method, "GET");
    CHECK_STR(req->path, "/next");
    CHECK_INT(fakes3_conn_read_head(&c, req), FERRY_EIO); /* then the end of the stream */
    ferry_buf_free(&body);
    ferry_buf_free(&in);
    fakes3_conn_close(&c);
    free(req);
    close(sv[0]);
}

int main(void)
{
    test_pipelined_after_chunked(1);
    test_pipelined_after_chunked(18); /* 5000-byte HTTP chunks */
    return test_summary();
}
