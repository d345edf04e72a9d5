"""Alibaba Cloud IoT module system commands (seed 000 §5): AT+GCMR, AT+IHELP, AT+IREBOOT, AT+IDEFAULT."""
import boardcfg
from at import table
from at.engine import DONE
from cmds import basic


def t_gcmr(at):
    at.reply("+GCMR")


def e_gcmr(at):
    at.reply("+GCMR:FW:%s, HW:%s" % (basic.VERSION, boardcfg.MODULE))
    at.reply("+GCMR:Time:%s" % boardcfg.BUILD)


def t_ihelp(at):
    at.reply("+IHELP")


def e_ihelp(at):
    for name, _, _, summary in table.TABLE:
        at.reply("# AT%s -- %s" % (name, summary))


def t_ireboot(at):
    at.reply("+IREBOOT")


def e_ireboot(at):
    return basic.e_rst(at)


def t_idefault(at):
    at.reply("+IDEFAULT")


def e_idefault(at):
    return basic.e_restore(at)
