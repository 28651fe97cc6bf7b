/* SPDX-License-Identifier: MIT */
/* `otakit inspect FILE`: what is in a flash file (partition table, otadata, the image in each
 * slot, which slot boots next) or in an application image (chip, segments, checksum, hash, app
 * description). Read-only: the boot decision is computed on a private copy of the flash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "opts.h"
#include "json.h"
#include "flashsim.h"
#include "otakit/boot.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/layout.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

#define MAX_FILE (64u * 1024u * 1024u)

struct out {
    bool json;
    bool first; /* no comma before the next JSON member */
};

enum inspect_opt { N_JSON, N_HELP };

static const struct cli_opt inspect_opts_table[] = {
    {0, NULL, NULL, 0,
     "usage: otakit inspect FILE [--json]\n"
     "\n"
     "Show what a flash file (from 'otakit device') or an application image holds:\n"
     "partitions, otadata, each slot's image and state, which slot boots next; or\n"
     "an image's chip, segments, checksum / SHA-256 result, project and version.\n"},
    {0, "json", NULL, N_JSON, NULL},
    {'h', "help", NULL, N_HELP, NULL},
};

static const struct cli_table inspect_table = {
    .cmd = "inspect",
    .opts = inspect_opts_table,
    .n = sizeof inspect_opts_table / sizeof inspect_opts_table[0],
    .style = CLI_PLAIN,
    .help_col = 26,
};

static void
usage(FILE *to)
{
    cli_help_print(to, &inspect_table);
}

struct inspect_opts {
    const char *path;
    bool json, help;
};

static int
inspect_apply(void *ctx, const struct cli_opt *op, const char *v)
{
    struct inspect_opts *n = ctx;

    if (!op) {
        if (n->path) {
            fprintf(stderr, "otakit inspect: error: one FILE only\n");
            return OTK_EXIT_USAGE;
        }
        n->path = v;
        return 0;
    }
    if (op->id == N_HELP) {
        n->help = true;
        return CLI_APPLY_STOP;
    }
    n->json = true;
    return 0;
}

static const char *
chip_str(enum otk_profile p)
{
    return p == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32";
}

static const char *
type_str(uint8_t t)
{
    return t == OTK_PART_TYPE_APP ? "app" : t == OTK_PART_TYPE_DATA ? "data" : "custom";
}

static void
subtype_str(uint8_t type, uint8_t sub, char *out, size_t cap)
{
    if (type == OTK_PART_TYPE_APP) {
        if (sub == 0x00)
            snprintf(out, cap, "factory");
        else if (sub >= 0x10 && sub <= 0x1F)
            snprintf(out, cap, "ota_%u", (unsigned)(sub - 0x10));
        else if (sub == 0x20)
            snprintf(out, cap, "test");
        else
            snprintf(out, cap, "0x%02x", sub);
        return;
    }
    if (type == OTK_PART_TYPE_DATA) {
        static const char *const low[] = {"ota",      "phy",   "nvs",      "coredump",
                                          "nvs_keys", "efuse", "undefined"};
        if (sub < 7) {
            snprintf(out, cap, "%s", low[sub]);
            return;
        }
        if (sub == 0x80 || sub == 0x81 || sub == 0x82 || sub == 0x83) {
            static const char *const high[] = {"esphttpd", "fat", "spiffs", "littlefs"};
            snprintf(out, cap, "%s", high[sub - 0x80]);
            return;
        }
    }
    snprintf(out, cap, "0x%02x", sub);
}

static bool
all_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xFF)
            return false;
    return true;
}

/* The chip is not recorded in a flash file or image name: ask the verifier for the ESP32 first
 * and, when it says the image is for another chip, retry as the chip of the ESP32 family that
 * the header names, or as the ESP8266. */
static enum otk_image_result
verify_auto(const struct otk_flash_ops *f, uint32_t off, uint32_t max, struct otk_image_info *info)
{
    union otk_hash_ctx h;
    memset(info, 0, sizeof *info);
    enum otk_image_result r =
        otk_image_verify(f, otk_posix_crypto(), off, max, OTK_PROFILE_ESP32, &h, info);
    if (r == OTK_IMG_WRONG_CHIP) {
        int other = info->chip == OTK_PROFILE_ESP32 && info->chip_id != OTK_CHIP_ESP32 &&
                            otk_image_chip_known(info->chip_id)
                        ? info->chip_id
                        : OTK_CHIP_ESP8266;
        memset(info, 0, sizeof *info);
        enum otk_profile p = other == OTK_CHIP_ESP8266 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32;
        r = otk_image_verify_chip(f, otk_posix_crypto(), off, max, p, (uint16_t)other, &h, info);
    }
    return r;
}

