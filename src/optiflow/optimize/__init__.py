"""Parameter search for a bot config: Optuna studies, walk-forward folds, scoring.

Holds the search space (``space``; the default ships as ``default_space.json``), the score of
a backtest (``scoring``), the walk-forward fold plan and data slicing (``folds``), one trial
and the worker processes (``worker``) and the study driver (``study``). It may use the config
models, the app layer's public backtest entry points (``run_backtest``, ``summarize``), the
candle loaders and Optuna; it never imports the CLI or the report layer, and it never edits
the engine.
"""
