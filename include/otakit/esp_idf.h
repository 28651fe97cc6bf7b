/* SPDX-License-Identifier: MIT */
/* otakit in an ESP-IDF app (the component in ports/esp-idf/otakit): the ArduinoOTA device side
 * on lwIP sockets, the image written through esp_partition_*, crypto from ESP-IDF's mbedTLS,
 * randomness from the hardware RNG, time from esp_timer, and the OTA lock whose participants
 * are the app's tasks. docs/DEVICE.md says who writes what in otadata.
 *
 *     otakit_config_t cfg = OTAKIT_CONFIG_DEFAULT();
 *     cfg.password = "OTAPASSWORD";
 *     cfg.on_progress = show_on_screen;
 *     otakit_init(&cfg);
 *     otakit_register(&ble_scan_participant);   // paused while an update runs
 *     otakit_start_task();                       // or call otakit_loop() from the app's loop
 *     ... once the app knows it works ...
 *     otakit_confirm();                          // no rollback at the next reset
 *
 * One instance per app. Call everything but otakit_loop() from one task, otakit_register()
 * before otakit_start_task(). The lock's callbacks (pause, resume, progress, result) run in the
 * task that runs otakit_loop(): keep them short and thread-safe (stop a scan, set a flag,
 * signal a task); while they run the update waits, and they must not call otakit. */
#ifndef OTAKIT_ESP_IDF_H
#define OTAKIT_ESP_IDF_H

#include <stdbool.h>
#include <stdint.h>

#include "esp_err.h"
#include "otakit/lock.h"
#include "otakit/proto.h"
#include "otakit/sig.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t port;        /* UDP port of the invitation; 0: CONFIG_OTAKIT_PORT */
    const char *password; /* NULL or "": no password (as ArduinoOTA without one) */
    /** Instead of password: its hash as ArduinoOTA's setPasswordHash() takes it (MD5 hex, or
     *  with OTK_AUTH_PBKDF2 the SHA-256 hex arduino-esp32 3.3.1 stores). The native protocol
     *  needs the password itself: with a hash only it is not served. NULL: none. */
    const char *password_hash;
    enum otk_auth_variant auth; /* OTK_AUTH_PBKDF2 (arduino-esp32 >= 3.3.1) or OTK_AUTH_MD5 */
    bool reboot_on_success;     /* restart into the new image once the uploader has the "OK" */
    /** Publish _arduino._tcp (the Arduino IDE's network port, PlatformIO's discovery) through
     *  ESP-IDF's mdns component: needs CONFIG_OTAKIT_MDNS and the app's mdns_init(). */
    bool mdns;
#if OTK_CFG_PROTO_NATIVE
    /** Also serve ESPHome's native protocol (esphome upload, espota2) on TCP, on the same port
     *  number; the same password (ESPHome's `ota: password:`). */
    bool native;
    /** Its Noise key (ESPHome's base64 api/ota key, decoded; 32 bytes), NULL: plaintext only.
     *  With a key the device offers encryption; native_require_key refuses plaintext clients. */
    const uint8_t *native_key;
    bool native_require_key;
#if OTK_CFG_NATIVE_DEFLATE
    /** Accept otakit's compressed updates (fewer bytes on the air), inflated by the ROM's tinfl:
     *  no flash cost, but about 43 KB of RAM taken from the heap once, at init. */
    bool native_inflate;
#endif
#endif
#if OTK_CFG_SIGNED_IMAGES
    /** Activate only images whose Secure Boot V2 signature sector has a block by this key
     *  (include/otakit/sig.h: format OTK_SIG_FMT_SBV2, the alg and the key's digest as
     *  `espsecure digest-sbv2-public-key` prints it); checked before the slot switch, on both
     *  protocols. NULL: no check of otakit's own (ESP-IDF's, where enabled, still runs in
     *  esp_ota_set_boot_partition and at boot). Must outlive otakit. See docs/SECURITY.md. */
    const struct otk_sig_key *trusted_key;
#endif
    /** Progress for a screen or a status topic (otk_ota_progress_line() renders a line); may
     *  be NULL. */
    void (*on_progress)(void *user, const struct otk_ota_progress *p);
    /** The outcome of each update, after the participants were resumed; may be NULL. */
    void (*on_result)(void *user, const struct otk_ota_result *r);
    /** Every engine event as it happens (start, progress, end, error - a refused password
     *  included, which never takes the lock): ArduinoOTA's callbacks (the Arduino library)
     *  are made of these. May be NULL. */
    void (*on_event)(void *user, const struct otk_dev_event *ev);
    void *user;
} otakit_config_t;

#define OTAKIT_CONFIG_DEFAULT()                                                                    \
    {                                                                                              \
        .port = 0, .password = NULL, .password_hash = NULL, .auth = OTK_AUTH_PBKDF2,               \
        .reboot_on_success = true, .mdns = true, .on_progress = NULL, .on_result = NULL,           \
        .on_event = NULL, .user = NULL,                                                            \
    }

/** Read the partition table, bind the UDP port, set up the engine and the lock.
 *  ESP_ERR_NOT_FOUND: no otadata or no ota_0/ota_1 partitions; ESP_ERR_INVALID_STATE: already
 *  initialised; ESP_ERR_NOT_SUPPORTED: a target whose memory map otakit's image check does not
 *  carry (it knows the ESP32, -S2, -S3, -C2, -C3, -C5, -C6, -C61, -H2 and -P4; images must name
 *  the target's chip, CONFIG_IDF_FIRMWARE_CHIP_ID); ESP_FAIL: the socket. */
esp_err_t otakit_init(const otakit_config_t *cfg);

/** Add one of the app's tasks to the OTA lock (caller-owned, set name/pause/resume/user first).
 *  ESP_ERR_NO_MEM when OTK_CFG_LOCK_PARTICIPANTS are registered already. */
esp_err_t otakit_register(struct otk_lock_participant *p);

/** Start the component's own task (CONFIG_OTAKIT_TASK_STACK, CONFIG_OTAKIT_TASK_PRIORITY), which
 *  runs otakit_loop() for ever. The alternative to calling otakit_loop() from the app. */
esp_err_t otakit_start_task(void);

/** One pass: wait up to max_wait_ms for the network (less when a deadline is due), serve it,
 *  run timeouts and the lock's watchdog, and restart after a successful update. */
void otakit_loop(uint32_t max_wait_ms);

/** The running image works: mark it valid (esp_ota_mark_app_valid_cancel_rollback), so the
 *  bootloader does not roll back at the next reset, and updates may start again (an image that
 *  is still pending verification refuses them: its rollback target must stay intact). */
esp_err_t otakit_confirm(void);

/** Whether an update holds the OTA lock right now. */
bool otakit_update_running(void);

#ifdef __cplusplus
}
#endif
#endif
