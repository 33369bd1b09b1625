"""Record linkage of normalized shots to registry citizens."""
