/* SPDX-License-Identifier: MIT */
/* The words for the upload engine's outcomes: for each cause, the exit code of `otakit upload`
 * and a message that says what happened and how to fix it. The engine (src/host/upload.c)
 * knows the protocol and reports facts; this file knows the command line (-a, -p, --force,
 * --retries), PlatformIO's and the Arduino IDE's settings, and the sketches' calls.
 *
 * Adding a cause: one line in enum otk_up_cause (include/otakit/upload.h), one row in `causes`
 * below (its exit code and the function that words it). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "otakit/image.h"
#include "upload_cli.h"

/* ---- exit codes ---- */

static const char *const exit_names[] = {
    [OTK_UPX_OK] = "ok",
    [OTK_UPX_FAIL] = "failed",
    [OTK_UPX_USAGE] = "usage",
    [OTK_UPX_FILE] = "file",
    [OTK_UPX_RESOLVE] = "not-resolved",
    [OTK_UPX_NO_ANSWER] = "no-answer",
    [OTK_UPX_AUTH] = "auth-failed",
    [OTK_UPX_AUTH_NO_ANSWER] = "auth-no-answer",
    [OTK_UPX_NO_CONNECT] = "no-connect-back",
    [OTK_UPX_TOO_BIG] = "too-big",
    [OTK_UPX_NOT_FIRMWARE] = "not-firmware",
    [OTK_UPX_MD5] = "md5-mismatch",
    [OTK_UPX_REJECTED] = "rejected",
    [OTK_UPX_DEVICE] = "device-error",
    [OTK_UPX_STALLED] = "stalled",
    [OTK_UPX_DROPPED] = "dropped",
    [OTK_UPX_LOCAL_NET] = "local-network",
    [OTK_UPX_WRONG_CHIP] = "wrong-chip",
    [OTK_UPX_PROTOCOL] = "protocol",
    [OTK_UPX_ENCRYPTION] = "encryption",
    [OTK_UPX_UNCONFIRMED] = "unconfirmed",
    [OTK_UPX_ASLEEP] = "asleep",
    [OTK_UPX_NOT_FOUND] = "not-found",
    [OTK_UPX_SIGNATURE] = "signature",
};

const char *
cli_upload_exit_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof exit_names / sizeof exit_names[0] || !exit_names[code])
        return "failed";
    return exit_names[code];
}

/* ---- a message under construction ---- */

/* The message buffer and its printf (declared in upload_cli.h: upload_report_http.c words the
 * HTTP doors' causes with them too). */
void
cli_say(struct cli_msg *m, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (m->len + 1 >= m->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len = m->len + (size_t)n < m->cap ? m->len + (size_t)n : m->cap - 1;
}

static double
pct(uint32_t part, uint32_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 100.0;
}

static bool
contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

/* "name (ip)" for a device typed as a name, else its address. */
static const char *
who(const struct otk_upload *u, char *buf, size_t cap)
{
    if (u->dev_ip[0] && strcmp(u->cfg.target, u->dev_ip))
        snprintf(buf, cap, "%.200s (%s)", u->cfg.target, u->dev_ip);
    else
        snprintf(buf, cap, "%s", u->cfg.target);
    return buf;
}

static const char *
other_core_hint(uint16_t port)
{
    if (port == OTK_PORT_ESP32)
        return "ESP32 devices listen on 3232 by default, ESP8266 devices on 8266: try -p 8266";
    if (port == OTK_PORT_ESP8266)
        return "ESP8266 devices listen on 8266 by default, ESP32 devices on 3232: try -p 3232";
    return "the defaults are 3232 (ESP32) and 8266 (ESP8266), unless the sketch calls "
           "ArduinoOTA.setPort()";
}

/* Where in the upload the device's error text came. */
static const char *
where(const struct otk_upload *u)
{
    const struct otk_upload_outcome *o = &u->outcome;

    return o->via_udp                ? "refused the upload before any data was sent"
           : o->acked >= u->cfg.size ? "reported an error after receiving the image"
                                     : "stopped the upload with an error";
}

static const char *
busy_meaning(const char *text)
{
    if (contains(text, "challenge"))
        return "another host is authenticating with the device (its challenge is pending); if "
               "that keeps happening, another host is trying to update it";
    return "another upload to it is in progress, or it is still finishing one";
}

/* ---- local failures ---- */

static void
say_aborted(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m, "%s: %s", u->cfg.target, u->outcome.detail);
}

static void
say_net_init(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m, "cannot start the socket library: %s.", u->outcome.detail);
}

static void
say_bind_addr(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "-I/--host_ip '%s' is not an IPv4 address of this host.\nfix: give an address of this "
            "host that the device can reach, or leave -I out.",
            u->cfg.host_ip ? u->cfg.host_ip : "0.0.0.0");
}

static void
say_listen(const struct otk_upload *u, struct cli_msg *m)
{
    int rc = u->outcome.net_rc;

    cli_say(m, "cannot listen on TCP %s:%u: %s.\nfix: %s",
            u->cfg.host_ip ? u->cfg.host_ip : "0.0.0.0", u->cfg.host_port, u->outcome.detail,
            rc == OTK_NET_INUSE    ? "that port is in use on this host: choose another with "
                                     "-P/--host_port, or leave -P out for a free one."
            : rc == OTK_NET_NOADDR ? "-I/--host_ip must be an address of this host (see 'ip addr')."
            : rc == OTK_NET_DENIED ? "ports below 1024 need privileges: use -P 1024 or higher."
                                   : "check -I/--host_ip and -P/--host_port.");
}

static void
say_udp_open(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "cannot open a UDP socket%s%s: %s.\nfix: -I/--host_ip must be an IPv4 address of this "
            "host (or 0.0.0.0).",
            u->cfg.host_ip ? " on " : "", u->cfg.host_ip ? u->cfg.host_ip : "", u->outcome.detail);
}

static void
say_ipv6(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "'%s' is an IPv6 address; ArduinoOTA devices take uploads over IPv4.\n"
            "fix: use the device's IPv4 address.",
            u->cfg.target);
}

