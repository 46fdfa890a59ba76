"""OptiFlow package."""
