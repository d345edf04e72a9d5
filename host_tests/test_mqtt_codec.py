"""net/mqtt_codec under CPython: the packets the client encodes (byte-exact against MQTT 3.1.1), and the
incremental decoder against what a broker sends, hostile input included."""
import random
import struct

import pytest

from brokers import remaining_length

from net import mqtt
from net import mqtt_codec
from net.mqtt_codec import Decoder, ProtocolError


def field(b):
    return struct.pack(">H", len(b)) + b


def split_fixed(pkt):
    """(first byte, remaining length, body) of one whole packet, decoded independently of the module."""
    pkt = bytes(pkt)
    n, mul, i = 0, 1, 1
    while True:
        b = pkt[i]
        n += (b & 0x7F) * mul
        mul *= 128
        i += 1
        if not b & 0x80:
            break
    assert len(pkt) - i == n, "remaining length %d but %d bytes follow" % (n, len(pkt) - i)
    return pkt[0], n, pkt[i:]


def read_fields(body, i, count):
    out = []
    for _ in range(count):
        (n,) = struct.unpack_from(">H", body, i)
        out.append(body[i + 2 : i + 2 + n])
        i += 2 + n
    return out, i


def feed_all(dec, data):
    return list(dec.feed(data))


# ---- encoding -------------------------------------------------------------------------------------


def test_connect_minimal_is_byte_exact():
    assert mqtt.encode_connect(b"abc", 60) == (
        b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc"
    )
    assert mqtt.encode_connect("abc", 0, clean=False) == b"\x10\x0f\x00\x04MQTT\x04\x00\x00\x00\x00\x03abc"


def test_connect_with_will_user_password():
    pkt = mqtt.encode_connect(b"dev", 300, True, b"user", b"p\x00ss", (b"lw/topic", b"gone", 1, True))
    first, n, body = split_fixed(pkt)
    assert first == 0x10
    assert body[:7] == b"\x00\x04MQTT\x04"
    flags = body[7]
    assert flags == 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04 | 0x02
    assert struct.unpack(">H", body[8:10])[0] == 300
    fields, end = read_fields(body, 10, 5)
    assert fields == [b"dev", b"lw/topic", b"gone", b"user", b"p\x00ss"] and end == len(body)


def test_connect_will_qos2_no_retain_and_user_only():
    first, n, body = split_fixed(mqtt.encode_connect(b"x", 10, True, b"u", None, ("w", b"", 2, False)))
    assert body[7] == 0x80 | (2 << 3) | 0x04 | 0x02
    assert read_fields(body, 10, 4)[0] == [b"x", b"w", b"", b"u"]


def test_connect_256_byte_client_id():
    cid = bytes(random.Random(1).choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(256))
    pkt = mqtt.encode_connect(cid, 60)
    first, n, body = split_fixed(pkt)
    assert n == 10 + 2 + 256 and pkt[1:3] == remaining_length(n)  # a two-byte remaining length
    assert read_fields(body, 10, 1)[0] == [cid]


def test_connect_rejects_what_mqtt_cannot_carry():
    with pytest.raises(ValueError):
        mqtt.encode_connect(b"x", 60, password=b"secret")  # a password needs a user name
    with pytest.raises(ValueError):
        mqtt.encode_connect(b"x", 65536)
    with pytest.raises(ValueError):
        mqtt.encode_connect(b"x" * 65536, 60)
    with pytest.raises(ValueError):
        mqtt.encode_connect(b"x", 60, will=(b"t", b"m", 3, False))
    with pytest.raises(ValueError):
        mqtt.encode_connect(b"x", 60, will=(b"", b"m", 0, False))


def test_publish_qos0_qos1_qos2_flags():
    assert mqtt.encode_publish(b"a/b", b"hi") == b"\x30\x07\x00\x03a/bhi"
    assert mqtt.encode_publish(b"a/b", b"hi", 1, pid=0x1234) == b"\x32\x09\x00\x03a/b\x12\x34hi"
    assert mqtt.encode_publish(b"a", b"", 2, True, True, 1) == b"\x3d\x05\x00\x01a\x00\x01"
    assert mqtt.encode_publish(b"a", b"x", 0, True) == b"\x31\x04\x00\x01ax"


def test_publish_zero_length_payload_and_utf8_topic():
    topic = "température/€/日本"
    pkt = mqtt.encode_publish(topic, b"")
    first, n, body = split_fixed(pkt)
    assert first == 0x30 and body == field(topic.encode("utf-8"))


