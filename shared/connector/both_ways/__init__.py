"""QuickBooks → store (issue #13): ledger records written into the connection's store.

The sync worker hands a ledger entity (``ledger_item``, ``ledger_customer``) to
``connector.both_ways.apply.LedgerToStore``; it reads the record through the ledger's
``LedgerChanges`` port, decides by ``connection.sync`` which fields may be written
(``fields``), compares with what the store has and with what the connector last wrote there
(``written``, kept in the state table per record) and writes only what QuickBooks changed
(``items``, ``customers``). ``echo`` tells the store → QuickBooks path a store change that is
only the connector's own write coming back.
"""
