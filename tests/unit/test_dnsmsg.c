/* DNS messages (src/probe/dnsmsg.c): hand-built messages parsed and
 * rendered. The expected texts are what blackbox_exporter 0.23 (miekg/dns
 * v1.1.50) showed for the same records, served to it by
 * tests/fuzz/make_dnsmsg_corpus.py --blackbox; the one difference, NUL as
 * "\000", is dnsmsg.h's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/dnsmsg.h"

TestSuite(dnsmsg, .timeout = 30);

/* A message being built. */
struct mb {
    uint8_t b[4096];
    size_t n;
};

static void mb_put(struct mb *m, const void *p, size_t n)
{
    cr_assert_leq(m->n + n, sizeof m->b);
    if (n) /* p may be NULL then */
        memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void mb_u16(struct mb *m, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    mb_put(m, b, 2);
}

static void mb_u32(struct mb *m, uint32_t v)
{
    mb_u16(m, v >> 16);
    mb_u16(m, v & 0xffff);
}

static void mb_hdr(struct mb *m, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                   unsigned ar)
{
    m->n = 0;
    mb_u16(m, 0x1234);
    mb_u16(m, flags);
    mb_u16(m, qd);
    mb_u16(m, an);
    mb_u16(m, ns);
    mb_u16(m, ar);
}

/* Wire bytes written as a C string ("\1t\7example\0"): its size less the
 * string's own NUL. */
#define W(s) (const uint8_t *)(s), sizeof(s) - 1

static void mb_q(struct mb *m, const uint8_t *name, size_t n, unsigned type, unsigned class)
{
    mb_put(m, name, n);
    mb_u16(m, type);
    mb_u16(m, class);
}

static void mb_rr(struct mb *m, const uint8_t *owner, size_t on, unsigned type,
                  unsigned class, uint32_t ttl, const uint8_t *rd, size_t rn)
{
    mb_put(m, owner, on);
    mb_u16(m, type);
    mb_u16(m, class);
    mb_u32(m, ttl);
    mb_u16(m, (unsigned)rn);
    mb_put(m, rd, rn);
}

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v;

        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* "t.example." A IN asked, one answer of the question's name (a pointer
 * to it) with RDATA hex. */
static void one_answer(struct mb *m, unsigned type, unsigned class, const char *hex)
{
    uint8_t rd[2048];
    size_t n = unhex(hex, rd);

    mb_hdr(m, 0x8580, 1, 1, 0, 0);
    mb_q(m, W("\1t\7example\0"), 1, 1);
    mb_rr(m, W("\300\014"), type, class, 300, rd, n);
}

/* Entry i of section s of a message that must parse, as text. */
static const char *text_of(const struct mb *b, enum tp_dns_section s, unsigned i)
{
    static char out[8192];
    struct tp_dns_msg m;
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    int n;

    cr_assert_eq(tp_dns_parse(&m, b->b, b->n), 0, "the message does not parse");
    tp_dns_iter_init(&it, &m, s);
    for (unsigned k = 0; k <= i; k++)
        cr_assert(tp_dns_next(&it, &rr), "no entry %u in section %d", i, s);
    n = tp_dns_rr_text(&m, &rr, out, sizeof out);
    cr_assert_geq(n, 0, "entry %u does not render (%d)", i, n);
    cr_assert_eq((size_t)n, strlen(out));
    return out;
}

