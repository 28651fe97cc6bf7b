/* SPDX-License-Identifier: MIT */
/* `otakit upload` command line: espota.py's command lines as PlatformIO and the Arduino IDE
 * write them, argparse's forms, placeholders, target lists; and the outcome tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otakit/upload.h"
#include "key.h"
#include "upload_cli.h"

static char err[2048];

static int
parse(struct otk_upload_opts *o, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"upload";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    return otk_upload_parse_args(argc, argv, o, err, sizeof err);
}

static void
platformio_command_line(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    /* builder/main.py: --debug --progress -i $UPLOAD_PORT, upload_flags, -f $SOURCE */
    const char *a[] = {"--debug",
                       "--progress",
                       "-i",
                       "192.168.1.50",
                       "--port=8266",
                       "--auth=OTAPASSWORD",
                       "--host_port=40123",
                       "-f",
                       ".pio/build/esp32dev/firmware.bin",
                       NULL};
    assert_int_equal(parse(&o, a), 0);
    assert_true(o.debug);
    assert_true(o.progress);
    assert_int_equal(o.ntargets, 1);
    assert_string_equal(o.targets[0], "192.168.1.50");
    assert_int_equal(o.port, 8266);
    assert_string_equal(o.auth, "OTAPASSWORD");
    assert_int_equal(o.host_port, 40123);
    assert_string_equal(o.file, ".pio/build/esp32dev/firmware.bin");
    assert_false(o.spiffs);
    otk_upload_opts_free(&o);
}

static void
arduino_ide_command_line(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    /* -i {upload.port.address} -p {upload.port.properties.port} "--auth={...}" -f "..." */
    const char *a[] = {"-i", "10.0.0.7", "-p", "3232", "--auth=", "-f", "/tmp/b/sketch.ino.bin",
                       NULL};
    assert_int_equal(parse(&o, a), 0);
    assert_string_equal(o.targets[0], "10.0.0.7");
    assert_int_equal(o.port, 3232);
    assert_string_equal(o.auth, ""); /* no password */
    otk_upload_opts_free(&o);
}

static void
defaults_are_espotas(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    const char *a[] = {"-i", "esp.local", "-f", "x.bin", NULL};
    assert_int_equal(parse(&o, a), 0);
    assert_int_equal(o.port, 3232);
    assert_string_equal(o.host_ip, "0.0.0.0");
    assert_int_equal(o.host_port, -1);
    assert_string_equal(o.auth, "");
    assert_true(o.timeout_s == 10.0);
    assert_int_equal(o.retries, 2);
    assert_false(o.md5_target || o.spiffs || o.debug || o.quiet || o.json || o.lockstep || o.force);
    otk_upload_opts_free(&o);
}

static void
argparse_forms(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    /* attached short values, clustered flags ending in an option with a value, separate
     * long values, unique prefixes, '_'/'-' aliases */
    /* "--host" alone is ambiguous (host_ip, host_port) */
    const char *amb[] = {"-i", "x", "-f", "y", "--host", "1", NULL};
    assert_int_equal(parse(&o, amb), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "ambiguous"));
    otk_upload_opts_free(&o);

    const char *b[] = {"-p3232",  "-P",      "41000",       "-aPW",      "-dsr",   "-ffs.bin",
                       "-i",      "1.2.3.4", "--host-ip",   "127.0.0.1", "--prog", "--md5_target",
                       "-t",      "2.5",     "--retries",   "0",         "--json", "--lockstep",
                       "--force", "-q",      "--stall-t=3", NULL};
    assert_int_equal(parse(&o, b), 0);
    assert_int_equal(o.port, 3232);
    assert_int_equal(o.host_port, 41000);
    assert_string_equal(o.auth, "PW");
    assert_true(o.debug && o.spiffs && o.progress && o.md5_target && o.json && o.lockstep &&
                o.force && o.quiet);
    assert_string_equal(o.file, "fs.bin");
    assert_string_equal(o.host_ip, "127.0.0.1");
    assert_true(o.timeout_s == 2.5);
    assert_true(o.stall_timeout_s == 3.0);
    assert_int_equal(o.retries, 0);
    otk_upload_opts_free(&o);

    /* "-dp 8266": a cluster whose last option takes the next argument */
    const char *c[] = {"-dp", "8266", "-i", "h", "-f", "x", "--auth", "secret", NULL};
    assert_int_equal(parse(&o, c), 0);
    assert_true(o.debug);
    assert_int_equal(o.port, 8266);
    assert_string_equal(o.auth, "secret");
    otk_upload_opts_free(&o);

    /* a password that starts with '-' needs the '=' form, as with argparse */
    const char *d[] = {"-i", "h", "-f", "x", "--auth=-dash", NULL};
    assert_int_equal(parse(&o, d), 0);
    assert_string_equal(o.auth, "-dash");
    otk_upload_opts_free(&o);
    const char *e[] = {"-i", "h", "-f", "x", "--auth", "-dash", NULL};
    assert_int_equal(parse(&o, e), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "expected one argument"));
    otk_upload_opts_free(&o);
}

