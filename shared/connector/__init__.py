"""ml-connector: store orders and customers into QuickBooks, once, to the cent."""
