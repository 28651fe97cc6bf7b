# SPDX-License-Identifier: MIT
"""The IDE set-ups of docs/INTEGRATION.md, run for real: each block marked
`<!-- tested: NAME -->` is read from the document, expanded the way its tool expands it, and the
resulting command line is run against `otakit device` on 127.0.0.1 (the HTTP set-ups: against the
fake ElegantOTA and /update devices of httpdevs.py).

- PlatformIO (SCons): `upload_command` / `UPLOADCMD` with `$UPLOAD_PORT`, `$UPLOAD_FLAGS` (a list:
  one element a line of `upload_flags`, PlatformIO's ProjectConfig split), `$UPLOADERFLAGS`
  (platform-espressif32's espota flags, `upload_flags` prepended by PlatformIO's main.py) and
  `$SOURCE`; the string runs through `sh -c` as SCons' POSIX spawn does.
- arduino-cli / Arduino IDE 2: `{property}` expansion (unknown ones stay as they are), then
  go-properties-orderedmap's SplitQuotedString (split at spaces; a word that starts with `"` or
  `'` runs to the word that ends with it; the quotes go), then exec without a shell. The ESP8266
  core's legacy `network_pattern` is converted first the way arduino-cli's loader does.
- Arduino IDE 1.x: the ESP8266 core's `network_pattern` with `{serial.port}`, `{network.port}`,
  `{network.password}`; the same splitting.

Only the address, ports and program path in the documented text are replaced by the test's."""

import configparser
import hashlib
import itertools
import os
import re
import shlex
import socket
import subprocess
import tempfile
import time
import unittest

import httpdevs as H
import otk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "INTEGRATION.md")
KB = 1024
DOC_OTAKIT = "/usr/local/bin/otakit"
COUNTER = itertools.count(1)


def doc_blocks():
    """{name: text} of the fenced blocks that follow `<!-- tested: NAME -->` markers."""
    with open(DOC) as f:
        text = f.read()
    blocks = {}
    for m in re.finditer(r"<!-- tested: ([\w-]+) -->\s*\n```[^\n]*\n(.*?)```", text, re.S):
        blocks[m.group(1)] = m.group(2)
    return blocks


# ---- Arduino: properties ----

def arduino_expand(pattern, props):
    """ExpandPropsInString: replace {key} by its value, repeatedly (values may hold more
    placeholders); unknown keys stay literally."""
    for _ in range(10):
        new = re.sub(r"\{([^{}]+)\}", lambda m: props.get(m.group(1), m.group(0)), pattern)
        if new == pattern:
            break
        pattern = new
    return pattern


def split_quoted(src, quotes="\"'", accept_empty=False):
    """go-properties-orderedmap SplitQuotedString, as arduino-cli calls it for upload recipes."""
    result, escaping, arg = [], None, ""
    for current in src.split(" "):
        if escaping is None:
            if not current or current[0] not in quotes:
                if accept_empty or current.strip():
                    result.append(current)
                continue
            escaping, current, arg = current[0], current[1:], ""
        if not current or current[-1] != escaping:
            arg += current + " "
            continue
        arg += current[:-1]
        if accept_empty or arg.strip():
            result.append(arg)
        escaping = None
    if escaping is not None:
        raise ValueError("invalid quoting, no closing %s" % escaping)
    return result


def convert_legacy_network_pattern(pattern):
    """arduino-cli's loader: a core without pluggable discovery gets its IDE 1.x
    upload.network_pattern converted to an upload.pattern with the new properties."""
    pattern = pattern.replace("{serial.port}", "{upload.port.address}")
    pattern = pattern.replace("{network.port}", "{upload.port.properties.port}")
    return pattern.replace("{network.password}", "{upload.field.password}")


def local_txt_value(block, key):
    for line in block.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1:]
    raise AssertionError("%s not in the documented platform.local.txt" % key)


# ---- PlatformIO ----

def pio_env(block):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(block)
    name = cp.sections()[0]
    return name.split(":", 1)[1], cp[name]


