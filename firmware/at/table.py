"""The one command table, as text: a row per command, sorted by name.

A row is ``<name> <family> <forms>[=<test answer>]``. The name is what follows ``AT`` in upper case; the
family module ``cmds.<family>`` implements each form as ``t_<name>`` (=?), ``q_<name>`` (?), ``s_<name>``
(=...) with its parameter spec ``p_<name>``, and ``e_<name>`` (execute), where <name> is the command name in
lower case without '+'. The forms are letters: T test, Q query, S set, E execute, and two flags: L (LOOSE) the
command also takes unquoted strings; B (BOOT) the family's ``boot(at)`` runs at start-up. A row with
``=<answer>`` answers ``AT<name>=?`` with that line and OK (an empty answer: OK alone), and its family writes
no ``t_<name>``. Each command's one-line summary (AT+IHELP) is in at/help.py, which only AT+IHELP imports.

The table is one string (a tuple per row cost 27 KiB of heap; the text is a few KiB, and nothing when frozen):
``TABLE`` reads as a sequence of (name, family, forms[, answer]) tuples, each made when asked for.
"""
_FORMS = "TQSELB"  # the letter at index k stands for the bit 1 << k: TEST, QUERY, SET, EXEC, LOOSE, BOOT


class Rows:
    """The rows of a table text (each row after a newline): ``len()``, ``[i]``, iteration and ``find(name)``
    give (name, family, forms[, answer]) tuples, made on demand. Reading rows in order rescans nothing."""

    def __init__(self, text):
        self.text = text
        self._i = 0  # the row index and the offset of its newline, where the last [i] left off
        self._at = 0

    def __len__(self):
        return self.text.count("\n")

    def __iter__(self):
        text = self.text
        at = 0
        while at >= 0:
            end = text.find("\n", at + 1)
            yield row(text[at + 1 : end] if end >= 0 else text[at + 1 :])
            at = end

    def __getitem__(self, i):
        if i < 0:
            i += len(self)
        text = self.text
        if i < self._i:
            self._i = self._at = 0
        at = self._at
        while self._i < i and at >= 0:
            at = text.find("\n", at + 1)
            self._i += 1
        if at < 0 or i < 0:
            self._i = self._at = 0
            raise IndexError(i)
        self._at = at
        end = text.find("\n", at + 1)
        return row(text[at + 1 : end] if end >= 0 else text[at + 1 :])

    def find(self, name):
        """The row of command ``name``, or None."""
        text = self.text
        at = text.find("\n" + name + " ")
        if at < 0:
            return None
        end = text.find("\n", at + 1)
        return row(text[at + 1 : end] if end >= 0 else text[at + 1 :])


def row(line):
    """``"+CWMODE wifi TQSLB=+CWMODE:(0-3)"`` -> ("+CWMODE", "wifi", forms, "+CWMODE:(0-3)")."""
    a = line.find(" ")
    b = line.find(" ", a + 1)
    eq = line.find("=", b)
    forms = 0
    for c in line[b + 1 : eq if eq >= 0 else len(line)]:
        forms |= 1 << _FORMS.find(c)
    if eq < 0:
        return (line[:a], line[a + 1 : b], forms)
    return (line[:a], line[a + 1 : b], forms, line[eq + 1 :])