static const struct {
    uint16_t type, class;
    const char *rdata, *want;
} records[] = {
    {1, 1, "c0000201",
     "t.example.\t300\tIN\tA\t192.0.2.1"},
    {28, 1, "00000000000000000000ffffc0000201",
     "t.example.\t300\tIN\tAAAA\t192.0.2.1"},
    {28, 1, "000000000000000000000000c0000201",
     "t.example.\t300\tIN\tAAAA\t::c000:201"},
    {28, 1, "20010db8000000000001000000000001",
     "t.example.\t300\tIN\tAAAA\t2001:db8::1:0:0:1"},
    {28, 1, "00000000000000000000000000000000",
     "t.example.\t300\tIN\tAAAA\t::"},
    {28, 1, "fe800000000000010000000000000002",
     "t.example.\t300\tIN\tAAAA\tfe80:0:0:1::2"},
    {28, 1, "20010db8000000010001000100010001",
     "t.example.\t300\tIN\tAAAA\t2001:db8:0:1:1:1:1:1"},
    {28, 1, "00000001000000010000000100000001",
     "t.example.\t300\tIN\tAAAA\t0:1:0:1:0:1:0:1"},
    {28, 1, "00010000000000000000000000000000",
     "t.example.\t300\tIN\tAAAA\t1::"},
    {28, 1, "00000000000000000000000000000001",
     "t.example.\t300\tIN\tAAAA\t::1"},
    {2, 1, "036e7331076578616d706c6500",
     "t.example.\t300\tIN\tNS\tns1.example."},
    {5, 1, "19612e622063406422655c663b6728682969276a006b7f6cff6d076578616d706c6500",
     "t.example.\t300\tIN\tCNAME\ta\\.b\\ c\\@d\\\"e\\\\f\\;g\\(h\\)i\\'j\\000k\\127l\\255m.example."},
    {39, 1, "056f74686572076578616d706c6500",
     "t.example.\t300\tIN\tDNAME\tother.example."},
    {15, 1, "000a046d61696c076578616d706c6500",
     "t.example.\t300\tIN\tMX\t10 mail.example."},
    {6, 1, "026e73076578616d706c65000b686f73742e6d6173746572076578616d706c650078a3f17500001c2000000e1000127500ffffffff",
     "t.example.\t300\tIN\tSOA\tns.example. host\\.master.example. 2024010101 7200 3600 1209600 4294967295"},
    {16, 1, "0b763d73706631202d616c6c000c7122755c6f09740065c3a9ff",
     "t.example.\t300\tIN\tTXT\t\"v=spf1 -all\" \"\" \"q\\\"u\\\\o\\009t\\000e\\195\\169\\255\""},
    {16, 1, "",
     "t.example.\t300\tIN\tTXT\t"},
    {99, 1, "15763d7370663120696e636c7564653a78202d616c6c",
     "t.example.\t300\tIN\tSPF\t\"v=spf1 include:x -all\""},
    {257, 1, "000569737375656c657473656e63727970742e6f7267",
     "t.example.\t300\tIN\tCAA\t0 issue \"letsencrypt.org\""},
    {257, 1, "8005696f6465666d61696c746f3a614062",
     "t.example.\t300\tIN\tCAA\t128 iodef \"mailto:a@b\""},
    {257, 1, "000474622278765c3036355c2e78225c71015c",
     "t.example.\t300\tIN\tCAA\t0 tb\\\"x \"vA\\.x\\\"q\\001\""},
    {257, 1, "00056973737565615c3162",
     "t.example.\t300\tIN\tCAA\t0 issue \"a1b\""},
    {257, 1, "000569737375655c313263",
     "t.example.\t300\tIN\tCAA\t0 issue \"12c\""},
    {257, 1, "000569737375655c39393964",
     "t.example.\t300\tIN\tCAA\t0 issue \"\\231d\""},
    {257, 1, "00056973737565655c",
     "t.example.\t300\tIN\tCAA\t0 issue \"e\""},
    {257, 1, "000569737375655c5c2e66",
     "t.example.\t300\tIN\tCAA\t0 issue \"\\\\.f\""},
    {257, 1, "00056973737565ff0967",
     "t.example.\t300\tIN\tCAA\t0 issue \"\\255\\009g\""},
    {257, 1, "00056973737565",
     "t.example.\t300\tIN\tCAA\t0 issue \"\""},
    {257, 1, "000569737375655c",
     "t.example.\t300\tIN\tCAA\t0 issue \"\""},
    {35, 1, "0064000a0175074532552b7369701b215e2e2a24217369703a696e666f406578616d706c652e636f6d2100",
     "t.example.\t300\tIN\tNAPTR\t100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" ."},
    {13, 1, "065044502d313109554e49582022763722",
     "t.example.\t300\tIN\tHINFO\t\"PDP-11\" \"UNIX \\\"v7\\\"\""},
    {43, 1, "ec4505012bb183af5f22588179a53b0a98631fad1a292118",
     "t.example.\t300\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"},
    {48, 1, "01010308000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445",
     "t.example.\t300\tIN\tDNSKEY\t257 3 8 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERQ=="},
    {46, 1, "0001080200000e106955b900659200803039076578616d706c65000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40",
     "t.example.\t300\tIN\tRRSIG\tA 8 2 3600 20260101000000 20240101000000 12345 example. AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA=="},
    {47, 1, "046e657874076578616d706c6500000762018008000380041b000000000000000000000000000000000000000000000000000020ff0180",
     "t.example.\t300\tIN\tNSEC\tnext.example. A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY TYPE1234 TYPE65280"},
    {50, 1, "0101000a04aabbccdd14000102030405060708090a0b0c0d0e0f10111213000762000000000210",
     "t.example.\t300\tIN\tNSEC3\t1 1 10 AABBCCDD 000G40O40K30E209185GO38E1S8124GJ A NS SOA RRSIG NSEC3PARAM"},
    {51, 1, "0100000000",
     "t.example.\t300\tIN\tNSEC3PARAM\t1 0 0 -"},
    {52, 1, "030101000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "t.example.\t300\tIN\tTLSA\t3 1 1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
    {44, 1, "0402000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "t.example.\t300\tIN\tSSHFP\t4 2 000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"},
    {29, 1, "001216138b3b1b587ef3432000989b52",
     "t.example.\t300\tIN\tLOC\t52 20 23.000 N 04 53 32.000 W 12.34m 1m 10000m 10m"},
    {29, 1, "009000257ffffc18800000000098967b",
     "t.example.\t300\tIN\tLOC\t00 00 1.000 S 00 00 0.000 W -0.05m 0.09m 0.00m 2000m"},
    {29, 1, "00000199800000008000000000000000",
     "t.example.\t300\tIN\tLOC\t00 00 0.000 S 00 00 0.000 W -100000m 0.00m 0.00m 90000000m"},
    {29, 1, "00152ff0800000017fffffff0098961c",
     "t.example.\t300\tIN\tLOC\t00 00 0.001 N 00 00 0.001 W -1m 1000m 20000000000000m 0.15m"},
    {29, 1, "00131313ffffffff00000000ffffffff",
     "t.example.\t300\tIN\tLOC\t596 31 23.647 N 596 31 23.648 W 42849672.95m 10m 10m 10m"},
    {64, 1, "000103737663076578616d706c650000000004000100030001000a0268320668332c785c79000200000003000220fb00040008c0000201c0000202000500030102030006002020010db800000000000000000000000120010db8000000000000000000000002000700102f646e732d71756572797b3f646e737dfde8000861226220633b5c01",
     "t.example.\t300\tIN\tSVCB\t1 svc.example. mandatory=\"alpn,port\" alpn=\"h2,h3\\\\\\044x\\\\\\092y\" no-default-alpn=\"\" port=\"8443\" ipv4hint=\"192.0.2.1,192.0.2.2\" ech=\"AQID\" ipv6hint=\"2001:db8::1,2001:db8::2\" dohpath=\"/dns-query{?dns}\" key65000=\"a\\\"b\\ c\\;\\\\\\001\""},
    {64, 1, "0010000000000600010008ffff0001000a02683200056120623b2200080000fffe0001ff",
     "t.example.\t300\tIN\tSVCB\t16 . mandatory=\"alpn,key8,\" alpn=\"h2,,a\\ b\\;\\\"\" key8=\"\" key65534=\"\\255\""},
    {65, 1, "000004706f6f6c076578616d706c6500",
     "t.example.\t300\tIN\tHTTPS\t0 pool.example."},
    {37, 1, "0001303908000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627",
     "t.example.\t300\tIN\tCERT\tPKIX 12345 RSASHA256 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw=="},
    {37, 1, "0063000163ff",
     "t.example.\t300\tIN\tCERT\t99 1 99 /w=="},
    {42, 1, "00011803c000020002208420010db80002600c00000000000000000000ffff00010000",
     "t.example.\t300\tIN\tAPL\t1:192.0.2.0/24 !2:2001:db8::/32 2:::ffff:0.0.0.0/96 1:0.0.0.0/0"},
    {55, 1, "10020008000102030405060708090a0b0c0d0e0f00010203040506070472767331076578616d706c65000472767332076578616d706c6500",
     "t.example.\t300\tIN\tHIP\t2 000102030405060708090a0b0c0d0e0f AAECAwQFBgc= rvs1.example. rvs2.example."},
    {62, 1, "000000420003000460000008",
     "t.example.\t300\tIN\tCSYNC\t66 3 A NS AAAA"},
    {63, 1, "7848b78c0101000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
     "t.example.\t300\tIN\tZONEMD\t2018031500 1 1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"},
    {10, 1, "68656c6c6f002001ff",
     ";t.example.\t300\tIN\tNULL\thello\\000 \x01\xff"},
    {255, 1, "",
     "t.example.\t300\tIN\tANY\t"},
    {65280, 1, "0a000001",
     "t.example.\t300\tCLASS1\tTYPE65280\t\\# 4 0a000001"},
    {65281, 1, "",
     "t.example.\t300\tCLASS1\tTYPE65281\t\\# 0 "},
    {0, 1, "ab",
     "t.example.\t300\tCLASS1\tTYPE0\t\\# 1 ab"},
    {252, 1, "78",
     "t.example.\t300\tCLASS1\tTYPE252\t\\# 1 78"},
    {65535, 3, "00",
     "t.example.\t300\tCLASS3\tTYPE65535\t\\# 1 00"},
    {16, 3, "056368616f73",
     "t.example.\t300\tCH\tTXT\t\"chaos\""},
    {16, 255, "03616e79",
     "t.example.\t300\tCLASS255\tTXT\t\"any\""},
    {16, 254, "046e6f6e65",
     "t.example.\t300\tNONE\tTXT\t\"none\""},
    {16, 4, "026873",
     "t.example.\t300\tHS\tTXT\t\"hs\""},
    {16, 2, "026373",
     "t.example.\t300\tCS\tTXT\t\"cs\""},
    {16, 1234, "056331323334",
     "t.example.\t300\tCLASS1234\tTXT\t\"c1234\""},
    {249, 1, "0b686d61632d736861323536006592008065920e90000300000004deadbeef00020a0b",
     ";t.example.\t300\tIN\tTKEY\t hmac-sha256. 20240101000000 20240101010000 3 0 4 deadbeef 2 0a0b"},
    {108, 1, "00005e0053ff",
     "t.example.\t300\tIN\tEUI48\t00-00-5e-00-53-ff"},
    {109, 1, "00005efffe0053ff",
     "t.example.\t300\tIN\tEUI64\t00-00-5e-ff-fe-00-53-ff"},
    {104, 1, "000a0014f4fffeabcdef",
     "t.example.\t300\tIN\tNID\t10 0014:f4ff:feab:cdef"},
    {105, 1, "000a0a010203",
     "t.example.\t300\tIN\tL32\t10 10.1.2.3"},
    {106, 1, "000a2001000dabcdef01",
     "t.example.\t300\tIN\tL64\t10 2001:000D:ABCD:EF01"},
    {107, 1, "000a036c3634076578616d706c6500",
     "t.example.\t300\tIN\tLP\t10 l64.example."},
    {256, 1, "000a00016674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963",
     "t.example.\t300\tIN\tURI\t10 1 \"ftp://ftp1.example.com/public\""},
    {19, 1, "0c333131303631373030393536",
     "t.example.\t300\tIN\tX25\t311061700956"},
    {27, 1, "082d33322e36383832083131362e383635320431302e30",
     "t.example.\t300\tIN\tGPOS\t-32.6882 116.8652 10.0"},
    {100, 1, "074a6f6520227822",
     "t.example.\t300\tIN\tUINFO\t\"Joe \\\"x\\\"\""},
    {101, 1, "000003e8",
     "t.example.\t300\tIN\tUID\t1000"},
    {102, 1, "ffffffff",
     "t.example.\t300\tIN\tGID\t4294967295"},
    {47, 1, "016e076578616d706c6500",
     "t.example.\t300\tIN\tNSEC\tn.example."},
    {50, 1, "010000000000",
     "t.example.\t300\tIN\tNSEC3\t1 0 0 - "},
    {55, 1, "00000000",
     "t.example.\t300\tIN\tHIP\t0  "},
    {42, 1, "",
     "t.example.\t300\tIN\tAPL\t"},
    {10, 1, "",
     ";t.example.\t300\tIN\tNULL\t"},
    {13, 1, "0000",
     "t.example.\t300\tIN\tHINFO\t\"\" \"\""},
    {27, 1, "000000",
     "t.example.\t300\tIN\tGPOS\t  "},
    {36, 1, "000a026b78076578616d706c6500",
     "t.example.\t300\tIN\tKX\t10 kx.example."},
    {18, 1, "000103616673076578616d706c6500",
     "t.example.\t300\tIN\tAFSDB\t1 afs.example."},
    {21, 1, "0002027274076578616d706c6500",
     "t.example.\t300\tIN\tRT\t2 rt.example."},
    {3, 1, "027833076578616d706c6500",
     "t.example.\t300\tIN\tMD\tx3.example."},
    {4, 1, "027834076578616d706c6500",
     "t.example.\t300\tIN\tMF\tx4.example."},
    {7, 1, "027837076578616d706c6500",
     "t.example.\t300\tIN\tMB\tx7.example."},
    {8, 1, "027838076578616d706c6500",
     "t.example.\t300\tIN\tMG\tx8.example."},
    {9, 1, "027839076578616d706c6500",
     "t.example.\t300\tIN\tMR\tx9.example."},
    {23, 1, "03783233076578616d706c6500",
     "t.example.\t300\tIN\tNSAP-PTR\tx23.example."},
    {49, 1, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122",
     "t.example.\t300\tIN\tDHCID\tAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISI="},
    {61, 1, "fbff",
     "t.example.\t300\tIN\tOPENPGPKEY\t+/8="},
    {61, 1, "",
     "t.example.\t300\tIN\tOPENPGPKEY\t"},
    {25, 1, "0100030d01020304",
     "t.example.\t300\tIN\tKEY\t256 3 13 AQIDBA=="},
    {57, 1, "0100030f01020304",
     "t.example.\t300\tIN\tRKEY\t256 3 15 AQIDBA=="},
    {60, 1, "010003fd01020304",
     "t.example.\t300\tIN\tCDNSKEY\t256 3 253 AQIDBA=="},
    {48, 1, "010003c801020304",
     "t.example.\t300\tIN\tDNSKEY\t256 3 200 AQIDBA=="},
};

Test(dnsmsg, every_type_renders_as_blackbox_shows_it)
{
    struct mb b;

    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
        one_answer(&b, records[i].type, records[i].class, records[i].rdata);
        cr_expect_str_eq(text_of(&b, TP_DNS_AN, 0), records[i].want, "type %u, RDATA %s",
                         records[i].type, records[i].rdata);
    }
}

Test(dnsmsg, questions_render_as_miekg_questions)
{
    struct mb b;

    mb_hdr(&b, 0x0100, 3, 0, 0, 0);
    mb_q(&b, W("\5Mixed\4Case\0"), 28, 1);
    mb_q(&b, W("\0"), 255, 255);
    mb_q(&b, W("\300\014"), 65280, 3);
    cr_expect_str_eq(text_of(&b, TP_DNS_QD, 0), ";Mixed.Case.\tIN\t AAAA");
    cr_expect_str_eq(text_of(&b, TP_DNS_QD, 1), ";.\tCLASS255\t ANY");
    cr_expect_str_eq(text_of(&b, TP_DNS_QD, 2), ";Mixed.Case.\tCH\t TYPE65280");
}

/* The OPT record: its text, the extended rcode, one of it at most. */
Test(dnsmsg, opt_gives_edns_and_the_extended_rcode)
{
    struct mb b;
    struct tp_dns_msg m;
    static const uint8_t nsid[] = {0, 3, 0, 2, 'n', 0xe9};

    mb_hdr(&b, 0x8183, 1, 0, 0, 1); /* NXDOMAIN in the header */
    mb_q(&b, W("\1t\7example\0"), 1, 1);
    mb_rr(&b, W("\0"), 41, 1232, 0x01008000, nsid, sizeof nsid);
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    cr_expect(m.edns);
    cr_expect_eq(m.rcode, 0x13, "rcode %d: 3 with 1 << 4 from the OPT TTL", m.rcode);
    cr_expect_str_eq(text_of(&b, TP_DNS_AR, 0),
                     "\n;; OPT PSEUDOSECTION:\n; EDNS: version 0; flags: do; udp: 1232"
                     "\n; NSID: 6ee9  (n)(\xc3\xa9)");

    mb_hdr(&b, 0x8183, 1, 0, 0, 0);
    mb_q(&b, W("\1t\7example\0"), 1, 1);
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    cr_expect(!m.edns);
    cr_expect_eq(m.rcode, 3);

    mb_hdr(&b, 0x8180, 1, 0, 0, 2); /* RFC 6891 6.1.1: one at most */
    mb_q(&b, W("\1t\7example\0"), 1, 1);
    mb_rr(&b, W("\0"), 41, 1232, 0, NULL, 0);
    mb_rr(&b, W("\0"), 41, 1232, 0, NULL, 0);
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG);

    mb_hdr(&b, 0x8180, 1, 1, 0, 0); /* in the answers it is a record, not EDNS */
    mb_q(&b, W("\1t\7example\0"), 1, 1);
    mb_rr(&b, W("\0"), 41, 4096, 0xff000000, NULL, 0);
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    cr_expect(!m.edns);
    cr_expect_eq(m.rcode, 0);
    cr_expect_str_eq(text_of(&b, TP_DNS_AN, 0),
                     "\n;; OPT PSEUDOSECTION:\n; EDNS: version 0; flags: ; udp: 4096");
}

/* A reply with every section, compressed, and an OPT record. */
static void full_reply(struct mb *b)
{
    static const uint8_t a[] = {192, 0, 2, 7}, opt_rd[] = {0, 10, 0, 2, 0xab, 0xcd};

    mb_hdr(b, 0x8580, 1, 2, 1, 2);
    mb_q(b, W("\3www\7example\0"), 1, 1);           /* 12: www.example. */
    mb_rr(b, W("\300\014"), 5, 1, 60, W("\3cdn\300\020")); /* 29: -> cdn.example. */
    mb_rr(b, W("\300\051"), 1, 1, 60, a, sizeof a);  /* cdn.example., in the CNAME */
    mb_rr(b, W("\300\020"), 2, 1, 3600, W("\2ns\300\020"));
    mb_rr(b, W("\2ns\300\020"), 1, 1, 3600, a, sizeof a);
    mb_rr(b, W("\0"), 41, 1232, 0, opt_rd, sizeof opt_rd);
}

Test(dnsmsg, compression_pointers_to_names_before)
{
    struct mb b;
    struct tp_dns_msg m;
    char name[TP_DNS_MAX_NAME];

    full_reply(&b);
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    cr_expect_eq(m.count[TP_DNS_AN], 2);
    cr_expect_eq(m.start[TP_DNS_AN], 29);
    cr_expect_str_eq(text_of(&b, TP_DNS_AN, 0), "www.example.\t60\tIN\tCNAME\tcdn.example.");
    cr_expect_str_eq(text_of(&b, TP_DNS_AN, 1), "cdn.example.\t60\tIN\tA\t192.0.2.7");
    cr_expect_str_eq(text_of(&b, TP_DNS_NS, 0), "example.\t3600\tIN\tNS\tns.example.");
    cr_expect_str_eq(text_of(&b, TP_DNS_AR, 0), "ns.example.\t3600\tIN\tA\t192.0.2.7");
    cr_expect_str_eq(text_of(&b, TP_DNS_AR, 1),
                     "\n;; OPT PSEUDOSECTION:\n; EDNS: version 0; flags: ; udp: 1232"
                     "\n; COOKIE: abcd");
    cr_expect_eq(tp_dns_name_text(&m, 12, name, sizeof name), 12);
    cr_expect_str_eq(name, "www.example.");
    cr_expect_eq(tp_dns_name_text(&m, 16, name, sizeof name), 8, "a label of a name");
    cr_expect_str_eq(name, "example.");
    cr_expect_eq(tp_dns_name_text(&m, 13, name, sizeof name), -EBADMSG, "not a name: %s", name);

    /* to a pointer ending a name, and to a root byte */
    mb_hdr(&b, 0x8180, 1, 2, 0, 0);
    mb_q(&b, W("\1a\7example\0"), 1, 1);
    mb_rr(&b, W("\1b\300\014"), 1, 1, 1, W("\1\2\3\4"));
    mb_rr(&b, W("\300\035"), 2, 1, 1, W("\300\026"));
    cr_expect_str_eq(text_of(&b, TP_DNS_AN, 0), "b.a.example.\t1\tIN\tA\t1.2.3.4");
    cr_expect_str_eq(text_of(&b, TP_DNS_AN, 1), "a.example.\t1\tIN\tNS\t.");
}

/* Pointers anywhere but to a label of a name before: refused. */
Test(dnsmsg, bad_pointers_are_refused)
{
    static const struct {
        const char *why;
        const uint8_t *q;
        size_t n;
    } bad[] = {
        {"forward", W("\300\022\0\1\0\1\1x\0")},
        {"to itself", W("\300\014\0\1\0\1")},
        {"round a loop", W("\1a\300\014\0\1\0\1")},
        {"into the header", W("\300\002\0\1\0\1")},
        {"past the end", W("\377\377\0\1\0\1")},
        {"into its own label", W("\3abc\300\015\0\1\0\1")},
        {"cut after its first byte", W("\300")},
    };
    struct mb b;
    struct tp_dns_msg m;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mb_hdr(&b, 0x8180, 1, 0, 0, 0);
        mb_put(&b, bad[i].q, bad[i].n);
        cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a pointer %s", bad[i].why);
        cr_expect_eq(m.len, 0, "a refused message leaves m zero");
    }
    /* to bytes that read as a name but are not one: inside a label before
     * (its "\1b\0" is "b."), the header (an ID of 0 is "."), a TTL */
    mb_hdr(&b, 0x8180, 1, 1, 0, 0);
    mb_q(&b, W("\3\1b\0\0"), 1, 1);
    mb_rr(&b, W("\300\015"), 1, 1, 1, W("\1\2\3\4"));
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a pointer into a label");
    b.b[b.n - 15] = 12; /* to the name itself: fine */
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), 0);
    mb_hdr(&b, 0x8180, 1, 1, 0, 0);
    b.b[0] = b.b[1] = 0;
    mb_q(&b, W("\0"), 1, 1);
    mb_rr(&b, W("\300\000"), 1, 1, 1, W("\1\2\3\4"));
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a pointer to an ID of 0");
    mb_hdr(&b, 0x8180, 1, 2, 0, 0);
    mb_q(&b, W("\0"), 1, 1);
    mb_rr(&b, W("\0"), 1, 1, 0, W("\1\2\3\4"));
    mb_rr(&b, W("\300\026"), 1, 1, 1, W("\1\2\3\4"));
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a pointer to a TTL of 0");
}

