"""The one command table: (name, family module, forms, help[, test answer]), sorted by name for binary search.

Names are what follows ``AT`` in upper case. A family module ``cmds.<family>`` implements each form
as ``t_<name>`` (=?), ``q_<name>`` (?), ``s_<name>`` (=...) with its parameter spec ``p_<name>``,
and ``e_<name>`` (execute), where <name> is the command name in lower case without '+'. A row with a
fifth element answers ``AT<name>=?`` with that line and OK, and its family writes no ``t_<name>``.
Flags beside the forms: L (LOOSE) the command also takes unquoted strings; B (BOOT) the family's
``boot(at)`` runs at start-up.
"""
from at.parser import TEST as T, QUERY as Q, SET as S, EXEC as E, LOOSE as L, BOOT as B

TABLE = (
    ("", "basic", E, "test AT startup"),
    ("+BLEADDR", "ble", Q | S, "BLE address (public only)"),
    ("+BLEADVDATA", "ble", S, "advertising data"),
    ("+BLEADVPARAM", "ble", Q | S, "advertising parameters"),
    ("+BLEADVSTART", "ble", E, "start advertising"),
    ("+BLEADVSTOP", "ble", E, "stop advertising"),
    ("+BLECFGMTU", "ble", Q | S, "exchange the ATT MTU; MTU per link"),
    ("+BLECONFREPLY", "blesec", S, "numeric comparison answer"),
    ("+BLECONN", "ble", Q | S, "connect to a peripheral; links"),
    ("+BLECONNPARAM", "ble", Q | S, "connection parameters (no MicroPython API: ERROR)"),
    ("+BLEDATALEN", "ble", S, "data length (no MicroPython API: ERROR)"),
    ("+BLEDISCONN", "ble", S, "disconnect a link"),
    ("+BLEENC", "blesec", S, "start pairing / encryption"),
    ("+BLEENCCLEAR", "blesec", S | E, "forget bonds"),
    ("+BLEENCDEV", "blesec", Q, "bonded devices"),
    ("+BLEENCRSP", "blesec", S, "answer a pairing request (no MicroPython API: ERROR)"),
    ("+BLEGATTCCHAR", "blegattc", S, "discover a peer service's characteristics"),
    ("+BLEGATTCINCLSRV", "blegattc", S, "included services (no MicroPython API: ERROR)"),
    ("+BLEGATTCPRIMSRV", "blegattc", S, "discover a peer's primary services"),
    ("+BLEGATTCRD", "blegattc", S, "read a peer's characteristic or descriptor"),
    ("+BLEGATTCWR", "blegattc", S, "write a peer's characteristic or descriptor after '>'"),
    ("+BLEGATTSCHAR", "blegatts", Q, "our characteristics and descriptors"),
    ("+BLEGATTSIND", "blegatts", S, "indicate a characteristic after '>'"),
    ("+BLEGATTSNTFY", "blegatts", S, "notify a characteristic after '>'"),
    ("+BLEGATTSSETATTR", "blegatts", S, "set a characteristic's value after '>'"),
    ("+BLEGATTSSRV", "blegatts", Q, "our services"),
    ("+BLEGATTSSRVCRE", "blegatts", E, "create the GATT services"),
    ("+BLEGATTSSRVSTART", "blegatts", S | E, "start services"),
    ("+BLEGATTSSRVSTOP", "blegatts", S | E, "stop services"),
    ("+BLEINIT", "ble", Q | S, "BLE off, client, server or both"),
    ("+BLEKEYREPLY", "blesec", S, "passkey answer"),
    ("+BLENAME", "ble", Q | S, "BLE device name"),
    ("+BLESCAN", "blescan", S, "scan for adverts"),
    ("+BLESCANPARAM", "blescan", Q | S, "scan parameters"),
    ("+BLESCANRSPDATA", "ble", S, "scan response data"),
    ("+BLESECPARAM", "blesec", Q | S, "pairing parameters"),
    ("+BLESPP", "blespp", E, "BLE passthrough"),
    ("+BLESPPCFG", "blespp", Q | S, "BLE passthrough characteristics"),
    ("+CIFSR", "wifiaddr", E, "local IP and MAC addresses"),
    ("+CIPAP", "wifiaddr", Q | S, "SoftAP IP address"),
    ("+CIPAPMAC", "wifiaddr", Q | S, "SoftAP MAC address"),
    ("+CIPCLOSE", "tcpip", S | E | B, "close a link (5: all)"),
    ("+CIPDINFO", "tcpip", Q | S | B, "+IPD with the remote IP and port"),
    ("+CIPDNS", "tcpip", Q | S | B, "DNS servers"),
    ("+CIPDOMAIN", "tcpip", S | B, "resolve a host name"),
    ("+CIPMODE", "tcpip", Q | S | B, "normal or passthrough mode"),
    ("+CIPMUX", "tcpip", Q | S | B, "single or multiple links"),
    ("+CIPRECVDATA", "tcpip", S | B, "read what a link received (passive mode)"),
    ("+CIPRECVLEN", "tcpip", Q | B, "bytes waiting per link (passive mode)"),
    ("+CIPRECVMODE", "tcpip", Q | S | B, "active or passive receive (before 3.4)"),
    ("+CIPRECVTYPE", "tcpip", Q | S | B, "active or passive receive"),
    ("+CIPSEND", "tcpip", S | E | B, "send data; passthrough"),
    ("+CIPSENDEX", "tcpip", S | B, "send data, \\0 ends it"),
    ("+CIPSERVER", "tcpip", Q | S | B, "TCP server"),
    ("+CIPSERVERMAXCONN", "tcpip", Q | S | B, "server's maximum clients"),
    ("+CIPSNTPCFG", "netutil", Q | S, "SNTP on or off, time zone, servers"),
    ("+CIPSNTPTIME", "netutil", Q, "the time by SNTP, local, asctime format"),
    ("+CIPSSLCCONF", "tcpip", Q | S | B, "SSL client authentication"),
    ("+CIPSTA", "wifiaddr", Q | S, "station IP address"),
    ("+CIPSTAMAC", "wifiaddr", Q | S, "station MAC address"),
    ("+CIPSTART", "tcpip", S | B, "open a TCP, UDP or SSL link"),
    ("+CIPSTATE", "tcpip", Q | B, "open links"),
    ("+CIPSTATUS", "tcpip", E | B, "connection status and links"),
    ("+CIPSTO", "tcpip", Q | S | B, "server's idle timeout"),
    ("+CIUPDATE", "ota", S | E, "update the firmware over Wi-Fi"),
    ("+CMD", "basic", Q, "list all commands and their forms"),
    ("+CWAUTOCONN", "wifi", Q | S | B, "join the saved AP at power-up"),
    ("+CWDHCP", "wifiaddr", Q | S, "DHCP on or off"),
    ("+CWDHCPS", "softap", Q | S, "SoftAP DHCP lease and range"),
    ("+CWHOSTNAME", "wifiaddr", Q | S, "station host name"),
    ("+CWJAP", "wifi", Q | S | E | L | B, "join an AP"),
    ("+CWLAP", "wifi", S | E | B, "list the APs around"),
    ("+CWLAPOPT", "wifi", S | B, "AT+CWLAP sorting and fields"),
    ("+CWLIF", "softap", E, "stations joined to the SoftAP"),
    ("+CWMODE", "wifi", T | Q | S | L | B, "Wi-Fi mode: off, station, SoftAP, both"),
    ("+CWQAP", "wifi", E | L | B, "leave the AP"),
    ("+CWRECONNCFG", "wifi", Q | S | B, "rejoin interval and count"),
    ("+CWSAP", "softap", Q | S, "SoftAP configuration"),
    ("+CWSTARTSMART", "wifi", S | E | B, "SmartConfig (no MicroPython API: ERROR)"),
    ("+CWSTATE", "wifi", Q | B, "station state"),
    ("+CWSTOPSMART", "wifi", E | B, "SmartConfig (no MicroPython API: ERROR)"),
    ("+FS", "basic", S, "filesystem: delete, write, read, size, list"),
    ("+GCMR", "system", T | E | L, "software, hardware version and build time"),
    ("+GMR", "basic", E, "version information"),
    ("+GSLP", "basic", S, "deep-sleep for <time> ms"),
    ("+IAPCONFIGSTART", "system", T | S | L, "open the provisioning hotspot"),
    ("+IAPCONFIGSTOP", "system", T | E | L, "close the provisioning hotspot"),
    ("+IDEFAULT", "system", T | E | L, "factory reset and restart"),
    ("+IHELP", "system", T | E | L, "list the supported commands"),
    ("+INETSTAT", "system", T | E | L, "network state, IP and MAC"),
    ("+IREADMAC", "system", T | E | L, "the module's MAC address"),
    ("+IREBOOT", "system", T | E | L, "restart the module"),
    ("+IWIFICONNECT", "system", S | L, "join an AP, optionally saved"),
    ("+MDNS", "wifiaddr", S, "mDNS service (no MicroPython API: ERROR)"),
    ("+MQTTCLEAN", "mqtt", S, "close the MQTT connection, forget its configuration"),
    ("+MQTTCLIENTID", "mqtt", S, "MQTT client ID"),
    ("+MQTTCONN", "mqtt", Q | S, "connect to an MQTT broker"),
    ("+MQTTCONNCFG", "mqtt", S, "MQTT keepalive, clean session, last will"),
    ("+MQTTLONGCLIENTID", "mqtt", S, "MQTT client ID after '>'"),
    ("+MQTTLONGPASSWORD", "mqtt", S, "MQTT password after '>'"),
    ("+MQTTLONGUSERNAME", "mqtt", S, "MQTT user name after '>'"),
    ("+MQTTPASSWORD", "mqtt", S, "MQTT password"),
    ("+MQTTPUB", "mqtt", S, "publish a string"),
    ("+MQTTPUBRAW", "mqtt", S, "publish bytes after '>'"),
    ("+MQTTSNI", "mqtt", S, "MQTT TLS server name"),
    ("+MQTTSUB", "mqtt", Q | S, "subscribe; list subscriptions"),
    ("+MQTTUNSUB", "mqtt", S, "unsubscribe"),
    ("+MQTTUSERCFG", "mqtt", S, "MQTT scheme, client ID, user, password"),
    ("+MQTTUSERNAME", "mqtt", S, "MQTT user name"),
    ("+PING", "netutil", S, "ping a host"),
    ("+RESTORE", "basic", E, "factory reset and restart"),
    ("+RFPOWER", "basic", Q | S, "Wi-Fi TX power"),
    ("+RST", "basic", E, "restart the module"),
    ("+SAVETRANSLINK", "tcpip", S | B, "passthrough link opened at power-up"),
    ("+SLEEP", "basic", Q | S, "sleep mode"),
    ("+SYSFLASH", "basic", Q | S, "erase, write, read user partitions"),
    ("+SYSLOG", "basic", Q | S, "print ERR CODE before ERROR"),
    ("+SYSMSG", "basic", Q | S, "system message format"),
    ("+SYSRAM", "basic", Q, "free heap and minimum free heap"),
    ("+SYSSTORE", "basic", Q | S, "save configuration to flash or not"),
    ("+TCSAP", "tencent", T | Q | S, "open the softAP provisioning hotspot"),
    ("+TCSTOPSAP", "tencent", T | E, "close the softAP provisioning hotspot"),
    ("+TRANSINTVL", "netutil", Q | S, "passthrough send interval, ms"),
    ("+UART", "basic", Q | S, "UART configuration, saved to flash"),
    ("+UART_CUR", "basic", Q | S, "UART configuration, not saved"),
    ("+UART_DEF", "basic", Q | S, "UART configuration, saved to flash"),
    ("+WPS", "wifi", S | B, "WPS (no MicroPython API: ERROR)"),
    ("E0", "basic", E, "echo off"),
    ("E1", "basic", E, "echo on"),
)


def find(name):
    """The table entry for ``name``, or None."""
    lo, hi = 0, len(TABLE)
    while lo < hi:
        mid = (lo + hi) >> 1
        key = TABLE[mid][0]
        if key == name:
            return TABLE[mid]
        if key < name:
            lo = mid + 1
        else:
            hi = mid
    return None


def handler_name(name):
    """'+UART_CUR' -> 'uart_cur'; the bare 'AT' -> 'at'."""
    return name.replace("+", "").lower() or "at"
