"""OptiFlow: a fleet of crypto scalping bots, one engine for every mode."""

__version__ = "0.1.0"
