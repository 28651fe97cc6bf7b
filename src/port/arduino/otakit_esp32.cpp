/* SPDX-License-Identifier: MIT */
/* OtaKit on arduino-esp32: a thin layer over otakit's ESP-IDF port (include/otakit/esp_idf.h),
 * which arduino-esp32 is built on. No second port: the sockets, the flash through
 * esp_partition_*, the slot switch through esp_ota_set_boot_partition, confirm and rollback
 * through esp_ota_mark_app_valid_cancel_rollback are the component's. Only ESP-IDF and
 * standard C++ are used here, so scripts/check-ports compiles it against ESP-IDF's headers. */
#if defined(ESP_PLATFORM) && !defined(ARDUINO_ARCH_ESP8266)

#include <stdio.h>
#include <string.h>

#include "esp_log.h"
#include "esp_mac.h"
#include "mdns.h"
#include "otakit/device.h"
#include "otakit/esp_idf.h"
#include "otakit_arduino.h"

static const char *TAG = "OtaKit";
static OtaKitClass *s_kit;

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    (void)user;
    s_kit->_event(ev->type, ev->cmd, ev->bytes, ev->total, ev->ota_error, ev->text);
}

void
otk_arduino_log(const char *what, const char *detail)
{
    ESP_LOGI(TAG, "%s%s", what, detail ? detail : "");
}

uint16_t
otk_arduino_default_port(void)
{
    return 3232;
}

void
otk_arduino_default_hostname(char *out, size_t cap)
{
    uint8_t mac[6] = {0};

    esp_efuse_mac_get_default(mac);
    snprintf(out, cap, "esp32-%02x%02x%02x", mac[3], mac[4], mac[5]);
}

/* arduino-esp32's ArduinoOTA starts mDNS with the host name itself; so does this layer, then
 * the component adds _arduino._tcp. */
static void
start_mdns(const char *hostname)
{
    esp_err_t e = mdns_init();

    if (e == ESP_OK || e == ESP_ERR_INVALID_STATE) /* already started by the sketch */
        e = mdns_hostname_set(hostname);
    if (e != ESP_OK)
        ESP_LOGW(TAG, "mDNS: %s", esp_err_to_name(e));
}

bool
otk_arduino_begin(OtaKitClass *kit, const struct otk_arduino_settings *s)
{
    otakit_config_t cfg;

    /* not OTAKIT_CONFIG_DEFAULT(): C++ wants every member of a designated initializer */
    memset(&cfg, 0, sizeof cfg);
    s_kit = kit;
    cfg.port = s->port;
    cfg.password = s->password;
    cfg.password_hash = s->password_hash[0] ? s->password_hash : NULL;
    cfg.auth = OTK_AUTH_PBKDF2; /* as ArduinoOTA of arduino-esp32 3.3.1 and later */
    cfg.reboot_on_success = s->reboot_on_success;
    cfg.mdns = s->mdns;
    cfg.on_event = on_event;
#if OTK_CFG_PROTO_NATIVE
    cfg.native = (s->protocols & OTAKIT_NATIVE) != 0;
#endif
    if (!(s->protocols & OTAKIT_ARDUINO_OTA))
        ESP_LOGW(TAG, "ArduinoOTA cannot be turned off on the ESP32 yet: it is served too");
    if (s->mdns)
        start_mdns(s->hostname);
    esp_err_t e = otakit_init(&cfg);
    if (e != ESP_OK) {
        ESP_LOGE(TAG, "otakit_init: %s", esp_err_to_name(e));
        return false;
    }
    return true;
}

void
otk_arduino_handle(void)
{
    otakit_loop(0); /* serve what is there, do not wait: loop() has other work */
}

bool
otk_arduino_register(struct otk_lock_participant *p)
{
    return otakit_register(p) == ESP_OK;
}

bool
otk_arduino_confirm(void)
{
    return otakit_confirm() == ESP_OK;
}

bool
otk_arduino_running(void)
{
    return otakit_update_running();
}

#endif
