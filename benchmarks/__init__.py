"""Speed and memory measurements (not tests): each script prints its figures and ratios."""
