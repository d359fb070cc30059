"""Image grids, GIFs and other pictures."""
