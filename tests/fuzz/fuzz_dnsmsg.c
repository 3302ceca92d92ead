/* libFuzzer target for DNS messages (src/probe/dnsmsg.c).
 *
 * The input is a message. When tp_dns_parse takes it:
 *   - the header fields are the input's, every section walks to exactly its
 *     count and the last one ends at the end of the input; the rcode is the
 *     header's with the OPT record's extended bits;
 *   - every record (and question) renders, into a big buffer, with a length
 *     equal to its strlen (no NUL inside); into smaller ones (1 byte, half,
 *     its length, one more) the result is its length when it fits, else
 *     -ENOSPC with a NUL-terminated prefix of the same text;
 *   - every owner name renders under TP_DNS_MAX_NAME, and a record's text
 *     carries it where miekg puts it;
 *   - a prefix of the input (one byte short, and at a point hashed from
 *     it) and the input with a byte more are refused.
 * Whether or not it parses, the input up to its first NUL is a query name:
 * when tp_dns_query builds a query of it, that query parses with one
 * question of the type and class asked, and the question's name rendered
 * builds the same query again. Any disagreement calls abort().
 *
 * FUZZ_DNSMSG_VERBOSE=1 build/tests/fuzz_dnsmsg FILE prints the rendered
 * message's rcode ("RCODE\t16") and its records, one a line ("AN\ttext";
 * \t \n \\ and bytes outside 0x20-0x7e escaped), which make_dnsmsg_corpus.py --blackbox compares with what
 * blackbox_exporter shows.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_dnsmsg: %s%s%s\n", what, text ? ": " : "", text ? text : "");
    abort();
}

static void print_escaped(const char *sect, const char *s)
{
    printf("%s\t", sect);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c > 0x7e)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('\n');
}

static char big[1 << 19], small[1 << 19];

/* One record rendered into len bytes agrees with its whole text (n). */
static void small_agrees(const struct tp_dns_msg *m, const struct tp_dns_rr *rr, int n,
                         size_t len)
{
    int k;

    memset(small, 'x', len + 1);
    k = tp_dns_rr_text(m, rr, small, len);
    if ((size_t)n < len) {
        if (k != n || strcmp(small, big))
            fail("a text that fits renders otherwise", big);
        return;
    }
    if (k != -ENOSPC)
        fail("a text that does not fit is not -ENOSPC", big);
    if (len && (small[len - 1] != '\0' || strlen(small) != len - 1 ||
                memcmp(small, big, len - 1)))
        fail("a text cut short is not a NUL-terminated prefix", big);
    if (small[len] != 'x')
        fail("rendering wrote past the buffer", big);
}

static void walk(const struct tp_dns_msg *m, size_t size, bool verbose)
{
    static const char *const names[] = {"QD", "AN", "NS", "AR"};
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    size_t end = TP_DNS_HDR;
    char name[TP_DNS_MAX_NAME];

    for (int s = 0; s < TP_DNS_NSECT; s++) {
        unsigned i = 0;

        if (m->start[s] != end)
            fail("a section does not start where the one before ended", names[s]);
        tp_dns_iter_init(&it, m, (enum tp_dns_section)s);
        while (tp_dns_next(&it, &rr)) {
            int n = tp_dns_rr_text(m, &rr, big, sizeof big), k;
            const char *at;

            i++;
            if (n < 0)
                fail("a record of a parsed message does not render", names[s]);
            if ((size_t)n != strlen(big))
                fail("a text's length is not its strlen", big);
            if (verbose)
                print_escaped(names[s], big);
            if ((s == TP_DNS_QD) != (rr.rdata == 0) || rr.name >= size ||
                rr.rdata + rr.rdlen > size)
                fail("a record points outside the message", big);
            end = s == TP_DNS_QD ? it.off : rr.rdata + rr.rdlen;
            if (it.off != end)
                fail("the iterator is not after the record", big);
            small_agrees(m, &rr, n, 0);
            small_agrees(m, &rr, n, 1);
            small_agrees(m, &rr, n, (size_t)n / 2 + 1);
            small_agrees(m, &rr, n, (size_t)n);
            small_agrees(m, &rr, n, (size_t)n + 1);
            k = tp_dns_name_text(m, rr.name, name, sizeof name);
            if (k < 1 || (size_t)k != strlen(name) || name[k - 1] != '.')
                fail("an owner name does not render as a name", big);
            if (rr.type == 41 && s != TP_DNS_QD)
                continue; /* OPT shows no owner */
            at = big + (s == TP_DNS_QD || big[0] == ';');
            if (!strncmp(big, "\n;; TSIG", 8))
                at = strstr(big, "\n; ") + 3;
            if (strncmp(at, name, (size_t)k) || at[k] != '\t')
                fail("a record's text does not start with its owner", big);
        }
        if (i != m->count[s])
            fail("a section walks to another count than the header's", names[s]);
    }
    if (end != size)
        fail("the last record does not end the message", NULL);
}

