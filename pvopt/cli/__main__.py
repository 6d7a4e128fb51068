"""``python -m pvopt.cli``: the command line."""

from pvopt.cli import app

if __name__ == "__main__":  # pragma: no cover
    app()
