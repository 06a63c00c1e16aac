"""Root conftest: releasegate's plugin for this checkout.

An environment that installed releasegate (``pip install .`` or ``-e .``) loads it through the
``pytest11`` entry point; the entry point has this module's name, so this line is then a no-op,
and it loads the plugin (with every step module) in an environment installed before the entry
point existed.
"""

pytest_plugins = ["releasegate.plugins"]
