"""Pure digest logic: which day a digest covers, ranking, grouping, and the renderers. No I/O."""
