"""One package per method; methods never import each other (shared code moves down a layer)."""