static void
say_not_resolved(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m, "cannot resolve the device name '%s': %s.\nfix: %s", u->cfg.target,
            u->outcome.detail,
            u->outcome.mdns
                ? "no device answered the mDNS query for it within 3 s. Check that it is on and on "
                  "this host's network ('otakit list' shows the devices that answer; with several "
                  "interfaces -I ADDRESS picks the one to ask on), or use the device's IP address."
                : "check the spelling, or use the device's IP address.");
}

/* ---- the handshake ---- */

/* The device as the chip evidence names it: "an ESP8266", "an ESP32-S3", "of the ESP32
 * family". */
static void
chip_how(const struct otk_upload *u, char *how, size_t cap)
{
    const struct otk_upload_outcome *o = &u->outcome;

    switch (o->chip_source) {
    case OTK_UP_CHIP_BOARD:
        snprintf(how, cap, "its mDNS TXT record says board=%s; --force sends the image", u->board);
        break;
    case OTK_UP_CHIP_PORT:
        snprintf(how, cap,
                 "UDP port %u is where %s devices listen; if this one listens there anyway "
                 "(ArduinoOTA.setPort()), --force sends the image",
                 u->cfg.port, o->device_chip == OTK_CHIP_ESP8266 ? "ESP8266" : "ESP32-family");
        break;
    case OTK_UP_CHIP_ERROR:
        snprintf(how, cap, "it %s: \"%.160s\"", where(u), o->device_text);
        break;
    }
}

static void
say_wrong_chip(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    const char *dev = otk_image_chip_name(o->device_chip);
    const char *img = otk_image_chip_name(o->image_chip);
    char how[256];

    chip_how(u, how, sizeof how);
    cli_say(m, "%s: this is an %s image; the device is %s%s (%s).\n", u->cfg.target,
            img ? img : "unknown chip's", o->device_family ? "of the ESP32 family" : "an ",
            o->device_family || !dev ? "" : dev, how);
    cli_say(m, "fix: upload the build for the device's board (the device keeps running its current "
               "image).");
}

static void
say_busy(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    char w[224];

    cli_say(m,
            "%s answered \"%s\" %u time%s in %.1f s (%u invitation%s): %s.\n"
            "fix: wait for the other upload to end and upload again (a longer -t waits longer); if "
            "no other upload runs, reset the device.",
            who(u, w, sizeof w), o->device_text, o->busy, o->busy == 1 ? "" : "s",
            u->cfg.invite_timeout_ms / 1000.0, o->invites, o->invites == 1 ? "" : "s",
            busy_meaning(o->device_text));
}

static void
say_port_unreach(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];

    cli_say(m,
            "%s answered that nothing listens on UDP port %u (ICMP port unreachable, %u times): "
            "wrong port, or ArduinoOTA is not running on it.\n"
            "fix: %s; check that the sketch calls ArduinoOTA.begin() and handle().",
            who(u, w, sizeof w), u->cfg.port, u->outcome.unreach, other_core_hint(u->cfg.port));
}

static void
say_no_answer(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    char w[224];

    cli_say(m,
            "no answer from %s on UDP port %u: %u invitation%s in %.1f s went unanswered.\n"
            "fix: check that the device is powered and on this network, that its sketch calls "
            "ArduinoOTA.handle() often (a blocked loop() cannot answer), and the port: %s.",
            who(u, w, sizeof w), u->cfg.port, o->invites, o->invites == 1 ? "" : "s",
            u->cfg.invite_timeout_ms / 1000.0, other_core_hint(u->cfg.port));
}

static void
say_bad_nonce(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s sent an AUTH challenge with a %ld-character nonce; ArduinoOTA uses 32 (MD5) or 64 "
            "(PBKDF2-HMAC-SHA256).\nfix: is this an ArduinoOTA device? Run with -d and report the "
            "exchange.",
            u->cfg.target, u->outcome.figure);
}

static void
say_no_password(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(
        m,
        "%s requires a password (it answered the invitation with an AUTH challenge) and none was "
        "given.\nfix: pass it with -a/--auth PASSWORD (PlatformIO: upload_flags = "
        "--auth=PASSWORD; Arduino IDE: it asks when the device advertises auth_upload=yes).",
        u->cfg.target);
}

static void
say_random_failed(const struct otk_upload *u, struct cli_msg *m)
{
    (void)u;
    cli_say(m, "the random number source failed");
}

static void
say_auth_compute(const struct otk_upload *u, struct cli_msg *m)
{
    (void)u;
    cli_say(m, "computing the authentication response failed");
}

static void
say_auth_failed(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s rejected the password: it answered \"Authentication Failed\"%s.\n"
            "fix: use the password the sketch sets with ArduinoOTA.setPassword() (or the one whose "
            "hash it passes to setPasswordHash()): -a/--auth PASSWORD; PlatformIO: upload_flags = "
            "--auth=PASSWORD.",
            u->cfg.target,
            u->variant == OTK_AUTH_PBKDF2
                ? (u->cfg.md5_target ? " (PBKDF2 with the MD5 password hash, as -m asks)"
                                     : " (tried PBKDF2 with the SHA-256 and with the MD5 password "
                                       "hash)")
                : " (MD5 challenge)");
}

static void
say_auth_unsolicited(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s answered the invitation with \"Authentication Failed\".\nfix: another host may be "
            "talking to the device; run with -d.",
            u->cfg.target);
}

static void
say_unexpected_reply(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(
        m,
        "unexpected answer from %s to the %s: \"%s\".\nfix: is an ArduinoOTA device listening on "
        "UDP port %u? (%s)",
        u->cfg.target, u->outcome.phase == OTK_UP_AUTH ? "auth answer" : "invitation",
        u->outcome.detail, u->cfg.port, other_core_hint(u->cfg.port));
}

static void
say_auth_no_answer(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(
        m,
        "%s sent an AUTH challenge but did not answer our authentication (%s) within %.0f s.\n"
        "fix: the password is not the problem (a wrong one gets \"Authentication Failed\"): the "
        "device is busy or the Wi-Fi link loses datagrams; upload again. A device whose loop() "
        "runs slowly (BLE, MQTT reconnects) needs ArduinoOTA.handle() called more often.",
        u->cfg.target, u->variant == OTK_AUTH_PBKDF2 ? "PBKDF2-HMAC-SHA256" : "MD5",
        u->cfg.auth_timeout_ms / 1000.0);
}

