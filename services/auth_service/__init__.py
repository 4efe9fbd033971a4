"""Authentication: password login issuing JWTs, rate-limited per email in Redis."""
