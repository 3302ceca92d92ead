/* twp frames (docs/PROTOCOL.md): a 5-byte header (uint32 big-endian payload
 * length, uint8 type) and the payload. */
#ifndef TWKIT_TWP_H
#define TWKIT_TWP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TW_TWP_VERSION 1
#define TW_TWP_HDR 5
#define TW_TWP_MAX_PAYLOAD (INT32_MAX - TW_TWP_HDR) /* a frame's size fits an int */
#define TW_TWP_MAX_FRAME_DEFAULT (1u << 20)
#define TW_TWP_MAX_PING 64
#define TW_TWP_MAX_ERROR (2 + 256) /* code and a reason of up to 256 bytes */

enum tw_twp_type {
    TW_TWP_HELLO = 1,
    TW_TWP_DATA = 2,
    TW_TWP_PING = 3,
    TW_TWP_PONG = 4,
    TW_TWP_ERROR = 5,
    TW_TWP_DONE = 6,
    TW_TWP_BYE = 7,
    TW_TWP_GOODBYE = 8,
};

enum tw_twp_errcode {
    TW_TWP_E_BAD_FRAME = 1,
    TW_TWP_E_TOO_BIG = 2,
    TW_TWP_E_VERSION = 3,
    TW_TWP_E_STATE = 4,
};

struct tw_twp_frame {
    uint8_t type;
    uint32_t len;           /* payload length */
    const uint8_t *payload; /* points into the parsed buffer */
};

/* Parse one frame from buf[0..len). Returns the bytes it spans (> 0), 0 if
 * more bytes are needed, or, known from the header alone: -EPROTO (unknown
 * type, or a control frame of the wrong size for its type: HELLO not 4
 * bytes, PING/PONG over 64, ERROR under 2 or over 258, DONE/BYE/GOODBYE
 * not empty), -EMSGSIZE (a DATA frame longer than max_payload, or than
 * TW_TWP_MAX_PAYLOAD whatever max_payload says, since the result is an int;
 * the maximum applies to DATA only). The type is checked first. Allocates nothing. */
int tw_twp_parse(const uint8_t *buf, size_t len, uint32_t max_payload,
                 struct tw_twp_frame *f);

/* Write a frame header for (type, payload_len) into out[0..5). */
void tw_twp_put_header(uint8_t *out, uint8_t type, uint32_t payload_len);

/* Write a whole frame into out (room for TW_TWP_HDR + len). Returns its size. */
size_t tw_twp_put(uint8_t *out, uint8_t type, const void *payload, uint32_t len);

/* The 4-byte HELLO payload of this version. */
extern const uint8_t tw_twp_hello[4];

/* "DATA", "DONE", ... ("?" for unknown). */
const char *tw_twp_type_name(unsigned type);

#ifdef __cplusplus
}
#endif

#endif
