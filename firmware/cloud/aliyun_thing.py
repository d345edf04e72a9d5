"""Aliyun's thing model (Alink JSON, ../shared/reference/cloud-protocols.md §3): the messages a device sends
and the fields it reads from what the platform sends, without re-encoding what the MCU or the cloud wrote
(``params`` and ``data`` pass through byte for byte, in their own key order and spacing). No AT here.

    doc = b'{"id":"7","params":{"a":"x, \\"y\\""},"method":"thing.service.property.set"}'
    field(doc, "params") -> b'{"a":"x, \\"y\\""}'      text(doc, "id") -> "7"
"""
import json

_SPACE = b" \t\r\n"


def _skip(doc, i):
    while i < len(doc) and doc[i] in _SPACE:
        i += 1
    return i


def _string_end(doc, i):
    """The index after the JSON string starting at ``doc[i]`` (a quote)."""
    i += 1
    while i < len(doc):
        c = doc[i]
        if c == 92:  # backslash
            i += 2
            continue
        if c == 34:
            return i + 1
        i += 1
    raise ValueError("unterminated string")


def _value_end(doc, i):
    """The index after the JSON value starting at ``doc[i]``."""
    if doc[i] == 34:
        return _string_end(doc, i)
    depth = 0
    while i < len(doc):
        c = doc[i]
        if c == 34:
            i = _string_end(doc, i)
            continue
        if c == 123 or c == 91:  # { [
            depth += 1
        elif c == 125 or c == 93:  # } ]
            if depth == 0:
                return i
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == 44 and depth == 0:
            return i
        i += 1
    if depth:
        raise ValueError("unterminated value")
    return i


def field(doc, key):
    """The raw bytes of the value of top-level ``key`` in the JSON object ``doc``, or None.
    ValueError when ``doc`` is not an object."""
    doc = bytes(doc)
    i = _skip(doc, 0)
    if i >= len(doc) or doc[i] != 123:
        raise ValueError("not a JSON object")
    i = _skip(doc, i + 1)
    want = json.dumps(key).encode()
    while i < len(doc) and doc[i] == 34:
        end = _string_end(doc, i)
        name = doc[i:end]
        i = _skip(doc, end)
        if i >= len(doc) or doc[i] != 58:  # :
            raise ValueError("no colon")
        start = _skip(doc, i + 1)
        stop = _value_end(doc, start)
        if name == want:
            return doc[start:stop].strip()
        i = _skip(doc, stop)
        if i < len(doc) and doc[i] == 44:
            i = _skip(doc, i + 1)
    if i >= len(doc) or doc[i] != 125:  # }
        raise ValueError("not a JSON object")
    return None


def text(doc, key):
    """Top-level ``key`` as text: a string's value, a number's digits; None when absent."""
    raw = field(doc, key)
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, str) else str(value)


def check(raw):
    """``raw`` (str or bytes) as JSON bytes; ValueError when it is not JSON."""
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    json.loads(data)
    return data


def post(msg_id, method, params):
    """An uplink request: ``{"id":"<id>","version":"1.0","params":<params>,"method":"<method>"}``."""
    return b'{"id":"%d","version":"1.0","params":' % msg_id + params + b',"method":"' + method.encode() + b'"}'


def reply(msg_id, code, data):
    """An answer to a downlink request: ``{"id":"<id>","code":<code>,"data":<data>}``."""
    return b'{"id":"' + msg_id.encode() + b'","code":%d,"data":' % code + data + b"}"
