"""The fleet: one supervisor process keeping a folder of bots (one OS process each) running.

Holds the fleet folder's settings and checks (``spec``), process and lock probes
(``procs``), the supervisor's note outbox (``outbox``), the supervision loop (``core``),
per-bot status (``status``), Prometheus metrics (``metrics``) and deployment files
(``deploy``). It is an impure edge: it may use the OS (processes, signals, flock, /proc),
files, SQLite (read-only on the bots' stores; its own ``fleet.sqlite``), the config loader
and the adapters' file helpers. It never imports the engine or runs trading logic itself:
each bot is an ``optiflow run`` process.
"""
