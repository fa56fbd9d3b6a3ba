"""``python -m corrections``: the same command as ``corrections``."""

from corrections.cli import main

if __name__ == "__main__":
    main(prog_name="corrections")
