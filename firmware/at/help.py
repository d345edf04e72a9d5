"""One line per command for AT+IHELP, imported only by it (kept out of the resident command table).

The lines are one string (a dict of them cost 27 KiB of heap as .mpy): a line per command, ``<name> <summary>``,
in the table's order. ``HELP[name]`` is the summary of ``name``; iterating HELP gives the names.
"""


class Summaries:
    """``<name> <summary>`` lines (each after a newline), read by name as a dict would be."""

    def __init__(self, text):
        self.text = text

    def __getitem__(self, name):
        text = self.text
        at = text.find("\n" + name + " ")
        if at < 0:
            raise KeyError(name)
        at += len(name) + 2
        end = text.find("\n", at)
        return text[at:end] if end >= 0 else text[at:]

    def __iter__(self):
        text = self.text
        at = 0
        while at >= 0:
            yield text[at + 1 : text.find(" ", at + 1)]
            at = text.find("\n", at + 1)


HELP = Summaries(
    '\n test AT startup'
    '\n+BLEADDR BLE address (public only)'
    '\n+BLEADVDATA advertising data'
    '\n+BLEADVPARAM advertising parameters'
    '\n+BLEADVSTART start advertising'
    '\n+BLEADVSTOP stop advertising'
    '\n+BLECFGMTU exchange the ATT MTU; MTU per link'
    '\n+BLECONFREPLY numeric comparison answer'
    '\n+BLECONN connect to a peripheral; links'
    '\n+BLECONNPARAM connection parameters (no MicroPython API: ERROR)'
    '\n+BLEDATALEN data length (no MicroPython API: ERROR)'
    '\n+BLEDISCONN disconnect a link'
    '\n+BLEENC start pairing / encryption'
    '\n+BLEENCCLEAR forget bonds'
    '\n+BLEENCDEV bonded devices'
    '\n+BLEENCRSP answer a pairing request (no MicroPython API: ERROR)'
    "\n+BLEGATTCCHAR discover a peer service's characteristics"
    '\n+BLEGATTCINCLSRV included services (no MicroPython API: ERROR)'
    "\n+BLEGATTCPRIMSRV discover a peer's primary services"
    "\n+BLEGATTCRD read a peer's characteristic or descriptor"
    "\n+BLEGATTCWR write a peer's characteristic or descriptor after '>'"
    '\n+BLEGATTSCHAR our characteristics and descriptors'
    "\n+BLEGATTSIND indicate a characteristic after '>'"
    "\n+BLEGATTSNTFY notify a characteristic after '>'"
    "\n+BLEGATTSSETATTR set a characteristic's value after '>'"
    '\n+BLEGATTSSRV our services'
    '\n+BLEGATTSSRVCRE create the GATT services'
    '\n+BLEGATTSSRVSTART start services'
    '\n+BLEGATTSSRVSTOP stop services'
    '\n+BLEINIT BLE off, client, server or both'
    '\n+BLEKEYREPLY passkey answer'
    '\n+BLENAME BLE device name'
    '\n+BLESCAN scan for adverts'
    '\n+BLESCANPARAM scan parameters'
    '\n+BLESCANRSPDATA scan response data'
    '\n+BLESECPARAM pairing parameters'
    '\n+BLESPP BLE passthrough'
    '\n+BLESPPCFG BLE passthrough characteristics'
    '\n+CCID ICCID of the emulated SIM (cellular profile)'
    '\n+CEREG EPS registration: Wi-Fi station up (cellular profile)'
    '\n+CGATT packet network attached: station has an IP (cellular profile)'
    '\n+CGMR cellular module firmware version'
    '\n+CGREG GPRS registration: Wi-Fi station up (cellular profile)'
    '\n+CGSN IMEI made from the MAC (cellular profile)'
    '\n+CIFSR local IP and MAC addresses'
    '\n+CIMI IMSI made from the MAC (cellular profile)'
    '\n+CIPAP SoftAP IP address'
    '\n+CIPAPMAC SoftAP MAC address'
    '\n+CIPCLOSE close a link (5: all)'
    '\n+CIPDINFO +IPD with the remote IP and port'
    '\n+CIPDNS DNS servers'
    '\n+CIPDOMAIN resolve a host name'
    '\n+CIPMODE normal or passthrough mode'
    '\n+CIPMUX single or multiple links'
    '\n+CIPRECVDATA read what a link received (passive mode)'
    '\n+CIPRECVLEN bytes waiting per link (passive mode)'
    '\n+CIPRECVMODE active or passive receive (before 3.4)'
    '\n+CIPRECVTYPE active or passive receive'
    '\n+CIPSEND send data; passthrough'
    '\n+CIPSENDEX send data, \\0 ends it'
    '\n+CIPSERVER TCP server'
    "\n+CIPSERVERMAXCONN server's maximum clients"
    '\n+CIPSNTPCFG SNTP on or off, time zone, servers'
    '\n+CIPSNTPTIME the time by SNTP, local, asctime format'
    '\n+CIPSSLCCONF SSL client authentication'
    '\n+CIPSTA station IP address'
    '\n+CIPSTAMAC station MAC address'
    '\n+CIPSTART open a TCP, UDP or SSL link'
    '\n+CIPSTATE open links'
    '\n+CIPSTATUS connection status and links'
    "\n+CIPSTO server's idle timeout"
    '\n+CIUPDATE update the firmware over Wi-Fi'
    '\n+CMD list all commands and their forms'
    '\n+CPIN SIM state: always READY (cellular profile)'
    '\n+CREG network registration: Wi-Fi station up (cellular profile)'
    '\n+CSQ signal quality from the Wi-Fi RSSI (cellular profile)'
    '\n+CWAUTOCONN join the saved AP at power-up'
    '\n+CWDHCP DHCP on or off'
    '\n+CWDHCPS SoftAP DHCP lease and range'
    '\n+CWHOSTNAME station host name'
    '\n+CWJAP join an AP'
    '\n+CWLAP list the APs around'
    '\n+CWLAPOPT AT+CWLAP sorting and fields'
    '\n+CWLIF stations joined to the SoftAP'
    '\n+CWMODE Wi-Fi mode: off, station, SoftAP, both'
    '\n+CWQAP leave the AP'
    '\n+CWRECONNCFG rejoin interval and count'
    '\n+CWSAP SoftAP configuration'
    '\n+CWSTARTSMART SmartConfig (no MicroPython API: ERROR)'
    '\n+CWSTATE station state'
    '\n+CWSTOPSMART SmartConfig (no MicroPython API: ERROR)'
    '\n+FS filesystem: delete, write, read, size, list'
    '\n+GCMR software, hardware version and build time'
    '\n+GMR version information'
    '\n+GSLP deep-sleep for <time> ms'
    '\n+GSN IMEI made from the MAC (cellular profile)'
    '\n+HTTPACTION HTTP GET, POST or HEAD (cellular profile)'
    '\n+HTTPC HTTP(S) GET or POST; the reply as +HTTPC:<len>,<body>'
    '\n+HTTPDATA the body to POST, after DOWNLOAD (cellular profile)'
    '\n+HTTPINIT start the HTTP service (cellular profile)'
    '\n+HTTPPARA HTTP parameters: URL, headers, timeout ... (cellular profile)'
    '\n+HTTPREAD read the HTTP response body (cellular profile)'
    '\n+HTTPTERM end the HTTP service (cellular profile)'
    '\n+IAPCONFIGSTART open the provisioning hotspot'
    '\n+IAPCONFIGSTOP close the provisioning hotspot'
    "\n+IBLECONFIGSTART BLE provisioning for Alibaba's app; 0 forgets the AP"
    '\n+IBLECONFIGSTOP stop BLE provisioning, BLE off'
    '\n+ICCID ICCID of the emulated SIM (cellular profile)'
    '\n+IDEFAULT factory reset and restart'
    '\n+IDMASR answer an asynchronous service call (+IDMAS)'
    '\n+IDMAUTH thing model identity: product key, device name, secrets (saved)'
    '\n+IDMCONN connect the thing model (bare: the saved or default endpoint)'
    '\n+IDMCRED thing model MQTT clientid, username, password as given (saved)'
    '\n+IDMDISCONN disconnect the thing model'
    '\n+IDMEP post an event; +IDMEP:<msg_id>, +IDMGPR later'
    '\n+IDMPARA thing model timeout, TLS, keepalive, auth mode (saved)'
    '\n+IDMPP post properties; +IDMPP:<msg_id>, +IDMGPR later'
    '\n+IDMSSR answer a synchronous (RRPC) service call (+IDMSS)'
    '\n+IDMSTATE thing model state: 0 disconnected, 1 connected'
    '\n+IHELP list the supported commands'
    '\n+IMQTTAUTH Aliyun identity: product key, device name, secrets (saved)'
    '\n+IMQTTCONN connect to Aliyun IoT (bare: the saved or default endpoint)'
    '\n+IMQTTCRED MQTT clientid, username, password as given (saved)'
    '\n+IMQTTDISCONN disconnect from Aliyun IoT'
    "\n+IMQTTMODE TLS off or on, as Alibaba's C SDK sets it (AT+IMQTTPARA=TLS)"
    '\n+IMQTTPARA MQTT timeout, TLS, keepalive, auth mode, SDK lines (saved)'
    '\n+IMQTTPUB publish a message; +IMQTTPUB:<packet_id>'
    '\n+IMQTTPUBHEX publish bytes given in hex; +IMQTTPUBHEX:<packet_id>'
    '\n+IMQTTSTATE MQTT state: 0 disconnected, 1 connected'
    '\n+IMQTTSUB subscribe; +IMQTTSUB:<packet_id>, +IMQTTSUBACK later'
    '\n+IMQTTUNSUB unsubscribe; +IMQTTUNSUB:<packet_id>, +IMQTTUNSUBACK later'
    '\n+INETSTAT network state, IP and MAC'
    '\n+IOTAPARA MCU OTA frame size (BLOCKSIZE 64-2048)'
    '\n+IOTAQUERY ask the cloud for an MCU upgrade'
    '\n+IOTASHO the downloaded MCU image: frames, size, version, digest'
    '\n+IOTASTART accept (1) or refuse (0) the MCU upgrade offered'
    '\n+IOTASTX one frame of the MCU image, with its CRC16'
    "\n+IOTAVER report the MCU's version to the cloud"
    "\n+IREADMAC the module's MAC address"
    '\n+IREBOOT restart the module'
    '\n+IWIFICONNECT join an AP, optionally saved'
    '\n+MCONFIG MQTT client id, user, password, will (cellular profile)'
    '\n+MCONNECT MQTT CONNECT; CONNACK OK (cellular profile)'
    '\n+MDISCONNECT MQTT DISCONNECT (cellular profile)'
    '\n+MDNS mDNS service (no MicroPython API: ERROR)'
    "\n+MIPCLOSE close the MQTT broker's link (cellular profile)"
    '\n+MIPSTART reach an MQTT broker over TCP; CONNECT OK (cellular profile)'
    '\n+MPUB MQTT publish; PUBACK for QoS 1 (cellular profile)'
    '\n+MQTTCLEAN close the MQTT connection, forget its configuration'
    '\n+MQTTCLIENTID MQTT client ID'
    '\n+MQTTCONN connect to an MQTT broker'
    '\n+MQTTCONNCFG MQTT keepalive, clean session, last will'
    "\n+MQTTLONGCLIENTID MQTT client ID after '>'"
    "\n+MQTTLONGPASSWORD MQTT password after '>'"
    "\n+MQTTLONGUSERNAME MQTT user name after '>'"
    '\n+MQTTMSGGET read the cached MQTT messages (cellular profile)'
    '\n+MQTTMSGSET received messages: printed or cached (cellular profile)'
    '\n+MQTTPASSWORD MQTT password'
    '\n+MQTTPUB publish a string'
    "\n+MQTTPUBRAW publish bytes after '>'"
    '\n+MQTTSNI MQTT TLS server name'
    '\n+MQTTSTATU MQTT state: 0 offline, 1 connected, 2 TCP up (cellular profile)'
    '\n+MQTTSUB subscribe; list subscriptions'
    '\n+MQTTUNSUB unsubscribe'
    '\n+MQTTUSERCFG MQTT scheme, client ID, user, password'
    '\n+MQTTUSERNAME MQTT user name'
    '\n+MSUB MQTT subscribe; SUBACK (cellular profile)'
    '\n+MUNSUB MQTT unsubscribe; UNSUBACK (cellular profile)'
    '\n+PING ping a host'
    '\n+RESTORE factory reset and restart'
    '\n+RFPOWER Wi-Fi TX power'
    '\n+RST restart the module'
    '\n+SAPBR bearer over Wi-Fi: parameters, open, query, close'
    '\n+SAVETRANSLINK passthrough link opened at power-up'
    '\n+SLEEP sleep mode'
    '\n+SSLMIPSTART reach an MQTT broker over TLS; CONNECT OK (cellular profile)'
    '\n+SYSFLASH erase, write, read user partitions'
    '\n+SYSLOG print ERR CODE before ERROR'
    '\n+SYSMSG system message format'
    '\n+SYSRAM free heap and minimum free heap'
    '\n+SYSSTORE save configuration to flash or not'
    "\n+TCCERTADD Tencent: write a certificate or key file after '>'; list them"
    '\n+TCCERTCHECK Tencent: check a certificate or key file'
    '\n+TCCERTDEL Tencent: delete a certificate or key file'
    '\n+TCDEVINFOSET Tencent: TLS mode, product id, device name, key (saved)'
    '\n+TCDEVREG Tencent: dynamic registration, the device key saved'
    "\n+TCFWINFO Tencent: the cached firmware's version, size, MD5"
    '\n+TCMODINFOSET Tencent: module name, flash size, OTA area (saved)'
    '\n+TCMODULE Tencent: module hardware and firmware information'
    '\n+TCMQTTCONN Tencent: sign and connect to the MQTT broker'
    '\n+TCMQTTDISCONN Tencent: disconnect from the MQTT broker'
    '\n+TCMQTTPUB Tencent: publish a message'
    "\n+TCMQTTPUBL Tencent: publish bytes after '>'"
    '\n+TCMQTTSRV Tencent: MQTT server IP address (saved)'
    '\n+TCMQTTSTATE Tencent: MQTT connected or not'
    '\n+TCMQTTSUB Tencent: subscribe; list subscriptions'
    '\n+TCMQTTUNSUB Tencent: unsubscribe'
    "\n+TCOTASET Tencent: OTA on or off, the MCU's firmware version"
    '\n+TCPRDINFOSET Tencent: TLS mode, product id, product secret, device name (saved)'
    '\n+TCREADFWDATA Tencent: read the cached firmware'
    '\n+TCRESTORE Tencent: erase the device information and OTA image, restart'
    '\n+TCSAP open the softAP provisioning hotspot'
    '\n+TCSTARTSMART Tencent: SmartConfig provisioning (no MicroPython API: ERROR)'
    '\n+TCSTOPSAP close the softAP provisioning hotspot'
    '\n+TCSTOPSMART Tencent: SmartConfig provisioning (no MicroPython API: ERROR)'
    '\n+TCVER Tencent: IoT SDK and AT versions'
    '\n+TRANSINTVL passthrough send interval, ms'
    '\n+UART UART configuration, saved to flash'
    '\n+UART_CUR UART configuration, not saved'
    '\n+UART_DEF UART configuration, saved to flash'
    '\n+WPS WPS (no MicroPython API: ERROR)'
    '\nE0 echo off'
    '\nE1 echo on'
)
