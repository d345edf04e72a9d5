"""Seed 000 §6, the MCU's update through the module, under both interpreters: the loopback platform offers a
256 KiB image over HTTPS (under an OSS-like host name, verified against --ca); the module downloads it into
flash, checks it, and the MCU fetches it frame by frame with AT+IOTASTX, each frame's CRC16 checked here
(binascii.crc_hqx: CRC-16/XMODEM) and the image reassembled byte-exact."""
import binascii
import hashlib
import os

from aliyun_cloud import OtaPlatform
from cloud_doubles import emulator_args, https_double
from harness import Emulator
from peers import wait_for
from test_aliyun_mqtt import DN, DS, PK, cloud, lines, online  # noqa: F401 (cloud is a fixture)

OSS = "iotx-ota.oss-cn-shanghai.aliyuncs.com"
IMAGE = os.urandom(256 * 1024)


def start(emu, platform):
    online(emu)
    assert lines(emu, "AT+IMQTTAUTH=%s,%s,%s" % (PK, DN, DS)) == [b"OK"]
    assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
    assert lines(emu, "AT+IOTAVER=1.0.0") == [b"OK"]
    wait_for(lambda: platform.versions == ["1.0.0"], 10, "the version informed")


def test_a_256_kib_image_reaches_the_mcu_byte_exact(interp, cloud, test_ca):
    double, broker, routes = cloud
    agent = broker.agent()
    platform = OtaPlatform(agent, PK, DN)
    with https_double(test_ca, OSS) as oss:
        oss.serve("/mcu/2.0.0.bin", IMAGE, chunked=True, chunk_size=3000)
        with Emulator(interp, args=emulator_args(test_ca, dict(routes, **{OSS: oss.port}))) as emu:
            start(emu, platform)
            assert lines(emu, "AT+IOTASHO") == [b"+CME ERROR:9"]
            assert lines(emu, "AT+IOTAPARA=?") == [b"+IOTAPARA=<param_tag>,<param_value>", b"OK"]
            assert lines(emu, "AT+IOTAPARA=BLOCKSIZE,32") == [b"ERROR"]
            assert lines(emu, "AT+IOTAPARA=BLOCKSIZE,2048") == [b"OK"]
            assert lines(emu, "AT+IOTAQUERY") == [b"OK"]
            assert emu.line() == b"+IOTASTATE:6,1.0.0,0"
            platform.offer("2.0.0", IMAGE, "https://%s/mcu/2.0.0.bin?Expires=1&Signature=x" % OSS)
            assert emu.line() == b"+IOTASTATE:0,2.0.0,262144"
            assert lines(emu, "AT+IOTASTART=1") == [b"OK"]
            assert [emu.line(60) for _ in range(3)] == [
                b"+IOTASTATE:1,2.0.0,262144", b"+IOTASTATE:2,2.0.0,262144", b"+IOTASTATE:5,2.0.0,262144"]
            assert lines(emu, "AT+IOTASHO") == [
                b'+IOTASHO:128,2048,2.0.0,262144,0,"%s"' % hashlib.md5(IMAGE).hexdigest().encode(), b"OK"]
            got = bytearray()
            for frame in range(128):
                answer = lines(emu, "AT+IOTASTX=%d" % frame)
                assert answer[-1] == b"OK", answer
                head, _, data = answer[0].rpartition(b",")
                number, size, crc = [int(v) for v in head[len(b"+IOTASTX:"):].split(b",")]
                data = binascii.unhexlify(data)
                assert (number, size, crc) == (frame, 2048, binascii.crc_hqx(data, 0))
                got += data
            assert emu.line() == b"+IOTAEOT"
            assert bytes(got) == IMAGE
            assert lines(emu, "AT+IOTASTX=128") == [b"ERROR"]
            assert lines(emu, "AT+IOTASTX=5")[0].startswith(b"+IOTASTX:5,2048,")  # frames stay readable
            assert lines(emu, "AT+IOTAVER=2.0.0") == [b"OK"]
    wait_for(lambda: platform.versions == ["1.0.0", "2.0.0"] and "100" in platform.steps, 10, "the new version")
    assert [int(s) for s in platform.steps] == sorted(int(s) for s in platform.steps)
    assert platform.steps[-1] == "100" and len(platform.steps) >= 5
    agent.close()


def test_a_bad_digest_fails_and_a_refusal_is_reported(interp, cloud, test_ca):
    double, broker, routes = cloud
    agent = broker.agent()
    platform = OtaPlatform(agent, PK, DN)
    small = IMAGE[:5000]
    with https_double(test_ca, OSS) as oss:
        oss.serve("/mcu/3.bin", small)
        with Emulator(interp, args=emulator_args(test_ca, dict(routes, **{OSS: oss.port}))) as emu:
            start(emu, platform)
            platform.offer("3.0.0", small, "https://%s/mcu/3.bin" % OSS, method="SHA256", digest="00" * 32)
            assert emu.line() == b"+IOTASTATE:0,3.0.0,5000"
            assert lines(emu, "AT+IOTASTART=1") == [b"OK"]
            assert [emu.line(30) for _ in range(3)] == [
                b"+IOTASTATE:1,3.0.0,5000", b"+IOTASTATE:2,3.0.0,5000", b"+IOTASTATE:4,3.0.0,5000"]
            assert lines(emu, "AT+IOTASHO") == [b"+CME ERROR:9"]
            wait_for(lambda: platform.steps and platform.steps[-1] == "-3", 10, "verify failed")
            platform.set_job("3.0.1", small, "https://%s/mcu/3.bin" % OSS, method="SHA256")
            assert lines(emu, "AT+IOTAQUERY") == [b"OK"]
            assert emu.line() == b"+IOTASTATE:0,3.0.1,5000"
            assert lines(emu, "AT+IOTASTART=0") == [b"OK"]
            wait_for(lambda: platform.steps[-1] == "-1", 10, "the refusal")
            assert lines(emu, "AT+IOTASTART=1") == [b"+CME ERROR:9"]
    agent.close()
