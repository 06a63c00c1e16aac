"""The releasegate library: checks that do the work and return evidence. No pytest here."""
