"""The ``pvopt`` command line (the only layer that imports typer and rich).

:mod:`pvopt.cli.main` holds the app and the ``validate``, ``yield`` and ``plan``
commands; the other modules register their commands on the same app when
imported here.
"""

from pvopt.cli.main import app
from pvopt.cli import diff as _diff  # noqa: F401 - `diff`
from pvopt.cli import finance as _finance  # noqa: F401 - `compare` and `report`
from pvopt.cli import risk as _risk  # noqa: F401 - `risk` and `actuals`
from pvopt.cli import sweep as _sweep  # noqa: F401 - `sweep`
from pvopt.cli import weather as _weather  # noqa: F401 - `weather fetch`

__all__ = ["app"]
