"""Real local servers standing in for services the app talks to, for tests and benchmarks."""
