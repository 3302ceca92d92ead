/* The bench strategies' names, as --close takes them and the output prints them. */
#include <string.h>

#include "bench/bench.h"

const char *const tb_close_names[TB_NCLOSE] = {
    "raw", "raw-request", "client-close", "server-close", "handshake", "bye", "abort", "pool",
};

int tb_close_parse(const char *s)
{
    for (int i = 0; i < TB_NCLOSE; i++)
        if (!strcmp(s, tb_close_names[i]))
            return i;
    return -1;
}

