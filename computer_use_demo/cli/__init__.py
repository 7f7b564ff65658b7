"""`python -m computer_use_demo`: the same agent loop in a terminal."""