static void
several_targets(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    const char *a[] = {"-i", "10.0.0.1", "-i", "10.0.0.2:8266", "--ip=gw.local", "-f", "x", NULL};
    assert_int_equal(parse(&o, a), 0);
    assert_int_equal(o.ntargets, 3);
    assert_string_equal(o.targets[1], "10.0.0.2:8266");
    assert_string_equal(o.targets[2], "gw.local");
    otk_upload_opts_free(&o);
}

static void
usage_errors(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    const char *no_ip[] = {"-f", "x", NULL};
    assert_int_equal(parse(&o, no_ip), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "-i/--ip"));
    otk_upload_opts_free(&o);
    const char *no_file[] = {"-i", "h", NULL};
    assert_int_equal(parse(&o, no_file), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "-f/--file"));
    otk_upload_opts_free(&o);
    const char *bad_port[] = {"-i", "h", "-f", "x", "-p", "abc", NULL};
    assert_int_equal(parse(&o, bad_port), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "invalid int value: 'abc'"));
    otk_upload_opts_free(&o);
    const char *big_port[] = {"-i", "h", "-f", "x", "-p", "70000", NULL};
    assert_int_equal(parse(&o, big_port), OTK_UPX_USAGE);
    otk_upload_opts_free(&o);
    const char *unknown[] = {"-i", "h", "-f", "x", "--bogus", NULL};
    assert_int_equal(parse(&o, unknown), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "--bogus"));
    otk_upload_opts_free(&o);
    const char *positional[] = {"-i", "h", "-f", "x", "extra.bin", NULL};
    assert_int_equal(parse(&o, positional), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "extra.bin"));
    otk_upload_opts_free(&o);
    const char *flag_value[] = {"-i", "h", "-f", "x", "--json=1", NULL};
    assert_int_equal(parse(&o, flag_value), OTK_UPX_USAGE);
    otk_upload_opts_free(&o);
    const char *missing[] = {"-i", "h", "-f", NULL};
    assert_int_equal(parse(&o, missing), OTK_UPX_USAGE);
    otk_upload_opts_free(&o);
    const char *zero_timeout[] = {"-i", "h", "-f", "x", "-t", "0", NULL};
    assert_int_equal(parse(&o, zero_timeout), OTK_UPX_USAGE);
    otk_upload_opts_free(&o);
    const char *help[] = {"--help", NULL}; /* --help needs nothing else */
    assert_int_equal(parse(&o, help), 0);
    assert_true(o.help);
    otk_upload_opts_free(&o);
}

static void
ide_placeholder_is_explained(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    const char *a[] = {"-i",      "10.0.0.7", "-p",    "{upload.port.properties.port}",
                       "--auth=", "-f",       "x.bin", NULL};
    assert_int_equal(parse(&o, a), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "{upload.port.properties.port}"));
    assert_non_null(strstr(err, "arduino-ide#740"));
    assert_non_null(strstr(err, "platform.local.txt"));
    otk_upload_opts_free(&o);
    const char *b[] = {"-i", "{upload.port.address}", "-f", "x.bin", NULL};
    assert_int_equal(parse(&o, b), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "placeholder"));
    otk_upload_opts_free(&o);
    /* a password with braces but no dot is a password */
    const char *c[] = {"-i", "h", "-f", "x", "--auth={secret}", NULL};
    assert_int_equal(parse(&o, c), 0);
    assert_string_equal(o.auth, "{secret}");
    otk_upload_opts_free(&o);
}

static void
split_target(void **state)
{
    (void)state;
    char h[64];
    int port = 3232;
    assert_int_equal(otk_upload_split_target("10.1.2.3", h, sizeof h, &port), 0);
    assert_string_equal(h, "10.1.2.3");
    assert_int_equal(port, 3232);
    assert_int_equal(otk_upload_split_target("gw.local:8266", h, sizeof h, &port), 0);
    assert_string_equal(h, "gw.local");
    assert_int_equal(port, 8266);
    assert_int_equal(otk_upload_split_target("h:0", h, sizeof h, &port), -1);
    assert_int_equal(otk_upload_split_target("h:x", h, sizeof h, &port), -1);
    assert_int_equal(otk_upload_split_target(":80", h, sizeof h, &port), -1);
    assert_int_equal(otk_upload_split_target("averyveryverylonghostname", h, 8, &port), -1);
}

