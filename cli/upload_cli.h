/* SPDX-License-Identifier: MIT */
/* `otakit upload`'s side of the split: its exit codes, its command line (espota.py-compatible),
 * and the words for the upload engine's outcomes. The engine (include/otakit/upload.h) returns a
 * cause and the facts; what a user reads and which number the shell sees is decided here. */
#ifndef OTK_CLI_UPLOAD_H
#define OTK_CLI_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "otakit/upload.h"

/** Exit codes of `otakit upload` (docs/CLI.md). Numbers are part of the CLI contract: append
 *  only. */
enum otk_upload_exit {
    OTK_UPX_OK = 0,             /* the device answered "OK" after the last byte */
    OTK_UPX_FAIL = 1,           /* unexpected answer, internal error, or mixed failures */
    OTK_UPX_USAGE = 2,          /* bad command line (also: unexpanded IDE placeholder) */
    OTK_UPX_FILE = 3,           /* image file missing, unreadable, empty, or not 0xE9 */
    OTK_UPX_RESOLVE = 4,        /* host name not resolved */
    OTK_UPX_NO_ANSWER = 5,      /* no answer to the invitation */
    OTK_UPX_AUTH = 6,           /* wrong password, or a password is required */
    OTK_UPX_AUTH_NO_ANSWER = 7, /* no answer to the authentication answer */
    OTK_UPX_NO_CONNECT = 8,     /* device accepted but never connected back */
    OTK_UPX_TOO_BIG = 9,        /* "Not Enough Space" / "Bad Size Given" */
    OTK_UPX_NOT_FIRMWARE = 10,  /* "Wrong Magic Byte" / "Magic byte is not 0xE9" */
    OTK_UPX_MD5 = 11,           /* "MD5 Check Failed": corrupted in transit */
    OTK_UPX_REJECTED = 12,      /* could not activate / flash config / verification / signature */
    OTK_UPX_DEVICE = 13,        /* any other error text from the device */
    OTK_UPX_STALLED = 14,       /* the device stopped taking data */
    OTK_UPX_DROPPED = 15,       /* connection closed without a result */
    OTK_UPX_LOCAL_NET = 16,     /* cannot open the local sockets (bind / listen) */
    OTK_UPX_WRONG_CHIP = 17,    /* the image is for another chip than the device */
    OTK_UPX_PROTOCOL = 18,      /* the device broke the protocol: "OK" before the whole image
                                   was acknowledged, acks of bytes never sent, garbage */
    OTK_UPX_ENCRYPTION = 19,    /* native protocol: the device requires encryption and no key
                                   was given, or a key was given and it offers none */
    OTK_UPX_UNCONFIRMED = 20,   /* native protocol: the whole image went out, no verdict came;
                                   not re-sent (the device may have applied it); also the
                                   HTTP doors' upload without an answer */
    OTK_UPX_ASLEEP = 21,        /* --wait: the device never showed itself in the given time */
    OTK_UPX_NOT_FOUND = 22,     /* HTTP: the device has no such door (404/405): another
                                   protocol or port, or its OTA page is off (21: --wait's) */
    OTK_UPX_SIGNATURE = 23,     /* checked before sending: no signature, another key, a bad
                                   signature, or the image changed after signing */
};

/** A short name for an exit code ("ok", "no-answer", "auth-failed", ...), for tables and JSON. */
const char *cli_upload_exit_name(int code);

/** The exit code of an outcome. */
int cli_upload_exit(const struct otk_upload_outcome *o);

/** The exit code a device's error text leads to (the engine's classification, then the table). */
int cli_upload_classify_device_error(const char *text);

/** What went wrong with u and how to fix it (u ended, or its attempt did: OTK_UP_EV_RETRY), as
 *  lines "cause\nfix: ...", into msg. Empty for success. @return the exit code. */
int cli_upload_describe(const struct otk_upload *u, char *msg, size_t cap);

