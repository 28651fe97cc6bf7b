/* SPDX-License-Identifier: MIT */
/* The gateway's MQTT client (esp-mqtt) and its heartbeat task. While an update runs the client
 * disconnects and the heartbeat holds: the broker traffic no longer competes with the image
 * for the radio and the CPU. */
#include <stdbool.h>
#include <stdio.h>

#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "mqtt_client.h"

#include "gateway.h"

static const char *TAG = "mqtt";
static esp_mqtt_client_handle_t client;
static volatile bool connected;
static volatile bool paused;

static void
on_mqtt(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)base;
    (void)data;
    if (id == MQTT_EVENT_CONNECTED)
        connected = true;
    else if (id == MQTT_EVENT_DISCONNECTED)
        connected = false;
}

static void
heartbeat(void *arg)
{
    unsigned long n = 0;

    (void)arg;
    for (;;) {
        vTaskDelay(pdMS_TO_TICKS(10000));
        if (paused || !connected)
            continue;
        char msg[32];
        snprintf(msg, sizeof msg, "%lu", ++n);
        esp_mqtt_client_publish(client, "gateway/heartbeat", msg, 0, 0, 0);
    }
}

/* esp_mqtt_client_disconnect/reconnect signal the client's own task: quick from otakit's. */
static void
pause_mqtt(void *user)
{
    (void)user;
    paused = true;
    esp_mqtt_client_disconnect(client);
}

static void
resume_mqtt(void *user)
{
    (void)user;
    paused = false;
    esp_mqtt_client_reconnect(client);
}

void
mqtt_task_status(const char *text)
{
    /* queued in the client's outbox (QoS 1), sent once it is connected again */
    if (client && esp_mqtt_client_enqueue(client, "gateway/ota", text, 0, 1, 0, true) < 0)
        ESP_LOGW(TAG, "status dropped: %s", text);
}

esp_err_t
mqtt_task_start(const char *uri, struct otk_lock_participant *p)
{
    const esp_mqtt_client_config_t cfg = {.broker.address.uri = uri};

    client = esp_mqtt_client_init(&cfg);
    if (client == NULL)
        return ESP_ERR_NO_MEM;
    esp_mqtt_client_register_event(client, ESP_EVENT_ANY_ID, on_mqtt, NULL);
    esp_err_t e = esp_mqtt_client_start(client);
    if (e != ESP_OK)
        return e;
    if (xTaskCreate(heartbeat, "heartbeat", 3072, NULL, 4, NULL) != pdPASS)
        return ESP_ERR_NO_MEM;
    p->name = "mqtt";
    p->pause = pause_mqtt;
    p->resume = resume_mqtt;
    p->user = NULL;
    return ESP_OK;
}
