/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer targets and their seed generator: a deterministic crypto provider, a
 * small flash layout, a bounds-checked reader of the fuzz input, and the encoding of
 * fuzz_device's input. Every target must be deterministic (same input, same path) and free
 * everything it allocates. */
#ifndef OTK_FUZZ_COMMON_H
#define OTK_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/layout.h"
#include "otakit/port.h"

/* A violated invariant: crash loudly so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(#cond, __FILE__, __LINE__);                                                  \
    } while (0)

void fuzz_fail(const char *what, const char *file, int line);

/* mbedTLS MD5 and SHA-256; a cheap stand-in for PBKDF2 (one SHA-256: the fuzzers test parsing
 * and state, not the key derivation, and 10000 iterations would slow them a thousandfold); a
 * counter instead of the CSPRNG, reset by fuzz_crypto_init, so nonces repeat run after run. */
struct fuzz_crypto {
    struct otk_crypto_ops ops;
    uint64_t counter;
};

void fuzz_crypto_init(struct fuzz_crypto *c);

/* fuzz_noise: a Noise session (ESPHome's OTA prologue for version 2, client 0F, server 04) on
 * c, initialised here with its counter at `counter`; the key is key_byte, key_byte + 1, ...
 * (0: ESPHome's test key 00..1f). */
struct otk_noise;
int fuzz_noise_start(struct otk_noise *s, struct fuzz_crypto *c, bool initiator, uint8_t key_byte,
                     uint64_t counter);

/* A 256 KB flash: otadata 0x9000, app0 0x10000 and app1 0x20000 (64 KB each), fs 0x30000
 * (64 KB). The layout says 4 MB, the size the generated images' headers claim. */
#define FUZZ_FLASH_SIZE 0x40000u
void fuzz_layout(struct otk_layout *l);

/* Flash ops that show every write and erase to the target's guard (which FUZZ_CHECKs what must
 * never be written) before passing it on to `down`; reads pass straight through. */
struct fuzz_guarded_flash {
    struct otk_flash_ops ops; /* what the device is given */
    const struct otk_flash_ops *down;
    void (*guard)(void *user, uint32_t addr, size_t len);
    void *user;
};

void fuzz_guarded_flash_init(struct fuzz_guarded_flash *g, const struct otk_flash_ops *down,
                             void (*guard)(void *user, uint32_t addr, size_t len), void *user);

/* [addr, addr + len) and [off, off + size) share a byte. */
bool fuzz_overlaps(uint32_t addr, size_t len, uint32_t off, uint32_t size);

struct fuzz_in {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

bool fin_more(const struct fuzz_in *in);
uint8_t fin_u8(struct fuzz_in *in);   /* 0 past the end */
uint16_t fin_u16(struct fuzz_in *in); /* little endian */
/** Up to n bytes: *out points at them; @return how many there are. */
size_t fin_take(struct fuzz_in *in, size_t n, const uint8_t **out);

/* fuzz_device input: one flags byte, then operations. An operation byte holds the opcode in
 * its low 3 bits and an argument in the high 5 bits. */
#define FD_FLAG_PASSWORD 0x01 /* the device has password FD_PASSWORD */
#define FD_FLAG_ESP8266  0x02 /* else ESP32 */
#define FD_FLAG_PBKDF2   0x04 /* the PBKDF2 variant (with a password) */
/* flags >> 3: the clock starts at (flags >> 3) << 27, so some runs cross the 32-bit wrap */
#define FD_PASSWORD "fuzz"

enum fd_op {
    FD_DGRAM = 0,     /* arg&7 = source; u8 length; the datagram's bytes */
    FD_TCP = 1,       /* u16 length; the bytes, offered to otk_dev_on_tcp_data */
    FD_CONNECTED = 2, /* arg&1: the connect failed */
    FD_CLOSED = 3,    /* arg&1: the port is idle (otk_dev_on_idle), else the TCP connection
                         closed */
    FD_TICK = 4,      /* u16 ms << (arg&7) pass; every deadline due on the way runs */
    FD_AUTH = 5,      /* arg&7 = source: the right answer to the last challenge */
    FD_UPLOAD = 6,    /* arg&1 = filesystem; u16 length; u8 chunk; the image: a whole upload
                         (its MD5 in the invitation, the right auth answer, connect, stream,
                         then 3 s pass; with arg&2 the clock stops after the last byte, so the
                         next events meet the ESP8266's pauses around "OK") */
    FD_INVITE = 7,    /* arg&7 = source, arg>>3 picks the command (0, 100, 200, other); u16
                         port; u16 size (<< 4); 16 bytes of MD5: a well-formed invitation */
};

/* fuzz_native input: one flags byte, then operations (opcode in the low 3 bits, argument in the
 * high 5). flags >> 5: the clock starts at (flags >> 5) << 27. FN_FLAG_KEY: Noise offered with
 * the key 00 01 .. 1f (required with FN_FLAG_REQUIRED too). */
#define FN_PASSWORD "fuzz"
enum fn_flag {
    FN_FLAG_PASSWORD = 0x01,
    FN_FLAG_ESP8266 = 0x02,
    FN_FLAG_V1 = 0x04,
    FN_FLAG_KEY = 0x08,
    FN_FLAG_REQUIRED = 0x10,
};

enum fn_op {
    FN_ACCEPT = 0, /* arg&3 = source */
    FN_DATA = 1,   /* u16 length; the bytes */
    FN_CLOSED = 2, /* the host closed */
    FN_TICK = 3,   /* u16 ms << (arg&7) pass; every deadline due on the way runs */
    FN_IDLE = 4,   /* the port has no data: otk_dev_on_idle */
    FN_HELLO = 5,  /* arg&15 = client features, arg&16 = otakit's 0x80: magic, features, the
                      right answer if challenged, or the Noise handshake with the right key when
                      both sides asked for it; then "01 03" if the device waits for otakit's caps */
    FN_UPLOAD = 6, /* arg&1 extended, arg&2 half; u16 length; u8 piece; the image: size, MD5, the
                      bytes from the resume offset, the end ack (in Noise frames after a
                      handshake); half: only the first half, then the connection drops */
    FN_INVITE = 7, /* an ArduinoOTA invitation (no password there) for the input's next image */
};

#endif
