/* SPDX-License-Identifier: MIT */
/* Inside the Arduino library: what OtaKitClass (OtaKit.cpp, the same on both cores) asks of the
 * core's port (otakit_esp8266.cpp, or otakit_esp32.cpp over the ESP-IDF port). */
#ifndef OTAKIT_ARDUINO_PORT_H
#define OTAKIT_ARDUINO_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "OtaKit.h"

struct otk_arduino_settings {
    uint16_t port;             /* 0: the core's default */
    const char *hostname;      /* never NULL */
    const char *password;      /* plain, "" if none */
    const char *password_hash; /* MD5 hex from setPasswordHash, "" if none */
    bool reboot_on_success;
    bool mdns;
    int protocols; /* enum otakit_protocols */
};

/** Open the sockets and set up the engine; events go to kit->_event(). false: it failed (the
 *  port logged why). */
bool otk_arduino_begin(OtaKitClass *kit, const struct otk_arduino_settings *s);
void otk_arduino_handle(void);
bool otk_arduino_register(struct otk_lock_participant *p);
bool otk_arduino_confirm(void);
bool otk_arduino_running(void);
/** The core's default port (8266 / 3232) and host name (esp8266-<chip id> / esp32-<mac>). */
uint16_t otk_arduino_default_port(void);
void otk_arduino_default_hostname(char *out, size_t cap);
/** A line on the sketch's log (Serial on the ESP8266, ESP_LOG on the ESP32). */
void otk_arduino_log(const char *what, const char *detail);

#endif