def test_publish_large_payload_lengths():
    for size in (0, 1, 121, 122, 16380, 16381, 20000, 2097152):
        pkt = mqtt.encode_publish(b"t", bytes(size), 1, pid=7)
        first, n, body = split_fixed(pkt)
        assert n == 3 + 2 + size


def test_publish_topic_lengths_that_look_like_wildcards():
    for n in (0x23, 0x2B, 0x2300, 0x2B2B):  # '#' and '+' in the length prefix are not wildcards
        assert split_fixed(mqtt.encode_publish(b"t" * n, b"x"))[2] == field(b"t" * n) + b"x"


def test_publish_rejects_bad_topics_qos_and_ids():
    for topic in (b"", b"a/+", b"#", "a/#"):
        with pytest.raises(ValueError):
            mqtt.encode_publish(topic, b"x")
    with pytest.raises(ValueError):
        mqtt.encode_publish(b"t", b"x", 3, pid=1)
    for pid in (0, 65536):
        with pytest.raises(ValueError):
            mqtt.encode_publish(b"t", b"x", 1, pid=pid)


def test_acks_ping_disconnect():
    assert mqtt.encode_ack(mqtt.PUBACK, 0x0102) == b"\x40\x02\x01\x02"
    assert mqtt.encode_ack(mqtt.PUBREC, 1) == b"\x50\x02\x00\x01"
    assert mqtt.encode_ack(mqtt.PUBREL, 65535) == b"\x62\x02\xff\xff"  # PUBREL's flags are 0010
    assert mqtt.encode_ack(mqtt.PUBCOMP, 2) == b"\x70\x02\x00\x02"
    assert mqtt.PINGREQ_PACKET == b"\xc0\x00" and mqtt.DISCONNECT_PACKET == b"\xe0\x00"


def test_subscribe_several_and_unsubscribe():
    pkt = mqtt.encode_subscribe(10, [(b"a/#", 1), ("b/+/c", 0), (b"d", 2)])
    assert pkt == b"\x82" + remaining_length(2 + 6 + 8 + 4) + b"\x00\x0a" + field(b"a/#") + b"\x01" + field(b"b/+/c") + b"\x00" + field(b"d") + b"\x02"
    pkt = mqtt.encode_unsubscribe(11, [b"a/#", "b"])
    assert pkt == b"\xa2\x0a\x00\x0b" + field(b"a/#") + field(b"b")
    with pytest.raises(ValueError):
        mqtt.encode_subscribe(1, [])
    with pytest.raises(ValueError):
        mqtt.encode_subscribe(1, [(b"", 0)])
    with pytest.raises(ValueError):
        mqtt.encode_subscribe(1, [(b"a", 3)])
    with pytest.raises(ValueError):
        mqtt.encode_unsubscribe(0, [b"a"])


# ---- decoding -------------------------------------------------------------------------------------

CONNACK = b"\x20\x02\x01\x00"
PUBACK = b"\x40\x02\x00\x07"
SUBACK = b"\x90\x05\x00\x08\x00\x01\x80"
PINGRESP = b"\xd0\x00"


def publish(topic, payload, qos=0, pid=0, retain=0, dup=0):
    body = field(topic) + (struct.pack(">H", pid) if qos else b"") + payload
    return bytes([0x30 | dup << 3 | qos << 1 | retain]) + remaining_length(len(body)) + body


def test_each_broker_packet():
    dec = Decoder()
    assert feed_all(dec, CONNACK) == [(mqtt.CONNACK, 1, 0)]
    assert feed_all(dec, b"\x20\x02\x00\x05") == [(mqtt.CONNACK, 0, 5)]
    assert feed_all(dec, PUBACK) == [(mqtt.PUBACK, 7)]
    assert feed_all(dec, b"\x50\x02\x01\x00") == [(mqtt.PUBREC, 256)]
    assert feed_all(dec, b"\x62\x02\x00\x09") == [(mqtt.PUBREL, 9)]
    assert feed_all(dec, b"\x70\x02\xff\xff") == [(mqtt.PUBCOMP, 65535)]
    assert feed_all(dec, SUBACK) == [(mqtt.SUBACK, 8, [0, 1, 0x80])]
    assert feed_all(dec, b"\xb0\x02\x00\x03") == [(mqtt.UNSUBACK, 3)]
    assert feed_all(dec, PINGRESP) == [(mqtt.PINGRESP,)]
    assert feed_all(dec, publish(b"a/b", b"hello", 1, 42, 1, 1)) == [(mqtt.PUBLISH, b"a/b", b"hello", 1, 1, 1, 42)]
    assert feed_all(dec, publish(b"q2", b"x", 2, 5)) == [(mqtt.PUBLISH, b"q2", b"x", 2, 0, 0, 5)]


