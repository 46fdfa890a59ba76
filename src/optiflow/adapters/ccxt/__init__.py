"""ccxt edge: build exchanges, parse payloads, map errors, retry, share a rate budget."""
