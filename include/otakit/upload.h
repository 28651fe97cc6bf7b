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
#include "natup.h"
#include "proto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otk_up_state {
    OTK_UP_IDLE = 0, /* configured, not started */
    OTK_UP_INVITE,   /* invitation sent, waiting for OK / AUTH */
    OTK_UP_AUTH,     /* auth answer sent, waiting for OK / Authentication Failed */
    OTK_UP_CONNECT,  /* device accepted, waiting for its TCP connection */
    OTK_UP_SEND,     /* streaming the image */
    OTK_UP_RESULT,   /* all bytes written, waiting for "OK" / error text / close */
    OTK_UP_BACKOFF,  /* a transient failure; waiting before the next attempt */
    OTK_UP_DONE,     /* finished: see result */
    /* the native protocol (ESPHome) */
    OTK_UP_PROBE,     /* --protocol auto: asking the TCP port whether it speaks it */
    OTK_UP_HANDSHAKE, /* connected: magic, features, (Noise,) authentication, size, MD5 */
    OTK_UP_CHECK,     /* the whole image went out, no result came: watching for a restart */
    /* --wait */
    OTK_UP_WAIT, /* the device has not shown itself yet: the next look at cfg.retry_at */
};

const char *otk_upload_state_name(enum otk_up_state s);

/** Why an upload (or one attempt of it) ended. The engine says what happened; the caller words
 *  it (the CLI: cli/upload_report.c maps each cause to an exit code and a fix). Append only. */