static void
say_no_connect(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s accepted the upload but never connected back to %s:%u (TCP) within %.0f s.\n"
            "fix: this host must accept inbound TCP connections on that address and port: allow "
            "otakit (or TCP port %u) in the firewall, or pick a reachable address and a fixed port "
            "to open with -I/--host_ip and -P/--host_port (VPNs and other subnets often block the "
            "way back). An ESP32 also stays silent when it cannot start the update, e.g. when the "
            "image (%u bytes) is bigger than its OTA slot: check its serial log.",
            u->cfg.target, u->local_ip, u->listen_port, u->cfg.connect_timeout_ms / 1000.0,
            u->listen_port, u->cfg.size);
}

/* ---- the device's error texts ---- */

static void
say_dev_too_big(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s %s: \"%s\": the image (%u bytes, %.1f KiB) is bigger than the space the device has "
            "for it.\n",
            u->cfg.target, where(u), u->outcome.device_text, u->cfg.size, u->cfg.size / 1024.0);
    cli_say(m,
            "fix: an app image must fit the OTA slot (ESP32: the partition scheme; ESP8266: the "
            "running sketch and the new one must both fit in the sketch area); a filesystem image "
            "(-s) must fit the filesystem partition. Choose a partition scheme / flash layout with "
            "a bigger slot, or make the image smaller.");
}

static void
say_dev_not_firmware(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s %s: \"%s\": the file is not an application image for this device (%s).\n"
            "fix: upload the .bin the build produced for this board (not the .elf or a data file); "
            "for a filesystem image add -s/--spiffs.",
            u->cfg.target, where(u), u->outcome.device_text,
            u->cfg.size && u->cfg.image[0] != 0xE9
                ? "its first byte is not 0xE9, the mark of an app image"
                : "its header does not match what the device expects");
}

static void
say_dev_md5(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s %s: \"%s\": the data the device wrote does not match the MD5 announced %s: the "
            "image was corrupted in transit.\n"
            "fix: upload again (otakit retries this automatically with --retries); if it keeps "
            "failing, check the Wi-Fi link and the device's power supply.",
            u->cfg.target, where(u), u->outcome.device_text,
            otk_upload_protocol_used(u) == OTK_UP_PROTO_ELEGANTOTA ? "to /ota/start"
                                                                   : "in the invitation");
}

static void
say_dev_rejected(const struct otk_upload *u, struct cli_msg *m)
{
    const char *text = u->outcome.device_text;

    if (contains(text, "Signature"))
        cli_say(m,
                "%s %s: \"%s\": the device only accepts signed images.\n"
                "fix: upload the signed binary (the build writes <name>.bin.signed; ESP8266's "
                "espota.py picked it silently, otakit uploads exactly the file given with -f); "
                "--trusted-key KEY.pem checks the signature before the upload.",
                u->cfg.target, where(u), text);
    else
        cli_say(m,
                "%s %s: \"%s\": the device received the image but could not use it: it was built "
                "for another chip or flash configuration, or it is damaged.\n"
                "fix: build for the exact board (chip, flash size and mode) and upload the fresh "
                ".bin.",
                u->cfg.target, where(u), text);
}

static void
say_dev_stream_timeout(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s %s: \"%s\" at byte %u of %u: the device received no data for about 4 s and gave "
            "up.\n"
            "fix: upload again (--retries does this automatically); if it keeps happening, check "
            "the Wi-Fi signal and what else the device does during the update (BLE scans, MQTT).",
            u->cfg.target, where(u), u->outcome.device_text, u->outcome.acked, u->cfg.size);
}

/* The advice for an error text no other cause covers, from its words. */
static const char *
other_advice(const char *text, enum otk_up_cause cause, char *busy, size_t cap)
{
    if (contains(text, "bootstrapping"))
        return "reset the ESP8266 once (reset button or power cycle) after flashing it over "
               "serial; the first boot after a serial upload cannot apply an OTA update";
    if (contains(text, "Flash Write") || contains(text, "Flash Erase") ||
        contains(text, "Flash Read"))
        return "a flash operation failed on the device: check its power supply; the flash chip "
               "may be worn out";
    if (contains(text, "already running") || contains(text, "challenge")) {
        snprintf(busy, cap, "%s; wait for it and upload again", busy_meaning(text));
        return busy;
    }
    if (contains(text, "No data supplied"))
        return "the ESP8266 Updater counts only what it has written to flash, in 4 KB blocks: an "
               "image of 4 KB or less reads as no data; a real app image is larger: check the "
               "file";
    if (contains(text, "Partition Could Not"))
        return "the device's partition table has no OTA slot: flash a partition scheme with OTA "
               "support over serial once";
    if (contains(text, "Aborted"))
        return "the device ended the update before it had the whole image";
    if (cause == OTK_UPC_DEV_WRONG_CHIP)
        return "the image's header names another chip than the device's: upload the build for "
               "the device's board";
    return "see the device's serial log for details";
}

static void
say_dev_other(const struct otk_upload *u, struct cli_msg *m)
{
    char busy[256];
    const char *text = u->outcome.device_text;

    cli_say(m, "%s %s: \"%s\" (at byte %u of %u).\nfix: %s.", u->cfg.target, where(u), text,
            u->outcome.acked, u->cfg.size, other_advice(text, u->outcome.cause, busy, sizeof busy));
}

/* ---- the data phase ---- */

const char *
cli_upload_rule_name(const struct otk_upload_outcome *o)
{
    if (o->cause == OTK_UPC_NAT_PROTOCOL)
        return o->nat.violation ? o->nat.violation : "unexpected-byte";
    if (o->cause != OTK_UPC_PROTOCOL)
        return NULL;
    switch (o->violation) {
    case OTK_UPV_OVER_ACK:
        return "over-ack";
    case OTK_UPV_TEXT_TOO_LONG:
    case OTK_UPV_SEPARATORS:
        return "garbage";
    default:
        return "early-ok";
    }
}