/* The chip an image is for, as the command line names it: the ESP32 family's by its id. */
static const char *
image_chip_str(const struct otk_image_info *info)
{
    const char *s = info->chip == OTK_PROFILE_ESP32 ? cli_chip_str(info->chip_id) : NULL;
    return s ? s : chip_str(info->chip);
}

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
print_image_fields(const struct otk_image_info *info, enum otk_image_result r, bool json)
{
    if (json) {
        printf("\"verify\":\"%s\",\"verify_text\":", cli_image_result_key(r));
        cli_json_str(stdout, otk_image_result_str(r));
        printf(",\"chip\":\"%s\",\"project\":", image_chip_str(info));
        cli_json_str(stdout, info->has_app_desc ? info->project : "");
        printf(",\"version\":");
        cli_json_str(stdout, info->has_app_desc ? info->version : "");
        printf(",\"idf_ver\":");
        cli_json_str(stdout, info->has_app_desc ? info->idf_ver : "");
        printf(",\"has_app_desc\":%s,\"image_length\":%u,\"hash_appended\":%s",
               info->has_app_desc ? "true" : "false", (unsigned)info->length,
               info->hash_appended ? "true" : "false");
    } else {
        printf("%s image: %s", image_chip_str(info), otk_image_result_str(r));
        if (info->has_app_desc)
            printf(", project %s, version %s", info->project, info->version);
        else if (otk_boot_image_ok(r))
            printf(", no app description");
    }
}

/* An image file: header, segment list, verification. */
static int
inspect_image(const char *path, uint8_t *data, uint32_t len, bool json)
{
    struct otk_memflash m;
    const struct otk_flash_ops *f = otk_memflash_init(&m, data, len, false);
    struct otk_image_info info;
    enum otk_image_result r = verify_auto(f, 0, len, &info);
    uint32_t seg_off = info.chip == OTK_PROFILE_ESP8266 ? 8u : 24u;
    if (json) {
        printf("{\"type\":\"image\",\"file\":");
        cli_json_str(stdout, path);
        printf(",\"size\":%u,", (unsigned)len);
        print_image_fields(&info, r, true);
        printf(",\"entry\":%u,\"flash_mode\":%u,\"flash_size_freq\":%u,\"chip_id\":%u,"
               "\"segments\":[",
               (unsigned)info.entry, info.flash_mode, info.flash_size_freq, info.chip_id);
    } else {
        printf("%s: %u bytes\n", path, (unsigned)len);
        print_image_fields(&info, r, false);
        printf("\nentry 0x%08x, flash mode %u, size/freq byte 0x%02x", (unsigned)info.entry,
               info.flash_mode, info.flash_size_freq);
        if (info.chip == OTK_PROFILE_ESP32)
            printf(", chip id %u, SHA-256 %s", info.chip_id,
                   info.hash_appended ? "appended" : "not appended");
        printf("\nsegments:\n");
    }
    /* The segment list comes straight from the headers; bounded by the file. */
    uint8_t count = len > 1 && data[0] == OTK_IMAGE_MAGIC ? data[1] : 0;
    uint32_t off = seg_off;
    for (unsigned i = 0; i < count && i < OTK_IMAGE_MAX_SEGMENTS; i++) {
        if (off > len || len - off < 8)
            break;
        uint32_t addr = le32(data + off), slen = le32(data + off + 4);
        if (json)
            printf("%s{\"addr\":%u,\"len\":%u,\"offset\":%u}", i ? "," : "", (unsigned)addr,
                   (unsigned)slen, (unsigned)(off + 8));
        else
            printf("  %u: load 0x%08x  %7u bytes  (file offset 0x%x)\n", i, (unsigned)addr,
                   (unsigned)slen, (unsigned)(off + 8));
        if (slen > len - off - 8)
            break;
        off += 8 + slen;
    }
    if (json)
        printf("]}\n");
    return otk_boot_image_ok(r) ? OTK_EXIT_OK : OTK_EXIT_FAIL;
}

struct slot_view {
    enum otk_image_result verify;
    struct otk_image_info info;
    const char *state;
    bool empty;
};

/* Everything `inspect` shows about a flash file's slots, gathered before any printing. */
struct flash_view {
    struct otk_layout l;
    int lrc; /* the layout: OTK_OK or why the partition table has no OTA slots */
    struct otk_slots_status st;
    int src; /* otadata: OTK_OK or why it could not be read */
    struct slot_view sv[2];
    struct otk_boot_decision boot; /* boot.slot -1: nothing boots */
};

