"""Clients the families share: transport (TCP/UDP/TLS with timeouts), later MQTT, HTTP, SNTP."""
