/* SPDX-License-Identifier: MIT */
/* The emulated device's mDNS advertisement (see mdns_adv.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdns_adv.h"
#include "otakit/err.h"
#include "otakit/posix.h"

void
otk_mdns_adv_default_name(enum otk_profile profile, const char *flash_path, char *out, size_t cap)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    union otk_hash_ctx h;
    uint8_t d[16];
    char cwd[PATH_MAX];

    c->md5_start(&h);
    if (flash_path[0] != '/' && getcwd(cwd, sizeof cwd)) {
        c->md5_update(&h, cwd, strlen(cwd));
        c->md5_update(&h, "/", 1);
    }
    c->md5_update(&h, flash_path, strlen(flash_path));
    c->md5_finish(&h, d);
    snprintf(out, cap, "%s-%02x%02x%02x", profile == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32",
             d[0], d[1], d[2]);
}

int
otk_mdns_adv_start(struct otk_mdns_adv *a, const char *name, enum otk_profile profile,
                   bool password, const char *bind_addr, uint16_t port,
                   void (*log)(void *user, const char *text), void *user, char *err, size_t errcap)
{
    uint8_t txt[128];
    size_t tl = 0;
    struct otk_mdns_responder_cfg rc = {
        .instance = name,
        .host = name,
        .service = "_arduino._tcp",
        .bind_addr = bind_addr,
        .port = port,
        .txt = txt,
        .log = log,
        .user = user,
    };

    a->on = false;
    /* the keys and values of MDNS.enableArduino() (docs/PROTOCOL.md, mDNS) */
    if (otk_dns_txt_add(txt, sizeof txt, &tl, "board",
                        profile == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32") != OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "tcp_check", "no") != OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "ssh_upload", "no") != OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "auth_upload", password ? "yes" : "no") != OTK_OK) {
        snprintf(err, errcap, "TXT record does not fit");
        return OTK_ERR_NOSPACE;
    }
    rc.txt_len = tl;
    int r = otk_mdns_responder_open(&a->r, &rc, otk_posix_now_ms(), err, errcap);
    a->on = r == OTK_OK;
    return r;
}

/* An ESPHome device's MAC in its TXT: the emulator's, derived from the name (locally
 * administered, so it never clashes with a real chip's). */
static void
fake_mac(const char *name, char *out)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    union otk_hash_ctx h;
    uint8_t d[16];

    c->md5_start(&h);
    c->md5_update(&h, name, strlen(name));
    c->md5_finish(&h, d);
    d[0] = (uint8_t)((d[0] & 0xfc) | 0x02);
    otk_hex(d, 6, out);
}

int
otk_mdns_adv_start_esphome(struct otk_mdns_adv *a, const char *name, enum otk_profile profile,
                           bool encrypted, const char *bind_addr, uint16_t port,
                           void (*log)(void *user, const char *text), void *user, char *err,
                           size_t errcap)
{
    uint8_t txt[256];
    size_t tl = 0;
    char mac[13];
    bool esp8266 = profile == OTK_PROFILE_ESP8266;
    struct otk_mdns_responder_cfg rc = {
        .instance = name,
        .host = name,
        .service = "_esphomelib._tcp",
        .bind_addr = bind_addr,
        .port = port,
        .txt = txt,
        .log = log,
        .user = user,
    };
    int r;

    a->esphome_on = false;
    fake_mac(name, mac);
    /* in the order of ESPHome's mdns_component.cpp; project_* name what the firmware is */
    if (otk_dns_txt_add(txt, sizeof txt, &tl, "version", OTK_MDNS_ESPHOME_VERSION) != OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "mac", mac) != OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "platform", esp8266 ? "ESP8266" : "ESP32") !=
            OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "board", esp8266 ? "esp01_1m" : "esp32dev") !=
            OTK_OK ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "network", "wifi") != OTK_OK ||
        (encrypted && otk_dns_txt_add(txt, sizeof txt, &tl, "api_encryption",
                                      "Noise_NNpsk0_25519_ChaChaPoly_SHA256") != OTK_OK) ||
        otk_dns_txt_add(txt, sizeof txt, &tl, "project_name", "otakit.device") != OTK_OK) {
        snprintf(err, errcap, "TXT record does not fit");
        return OTK_ERR_NOSPACE;
    }
    rc.txt_len = tl;
    r = otk_mdns_responder_open(&a->r2, &rc, otk_posix_now_ms(), err, errcap);
    a->esphome_on = r == OTK_OK;
    return r;
}

int
otk_mdns_adv_pollfds(struct otk_mdns_adv *a, struct pollfd *pfds, int *timeout_ms, uint32_t now)
{
    struct otk_mdns_responder *rs[2] = {a->on ? &a->r : NULL, a->esphome_on ? &a->r2 : NULL};
    int n = 0;

    for (int k = 0; k < 2; k++) {
        int32_t t;

        if (!rs[k])
            continue;
        pfds[n].fd = otk_mdns_responder_fd(rs[k]);
        pfds[n].events = POLLIN;
        pfds[n].revents = 0;
        n++;
        t = otk_mdns_responder_next_ms(rs[k], now);
        if (t >= 0 && (*timeout_ms < 0 || t < *timeout_ms))
            *timeout_ms = (int)t;
    }
    return n;
}

static void
process_one(struct otk_mdns_responder *r, const struct pollfd *pfds, int n, uint32_t now)
{
    bool readable = false;

    for (int i = 0; i < n; i++)
        if (pfds[i].fd == otk_mdns_responder_fd(r))
            readable = (pfds[i].revents & POLLIN) != 0;
    otk_mdns_responder_process(r, readable, now);
}

void
otk_mdns_adv_process(struct otk_mdns_adv *a, const struct pollfd *pfds, int n, uint32_t now)
{
    if (a->on)
        process_one(&a->r, pfds, n, now);
    if (a->esphome_on)
        process_one(&a->r2, pfds, n, now);
}

void
otk_mdns_adv_stop(struct otk_mdns_adv *a)
{
    if (a->on)
        otk_mdns_responder_close(&a->r);
    if (a->esphome_on)
        otk_mdns_responder_close(&a->r2);
    a->on = false;
    a->esphome_on = false;
}
