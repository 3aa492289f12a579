"""Targets the contract suite is judged against, written without reading ``mockserver/``.

``fake`` is a minimal, independent fake of the API built from the spec alone (with a switch for
one realistic bug at a time), ``proxy`` a counting proxy that shows what a run would have been
billed, ``prism`` starts Stoplight's Prism on the contract, and ``serving`` runs any of them on
loopback for the length of a test.
"""