/* What the device did, after its name: "said \"OK\" when only ...". */
static void
say_violation(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    uint32_t size = u->cfg.size;
    char acks[96];

    snprintf(acks, sizeof acks, "; its acks stand for about %u bytes (%.0f%%)", o->claimed,
             pct(o->claimed, size));
    switch (o->violation) {
    case OTK_UPV_OK_BEFORE_SENT:
        cli_say(m, "said \"OK\" when only %u of the %u bytes had been sent%s", o->sent, size, acks);
        break;
    case OTK_UPV_OK_WITHOUT_END_ACK:
        cli_say(
            m,
            "said \"OK\" without acknowledging the end of the image (no ack came after the last "
            "of the %u bytes was sent)%s",
            size, acks);
        break;
    case OTK_UPV_OK_BEFORE_TCP_ACK:
        cli_say(m, "said \"OK\" before its TCP stack had received the last %ld of the %u bytes%s",
                o->figure, size, acks);
        break;
    case OTK_UPV_OVER_ACK:
        cli_say(
            m,
            "acknowledged at least %ld bytes when only %u had been sent (acks are the byte counts "
            "of the device's reads)",
            o->figure, o->sent);
        break;
    case OTK_UPV_TEXT_TOO_LONG:
        cli_say(m,
                "sent more than %ld bytes of text, longer than any error message of the cores: "
                "\"%.60s...\"",
                o->figure, o->detail);
        break;
    default:
        cli_say(
            m,
            "sent more than %ld separators or zeros in a row, which are neither acks, \"OK\" nor "
            "an error text",
            o->figure);
        break;
    }
}

static void
say_protocol(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];

    who(u, w, sizeof w);
    cli_say(m, "protocol violation (%s): %s ", cli_upload_rule_name(&u->outcome), w);
    say_violation(u, m);
    cli_say(
        m,
        ".\nfix: an ArduinoOTA device does not do this, so the result is unknown: the device may "
        "still run its old firmware. Check what answers at %s (-d shows the exchange) and the "
        "device's serial log; upload again.",
        w);
}

static const char *
closed_how(enum otk_up_close how)
{
    return how == OTK_UP_RESET  ? "reset the connection"
           : how == OTK_UP_LOST ? "dropped the connection"
                                : "closed the connection";
}

static void
say_dropped_after_all(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s %s after receiving all %u bytes, without sending \"OK\" or an error: the result of "
            "the update is unknown.\n"
            "fix: check the device's serial log; upload again.",
            u->cfg.target, closed_how(u->outcome.closed), u->cfg.size);
}

static void
say_dropped(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;

    cli_say(
        m,
        "%s %s without sending a result, when its network stack had acknowledged %u of %u "
        "bytes (%.0f%%) and %u more were in flight: it lost Wi-Fi, rebooted, or gave up waiting "
        "for data.\n",
        u->cfg.target, closed_how(o->closed), o->acked, u->cfg.size, pct(o->acked, u->cfg.size),
        o->sent - o->acked);
    cli_say(m,
            "fix: upload again (--retries does this automatically); if it keeps happening, check "
            "the signal strength and what else the device does during the update (BLE scans, "
            "MQTT).");
}

static void
say_stalled(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;

    cli_say(
        m,
        "transfer to %s stalled at byte %u of %u (%.0f%%): the device took no data for %.0f s.\n"
        "fix: upload again (--retries does this automatically); a device whose loop() is busy "
        "with BLE scans or MQTT, or a weak Wi-Fi signal, stalls transfers - pause those during "
        "OTA (ArduinoOTA.onStart()).",
        u->cfg.target, o->acked, u->cfg.size, pct(o->acked, u->cfg.size),
        u->cfg.stall_timeout_ms / 1000.0);
}

static void
say_stopped_reading(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;

    cli_say(m,
            "%s stopped reading the image: its network stack took all %u bytes, but its acks "
            "account for %u (%.0f%%), and no result came within %.0f s.\n"
            "fix: check the device's serial log (a crash, or a loop() that blocks during the "
            "update); reset it and upload again.",
            u->cfg.target, u->cfg.size, o->acked, pct(o->acked, u->cfg.size),
            u->cfg.result_timeout_ms / 1000.0);
}

static void
say_no_result(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s received all %u bytes but sent no result (\"OK\" or an error) within %.0f s.\n"
            "fix: check the device's serial log; upload again.",
            u->cfg.target, u->cfg.size, u->cfg.result_timeout_ms / 1000.0);
}

/* ---- the native protocol (ESPHome) ---- */

/* ESPHome's name of a response code: "8B ERROR_MD5_MISMATCH". */
static const char *
nat_code(uint8_t code, char *buf, size_t cap)
{
    const char *name = otk_natc_code_name(code);

    snprintf(buf, cap, "%02X%s%s", code, name ? " " : "", name ? name : "");
    return buf;
}

/* Which of the device's answers did not come, or where it ended. */
static const char *
nat_step(uint8_t phase)
{
    switch (phase) {
    case OTK_NATC_MAGIC:
        return "the magic bytes (it answers \"00 vv\")";
    case OTK_NATC_FEATURES:
        return "the feature byte";
    case OTK_NATC_NOISE:
        return "the encryption handshake";
    case OTK_NATC_AUTH:
    case OTK_NATC_AUTH_RESULT:
        return "the authentication";
    case OTK_NATC_PREPARE:
        return "the image's size";
    case OTK_NATC_MD5:
        return "the image's MD5";
    default:
        return "the image";
    }
}

static void
say_nat_refused(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];
    cli_say(
        m,
        "%s refused the TCP connection on port %u: nothing listens there for ESPHome's OTA "
        "protocol.\nfix: check the port (ESPHome devices: 3232 ESP32, 8266 ESP8266, 2040 RP2040, "
        "8892 Beken, or `ota: port:` in the device's YAML) and that its firmware has `ota: - "
        "platform: esphome`; an ArduinoOTA device takes --protocol arduino.",
        who(u, w, sizeof w), u->cfg.port);
}

static void
say_nat_connect_timeout(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];
    cli_say(
        m,
        "no TCP connection to %s port %u within %.0f s: the device does not answer.\nfix: check "
        "that it is powered and on this network; a battery device in deep sleep answers nothing: "
        "keep it awake for the upload.",
        who(u, w, sizeof w), u->cfg.port, u->cfg.connect_timeout_ms / 1000.0);
}

static void
say_nat_connect_failed(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];
    cli_say(m, "cannot connect to %s port %u: %s.\nfix: check the address and the route to it.",
            who(u, w, sizeof w), u->cfg.port, u->outcome.detail);
}

