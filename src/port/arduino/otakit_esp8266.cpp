/* SPDX-License-Identifier: MIT */
/* OtaKit on the ESP8266 Arduino core: otakit's engine on WiFiUDP (the invitation),
 * WiFiClient (the connection back to the uploader), WiFiServer (ESPHome's native protocol on
 * the same port number) and the flash API. The chip has no A/B slots, so the image is staged
 * as the core's Updater stages it: at the end of the free space after the sketch, then an eboot
 * command makes the bootloader copy it over the sketch at the next boot; a filesystem image is
 * written straight into the FS area. The engine sees the free space as its second slot and
 * writes from its start; the flash ops below move a U_FLASH update's addresses to the end of
 * that space (the core stays as it is: no layout of its own for this). What otakit adds over
 * ArduinoOTA there: the image's checksum and chip checked before eboot is told to copy it, the
 * native protocol, the lock, the throttle, the error texts. What it cannot: roll back (once
 * eboot has copied, the old sketch is gone) - docs/DEVICE.md, "Arduino". */
#if defined(ARDUINO_ARCH_ESP8266)

#include <Arduino.h>
#include <ESP8266WiFi.h>
#include <ESP8266mDNS.h>
#include <WiFiUdp.h>
#include <eboot_command.h>
#include <flash_hal.h>
#include <string.h>

#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/lock.h"
#include "otakit/native.h"
#include "otakit/proto.h"
#include "otakit_arduino.h"
#include "otakit_esp8266.h"

#define FLASH_BASE    0x40200000u /* where the flash is mapped: FS_start is an address there */
#define PUMP_BYTES    16384u      /* TCP bytes one handle() passes on: loop() stays lively */
#define RX_CHUNK      1460u
#define DGRAM_MAX     300u /* an invitation: "0 8266 1234567 " + 32 hex, or an answer */
#define FLASH_MODE_AT 2u   /* the image header's flash mode byte */

static struct {
    OtaKitClass *kit;
    bool reboot_on_success;
    bool mdns;
    WiFiUDP udp;
    WiFiClient tcp; /* ArduinoOTA: the connection back to the uploader */
    bool tcp_open;
    bool connect_due;
    struct otk_addr connect_to;
    WiFiServer server{0}; /* the native protocol's listening socket */
    bool native;
    WiFiClient natc;
    bool nat_open;
    uint8_t rx[RX_CHUNK];
    size_t rx_len, rx_off; /* bytes the engine has not taken yet */
    struct otk_dev dev;
    struct otk_lock lock;
#if OTK_CFG_PROTO_NATIVE
    struct otk_nat nat;
#endif
    struct otk_flash_ops flash;
    struct otk_net_ops net;
    uint32_t image_size; /* the update's announced size (START) */
    uint32_t stage_at;   /* where a U_FLASH image is staged (0: no U_FLASH update) */
    uint32_t slot_at;    /* the free space as the engine sees it: [slot_at, space_end) */
    uint32_t space_end;  /* the filesystem's start: nothing at or past it is an image's */
    bool reboot_due;
    bool settling; /* from the end event to the engine's reboot call */
    uint8_t sector[OTK_SECTOR_SIZE];
} P;

/* ---- flash: the core's ESP.flash* calls (4 KB sectors; the chip has no faster block erase
 * through them) ---- */

/* The engine writes a U_FLASH image from the start of the free space (its slot 1); Updater
 * puts it at the end, so that the space between stays untouched: move it there. */
static uint32_t
staged(uint32_t addr)
{
    if (P.stage_at && addr >= P.slot_at && addr < P.space_end)
        return addr + (P.stage_at - P.slot_at);
    return addr;
}

/* Past the staged image's last sector lies the filesystem: an erase unit the engine takes
 * beyond its image (a whole 64 KB block at the tail) is cut there. */
static uint32_t
clip(uint32_t addr, uint32_t len)
{
    if (!P.stage_at || addr + len <= P.space_end || addr < P.slot_at)
        return len;
    return addr < P.space_end ? P.space_end - addr : 0;
}

static int
flash_read(void *user, uint32_t addr, void *buf, size_t len)
{
    (void)user;
    return ESP.flashRead(staged(addr), (uint8_t *)buf, len) ? OTK_OK : OTK_ERR_FLASH;
}

/* Updater::_writeBuffer() writes the header's flash mode as the chip runs it (the image may
 * have been built for another mode, and eboot copies the header as it is); the MD5 and the
 * image checksum do not cover that byte. */
