/* SPDX-License-Identifier: MIT */
/* The ArduinoOTA service in mDNS through ESP-IDF's mdns component (espressif/mdns), when the app
 * has it and turns on CONFIG_OTAKIT_MDNS: the record the Arduino IDE and PlatformIO look for,
 * as arduino-esp32's MDNS.enableArduino() publishes it. The app owns the responder (mdns_init,
 * the hostname); otakit only adds its service. */
#include <stdbool.h>
#include <stdint.h>

#include "esp_err.h"
#include "sdkconfig.h"

#include "idf_port.h"

#if CONFIG_OTAKIT_MDNS
#include "mdns.h"

esp_err_t
otk_idf_mdns_advertise(uint16_t port, bool password)
{
    mdns_txt_item_t txt[] = {
        {"board", CONFIG_IDF_TARGET},
        {"tcp_check", "no"},
        {"ssh_upload", "no"},
        {"auth_upload", password ? "yes" : "no"},
    };

    if (mdns_service_exists("_arduino", "_tcp", NULL))
        return mdns_service_port_set("_arduino", "_tcp", port);
    return mdns_service_add(NULL, "_arduino", "_tcp", port, txt, sizeof txt / sizeof txt[0]);
}
#else
esp_err_t
otk_idf_mdns_advertise(uint16_t port, bool password)
{
    (void)port;
    (void)password;
    return ESP_ERR_NOT_SUPPORTED; /* built without CONFIG_OTAKIT_MDNS */
}
#endif
