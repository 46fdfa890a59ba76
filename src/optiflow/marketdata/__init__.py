"""Market data: candle loading and aggregation, incremental indicators, rolling features."""
