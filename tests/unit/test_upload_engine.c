/* SPDX-License-Identifier: MIT */
/* The upload engine against an in-process scripted ArduinoOTA device over 127.0.0.1: both run
 * in one poll() loop, so the device can misbehave at exact moments (lost datagrams, slow
 * answers, stalls, drops) and record exactly what the host sent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "otakit/err.h"
#include "otakit/posix.h"
#include "otakit/upload.h"
#include "upload_cli.h"

/* The exit code and the message `otakit upload` would give for u's outcome. */
static int
result(const struct otk_upload *u)
{
    return cli_upload_exit(&u->outcome);
}

static const char *
message(const struct otk_upload *u)
{
    static char buf[1024];

    cli_upload_describe(u, buf, sizeof buf);
    return buf;
}

struct fake {
    /* script */
    const char *password; /* NULL: answer OK at once */
    enum otk_auth_variant variant;
    bool stores_md5;  /* PBKDF2 device whose sketch set an MD5 hash */
    int drop_invites; /* ignore the first N invitations */
    uint32_t auth_reply_delay_ms;
    const char *udp_err; /* answer the invitation with "ERR: ..." */
    bool no_connect;
    uint32_t stall_at;    /* stop reading after this many bytes (0 = never) */
    uint32_t close_at;    /* close after this many bytes (0 = never) */
    int close_times;      /* ... only on the first N connections */
    const char *end_text; /* NULL: "OK" */
    bool batch_acks;      /* send all acks and OK in one write at the end */
    int window;           /* SO_RCVBUF of the connection (0: the kernel's) */
    bool ok_early;        /* say "OK" once ok_at bytes were read, and read no more */
    uint32_t ok_at;
    const char *ack_text; /* acknowledge every read with this text instead of its count */
    bool strangers;       /* on the first invitation, strangers connect: 127.0.0.1 before the
                             device answered, 127.0.0.2 (drop_invites should be 1) */
    bool udp_stranger;    /* 127.0.0.2 answers every invitation with "OK" in the device's place */
    /* state */
    int udp, tcp;
    uint16_t port;
    bool waitauth;
    char nonce[OTK_SHA256_HEX_LEN + 1];
    struct sockaddr_in peer;
    uint16_t host_port;
    uint32_t size;
    uint32_t received;
    size_t max_read;
    int connections;
    bool pending_reply;
    bool early_ok_sent;
    uint32_t reply_at;
    char reply[64];
    char acks[65536];
    size_t acks_len;
    /* record */
    int invites, invites_after_challenge, answers, challenges;
    int stranger_fd[2]; /* the strangers' connections */
};

static uint32_t
now_ms(void)
{
    return otk_posix_now_ms();
}

