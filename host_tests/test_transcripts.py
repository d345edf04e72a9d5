"""Conformance transcripts (host_tests/transcripts/*.at), each played against a fresh emulator under
both MicroPython and CPython."""
import glob
import os

import pytest

from harness import Emulator, run_transcript

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPTS = sorted(glob.glob(os.path.join(HERE, "transcripts", "*.at")))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[os.path.basename(p)[:-3] for p in TRANSCRIPTS])
def test_transcript(path, interp):
    with Emulator(interp) as emu:
        run_transcript(emu, path)


def test_there_are_transcripts():
    assert len(TRANSCRIPTS) >= 5
