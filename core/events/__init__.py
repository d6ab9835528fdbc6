"""The event flow: what happened (domain events), where it is kept (the outbox port), and
the dispatcher that hands each event to every surface once.

A service changes state and records the event that says so in one transaction
(``Transactions.transaction()`` around the repository writes and ``EventLog.record``).
The running instance's ``Dispatcher`` then delivers each recorded event, in order, to
every ``Subscriber`` (each chat bot, the federation, the scheduler), keeping one
checkpoint per subscriber: a subscriber that is down catches up when it comes back.
"""
