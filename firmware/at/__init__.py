"""The AT engine: UART framing, parser, command table, modes, URC queue, store. Knows no vendor."""