static void
say_nat_not_esphome(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];
    cli_say(m,
            "%s port %u answered ESPHome's magic with byte 0x%02x, not \"00 vv\": something else "
            "listens there.\nfix: check the port; an ArduinoOTA device takes --protocol arduino.",
            who(u, w, sizeof w), u->cfg.port, u->outcome.nat.code);
}

static void
say_nat_version(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s speaks version %u of ESPHome's OTA protocol; otakit knows versions 1 and 2.\nfix: "
            "upload with ESPHome's own tool, and report the device's ESPHome version to otakit.",
            u->cfg.target, u->outcome.nat.code);
}

static void
say_nat_no_answer(const struct otk_upload *u, struct cli_msg *m)
{
    bool prepare = u->outcome.nat.phase == OTK_NATC_PREPARE;

    cli_say(
        m,
        "%s did not answer %s in time (%.0f s%s).\nfix: upload again (--retries does this "
        "automatically); the device may be busy with another upload, or the link loses packets. "
        "-t sets the wait for each answer.",
        u->cfg.target, nat_step(u->outcome.nat.phase),
        (prepare ? (u->cfg.result_timeout_ms > 30000 ? u->cfg.result_timeout_ms : 30000)
                 : u->cfg.invite_timeout_ms) /
            1000.0,
        prepare ? "; it prepares its flash then, and an ESP32 erases its OTA slot first" : "");
}

static void
say_nat_no_password(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s requires a password (it sent an %s challenge) and none was given.\nfix: pass the "
            "`ota: password:` of its YAML with -a/--auth PASSWORD.",
            u->cfg.target, u->outcome.nat.auth == OTK_NAT_REQUEST_AUTH_MD5 ? "MD5" : "SHA-256");
}

static void
say_nat_auth_failed(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;
    cli_say(m,
            "%s rejected the password (82 ERROR_AUTH_INVALID to our %s answer).\nfix: use the "
            "`ota: password:` of its YAML, as written, with -a/--auth PASSWORD.",
            u->cfg.target, f->auth == OTK_NAT_REQUEST_AUTH_MD5 ? "MD5" : "SHA-256");
}

static void
say_nat_needs_key(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s requires encryption: it answered 94 ERROR_ENCRYPTION_REQUIRED (its YAML has `ota: "
            "encryption:`), and no key was given.\nfix: pass the device's key, the base64 `key:` "
            "under `api: encryption:` (or `ota: encryption:`) in its YAML, with --key BASE64.",
            u->cfg.target);
}

static void
say_nat_not_encrypted(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;
    char how[80];

    if (f->feature_reply == OTK_NAT_FEATURE_FLAGS)
        snprintf(how, sizeof how, "its feature flags %02x lack encryption", f->server_flags);
    else
        snprintf(how, sizeof how, "it answered %02X: older than ESPHome's encryption",
                 f->feature_reply);
    cli_say(
        m,
        "%s does not offer encryption (%s), and a key was given: otakit does not send the image "
        "in plaintext then, since someone on the way could have removed the offer, and the "
        "image carries the Wi-Fi credentials and keys.\nfix: if the device really has no key "
        "(ESPHome before 2026.9, or no `api: encryption:`), upload without --key; otherwise "
        "find out what answers at this address.",
        u->cfg.target, how);
}

static void
say_nat_wrong_key(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;
    cli_say(m,
            "%s refused the encryption handshake: the key is not the device's (%s%s%s).\nfix: pass "
            "the base64 `key:` under `api: encryption:` (or `ota: encryption:`) of its YAML with "
            "--key.",
            u->cfg.target, f->reason[0] ? "it answered \"" : "its answer does not fit the key",
            f->reason, f->reason[0] ? "\"" : "");
}

static void
say_nat_handshake_rejected(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s refused the encryption handshake: \"%s\".\nfix: upload again; if it keeps "
            "refusing, check the device's log.",
            u->cfg.target, u->outcome.nat.reason);
}

static void
say_nat_frame(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    cli_say(m,
            "an encrypted frame from %s failed its check at byte %u of %u: the connection carried "
            "damaged or foreign data.\nfix: upload again (--retries does this automatically).",
            u->cfg.target, o->acked, u->cfg.size);
}

static void
say_nat_too_big(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;
    char c[64];
    const char *fix =
        f->code == OTK_NAT_ERR_ESP8266_NOT_ENOUGH_SPACE
            ? "the running firmware and the new one must both fit in the ESP8266's sketch area: "
              "upload a minimal firmware first (a YAML with little more than wifi and ota), then "
              "this one"
            : "choose a partition layout with a bigger OTA slot, or make the image smaller";
    cli_say(m, "%s has no room for the image (%u bytes%s): it answered %s.\nfix: %s.",
            u->cfg.target, f->data_size, f->compressed ? ", compressed" : "",
            nat_code(f->code, c, sizeof c), fix);
}

static void
say_nat_md5(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s received the image, but it does not match its MD5 (8B ERROR_MD5_MISMATCH): it was "
            "damaged on the way; the device keeps its old firmware.\nfix: upload again (--retries "
            "does this automatically); if it keeps failing, check the Wi-Fi link and the power "
            "supply.",
            u->cfg.target);
}

/* What each refusal of a received image means, and what to do (reference §2). */
static const struct {
    uint8_t code;
    const char *what, *fix;
} nat_refusals[] = {
    {0x84, "it could not finish the update (the image's checks or the switch to it failed)",
     "check the device's log; build the image for this board and upload again"},
    {0x86, "it was flashed with a wrong flash size", "flash it over serial with the right size"},
    {0x87, "it lacks the flash size the image asks for", "build for this board's flash size"},
    {0x8d, "the image is not signed with the device's key", "upload the image signed with it"},
    {0x8f, "it could not verify the new partition table (it made no changes)",
     "check that the image is a partition table built for this device, then upload again"},
    {0x91, "it could not verify the new bootloader (it made no changes)",
     "check that the image is a bootloader built for this device, then upload again"},
    {0x93, "the image is older than the running one and downgrade protection is on",
     "upload a newer build, or allow downgrades in its YAML"},
    {0x81,
     "it could not prepare its flash for the image (ESPHome's words: the image too big for "
     "its OTA slot; also an update already running)",
     "compare the image's size with the device's OTA slot; if another update runs, wait for it; "
     "else restart the device and upload again"},
    {0x80, "it did not recognise our magic bytes", "check what listens on the port"},
    {0x83, "writing to its flash failed", "check its power supply; the flash may be worn out"},
    {0x85, "it needs a manual reset first (the first OTA after a serial flash)",
     "press reset (or power cycle it) once, then upload again"},
    {0x8a, "it has no OTA partition", "flash a partition layout with OTA slots over serial"},
    {0x8e, "it does not take this kind of image", "upload an application image"},
    {0x90, "the partition table update failed and left it degraded",
     "upload again without restarting it"},
    {0x92, "the bootloader update failed and left it degraded",
     "upload again without restarting it"},
    {0xff, "an unknown error", "check the device's log"},
};