static int
flash_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    const uint8_t *b = (const uint8_t *)buf;

    (void)user;
    addr = staged(addr);
    if (addr == P.stage_at && P.stage_at && len > FLASH_MODE_AT && b[0] == 0xE9) {
        uint8_t head[4];

        memcpy(head, b, sizeof head);
        head[FLASH_MODE_AT] = (uint8_t)ESP.getFlashChipMode();
        if (!ESP.flashWrite(addr, head, sizeof head))
            return OTK_ERR_FLASH;
        if (len == sizeof head)
            return OTK_OK;
        return ESP.flashWrite(addr + 4, b + 4, len - 4) ? OTK_OK : OTK_ERR_FLASH;
    }
    return ESP.flashWrite(addr, b, len) ? OTK_OK : OTK_ERR_FLASH;
}

static int
flash_erase(void *user, uint32_t addr, uint32_t len)
{
    (void)user;
    addr = staged(addr);
    len = clip(addr, len);
    for (uint32_t a = addr; a < addr + len; a += OTK_SECTOR_SIZE) {
        if (!ESP.flashEraseSector(a / OTK_SECTOR_SIZE))
            return OTK_ERR_FLASH;
    }
    return OTK_OK;
}

/* The last step of a good update: tell eboot to copy the staged image over the sketch at the
 * next boot (Updater::end(), U_FLASH). The core has checked the MD5 and the image by now. */
static int
activate(void *user, uint32_t app_offset)
{
    struct eboot_command cmd;

    (void)user;
    memset(&cmd, 0, sizeof cmd);
    cmd.action = ACTION_COPY_RAW;
    cmd.args[0] = staged(app_offset);
    cmd.args[1] = 0;
    cmd.args[2] = P.image_size;
    eboot_command_write(&cmd);
    return OTK_OK;
}

/* The sketch from 0 as slot 0, the free space after it up to the filesystem as slot 1, the
 * filesystem. The chip has no otadata: the engine reads the first two sectors (eboot's) where
 * it looks for one, finds no valid record and writes none (the activate hook below boots the
 * image), so otadata_offset stays 0. */
static void
esp8266_layout(struct otk_layout *l)
{
    uint32_t sketch_end = (ESP.getSketchSize() + OTK_SECTOR_SIZE - 1) & ~(OTK_SECTOR_SIZE - 1);
    uint32_t fs_at = (uint32_t)FS_start - FLASH_BASE;

    memset(l, 0, sizeof *l);
    l->flash_size = ESP.getFlashChipRealSize();
    l->app_offset[0] = 0;
    l->app_size[0] = sketch_end;
    l->app_offset[1] = sketch_end;
    l->app_size[1] = fs_at > sketch_end ? fs_at - sketch_end : 0;
    l->fs_offset = fs_at;
    l->fs_size = (uint32_t)(FS_end - FS_start);
}

/* ---- network ---- */

static void
to_addr(const IPAddress &ip, uint16_t port, struct otk_addr *a)
{
    memset(a, 0, sizeof *a);
    a->family = 4;
    for (int i = 0; i < 4; i++)
        a->ip[i] = ip[i];
    a->port = port;
}

static IPAddress
from_addr(const struct otk_addr *a)
{
    return IPAddress(a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
}

static int
udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    (void)user;
    if (!P.udp.beginPacket(from_addr(to), to->port))
        return OTK_ERR_IO;
    P.udp.write((const uint8_t *)buf, len);
    return P.udp.endPacket() ? OTK_OK : OTK_ERR_IO;
}

/* The connect blocks on this core: it runs in handle(), after the engine returned. */
static int
tcp_connect(void *user, const struct otk_addr *to)
{
    (void)user;
    P.connect_to = *to;
    P.connect_due = true;
    return OTK_OK;
}

static int
tcp_send(void *user, const void *buf, size_t len)
{
    (void)user;
    if (!P.tcp_open)
        return OTK_ERR_IO;
    return P.tcp.write((const uint8_t *)buf, len) == len ? OTK_OK : OTK_ERR_IO;
}

static void
tcp_close(void *user)
{
    (void)user;
    P.tcp.stop(); /* flushes what was written first */
    P.tcp_open = false;
    P.rx_len = P.rx_off = 0;
}

static int
nat_send(void *user, const void *buf, size_t len)
{
    (void)user;
    if (!P.nat_open)
        return OTK_ERR_IO;
    return P.natc.write((const uint8_t *)buf, len) == len ? OTK_OK : OTK_ERR_IO;
}

static void
nat_close(void *user)
{
    (void)user;
    P.natc.stop();
    P.nat_open = false;
}

