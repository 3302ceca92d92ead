// The same round trip from C++ (tests/install/run.sh): the headers'
// extern "C" and their C++-compatible declarations, checked.
#include <cstdio>
#include <cstring>
#include <string>

#include <twkit/client.h>
#include <twkit/error.h>
#include <twkit/server.h>
#include <twkit/version.h>

namespace {

struct round {
    tw_server *srv = nullptr;
    std::string reply;
    int ended = -1;
};

round r;

void on_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    r.reply.assign(reinterpret_cast<const char *>(p), len);
    tw_client_bye(c);
}

void on_close(tw_client *, enum tw_client_end how, int)
{
    r.ended = static_cast<int>(how);
    tw_server_shutdown(r.srv);
}

} // namespace

int main()
{
    tw_server_opts so{};
    tw_client_opts co{};
    tw_client *c = nullptr;
    tw_loop *loop = nullptr;
    int err;

    so.idle_timeout_ms = 5000;
    co.on_data = on_data;
    co.on_close = on_close;
    tw_addr_parse(&so.listen, "127.0.0.1:0", 0);
    if ((err = tw_loop_new(&loop)) < 0 || (err = tw_server_start(loop, &so, &r.srv)) < 0 ||
        (err = tw_server_local(r.srv, &co.dst)) < 0 ||
        (err = tw_client_connect(loop, &co, &c)) < 0 || (err = tw_client_send(c, "hello", 5)) < 0) {
        std::fprintf(stderr, "echo_round (C++): %s\n", tw_errname(err));
        return 1;
    }
    tw_loop_run(loop);
    struct tw_server_stats st{}; // "struct": a function has the same name
    tw_server_stats_load(r.srv, &st);
    std::printf("C++: libtwkit %s: echo '%s', client ended %s, server bye_goodbye %llu\n",
                tw_version(), r.reply.c_str(),
                r.ended >= 0 ? tw_client_end_name(static_cast<tw_client_end>(r.ended)) : "never",
                static_cast<unsigned long long>(st.bye_goodbye));
    bool ok = r.reply == "hello" && r.ended == TW_CLIENT_END_GOODBYE && st.bye_goodbye == 1 &&
              std::strcmp(tw_version(), TW_VERSION_STRING) == 0;
    tw_server_free(r.srv);
    tw_loop_free(loop);
    return ok ? 0 : 1;
}
