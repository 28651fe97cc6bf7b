/* SPDX-License-Identifier: MIT */
/* The core's flash ops on esp_partition_*: the core speaks absolute flash offsets, each is
 * mapped onto the one partition of the layout that holds it (otadata, ota_0, ota_1, the data
 * partition of filesystem updates); anything else - the bootloader, the partition table, NVS,
 * the running app - is out of reach and fails. Going through the partition API keeps flash
 * encryption and the partition's write protection in ESP-IDF's hands. */
#include <string.h>

#include "esp_flash.h"
#include "esp_partition.h"

#include "idf_port.h"
#include "otakit/err.h"

static const esp_partition_t *
part_of(struct otk_idf_flash *f, uint32_t addr, size_t len, size_t *off)
{
    for (int i = 0; i < OTK_IDF_PARTS; i++) {
        const esp_partition_t *p = f->parts[i];
        if (p && addr >= p->address && addr - p->address <= p->size &&
            len <= p->size - (addr - p->address)) {
            *off = addr - p->address;
            return p;
        }
    }
    return NULL;
}

static int
idf_read(void *user, uint32_t addr, void *buf, size_t len)
{
    size_t off;
    const esp_partition_t *p = part_of(user, addr, len, &off);
    return p && esp_partition_read(p, off, buf, len) == ESP_OK ? OTK_OK : OTK_ERR_FLASH;
}

static int
idf_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    size_t off;
    const esp_partition_t *p = part_of(user, addr, len, &off);
    return p && esp_partition_write(p, off, buf, len) == ESP_OK ? OTK_OK : OTK_ERR_FLASH;
}

static int
idf_erase(void *user, uint32_t addr, uint32_t len)
{
    size_t off;
    const esp_partition_t *p = part_of(user, addr, len, &off);
    return p && esp_partition_erase_range(p, off, len) == ESP_OK ? OTK_OK : OTK_ERR_FLASH;
}

int
otk_idf_flash_open(struct otk_idf_flash *f, struct otk_layout *l)
{
    uint32_t size = 0;

    memset(f, 0, sizeof *f);
    memset(l, 0, sizeof *l);
    f->parts[0] =
        esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
    f->parts[1] =
        esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_0, NULL);
    f->parts[2] =
        esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_1, NULL);
    f->parts[3] =
        esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_SPIFFS, NULL);
    if (!f->parts[0] || !f->parts[1] || !f->parts[2])
        return OTK_ERR_NOTFOUND;
    if (esp_flash_get_size(NULL, &size) != ESP_OK)
        return OTK_ERR_FLASH;
    l->flash_size = size;
    l->otadata_offset = f->parts[0]->address;
    for (int s = 0; s < 2; s++) {
        l->app_offset[s] = f->parts[1 + s]->address;
        l->app_size[s] = f->parts[1 + s]->size;
    }
    if (f->parts[3]) {
        l->fs_offset = f->parts[3]->address;
        l->fs_size = f->parts[3]->size;
    }
    f->ops.read = idf_read;
    f->ops.write = idf_write;
    f->ops.erase = idf_erase;
    f->ops.user = f;
    return OTK_OK;
}