enum otk_up_cause {
    OTK_UPC_OK = 0,
    OTK_UPC_ABORTED,            /* otk_upload_abort(): detail = the caller's reason */
    OTK_UPC_NET_INIT,           /* the socket library did not start: detail = the system's words */
    OTK_UPC_BIND_ADDR,          /* cfg.host_ip is not an IPv4 address of this host */
    OTK_UPC_LISTEN,             /* cannot listen on cfg.host_ip:cfg.host_port: net_rc, detail */
    OTK_UPC_UDP_OPEN,           /* cannot open a UDP socket: detail */
    OTK_UPC_IPV6,               /* the target is an IPv6 address */
    OTK_UPC_NOT_RESOLVED,       /* the target's name did not resolve: detail = the resolver's why */
    OTK_UPC_WRONG_CHIP,         /* image_chip vs device_chip, known from chip_source */
    OTK_UPC_BUSY,               /* every answer until the invitation timeout was "busy" */
    OTK_UPC_PORT_UNREACH,       /* ICMP port unreachable (unreach times) */
    OTK_UPC_NO_ANSWER,          /* no answer to `invites` invitations */
    OTK_UPC_BAD_NONCE,          /* an AUTH challenge with a nonce of `figure` characters */
    OTK_UPC_NO_PASSWORD,        /* the device asks for a password and none was given */
    OTK_UPC_RANDOM_FAILED,      /* the random number source failed */
    OTK_UPC_AUTH_COMPUTE,       /* computing the authentication response failed */
    OTK_UPC_AUTH_FAILED,        /* "Authentication Failed" to our answer (variant, md5_secret) */
    OTK_UPC_AUTH_UNSOLICITED,   /* "Authentication Failed" to the invitation */
    OTK_UPC_UNEXPECTED_REPLY,   /* an answer that is none of the protocol's: detail (escaped) */
    OTK_UPC_AUTH_NO_ANSWER,     /* no answer to the authentication answer */
    OTK_UPC_NO_CONNECT,         /* the device accepted but never connected back */
    OTK_UPC_DEV_TOO_BIG,        /* device_text: "Not Enough Space" / "Bad Size Given" */
    OTK_UPC_DEV_NOT_FIRMWARE,   /* device_text: "Wrong Magic Byte" / "Magic byte is not 0xE9" */
    OTK_UPC_DEV_MD5,            /* device_text: "MD5 Check Failed" */
    OTK_UPC_DEV_REJECTED,       /* device_text: activation / flash config / verification failed */
    OTK_UPC_DEV_STREAM_TIMEOUT, /* device_text: "Stream Read Timeout" (it waited for data) */
    OTK_UPC_DEV_WRONG_CHIP,     /* device_text: "Image For Another Chip", chips not known here */
    OTK_UPC_DEV_OTHER,          /* any other device_text */
    OTK_UPC_PROTOCOL,           /* the device broke the protocol: see violation */
    OTK_UPC_DROPPED_AFTER_ALL,  /* the connection ended after every byte, without a result */
    OTK_UPC_DROPPED,            /* the connection ended before every byte, without a result */
    OTK_UPC_STALLED,            /* the device took no data for cfg.stall_timeout_ms */
    OTK_UPC_STOPPED_READING,    /* its TCP stack took every byte, its acks stopped short */
    OTK_UPC_NO_RESULT,          /* every byte acknowledged, no result within result_timeout_ms */
    /* the native protocol (ESPHome); the facts in outcome.nat */
    OTK_UPC_NAT_REFUSED,            /* TCP connection refused: nothing listens on cfg.port */
    OTK_UPC_NAT_CONNECT_TIMEOUT,    /* no TCP connection within connect_timeout_ms */
    OTK_UPC_NAT_CONNECT_FAILED,     /* the connection failed otherwise: detail */
    OTK_UPC_NAT_NOT_ESPHOME,        /* the magic got an answer of another protocol (nat.code) */
    OTK_UPC_NAT_VERSION,            /* a protocol version other than 1 and 2 (nat.code) */
    OTK_UPC_NAT_NO_ANSWER,          /* no answer within the step's time (nat.phase) */
    OTK_UPC_NAT_NO_PASSWORD,        /* the device challenged and no password was given */
    OTK_UPC_NAT_AUTH_FAILED,        /* 82: the password is wrong */
    OTK_UPC_NAT_NEEDS_KEY,          /* 94: the device requires encryption and no key was given */
    OTK_UPC_NAT_NOT_ENCRYPTED,      /* a key was given; the device does not offer encryption */
    OTK_UPC_NAT_WRONG_KEY,          /* the Noise handshake failed its MAC: another key */
    OTK_UPC_NAT_HANDSHAKE_REJECTED, /* the device refused the handshake: nat.reason */
    OTK_UPC_NAT_FRAME,              /* an encrypted frame broke (tag, framing) before the end */
    OTK_UPC_NAT_TOO_BIG,            /* 81, 88, 89, 8C: no room for the image */
    OTK_UPC_NAT_MD5,                /* 8B: what arrived does not match the MD5 */
    OTK_UPC_NAT_REJECTED,           /* 84, 86, 87, 8D, 8F, 91, 93: the device would not use it */
    OTK_UPC_NAT_DEVICE,             /* any other error code (nat.code) */
    OTK_UPC_NAT_DEVICE_TIMEOUT,     /* FF during the data: the device waited for data in vain */
    OTK_UPC_NAT_PROTOCOL,           /* the device broke the protocol: nat.violation */
    OTK_UPC_NAT_DROPPED,            /* the connection ended before the whole image went out */
    OTK_UPC_NAT_STALLED,       /* the data phase: nothing taken or acked for stall_timeout_ms */
    OTK_UPC_NAT_UNCONFIRMED,   /* the whole image went out, no result: nat.check says more */
    OTK_UPC_NAT_LOCAL,         /* a local failure: memory, compression, crypto (detail) */
    OTK_UPC_NAT_NO_FILESYSTEM, /* --spiffs: the native protocol carries app images only */
    /* the HTTP doors (ElegantOTA, web /update forms); the status in figure, the body's head in
       device_text, which request in outcome.http_step */
    OTK_UPC_HTTP_REFUSED,         /* TCP connection refused: no web server on cfg.port */
    OTK_UPC_HTTP_CONNECT_TIMEOUT, /* no TCP connection within connect_timeout_ms */
    OTK_UPC_HTTP_CONNECT_FAILED,  /* the connection failed otherwise: detail */
    OTK_UPC_HTTP_NO_PASSWORD,     /* 401 and no credentials given (detail: the challenge) */
    OTK_UPC_HTTP_AUTH_FAILED,     /* 401 to our credentials (detail: the scheme) */
    OTK_UPC_HTTP_AUTH_SCHEME,     /* a challenge this client cannot answer (detail) */
    OTK_UPC_HTTP_NOT_FOUND,       /* 404 / 405: the device has no such door */
    OTK_UPC_HTTP_STATUS,          /* another status without a device error text */
    OTK_UPC_HTTP_BAD_ANSWER,      /* not HTTP, or an answer the door never gives (detail) */
    OTK_UPC_HTTP_NO_ANSWER,       /* no answer to a request within invite_timeout_ms */
    OTK_UPC_HTTP_DROPPED,         /* the connection ended before the request's end, no answer */
    OTK_UPC_HTTP_STALLED,         /* the device took no data for stall_timeout_ms */
    OTK_UPC_HTTP_UNCONFIRMED,     /* the whole upload went out, no answer: not re-sent */
    OTK_UPC_HTTP_BUSY,            /* "Update already running": an earlier update is still open */
    /* --wait and detection */
    OTK_UPC_NEVER_AWOKE,  /* cfg.wait_ms went by and the device never showed itself: the last
                             look's cause in outcome.asleep_cause, figure = the looks */
    OTK_UPC_HTTP_UNKNOWN, /* auto: a web server that asks for a password on /update; which
                             door it is cannot be told from outside: detail = its challenge */
    OTK_UPC_COUNT         /* keep last: new causes go above it */
};

