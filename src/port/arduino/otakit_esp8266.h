/* SPDX-License-Identifier: MIT */
/* Inside the ESP8266 port: the crypto it hands the engine (otakit_esp8266_crypto.cpp: the
 * core's MD5 from the ROM, SHA-256 from BearSSL, the hardware RNG; no PBKDF2, the ESP8266's
 * ArduinoOTA exchange is MD5, and no Noise). */
#ifndef OTAKIT_ESP8266_PORT_H
#define OTAKIT_ESP8266_PORT_H

#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

const struct otk_crypto_ops *otk_esp8266_crypto(void);

#ifdef __cplusplus
}
#endif

#endif
