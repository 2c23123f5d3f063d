"""The console's pages, one module a page; each exposes ``routes``."""
