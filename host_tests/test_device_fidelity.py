"""Device fidelity: what runs on the laptop must also hold on the chip.

* every firmware file compiles with mpy-cross for the ESP32 (xtensawin);
* the host board (boards/host) offers no public name or parameter that the official ESP32 stubs
  (micropython-esp32-esp32-generic-stubs) lack, so the host board cannot drift into an API the chip lacks;
* firmware/ type-checks with mypy against the ESP32 stubs (config: mypy.ini at the repo root);
* boards/esp32_generic/manifest.py freezes every firmware module;
* tools/deploy runs the mpremote commands that put build/mpy on a board.

Each check has a self-test that feeds it something wrong, so a check that can no longer fail is noticed.
"""
import ast
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "firmware")
ESP32_BOARD = os.path.join(ROOT, "boards", "esp32_generic")
HOST_BOARD = os.path.join(ROOT, "boards", "host")
MYPY_INI = os.path.join(ROOT, "mypy.ini")


def _tool(name):
    """A program from the project's venv (``make setup``), or next to the running interpreter."""
    for d in (os.path.join(ROOT, ".venv", "bin"), os.path.dirname(sys.executable)):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    pytest.fail("%s not found in .venv/bin: run `make setup`" % name)


def _stub_dir():
    """.venv/esp32-stubs: the ESP32 stubs (top-level machine.pyi …) and stdlib/ of micropython-stdlib-stubs."""
    folder = os.path.join(ROOT, ".venv", "esp32-stubs")
    if not os.path.exists(os.path.join(folder, "machine.pyi")):
        pytest.fail("ESP32 stubs not installed in .venv/esp32-stubs: run `make setup`")
    return folder


