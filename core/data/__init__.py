"""Scene data: the class palette, scene files, the procedural 4D city and readers of real datasets."""