TABLE = Rows(
    '\n basic E'
    '\n+BLEADDR ble QS'
    '\n+BLEADVDATA ble S'
    '\n+BLEADVPARAM ble QS'
    '\n+BLEADVSTART ble E'
    '\n+BLEADVSTOP ble E'
    '\n+BLECFGMTU ble QS'
    '\n+BLECONFREPLY blesec S'
    '\n+BLECONN ble QS'
    '\n+BLECONNPARAM ble QS'
    '\n+BLEDATALEN ble S'
    '\n+BLEDISCONN ble S'
    '\n+BLEENC blesec S'
    '\n+BLEENCCLEAR blesec SE'
    '\n+BLEENCDEV blesec Q'
    '\n+BLEENCRSP blesec S'
    '\n+BLEGATTCCHAR blegattc S'
    '\n+BLEGATTCINCLSRV blegattc S'
    '\n+BLEGATTCPRIMSRV blegattc S'
    '\n+BLEGATTCRD blegattc S'
    '\n+BLEGATTCWR blegattc S'
    '\n+BLEGATTSCHAR blegatts Q'
    '\n+BLEGATTSIND blegatts S'
    '\n+BLEGATTSNTFY blegatts S'
    '\n+BLEGATTSSETATTR blegatts S'
    '\n+BLEGATTSSRV blegatts Q'
    '\n+BLEGATTSSRVCRE blegatts E'
    '\n+BLEGATTSSRVSTART blegatts SE'
    '\n+BLEGATTSSRVSTOP blegatts SE'
    '\n+BLEINIT ble QS'
    '\n+BLEKEYREPLY blesec S'
    '\n+BLENAME ble QS'
    '\n+BLESCAN blescan S'
    '\n+BLESCANPARAM blescan QS'
    '\n+BLESCANRSPDATA ble S'
    '\n+BLESECPARAM blesec QS'
    '\n+BLESPP blespp E'
    '\n+BLESPPCFG blespp QS'
    '\n+CCID cellular E'
    '\n+CEREG cellular Q'
    '\n+CGATT cellular Q'
    '\n+CGMR cellular E'
    '\n+CGREG cellular Q'
    '\n+CGSN cellular E'
    '\n+CIFSR wifiaddr E'
    '\n+CIMI cellular E'
    '\n+CIPAP wifiaddr QS'
    '\n+CIPAPMAC wifiaddr QS'
    '\n+CIPCLOSE tcpip SE'
    '\n+CIPDINFO tcpip QS'
    '\n+CIPDNS tcpip QS'
    '\n+CIPDOMAIN tcpip S'
    '\n+CIPMODE tcpip QS'
    '\n+CIPMUX tcpip QS'
    '\n+CIPRECVDATA tcpip S'
    '\n+CIPRECVLEN tcpip Q'
    '\n+CIPRECVMODE tcpip QS'
    '\n+CIPRECVTYPE tcpip QS'
    '\n+CIPSEND tcpip SE'
    '\n+CIPSENDEX tcpip S'
    '\n+CIPSERVER tcpserver QS'
    '\n+CIPSERVERMAXCONN tcpserver QS'
    '\n+CIPSNTPCFG netutil QS'
    '\n+CIPSNTPTIME netutil Q'
    '\n+CIPSSLCCONF tcpip QS'
    '\n+CIPSTA wifiaddr QS'
    '\n+CIPSTAMAC wifiaddr QS'
    '\n+CIPSTART tcpip S'
    '\n+CIPSTATE tcpip Q'
    '\n+CIPSTATUS tcpip E'
    '\n+CIPSTO tcpserver QS'
    '\n+CIUPDATE ota SE'
    '\n+CMD basic Q'
    '\n+CPIN cellular Q'
    '\n+CREG cellular Q'
    '\n+CSQ cellular E'
    '\n+CWAUTOCONN wifi QSB'
    '\n+CWDHCP wifiaddr QS'
    '\n+CWDHCPS softap QS'
    '\n+CWHOSTNAME wifiaddr QS'
    '\n+CWJAP wifi QSELB'
    '\n+CWLAP wifi SEB'
    '\n+CWLAPOPT wifi SB'
    '\n+CWLIF softap E'
    '\n+CWMODE wifi TQSLB=+CWMODE:(0-3)'
    '\n+CWQAP wifi ELB'
    '\n+CWRECONNCFG wifi QSB'
    '\n+CWSAP softap QS'
    '\n+CWSTARTSMART wifi SEB'
    '\n+CWSTATE wifi QB'
    '\n+CWSTOPSMART wifi EB'
    '\n+FS flash S'
    '\n+GCMR system TEL=+GCMR'
    '\n+GMR basic E'
    '\n+GSLP basic S'
    '\n+GSN cellular E'
    '\n+HTTPACTION cellular_http TS=+HTTPACTION: (0-2)'
    '\n+HTTPC aliyun_http SL'
    '\n+HTTPDATA cellular_http S'
    '\n+HTTPINIT cellular_http E'
    '\n+HTTPPARA cellular_http QSL'
    '\n+HTTPREAD cellular_http SE'
    '\n+HTTPTERM cellular_http E'
    '\n+IAPCONFIGSTART system TSL=AT+IAPCONFIGSTART= <mode>, [ap_ssid_prefix], [ap_passwd],[aes_key]'
    '\n+IAPCONFIGSTOP system TEL=+IBLECONFIGSTOP'  # sic: the manual
    '\n+IBLECONFIGSTART aliyunble TSL=+IBLECONFIGSTART=<mode>,[aes_key]'
    '\n+IBLECONFIGSTOP aliyunble TEL=+IBLECONFIGSTOP'
    '\n+ICCID cellular E'
    '\n+IDEFAULT system TEL=+IDEFAULT'
    '\n+IDMASR aliyun_dm TSL=+IDMASR=<msg_id>,<service_id>,<code>,<reply_message>'
    '\n+IDMAUTH aliyun_dm TQSL=+IDMAUTH=<product_key>,<device_name>,<device_secret>,<product_secret>'
    '\n+IDMCONN aliyun_dm TSEL=+IDMCONN=<host>,<port>'
    '\n+IDMCRED aliyun_dm TQSL=+IDMCRED=<clientid>,<username>,<passwd>'
    '\n+IDMDISCONN aliyun_dm TEL='
    '\n+IDMEP aliyun_dm TSL=+IDMEP=<eventid>,<message>'
    '\n+IDMPARA aliyun_dm TQSL=+IDMPARA=<key>, <value>'
    '\n+IDMPP aliyun_dm TSL=+IDMPP=<message>'
    '\n+IDMSSR aliyun_dm TSL='
    '\n+IDMSTATE aliyun_dm TQEL'
    '\n+IHELP system TEL=+IHELP'
    '\n+IMQTTAUTH aliyun TQSL=+IMQTTAUTH=<product_key>, <device_name>, <device_secret>, [product_secret]'
    '\n+IMQTTCONN aliyun TSEL=+IMQTTCONN=<host>,<port>'
    '\n+IMQTTCRED aliyun TQSL=+IMQTTCRED=<clientid>,<username>,<passwd>'
    '\n+IMQTTDISCONN aliyun TEL=+IMQTTDISCONN'
    '\n+IMQTTMODE aliyun SL'
    '\n+IMQTTPARA aliyun TQSL=+IMQTTPARA=<key>, <value>'
    '\n+IMQTTPUB aliyun TSL=+IMQTTPUB=<topic>,<qos>,<message>'
    '\n+IMQTTPUBHEX aliyun TSL=+IMQTTPUBHEX=<topic>, <qos>, <msg_len>, <message>'
    '\n+IMQTTSTATE aliyun TQEL'
    '\n+IMQTTSUB aliyun TSL=+IMQTTSUB:<topic>,<qos>'
    '\n+IMQTTUNSUB aliyun TSL=+IMQTTUNSUB=<topic>'
    '\n+INETSTAT system TEL=+INETSTAT'
    '\n+IOTAPARA aliyun_ota TSL=+IOTAPARA=<param_tag>,<param_value>'
    '\n+IOTAQUERY aliyun_ota TEL=+IOTAQUERY'
    '\n+IOTASHO aliyun_ota TQEL=+IOTASHO'
    '\n+IOTASTART aliyun_ota TSL=+IOTASTART:<enable>'
    '\n+IOTASTX aliyun_ota TSL=+IOTASTX:<frame>'
    '\n+IOTAVER aliyun_ota TSL=+IOTAVER=<mcu_version>'
    '\n+IREADMAC system TEL=+IREADMAC'
    '\n+IREBOOT system TEL=+IREBOOT'
    '\n+IWIFICONNECT system SL'
    '\n+MCONFIG cellular_mqtt SL'
    '\n+MCONNECT cellular_mqtt S'
    '\n+MDISCONNECT cellular_mqtt E'
    '\n+MDNS wifiaddr S'
    '\n+MIPCLOSE cellular_mqtt E'
    '\n+MIPSTART cellular_mqtt SL'
    '\n+MPUB cellular_mqtt SL'
    '\n+MQTTCLEAN mqtt S'
    '\n+MQTTCLIENTID mqtt S'
    '\n+MQTTCONN mqtt QS'
    '\n+MQTTCONNCFG mqtt S'
    '\n+MQTTLONGCLIENTID mqtt S'
    '\n+MQTTLONGPASSWORD mqtt S'
    '\n+MQTTLONGUSERNAME mqtt S'
    '\n+MQTTMSGGET cellular_mqtt QE'
    '\n+MQTTMSGSET cellular_mqtt QS'
    '\n+MQTTPASSWORD mqtt S'
    '\n+MQTTPUB mqtt S'
    '\n+MQTTPUBRAW mqtt S'
    '\n+MQTTSNI mqtt S'
    '\n+MQTTSTATU cellular_mqtt E'
    '\n+MQTTSUB mqtt QS'
    '\n+MQTTUNSUB mqtt S'
    '\n+MQTTUSERCFG mqtt S'
    '\n+MQTTUSERNAME mqtt S'
    '\n+MSUB cellular_mqtt SL'
    '\n+MUNSUB cellular_mqtt SL'
    '\n+PING netutil S'
    '\n+RESTORE basic E'
    '\n+RFPOWER basic QS'
    '\n+RST basic E'
    '\n+SAPBR cellular SL'
    '\n+SAVETRANSLINK translink SB'
    '\n+SLEEP basic QS'
    '\n+SSLMIPSTART cellular_mqtt SL'
    '\n+SYSFLASH flash QS'
    '\n+SYSLOG basic QS'
    '\n+SYSMSG basic QS'
    '\n+SYSRAM basic Q'
    '\n+SYSSTORE basic QS'
    '\n+TCCERTADD tencent TQS=+TCCERTADD:"CERT_NAME",CERT_SIZE(1-4096)'
    '\n+TCCERTCHECK tencent TS=+TCCERTCHECK:"CERT_NAME"'
    '\n+TCCERTDEL tencent TS=+TCCERTDEL:"CERT_NAME"'
    '\n+TCDEVINFOSET tencent TQS=+TCDEVINFOSET:"TLSMODE(0/1/2)","PRODUCTID","DEVICENAME","DEVICESECRET"'
    '\n+TCDEVREG tencentreg TE='
    '\n+TCFWINFO tencentota TQ=+TCFWINFO:"FW_VERSION","FW_SIZE","FW_MD5","FW_MAX_SIZE_OF_MODULE"'
    '\n+TCMODINFOSET tencent TQS=+TCMODINFOSET:"MODULE NAME","FLASH_SIZE (2/4)","WIFI_LED GPIO","FW INFO ADDR","FW BASE ADDR","FW MAX SIZE","FIXED CONNID"'
    '\n+TCMODULE tencent E'
    '\n+TCMQTTCONN tencentmqtt TQS=+TCMQTTCONN:<TLSMODE_SELECTED>,<CMDTIMEOUT_VALUE>,<KEEPALIVE>(max 690s),<CLEAN_SESSION>(0/1),<RECONNECT>(0/1)'
    '\n+TCMQTTDISCONN tencentmqtt TE='
    '\n+TCMQTTPUB tencentmqtt TS=+TCMQTTPUB:"TOPIC_NAME(maxlen 128)","QOS(0/1)","PAYLOAD"'
    '\n+TCMQTTPUBL tencentmqtt TS=+TCMQTTPUBL:"TOPIC_NAME(maxlen 128)","QOS(0/1)","LEN(1-2048)"'
    '\n+TCMQTTSRV tencent TQS=+TCMQTTSRV:"MQTT SERVER IP"'
    '\n+TCMQTTSTATE tencentmqtt TQ='
    '\n+TCMQTTSUB tencentmqtt TQS=+TCMQTTSUB:"TOPIC_NAME(maxlen 128)","QOS(0/1)"'
    '\n+TCMQTTUNSUB tencentmqtt TQS=+TCMQTTUNSUB:"TOPIC_NAME"'
    '\n+TCOTASET tencentota TQS=+TCOTASET:1(ENABLE)/0(DISABLE),"FW_version"'
    '\n+TCPRDINFOSET tencent TQS=+TCPRDINFOSET:"TLS_MODE(0/1/2)","PRODUCT_ID","PRODUCT_SECRET_BCC","DEVICE_NAME"'
    '\n+TCREADFWDATA tencentota TS=+TCREADFWDATA:"LEN_FOR_READ"'
    '\n+TCRESTORE tencent TE='
    '\n+TCSAP tencentsap TQS=+TCSAP=<ssid>,<pwd>'
    '\n+TCSTARTSMART tencent E'
    '\n+TCSTOPSAP tencentsap TE=AT+TCSTOPSAP: CMD TO STOP SOFTAP'
    '\n+TCSTOPSMART tencent E'
    '\n+TCVER tencent E'
    '\n+TRANSINTVL netutil QS'
    '\n+UART basic QS'
    '\n+UART_CUR basic QS'
    '\n+UART_DEF basic QS'
    '\n+WPS wifi SB'
    '\nE0 basic E'
    '\nE1 basic E'
)


def find(name):
    """The table entry for ``name``, or None."""
    return TABLE.find(name)


def handler_name(name):
    """'+UART_CUR' -> 'uart_cur'; the bare 'AT' -> 'at'."""
    return name.replace("+", "").lower() or "at"
