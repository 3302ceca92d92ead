/* twp frame codec. */
#include <errno.h>
#include <string.h>

#include "twkit/twp.h"

const uint8_t tw_twp_hello[4] = {'t', 'w', 'p', TW_TWP_VERSION};

const char *tw_twp_type_name(unsigned type)
{
    static const char *const names[] = {"?", "HELLO", "DATA", "PING", "PONG",
                                        "ERROR", "DONE", "BYE", "GOODBYE"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

/* Control frames have fixed bounds of their own; the receiver's maximum
 * frame size applies to DATA only, so no setting of it can refuse HELLO or
 * PING. */
static int payload_ok(uint8_t type, uint32_t len)
{
    switch (type) {
    case TW_TWP_HELLO: return len == 4;
    case TW_TWP_PING:
    case TW_TWP_PONG: return len <= TW_TWP_MAX_PING;
    case TW_TWP_ERROR: return len >= 2 && len <= TW_TWP_MAX_ERROR;
    case TW_TWP_DONE:
    case TW_TWP_BYE:
    case TW_TWP_GOODBYE: return len == 0;
    default: return 0;
    }
}

int tw_twp_parse(const uint8_t *buf, size_t len, uint32_t max_payload, struct tw_twp_frame *f)
{
    uint32_t plen;

    if (len < TW_TWP_HDR)
        return 0;
    plen = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    /* A header wrong twice reports the type first: an unknown type is
     * BAD_FRAME whatever its length. */
    if (buf[4] == TW_TWP_DATA) {
        if (plen > max_payload || plen > TW_TWP_MAX_PAYLOAD)
            return -EMSGSIZE;
    } else if (!payload_ok(buf[4], plen)) {
        return -EPROTO;
    }
    if (len - TW_TWP_HDR < plen)
        return 0;
    f->type = buf[4];
    f->len = plen;
    f->payload = buf + TW_TWP_HDR;
    return (int)(TW_TWP_HDR + plen);
}

void tw_twp_put_header(uint8_t *out, uint8_t type, uint32_t n)
{
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    out[4] = type;
}

size_t tw_twp_put(uint8_t *out, uint8_t type, const void *payload, uint32_t len)
{
    tw_twp_put_header(out, type, len);
    if (len)
        memcpy(out + TW_TWP_HDR, payload, len);
    return TW_TWP_HDR + len;
}
