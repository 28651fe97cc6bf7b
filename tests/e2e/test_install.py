# SPDX-License-Identifier: MIT
"""Packaging: `cmake --install` of the build into a DESTDIR puts the otakit command, libotakit.a
with its headers and otakit.pc, the man page and the bash completion where they belong; a small
program compiles against the installed headers and library with the flags `pkg-config --cflags
--libs otakit` gives (PKG_CONFIG_PATH pointing into the DESTDIR) and runs; the man page renders;
the completion loads in bash and completes; `cpack -G DEB` makes a .deb holding the same files.

The build directory is the one of $OTAKIT (CTest passes the freshly built binary)."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import otk

BUILD = os.path.dirname(os.path.abspath(otk.OTAKIT))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PREFIX = "/usr/local"

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
%(includes)s

int
main(void)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    union otk_hash_ctx h;
    uint8_t d[16];
    struct otk_upload_cfg cfg;

    c->md5_start(&h);
    c->md5_update(&h, "abc", 3);
    c->md5_finish(&h, d);
    otk_upload_cfg_defaults(&cfg);
    /* the library's outcome API (the command line and its exit codes are the CLI's) */
    printf("md5=%%02x%%02x%%02x%%02x port=%%u too_big=%%d transient=%%d %%d\n", d[0], d[1], d[2],
           d[3], (unsigned)cfg.port,
           otk_upload_classify_device_error("ERROR[4]: Not Enough Space") == OTK_UPC_DEV_TOO_BIG,
           otk_upload_cause_transient(OTK_UPC_STALLED),
           otk_upload_cause_transient(OTK_UPC_AUTH_FAILED));
    return 0;
}
"""


