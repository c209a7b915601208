"""Pure domain code: no database, no network, no clock reads."""
