/* SPDX-License-Identifier: MIT */
/* otakit's stand-in for the ESP8266 Arduino core (see Arduino.h): POSIX sockets on 127.0.0.1,
 * the flash in memory, kept in the file $OTK_FLASH across restart() (which exits, as the core's
 * host emulation does), the eboot command written to $OTK_FLASH.eboot. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "Arduino.h"
#include "ESP8266WiFi.h"
#include "ESP8266mDNS.h"
#include "WiFiUdp.h"
#include "eboot_command.h"

#define FLASH_BYTES (4u << 20)

HardwareSerial Serial;
EspClass ESP;
ESP8266WiFiClass WiFi;
MDNSResponder MDNS;

unsigned long
millis(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
delay(unsigned long ms)
{
    usleep((useconds_t)ms * 1000);
}

int
HardwareSerial::printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    return n;
}

void
HardwareSerial::print(const char *s)
{
    fputs(s, stdout);
    fflush(stdout);
}

void
HardwareSerial::println(const char *s)
{
    puts(s);
    fflush(stdout);
}

String
IPAddress::toString() const
{
    char b[16];

    snprintf(b, sizeof b, "%u.%u.%u.%u", _b[0], _b[1], _b[2], _b[3]);
    return String(b);
}

void
HardwareSerial::print(const IPAddress &ip)
{
    print(ip.toString().c_str());
}

void
HardwareSerial::println(const IPAddress &ip)
{
    println(ip.toString().c_str());
}

/* ---- flash ---- */

static uint8_t *mem;

/* The flash file, written at restart() and at SIGTERM (with write(): signal-safe). */
static void
save_flash(void)
{
    const char *path = getenv("OTK_FLASH");
    int fd = path && mem ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    size_t done = 0;

    while (fd >= 0 && done < FLASH_BYTES) {
        ssize_t n = write(fd, mem + done, FLASH_BYTES - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
}

static void
on_sigterm(int sig)
{
    (void)sig;
    save_flash();
    _exit(143);
}

static uint8_t *
flash(void)
{
    if (mem == NULL) {
        const char *path = getenv("OTK_FLASH");
        FILE *f = path ? fopen(path, "rb") : NULL;

        mem = (uint8_t *)malloc(FLASH_BYTES);
        if (mem == NULL)
            abort();
        memset(mem, 0xFF, FLASH_BYTES);
        signal(SIGTERM, on_sigterm);
        if (f) {
            if (fread(mem, 1, FLASH_BYTES, f) != FLASH_BYTES)
                fprintf(stderr, "standin: short flash file %s\n", path);
            fclose(f);
        }
    }
    return mem;
}

static bool
in_flash(uint32_t off, size_t n)
{
    return off <= FLASH_BYTES && n <= FLASH_BYTES - off;
}

bool
EspClass::flashRead(uint32_t offset, uint8_t *data, size_t size)
{
    if (!in_flash(offset, size))
        return false;
    memcpy(data, flash() + offset, size);
    return true;
}

bool
EspClass::flashWrite(uint32_t offset, const uint8_t *data, size_t size)
{
    if (!in_flash(offset, size))
        return false;
    for (size_t i = 0; i < size; i++)
        flash()[offset + i] &= data[i];
    return true;
}

bool
EspClass::flashEraseSector(uint32_t sector)
{
    if (!in_flash(sector * 4096u, 4096))
        return false;
    memset(flash() + sector * 4096u, 0xFF, 4096);
    return true;
}

FlashMode_t
EspClass::getFlashChipMode()
{
    return FM_DOUT; /* as the core's host emulation: not the mode images are built for */
}

uint32_t
EspClass::getSketchSize()
{
    return 400000; /* as the core's host emulation says */
}

uint32_t
EspClass::getFlashChipRealSize()
{
    return FLASH_BYTES;
}

uint32_t
EspClass::getChipId()
{
    return 0x0a1b2c;
}

uint8_t *
EspClass::random(uint8_t *out, size_t len)
{
    if (getrandom(out, len, 0) != (ssize_t)len)
        abort();
    return out;
}

void
EspClass::restart()
{
    flash();
    save_flash();
    puts("standin: restart");
    fflush(stdout);
    exit(0);
}

void
eboot_command_write(struct eboot_command *cmd)
{
    char path[512];
    const char *base = getenv("OTK_FLASH");

    cmd->magic = 0xeb001000u;
    printf("standin: eboot action %u args 0x%x 0x%x %u\n", (unsigned)cmd->action,
           (unsigned)cmd->args[0], (unsigned)cmd->args[1], (unsigned)cmd->args[2]);
    fflush(stdout);
    snprintf(path, sizeof path, "%s.eboot", base ? base : "flash");
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(cmd, sizeof *cmd, 1, f);
        fclose(f);
    }
}

bool
MDNSResponder::begin(const char *hostname)
{
    printf("standin: mdns host %s\n", hostname);
    return true;
}

void
MDNSResponder::enableArduino(uint16_t port, bool auth)
{
    printf("standin: mdns _arduino._tcp port %u auth %d\n", port, auth ? 1 : 0);
}

/* ---- sockets ---- */

static void
sin_of(IPAddress ip, uint16_t port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    uint8_t b[4] = {ip[0], ip[1], ip[2], ip[3]};
    memcpy(&sa->sin_addr, b, 4);
}

static IPAddress
ip_of(const struct sockaddr_in *sa)
{
    const uint8_t *b = (const uint8_t *)&sa->sin_addr;
    return IPAddress(b[0], b[1], b[2], b[3]);
}

uint8_t
WiFiUDP::begin(uint16_t port)
{
    struct sockaddr_in sa;

    _fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sin_of(IPAddress(127, 0, 0, 1), port, &sa);
    return _fd >= 0 && bind(_fd, (struct sockaddr *)&sa, sizeof sa) == 0;
}

int
WiFiUDP::parsePacket()
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    ssize_t n = recvfrom(_fd, _in, sizeof _in, 0, (struct sockaddr *)&sa, &sl);

    if (n <= 0)
        return 0;
    _in_len = (size_t)n;
    _in_off = 0;
    _from = ip_of(&sa);
    _from_port = ntohs(sa.sin_port);
    return (int)n;
}

