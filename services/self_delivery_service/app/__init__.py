"""The self-delivery service application (``services.self_delivery_service.app.main:app``)."""