static enum otk_image_result
verify_any_chip(void *user, uint32_t offset, uint32_t size, struct otk_image_info *info)
{
    return verify_auto(user, offset, size, info);
}

/* What the next reset does: the bootloader's decision (the core's), made on a copy of the flash
 * so that its otadata writes leave the file untouched. */
static void
decide_boot(const uint8_t *data, uint32_t len, struct flash_view *v)
{
    memset(&v->boot, 0, sizeof v->boot);
    v->boot.slot = -1;
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, data, len);
    struct otk_memflash cm;
    const struct otk_flash_ops *cf = otk_memflash_init(&cm, copy, len, true);
    otk_boot_decide(cf, &v->l, verify_any_chip, (void *)cf, &v->boot, NULL);
    free(copy);
}

/* Name a slot's state: the winner by its otadata state, the other by its latest record or by
 * whether its image verifies. */
static const char *
slot_state(const struct flash_view *v, int s)
{
    const struct otk_slots_status *st = &v->st;
    int winner = st->active_entry >= 0 ? st->boot_slot : 0;
    int entry = -1;
    for (int k = 0; k < 2; k++)
        if (otk_slots_entry_slot(st, k) == s &&
            (entry < 0 || st->entry[k].seq > st->entry[entry].seq))
            entry = k;
    if (v->sv[s].empty && !otk_boot_image_ok(v->sv[s].verify))
        return "empty";
    if (!otk_boot_image_ok(v->sv[s].verify))
        return "corrupt";
    if (s == winner && st->active_entry >= 0)
        return st->boot_state == OTK_OTA_NEW              ? "new"
               : st->boot_state == OTK_OTA_PENDING_VERIFY ? "pending-verify"
                                                          : "active";
    if (s == winner)
        return "active"; /* factory state: otadata empty, app0 boots */
    if (entry >= 0 && st->entry[entry].state == OTK_OTA_INVALID)
        return "invalid";
    if (entry >= 0 && st->entry[entry].state == OTK_OTA_ABORTED)
        return "aborted";
    return "valid";
}

static void
view_flash(uint8_t *data, uint32_t len, struct otk_partition *parts, int n, struct flash_view *v)
{
    struct otk_memflash m;
    const struct otk_flash_ops *f = otk_memflash_init(&m, data, len, false);
    memset(v, 0, sizeof *v);
    v->st.active_entry = -1;
    v->boot.slot = -1;
    v->lrc = otk_layout_from_parts(parts, n, len, &v->l);
    v->src = v->lrc == OTK_OK ? otk_slots_read(f, &v->l, &v->st) : v->lrc;
    if (v->lrc != OTK_OK)
        return;
    for (int s = 0; s < 2; s++) {
        v->sv[s].verify = verify_auto(f, v->l.app_offset[s], v->l.app_size[s], &v->sv[s].info);
        uint32_t probe = v->l.app_size[s] < 4096 ? v->l.app_size[s] : 4096;
        v->sv[s].empty = all_ff(data + v->l.app_offset[s], probe);
    }
    decide_boot(data, len, v);
    for (int s = 0; s < 2; s++)
        v->sv[s].state = slot_state(v, s);
}

static void
print_partitions(const char *path, uint32_t len, const struct otk_partition *parts, int n,
                 bool json)
{
    if (json) {
        printf("{\"type\":\"flash\",\"file\":");
        cli_json_str(stdout, path);
        printf(",\"size\":%u,\"partitions\":[", (unsigned)len);
    } else {
        printf("%s: flash, %u bytes (%u KB)\npartitions:\n", path, (unsigned)len,
               (unsigned)(len / 1024u));
        printf("  %-16s %-5s %-9s %-10s %s\n", "label", "type", "subtype", "offset", "size");
    }
    for (int i = 0; i < n; i++) {
        char sub[16];
        subtype_str(parts[i].type, parts[i].subtype, sub, sizeof sub);
        if (json) {
            printf("%s{\"label\":", i ? "," : "");
            cli_json_str(stdout, parts[i].label);
            printf(",\"type\":\"%s\",\"subtype\":\"%s\",\"offset\":%u,\"size\":%u}",
                   type_str(parts[i].type), sub, (unsigned)parts[i].offset,
                   (unsigned)parts[i].size);
        } else {
            printf("  %-16s %-5s %-9s 0x%08x %u KB\n", parts[i].label, type_str(parts[i].type), sub,
                   (unsigned)parts[i].offset, (unsigned)(parts[i].size / 1024u));
        }
    }
}

