/* SPDX-License-Identifier: MIT */
/* Inside the ESP-IDF port: the flash ops on esp_partition_* and the clock. */
#ifndef OTK_IDF_PORT_H
#define OTK_IDF_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "esp_err.h"
#include "esp_partition.h"
#include "otakit/layout.h"
#include "otakit/port.h"

#define OTK_IDF_PARTS 4 /* otadata, ota_0, ota_1, the filesystem's data partition */

struct otk_idf_flash {
    const esp_partition_t *parts[OTK_IDF_PARTS];
    struct otk_flash_ops ops;
};

/** Find otadata, ota_0, ota_1 (and a spiffs data partition for filesystem updates) and fill the
 *  layout. @return OTK_OK, OTK_ERR_NOTFOUND (no otadata or no two OTA slots), OTK_ERR_FLASH. */
int otk_idf_flash_open(struct otk_idf_flash *f, struct otk_layout *l);

/** The inflater for compressed updates on the ROM's tinfl (no flash cost); ->state_size bytes
 *  (about 43 KB: tinfl's tables and its 32 KB window) come from the caller. */
const struct otk_inflate_ops *otk_idf_inflate(void);

/** Milliseconds since boot from esp_timer (wrapping, as the core expects). */
uint32_t otk_idf_now_ms(void);

/** Publish _arduino._tcp on port (auth_upload from password) through ESP-IDF's mdns component;
 *  ESP_ERR_NOT_SUPPORTED when built without CONFIG_OTAKIT_MDNS. The app started mdns. */
esp_err_t otk_idf_mdns_advertise(uint16_t port, bool password);

#endif
