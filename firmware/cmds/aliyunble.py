"""Alibaba Cloud IoT module (seed 000 §4.1-4.2): AT+IBLECONFIGSTART and AT+IBLECONFIGSTOP.

Provisioning over BLE itself (cmds/aliyun_breeze.py: the radio, cloud/breeze.py) is imported when mode 1
starts it, so forgetting the AP (mode 0), the refusals and a STOP with none started hold no BLE code.
"""
import sys
from at import replies
from at.parser import AtError, num, text, E_INVALID
from cmds import wifi

ERRORS = replies.cme

p_ibleconfigstart = (num(0, 2), text(32, opt=True))


def s_ibleconfigstart(at, mode, aes_key):
    """0 forgets the provisioned AP; 1 starts BLE provisioning (again, if it runs); 2, plain text, the manual
    marks unsupported."""
    if mode == 0:
        wifi.forget_saved_ap(at)
        return None
    if mode == 2:
        raise AtError(E_INVALID)
    from cmds import aliyun_breeze

    aliyun_breeze.start(at, aes_key)
    return None


def e_ibleconfigstop(at):
    """Stop provisioning and turn BLE off (nothing to do when none was started)."""
    run = sys.modules.get("cmds.aliyun_breeze")
    if run is not None:
        run.stop(at)