/* ---- events ---- */

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    (void)user;
    if (ev->type == OTK_EV_START) {
        /* before the engine's first flash operation on the image: Updater's place for it, the
         * end of the free space (the engine has checked that it fits) */
        uint32_t rounded = (ev->total + OTK_SECTOR_SIZE - 1) & ~(OTK_SECTOR_SIZE - 1);
        P.image_size = ev->total;
        P.stage_at = ev->cmd == OTK_CMD_FLASH ? P.space_end - rounded : 0;
    }
    if (ev->type == OTK_EV_END)
        P.settling = true;
    otk_lock_on_dev_event(&P.lock, ev, millis());
    P.kit->_event(ev->type, ev->cmd, ev->bytes, ev->total, ev->ota_error, ev->text);
}

static void
on_reboot(void *user)
{
    (void)user;
    P.reboot_due = true;
    P.settling = false;
}

void
otk_arduino_log(const char *what, const char *detail)
{
    Serial.printf("[otakit] %s%s\n", what, detail ? detail : "");
}

uint16_t
otk_arduino_default_port(void)
{
    return 8266;
}

void
otk_arduino_default_hostname(char *out, size_t cap)
{
    snprintf(out, cap, "esp8266-%06x", (unsigned)ESP.getChipId());
}

static bool
init_engine(const struct otk_arduino_settings *s)
{
    struct otk_dev_config dc;
    const struct otk_dev_hooks hooks = {on_event, on_reboot, NULL};

    memset(&dc, 0, sizeof dc);
    dc.profile = OTK_PROFILE_ESP8266;
    dc.auth = OTK_AUTH_MD5; /* what the ESP8266 core's espota.py exchange uses */
    esp8266_layout(&dc.layout);
    dc.running_slot = 0;
    P.slot_at = dc.layout.app_offset[1];
    P.space_end = dc.layout.app_offset[1] + dc.layout.app_size[1];
    if (s->password_hash[0]) {
        snprintf(dc.secret, sizeof dc.secret, "%s", s->password_hash);
    } else if (s->password[0]) {
        otk_proto_password_secret(otk_esp8266_crypto(), OTK_AUTH_MD5, s->password,
                                  strlen(s->password), dc.secret);
    }
    P.flash = (struct otk_flash_ops){flash_read, flash_write, flash_erase, NULL};
    P.net = (struct otk_net_ops){udp_send, tcp_connect, tcp_send,  tcp_close,
                                 NULL,     nat_send,    nat_close, NULL};
    otk_lock_init(&P.lock, NULL);
    if (otk_dev_init(&P.dev, &dc, &P.net, &P.flash, otk_esp8266_crypto(), &hooks, P.sector) !=
        OTK_OK)
        return false;
    otk_dev_set_activate(&P.dev, activate, NULL);
    return true;
}

/* ESPHome's native protocol: it needs the password in plain (its challenge hashes it with
 * SHA-256); with setPasswordHash() only, serving it would mean serving it without one. */
static bool
init_native(const struct otk_arduino_settings *s)
{
#if OTK_CFG_PROTO_NATIVE
    struct otk_nat_config nc;

    if (s->password_hash[0]) {
        otk_arduino_log("native protocol off: it needs the password, not its MD5 ",
                        "(setPassword instead of setPasswordHash)");
        return true;
    }
    memset(&nc, 0, sizeof nc);
    snprintf(nc.password, sizeof nc.password, "%s", s->password);
    if (otk_dev_native_attach(&P.dev, &P.nat, &nc) != OTK_OK)
        return false;
    P.server.begin(s->port);
    P.native = true;
    return true;
#else
    (void)s;
    otk_arduino_log("native protocol not built in (OTK_CFG_PROTO_NATIVE 0)", "");
    return true;
#endif
}

bool
otk_arduino_begin(OtaKitClass *kit, const struct otk_arduino_settings *s)
{
    P.kit = kit;
    P.reboot_on_success = s->reboot_on_success;
    if (!init_engine(s)) {
        otk_arduino_log("engine setup failed", "");
        return false;
    }
    if ((s->protocols & OTAKIT_ARDUINO_OTA) && !P.udp.begin(s->port)) {
        otk_arduino_log("cannot listen on the UDP port", "");
        return false;
    }
    if ((s->protocols & OTAKIT_NATIVE) && !init_native(s))
        return false;
    P.mdns = s->mdns;
    if (P.mdns) {
        MDNS.begin(s->hostname);
        MDNS.enableArduino(s->port, s->password[0] || s->password_hash[0]);
    }
    return true;
}

/* ---- the loop ---- */

/* Between an accepted image and the engine's reboot call (the ESP8266 core's pauses around its
 * "OK") the next uploader's invitation or connection waits in the stack, as it waits on the
 * core, whose ArduinoOTA blocks there: an uploader that starts right after the last one ends
 * is served next instead of being told an update is running. */
static bool
settling(void)
{
    enum otk_dev_state st = otk_dev_state(&P.dev);

    return P.settling || st == OTK_DEV_FINISHING || st == OTK_DEV_REBOOTING;
}

