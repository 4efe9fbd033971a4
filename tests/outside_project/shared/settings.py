"""Settings, read from the environment once and cached: the app and alembic's env.py share them."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The project's hyphenated variables (``DATABASE-URL``...), as its deployments set them."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(validation_alias="DATABASE-URL")
    redis_url: str = Field(validation_alias="REDIS-URL")
    rabbitmq_url: str = Field(validation_alias="RABBITMQ-URL")
    orders_exchange: str = Field(validation_alias="ORDERS-EXCHANGE")
    paid_routing_key: str = Field(validation_alias="ORDERS-PAID-ROUTING-KEY")
    paid_queue: str = Field(validation_alias="ORDERS-PAID-QUEUE")


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read on first use and then kept."""
    return Settings()
