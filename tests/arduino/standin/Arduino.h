/* SPDX-License-Identifier: MIT */
/* otakit's own stand-in for the few parts of the ESP8266 Arduino core that OtaKit and the
 * BasicOTA example use, on POSIX (sockets on 127.0.0.1, flash in memory, a flash file kept
 * across restarts), so CI tests the library's logic without the core. Not the core's code:
 * only the shape of its API. tests/arduino/README.md says what it models. */
#ifndef OTK_STANDIN_ARDUINO_H
#define OTK_STANDIN_ARDUINO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>

unsigned long millis(void);
void delay(unsigned long ms);

/* The part of Arduino's String the example uses. */
class String
{
  public:
    String(const char *s = "") : _s(s ? s : "") {}
    String(const std::string &s) : _s(s) {}
    String &
    operator=(const char *s)
    {
        _s = s ? s : "";
        return *this;
    }
    const char *
    c_str() const
    {
        return _s.c_str();
    }
    size_t
    length() const
    {
        return _s.size();
    }
    friend String
    operator+(const char *a, const String &b)
    {
        return String(a + b._s);
    }
    friend String
    operator+(const String &a, const char *b)
    {
        return String(a._s + b);
    }

  private:
    std::string _s;
};

class IPAddress
{
  public:
    IPAddress() : _b{0, 0, 0, 0} {}
    IPAddress(uint8_t a, uint8_t b, uint8_t c, uint8_t d) : _b{a, b, c, d} {}
    uint8_t
    operator[](int i) const
    {
        return _b[i];
    }
    uint8_t &
    operator[](int i)
    {
        return _b[i];
    }
    String toString() const;

  private:
    uint8_t _b[4];
};

class HardwareSerial
{
  public:
    void
    begin(unsigned long baud)
    {
        (void)baud;
    }
    int printf(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void print(const char *s);
    void print(const IPAddress &ip);
    void println(const char *s = "");
    void
    println(const String &s)
    {
        println(s.c_str());
    }
    void println(const IPAddress &ip);
};
extern HardwareSerial Serial;

enum FlashMode_t { FM_QIO = 0, FM_QOUT = 1, FM_DIO = 2, FM_DOUT = 3, FM_UNKNOWN = 0xff };

/* ESP: the flash in memory (4 MB, NOR: erase sets 0xFF, writes clear bits), the sketch size,
 * the RNG, restart() = write the flash file and exit (as the host emulation exits). */
class EspClass
{
  public:
    bool flashRead(uint32_t offset, uint8_t *data, size_t size);
    bool flashWrite(uint32_t offset, const uint8_t *data, size_t size);
    bool flashEraseSector(uint32_t sector);
    FlashMode_t getFlashChipMode();
    uint32_t getSketchSize();
    uint32_t getFlashChipRealSize();
    uint32_t getChipId();
    uint8_t *random(uint8_t *out, size_t len);
    void restart();
};
extern EspClass ESP;

#endif