static void check_message(const uint8_t *data, size_t size, bool verbose)
{
    static uint8_t more[TP_DNS_MAX_UDP + 1];
    struct tp_dns_msg m, m2;
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    int r = tp_dns_parse(&m, data, size), rc;
    bool opt = false;

    if (r == -EBADMSG)
        return;
    if (r != 0)
        fail("tp_dns_parse returned other than 0 or -EBADMSG", NULL);
    if (m.buf != data || m.len != size || m.id != (data[0] << 8 | data[1]) ||
        m.flags != (data[2] << 8 | data[3]))
        fail("the header fields are not the input's", NULL);
    for (int s = 0; s < TP_DNS_NSECT; s++)
        if (m.count[s] != (data[4 + 2 * s] << 8 | data[5 + 2 * s]))
            fail("a count is not the header's", NULL);
    if (verbose)
        printf("RCODE\t%d\n", m.rcode);
    walk(&m, size, verbose);
    rc = m.flags & 0xF;
    tp_dns_iter_init(&it, &m, TP_DNS_AR);
    while (tp_dns_next(&it, &rr))
        if (rr.type == 41) {
            opt = true;
            rc |= (int)(rr.ttl >> 24) << 4;
        }
    if (m.rcode != rc || m.edns != opt)
        fail("rcode or edns is not the header's and the OPT record's", NULL);
    if (tp_dns_parse(&m2, data, size - 1) != -EBADMSG)
        fail("the message one byte short parses", NULL);
    if (size > TP_DNS_HDR &&
        tp_dns_parse(&m2, data, TP_DNS_HDR + data[size / 2] % (size - TP_DNS_HDR)) != -EBADMSG)
        fail("a prefix of the message parses", NULL);
    if (size < sizeof more) {
        memcpy(more, data, size);
        more[size] = data[size / 3];
        if (tp_dns_parse(&m2, more, size + 1) != -EBADMSG)
            fail("the message with a byte more parses", NULL);
    }
}

/* The input as a query name: what builds parses, and builds again from
 * its own text. */
static void check_query(const uint8_t *data, size_t size)
{
    static uint8_t q[600], q2[600];
    char name[1100], text[TP_DNS_MAX_NAME];
    uint16_t type = size > 1 ? (uint16_t)(data[0] << 8 | data[1]) : 1;
    uint16_t udp = size > 2 ? data[2] << 4 : 0;
    size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
    struct tp_dns_msg m;
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    int len, len2;

    memcpy(name, data, n);
    name[n] = '\0';
    len = tp_dns_query(q, sizeof q, 0x1234, name, type, 1, true, udp);
    if (len == -EINVAL)
        return;
    if (len < 0)
        fail("tp_dns_query returned other than a length or -EINVAL", name);
    if (tp_dns_query(q2, (size_t)len - 1, 0x1234, name, type, 1, true, udp) != -ENOSPC)
        fail("a query one byte too big for its buffer is not -ENOSPC", name);
    if (tp_dns_parse(&m, q, (size_t)len) || m.count[TP_DNS_QD] != 1 || m.id != 0x1234 ||
        m.edns != (udp > 0) || !(m.flags & TP_DNS_F_RD))
        fail("a query built does not parse as one", name);
    tp_dns_iter_init(&it, &m, TP_DNS_QD);
    if (!tp_dns_next(&it, &rr) || rr.type != type || rr.class != 1)
        fail("a query built asks another question", name);
    if (tp_dns_name_text(&m, rr.name, text, sizeof text) < 0)
        fail("a query's name does not render", name);
    len2 = tp_dns_query(q2, sizeof q2, 0x1234, text, type, 1, true, udp);
    if (len2 != len || memcmp(q, q2, (size_t)len))
        fail("a query's name rendered builds another query", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int verbose = -1;

    if (verbose < 0) {
        const char *v = getenv("FUZZ_DNSMSG_VERBOSE");

        verbose = v && *v == '1';
    } else if (verbose) {
        verbose = 0; /* libFuzzer may run a file more than once: print once */
    }
    check_message(data, size, verbose);
    check_query(data, size);
    return 0;
}
