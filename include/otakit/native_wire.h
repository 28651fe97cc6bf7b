/* SPDX-License-Identifier: MIT */
/* ESPHome's native OTA protocol ("espota2"): the wire constants both otakit ends share. One TCP
 * connection from the uploader to the device; big-endian integers; one-byte responses. The
 * exchange, byte by byte, and what each era of ESPHome sends: docs/PROTOCOL.md. */
#ifndef OTK_NATIVE_WIRE_H
#define OTK_NATIVE_WIRE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The five bytes a client opens with. */
#define OTK_NAT_MAGIC     "\x6c\x26\xf7\x5c\x45"
#define OTK_NAT_MAGIC_LEN 5

/* Protocol versions the device announces after the magic ("00 vv"); 2 adds chunk acks. */
#define OTK_NAT_VERSION_1 1
#define OTK_NAT_VERSION_2 2

/* Bytes of image between two chunk acks (version 2), and the block size ESPHome's client writes. */
#define OTK_NAT_CHUNK 8192u

/* Client feature bits (the byte after "00 vv"). */
#define OTK_NAT_CF_COMPRESSION 0x01 /* can send a gzip image */
#define OTK_NAT_CF_SHA256_AUTH 0x02 /* answers a SHA-256 challenge */
#define OTK_NAT_CF_EXTENDED    0x04 /* reads "48 flags", sends the OTA type byte */
#define OTK_NAT_CF_NOISE       0x08 /* holds a key (only together with EXTENDED) */
#define OTK_NAT_CF_OTAKIT      0x80 /* speaks otakit's extension (only together with EXTENDED) */

/* Server feature bits (the byte after OTK_NAT_FEATURE_FLAGS). */
#define OTK_NAT_SF_COMPRESSION      0x01
#define OTK_NAT_SF_PARTITION_ACCESS 0x02
#define OTK_NAT_SF_NOISE            0x04
#define OTK_NAT_SF_OTAKIT           0x80 /* set only when the client set OTK_NAT_CF_OTAKIT */

/* otakit's extension, when both sides set their 0x80 bit (docs/PROTOCOL.md, "otakit's
 * extension"): right after the device's AUTH_OK the host sends "01 caps", the device answers
 * "01 granted" (granted = caps & what it offers), then the exchange goes on with the type byte.
 * One bit per capability; unknown bits are never granted. */
#define OTK_NAT_OTAKIT_VERSION 0x01 /* the exchange's version, first byte of both units */
#define OTK_NAT_OTAKIT_UNIT    2    /* bytes of the hello and of its answer */
#define OTK_NAT_CAP_RESUME     0x01 /* BIN_MD5_OK carries a 4-byte resume offset */
#define OTK_NAT_CAP_DEFLATE    0x02 /* streamed compression (defined by the deflate extension) */
/* With RESUME granted the device's answer to the MD5 is "43 oo oo oo oo": the offset
 * (big-endian) from which the host sends the image; chunk acks count from there. */
#define OTK_NAT_RESUME_UNIT 5

/* OTA type byte (extended protocol only). */
#define OTK_NAT_TYPE_APP             0x00
#define OTK_NAT_TYPE_PARTITION_TABLE 0x01
#define OTK_NAT_TYPE_BOOTLOADER      0x02

/* Response codes, as ESPHome's ota_backend.h numbers them. */
enum otk_nat_code {
    OTK_NAT_OK = 0x00, /* also the host's final ack */
    OTK_NAT_REQUEST_AUTH_MD5 = 0x01,
    OTK_NAT_REQUEST_AUTH_SHA256 = 0x02,
    OTK_NAT_HEADER_OK = 0x40,
    OTK_NAT_AUTH_OK = 0x41,
    OTK_NAT_UPDATE_PREPARE_OK = 0x42,
    OTK_NAT_BIN_MD5_OK = 0x43,
    OTK_NAT_RECEIVE_OK = 0x44,
    OTK_NAT_UPDATE_END_OK = 0x45,
    OTK_NAT_SUPPORTS_COMPRESSION = 0x46,
    OTK_NAT_CHUNK_OK = 0x47,
    OTK_NAT_FEATURE_FLAGS = 0x48,
    OTK_NAT_ERR_MAGIC = 0x80,
    OTK_NAT_ERR_UPDATE_PREPARE = 0x81,
    OTK_NAT_ERR_AUTH_INVALID = 0x82,
    OTK_NAT_ERR_WRITING_FLASH = 0x83,
    OTK_NAT_ERR_UPDATE_END = 0x84,
    OTK_NAT_ERR_INVALID_BOOTSTRAPPING = 0x85,
    OTK_NAT_ERR_WRONG_CURRENT_FLASH_CONFIG = 0x86,
    OTK_NAT_ERR_WRONG_NEW_FLASH_CONFIG = 0x87,
    OTK_NAT_ERR_ESP8266_NOT_ENOUGH_SPACE = 0x88,
    OTK_NAT_ERR_ESP32_NOT_ENOUGH_SPACE = 0x89,
    OTK_NAT_ERR_NO_UPDATE_PARTITION = 0x8a,
    OTK_NAT_ERR_MD5_MISMATCH = 0x8b,
    OTK_NAT_ERR_RP2040_NOT_ENOUGH_SPACE = 0x8c,
    OTK_NAT_ERR_SIGNATURE_INVALID = 0x8d,
    OTK_NAT_ERR_UNSUPPORTED_OTA_TYPE = 0x8e,
    OTK_NAT_ERR_PARTITION_TABLE_VERIFY = 0x8f,
    OTK_NAT_ERR_PARTITION_TABLE_UPDATE = 0x90,
    OTK_NAT_ERR_BOOTLOADER_VERIFY = 0x91,
    OTK_NAT_ERR_BOOTLOADER_UPDATE = 0x92,
    OTK_NAT_ERR_VERSION_DOWNGRADE = 0x93,
    OTK_NAT_ERR_ENCRYPTION_REQUIRED = 0x94,
    OTK_NAT_ERR_UNKNOWN = 0xff, /* also a device's data timeout */
};

/* Noise framing (ESPHome 2026.9): 01 | length (16-bit big-endian, >= 1) | payload. */
#define OTK_NAT_NOISE_FRAME_INDICATOR 0x01
#define OTK_NAT_NOISE_FRAME_HDR       3
#define OTK_NAT_NOISE_HANDSHAKE_OK    0x00 /* first payload byte of a handshake frame */
#define OTK_NAT_NOISE_REJECT          0x01 /* ... of a refusal, followed by a UTF-8 reason */
#define OTK_NAT_NOISE_MAX_PLAINTEXT   1024 /* data bytes per frame (8 frames per chunk) */
#define OTK_NAT_NOISE_MAC_FAILURE     "Handshake MAC failure" /* the reason for a wrong key */
#define OTK_NAT_NOISE_PROLOGUE_INIT   "NoiseOTAInit"
/* Prologue: "NoiseOTAInit" | magic | 00 vv | client features | 48 server flags. */
#define OTK_NAT_NOISE_PROLOGUE_LEN 22

#ifdef __cplusplus
}
#endif
#endif
