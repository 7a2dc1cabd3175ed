"""DNS engines over ``netstudy.wire.dns``: a stub resolver, an authoritative server, zone files, and
the seed's plain-text toy (``toy``) kept as the first socket program of the notebook."""