static bool
pump_udp(uint32_t now)
{
    uint8_t buf[DGRAM_MAX];
    struct otk_addr from;
    int n = settling() ? 0 : P.udp.parsePacket();

    if (n <= 0)
        return false;
    n = P.udp.read(buf, sizeof buf);
    to_addr(P.udp.remoteIP(), P.udp.remotePort(), &from);
    if (n > 0)
        otk_dev_on_datagram(&P.dev, &from, buf, (size_t)n, now);
    return true;
}

static void
connect_back(void)
{
    bool ok;

    P.connect_due = false;
    ok = P.tcp.connect(from_addr(&P.connect_to), P.connect_to.port);
    if (ok)
        P.tcp.setNoDelay(true);
    P.tcp_open = ok;
    P.rx_len = P.rx_off = 0;
    otk_dev_on_connected(&P.dev, ok ? OTK_OK : OTK_ERR_IO, millis());
}

/* What has arrived, at most cap bytes: like ArduinoOTA, never more than available() says (a
 * read of more may wait for bytes that are not coming). */
static int
read_some(WiFiClient &c, uint8_t *buf, size_t cap)
{
    int avail = c.available();

    if (avail <= 0)
        return 0;
    return c.read(buf, (size_t)avail < cap ? (size_t)avail : cap);
}

/* Offer the engine what it left last time, then new bytes while it wants them. */
static bool
pump_tcp(uint32_t now)
{
    size_t passed = 0;
    bool any = false;

    while (P.tcp_open && passed < PUMP_BYTES && otk_dev_wants_data(&P.dev)) {
        if (P.rx_off == P.rx_len) {
            int n = read_some(P.tcp, P.rx, sizeof P.rx);
            if (n <= 0)
                break;
            P.rx_len = (size_t)n;
            P.rx_off = 0;
        }
        size_t took = otk_dev_on_tcp_data(&P.dev, P.rx + P.rx_off, P.rx_len - P.rx_off, millis());
        if (took == 0)
            break;
        P.rx_off += took;
        passed += took;
        any = true;
    }
    if (P.tcp_open && P.rx_off == P.rx_len && !P.tcp.connected() && P.tcp.available() <= 0) {
        P.tcp_open = false;
        otk_dev_on_tcp_closed(&P.dev, now);
    }
    return any;
}

static bool
pump_native(uint32_t now)
{
#if OTK_CFG_PROTO_NATIVE
    uint8_t buf[RX_CHUNK];
    size_t passed = 0;

    if (!P.native)
        return false;
    if (!P.nat_open && !settling() && !otk_dev_native_busy(&P.dev) && P.server.hasClient()) {
        struct otk_addr from;

        P.natc = P.server.accept();
        to_addr(P.natc.remoteIP(), P.natc.remotePort(), &from);
        P.natc.setNoDelay(true);
        P.nat_open = true;
        if (!otk_dev_on_native_accept(&P.dev, &from, now))
            nat_close(NULL); /* a throttled source */
    }
    while (P.nat_open && passed < PUMP_BYTES) {
        int n = read_some(P.natc, buf, sizeof buf);
        if (n <= 0)
            break;
        otk_dev_on_native_data(&P.dev, buf, (size_t)n, millis());
        passed += (size_t)n;
    }
    if (P.nat_open && !P.natc.connected() && P.natc.available() <= 0) {
        P.nat_open = false;
        otk_dev_on_native_closed(&P.dev, now);
    }
    return passed > 0;
#else
    (void)now;
    return false;
#endif
}

void
otk_arduino_handle(void)
{
    uint32_t now = millis(), at;
    bool busy = pump_udp(now);

    if (P.connect_due)
        connect_back();
    busy |= pump_tcp(millis());
    busy |= pump_native(millis());
    now = millis();
    if (!busy)
        otk_dev_on_idle(&P.dev, now); /* erase ahead while the bytes are in the air */
    if (otk_dev_next_deadline(&P.dev, &at) && (int32_t)(now - at) >= 0)
        otk_dev_tick(&P.dev, now);
    otk_lock_tick(&P.lock, now);
    if (P.mdns)
        MDNS.update();
    if (P.reboot_due) {
        P.reboot_due = false;
        if (P.reboot_on_success) {
            P.tcp.stop();
            P.natc.stop();
            ESP.restart();
        }
    }
}

bool
otk_arduino_register(struct otk_lock_participant *p)
{
    return otk_lock_register(&P.lock, p) == OTK_OK;
}

bool
otk_arduino_confirm(void)
{
    return true; /* eboot has copied the image already: there is nothing to roll back to */
}

bool
otk_arduino_running(void)
{
    return otk_dev_update_running(&P.dev);
}

#endif
