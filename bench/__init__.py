"""Benchmarks (`make bench`): each figure is printed next to a baseline from the same run."""