static void
targets_file(void **state)
{
    (void)state;
    char path[] = "/tmp/otk-targets-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# gateways\n10.0.0.1\n\n  10.0.0.2:8266  # the old one\r\ngw.local\n", f);
    fclose(f);

    struct otk_upload_opts o;
    const char *a[] = {"-i", "10.0.0.9", "--targets", path, "-f", "x", NULL};
    assert_int_equal(parse(&o, a), 0);
    assert_int_equal(otk_upload_read_targets(&o, err, sizeof err), 0);
    assert_int_equal(o.ntargets, 4);
    assert_string_equal(o.targets[0], "10.0.0.9");
    assert_string_equal(o.targets[1], "10.0.0.1");
    assert_string_equal(o.targets[2], "10.0.0.2:8266");
    assert_string_equal(o.targets[3], "gw.local");
    otk_upload_opts_free(&o);

    f = fopen(path, "w");
    fputs("10.0.0.1 10.0.0.2\n", f);
    fclose(f);
    const char *b[] = {"--targets", path, "-f", "x", NULL};
    assert_int_equal(parse(&o, b), 0);
    assert_int_equal(otk_upload_read_targets(&o, err, sizeof err), OTK_UPX_USAGE);
    assert_non_null(strstr(err, ":1:"));
    otk_upload_opts_free(&o);
    unlink(path);

    const char *c[] = {"--targets", path, "-f", "x", NULL};
    assert_int_equal(parse(&o, c), 0);
    assert_int_equal(otk_upload_read_targets(&o, err, sizeof err), OTK_UPX_FILE);
    otk_upload_opts_free(&o);
}

static void
device_error_texts(void **state)
{
    (void)state;
    /* ESP32 Updater strings (TCP trailer) */
    assert_int_equal(cli_upload_classify_device_error("Not Enough Space"), OTK_UPX_TOO_BIG);
    assert_int_equal(cli_upload_classify_device_error("Bad Size Given"), OTK_UPX_TOO_BIG);
    assert_int_equal(cli_upload_classify_device_error("Wrong Magic Byte"), OTK_UPX_NOT_FIRMWARE);
    assert_int_equal(cli_upload_classify_device_error("MD5 Check Failed"), OTK_UPX_MD5);
    assert_int_equal(cli_upload_classify_device_error("Could Not Activate The Firmware"),
                     OTK_UPX_REJECTED);
    assert_int_equal(cli_upload_classify_device_error("Flash Write Failed"), OTK_UPX_DEVICE);
    assert_int_equal(cli_upload_classify_device_error("Aborted"), OTK_UPX_DEVICE);
    /* the device timed out waiting for data: a stall, retried */
    assert_int_equal(cli_upload_classify_device_error("Stream Read Timeout"), OTK_UPX_STALLED);
    assert_int_equal(cli_upload_classify_device_error("ERROR[6]: Stream Read Timeout"),
                     OTK_UPX_STALLED);
    /* ESP8266 "ERROR[n]: ..." (UDP "ERR: " stripped, or TCP) */
    assert_int_equal(cli_upload_classify_device_error("ERROR[4]: Not Enough Space"),
                     OTK_UPX_TOO_BIG);
    assert_int_equal(cli_upload_classify_device_error("ERROR[10]: Magic byte is not 0xE9"),
                     OTK_UPX_NOT_FIRMWARE);
    assert_int_equal(cli_upload_classify_device_error(
                         "ERROR[7]: MD5 verification failed: expected: a, calculated: b"),
                     OTK_UPX_MD5);
    assert_int_equal(cli_upload_classify_device_error("ERROR[9]: new Flash config wrong"),
                     OTK_UPX_REJECTED);
    assert_int_equal(cli_upload_classify_device_error("ERROR[12]: Signature verification failed"),
                     OTK_UPX_REJECTED);
    assert_int_equal(cli_upload_classify_device_error("Image verification failed"),
                     OTK_UPX_REJECTED);
    assert_int_equal(cli_upload_classify_device_error(
                         "ERROR[11]: Invalid bootstrapping state, reset ESP8266 before updating"),
                     OTK_UPX_DEVICE);
}

