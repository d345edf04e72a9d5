"""The BLE air's parts (tools/ble_air): Bumble's controller gaps, a module's radio, its GATT requests."""
