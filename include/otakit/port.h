/* SPDX-License-Identifier: MIT */
/* The porting contract: everything the freestanding core needs from the world arrives through
 * these per-instance tables. No op may call back into the engine that called it. */
#ifndef OTK_PORT_H
#define OTK_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Hash context storage (OTK_CFG_HASH_CTX_SIZE bytes, config.h): aligned for any mbedTLS
 *  context. */
union otk_hash_ctx {
    uint64_t align;
    void *align_ptr;
    unsigned char bytes[OTK_CFG_HASH_CTX_SIZE];
};

/** Crypto provider (mbedTLS on POSIX and ESP-IDF). All functions are synchronous.
 *  start/update/finish never fail; pbkdf2 and random return OTK_OK or an OTK_ERR_*. */
struct otk_crypto_ops {
    void (*md5_start)(union otk_hash_ctx *ctx);
    void (*md5_update)(union otk_hash_ctx *ctx, const void *data, size_t len);
    void (*md5_finish)(union otk_hash_ctx *ctx, uint8_t out[16]);
    void (*sha256_start)(union otk_hash_ctx *ctx);
    void (*sha256_update)(union otk_hash_ctx *ctx, const void *data, size_t len);
    void (*sha256_finish)(union otk_hash_ctx *ctx, uint8_t out[32]);
    int (*pbkdf2_sha256)(const void *password, size_t password_len, const void *salt,
                         size_t salt_len, uint32_t iterations, uint8_t *out, size_t out_len);
    /** Fill buf with len bytes from a cryptographically secure source. */
    int (*random)(void *user, uint8_t *buf, size_t len);
    /* For Noise (include/otakit/noise.h); may be NULL in a build without it. */
    /** X25519 (RFC 7748): out = scalar * point, point NULL = the base point (a public key).
     *  OTK_OK, or OTK_ERR_CRYPTO (including an all-zero result). */
    int (*x25519)(const uint8_t scalar[32], const uint8_t *point, uint8_t out[32]);
    /** HMAC-SHA-256 of data under key. */
    void (*hmac_sha256)(const void *key, size_t key_len, const void *data, size_t len,
                        uint8_t out[32]);
    /** ChaCha20-Poly1305 (RFC 8439): encrypt len bytes of in into out (in == out allowed) and
     *  write the tag. OTK_OK or OTK_ERR_CRYPTO. */
    int (*chachapoly_seal)(const uint8_t key[32], const uint8_t nonce[12], const void *ad,
                           size_t ad_len, const void *in, size_t len, void *out, uint8_t tag[16]);
    /** Check the tag and decrypt len bytes of in into out (in == out allowed). OTK_OK,
     *  OTK_ERR_AUTH (tag mismatch: out holds nothing usable) or OTK_ERR_CRYPTO. */
    int (*chachapoly_open)(const uint8_t key[32], const uint8_t nonce[12], const void *ad,
                           size_t ad_len, const void *in, size_t len, void *out,
                           const uint8_t tag[16]);
    /* For signed images (include/otakit/sig.h); may be NULL in a build that checks none. */
    /** The RSA public operation on len-byte big-endian numbers: out = in^e mod n (a signature
     *  opened with the public key; the padding is checked by the caller). OTK_OK,
     *  OTK_ERR_AUTH (in is not below n, or n and e are no public key) or OTK_ERR_CRYPTO. */
    int (*rsa_public)(const uint8_t *n, size_t len, uint32_t e, const uint8_t *in, uint8_t *out);
    /** ECDSA on P-256 of a SHA-256 hash; the key X||Y and r, s big-endian. OTK_OK,
     *  OTK_ERR_AUTH (does not verify, or the point is not on the curve) or OTK_ERR_CRYPTO. */
    int (*ecdsa_p256_verify)(const uint8_t pub_xy[64], const uint8_t hash[32], const uint8_t r[32],
                             const uint8_t s[32]);
    void *user;
};

/** What otk_inflate_ops.feed() returns besides an error (OTK_ERR_MALFORMED: not a valid
 *  stream). */
enum otk_inflate_status {
    OTK_INFLATE_END = 0,         /* the stream's final block is complete */
    OTK_INFLATE_NEED_INPUT = 1,  /* all input used, no output pending: feed the next bytes */
    OTK_INFLATE_MORE_OUTPUT = 2, /* output is pending: call again (with the input not yet used) */
};

