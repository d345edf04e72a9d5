"""Bumble 0.0.236's virtual controller, with its gaps worked around (all of them here, found when tried):
ACL data's source address, extended reports to a legacy scanner, unfragmented ACL data to the host, advert
types and real scan responses. (It has no LE Set Data Length either, which MicroPython cannot use anyway.)"""
import asyncio

from bumble import controller, hci, ll, link

ADV_PERIOD_MIN_MS = 100  # virtual adverts go out at most this often, whatever interval is asked for
RSSI = -50


class AirAdv(ll.AdvInd):
    """An advertising PDU that carries its type (ADV_IND 0, ADV_SCAN_IND 2, ADV_NONCONN_IND 3) and the
    advertiser's scan response: Bumble's controller sends only ADV_IND and answers a scan with the advert."""

    def __init__(self, advertiser_address, data, adv_type, scan_response):
        super().__init__(advertiser_address=advertiser_address, data=data)
        self.adv_type = adv_type
        self.scan_response = scan_response


class AirAdvertiser(controller.LegacyAdvertiser):
    def _on_timer_fired(self):
        self.send_advertising_data()
        period = max(self.advertising_interval_min * 0.625, ADV_PERIOD_MIN_MS) / 1000
        self.timer_handle = asyncio.get_running_loop().call_later(period, self._on_timer_fired)

    def send_advertising_data(self):
        if self.enabled and self.advertising_type in (0, 2, 3):  # directed adverts: not on this air
            pdu = AirAdv(self.address, bytes(self.advertising_data), self.advertising_type,
                         bytes(self.scan_response_data))
            self.controller.send_advertising_pdu(pdu)


class AirController(controller.Controller):
    # Gap: with extended advertising in its features Bumble reports extended adverts even to a legacy
    # scanner. The ESP32 has a BLE 4.2 controller, so the feature goes.
    le_features = controller.Controller.le_features & ~(
        hci.LeFeatureMask.LE_EXTENDED_ADVERTISING | hci.LeFeatureMask.LE_PERIODIC_ADVERTISING)
    le_acl_data_packet_length = 251

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.le_legacy_advertiser = AirAdvertiser(self)

    def on_link_acl_data(self, sender_address, transport, data):
        # Gap: Bumble hands the host a whole L2CAP PDU in one ACL packet; fragment it as a controller does.
        connection = self.le_connections.get(sender_address)
        if connection is None:
            return
        size = self.le_acl_data_packet_length
        for i in range(0, len(data), size):
            chunk = data[i:i + size]
            self.send_hci_packet(hci.HCI_AclDataPacket(connection.handle, 2 if i == 0 else 1, 0, len(chunk), chunk))

    def on_advertising_pdu(self, pdu):
        # Gap: Bumble repeats the advert as the scan response and calls every advert connectable.
        adv_type = getattr(pdu, "adv_type", 0)
        if self.le_scan_enable:
            report = hci.HCI_LE_Advertising_Report_Event.Report
            self.send_hci_packet(hci.HCI_LE_Advertising_Report_Event([report(
                event_type=adv_type, address_type=pdu.advertiser_address.address_type,
                address=pdu.advertiser_address, data=pdu.data, rssi=RSSI)]))
            if self.le_scan_type == 1 and adv_type in (0, 2):
                self.send_hci_packet(hci.HCI_LE_Advertising_Report_Event([report(
                    event_type=4, address_type=pdu.advertiser_address.address_type,
                    address=pdu.advertiser_address, data=getattr(pdu, "scan_response", b""), rssi=RSSI)]))
        pending = self.pending_le_connection
        if adv_type == 0 and pending and pending.peer_address == pdu.advertiser_address:
            self.create_le_connection(pdu.advertiser_address)


class AirLink(link.LocalLink):
    def send_acl_data(self, sender_controller, destination_address, transport, data):
        # Gap: Bumble gives ACL data the sender's random address as its source, so a host that connected
        # with its public address (as the ESP32 does) loses every packet. The source is the address the
        # sender's connection uses.
        connection = sender_controller.le_connections.get(destination_address)
        destination = self.find_le_controller(destination_address)
        if connection is None or destination is None:
            return
        source = connection.self_address
        asyncio.get_running_loop().call_soon(destination.on_link_acl_data, source, transport, data)

    def remove_controller(self, controller):
        # Gap: a controller that leaves (its module reset, its peer's socket closed) leaves its links open on
        # the other side for ever. A radio's supervision timeout ends them: so does this.
        super().remove_controller(controller)
        for connection in list(controller.le_connections.values()):
            peer = self.find_le_controller(connection.peer_address)
            theirs = peer.le_connections.get(connection.self_address) if peer is not None else None
            if theirs is not None:
                peer.on_le_disconnected(theirs, hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)

    def send_ll_control_pdu(self, sender_address, receiver_address, packet):
        if self.find_le_controller(receiver_address) is not None:  # not to a controller that has left
            super().send_ll_control_pdu(sender_address, receiver_address, packet)