Test(dnsmsg, every_truncation_and_any_trailing_byte_is_refused)
{
    struct mb b;
    struct tp_dns_msg m;

    full_reply(&b);
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    for (size_t n = 0; n < b.n; n++)
        cr_expect_eq(tp_dns_parse(&m, b.b, n), -EBADMSG, "%zu of %zu bytes parse", n, b.n);
    b.b[b.n++] = 0;
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a byte after the last record");
    cr_expect_eq(tp_dns_parse(&m, NULL, 0), -EBADMSG);
}

Test(dnsmsg, names_of_63_byte_labels_and_255_bytes_at_most)
{
    uint8_t name[300];
    struct mb b;
    struct tp_dns_msg m;
    size_t n = 0;

    for (int l = 0; l < 4; l++) { /* 3 labels of 63 and one of 61: 255 bytes */
        size_t len = l < 3 ? 63 : 61;

        name[n++] = (uint8_t)len;
        memset(name + n, 'x', len);
        n += len;
    }
    name[n++] = 0;
    cr_assert_eq(n, 255);
    mb_hdr(&b, 0x8180, 1, 0, 0, 0);
    mb_q(&b, name, n, 1, 1);
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), 0, "a name of 255 bytes");
    cr_expect_eq(strlen(text_of(&b, TP_DNS_QD, 0)), 1 + 254 + 6);

    name[n - 1] = 1; /* one byte more: 256 */
    name[n] = 'y';
    name[n + 1] = 0;
    mb_hdr(&b, 0x8180, 1, 0, 0, 0);
    mb_q(&b, name, n + 2, 1, 1);
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a name of 257 bytes");

    mb_hdr(&b, 0x8180, 1, 0, 0, 0);
    mb_put(&b, W("\100xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\0\0\1\0\1"));
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "a label of 64 bytes");
    mb_hdr(&b, 0x8180, 1, 0, 0, 0);
    mb_put(&b, W("\101\1\0\0\1\0\1"));
    cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "an extended label type (0x40)");
}