/** Which rule a device broke (OTK_UPC_PROTOCOL). */
enum otk_up_violation {
    OTK_UPV_NONE = 0,
    OTK_UPV_OK_BEFORE_SENT,     /* "OK" when only `sent` bytes had been sent */
    OTK_UPV_OK_WITHOUT_END_ACK, /* "OK" with no ack after the last byte was sent */
    OTK_UPV_OK_BEFORE_TCP_ACK,  /* "OK" while its TCP stack lacked the last `figure` bytes */
    OTK_UPV_OVER_ACK,           /* acks of at least `figure` bytes when `sent` were sent */
    OTK_UPV_TEXT_TOO_LONG,      /* text longer than any error message (device_text: its head) */
    OTK_UPV_SEPARATORS,         /* a run of separators or zeros */
};

/** How the data connection ended without a result. */
enum otk_up_close {
    OTK_UP_CLOSED = 0, /* the device closed it */
    OTK_UP_RESET,      /* the device reset it */
    OTK_UP_LOST,       /* it broke (any other socket error) */
};

/** How the device's chip is known (OTK_UPC_WRONG_CHIP). */
enum otk_up_chip_source {
    OTK_UP_CHIP_BOARD = 0, /* its mDNS TXT board (u->board) */
    OTK_UP_CHIP_PORT,      /* the UDP port its family listens on (cfg.port) */
    OTK_UP_CHIP_ERROR,     /* the words of its error text (device_text) */
};

/** Facts of a native-protocol attempt (outcome.nat), for the OTK_UPC_NAT_* causes and traces. */
struct otk_up_native {
    uint8_t code;          /* the device's error code, or the byte that broke the protocol */
    uint8_t phase;         /* enum otk_natc_phase it ended in */
    uint8_t version;       /* the protocol version the device announced (0: none yet) */
    uint8_t features;      /* what we announced */
    uint8_t feature_reply; /* 40, 46 or 48 */
    uint8_t server_flags;  /* after 48 */
    uint8_t auth;          /* 0: none asked, 01 MD5, 02 SHA-256 */
    bool encrypted;        /* Noise was used */
    bool compressed;       /* the gzip stream went out */
    bool deflated;         /* otakit's DEFLATE: a raw deflate stream went out */
    uint32_t image_from;   /* ...of the image from this offset */
    bool all_sent;         /* every data byte was handed over */
    const char *violation; /* OTK_UPC_NAT_PROTOCOL: the rule ("over-ack", ...) */
    uint32_t data_size;    /* bytes of the stream (gzip or plain) */
    uint32_t acks;         /* chunk acks counted */
    uint8_t check;         /* OTK_UPC_NAT_UNCONFIRMED: enum otk_natup_check */
    uint32_t check_ms;     /* ... ms from the end to the answer */
    unsigned probes_unanswered;
    char reason[64]; /* a Noise refusal's text */
};

/** The outcome of an upload, or of a failed attempt: the cause and the facts a message needs.
 *  Valid at OTK_UP_EV_RETRY and in OTK_UP_DONE. The address facts are u's own fields (cfg.target,
 *  dev_ip, local_ip, listen_port, board). */
