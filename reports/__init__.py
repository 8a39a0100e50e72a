"""Renderers: they take a FindingsDocument (data), never the engine or the clients."""
