/* SPDX-License-Identifier: MIT */
/* otakit on ESP-IDF: one device instance, its memory static (the core needs no heap), wired to
 * lwIP sockets (src/port/bsd), esp_partition flash, mbedTLS crypto with the hardware RNG, the
 * esp_timer clock and the OTA lock. */
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"

#include "bsd_net.h"
#include "crypto_mbedtls.h"
#include "idf_port.h"
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/esp_idf.h"
#include "otakit/image.h"
#if OTK_CFG_PROTO_NATIVE
#include "otakit/native.h"
#endif

/* The component's Kconfig defaults, for a build without its Kconfig (arduino-esp32's prebuilt
 * sdkconfig: the Arduino library, src/port/arduino). */
#ifndef CONFIG_OTAKIT_PORT
#define CONFIG_OTAKIT_PORT 3232
#endif
#ifndef CONFIG_OTAKIT_TASK_STACK
#define CONFIG_OTAKIT_TASK_STACK 6144
#endif
#ifndef CONFIG_OTAKIT_TASK_PRIORITY
#define CONFIG_OTAKIT_TASK_PRIORITY 5
#endif

#define REBOOT_DELAY_MS 500u /* the uploader reads the final "OK" before the restart */

static const char *TAG = "otakit";

static struct {
    bool ready;
    otakit_config_t cfg;
    struct otk_idf_flash flash;
    struct otk_bsdnet net;
    struct otk_dev dev;
    struct otk_lock lock;
#if OTK_CFG_PROTO_NATIVE
    struct otk_nat nat;
#endif
    bool reboot_due;
    uint32_t reboot_at;
    TaskHandle_t task;
    uint8_t sector[OTK_SECTOR_SIZE];
} s;

uint32_t
otk_idf_now_ms(void)
{
    return (uint32_t)(esp_timer_get_time() / 1000);
}

int
otk_port_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    esp_fill_random(buf, len); /* the hardware RNG: secure while the radio runs (Wi-Fi is up) */
    return OTK_OK;
}

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    (void)user;
    otk_lock_on_dev_event(&s.lock, ev, otk_idf_now_ms());
    if (s.cfg.on_event)
        s.cfg.on_event(s.cfg.user, ev);
    if (ev->type == OTK_EV_ERROR)
        ESP_LOGW(TAG, "update failed: %s", ev->text ? ev->text : "");
}

static void
on_reboot(void *user)
{
    (void)user;
    if (!s.cfg.reboot_on_success) {
        ESP_LOGI(TAG, "new image active; it runs after the next restart");
        return;
    }
    s.reboot_due = true;
    s.reboot_at = otk_idf_now_ms() + REBOOT_DELAY_MS;
}

/* ESP-IDF owns the boot choice: esp_ota_set_boot_partition() verifies the image as its
 * bootloader will (with secure boot, the signature too) and writes the otadata record (state
 * NEW with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, else UNDEFINED). */
static int
activate(void *user, uint32_t app_offset)
{
    struct otk_idf_flash *f = user;

    for (int i = 1; i <= 2; i++) {
        if (f->parts[i]->address == app_offset) {
            esp_err_t e = esp_ota_set_boot_partition(f->parts[i]);
            if (e != ESP_OK)
                ESP_LOGW(TAG, "esp_ota_set_boot_partition: %s", esp_err_to_name(e));
            return e == ESP_OK ? OTK_OK : OTK_ERR_IMAGE;
        }
    }
    return OTK_ERR_ARG;
}

/* The slot the core counts as running. From a factory partition (neither ota_0 nor ota_1) the
 * update goes where esp_ota_get_next_update_partition() would put it, so the running slot is
 * the other one. */
static int
running_slot(const struct otk_layout *l)
{
    const esp_partition_t *run = esp_ota_get_running_partition();
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);

    for (int i = 0; i < 2; i++) {
        if (run && run->address == l->app_offset[i])
            return i;
    }
    return next && next->address == l->app_offset[0] ? 1 : 0;
}

/* The chip this firmware is built for, as esptool writes it into the header of every image
 * built for this target (sdkconfig: CONFIG_IDF_FIRMWARE_CHIP_ID): updates must carry the same.
 * A build whose sdkconfig.h lacks that option (one assembled by hand) names the target only. */