struct otk_upload_outcome {
    enum otk_up_cause cause;
    enum otk_up_state phase; /* the state the attempt was in when it ended */
    uint32_t sent;           /* bytes handed to the kernel */
    uint32_t acked;          /* bytes the device acknowledged (u->acked) */
    uint32_t tcp_acked;      /* bytes the device's TCP stack acknowledged */
    uint32_t claimed;        /* what its acks stand for (proto.h, "claimed") */
    bool via_udp;            /* the device's error came as a UDP answer, before any data */
    bool mdns;               /* OTK_UPC_NOT_RESOLVED: a .local name, asked by mDNS */
    enum otk_up_close closed;
    char device_text[160]; /* what the device answered (escaped), if it matters */
    char detail[640];      /* the system's or resolver's words, the unexpected reply, ... */
    long figure;           /* a cause's number: nonce length, bytes of a violation */
    enum otk_up_violation violation;
    int net_rc;                          /* OTK_UPC_LISTEN: OTK_NET_INUSE, _NOADDR, _DENIED, ... */
    int image_chip, device_chip;         /* OTK_UPC_WRONG_CHIP (OTK_CHIP_ESP32: the family) */
    bool device_family;                  /* device_chip stands for the whole ESP32 family */
    enum otk_up_chip_source chip_source; /* OTK_UPC_WRONG_CHIP */
    unsigned invites;                    /* invitations sent in the last handshake */
    unsigned busy;                       /* "busy" answers in the last handshake */
    unsigned unreach;                    /* ICMP port-unreachable reports in the last handshake */
    unsigned strangers;                  /* replies and connections refused: not the device's */
    char stranger[INET_ADDRSTRLEN + 8];  /* the last one's address */
    struct otk_up_native nat;            /* the native protocol's facts */
    enum otk_up_cause asleep_cause;      /* OTK_UPC_NEVER_AWOKE: how the last look ended */
    const char *http_step;               /* HTTP: the request it ended in ("GET /ota/start") */
    int http_scheme;                     /* HTTP: enum otk_http_scheme of the last challenge */
};

/** True for causes worth repeating the whole upload for (cfg.retries): no answer, no answer to
 *  the auth answer, stall, dropped connection, MD5 failure. Never a wrong password or an image
 *  the device refused. */
bool otk_upload_cause_transient(enum otk_up_cause cause);

/** Map a device error text (TCP trailer, or the text after "ERR: " on UDP) to a cause:
 *  OTK_UPC_DEV_TOO_BIG, _NOT_FIRMWARE, _MD5, _REJECTED, _WRONG_CHIP ("Image For Another Chip"),
 *  _STREAM_TIMEOUT ("Stream Read Timeout") or _OTHER. */
enum otk_up_cause otk_upload_classify_device_error(const char *text);

enum otk_up_event {
    OTK_UP_EV_STATE,    /* state changed (u->state) */
    OTK_UP_EV_PROGRESS, /* u->acked changed (rate-limited by the engine to ~10 per second) */
    OTK_UP_EV_LOG,      /* a debug line in text */
    OTK_UP_EV_RETRY,    /* a transient failure (u->outcome); another attempt at u->retry_at */
    OTK_UP_EV_DONE,     /* finished: u->outcome */
    OTK_UP_EV_RESUMED,  /* native: this attempt continues a dropped one at u->resumed_at */
    OTK_UP_EV_AWAKE,    /* --wait: the device showed itself (u->woke_at; text: how) */
    OTK_UP_EV_DETECTED, /* --protocol auto decided (u->detected; text: the same) */
};

struct otk_upload;

typedef void (*otk_upload_event_fn)(void *user, struct otk_upload *u, enum otk_up_event ev,
                                    const char *text);

/** Which protocol an upload speaks. */
enum otk_up_protocol {
    OTK_UP_PROTO_ARDUINO = 0, /* ArduinoOTA / espota: UDP invitation, the device connects back */
    OTK_UP_PROTO_ESPHOME,     /* ESPHome's native protocol: one TCP connection to the device */
    OTK_UP_PROTO_AUTO,        /* the TCP port answers the native magic: native; else ArduinoOTA */
    OTK_UP_PROTO_ELEGANTOTA,  /* ElegantOTA v3 over HTTP: GET /ota/start, POST /ota/upload */
    OTK_UP_PROTO_WEB,         /* a web server's multipart POST /update form: ESPHome web_server /
                                 captive portal, ESP8266HTTPUpdateServer */
};