static void
fake_open(struct fake *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(f->udp >= 0);
    assert_int_equal(bind(f->udp, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(f->udp, (struct sockaddr *)&a, &alen);
    f->port = ntohs(a.sin_port);
    f->tcp = -1;
}

static void
fake_close(struct fake *f)
{
    close(f->udp);
    if (f->tcp >= 0)
        close(f->tcp);
}

static void
fake_send(struct fake *f, const char *s)
{
    sendto(f->udp, s, strlen(s), 0, (struct sockaddr *)&f->peer, sizeof f->peer);
}

static void
fake_connect(struct fake *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->host_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (f->no_connect)
        return;
    f->tcp = socket(AF_INET, SOCK_STREAM, 0);
    if (f->stall_at || f->window) {
        int small = f->window ? f->window : 4096; /* so the host's data backs up quickly */
        setsockopt(f->tcp, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    assert_int_equal(connect(f->tcp, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(f->tcp, F_SETFL, O_NONBLOCK);
    f->received = 0;
    f->acks_len = 0;
    f->connections++;
}

static void
fake_accept_auth(struct fake *f)
{
    if (f->udp_err) {
        char m[128];
        snprintf(m, sizeof m, "ERR: %s\n", f->udp_err);
        fake_send(f, m);
        return;
    }
    fake_send(f, "OK");
    fake_connect(f);
}

/* A socket bound to 127.0.0.<host>. */
static int
bound_socket(int type, int host)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, type, 0);
    a.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)host);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void
strangers_act(struct fake *f, const struct sockaddr_in *host, uint16_t tcp_port)
{
    if (f->udp_stranger) {
        int u = bound_socket(SOCK_DGRAM, 2);
        sendto(u, "OK", 2, 0, (const struct sockaddr *)host, sizeof *host);
        close(u);
    }
    if (!f->strangers || f->stranger_fd[0] > 0)
        return;
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(tcp_port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->stranger_fd[i] = bound_socket(SOCK_STREAM, i + 1);
        assert_int_equal(connect(f->stranger_fd[i], (struct sockaddr *)&a, sizeof a), 0);
        send(f->stranger_fd[i], "OK", 2, MSG_NOSIGNAL);
    }
}

static void
fake_udp(struct fake *f)
{
    char dg[512];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n;

    while ((n = recvfrom(f->udp, dg, sizeof dg - 1, 0, (struct sockaddr *)&from, &flen)) > 0) {
        dg[n] = 0;
        uint32_t cmd = otk_proto_peek_cmd((uint8_t *)dg, (size_t)n);
        if (cmd == OTK_CMD_AUTH) {
            f->answers++;
            struct otk_auth_answer ans;
            if (!f->waitauth || otk_proto_parse_auth((uint8_t *)dg, (size_t)n, &ans) != OTK_OK)
                continue; /* IDLE ignores a 200, like the devices */
            f->waitauth = false;
            const struct otk_crypto_ops *c = otk_posix_crypto();
            char secret[65], expect[65];
            otk_proto_password_secret(c, f->stores_md5 ? OTK_AUTH_MD5 : f->variant, f->password,
                                      strlen(f->password), secret);
            otk_proto_auth_response(c, f->variant, secret, strlen(secret), f->nonce,
                                    strlen(f->nonce), ans.cnonce, ans.cnonce_len, expect);
            bool good = ans.response_len == strlen(expect) &&
                        !memcmp(ans.response, expect, ans.response_len);
            snprintf(f->reply, sizeof f->reply, "%s", good ? "OK" : "Authentication Failed");
            f->pending_reply = true;
            f->reply_at = now_ms() + f->auth_reply_delay_ms;
            continue;
        }
        f->invites++;
        if (f->challenges > 0)
            f->invites_after_challenge++;
        if (f->waitauth) {
            f->waitauth = false; /* "200 was expected. got 0 instead" */
            continue;
        }
        if (f->strangers || f->udp_stranger) {
            struct otk_invite inv;
            assert_int_equal(otk_proto_parse_invite((uint8_t *)dg, (size_t)n, &inv), OTK_OK);
            strangers_act(f, &from, inv.port);
        }
        if (f->drop_invites > 0) {
            f->drop_invites--;
            continue;
        }
        struct otk_invite inv;
        assert_int_equal(otk_proto_parse_invite((uint8_t *)dg, (size_t)n, &inv), OTK_OK);
        f->peer = from;
        f->host_port = inv.port;
        f->size = inv.size;
        if (f->password) {
            uint8_t rnd[32];
            size_t hex = otk_auth_hex_len(f->variant);
            for (size_t i = 0; i < hex / 2; i++)
                rnd[i] = (uint8_t)(rand() & 0xff);
            otk_hex(rnd, hex / 2, f->nonce);
            char m[80];
            snprintf(m, sizeof m, "AUTH %s", f->nonce);
            fake_send(f, m);
            f->challenges++;
            f->waitauth = true;
        } else {
            fake_accept_auth(f);
        }
    }
}

static void
fake_tcp(struct fake *f)
{
    uint8_t buf[8192];
    if (f->tcp < 0)
        return;
    if (f->stall_at && f->received >= f->stall_at)
        return;
    if (f->ok_early && f->received >= f->ok_at) {
        if (!f->early_ok_sent)
            send(f->tcp, "OK", 2, MSG_NOSIGNAL);
        f->early_ok_sent = true;
        return;
    }
    ssize_t n = recv(f->tcp, buf, sizeof buf, 0);
    if (n <= 0)
        return;
    if ((size_t)n > f->max_read)
        f->max_read = (size_t)n;
    f->received += (uint32_t)n;
    if (f->close_at && f->received >= f->close_at && f->close_times > 0) {
        f->close_times--;
        close(f->tcp);
        f->tcp = -1;
        return;
    }
    char ack[16];
    int al = f->ack_text ? snprintf(ack, sizeof ack, "%s", f->ack_text)
                         : snprintf(ack, sizeof ack, "%zd", n);
    if (f->batch_acks) {
        memcpy(f->acks + f->acks_len, ack, (size_t)al);
        f->acks_len += (size_t)al;
    } else {
        send(f->tcp, ack, (size_t)al, MSG_NOSIGNAL);
    }
    if (f->received >= f->size) {
        const char *end = f->end_text ? f->end_text : "OK";
        memcpy(f->acks + f->acks_len, end, strlen(end));
        f->acks_len += strlen(end);
        if (!f->batch_acks) {
            memmove(f->acks, f->acks + f->acks_len - strlen(end), strlen(end));
            f->acks_len = strlen(end);
        }
        send(f->tcp, f->acks, f->acks_len, MSG_NOSIGNAL);
        close(f->tcp);
        f->tcp = -1;
    }
}

static void
fake_timers(struct fake *f)
{
    if (f->pending_reply && (int32_t)(now_ms() - f->reply_at) >= 0) {
        f->pending_reply = false;
        if (!strcmp(f->reply, "OK"))
            fake_accept_auth(f);
        else
            fake_send(f, f->reply);
    }
}

static uint8_t image[300 * 1024];

static void
cfg_for(struct otk_upload_cfg *c, const struct fake *f)
{
    otk_upload_cfg_defaults(c);
    c->target = "127.0.0.1";
    c->port = f->port;
    c->host_ip = "127.0.0.1";
    c->image = image;
    c->size = sizeof image;
    c->crypto = otk_posix_crypto();
    c->retries = 0;
    c->retry_backoff_ms = 50;
    otk_proto_md5_hex(c->crypto, image, sizeof image, c->md5);
}

/* Run engine and fake in one loop until the engine is done or limit_ms passed. */
static void
run(struct otk_upload *u, struct fake *f, uint32_t limit_ms)
{
    uint32_t start = now_ms();
    assert_int_equal(otk_upload_start(u, start), 0);
    while (u->state != OTK_UP_DONE) {
        struct pollfd fds[6];
        uint32_t now = now_ms();
        assert_true(now - start < limit_ms);
        size_t n = otk_upload_pollfds(u, fds, 3);
        size_t ne = n;
        fds[n].fd = f->udp;
        fds[n++].events = POLLIN;
        if (f->tcp >= 0) {
            fds[n].fd = f->tcp;
            fds[n++].events = POLLIN;
        }
        int32_t t = otk_upload_next_ms(u, now);
        if (t < 0 || t > 10)
            t = 10;
        poll(fds, n, t);
        now = now_ms();
        otk_upload_step(u, fds, ne, now);
        fake_udp(f);
        fake_tcp(f);
        fake_timers(f);
    }
}

/* An upload to f with the configuration of cfg_for(), run to its end. */
static void
upload_plain(struct fake *f, struct otk_upload *u)
{
    struct otk_upload_cfg c;
    fake_open(f);
    cfg_for(&c, f);
    otk_upload_init(u, &c);
    run(u, f, 5000);
}

static void
done(struct fake *f, struct otk_upload *u)
{
    otk_upload_close(u);
    fake_close(f);
}

static int
setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof image; i++)
        image[i] = (uint8_t)(i * 7 + (i >> 9));
    image[0] = 0xE9;
    return 0;
}

static void
streams_without_password(void **state)
{
    (void)state;
    struct fake f = {0};
    struct otk_upload u;
    upload_plain(&f, &u);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_int_equal(f.received, sizeof image);
    assert_int_equal(u.sent, sizeof image);
    assert_int_equal(f.invites, 1);
    /* streaming: the device found more than one espota chunk waiting at least once */
    assert_true(f.max_read > 1024);
    done(&f, &u);
}

static void
lockstep_sends_one_chunk_per_ack(void **state)
{
    (void)state;
    struct fake f = {0};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.lockstep = true;
    otk_upload_init(&u, &c);
    run(&u, &f, 10000);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_int_equal(f.received, sizeof image);
    assert_true(f.max_read <= 1024);
    otk_upload_close(&u);
    fake_close(&f);
}

static void
concatenated_acks_and_ok(void **state)
{
    (void)state;
    struct fake f = {.batch_acks = true};
    struct otk_upload u;
    upload_plain(&f, &u);
    assert_int_equal(result(&u), OTK_UPX_OK);
    done(&f, &u);
}

static void
md5_and_pbkdf2_auth(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        struct fake f = {.password = "OTAPASSWORD", .variant = v ? OTK_AUTH_PBKDF2 : OTK_AUTH_MD5};
        struct otk_upload_cfg c;
        struct otk_upload u;
        fake_open(&f);
        cfg_for(&c, &f);
        c.password = "OTAPASSWORD";
        otk_upload_init(&u, &c);
        run(&u, &f, 5000);
        assert_int_equal(result(&u), OTK_UPX_OK);
        assert_int_equal(u.variant, f.variant);
        assert_true(u.authenticated);
        assert_int_equal(f.invites, 1);
        assert_int_equal(f.answers, 1);
        otk_upload_close(&u);
        fake_close(&f);
    }
}