def test_zero_length_payloads_and_utf8_topic():
    dec = Decoder()
    topic = "température/€/日本".encode("utf-8")
    got = feed_all(dec, publish(topic, b"") + publish(b"t", b"", 1, 1))
    assert got == [(mqtt.PUBLISH, topic, b"", 0, 0, 0, 0), (mqtt.PUBLISH, b"t", b"", 1, 0, 0, 1)]
    assert isinstance(got[0][1], bytes) and isinstance(got[0][2], bytes)
    assert feed_all(dec, PINGRESP) == [(mqtt.PINGRESP,)]  # an empty body at the very end of a feed


def test_several_packets_in_one_feed():
    stream = CONNACK + publish(b"t", b"1") + PUBACK + SUBACK + PINGRESP + publish(b"t", b"2" * 300, 1, 9)
    got = feed_all(Decoder(), stream)
    assert [p[0] for p in got] == [mqtt.CONNACK, mqtt.PUBLISH, mqtt.PUBACK, mqtt.SUBACK, mqtt.PINGRESP, mqtt.PUBLISH]
    assert got[-1][2] == b"2" * 300


def test_truncated_then_completed_at_every_split():
    stream = CONNACK + publish(b"topic/x", bytes(range(200)), 1, 300) + PINGRESP + SUBACK + publish(b"z", b"")
    whole = feed_all(Decoder(), stream)
    for cut in range(len(stream) + 1):
        dec = Decoder()
        first = feed_all(dec, stream[:cut])
        assert first == whole[: len(first)]
        assert first + feed_all(dec, stream[cut:]) == whole, cut
    dec = Decoder()
    assert [p for i in range(len(stream)) for p in dec.feed(stream[i : i + 1])] == whole  # byte by byte


def test_truncated_packet_waits():
    dec = Decoder()
    pkt = publish(b"t", b"abcdef", 1, 1)
    assert feed_all(dec, pkt[:1]) == []  # the first byte only
    assert feed_all(dec, pkt[1:5]) == []
    assert feed_all(dec, b"") == []
    assert feed_all(dec, pkt[5:]) == [(mqtt.PUBLISH, b"t", b"abcdef", 1, 0, 0, 1)]


def test_feed_takes_bytes_bytearray_memoryview():
    for data in (PUBACK, bytearray(PUBACK), memoryview(b"xx" + PUBACK)[2:]):
        assert feed_all(Decoder(), data) == [(mqtt.PUBACK, 7)]


def test_remaining_length_of_five_bytes_is_an_error():
    dec = Decoder()
    with pytest.raises(ProtocolError):
        feed_all(dec, b"\x30\xff\xff\xff\xff\x7f")
    with pytest.raises(ProtocolError):  # detected at the fifth byte, whatever follows
        feed_all(Decoder(), b"\x30\x80\x80\x80\x80")


def test_four_byte_remaining_length_is_accepted_up_to_the_maximum():
    n = 2097152  # 0x80 0x80 0x80 0x01: four bytes
    body = field(b"t") + bytes(n - 3)
    pkt = b"\x30" + remaining_length(n) + body
    assert len(remaining_length(n)) == 4
    dec = Decoder(max_packet=n)
    got = [p for i in range(0, len(pkt), 65536) for p in dec.feed(pkt[i : i + 65536])]
    assert len(got) == 1 and len(got[0][2]) == n - 3


def test_oversized_is_refused_before_buffering():
    dec = Decoder(max_packet=1024)
    buf = dec._buf
    assert len(feed_all(dec, publish(b"t", bytes(1021)))) == 1  # exactly 1024: fine
    with pytest.raises(ProtocolError):
        feed_all(dec, b"\x30" + remaining_length(1025))  # the header alone is enough to refuse it
    dec = Decoder(max_packet=1024)
    with pytest.raises(ProtocolError):
        feed_all(dec, b"\x30\xff\xff\xff\x7f")  # 268435455 bytes announced
    assert dec._buf is not buf and len(dec._buf) == 1024 and len(buf) == 1024  # fixed-size buffers


