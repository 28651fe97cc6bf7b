/* SPDX-License-Identifier: MIT */
/* The gateway: Wi-Fi, a BLE scan and an MQTT client, and otakit serving ArduinoOTA on its own
 * task. While an update runs the scan and the MQTT client pause (otakit's OTA lock); the
 * progress goes to the log as the line a small screen would show, the result to MQTT once the
 * client is back. */
#include <stdio.h>

#include "esp_log.h"
#include "mdns.h"
#include "nvs_flash.h"
#include "sdkconfig.h"

#include "gateway.h"
#include "otakit/esp_idf.h"

static const char *TAG = "gateway";

static struct otk_lock_participant ble_part;
static struct otk_lock_participant mqtt_part;

static void
show_progress(void *user, const struct otk_ota_progress *p)
{
    char line[32];

    (void)user;
    otk_ota_progress_line(p, line, sizeof line);
    ESP_LOGI(TAG, "[screen] %s", line);
}

static void
report_result(void *user, const struct otk_ota_result *r)
{
    char msg[160];

    (void)user;
    snprintf(msg, sizeof msg, "{\"ota\":\"%s\",\"bytes\":%lu,\"total\":%lu,\"error\":\"%s\"}",
             otk_ota_phase_str(r->phase), (unsigned long)r->bytes, (unsigned long)r->total,
             r->text);
    mqtt_task_status(msg); /* the participants are resumed before the result is reported */
}

static void
init_nvs(void)
{
    esp_err_t e = nvs_flash_init();
    if (e == ESP_ERR_NVS_NO_FREE_PAGES || e == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        e = nvs_flash_init();
    }
    ESP_ERROR_CHECK(e);
}

void
app_main(void)
{
    otakit_config_t cfg = OTAKIT_CONFIG_DEFAULT();

    init_nvs();
    ESP_ERROR_CHECK(wifi_connect());
    /* the app's own responder; otakit adds _arduino._tcp to it (CONFIG_OTAKIT_MDNS) */
    ESP_ERROR_CHECK(mdns_init());
    ESP_ERROR_CHECK(mdns_hostname_set(CONFIG_GATEWAY_HOSTNAME));
    cfg.password = CONFIG_GATEWAY_OTA_PASSWORD;
    cfg.on_progress = show_progress;
    cfg.on_result = report_result;
    esp_err_t e = otakit_init(&cfg);
    if (e != ESP_OK) {
        ESP_LOGE(TAG, "no OTA updates: %s", esp_err_to_name(e));
        return;
    }
    ESP_ERROR_CHECK(ble_scan_start(&ble_part));
    ESP_ERROR_CHECK(mqtt_task_start(CONFIG_GATEWAY_MQTT_URI, &mqtt_part));
    ESP_ERROR_CHECK(otakit_register(&ble_part));
    ESP_ERROR_CHECK(otakit_register(&mqtt_part));
    ESP_ERROR_CHECK(otakit_start_task());
    /* Wi-Fi, BLE and MQTT came up: this image works, keep it at the next reset. */
    ESP_ERROR_CHECK(otakit_confirm());
}
