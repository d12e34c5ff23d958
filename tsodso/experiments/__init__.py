"""Experiments: runs of several schemes or instances whose output the report layer writes.

    compare   the scheme comparison runner (`tsodso compare`)
    sweep     the scale sweep over ADN counts and seeds (`tsodso sweep`)

May import every layer below (data ... schemes, report); only the CLI and the API import it.
"""