def test_buffer_is_never_replaced_or_grown():
    dec = Decoder(max_packet=4096)
    buf = dec._buf
    pkt = publish(b"t", bytes(4000), 1, 1)
    for _ in range(3):
        assert [p for i in range(0, len(pkt), 7) for p in dec.feed(pkt[i : i + 7])][0][2] == bytes(4000)
    assert dec._buf is buf and len(buf) == 4096


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00",  # type 0: reserved
        b"\xf0\x00",  # type 15: reserved
        b"\x10\x00",  # CONNECT: clients send it
        b"\x82\x05\x00\x01\x00\x01a",  # SUBSCRIBE
        b"\xa2\x05\x00\x01\x00\x01a",  # UNSUBSCRIBE
        b"\xc0\x00",  # PINGREQ
        b"\xe0\x00",  # DISCONNECT
        b"\x41\x02\x00\x01",  # PUBACK with flags
        b"\x60\x02\x00\x01",  # PUBREL without its 0010 flags
        b"\x22\x02\x00\x00",  # CONNACK with flags
        b"\x92\x03\x00\x01\x00",  # SUBACK with flags
        b"\xd1\x00",  # PINGRESP with flags
        b"\x36\x05\x00\x01a\x00\x01",  # PUBLISH QoS 3
        b"\x3e\x05\x00\x01a\x00\x01",  # PUBLISH QoS 3 + DUP
    ],
)
def test_bad_types_and_flags(data):
    with pytest.raises(ProtocolError):
        feed_all(Decoder(), data)
    with pytest.raises(ProtocolError):  # refused from the first byte on
        feed_all(Decoder(), data[:1])


@pytest.mark.parametrize(
    "data",
    [
        b"\x40\x03\x00\x01\x00",  # PUBACK of 3 bytes
        b"\x40\x01\x00",  # PUBACK of 1 byte
        b"\xd0\x01\x00",  # PINGRESP with a body
        b"\x20\x03\x00\x00\x00",  # CONNACK of 3 bytes
        b"\xb0\x00",  # UNSUBACK without packet id
        b"\x90\x02\x00\x01",  # SUBACK without a return code
        b"\x30\x02\x00\x00",  # PUBLISH with an empty topic
        b"\x30\x01\x00",  # PUBLISH of 1 byte
        b"\x30\x04\x00\x05ab",  # topic length beyond the packet
        b"\x32\x04\x00\x01a\x00",  # QoS 1 without room for the packet id
        b"\x32\x06\x00\x03abc\x00",  # QoS 1: topic fills the packet, no packet id
        b"\x32\x05\x00\x01a\x00\x00",  # packet id 0
        b"\x40\x02\x00\x00",  # PUBACK for packet id 0
        b"\x90\x03\x00\x01\x03",  # SUBACK return code 3
        b"\x90\x03\x00\x01\x81",  # SUBACK return code 0x81
        b"\x20\x02\x02\x00",  # CONNACK reserved flag bits
    ],
)
def test_wrong_lengths_and_values(data):
    with pytest.raises(ProtocolError):
        feed_all(Decoder(), data)


def test_error_after_good_packets_keeps_them():
    dec = Decoder()
    got = []
    with pytest.raises(ProtocolError):
        for p in dec.feed(PUBACK + PINGRESP + b"\xc0\x00"):
            got.append(p)
    assert got == [(mqtt.PUBACK, 7), (mqtt.PINGRESP,)]
    dec.reset()
    assert feed_all(dec, PUBACK) == [(mqtt.PUBACK, 7)]  # reset() makes it usable again


def test_roundtrip_of_encoded_publish():
    rng = random.Random(7)
    for _ in range(200):
        qos = rng.randrange(3)
        topic = bytes(rng.choice(b"abc/xyz") for _ in range(rng.randrange(1, 40)))
        payload = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 127, 128, 3000))))
        pid = rng.randrange(1, 65536) if qos else 0
        retain, dup = rng.randrange(2), rng.randrange(2) if qos else 0
        pkt = mqtt.encode_publish(topic, payload, qos, retain, dup, pid)
        assert feed_all(Decoder(), pkt) == [(mqtt.PUBLISH, topic, payload, qos, retain, dup, pid)]


def test_random_bytes_never_crash_the_decoder():
    rng = random.Random(11)
    for _ in range(3000):
        dec = Decoder(max_packet=512)
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        try:
            for p in dec.feed(data):
                assert isinstance(p, tuple)
        except ProtocolError:
            pass
        assert len(dec._buf) == 512
    # plausible-looking hostile streams: valid first bytes, random lengths and bodies
    firsts = [0x20, 0x30, 0x32, 0x34, 0x3B, 0x40, 0x50, 0x62, 0x70, 0x90, 0xB0, 0xD0]
    for _ in range(3000):
        dec = Decoder(max_packet=256)
        stream = b"".join(
            bytes([rng.choice(firsts)]) + remaining_length(rng.randrange(0, 12)) + bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
            for _ in range(rng.randrange(1, 5))
        )
        try:
            for i in range(0, len(stream), 3):
                list(dec.feed(stream[i : i + 3]))
        except ProtocolError:
            pass


