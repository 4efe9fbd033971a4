"""Code every service of the orders project shares: settings, connections."""
