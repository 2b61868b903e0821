"""Token classification (named entities): IOB2 tags per word, learnt on each word's first word piece.

Plain functions for the kind's wiring: `data` (columns, checks, splits), `features` (word pieces in windows, loaders,
decoding), `metrics` (seqeval), `inference` (entities from raw text), `analysis` (the error report).
"""
