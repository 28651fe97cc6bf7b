/* SPDX-License-Identifier: MIT */
/* The gateway's parts: Wi-Fi, and the two radio users that otakit's OTA lock pauses. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "esp_err.h"
#include "otakit/lock.h"

/** Connect to the configured network; returns once an address is assigned (or fails). */
esp_err_t wifi_connect(void);

/** Start a passive BLE scan; *p is its lock participant (stops and restarts the scan). */
esp_err_t ble_scan_start(struct otk_lock_participant *p);

/** Connect to the broker; *p is its lock participant (disconnects, and holds the heartbeat,
 *  while an update runs). */
esp_err_t mqtt_task_start(const char *uri, struct otk_lock_participant *p);

/** Publish one status message on gateway/ota (dropped while disconnected). */
void mqtt_task_status(const char *text);

#endif
