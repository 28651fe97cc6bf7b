/* SPDX-License-Identifier: MIT */
/* File-backed NOR flash. The file is mapped MAP_SHARED: every store lands in the page cache at
 * once, so a crash of the emulator keeps what was written, like a real chip keeps what it
 * programmed before the power went. A power cut syncs the mapping, tells the owner, and leaves
 * a chip without power: every later operation fails and changes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flashsim.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/posix.h"

#define PAGE_SIZE_NOR 256u

struct otk_flash_timing_profile
otk_flashsim_timing_of(enum otk_profile p)
{
    struct otk_flash_timing_profile t;
    if (p == OTK_PROFILE_ESP8266) {
        /* GigaDevice GD25Q32-class parts on ESP-12 modules: typical 4 KB erase 50 ms, 64 KB
         * block erase 200 ms, page program 0.6 ms (datasheet "typ" columns, not measured). */
        t.sector_erase_us = 50000;
        t.block_erase_us = 200000;
        t.page_program_us = 600;
    } else {
        /* Winbond W25Q32-class parts on ESP32-WROOM modules: typical 4 KB erase 45 ms, 64 KB
         * block erase 150 ms, page program 0.7 ms. */
        t.sector_erase_us = 45000;
        t.block_erase_us = 150000;
        t.page_program_us = 700;
    }
    return t;
}

static void
fs_log(struct otk_flashsim *fs, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (fs->log && !fs->powered_off)
        fs->log(fs->user, msg);
}

/* A real chip stalls the CPU for the whole operation; so does the emulated one. */
static void
fs_stall(struct otk_flashsim *fs, uint64_t us)
{
    fs->sleep_us += us;
    if (fs->timing != OTK_FLASH_REALISTIC || us == 0)
        return;
    if (fs->stall) {
        fs->stall(fs->stall_user, us);
        return;
    }
    struct timespec req = {.tv_sec = (time_t)(us / 1000000u),
                           .tv_nsec = (long)(us % 1000000u) * 1000L};
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* @return OTK_ERR_FLASH for the operation that the cut interrupted. */
static int
fs_power_cut(struct otk_flashsim *fs)
{
    /* Flush what the "chip" holds so the next run sees exactly the half-done state. */
    msync(fs->mem, fs->size, MS_SYNC);
    fs->powered_off = true;
    if (fs->on_power_cut)
        fs->on_power_cut(fs->user, fs->ops);
    return OTK_ERR_FLASH;
}

static int
fs_read(void *user, uint32_t addr, void *buf, size_t len)
{
    struct otk_flashsim *fs = user;
    if (fs->powered_off)
        return OTK_ERR_FLASH;
    if (addr > fs->size || len > fs->size - addr) {
        fs_log(fs, "read out of range: 0x%08x + %zu (flash is %u bytes)", (unsigned)addr, len,
               (unsigned)fs->size);
        return OTK_ERR_FLASH;
    }
    memcpy(buf, fs->mem + addr, len);
    return OTK_OK;
}

static int
fs_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    struct otk_flashsim *fs = user;
    const uint8_t *src = buf;
    if (fs->powered_off)
        return OTK_ERR_FLASH;
    fs->ops++;
    if (addr > fs->size || len > fs->size - addr) {
        fs_log(fs, "write out of range: 0x%08x + %zu (flash is %u bytes)", (unsigned)addr, len,
               (unsigned)fs->size);
        return OTK_ERR_FLASH;
    }
    uint8_t *dst = fs->mem + addr;
    if (fs->cut_at && fs->ops == fs->cut_at) {
        /* The chip programs pages in order; half of them made it before the power died. Program
         * is an AND: bits only go from 1 to 0. */
        for (size_t i = 0; i < len / 2; i++)
            dst[i] &= src[i];
        fs_stall(fs,
                 (uint64_t)((len / 2 + PAGE_SIZE_NOR - 1) / PAGE_SIZE_NOR) * fs->t.page_program_us);
        return fs_power_cut(fs);
    }
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)(dst[i] & src[i]) != src[i]) {
            fs_log(fs,
                   "NOR rule violated: write at 0x%08x + %zu would set bits at 0x%08x "
                   "(flash 0x%02x, data 0x%02x); erase first",
                   (unsigned)addr, len, (unsigned)(addr + i), dst[i], src[i]);
            return OTK_ERR_FLASH;
        }
    }
    memcpy(dst, src, len);
    fs_stall(fs, (uint64_t)((len + PAGE_SIZE_NOR - 1) / PAGE_SIZE_NOR) * fs->t.page_program_us);
    return OTK_OK;
}