static void
pbkdf2_falls_back_to_md5_hash(void **state)
{
    (void)state;
    struct fake f = {.password = "pw", .variant = OTK_AUTH_PBKDF2, .stores_md5 = true};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.password = "pw";
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_true(u.md5_secret);
    assert_int_equal(f.invites, 2); /* a fresh invitation for the second try */
    assert_int_equal(f.challenges, 2);

    /* -m goes straight to the MD5 hash */
    struct fake g = {.password = "pw", .variant = OTK_AUTH_PBKDF2, .stores_md5 = true};
    otk_upload_close(&u);
    fake_open(&g);
    cfg_for(&c, &g);
    c.password = "pw";
    c.md5_target = true;
    otk_upload_init(&u, &c);
    run(&u, &g, 5000);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_int_equal(g.invites, 1);
    otk_upload_close(&u);
    fake_close(&f);
    fake_close(&g);
}

static void
wrong_password_is_not_retried(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        struct fake f = {.password = "right", .variant = v ? OTK_AUTH_PBKDF2 : OTK_AUTH_MD5};
        struct otk_upload_cfg c;
        struct otk_upload u;
        fake_open(&f);
        cfg_for(&c, &f);
        c.password = "wrong";
        c.retries = 3;
        otk_upload_init(&u, &c);
        run(&u, &f, 5000);
        assert_int_equal(result(&u), OTK_UPX_AUTH);
        assert_int_equal(u.attempt, 1);
        /* MD5: one try; PBKDF2: SHA-256 hash, then MD5 hash */
        assert_int_equal(f.challenges, v ? 2 : 1);
        assert_non_null(strstr(message(&u), "Authentication Failed"));
        otk_upload_close(&u);
        fake_close(&f);
    }
}

