/* twkit hazards: what TIME_WAIT (and timestamps, tcp_rfc1337, a graceful
 * close, an RST that arrives) protects against, each hazard run in the lab
 * with its protection and without it (the table is src/lab/hazards.c,
 * shared with the tests). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lab/hazards.h"
#include "util/json.h"

static void usage(FILE *f)
{
    fputs("usage: twkit hazards [--json] [--only NAMES] [--pcap DIR]\n"
          "\n"
          "Show, on this kernel, what TIME_WAIT and its neighbours protect against. Each\n"
          "hazard runs twice, each run in a fresh lab (two network namespaces joined by a\n"
          "veth, with their own sysctls and nft rules, removed afterwards): once with the\n"
          "protection in place, once with it removed; duplicate runs a third time, \"middle\"\n"
          "(TIME_WAIT taken over early by tcp_tw_reuse=1). Each row says what the classic\n"
          "texts claim, what this kernel did (measured), the TcpExt counters that moved in\n"
          "each namespace and the practical rule. Needs root; takes a few seconds.\n"
          "\n", f);
    for (size_t i = 0; i < tw_nhazards; i++)
        fprintf(f, "  %-14s %s\n", tw_hazards[i].name, tw_hazards[i].title);
    fputs("\n"
          "options:\n"
          "  --json         one JSON object: {\"schema\":\"twkit-hazards/1\",\"hazards\":[{name,\n"
          "                 title, claim, removed, rule, held, runs:[{run, setting,\n"
          "                 as_expected, brief, measured, counters, values}]}]}\n"
          "  --only NAMES   run only these hazards, comma-separated: --only abort,overflow\n"
          "  --pcap DIR     write each run's packets, as the client's veth end saw them, to\n"
          "                 DIR/NAME-kept.pcap and DIR/NAME-removed.pcap (classic pcap;\n"
          "                 DIR/NAME-middle.pcap for a hazard with a middle run)\n"
          "  -h, --help     this text\n"
          "\n"
          "exit status: 0 if this kernel did what each hazard expects, 1 if it did not\n"
          "(the row says what differs), 2 on bad usage or when a hazard could not be\n"
          "measured (not root, iproute2 or nft missing).\n", f);
}

/* --only: every name must be a row. */
static int check_only(const char *only)
{
    char *copy = strdup(only), *save = NULL;
    int rc = copy ? 0 : -ENOMEM;

    for (char *n = copy ? strtok_r(copy, ",", &save) : NULL; n; n = strtok_r(NULL, ",", &save))
        if (!tw_hazard_find(n)) {
            fprintf(stderr, "twkit hazards: --only: no hazard '%s'\n", n);
            rc = -EINVAL;
        }
    free(copy);
    return rc;
}

