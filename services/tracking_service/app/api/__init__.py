"""HTTP layer: dependency aliases and one router per area."""