static void
no_invitation_after_a_challenge(void **state)
{
    (void)state;
    /* the first invitation is lost, the second is challenged, and the device takes 1.7 s to
     * answer our auth answer: we retransmit the answer, never another invitation */
    struct fake f = {
        .password = "pw", .variant = OTK_AUTH_MD5, .drop_invites = 1, .auth_reply_delay_ms = 1700};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.password = "pw";
    otk_upload_init(&u, &c);
    run(&u, &f, 8000);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_int_equal(f.invites, 2);
    assert_int_equal(f.invites_after_challenge, 0);
    assert_true(f.answers >= 2);
    otk_upload_close(&u);
    fake_close(&f);
}

static void
nothing_listening_is_reported_fast(void **state)
{
    (void)state;
    struct fake f = {0};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    close(f.udp); /* the port is now closed: the kernel answers "port unreachable" */
    f.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    cfg_for(&c, &f);
    otk_upload_init(&u, &c);
    uint32_t t0 = now_ms();
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_NO_ANSWER);
    assert_true(now_ms() - t0 < 3000); /* not the full 10 s */
    assert_non_null(strstr(message(&u), "port unreachable"));
    assert_non_null(strstr(message(&u), "8266")); /* the other core's default port */
    otk_upload_close(&u);
    fake_close(&f);
}

static void
udp_err_is_mapped(void **state)
{
    (void)state;
    struct fake f = {.udp_err = "ERROR[4]: Not Enough Space"};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.retries = 2;
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_TOO_BIG);
    assert_int_equal(u.attempt, 1);
    assert_string_equal(u.outcome.device_text, "ERROR[4]: Not Enough Space");
    assert_non_null(strstr(message(&u), "307200 bytes"));
    otk_upload_close(&u);
    fake_close(&f);
}