static void
say_nat_refusal(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;
    const char *what = "an error code otakit does not know", *fix = "check the device's log";
    char c[64];

    for (size_t i = 0; i < sizeof nat_refusals / sizeof nat_refusals[0]; i++)
        if (nat_refusals[i].code == f->code) {
            what = nat_refusals[i].what;
            fix = nat_refusals[i].fix;
        }
    cli_say(m, "%s refused the update after %s: %s (%s).\nfix: %s.", u->cfg.target,
            nat_step(f->phase), what, nat_code(f->code, c, sizeof c), fix);
}

static void
say_nat_device_timeout(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    cli_say(m,
            "%s gave up waiting for data at byte %u of %u (FF: nothing arrived within its "
            "timeout).\nfix: upload again (--retries does this automatically); if it keeps "
            "happening, check the Wi-Fi signal.",
            u->cfg.target, o->acked, u->cfg.size);
}

static void
say_nat_protocol(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;
    const char *v = f->violation ? f->violation : "unexpected-byte";
    char w[224];

    who(u, w, sizeof w);
    if (!strcmp(v, "over-ack"))
        cli_say(m,
                "protocol violation (over-ack): %s acknowledged a block it had not been sent whole",
                w);
    else if (!strcmp(v, "early-receive-ok"))
        cli_say(m,
                "protocol violation (early-receive-ok): %s said it received the image before it "
                "acknowledged every block (%u acks)",
                w, f->acks);
    else if (!strcmp(v, "frame"))
        cli_say(m, "protocol violation (frame): %s sent a malformed encryption handshake", w);
    else
        cli_say(m, "protocol violation (unexpected-byte): %s answered 0x%02x to %s", w, f->code,
                nat_step(f->phase));
    cli_say(m,
            ".\nfix: an ESPHome device does not do this, so the result is unknown: check what "
            "answers at %s (-d shows the exchange) and the device's log; upload again.",
            w);
}

static void
say_nat_dropped(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    cli_say(m,
            "%s %s the connection during %s (at byte %u of %u), without an error code: it lost "
            "Wi-Fi, restarted, or gave up.\nfix: upload again (--retries does this automatically); "
            "the device cannot have taken the image: not all of it was sent.",
            u->cfg.target, o->closed == OTK_UP_RESET ? "reset" : "closed", nat_step(o->nat.phase),
            o->acked, u->cfg.size);
}

static void
say_nat_stalled(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_upload_outcome *o = &u->outcome;
    cli_say(
        m,
        "transfer to %s stalled at byte %u of %u (%.0f%%): no data taken or acknowledged for "
        "%.0f s.\nfix: upload again (--retries does this automatically); a weak Wi-Fi signal or "
        "a device busy with other work stalls transfers.",
        u->cfg.target, o->acked, u->cfg.size, pct(o->acked, u->cfg.size),
        u->cfg.stall_timeout_ms / 1000.0);
}

static void
say_nat_unconfirmed(const struct otk_upload *u, struct cli_msg *m)
{
    const struct otk_up_native *f = &u->outcome.nat;

    cli_say(m,
            "%s had the whole image (%u bytes%s went out), but the connection ended without its "
            "verdict; otakit did not send the image again, since the device may have applied it. ",
            u->cfg.target, f->data_size, f->compressed ? ", compressed," : "");
    if (f->check == OTK_NATUP_CHECK_RESTARTED)
        cli_say(m,
                "It then went away and answered again %.1f s later: it restarted, which an ESPHome "
                "device does right after it applies an image, so it most likely runs the new one "
                "now.\nfix: check the version it reports (log, dashboard); upload again only if it "
                "still runs the old one.",
                f->check_ms / 1000.0);
    else if (f->check == OTK_NATUP_CHECK_STAYED)
        cli_say(m,
                "It was answering again %.1f s after the end, with no pause seen: either it did "
                "not apply the image (an ESPHome device restarts as soon as it has), or it "
                "restarted within that time.\nfix: check the version it runs (log, dashboard); "
                "upload again only if it still runs the old one.",
                f->check_ms / 1000.0);
    else if (f->check == OTK_NATUP_CHECK_GONE)
        cli_say(
            m,
            "It did not answer again within %.0f s: it may be restarting slowly, or it lost the "
            "network.\nfix: when it is back, check the version it runs; upload again only if it "
            "still runs the old one.",
            u->cfg.result_timeout_ms / 1000.0);
    else
        cli_say(m, "\nfix: check the version it runs; upload again only if it runs the old one.");
}

static void
say_nat_local(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m, "%s: a local failure (%s).", u->cfg.target,
            u->outcome.detail[0] ? u->outcome.detail : "the crypto provider");
}

static void
say_nat_no_filesystem(const struct otk_upload *u, struct cli_msg *m)
{
    (void)u;
    cli_say(m, "ESPHome's OTA protocol carries application images only: -s/--spiffs cannot go with "
               "--protocol esphome.\nfix: leave out -s, or use --protocol arduino.");
}

/* ---- --wait and detection ---- */

/* How a look for a sleeping device ended, in a few words. */
static const char *
look_words(enum otk_up_cause c)
{
    switch (c) {
    case OTK_UPC_NOT_RESOLVED:
        return "its name got no answer";
    case OTK_UPC_PORT_UNREACH:
        return "nothing listened on its UDP port";
    case OTK_UPC_NAT_REFUSED:
        return "its TCP port refused the connection";
    case OTK_UPC_HTTP_REFUSED:
        return "its web server port refused the connection";
    case OTK_UPC_NAT_CONNECT_TIMEOUT:
    case OTK_UPC_NAT_CONNECT_FAILED:
    case OTK_UPC_HTTP_CONNECT_TIMEOUT:
    case OTK_UPC_HTTP_CONNECT_FAILED:
        return "no TCP connection came up";
    default:
        return "no answer to the ArduinoOTA invitation";
    }
}

