"""One typed settings object read from the environment's hyphenated variable names.

The deployment (and the test harness) names variables the way the original platform did, e.g.
``POSTGRES-SUPABASE-URL``; shells cannot export such names but process environments can, so each
field maps its hyphenated name explicitly through ``validation_alias``.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .exceptions import MissingSettingError

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Configuration for every service; each service uses the part it needs.

    Connection URLs are optional here because no service needs all four; the connection helpers
    call :meth:`require` so a missing URL fails at startup with the variable's name.
    """

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", populate_by_name=True)

    env: str = Field("development", validation_alias="ENV")
    postgres_url: str | None = Field(None, validation_alias="POSTGRES-SUPABASE-URL")
    rabbitmq_url: str | None = Field(None, validation_alias="RABBITMQ-URL")
    mongo_url: str | None = Field(None, validation_alias="MONGO-URL")
    mongo_database: str | None = Field(None, validation_alias="MONGO-DATABASE")
    redis_url: str | None = Field(None, validation_alias="REDIS-URL")

    jwt_secret_key: str = Field(validation_alias="JWT-SECRET-KEY", min_length=1)
    jwt_algorithm: str = Field("HS256", validation_alias="JWT-ALGORITHM")
    jwt_expires_seconds: int = Field(3600, validation_alias="JWT-EXPIRES-SECONDS", gt=0)

    login_max_failed_attempts: int = Field(5, validation_alias="LOGIN-MAX-FAILED-ATTEMPTS", gt=0)
    login_failure_window_seconds: int = Field(
        900, validation_alias="LOGIN-FAILURE-WINDOW-SECONDS", gt=0
    )

    rabbitmq_services_exchange: str = Field(
        "services", validation_alias="RABBITMQ-SERVICES-EXCHANGE"
    )
    courier_location_routing_key: str = Field(
        "courier.location", validation_alias="COURIER-LOCATION-ROUTING-KEY"
    )
    tracking_locations_queue: str = Field(
        "tracking.courier_locations", validation_alias="TRACKING-LOCATIONS-QUEUE"
    )
    tracking_dead_letter_queue: str = Field(
        "tracking.courier_locations.dead", validation_alias="TRACKING-DEAD-LETTER-QUEUE"
    )
    tracking_latest_ttl_seconds: int = Field(
        3600, validation_alias="TRACKING-LATEST-TTL-SECONDS", gt=0
    )
    tracking_consumer_enabled: bool = Field(True, validation_alias="TRACKING-CONSUMER-ENABLED")
    """Off for API-only replicas (reads scale apart from consuming) and read-only test clients."""

    @model_validator(mode="after")
    def _hmac_secret_long_enough(self) -> Settings:
        """RFC 7518 3.2: an HMAC key shorter than the hash is guessable; refuse to start with one."""
        minimum = {"HS256": 32, "HS384": 48, "HS512": 64}.get(self.jwt_algorithm)
        if minimum and len(self.jwt_secret_key.encode()) < minimum:
            raise ValueError(
                f"JWT-SECRET-KEY is {len(self.jwt_secret_key.encode())} bytes; {self.jwt_algorithm} "
                f"needs at least {minimum} (RFC 7518 section 3.2). Use a longer random secret."
            )
        return self

    def require(self, field: str) -> str:
        """Return a connection URL that this service cannot start without.

        :raises MissingSettingError: naming the environment variable to set.
        """
        value: str | None = getattr(self, field)
        if not value:
            alias = type(self).model_fields[field].validation_alias
            raise MissingSettingError(
                f"{alias} is not set. Set it in the environment (the test harness injects it "
                "when the resource's fixture is requested)."
            )
        return value


def load_settings() -> Settings:
    """Read the settings now, from the current environment (call it in the app's lifespan)."""
    return Settings()
