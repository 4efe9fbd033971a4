"""The tracking service application (``services.tracking_service.app.main:app``)."""
