/* SPDX-License-Identifier: MIT */
/* The host upload engine: the espota.py side of the ArduinoOTA protocol as a non-blocking state
 * machine, one instance per target device. The caller owns the poll() loop: it asks each
 * instance for its descriptors and its next deadline, polls, and hands the results back. One
 * loop therefore drives any number of uploads in parallel.
 *
 * Host side only (sockets through hostnet.h: POSIX or Winsock; malloc allowed); the wire format
 * comes from proto.h, the same codec the device engine uses. */
#ifndef OTK_UPLOAD_H
#define OTK_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostnet.h" /* struct sockaddr_in, struct pollfd on POSIX and Windows */
#include "port.h"
#include "proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Outcome of an upload, which is also the exit code of `otakit upload` (docs/CLI.md).
 *  Numbers are part of the CLI contract: append only. */
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
};

/** True for outcomes worth repeating the whole upload for (--retries): no answer, no answer to
 *  the auth answer, stall, dropped connection, MD5 failure. Never a wrong password or an image
 *  the device refused. */
bool otk_upload_exit_transient(int code);

/** A short name for an outcome ("ok", "no-answer", "auth-failed", ...), for tables and JSON. */
const char *otk_upload_exit_name(int code);

/** Map a device error text (TCP trailer, or the text after "ERR: " on UDP) to an outcome:
 *  OTK_UPX_TOO_BIG, _NOT_FIRMWARE, _MD5, _REJECTED, _WRONG_CHIP ("Image For Another Chip"),
 *  _STALLED ("Stream Read Timeout") or _DEVICE. */
int otk_upload_classify_device_error(const char *text);

enum otk_up_state {
    OTK_UP_IDLE = 0, /* configured, not started */
    OTK_UP_INVITE,   /* invitation sent, waiting for OK / AUTH */
    OTK_UP_AUTH,     /* auth answer sent, waiting for OK / Authentication Failed */
    OTK_UP_CONNECT,  /* device accepted, waiting for its TCP connection */
    OTK_UP_SEND,     /* streaming the image */
    OTK_UP_RESULT,   /* all bytes written, waiting for "OK" / error text / close */
    OTK_UP_BACKOFF,  /* a transient failure; waiting before the next attempt */
    OTK_UP_DONE,     /* finished: see result */
};

const char *otk_upload_state_name(enum otk_up_state s);

enum otk_up_event {
    OTK_UP_EV_STATE,    /* state changed (u->state) */
    OTK_UP_EV_PROGRESS, /* u->acked changed (rate-limited by the engine to ~10 per second) */
    OTK_UP_EV_LOG,      /* a debug line in text */
    OTK_UP_EV_RETRY,    /* a transient failure (text = its message); another attempt follows */
    OTK_UP_EV_DONE,     /* finished: u->result, u->message */
};

struct otk_upload;

typedef void (*otk_upload_event_fn)(void *user, struct otk_upload *u, enum otk_up_event ev,
                                    const char *text);

struct otk_upload_cfg {
    const char *target;   /* -i as typed: IPv4 address or host name (also used in messages) */
    uint16_t port;        /* device UDP port (-p) */
    const char *host_ip;  /* -I: local address to bind, NULL or "0.0.0.0" = any */
    uint16_t host_port;   /* -P: TCP port to listen on, 0 = ephemeral */
    const char *password; /* -a; NULL or "" = none */
    bool md5_target;      /* -m: PBKDF2 devices store the MD5 hash: skip the SHA-256 try */
    bool spiffs;          /* -s: filesystem image (command 100) */
    bool lockstep;        /* --lockstep: 1024-byte chunks, one ack wait each, like espota.py */
    bool force;           /* --force: send an app image whatever chip it names */
    bool port_auto;       /* no -p: a .local device's mDNS SRV port wins over port */
    const uint8_t *image; /* the whole image in memory (not copied; must outlive the upload) */
    uint32_t size;
    char md5[OTK_MD5_HEX_LEN + 1]; /* lowercase hex MD5 of image */
    uint32_t invite_timeout_ms;    /* total wait for an answer to the invitation (-t) */
    uint32_t auth_timeout_ms;      /* wait for an answer to the auth answer */
    uint32_t connect_timeout_ms;   /* wait for the device's TCP connection */
    uint32_t stall_timeout_ms;     /* no byte taken by the device for this long = stalled */
    uint32_t result_timeout_ms;    /* after the last byte: wait for OK / error / close */
    unsigned retries;              /* extra attempts after transient failures */
    uint32_t retry_backoff_ms;     /* wait before the first retry; doubles each time */
    const struct otk_crypto_ops *crypto;
    otk_upload_event_fn on_event; /* may be NULL */
    void *user;
};

/** Fill in espota.py's defaults (port 3232, 10 s timeouts, 60 s result wait, 2 retries). */
void otk_upload_cfg_defaults(struct otk_upload_cfg *c);