static void
error_text_after_data(void **state)
{
    (void)state;
    struct fake f = {.end_text = "Could Not Activate The Firmware\r\n"};
    struct otk_upload u;
    upload_plain(&f, &u);
    assert_int_equal(result(&u), OTK_UPX_REJECTED);
    assert_string_equal(u.outcome.device_text, "Could Not Activate The Firmware");
    done(&f, &u);
}

static void
never_connects_back(void **state)
{
    (void)state;
    struct fake f = {.no_connect = true};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.connect_timeout_ms = 400;
    c.retries = 2;
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_NO_CONNECT);
    assert_int_equal(u.attempt, 1);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%u", u.listen_port);
    assert_non_null(strstr(message(&u), where));
    assert_non_null(strstr(message(&u), "-P/--host_port"));
    otk_upload_close(&u);
    fake_close(&f);
}

static void
stall_names_the_byte(void **state)
{
    (void)state;
    struct fake f = {.stall_at = 50000};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.stall_timeout_ms = 500;
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_STALLED);
    assert_true(u.acked < sizeof image);
    char at[64];
    snprintf(at, sizeof at, "stalled at byte %u of %u", u.acked, (unsigned)sizeof image);
    assert_non_null(strstr(message(&u), at));
    otk_upload_close(&u);
    fake_close(&f);
}

static void
dropped_connection_is_retried(void **state)
{
    (void)state;
    struct fake f = {.close_at = 100000, .close_times = 1};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.retries = 1;
    otk_upload_init(&u, &c);
    run(&u, &f, 8000);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_int_equal(u.attempt, 2);
    assert_int_equal(f.connections, 2);

    /* without retries the drop is the result */
    struct fake g = {.close_at = 100000, .close_times = 1};
    otk_upload_close(&u);
    fake_open(&g);
    cfg_for(&c, &g);
    otk_upload_init(&u, &c);
    run(&u, &g, 5000);
    assert_int_equal(result(&u), OTK_UPX_DROPPED);
    assert_non_null(strstr(message(&u), "without sending a result"));
    assert_null(strstr(message(&u), "after receiving all"));
    otk_upload_close(&u);
    fake_close(&f);
    fake_close(&g);
}

static void
busy_device_says_with_whom(void **state)
{
    (void)state;
    /* "already running": an upload runs; a text that names a challenge is reported as such */
    static const struct {
        const char *text, *says;
    } cases[] = {
        {"ERROR[15]: Update already running\n", "another upload to it is in progress"},
        {"ERROR[15]: Update already running (challenge pending)\n",
         "another host is authenticating with the device"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fake f = {.end_text = cases[i].text};
        struct otk_upload u;
        upload_plain(&f, &u);
        assert_int_equal(result(&u), OTK_UPX_DEVICE);
        assert_non_null(strstr(message(&u), cases[i].says));
        done(&f, &u);
    }
}

static void
early_ok_is_refused(void **state)
{
    (void)state;
    /* OK at once; OK after half (with a chip's receive window, so the rest cannot hide in the
     * device's kernel buffers) */
    for (int half = 0; half < 2; half++) {
        struct fake f = {
            .ok_early = true, .ok_at = half ? sizeof image / 2 : 0, .window = half ? 5760 : 0};
        struct otk_upload_cfg c;
        struct otk_upload u;
        fake_open(&f);
        cfg_for(&c, &f);
        c.retries = 2;
        otk_upload_init(&u, &c);
        run(&u, &f, 5000);
        assert_int_equal(result(&u), OTK_UPX_PROTOCOL);
        assert_string_equal(cli_upload_rule_name(&u.outcome), "early-ok");
        assert_int_equal(u.attempt, 1); /* never retried */
        assert_non_null(strstr(message(&u), "said \"OK\""));
        /* progress: what the device acknowledged, not what went into the sockets */
        assert_true(u.acked <= f.received);
        otk_upload_close(&u);
        fake_close(&f);
    }
}

static void
over_ack_is_refused(void **state)
{
    (void)state;
    struct fake f = {.ack_text = "5000000"};
    struct otk_upload u;
    upload_plain(&f, &u);
    assert_int_equal(result(&u), OTK_UPX_PROTOCOL);
    assert_string_equal(cli_upload_rule_name(&u.outcome), "over-ack");
    assert_non_null(strstr(message(&u), "acknowledged at least 5000000 bytes"));
    done(&f, &u);
}

static void
strangers_are_refused(void **state)
{
    (void)state;
    /* the first invitation goes unanswered while a stranger on the device's own address and
     * one on 127.0.0.2 connect and write OK; the device answers the second invitation */
    struct fake f = {.strangers = true, .drop_invites = 1};
    struct otk_upload_cfg c;
    struct otk_upload u;
    char b[8];
    fake_open(&f);
    cfg_for(&c, &f);
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_OK);
    assert_int_equal(f.received, sizeof image);
    assert_int_equal(u.outcome.strangers, 2);
    for (int i = 0; i < 2; i++) {
        /* closed on them (EOF, or a reset since their OK went unread) */
        assert_true(recv(f.stranger_fd[i], b, sizeof b, 0) <= 0);
        close(f.stranger_fd[i]);
    }
    otk_upload_close(&u);
    fake_close(&f);
}

