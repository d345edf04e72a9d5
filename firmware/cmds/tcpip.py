"""ESP-AT TCP/IP commands (seed 004 §5). So far the queries a client asks before it opens anything:
single-link mode, no open links, no SSL client configuration."""


def q_cipmux(at):
    at.reply("+CIPMUX:0")


def q_cipstate(at):
    """+CIPSTATE:<link>,... per open link; none is open."""
    return None


def q_cipsslcconf(at):
    """+CIPSSLCCONF:<link>,<type>,<cert>,<ca> per configured link; none is configured."""
    return None