/** Inflater for compressed updates: a raw deflate stream (RFC 1951, no zlib or gzip wrapper)
 *  inflated as it arrives. zlib on POSIX, the ROM's tinfl (miniz) on ESP32s, so the core carries
 *  no inflater of its own. The core has no heap: the state lives in memory the caller gives
 *  (state_size bytes, aligned as malloc would; about 44 KB, the 32 KB window included). */
struct otk_inflate_ops {
    /** Bytes of state memory init() needs. */
    size_t state_size;
    /** Start a stream in state. OTK_OK, or OTK_ERR_ARG when state_len < state_size. */
    int (*init)(void *user, void *state, size_t state_len);
    /** Inflate from in[0, len): *used = input bytes taken; *out / *out_len = bytes inflated by
     *  this call, inside the state (valid until the next call; *out_len may be 0).
     *  @return an enum otk_inflate_status (on OTK_INFLATE_END, in[*used...] lies beyond the
     *  stream), or OTK_ERR_MALFORMED (the stream is corrupt: call only finish() after it). */
    int (*feed)(void *user, void *state, const uint8_t *in, size_t len, size_t *used,
                const uint8_t **out, size_t *out_len);
    /** The stream is over, complete or abandoned: release what init() took.
     *  @return OTK_OK if feed() had reached OTK_INFLATE_END, else OTK_ERR_MALFORMED. */
    int (*finish)(void *user, void *state);
    void *user;
};

/** NOR flash. Addresses are absolute flash offsets. erase(addr, len): addr and len are
 *  multiples of 4096 (a 64 KB aligned len of 65536 may use a block erase). write() may only clear
 *  bits (NOR rule); the port may enforce it. Each op returns OTK_OK or OTK_ERR_FLASH and is
 *  synchronous: a real chip stalls the CPU while it erases, and so may the port. */
struct otk_flash_ops {
    int (*read)(void *user, uint32_t addr, void *buf, size_t len);
    int (*write)(void *user, uint32_t addr, const void *buf, size_t len);
    int (*erase)(void *user, uint32_t addr, uint32_t len);
    void *user;
};

/** A network peer, opaque to the core: it only copies and compares it. */
struct otk_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t ip[16]; /* IPv4 in the first 4 bytes */
    uint16_t port;  /* host byte order */
};

/** Network for the device side: for ArduinoOTA a bound UDP socket and one TCP client that
 *  connects back to the uploader; for the native protocol one accepted TCP connection.
 * Non-blocking; completion is reported by the port calling otk_dev_on_connected() /
 * otk_dev_on_tcp_data() / otk_dev_on_tcp_closed(). */
struct otk_net_ops {
    /** Send one datagram from the OTA UDP port. OTK_OK or OTK_ERR_IO. */
    int (*udp_send)(void *user, const struct otk_addr *to, const void *buf, size_t len);
    /** Start a TCP connection; the port later calls otk_dev_on_connected(). */
    int (*tcp_connect)(void *user, const struct otk_addr *to);
    /** Queue len bytes on the TCP connection; the port must take all of them (messages are
     *  small: acks and status texts) or return OTK_ERR_IO. */
    int (*tcp_send)(void *user, const void *buf, size_t len);
    /** Close the TCP connection (after flushing what was queued). */
    void (*tcp_close)(void *user);
    /** Optional (NULL: none). Reset the TCP connection now: queued and unread bytes are
     *  discarded, the peer sees a reset (lwIP tcp_abort, BSD SO_LINGER 0); no closed event
     *  follows. The engine never calls it; a stage in front of it may (a link that dies). */
    void (*tcp_abort)(void *user);
    /* ESPHome's native protocol (include/otakit/native.h): the one connection the port accepted
     * on its listening TCP port. May be NULL in a device that serves only ArduinoOTA. */
    /** Queue len bytes (responses, at most a few dozen bytes); as tcp_send. */
    int (*nat_send)(void *user, const void *buf, size_t len);
    /** Close the accepted connection (after flushing what was queued). */
    void (*nat_close)(void *user);
    void *user;
};

#ifdef __cplusplus
}
#endif
#endif
