"""Private support of the library: the one HTTP client, the Docker client factory, processes, retries, paths."""
