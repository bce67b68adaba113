"""Use cases: collect, summarise, build and publish digests, search, vote. Ports in, domain out; no I/O library."""
