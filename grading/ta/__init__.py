"""What TAs run: the release, reference files, calibration, the benchmark and example submissions."""
