"""Locust users and stage shapes; run out of process (importing locust patches with gevent)."""
