"""Registry: people, facilities, practitioners, territory. The bottom domain."""
