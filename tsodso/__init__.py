"""tsodso: DSO-led bilevel TSO-DSO coordination solved by a custom branch-and-bound over ECOS."""
__version__ = "0.1.0"
