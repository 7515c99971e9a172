"""FAQ knowledge: entries, their checks, the retrieval index and the answer policy."""