/* RDATA that does not fill its type's form exactly. */
Test(dnsmsg, rdata_not_of_its_types_form_is_refused)
{
    static const struct {
        uint16_t type;
        const char *rdata, *why;
    } bad[] = {
        {1, "c00002", "A of 3 bytes"},
        {1, "", "A of none (miekg's dynamic update)"},
        {28, "20010db800000000000000000000", "AAAA of 14 bytes"},
        {5, "036162630000", "CNAME with a byte after its name"},
        {5, "03616263", "CNAME whose name runs out of its RDATA"},
        {15, "000a", "MX without its name (miekg takes it)"},
        {16, "05616263", "TXT string longer than the RDATA"},
        {6, "016100016200000000010000000200000003000000040000000500", "SOA with a byte more"},
        {47, "016e00" "01018000" "01018000", "NSEC windows not rising"},
        {47, "016e00" "0000", "NSEC window of no bytes"},
        {64, "0001000003000201bb0001000302683200", "SVCB keys not rising"},
        {64, "000100" "00060010" "00000000000000000000ffff01020304", "SVCB ipv6hint of IPv4"},
        {42, "00011803c00000", "APL address with a trailing zero"},
        {41, "000a0005616263", "an EDNS option longer than the RDATA"},
        {41, "000800040003" "0000", "client subnet of family 3"},
        {41, "000b000100", "keepalive of 1 byte"},
        {257, "00", "CAA without its tag"},
        {255, "00", "ANY with RDATA"},
        {29, "00121613", "LOC of 4 bytes"},
    };
    struct mb b;
    struct tp_dns_msg m;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        one_answer(&b, bad[i].type, 1, bad[i].rdata);
        cr_expect_eq(tp_dns_parse(&m, b.b, b.n), -EBADMSG, "%s parses", bad[i].why);
    }
}