static void
outcome_tables(void **state)
{
    (void)state;
    /* retried: no answer, no auth answer, stall, drop, MD5; never password or refusals */
    assert_true(otk_upload_cause_transient(OTK_UPC_NO_ANSWER));
    assert_true(otk_upload_cause_transient(OTK_UPC_AUTH_NO_ANSWER));
    assert_true(otk_upload_cause_transient(OTK_UPC_STALLED));
    assert_true(otk_upload_cause_transient(OTK_UPC_DROPPED));
    assert_true(otk_upload_cause_transient(OTK_UPC_DEV_MD5));
    assert_false(otk_upload_cause_transient(OTK_UPC_AUTH_FAILED));
    assert_false(otk_upload_cause_transient(OTK_UPC_DEV_TOO_BIG));
    assert_false(otk_upload_cause_transient(OTK_UPC_DEV_NOT_FIRMWARE));
    assert_false(otk_upload_cause_transient(OTK_UPC_DEV_REJECTED));
    assert_false(otk_upload_cause_transient(OTK_UPC_NO_CONNECT));
    assert_false(otk_upload_cause_transient(OTK_UPC_PROTOCOL));
    assert_false(otk_upload_cause_transient(OTK_UPC_NOT_RESOLVED));
    assert_false(otk_upload_cause_transient(OTK_UPC_OK));
    /* the same rule over every cause: retried exactly when its exit code is one of those; and
     * every failure has words */
    for (int c = 0; c < OTK_UPC_COUNT; c++) {
        struct otk_upload u;
        char msg[1024];
        int code;

        memset(&u, 0, sizeof u);
        u.cfg.target = "dev";
        snprintf(u.outcome.detail, sizeof u.outcome.detail, "interrupted");
        u.outcome.cause = (enum otk_up_cause)c;
        code = cli_upload_describe(&u, msg, sizeof msg);
        assert_int_equal(code, cli_upload_exit(&u.outcome));
        assert_int_equal(otk_upload_cause_transient((enum otk_up_cause)c),
                         code == OTK_UPX_NO_ANSWER || code == OTK_UPX_AUTH_NO_ANSWER ||
                             code == OTK_UPX_STALLED || code == OTK_UPX_DROPPED ||
                             code == OTK_UPX_MD5);
        if (c == OTK_UPC_OK)
            assert_string_equal(msg, "");
        else
            assert_true(strlen(msg) > 15);
    }
    /* every code has its own name */
    for (int a = 0; a <= OTK_UPX_UNCONFIRMED; a++)
        for (int b = a + 1; b <= OTK_UPX_UNCONFIRMED; b++)
            assert_string_not_equal(cli_upload_exit_name(a), cli_upload_exit_name(b));
    assert_string_equal(cli_upload_exit_name(99), "failed");
}

/* --protocol and --key: argparse's words for a bad choice; the key as ESPHome writes it. */
/* --wait's value is optional (argparse's nargs='?'): alone it means 300 s, and an option after
 * it is an option, not its value; --http-port is a port. */
static void
wait_and_http_port(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    const char *none[] = {"-i", "d", "-f", "x.bin", NULL};
    assert_int_equal(parse(&o, none), 0);
    assert_true(o.wait_s == 0);
    assert_int_equal(o.http_port, 0);
    otk_upload_opts_free(&o);

    const char *alone[] = {"-i", "d", "--wait", "-f", "x.bin", NULL};
    assert_int_equal(parse(&o, alone), 0);
    assert_true(o.wait_s == OTK_UPLOAD_WAIT_DEFAULT_S);
    assert_string_equal(o.file, "x.bin");
    otk_upload_opts_free(&o);

    const char *last[] = {"-i", "d", "-f", "x.bin", "--wait", NULL};
    assert_int_equal(parse(&o, last), 0);
    assert_true(o.wait_s == OTK_UPLOAD_WAIT_DEFAULT_S);
    otk_upload_opts_free(&o);

    const char *eq[] = {"-i", "d", "-f", "x.bin", "--wait=600", "--http-port", "8080", NULL};
    assert_int_equal(parse(&o, eq), 0);
    assert_true(o.wait_s == 600);
    assert_int_equal(o.http_port, 8080);
    otk_upload_opts_free(&o);

    const char *sep[] = {"-i", "d", "--wait", "20.5", "-f", "x.bin", NULL};
    assert_int_equal(parse(&o, sep), 0);
    assert_true(o.wait_s == 20.5);
    otk_upload_opts_free(&o);

    const char *prefix[] = {"-i", "d", "-f", "x.bin", "--wai=7", NULL}; /* argparse's prefixes */
    assert_int_equal(parse(&o, prefix), 0);
    assert_true(o.wait_s == 7);
    otk_upload_opts_free(&o);

    const char *bad[] = {"-i", "d", "-f", "x.bin", "--wait", "soon", NULL};
    assert_int_equal(parse(&o, bad), OTK_UPX_USAGE);
    assert_string_equal(err, "argument --wait: invalid value 'soon' (seconds, > 0)");
    otk_upload_opts_free(&o);

    const char *badport[] = {"-i", "d", "-f", "x.bin", "--http-port", "0", NULL};
    assert_int_equal(parse(&o, badport), OTK_UPX_USAGE);
    otk_upload_opts_free(&o);
}

