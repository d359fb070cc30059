"""``python -m gancli`` (and ``torchrun -m gancli``) run the CLI."""
from gancli.cli.main import main

if __name__ == "__main__":
    main()
