/* Built against the installed libtwkit (tests/install/run.sh): a twp echo
 * server and a client in one loop on loopback. The client sends one
 * frame, checks the echo, ends with BYE/GOODBYE; exit 0 when the reply
 * matched, the client ended by GOODBYE and the server counted it. */
#include <stdio.h>
#include <string.h>

#include <twkit/client.h>
#include <twkit/error.h>
#include <twkit/server.h>
#include <twkit/version.h>

static tw_server *srv;
static int echoed, ended = -1;

static void on_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    echoed = len == 5 && memcmp(p, "hello", 5) == 0;
    tw_client_bye(c);
}

static void on_close(tw_client *c, enum tw_client_end how, int err)
{
    (void)c;
    (void)err;
    ended = (int)how;
    tw_server_shutdown(srv); /* the loop ends with the last connection */
}

int main(void)
{
    struct tw_server_opts so = {.idle_timeout_ms = 5000}; /* on_data NULL: echo */
    struct tw_client_opts co = {.on_data = on_data, .on_close = on_close};
    tw_client *c;
    tw_loop *loop;
    int err;

    tw_addr_parse(&so.listen, "127.0.0.1:0", 0);
    if ((err = tw_loop_new(&loop)) < 0 || (err = tw_server_start(loop, &so, &srv)) < 0 ||
        (err = tw_server_local(srv, &co.dst)) < 0 || (err = tw_client_connect(loop, &co, &c)) < 0 ||
        (err = tw_client_send(c, "hello", 5)) < 0) {
        fprintf(stderr, "echo_round: %s\n", tw_errname(err));
        return 1;
    }
    tw_loop_run(loop);
    printf("libtwkit %s (built with %s): echo %s, client ended %s, server bye_goodbye %llu\n",
           tw_version(), TW_VERSION_STRING, echoed ? "ok" : "WRONG",
           ended >= 0 ? tw_client_end_name((enum tw_client_end)ended) : "never",
           (unsigned long long)tw_server_stats(srv)->bye_goodbye);
    err = !(echoed && ended == TW_CLIENT_END_GOODBYE && tw_server_stats(srv)->bye_goodbye == 1);
    tw_server_free(srv);
    tw_loop_free(loop);
    return err;
}
