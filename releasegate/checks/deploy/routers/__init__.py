"""Traffic routers behind one interface: set weights, read them back (nginx; none)."""