static void
print_otadata_json(const struct flash_view *v)
{
    printf("],\"otadata\":[");
    for (int k = 0; k < 2; k++) {
        const struct otk_otadata_entry *e = &v->st.entry[k];
        bool erased = e->seq == 0xFFFFFFFFu && e->crc == 0xFFFFFFFFu;
        printf("%s{\"sector\":%d,\"offset\":%u,\"seq\":%u,\"state\":\"%s\",\"valid\":%s,"
               "\"erased\":%s,\"slot\":%d}",
               k ? "," : "", k, (unsigned)(v->l.otadata_offset + (uint32_t)k * OTK_SECTOR_SIZE),
               (unsigned)e->seq, cli_ota_state_key(e->state), v->st.valid[k] ? "true" : "false",
               erased ? "true" : "false", otk_slots_entry_slot(&v->st, k));
    }
    printf("],\"otadata_ok\":%s,\"active_entry\":%d,\"otadata_slot\":%d,"
           "\"otadata_state\":\"%s\",",
           v->src == OTK_OK ? "true" : "false", v->st.active_entry, v->st.boot_slot,
           cli_ota_state_key(v->st.boot_state));
}

static void
print_flash_json(const struct flash_view *v, const uint8_t *data, const struct otk_partition *parts,
                 int n)
{
    const struct otk_boot_decision *b = &v->boot;
    print_otadata_json(v);
    printf("\"slots\":[");
    for (int s = 0; s < 2; s++) {
        const char *label = "";
        for (int i = 0; i < n; i++)
            if (parts[i].offset == v->l.app_offset[s])
                label = parts[i].label;
        printf("%s{\"index\":%d,\"name\":", s ? "," : "", s);
        cli_json_str(stdout, label);
        printf(",\"offset\":%u,\"size\":%u,\"state\":\"%s\",\"empty\":%s,",
               (unsigned)v->l.app_offset[s], (unsigned)v->l.app_size[s], v->sv[s].state,
               v->sv[s].empty ? "true" : "false");
        print_image_fields(&v->sv[s].info, v->sv[s].verify, true);
        printf("}");
    }
    printf("],\"boot_slot\":%d,\"rollback_on_boot\":%s,\"fallback\":%s", b->slot,
           b->rolled_back ? "true" : "false", b->fallback ? "true" : "false");
    if (b->slot >= 0) {
        const struct otk_image_info *info = &v->sv[b->slot].info;
        printf(",\"boot_version\":");
        cli_json_str(stdout, info->has_app_desc ? info->version : "");
        printf(",\"boot_project\":");
        cli_json_str(stdout, info->has_app_desc ? info->project : "");
    }
    if (v->l.fs_offset) {
        uint32_t probe = v->l.fs_size < 4096 ? v->l.fs_size : 4096;
        printf(",\"fs\":{\"offset\":%u,\"size\":%u,\"empty\":%s}", (unsigned)v->l.fs_offset,
               (unsigned)v->l.fs_size, all_ff(data + v->l.fs_offset, probe) ? "true" : "false");
    }
    printf("}\n");
}

static void
print_slots_text(const struct flash_view *v)
{
    printf("otadata at 0x%08x:\n", (unsigned)v->l.otadata_offset);
    for (int k = 0; k < 2; k++) {
        const struct otk_otadata_entry *e = &v->st.entry[k];
        if (e->seq == 0xFFFFFFFFu && e->crc == 0xFFFFFFFFu)
            printf("  sector %d: erased\n", k);
        else
            printf("  sector %d: seq %u (slot %d), state %s, %s\n", k, (unsigned)e->seq,
                   otk_slots_entry_slot(&v->st, k), cli_ota_state_key(e->state),
                   v->st.valid[k] ? "crc ok" : "INVALID (ignored)");
    }
    if (v->st.active_entry < 0)
        printf("  no valid record: the bootloader starts slot 0\n");
    printf("slots:\n");
    for (int s = 0; s < 2; s++) {
        printf("  slot %d at 0x%08x (%u KB): %s", s, (unsigned)v->l.app_offset[s],
               (unsigned)(v->l.app_size[s] / 1024u), v->sv[s].state);
        if (!v->sv[s].empty || otk_boot_image_ok(v->sv[s].verify)) {
            printf(" - ");
            print_image_fields(&v->sv[s].info, v->sv[s].verify, false);
        }
        printf("\n");
    }
}