int
WiFiUDP::read(uint8_t *buf, size_t len)
{
    size_t n = _in_len - _in_off < len ? _in_len - _in_off : len;

    memcpy(buf, _in + _in_off, n);
    _in_off += n;
    return (int)n;
}

int
WiFiUDP::beginPacket(IPAddress ip, uint16_t port)
{
    _to = ip;
    _to_port = port;
    _out_len = 0;
    return 1;
}

size_t
WiFiUDP::write(const uint8_t *buf, size_t len)
{
    size_t n = sizeof _out - _out_len < len ? sizeof _out - _out_len : len;

    memcpy(_out + _out_len, buf, n);
    _out_len += n;
    return n;
}

int
WiFiUDP::endPacket()
{
    struct sockaddr_in sa;

    sin_of(_to, _to_port, &sa);
    return sendto(_fd, _out, _out_len, 0, (struct sockaddr *)&sa, sizeof sa) == (ssize_t)_out_len;
}

WiFiClient::WiFiClient(int fd) : _fd(fd) {}

int
WiFiClient::connect(IPAddress ip, uint16_t port)
{
    struct sockaddr_in sa;

    stop();
    _eof = false;
    _fd = socket(AF_INET, SOCK_STREAM, 0);
    sin_of(ip, port, &sa);
    if (_fd < 0 || ::connect(_fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        stop();
        return 0;
    }
    return 1;
}

void
WiFiClient::setNoDelay(bool on)
{
    int v = on;

    if (_fd >= 0)
        setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

size_t
WiFiClient::write(const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (_fd >= 0 && done < len) {
        ssize_t n = send(_fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

int
WiFiClient::available()
{
    uint8_t b[4096];

    if (_fd < 0 || _eof)
        return 0;
    ssize_t n = recv(_fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        _eof = true;
        return 0;
    }
    return n < 0 ? 0 : (int)n;
}

int
WiFiClient::read(uint8_t *buf, size_t len)
{
    if (_fd < 0 || _eof)
        return -1;
    ssize_t n = recv(_fd, buf, len, MSG_DONTWAIT);
    if (n == 0)
        _eof = true;
    return n <= 0 ? -1 : (int)n;
}

uint8_t
WiFiClient::connected()
{
    return _fd >= 0 && (available() > 0 || !_eof);
}

void
WiFiClient::stop()
{
    if (_fd >= 0)
        close(_fd);
    _fd = -1;
}

IPAddress
WiFiClient::remoteIP()
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    if (_fd < 0 || getpeername(_fd, (struct sockaddr *)&sa, &sl) != 0)
        return IPAddress();
    return ip_of(&sa);
}

uint16_t
WiFiClient::remotePort()
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    if (_fd < 0 || getpeername(_fd, (struct sockaddr *)&sa, &sl) != 0)
        return 0;
    return ntohs(sa.sin_port);
}

void
WiFiServer::begin(uint16_t port)
{
    struct sockaddr_in sa;
    int one = 1;

    _port = port;
    _fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sin_of(IPAddress(127, 0, 0, 1), port, &sa);
    if (bind(_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(_fd, 1) != 0) {
        fprintf(stderr, "standin: cannot listen on TCP %u\n", port);
        close(_fd);
        _fd = -1;
    }
}

bool
WiFiServer::hasClient()
{
    if (_pending < 0 && _fd >= 0)
        _pending = ::accept(_fd, NULL, NULL);
    return _pending >= 0;
}

WiFiClient
WiFiServer::accept()
{
    int fd = hasClient() ? _pending : -1;

    _pending = -1;
    return WiFiClient(fd);
}
