/* SPDX-License-Identifier: MIT */
/* A passive BLE scan (Bluedroid), as the gateway runs for its sensors. It shares the radio with
 * Wi-Fi: the OTA lock stops it for the length of an update and starts it again after. */
#include <stdbool.h>

#include "esp_bt.h"
#include "esp_bt_main.h"
#include "esp_gap_ble_api.h"
#include "esp_log.h"

#include "gateway.h"

static const char *TAG = "ble";
static volatile bool paused; /* set by the lock, read in Bluedroid's task */
static unsigned long adverts;

static esp_ble_scan_params_t scan_params = {
    .scan_type = BLE_SCAN_TYPE_PASSIVE,
    .own_addr_type = BLE_ADDR_TYPE_PUBLIC,
    .scan_filter_policy = BLE_SCAN_FILTER_ALLOW_ALL,
    .scan_interval = 0x50, /* 50 ms */
    .scan_window = 0x30,   /* 30 ms of it listening: Wi-Fi keeps the rest */
    .scan_duplicate = BLE_SCAN_DUPLICATE_DISABLE,
};

static void
on_gap(esp_gap_ble_cb_event_t event, esp_ble_gap_cb_param_t *param)
{
    switch (event) {
    case ESP_GAP_BLE_SCAN_PARAM_SET_COMPLETE_EVT:
        if (!paused)
            esp_ble_gap_start_scanning(0); /* 0: until stopped */
        break;
    case ESP_GAP_BLE_SCAN_RESULT_EVT:
        if (param->scan_rst.search_evt == ESP_GAP_SEARCH_INQ_RES_EVT)
            adverts++;
        break;
    case ESP_GAP_BLE_SCAN_STOP_COMPLETE_EVT:
        ESP_LOGI(TAG, "scan stopped after %lu adverts", adverts);
        break;
    default:
        break;
    }
}

/* Bluedroid's calls only post to its own task: safe, and quick, from otakit's. */
static void
pause_scan(void *user)
{
    (void)user;
    paused = true;
    esp_ble_gap_stop_scanning();
}

static void
resume_scan(void *user)
{
    (void)user;
    paused = false;
    esp_ble_gap_start_scanning(0);
}

esp_err_t
ble_scan_start(struct otk_lock_participant *p)
{
    esp_bt_controller_config_t bt = BT_CONTROLLER_INIT_CONFIG_DEFAULT();
    esp_err_t e;

    ESP_ERROR_CHECK(esp_bt_controller_mem_release(ESP_BT_MODE_CLASSIC_BT));
    if ((e = esp_bt_controller_init(&bt)) != ESP_OK ||
        (e = esp_bt_controller_enable(ESP_BT_MODE_BLE)) != ESP_OK ||
        (e = esp_bluedroid_init()) != ESP_OK || (e = esp_bluedroid_enable()) != ESP_OK ||
        (e = esp_ble_gap_register_callback(on_gap)) != ESP_OK)
        return e;
    p->name = "ble-scan";
    p->pause = pause_scan;
    p->resume = resume_scan;
    p->user = NULL;
    return esp_ble_gap_set_scan_params(&scan_params);
}