/** One upload. Fields are read-only for the caller. */
struct otk_upload {
    struct otk_upload_cfg cfg;
    enum otk_up_state state;
    int result;       /* enum otk_upload_exit, valid in OTK_UP_DONE */
    unsigned attempt; /* 1-based number of the current attempt */
    uint32_t sent;    /* bytes handed to the kernel */
    uint32_t acked;   /* progress: bytes the device acknowledged with its acks (their reading in
                         proto.h, "claimed"), at most what its TCP stack acknowledged */
    uint32_t t_begin; /* ms: start() */
    uint32_t t_data;  /* ms: device connected (start of the data phase) */
    uint32_t t_end;   /* ms: finished */
    enum otk_auth_variant variant; /* valid once an AUTH challenge arrived */
    bool authenticated;
    bool md5_secret; /* PBKDF2: answering with the MD5 password hash (-m or the fallback) */
    char local_ip[INET_ADDRSTRLEN]; /* address the device must connect back to */
    uint16_t listen_port;           /* TCP port it must connect to */
    char dev_ip[INET_ADDRSTRLEN];   /* resolved device address */
    char board[64];                 /* a .local device's mDNS TXT board ("": none) */
    char device_text[160];          /* error text the device sent, if any */
    char message[1024];             /* what went wrong and how to fix it (DONE, not OK) */
    const char *cause; /* OTK_UPX_PROTOCOL: which rule the device broke ("early-ok", "over-ack",
                          "garbage"); NULL otherwise */

    /* private */
    struct sockaddr_in dev_;
    struct in_addr bind_; /* -I resolved; INADDR_ANY = any */
    char who_[224];       /* "name (ip)" or "ip", for messages */
    int udp_fd_, listen_fd_, conn_fd_;
    unsigned invites_;     /* invitations sent in this handshake */
    unsigned handshakes_;  /* handshakes in this attempt */
    bool fallback_done_;   /* PBKDF2: the MD5-hash retry has been made */
    bool rerun_done_;      /* an ambiguous auth failure has been re-run */
    bool extra_challenge_; /* a second AUTH challenge arrived in this handshake */
    unsigned unreach_;     /* ICMP port-unreachable reports in this handshake */
    unsigned busy_;        /* "Update already running" answers in this handshake */
    bool answered_;        /* the device answered this handshake's invitation (AUTH or OK) */
    unsigned strangers_;   /* replies and connections refused: not from the device */
    char stranger_[INET_ADDRSTRLEN + 8]; /* the last one's address, for messages */
    uint32_t deadline_;                  /* state deadline */
    uint32_t next_send_;                 /* next retransmission */
    uint32_t gap_;                       /* current retransmission interval */
    char answer_[160];                   /* the auth answer datagram, for retransmission */
    size_t answer_len_;
    bool lock_wait_;      /* lockstep: waiting for an ack */
    uint32_t tcp_acked_;  /* bytes the device's TCP stack acknowledged */
    uint32_t end_digits_; /* ack digits seen when the last byte was handed over */
    uint32_t progress_t_; /* when acked or tcp_acked_ last changed */
    uint32_t event_t_;    /* when the last progress event went out */
    uint32_t emitted_;    /* acked as of the last progress event */
    uint32_t grace_;      /* error text seen: wait this long for the rest and the close */
    bool grace_on_;
    struct otk_ack_parser parser_;
};

/** Prepare u (no I/O). */
void otk_upload_init(struct otk_upload *u, const struct otk_upload_cfg *cfg);

/** Resolve the target (blocking getaddrinfo), open the listener, send the first invitation.
 *  On failure u is DONE with result and message set. @return u->state == OTK_UP_DONE ? -1 : 0 */
int otk_upload_start(struct otk_upload *u, uint32_t now);

/** Descriptors to poll (at most 3). @return how many were written to fds. */
size_t otk_upload_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap);

/** Milliseconds until the next deadline of u (0 = now, -1 = none). */
int32_t otk_upload_next_ms(const struct otk_upload *u, uint32_t now);

/** Process poll results for u's descriptors (found by fd in fds) and due deadlines. */
void otk_upload_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now);

/** Abort (e.g. on SIGINT): close everything; result OTK_UPX_FAIL unless already done. */
void otk_upload_abort(struct otk_upload *u, uint32_t now, const char *why);

/** Release sockets (safe after DONE and more than once). */
void otk_upload_close(struct otk_upload *u);

/* ---- command line (shared by `otakit upload` and its unit tests) ---- */

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
    const char *file;
    bool md5_target, spiffs, debug, progress, quiet, json, lockstep, force, help;
    double timeout_s;       /* -t */
    double stall_timeout_s; /* --stall-timeout */
    double result_timeout_s;
    unsigned retries;
};

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

#ifdef __cplusplus
}
#endif
#endif
