/* SPDX-License-Identifier: MIT */
/* Every compile-time option of otakit, with its default and why (in the manner of lwIP's opt.h).
 *
 * A firmware overrides options in a header of its own, named when compiling every otakit file:
 *
 *     -DOTK_CONFIG_FILE='"my_otakit_config.h"'      (or <my_otakit_config.h>)
 *
 * That header is included first; it #defines only the options it changes, and everything it
 * leaves out keeps the default below. A -D on the command line works too (-DOTK_CFG_NOISE=0).
 * Every header that reads an option includes this one, so the choice is the same in every file
 * of a build; options must therefore be the same for the library and the firmware that links it
 * (they change struct sizes).
 *
 * Features are switched with 0/1 (test them with #if, not #ifdef); capacities are numbers.
 * Contradictory choices stop the build with #error here, not as a link error later. */
#ifndef OTK_CONFIG_H
#define OTK_CONFIG_H

#ifdef OTK_CONFIG_FILE
#include OTK_CONFIG_FILE
#endif

/* ---- Protocols: which servers a device build carries ------------------------------------ */

/* The ArduinoOTA protocol server (espota.py, Arduino IDE, PlatformIO `upload_protocol = espota`):
 * the protocol millions of devices already speak, and what otakit was built for. */
#ifndef OTK_CFG_PROTO_ARDUINO
#define OTK_CFG_PROTO_ARDUINO 1
#endif

/* ESPHome's native OTA protocol server (port 3232, `esphome upload`). A small ESP8266 firmware
 * that only ever speaks ArduinoOTA sets it to 0 and keeps the flash it would cost. */
#ifndef OTK_CFG_PROTO_NATIVE
#define OTK_CFG_PROTO_NATIVE 1
#endif

/* The native protocol's MD5 challenge, which ESPHome clients before 2025.10 answer. ESPHome
 * removed it (a peer could force the weaker MD5 exchange: a downgrade attack), so it is off;
 * turn it on only for a fleet whose uploaders are older than that. Needs the native protocol. */
#ifndef OTK_CFG_NATIVE_MD5_AUTH
#define OTK_CFG_NATIVE_MD5_AUTH 0
#endif

/* Noise encryption (Noise_NNpsk0_25519_ChaChaPoly_SHA256, noise.h) for the native protocol, as
 * ESPHome encrypts with an api key. The primitives come from the port's crypto ops (X25519,
 * HMAC-SHA-256, ChaCha20-Poly1305); a build without them sets this to 0. Defaults to whether the
 * native protocol is built: there is nothing to encrypt without it. */
#ifndef OTK_CFG_NOISE
#if defined(ARDUINO)
/* The Arduino library (src/port/arduino) has no compiler flags to pass and no Noise primitives:
 * the ESP8266 core's crypto lacks them, and arduino-esp32's prebuilt mbedTLS need not carry
 * ChaCha20-Poly1305. Its native protocol runs in plaintext with the password challenge. */
#define OTK_CFG_NOISE 0
#else
#define OTK_CFG_NOISE OTK_CFG_PROTO_NATIVE
#endif
#endif

/* Resume of a native upload after a lost connection (otakit's extension, capability RESUME):
 * the writer keeps a record of the interrupted image (size, MD5, target slot, the bytes already
 * in flash and the MD5 state at that point, about 280 bytes of RAM) and a reconnecting uploader
 * of the same image continues where the flash ends. Defaults to whether the native protocol is
 * built; a small build sets it to 0. */
#ifndef OTK_CFG_NATIVE_RESUME
#define OTK_CFG_NATIVE_RESUME OTK_CFG_PROTO_NATIVE
#endif

/* Compressed updates on the native protocol (otakit's extension, capability DEFLATE): the host
 * sends a raw deflate stream and the device inflates it into the writer as it arrives, through
 * the port's inflater (port.h otk_inflate_ops: zlib on POSIX, the ROM's tinfl on ESP32s) and
 * about 44 KB of state memory the firmware lends it (otk_dev_native_set_inflater). Fewer bytes
 * travel: on a slow link the upload is that much faster. Defaults to whether the native protocol
 * is built; a small build (an ESP8266 has no ROM inflater and little RAM) sets it to 0. */
#ifndef OTK_CFG_NATIVE_DEFLATE
#define OTK_CFG_NATIVE_DEFLATE OTK_CFG_PROTO_NATIVE
#endif

/* Signed images (sig.h): the image writer checks an ESP-IDF Secure Boot V2 signature sector or
 * the ESP8266 Arduino signature trailer against a trusted key before it activates the slot,
 * when the device is given one (otk_dev_set_trusted_key). The public-key operations are the
 * port's (RSA, ECDSA P-256). It costs about 2.3 KB of flash (scripts/check-core's footprint
 * table, rows "+sig"); a firmware that never checks signatures sets it to 0 and keeps them - the
 * ArduinoOTA-only device's 8 KB budget is counted without it. */
#ifndef OTK_CFG_SIGNED_IMAGES
#if defined(ARDUINO)
/* The Arduino library's ports bring no RSA / ECDSA operations (the ESP8266 port's crypto is
 * the core's MD5 and BearSSL's SHA-256), so there would be nothing to verify with: left out. */
#define OTK_CFG_SIGNED_IMAGES 0
#else
#define OTK_CFG_SIGNED_IMAGES 1
#endif
#endif

/* ---- Capacities: memory the caller owns, sized at compile time (no heap) ---------------- */

/* Bytes reserved for one hash context (MD5 or SHA-256) in union otk_hash_ctx. 224 holds
 * mbedTLS's contexts (the POSIX port checks that at compile time); a hardware-accelerated
 * provider with bigger contexts raises it. */
#ifndef OTK_CFG_HASH_CTX_SIZE
#define OTK_CFG_HASH_CTX_SIZE 224
#endif

/* Application tasks one OTA lock can pause (struct otk_lock's fixed table: no heap). The
 * gateway this comes from has two (BLE scan, MQTT); 8 leaves room at 4 bytes each. */
#ifndef OTK_CFG_LOCK_PARTICIPANTS
#define OTK_CFG_LOCK_PARTICIPANTS 8
#endif

/* ---- Checks of the choices above -------------------------------------------------------- */

#if OTK_CFG_NATIVE_MD5_AUTH && !OTK_CFG_PROTO_NATIVE
#error "OTK_CFG_NATIVE_MD5_AUTH needs OTK_CFG_PROTO_NATIVE=1 (it is the native protocol's auth)"
#endif
#if OTK_CFG_NOISE && !OTK_CFG_PROTO_NATIVE
#error "OTK_CFG_NOISE needs OTK_CFG_PROTO_NATIVE=1 (Noise encrypts the native protocol)"
#endif
#if OTK_CFG_NATIVE_RESUME && !OTK_CFG_PROTO_NATIVE
#error "OTK_CFG_NATIVE_RESUME needs OTK_CFG_PROTO_NATIVE=1 (resume is a native-protocol extension)"
#endif
#if OTK_CFG_NATIVE_DEFLATE && !OTK_CFG_PROTO_NATIVE
#error "OTK_CFG_NATIVE_DEFLATE needs OTK_CFG_PROTO_NATIVE=1 (it is a native-protocol extension)"
#endif
#if OTK_CFG_HASH_CTX_SIZE < 1
#error "OTK_CFG_HASH_CTX_SIZE must be positive"
#endif
#if OTK_CFG_LOCK_PARTICIPANTS < 1 || OTK_CFG_LOCK_PARTICIPANTS > 255
#error "OTK_CFG_LOCK_PARTICIPANTS must be 1..255"
#endif

#endif
