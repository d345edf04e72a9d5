"""The one command table, as text: a row per command, sorted by name.

A row is ``<name> <family> <forms>[=<test answer>]``. The name is what follows ``AT`` in upper case; the
family module ``cmds.<family>`` implements each form as ``t_<name>`` (=?), ``q_<name>`` (?), ``s_<name>``
(=...) with its parameter spec ``p_<name>``, and ``e_<name>`` (execute), where <name> is the command name in
lower case without '+'. The forms are letters: T test, Q query, S set, E execute, and two flags: L (LOOSE) the
command also takes unquoted strings; B (BOOT) the family's ``boot(at)`` runs at start-up. A row with
``=<answer>`` answers ``AT<name>=?`` with that line and OK (an empty answer: OK alone), and its family writes
no ``t_<name>``. Each command's one-line summary (AT+IHELP) is in at/help.py, which only AT+IHELP imports.

The table is one bytes string (a tuple per row cost 27 KiB of heap; the text is 6 KiB, and nothing when
frozen): ``TABLE`` reads as a sequence of (name, family, forms[, answer]) tuples, each made when asked for,
and ``find`` is a binary search over the text. Bytes, because on MicroPython every new str is first looked up
among all interned names: a lookup makes only the family's str (and the answer's, for a fixed test answer).
"""
from at.parser import TEST, QUERY, SET, EXEC, LOOSE, BOOT

_FORMS = {84: TEST, 81: QUERY, 83: SET, 69: EXEC, 76: LOOSE, 66: BOOT}  # T Q S E L B


class Rows:
    """The rows of a table text (bytes, each row after a newline, sorted by name): iteration (in order) and
    ``find(name)`` give (name, family, forms[, answer]) tuples, made on demand."""

    def __init__(self, text):
        self.text = text

    def __iter__(self):
        at = 0
        while at >= 0:
            yield self.row(at)
            at = self.text.find(b"\n", at + 1)

    def find(self, name):
        """The row of command ``name`` (a str), or None."""
        at = _search(self.text, name.encode())
        return None if at < 0 else self.row(at, name)

    def row(self, at, name=None):
        """The row whose newline is text[at]: (name, family, forms) or (name, family, forms, answer)."""
        fields = _line(self.text, at).split(b" ", 2)  # name, family, forms[=answer]
        forms = fields[2].split(b"=", 1)
        row = (fields[0].decode() if name is None else name, fields[1].decode(), _bits(forms[0]))
        return row if len(forms) == 1 else row + (forms[1].decode(),)


# Each function below keeps its frame within MicroPython's 11 words (tools/frame_sizes): a bigger one is a
# heap allocation per call, which made a lookup ten times slower.
def _search(text, key):
    """Binary search of the rows for the one named ``key`` (bytes): the offset of its newline, or -1."""
    lo, hi = 0, len(text)  # the rows that start in [lo, hi) are left; text[lo] is a newline
    while lo < hi:
        at = ((lo + hi) >> 1) + 1
        at = text.rfind(b"\n", lo, at)  # the row around the middle
        here = text.find(b" ", at)
        here = text[at + 1 : here]  # its name
        if here == key:
            return at
        if here < key:
            lo = text.find(b"\n", at + 1)
            if lo < 0:
                return -1
        else:
            hi = at
    return -1


def _line(text, at):
    """The row whose newline is text[at], without it."""
    end = text.find(b"\n", at + 1)
    return text[at + 1 : end] if end > 0 else text[at + 1 :]


def _bits(letters):
    forms = 0
    for c in letters:
        forms |= _FORMS[c]
    return forms


