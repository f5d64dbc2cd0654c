"""Country packs: the rules that differ between Uzbekistan and Kazakhstan, as data.

See ``pack`` for the loader and ``<CC>/*.yaml`` for the data and its sources.
"""
