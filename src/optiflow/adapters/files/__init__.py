"""Files adapter: the bot's human/tool state files, written atomically."""