#if defined(CONFIG_IDF_FIRMWARE_CHIP_ID)
#define BUILD_CHIP ((uint16_t)CONFIG_IDF_FIRMWARE_CHIP_ID)
#elif CONFIG_IDF_TARGET_ESP32
#define BUILD_CHIP OTK_CHIP_ESP32
#elif CONFIG_IDF_TARGET_ESP32S2
#define BUILD_CHIP OTK_CHIP_ESP32S2
#elif CONFIG_IDF_TARGET_ESP32S3
#define BUILD_CHIP OTK_CHIP_ESP32S3
#elif CONFIG_IDF_TARGET_ESP32C2
#define BUILD_CHIP OTK_CHIP_ESP32C2
#elif CONFIG_IDF_TARGET_ESP32C3
#define BUILD_CHIP OTK_CHIP_ESP32C3
#elif CONFIG_IDF_TARGET_ESP32C5
#define BUILD_CHIP OTK_CHIP_ESP32C5
#elif CONFIG_IDF_TARGET_ESP32C6
#define BUILD_CHIP OTK_CHIP_ESP32C6
#elif CONFIG_IDF_TARGET_ESP32C61
#define BUILD_CHIP OTK_CHIP_ESP32C61
#elif CONFIG_IDF_TARGET_ESP32H2
#define BUILD_CHIP OTK_CHIP_ESP32H2
#elif CONFIG_IDF_TARGET_ESP32P4
#define BUILD_CHIP OTK_CHIP_ESP32P4
#else
#define BUILD_CHIP 0xFFFF /* unknown: chip_supported() refuses to start */
#endif

/* The core checks an image against its chip's memory map; a target whose map it does not
 * carry (a chip newer than otakit) would refuse every image, so say so at once. */
static bool
chip_supported(void)
{
    if (otk_image_chip_known(BUILD_CHIP))
        return true;
    ESP_LOGE(TAG,
             "%s (image chip id %d): otakit knows no memory map for this chip, every image would "
             "be refused as 'Image For Another Chip'",
             CONFIG_IDF_TARGET, (int)BUILD_CHIP);
    return false;
}

static esp_err_t
init_engine(const otakit_config_t *cfg)
{
    struct otk_dev_config dc;
    const struct otk_dev_hooks hooks = {.on_event = on_event, .reboot = on_reboot, .user = NULL};
    const struct otk_lock_config lc = {
        .on_progress = cfg->on_progress, .on_result = cfg->on_result, .user = cfg->user};

    memset(&dc, 0, sizeof dc);
    if (otk_idf_flash_open(&s.flash, &dc.layout) != OTK_OK) {
        ESP_LOGE(TAG, "the partition table needs otadata, ota_0 and ota_1");
        return ESP_ERR_NOT_FOUND;
    }
    dc.profile = OTK_PROFILE_ESP32;
    dc.layout.chip = BUILD_CHIP;
    dc.auth = cfg->auth;
    dc.running_slot = running_slot(&dc.layout);
    dc.rx_nudges = 3;
    if (cfg->password_hash && cfg->password_hash[0]) {
        if (strlen(cfg->password_hash) >= sizeof dc.secret)
            return ESP_ERR_INVALID_ARG;
        strcpy(dc.secret, cfg->password_hash);
    } else if (cfg->password && cfg->password[0]) {
        otk_proto_password_secret(otk_mbedtls_crypto(), cfg->auth, cfg->password,
                                  strlen(cfg->password), dc.secret);
    }
    otk_lock_init(&s.lock, &lc);
    if (otk_dev_init(&s.dev, &dc, otk_bsdnet_ops(&s.net), &s.flash.ops, otk_mbedtls_crypto(),
                     &hooks, s.sector) != OTK_OK)
        return ESP_ERR_INVALID_ARG;
    otk_dev_set_activate(&s.dev, activate, &s.flash);
#if OTK_CFG_SIGNED_IMAGES
    otk_dev_set_trusted_key(&s.dev, cfg->trusted_key);
#endif
    otk_bsdnet_attach(&s.net, &s.dev);
    return ESP_OK;
}

#if OTK_CFG_PROTO_NATIVE
/* ESPHome's native protocol on a TCP socket with the UDP port's number. */
static esp_err_t
init_native(const otakit_config_t *cfg)
{
    struct otk_nat_config nc;

    if (cfg->password_hash && cfg->password_hash[0] && !(cfg->password && cfg->password[0])) {
        /* its challenge needs the password itself: without it, it would be served without one */
        ESP_LOGW(TAG, "native protocol off: it needs the password, not its hash");
        return ESP_OK;
    }
    memset(&nc, 0, sizeof nc);
    if (cfg->password && strlen(cfg->password) >= sizeof nc.password)
        return ESP_ERR_INVALID_ARG;
    if (cfg->password)
        strcpy(nc.password, cfg->password);
    if (cfg->native_key) {
        memcpy(nc.key, cfg->native_key, sizeof nc.key);
        nc.noise = cfg->native_require_key ? OTK_NAT_NOISE_REQUIRED : OTK_NAT_NOISE_OFFERED;
    }
    int rc = otk_bsdnet_listen_native(&s.net);
    if (rc != OTK_OK) {
        ESP_LOGE(TAG, "cannot listen on TCP %u: %s", (unsigned)otk_bsdnet_port(&s.net),
                 otk_strerror(rc));
        return ESP_FAIL;
    }
    if (otk_dev_native_attach(&s.dev, &s.nat, &nc) != OTK_OK)
        return ESP_ERR_INVALID_ARG;
#if OTK_CFG_NATIVE_DEFLATE
    if (cfg->native_inflate) {
        const struct otk_inflate_ops *inflate = otk_idf_inflate();
        /* lent to the engine for good: a compressed update may come at any time */
        void *mem = malloc(inflate->state_size);

        if (!mem) {
            ESP_LOGE(TAG, "no %u bytes for the inflater", (unsigned)inflate->state_size);
            return ESP_ERR_NO_MEM;
        }
        if (otk_dev_native_set_inflater(&s.dev, inflate, mem, inflate->state_size) != OTK_OK) {
            free(mem);
            return ESP_ERR_INVALID_ARG;
        }
    }
#endif
    return ESP_OK;
}
#endif