static void
stranger_udp_ok_is_not_the_device(void **state)
{
    (void)state;
    struct fake f = {.udp_stranger = true, .drop_invites = 1000};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.invite_timeout_ms = 800;
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_NO_ANSWER);
    assert_true(u.outcome.strangers >= 1);
    assert_non_null(strstr(message(&u), "the last from 127.0.0.2:"));
    otk_upload_close(&u);
    fake_close(&f);
}

/* The device's kernel takes the last bytes, its application never reads them and sends no
 * result (seen on a device whose loop() hung): the message says what the acks covered, not
 * "received all". */
static void
stops_reading_with_the_rest_in_its_kernel(void **state)
{
    (void)state;
    struct fake f = {.stall_at = sizeof image - 2048};
    struct otk_upload_cfg c;
    struct otk_upload u;
    fake_open(&f);
    cfg_for(&c, &f);
    c.stall_timeout_ms = 2000;
    c.result_timeout_ms = 500;
    otk_upload_init(&u, &c);
    run(&u, &f, 5000);
    assert_int_equal(result(&u), OTK_UPX_STALLED);
    assert_true(u.acked <= f.received);
    assert_true(u.acked < sizeof image);
    assert_non_null(strstr(message(&u), "stopped reading the image"));
    char acks[64];
    snprintf(acks, sizeof acks, "acks account for %u", u.acked);
    assert_non_null(strstr(message(&u), acks));
    done(&f, &u);
}

static void
progress_is_what_the_device_acknowledged(void **state)
{
    (void)state;
    /* the device closes after 100000 bytes; its kernel had taken more */
    struct fake f = {.close_at = 100000, .close_times = 1};
    struct otk_upload u;
    upload_plain(&f, &u);
    assert_int_equal(result(&u), OTK_UPX_DROPPED);
    assert_true(u.sent > f.received);
    assert_true(u.acked <= f.received);
    done(&f, &u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streams_without_password),
        cmocka_unit_test(lockstep_sends_one_chunk_per_ack),
        cmocka_unit_test(concatenated_acks_and_ok),
        cmocka_unit_test(md5_and_pbkdf2_auth),
        cmocka_unit_test(pbkdf2_falls_back_to_md5_hash),
        cmocka_unit_test(wrong_password_is_not_retried),
        cmocka_unit_test(no_invitation_after_a_challenge),
        cmocka_unit_test(nothing_listening_is_reported_fast),
        cmocka_unit_test(udp_err_is_mapped),
        cmocka_unit_test(error_text_after_data),
        cmocka_unit_test(never_connects_back),
        cmocka_unit_test(stall_names_the_byte),
        cmocka_unit_test(dropped_connection_is_retried),
        cmocka_unit_test(busy_device_says_with_whom),
        cmocka_unit_test(early_ok_is_refused),
        cmocka_unit_test(over_ack_is_refused),
        cmocka_unit_test(strangers_are_refused),
        cmocka_unit_test(stranger_udp_ok_is_not_the_device),
        cmocka_unit_test(progress_is_what_the_device_acknowledged),
        cmocka_unit_test(stops_reading_with_the_rest_in_its_kernel),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
