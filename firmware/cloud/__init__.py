"""Vendor protocol logic with no AT in it: signatures, credentials, topics and payloads of the clouds the
profiles reach (Aliyun IoT, Tencent IoT Hub). Checked against ../shared/reference/cloud-vectors.json by
host_tests/test_cloud_vectors.py under CPython and the MicroPython unix port."""