/* Time of an erase: whole aligned 64 KB blocks use the block command, the rest 4 KB sectors,
 * as esp_flash / SPIEraseArea do. */
static uint64_t
erase_cost(const struct otk_flashsim *fs, uint32_t addr, uint32_t len)
{
    uint64_t us = 0;
    while (len > 0) {
        if (addr % OTK_BLOCK_SIZE == 0 && len >= OTK_BLOCK_SIZE) {
            us += fs->t.block_erase_us;
            addr += OTK_BLOCK_SIZE;
            len -= OTK_BLOCK_SIZE;
        } else {
            us += fs->t.sector_erase_us;
            addr += OTK_SECTOR_SIZE;
            len -= OTK_SECTOR_SIZE;
        }
    }
    return us;
}

static int
fs_erase(void *user, uint32_t addr, uint32_t len)
{
    struct otk_flashsim *fs = user;
    if (fs->powered_off)
        return OTK_ERR_FLASH;
    fs->ops++;
    if (addr % OTK_SECTOR_SIZE || len % OTK_SECTOR_SIZE || len == 0) {
        fs_log(fs, "erase not sector aligned: 0x%08x + %u (sectors are 4096 bytes)", (unsigned)addr,
               (unsigned)len);
        return OTK_ERR_FLASH;
    }
    if (addr > fs->size || len > fs->size - addr) {
        fs_log(fs, "erase out of range: 0x%08x + %u (flash is %u bytes)", (unsigned)addr,
               (unsigned)len, (unsigned)fs->size);
        return OTK_ERR_FLASH;
    }
    if (fs->cut_at && fs->ops == fs->cut_at) {
        uint32_t half = len / 2;
        memset(fs->mem + addr, 0xFF, half);
        fs_stall(fs, erase_cost(fs, addr, len) / 2);
        return fs_power_cut(fs);
    }
    memset(fs->mem + addr, 0xFF, len);
    fs_stall(fs, erase_cost(fs, addr, len));
    return OTK_OK;
}

static void
set_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (!err || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

int
otk_flashsim_format(uint8_t *mem, uint32_t size, enum otk_profile p, char *err, size_t errcap)
{
    struct otk_partition parts[16];
    const struct otk_crypto_ops *c = otk_posix_crypto();
    memset(mem, 0xFF, size);
    int n = otk_layout_default_parts(p, parts, 16);
    if (n <= 0) {
        set_err(err, errcap, "no default partition layout for this profile");
        return OTK_ERR_ARG;
    }
    int rc = otk_parttable_encode(c, parts, n, mem + OTK_PARTTABLE_OFFSET, 0xC00);
    if (rc != OTK_OK) {
        set_err(err, errcap, "cannot encode the partition table: %s", otk_strerror(rc));
        return rc;
    }
    struct otk_layout l;
    rc = otk_layout_from_parts(parts, n, size, &l);
    if (rc != OTK_OK) {
        set_err(err, errcap, "default layout has no OTA slots: %s", otk_strerror(rc));
        return rc;
    }
    /* Something to boot: a small valid application in app0; otadata stays erased, which the
     * bootloader reads as "boot the first OTA slot". */
    uint32_t img_size = 200u * 1024u;
    if (img_size > l.app_size[0])
        img_size = l.app_size[0];
    int len =
        otk_imagegen(p, "factory", "0.0.0", img_size, 1, mem + l.app_offset[0], l.app_size[0]);
    if (len <= 0) {
        set_err(err, errcap, "cannot generate the factory image (%d)", len);
        return OTK_ERR_IMAGE;
    }
    return OTK_OK;
}

static void
fs_init_ops(struct otk_flashsim *fs)
{
    fs->ops_tab.read = fs_read;
    fs->ops_tab.write = fs_write;
    fs->ops_tab.erase = fs_erase;
    fs->ops_tab.user = fs;
}

/* Create the file under a temporary name and rename it into place, so that an interrupted
 * creation never leaves a half-formatted flash behind. */
static int
create_file(const char *path, enum otk_profile p, char *err, size_t errcap)
{
    uint32_t size = otk_layout_default_flash_size(p);
    if (size == 0 || size % OTK_SECTOR_SIZE) {
        set_err(err, errcap, "bad default flash size %u", (unsigned)size);
        return OTK_ERR_ARG;
    }
    uint8_t *mem = malloc(size);
    if (!mem) {
        set_err(err, errcap, "out of memory");
        return OTK_ERR_IO;
    }
    int rc = otk_flashsim_format(mem, size, p, err, errcap);
    if (rc != OTK_OK) {
        free(mem);
        return rc;
    }
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(mem);
        set_err(err, errcap, "out of memory");
        return OTK_ERR_IO;
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_err(err, errcap, "cannot create %s: %s", tmp, strerror(errno));
        free(mem);
        free(tmp);
        return OTK_ERR_IO;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, mem + off, size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            set_err(err, errcap, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(mem);
            free(tmp);
            return OTK_ERR_IO;
        }
        off += (size_t)w;
    }
    free(mem);
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        set_err(err, errcap, "cannot finish %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return OTK_ERR_IO;
    }
    free(tmp);
    return OTK_OK;
}