def sh(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(args, **kw)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="otk-install-")
        cls.dest = os.path.join(cls._tmp.name, "dest")
        cp = sh(["cmake", "--install", BUILD, "--prefix", PREFIX],
                env=dict(os.environ, DESTDIR=cls.dest))
        if cp.returncode != 0:
            raise AssertionError("cmake --install failed:\n%s%s" % (cp.stdout, cp.stderr))
        cls.root = cls.dest + PREFIX
        libdirs = [d for d in ("lib", "lib64", "lib/x86_64-linux-gnu")
                   if os.path.exists(os.path.join(cls.root, d, "libotakit.a"))]
        cls.libdir = os.path.join(cls.root, libdirs[0]) if libdirs else None

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_files(self):
        r = self.root
        self.assertTrue(os.access(os.path.join(r, "bin", "otakit"), os.X_OK))
        self.assertIsNotNone(self.libdir, "libotakit.a not installed")
        self.assertTrue(os.path.exists(os.path.join(self.libdir, "pkgconfig", "otakit.pc")))
        for h in ("upload.h", "hostnet.h", "port.h", "proto.h", "device.h", "posix.h", "err.h"):
            self.assertTrue(os.path.exists(os.path.join(r, "include", "otakit", h)), h)
        self.assertTrue(os.path.exists(os.path.join(r, "share", "man", "man1", "otakit.1")))
        self.assertTrue(os.path.exists(
            os.path.join(r, "share", "bash-completion", "completions", "otakit")))
        # the archive holds all three parts: core, POSIX port, host engine
        names = sh(["ar", "t", os.path.join(self.libdir, "libotakit.a")]).stdout.split()
        for part in ("device.c.o", "crypto_mbedtls.c.o", "hostnet.c.o", "upload.c.o"):
            self.assertIn(part, names)
        # the installed binary runs
        cp = sh([os.path.join(r, "bin", "otakit"), "--version"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("otakit", cp.stdout)

    def test_pkg_config_and_compile(self):
        if not shutil.which("pkg-config"):
            self.fail("pkg-config is not installed (scripts/setup installs it)")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        cp = sh(["pkg-config", "--cflags", "--libs", "otakit"], env=env)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        flags = cp.stdout.split()
        self.assertIn("-lotakit", flags)
        # the relocatable .pc points into the DESTDIR, not at the prefix on this machine
        incs = [os.path.realpath(f[2:]) for f in flags if f.startswith("-I")]
        self.assertIn(os.path.realpath(os.path.join(self.root, "include")), incs)
        mod = sh(["pkg-config", "--modversion", "otakit"], env=env)
        self.assertRegex(mod.stdout.strip(), r"^\d+\.\d+\.\d+$")
        # every installed header compiles on its own terms, together with the others
        headers = sorted(os.listdir(os.path.join(self.root, "include", "otakit")))
        src = os.path.join(self._tmp.name, "prog.c")
        with open(src, "w") as f:
            f.write(PROGRAM % {"includes": "\n".join("#include <otakit/%s>" % h
                                                     for h in headers)})
        exe = os.path.join(self._tmp.name, "prog")
        cp = sh(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe, src] + flags)
        self.assertEqual(cp.returncode, 0, "compile failed:\n%s%s" % (cp.stdout, cp.stderr))
        run = sh([exe], env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(run.returncode, 0, run.stderr)
        # MD5("abc") = 900150983cd24fb0...; espota's default port; a device's error text
        # classified, the retry rule
        self.assertEqual(run.stdout.strip(),
                         "md5=90015098 port=3232 too_big=1 transient=1 0")

    def test_man_page_renders(self):
        page = os.path.join(self.root, "share", "man", "man1", "otakit.1")
        if shutil.which("groff"):
            cp = sh(["groff", "-man", "-Tutf8", "-ww", page],
                    env=dict(os.environ, LC_ALL="C.UTF-8"))
        elif shutil.which("man"):
            cp = sh(["man", "-l", page], env=dict(os.environ, MANPAGER="cat", LC_ALL="C.UTF-8"))
        else:
            self.fail("neither groff nor man is installed (scripts/setup installs groff-base)")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stderr.strip(), "", "roff warnings:\n" + cp.stderr)
        text = re.sub(".\x08", "", cp.stdout)  # bold and underline are overstrikes
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS",
                        "EXAMPLES"):
            self.assertIn(section, text)
        # every subcommand of `otakit --help` is documented
        helptext = otk.run("--help").stdout
        cmds = [l.split()[0] for l in helptext.split("commands:")[1].splitlines()
                if l.startswith("  ") and l.split()]
        self.assertIn("upload", cmds)
        for cmd in cmds + ["list"]:
            self.assertIn("otakit " + cmd, text)
        # every long option of `otakit upload --help` is in the page, and every exit code
        up = otk.run("upload", "--help").stdout
        for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9_-]*", up))):
            self.assertIn(opt, text.replace("\u2010", "-"))
        for code in list(range(0, 19)) + [130]:
            self.assertRegex(text, r"\n\s+%d\s" % code)

    def test_bash_completion(self):
        comp = os.path.join(self.root, "share", "bash-completion", "completions", "otakit")
        path = os.path.join(self.root, "bin") + os.pathsep + os.environ.get("PATH", "")
        script = r"""
set -e
source "$1"
complete -p otakit
c() {  # complete the words given; the last one is the word under the cursor
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _otakit
    echo "$*| ${COMPREPLY[*]}"
}
c otakit up
c otakit ''
c otakit upload --au
c otakit upload -d --host_p
c otakit device --profile e
c otakit device --auth-variant ''
c otakit image --ch
c otakit --ver
"""
        cp = sh(["bash", "--norc", "--noprofile", "-c", script, "bash", comp],
                env=dict(os.environ, PATH=path))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        lines = cp.stdout.splitlines()
        self.assertEqual(lines[0], "complete -F _otakit otakit")
        got = dict(l.split("| ", 1) for l in lines[1:])
        self.assertEqual(got["otakit up"], "upload")
        for cmd in ("upload", "device", "image", "inspect"):
            self.assertIn(cmd, got["otakit "].split())
        self.assertEqual(got["otakit upload --au"], "--auth")
        self.assertEqual(got["otakit upload -d --host_p"], "--host_port")
        self.assertEqual(got["otakit device --profile e"], "esp32 esp8266")
        self.assertEqual(got["otakit device --auth-variant "], "md5 pbkdf2")
        self.assertEqual(got["otakit image --ch"], "--chip")
        self.assertEqual(got["otakit --ver"], "--version")

    def test_deb_package(self):
        if not shutil.which("cpack") or not shutil.which("dpkg-deb"):
            self.fail("cpack or dpkg-deb missing")
        out = os.path.join(self._tmp.name, "deb")
        cp = sh(["cpack", "-G", "DEB", "-B", out], cwd=BUILD)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(out))
        deb = os.path.join(out, debs[0])
        info = sh(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"]).stdout
        self.assertIn("Package: otakit", info)
        self.assertIn("libmbedcrypto", info)  # found by dpkg-shlibdeps
        files = sh(["dpkg-deb", "-c", deb]).stdout
        for f in ("./usr/bin/otakit", "/libotakit.a", "/pkgconfig/otakit.pc",
                  "./usr/include/otakit/upload.h", "./usr/share/man/man1/otakit.1",
                  "./usr/share/bash-completion/completions/otakit"):
            self.assertIn(f, files)


if __name__ == "__main__":
    otk.main()
