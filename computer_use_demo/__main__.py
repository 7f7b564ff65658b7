"""`python -m computer_use_demo` / `computer-use-demo`: the agent in a terminal."""

from .cli.main import main

if __name__ == "__main__":
    main()