int
otk_flashsim_open(struct otk_flashsim *fs, const char *path, enum otk_profile p,
                  enum otk_flash_timing timing, bool *created, char *err, size_t errcap)
{
    memset(fs, 0, sizeof *fs);
    fs->fd = -1;
    fs->timing = timing;
    fs->t = otk_flashsim_timing_of(p);
    if (created)
        *created = false;
    if (access(path, F_OK) != 0) {
        int rc = create_file(path, p, err, errcap);
        if (rc != OTK_OK)
            return rc;
        if (created)
            *created = true;
    }
    fs->fd = open(path, O_RDWR | O_CLOEXEC);
    if (fs->fd < 0) {
        set_err(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return OTK_ERR_IO;
    }
    struct stat st;
    if (fstat(fs->fd, &st) != 0) {
        set_err(err, errcap, "cannot stat %s: %s", path, strerror(errno));
        close(fs->fd);
        return OTK_ERR_IO;
    }
    if (st.st_size < (off_t)(OTK_PARTTABLE_OFFSET + OTK_SECTOR_SIZE) ||
        st.st_size % OTK_SECTOR_SIZE || st.st_size > (off_t)(64u * 1024u * 1024u)) {
        set_err(err, errcap,
                "%s is not a flash file: %lld bytes (expected a multiple of 4096, 36 KB..64 MB)",
                path, (long long)st.st_size);
        close(fs->fd);
        return OTK_ERR_ARG;
    }
    fs->size = (uint32_t)st.st_size;
    void *m = mmap(NULL, fs->size, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
    if (m == MAP_FAILED) {
        set_err(err, errcap, "cannot map %s: %s", path, strerror(errno));
        close(fs->fd);
        return OTK_ERR_IO;
    }
    fs->mem = m;
    fs_init_ops(fs);
    return OTK_OK;
}

const struct otk_flash_ops *
otk_flashsim_ops(struct otk_flashsim *fs)
{
    return &fs->ops_tab;
}

void
otk_flashsim_set_cut(struct otk_flashsim *fs, uint64_t n)
{
    fs->cut_at = n;
}

uint64_t
otk_flashsim_op_count(const struct otk_flashsim *fs)
{
    return fs->ops;
}

uint32_t
otk_flashsim_size(const struct otk_flashsim *fs)
{
    return fs->size;
}

void
otk_flashsim_close(struct otk_flashsim *fs)
{
    if (fs->mem) {
        msync(fs->mem, fs->size, MS_SYNC);
        munmap(fs->mem, fs->size);
        fs->mem = NULL;
    }
    if (fs->fd >= 0) {
        close(fs->fd);
        fs->fd = -1;
    }
}

static int
mem_read(void *user, uint32_t addr, void *buf, size_t len)
{
    struct otk_memflash *m = user;
    if (addr > m->size || len > m->size - addr)
        return OTK_ERR_FLASH;
    memcpy(buf, m->mem + addr, len);
    return OTK_OK;
}

static int
mem_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    struct otk_memflash *m = user;
    const uint8_t *src = buf;
    if (!m->writable || addr > m->size || len > m->size - addr)
        return OTK_ERR_FLASH;
    for (size_t i = 0; i < len; i++)
        m->mem[addr + i] &= src[i];
    return OTK_OK;
}

static int
mem_erase(void *user, uint32_t addr, uint32_t len)
{
    struct otk_memflash *m = user;
    if (!m->writable || addr % OTK_SECTOR_SIZE || len % OTK_SECTOR_SIZE || addr > m->size ||
        len > m->size - addr)
        return OTK_ERR_FLASH;
    memset(m->mem + addr, 0xFF, len);
    return OTK_OK;
}

const struct otk_flash_ops *
otk_memflash_init(struct otk_memflash *m, uint8_t *mem, uint32_t size, bool writable)
{
    m->mem = mem;
    m->size = size;
    m->writable = writable;
    m->ops_tab.read = mem_read;
    m->ops_tab.write = mem_write;
    m->ops_tab.erase = mem_erase;
    m->ops_tab.user = m;
    return &m->ops_tab;
}

bool
otk_flashsim_powered_off(const struct otk_flashsim *fs)
{
    return fs->powered_off;
}
