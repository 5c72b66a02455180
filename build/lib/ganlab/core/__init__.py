"""What every layer may use: errors, paths, seeding, safe reading of foreign files."""
