"""The finance console: a server-rendered web page over the hub's settlement handlers."""
