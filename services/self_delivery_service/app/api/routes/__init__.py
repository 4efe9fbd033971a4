"""One module per area, each with its own ``APIRouter``."""
