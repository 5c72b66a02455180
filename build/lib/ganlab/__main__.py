"""`python -m ganlab ...` is the same as `ganlab-train ...`."""

from ganlab.launch.cli import main

if __name__ == "__main__":
    main()