def _firmware_sources():
    """Paths relative to ROOT of everything that goes on the chip."""
    out = []
    for base, dirs, files in os.walk(FIRMWARE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        out += [os.path.relpath(os.path.join(base, f), ROOT) for f in sorted(files) if f.endswith(".py")]
    return out + [os.path.relpath(os.path.join(ESP32_BOARD, "boardcfg.py"), ROOT)]


FIRMWARE_SOURCES = _firmware_sources()


# ---- 1a. mpy-cross -------------------------------------------------------------------------------


def _mpy_cross(src, out, name):
    return subprocess.run(
        [_tool("mpy-cross"), "-march=xtensawin", "-s", name, "-o", out, src], capture_output=True, text=True
    )


@pytest.mark.parametrize("rel", FIRMWARE_SOURCES)
def test_compiles_with_mpy_cross(rel, tmp_path):
    out = str(tmp_path / "out.mpy")
    r = _mpy_cross(os.path.join(ROOT, rel), out, os.path.basename(rel))
    assert r.returncode == 0, "mpy-cross -march=xtensawin rejects %s:\n%s%s" % (rel, r.stdout, r.stderr)
    with open(out, "rb") as f:
        assert f.read(2) == b"M\x06", "%s: not an mpy v6 file" % rel


def test_mpy_cross_self_test_rejects_cpython_only_syntax(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("def f(a, /):\n    match a:\n        case 1:\n            pass\n")
    r = _mpy_cross(str(src), str(tmp_path / "bad.mpy"), "bad.py")
    assert r.returncode != 0 and "SyntaxError" in r.stderr


# ---- 1b. host board vs ESP32 stubs -------------------------------------------------------------

HOST_MODULES = ("machine", "esp32", "network", "bluetooth")


def _walk_body(body):
    """Statements of a module or class body, descending into if/try/with blocks but not into defs."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _walk_body(node.body)
            yield from _walk_body(node.orelse)
        elif isinstance(node, ast.Try):
            for block in [node.body, node.orelse, node.finalbody] + [h.body for h in node.handlers]:
                yield from _walk_body(block)
        elif isinstance(node, ast.With):
            yield from _walk_body(node.body)
        else:
            yield node


def _target_names(target):
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


def _namespace(body, reexports=False):
    """name -> list of nodes binding it. Imports bind nothing, except (in stubs) ``import X as X`` re-exports."""
    names = {}
    for node in _walk_body(body):
        bound = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound = [node.name]
        elif isinstance(node, ast.Assign):
            bound = [n for t in node.targets for n in _target_names(t)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            bound = _target_names(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and reexports:
            bound = [a.asname for a in node.names if a.asname and a.asname == a.name.rsplit(".", 1)[-1]]
        for name in bound:
            names.setdefault(name, []).append(node)
    return names


def _functions(nodes):
    return [n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


class StubIndex:
    """The ESP32 stub modules, parsed with ast; ``sources`` overrides a module's text (for self-tests)."""

    def __init__(self, stub_dir, sources=None):
        self.dir = stub_dir
        self.sources = dict(sources or {})
        self._trees = {}

    def tree(self, module):
        if module not in self._trees:
            text = self.sources.get(module)
            if text is None:
                rel = module.replace(".", os.sep)
                for cand in (rel + ".pyi", os.path.join(rel, "__init__.pyi")):
                    for base in (self.dir, os.path.join(self.dir, "stdlib")):
                        if text is None and os.path.isfile(os.path.join(base, cand)):
                            with open(os.path.join(base, cand)) as f:
                                text = f.read()
            self._trees[module] = ast.parse(text) if text is not None else None
        return self._trees[module]

    def namespace(self, module):
        tree = self.tree(module)
        return _namespace(tree.body, reexports=True) if tree else {}

    def _resolve(self, module, expr):
        """(module, class name) a base-class expression of ``module`` refers to, or None."""
        if isinstance(expr, ast.Subscript):
            expr = expr.value
        tree = self.tree(module)
        if tree is None:
            return None
        if isinstance(expr, ast.Name):
            if any(isinstance(n, ast.ClassDef) for n in self.namespace(module).get(expr.id, [])):
                return module, expr.id
            for node in _walk_body(tree.body):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    for a in node.names:
                        if (a.asname or a.name) == expr.id:
                            return node.module, a.name
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            for node in _walk_body(tree.body):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        if (a.asname or a.name) == expr.value.id:
                            return a.name, expr.attr
        return None

    def members(self, module, cls, _seen=None):
        """name -> nodes for a stub class, own definitions first, then inherited ones (as Python's MRO would)."""
        seen = _seen if _seen is not None else set()
        if (module, cls) in seen:
            return {}
        seen.add((module, cls))
        own, bases = {}, []
        for node in self.namespace(module).get(cls, []):
            if isinstance(node, ast.ClassDef):
                for name, nodes in _namespace(node.body).items():
                    own.setdefault(name, []).extend(nodes)
                bases += [b for b in (self._resolve(module, e) for e in node.bases) if b]
        for base in bases:
            for name, nodes in self.members(*base, _seen=seen).items():
                own.setdefault(name, nodes)
        return own


def _signature(fn, method):
    """(positional names, keyword-only names, has *args, has **kwargs); the implicit self/cls is dropped."""
    a = fn.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not static and positional:
        positional = positional[1:]
    return positional, [p.arg for p in a.kwonlyargs], a.vararg is not None, a.kwarg is not None


def _param_problems(where, host_fn, stub_fns, method, allowed=()):
    """Host parameters that no stub overload accepts by name (or through its *args / **kwargs), beyond
    the ``allowed`` names."""
    pos, kwonly, varargs, varkw = _signature(host_fn, method)
    sigs = [_signature(fn, method) for fn in stub_fns]

    def accepts(name, positional):
        return name in allowed or any(
            name in s_pos or name in s_kw or s_varkw or (positional and s_var) for s_pos, s_kw, s_var, s_varkw in sigs
        )

    problems = []
    for name in pos:
        if not accepts(name, True):
            problems.append("%s: parameter %r" % (where, name))
    for name in kwonly:
        if not accepts(name, False):
            problems.append("%s: keyword-only parameter %r" % (where, name))
    if varargs and not any(s_var or s_pos for s_pos, _, s_var, _ in sigs):
        problems.append("%s: *%s (the stub takes no positional arguments)" % (where, host_fn.args.vararg.arg))
    if varkw and not any(s_varkw or s_pos or s_kw for s_pos, s_kw, _, s_varkw in sigs):
        problems.append("%s: **%s (the stub takes no keyword arguments)" % (where, host_fn.args.kwarg.arg))
    if problems:
        shown = "; ".join("(%s)" % ast.unparse(fn.args) for fn in stub_fns) or "no parameters"
        problems = ["%s not in the stub [stub: %s]" % (p, shown) for p in problems]
    return problems


def stub_problems(module, host_source, stubs):
    """Every public name or parameter of a host-board module that the ESP32 stub for ``module`` lacks."""
    host = _namespace(ast.parse(host_source).body)
    stub = stubs.namespace(module)
    problems = []
    for name, nodes in sorted(host.items()):
        if name.startswith("_"):
            continue
        if name not in stub:
            problems.append("%s.%s: no such name in the ESP32 stub" % (module, name))
            continue
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _functions(stub[name]):
                problems += _param_problems("%s.%s" % (module, name), node, _functions(stub[name]), False)
            elif isinstance(node, ast.ClassDef):
                problems += _class_problems(module, node, stubs)
    return problems


# Methods the host interpreters' select.poll needs to watch a UART object, which no firmware code calls
# (mypy, below, fails firmware that does): CPython's poll takes fileno(), MicroPython's stream protocol ioctl().
POLL_HOOKS = {("machine", "UART"): {"fileno", "ioctl"}}
# Parameters every MicroPython stream method takes (py/stream.c: ``write(buf, off, max_len)``, the chip's
# UART and sockets included) that the stubs leave out; the firmware's hot paths use them to write part of a
# buffer without allocating a memoryview.
STREAM_PARAMS = {("machine", "UART", "write"): {"off", "max_len"}}


def _class_problems(module, cls, stubs):
    members = stubs.members(module, cls.name)
    hooks = POLL_HOOKS.get((module, cls.name), set())
    ctor = _functions(members.get("__init__", []) + members.get("__new__", []))
    problems = []
    for name, nodes in sorted(_namespace(cls.body).items()):
        where = "%s.%s.%s" % (module, cls.name, name)
        if name in ("__init__", "__new__"):
            for fn in _functions(nodes):
                problems += _param_problems("%s.%s()" % (module, cls.name), fn, ctor, True)
        elif name.startswith("_") or name in hooks:
            continue
        elif name not in members:
            problems.append("%s: no such name in the ESP32 stub" % where)
        else:
            extra = STREAM_PARAMS.get((module, cls.name, name), set())
            for fn in _functions(nodes):
                if _functions(members[name]):
                    problems += _param_problems(where, fn, _functions(members[name]), True, extra)
    return problems


@pytest.fixture(scope="module")
def stubs():
    return StubIndex(_stub_dir())


@pytest.mark.parametrize("module", HOST_MODULES)
def test_host_board_matches_esp32_stubs(module, stubs):
    with open(os.path.join(HOST_BOARD, module + ".py")) as f:
        problems = stub_problems(module, f.read(), stubs)
    assert not problems, (
        "boards/host/%s.py offers API the ESP32 lacks (per micropython-esp32-esp32-generic-stubs):\n  " % module
        + "\n  ".join(problems)
    )


def test_stub_check_self_test_synthetic(stubs):
    stub = textwrap.dedent(
        """
        from typing import overload
        import machine as machine
        class Base:
            def read(self, nbytes: int, /) -> bytes: ...
        class Dev(Base):
            K: int
            @overload
            def __init__(self, id: int, /) -> None: ...
            @overload
            def __init__(self, id: int, /, *, rate: int = ...) -> None: ...
            def write(self, buf, /) -> int: ...
            def config(self, **kwargs) -> None: ...
        def f(a: int, /) -> None: ...
        X: int
        """
    )
    index = StubIndex(stubs.dir, {"fake": stub})
    good = textwrap.dedent(
        """
        import os
        import machine
        X = 1
        _private = 2
        def f(a=None):
            pass
        def _helper(anything):
            pass
        class Dev:
            K = 1
            def __init__(self, id, rate=9600):
                self._id = id
            def read(self, nbytes):
                pass
            def write(self, buf):
                pass
            def config(self, **kwargs):
                pass
            def _private(self, x):
                pass
        """
    )
    assert stub_problems("fake", good, index) == []
    bad = textwrap.dedent(
        """
        Y = 1
        def f(a, extra=None):
            pass
        def g():
            pass
        class Dev:
            L = 2
            def __init__(self, id, speed=1):
                pass
            def read(self, nbytes, timeout=0):
                pass
            def write(self, *args):
                pass
            def frobnicate(self):
                pass
        """
    )
    found = "\n".join(stub_problems("fake", bad, index))
    for expected in (
        "fake.Y: no such name",
        "fake.g: no such name",
        "fake.f: parameter 'extra'",
        "fake.Dev.L: no such name",
        "fake.Dev.frobnicate: no such name",
        "fake.Dev(): parameter 'speed'",
        "fake.Dev.read: parameter 'timeout'",
    ):
        assert expected in found, "the stub check missed %r in:\n%s" % (expected, found)
    assert "fake.Dev.write" not in found  # *args against a positional parameter is accepted


def test_stub_check_self_test_real_stub(stubs):
    host = "def reset():\n    pass\ndef frobnicate():\n    pass\nclass UART:\n    def sendbreak(self, extra):\n        pass\n"
    problems = stub_problems("machine", host, stubs)
    assert problems and all("frobnicate" in p or "extra" in p for p in problems), problems
    assert len(problems) == 2, problems


# ---- 1c. mypy against the ESP32 stubs ------------------------------------------------------------


def _mypy(*paths, cwd=ROOT):
    """Run the venv's mypy with mypy.ini; ``import machine`` etc. resolve to the ESP32 stubs, never boards/host."""
    cmd = [_tool("mypy"), "--config-file", MYPY_INI, "--no-error-summary", "--show-error-codes"]
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    _stub_dir()
    return subprocess.run(cmd + list(paths), cwd=cwd, env=env, capture_output=True, text=True)


def test_firmware_type_checks_against_esp32_stubs():
    r = _mypy(*[os.path.join(ROOT, rel) for rel in FIRMWARE_SOURCES])
    assert r.returncode == 0, "mypy (ESP32 stubs) finds problems in the firmware:\n%s%s" % (r.stdout, r.stderr)


def test_mypy_resolves_chip_modules_to_esp32_stubs(tmp_path):
    """APIs the chip has and boards/host lacks type-check, so mypy reads the stubs, not the host board."""
    probe = tmp_path / "probe_ok.py"
    probe.write_text(
        textwrap.dedent(
            """
            import esp32
            import gc
            import machine
            import micropython
            import network
            import time

            N = micropython.const(3)


            def f():
                uart = machine.UART(2, 115200, tx=17, rx=16, rts=14, cts=15, flow=machine.UART.RTS)
                uart.sendbreak()
                network.WLAN(network.WLAN.IF_STA).scan()
                esp32.NVS("upyat").get_i32("k")
                t = time.ticks_ms()
                return time.ticks_diff(time.ticks_ms(), t) + gc.mem_free() + N
            """
        )
    )
    r = _mypy(str(probe), cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_self_test_rejects_api_the_chip_lacks(tmp_path):
    probe = tmp_path / "probe_bad.py"
    probe.write_text(
        "import machine\nimport time\n\n\ndef f():\n"
        "    machine.UART(2).nonexistent()\n"
        "    time.monotonic()\n"
        "    machine.UART(2, baudrate=9600, nosuchkw=1)\n"
    )
    r = _mypy(str(probe), cwd=str(tmp_path))
    assert r.returncode != 0, "mypy accepted calls the chip lacks:\n" + r.stdout
    out = r.stdout
    assert 'probe_bad.py:6: error: "UART" has no attribute "nonexistent"' in out, out
    assert "probe_bad.py:7: error: Module has no attribute \"monotonic\"" in out, out
    assert "probe_bad.py:8: error:" in out, out


# ---- 2. frozen manifest ----------------------------------------------------------------------------


def run_manifest(path, port_dir="/mpy/ports/esp32"):
    """Execute a manifest.py as MicroPython's tools/manifestfile.py does (cwd = the manifest's folder)
    with recording stand-ins; return (includes, frozen) where frozen maps device path -> source file."""
    includes, frozen, calls = [], {}, []

    def resolve(p):
        return os.path.abspath(p.replace("$(PORT_DIR)", port_dir))

    def add(target, source):
        assert target not in frozen, "%s frozen twice" % target
        assert os.path.isfile(source), "manifest names a missing file: %s" % source
        frozen[target] = source

    def include(manifest_path, **kwargs):
        includes.append(manifest_path)

    def module(module_path, base_path=".", opt=None):
        calls.append("module")
        assert module_path.endswith(".py"), module_path
        add(module_path, os.path.join(resolve(base_path), module_path))

    def package(package_path, files=None, base_path=".", opt=None):
        calls.append("package")
        base = resolve(base_path)
        if files is not None:
            for f in files:
                add(os.path.join(package_path, f), os.path.join(base, package_path, f))
            return
        for d, _, names in os.walk(os.path.join(base, package_path)):
            for n in names:
                if n.endswith(".py"):
                    add(os.path.relpath(os.path.join(d, n), base), os.path.join(d, n))

    def freeze(path, script=None, opt=None):
        calls.append("freeze")
        base = resolve(path)
        scripts = [script] if isinstance(script, str) else script
        if scripts is None:
            scripts = [os.path.relpath(os.path.join(d, n), base) for d, _, ns in os.walk(base) for n in ns]
        for s in scripts:
            if os.path.isdir(os.path.join(base, s)):
                package(s, base_path=base)
            elif s.endswith((".py", ".mpy")):
                add(s, os.path.join(base, s))

    def require(name, **kwargs):
        includes.append("require:" + name)

    def metadata(**kwargs):
        pass

    api = dict(include=include, module=module, package=package, freeze=freeze, require=require, metadata=metadata)
    prev = os.getcwd()
    os.chdir(os.path.dirname(os.path.abspath(path)))
    try:
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), api)
    finally:
        os.chdir(prev)
    return includes, frozen


def test_manifest_freezes_every_firmware_module():
    includes, frozen = run_manifest(os.path.join(ESP32_BOARD, "manifest.py"))
    assert includes and includes[0] == "$(PORT_DIR)/boards/manifest.py", "the port's default manifest comes first"
    expected = {}
    for rel in FIRMWARE_SOURCES:
        target = os.path.relpath(rel, "firmware") if rel.startswith("firmware" + os.sep) else os.path.basename(rel)
        expected[target] = os.path.join(ROOT, rel)
    missing = sorted(set(expected) - set(frozen))
    assert not missing, "boards/esp32_generic/manifest.py does not freeze: %s" % missing
    extra = sorted(set(frozen) - set(expected))
    assert not extra, "manifest freezes files that are not firmware: %s" % extra
    for target, source in expected.items():
        assert os.path.samefile(frozen[target], source), "%s frozen from %s" % (target, frozen[target])


def test_manifest_check_self_test(tmp_path):
    (tmp_path / "manifest.py").write_text('include("$(PORT_DIR)/boards/manifest.py")\nmodule("a.py")\n')
    (tmp_path / "a.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    includes, frozen = run_manifest(str(tmp_path / "manifest.py"))
    assert set(frozen) == {"a.py"}  # pkg/ is not frozen: the comparison above would report it missing


# ---- 3. tools/deploy with a fake mpremote ------------------------------------------------------

FAKE_MPREMOTE = """#!%s
import json, os, sys
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}) + "\\n")
sys.exit(int(os.environ.get("FAKE_MPREMOTE_EXIT", "0")))
"""


def _deploy(tmp_path, *args, exit_code=0):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "mpremote"
    fake.write_text(FAKE_MPREMOTE % sys.executable)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "mpremote.log"
    if log.exists():
        log.unlink()
    env = dict(os.environ, PATH=str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    env.update(FAKE_MPREMOTE_LOG=str(log), FAKE_MPREMOTE_EXIT=str(exit_code))
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "deploy")] + list(args), env=env, capture_output=True, text=True
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return r, calls


def _fake_build(tmp_path):
    mpy = tmp_path / "mpy"
    for rel in ("main.py", "boardcfg.mpy", "at/__init__.mpy", "at/engine.mpy", "cmds/__init__.mpy", "cmds/basic.mpy"):
        (mpy / rel).parent.mkdir(parents=True, exist_ok=True)
        (mpy / rel).write_bytes(b"M\x06")
    return mpy


def _device_files(call):
    """What ``mpremote connect PORT cp -r SRC... : + reset`` leaves on the board: device path -> local file."""
    argv, cwd = call["argv"], call["cwd"]
    assert argv[:2] == ["connect", "/dev/ttyFAKE"], argv
    assert argv[2:4] == ["cp", "-r"], argv
    plus = argv.index("+")
    assert argv[plus - 1] == ":", "files are copied to the device root"
    assert argv[plus + 1 :] == ["reset"], "the board is reset after copying"
    out = {}
    for src in argv[4 : plus - 1]:
        src = os.path.join(cwd, src)
        top = os.path.basename(src.rstrip("/"))
        if os.path.isdir(src):
            for d, _, names in os.walk(src):
                for n in names:
                    out[os.path.join(top, os.path.relpath(os.path.join(d, n), src))] = os.path.join(d, n)
        else:
            out[top] = src
    return out


def test_deploy_copies_build_to_board_and_resets(tmp_path):
    mpy = _fake_build(tmp_path)
    r, calls = _deploy(tmp_path, "/dev/ttyFAKE", str(mpy))
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(calls) == 1, calls
    files = _device_files(calls[0])
    expected = {os.path.relpath(os.path.join(d, n), mpy) for d, _, ns in os.walk(mpy) for n in ns}
    assert set(files) == expected
    for dev, local in files.items():
        assert os.path.samefile(local, mpy / dev)


def test_deploy_reports_mpremote_failure(tmp_path):
    r, calls = _deploy(tmp_path, "/dev/ttyFAKE", str(_fake_build(tmp_path)), exit_code=1)
    assert r.returncode != 0 and len(calls) == 1


def test_deploy_refuses_bad_arguments(tmp_path):
    r, calls = _deploy(tmp_path, "/dev/ttyFAKE", str(tmp_path / "missing"))
    assert r.returncode != 0 and calls == [] and "make mpy" in r.stderr
    r, calls = _deploy(tmp_path, "/dev/ttyFAKE")
    assert r.returncode != 0 and calls == []