Test(dnsmsg, rendering_says_enospc_and_keeps_a_prefix)
{
    struct mb b;
    struct tp_dns_msg m;
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    const char *want = "t.example.\t300\tIN\tMX\t10 mail.example.";
    char out[64];
    int n = (int)strlen(want);

    one_answer(&b, 15, 1, "000a046d61696c076578616d706c6500");
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    tp_dns_iter_init(&it, &m, TP_DNS_AN);
    cr_assert(tp_dns_next(&it, &rr));
    cr_assert(!tp_dns_next(&it, &rr) || 1);
    tp_dns_iter_init(&it, &m, TP_DNS_AN);
    cr_assert(tp_dns_next(&it, &rr));
    cr_expect_eq(tp_dns_rr_text(&m, &rr, NULL, 0), -ENOSPC);
    for (size_t len = 1; len <= (size_t)n; len++) {
        memset(out, 'z', sizeof out);
        cr_expect_eq(tp_dns_rr_text(&m, &rr, out, len), -ENOSPC, "in %zu bytes", len);
        cr_expect_eq(strlen(out), len - 1);
        cr_expect(!strncmp(out, want, len - 1));
        cr_expect_eq(out[len], 'z', "written past %zu bytes", len);
    }
    cr_expect_eq(tp_dns_rr_text(&m, &rr, out, (size_t)n + 1), n);
    cr_expect_str_eq(out, want);
    cr_expect_eq(tp_dns_name_text(&m, rr.name, out, 5), -ENOSPC);
    cr_expect_str_eq(out, "t.ex");
    rr.rdlen = (uint16_t)(b.n - rr.rdata + 1); /* not a record of m */
    cr_expect_eq(tp_dns_rr_text(&m, &rr, out, sizeof out), -EBADMSG);
}

