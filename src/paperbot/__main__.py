"""``python -m paperbot`` is the same as the ``paperbot`` console script."""

from paperbot.cli import main

if __name__ == "__main__":
    main()