const char *otk_upload_protocol_name(enum otk_up_protocol p);

struct otk_upload;
struct otk_mdns_device;
struct otk_httpprobe;
struct otk_mdns_watch;
struct otk_httpup;

/** The protocol an upload speaks: ARDUINO or ESPHOME once known (AUTO while it asks). */
enum otk_up_protocol otk_upload_protocol_used(const struct otk_upload *u);

struct otk_upload_cfg {
    const char *target;    /* -i as typed: IPv4 address or host name (also used in messages) */
    uint16_t port;         /* device UDP port (-p) */
    const char *host_ip;   /* -I: local address to bind, NULL or "0.0.0.0" = any */
    uint16_t host_port;    /* -P: TCP port to listen on, 0 = ephemeral */
    const char *password;  /* -a; NULL or "" = none */
    const char *http_user; /* --user: HTTP authentication's user name; NULL = none */
    bool md5_target;       /* -m: PBKDF2 devices store the MD5 hash: skip the SHA-256 try */
    bool spiffs;           /* -s: filesystem image (command 100) */
    bool lockstep;         /* --lockstep: 1024-byte chunks, one ack wait each, like espota.py */
    bool force;            /* --force: send an app image whatever chip it names */
    bool port_auto;        /* no -p: a .local device's mDNS SRV port wins over port */
    enum otk_up_protocol protocol;
    uint32_t wait_ms;     /* --wait: keep looking for a device that sleeps this long (0: no) */
    uint16_t http_port;   /* auto: the port of the HTTP probe (0: 80) */
    const uint8_t *key;   /* native: the 32-byte Noise key (ESPHome's api key), NULL: plaintext */
    unsigned window;      /* native: 8 KB chunks in flight beyond the last ack (0: 4; 1 is
                             ESPHome's own stop-and-wait) */
    bool no_resume;       /* native: do not ask an otakit device to resume (caps without
                             OTK_NAT_CAP_RESUME) */
    bool no_compress;     /* native: do not ask an otakit device to inflate (caps without
                             OTK_NAT_CAP_DEFLATE): the image goes out as it is */
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
    void *user;                   /* handed to on_event */
};

/** Fill in espota.py's defaults (port 3232, 10 s timeouts, 60 s result wait, 2 retries). */
void otk_upload_cfg_defaults(struct otk_upload_cfg *c);

/** One upload. Fields are read-only for the caller. */
struct otk_upload {
    struct otk_upload_cfg cfg;
    enum otk_up_state state;
    struct otk_upload_outcome outcome; /* valid in OTK_UP_DONE and at OTK_UP_EV_RETRY */
    unsigned attempt;                  /* 1-based number of the current attempt */
    uint32_t sent;                     /* bytes handed to the kernel */
    uint32_t acked;      /* progress: bytes the device acknowledged with its acks (their reading in
                            proto.h, "claimed"), at most what its TCP stack acknowledged */
    uint32_t wire_bytes; /* image payload bytes handed to the network over all attempts (the
                            compressed stream's when compressed): what a resume saves shows here */
    uint32_t resumed_at; /* native: image bytes the device already held when the last attempt
                            began (0: it started from byte 0) */
    uint32_t t_begin;    /* ms: start() */
    uint32_t t_data;     /* ms: device connected (start of the data phase) */
    uint32_t t_end;      /* ms: finished */
    uint32_t retry_at;   /* ms: when the next attempt begins (OTK_UP_BACKOFF) */
    enum otk_auth_variant variant; /* valid once an AUTH challenge arrived */
    bool authenticated;
    bool md5_secret; /* PBKDF2: answering with the MD5 password hash (-m or the fallback) */
    char local_ip[INET_ADDRSTRLEN]; /* address the device must connect back to */
    uint16_t listen_port;           /* TCP port it must connect to */
    char dev_ip[INET_ADDRSTRLEN];   /* resolved device address */
    char board[64];                 /* a .local device's mDNS TXT board ("": none) */

