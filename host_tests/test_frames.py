"""The functions every pass of the loop calls keep their frames on the C stack.

MicroPython gives a called function a heap-allocated frame, freed on return, once its locals, value stack
and try blocks need more than 11 words (py/objfun.c). On a fragmented heap that allocation walks the
allocation table: it made passthrough and +IPD run at half the speed of a bare copy loop. tools/frame_sizes
reads the frames from mpy-cross's output; the MicroPython branch of a name defined twice is the first one.
"""
import importlib.machinery
import importlib.util
import os
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_loader = importlib.machinery.SourceFileLoader("frame_sizes", os.path.join(ROOT, "tools", "frame_sizes"))
_spec = importlib.util.spec_from_loader("frame_sizes", _loader)
frame_sizes = importlib.util.module_from_spec(_spec)
_loader.exec_module(frame_sizes)

# Engine._loop (the passes, inline) is entered once, so its frame may be big. Commands.execute, once per new command
# line, cannot fit: its try block and the exception it binds take 6 of the 11 words.
HOT = {
    "firmware/at/engine.py": ["_until", "Engine._read_uart", "Engine._feed"],
    "firmware/at/commands.py": ["Commands._line_feed", "Commands._keep", "Commands.write_slice", "Commands.write_buf"],
    "firmware/at/modes.py": ["Modes._pass_flush", "Modes._pass_idle", "Modes._pass_burst", "Modes._gather"],
    "firmware/at/compat.py": ["Poller.poll"],
    "firmware/cmds/tcplinks.py": ["_on_readable", "_receive", "_pass_receive", "_read", "_ipd_read", "_write_frames",
                                  "_ipd_last", "_put_back", "_read_held", "_room", "notify", "read_held", "_write_held",
                                  "_put_head", "_crlf_at", "_recvdata_head", "_taken"],
    "firmware/cmds/tcpip.py": ["_PassSink.send"],
    "firmware/net/transport.py": ["Connection.recv_into", "Connection.write_all"],
    "boards/host/machine.py": ["UART.readinto", "UART.write"],
}


def _mpy_cross():
    path = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    if not os.access(path, os.X_OK):
        pytest.fail("mpy-cross not found in .venv/bin: run `make setup`")
    return path


@pytest.mark.parametrize("rel", sorted(HOT))
def test_hot_path_frames_fit_on_the_c_stack(rel):
    sizes = dict(frame_sizes.frames(os.path.join(ROOT, rel), _mpy_cross()))
    missing = [name for name in HOT[rel] if name not in sizes]
    assert not missing, "no such functions in %s: %s" % (rel, missing)
    heavy = ["%s: %d words" % (name, sizes[name]) for name in HOT[rel] if sizes[name] > frame_sizes.STACK_WORDS]
    assert not heavy, "heap frames on the hot path of %s (at most %d words fit): %s" % (
        rel, frame_sizes.STACK_WORDS, "; ".join(heavy))


def test_frame_sizes_self_test(tmp_path):
    src = tmp_path / "sample.py"
    src.write_text(textwrap.dedent("""
        def small(a):
            return a + 1

        class K:
            def big(self, a, b):
                c = a + b; d = c + 1; e = d + 1; f = e + 1; g = f + 1; h = g + 1; i = h + 1; j = i + 1
                try:
                    return j + c + d
                except OSError:
                    return 0
    """))
    sizes = dict(frame_sizes.frames(str(src), _mpy_cross()))
    assert sizes["small"] <= frame_sizes.STACK_WORDS
    assert sizes["K.big"] > frame_sizes.STACK_WORDS
