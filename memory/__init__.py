"""Chroma-backed memory: knowledge (RAG with citations), decisions and creatives."""
