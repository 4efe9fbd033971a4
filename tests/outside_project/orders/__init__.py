"""The orders service: a FastAPI app and the consumer that marks orders paid."""