    /* private */
    struct sockaddr_in dev;
    struct in_addr bind; /* -I resolved; INADDR_ANY = any */
    int udp_fd, listen_fd, conn_fd;
    unsigned invites;     /* invitations sent in this handshake */
    unsigned handshakes;  /* handshakes in this attempt */
    bool fallback_done;   /* PBKDF2: the MD5-hash retry has been made */
    bool rerun_done;      /* an ambiguous auth failure has been re-run */
    bool extra_challenge; /* a second AUTH challenge arrived in this handshake */
    unsigned unreach;     /* ICMP port-unreachable reports in this handshake */
    unsigned busy;        /* "Update already running" answers in this handshake */
    bool answered;        /* the device answered this handshake's invitation (AUTH or OK) */
    uint32_t deadline;    /* state deadline */
    uint32_t next_send;   /* next retransmission */
    uint32_t gap;         /* current retransmission interval */
    char answer[160];     /* the auth answer datagram, for retransmission */
    size_t answer_len;
    bool lock_wait;      /* lockstep: waiting for an ack */
    uint32_t tcp_acked;  /* bytes the device's TCP stack acknowledged */
    uint32_t end_digits; /* ack digits seen when the last byte was handed over */
    uint32_t progress_t; /* when acked or tcp_acked last changed */
    uint32_t event_t;    /* when the last progress event went out */
    uint32_t emitted;    /* acked as of the last progress event */
    uint32_t grace;      /* error text seen: wait this long for the rest and the close */
    bool grace_on;
    struct otk_ack_parser parser;
    /* the native protocol */
    enum otk_up_protocol proto; /* the one in use (ARDUINO or ESPHOME once known) */
    struct otk_natup *nat;      /* the attempt (allocated: it holds the machine's buffers) */
    uint8_t *gz;                /* the gzip stream of the image, NULL: none */
    uint32_t gz_size;
    uint8_t *zs;      /* otakit's DEFLATE: the raw deflate stream of image[zs_from...], or NULL */
    uint32_t zs_size; /* ...its bytes */
    uint32_t zs_from;
    struct otk_natprobe probe;      /* --protocol auto */
    enum otk_up_protocol mdns_says; /* the service a .local device publishes (AUTO: none) */
    /* detection and --wait (detect.c) */
    bool awake;        /* the device has shown itself (always true without --wait once it did) */
    bool resolved;     /* dev / dev_ip hold its address */
    uint32_t woke_at;  /* ms: when it did */
    uint32_t wait_end; /* ms: t_begin + cfg.wait_ms */
    unsigned looks;    /* rounds of looking for it while it slept */
    char detected[96]; /* auto: what was found ("ElegantOTA 3.x over HTTP"), "" until then */
    struct otk_mdns_device *mdns; /* what a .local device's mDNS records said (NULL: none) */
    struct otk_httpprobe *hprobe; /* auto's HTTP probe (allocated while it runs) */
    struct otk_mdns_watch *watch; /* --wait for a .local name: its mDNS watcher */
    struct otk_httpup *http;      /* the HTTP doors' attempt (upload_http.c), NULL: none */
};

/** --wait: the device has not shown itself yet (and the upload still runs). */
bool otk_upload_asleep(const struct otk_upload *u);

/** Prepare u (no I/O). */
void otk_upload_init(struct otk_upload *u, const struct otk_upload_cfg *cfg);

/** Resolve the target (blocking getaddrinfo), open the listener, send the first invitation.
 *  On failure u is DONE with its outcome set. @return u->state == OTK_UP_DONE ? -1 : 0 */
int otk_upload_start(struct otk_upload *u, uint32_t now);

/** Descriptors to poll (at most 3). @return how many were written to fds. */
size_t otk_upload_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap);

/** Milliseconds until the next deadline of u (0 = now, -1 = none). */
int32_t otk_upload_next_ms(const struct otk_upload *u, uint32_t now);

/** Process poll results for u's descriptors (found by fd in fds) and due deadlines. */
void otk_upload_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now);

/** Abort (e.g. on SIGINT): close everything; cause OTK_UPC_ABORTED unless already done. */
void otk_upload_abort(struct otk_upload *u, uint32_t now, const char *why);

/** Release sockets (safe after DONE and more than once). */
void otk_upload_close(struct otk_upload *u);

#ifdef __cplusplus
}
#endif
#endif
