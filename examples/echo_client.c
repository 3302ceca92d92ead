/* A minimal twp echo client on libtwkit.
 *   echo_client [ADDR:PORT] [MESSAGE...]
 * Sends each message as a DATA frame, then BYE; prints the echoes; after
 * GOODBYE it aborts, so neither side keeps a TIME_WAIT socket. */
#include <stdio.h>
#include <string.h>

#include <twkit/client.h>
#include <twkit/error.h>

static int echoes;

static void on_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    printf("echo: %.*s\n", (int)len, (const char *)p);
    echoes++;
}

static void on_close(tw_client *c, enum tw_client_end how, int err)
{
    int *status = tw_client_data(c);

    printf("ended: %s%s%s\n", tw_client_end_name(how), err ? " " : "",
           err ? tw_errname(err) : "");
    *status = how == TW_CLIENT_END_GOODBYE ? 0 : 1;
}

int main(int argc, char **argv)
{
    int status = 1, err;
    struct tw_client_opts o = {.on_data = on_data, .on_close = on_close, .data = &status};
    char *defaults[] = {"hello", "world"};
    char **msgs = argc > 2 ? argv + 2 : defaults;
    int nmsgs = argc > 2 ? argc - 2 : 2;
    tw_loop *loop;
    tw_client *c;

    if (tw_addr_parse(&o.dst, argc > 1 ? argv[1] : "127.0.0.1:7070", 7070) < 0) {
        fprintf(stderr, "usage: echo_client [ADDR:PORT] [MESSAGE...]\n");
        return 2;
    }
    if ((err = tw_loop_new(&loop)) < 0 || (err = tw_client_connect(loop, &o, &c)) < 0) {
        fprintf(stderr, "echo_client: %s\n", tw_errname(err));
        return 1;
    }
    /* Queued behind HELLO; sent as soon as the connection is up. */
    for (int i = 0; i < nmsgs; i++)
        tw_client_send(c, msgs[i], (uint32_t)strlen(msgs[i]));
    tw_client_bye(c);
    tw_loop_run(loop);
    tw_loop_free(loop);
    if (status == 0 && echoes != nmsgs)
        status = 1;
    return status;
}
