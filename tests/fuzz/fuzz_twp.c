/* libFuzzer target for the twp frame codec (src/twp/frame.c).
 *
 * The first two bytes pick the receiver's maximum DATA payload (0 to
 * 65535, or, for 0xffff, UINT32_MAX); the rest is read as a stream of
 * frames, as the server and the client read it. For each position:
 *   - a result > 0 is a whole frame inside the input, of a known type, whose
 *     payload follows its header, and tw_twp_put of (type, payload) gives
 *     back exactly its bytes;
 *   - 0 (need more) only while the frame is not whole; an error only from a
 *     whole header, and then the same error for every longer prefix, the
 *     error a receiver can decide before the payload arrives;
 *   - every shorter prefix of a frame parses as 0, or as the same error.
 * Any disagreement calls abort().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twkit/twp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, size_t at, int r)
{
    fprintf(stderr, "fuzz_twp: %s at offset %zu (result %d)\n", what, at, r);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[TW_TWP_HDR + 65536];
    struct tw_twp_frame f;
    uint32_t max;
    size_t at = 2;

    if (size < 2)
        return 0;
    max = (uint32_t)data[0] << 8 | data[1];
    if (max == 0xffff)
        max = UINT32_MAX;
    while (at < size) {
        const uint8_t *p = data + at;
        size_t len = size - at;
        int r = tw_twp_parse(p, len, max, &f);

        if (r < 0) {
            if (r != -EPROTO && r != -EMSGSIZE)
                fail("an error other than EPROTO or EMSGSIZE", at, r);
            if (len < TW_TWP_HDR)
                fail("an error before the header is whole", at, r);
            /* Decided from the header: every prefix from there agrees. */
            for (size_t k = TW_TWP_HDR; k < len && k < TW_TWP_HDR + 64; k++)
                if (tw_twp_parse(p, k, max, &f) != r)
                    fail("a prefix of an invalid frame disagrees", at, r);
            return 0;
        }
        if (r == 0) {
            if (len >= TW_TWP_HDR) {
                uint32_t plen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                                (uint32_t)p[2] << 8 | p[3];
                if ((uint64_t)plen + TW_TWP_HDR <= len)
                    fail("need-more for a whole frame", at, r);
            }
            return 0;
        }
        if ((size_t)r > len || (size_t)r < TW_TWP_HDR)
            fail("a frame size outside the input", at, r);
        if (f.payload != p + TW_TWP_HDR || f.len != (uint32_t)r - TW_TWP_HDR)
            fail("the payload is not where the header says", at, r);
        if (f.type < TW_TWP_HELLO || f.type > TW_TWP_GOODBYE)
            fail("an unknown type accepted", at, r);
        if (f.type == TW_TWP_DATA && f.len > max)
            fail("DATA over the maximum accepted", at, r);
        if (f.len <= 65536) {
            if (tw_twp_put(out, f.type, f.payload, f.len) != (size_t)r || memcmp(out, p, (size_t)r))
                fail("re-encoding differs", at, r);
        }
        for (size_t k = 0; k < (size_t)r && k < 64; k++) {
            int q = tw_twp_parse(p, k, max, &f);
            if (q != 0)
                fail("a prefix of a valid frame is not need-more", at, q);
        }
        tw_twp_parse(p, len, max, &f); /* f again, for the next round's checks */
        at += (size_t)r;
    }
    return 0;
}
