"""QuickBooks Desktop: qbXML carried by the QuickBooks Web Connector from the connection's outbox."""