static void
print_flash_text(const struct flash_view *v, const uint8_t *data)
{
    const struct otk_boot_decision *b = &v->boot;
    print_slots_text(v);
    if (v->l.fs_offset) {
        uint32_t probe = v->l.fs_size < 4096 ? v->l.fs_size : 4096;
        printf("filesystem at 0x%08x (%u KB): %s\n", (unsigned)v->l.fs_offset,
               (unsigned)(v->l.fs_size / 1024u),
               all_ff(data + v->l.fs_offset, probe) ? "erased" : "has data");
    }
    if (b->slot < 0) {
        printf("boots next: NOTHING (no slot holds a valid image)\n");
        return;
    }
    const struct otk_image_info *info = &v->sv[b->slot].info;
    printf("boots next: slot %d%s%s: %s%s%s\n", b->slot,
           b->rolled_back ? " (rollback: the unconfirmed image is aborted)" : "",
           b->fallback ? " (fallback: the selected slot does not verify)" : "",
           info->has_app_desc ? info->project : "image without app description",
           info->has_app_desc ? " " : "", info->has_app_desc ? info->version : "");
}

static int
inspect_flash(const char *path, uint8_t *data, uint32_t len, struct otk_partition *parts, int n,
              bool json)
{
    struct flash_view v;
    view_flash(data, len, parts, n, &v);
    print_partitions(path, len, parts, n, json);
    if (v.lrc != OTK_OK) {
        if (json)
            printf("],\"error\":\"no otadata + ota_0 + ota_1 in the partition table\"}\n");
        else
            printf("no otadata + two OTA slots: nothing more to show\n");
        return OTK_EXIT_FAIL;
    }
    if (json)
        print_flash_json(&v, data, parts, n);
    else
        print_flash_text(&v, data);
    return v.boot.slot >= 0 ? OTK_EXIT_OK : OTK_EXIT_FAIL;
}

static uint8_t *
read_file(const char *path, uint32_t *len)
{
    /* Regular files only: opening a FIFO with no writer blocks for ever, and a directory or a
     * device is no flash dump. (stat first: fopen itself is what would block.) */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fprintf(stderr,
                "otakit inspect: error: %s is not a regular file (%s).\n"
                "fix: give a flash file (otakit device --flash) or a firmware image; save a "
                "stream to a file first.\n",
                path,
                S_ISDIR(sb.st_mode)    ? "a directory"
                : S_ISFIFO(sb.st_mode) ? "a FIFO or pipe"
                                       : "a device or socket");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "otakit inspect: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_FILE) {
                fprintf(stderr, "otakit inspect: error: %s is larger than 64 MB\n", path);
                free(buf);
                buf = NULL;
                break;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                fprintf(stderr, "otakit inspect: error: cannot read %s\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    fclose(f);
    *len = (uint32_t)n;
    return buf;
}

int
cmd_inspect(int argc, char **argv)
{
    struct inspect_opts opts = {NULL, false, false};
    struct cli_parse res;

    if (cli_parse_args(&inspect_table, argc, argv, inspect_apply, &opts, &res))
        return cli_parse_report(&inspect_table, &res);
    if (opts.help) {
        usage(stdout);
        return OTK_EXIT_OK;
    }
    const char *path = opts.path;
    bool json = opts.json;
    if (!path) {
        usage(stderr);
        return OTK_EXIT_USAGE;
    }
    uint32_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!data)
        return OTK_EXIT_FAIL;
    int rc;
    struct otk_partition parts[OTK_PARTTABLE_MAX];
    int n = -1;
    if (len >= OTK_PARTTABLE_OFFSET + 0xC00)
        n = otk_parttable_decode(otk_posix_crypto(), data + OTK_PARTTABLE_OFFSET, 0xC00, parts,
                                 OTK_PARTTABLE_MAX);
    if (n > 0) {
        rc = inspect_flash(path, data, len, parts, n, json);
    } else if (len > 0 &&
               (data[0] == OTK_IMAGE_MAGIC || (len > 1 && data[0] == 0x1F && data[1] == 0x8B))) {
        rc = inspect_image(path, data, len, json);
    } else {
        fprintf(stderr,
                "otakit inspect: error: %s is neither a flash file (no partition table at "
                "0x8000) nor an application image (first byte 0x%02x, not 0xE9)\n",
                path, len ? data[0] : 0);
        rc = OTK_EXIT_FAIL;
    }
    free(data);
    return rc;
}
