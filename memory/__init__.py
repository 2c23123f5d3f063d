"""Chroma-backed memory: knowledge (RAG), decisions and creatives."""
