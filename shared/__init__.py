"""Code every service shares: settings, connection helpers, JWT auth and the Alembic migrations.

Nothing here reads the environment at import time: settings are loaded in each app's lifespan, so a
test harness (or a deployment) can set the variables right before the app starts.
"""

from __future__ import annotations
