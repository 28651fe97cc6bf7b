/* SPDX-License-Identifier: MIT */
/* Network fault injection: parsing the specs and deciding, datagram by datagram and span by
 * span of the TCP stream, what the air does to them (applied by sim/fault_stage.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "otakit/err.h"
#include "otakit/proto.h"

#define DEFAULT_STALL_MS 3000u

static const char *const kind_names[OTK_FAULT_KINDS] = {
    [OTK_FAULT_LOSE_INVITE] = "lose-invite",
    [OTK_FAULT_LOSE_AUTH] = "lose-auth",
    [OTK_FAULT_LOSE_ANSWER] = "lose-answer",
    [OTK_FAULT_LOSE_OK] = "lose-ok",
    [OTK_FAULT_DUP] = "dup",
    [OTK_FAULT_DROP] = "drop",
    [OTK_FAULT_STALL] = "stall",
    [OTK_FAULT_REFUSE_CONNECT] = "refuse-connect",
    [OTK_FAULT_CORRUPT] = "corrupt",
};

static const char help[] =
    "    lose-invite[:K]     the first K invitations are lost (default 1)\n"
    "    lose-auth[:K]       the first K AUTH challenges are lost\n"
    "    lose-answer[:K]     the first K authentication answers are lost\n"
    "    lose-ok[:K]         the first K UDP \"OK\" replies are lost\n"
    "    dup[:K]             the first K datagrams each way arrive twice (default all)\n"
    "    drop[:N]            reset the TCP connection at byte N (default: seeded random)\n"
    "    stall[:S[:N]]       the link is silent for S seconds (default 3) from byte N\n"
    "    refuse-connect[:K]  the first K connections back to the uploader are refused\n"
    "    corrupt[:N]         flip byte N of the image in transit (the MD5 check fails)\n";

const char *
otk_faults_help(void)
{
    return help;
}

/* splitmix64: small, seedable, good enough for picking byte offsets */
static uint64_t
next_rand(struct otk_faults *fs)
{
    uint64_t z = (fs->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void
otk_faults_seed(struct otk_faults *fs, uint64_t seed)
{
    fs->rng = seed ^ 0x6F746B6661756C74ull; /* "otkfault": distinct from the link's stream */
}

void
otk_faults_init(struct otk_faults *fs, uint64_t seed)
{
    memset(fs, 0, sizeof *fs);
    otk_faults_seed(fs, seed);
}

static int
parse_num(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    char buf[32];
    char *end;

    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
parse_seconds(const char *s, size_t n, uint32_t *ms)
{
    char buf[32];
    char *end;

    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if ((buf[0] < '0' || buf[0] > '9') && buf[0] != '.')
        return -1;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || *end || v < 0.001 || v > 600.0)
        return -1;
    *ms = (uint32_t)(v * 1000.0 + 0.5);
    return 0;
}

int
otk_faults_add(struct otk_faults *fs, const char *spec, char *err, size_t errcap)
{
    const char *colon = strchr(spec, ':');
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
    struct otk_fault f;
    int k;

    if (fs->n >= OTK_FAULTS_MAX) {
        snprintf(err, errcap, "too many --fault options (at most %d)", OTK_FAULTS_MAX);
        return -1;
    }
    for (k = 0; k < OTK_FAULT_KINDS; k++)
        if (strlen(kind_names[k]) == klen && !strncmp(spec, kind_names[k], klen))
            break;
    if (k == OTK_FAULT_KINDS) {
        snprintf(err, errcap, "unknown fault '%.*s'; one of:\n%s", (int)klen, spec, help);
        return -1;
    }
    memset(&f, 0, sizeof f);
    f.kind = (enum otk_fault_kind)k;
    f.left = 1;
    switch (f.kind) {
    case OTK_FAULT_DUP:
        f.left = UINT32_MAX;
        /* fall through */
    case OTK_FAULT_LOSE_INVITE:
    case OTK_FAULT_LOSE_AUTH:
    case OTK_FAULT_LOSE_ANSWER:
    case OTK_FAULT_LOSE_OK:
    case OTK_FAULT_REFUSE_CONNECT:
        if (arg) {
            uint64_t v;
            if (parse_num(arg, strlen(arg), 1000000, &v) != 0 || v == 0) {
                snprintf(err, errcap, "fault '%s': K must be a count (1..1000000)", spec);
                return -1;
            }
            f.left = (uint32_t)v;
        }
        break;
    case OTK_FAULT_DROP:
    case OTK_FAULT_CORRUPT:
        f.at_random = arg == NULL;
        if (arg && parse_num(arg, strlen(arg), UINT32_MAX, &f.at) != 0) {
            snprintf(err, errcap, "fault '%s': N must be a byte offset", spec);
            return -1;
        }
        break;
    case OTK_FAULT_STALL: {
        const char *c2 = arg ? strchr(arg, ':') : NULL;
        f.stall_ms = DEFAULT_STALL_MS;
        f.at_random = c2 == NULL;
        if (arg && parse_seconds(arg, c2 ? (size_t)(c2 - arg) : strlen(arg), &f.stall_ms) != 0) {
            snprintf(err, errcap, "fault '%s': S must be seconds (0.001..600)", spec);
            return -1;
        }
        if (c2 && parse_num(c2 + 1, strlen(c2 + 1), UINT32_MAX, &f.at) != 0) {
            snprintf(err, errcap, "fault '%s': N must be a byte offset", spec);
            return -1;
        }
        break;
    }
    default:
        break;
    }
    fs->f[fs->n++] = f;
    return 0;
}

static void
note(struct otk_faults *fs, struct otk_fault *f, const char *fmt, unsigned long long v)
{
    char what[120];

    f->fired++;
    if (f->left != UINT32_MAX)
        f->left--;
    snprintf(what, sizeof what, fmt, v);
    snprintf(fs->last, sizeof fs->last, "fault %s: %s", kind_names[f->kind], what);
}

bool
otk_faults_take_log(struct otk_faults *fs, char *out, size_t cap)
{
    if (!fs || !fs->last[0] || cap == 0)
        return false;
    snprintf(out, cap, "%s", fs->last);
    fs->last[0] = '\0';
    return true;
}

static struct otk_fault *
armed(struct otk_faults *fs, enum otk_fault_kind k)
{
    for (size_t i = 0; i < fs->n; i++)
        if (fs->f[i].kind == k && fs->f[i].left > 0)
            return &fs->f[i];
    return NULL;
}

int
otk_faults_datagram(struct otk_faults *fs, bool in, const uint8_t *data, size_t len)
{
    struct otk_fault *f;
    enum otk_fault_kind lose = OTK_FAULT_KINDS;
    const char *what = NULL;

    if (!fs)
        return 1;
    if (in) {
        struct otk_invite inv;
        if (otk_proto_peek_cmd(data, len) == OTK_CMD_AUTH) {
            lose = OTK_FAULT_LOSE_ANSWER;
            what = "authentication answer lost";
        } else if (otk_proto_parse_invite(data, len, &inv) == OTK_OK) {
            fs->image_size = inv.size;
            lose = OTK_FAULT_LOSE_INVITE;
            what = "invitation lost";
        }
    } else {
        if (len > 5 && !memcmp(data, "AUTH ", 5)) {
            lose = OTK_FAULT_LOSE_AUTH;
            what = "AUTH challenge lost";
        } else if (len == 2 && !memcmp(data, "OK", 2)) {
            lose = OTK_FAULT_LOSE_OK;
            what = "UDP OK lost";
        }
    }
    if (lose != OTK_FAULT_KINDS && (f = armed(fs, lose)) != NULL) {
        note(fs, f, "%llu", 0);
        snprintf(fs->last, sizeof fs->last, "fault %s: %s (%u left)", kind_names[f->kind], what,
                 f->left);
        return 0;
    }
    if ((f = armed(fs, OTK_FAULT_DUP)) != NULL) {
        note(fs, f, "datagram %llu duplicated", f->fired + 1ull);
        return 2;
    }
    return 1;
}

bool
otk_faults_refuse_connect(struct otk_faults *fs)
{
    struct otk_fault *f;

    if (!fs || (f = armed(fs, OTK_FAULT_REFUSE_CONNECT)) == NULL)
        return false;
    note(fs, f, "connection back to the uploader refused (%llu left)", f->left - 1ull);
    return true;
}

/* The byte a fault fires at: N as given, or a seeded random byte of the announced image. */
static uint64_t
fault_at(struct otk_faults *fs, struct otk_fault *f)
{
    if (f->at_random) {
        uint32_t size = fs->image_size ? fs->image_size : 65536u;
        f->at = next_rand(fs) % size;
        f->at_random = false;
    }
    return f->at;
}

void
otk_faults_tcp(struct otk_faults *fs, uint64_t off, size_t len, struct otk_fault_span *out)
{
    memset(out, 0, sizeof *out);
    out->take = len;
    if (!fs)
        return;
    /* drop / stall first: the span ends just before byte N, the event follows it */
    for (size_t i = 0; i < fs->n; i++) {
        struct otk_fault *f = &fs->f[i];
        uint64_t at;

        if (f->left == 0 || (f->kind != OTK_FAULT_DROP && f->kind != OTK_FAULT_STALL))
            continue;
        at = fault_at(fs, f);
        if (at >= off && at < off + out->take) {
            out->take = (size_t)(at - off);
            out->cut = f;
        }
    }
    if (out->cut) {
        out->drop = out->cut->kind == OTK_FAULT_DROP;
        out->stall = out->cut->kind == OTK_FAULT_STALL;
        out->stall_ms = out->cut->stall_ms;
    }
    for (size_t i = 0; i < fs->n; i++) {
        struct otk_fault *f = &fs->f[i];
        uint64_t at;

        if (f->left == 0 || f->kind != OTK_FAULT_CORRUPT)
            continue;
        at = fault_at(fs, f);
        if (at >= off && at < off + out->take) {
            out->corrupt = true;
            out->corrupt_index = (size_t)(at - off);
            out->corrupt_one = f;
        }
    }
}

bool
otk_faults_tcp_passed(struct otk_faults *fs, uint64_t off, size_t used,
                      const struct otk_fault_span *sp)
{
    bool cut = sp->cut && used == sp->take;

    if (!fs)
        return false;
    if (cut)
        note(fs, sp->cut,
             sp->drop ? "TCP connection reset at byte %llu" : "link silent at byte %llu",
             off + sp->take);
    if (sp->corrupt_one && used > sp->corrupt_index)
        note(fs, sp->corrupt_one, "byte %llu of the TCP stream flipped", off + sp->corrupt_index);
    return cut;
}