static void
say_never_awoke(const struct otk_upload *u, struct cli_msg *m)
{
    char w[224];
    cli_say(
        m,
        "%s never showed itself within --wait %.0f s (%ld looks; the last: %s).\nfix: check that "
        "the device wakes within that time and joins this network when it does (a deep-sleep "
        "device must stay awake a few seconds after connecting: ESPHome's deep_sleep "
        "run_duration, or an MQTT/OTA-mode switch that prevents sleep), and the address and "
        "port; or give --wait more seconds.",
        who(u, w, sizeof w), u->cfg.wait_ms / 1000.0, u->outcome.figure,
        look_words(u->outcome.asleep_cause));
}

static void
say_http_unknown(const struct otk_upload *u, struct cli_msg *m)
{
    cli_say(m,
            "%s: its web server asks for a password on /update (%s), so which update page it "
            "serves cannot be told from outside: ElegantOTA, a web /update form or ESPHome's "
            "web_server.\nfix: name it: --protocol elegantota (ElegantOTA) or --protocol web "
            "(ESPHome web_server, ESP8266HTTPUpdateServer), with -a for the password.",
            u->cfg.target, u->outcome.detail[0] ? u->outcome.detail : "HTTP 401");
}

static void
say_http(const struct otk_upload *u, struct cli_msg *m)
{
    if (m->len + 1 < m->cap)
        m->len += cli_upload_http_words(u, m->buf + m->len, m->cap - m->len);
}

/* ---- the table ---- */

typedef void (*say_fn)(const struct otk_upload *u, struct cli_msg *m);

