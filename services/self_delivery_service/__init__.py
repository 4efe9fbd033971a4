"""Self-delivery couriers: status in PostgreSQL, locations published to RabbitMQ."""
