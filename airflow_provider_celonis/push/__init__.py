"""Turning a data source into Data Push chunks: sources, Arrow-to-Celonis types, chunk files."""