/* Every cause: the exit code it ends `otakit upload` with, and its words. */
static const struct cause_row {
    int exit_code;
    say_fn say;
} causes[] = {
    [OTK_UPC_OK] = {OTK_UPX_OK, NULL},
    [OTK_UPC_ABORTED] = {OTK_UPX_FAIL, say_aborted},
    [OTK_UPC_NET_INIT] = {OTK_UPX_LOCAL_NET, say_net_init},
    [OTK_UPC_BIND_ADDR] = {OTK_UPX_LOCAL_NET, say_bind_addr},
    [OTK_UPC_LISTEN] = {OTK_UPX_LOCAL_NET, say_listen},
    [OTK_UPC_UDP_OPEN] = {OTK_UPX_LOCAL_NET, say_udp_open},
    [OTK_UPC_IPV6] = {OTK_UPX_RESOLVE, say_ipv6},
    [OTK_UPC_NOT_RESOLVED] = {OTK_UPX_RESOLVE, say_not_resolved},
    [OTK_UPC_WRONG_CHIP] = {OTK_UPX_WRONG_CHIP, say_wrong_chip},
    [OTK_UPC_BUSY] = {OTK_UPX_DEVICE, say_busy},
    [OTK_UPC_PORT_UNREACH] = {OTK_UPX_NO_ANSWER, say_port_unreach},
    [OTK_UPC_NO_ANSWER] = {OTK_UPX_NO_ANSWER, say_no_answer},
    [OTK_UPC_BAD_NONCE] = {OTK_UPX_FAIL, say_bad_nonce},
    [OTK_UPC_NO_PASSWORD] = {OTK_UPX_AUTH, say_no_password},
    [OTK_UPC_RANDOM_FAILED] = {OTK_UPX_FAIL, say_random_failed},
    [OTK_UPC_AUTH_COMPUTE] = {OTK_UPX_FAIL, say_auth_compute},
    [OTK_UPC_AUTH_FAILED] = {OTK_UPX_AUTH, say_auth_failed},
    [OTK_UPC_AUTH_UNSOLICITED] = {OTK_UPX_FAIL, say_auth_unsolicited},
    [OTK_UPC_UNEXPECTED_REPLY] = {OTK_UPX_FAIL, say_unexpected_reply},
    [OTK_UPC_AUTH_NO_ANSWER] = {OTK_UPX_AUTH_NO_ANSWER, say_auth_no_answer},
    [OTK_UPC_NO_CONNECT] = {OTK_UPX_NO_CONNECT, say_no_connect},
    [OTK_UPC_DEV_TOO_BIG] = {OTK_UPX_TOO_BIG, say_dev_too_big},
    [OTK_UPC_DEV_NOT_FIRMWARE] = {OTK_UPX_NOT_FIRMWARE, say_dev_not_firmware},
    [OTK_UPC_DEV_MD5] = {OTK_UPX_MD5, say_dev_md5},
    [OTK_UPC_DEV_REJECTED] = {OTK_UPX_REJECTED, say_dev_rejected},
    [OTK_UPC_DEV_STREAM_TIMEOUT] = {OTK_UPX_STALLED, say_dev_stream_timeout},
    [OTK_UPC_DEV_WRONG_CHIP] = {OTK_UPX_WRONG_CHIP, say_dev_other},
    [OTK_UPC_DEV_OTHER] = {OTK_UPX_DEVICE, say_dev_other},
    [OTK_UPC_PROTOCOL] = {OTK_UPX_PROTOCOL, say_protocol},
    [OTK_UPC_DROPPED_AFTER_ALL] = {OTK_UPX_DROPPED, say_dropped_after_all},
    [OTK_UPC_DROPPED] = {OTK_UPX_DROPPED, say_dropped},
    [OTK_UPC_STALLED] = {OTK_UPX_STALLED, say_stalled},
    [OTK_UPC_STOPPED_READING] = {OTK_UPX_STALLED, say_stopped_reading},
    [OTK_UPC_NO_RESULT] = {OTK_UPX_DROPPED, say_no_result},
    [OTK_UPC_NAT_REFUSED] = {OTK_UPX_NO_ANSWER, say_nat_refused},
    [OTK_UPC_NAT_CONNECT_TIMEOUT] = {OTK_UPX_NO_ANSWER, say_nat_connect_timeout},
    [OTK_UPC_NAT_CONNECT_FAILED] = {OTK_UPX_NO_ANSWER, say_nat_connect_failed},
    [OTK_UPC_NAT_NOT_ESPHOME] = {OTK_UPX_FAIL, say_nat_not_esphome},
    [OTK_UPC_NAT_VERSION] = {OTK_UPX_FAIL, say_nat_version},
    [OTK_UPC_NAT_NO_ANSWER] = {OTK_UPX_NO_ANSWER, say_nat_no_answer},
    [OTK_UPC_NAT_NO_PASSWORD] = {OTK_UPX_AUTH, say_nat_no_password},
    [OTK_UPC_NAT_AUTH_FAILED] = {OTK_UPX_AUTH, say_nat_auth_failed},
    [OTK_UPC_NAT_NEEDS_KEY] = {OTK_UPX_ENCRYPTION, say_nat_needs_key},
    [OTK_UPC_NAT_NOT_ENCRYPTED] = {OTK_UPX_ENCRYPTION, say_nat_not_encrypted},
    [OTK_UPC_NAT_WRONG_KEY] = {OTK_UPX_AUTH, say_nat_wrong_key},
    [OTK_UPC_NAT_HANDSHAKE_REJECTED] = {OTK_UPX_ENCRYPTION, say_nat_handshake_rejected},
    [OTK_UPC_NAT_FRAME] = {OTK_UPX_DROPPED, say_nat_frame},
    [OTK_UPC_NAT_TOO_BIG] = {OTK_UPX_TOO_BIG, say_nat_too_big},
    [OTK_UPC_NAT_MD5] = {OTK_UPX_MD5, say_nat_md5},
    [OTK_UPC_NAT_REJECTED] = {OTK_UPX_REJECTED, say_nat_refusal},
    [OTK_UPC_NAT_DEVICE] = {OTK_UPX_DEVICE, say_nat_refusal},
    [OTK_UPC_NAT_DEVICE_TIMEOUT] = {OTK_UPX_STALLED, say_nat_device_timeout},
    [OTK_UPC_NAT_PROTOCOL] = {OTK_UPX_PROTOCOL, say_nat_protocol},
    [OTK_UPC_NAT_DROPPED] = {OTK_UPX_DROPPED, say_nat_dropped},
    [OTK_UPC_NAT_STALLED] = {OTK_UPX_STALLED, say_nat_stalled},
    [OTK_UPC_NAT_UNCONFIRMED] = {OTK_UPX_UNCONFIRMED, say_nat_unconfirmed},
    [OTK_UPC_NAT_LOCAL] = {OTK_UPX_FAIL, say_nat_local},
    [OTK_UPC_NAT_NO_FILESYSTEM] = {OTK_UPX_USAGE, say_nat_no_filesystem},
    [OTK_UPC_NEVER_AWOKE] = {OTK_UPX_ASLEEP, say_never_awoke},
    [OTK_UPC_HTTP_UNKNOWN] = {OTK_UPX_FAIL, say_http_unknown},
    [OTK_UPC_HTTP_REFUSED] = {OTK_UPX_NO_ANSWER, say_http},
    [OTK_UPC_HTTP_CONNECT_TIMEOUT] = {OTK_UPX_NO_ANSWER, say_http},
    [OTK_UPC_HTTP_CONNECT_FAILED] = {OTK_UPX_NO_ANSWER, say_http},
    [OTK_UPC_HTTP_NO_PASSWORD] = {OTK_UPX_AUTH, say_http},
    [OTK_UPC_HTTP_AUTH_FAILED] = {OTK_UPX_AUTH, say_http},
    [OTK_UPC_HTTP_AUTH_SCHEME] = {OTK_UPX_AUTH, say_http},
    [OTK_UPC_HTTP_NOT_FOUND] = {OTK_UPX_NOT_FOUND, say_http},
    [OTK_UPC_HTTP_STATUS] = {OTK_UPX_DEVICE, say_http},
    [OTK_UPC_HTTP_BAD_ANSWER] = {OTK_UPX_PROTOCOL, say_http},
    [OTK_UPC_HTTP_NO_ANSWER] = {OTK_UPX_NO_ANSWER, say_http},
    [OTK_UPC_HTTP_DROPPED] = {OTK_UPX_DROPPED, say_http},
    [OTK_UPC_HTTP_STALLED] = {OTK_UPX_STALLED, say_http},
    [OTK_UPC_HTTP_UNCONFIRMED] = {OTK_UPX_UNCONFIRMED, say_http},
    [OTK_UPC_HTTP_BUSY] = {OTK_UPX_DEVICE, say_http},
};

_Static_assert(sizeof causes / sizeof causes[0] == OTK_UPC_COUNT,
               "every cause of the engine needs its row here");

static const struct cause_row *
row_of(enum otk_up_cause cause)
{
    static const struct cause_row unknown = {OTK_UPX_FAIL, NULL};

    if ((size_t)cause >= sizeof causes / sizeof causes[0] ||
        (cause != OTK_UPC_OK && !causes[cause].say))
        return &unknown; /* not a cause: a corrupted outcome */
    return &causes[cause];
}

int
cli_upload_exit(const struct otk_upload_outcome *o)
{
    return row_of(o->cause)->exit_code;
}

int
cli_upload_classify_device_error(const char *text)
{
    return row_of(otk_upload_classify_device_error(text))->exit_code;
}

int
cli_upload_describe(const struct otk_upload *u, char *buf, size_t cap)
{
    const struct otk_upload_outcome *o = &u->outcome;
    const struct cause_row *row = row_of(o->cause);
    struct cli_msg m = {buf, cap, 0};

    if (cap)
        buf[0] = 0;
    if (o->cause == OTK_UPC_OK)
        return OTK_UPX_OK;
    if (row->say)
        row->say(u, &m);
    else
        cli_say(&m, "%s: the upload failed (cause %d)", u->cfg.target, (int)o->cause);
    if (o->strangers)
        cli_say(&m,
                "\nnote: refused %u repl%s or connection%s that did not come from the device (the "
                "last from %s): another host tried to answer in its place.",
                o->strangers, o->strangers == 1 ? "y" : "ies", o->strangers == 1 ? "" : "s",
                o->stranger);
    return row->exit_code;
}
