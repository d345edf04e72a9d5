import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Unit tests import the firmware directly, with the host board's hardware modules; their flash and NVS
# go to a temporary state folder (the host board reads AT_STATE when first imported).
_STATE = tempfile.TemporaryDirectory(prefix="upy-at-unit-")
os.environ["AT_STATE"] = _STATE.name
for path in (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "boards", "host"), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from harness import Emulator, INTERPRETERS  # noqa: E402
from conftest_peers import *  # noqa: E402,F401,F403
from conftest_brokers import *  # noqa: E402,F401,F403


@pytest.fixture(params=INTERPRETERS)
def interp(request):
    return request.param


@pytest.fixture
def emu(interp):
    with Emulator(interp) as e:
        yield e
