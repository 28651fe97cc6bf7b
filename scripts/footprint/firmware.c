/* SPDX-License-Identifier: MIT */
/* What a device firmware calls of otakit: boot-time slot selection, the engine fed from the
 * network stack (the ArduinoOTA server, ESPHome's native one, or both, as OTK_CFG_PROTO_* say),
 * and confirmation of a new image (checking its signature when OTK_CFG_SIGNED_IMAGES).
 * scripts/check-core links this with --gc-sections, as firmware is linked, to measure the bytes
 * of the core a device carries.
 * The ops tables and buffers are the port's (undefined here: the link only sizes the core). */
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/native.h"
#include "otakit/slots.h"

extern const struct otk_net_ops fw_net;
extern const struct otk_flash_ops fw_flash;
extern const struct otk_crypto_ops fw_crypto;
extern const struct otk_dev_config fw_config;
extern const struct otk_dev_hooks fw_hooks;
extern struct otk_dev fw_dev;
extern uint8_t fw_sector_buf[4096];
#if OTK_CFG_SIGNED_IMAGES
extern const struct otk_sig_key fw_trusted_key;
#endif
#if OTK_CFG_PROTO_NATIVE
extern struct otk_nat fw_nat;
extern const struct otk_nat_config fw_nat_config;
extern void fw_refuse_native(void);
#endif
#if OTK_CFG_NATIVE_DEFLATE
extern const struct otk_inflate_ops fw_inflate; /* the port's: ROM tinfl on an ESP32 */
extern uint8_t fw_inflate_mem[];
#endif

/* One event from the port: which entry point of the engine it reaches. */
struct fw_event {
    int kind;
    int status;
    struct otk_addr from;
    const uint8_t *data;
    size_t len;
    uint32_t now_ms;
};

extern int fw_next_event(struct fw_event *ev);

int
fw_main(void)
{
    struct fw_event ev;
    uint32_t at;
    bool rolled_back;
    int slot;

    if (otk_slots_boot(&fw_flash, &fw_config.layout, &slot, &rolled_back) != OTK_OK)
        return -1;
    if (otk_slots_confirm(&fw_flash, &fw_config.layout) != OTK_OK)
        return -1;
    if (otk_dev_init(&fw_dev, &fw_config, &fw_net, &fw_flash, &fw_crypto, &fw_hooks,
                     fw_sector_buf) != OTK_OK)
        return -1;
#if OTK_CFG_PROTO_NATIVE
    if (otk_dev_native_attach(&fw_dev, &fw_nat, &fw_nat_config) != OTK_OK)
        return -1;
#endif
#if OTK_CFG_NATIVE_DEFLATE
    if (otk_dev_native_set_inflater(&fw_dev, &fw_inflate, fw_inflate_mem, 48 * 1024) != OTK_OK)
        return -1;
#endif
#if OTK_CFG_SIGNED_IMAGES
    otk_dev_set_trusted_key(&fw_dev, &fw_trusted_key);
#endif
    while (fw_next_event(&ev)) {
        switch (ev.kind) {
#if OTK_CFG_PROTO_ARDUINO
        case 0:
            otk_dev_on_datagram(&fw_dev, &ev.from, ev.data, ev.len, ev.now_ms);
            break;
        case 1:
            otk_dev_on_connected(&fw_dev, ev.status, ev.now_ms);
            break;
        case 2:
            if (otk_dev_wants_data(&fw_dev))
                (void)otk_dev_on_tcp_data(&fw_dev, ev.data, ev.len, ev.now_ms);
            break;
        case 3:
            otk_dev_on_tcp_closed(&fw_dev, ev.now_ms);
            break;
#endif
#if OTK_CFG_PROTO_NATIVE
        case 4:
            if (!otk_dev_on_native_accept(&fw_dev, &ev.from, ev.now_ms))
                fw_refuse_native();
            break;
        case 5:
            (void)otk_dev_on_native_data(&fw_dev, ev.data, ev.len, ev.now_ms);
            break;
        case 6:
            otk_dev_on_native_closed(&fw_dev, ev.now_ms);
            break;
#endif
        default:
            if (!otk_dev_on_idle(&fw_dev, ev.now_ms) && otk_dev_next_deadline(&fw_dev, &at))
                otk_dev_tick(&fw_dev, ev.now_ms);
            break;
        }
    }
    return 0;
}