Test(dnsmsg, the_iterator_ends_each_section_at_its_count)
{
    struct mb b;
    struct tp_dns_msg m;
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    unsigned want[TP_DNS_NSECT] = {1, 2, 1, 2};

    full_reply(&b);
    cr_assert_eq(tp_dns_parse(&m, b.b, b.n), 0);
    for (int s = 0; s < TP_DNS_NSECT; s++) {
        unsigned n = 0;

        tp_dns_iter_init(&it, &m, (enum tp_dns_section)s);
        while (tp_dns_next(&it, &rr)) {
            n++;
            cr_expect_eq(rr.rdata == 0, s == TP_DNS_QD);
        }
        cr_expect_eq(n, want[s], "section %d: %u entries", s, n);
        cr_expect(!tp_dns_next(&it, &rr));
    }
    tp_dns_iter_init(&it, &m, TP_DNS_AR);
    cr_assert(tp_dns_next(&it, &rr));
    cr_expect_eq(rr.type, 1);
    cr_expect_eq(rr.ttl, 3600);
    cr_assert(tp_dns_next(&it, &rr));
    cr_expect_eq(rr.type, 41);
    cr_expect_eq(rr.class, 1232);
    cr_expect_eq(rr.rdlen, 6);
    cr_expect_eq(rr.rdata + rr.rdlen, b.n);
}

