"""Federation over Matrix rooms: the transport for ``core.federation``."""