def pio_multi(value):
    """ProjectConfig.parse_multi_values: lines (or ', '), comments and blanks dropped."""
    items = value.split("\n") if "\n" in value else value.split(", ")
    out = []
    for item in items:
        item = item.strip()
        if not item or item.startswith((";", "#")):
            continue
        out.append(item.split(";", 1)[0].strip())
    return out


def scons_subst(cmd, variables):
    """$VAR / ${VAR} substitution into a command string; a list becomes its words, each quoted
    for the shell as SCons escapes arguments (recursively: values may refer to variables)."""
    def one(m):
        v = variables[m.group(1) or m.group(2)]
        if isinstance(v, list):
            return " ".join(scons_subst(x, variables) if "$" in x else shlex.quote(x)
                            for x in v)
        return scons_subst(v, variables) if "$" in v else shlex.quote(v)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, cmd)


class Integration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.blocks = doc_blocks()
        cls._tmp = tempfile.TemporaryDirectory(prefix="otk-ide-")
        cls.tmp = cls._tmp.name
        # `otakit` on PATH for the PlatformIO commands, as after installing
        cls.bindir = os.path.join(cls.tmp, "bin")
        os.mkdir(cls.bindir)
        os.symlink(os.path.abspath(otk.OTAKIT), os.path.join(cls.bindir, "otakit"))
        cls.env = dict(os.environ, PATH=cls.bindir + os.pathsep + os.environ.get("PATH", ""))

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def device(self, profile, password=None, port=None, extra=()):
        flash = os.path.join(self.tmp, "%s-%s-%d.flash" % (self.id().split(".")[-1],
                                                           profile, next(COUNTER)))
        ex = list(extra) + ["--once"]
        dev = otk.start_device(self.tmp, profile=profile, password=password, flash=flash,
                               extra=ex if port is None else ex + ["--port", port])
        dev.wait_event("boot")
        return dev

    def run_argv(self, argv):
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=self.env)

    def assertUploaded(self, cp, dev, version, size):
        self.assertEqual(cp.returncode, 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
            cp.returncode, cp.stdout, cp.stderr))
        self.assertIn("OK", cp.stderr)
        self.assertEqual(dev.wait_exit(30), 0, dev.stderr())
        self.assertEqual(dev.wait_event("start")["size"], size)
        if version:
            self.assertEqual(dev.find("boot")[-1]["version"], version)

    def test_doc_has_every_block(self):
        self.assertEqual(sorted(self.blocks), sorted([
            "pio-esp32", "pio-esp8266", "pio-post-script", "pio-post-script-py", "pio-wait",
            "arduino-esp32", "arduino-esp32-fixed-port", "arduino-esp8266", "pio-elegantota",
            "pio-elegantota-post", "pio-web", "arduino-esp32-elegantota",
            "arduino-esp8266-web"]))

    # ---- PlatformIO ----

    def pio_project(self, env_name, chip, version, size):
        """A PlatformIO project dir with .pio/build/ENV/firmware.bin; returns (dir, bin)."""
        proj = os.path.join(self.tmp, "pio-" + env_name)
        build = os.path.join(proj, ".pio", "build", env_name)
        os.makedirs(build, exist_ok=True)
        fw = os.path.join(build, "firmware.bin")
        otk.make_image(fw, chip, version, size)
        return proj, fw

    def pio_upload_command(self, block, dev_port, host_port=None):
        env_name, opts = pio_env(block)
        flags = pio_multi(opts["upload_flags"])
        # the user's values for their device, replaced by this test's device
        flags = [re.sub(r"^--port=\d+$", "--port=%d" % dev_port, f) for f in flags]
        if host_port is not None:
            flags = [re.sub(r"^--host_port=\d+$", "--host_port=%d" % host_port, f)
                     for f in flags]
        self.assertEqual(opts["upload_protocol"], "custom")
        self.assertRegex(opts["upload_port"], r"^\d+\.\d+\.\d+\.\d+$")
        return env_name, opts["upload_command"], flags

    def test_platformio_custom_esp32(self):
        block = self.blocks["pio-esp32"]
        self.assertIn("--auth=OTAPASSWORD", block)
        dev = self.device("esp32", password="OTAPASSWORD")
        with dev:
            env_name, cmd, flags = self.pio_upload_command(block, dev.port)
            proj, fw = self.pio_project(env_name, "esp32", "3.1.0", 400 * KB)
            line = scons_subst(cmd, {"UPLOAD_PORT": "127.0.0.1", "UPLOAD_FLAGS": flags,
                                     "SOURCE": os.path.relpath(fw, proj)})
            self.assertTrue(line.startswith("otakit upload --debug --progress -i 127.0.0.1 "
                                            "--port=%d --auth=OTAPASSWORD -f " % dev.port), line)
            cp = subprocess.run(["sh", "-c", line], cwd=proj, capture_output=True, text=True,
                                timeout=120, env=self.env)
            self.assertUploaded(cp, dev, "3.1.0", os.path.getsize(fw))
            self.assertIn("PBKDF2", cp.stderr)  # --debug shows the protocol steps

    def test_platformio_custom_esp8266_fixed_host_port(self):
        block = self.blocks["pio-esp8266"]
        self.assertIn("--port=8266", block)
        self.assertIn("--host_port=40000", block)
        hp = otk.free_port("tcp")
        dev = self.device("esp8266", password="OTAPASSWORD")
        with dev:
            env_name, cmd, flags = self.pio_upload_command(block, dev.port, host_port=hp)
            proj, fw = self.pio_project(env_name, "esp8266", "3.2.0", 300 * KB)
            line = scons_subst(cmd, {"UPLOAD_PORT": "127.0.0.1", "UPLOAD_FLAGS": flags,
                                     "SOURCE": os.path.relpath(fw, proj)})
            cp = subprocess.run(["sh", "-c", line], cwd=proj, capture_output=True, text=True,
                                timeout=120, env=self.env)
            self.assertUploaded(cp, dev, "3.2.0", os.path.getsize(fw))
            self.assertIn("connect to 127.0.0.1:%d" % hp, cp.stderr)

    def test_platformio_wait_for_a_sleeping_device(self):
        """The command starts while the device sleeps; the device wakes 3 s later on the
        port the flags name, and is updated."""
        block = self.blocks["pio-wait"]
        self.assertIn("--wait=600", block)
        port = otk.free_port()
        env_name, cmd, flags = self.pio_upload_command(block, port)
        proj, fw = self.pio_project(env_name, "esp32", "3.4.0", 200 * KB)
        line = scons_subst(cmd, {"UPLOAD_PORT": "127.0.0.1", "UPLOAD_FLAGS": flags,
                                 "SOURCE": os.path.relpath(fw, proj)})
        self.assertIn(" --port=%d --wait=600 -f " % port, line)
        proc = subprocess.Popen(["sh", "-c", line], cwd=proj, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            time.sleep(3)
            dev = self.device("esp32", port=port)
            with dev:
                out, err = proc.communicate(timeout=120)
                cp = subprocess.CompletedProcess(line, proc.returncode, out, err)
                self.assertUploaded(cp, dev, "3.4.0", os.path.getsize(fw))
                self.assertIn("Waiting up to 600 s for the device to wake up", err)
                self.assertRegex(err, r"127\.0\.0\.1: awake after [3-9]\.\d s")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    def test_platformio_post_script_upload_and_uploadfs(self):
        ini, script = self.blocks["pio-post-script"], self.blocks["pio-post-script-py"]
        env_name, opts = pio_env(ini)
        self.assertEqual(opts["upload_protocol"], "espota")
        self.assertEqual(opts["extra_scripts"], "post:otakit_upload.py")
        m = re.search(r'env\.Replace\(UPLOADCMD="([^"]+)"\)', script)
        self.assertTrue(m, script)
        uploadcmd = m.group(1)
        for target in ("upload", "uploadfs"):
            with self.subTest(target=target):
                dev = self.device("esp32", password="OTAPASSWORD")
                with dev:
                    flags = [re.sub(r"^--port=\d+$", "--port=%d" % dev.port, f)
                             for f in pio_multi(opts["upload_flags"])]
                    proj, fw = self.pio_project(env_name + "-" + target, "esp32", "3.3.0",
                                                256 * KB)
                    source = fw
                    # platform-espressif32 (espota): UPLOADERFLAGS, --spiffs for uploadfs;
                    # PlatformIO's main.py then prepends $UPLOAD_FLAGS
                    uploaderflags = ["$UPLOAD_FLAGS", "--debug", "--progress", "-i",
                                     "$UPLOAD_PORT"]
                    if target == "uploadfs":
                        uploaderflags.append("--spiffs")
                        source = os.path.join(os.path.dirname(fw), "littlefs.bin")
                        with open(source, "wb") as f:
                            f.write(os.urandom(64 * KB))
                    line = scons_subst(uploadcmd, {
                        "UPLOADERFLAGS": uploaderflags, "UPLOAD_FLAGS": flags,
                        "UPLOAD_PORT": "127.0.0.1", "SOURCE": os.path.relpath(source, proj)})
                    cp = subprocess.run(["sh", "-c", line], cwd=proj, capture_output=True,
                                        text=True, timeout=120, env=self.env)
                    self.assertUploaded(cp, dev, "3.3.0" if target == "upload" else None,
                                        os.path.getsize(source))
                    self.assertEqual(dev.wait_event("start")["cmd"],
                                     100 if target == "uploadfs" else 0)

    # ---- PlatformIO: the HTTP doors ----

    def pio_http(self, name, dev, chip, size):
        block = self.blocks[name]
        env_name, cmd, flags = self.pio_upload_command(block, dev.port)
        proj, fw = self.pio_project(env_name, chip, "5.0.0", size)
        line = scons_subst(cmd, {"UPLOAD_PORT": "127.0.0.1", "UPLOAD_FLAGS": flags,
                                 "SOURCE": os.path.relpath(fw, proj)})
        cp = subprocess.run(["sh", "-c", line], cwd=proj, capture_output=True, text=True,
                            timeout=120, env=self.env)
        self.assertEqual(cp.returncode, 0, "%s\n%s" % (line, cp.stderr))
        with open(fw, "rb") as f:
            return f.read(), line

    def test_platformio_elegantota(self):
        self.assertIn("--protocol=elegantota", self.blocks["pio-elegantota"])
        with H.HttpDevice("elegantota", user="admin", password="OTAPASSWORD") as dev:
            image, line = self.pio_http("pio-elegantota", dev, "esp8266", 200 * KB)
            self.assertIn("--protocol=elegantota --port=%d --user=admin --auth=OTAPASSWORD -f "
                          % dev.port, line)
            self.assertEqual(dev.images, [("fr", image)])
            start = dev.requests[0]
            self.assertEqual(start.target,
                             "/ota/start?mode=fr&hash=" + hashlib.md5(image).hexdigest())

    def test_platformio_web(self):
        with H.HttpDevice("hus") as dev:
            image, _ = self.pio_http("pio-web", dev, "esp8266", 150 * KB)
            self.assertEqual(dev.images, [("fr", image)])
            self.assertEqual([r.target for r in dev.requests], ["/update"])

    def test_platformio_elegantota_post_script_upload_and_uploadfs(self):
        env_name, opts = pio_env(self.blocks["pio-elegantota-post"])
        self.assertEqual(opts["upload_protocol"], "espota")
        self.assertEqual(opts["extra_scripts"], "post:otakit_upload.py")
        uploadcmd = re.search(r'env\.Replace\(UPLOADCMD="([^"]+)"\)',
                              self.blocks["pio-post-script-py"]).group(1)
        with H.HttpDevice("elegantota-async", user="admin", password="OTAPASSWORD") as dev:
            flags = [re.sub(r"^--port=\d+$", "--port=%d" % dev.port, f)
                     for f in pio_multi(opts["upload_flags"])]
            for target in ("upload", "uploadfs"):
                proj, fw = self.pio_project(env_name + "-" + target, "esp32", "5.1.0", 128 * KB)
                uploaderflags = ["$UPLOAD_FLAGS", "--debug", "--progress", "-i", "$UPLOAD_PORT"]
                source = fw
                if target == "uploadfs":
                    uploaderflags.append("--spiffs")
                    source = os.path.join(os.path.dirname(fw), "littlefs.bin")
                    with open(source, "wb") as f:
                        f.write(os.urandom(48 * KB))
                line = scons_subst(uploadcmd, {
                    "UPLOADERFLAGS": uploaderflags, "UPLOAD_FLAGS": flags,
                    "UPLOAD_PORT": "127.0.0.1", "SOURCE": os.path.relpath(source, proj)})
                cp = subprocess.run(["sh", "-c", line], cwd=proj, capture_output=True,
                                    text=True, timeout=120, env=self.env)
                self.assertEqual(cp.returncode, 0, "%s\n%s" % (line, cp.stderr))
                self.assertIn("Digest", cp.stderr)
                with open(source, "rb") as f:
                    self.assertEqual(dev.images[-1], ("fs" if target == "uploadfs" else "fr",
                                                      f.read()))

    # ---- Arduino IDE 2 / arduino-cli ----

    def sketch_build(self, chip, version, size):
        """A build dir like the IDE's, with a space in its path (as on Windows)."""
        build = os.path.join(self.tmp, "arduino build %d" % next(COUNTER), "sketches", "3F2A")
        os.makedirs(build)
        path = os.path.join(build, "gateway.ino.bin")
        otk.make_image(path, chip, version, size)
        return build, path

    def arduino_argv(self, pattern, props):
        line = arduino_expand(pattern.replace(DOC_OTAKIT, os.path.abspath(otk.OTAKIT)), props)
        return split_quoted(line)

    def test_arduino_esp32_pattern(self):
        pattern = local_txt_value(self.blocks["arduino-esp32"], "tools.esp_ota.upload.pattern")
        self.assertIn("{upload.port.properties.port}", pattern)
        for password in ("OTAPASSWORD", None):
            with self.subTest(password=password):
                build, fw = self.sketch_build("esp32", "4.0.%d" % (password is None), 300 * KB)
                dev = self.device("esp32", password=password)
                with dev:
                    props = {"upload.port.address": "127.0.0.1",
                             "upload.port.properties.port": str(dev.port),
                             "upload.field.password": password or "",
                             "build.path": build, "build.project_name": "gateway.ino"}
                    argv = self.arduino_argv(pattern, props)
                    # the quoted words stayed whole, the empty password is "--auth="
                    self.assertIn("--auth=" + (password or ""), argv)
                    self.assertIn(fw, argv)
                    cp = self.run_argv(argv)
                    self.assertUploaded(cp, dev, "4.0.%d" % (password is None),
                                        os.path.getsize(fw))

    def test_arduino_ide2_port_bug(self):
        pattern = local_txt_value(self.blocks["arduino-esp32"], "tools.esp_ota.upload.pattern")
        build, fw = self.sketch_build("esp32", "4.1.0", 64 * KB)
        # the discovered port has no "port" property: the placeholder stays
        props = {"upload.port.address": "127.0.0.1", "upload.field.password": "",
                 "build.path": build, "build.project_name": "gateway.ino"}
        argv = self.arduino_argv(pattern, props)
        self.assertIn("{upload.port.properties.port}", argv)
        cp = self.run_argv(argv)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        for text in ("{upload.port.properties.port}", "arduino-ide#740", "platform.local.txt",
                     "-p 3232"):
            self.assertIn(text, cp.stderr)

    def test_arduino_esp32_fixed_port_workaround(self):
        pattern = local_txt_value(self.blocks["arduino-esp32-fixed-port"],
                                  "tools.esp_ota.upload.pattern")
        self.assertIn(" -p 3232 ", pattern)
        # the documented line names port 3232: run a device there if the port is free
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", 3232))
        except OSError:
            self.skipTest("UDP port 3232 on 127.0.0.1 is in use")
        finally:
            probe.close()
        build, fw = self.sketch_build("esp32", "4.2.0", 200 * KB)
        dev = self.device("esp32", password="pw", port=3232)
        with dev:
            props = {"upload.port.address": "127.0.0.1", "upload.field.password": "pw",
                     "build.path": build, "build.project_name": "gateway.ino"}
            cp = self.run_argv(self.arduino_argv(pattern, props))
            self.assertUploaded(cp, dev, "4.2.0", os.path.getsize(fw))

    def test_arduino_esp8266_ide1_and_ide2(self):
        legacy = local_txt_value(self.blocks["arduino-esp8266"],
                                 "tools.esptool.upload.network_pattern")
        self.assertIn("{network.port}", legacy)
        for ide in ("ide1", "ide2"):
            with self.subTest(ide=ide):
                build, fw = self.sketch_build("esp8266", "4.3.0", 250 * KB)
                dev = self.device("esp8266", password="OTAPASSWORD")
                with dev:
                    if ide == "ide1":
                        pattern = legacy
                        props = {"serial.port": "127.0.0.1", "network.port": str(dev.port),
                                 "network.password": "OTAPASSWORD"}
                    else:
                        pattern = convert_legacy_network_pattern(legacy)
                        props = {"upload.port.address": "127.0.0.1",
                                 "upload.port.properties.port": str(dev.port),
                                 "upload.field.password": "OTAPASSWORD"}
                    props.update({"build.path": build, "build.project_name": "gateway.ino"})
                    cp = self.run_argv(self.arduino_argv(pattern, props))
                    self.assertUploaded(cp, dev, "4.3.0", os.path.getsize(fw))
        # and the IDE 2 bug through the converted key
        props = {"upload.port.address": "127.0.0.1", "upload.field.password": "x",
                 "build.path": build, "build.project_name": "gateway.ino"}
        cp = self.run_argv(self.arduino_argv(convert_legacy_network_pattern(legacy), props))
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("arduino-ide#740", cp.stderr)

    def test_arduino_esp32_elegantota(self):
        pattern = local_txt_value(self.blocks["arduino-esp32-elegantota"],
                                  "tools.esp_ota.upload.pattern")
        for password, code in (("OTAPASSWORD", 0), ("wrong", 6)):
            with self.subTest(password=password), H.HttpDevice(
                    "elegantota-async", user="admin", password="OTAPASSWORD") as dev:
                build, fw = self.sketch_build("esp32", "5.2.0", 100 * KB)
                props = {"upload.port.address": "127.0.0.1",
                         "upload.port.properties.port": str(dev.port),
                         "upload.field.password": password,
                         "build.path": build, "build.project_name": "gateway.ino"}
                cp = self.run_argv(self.arduino_argv(pattern, props))
                self.assertEqual(cp.returncode, code, cp.stderr)
                self.assertEqual(len(dev.images), 1 - (code != 0))

    def test_arduino_esp8266_web_ide1_and_ide2(self):
        legacy = local_txt_value(self.blocks["arduino-esp8266-web"],
                                 "tools.esptool.upload.network_pattern")
        for ide, password in (("ide1", "OTAPASSWORD"), ("ide2", "OTAPASSWORD"), ("ide2", None)):
            with self.subTest(ide=ide, password=password), H.HttpDevice(
                    "hus", user="admin" if password else None, password=password) as dev:
                build, fw = self.sketch_build("esp8266", "5.3.0", 120 * KB)
                if ide == "ide1":
                    pattern = legacy
                    props = {"serial.port": "127.0.0.1", "network.port": str(dev.port),
                             "network.password": password or ""}
                else:
                    pattern = convert_legacy_network_pattern(legacy)
                    props = {"upload.port.address": "127.0.0.1",
                             "upload.port.properties.port": str(dev.port),
                             "upload.field.password": password or ""}
                props.update({"build.path": build, "build.project_name": "gateway.ino"})
                cp = self.run_argv(self.arduino_argv(pattern, props))
                self.assertEqual(cp.returncode, 0, cp.stderr)
                with open(fw, "rb") as f:
                    self.assertEqual(dev.images, [("fr", f.read())])

    def test_split_quoted_matches_arduino_cli(self):
        # the splitting rules the Arduino tests rely on, on arduino-cli's own examples
        self.assertEqual(split_quoted('a "b c" d'), ["a", "b c", "d"])
        self.assertEqual(split_quoted('"--auth=" -f "x y/z.bin"'), ["--auth=", "-f", "x y/z.bin"])
        self.assertEqual(split_quoted("a  'b' \"\""), ["a", "b"])
        with self.assertRaises(ValueError):
            split_quoted('a "b')


if __name__ == "__main__":
    otk.main()
