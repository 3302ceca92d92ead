/* hello.c: an HTTP/1.1 server on libtwkit that never closes first.
 *   cc hello.c $(pkg-config --cflags --libs twkit) -o hello && ./hello 127.0.0.1:8080 */
#include <stdio.h>
#include <twkit/error.h>
#include <twkit/server.h>

static void on_http(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    (void)req, (void)data;
    tw_sconn_respond(c, 200, "text/plain", NULL, "hello\n", 6);
}

int main(int argc, char **argv)
{
    struct tw_server_opts o = {.proto = TW_PROTO_HTTP, .on_http = on_http};
    tw_server *srv;
    tw_loop *loop;
    int err;

    if ((err = tw_addr_parse(&o.listen, argc > 1 ? argv[1] : "127.0.0.1:8080", 8080)) < 0 ||
        (err = tw_loop_new(&loop)) < 0 || (err = tw_server_start(loop, &o, &srv)) < 0) {
        fprintf(stderr, "hello: %s\n", tw_strerror(err));
        return 1;
    }
    return tw_loop_run(loop) < 0;
}
