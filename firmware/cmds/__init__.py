"""Command families: the thin place where a parsed AT line meets a client or a radio."""
