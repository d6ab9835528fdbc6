"""Commands declared once as data; every bot and the command line exposes them."""
