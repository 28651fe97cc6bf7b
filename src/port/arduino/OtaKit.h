/* SPDX-License-Identifier: MIT */
/* OtaKit: otakit's device side as a drop-in for ArduinoOTA. A sketch that replaces
 * `#include <ArduinoOTA.h>` by `#include <OtaKit.h>` and `ArduinoOTA` by `OtaKit` keeps its
 * calls (setPort, setHostname, setPassword, setPasswordHash, setRebootOnSuccess,
 * setMdnsEnabled, onStart, onEnd, onProgress, onError, begin, handle, getCommand) and its
 * ota_error_t values, and gets otakit's: ESPHome's native protocol on the same port number
 * beside ArduinoOTA, the OTA lock that pauses the sketch's other tasks, clear error texts, the
 * brute-force throttle, and (ESP32) confirm-after-boot with rollback.
 *
 * ESP8266: a port of its own on WiFiUDP / WiFiClient / WiFiServer and the flash API; the image
 * is staged after the sketch and copied by eboot at the next boot, as the core's Updater does
 * (no rollback: the chip has no second slot). ESP32: a thin layer over otakit's ESP-IDF port
 * (include/otakit/esp_idf.h). docs/DEVICE.md, "Arduino", says what each adds and lacks.
 *
 * One instance (OtaKit); call handle() from loop(). Callbacks run inside handle() (ESP8266) or
 * in the loop that drives the ESP-IDF port (ESP32: handle() too). */
#ifndef OTAKIT_ARDUINO_H
#define OTAKIT_ARDUINO_H

#include <functional>
#include <stddef.h>
#include <stdint.h>

#include "otakit/lock.h"

#if defined(ARDUINO_ARCH_ESP8266)
#include <Updater.h> /* U_FLASH, U_FS */
#elif defined(__has_include)
#if __has_include(<Update.h>)
#include <Update.h> /* arduino-esp32: U_FLASH, U_SPIFFS */
#endif
#endif

#ifndef U_FLASH
#define U_FLASH 0
#endif
#ifndef U_FS
#define U_FS 100
#endif

/* ArduinoOTA's error enum, same names, values and order (both cores). A sketch that includes
 * ArduinoOTA.h as well includes it first: its guard keeps this one out. */
#ifndef __ARDUINO_OTA_H
typedef enum {
    OTA_AUTH_ERROR,
    OTA_BEGIN_ERROR,
    OTA_CONNECT_ERROR,
    OTA_RECEIVE_ERROR,
    OTA_END_ERROR,
    OTA_ERASE_SETTINGS_ERROR
} ota_error_t;
#endif

/** Which uploaders a device serves (setProtocols). */
enum otakit_protocols {
    OTAKIT_ARDUINO_OTA = 1, /* espota.py, Arduino IDE, PlatformIO espota, otakit upload */
    OTAKIT_NATIVE = 2,      /* ESPHome's native protocol (esphome upload, otakit upload) */
    OTAKIT_BOTH = 3,
};

class OtaKitClass
{
  public:
    typedef std::function<void(void)> THandlerFunction;
    typedef std::function<void(ota_error_t)> THandlerFunction_Error;
    typedef std::function<void(unsigned int, unsigned int)> THandlerFunction_Progress;

    /* ---- ArduinoOTA's calls (before begin(), as there) ---- */
    void setPort(uint16_t port);            /* 8266 on the ESP8266, 3232 on the ESP32 */
    void setHostname(const char *hostname); /* default esp8266-<chip id> / esp32-<mac> */
    const char *getHostname() const;
    void setPassword(const char *password);
    /** The MD5 of the password in hex, as ArduinoOTA stores it. The native protocol needs the
     *  password itself: with a hash only, it is not served (begin() says so on the log). */
    void setPasswordHash(const char *md5hex);
    void setRebootOnSuccess(bool reboot);
    void setMdnsEnabled(bool enabled); /* _arduino._tcp for the IDE's network port */
    void onStart(THandlerFunction fn);
    void onEnd(THandlerFunction fn);
    void onError(THandlerFunction_Error fn);
    void onProgress(THandlerFunction_Progress fn);
    void begin(bool useMDNS = true);
    void handle();
    /** U_FLASH or U_FS, valid from onStart to the end of the update. */
    int getCommand() const;

    /* ---- otakit's own ---- */
    /** OTAKIT_ARDUINO_OTA, OTAKIT_NATIVE or OTAKIT_BOTH (the default: the native protocol
     *  listens on TCP at the same port number). Before begin(). */
    void setProtocols(int protocols);
    /** A task of the sketch that must be quiet during an update (its pause() runs before the
     *  first byte is written, resume() after the end, whatever the end). Caller-owned. */
    bool addLockParticipant(struct otk_lock_participant *p);
    /** The running firmware works. ESP32: mark it valid (no rollback at the next reset; until
     *  then updates are refused, the rollback target must stay). ESP8266: nothing to confirm
     *  (no rollback exists), returns true. */
    bool confirm();
    /** Whether an update runs (between onStart and onEnd / onError). */
    bool updateRunning() const;
    /** The last failure's text as the uploader saw it ("" if none). */
    const char *lastError() const;

    /* ---- for the port (not for sketches) ---- */
    void _event(int type, uint32_t cmd, uint32_t bytes, uint32_t total, int ota_error,
                const char *text);

  private:
    uint16_t _port = 0;
    char _hostname[33] = "";
    char _password[65] = "";     /* plain, for the native protocol and the secret */
    char _passwordHash[65] = ""; /* setPasswordHash's MD5 hex */
    bool _rebootOnSuccess = true;
    bool _mdns = true;
    bool _initialized = false;
    int _protocols = OTAKIT_BOTH;
    int _cmd = U_FLASH;
    char _lastError[80] = "";
    THandlerFunction _start;
    THandlerFunction _end;
    THandlerFunction_Error _error;
    THandlerFunction_Progress _progress;
};

#if !defined(NO_GLOBAL_INSTANCES) && !defined(NO_GLOBAL_OTAKIT)
extern OtaKitClass OtaKit;
#endif

#endif