static bool selected(const char *only, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = only; p && (p = strstr(p, name)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return true;
    return !only;
}

/* text wrapped at 100 columns, every line after the first indented */
static void wrap(const char *lead, const char *text)
{
    const int width = 100, indent = 11;
    int col = printf("  %-8s ", lead);

    while (*text) {
        size_t w = strcspn(text, " ");
        if (col > indent && col + 1 + (int)w > width)
            col = printf("\n%*s", indent, "") - 1;
        else if (col > indent)
            col += printf(" ");
        col += printf("%.*s", (int)w, text);
        text += w;
        text += strspn(text, " ");
    }
    printf("\n");
}

static void print_run(const char *lead, const struct tw_hazard_run *run)
{
    /* the label is a short constant ("tcp_rfc1337=1") */
    char buf[sizeof(run->text) + sizeof(run->counters) + sizeof(run->pcap) + 128];

    if (!run->ran)
        return;
    snprintf(buf, sizeof(buf), "[%.100s] %s counters: %s.%s%s", run->label ? run->label : "",
             run->text, run->counters, run->pcap[0] ? " pcap: " : "", run->pcap);
    wrap(lead, buf);
}

static void print_text(const struct tw_hazard *h, const struct tw_hazard_result *r)
{
    printf("%s: %s%*s%s (%.1f s)\n", h->name, h->title,
           (int)(70 - strlen(h->name) - strlen(h->title)), "",
           r->err[0] ? "NOT MEASURED" : tw_hazard_held(r) ? "as expected" : "DIFFERS",
           r->seconds);
    wrap("claim", h->claim);
    wrap("guard", h->removed);
    if (r->err[0])
        wrap("error", r->err);
    /* the middle way between the two, printed where it reads so; print_run
     * skips it for the hazards that have none */
    print_run("kept", &r->run[TW_HZ_KEPT]);
    print_run("middle", &r->run[TW_HZ_MIDDLE]);
    print_run("removed", &r->run[TW_HZ_REMOVED]);
    wrap("rule", h->rule);
    printf("\n");
    fflush(stdout);
}

static void summary(const bool *ran, const struct tw_hazard_result *res)
{
    printf("%-14s %-42s %s\n", "hazard", "protection in place", "protection removed");
    for (size_t i = 0; i < tw_nhazards; i++) {
        const struct tw_hazard_run *m = &res[i].run[TW_HZ_MIDDLE];
        if (!ran[i])
            continue;
        printf("%-14s %-42s %s%s\n", tw_hazards[i].name, res[i].run[0].brief,
               res[i].run[1].brief, tw_hazard_held(&res[i]) ? "" : "  [differs]");
        /* the middle way: a note line under its row keeps the two columns */
        if (m->ran)
            printf("  %-12s %s: %s\n", "middle", m->label ? m->label : "", m->brief);
    }
}

static void json_run(const char *which, const struct tw_hazard_run *run)
{
    printf("{\"run\":\"%s\",\"setting\":", which);
    tu_json_str(stdout, run->label ? run->label : "");
    printf(",\"as_expected\":%s,\"brief\":", run->ran && run->as_expected ? "true" : "false");
    tu_json_str(stdout, run->brief);
    printf(",\"measured\":");
    tu_json_str(stdout, run->text);
    printf(",\"counters\":");
    tu_json_str(stdout, run->counters);
    printf(",\"pcap\":");
    tu_json_str(stdout, run->pcap);
    printf(",\"values\":{");
    for (int k = 0; k < run->nvals; k++)
        printf("%s\"%s\":%.10g", k ? "," : "", run->vals[k].key, run->vals[k].v);
    printf("}}");
}

static void json_hazard(const struct tw_hazard *h, const struct tw_hazard_result *r, bool first)
{
    const char *keys[] = {"title", "claim", "removed", "rule"};
    const char *vals[] = {h->title, h->claim, h->removed, h->rule};

    printf("%s{\"name\":\"%s\"", first ? "" : ",", h->name);
    for (int k = 0; k < 4; k++) {
        printf(",\"%s\":", keys[k]);
        tu_json_str(stdout, vals[k]);
    }
    printf(",\"held\":%s,\"seconds\":%.2f,\"error\":", tw_hazard_held(r) ? "true" : "false",
           r->seconds);
    tu_json_str(stdout, r->err);
    printf(",\"runs\":[");
    json_run("kept", &r->run[TW_HZ_KEPT]);
    printf(",");
    json_run("removed", &r->run[TW_HZ_REMOVED]);
    /* appended, so runs[0] and runs[1] stay kept and removed for readers
     * that go by position */
    if (r->run[TW_HZ_MIDDLE].ran) {
        printf(",");
        json_run("middle", &r->run[TW_HZ_MIDDLE]);
    }
    printf("]}");
}

static int parse(int argc, char **argv, bool *json, const char **only, const char **pcap)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},       {"only", required_argument, NULL, 'o'},
        {"pcap", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {0},
    };
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': *json = true; break;
        case 'o': *only = optarg; break;
        case 'p': *pcap = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "twkit hazards: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (*only && check_only(*only) < 0)
        return 2;
    if (*pcap && mkdir(*pcap, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "twkit hazards: --pcap %s: %s\n", *pcap, strerror(errno));
        return 2;
    }
    return -1;
}

int cmd_hazards(int argc, char **argv)
{
    struct tw_hazard_result *res = calloc(tw_nhazards, sizeof(*res));
    bool ran[32] = {false}, json = false, first = true;
    const char *only = NULL, *pcap = NULL;
    int held = 0, differ = 0, unmeasured = 0, rc;
    struct utsname u;

    if (!res || (rc = parse(argc, argv, &json, &only, &pcap)) >= 0) {
        free(res);
        return res ? rc : 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "twkit hazards: the lab needs root (network namespaces, a veth, nft "
                        "and AF_PACKET); run it as root\n");
        free(res);
        return 2;
    }
    uname(&u);
    struct tw_hazard_opts o = {.pcap_dir = pcap};
    if (json)
        printf("{\"schema\":\"twkit-hazards/1\",\"kernel\":\"%s\",\"hazards\":[", u.release);
    else
        printf("twkit hazards: what TIME_WAIT and its neighbours protect against, measured on "
               "Linux %s\n(each run in a fresh lab: two namespaces, a veth)\n\n", u.release);
    for (size_t i = 0; i < tw_nhazards && i < 32; i++) {
        if (!selected(only, tw_hazards[i].name))
            continue;
        ran[i] = true;
        tw_hazard_run(&tw_hazards[i], &res[i], &o);
        held += tw_hazard_held(&res[i]);
        unmeasured += res[i].err[0] != 0;
        differ += !res[i].err[0] && !tw_hazard_held(&res[i]);
        if (json)
            json_hazard(&tw_hazards[i], &res[i], first);
        else
            print_text(&tw_hazards[i], &res[i]);
        first = false;
    }
    if (json) {
        printf("],\"held\":%d,\"differ\":%d,\"unmeasured\":%d}\n", held, differ, unmeasured);
    } else {
        summary(ran, res);
        printf("\n%d of %d hazards did what this kernel is expected to do.\n", held,
               held + differ + unmeasured);
    }
    free(res);
    return unmeasured ? 2 : differ ? 1 : 0;
}