static void
protocol_and_key(void **state)
{
    (void)state;
    struct otk_upload_opts o;
    const char *dflt[] = {"-i", "d", "-f", "x.bin", NULL};
    assert_int_equal(parse(&o, dflt), 0);
    assert_int_equal(o.protocol, OTK_UP_PROTO_AUTO);
    assert_false(o.has_key);
    otk_upload_opts_free(&o);

    const char *esp[] = {"-i",
                         "d",
                         "-f",
                         "x.bin",
                         "--protocol=esphome",
                         "--key",
                         "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                         NULL};
    assert_int_equal(parse(&o, esp), 0);
    assert_int_equal(o.protocol, OTK_UP_PROTO_ESPHOME);
    assert_true(o.has_key);
    for (int i = 0; i < 32; i++)
        assert_int_equal(o.key[i], i);
    otk_upload_opts_free(&o);

    const char *ard[] = {"-i", "d", "-f", "x.bin", "--protocol", "arduino", NULL};
    assert_int_equal(parse(&o, ard), 0);
    assert_int_equal(o.protocol, OTK_UP_PROTO_ARDUINO);
    otk_upload_opts_free(&o);

    const char *eota[] = {"-i", "d", "-f", "x.bin", "--protocol", "elegantota", NULL};
    assert_int_equal(parse(&o, eota), 0);
    assert_int_equal(o.protocol, OTK_UP_PROTO_ELEGANTOTA);
    otk_upload_opts_free(&o);

    const char *web[] = {"-i", "d", "-f", "x.bin", "--protocol=web", NULL};
    assert_int_equal(parse(&o, web), 0);
    assert_int_equal(o.protocol, OTK_UP_PROTO_WEB);
    otk_upload_opts_free(&o);

    const char *bad[] = {"-i", "d", "-f", "x.bin", "--protocol", "mqtt", NULL};
    assert_int_equal(parse(&o, bad), OTK_UPX_USAGE);
    assert_string_equal(err, "argument --protocol: invalid choice: 'mqtt' (choose from "
                             "'arduino', 'esphome', 'auto', 'elegantota', 'web')");
    otk_upload_opts_free(&o);

    const char *badkey[] = {"-i", "d", "-f", "x.bin", "--key", "c2hvcnQ=", NULL};
    assert_int_equal(parse(&o, badkey), OTK_UPX_USAGE);
    assert_non_null(strstr(err, "argument --key: a key is 44 characters of base64"));
    otk_upload_opts_free(&o);
}

static void
keys(void **state)
{
    (void)state;
    uint8_t k[32];
    char why[160];

    assert_int_equal(
        cli_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", k, why, sizeof why), 0);
    assert_int_equal(k[0], 0);
    assert_int_equal(k[31], 31);
    /* + and / are base64 digits */
    assert_int_equal(
        cli_parse_key("+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7//A=", k, why, sizeof why), 0);
    assert_int_equal(k[0], 0xfb);
    assert_int_equal(k[30], 0xff);
    assert_int_equal(k[31], 0xf0);
    /* not base64, wrong length, padding in the wrong place, bits left over, all zero */
    assert_int_equal(
        cli_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=", k, why, sizeof why), -1);
    assert_non_null(strstr(why, "'*' (position 43)"));
    assert_int_equal(
        cli_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", k, why, sizeof why), -1);
    assert_int_equal(
        cli_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==", k, why, sizeof why), -1);
    assert_int_equal(
        cli_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", k, why, sizeof why), -1);
    assert_non_null(strstr(why, "bits over"));
    assert_int_equal(
        cli_parse_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", k, why, sizeof why), -1);
    assert_non_null(strstr(why, "not provisioned"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(platformio_command_line),
        cmocka_unit_test(arduino_ide_command_line),
        cmocka_unit_test(defaults_are_espotas),
        cmocka_unit_test(argparse_forms),
        cmocka_unit_test(several_targets),
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(ide_placeholder_is_explained),
        cmocka_unit_test(split_target),
        cmocka_unit_test(targets_file),
        cmocka_unit_test(device_error_texts),
        cmocka_unit_test(outcome_tables),
        cmocka_unit_test(protocol_and_key),
        cmocka_unit_test(wait_and_http_port),
        cmocka_unit_test(keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