# ---- the reconnect policy ------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_resets():
    b = mqtt.Backoff()
    assert [b.next_ms() for _ in range(9)] == [1000, 2000, 4000, 8000, 16000, 32000, 64000, 64000, 64000]
    assert b.attempts == 9
    b.reset()
    assert b.next_ms() == 1000
    b = mqtt.Backoff(500, 3000)
    assert [b.next_ms() for _ in range(5)] == [500, 1000, 2000, 3000, 3000]
    for _ in range(100):
        b.next_ms()
    assert b.next_ms() == 3000


# ---- stream mode: a PUBLISH longer than the buffer comes in pieces ---------------------------------


def whole_and_pieces(packets):
    """The PUBLISH of each run of PUBLISH_PART pieces joined again (checking offsets and totals), others as is."""
    out = []
    for p in packets:
        if p[0] == mqtt_codec.PUBLISH_PART:
            _, topic, data, qos, retain, dup, pid, offset, total = p
            if offset == 0:
                out.append([mqtt.PUBLISH, topic, b"", qos, retain, dup, pid, total])
            assert out[-1][1] == topic and len(out[-1][2]) == offset and out[-1][7] == total
            out[-1][2] += data
        else:
            out.append(list(p))
    return out


def test_stream_mode_splits_what_exceeds_the_buffer_as_esp_at_does():
    payload = bytes(i % 251 for i in range(5000))
    pkt = publish(b"a/topic", payload, 1, 77, retain=1)  # 3-byte fixed header, 2 + 7 + 2 of variable header
    got = feed_all(Decoder(1024, stream=True), pkt)
    assert [p[0] for p in got] == [mqtt_codec.PUBLISH_PART] * 5
    assert [len(p[2]) for p in got] == [1024 - 3 - 11, 1024, 1024, 1024, 5000 - 1010 - 3072]
    assert [p[7] for p in got] == [0, 1010, 2034, 3058, 4082] and {p[8] for p in got} == {5000}
    assert {p[1:7] for p in got} == {(b"a/topic", p[2], 1, 1, 0, 77) for p in got}  # topic, qos, retain, dup, pid
    assert b"".join(p[2] for p in got) == payload
    # what fits (headers included) comes whole, as without stream mode
    fits = publish(b"t", bytes(1024 - 3 - 3), 0)
    assert len(fits) == 1024 and feed_all(Decoder(1024, stream=True), fits) == feed_all(Decoder(1024), fits)


def test_stream_mode_pieces_are_the_same_at_every_split_and_the_stream_goes_on():
    stream = CONNACK + publish(b"big", bytes(range(256)) * 3, 2, 9) + PUBACK + publish(b"t", b"small") + PINGRESP
    whole = feed_all(Decoder(300, stream=True), stream)
    assert whole_and_pieces(whole) == [[mqtt.CONNACK, 1, 0], [mqtt.PUBLISH, b"big", bytes(range(256)) * 3, 2, 0, 0, 9, 768],
                                       [mqtt.PUBACK, 7], [mqtt.PUBLISH, b"t", b"small", 0, 0, 0, 0], [mqtt.PINGRESP]]
    for cut in range(len(stream) + 1):
        dec = Decoder(300, stream=True)
        assert feed_all(dec, stream[:cut]) + feed_all(dec, stream[cut:]) == whole, cut
    dec = Decoder(300, stream=True)
    assert [p for i in range(len(stream)) for p in dec.feed(stream[i : i + 1])] == whole  # byte by byte


def test_stream_mode_takes_any_size_with_its_one_buffer():
    dec = Decoder(1024, stream=True)
    buf = dec._buf
    pkt = publish(b"t", bytes(200000), 0)
    got = [p for i in range(0, len(pkt), 4096) for p in dec.feed(pkt[i : i + 4096])]
    assert sum(len(p[2]) for p in got) == 200000 and dec._buf is buf and len(buf) == 1024


def test_stream_mode_still_refuses_what_is_not_mqtt():
    with pytest.raises(ProtocolError):  # a topic that cannot fit the buffer
        feed_all(Decoder(64, stream=True), publish(b"t" * 100, bytes(10)))
    with pytest.raises(ProtocolError):  # only PUBLISH may be long
        feed_all(Decoder(64, stream=True), b"\x90" + remaining_length(100) + bytes(100))
    with pytest.raises(ProtocolError):  # a zero packet id in a long QoS 1 PUBLISH
        feed_all(Decoder(64, stream=True), publish(b"t", bytes(100), 1, 0))