/** A message being worded: printf-appended into buf, cut at cap (upload_report.c). */
struct cli_msg {
    char *buf;
    size_t cap, len;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void
cli_say(struct cli_msg *m, const char *fmt, ...);

/** The words for an OTK_UPC_HTTP_* outcome (upload_report_http.c). @return their length. */
size_t cli_upload_http_words(const struct otk_upload *u, char *buf, size_t cap);

/** A protocol violation's short name for JSON ("early-ok", "over-ack", "garbage"), NULL for any
 *  other cause. */
const char *cli_upload_rule_name(const struct otk_upload_outcome *o);

/* ---- command line ---- */

struct cli_table;

/** The options of `otakit upload` (opts.h): parsed by otk_upload_parse_args, shown by --help. */
extern const struct cli_table otk_upload_table;

/** espota.py-compatible options plus otakit's long-only ones. */
struct otk_upload_opts {
    char **targets; /* -i (repeatable) then --targets FILE lines; each "host" or "host:port" */
    size_t ntargets;
    const char *targets_file;
    const char *host_ip;
    int host_port;   /* -1 = ephemeral */
    int port;        /* device port */
    bool port_given; /* -p was on the command line (else the port follows the image's chip) */
    const char *auth;
    const char *user; /* --user: HTTP authentication */
    const char *file;
    bool md5_target, spiffs, debug, progress, quiet, json, lockstep, force, help;
    bool no_resume;   /* --no-resume: never ask an otakit device to continue a dropped image */
    bool no_compress; /* --no-compress: never ask an otakit device to inflate a deflate stream */
    double timeout_s; /* -t */
    double stall_timeout_s; /* --stall-timeout */
    double result_timeout_s;
    unsigned retries;
    enum otk_up_protocol protocol; /* --protocol (default auto) */
    bool has_key;                  /* --key given */
    uint8_t key[32];               /* its 32 bytes */
    double wait_s;                 /* --wait: look for a sleeping device this long (0: no) */
    int http_port;                 /* --http-port: auto's HTTP probe (0: 80) */
    const char *trusted_key;       /* --trusted-key: a PEM key the image must be signed with */
};

/** --wait without a value: five minutes, long enough for a device that wakes every few. */
#define OTK_UPLOAD_WAIT_DEFAULT_S 300

/** Check the image's signature before anything is sent (cli/upload_sig.c): with
 *  --trusted-key against that key, else a signed image's block or trailer for plausibility.
 *  Says what it found on stderr. @return 0 to go on (also with --force after a failure), or
 *  OTK_UPX_SIGNATURE / OTK_UPX_USAGE (the key file). */
int cli_upload_check_signature(const struct otk_upload_opts *o, const uint8_t *image,
                               uint32_t size);

/** Parse argv (argv[0] is the command name) the way Python's argparse would: long options with
 *  "=value" or a separate value, unique prefixes of long options, clustered short flags, short
 *  options with attached values ("-p3232"). Unexpanded IDE placeholders ("{upload.port...}")
 *  are refused with an explanation. Allocates opts->targets (free with
 *  otk_upload_opts_free). @return 0, or OTK_UPX_USAGE with a message in err. */
int otk_upload_parse_args(int argc, char **argv, struct otk_upload_opts *opts, char *err,
                          size_t errcap);

/** Read --targets FILE into opts->targets: one "host" or "host:port" per line; blank lines and
 *  '#' comments are skipped. @return 0, or OTK_UPX_USAGE / OTK_UPX_FILE with a message in err. */
int otk_upload_read_targets(struct otk_upload_opts *opts, char *err, size_t errcap);

void otk_upload_opts_free(struct otk_upload_opts *opts);

/** Split "host:port" (one colon, numeric port) into host (copied to buf) and port; a plain
 *  host leaves *port unchanged. @return 0, or -1 if the port is not 1..65535 or buf too small. */
int otk_upload_split_target(const char *spec, char *buf, size_t cap, int *port);

#endif