/* ---- queries ---- */

Test(dnsmsg, a_query_is_what_blackbox_sends)
{
    static const uint8_t want[] = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                   3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'P', 'l', 'e', 0,
                                   0, 28, 0, 1};
    uint8_t q[512];
    int n = tp_dns_query(q, sizeof q, 0xbeef, "www.ExamPle", 28, 1, true, 0);

    cr_assert_eq(n, (int)sizeof want);
    cr_expect_arr_eq(q, want, sizeof want);
    cr_expect_eq(tp_dns_query(q, sizeof q, 0xbeef, "www.ExamPle.", 28, 1, true, 0), n,
                 "the trailing dot is optional");
    cr_expect_arr_eq(q, want, sizeof want);
    cr_expect_eq(tp_dns_query(q, sizeof want - 1, 0xbeef, "www.ExamPle", 28, 1, true, 0),
                 -ENOSPC);
    cr_expect_eq(tp_dns_query(q, sizeof want, 0xbeef, "www.ExamPle", 28, 1, true, 0), n);
}

Test(dnsmsg, a_query_parses_back_with_its_question_and_opt)
{
    uint8_t q[512];
    struct tp_dns_msg m;
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    char name[TP_DNS_MAX_NAME];
    int n = tp_dns_query(q, sizeof q, 7, "a\\.b.\\065\\\\c\\ d", 16, 3, false, 1232);

    cr_assert_gt(n, 0);
    cr_assert_eq(tp_dns_parse(&m, q, (size_t)n), 0);
    cr_expect_eq(m.id, 7);
    cr_expect_eq(m.flags, 0, "no RD");
    cr_expect(m.edns);
    cr_expect_eq(m.count[TP_DNS_QD], 1);
    tp_dns_iter_init(&it, &m, TP_DNS_QD);
    cr_assert(tp_dns_next(&it, &rr));
    cr_expect_eq(rr.type, 16);
    cr_expect_eq(rr.class, 3);
    cr_expect_eq(tp_dns_name_text(&m, rr.name, name, sizeof name), 13);
    cr_expect_str_eq(name, "a\\.b.A\\\\c\\ d.");
    cr_expect_eq(q[12], 3, "a\\.b is one label of 3 bytes");
    tp_dns_iter_init(&it, &m, TP_DNS_AR);
    cr_assert(tp_dns_next(&it, &rr));
    cr_expect_eq(rr.type, 41);
    cr_expect_eq(rr.class, 1232);
    cr_expect_eq(rr.ttl, 0, "DO clear");

    cr_assert_eq(n = tp_dns_query(q, sizeof q, 7, "", 2, 1, true, 0), 17);
    cr_expect_eq(q[12], 0, "\"\" is the root");
    cr_expect_eq(tp_dns_query(q, sizeof q, 7, ".", 2, 1, true, 0), 17, "so is \".\"");
}

