/* SPDX-License-Identifier: MIT */
/* `otakit upload`'s signature check, before the first byte goes out: ESPHome's client and
 * espota.py send a signed image blind and learn of a wrong key only from the device's answer
 * after the whole upload (ESPHome's 0x8D), or not at all (esp8266/Arduino#7162: espota printed
 * OK for an image the device then refused). With --trusted-key the image must be signed with
 * that key; without one, a signed image's block or trailer must at least be whole. */
#include <stdio.h>
#include <string.h>

#include "otakit/sig.h"
#include "otakit/sigtool.h"
#include "upload_cli.h"

/* The fix for each result the check refuses. */
static const char *
fix_for(enum otk_sig_result r, bool keyed)
{
    switch (r) {
    case OTK_SIG_UNSIGNED:
        return keyed ? "sign it (otakit image --input FILE --sign KEY.pem -o FILE.signed, "
                       "espsecure sign-data, or the ESP8266 build's automatic signing) and "
                       "upload the signed file"
                     : "";
    case OTK_SIG_WRONG_KEY:
        return "sign it with the device's key, or give the key it was signed with";
    case OTK_SIG_CHANGED:
        return "the file was modified after it was signed (a re-pad, an edit, a merge): sign "
               "the final file again";
    case OTK_SIG_LEGACY:
        return "sign it again without --legacy: cores since 2.5.2 check the DigestInfo form";
    default:
        return "sign the image again; the signature block or trailer is damaged";
    }
}

static int
refuse(const struct otk_upload_opts *o, enum otk_sig_result r, const struct otk_sig_info *info,
       bool keyed)
{
    const char *what = info->format == OTK_SIG_FMT_SBV2      ? "Secure Boot V2"
                       : info->format == OTK_SIG_FMT_ESP8266 ? "ESP8266"
                                                             : "any";

    fprintf(stderr, "otakit upload: %s: '%s': %s (%s signature%s).\n",
            o->force ? "warning" : "error", o->file, otk_sig_result_str(r), what,
            keyed ? ", checked with --trusted-key" : ", checked without a key");
    if (o->force) {
        fprintf(stderr, "  --force: uploading it anyway; a device that checks signatures "
                        "will refuse it.\n");
        return 0;
    }
    fprintf(stderr, "  fix: %s; to send it anyway add --force.\n", fix_for(r, keyed));
    return OTK_UPX_SIGNATURE;
}

static void
note_ok(const struct otk_upload_opts *o, const struct otk_sig_info *info, bool keyed)
{
    char hex[65];

    if (o->quiet)
        return;
    if (info->format == OTK_SIG_FMT_SBV2) {
        otk_sig_digest_hex(info->key_digest, hex);
        fprintf(stderr, "otakit upload: signature: %s, block %u, key digest %.16s...: %s.\n",
                otk_sig_alg_str(info->alg), (unsigned)info->block_used, hex,
                keyed ? "valid, made with the trusted key"
                      : "valid with the key in the block (--trusted-key checks it is yours)");
    } else {
        fprintf(stderr, "otakit upload: signature: %s, %u bytes: %s.\n", otk_sig_alg_str(info->alg),
                (unsigned)info->sig_len,
                keyed ? "valid, made with the trusted key"
                      : "trailer present, not verified (--trusted-key KEY.pem verifies it)");
    }
}

/* With --trusted-key: the image's format decides which of the key's trusts applies. */
static int
check_keyed(const struct otk_upload_opts *o, const uint8_t *image, uint32_t size)
{
    struct otk_hostkey k;
    struct otk_sig_info info;
    enum otk_sig_result r;
    char err[200];

    if (otk_hostkey_load(&k, o->trusted_key, err, sizeof err) != 0) {
        fprintf(stderr, "otakit upload: error: argument --trusted-key: %s: %s\n", o->trusted_key,
                err);
        return OTK_UPX_USAGE;
    }
    r = otk_sig_check_buffer(image, size, NULL, &info);
    if (info.format != OTK_SIG_FMT_NONE) {
        const struct otk_sig_key *trust = otk_hostkey_trust(&k, info.format);

        /* a key that cannot make this format's signatures is "another key" */
        r = trust ? otk_sig_check_buffer(image, size, trust, &info) : OTK_SIG_WRONG_KEY;
    }
    otk_hostkey_free(&k);
    if (r != OTK_SIG_OK)
        return refuse(o, r, &info, true);
    note_ok(o, &info, true);
    return 0;
}

int
cli_upload_check_signature(const struct otk_upload_opts *o, const uint8_t *image, uint32_t size)
{
    struct otk_sig_info info;
    enum otk_sig_result r;

    if (o->spiffs)
        return 0; /* filesystem images carry no signature */
    if (o->trusted_key)
        return check_keyed(o, image, size);
    r = otk_sig_check_buffer(image, size, NULL, &info);
    if (r == OTK_SIG_UNSIGNED)
        return 0;
    if (r == OTK_SIG_UNSUPPORTED) {
        if (!o->quiet)
            fprintf(stderr,
                    "otakit upload: note: '%s' carries a signature of a kind otakit "
                    "does not check (ECDSA P-192 or P-384).\n",
                    o->file);
        return 0;
    }
    if (r != OTK_SIG_OK)
        return refuse(o, r, &info, false);
    note_ok(o, &info, false);
    return 0;
}
