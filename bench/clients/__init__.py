"""One small runner per client; each runs in its own process (see bench.harness)."""
