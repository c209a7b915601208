"""Hostile input, property-based (hypothesis): files, names and command-line arguments that a
person, a broken tool or an attacker could hand the service. Every refusal must be French, say
where, and leave the database exactly as it was (compared by a full dump)."""
