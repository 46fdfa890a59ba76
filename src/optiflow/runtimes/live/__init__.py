"""The live runtime (paper, live, rehearsal): cycle, executor, exchange stops, reconciliation.

May use: the pure core, ports, adapters, ``optiflow.runtimes`` (bar-loop helpers). Its modules
form a one-way chain: runtime -> restoring/reconcile -> exit_guard -> protection/executor/
backing.
"""
