"""The test bench: what the data-plane tests and the benchmarks run, never a user's command.

sandbox (the local target's rendered configs as processes on loopback, and an upstream registry for
mirrors), registry_builds (distribution from ../shared/vendor), conformance (the OCI suite),
storage_walks (what every storage walk must see). It may use tools/; tools/ never uses it.
"""
