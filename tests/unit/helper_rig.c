/* SPDX-License-Identifier: MIT */
/* The device engine on a test bench (see helper_rig.h). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_check.h"
#include "helper_rig.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct rig *r = user;

    r->events[ev->type]++;
    if (ev->type == OTK_EV_ERROR) {
        r->last_error = *ev;
        snprintf(r->last_error_text, sizeof r->last_error_text, "%s", ev->text);
    }
}

static void
on_reboot(void *user)
{
    struct rig *r = user;
    r->reboots++;
}

void
rig_opts_default(struct rig_opts *o, enum otk_profile p, enum otk_auth_variant v,
                 const char *password)
{
    memset(o, 0, sizeof *o);
    o->profile = p;
    o->auth = v;
    o->password = password;
    o->running_slot = 0;
    o->img_size = RIG_IMG_SIZE;
    o->version = "2.0.0";
    o->seed = 7;
}

struct rig *
rig_new_opts(const struct rig_opts *o)
{
    struct rig *r = calloc(1, sizeof *r);
    struct otk_dev_config cfg;
    struct otk_partition parts[8];
    struct otk_dev_hooks hooks = {on_event, on_reboot, NULL};
    uint32_t flash_size = otk_layout_default_flash_size(o->profile);
    int n;

    assert_non_null(r);
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = o->profile;
    cfg.auth = o->auth;
    cfg.rx_nudges = 3;
    cfg.running_slot = o->running_slot;
    n = otk_layout_default_parts(o->profile, parts, 8);
    assert_int_equal(otk_layout_from_parts(parts, n, flash_size, &cfg.layout), OTK_OK);
    cfg.layout.chip = o->chip;
    if (o->password && o->password[0])
        otk_proto_password_secret(otk_posix_crypto(), o->auth, o->password, strlen(o->password),
                                  cfg.secret);
    fakenet_init(&r->net);
    ramflash_init(&r->flash, flash_size);
    if (o->flash)
        ramflash_load(&r->flash, 0, o->flash, flash_size);
    hooks.user = r;
    assert_int_equal(otk_dev_init(&r->dev, &cfg, &r->net.ops, &r->flash.ops, otk_posix_crypto(),
                                  &hooks, r->sector),
                     OTK_OK);
    r->img_size = o->img_size;
    if (o->img_size) {
        r->img = malloc(o->img_size);
        assert_non_null(r->img);
        int chip = o->profile == OTK_PROFILE_ESP8266 ? OTK_CHIP_ESP8266 : o->chip;

        assert_int_equal(
            otk_imagegen_chip(chip, "test", o->version, o->img_size, o->seed, r->img, o->img_size),
            (int)o->img_size);
        otk_proto_md5_hex(otk_posix_crypto(), r->img, o->img_size, r->md5);
    }
    r->host = fakenet_addr("127.0.0.1", 40000);
    r->now = 1000;
    return r;
}

struct rig *
rig_new(enum otk_profile p, enum otk_auth_variant v, const char *password)
{
    struct rig_opts o;

    rig_opts_default(&o, p, v, password);
    return rig_new_opts(&o);
}

void
rig_free(struct rig *r)
{
    ramflash_free(&r->flash);
    free(r->img);
    free(r);
}

void
rig_send_dgram(struct rig *r, const struct otk_addr *from, const char *text)
{
    otk_dev_on_datagram(&r->dev, from, (const uint8_t *)text, strlen(text), r->now);
}

void
rig_invite(struct rig *r, uint32_t cmd, uint32_t size, const char *md5)
{
    char buf[100];

    otk_proto_format_invite(buf, sizeof buf, cmd, 48266, size, md5);
    rig_send_dgram(r, &r->host, buf);
}

void
rig_answer_challenge(struct rig *r, enum otk_auth_variant v, const char *password)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    const char *dg = fakenet_last_dgram(&r->net);
    size_t hl = otk_auth_hex_len(v);
    char secret[65], resp[65], cnonce[65], buf[200];
    size_t sl;

    assert_true(strncmp(dg, "AUTH ", 5) == 0);
    assert_int_equal(strlen(dg + 5), hl);
    memset(cnonce, 'c', hl);
    cnonce[hl] = '\0';
    sl = otk_proto_password_secret(c, v, password, strlen(password), secret);
    assert_int_equal(otk_proto_auth_response(c, v, secret, sl, dg + 5, hl, cnonce, hl, resp),
                     OTK_OK);
    otk_proto_format_auth(buf, sizeof buf, cnonce, resp, hl);
    rig_send_dgram(r, &r->host, buf);
}

void
rig_stream(struct rig *r, const uint8_t *data, uint32_t len, uint32_t chunk)
{
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    for (uint32_t off = 0; off < len && otk_dev_wants_data(&r->dev); off += chunk) {
        uint32_t n = len - off < chunk ? len - off : chunk;
        r->now += 1;
        assert_int_equal(otk_dev_on_tcp_data(&r->dev, data + off, n, r->now), n);
        for (int i = 0; r->idle_work && i < 64 && otk_dev_on_idle(&r->dev, r->now); i++)
            ;
    }
}

void
rig_run_ticks(struct rig *r, uint32_t until)
{
    uint32_t at;

    while (otk_dev_next_deadline(&r->dev, &at) && (int32_t)(at - until) <= 0) {
        r->now = at;
        otk_dev_tick(&r->dev, r->now);
    }
    r->now = until;
}

void
rig_restart(struct rig *r, int running_slot)
{
    struct otk_dev_config cfg = r->dev.cfg;
    struct otk_dev_hooks hooks = {on_event, on_reboot, r};

    cfg.running_slot = running_slot;
    ramflash_power_on(&r->flash);
    fakenet_init(&r->net);
    assert_int_equal(otk_dev_init(&r->dev, &cfg, &r->net.ops, &r->flash.ops, otk_posix_crypto(),
                                  &hooks, r->sector),
                     OTK_OK);
}

int
rig_boot_slot(struct rig *r)
{
    struct otk_slots_status st;
    assert_int_equal(otk_slots_read(&r->flash.ops, &r->dev.cfg.layout, &st), OTK_OK);
    return st.boot_slot;
}

bool
rig_upload(struct rig *r, uint32_t cmd, const uint8_t *data, uint32_t size, const char *password)
{
    char md5[33];
    int ends = r->events[OTK_EV_END];
    int reboots = r->reboots;

    otk_proto_md5_hex(otk_posix_crypto(), data, size, md5);
    rig_invite(r, cmd, size, md5);
    if (password)
        rig_answer_challenge(r, r->dev.cfg.auth, password);
    rig_run_ticks(r, r->now + 100);
    rig_stream(r, data, size, 1460);
    rig_run_ticks(r, r->now + 3000);
    return r->events[OTK_EV_END] == ends + 1 && r->reboots == reboots + 1;
}
