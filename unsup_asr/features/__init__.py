"""Frame-level features: featurizers, caching and unit conversion."""
