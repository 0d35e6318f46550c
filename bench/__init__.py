"""The benchmark of the project against the local cloud: ``python -m bench.run`` (``make bench``)."""
