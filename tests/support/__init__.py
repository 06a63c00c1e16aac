"""Helpers shared by releasegate's tests (servers, simulated APIs, fixtures data), imported as ``support.<name>``."""