TABLE = Rows(
    b'\n basic E'
    b'\n+BLEADDR ble QS'
    b'\n+BLEADVDATA ble S'
    b'\n+BLEADVPARAM ble QS'
    b'\n+BLEADVSTART ble E'
    b'\n+BLEADVSTOP ble E'
    b'\n+BLECFGMTU ble QS'
    b'\n+BLECONFREPLY blesec S'
    b'\n+BLECONN ble QS'
    b'\n+BLECONNPARAM ble QS'
    b'\n+BLEDATALEN ble S'
    b'\n+BLEDISCONN ble S'
    b'\n+BLEENC blesec S'
    b'\n+BLEENCCLEAR blesec SE'
    b'\n+BLEENCDEV blesec Q'
    b'\n+BLEENCRSP blesec S'
    b'\n+BLEGATTCCHAR blegattc S'
    b'\n+BLEGATTCINCLSRV blegattc S'
    b'\n+BLEGATTCPRIMSRV blegattc S'
    b'\n+BLEGATTCRD blegattc S'
    b'\n+BLEGATTCWR blegattc S'
    b'\n+BLEGATTSCHAR blegatts Q'
    b'\n+BLEGATTSIND blegatts S'
    b'\n+BLEGATTSNTFY blegatts S'
    b'\n+BLEGATTSSETATTR blegatts S'
    b'\n+BLEGATTSSRV blegatts Q'
    b'\n+BLEGATTSSRVCRE blegatts E'
    b'\n+BLEGATTSSRVSTART blegatts SE'
    b'\n+BLEGATTSSRVSTOP blegatts SE'
    b'\n+BLEINIT ble QS'
    b'\n+BLEKEYREPLY blesec S'
    b'\n+BLENAME ble QS'
    b'\n+BLESCAN blescan S'
    b'\n+BLESCANPARAM blescan QS'
    b'\n+BLESCANRSPDATA ble S'
    b'\n+BLESECPARAM blesec QS'
    b'\n+BLESPP blespp E'
    b'\n+BLESPPCFG blespp QS'
    b'\n+CCID cellular E'
    b'\n+CEREG cellular Q'
    b'\n+CGATT cellular Q'
    b'\n+CGMR cellular E'
    b'\n+CGREG cellular Q'
    b'\n+CGSN cellular E'
    b'\n+CIFSR wifiaddr E'
    b'\n+CIMI cellular E'
    b'\n+CIPAP wifiaddr QS'
    b'\n+CIPAPMAC wifiaddr QS'
    b'\n+CIPCLOSE tcpip SE'
    b'\n+CIPDINFO tcpip QS'
    b'\n+CIPDNS tcpip QS'
    b'\n+CIPDOMAIN tcpip S'
    b'\n+CIPMODE tcpip QS'
    b'\n+CIPMUX tcpip QS'
    b'\n+CIPRECVDATA tcpip S'
    b'\n+CIPRECVLEN tcpip Q'
    b'\n+CIPRECVMODE tcpip QS'
    b'\n+CIPRECVTYPE tcpip QS'
    b'\n+CIPSEND tcpip SE'
    b'\n+CIPSENDEX tcpip S'
    b'\n+CIPSERVER tcpserver QS'
    b'\n+CIPSERVERMAXCONN tcpserver QS'
    b'\n+CIPSNTPCFG netutil QS'
    b'\n+CIPSNTPTIME netutil Q'
    b'\n+CIPSSLCCONF tcpip QS'
    b'\n+CIPSTA wifiaddr QS'
    b'\n+CIPSTAMAC wifiaddr QS'
    b'\n+CIPSTART tcpip S'
    b'\n+CIPSTATE tcpip Q'
    b'\n+CIPSTATUS tcpip E'
    b'\n+CIPSTO tcpserver QS'
    b'\n+CIUPDATE ota SE'
    b'\n+CMD sysconf Q'
    b'\n+CPIN cellular Q'
    b'\n+CREG cellular Q'
    b'\n+CSQ cellular E'
    b'\n+CWAUTOCONN wifiboot QSB'
    b'\n+CWDHCP wifiaddr QS'
    b'\n+CWDHCPS softap QS'
    b'\n+CWHOSTNAME wifiaddr QS'
    b'\n+CWJAP wifi QSEL'
    b'\n+CWLAP wifi SE'
    b'\n+CWLAPOPT wifi S'
    b'\n+CWLIF softap E'
    b'\n+CWMODE wifi TQSL=+CWMODE:(0-3)'
    b'\n+CWQAP wifi EL'
    b'\n+CWRECONNCFG wifi QS'
    b'\n+CWSAP softap QS'
    b'\n+CWSTARTSMART wifi SE'
    b'\n+CWSTATE wifi Q'
    b'\n+CWSTOPSMART wifi E'
    b'\n+FS flash S'
    b'\n+GCMR system TEL=+GCMR'
    b'\n+GMR basic E'
    b'\n+GSLP sysconf S'
    b'\n+GSN cellular E'
    b'\n+HTTPACTION cellular_http TS=+HTTPACTION: (0-2)'
    b'\n+HTTPC aliyun_http SL'
    b'\n+HTTPDATA cellular_http S'
    b'\n+HTTPINIT cellular_http E'
    b'\n+HTTPPARA cellular_http QSL'
    b'\n+HTTPREAD cellular_http SE'
    b'\n+HTTPTERM cellular_http E'
    b'\n+IAPCONFIGSTART system TSL=AT+IAPCONFIGSTART= <mode>, [ap_ssid_prefix], [ap_passwd],[aes_key]'
    b'\n+IAPCONFIGSTOP system TEL=+IBLECONFIGSTOP'  # sic: the manual
    b'\n+IBLECONFIGSTART aliyunble TSL=+IBLECONFIGSTART=<mode>,[aes_key]'
    b'\n+IBLECONFIGSTOP aliyunble TEL=+IBLECONFIGSTOP'
    b'\n+ICCID cellular E'
    b'\n+IDEFAULT system TEL=+IDEFAULT'
    b'\n+IDMASR aliyun_dm TSL=+IDMASR=<msg_id>,<service_id>,<code>,<reply_message>'
    b'\n+IDMAUTH aliyun_dm TQSL=+IDMAUTH=<product_key>,<device_name>,<device_secret>,<product_secret>'
    b'\n+IDMCONN aliyun_dm TSEL=+IDMCONN=<host>,<port>'
    b'\n+IDMCRED aliyun_dm TQSL=+IDMCRED=<clientid>,<username>,<passwd>'
    b'\n+IDMDISCONN aliyun_dm TEL='
    b'\n+IDMEP aliyun_dm TSL=+IDMEP=<eventid>,<message>'
    b'\n+IDMPARA aliyun_dm TQSL=+IDMPARA=<key>, <value>'
    b'\n+IDMPP aliyun_dm TSL=+IDMPP=<message>'
    b'\n+IDMSSR aliyun_dm TSL='
    b'\n+IDMSTATE aliyun_dm TQEL'
    b'\n+IHELP system TEL=+IHELP'
    b'\n+IMQTTAUTH aliyun TQSL=+IMQTTAUTH=<product_key>, <device_name>, <device_secret>, [product_secret]'
    b'\n+IMQTTCONN aliyun TSEL=+IMQTTCONN=<host>,<port>'
    b'\n+IMQTTCRED aliyun TQSL=+IMQTTCRED=<clientid>,<username>,<passwd>'
    b'\n+IMQTTDISCONN aliyun TEL=+IMQTTDISCONN'
    b'\n+IMQTTMODE aliyun SL'
    b'\n+IMQTTPARA aliyun TQSL=+IMQTTPARA=<key>, <value>'
    b'\n+IMQTTPUB aliyun TSL=+IMQTTPUB=<topic>,<qos>,<message>'
    b'\n+IMQTTPUBHEX aliyun TSL=+IMQTTPUBHEX=<topic>, <qos>, <msg_len>, <message>'
    b'\n+IMQTTSTATE aliyun TQEL'
    b'\n+IMQTTSUB aliyun TSL=+IMQTTSUB:<topic>,<qos>'
    b'\n+IMQTTUNSUB aliyun TSL=+IMQTTUNSUB=<topic>'
    b'\n+INETSTAT system TEL=+INETSTAT'
    b'\n+IOTAPARA aliyun_ota TSL=+IOTAPARA=<param_tag>,<param_value>'
    b'\n+IOTAQUERY aliyun_ota TEL=+IOTAQUERY'
    b'\n+IOTASHO aliyun_ota TQEL=+IOTASHO'
    b'\n+IOTASTART aliyun_ota TSL=+IOTASTART:<enable>'
    b'\n+IOTASTX aliyun_ota TSL=+IOTASTX:<frame>'
    b'\n+IOTAVER aliyun_ota TSL=+IOTAVER=<mcu_version>'
    b'\n+IREADMAC system TEL=+IREADMAC'
    b'\n+IREBOOT system TEL=+IREBOOT'
    b'\n+IWIFICONNECT system SL'
    b'\n+MCONFIG cellular_mqtt SL'
    b'\n+MCONNECT cellular_mqtt S'
    b'\n+MDISCONNECT cellular_mqtt E'
    b'\n+MDNS wifiaddr S'
    b'\n+MIPCLOSE cellular_mqtt E'
    b'\n+MIPSTART cellular_mqtt SL'
    b'\n+MPUB cellular_mqtt SL'
    b'\n+MQTTCLEAN mqtt S'
    b'\n+MQTTCLIENTID mqtt S'
    b'\n+MQTTCONN mqtt QS'
    b'\n+MQTTCONNCFG mqtt S'
    b'\n+MQTTLONGCLIENTID mqtt S'
    b'\n+MQTTLONGPASSWORD mqtt S'
    b'\n+MQTTLONGUSERNAME mqtt S'
    b'\n+MQTTMSGGET cellular_mqtt QE'
    b'\n+MQTTMSGSET cellular_mqtt QS'
    b'\n+MQTTPASSWORD mqtt S'
    b'\n+MQTTPUB mqtt S'
    b'\n+MQTTPUBRAW mqtt S'
    b'\n+MQTTSNI mqtt S'
    b'\n+MQTTSTATU cellular_mqtt E'
    b'\n+MQTTSUB mqtt QS'
    b'\n+MQTTUNSUB mqtt S'
    b'\n+MQTTUSERCFG mqtt S'
    b'\n+MQTTUSERNAME mqtt S'
    b'\n+MSUB cellular_mqtt SL'
    b'\n+MUNSUB cellular_mqtt SL'
    b'\n+PING netutil S'
    b'\n+RESTORE basic E'
    b'\n+RFPOWER sysconf QS'
    b'\n+RST basic E'
    b'\n+SAPBR cellular SL'
    b'\n+SAVETRANSLINK translink SB'
    b'\n+SLEEP sysconf QS'
    b'\n+SSLMIPSTART cellular_mqtt SL'
    b'\n+SYSFLASH flash QS'
    b'\n+SYSLOG sysconf QS'
    b'\n+SYSMSG sysconf QS'
    b'\n+SYSRAM sysconf Q'
    b'\n+SYSSTORE sysconf QS'
    b'\n+TCCERTADD tencent TQS=+TCCERTADD:"CERT_NAME",CERT_SIZE(1-4096)'
    b'\n+TCCERTCHECK tencent TS=+TCCERTCHECK:"CERT_NAME"'
    b'\n+TCCERTDEL tencent TS=+TCCERTDEL:"CERT_NAME"'
    b'\n+TCDEVINFOSET tencent TQS=+TCDEVINFOSET:"TLSMODE(0/1/2)","PRODUCTID","DEVICENAME","DEVICESECRET"'
    b'\n+TCDEVREG tencentreg TE='
    b'\n+TCFWINFO tencentota TQ=+TCFWINFO:"FW_VERSION","FW_SIZE","FW_MD5","FW_MAX_SIZE_OF_MODULE"'
    b'\n+TCMODINFOSET tencent TQS=+TCMODINFOSET:"MODULE NAME","FLASH_SIZE (2/4)","WIFI_LED GPIO","FW INFO ADDR","FW BASE ADDR","FW MAX SIZE","FIXED CONNID"'
    b'\n+TCMODULE tencent E'
    b'\n+TCMQTTCONN tencentmqtt TQS=+TCMQTTCONN:<TLSMODE_SELECTED>,<CMDTIMEOUT_VALUE>,<KEEPALIVE>(max 690s),<CLEAN_SESSION>(0/1),<RECONNECT>(0/1)'
    b'\n+TCMQTTDISCONN tencentmqtt TE='
    b'\n+TCMQTTPUB tencentmqtt TS=+TCMQTTPUB:"TOPIC_NAME(maxlen 128)","QOS(0/1)","PAYLOAD"'
    b'\n+TCMQTTPUBL tencentmqtt TS=+TCMQTTPUBL:"TOPIC_NAME(maxlen 128)","QOS(0/1)","LEN(1-2048)"'
    b'\n+TCMQTTSRV tencent TQS=+TCMQTTSRV:"MQTT SERVER IP"'
    b'\n+TCMQTTSTATE tencentmqtt TQ='
    b'\n+TCMQTTSUB tencentmqtt TQS=+TCMQTTSUB:"TOPIC_NAME(maxlen 128)","QOS(0/1)"'
    b'\n+TCMQTTUNSUB tencentmqtt TQS=+TCMQTTUNSUB:"TOPIC_NAME"'
    b'\n+TCOTASET tencentota TQS=+TCOTASET:1(ENABLE)/0(DISABLE),"FW_version"'
    b'\n+TCPRDINFOSET tencent TQS=+TCPRDINFOSET:"TLS_MODE(0/1/2)","PRODUCT_ID","PRODUCT_SECRET_BCC","DEVICE_NAME"'
    b'\n+TCREADFWDATA tencentota TS=+TCREADFWDATA:"LEN_FOR_READ"'
    b'\n+TCRESTORE tencent TE='
    b'\n+TCSAP tencentsap TQS=+TCSAP=<ssid>,<pwd>'
    b'\n+TCSTARTSMART tencent E'
    b'\n+TCSTOPSAP tencentsap TE=AT+TCSTOPSAP: CMD TO STOP SOFTAP'
    b'\n+TCSTOPSMART tencent E'
    b'\n+TCVER tencent E'
    b'\n+TRANSINTVL netutil QS'
    b'\n+UART basic QS'
    b'\n+UART_CUR basic QS'
    b'\n+UART_DEF basic QS'
    b'\n+WPS wifi S'
    b'\nE0 basic E'
    b'\nE1 basic E'
)


def find(name):
    """The table entry for ``name``, or None."""
    return TABLE.find(name)


def handler_name(name):
    """'+UART_CUR' -> 'uart_cur'; the bare 'AT' -> 'at'."""
    return name.replace("+", "").lower() or "at"
