"""Pure functions from settings (and resolved secret strings) to config file text.

The `local` containers, the `aws` task definitions and the data-plane tests all run what
these functions return, so what the tests exercise is what users deploy.
"""
