#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bytes each object contributes to a --gc-sections link, from the linker's memory map: code
(.text*, .literal*, .iram*, .irom*) and read-only data (.rodata*), each input section counted
as the distance to the next one, so alignment fill is included (as scripts/check-core counts).

usage: mapsize.py MAP OBJ...   (OBJ: file names as the map shows them, e.g. Updater.o)
prints one line per object that the link kept: name code rodata total; then TOTAL and the
objects of which nothing was linked."""
import re
import sys

CODE = ("text", "literal", "iram", "irom", "irom0")
DATA = ("rodata", "srodata")


def entries(path):
    """(address, size, object, kind) of every code or read-only input section."""
    out, pending = [], None
    text = open(path, encoding="utf-8", errors="replace").read()
    lines = text.split("Linker script and memory map", 1)[-1].splitlines()
    for line in lines:
        m = re.match(r"^ (\.\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o\)?))?$", line)
        if m and m.group(2) is None:
            pending = m.group(1)  # a long section name: its figures are on the next line
            continue
        if m:
            sec, addr, size, obj = m.group(1), m.group(2), m.group(3), m.group(4)
        else:
            m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.o\)?)$", line)
            if not m or pending is None:
                pending = None
                continue
            sec, addr, size, obj = pending, m.group(1), m.group(2), m.group(3)
        pending = None
        kind = sec.split(".")[1]
        if int(size, 16) and (kind in CODE or kind in DATA):
            out.append((int(addr, 16), int(size, 16), obj.rsplit("/", 1)[-1],
                        "code" if kind in CODE else "rodata"))
    return sorted(out)


def main():
    path, wanted = sys.argv[1], sys.argv[2:]
    es = entries(path)
    sizes = {}
    for i, (addr, size, obj, kind) in enumerate(es):
        gap = es[i + 1][0] - addr if i + 1 < len(es) else -1
        n = gap if 0 <= gap <= size + 16 else size
        sizes.setdefault(obj, {"code": 0, "rodata": 0})[kind] += n
    tot = {"code": 0, "rodata": 0}
    dropped = []
    for obj in wanted:
        s = sizes.get(obj, {"code": 0, "rodata": 0})
        if s["code"] + s["rodata"] == 0:
            dropped.append(obj)  # nothing of it reached from the entry
            continue
        print("%-26s %7d %7d %7d" % (obj, s["code"], s["rodata"], s["code"] + s["rodata"]))
        for k in tot:
            tot[k] += s[k]
    print("%-26s %7d %7d %7d" % ("TOTAL", tot["code"], tot["rodata"], tot["code"] + tot["rodata"]))
    if dropped:
        print("(nothing linked of: %s)" % " ".join(dropped))


if __name__ == "__main__":
    main()