esp_err_t
otakit_init(const otakit_config_t *cfg)
{
    if (s.ready)
        return ESP_ERR_INVALID_STATE;
    if (cfg == NULL)
        return ESP_ERR_INVALID_ARG;
    if (!chip_supported())
        return ESP_ERR_NOT_SUPPORTED;
    s.cfg = *cfg;
    uint16_t port = cfg->port ? cfg->port : (uint16_t)CONFIG_OTAKIT_PORT;
    int rc = otk_bsdnet_open(&s.net, port, otk_idf_now_ms);
    if (rc != OTK_OK) {
        ESP_LOGE(TAG, "cannot bind UDP port %u: %s", (unsigned)port, otk_strerror(rc));
        return ESP_FAIL;
    }
    esp_err_t e = init_engine(cfg);
#if OTK_CFG_PROTO_NATIVE
    if (e == ESP_OK && cfg->native)
        e = init_native(cfg);
#endif
    if (e != ESP_OK) {
        otk_bsdnet_close(&s.net);
        return e;
    }
    s.ready = true;
    ESP_LOGI(TAG, "ArduinoOTA on UDP %u, running slot %d", (unsigned)port, s.dev.cfg.running_slot);
    if (cfg->mdns) {
        e = otk_idf_mdns_advertise(port, cfg->password && cfg->password[0]);
        if (e != ESP_OK) /* the update itself works without it: say so, go on */
            ESP_LOGW(TAG, "no _arduino._tcp in mDNS: %s", esp_err_to_name(e));
    }
    return ESP_OK;
}

esp_err_t
otakit_register(struct otk_lock_participant *p)
{
    int rc = otk_lock_register(&s.lock, p);
    if (rc == OTK_ERR_NOSPACE)
        return ESP_ERR_NO_MEM;
    return rc == OTK_OK ? ESP_OK : ESP_ERR_INVALID_ARG;
}

void
otakit_loop(uint32_t max_wait_ms)
{
    uint32_t at;

    if (!s.ready)
        return;
    if (otk_lock_next_deadline(&s.lock, &at)) {
        int32_t left = (int32_t)(at - otk_idf_now_ms());
        if (left < (int32_t)max_wait_ms)
            max_wait_ms = left > 0 ? (uint32_t)left : 0u;
    }
    otk_bsdnet_step(&s.net, s.reboot_due ? 20u : max_wait_ms);
    uint32_t now = otk_idf_now_ms();
    otk_lock_tick(&s.lock, now);
    if (s.reboot_due && (int32_t)(now - s.reboot_at) >= 0) {
        otk_bsdnet_close(&s.net);
        esp_restart();
    }
}

static void
otakit_task(void *arg)
{
    (void)arg;
    for (;;)
        otakit_loop(1000);
}

esp_err_t
otakit_start_task(void)
{
    if (!s.ready)
        return ESP_ERR_INVALID_STATE;
    if (s.task)
        return ESP_OK;
    if (xTaskCreate(otakit_task, "otakit", CONFIG_OTAKIT_TASK_STACK, NULL,
                    CONFIG_OTAKIT_TASK_PRIORITY, &s.task) != pdPASS)
        return ESP_ERR_NO_MEM;
    return ESP_OK;
}

esp_err_t
otakit_confirm(void)
{
    esp_ota_img_states_t st;
    const esp_partition_t *run = esp_ota_get_running_partition();

    /* Only an image in PENDING_VERIFY has anything to confirm; a factory app, or one booted
     * without rollback support, has no otadata state to change. */
    if (run == NULL || esp_ota_get_state_partition(run, &st) != ESP_OK ||
        st != ESP_OTA_IMG_PENDING_VERIFY)
        return ESP_OK;
    return esp_ota_mark_app_valid_cancel_rollback();
}

bool
otakit_update_running(void)
{
    return s.ready && otk_lock_running(&s.lock);
}
