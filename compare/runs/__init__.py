"""What a run leaves on disk and how it is read back: the results row, run records, the resume plan."""
