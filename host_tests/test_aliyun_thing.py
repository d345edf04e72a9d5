"""Seed 000 §3, the thing model, under both interpreters against the loopback Aliyun cloud: its Link
platform answers posts and sends property sets and service calls (host_tests/aliyun_cloud.py)."""
import os

from aliyun_cloud import ThingPlatform
from harness import Emulator, run_transcript
from cloud_doubles import emulator_args
from peers import wait_for
from test_aliyun_mqtt import DN, PK, cloud, lines, online  # noqa: F401 (cloud is a fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPT = os.path.join(HERE, "transcripts", "peers", "aliyun_thing.at")


def test_the_manuals_thing_model_flow(interp, cloud, test_ca):
    double, broker, routes = cloud
    agent = broker.agent()
    platform = ThingPlatform(agent, PK, DN)
    platform.codes["Error"] = (5096, "event not found")
    actions = {
        "set_light": lambda: platform.set_properties(911228506, {"LightStatus": 1}),
        "set_text": lambda: platform.set_properties(911228507, {"Text": 'say "hi", then go'}),
        "call_async": lambda: platform.call_service(193663894, "QueryContent", {"CreativeID": "1,2"}),
        "call_rrpc": lambda: platform.rrpc("1476855180753505792", 463415983, "UpdateModel", {"UpdateTaskID": "1"}),
    }
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        run_transcript(emu, TRANSCRIPT, actions)
    posts = [(topic.split("/", 4)[-1], msg["params"], msg["method"]) for topic, msg in platform.posts]
    assert posts == [
        ("thing/event/property/post", {"LightStatus": 1}, "thing.event.property.post"),
        ("thing/event/property/post", {"LightStatus": 1, "Color": 'red, "warm"'}, "thing.event.property.post"),
        ("thing/event/OnSync/post", {"SyncTime": 1}, "thing.event.OnSync.post"),
        ("thing/event/Error/post", {"ErrorCode": 0}, "thing.event.Error.post")]
    assert [msg["id"] for topic, msg in platform.posts] == ["1", "2", "3", "4"]
    wait_for(lambda: len(platform.answered("_reply")) >= 3 and platform.answered("rrpc/response/1476855180753505792"),
             10, "the device's answers")
    assert [m for t, m in platform.answered("property/set_reply")] == [
        {"id": "911228506", "code": 200, "data": {}}, {"id": "911228507", "code": 200, "data": {}}]
    assert [m for t, m in platform.answered("thing/service/QueryContent_reply")] == [
        {"id": "193663894", "code": 200, "data": {}}]
    assert [m for t, m in platform.answered("rrpc/response/1476855180753505792")] == [
        {"id": "463415983", "code": 200, "data": {"Result": "done, ok"}}]
    agent.close()


def test_idmconn_needs_the_identity(interp, cloud, test_ca):
    double, broker, routes = cloud
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        assert lines(emu, "AT+IDMCONN") == [b"+CME ERROR:6"]
        assert lines(emu, "AT+IDMAUTH=%s,%s,wrong" % (PK, DN)) == [b"OK"]
        assert lines(emu, "AT+IDMCONN") == [b"+CME ERROR:2"]
        assert broker.attempts[-1].code == 4
