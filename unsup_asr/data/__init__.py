"""Corpora, manifests and audio IO."""