Test(dnsmsg, names_that_are_not_dns_names_are_refused)
{
    char n64[70], n254[300];
    uint8_t q[600];

    memset(n64, 'x', 64);
    n64[64] = '\0';
    for (int i = 0; i < 127; i++) /* 127 labels "x.": 255 bytes with the root */
        memcpy(n254 + 2 * i, "x.", 2);
    n254[254] = '\0';
    cr_expect_gt(tp_dns_query(q, sizeof q, 1, n254, 1, 1, true, 0), 0, "255 bytes in all");
    n254[253] = 'x'; /* a 2-byte last label, no dot: 256 */
    n254[254] = '\0';
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, n254, 1, 1, true, 0), -EINVAL);
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, n64, 1, 1, true, 0), -EINVAL, "a 64-byte label");
    n64[63] = '\0';
    cr_expect_gt(tp_dns_query(q, sizeof q, 1, n64, 1, 1, true, 0), 0, "a 63-byte label");
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, "a..b", 1, 1, true, 0), -EINVAL);
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, ".a", 1, 1, true, 0), -EINVAL);
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, "a.b..", 1, 1, true, 0), -EINVAL);
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, "a\\", 1, 1, true, 0), -EINVAL);
    cr_expect_eq(tp_dns_query(q, sizeof q, 1, "a\\256", 1, 1, true, 0), -EINVAL);
    cr_expect_gt(tp_dns_query(q, sizeof q, 1, "a\\255\\.", 1, 1, true, 0), 0);
}

/* ---- names of types, classes, rcodes ---- */

Test(dnsmsg, names_as_miekgs_maps_have_them)
{
    char b[16];

    cr_expect_eq(tp_dns_type_num("A"), 1);
    cr_expect_eq(tp_dns_type_num("AAAA"), 28);
    cr_expect_eq(tp_dns_type_num("HTTPS"), 65);
    cr_expect_eq(tp_dns_type_num("NSAP-PTR"), 23);
    cr_expect_eq(tp_dns_type_num("None"), 0);
    cr_expect_eq(tp_dns_type_num("Reserved"), 65535);
    cr_expect_eq(tp_dns_type_num("ANY"), 255);
    cr_expect_eq(tp_dns_type_num("TYPE65"), -1, "not in StringToType, refused by blackbox");
    cr_expect_eq(tp_dns_type_num("a"), -1, "case-sensitive");
    cr_expect_eq(tp_dns_type_num(""), -1);
    cr_expect_str_eq(tp_dns_type_name(1, b), "A");
    cr_expect_str_eq(tp_dns_type_name(23, b), "NSAP-PTR");
    cr_expect_str_eq(tp_dns_type_name(65280, b), "TYPE65280");
    cr_expect_str_eq(tp_dns_type_name(11, b), "TYPE11");
    for (unsigned t = 0; t < 65536; t++) {
        const char *name = tp_dns_type_name((uint16_t)t, b);

        if (strncmp(name, "TYPE", 4))
            cr_assert_eq(tp_dns_type_num(name), (int)t, "%s", name);
        else
            cr_assert_eq(tp_dns_type_num(name), -1, "%s", name);
    }

    cr_expect_eq(tp_dns_class_num("IN"), 1);
    cr_expect_eq(tp_dns_class_num("CH"), 3);
    cr_expect_eq(tp_dns_class_num("NONE"), 254);
    cr_expect_eq(tp_dns_class_num("ANY"), 255);
    cr_expect_eq(tp_dns_class_num("CLASS1"), -1);
    cr_expect_eq(tp_dns_class_num("in"), -1);
    cr_expect_str_eq(tp_dns_class_name(1, b), "IN");
    cr_expect_str_eq(tp_dns_class_name(4, b), "HS");
    cr_expect_str_eq(tp_dns_class_name(254, b), "NONE");
    cr_expect_str_eq(tp_dns_class_name(255, b), "CLASS255");
    cr_expect_str_eq(tp_dns_class_name(7, b), "CLASS7");

    cr_expect_eq(tp_dns_rcode_num("NOERROR"), 0);
    cr_expect_eq(tp_dns_rcode_num("NXDOMAIN"), 3);
    cr_expect_eq(tp_dns_rcode_num("NOTIMP"), 4);
    cr_expect_eq(tp_dns_rcode_num("NOTIMPL"), 4);
    cr_expect_eq(tp_dns_rcode_num("BADSIG"), 16);
    cr_expect_eq(tp_dns_rcode_num("BADVERS"), -1, "commented out of miekg's map");
    cr_expect_eq(tp_dns_rcode_num("BADCOOKIE"), 23);
    cr_expect_eq(tp_dns_rcode_num("RCODE3"), -1);
    cr_expect_str_eq(tp_dns_rcode_name(0, b), "NOERROR");
    cr_expect_str_eq(tp_dns_rcode_name(4, b), "NOTIMP");
    cr_expect_str_eq(tp_dns_rcode_name(16, b), "BADSIG");
    cr_expect_str_eq(tp_dns_rcode_name(24, b), "RCODE24");
    cr_expect_str_eq(tp_dns_rcode_name(4095, b), "RCODE4095");
}
